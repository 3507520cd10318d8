/**
 * The two non-meta baselines of the GMPS paper (§5.2, §5.3):
 *
 * - MultiTask: one policy trained with TRPO on the samples of all training tasks at once, never
 *   adapted. Its curve is the return of the policy itself (std ×1e-5, like GMPS' adapted policies)
 *   on the training and held-out tasks, against every environment sample used.
 * - MultiTask-imitation: one policy behaviour-cloned on every task's demonstrations (Adam on the
 *   mean-squared error of the mean, GMPS' outer loss without the inner step), then fine-tuned on
 *   each held-out task by vanilla policy-gradient steps (the meta-test protocol of `adapt.ts`
 *   with one fixed step size instead of meta-learned ones).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TaskKind, TaskParams } from '../../sim/types.js';
import { toAdaptBatch } from './advantages.js';
import { Adam } from './adam.js';
import { AdaptationStepSizes, adaptStep } from './gmps.js';
import {
  checkSamplerFor,
  drawTasks,
  envSpecOf,
  meanReturn,
  policyAct,
  POST_UPDATE_STD_SCALE,
  successRate,
  type CurvePoint,
  type EvalResult,
  type MetaTrainConfig,
} from './meta-train.js';
import { createPolicy, defaultVisionConfig, disposeParams, obsModeOf, type GmpsPolicy, type Params } from './policy/index.js';
import { initStepSizes } from './policy/mlp.js';
import { fileExists } from './checkpoint-path.js';
import { Rng } from './rng.js';
import { checkSameSettings, readSnapshot, restoreTensors, type SnapshotOption, tensorArrays, writeSnapshot } from './snapshot.js';
import type { Sampler } from './sampler.js';
import { stepsOf, type ObsMode } from './trajectory.js';
import { gaussianKl, trpoStep, type TrpoOptions } from './trpo.js';
import type { TaskDemos } from './types.js';

export interface MultiTaskConfig {
  task: TaskKind;
  envOptions: Record<string, unknown>;
  seed: number;
  numTasks: number;
  numHeldOut: number;
  /** Rollouts per training task and iteration (batch = numTasks · K · horizon). */
  rolloutsPerTask: number;
  iterations: number;
  hidden: number[];
  trpo: Partial<TrpoOptions>;
  evalEvery: number;
  /** Rollouts per task in evaluations. */
  evalRollouts: number;
  /** 'vision': the GMPS conv policy on camera frames + hand xyz (the env must render them); default 'state'. */
  obsMode?: ObsMode;
  /**
   * Samples per part of the TRPO step's graphs (`TrpoProblem.parts`; the step does not change): all of
   * them in one graph for state policies (default), 2000 camera frames at a time for the conv policy
   * (default), whose whole batch does not fit the wasm heap at 20 tasks × 20 rollouts.
   */
  rowsPerPart?: number;
}

export function defaultMultiTaskConfig(task: TaskKind): MultiTaskConfig {
  return {
    task,
    envOptions: {},
    seed: 0,
    numTasks: 10,
    numHeldOut: 5,
    rolloutsPerTask: 20,
    iterations: 100,
    hidden: [100, 100],
    trpo: {},
    evalEvery: 5,
    evalRollouts: 5,
  };
}

const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * The baselines' policy: a (hidden) MLP on the state, or for `obsMode: 'vision'` the GMPS conv
 * policy (same trunk and FC sizes); no bias transformation either way.
 */
function plainPolicy(obsDim: number, actDim: number, hidden: number[], initStd?: number, obsMode: ObsMode = 'state'): GmpsPolicy {
  const std = initStd !== undefined ? { initStd } : {};
  if (obsMode === 'vision') return createPolicy({ ...defaultVisionConfig(actDim), hidden, latentDim: 0, zInit: 0, initStepSize: 0.1, ...std });
  return createPolicy({ kind: 'mlp', obsDim, actDim, hidden, latentDim: 0, zInit: 0, initStepSize: 0.1, ...std });
}

async function fixedTasks(c: { task: TaskKind; envOptions: Record<string, unknown>; seed: number; numTasks: number; numHeldOut: number }) {
  const { createEnvFromSpec } = await import('./worker/spec.js');
  const probe = await createEnvFromSpec(envSpecOf(c), 0);
  try {
    return drawTasks({ seed: c.seed, numTasks: c.numTasks, numHeldOut: c.numHeldOut } as MetaTrainConfig, (r) => probe.sampleTask(r));
  } finally {
    probe.close();
  }
}

