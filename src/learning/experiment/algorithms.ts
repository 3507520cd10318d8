/**
 * The algorithm registry of the experiment harness and the built-in entries: GMPS (through
 * `metaTrain`), MAML-TRPO, MultiTask, MultiTask-imitation, and the meta-RL baselines PEARL, RL²
 * and MAESN (whose own settings are the keys of their `*_DEFAULTS` found in the run config).
 *
 * Common run config keys (each algorithm reads the ones it needs):
 * - `curve`: 'heldOut' (return after adaptation on held-out tasks vs env samples; the default for
 *   every algorithm, so curves compare like with like), 'train' (same on the training tasks), 'fineTune' (after training: return on held-out tasks after
 *   k adaptation steps, x = k), 'ood' (as 'fineTune' on the Ant's out-of-distribution goals).
 * - `adaptSteps`, `adaptRollouts`: the k-step adaptation protocol of 'fineTune' / 'ood'; GMPS and MAML
 *   `laterStepSize`: the steps after the first are plain policy-gradient steps of this size instead of
 *   repeats of the learned step sizes (which are meta-trained for one step; the adaptation node's launch
 *   default is 0.001); `laterStepScale`: they take this multiple of the learned step sizes.
 * - GMPS only, `checkpoint`: a meta-trained checkpoint directory; the run skips meta-training and
 *   adapts that checkpoint to the seed's held-out tasks (the tasks every other algorithm of the seed
 *   adapts to): the 'fineTune' / 'ood' curve, or for 'heldOut' one point at the checkpoint's
 *   meta-training samples.
 *
 * PEARL, RL² and MAESN count x as the env samples of their own meta-training (evaluation episodes not included); `iterations`, `evalEvery` (default 1),
 * `numTasks`, `numHeldOut`. Their adaptation "steps" for 'fineTune' / 'ood': PEARL, k context
 * episodes before acting on the posterior (x = 0: the context episodes' own return); RL², episode
 * k of one trial; MAESN, k inner steps on the latent distribution.
 */
import path from 'node:path';
import type { Env, TaskKind, TaskParams } from '../../../sim/types.js';
import { fileExists } from '../checkpoint-path.js';
import type { CurvePoint } from '../meta-train.js';
import type { GmpsPolicy, Params } from '../policy/index.js';
import type { ContextualSac } from '../sac.js';
import type { Sampler } from '../sampler.js';
import type { ObsMode } from '../trajectory.js';
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

/** One round of the SAC experts' training: env steps so far, and its exploration episodes' mean return and success. */
interface SacCurvePoint {
  envSteps: number;
  meanReturn: number;
  successRate: number;
}

function num(cfg: Record<string, unknown>, key: string, fallback: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`run config '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function flag(cfg: Record<string, unknown>, key: string, fallback: boolean): boolean {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'boolean') throw new Error(`run config '${key}' must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/** A curve against meta-training env samples ('train', 'heldOut'), rather than against adaptation steps. */
function samplesCurve(kind: CurveKind): kind is 'train' | 'heldOut' {
  return kind === 'train' || kind === 'heldOut';
}

/** The observations a run's policy reads: its `obsMode` config key ('vision' or, by default, the state). */
function runObsMode(cfg: Record<string, unknown>): ObsMode {
  return cfg.obsMode === 'vision' ? 'vision' : 'state';
}

/** The curve a run plots: its `curve` config key, held-out tasks by default. */
export function curveKind(cfg: Record<string, unknown>): CurveKind {
  const c = (cfg.curve ?? 'heldOut') as string;
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

/** Passes an evaluation of a samples curve to the harness as soon as it is measured (`RunContext.point`). */
function recordPoint(ctx: RunContext, kind: CurveKind, p: CurvePoint, xOffset = 0): CurvePointOut | undefined {
  if (!samplesCurve(kind) || (kind !== 'train' && !p.heldOut)) return undefined;
  const [q] = metaCurve([p], kind);
  const out = { ...q, x: q.x + xOffset };
  void ctx.point(out);
  return out;
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
      ...(spec.config.laterStepSize !== undefined ? { laterStepSize: num(spec.config, 'laterStepSize', 0) } : {}),
      ...(spec.config.laterStepScale !== undefined ? { laterStepScale: num(spec.config, 'laterStepScale', 1) } : {}),
    },
    stepSizes,
  );
  return res.returns.map((y, k) => ({ x: k, y, success: res.success[k] }));
}

