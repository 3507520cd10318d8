/**
 * Evaluation of a meta-trained checkpoint on held-out tasks, as GMPS's evaluation iterations:
 * pre-update return (std ×1), one adaptation step with the learned α, post-update return and
 * success (std ×1e-5), plus the unadapted θ at std ×1e-5 (the step's own contribution) and the
 * scripted expert's return on the same tasks.
 */
import type { TaskParams } from '../../sim/types.js';
import { rolloutExpert, scriptedExpert } from './expert.js';
import { checkSamplerFor, evaluateAdaptation, loadCheckpoint, meanReturn, policyAct, POST_UPDATE_STD_SCALE, successRate, type EvalResult } from './meta-train.js';
import { disposeParams, scaleParams } from './policy/index.js';
import { Rng } from './rng.js';
import { median } from './stats.js';
import type { Sampler } from './sampler.js';
import type { Trajectory } from './trajectory.js';

export interface CheckpointEval extends EvalResult {
  tasks: number;
  rolloutsPerTask: number;
  expertReturn: number;
  expertSuccess: number;
  /**
   * θ itself, not adapted, run as the adapted policies are (σ ×1e-5): what the post-update numbers
   * would be with a step of zero. Post minus this is what the adaptation step adds; post minus the
   * pre-update return also counts the removal of the exploration noise.
   */
  unadaptedReturn: number;
  unadaptedSuccess: number;
  /** Per task: pre/post return and post success, and where the episodes ended (`TaskOutcome`). */
  perTask: { task: TaskParams; preReturn: number; postReturn: number; postSuccess: number; unadaptedReturn: number; unadaptedSuccess: number; expertReturn: number; outcome: TaskOutcome }[];
}

/**
 * Where a task's episodes ended, before and after the adaptation step: the final door angle (deg),
 * the block's or body's final distance to the goal (m). The pre-update spread is what the one step
 * has to learn from: a door target beyond every pre-update rollout's final angle is one the rollouts
 * carry no information about (below the target the door reward is 10·θ whatever the target).
 */
export interface TaskOutcome {
  name: string;
  unit: string;
  /** Over the pre-update rollouts (exploration σ): min, median and max of the final value. */
  pre: { min: number; median: number; max: number };
  /** Mean final value of the post-update rollouts (σ ×1e-5: one trajectory, repeated). */
  post: number;
}

const OUTCOMES: Record<TaskParams['kind'], { name: string; unit: string; info: string; scale: number }> = {
  door: { name: 'final door angle', unit: 'deg', info: 'doorAngle', scale: 180 / Math.PI },
  push: { name: 'final block-goal distance', unit: 'm', info: 'placeDist', scale: 1 },
  point: { name: 'final distance to goal', unit: 'm', info: 'distance', scale: 1 },
  ant: { name: 'final distance to goal', unit: 'm', info: 'distance', scale: 1 },
};

function finalValues(trajs: readonly Trajectory[], kind: TaskParams['kind']): number[] {
  const o = OUTCOMES[kind];
  return trajs.map((t) => {
    const v = t.envInfos[o.info];
    if (!v || v.length < t.length || t.length === 0) throw new Error(`${kind} episode without a '${o.info}' step info: cannot report where it ended`);
    return v[t.length - 1] * o.scale;
  });
}

/** The final value of `trajs`' episodes (`TaskOutcome`'s measure): min, median, max and mean. */
export function finalStats(kind: TaskParams['kind'], trajs: readonly Trajectory[]): { name: string; unit: string; min: number; median: number; max: number; mean: number } {
  if (!trajs.length) throw new Error(`no ${kind} episodes to report where they ended`);
  const p = finalValues(trajs, kind);
  return { name: OUTCOMES[kind].name, unit: OUTCOMES[kind].unit, min: Math.min(...p), median: median(p), max: Math.max(...p), mean: p.reduce((a, v) => a + v, 0) / p.length };
}

