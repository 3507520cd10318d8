/**
 * Gradient kernels the tfjs wasm backend does not ship, built from kernels it does ship.
 *
 * Conv2DBackpropFilter: the filter gradient of an NHWC conv2d with stride s is itself a conv2d —
 * of the input with batch and channels swapped (x' = [Cin, H, W, B]) by the output gradient used
 * as a filter (dy' = [OH, OW, B, Cout]) dilated by s, stride 1 — giving [Cin, KH, KW, Cout],
 * transposed back to [KH, KW, Cin, Cout]. Padding is the forward conv's top/left padding, and the
 * bottom/right padding that makes the result exactly KH x KW (rows the forward conv never read are
 * sliced off when that amount is negative).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';

type Backend = tf.KernelBackend;

function kernel(name: string): KernelFunc {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`wasm backend has no '${name}' kernel`);
  return k.kernelFunc;
}

function run(name: string, inputs: Record<string, TensorInfo>, backend: Backend, attrs: NamedAttrMap = {}): TensorInfo {
  const out = kernel(name)({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`kernel '${name}' returned several outputs`);
  return out;
}

function dispose(backend: Backend, ...infos: TensorInfo[]): void {
  for (const t of infos) backend.disposeData(t.dataId);
}

const conv2DBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`Conv2DBackpropFilter on wasm supports NHWC only, got ${dataFormat}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const [batch, inH, inW, inC] = x.shape;
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: oh, outWidth: ow } = info;
  const padTop = info.padInfo.top;
  const padLeft = info.padInfo.left;
  // Bottom/right padding so that the dilated "filter" (extent (o-1)*s+1) yields k outputs.
  let padBottom = kh - 1 + (oh - 1) * sh + 1 - inH - padTop;
  let padRight = kw - 1 + (ow - 1) * sw + 1 - inW - padLeft;
  const b = backend as Backend;
  const temps: TensorInfo[] = [];
  let xs: TensorInfo = x;
  if (padBottom < 0 || padRight < 0) {
    const keepH = inH + Math.min(0, padBottom);
    const keepW = inW + Math.min(0, padRight);
    xs = run('Slice', { x }, b, { begin: [0, 0, 0, 0], size: [batch, keepH, keepW, inC] });
    temps.push(xs);
    padBottom = Math.max(0, padBottom);
    padRight = Math.max(0, padRight);
  }
  const xT = run('Transpose', { x: xs }, b, { perm: [3, 1, 2, 0] }); // [Cin, H, W, B]
  const dyT = run('Transpose', { x: dy }, b, { perm: [1, 2, 0, 3] }); // [OH, OW, B, Cout]
  temps.push(xT, dyT);
  const conv = run('Conv2D', { x: xT, filter: dyT }, b, {
    strides: [1, 1],
    pad: [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ],
    dataFormat: 'NHWC',
    dilations: [sh, sw],
    dimRoundingMode: undefined as unknown as string,
  } as unknown as NamedAttrMap); // [Cin, KH, KW, Cout]
  temps.push(conv);
  const out = run('Transpose', { x: conv }, b, { perm: [1, 2, 0, 3] });
  dispose(b, ...temps);
  return out;
};

/** Conv2DBackpropFilter for wasm. */
export const conv2DBackpropFilterWasmConfig: KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter,
};

/**
 * Second-order gradient of the conv filter gradient (no backend ships one): with
 * dW = F(x, dy), ∂/∂x = conv2dBackpropInput(ddW applied to dy) and ∂/∂dy = conv2d(x, ddW).
 */
const conv2DBackpropFilterGrad: tf.GradConfig = {
  kernelName: 'Conv2DBackpropFilter',
  inputsToSave: ['x', 'dy'],
  gradFunc: (ddw, saved, attrs) => {
    const [x, dy] = saved as [tf.Tensor4D, tf.Tensor4D];
    const { strides, pad, dimRoundingMode } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    const ddw4 = ddw as tf.Tensor4D;
    return {
      x: () => tf.conv2dTranspose(dy, ddw4, x.shape, strides, pad as 'same' | 'valid' | number, dimRoundingMode),
      dy: () => tf.conv2d(x, ddw4, strides, pad, 'NHWC', 1, dimRoundingMode),
    };
  },
};

let registered = false;

/** Registers the missing wasm kernels and gradients (idempotent). */
export function registerWasmGradKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.registerKernel(conv2DBackpropFilterWasmConfig);
  if (!tf.getGradient('Conv2DBackpropFilter')) tf.registerGradient(conv2DBackpropFilterGrad);
}