async function dims(sampler: Sampler): Promise<{ obsDim: number; actDim: number }> {
  return { obsDim: sampler.info.stateDim, actDim: sampler.info.actionDim };
}

/**
 * GMPS's adaptation curve from a meta-trained checkpoint (run config `checkpoint`) instead of a
 * meta-training run: the hours of meta-training are done once (`gmps meta-train`) and every seed
 * adapts the same checkpoint to its own held-out tasks. The checkpoint's training tasks must not be
 * among them. Its env options may differ from the figure's (a dense-reward checkpoint adapting with
 * the sparse reward); they are recorded in `extra`, with its meta-training samples.
 */
async function gmpsFromCheckpoint(spec: RunSpec, ctx: RunContext, kind: CurveKind): Promise<RunCurve> {
  const cfg = spec.config;
  const where = cfg.checkpoint;
  if (typeof where !== 'string' || !where) throw new Error(`run config 'checkpoint' must be a checkpoint directory, got ${JSON.stringify(where)}`);
  if (kind === 'train') throw new Error("run config 'checkpoint' evaluates the seed's held-out tasks; curve 'train' has no meaning for it");
  const { loadCheckpoint, disposeLoaded, evaluateAdaptation, checkSamplerFor } = await import('../meta-train.js');
  const ck = await loadCheckpoint(where);
  try {
    const c = ck.state.config;
    if (c.task !== spec.task.kind) throw new Error(`checkpoint ${where} was meta-trained on '${c.task}' tasks, this figure runs '${spec.task.kind}'`);
    const want = runObsMode(cfg);
    if (c.obsMode !== want) throw new Error(`checkpoint ${where} holds a ${c.obsMode} policy; this figure's GMPS runs a ${want} policy`);
    const sampler = await ctx.openSampler();
    checkSamplerFor(c, sampler);
    const { heldOut } = await seedTasks(spec, ctx.seed, num(cfg, 'numTasks', c.numTasks), num(cfg, 'numHeldOut', c.numHeldOut));
    const tasks = await adaptationTasks(kind, spec, heldOut);
    const key = (t: TaskParams): string => JSON.stringify(t);
    const trained = new Set(ck.state.tasks.map(key));
    const seen = tasks.filter((t) => trained.has(key(t)));
    if (seen.length) throw new Error(`seed ${ctx.seed}: ${seen.length} of its held-out tasks are training tasks of ${where} (${seen.map(key).join(', ')}); use other seeds`);
    const selectedOn = new Set(ck.state.heldOut.map(key));
    let points: CurvePointOut[];
    if (samplesCurve(kind)) {
      // One point: the checkpoint's meta-training samples, and its return after one step (GMPS's
      // evaluation protocol: K pre-update rollouts, the learned α, the adapted mean) on these tasks.
      const { Rng } = await import('../rng.js');
      const { disposeParams } = await import('../policy/index.js');
      const ev = await evaluateAdaptation(sampler, ck.policy, ck.params, ck.stepSizes, tasks, num(cfg, 'rolloutsPerTask', c.rolloutsPerTask), c.obsMode, new Rng(`${ctx.seed}-checkpoint-eval`));
      ev.adapted.forEach(disposeParams);
      points = [{ x: ck.state.envSamples, y: ev.result.postReturn, success: ev.result.postSuccess }];
    } else {
      points = await adaptationCurve(sampler, ck.policy, ck.params, ck.stepSizes, tasks, spec, ctx.seed);
    }
    ctx.log(`gmps from ${where} (iteration ${ck.state.iteration}): ${points.map((p) => p.y.toFixed(1)).join(' → ')}`);
    return {
      xAxis: samplesCurve(kind) ? 'envSamples' : 'adaptSteps',
      points,
      extra: {
        checkpoint: where,
        checkpointIteration: ck.state.iteration,
        checkpointEnvOptions: c.envOptions,
        metaTrainingSamples: ck.state.envSamples,
        expertSamples: ck.state.expertSamples,
        // Held-out tasks of the checkpoint's own run may have chosen it (meta-train --keep-best).
        tasksAlsoHeldOutOfCheckpoint: tasks.filter((t) => selectedOn.has(key(t))).length,
      },
    };
  } finally {
    disposeLoaded(ck);
  }
}

