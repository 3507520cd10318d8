/**
 * Trust-region policy optimisation step (Schulman et al. 2015; rllab's `ConjugateGradientOptimizer`),
 * generic over what the parameters feed: a plain policy (MultiTask) or the post-update policies
 * φ_i(θ, α) of MAML.
 *
 *   g      = ∇ L(x)                              L: surrogate loss (minimised)
 *   s      ≈ F⁻¹ g   by conjugate gradient,      F v = ∇(∇KL(x) · v) + damping · v  (Hessian of the
 *                                                mean KL at the current x = the Fisher matrix)
 *   step   = −sqrt(2 δ / sᵀFs) · s
 *   x_new  = x + ratioᵏ · step for the first k with L(x_new) < L(x) and KL(x_old ‖ x_new) ≤ δ
 *            (backtracking line search); no such k: x is kept.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';

// Masks such as `cast(greater(logStd, min))` sit inside first-order gradient expressions; the
// Fisher-vector product differentiates those again, and tfjs registers no gradient for comparisons.
// Their derivative is zero almost everywhere.
for (const kernelName of ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']) {
  if (!tf.getGradient(kernelName)) {
    tf.registerGradient({ kernelName, inputsToSave: ['a', 'b'], gradFunc: (dy, saved) => ({ a: () => tf.zerosLike(saved[0]), b: () => tf.zerosLike(saved[1]) }) });
  }
}

/**
 * An optimisation problem over a list of tensors. A batch too large for one graph (camera frames
 * through the convolutions, second order) is split into `parts`: `loss(xs, p)` and `kl(xs, p)` then
 * return part p's share, and the objective, its gradient and the Fisher-vector product are the sums
 * over the parts, each part's graph built and freed in turn. The step is the same as with one part.
 */
export interface TrpoProblem {
  /** Current values (left untouched). */
  params: readonly tf.Tensor[];
  /** Number of parts the loss and the KL are summed over (default 1). */
  parts?: number;
  /** Surrogate loss to minimise (part `part`'s share of it), as a function of the parameters. */
  loss(xs: tf.Tensor[], part: number): tf.Scalar;
  /** Mean KL(π_current ‖ π_xs) (part `part`'s share): zero with zero gradient at `params`. */
  kl(xs: tf.Tensor[], part: number): tf.Scalar;
}

export interface TrpoOptions {
  /** δ, the KL bound (default 0.01). */
  maxKl: number;
  cgIters: number;
  /** Added to the Fisher-vector product (rllab's reg_coeff, default 1e-5). */
  cgDamping: number;
  backtrackRatio: number;
  maxBacktracks: number;
}

export const TRPO_DEFAULTS: TrpoOptions = { maxKl: 0.01, cgIters: 10, cgDamping: 1e-5, backtrackRatio: 0.8, maxBacktracks: 15 };

export interface TrpoResult {
  /** New parameter values (fresh tensors; the caller disposes them). Equal to the old ones when rejected. */
  params: tf.Tensor[];
  accepted: boolean;
  lossBefore: number;
  lossAfter: number;
  /** Measured KL(old ‖ new) of the returned parameters. */
  kl: number;
  backtracks: number;
}

