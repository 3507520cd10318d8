/**
 * Guided Meta-Policy Search: the meta-objective and its Adam step (gmps-reference §1.1).
 *
 * For every task i, with θ0 the parameters that sampled D_i^tr:
 *   w_t   = exp(log π_θ(a_t|s_t) − log π_θ0(a_t|s_t))      held constant (stop-gradient)
 *   L_in  = −mean_t( log π_θ(a_t|s_t) · w_t · A_t )
 *   φ_i   = θ − α ⊙ ∇_θ L_in                               (adaptable parameters only)
 *   L_out = mean_i mean_{(s,a*) ∈ D*_i, dims} (μ_φi(s) − a*)²
 * and θ, α ← Adam(∇ L_out), second order through the inner gradient.
 *
 * All tasks go through one graph: the pre-update forward runs on the stacked samples of every
 * task, the inner gradient is the head's closed-form backward pass with a task axis (batched
 * matmuls), and the adapted per-task weights evaluate the demos with batched matmuls.
 * `metaLossLoop` is the plain per-task, tape-on-tape formulation, kept as a reference.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import { Adam, type AdamOptions } from './adam.js';
import { clipImportanceWeights, headMeanPerTask, innerGradients, MIN_LOG_STD, stopGradient } from './policy/head.js';
import type { GmpsPolicy } from './policy/policy.js';
import { initStepSizes } from './policy/mlp.js';
import { disposeParams, scaleParams, type Params } from './policy/params.js';
import type { AdaptBatch, TaskBatch } from './types.js';

const LOG_2PI = Math.log(2 * Math.PI);

/** Tensors of one meta-batch, stacked over tasks and zero-padded to equal rows per task. */
export interface PreparedBatch {
  numTasks: number;
  rowsPerTask: number;
  demosPerTask: number;
  /** [T·n x obsDim] */
  obs: tf.Tensor2D;
  /** [T·n x d] */
  actions: tf.Tensor2D;
  /** [T·n] A_t / n_i (0 on padding). */
  rowWeight: tf.Tensor1D;
  /** [T·n] log π_θ0(a_t|s_t). */
  oldLogProb: tf.Tensor1D;
  /** [T·m x obsDim] */
  demoObs: tf.Tensor2D;
  /** [T x m x d] */
  demoActions: tf.Tensor3D;
  /** [T x m x 1] 1 / (T · m_i · d) (0 on padding). */
  demoWeight: tf.Tensor3D;
  /** Pre-update rows of each task (the rest of its `rowsPerTask` is padding). */
  rowCounts: readonly number[];
  dispose(): void;
}

function check(cond: boolean, msg: string): void {
  if (!cond) throw new Error(msg);
}