/**
 * Contextual SAC experts for a run with `expert: 'sac'` (their samples count, as in the paper),
 * trained on the dense reward even when the run adapts with the sparse one. Kept in the run's work
 * directory once trained, so a run stopped later continues with the same experts; a long SAC
 * training (Ant: 100 000 steps at `medium`) itself continues from its last round when started again.
 * The caller disposes the agent.
 */
async function sacExperts(
  spec: RunSpec,
  ctx: RunContext,
  sampler: Sampler,
  numTasks: number,
  numHeldOut: number,
): Promise<{ agent: ContextualSac; restored: boolean; extra: { sacFinalReturn?: number; sacCurve?: SacCurvePoint[] } }> {
  const cfg = spec.config;
  const { loadSacExpert, saveSacExpert, trainSac } = await import('../sac.js');
  const { checkSameSettings } = await import('../snapshot.js');
  const { tasks } = await seedTasks(spec, ctx.seed, numTasks, numHeldOut);
  const settings = {
    seed: ctx.seed,
    envOptions: spec.task.envOptions ?? {},
    sacSteps: num(cfg, 'sacSteps', 20000),
    sacWarmup: num(cfg, 'sacWarmup', 1000),
    sacHidden: (cfg.sacHidden as number[] | undefined) ?? [256, 256],
    tasks,
  };
  const expertFile = path.join(ctx.workDir, 'sac-expert.snapshot');
  if (await fileExists(expertFile)) {
    const { agent, extra: kept } = await loadSacExpert(expertFile, sampler.info);
    try {
      const saved = (kept ?? {}) as { settings?: object; finalReturn?: number; curve?: SacCurvePoint[] };
      checkSameSettings(expertFile, 'SAC expert', settings, saved.settings ?? {});
      ctx.log(`${spec.algorithm}: SAC experts from ${expertFile} (${agent.envSteps} env steps, trained by an earlier start)`);
      return { agent, restored: true, extra: { sacFinalReturn: saved.finalReturn, ...(saved.curve ? { sacCurve: saved.curve } : {}) } };
    } catch (err) {
      agent.dispose();
      throw err;
    }
  }
  const sacSampler = await ctx.openSampler({ envOptions: { ...spec.task.envOptions, dense: true } });
  const trainingFile = path.join(ctx.workDir, 'sac-training.snapshot');
  if (await fileExists(trainingFile)) ctx.log(`${spec.algorithm}: SAC training continues from ${trainingFile}`);
  const { agent, history } = await trainSac({
    sampler: sacSampler,
    tasks,
    envSteps: settings.sacSteps,
    config: { seed: ctx.seed, hidden: settings.sacHidden, warmupSteps: settings.sacWarmup },
    onRound: (s) => ctx.log(`sac round ${s.round}: ${s.envSteps} steps, exploration return ${s.meanReturn.toFixed(1)}, success ${s.successRate.toFixed(2)}`),
    snapshot: { file: trainingFile },
  });
  const finalReturn = history.at(-1)?.meanReturn;
  // the experts' training curve (exploration episodes of each round) goes into the run's JSON
  const curve: SacCurvePoint[] = history.map((h) => ({ envSteps: h.envSteps, meanReturn: h.meanReturn, successRate: h.successRate }));
  try {
    await saveSacExpert(expertFile, agent, { settings, finalReturn: finalReturn ?? null, curve });
  } catch (err) {
    agent.dispose();
    throw err;
  }
  return { agent, restored: false, extra: { sacFinalReturn: finalReturn, sacCurve: curve } };
}

