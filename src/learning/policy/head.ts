/**
 * The Gaussian MLP head shared by every GMPS policy:
 *
 *   x = [features, z]  (z: bias-transformation vector, tiled over the batch)
 *   μ = W_L·relu(… relu(W_0·x + b_0) …) + b_L,   log σ = max(logStd, ln 1e-6)  (state independent)
 *
 * Besides the forward pass it gives the policy-gradient inner gradient in closed form (a hand-written
 * backward pass made of differentiable tfjs ops), for all tasks of a meta-batch at once. Because
 * that gradient is an explicit tfjs expression of θ, one reverse-mode pass over the outer loss
 * yields the exact second-order meta-gradient without differentiating through a tape twice.
 *
 * Parameter names: W0..WL, b0..bL, logStd, z. W0 is [(F + latent) x h0]: rows F.. act on z.
 */
import * as tf from '@tensorflow/tfjs-core';
import './gradients.js';
import type { ParamShapes, Params } from './params.js';

export const MIN_LOG_STD = Math.log(1e-6);
const LOG_2PI = Math.log(2 * Math.PI);

export interface HeadConfig {
  /** Width of the features the head reads (observation size for the state policy). */
  inDim: number;
  actDim: number;
  hidden: readonly number[];
  /** Size of the bias-transformation vector z (0: none). */
  latentDim: number;
}

export function headShapes(c: HeadConfig): ParamShapes {
  const shapes: [string, number[]][] = [];
  const sizes = [c.inDim + c.latentDim, ...c.hidden, c.actDim];
  for (let l = 0; l + 1 < sizes.length; l++) {
    shapes.push([`W${l}`, [sizes[l], sizes[l + 1]]]);
    shapes.push([`b${l}`, [sizes[l + 1]]]);
  }
  shapes.push(['logStd', [c.actDim]]);
  if (c.latentDim > 0) shapes.push(['z', [c.latentDim]]);
  return shapes;
}

export function numLayers(c: HeadConfig): number {
  return c.hidden.length + 1;
}

/** log σ, clamped below at ln 1e-6. */
export function clampedLogStd(p: Params): tf.Tensor1D {
  return tf.maximum(p.logStd, MIN_LOG_STD) as tf.Tensor1D;
}

/** z·W0[F:] + b0 as a [1 x h0] row: the bias the tiled z contributes to the first layer. */
function firstBias(c: HeadConfig, p: Params): tf.Tensor2D {
  const b0 = tf.reshape(p.b0, [1, -1]) as tf.Tensor2D;
  if (c.latentDim === 0) return b0;
  const w0z = tf.slice(p.W0, [c.inDim, 0], [c.latentDim, -1]) as tf.Tensor2D;
  return tf.add(tf.matMul(tf.reshape(p.z, [1, -1]) as tf.Tensor2D, w0z), b0);
}

function firstWeights(c: HeadConfig, p: Params): tf.Tensor2D {
  return (c.latentDim === 0 ? p.W0 : tf.slice(p.W0, [0, 0], [c.inDim, -1])) as tf.Tensor2D;
}

/** Mean action for a batch of features [n x F] with one parameter set. */
export function headMean(c: HeadConfig, p: Params, feat: tf.Tensor2D): tf.Tensor2D {
  const L = numLayers(c);
  let h = tf.add(tf.matMul(feat, firstWeights(c, p)), firstBias(c, p)) as tf.Tensor2D;
  for (let l = 1; l < L; l++) {
    h = tf.add(tf.matMul(tf.relu(h), p[`W${l}`] as tf.Tensor2D), p[`b${l}`]) as tf.Tensor2D;
  }
  return h;
}

/** Inference-only mean (fused matmul + bias + relu kernels). */
export function headMeanFused(c: HeadConfig, p: Params, feat: tf.Tensor2D): tf.Tensor2D {
  const L = numLayers(c);
  let h: tf.Tensor2D = tf.fused.matMul({
    a: feat,
    b: firstWeights(c, p),
    // A fresh rank-1 buffer: wasm's fused kernel reads the stored shape, which a reshape keeps.
    bias: c.latentDim === 0 ? p.b0 : tf.add(p.b0, tf.reshape(firstBias(c, { ...p, b0: tf.zerosLike(p.b0) }), [-1])),
    activation: L > 1 ? 'relu' : 'linear',
  }) as tf.Tensor2D;
  for (let l = 1; l < L; l++) {
    h = tf.fused.matMul({
      a: h,
      b: p[`W${l}`] as tf.Tensor2D,
      bias: p[`b${l}`],
      activation: l + 1 < L ? 'relu' : 'linear',
    }) as tf.Tensor2D;
  }
  return h;
}

/** Diagonal Gaussian log-density per row: −Σ log σ − ½ Σ ((a−μ)/σ)² − ½ d log 2π. */
export function gaussianLogProb(mean: tf.Tensor2D, logStd: tf.Tensor1D, actions: tf.Tensor2D): tf.Tensor1D {
  const d = mean.shape[1];
  const u = tf.div(tf.sub(actions, mean), tf.exp(logStd));
  return tf.sub(tf.mul(tf.sum(tf.square(u), 1), -0.5), tf.add(tf.sum(logStd), 0.5 * d * LOG_2PI)) as tf.Tensor1D;
}

