/**
 * A gated recurrent unit (Cho et al. 2014) written with differentiable tfjs ops on functional
 * parameters, so a policy gradient can back-propagate through time with `tf.grads`:
 *
 *   u  = σ(x Wu + h Uu + bu)               update gate
 *   r  = σ(x Wr + h Ur + br)               reset gate
 *   h̃ = tanh(x Wh + (r ⊙ h) Uh + bh)
 *   h' = (1 − u) ⊙ h + u ⊙ h̃
 *
 * The three input and recurrent matrices are stored side by side ([in x 3H] and [H x 3H], gate
 * order u, r, h) so one product serves all gates.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import type { ParamShapes, Params } from './policy/params.js';
import type { Rng } from './rng.js';

export interface GruConfig {
  inDim: number;
  hidden: number;
  /** Name prefix of the parameters (default 'gru'). */
  prefix?: string;
}

function names(c: GruConfig): { wx: string; wh: string; b: string } {
  const p = c.prefix ?? 'gru';
  return { wx: `${p}/Wx`, wh: `${p}/Wh`, b: `${p}/b` };
}

export function gruShapes(c: GruConfig): ParamShapes {
  const n = names(c);
  return [
    [n.wx, [c.inDim, 3 * c.hidden]],
    [n.wh, [c.hidden, 3 * c.hidden]],
    [n.b, [3 * c.hidden]],
  ];
}

/** Glorot-uniform weights (fans of one gate), zero biases. */
export function initGru(c: GruConfig, rng: Rng): Params {
  if (!Number.isInteger(c.inDim) || c.inDim < 1) throw new Error(`GRU inDim must be a positive integer, got ${c.inDim}`);
  if (!Number.isInteger(c.hidden) || c.hidden < 1) throw new Error(`GRU hidden must be a positive integer, got ${c.hidden}`);
  const n = names(c);
  const H = c.hidden;
  const glorot = (rows: number, cols: number, fanOut: number): tf.Tensor2D => {
    const limit = Math.sqrt(6 / (rows + fanOut));
    return tf.tensor2d(Float32Array.from({ length: rows * cols }, () => rng.uniform(-limit, limit)), [rows, cols]);
  };
  return {
    [n.wx]: glorot(c.inDim, 3 * H, H),
    [n.wh]: glorot(H, 3 * H, H),
    [n.b]: tf.zeros([3 * H]),
  };
}

/** One step for a batch: x [n x in], h [n x H] → h' [n x H]. */
export function gruCell(c: GruConfig, p: Params, x: tf.Tensor2D, h: tf.Tensor2D): tf.Tensor2D {
  const n = names(c);
  const H = c.hidden;
  const wx = p[n.wx] as tf.Tensor2D;
  const wh = p[n.wh] as tf.Tensor2D;
  const gx = tf.add(tf.matMul(x, wx), p[n.b]); // [n x 3H]
  const whUR = tf.slice(wh, [0, 0], [H, 2 * H]);
  const whH = tf.slice(wh, [0, 2 * H], [H, H]);
  const ur = tf.sigmoid(tf.add(tf.slice(gx, [0, 0], [-1, 2 * H]), tf.matMul(h, whUR)));
  const u = tf.slice(ur, [0, 0], [-1, H]);
  const r = tf.slice(ur, [0, H], [-1, H]);
  const cand = tf.tanh(tf.add(tf.slice(gx, [0, 2 * H], [-1, H]), tf.matMul(tf.mul(r, h), whH)));
  return tf.add(h, tf.mul(u, tf.sub(cand, h))) as tf.Tensor2D;
}

/**
 * Runs the GRU over a sequence: xs [T x n x in] from h0 [n x H] (zeros when omitted) →
 * hidden states after each step [T x n x H].
 */
export function gruSequence(c: GruConfig, p: Params, xs: tf.Tensor3D, h0?: tf.Tensor2D): tf.Tensor3D {
  const [T, n] = xs.shape;
  let h = h0 ?? (tf.zeros([n, c.hidden]) as tf.Tensor2D);
  const steps = tf.unstack(xs) as tf.Tensor2D[];
  const out: tf.Tensor2D[] = [];
  for (let t = 0; t < T; t++) {
    h = gruCell(c, p, steps[t], h);
    out.push(h);
  }
  return tf.stack(out) as tf.Tensor3D;
}