const gmps: Algorithm = {
  name: 'gmps',
  description: 'Guided Meta-Policy Search (meta-train.ts): RL inner step, imitation outer step; scripted or contextual-SAC experts',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const cfg = spec.config;
    const kind = curveKind(cfg);
    if (cfg.checkpoint !== undefined) return gmpsFromCheckpoint(spec, ctx, kind);
    const { defaultMetaTrainConfig, metaTrain } = await import('../meta-train.js');
    const sampler = await ctx.openSampler();
    const vision = runObsMode(cfg) === 'vision';
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
      lr: num(cfg, 'lr', base.lr),
      dagger: flag(cfg, 'dagger', base.dagger),
      // The deviations of the shipped door checkpoints (checkpoints/README.md), off unless the run config sets them.
      ...(flag(cfg, 'fixedStd', false) ? { learnStd: false } : {}),
      ...(cfg.isClip !== undefined ? { isClip: num(cfg, 'isClip', 0) } : {}),
      ...(cfg.preImitation !== undefined ? { preImitation: num(cfg, 'preImitation', 0) } : {}),
      policy: {
        ...(vision ? defaultVisionConfig(d.actDim) : defaultMlpConfig(d.obsDim, d.actDim)),
        hidden,
        ...(cfg.initStd !== undefined ? { initStd: num(cfg, 'initStd', 1) } : {}),
        ...(cfg.stepSize !== undefined ? { initStepSize: num(cfg, 'stepSize', 0.5) } : {}),
      },
    };
    let expert: Parameters<typeof metaTrain>[0]['expert'];
    let expertSamples = 0;
    const extra: Record<string, unknown> = {};
    // The SAC experts' variables are named: free them when this run ends, so the next seed can train its own.
    let sacAgent: { dispose(): void } | undefined;
    try {
      let expertRestored = false;
      if (cfg.expert === 'sac') {
        const sac = await sacExperts(spec, ctx, sampler, config.numTasks, config.numHeldOut);
        sacAgent = sac.agent;
        expertSamples = sac.agent.envSteps;
        Object.assign(extra, sac.extra);
        expert = { kind: 'agent', expert: sac.agent };
        expertRestored = sac.restored;
      }
      // A run stopped part-way continues from its meta-training checkpoint (written every iteration).
      // With SAC experts only when they were restored: experts trained afresh are other experts.
      const resume = (cfg.expert !== 'sac' || expertRestored) && (await fileExists(path.join(ctx.workDir, 'model.json')));
      const res = await metaTrain({
        config,
        sampler,
        expert,
        outDir: ctx.workDir,
        ...(resume
          ? {
              resume: true,
              onResume: async (state) => {
                const { checkSameSettings } = await import('../snapshot.js');
                checkSameSettings(ctx.workDir, 'GMPS', config, state.config, ['iterations']);
                ctx.log(`gmps: continuing from the checkpoint after iteration ${state.iteration} (${state.curve.length} evaluations so far)`);
                for (const p of state.curve) recordPoint(ctx, kind, p, expertSamples);
              },
            }
          : {}),
        onEval: (p) => {
          ctx.log(`gmps itr ${p.iteration}: ${p.envSamples + expertSamples} samples, post-update return ${p.train.postReturn.toFixed(2)}`);
          recordPoint(ctx, kind, p, expertSamples);
        },
      });
      try {
        extra.expertReturn = res.state.expertReturn;
        extra.expertSamples = expertSamples + res.state.expertSamples;
        if (samplesCurve(kind)) {
          return { xAxis: 'envSamples', points: metaCurve(res.state.curve, kind).map((p) => ({ ...p, x: p.x + expertSamples })), extra };
        }
        const tasks = await adaptationTasks(kind, spec, res.state.heldOut);
        const points = await adaptationCurve(sampler, res.policy, res.learner.params, res.learner.stepSizes, tasks, spec, ctx.seed);
        return { xAxis: 'adaptSteps', points, extra };
      } finally {
        res.dispose();
      }
    } finally {
      sacAgent?.dispose();
    }
  },
};