export function taskOutcome(kind: TaskParams['kind'], pre: readonly Trajectory[], post: readonly Trajectory[]): TaskOutcome {
  const p = finalStats(kind, pre);
  return { name: p.name, unit: p.unit, pre: { min: p.min, median: p.median, max: p.max }, post: finalStats(kind, post).mean };
}

export interface EvalOptions {
  checkpoint: string;
  sampler: Sampler;
  /** Tasks to evaluate on; default the checkpoint's held-out tasks. */
  tasks?: TaskParams[];
  rollouts: number;
  seed?: number;
  /**
   * Multiplies the learned step sizes α of the adaptation step (default 1: GMPS's meta-test step).
   * A meta-test hyperparameter: choose it on tasks of their own (a --task-seed of their own), not on
   * the tasks it is reported on.
   */
  stepScale?: number;
  /**
   * Multiplies the policy's σ in the rollouts the step learns from (default 1: the σ it was
   * meta-trained with); as `gmps adapt --std-scale`. A meta-test knob like `stepScale`.
   */
  stdScale?: number;
}

/** The mean over tasks of a per-task measure of their rollouts. */
const taskMean = (groups: readonly Trajectory[][], f: (trajs: readonly Trajectory[]) => number): number =>
  groups.reduce((s, g) => s + f(g), 0) / groups.length;

export async function evaluateCheckpoint(opts: EvalOptions): Promise<CheckpointEval> {
  const ck = await loadCheckpoint(opts.checkpoint);
  for (const t of Object.values(ck.adamSlots)) t.dispose();
  const tasks = opts.tasks ?? ck.state.heldOut;
  const scale = opts.stepScale ?? 1;
  const stdScale = opts.stdScale ?? 1;
  try {
    if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`stepScale must be a positive number, got ${scale}`);
    if (!(Number.isFinite(stdScale) && stdScale > 0)) throw new Error(`stdScale must be a positive number, got ${stdScale}`);
    if (scale !== 1) {
      const scaled = scaleParams(ck.stepSizes, scale);
      disposeParams(ck.stepSizes);
      ck.stepSizes = scaled;
    }
    checkSamplerFor(ck.state.config, opts.sampler);
    if (!tasks.length) throw new Error('no tasks to evaluate: the checkpoint has no held-out tasks; pass some');
    const rng = new Rng(`${opts.seed ?? 0}-eval`);
    const ev = await evaluateAdaptation(opts.sampler, ck.policy, ck.params, ck.stepSizes, tasks, opts.rollouts, ck.state.config.obsMode, rng, stdScale);
    ev.adapted.forEach(disposeParams);
    // σ ×1e-5 makes every rollout of a task the same trajectory: two are enough.
    const unadapted = await opts.sampler.sample({ tasks, rolloutsPerTask: 2, act: policyAct(ck.policy, () => ck.params, 2, ck.state.config.obsMode, rng, POST_UPDATE_STD_SCALE) });
    const expert = await rolloutExpert(opts.sampler, scriptedExpert, tasks, opts.rollouts);
    return {
      ...ev.result,
      tasks: tasks.length,
      rolloutsPerTask: opts.rollouts,
      expertReturn: taskMean(expert, meanReturn),
      expertSuccess: taskMean(expert, successRate),
      unadaptedReturn: taskMean(unadapted, meanReturn),
      unadaptedSuccess: taskMean(unadapted, successRate),
      perTask: tasks.map((task, i) => ({
        task,
        preReturn: meanReturn(ev.pre[i]),
        postReturn: meanReturn(ev.post[i]),
        postSuccess: successRate(ev.post[i]),
        unadaptedReturn: meanReturn(unadapted[i]),
        unadaptedSuccess: successRate(unadapted[i]),
        expertReturn: meanReturn(expert[i]),
        outcome: taskOutcome(task.kind, ev.pre[i], ev.post[i]),
      })),
    };
  } finally {
    disposeParams(ck.params);
    disposeParams(ck.stepSizes);
  }
}