/** Return of a non-adapting policy (std ×1e-5) on `tasks`: pre = post. */
async function evaluatePlain(sampler: Sampler, policy: GmpsPolicy, params: Params, tasks: readonly TaskParams[], K: number, rng: Rng) {
  const trajs = await sampler.sample({ tasks, rolloutsPerTask: K, act: policyAct(policy, () => params, K, obsModeOf(policy), rng, POST_UPDATE_STD_SCALE) });
  const ret = avg(trajs.map(meanReturn));
  const succ = avg(trajs.map(successRate));
  const result: EvalResult = { preReturn: ret, postReturn: ret, preSuccess: succ, postSuccess: succ };
  return { result, samples: stepsOf(trajs) };
}

export interface MultiTaskResult {
  curve: CurvePoint[];
  envSamples: number;
  policy: GmpsPolicy;
  params: Params;
  dispose(): void;
}

/** MultiTask: TRPO on all training tasks, no adaptation. */
interface MultiTaskSnapshotMeta {
  config: MultiTaskConfig;
  /** Iterations completed. */
  iterations: number;
  envSamples: number;
  curve: CurvePoint[];
  extra: unknown;
}

export async function multiTaskTrain(opts: {
  config: MultiTaskConfig;
  sampler: Sampler;
  obsDim: number;
  actDim: number;
  onEval?: (p: CurvePoint) => void;
  /** Per-iteration snapshot (θ, sample count, curve); the run continues from it when started again (each iteration's randomness comes from the seed and its index). */
  snapshot?: SnapshotOption;
}): Promise<MultiTaskResult> {
  const c = opts.config;
  if (!Number.isInteger(c.iterations) || c.iterations < 1) throw new Error(`MultiTask: iterations must be a positive integer, got ${c.iterations}`);
  if (!Number.isInteger(c.rolloutsPerTask) || c.rolloutsPerTask < 2) throw new Error(`MultiTask: rolloutsPerTask must be an integer >= 2, got ${c.rolloutsPerTask}`);
  if (c.rowsPerPart !== undefined && !(Number.isInteger(c.rowsPerPart) && c.rowsPerPart >= 1)) throw new Error(`MultiTask: rowsPerPart must be an integer >= 1, got ${c.rowsPerPart}`);
  const { sampler } = opts;
  const policy = plainPolicy(opts.obsDim, opts.actDim, c.hidden, undefined, c.obsMode);
  const mode = obsModeOf(policy);
  checkSamplerFor({ obsMode: mode, policy: policy.config }, sampler);
  const init = policy.init(c.seed);
  disposeParams(init.stepSizes);
  let params = init.params;
  const names = policy.shapes.map(([n]) => n);
  const { tasks, heldOut } = await fixedTasks(c);
  const K = c.rolloutsPerTask;
  let envSamples = 0;
  const curve: CurvePoint[] = [];
  const evaluate = async (itr: number) => {
    const rng = new Rng(`${c.seed}-multitask-eval-${itr}`);
    const tr = await evaluatePlain(sampler, policy, params, tasks, c.evalRollouts, rng);
    envSamples += tr.samples;
    const point: CurvePoint = { iteration: itr, envSamples, train: tr.result };
    if (heldOut.length) {
      const ho = await evaluatePlain(sampler, policy, params, heldOut, c.evalRollouts, rng);
      envSamples += ho.samples;
      point.heldOut = ho.result;
      point.envSamples = envSamples;
    }
    curve.push(point);
    opts.onEval?.(point);
  };
  let start = 0;
  const snap = opts.snapshot;
  if (snap && (await fileExists(snap.file))) {
    try {
      const saved = await readSnapshot<MultiTaskSnapshotMeta>(snap.file, 'multitask');
      checkSameSettings(snap.file, 'MultiTask', c, saved.meta.config, ['iterations', 'evalEvery']);
      const restored = restoreTensors(saved, 'theta', params);
      disposeParams(params);
      params = restored;
      envSamples = saved.meta.envSamples;
      curve.push(...saved.meta.curve);
      start = saved.meta.iterations;
      await snap.onResume?.(saved.meta.extra, start);
    } catch (err) {
      disposeParams(params);
      throw err;
    }
  }
  for (let itr = start; itr < c.iterations; itr++) {
    if (c.evalEvery > 0 && itr % c.evalEvery === 0) await evaluate(itr);
    const rng = new Rng(`${c.seed}-multitask-itr-${itr}`);
    const groups = await sampler.sample({ tasks, rolloutsPerTask: K, act: policyAct(policy, () => params, K, mode, rng) });
    envSamples += stepsOf(groups);
    const batches = groups.map((g) => toAdaptBatch(g, mode));
    const n = batches.reduce((s, b) => s + b.advantages.length, 0);
    const cat = (pick: (b: (typeof batches)[number]) => Float32Array) => {
      const out = new Float32Array(batches.reduce((s, b) => s + pick(b).length, 0));
      let o = 0;
      for (const b of batches) {
        out.set(pick(b), o);
        o += pick(b).length;
      }
      return out;
    };
    const { obsDim, actDim } = policy.config;
    const allObs = cat((b) => b.obs);
    const allActions = cat((b) => b.actions);
    const allAdv = cat((b) => b.advantages);
    const rowsPerPart = c.rowsPerPart ?? (mode === 'vision' ? 2000 : n);
    const parts = Math.ceil(n / rowsPerPart);
    const rowsOfPart = (p: number): [number, number] => [p * rowsPerPart, Math.min(n, (p + 1) * rowsPerPart)];
    // π_old's mean and log-density as constants, computed here: a part made inside the step's gradient tape
    // would otherwise differentiate them too.
    const allOldMean = new Float32Array(n * actDim);
    const allOldLogp = new Float32Array(n);
    for (let p = 0; p < parts; p++) {
      const [from, to] = rowsOfPart(p);
      tf.tidy(() => {
        const obs = tf.tensor2d(allObs.subarray(from * obsDim, to * obsDim), [to - from, obsDim]);
        const actions = tf.tensor2d(allActions.subarray(from * actDim, to * actDim), [to - from, actDim]);
        allOldMean.set(policy.mean(params, obs).dataSync(), from * actDim);
        allOldLogp.set(policy.logProb(params, obs, actions).dataSync(), from);
      });
    }
    // One part's tensors at a time (made when asked for, kept out of the step's tf.tidy, freed when another part is).
    let current: { part: number; t: { obs: tf.Tensor2D; actions: tf.Tensor2D; adv: tf.Tensor1D; oldMean: tf.Tensor; oldLogp: tf.Tensor } } | undefined;
    const freePart = () => current && Object.values(current.t).forEach((t) => t.dispose());
    const partOf = (p: number) => {
      if (current?.part === p) return current.t;
      freePart();
      const [from, to] = rowsOfPart(p);
      const t = {
        obs: tf.keep(tf.tensor2d(allObs.subarray(from * obsDim, to * obsDim), [to - from, obsDim])),
        actions: tf.keep(tf.tensor2d(allActions.subarray(from * actDim, to * actDim), [to - from, actDim])),
        adv: tf.keep(tf.tensor1d(allAdv.subarray(from, to))),
        oldMean: tf.keep(tf.tensor2d(allOldMean.subarray(from * actDim, to * actDim), [to - from, actDim])),
        oldLogp: tf.keep(tf.tensor1d(allOldLogp.subarray(from, to))),
      };
      current = { part: p, t };
      return t;
    };
    const share = (p: number) => {
      const [from, to] = rowsOfPart(p);
      return (to - from) / n;
    };
    const oldLogStd = tf.tidy(() => policy.logStd(params));
    const asParams = (xs: tf.Tensor[]): Params => Object.fromEntries(names.map((k, i) => [k, xs[i]]));
    let res;
    try {
      res = trpoStep(
        {
          params: names.map((k) => params[k]),
          parts,
          loss: (xs, p) => {
            const t = partOf(p);
            return tf.mul(tf.neg(tf.mean(tf.mul(tf.exp(tf.sub(policy.logProb(asParams(xs), t.obs, t.actions), t.oldLogp)), t.adv))), share(p)) as tf.Scalar;
          },
          kl: (xs, p) => {
            const t = partOf(p);
            const q = asParams(xs);
            return tf.mul(tf.mean(gaussianKl(t.oldMean, oldLogStd, policy.mean(q, t.obs), policy.logStd(q))), share(p)) as tf.Scalar;
          },
        },
        c.trpo,
      );
    } finally {
      freePart();
      oldLogStd.dispose();
    }
    disposeParams(params);
    params = asParams(res.params);
    if (snap) {
      const meta: MultiTaskSnapshotMeta = { config: c, iterations: itr + 1, envSamples, curve, extra: snap.extra?.() ?? null };
      await writeSnapshot(snap.file, { kind: 'multitask', meta, arrays: tensorArrays('theta', params) });
    }
  }
  await evaluate(c.iterations);
  return { curve, envSamples, policy, params, dispose: () => disposeParams(params) };
}