const maml: Algorithm = {
  name: 'maml',
  description: 'MAML-TRPO (maml.ts): REINFORCE inner step, TRPO outer step (KL 0.01)',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { defaultMamlConfig, mamlTrain } = await import('../maml.js');
    const cfg = spec.config;
    const vision = runObsMode(cfg) === 'vision';
    if (vision && cfg.policyKind !== undefined && cfg.policyKind !== 'vision') throw new Error(`MAML: obsMode 'vision' runs the conv policy; policyKind '${String(cfg.policyKind)}' is a state policy`);
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
      policyKind: vision ? ('vision' as const) : ((cfg.policyKind as 'mlp' | 'mlp-biasAda' | undefined) ?? base.policyKind),
      hidden: (cfg.hidden as number[] | undefined) ?? base.hidden,
      // The TRPO step in parts of this many tasks (the same step; bounds the wasm heap of long horizons)
      ...(cfg.tasksPerPart !== undefined ? { tasksPerPart: num(cfg, 'tasksPerPart', 1) } : {}),
    };
    // The held-out points so far, kept in the run's snapshot so a continued run hands them on again.
    const points: CurvePointOut[] = [];
    const res = await mamlTrain({
      config,
      sampler,
      ...d,
      snapshot: iterationSnapshot(ctx, 'maml', points),
      onIteration: (l) =>
        ctx.log(
          `maml itr ${l.iteration} done: ${l.envSamples} samples, pre / post-update return ${l.preReturn.toFixed(2)} / ${l.postReturn.toFixed(2)}, ` +
            `TRPO ${l.accepted ? `accepted (KL ${l.kl.toExponential(2)})` : 'rejected'}`,
        ),
      onEval: (p) => {
        ctx.log(`maml itr ${p.iteration}: ${p.envSamples} samples, post-update return ${p.train.postReturn.toFixed(2)}`);
        const q = recordPoint(ctx, kind, p);
        if (q) points.push(q);
      },
    });
    try {
      if (samplesCurve(kind)) return { xAxis: 'envSamples', points: metaCurve(res.curve, kind) };
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
    const kind = curveKind(cfg);
    if (!samplesCurve(kind)) throw new Error(`MultiTask does not adapt: curve '${kind}' does not apply`);
    const sampler = await ctx.openSampler();
    const base = defaultMultiTaskConfig(spec.task.kind as TaskKind);
    const points: CurvePointOut[] = [];
    const res = await multiTaskTrain({
      snapshot: iterationSnapshot(ctx, 'multitask', points),
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
        obsMode: runObsMode(cfg),
      },
      sampler,
      ...(await dims(sampler)),
      onEval: (p) => {
        ctx.log(`multitask itr ${p.iteration}: ${p.envSamples} samples, return ${p.train.postReturn.toFixed(2)}`);
        const q = recordPoint(ctx, kind, p);
        if (q) points.push(q);
      },
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
    const mode = runObsMode(cfg);
    if (cfg.expert !== undefined && cfg.expert !== 'sac' && cfg.expert !== 'scripted') throw new Error(`MultiTask-imitation run config 'expert' must be 'scripted' or 'sac', got ${JSON.stringify(cfg.expert)}`);
    const { multiTaskImitation } = await import('../multitask.js');
    const { rolloutExpert, scriptedExpert } = await import('../expert.js');
    const { stepsOf, toTaskDemos } = await import('../trajectory.js');
    const sampler = await ctx.openSampler();
    const numTasks = num(cfg, 'numTasks', 10);
    const numHeldOut = num(cfg, 'numHeldOut', 5);
    const drawn = await seedTasks(spec, ctx.seed, numTasks, numHeldOut);
    // The demonstrations come from the envs' scripted controllers, or (expert 'sac', as GMPS's on Ant)
    // from contextual SAC experts trained first, whose samples count.
    const sac = cfg.expert === 'sac' ? await sacExperts(spec, ctx, sampler, numTasks, numHeldOut) : undefined;
    const sacSamples = sac?.agent.envSteps ?? 0;
    let res: Awaited<ReturnType<typeof multiTaskImitation>>;
    let demoSamples = 0;
    try {
      const expertTrajs = await rolloutExpert(sampler, sac?.agent ?? scriptedExpert, drawn.tasks, num(cfg, 'demosPerTask', 5));
      demoSamples = stepsOf(expertTrajs);
      // a SAC expert's rollouts execute its (deterministic) actions; the scripted one's also record them as labels
      const demos = expertTrajs.map((g) => toTaskDemos(g, mode, sac ? 'actions' : 'expert'));
      res = await multiTaskImitation({
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
          ...(cfg.initStd !== undefined ? { initStd: num(cfg, 'initStd', 1) } : {}),
          ...(cfg.bcBatch !== undefined ? { bcBatch: num(cfg, 'bcBatch', 0) } : {}),
          obsMode: mode,
        },
      });
    } finally {
      sac?.agent.dispose();
    }
    ctx.log(`multitask-imitation: behaviour-cloning loss ${res.bcLoss.toFixed(4)}`);
    const extra = { bcLoss: res.bcLoss, expertSamples: sacSamples + demoSamples, ...(sac ? sac.extra : {}) };
    return { xAxis: 'adaptSteps', points: res.returns.map((y, k) => ({ x: k, y, success: res.success[k] })), extra };
  },
};