/** Validates the per-task batches against the policy and stacks them into tensors. */
export function prepareBatch(policy: GmpsPolicy, tasks: readonly TaskBatch[]): PreparedBatch {
  const { obsDim, actDim: d } = policy.config;
  const T = tasks.length;
  check(T > 0, 'GMPS batch: no tasks');
  const ns = tasks.map((t, i) => {
    const s = t.samples;
    const n = s.advantages.length;
    check(n > 0, `GMPS batch: task ${i} has no pre-update samples`);
    check(s.obs.length === n * obsDim, `GMPS batch: task ${i} samples.obs has ${s.obs.length} values, expected ${n} x ${obsDim}`);
    check(s.actions.length === n * d, `GMPS batch: task ${i} samples.actions has ${s.actions.length} values, expected ${n} x ${d}`);
    check(s.oldMean.length === n * d, `GMPS batch: task ${i} samples.oldMean has ${s.oldMean.length} values, expected ${n} x ${d}`);
    check(s.oldLogStd.length === d, `GMPS batch: task ${i} samples.oldLogStd has ${s.oldLogStd.length} values, expected ${d}`);
    return n;
  });
  const ms = tasks.map((t, i) => {
    const m = t.demos.actions.length / d;
    check(Number.isInteger(m) && m > 0, `GMPS batch: task ${i} demos.actions has ${t.demos.actions.length} values, not a positive multiple of ${d}`);
    check(t.demos.obs.length === m * obsDim, `GMPS batch: task ${i} demos.obs has ${t.demos.obs.length} values, expected ${m} x ${obsDim}`);
    return m;
  });
  const n = Math.max(...ns);
  const m = Math.max(...ms);
  const obs = new Float32Array(T * n * obsDim);
  const actions = new Float32Array(T * n * d);
  const rowWeight = new Float32Array(T * n);
  const oldLogProb = new Float32Array(T * n);
  const demoObs = new Float32Array(T * m * obsDim);
  const demoActions = new Float32Array(T * m * d);
  const demoWeight = new Float32Array(T * m);
  tasks.forEach((t, i) => {
    const s = t.samples;
    const ni = ns[i];
    obs.set(s.obs, i * n * obsDim);
    actions.set(s.actions, i * n * d);
    const logStd = Array.from(s.oldLogStd, (v) => Math.max(v, MIN_LOG_STD));
    const logNorm = logStd.reduce((a, b) => a + b, 0) + 0.5 * d * LOG_2PI;
    for (let r = 0; r < ni; r++) {
      const A = s.advantages[r];
      check(Number.isFinite(A), `GMPS batch: task ${i} advantage ${r} is not finite`);
      rowWeight[i * n + r] = A / ni;
      let q = 0;
      for (let k = 0; k < d; k++) {
        const z = (s.actions[r * d + k] - s.oldMean[r * d + k]) / Math.exp(logStd[k]);
        q += z * z;
      }
      oldLogProb[i * n + r] = -0.5 * q - logNorm;
    }
    demoObs.set(t.demos.obs, i * m * obsDim);
    demoActions.set(t.demos.actions, i * m * d);
    demoWeight.fill(1 / (T * ms[i] * d), i * m, i * m + ms[i]);
  });
  const tensors = {
    obs: tf.tensor2d(obs, [T * n, obsDim]),
    actions: tf.tensor2d(actions, [T * n, d]),
    rowWeight: tf.tensor1d(rowWeight),
    oldLogProb: tf.tensor1d(oldLogProb),
    demoObs: tf.tensor2d(demoObs, [T * m, obsDim]),
    demoActions: tf.tensor3d(demoActions, [T, m, d]),
    demoWeight: tf.tensor3d(demoWeight, [T, m, 1]),
  };
  return {
    numTasks: T,
    rowsPerTask: n,
    demosPerTask: m,
    rowCounts: ns,
    ...tensors,
    dispose: () => Object.values(tensors).forEach((x) => x.dispose()),
  };
}

export interface MetaLossOptions {
  /** Importance-weight the inner loss by π_θ/π_θ0 (default true; false: w ≡ 1). */
  importanceWeights?: boolean;
  /**
   * Upper bound on the importance weights π_θ/π_θ0 (default none, as GMPS). The weights are
   * constants of the inner step; with a small σ they grow as θ drifts over an iteration's Adam
   * steps, and one huge weight turns the inner step (and L_out) into an outlier.
   */
  isClip?: number;
  /**
   * Lower bound on the importance weights (default none, as GMPS). With `isClip`, a two-sided clip
   * [isClipLow, isClip]: the rows whose probability θ has lowered keep a share of the inner step
   * too, so the recomputed inner gradient drifts less from the one taken at θ0.
   */
  isClipLow?: number;
  /**
   * Weight β of a pre-update imitation term β·L_BC(θ) added to L_out (default 0, as GMPS): the
   * unadapted mean imitates every task's demonstrations, i.e. the task-average behaviour. GMPS's
   * meta-gradient does not see how θ shapes the pre-update rollouts; this term keeps them where the
   * experts go (a door opened to the middle of the target range), so the inner step's samples
   * carry the target on both sides. Same per-task weighting as L_out.
   */
  preImitation?: number;
  /**
   * Demonstrations the pre-update imitation term uses instead of every task's D* (absent: D*):
   * the expert of one exploration task, e.g. the door's widest target, so the unadapted policy
   * sweeps the door through every target and its rollouts carry each target's reward peak.
   * Tensors owned by the caller.
   */
  preDemos?: { obs: tf.Tensor2D; actions: tf.Tensor2D };
}

