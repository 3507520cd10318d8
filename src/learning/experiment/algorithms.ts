/**
 * The algorithm registry of the experiment harness and the built-in entries: GMPS (through
 * `metaTrain`), MAML-TRPO, MultiTask and MultiTask-imitation.
 *
 * Common run config keys (each algorithm reads the ones it needs):
 * - `curve`: 'train' (return after adaptation on the training tasks vs env samples, default),
 *   'heldOut' (same on held-out tasks), 'fineTune' (after training: return on held-out tasks after
 *   k adaptation steps, x = k), 'ood' (as 'fineTune' on the Ant's out-of-distribution goals).
 * - `adaptSteps`, `adaptRollouts`: the k-step adaptation protocol of 'fineTune' / 'ood'.
 */
import type { TaskKind, TaskParams } from '../../../sim/types.js';
import type { CurvePoint } from '../meta-train.js';
import type { GmpsPolicy, Params } from '../policy/index.js';
import type { Sampler } from '../sampler.js';
import type { Algorithm, CurvePointOut, RunContext, RunCurve, RunSpec } from './types.js';

const registry = new Map<string, Algorithm>();

export function registerAlgorithm(algo: Algorithm): void {
  if (registry.has(algo.name)) throw new Error(`an algorithm named '${algo.name}' is already registered`);
  registry.set(algo.name, algo);
}

export function getAlgorithm(name: string): Algorithm {
  const a = registry.get(name);
  if (!a) throw new Error(`unknown algorithm '${name}'; registered: ${[...registry.keys()].join(', ')}`);
  return a;
}

export function algorithmNames(): string[] {
  return [...registry.keys()];
}