// ---- meta-RL baselines: PEARL, RL², MAESN ---------------------------------------------------

/**
 * The algorithm's own settings from the run config: every key of `defaults` present in `cfg`,
 * type-checked against the default's type. The harness' keys (numTasks, curve, ...) are not in
 * `defaults` and pass by.
 */
function pickConfig<T extends object>(algorithm: string, cfg: Record<string, unknown>, defaults: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(defaults)) {
    if (!(key in cfg)) continue;
    const v = cfg[key];
    const ok = Array.isArray(def)
      ? Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x))
      : typeof def === 'number'
        ? typeof v === 'number' && Number.isFinite(v)
        : typeof v === typeof def;
    if (!ok) throw new Error(`${algorithm} run config '${key}' must be ${Array.isArray(def) ? 'an array of numbers' : `a ${typeof def}`}, got ${JSON.stringify(v)}`);
    out[key] = v;
  }
  return out as Partial<T>;
}

/** Whether iteration `it` (0-based) of `iterations` ends with an evaluation. */
function evalDue(it: number, iterations: number, evalEvery: number): boolean {
  return (it + 1) % evalEvery === 0 || it === iterations - 1;
}

interface BaselineSetup {
  kind: CurveKind;
  iterations: number;
  evalEvery: number;
  tasks: TaskParams[];
  heldOut: TaskParams[];
  /** Tasks the envSamples curve evaluates on: training or held-out tasks. */
  curveTasks: TaskParams[];
  /** The curve is against meta-training env samples (evaluate during training). */
  curveOn: boolean;
}

/** Shared checks and the seed's task draw of the meta-RL baselines (default curve: held-out tasks). */
async function baselineSetup(name: string, spec: RunSpec, seed: number): Promise<BaselineSetup> {
  const cfg = spec.config;
  if (cfg.obsMode === 'vision') throw new Error(`${name} here runs state policies only (no vision variant)`);
  const kind = curveKind(cfg);
  const iterations = num(cfg, 'iterations', 10);
  const evalEvery = num(cfg, 'evalEvery', 1);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`run config 'iterations' must be a positive integer, got ${iterations}`);
  if (!Number.isInteger(evalEvery) || evalEvery < 1) throw new Error(`run config 'evalEvery' must be a positive integer, got ${evalEvery}`);
  const numHeldOut = num(cfg, 'numHeldOut', 10);
  if (kind !== 'train' && kind !== 'ood' && numHeldOut < 1) throw new Error(`curve '${kind}' evaluates held-out tasks: set numHeldOut >= 1`);
  const { tasks, heldOut } = await seedTasks(spec, seed, num(cfg, 'numTasks', 20), numHeldOut);
  return { kind, iterations, evalEvery, tasks, heldOut, curveTasks: kind === 'train' ? tasks : heldOut, curveOn: samplesCurve(kind) };
}

/**
 * The per-iteration snapshot of a long baseline run, in its work directory: the run continues from
 * its last completed iteration when started again, and the curve points it had are handed to the
 * harness again (so the partial curve file holds the whole curve).
 */
function iterationSnapshot(ctx: RunContext, name: string, points: CurvePointOut[]): { file: string; extra: () => unknown; onResume: (extra: unknown, iteration: number) => Promise<void> } {
  return {
    file: path.join(ctx.workDir, `${name}.snapshot`),
    extra: () => ({ points }),
    onResume: async (extra, iteration) => {
      const saved = (extra as { points?: CurvePointOut[] } | null)?.points ?? [];
      ctx.log(`${name}: continuing from the snapshot after iteration ${iteration} (${saved.length} curve points so far)`);
      for (const p of saved) {
        points.push(p);
        await ctx.point(p);
      }
    },
  };
}