/**
 * How far θ has drifted from the parameters θ0 that sampled a batch, seen through the importance
 * weights w = π_θ/π_θ0 of its pre-update rows (before any clip). Per task, the effective sample
 * size (Σw)²/Σw² as a fraction of its rows: 1 while θ = θ0, small when a few rows carry the inner
 * gradient. `clippedFraction` counts the rows above `isClip` or below `isClipLow` (0 without them).
 */
export interface ImportanceStats {
  essFractionMedian: number;
  essFractionMin: number;
  minWeight: number;
  maxWeight: number;
  clippedFraction: number;
}

export function importanceStats(policy: GmpsPolicy, theta: Params, b: PreparedBatch, isClip?: number, isClipLow?: number): ImportanceStats {
  const logp = tf.tidy(() => policy.logProb(theta, b.obs, b.actions).dataSync());
  const old = b.oldLogProb.dataSync();
  const ess: number[] = [];
  let minWeight = Infinity;
  let maxWeight = 0;
  let clipped = 0;
  let rows = 0;
  for (let i = 0; i < b.numTasks; i++) {
    const from = i * b.rowsPerTask;
    const to = from + b.rowCounts[i];
    // ESS from log-weights shifted by their maximum: no overflow however far θ has moved.
    let top = -Infinity;
    for (let r = from; r < to; r++) top = Math.max(top, logp[r] - old[r]);
    let s1 = 0;
    let s2 = 0;
    for (let r = from; r < to; r++) {
      const lw = logp[r] - old[r];
      const u = Math.exp(lw - top);
      s1 += u;
      s2 += u * u;
      const w = Math.exp(lw);
      if (w < minWeight) minWeight = w;
      if (w > maxWeight) maxWeight = w;
      if ((isClip !== undefined && w > isClip) || (isClipLow !== undefined && w < isClipLow)) clipped++;
    }
    rows += b.rowCounts[i];
    ess.push((s1 * s1) / s2 / b.rowCounts[i]);
  }
  const sorted = [...ess].sort((a, c) => a - c);
  const mid = sorted.length >> 1;
  return {
    essFractionMedian: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    essFractionMin: sorted[0],
    minWeight,
    maxWeight: Math.min(maxWeight, Number.MAX_VALUE), // finite, so the checkpoint's JSON keeps it
    clippedFraction: clipped / rows,
  };
}

/** Names whose step sizes get a meta-gradient: φ's log-std never reaches the (mean-only) outer loss. */
export function outerAdaptable(policy: GmpsPolicy): string[] {
  return policy.adaptable.filter((n) => n !== 'logStd');
}

/** Adapted parameters of every task: φ_i = θ − α ⊙ g_i for `names`, θ shared for the rest. */
function adaptPerTask(theta: Params, alpha: Params, grads: Record<string, tf.Tensor>, names: readonly string[]): Params {
  const phi: Params = { ...theta };
  for (const name of names) {
    phi[name] = tf.sub(tf.expandDims(theta[name], 0), tf.mul(tf.expandDims(alpha[name], 0), grads[name]));
  }
  return phi;
}

/** Mean squared error of the policy's mean on demonstration rows (over rows and action dims). */
function imitationLoss(policy: GmpsPolicy, theta: Params, demos: { obs: tf.Tensor2D; actions: tf.Tensor2D }): tf.Scalar {
  return tf.mean(tf.squaredDifference(policy.mean(theta, demos.obs), demos.actions)) as tf.Scalar;
}

