/**
 * Experts that supervise the GMPS outer loss, behind one interface: a learned contextual SAC
 * policy, the envs' scripted controllers, and recorded demonstrations. Plus the two uses GMPS
 * makes of them: rolling out an expert to fill D*, and labelling visited states with expert
 * actions (DAgger-style aggregation).
 */
import type { TaskParams } from '../../sim/types.js';
import type { ActBatch, Sampler } from './sampler.js';
import type { Trajectory } from './trajectory.js';

/** An expert that acts in live envs. */
export interface Expert {
  readonly name: string;
  /** True when it needs the env's scripted action (`queryExpert`) in every act batch. */
  readonly needsEnvExpert: boolean;
  /** Deterministic expert actions for every env of the batch. */
  act(batch: ActBatch): Float32Array[] | Promise<Float32Array[]>;
}

/** An expert that can also label stored states without an env (it reads state + context only). */
export interface ExpertAgent extends Expert {
  /** Actions for `n` state rows ([n x stateDim]) with one context per row, or one for all. */
  label(states: Float32Array, contexts: Float64Array[] | Float64Array): Promise<Float32Array>;
}

/** The envs' own scripted controllers (`env.expertAction()`, computed where the env lives). */
export const scriptedExpert: Expert = {
  name: 'scripted',
  needsEnvExpert: true,
  act(batch: ActBatch): Float32Array[] {
    if (!batch.expertActions) throw new Error('the scripted expert needs samples taken with queryExpert: true');
    return batch.expertActions.map((a) => Float32Array.from(a));
  },
};

/** Recorded demonstrations (e.g. teleoperated, read from MCAP bags) grouped by task. */
export interface DemonstrationSource {
  tasks(): TaskParams[];
  demos(task: TaskParams): Trajectory[];
}

/** Stable key of a task, for grouping. */
export function taskKey(task: TaskParams): string {
  switch (task.kind) {
    case 'door':
      return `door:${task.targetRad}`;
    case 'push':
    case 'point':
    case 'ant':
      return `${task.kind}:${task.goal[0]},${task.goal[1]}`;
  }
}

/** A demonstration source over trajectories already in memory, grouped by their task. */
export function inMemoryDemonstrations(trajs: readonly Trajectory[]): DemonstrationSource {
  const byTask = new Map<string, { task: TaskParams; demos: Trajectory[] }>();
  for (const tr of trajs) {
    const k = taskKey(tr.task);
    if (!byTask.has(k)) byTask.set(k, { task: tr.task, demos: [] });
    byTask.get(k)!.demos.push(tr);
  }
  return {
    tasks: () => [...byTask.values()].map((v) => v.task),
    demos: (task) => {
      const v = byTask.get(taskKey(task));
      if (!v) throw new Error(`no demonstrations for task ${taskKey(task)}`);
      return v.demos;
    },
  };
}

export interface RolloutExpertOptions {
  /** Gaussian noise added to expert actions (std), drawn from `noiseRng`; default none. */
  noiseStd?: number;
  noiseRng?: () => number;
}

/**
 * D*: `rolloutsPerTask` expert rollouts for each task, grouped per task. The executed actions
 * are the expert's; with a scripted expert `expertActions` is recorded too.
 */
export async function rolloutExpert(
  sampler: Sampler,
  expert: Expert,
  tasks: readonly TaskParams[],
  rolloutsPerTask: number,
  opts: RolloutExpertOptions = {},
): Promise<Trajectory[][]> {
  const std = opts.noiseStd ?? 0;
  if (std > 0 && !opts.noiseRng) throw new Error('rolloutExpert: noiseStd needs a seeded noiseRng');
  const normal = () => {
    const u = Math.max(opts.noiseRng!(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * opts.noiseRng!());
  };
  return sampler.sample({
    tasks,
    rolloutsPerTask,
    queryExpert: expert.needsEnvExpert,
    act: async (batch) => {
      const actions = await expert.act(batch);
      if (std > 0) for (const a of actions) for (let i = 0; i < a.length; i++) a[i] += std * normal();
      return { actions };
    },
  });
}

/** Expert data of each task from either kind of supervisor, grouped like `tasks`. */
export async function expertDataset(
  source: { sampler: Sampler; expert: Expert; rolloutsPerTask: number } | DemonstrationSource,
  tasks: readonly TaskParams[],
): Promise<Trajectory[][]> {
  if ('demos' in source) return tasks.map((t) => source.demos(t));
  return rolloutExpert(source.sampler, source.expert, tasks, source.rolloutsPerTask);
}

/**
 * Copies of `trajs` whose `expertActions` hold the expert's action in every visited state.
 * An `ExpertAgent` labels from state + context; the scripted expert needs trajectories sampled
 * with `queryExpert: true` (its labels were taken in the env at sampling time).
 */
export async function labelWithExpert(expert: Expert | ExpertAgent, trajs: readonly Trajectory[]): Promise<Trajectory[]> {
  if ('label' in expert) {
    return Promise.all(trajs.map(async (tr) => ({ ...tr, expertActions: await expert.label(tr.states, tr.context) })));
  }
  return trajs.map((tr, i) => {
    if (!tr.expertActions) {
      throw new Error(`trajectory ${i} has no expert labels: sample it with queryExpert: true to label with the '${expert.name}' expert`);
    }
    return { ...tr };
  });
}