/** Per-task replay capacity for a PEARL run: room for every episode a task can expect, at most 1e6. */
function pearlReplayCapacity(c: { initialEpisodesPerTask: number; tasksPerIteration: number; priorEpisodes: number; posteriorEpisodes: number }, horizon: number, iterations: number, numTasks: number): number {
  const visits = Math.ceil((2 * iterations * c.tasksPerIteration) / numTasks) + 1;
  return Math.min(1_000_000, horizon * (c.initialEpisodesPerTask + visits * (c.priorEpisodes + c.posteriorEpisodes)));
}

const pearl: Algorithm = {
  name: 'pearl',
  description: 'PEARL (pearl.ts): SAC with a probabilistic context encoder; y = return acting on the posterior mean after context episodes',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { PEARL_DEFAULTS, trainPearl } = await import('../pearl.js');
    const cfg = spec.config;
    const setup = await baselineSetup('PEARL', spec, ctx.seed);
    const sampler = await ctx.openSampler();
    const own = { ...PEARL_DEFAULTS, ...pickConfig('PEARL', cfg, PEARL_DEFAULTS), seed: ctx.seed };
    const config = { ...own, replayCapacity: 'replayCapacity' in cfg ? own.replayCapacity : pearlReplayCapacity(own, sampler.info.horizon, setup.iterations, setup.tasks.length) };
    const contextEpisodes = num(cfg, 'contextEpisodes', 1);
    const points: CurvePointOut[] = [];
    const { agent } = await trainPearl({
      sampler,
      tasks: setup.tasks,
      iterations: setup.iterations,
      config,
      snapshot: iterationSnapshot(ctx, 'pearl', points),
      onIteration: async (s, a) => {
        let line = `pearl itr ${s.iteration}: ${s.envSteps} samples, episode return ${s.meanReturn.toFixed(2)}`;
        if (setup.curveOn && evalDue(s.iteration, setup.iterations, setup.evalEvery)) {
          const ev = await a.evaluate(sampler, setup.curveTasks, contextEpisodes);
          points.push({ x: a.envSteps, y: ev.posteriorReturn, success: ev.posteriorSuccessRate });
          await ctx.point(points[points.length - 1]);
          line += `, posterior return ${ev.posteriorReturn.toFixed(2)}`;
        }
        ctx.log(line);
      },
    });
    try {
      const extra = { gradSteps: agent.gradSteps, envSteps: agent.envSteps, replayCapacity: config.replayCapacity };
      if (setup.curveOn) return { xAxis: 'envSamples', points, extra };
      // Adaptation for PEARL is inference: x = k context episodes (z ~ prior) before acting on the posterior.
      const tasks = await adaptationTasks(setup.kind, spec, setup.heldOut);
      const steps = num(cfg, 'adaptSteps', 3);
      const out: CurvePointOut[] = [];
      for (let k = 1; k <= steps; k++) {
        const ev = await agent.evaluate(sampler, tasks, k);
        if (k === 1) out.push({ x: 0, y: ev.priorReturn });
        out.push({ x: k, y: ev.posteriorReturn, success: ev.posteriorSuccessRate });
      }
      return { xAxis: 'adaptSteps', points: out, extra };
    } finally {
      agent.dispose();
    }
  },
};

const maesn: Algorithm = {
  name: 'maesn',
  description: 'MAESN (maesn.ts): latent-conditioned policy, per-task latent distributions adapted by one policy-gradient step',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { MAESN_DEFAULTS, trainMaesn } = await import('../maesn.js');
    const cfg = spec.config;
    const setup = await baselineSetup('MAESN', spec, ctx.seed);
    const sampler = await ctx.openSampler();
    const config = { ...pickConfig('MAESN', cfg, MAESN_DEFAULTS), seed: ctx.seed };
    const points: CurvePointOut[] = [];
    const { agent } = await trainMaesn({
      sampler,
      tasks: setup.tasks,
      iterations: setup.iterations,
      config,
      onIteration: async (s, a) => {
        let line = `maesn itr ${s.iteration}: ${s.envSteps} samples, post-update return ${s.postReturn.toFixed(2)}`;
        if (setup.curveOn && evalDue(s.iteration, setup.iterations, setup.evalEvery)) {
          // Meta-test protocol: explore with z ~ N(0, I), one inner step on the latent, act with it.
          const ev = await a.adapt(sampler, setup.curveTasks, 1);
          points.push({ x: a.envSteps, y: ev.returnsByStep[1], success: ev.successByStep[1] });
          await ctx.point(points[points.length - 1]);
          line += `, adapted return ${ev.returnsByStep[1].toFixed(2)}`;
        }
        ctx.log(line);
      },
    });
    try {
      if (setup.curveOn) return { xAxis: 'envSamples', points, extra: { envSteps: agent.envSteps } };
      const tasks = await adaptationTasks(setup.kind, spec, setup.heldOut);
      const ev = await agent.adapt(sampler, tasks, num(cfg, 'adaptSteps', 3));
      return { xAxis: 'adaptSteps', points: ev.returnsByStep.map((y, k) => ({ x: k, y, success: ev.successByStep[k] })), extra: { envSteps: agent.envSteps } };
    } finally {
      agent.dispose();
    }
  },
};