/** The GMPS outer loss L_out(θ, α) over all tasks of a prepared batch (batched graph). */
export function metaLoss(policy: GmpsPolicy, theta: Params, alpha: Params, b: PreparedBatch, opts: MetaLossOptions = {}): tf.Scalar {
  const names = outerAdaptable(policy);
  const T = b.numTasks;
  const { grads } = innerGradients(
    policy.head,
    theta,
    {
      numTasks: T,
      rowsPerTask: b.rowsPerTask,
      feat: policy.features(theta, b.obs),
      actions: b.actions,
      rowWeight: b.rowWeight,
      oldLogProb: opts.importanceWeights === false ? undefined : b.oldLogProb,
      isClip: opts.isClip,
      isClipLow: opts.isClipLow,
    },
    new Set(names),
  );
  const phi = adaptPerTask(theta, alpha, grads, names);
  const demoFeat = policy.features(theta, b.demoObs);
  const feat3 = tf.reshape(demoFeat, [T, b.demosPerTask, demoFeat.shape[1]]) as tf.Tensor3D;
  const mu = headMeanPerTask(policy.head, { params: phi, perTask: new Set(names), numTasks: T }, feat3);
  const out = tf.sum(tf.mul(tf.squaredDifference(mu, b.demoActions), b.demoWeight)) as tf.Scalar;
  if (!opts.preImitation) return out;
  let pre: tf.Tensor;
  if (opts.preDemos) {
    pre = imitationLoss(policy, theta, opts.preDemos);
  } else {
    const mu0 = headMeanPerTask(policy.head, { params: theta, perTask: new Set(), numTasks: T }, feat3);
    pre = tf.sum(tf.mul(tf.squaredDifference(mu0, b.demoActions), b.demoWeight));
  }
  return tf.add(out, tf.mul(pre, opts.preImitation)) as tf.Scalar;
}

/**
 * Reference formulation: one task at a time, the inner gradient by automatic differentiation
 * and the meta-gradient by differentiating through it (tape on tape). Same value as `metaLoss`.
 */
export function metaLossLoop(
  policy: GmpsPolicy,
  theta: Params,
  alpha: Params,
  tasks: readonly TaskBatch[],
  opts: MetaLossOptions = {},
): tf.Scalar {
  const { obsDim, actDim: d } = policy.config;
  const names = outerAdaptable(policy);
  let total: tf.Scalar = tf.scalar(0);
  for (const task of tasks) {
    const s = task.samples;
    const n = s.advantages.length;
    const obs = tf.tensor2d(s.obs, [n, obsDim]);
    const act = tf.tensor2d(s.actions, [n, d]);
    const adv = tf.tensor1d(s.advantages);
    const oldLogp = tf.tidy(() =>
      gaussianLogProbJs(tf.tensor2d(s.oldMean, [n, d]), tf.maximum(tf.tensor1d(s.oldLogStd), MIN_LOG_STD) as tf.Tensor1D, act),
    );
    const innerLoss = (...xs: tf.Tensor[]): tf.Scalar => {
      const p: Params = { ...theta };
      names.forEach((nm, k) => (p[nm] = xs[k]));
      const logp = policy.logProb(p, obs, act);
      const w = opts.importanceWeights === false ? tf.onesLike(logp) : clipImportanceWeights(tf.exp(tf.sub(stopGradient(logp), oldLogp)), opts);
      return tf.neg(tf.mean(tf.mul(tf.mul(logp, w), adv))) as tf.Scalar;
    };
    const g = tf.grads(innerLoss)(names.map((nm) => theta[nm]));
    const phi: Params = { ...theta };
    names.forEach((nm, k) => (phi[nm] = tf.sub(theta[nm], tf.mul(alpha[nm], g[k]))));
    const m = task.demos.actions.length / d;
    const demoObs = tf.tensor2d(task.demos.obs, [m, obsDim]);
    const demoActions = tf.tensor2d(task.demos.actions, [m, d]);
    const mu = policy.mean(phi, demoObs);
    total = tf.add(total, tf.div(tf.mean(tf.squaredDifference(mu, demoActions)), tasks.length));
    if (opts.preImitation && !opts.preDemos) {
      const pre = tf.mean(tf.squaredDifference(policy.mean(theta, demoObs), demoActions));
      total = tf.add(total, tf.mul(tf.div(pre, tasks.length), opts.preImitation));
    }
  }
  if (opts.preImitation && opts.preDemos) total = tf.add(total, tf.mul(imitationLoss(policy, theta, opts.preDemos), opts.preImitation));
  return total;
}

function gaussianLogProbJs(mean: tf.Tensor2D, logStd: tf.Tensor1D, actions: tf.Tensor2D): tf.Tensor1D {
  const d = mean.shape[1];
  const u = tf.div(tf.sub(actions, mean), tf.exp(logStd));
  return tf.sub(tf.mul(tf.sum(tf.square(u), 1), -0.5), tf.add(tf.sum(logStd), 0.5 * d * LOG_2PI)) as tf.Tensor1D;
}