/** Solves A x = b for a symmetric positive-definite A given as a product, starting from x = 0. */
export function conjugateGradient(Av: (v: Float64Array) => Float64Array, b: ArrayLike<number>, iters = 10, residualTol = 1e-10): Float64Array {
  const n = b.length;
  const x = new Float64Array(n);
  const r = Float64Array.from(b);
  const p = Float64Array.from(b);
  let rr = dot(r, r);
  for (let k = 0; k < iters && rr > residualTol; k++) {
    const Ap = Av(p);
    const pAp = dot(p, Ap);
    if (!(pAp > 0)) break; // not positive along p (numerical noise): stop with what we have
    const a = rr / pAp;
    for (let i = 0; i < n; i++) {
      x[i] += a * p[i];
      r[i] -= a * Ap[i];
    }
    const rrNew = dot(r, r);
    const beta = rrNew / rr;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
    rr = rrNew;
  }
  return x;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Flattens tensors into one Float64Array (in order). */
export function flatten(ts: readonly tf.Tensor[]): Float64Array {
  const n = ts.reduce((s, t) => s + t.size, 0);
  const out = new Float64Array(n);
  let o = 0;
  for (const t of ts) {
    out.set(t.dataSync() as Float32Array, o);
    o += t.size;
  }
  return out;
}

/** Splits a flat vector into tensors shaped like `like`. */
export function unflatten(v: ArrayLike<number>, like: readonly tf.Tensor[]): tf.Tensor[] {
  let o = 0;
  return like.map((t) => {
    const part = Float32Array.from({ length: t.size }, (_, i) => v[o + i]);
    o += t.size;
    return tf.tensor(part, t.shape);
  });
}

/** F v: the Hessian of `kl` at `xs` times `v` (double backward pass). */
export function fisherVectorProduct(kl: (xs: tf.Tensor[]) => tf.Scalar, xs: readonly tf.Tensor[], v: readonly tf.Tensor[]): tf.Tensor[] {
  return tf.tidy(() => {
    const gv = (...ys: tf.Tensor[]): tf.Scalar => {
      const g = tf.grads((...zs: tf.Tensor[]) => kl(zs))(ys);
      let s: tf.Scalar = tf.scalar(0);
      g.forEach((gi, i) => (s = tf.add(s, tf.sum(tf.mul(gi, v[i])))));
      return s;
    };
    return tf.grads(gv)([...xs]);
  });
}

function scalarOf(f: () => tf.Scalar): number {
  return tf.tidy(() => f().dataSync()[0]);
}

/** Σ over the parts of a scalar function of the parameters. */
function sumOverParts(parts: number, f: (part: number) => tf.Scalar): number {
  let s = 0;
  for (let p = 0; p < parts; p++) s += scalarOf(() => f(p));
  return s;
}

/** Σ over the parts of a list of tensors, flattened (each part's tensors freed before the next). */
function flatSumOverParts(parts: number, f: (part: number) => tf.Tensor[]): Float64Array {
  let acc: Float64Array | undefined;
  for (let p = 0; p < parts; p++) {
    const ts = f(p);
    const flat = flatten(ts);
    ts.forEach((t) => t.dispose());
    if (!acc) acc = flat;
    else for (let i = 0; i < acc.length; i++) acc[i] += flat[i];
  }
  return acc!;
}

/** One TRPO step on `problem`. */
export function trpoStep(problem: TrpoProblem, options: Partial<TrpoOptions> = {}): TrpoResult {
  const o = { ...TRPO_DEFAULTS, ...options };
  if (!(o.maxKl > 0)) throw new Error(`TRPO: maxKl must be > 0, got ${o.maxKl}`);
  const parts = problem.parts ?? 1;
  if (!Number.isInteger(parts) || parts < 1) throw new Error(`TRPO: parts must be an integer >= 1, got ${parts}`);
  const xs = [...problem.params];
  const lossOf = (ps: tf.Tensor[]) => sumOverParts(parts, (p) => problem.loss(ps, p));
  const klOf = (ps: tf.Tensor[]) => sumOverParts(parts, (p) => problem.kl(ps, p));
  const lossBefore = lossOf(xs);
  if (!Number.isFinite(lossBefore)) throw new Error(`TRPO: the surrogate loss is ${lossBefore} before the step`);
  const g = flatSumOverParts(parts, (p) => tf.tidy(() => tf.grads((...zs: tf.Tensor[]) => problem.loss(zs, p))(xs)));
  const keep = (): TrpoResult => ({ params: xs.map((x) => x.clone()), accepted: false, lossBefore, lossAfter: lossBefore, kl: 0, backtracks: 0 });
  if (!g.every(Number.isFinite)) throw new Error('TRPO: the surrogate gradient is not finite');
  if (dot(g, g) === 0) return keep();
  const Fv = (v: Float64Array): Float64Array => {
    const vt = unflatten(v, xs);
    const flat = flatSumOverParts(parts, (p) => fisherVectorProduct((zs) => problem.kl(zs, p), xs, vt));
    vt.forEach((t) => t.dispose());
    for (let i = 0; i < flat.length; i++) flat[i] += o.cgDamping * v[i];
    return flat;
  };
  const s = conjugateGradient(Fv, g, o.cgIters);
  const sFs = dot(s, Fv(s));
  if (!(sFs > 0) || !Number.isFinite(sFs)) return keep();
  const scale = Math.sqrt((2 * o.maxKl) / sFs);
  for (let k = 0; k < o.maxBacktracks; k++) {
    const frac = scale * o.backtrackRatio ** k;
    const candidate = tf.tidy(() => {
      const step = unflatten(s, xs);
      return xs.map((x, i) => tf.sub(x, tf.mul(step[i], frac)));
    });
    const loss = lossOf(candidate);
    const kl = klOf(candidate);
    if (Number.isFinite(loss) && Number.isFinite(kl) && loss < lossBefore && kl <= o.maxKl) {
      return { params: candidate, accepted: true, lossBefore, lossAfter: loss, kl, backtracks: k };
    }
    candidate.forEach((t) => t.dispose());
  }
  return { ...keep(), backtracks: o.maxBacktracks };
}

/** Mean over rows of KL(N(μ0, σ0) ‖ N(μ1, σ1)) for diagonal Gaussians; μ [.., d], log σ broadcastable. */
export function gaussianKl(mean0: tf.Tensor, logStd0: tf.Tensor, mean1: tf.Tensor, logStd1: tf.Tensor): tf.Tensor {
  const var0 = tf.exp(tf.mul(logStd0, 2));
  const var1 = tf.exp(tf.mul(logStd1, 2));
  const kl = tf.sub(tf.add(tf.sub(logStd1, logStd0), tf.div(tf.add(var0, tf.square(tf.sub(mean0, mean1))), tf.mul(var1, 2))), 0.5);
  return tf.sum(kl, -1);
}
