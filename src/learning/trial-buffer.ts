/**
 * Trials collected on the robot graph and the GMPS adaptation step on them. A trial is the
 * policy's recorded steps (its input row, the sampled action, the Gaussian's mean and log-std)
 * paired in order with the rewards the reward node published: the k-th reward after a step
 * belongs to the k-th step (one reward per control step).
 *
 * The step uses the same advantage pipeline as simulated meta-test adaptation (`toAdaptBatch`:
 * γ 0.99, linear baseline on the state rows, or on the hand positions for vision, normalised) and `adaptStep`
 * with the learned α.
 */
import type { TaskParams } from '../../sim/types.js';
import { computeAdvantages, defaultBaselineFor } from './advantages.js';
import { adaptStep } from './gmps.js';
import type { GmpsPolicy, Params } from './policy/index.js';
import { rowsOf, type ObsMode, type Trajectory } from './trajectory.js';
import type { AdaptBatch } from './types.js';

export interface RecordedStep {
  step: number;
  paramsVersion: number;
  observation: ArrayLike<number>;
  action: ArrayLike<number>;
  mean: ArrayLike<number>;
  logStd: ArrayLike<number>;
}

export class TrialBuffer {
  readonly steps: RecordedStep[] = [];
  readonly rewards: number[] = [];
  readonly successes: boolean[] = [];

  constructor(
    readonly horizon: number,
    readonly obsDim: number,
    readonly actDim: number,
  ) {
    if (!Number.isInteger(horizon) || horizon < 1) throw new Error(`trial horizon must be a positive integer, got ${horizon}`);
  }

  /** Adds the next step; it must be the next index and have the policy's sizes. */
  addStep(s: RecordedStep): void {
    if (s.step !== this.steps.length) throw new Error(`trial step ${s.step} arrived, expected step ${this.steps.length} (a step was lost)`);
    if (this.steps.length >= this.horizon) throw new Error(`trial already has its ${this.horizon} steps`);
    if (s.observation.length !== this.obsDim) throw new Error(`step ${s.step}: observation has ${s.observation.length} values, expected ${this.obsDim}`);
    if (s.action.length !== this.actDim || s.mean.length !== this.actDim) {
      throw new Error(`step ${s.step}: action/mean have ${s.action.length}/${s.mean.length} values, expected ${this.actDim}`);
    }
    if (s.logStd.length < this.actDim) throw new Error(`step ${s.step}: log_std has ${s.logStd.length} values, expected ${this.actDim}`);
    this.steps.push(s);
  }

  /** True while a step waits for its reward (rewards arriving otherwise belong to no step of this trial). */
  get awaitingReward(): boolean {
    return this.rewards.length < this.steps.length;
  }

  addReward(r: number): void {
    if (!this.awaitingReward) throw new Error('a reward arrived before the step it rewards');
    if (!Number.isFinite(r)) throw new Error(`reward ${this.rewards.length} is not finite (${r})`);
    this.rewards.push(r);
  }

  addSuccess(ok: boolean): void {
    if (this.successes.length < this.steps.length) this.successes.push(ok);
  }

  get complete(): boolean {
    return this.steps.length === this.horizon && this.rewards.length === this.horizon;
  }

  get return(): number {
    return this.rewards.reduce((a, b) => a + b, 0);
  }

  /** Success of the episode: the success flag at its last step (as `finalSuccess`). */
  get success(): boolean {
    return this.successes.length > 0 && this.successes[this.successes.length - 1]!;
  }

  /** The trial as a trajectory; `states` hold the policy's input rows (vision: hand xyz). */
  toTrajectory(task: TaskParams, mode: ObsMode): Trajectory {
    if (!this.complete) throw new Error(`trial incomplete: ${this.steps.length}/${this.horizon} steps, ${this.rewards.length} rewards`);
    const T = this.horizon;
    const d = this.actDim;
    const o = this.obsDim;
    const rows = new Float32Array(T * o);
    const hands = new Float32Array(T * 3);
    const actions = new Float32Array(T * d);
    const mean = new Float32Array(T * d);
    const logStd = new Float32Array(T * d);
    this.steps.forEach((s, t) => {
      rows.set(s.observation, t * o);
      const hand = mode === 'vision' ? Array.from(s.observation).slice(o - 3) : Array.from(s.observation).slice(0, 3);
      hands.set(hand, t * 3);
      actions.set(s.action, t * d);
      mean.set(s.mean, t * d);
      logStd.set(Array.from(s.logStd).slice(0, d), t * d);
    });
    const stateDim = mode === 'vision' ? 3 : o;
    const states = mode === 'vision' ? hands : rows;
    const success = Float64Array.from({ length: T }, (_, t) => (this.successes[t] ? 1 : 0));
    return {
      task,
      context: new Float64Array(0),
      length: T,
      stateDim,
      actionDim: d,
      states,
      hands,
      actions,
      rewards: Float64Array.from(this.rewards),
      envInfos: { success },
      agentInfos: { mean, logStd },
      finalState: states.slice((T - 1) * stateDim),
      finalHand: hands.slice((T - 1) * 3),
      terminated: true,
    };
  }

  /** The policy's input rows, stacked [T x obsDim]. */
  observationRows(): Float32Array {
    const out = new Float32Array(this.steps.length * this.obsDim);
    this.steps.forEach((s, t) => out.set(s.observation, t * this.obsDim));
    return out;
  }
}

/** The on-policy batch of a group of trials (as `toAdaptBatch` builds it from sampled trajectories). */
export function adaptBatchFromTrials(trials: readonly TrialBuffer[], task: TaskParams, mode: ObsMode): AdaptBatch {
  if (trials.length === 0) throw new Error('no trials to adapt on');
  const trajs = trials.map((t) => t.toTrajectory(task, mode));
  const adv = computeAdvantages(trajs, { baseline: defaultBaselineFor(mode) });
  const obsDim = trials[0]!.obsDim;
  const n = rowsOf(trajs);
  const obs = new Float32Array(n * obsDim);
  const actions = new Float32Array(n * trials[0]!.actDim);
  let row = 0;
  trials.forEach((t, k) => {
    obs.set(t.observationRows(), row * obsDim);
    actions.set(trajs[k]!.actions, row * t.actDim);
    row += t.steps.length;
  });
  return { obs, actions, advantages: adv.flat };
}

/** One GMPS adaptation step on the trials: φ = θ − α ⊙ ∇(−mean(log π · A)). Caller disposes φ. */
export function adaptOnTrials(
  policy: GmpsPolicy,
  params: Params,
  stepSizes: Params,
  trials: readonly TrialBuffer[],
  task: TaskParams,
  mode: ObsMode,
): Params {
  for (const t of trials) {
    if (t.obsDim !== policy.config.obsDim || t.actDim !== policy.config.actDim) {
      throw new Error(`trial sizes ${t.obsDim}/${t.actDim} do not match the policy's ${policy.config.obsDim}/${policy.config.actDim}`);
    }
  }
  return adaptStep(policy, params, stepSizes, adaptBatchFromTrials(trials, task, mode));
}
