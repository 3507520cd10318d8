/**
 * Kernels the tfjs wasm backend lacks or runs slowly, built from kernels it does ship.
 *
 * BatchMatMul: the shipped kernel reaches XNNPACK's fast GEMM only for one batch without
 * transposes; transposed or batched products (every matmul gradient, and GMPS' per-task weights)
 * fall back to a loop about ten times slower. The wrapper materialises transposes and runs one
 * fast GEMM per batch (or a single one when the right operand is shared).
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

interface WasmHeapAccess {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array;
}

/** Batch i of a [B, r, c] float32 tensor, copied with one memcpy (the Slice kernel is slow). */
function batchSlice(be: Backend, x: TensorInfo, i: number): TensorInfo {
  const [, r, c] = x.shape;
  const heap = be as unknown as WasmHeapAccess;
  const out = heap.makeOutput([1, r, c], 'float32');
  heap.typedArrayFromHeap(out).set(heap.typedArrayFromHeap(x).subarray(i * r * c, (i + 1) * r * c));
  return out;
}

function batchMatMulVia(fast: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const be = backend as Backend;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const batchB = b.shape.slice(0, -2).reduce((x, y) => x * y, 1);
    const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = outBatchShape.reduce((x, y) => x * y, 1);
    // General broadcasting and non-float inputs: leave to the original kernel.
    if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return fast({ inputs, backend, attrs });
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return fast({ inputs, backend, attrs });
    const temps: TensorInfo[] = [];
    const as3 = (x: TensorInfo, bt: number, r: number, transpose: boolean): TensorInfo => {
      const rows = x.shape[r - 2];
      const cols = x.shape[r - 1];
      let y = run('Reshape', { x }, be, { shape: [bt, rows, cols] });
      temps.push(y);
      if (transpose) {
        y = run('Transpose', { x: y }, be, { perm: [0, 2, 1] });
        temps.push(y);
      }
      return y;
    };
    let a3 = as3(a, batchA, ra, !!transposeA);
    const b3 = as3(b, batchB, rb, !!transposeB);
    const [, m, k] = a3.shape;
    const n = b3.shape[2];
    const mm = (x: TensorInfo, y: TensorInfo): TensorInfo =>
      fast({ inputs: { a: x, b: y }, backend, attrs: { transposeA: false, transposeB: false } }) as TensorInfo;
    let out: TensorInfo;
    if (batchB === 1) {
      // Shared right operand: one GEMM over all rows of all batches.
      a3 = run('Reshape', { x: a3 }, be, { shape: [1, batchA * m, k] });
      temps.push(a3);
      const prod = mm(a3, b3);
      temps.push(prod);
      out = run('Reshape', { x: prod }, be, { shape: [...outBatchShape, m, n] });
    } else {
      const parts: TensorInfo[] = [];
      for (let i = 0; i < batch; i++) {
        const ai = batchA === 1 ? a3 : batchSlice(be, a3, i);
        const bi = batchSlice(be, b3, i);
        if (ai !== a3) temps.push(ai);
        temps.push(bi);
        parts.push(mm(ai, bi));
      }
      temps.push(...parts);
      const cat = parts.length === 1 ? parts[0] : run('Concat', parts as unknown as Record<string, TensorInfo>, be, { axis: 0 });
      if (cat !== parts[0]) temps.push(cat);
      out = run('Reshape', { x: cat }, be, { shape: [...outBatchShape, m, n] });
    }
    dispose(be, ...temps);
    return out;
  };
}

let registered = false;
let stockBatchMatMul: KernelConfig | undefined;
let fastBatchMatMul: KernelConfig | undefined;

/**
 * Switches between the faster BatchMatMul above (default once registered) and the kernel wasm
 * ships; for benchmarks that show the difference.
 */
export function setFastBatchMatMul(enabled: boolean): void {
  if (!stockBatchMatMul || !fastBatchMatMul) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(enabled ? fastBatchMatMul : stockBatchMatMul);
}

/** Registers the missing or faster wasm kernels and the missing gradients (idempotent). */
export function registerWasmKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel('Conv2DBackpropFilter', 'wasm')) tf.registerKernel(conv2DBackpropFilterWasmConfig);
  if (!tf.getGradient('Conv2DBackpropFilter')) tf.registerGradient(conv2DBackpropFilterGrad);
  const mm = tf.getKernel('BatchMatMul', 'wasm');
  if (mm) {
    stockBatchMatMul = { ...mm };
    fastBatchMatMul = { ...mm, kernelFunc: batchMatMulVia(mm.kernelFunc) };
    setFastBatchMatMul(true);
  }
}