export interface ImitationConfig {
  seed: number;
  hidden: number[];
  /** Full-batch Adam steps of behaviour cloning. */
  bcSteps: number;
  lr: number;
  /** Fine-tuning: policy-gradient steps per held-out task, K rollouts each, step size α. */
  fineTuneSteps: number;
  rolloutsPerStep: number;
  fineTuneStepSize: number;
  /**
   * Exploration σ of the fine-tuning rollouts (the cloned policy's state-independent std; behaviour
   * cloning fits the mean only). Default the MLP policy's initial std. Give it the σ the compared
   * meta-policy explores with, so the two fine-tune from rollouts equally noisy.
   */
  initStd?: number;
  /** 'vision': clone and fine-tune the GMPS conv policy (demonstrations must carry camera frames); default 'state'. */
  obsMode?: ObsMode;
  /** Demonstration rows per Adam step of behaviour cloning (default: all of them, full batch). */
  bcBatch?: number;
}

export interface FineTuneCurve {
  /** Mean over tasks of the return after k fine-tuning steps, k = 0..n. */
  returns: number[];
  success: number[];
  /** Environment samples spent on fine-tuning (all tasks). */
  envSamples: number;
}

/** Behaviour cloning of one plain policy on every task's demonstrations. Returns θ and the final loss (of the last minibatch with `bcBatch`). */
export function behaviourClone(policy: GmpsPolicy, demos: readonly TaskDemos[], c: Pick<ImitationConfig, 'seed' | 'bcSteps' | 'lr' | 'bcBatch'>): { params: Params; loss: number } {
  const { obsDim, actDim } = policy.config;
  const rows = demos.reduce((s, d) => s + d.actions.length / actDim, 0);
  if (rows === 0) throw new Error('behaviour cloning needs at least one demonstration step');
  for (const [i, d] of demos.entries()) {
    if (d.obs.length !== (d.actions.length / actDim) * obsDim) {
      throw new Error(
        `behaviour cloning: demonstration ${i} has ${d.obs.length} observation values for ${d.actions.length / actDim} steps; ` +
          `the ${policy.config.kind} policy reads ${obsDim} per step (record the demonstrations in the policy's observation mode)`,
      );
    }
  }
  const batch = c.bcBatch ?? rows;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`behaviour cloning: bcBatch must be a positive integer, got ${c.bcBatch}`);
  const obsAll = new Float32Array(rows * obsDim);
  const actAll = new Float32Array(rows * actDim);
  let o = 0;
  for (const d of demos) {
    obsAll.set(d.obs, o * obsDim);
    actAll.set(d.actions, o * actDim);
    o += d.actions.length / actDim;
  }
  const init = policy.init(c.seed);
  disposeParams(init.stepSizes);
  const vars: Record<string, tf.Variable> = {};
  for (const [k, t] of Object.entries(init.params)) vars[k] = tf.variable(t);
  disposeParams(init.params);
  const adam = new Adam({ lr: c.lr });
  const obsFull = tf.tensor2d(obsAll, [rows, obsDim]);
  const actFull = tf.tensor2d(actAll, [rows, actDim]);
  const rng = new Rng(`${c.seed}-behaviour-clone`);
  const idx = new Int32Array(Math.min(batch, rows));
  let loss = Number.NaN;
  for (let s = 0; s < c.bcSteps; s++) {
    loss = tf.tidy(() => {
      let obs = obsFull;
      let act = actFull;
      if (batch < rows) {
        for (let j = 0; j < idx.length; j++) idx[j] = Math.floor(rng.next() * rows);
        const ix = tf.tensor1d(idx, 'int32');
        obs = tf.gather(obsFull, ix);
        act = tf.gather(actFull, ix);
      }
      // The log-std does not enter the mean-squared error; it keeps its initial value.
      const names = Object.keys(vars).filter((k) => k !== 'logStd');
      const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
        const p: Params = { ...vars, ...Object.fromEntries(names.map((k, i) => [k, xs[i]])) };
        return tf.mean(tf.squaredDifference(policy.mean(p, obs), act)) as tf.Scalar;
      })(names.map((k) => vars[k]));
      adam.apply(Object.fromEntries(names.map((k) => [k, vars[k]])), Object.fromEntries(names.map((k, i) => [k, grads[i]])));
      return value.dataSync()[0];
    });
  }
  obsFull.dispose();
  actFull.dispose();
  adam.dispose();
  const params: Params = {};
  for (const [k, v] of Object.entries(vars)) {
    params[k] = v.clone();
    v.dispose();
  }
  return { params, loss };
}

