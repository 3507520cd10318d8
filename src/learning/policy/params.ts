/**
 * Functional parameters: a named set of tensors. A policy never owns its weights; callers pass
 * θ (or an adapted φ) in, so an inner update never touches θ.
 */
import * as tf from '@tensorflow/tfjs-core';

export type Params = Record<string, tf.Tensor>;

/** Name → shape, in a fixed order (the order checkpoints and optimisers use). */
export type ParamShapes = ReadonlyArray<readonly [name: string, shape: readonly number[]]>;

/** Xavier/Glorot uniform: U(-l, l), l = sqrt(6 / (fanIn + fanOut)); conv fans include the receptive field. */
export function xavierUniform(shape: readonly number[], seed: number): tf.Tensor {
  let fanIn: number;
  let fanOut: number;
  if (shape.length === 2) {
    [fanIn, fanOut] = shape as [number, number];
  } else if (shape.length === 4) {
    const receptive = shape[0] * shape[1];
    fanIn = receptive * shape[2];
    fanOut = receptive * shape[3];
  } else {
    throw new Error(`xavierUniform: expected a 2-D or 4-D shape, got [${shape.join(', ')}]`);
  }
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return tf.randomUniform(shape as number[], -limit, limit, 'float32', seed);
}

/** Disposes every tensor of a parameter set. */
export function disposeParams(p: Params): void {
  for (const t of Object.values(p)) t.dispose();
}

/** Deep copies (new tensors, same values). */
export function cloneParams(p: Params): Params {
  const out: Params = {};
  for (const [k, t] of Object.entries(p)) out[k] = t.clone();
  return out;
}

/**
 * A scaled copy (new tensors): every tensor times `scale`. Used for the learned step sizes α of a
 * meta-test step taken with a multiple of α (`gmps eval --step-scale`, later adaptation steps).
 */
export function scaleParams(p: Params, scale: number): Params {
  if (!Number.isFinite(scale) || scale < 0) throw new Error(`step-size scale must be a finite number >= 0, got ${scale}`);
  const out: Params = {};
  for (const [k, t] of Object.entries(p)) out[k] = tf.mul(t, scale);
  return out;
}

/** Checks names, shapes and dtype of a parameter set against the expected list. */
export function assertParams(p: Params, shapes: ParamShapes, what = 'parameters'): void {
  const expected = new Set(shapes.map(([n]) => n));
  for (const name of Object.keys(p)) {
    if (!expected.has(name)) throw new Error(`${what}: unexpected tensor '${name}'`);
  }
  for (const [name, shape] of shapes) {
    const t = p[name];
    if (!t) throw new Error(`${what}: missing tensor '${name}'`);
    if (t.dtype !== 'float32') throw new Error(`${what}: '${name}' has dtype ${t.dtype}, expected float32`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${what}: '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
  }
}