const identityNoGrad = (x: tf.Tensor) => ({ value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) });

/** Identity whose gradient is zero (TF's stop_gradient). */
export const stopGradient = tf.customGrad(identityNoGrad as unknown as Parameters<typeof tf.customGrad>[0]) as (
  x: tf.Tensor,
) => tf.Tensor;

/**
 * Per-task parameters: each value is either shared ([...shape]) or one per task ([T, ...shape]);
 * `perTask` lists the names that carry the task axis.
 */
export interface TaskParams {
  params: Params;
  perTask: ReadonlySet<string>;
  numTasks: number;
}

/** Mean actions [T x m x d] for features [T x m x F], each task with its own (possibly adapted) params. */
export function headMeanPerTask(c: HeadConfig, tp: TaskParams, feat: tf.Tensor3D): tf.Tensor3D {
  const { params: p, perTask, numTasks: T } = tp;
  const m = feat.shape[1];
  const L = numLayers(c);
  // Linear layer that maps [T, m, in] to [T, m, out] with shared or per-task weights.
  const linear = (x: tf.Tensor3D, w: tf.Tensor, perTaskW: boolean): tf.Tensor3D => {
    if (perTaskW) return tf.matMul(x, w as tf.Tensor3D);
    const [, , inDim] = x.shape;
    return tf.reshape(tf.matMul(tf.reshape(x, [T * m, inDim]) as tf.Tensor2D, w as tf.Tensor2D), [T, m, -1]) as tf.Tensor3D;
  };
  const bias = (name: string): tf.Tensor => (perTask.has(name) ? tf.expandDims(p[name], 1) : p[name]);

  const w0PerTask = perTask.has('W0');
  const w0f = w0PerTask
    ? tf.slice(p.W0, [0, 0, 0], [T, c.inDim, -1])
    : tf.slice(p.W0, [0, 0], [c.inDim, -1]);
  let h = linear(feat, w0f, w0PerTask);
  if (c.latentDim > 0) {
    const zPerTask = perTask.has('z');
    let zb: tf.Tensor;
    if (w0PerTask) {
      const w0z = tf.slice(p.W0, [0, c.inDim, 0], [T, c.latentDim, -1]) as tf.Tensor3D;
      const z3 = zPerTask
        ? (tf.expandDims(p.z, 1) as tf.Tensor3D)
        : (tf.broadcastTo(tf.reshape(p.z, [1, 1, -1]), [T, 1, c.latentDim]) as tf.Tensor3D);
      zb = tf.matMul(z3, w0z); // [T, 1, h0]
    } else {
      const w0z = tf.slice(p.W0, [c.inDim, 0], [c.latentDim, -1]) as tf.Tensor2D;
      const z2 = (zPerTask ? p.z : tf.reshape(p.z, [1, -1])) as tf.Tensor2D;
      zb = tf.expandDims(tf.matMul(z2, w0z), 1); // [T or 1, 1, h0]
    }
    h = tf.add(h, zb);
  }
  h = tf.add(h, bias('b0'));
  for (let l = 1; l < L; l++) {
    h = tf.add(linear(tf.relu(h), p[`W${l}`], perTask.has(`W${l}`)), bias(`b${l}`));
  }
  return h;
}

/** Pre-update samples of all tasks, flattened task-major: row r belongs to task floor(r / n). */
export interface InnerBatch {
  numTasks: number;
  /** Rows per task (tasks with fewer samples are zero-padded, with zero `rowWeight`). */
  rowsPerTask: number;
  /** [T·n x F] head features (observations for the state policy). */
  feat: tf.Tensor2D;
  /** [T·n x d] */
  actions: tf.Tensor2D;
  /** [T·n]: advantage / n_i per row (0 on padding), so Σ rowWeight·x is the task's mean. */
  rowWeight: tf.Tensor1D;
  /** [T·n] log π_θ0(a|s), for importance weights; omit for w ≡ 1. */
  oldLogProb?: tf.Tensor1D;
  /** Upper bound on the importance weights (absent: unbounded, as GMPS). */
  isClip?: number;
  /** Lower bound on the importance weights (absent: none, as GMPS). */
  isClipLow?: number;
}

/** Importance weights bounded to [isClipLow, isClip] (either bound optional; none: unchanged). */
export function clipImportanceWeights<T extends tf.Tensor>(w: T, bounds: { isClip?: number; isClipLow?: number }): T {
  let out = w;
  if (bounds.isClip !== undefined) out = tf.minimum(out, bounds.isClip);
  if (bounds.isClipLow !== undefined) out = tf.maximum(out, bounds.isClipLow);
  return out;
}

export interface InnerGradResult {
  /** name → [T, ...shape], for the requested names. */
  grads: Record<string, tf.Tensor>;
  /** Per-task inner loss [T] (for logging and tests). */
  loss: tf.Tensor1D;
  /** Importance weights [T·n] (1 when no oldLogProb). */
  weights: tf.Tensor1D;
}