/**
 * Fine-tunes `params` on each task separately with vanilla PG steps (step size α on every parameter,
 * or the given per-element `alphas`). A meta-policy's learned α is meta-trained for the first step
 * only; the steps after the first can instead take a fixed size (`laterStepSize`) or a multiple of
 * the first step's sizes (`laterStepScale`, as `gmps adapt --later-step-scale`), not both.
 */
export async function fineTune(
  sampler: Sampler,
  policy: GmpsPolicy,
  params: Params,
  tasks: readonly TaskParams[],
  c: Pick<ImitationConfig, 'seed' | 'fineTuneSteps' | 'rolloutsPerStep' | 'fineTuneStepSize'> & { laterStepSize?: number; laterStepScale?: number },
  alphas?: Params,
): Promise<FineTuneCurve> {
  const K = c.rolloutsPerStep;
  const mode = obsModeOf(policy);
  checkSamplerFor({ obsMode: mode, policy: policy.config }, sampler);
  const fill = (v: number): Params => initStepSizes(policy.shapes, policy.adaptable, v);
  const stepSizes: Params = alphas ?? fill(c.fineTuneStepSize);
  let schedule: AdaptationStepSizes;
  try {
    schedule = AdaptationStepSizes.forPolicy(policy, stepSizes, c);
  } catch (err) {
    if (!alphas) disposeParams(stepSizes);
    throw err;
  }
  const returns = new Array<number>(c.fineTuneSteps + 1).fill(0);
  const success = new Array<number>(c.fineTuneSteps + 1).fill(0);
  let envSamples = 0;
  try {
    for (const [i, task] of tasks.entries()) {
      const rng = new Rng(`${c.seed}-finetune-${i}`);
      let p: Params = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.clone()]));
      try {
        for (let k = 0; k <= c.fineTuneSteps; k++) {
          const [trajs] = await sampler.sample({ tasks: [task], rolloutsPerTask: K, act: policyAct(policy, () => p, K, mode, rng) });
          envSamples += stepsOf([trajs]);
          returns[k] += meanReturn(trajs) / tasks.length;
          success[k] += successRate(trajs) / tasks.length;
          if (k < c.fineTuneSteps) {
            const next = adaptStep(policy, p, schedule.at(k), toAdaptBatch(trajs, mode));
            disposeParams(p);
            p = next;
          }
        }
      } finally {
        disposeParams(p);
      }
    }
  } finally {
    schedule.dispose();
    if (!alphas) disposeParams(stepSizes);
  }
  return { returns, success, envSamples };
}

/** MultiTask-imitation: behaviour cloning on all demonstrations, then fine-tuning on each held-out task. */
export async function multiTaskImitation(opts: {
  sampler: Sampler;
  obsDim: number;
  actDim: number;
  demos: readonly TaskDemos[];
  heldOut: readonly TaskParams[];
  config: ImitationConfig;
}): Promise<FineTuneCurve & { bcLoss: number }> {
  const policy = plainPolicy(opts.obsDim, opts.actDim, opts.config.hidden, opts.config.initStd, opts.config.obsMode);
  const { params, loss } = behaviourClone(policy, opts.demos, opts.config);
  try {
    const curve = await fineTune(opts.sampler, policy, params, opts.heldOut, opts.config);
    return { ...curve, bcLoss: loss };
  } finally {
    disposeParams(params);
  }
}
