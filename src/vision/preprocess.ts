/**
 * Camera frame -> policy input: crop (centre crop to the output's aspect ratio by default), resize
 * to 48x64 and scale to float [0, 1], HWC. Pure TypeScript; `preprocessFrameOpenCv` does the same
 * through OpenCV where it is installed.
 *
 * Interpolation: 'area' (default) averages every source pixel that falls in an output pixel (as
 * OpenCV's INTER_AREA), which is what shrinking a 640x480 camera frame ten-fold needs to avoid
 * aliasing; it falls back to bilinear along an axis that is enlarged. 'bilinear' samples the four
 * nearest pixels with pixel-centre alignment (OpenCV INTER_LINEAR, TF `half_pixel_centers`).
 */
import { checkRgbFrame } from './frame.js';
import type { OpenCv } from './opencv.js';

export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type Interpolation = 'area' | 'bilinear';

export interface PreprocessOptions {
  /** Output height (policy input rows), default 48. */
  height?: number;
  /** Output width, default 64. */
  width?: number;
  /** Source region; default: the largest centred region with the output's aspect ratio. */
  crop?: CropRect;
  interpolation?: Interpolation;
}

export interface ImageLike {
  data: Uint8Array;
  width: number;
  height: number;
}

export const POLICY_IMAGE_HEIGHT = 48;
export const POLICY_IMAGE_WIDTH = 64;

export function centerCrop(srcWidth: number, srcHeight: number, outWidth: number, outHeight: number): CropRect {
  const target = outWidth / outHeight;
  if (srcWidth / srcHeight > target) {
    const width = Math.max(1, Math.round(srcHeight * target));
    return { x: Math.floor((srcWidth - width) / 2), y: 0, width, height: srcHeight };
  }
  const height = Math.max(1, Math.round(srcWidth / target));
  return { x: 0, y: Math.floor((srcHeight - height) / 2), width: srcWidth, height };
}

/** Per output index along one axis: source indices and weights (summing to 1). */
interface AxisTaps {
  start: Int32Array; // offset into idx/w for output i
  count: Int32Array;
  idx: Int32Array;
  w: Float32Array;
}

const tapCache = new Map<string, AxisTaps>();

function axisTaps(offset: number, length: number, out: number, interp: Interpolation): AxisTaps {
  const key = `${offset}:${length}:${out}:${interp}`;
  const hit = tapCache.get(key);
  if (hit) return hit;
  const scale = length / out;
  const idx: number[] = [];
  const w: number[] = [];
  const start = new Int32Array(out);
  const count = new Int32Array(out);
  for (let i = 0; i < out; i++) {
    start[i] = idx.length;
    if (interp === 'area' && scale > 1) {
      const a = i * scale;
      const b = a + scale;
      for (let s = Math.floor(a); s < Math.min(Math.ceil(b), length); s++) {
        const overlap = Math.min(b, s + 1) - Math.max(a, s);
        if (overlap > 1e-9) {
          idx.push(offset + s);
          w.push(overlap / scale);
        }
      }
    } else {
      const src = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), length - 1);
      const s0 = Math.floor(src);
      const f = src - s0;
      idx.push(offset + s0);
      w.push(1 - f);
      if (f > 0 && s0 + 1 < length) {
        idx.push(offset + s0 + 1);
        w.push(f);
      }
    }
    count[i] = idx.length - start[i];
  }
  const taps = { start, count, idx: Int32Array.from(idx), w: Float32Array.from(w) };
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(key, taps);
  return taps;
}

function resolveCrop(img: ImageLike, outW: number, outH: number, crop?: CropRect): CropRect {
  const c = crop ?? centerCrop(img.width, img.height, outW, outH);
  if (
    ![c.x, c.y, c.width, c.height].every(Number.isInteger) ||
    c.x < 0 || c.y < 0 || c.width <= 0 || c.height <= 0 ||
    c.x + c.width > img.width || c.y + c.height > img.height
  ) {
    throw new Error(`crop ${JSON.stringify(c)} must be integers inside the ${img.width}x${img.height} frame`);
  }
  return c;
}

/**
 * Separable resample of an RGB8 image; `emit(outIndex, value)` receives each channel value in
 * 0..255 (float) in HWC order.
 */
