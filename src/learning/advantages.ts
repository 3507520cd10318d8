/**
 * The advantage pipeline of the GMPS inner step (rllab's `process_samples`): discounted returns
 * (γ 0.99), a baseline refitted on the task's own batch, GAE via the δ-cumsum (λ 1), and per-task
 * normalisation (A − mean) / (std + 1e-8). Plus the conversion of a task's trajectories into the
 * batches the GMPS step and the meta-test adaptation step consume.
 */
import { LinearFeatureBaseline, ZeroBaseline, type Baseline } from './baseline.js';
import { stackField, stackObservations, type ObsMode, type Trajectory } from './trajectory.js';
import type { AdaptBatch, TaskSamples } from './types.js';

/** y[t] = Σ_{k≥t} discount^(k−t) x[k]. */
export function discountCumsum(x: ArrayLike<number>, discount: number): Float64Array {
  const y = new Float64Array(x.length);
  let acc = 0;
  for (let t = x.length - 1; t >= 0; t--) {
    acc = x[t] + discount * acc;
    y[t] = acc;
  }
  return y;
}

/** (x − mean) / (std + eps), population std; returns a new array. */
export function normalize(x: ArrayLike<number>, eps = 1e-8): Float64Array {
  const n = x.length;
  if (n === 0) return new Float64Array(0);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  const std = Math.sqrt(v / n);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) / (std + eps);
  return out;
}

export interface AdvantageOptions {
  /** Discount (default 0.99). */
  gamma?: number;
  /** GAE λ (default 1: discounted return minus baseline). */
  lambda?: number;
  /**
   * 'linear' (default, refitted on this batch, on the states), 'linear-hand' (the same on the hand
   * positions), 'zero', or a baseline object (fitted here).
   */
  baseline?: BaselineChoice | Baseline;
  /** Normalise over all steps of the batch (default true). */
  normalize?: boolean;
}

export interface TaskAdvantages {
  /** Discounted returns per trajectory. */
  returns: Float64Array[];
  /** Baseline values per trajectory. */
  baselines: Float64Array[];
  /** Advantages per trajectory (normalised over the whole batch when asked). */
  advantages: Float64Array[];
  /** All advantages concatenated in trajectory order. */
  flat: Float32Array;
}

/** Advantages of one task's batch of trajectories. */
export function computeAdvantages(trajs: readonly Trajectory[], opts: AdvantageOptions = {}): TaskAdvantages {
  const gamma = opts.gamma ?? 0.99;
  const lambda = opts.lambda ?? 1;
  if (!(gamma >= 0 && gamma <= 1)) throw new Error(`gamma must be in [0, 1], got ${gamma}`);
  if (!(lambda >= 0 && lambda <= 1)) throw new Error(`lambda must be in [0, 1], got ${lambda}`);
  if (trajs.length === 0) throw new Error('computeAdvantages: no trajectories');
  const choice = opts.baseline ?? 'linear';
  const baseline: Baseline =
    choice === 'zero'
      ? new ZeroBaseline()
      : choice === 'linear' || choice === 'linear-hand'
        ? new LinearFeatureBaseline({ input: choice === 'linear' ? 'states' : 'hands' })
        : choice;
  const returns = trajs.map((tr) => discountCumsum(tr.rewards, gamma));
  baseline.fit(trajs, returns);
  const baselines = trajs.map((tr) => baseline.predict(tr));
  const raw = trajs.map((tr, k) => {
    const b = baselines[k];
    const T = tr.length;
    const deltas = new Float64Array(T);
    // Fixed-horizon episodes: the value after the last step is taken as 0, as rllab does.
    for (let t = 0; t < T; t++) deltas[t] = tr.rewards[t] + gamma * (t + 1 < T ? b[t + 1] : 0) - b[t];
    return discountCumsum(deltas, gamma * lambda);
  });
  const total = raw.reduce((s, a) => s + a.length, 0);
  let all: Float64Array = new Float64Array(total);
  let o = 0;
  for (const a of raw) {
    all.set(a, o);
    o += a.length;
  }
  if (opts.normalize ?? true) all = normalize(all);
  const advantages: Float64Array[] = [];
  o = 0;
  for (const a of raw) {
    advantages.push(all.slice(o, o + a.length));
    o += a.length;
  }
  return { returns, baselines, advantages, flat: Float32Array.from(all) };
}

export type BaselineChoice = 'linear' | 'linear-hand' | 'zero';

/**
 * State policies: the linear baseline on the state. Vision policies: the linear baseline on the
 * hand position (the GMPS conv policy used the zero baseline; the hand is observed, so the
 * baseline still needs no privileged state).
 */
export function defaultBaselineFor(mode: ObsMode): BaselineChoice {
  return mode === 'vision' ? 'linear-hand' : 'linear';
}

/**
 * One task's pre-update samples for the GMPS meta-step. The trajectories must have been sampled
 * with `agentInfos.mean` ([T x actDim]) and `agentInfos.logStd` (θ0's outputs).
 */
export function toTaskSamples(trajs: readonly Trajectory[], mode: ObsMode, opts: AdvantageOptions = {}): TaskSamples {
  const adv = computeAdvantages(trajs, { baseline: defaultBaselineFor(mode), ...opts });
  const oldMean = stackField(trajs, (tr) => tr.agentInfos.mean, "agentInfos.mean (θ0's action mean; record it in act())");
  const logStd = trajs[0].agentInfos.logStd;
  if (!logStd) throw new Error("trajectory 0 has no agentInfos.logStd (θ0's log-std; record it in act())");
  const actDim = trajs[0].actionDim;
  return {
    obs: stackObservations(trajs, mode),
    actions: stackField(trajs, (tr) => tr.actions, 'actions'),
    advantages: adv.flat,
    oldMean,
    oldLogStd: logStd.slice(0, actDim),
  };
}

/** On-policy batch of one task for the meta-test adaptation step. */
export function toAdaptBatch(trajs: readonly Trajectory[], mode: ObsMode, opts: AdvantageOptions = {}): AdaptBatch {
  const adv = computeAdvantages(trajs, { baseline: defaultBaselineFor(mode), ...opts });
  return {
    obs: stackObservations(trajs, mode),
    actions: stackField(trajs, (tr) => tr.actions, 'actions'),
    advantages: adv.flat,
  };
}