const rl2: Algorithm = {
  name: 'rl2',
  description: 'RL² (rl2.ts): GRU policy carried across the episodes of a trial, TRPO (or PPO); y = return of the trial\'s last episode',
  async run(spec: RunSpec, ctx: RunContext): Promise<RunCurve> {
    const { RL2_DEFAULTS, evaluateRl2, trainRl2 } = await import('../rl2.js');
    const { envSpecOf } = await import('../meta-train.js');
    const { createEnvFromSpec } = await import('../worker/spec.js');
    const cfg = spec.config;
    const setup = await baselineSetup('RL²', spec, ctx.seed);
    const config = { ...pickConfig('RL²', cfg, RL2_DEFAULTS), seed: ctx.seed };
    const trials = config.trialsPerIteration ?? RL2_DEFAULTS.trialsPerIteration;
    const nEnvs = num(cfg, 'envs', Math.min(trials, 8));
    if (!Number.isInteger(nEnvs) || nEnvs < 1) throw new Error(`run config 'envs' must be a positive integer, got ${nEnvs}`);
    // RL² steps Env instances itself (it feeds back the previous reward), not through a sampler.
    const envSpec = envSpecOf({ task: spec.task.kind as TaskKind, envOptions: spec.task.envOptions, seed: ctx.seed });
    const envs: Env[] = [];
    try {
      for (let i = 0; i < nEnvs; i++) envs.push(await createEnvFromSpec(envSpec, i));
      const deterministic = flag(cfg, 'evalDeterministic', false);
      const points: CurvePointOut[] = [];
        const { agent } = await trainRl2({
        envs,
        tasks: setup.tasks,
        iterations: setup.iterations,
        config,
        onIteration: async (s, a) => {
          let line = `rl2 itr ${s.iteration}: ${s.envSteps} samples, episode returns ${s.returnsByEpisode.map((r) => r.toFixed(2)).join(' / ')}`;
          if (setup.curveOn && evalDue(s.iteration, setup.iterations, setup.evalEvery)) {
            const ev = await evaluateRl2(a, envs, setup.curveTasks, deterministic);
            const last = ev.returnsByEpisode.length - 1;
            points.push({ x: a.envSteps, y: ev.returnsByEpisode[last], success: ev.successByEpisode[last] });
            await ctx.point(points[points.length - 1]);
            line += `, last-episode return ${ev.returnsByEpisode[last].toFixed(2)}`;
          }
          ctx.log(line);
        },
      });
      try {
        if (setup.curveOn) return { xAxis: 'envSamples', points, extra: { envSteps: agent.envSteps } };
        // Adaptation for RL² happens within a trial: x = episode index of the trial.
        const tasks = await adaptationTasks(setup.kind, spec, setup.heldOut);
        const ev = await evaluateRl2(agent, envs, tasks, deterministic);
        return { xAxis: 'adaptSteps', points: ev.returnsByEpisode.map((y, k) => ({ x: k, y, success: ev.successByEpisode[k] })), extra: { envSteps: agent.envSteps } };
      } finally {
        agent.dispose();
      }
    } finally {
      for (const e of envs) e.close();
    }
  },
};

for (const a of [gmps, maml, multitask, multitaskImitation, pearl, rl2, maesn]) registerAlgorithm(a);