type CurveKind = 'train' | 'heldOut' | 'fineTune' | 'ood';

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`run config '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function curveKind(cfg: Record<string, unknown>): CurveKind {
  const c = (cfg.curve ?? 'train') as string;
  if (!['train', 'heldOut', 'fineTune', 'ood'].includes(c)) throw new Error(`run config 'curve' must be train, heldOut, fineTune or ood, got '${c}'`);
  return c as CurveKind;
}

/** Meta-training curve points: x = env samples, y = post-adaptation return on training or held-out tasks. */
function metaCurve(points: readonly CurvePoint[], which: 'train' | 'heldOut'): CurvePointOut[] {
  return points.map((p) => {
    const r = which === 'train' ? p.train : p.heldOut;
    if (!r) throw new Error('the run evaluated no held-out tasks (numHeldOut 0) but the figure plots them');
    return { x: p.envSamples, y: r.postReturn, success: r.postSuccess };
  });
}

/** Held-out tasks for 'fineTune' curves; the Ant's OOD goals for 'ood'. */
async function adaptationTasks(kind: CurveKind, spec: RunSpec, heldOut: readonly TaskParams[]): Promise<TaskParams[]> {
  if (kind !== 'ood') return [...heldOut];
  if (spec.task.kind !== 'ant') throw new Error("curve 'ood' is defined for the ant task only");
  const { antOodGoals, antTask } = await import('../../../sim/ant.js');
  return antOodGoals(num(spec.config, 'oodTasks', 6)).map(antTask);
}

async function adaptationCurve(
  sampler: Sampler,
  policy: GmpsPolicy,
  params: Params,
  stepSizes: Params | undefined,
  tasks: readonly TaskParams[],
  spec: RunSpec,
  seed: number,
): Promise<CurvePointOut[]> {
  const { fineTune } = await import('../multitask.js');
  const res = await fineTune(
    sampler,
    policy,
    params,
    tasks,
    {
      seed,
      fineTuneSteps: num(spec.config, 'adaptSteps', 3),
      rolloutsPerStep: num(spec.config, 'adaptRollouts', 10),
      fineTuneStepSize: num(spec.config, 'fineTuneStepSize', 0.1),
    },
    stepSizes,
  );
  return res.returns.map((y, k) => ({ x: k, y, success: res.success[k] }));
}

async function dims(sampler: Sampler): Promise<{ obsDim: number; actDim: number }> {
  return { obsDim: sampler.info.stateDim, actDim: sampler.info.actionDim };
}

const gmps: Algorithm = {
  name: 'gmps',
  description: 'Guided Meta-Policy Search (meta-train.ts): RL inner step, imitation outer step; scripted or contextual-SAC experts',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { defaultMetaTrainConfig, metaTrain } = await import('../meta-train.js');
    const cfg = spec.config;
    const kind = curveKind(cfg);
    const sampler = await ctx.openSampler();
    const vision = cfg.obsMode === 'vision';
    const { defaultVisionConfig, defaultMlpConfig } = await import('../policy/index.js');
    const d = await dims(sampler);
    const base = defaultMetaTrainConfig(spec.task.kind as TaskKind, d);
    const hidden = (cfg.hidden as number[] | undefined) ?? [100, 100];
    const config = {
      ...base,
      envOptions: spec.task.envOptions,
      seed: ctx.seed,
      obsMode: vision ? ('vision' as const) : ('state' as const),
      numTasks: num(cfg, 'numTasks', base.numTasks),
      numHeldOut: num(cfg, 'numHeldOut', base.numHeldOut),
      rolloutsPerTask: num(cfg, 'rolloutsPerTask', base.rolloutsPerTask),
      demosPerTask: num(cfg, 'demosPerTask', base.demosPerTask),
      iterations: num(cfg, 'iterations', base.iterations),
      adamSteps: num(cfg, 'adamSteps', base.adamSteps),
      evalEvery: num(cfg, 'evalEvery', base.evalEvery),
      policy: vision ? { ...defaultVisionConfig(d.actDim), hidden } : { ...defaultMlpConfig(d.obsDim, d.actDim), hidden },
    };
    let expert: Parameters<typeof metaTrain>[0]['expert'];
    let expertSamples = 0;
    const extra: Record<string, unknown> = {};
    if (cfg.expert === 'sac') {
      // Contextual SAC experts (their samples count, as in the paper); trained on the dense
      // reward even when GMPS adapts with the sparse one.
      const { trainSac } = await import('../sac.js');
      const sacSampler = await ctx.openSampler({ envOptions: { ...spec.task.envOptions, dense: true } });
      const { tasks } = await seedTasks(spec, ctx.seed, config.numTasks, config.numHeldOut);
      const { agent, history } = await trainSac({
        sampler: sacSampler,
        tasks,
        envSteps: num(cfg, 'sacSteps', 20000),
        config: { seed: ctx.seed, hidden: (cfg.sacHidden as number[] | undefined) ?? [256, 256], warmupSteps: num(cfg, 'sacWarmup', 1000) },
        onRound: (s) => s.round % 10 === 0 && ctx.log(`sac round ${s.round}: ${s.envSteps} steps, return ${s.meanReturn.toFixed(1)}`),
      });
      expertSamples = agent.envSteps;
      extra.sacFinalReturn = history.at(-1)?.meanReturn;
      expert = { kind: 'agent', expert: agent };
    }
    const res = await metaTrain({
      config,
      sampler,
      expert,
      outDir: ctx.workDir,
      onEval: (p) => ctx.log(`gmps itr ${p.iteration}: ${p.envSamples + expertSamples} samples, post-update return ${p.train.postReturn.toFixed(2)}`),
    });
    try {
      extra.expertReturn = res.state.expertReturn;
      extra.expertSamples = expertSamples + res.state.expertSamples;
      if (kind === 'train' || kind === 'heldOut') {
        return { xAxis: 'envSamples', points: metaCurve(res.state.curve, kind).map((p) => ({ ...p, x: p.x + expertSamples })), extra };
      }
      const tasks = await adaptationTasks(kind, spec, res.state.heldOut);
      const points = await adaptationCurve(sampler, res.policy, res.learner.params, res.learner.stepSizes, tasks, spec, ctx.seed);
      return { xAxis: 'adaptSteps', points, extra };
    } finally {
      res.dispose();
    }
  },
};

const maml: Algorithm = {
  name: 'maml',
  description: 'MAML-TRPO (maml.ts): REINFORCE inner step, TRPO outer step (KL 0.01)',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { defaultMamlConfig, mamlTrain } = await import('../maml.js');
    const cfg = spec.config;
    if (cfg.obsMode === 'vision') throw new Error('MAML here runs state policies only (no vision variant yet)');
    const kind = curveKind(cfg);
    const sampler = await ctx.openSampler();
    const d = await dims(sampler);
    const base = defaultMamlConfig(spec.task.kind as TaskKind);
    const config = {
      ...base,
      envOptions: spec.task.envOptions,
      seed: ctx.seed,
      metaBatchSize: num(cfg, 'metaBatchSize', base.metaBatchSize),
      numTasks: num(cfg, 'numTasks', base.numTasks),
      numHeldOut: num(cfg, 'numHeldOut', base.numHeldOut),
      rolloutsPerTask: num(cfg, 'rolloutsPerTask', base.rolloutsPerTask),
      iterations: num(cfg, 'iterations', base.iterations),
      evalEvery: num(cfg, 'evalEvery', base.evalEvery),
      innerStepSize: num(cfg, 'innerStepSize', base.innerStepSize),
      latentDim: num(cfg, 'latentDim', base.latentDim),
      stepSize: (cfg.stepSize as 'scalar' | 'learned' | undefined) ?? base.stepSize,
      policyKind: (cfg.policyKind as 'mlp' | 'mlp-biasAda' | undefined) ?? base.policyKind,
      hidden: (cfg.hidden as number[] | undefined) ?? base.hidden,
    };
    const res = await mamlTrain({
      config,
      sampler,
      ...d,
      onEval: (p) => ctx.log(`maml itr ${p.iteration}: ${p.envSamples} samples, post-update return ${p.train.postReturn.toFixed(2)}`),
    });
    try {
      if (kind === 'train' || kind === 'heldOut') return { xAxis: 'envSamples', points: metaCurve(res.curve, kind) };
      const { heldOut } = await seedTasks(spec, ctx.seed, config.numTasks, config.numHeldOut);
      const tasks = await adaptationTasks(kind, spec, heldOut);
      return { xAxis: 'adaptSteps', points: await adaptationCurve(sampler, res.policy, res.params, res.stepSizes, tasks, spec, ctx.seed) };
    } finally {
      res.dispose();
    }
  },
};

/** The seed's training and held-out tasks: the same draw for every algorithm (`drawTasks`). */
async function seedTasks(spec: RunSpec, seed: number, numTasks: number, numHeldOut: number): Promise<{ tasks: TaskParams[]; heldOut: TaskParams[] }> {
  const { drawTasks, envSpecOf } = await import('../meta-train.js');
  const { createEnvFromSpec } = await import('../worker/spec.js');
  const probe = await createEnvFromSpec(envSpecOf({ task: spec.task.kind as TaskKind, envOptions: spec.task.envOptions, seed }), 0);
  try {
    return drawTasks({ seed, numTasks, numHeldOut } as Parameters<typeof drawTasks>[0], (r) => probe.sampleTask(r));
  } finally {
    probe.close();
  }
}

const multitask: Algorithm = {
  name: 'multitask',
  description: 'MultiTask (multitask.ts): one policy trained with TRPO on all training tasks, no adaptation',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { defaultMultiTaskConfig, multiTaskTrain } = await import('../multitask.js');
    const cfg = spec.config;
    if (cfg.obsMode === 'vision') throw new Error('MultiTask here runs state policies only (no vision variant yet)');
    const kind = curveKind(cfg);
    if (kind !== 'train' && kind !== 'heldOut') throw new Error(`MultiTask does not adapt: curve '${kind}' does not apply`);
    const sampler = await ctx.openSampler();
    const base = defaultMultiTaskConfig(spec.task.kind as TaskKind);
    const res = await multiTaskTrain({
      config: {
        ...base,
        envOptions: spec.task.envOptions,
        seed: ctx.seed,
        numTasks: num(cfg, 'numTasks', base.numTasks),
        numHeldOut: num(cfg, 'numHeldOut', base.numHeldOut),
        rolloutsPerTask: num(cfg, 'rolloutsPerTask', base.rolloutsPerTask),
        iterations: num(cfg, 'iterations', base.iterations),
        evalEvery: num(cfg, 'evalEvery', base.evalEvery),
        evalRollouts: num(cfg, 'evalRollouts', base.evalRollouts),
        hidden: (cfg.hidden as number[] | undefined) ?? base.hidden,
      },
      sampler,
      ...(await dims(sampler)),
      onEval: (p) => ctx.log(`multitask itr ${p.iteration}: ${p.envSamples} samples, return ${p.train.postReturn.toFixed(2)}`),
    });
    res.dispose();
    return { xAxis: 'envSamples', points: metaCurve(res.curve, kind) };
  },
};

const multitaskImitation: Algorithm = {
  name: 'multitask-imitation',
  description: 'MultiTask-imitation (multitask.ts): behaviour cloning on all demonstrations, fine-tuned by policy gradient on held-out tasks',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const cfg = spec.config;
    if (cfg.obsMode === 'vision') throw new Error('MultiTask-imitation here runs state policies only (no vision variant yet)');
    if (cfg.expert === 'sac') throw new Error('MultiTask-imitation uses scripted experts here; SAC-expert demonstrations are not wired yet');
    const { multiTaskImitation } = await import('../multitask.js');
    const { rolloutExpert, scriptedExpert } = await import('../expert.js');
    const { toTaskDemos } = await import('../trajectory.js');
    const sampler = await ctx.openSampler();
    const drawn = await seedTasks(spec, ctx.seed, num(cfg, 'numTasks', 10), num(cfg, 'numHeldOut', 5));
    const expertTrajs = await rolloutExpert(sampler, scriptedExpert, drawn.tasks, num(cfg, 'demosPerTask', 5));
    const demos = expertTrajs.map((g) => toTaskDemos(g, 'state', 'expert'));
    const res = await multiTaskImitation({
      sampler,
      ...(await dims(sampler)),
      demos,
      heldOut: drawn.heldOut,
      config: {
        seed: ctx.seed,
        hidden: (cfg.hidden as number[] | undefined) ?? [100, 100],
        bcSteps: num(cfg, 'bcSteps', 500),
        lr: num(cfg, 'lr', 1e-3),
        fineTuneSteps: num(cfg, 'adaptSteps', 3),
        rolloutsPerStep: num(cfg, 'adaptRollouts', 10),
        fineTuneStepSize: num(cfg, 'fineTuneStepSize', 0.1),
      },
    });
    ctx.log(`multitask-imitation: behaviour-cloning loss ${res.bcLoss.toFixed(4)}`);
    return { xAxis: 'adaptSteps', points: res.returns.map((y, k) => ({ x: k, y, success: res.success[k] })), extra: { bcLoss: res.bcLoss } };
  },
};

for (const a of [gmps, maml, multitask, multitaskImitation]) registerAlgorithm(a);
