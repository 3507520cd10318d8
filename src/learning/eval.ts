/**
 * Evaluation of a meta-trained checkpoint on held-out tasks, as GMPS's evaluation iterations:
 * pre-update return (std ×1), one adaptation step with the learned α, post-update return and
 * success (std ×1e-5), plus the scripted expert's return on the same tasks.
 */
import type { TaskParams } from '../../sim/types.js';
import { rolloutExpert, scriptedExpert } from './expert.js';
import { checkSamplerFor, evaluateAdaptation, loadCheckpoint, meanReturn, successRate, type EvalResult } from './meta-train.js';
import { disposeParams, scaleParams } from './policy/index.js';
import { Rng } from './rng.js';
import type { Sampler } from './sampler.js';

export interface CheckpointEval extends EvalResult {
  tasks: number;
  rolloutsPerTask: number;
  expertReturn: number;
  expertSuccess: number;
  /** Per task: pre/post return and post success. */
  perTask: { task: TaskParams; preReturn: number; postReturn: number; postSuccess: number; expertReturn: number }[];
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
}

export async function evaluateCheckpoint(opts: EvalOptions): Promise<CheckpointEval> {
  const ck = await loadCheckpoint(opts.checkpoint);
  for (const t of Object.values(ck.adamSlots)) t.dispose();
  const tasks = opts.tasks ?? ck.state.heldOut;
  const scale = opts.stepScale ?? 1;
  try {
    if (!(Number.isFinite(scale) && scale > 0)) throw new Error(`stepScale must be a positive number, got ${scale}`);
    if (scale !== 1) {
      const scaled = scaleParams(ck.stepSizes, scale);
      disposeParams(ck.stepSizes);
      ck.stepSizes = scaled;
    }
    checkSamplerFor(ck.state.config, opts.sampler);
    if (!tasks.length) throw new Error('no tasks to evaluate: the checkpoint has no held-out tasks; pass some');
    const rng = new Rng(`${opts.seed ?? 0}-eval`);
    const ev = await evaluateAdaptation(opts.sampler, ck.policy, ck.params, ck.stepSizes, tasks, opts.rollouts, ck.state.config.obsMode, rng);
    ev.adapted.forEach(disposeParams);
    const expert = await rolloutExpert(opts.sampler, scriptedExpert, tasks, opts.rollouts);
    return {
      ...ev.result,
      tasks: tasks.length,
      rolloutsPerTask: opts.rollouts,
      expertReturn: expert.reduce((s, g) => s + meanReturn(g), 0) / tasks.length,
      expertSuccess: expert.reduce((s, g) => s + successRate(g), 0) / tasks.length,
      perTask: tasks.map((task, i) => ({
        task,
        preReturn: meanReturn(ev.pre[i]),
        postReturn: meanReturn(ev.post[i]),
        postSuccess: successRate(ev.post[i]),
        expertReturn: meanReturn(expert[i]),
      })),
    };
  } finally {
    disposeParams(ck.params);
    disposeParams(ck.stepSizes);
  }
}
