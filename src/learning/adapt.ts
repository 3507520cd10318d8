/**
 * Meta-test adaptation (gmps-reference §7): from a meta-trained checkpoint, on a task never
 * trained on, repeat n times: K rollouts of the current policy, one policy-gradient step with the
 * meta-learned per-element step sizes α (α frozen). As in GMPS's test protocol, step k's `return`
 * and `success` evaluate the parameters after k steps with the policy's σ scaled by 1e-5 (its
 * mean action); `exploreReturn` / `exploreSuccess` are those of the K exploration rollouts (σ ×1)
 * that the next gradient step learns from. Step 0 is the meta-policy before any adaptation.
 * Success = the fraction of rollouts whose episode ends in the task's success state.
 *
 * α is meta-trained for one step from θ; for the steps after the first, `laterStepScale` multiplies it
 * (default 1: the learned α at every step, as GMPS's test launcher), or `laterStepSize` replaces it by
 * plain policy-gradient steps of that size.
 */
import type { TaskParams } from '../../sim/types.js';
import { toAdaptBatch } from './advantages.js';
import { finalStats } from './eval.js';
import { scriptedExpert, rolloutExpert } from './expert.js';
import { AdaptationStepSizes, adaptStep, checkLaterSteps } from './gmps.js';
import { checkSamplerFor, loadCheckpoint, meanReturn, policyAct, POST_UPDATE_STD_SCALE, successRate } from './meta-train.js';
import { disposeParams, type Params } from './policy/index.js';
import { Rng } from './rng.js';
import type { Sampler } from './sampler.js';
import type { Trajectory } from './trajectory.js';

export interface AdaptStepResult {
  step: number;
  return: number;
  success: number;
  exploreReturn: number;
  exploreSuccess: number;
  /**
   * Where the episodes ended (final door angle in deg, block-goal distance in m, ...): `value` for the
   * evaluation rollouts (σ ×1e-5), `explore` the min / median / max over the exploration rollouts.
   */
  outcome: { name: string; unit: string; value: number; explore: { min: number; median: number; max: number } };
}

export interface AdaptResult {
  steps: AdaptStepResult[];
  /** Mean return of the scripted expert on the same task (K rollouts). */
  expertReturn: number;
}

export interface AdaptOptions {
  checkpoint: string;
  sampler: Sampler;
  task: TaskParams;
  /** Gradient steps n (the result has n + 1 entries). */
  steps: number;
  /** K rollouts per step. */
  rollouts: number;
  seed?: number;
  /** Multiplies the policy's σ when sampling the exploration rollouts (default 1). */
  stdScale?: number;
  /** Multiplies the learned step sizes of the steps after the first (default 1; 0 keeps the one-step policy). */
  laterStepScale?: number;
  /** Instead of `laterStepScale`: plain policy-gradient steps of this size after the first step. */
  laterStepSize?: number;
  /** Rollouts of the evaluation with σ ×1e-5 (default 2: the simulator is deterministic). */
  evalRollouts?: number;
  onStep?: (s: AdaptStepResult) => void;
}

function stepOutcome(kind: TaskParams['kind'], explore: readonly Trajectory[], evaluation: readonly Trajectory[]): AdaptStepResult['outcome'] {
  const e = finalStats(kind, explore);
  return { name: e.name, unit: e.unit, value: finalStats(kind, evaluation).mean, explore: { min: e.min, median: e.median, max: e.max } };
}