/**
 * ∇_θ L_in for every task, where L_in,i = −Σ_t rowWeight_t · w_t · log π_θ(a_t|s_t) and
 * w_t = exp(log π_θ − log π_θ0) is held constant. Computes only what `wanted` needs.
 */
export function innerGradients(c: HeadConfig, p: Params, b: InnerBatch, wanted: ReadonlySet<string>): InnerGradResult {
  const T = b.numTasks;
  const n = b.rowsPerTask;
  const L = numLayers(c);
  const d = c.actDim;

  // Forward, keeping post-activation values.
  const acts: tf.Tensor2D[] = [b.feat];
  let pre = tf.add(tf.matMul(b.feat, firstWeights(c, p)), firstBias(c, p)) as tf.Tensor2D;
  for (let l = 1; l < L; l++) {
    const h = tf.relu(pre);
    acts.push(h);
    pre = tf.add(tf.matMul(h, p[`W${l}`] as tf.Tensor2D), p[`b${l}`]) as tf.Tensor2D;
  }
  const mean = pre;
  const logStd = clampedLogStd(p);
  const invStd = tf.exp(tf.neg(logStd));
  const u = tf.mul(tf.sub(b.actions, mean), invStd) as tf.Tensor2D; // standardised residual
  const logProb = tf.sub(tf.mul(tf.sum(tf.square(u), 1), -0.5), tf.add(tf.sum(logStd), 0.5 * d * LOG_2PI)) as tf.Tensor1D;

  let weights: tf.Tensor1D;
  if (b.oldLogProb) {
    weights = tf.exp(tf.sub(stopGradient(logProb), b.oldLogProb)) as tf.Tensor1D;
    weights = clipImportanceWeights(weights, b);
  } else {
    weights = tf.onesLike(logProb);
  }
  const coef = tf.mul(weights, b.rowWeight) as tf.Tensor1D; // c_t
  const loss = tf.neg(tf.sum(tf.reshape(tf.mul(coef, logProb), [T, n]), 1)) as tf.Tensor1D;
  const coefCol = tf.reshape(coef, [-1, 1]);
  const perTaskSum = (x: tf.Tensor2D): tf.Tensor2D => tf.sum(tf.reshape(x, [T, n, x.shape[1]]), 1) as tf.Tensor2D;
  const batched = (x: tf.Tensor2D): tf.Tensor3D => tf.reshape(x, [T, n, x.shape[1]]) as tf.Tensor3D;

  const grads: Record<string, tf.Tensor> = {};
  if (wanted.has('logStd')) {
    // ∂L/∂log σ = Σ_t c_t (1 − u_t²), zero where the clamp is active.
    const g = perTaskSum(tf.mul(coefCol, tf.sub(1, tf.square(u))) as tf.Tensor2D);
    grads.logStd = tf.mul(g, tf.cast(tf.greater(p.logStd, MIN_LOG_STD), 'float32'));
  }

  // ∂L/∂μ_t = −c_t (a_t − μ_t)/σ²
  let delta = tf.neg(tf.mul(coefCol, tf.mul(u, invStd))) as tf.Tensor2D;
  const lowestWanted = lowestWantedLayer(c, wanted);
  for (let l = L - 1; l >= lowestWanted; l--) {
    const wName = `W${l}`;
    const bName = `b${l}`;
    const needB = wanted.has(bName) || (l === 0 && (wanted.has('z') || wanted.has('W0')));
    let gb: tf.Tensor2D | undefined;
    if (needB) gb = perTaskSum(delta);
    if (wanted.has(bName)) grads[bName] = gb!;
    if (wanted.has(wName)) {
      let gw: tf.Tensor = tf.matMul(batched(acts[l]), batched(delta), true, false); // [T, in, out]
      if (l === 0 && c.latentDim > 0) {
        // Rows of W0 acting on the tiled z: z ⊗ Σ_t δ_t.
        const gwz = tf.mul(tf.reshape(p.z, [1, c.latentDim, 1]), tf.expandDims(gb!, 1));
        gw = tf.concat([gw, gwz], 1);
      }
      grads[wName] = gw;
    }
    if (l === 0) {
      if (wanted.has('z') && c.latentDim > 0) {
        const w0z = tf.slice(p.W0, [c.inDim, 0], [c.latentDim, -1]) as tf.Tensor2D;
        grads.z = tf.matMul(gb!, w0z, false, true); // [T, latent]
      }
    } else {
      delta = tf.mul(tf.matMul(delta, p[wName] as tf.Tensor2D, false, true), tf.step(acts[l])) as tf.Tensor2D;
    }
  }
  return { grads, loss, weights };
}

/** The lowest layer whose backward pass is needed for the wanted gradients. */
function lowestWantedLayer(c: HeadConfig, wanted: ReadonlySet<string>): number {
  if (wanted.has('z')) return 0;
  for (let l = 0; l < numLayers(c); l++) {
    if (wanted.has(`W${l}`) || wanted.has(`b${l}`)) return l;
  }
  return numLayers(c);
}