/**
 * Meta-gradient of a loss function of (θ, α) w.r.t. θ and the step sizes that reach it. Names in
 * `constant` enter as constants and get no gradient (frozen parameters: no backward pass through
 * them, e.g. a frozen conv trunk).
 */
export function metaGradients(
  policy: GmpsPolicy,
  theta: Params,
  alpha: Params,
  loss: (theta: Params, alpha: Params) => tf.Scalar,
  constant: ReadonlySet<string> = new Set(),
): { loss: tf.Scalar; theta: Record<string, tf.Tensor>; alpha: Record<string, tf.Tensor> } {
  const thetaNames = policy.shapes.map(([n]) => n).filter((n) => !constant.has(n));
  const alphaNames = outerAdaptable(policy);
  const f = (...xs: tf.Tensor[]): tf.Scalar => {
    const th: Params = {};
    for (const n of constant) th[n] = theta[n];
    const al: Params = { ...alpha };
    thetaNames.forEach((n, k) => (th[n] = xs[k]));
    alphaNames.forEach((n, k) => (al[n] = xs[thetaNames.length + k]));
    return loss(th, al);
  };
  const { value, grads } = tf.valueAndGrads(f)([...thetaNames.map((n) => theta[n]), ...alphaNames.map((n) => alpha[n])]);
  const gt: Record<string, tf.Tensor> = {};
  const ga: Record<string, tf.Tensor> = {};
  thetaNames.forEach((n, k) => (gt[n] = grads[k]));
  alphaNames.forEach((n, k) => (ga[n] = grads[thetaNames.length + k]));
  return { loss: value, theta: gt, alpha: ga };
}

export interface GmpsLearnerOptions extends MetaLossOptions {
  adam?: Partial<AdamOptions>;
  /** Parameters of θ that Adam leaves as initialised (e.g. ['logStd']: a fixed exploration σ). */
  frozen?: readonly string[];
}

/** Key of a step size in the optimiser and in checkpoints. */
export const alphaKey = (name: string): string => `alpha/${name}`;

/** Meta-parameters θ and step sizes α as variables, plus the Adam state that trains them. */
export class GmpsLearner {
  readonly params: Record<string, tf.Variable> = {};
  readonly stepSizes: Record<string, tf.Variable> = {};
  readonly adam: Adam;
  readonly opts: GmpsLearnerOptions;

  constructor(
    readonly policy: GmpsPolicy,
    init: { params: Params; stepSizes: Params },
    opts: GmpsLearnerOptions = {},
  ) {
    this.opts = opts;
    this.adam = new Adam(opts.adam);
    for (const [name] of policy.shapes) this.params[name] = tf.variable(tf.clone(init.params[name]), false, undefined);
    for (const name of policy.adaptable) this.stepSizes[name] = tf.variable(tf.clone(init.stepSizes[name]), false);
  }

  /** One full-batch Adam step on L_out; returns L_out before the step. */
  metaStep(batch: PreparedBatch): number {
    return this.step((th, al) => metaLoss(this.policy, th, al, batch, this.opts));
  }

  /** Same step through the per-task reference formulation (slow; for comparison). */
  metaStepLoop(tasks: readonly TaskBatch[]): number {
    return this.step((th, al) => metaLossLoop(this.policy, th, al, tasks, this.opts));
  }

  private step(loss: (theta: Params, alpha: Params) => tf.Scalar): number {
    return tf.tidy(() => {
      // Frozen parameters get no gradient, so Adam (which steps only what has one) leaves them.
      const g = metaGradients(this.policy, this.params, this.stepSizes, loss, new Set(this.opts.frozen ?? []));
      const vars: Record<string, tf.Variable> = { ...this.params };
      const grads: Record<string, tf.Tensor> = { ...g.theta };
      for (const [name, v] of Object.entries(this.stepSizes)) vars[alphaKey(name)] = v;
      for (const [name, t] of Object.entries(g.alpha)) grads[alphaKey(name)] = t;
      const value = g.loss.dataSync()[0];
      this.adam.apply(vars, grads);
      return value;
    });
  }

  dispose(): void {
    for (const v of Object.values(this.params)) v.dispose();
    for (const v of Object.values(this.stepSizes)) v.dispose();
    this.adam.dispose();
  }
}