export async function adaptToTask(opts: AdaptOptions): Promise<AdaptResult> {
  if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new Error(`steps must be an integer >= 0, got ${opts.steps}`);
  if (!Number.isInteger(opts.rollouts) || opts.rollouts < 2) throw new Error(`rollouts must be an integer >= 2 (advantages need a batch), got ${opts.rollouts}`);
  checkLaterSteps(opts);
  const ck = await loadCheckpoint(opts.checkpoint);
  if (ck.state.config.task !== opts.task.kind) {
    throw new Error(`the checkpoint was meta-trained on '${ck.state.config.task}' tasks, not '${opts.task.kind}'`);
  }
  for (const t of Object.values(ck.adamSlots)) t.dispose();
  try {
    checkSamplerFor(ck.state.config, opts.sampler);
  } catch (err) {
    disposeParams(ck.params);
    disposeParams(ck.stepSizes);
    throw err;
  }
  const { policy, stepSizes } = ck;
  const schedule = AdaptationStepSizes.forPolicy(policy, stepSizes, opts);
  const mode = ck.state.config.obsMode;
  const rng = new Rng(`${opts.seed ?? 0}-adapt`);
  let params: Params = ck.params;
  const steps: AdaptStepResult[] = [];
  try {
    for (let k = 0; k <= opts.steps; k++) {
      const [trajs] = await opts.sampler.sample({
        tasks: [opts.task],
        rolloutsPerTask: opts.rollouts,
        act: policyAct(policy, () => params, opts.rollouts, mode, rng, opts.stdScale ?? 1),
      });
      const [evalTrajs] = await opts.sampler.sample({
        tasks: [opts.task],
        rolloutsPerTask: opts.evalRollouts ?? 2,
        act: policyAct(policy, () => params, opts.evalRollouts ?? 2, mode, rng, POST_UPDATE_STD_SCALE),
      });
      const s: AdaptStepResult = {
        step: k,
        return: meanReturn(evalTrajs),
        success: successRate(evalTrajs),
        exploreReturn: meanReturn(trajs),
        exploreSuccess: successRate(trajs),
        outcome: stepOutcome(opts.task.kind, trajs, evalTrajs),
      };
      steps.push(s);
      opts.onStep?.(s);
      if (k < opts.steps) {
        const next = adaptStep(policy, params, schedule.at(k), toAdaptBatch(trajs, mode));
        disposeParams(params);
        params = next;
      }
    }
    const [expert] = await rolloutExpert(opts.sampler, scriptedExpert, [opts.task], opts.rollouts);
    return { steps, expertReturn: meanReturn(expert) };
  } finally {
    disposeParams(params);
    schedule.dispose();
    disposeParams(stepSizes);
  }
}

export interface AdaptManyOptions extends Omit<AdaptOptions, 'task' | 'seed' | 'onStep'> {
  /** The tasks; each is adapted to from the checkpoint's θ, independently of the others. */
  tasks: readonly TaskParams[];
  /** Task i samples with seed `seed + i` (default 0), so one task's result does not depend on the ones before it. */
  seed?: number;
  onTask?: (i: number, task: TaskParams, res: AdaptResult) => void;
}

export interface AdaptManyResult {
  tasks: number;
  /** Per step, the mean over the tasks of the evaluation return and success. */
  steps: { step: number; return: number; success: number }[];
  /** Mean over the tasks of the scripted expert's return. */
  expertReturn: number;
  perTask: { task: TaskParams; seed: number; steps: { step: number; return: number; success: number }[]; expertReturn: number }[];
}

/**
 * `adaptToTask` on each of many tasks (what the meta-test numbers in checkpoints/README.md average):
 * the mean return and success after each step, and each task's own.
 */
export async function adaptToTasks(opts: AdaptManyOptions): Promise<AdaptManyResult> {
  if (!opts.tasks.length) throw new Error('no tasks to adapt to');
  const base = opts.seed ?? 0;
  const perTask: AdaptManyResult['perTask'] = [];
  for (let i = 0; i < opts.tasks.length; i++) {
    const task = opts.tasks[i];
    const res = await adaptToTask({ ...opts, task, seed: base + i });
    perTask.push({ task, seed: base + i, steps: res.steps.map((s) => ({ step: s.step, return: s.return, success: s.success })), expertReturn: res.expertReturn });
    opts.onTask?.(i, task, res);
  }
  const mean = (f: (t: AdaptManyResult['perTask'][number]) => number) => perTask.reduce((a, t) => a + f(t), 0) / perTask.length;
  return {
    tasks: perTask.length,
    steps: perTask[0].steps.map((s, k) => ({ step: s.step, return: mean((t) => t.steps[k].return), success: mean((t) => t.steps[k].success) })),
    expertReturn: mean((t) => t.expertReturn),
    perTask,
  };
}