function resample(
  img: ImageLike,
  outW: number,
  outH: number,
  crop: CropRect,
  interp: Interpolation,
  emit: (i: number, v: number) => void,
): void {
  const tx = axisTaps(crop.x, crop.width, outW, interp);
  const ty = axisTaps(crop.y, crop.height, outH, interp);
  const src = img.data;
  const stride = img.width * 3;
  // Horizontal pass into a row buffer for every source row the vertical taps use.
  const rowCache = new Map<number, Float32Array>();
  const hrow = (sy: number): Float32Array => {
    let row = rowCache.get(sy);
    if (row) return row;
    row = new Float32Array(outW * 3);
    const base = sy * stride;
    for (let ox = 0; ox < outW; ox++) {
      let r = 0, g = 0, b = 0;
      const s = tx.start[ox];
      for (let k = 0; k < tx.count[ox]; k++) {
        const p = base + tx.idx[s + k] * 3;
        const wk = tx.w[s + k];
        r += src[p] * wk;
        g += src[p + 1] * wk;
        b += src[p + 2] * wk;
      }
      row[ox * 3] = r;
      row[ox * 3 + 1] = g;
      row[ox * 3 + 2] = b;
    }
    rowCache.set(sy, row);
    return row;
  };
  const acc = new Float32Array(outW * 3);
  for (let oy = 0; oy < outH; oy++) {
    acc.fill(0);
    const s = ty.start[oy];
    for (let k = 0; k < ty.count[oy]; k++) {
      const row = hrow(ty.idx[s + k]);
      const wk = ty.w[s + k];
      for (let j = 0; j < acc.length; j++) acc[j] += row[j] * wk;
    }
    const base = oy * outW * 3;
    for (let j = 0; j < acc.length; j++) emit(base + j, acc[j]);
  }
}

/**
 * Frame -> Float32 HWC in [0, 1] of `height x width x 3` (48x64x3 by default). Writes into `out`
 * at `offset` when given (e.g. one slot of a batch buffer).
 */
export function preprocessFrame(
  frame: ImageLike,
  options: PreprocessOptions = {},
  out?: Float32Array,
  offset = 0,
): Float32Array {
  checkRgbFrame(frame);
  const outH = options.height ?? POLICY_IMAGE_HEIGHT;
  const outW = options.width ?? POLICY_IMAGE_WIDTH;
  const size = outH * outW * 3;
  const target = out ?? new Float32Array(size);
  if (offset + size > target.length) throw new Error(`output buffer too small: need ${offset + size} floats, have ${target.length}`);
  const crop = resolveCrop(frame, outW, outH, options.crop);
  const k = 1 / 255;
  resample(frame, outW, outH, crop, options.interpolation ?? 'area', (i, v) => {
    target[offset + i] = v * k;
  });
  return target;
}

/** Resizes an RGB8 image (whole frame, no crop) to `width x height`, rounding to 8 bits. */
export function resizeRgb8(frame: ImageLike, width: number, height: number, interpolation: Interpolation = 'area'): Uint8Array {
  checkRgbFrame(frame);
  if (width === frame.width && height === frame.height) return frame.data;
  const out = new Uint8Array(width * height * 3);
  resample(frame, width, height, { x: 0, y: 0, width: frame.width, height: frame.height }, interpolation, (i, v) => {
    out[i] = Math.min(255, Math.max(0, Math.round(v)));
  });
  return out;
}

/** The same as `preprocessFrame` through OpenCV (`cv.resize` with INTER_AREA / INTER_LINEAR). */
export function preprocessFrameOpenCv(cv: OpenCv, frame: ImageLike, options: PreprocessOptions = {}): Float32Array {
  checkRgbFrame(frame);
  const outH = options.height ?? POLICY_IMAGE_HEIGHT;
  const outW = options.width ?? POLICY_IMAGE_WIDTH;
  const crop = resolveCrop(frame, outW, outH, options.crop);
  const mat = new cv.Mat(Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength), frame.height, frame.width, cv.CV_8UC3);
  const region = mat.getRegion(new cv.Rect(crop.x, crop.y, crop.width, crop.height));
  const interp = (options.interpolation ?? 'area') === 'area' ? cv.INTER_AREA : cv.INTER_LINEAR;
  const small = region.resize(outH, outW, 0, 0, interp).convertTo(cv.CV_32FC3, 1 / 255);
  const bytes = small.getData();
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