/** Throws unless `s` is a usable multiple of the learned step sizes for the steps after the first. */
export function checkLaterStepScale(s: number): void {
  if (!(Number.isFinite(s) && s >= 0)) throw new Error(`laterStepScale must be a finite number >= 0, got ${s}`);
}

/** How the adaptation steps after the first are sized (see `AdaptationStepSizes.forPolicy`). */
export interface LaterSteps {
  laterStepSize?: number;
  laterStepScale?: number;
}

/** Throws unless `later` names at most one usable way to size the steps after the first. */
export function checkLaterSteps(later: LaterSteps): void {
  const { laterStepSize, laterStepScale } = later;
  if (laterStepSize !== undefined && laterStepScale !== undefined) {
    throw new Error('give laterStepSize (a fixed size for the later steps) or laterStepScale (a multiple of the first step sizes), not both');
  }
  if (laterStepSize !== undefined && !(Number.isFinite(laterStepSize) && laterStepSize > 0)) {
    throw new Error(`laterStepSize must be a finite number > 0, got ${laterStepSize}`);
  }
  if (laterStepScale !== undefined) checkLaterStepScale(laterStepScale);
}

/**
 * The step sizes of successive meta-test steps: the learned α for the first (the one it is meta-trained
 * for), and for every step after it either `later`·α (a number: 1 = α at every step, as GMPS's test
 * launcher) or the given step sizes (e.g. a fixed plain policy-gradient size). Owns the later step
 * sizes unless they are α itself; the learned α stays the caller's.
 */
export class AdaptationStepSizes {
  private readonly later: Params;

  constructor(
    private readonly learned: Params,
    later: number | Params,
  ) {
    if (typeof later === 'number') {
      checkLaterStepScale(later);
      this.later = later === 1 ? learned : scaleParams(learned, later);
    } else {
      this.later = later;
    }
  }

  /**
   * The schedule for a policy's adaptation: after the first step, either plain policy-gradient steps of
   * the fixed size `laterStepSize` on every adaptable element, or `laterStepScale`·α (default 1: α at
   * every step); not both.
   */
  static forPolicy(policy: GmpsPolicy, learned: Params, later: LaterSteps): AdaptationStepSizes {
    checkLaterSteps(later);
    if (later.laterStepSize !== undefined) {
      return new AdaptationStepSizes(learned, initStepSizes(policy.shapes, policy.adaptable, later.laterStepSize));
    }
    return new AdaptationStepSizes(learned, later.laterStepScale ?? 1);
  }

  /** Step sizes of step k (0 = the first step). */
  at(k: number): Params {
    return k === 0 ? this.learned : this.later;
  }

  dispose(): void {
    if (this.later !== this.learned) disposeParams(this.later);
  }
}

/**
 * The meta-test adaptation step: φ = θ − α ⊙ ∇_θ(−mean(log π_θ · A)) with the learned α, on
 * on-policy samples (no importance weights). Returns a new parameter set (caller disposes it).
 */
export function adaptStep(policy: GmpsPolicy, params: Params, stepSizes: Params, batch: AdaptBatch): Params {
  const { obsDim, actDim: d } = policy.config;
  const n = batch.advantages.length;
  check(n > 0, 'adaptStep: empty batch');
  check(batch.obs.length === n * obsDim, `adaptStep: obs has ${batch.obs.length} values, expected ${n} x ${obsDim}`);
  check(batch.actions.length === n * d, `adaptStep: actions has ${batch.actions.length} values, expected ${n} x ${d}`);
  return tf.tidy(() => {
    const obs = tf.tensor2d(batch.obs, [n, obsDim]);
    const { grads } = innerGradients(
      policy.head,
      params,
      {
        numTasks: 1,
        rowsPerTask: n,
        feat: policy.features(params, obs),
        actions: tf.tensor2d(batch.actions, [n, d]),
        rowWeight: tf.div(tf.tensor1d(batch.advantages), n) as tf.Tensor1D,
      },
      new Set(policy.adaptable),
    );
    const phi: Params = {};
    for (const [name] of policy.shapes) {
      phi[name] = grads[name]
        ? tf.sub(params[name], tf.mul(stepSizes[name], tf.squeeze(grads[name], [0])))
        : tf.clone(params[name]);
    }
    return phi;
  });
}
