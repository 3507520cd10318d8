/**
 * MAML for RL (Finn et al. 2017), the policy-gradient baseline of the GMPS paper: REINFORCE inner
 * step, TRPO outer step (KL 0.01), with the same policy sizes, advantage pipeline and sample
 * accounting as GMPS (`meta-train.ts`).
 *
 *   for itr:
 *     tasks_i ← meta-batch of tasks (fresh draws from the task distribution each iteration)
 *     D_i     ← K rollouts of π_θ per task (std ×1)                         [counted]
 *     φ_i     = θ − α ⊙ ∇_θ(−mean(log π_θ · Â))   (Â: γ 0.99, λ 1, linear baseline, normalised per task)
 *     D'_i    ← K rollouts of π_φi per task (std ×1)                        [counted]
 *     θ (, α) ← TRPO on L(θ, α) = −mean_i mean_t [π_φi(θ,α)(a'|s') / π_φi,old(a'|s') · Â'],
 *               KL(π_φi,old ‖ π_φi(θ,α)) ≤ δ on the states of D'_i; second order through φ_i
 *     every `evalEvery` itrs: GMPS' evaluation (one inner step, adapted policy at std ×1e-5) on the
 *               fixed training tasks of the seed and the held-out tasks          [counted]
 *
 * Variants (paper appendix C / D): plain MAML (scalar α 0.1, not learned, no bias transform),
 * learned per-element α (`stepSize: 'learned'`), bias transformation (`latentDim` > 0, adapted
 * with everything else) and bias-only adaptation (`policyKind: 'mlp-biasAda'`).
 *
 * `policyKind: 'vision'` is the MAML-RL baseline of the paper's vision pushing (Fig. 5): the GMPS
 * conv policy on camera frames + hand xyz, its FC block (and z) adapting in the inner step as in
 * GMPS, the whole network (convs included) moved by the TRPO outer step.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TaskKind, TaskParams } from '../../sim/types.js';
import { toAdaptBatch } from './advantages.js';
import { adaptStep } from './gmps.js';
import { checkSamplerFor, drawTasks, envSpecOf, evaluateAdaptation, meanReturn, policyAct, type CurvePoint, type MetaTrainConfig } from './meta-train.js';
import { clampedLogStd, gaussianLogProb, headMeanPerTask, innerGradients, MIN_LOG_STD } from './policy/head.js';
import { createPolicy, defaultVisionConfig, disposeParams, obsModeOf, type GmpsPolicy, type Params } from './policy/index.js';
import { fileExists } from './checkpoint-path.js';
import { Rng, type RngState } from './rng.js';
import { checkSameSettings, readSnapshot, restoreTensors, type SnapshotOption, tensorArrays, writeSnapshot } from './snapshot.js';
import type { Sampler } from './sampler.js';
import { rowsOf, stackField, stepsOf, type ObsMode, type Trajectory } from './trajectory.js';
import { gaussianKl, trpoStep, type TrpoOptions } from './trpo.js';

export interface MamlConfig {
  task: TaskKind;
  envOptions: Record<string, unknown>;
  seed: number;
  /** Tasks per meta-batch (drawn afresh every iteration). */
  metaBatchSize: number;
  /** Fixed training tasks evaluated every `evalEvery` iterations (the same draw as GMPS' training tasks). */
  numTasks: number;
  numHeldOut: number;
  /** K: rollouts per task before and after adaptation. */
  rolloutsPerTask: number;
  iterations: number;
  /** 'scalar': one fixed α (plain MAML); 'learned': per-element α trained by the outer step. */
  stepSize: 'scalar' | 'learned';
  /** Initial (or fixed) α. */
  innerStepSize: number;
  /** 'vision': the GMPS conv policy (the env must render camera frames). */
  policyKind: 'mlp' | 'mlp-biasAda' | 'vision';
  hidden: number[];
  /** Bias-transformation size (0: none). */
  latentDim: number;
  trpo: Partial<TrpoOptions>;
  /** 0: only a final evaluation. */
  evalEvery: number;
  /**
   * Tasks per part of the TRPO step's graphs (the step itself does not change): the meta-batch in one
   * graph (default for state policies) or, for the conv policy, one task at a time (default), since its
   * camera frames go through a second-order graph of the convolutions: at 20 rollouts of 50 steps, one task
   * (1000 pre- and 1000 post-update frames) peaks near 3 GB of the wasm heap's 4 GB, two overflow it.
   */
  tasksPerPart?: number;
}

export function defaultMamlConfig(task: TaskKind): MamlConfig {
  return {
    task,
    envOptions: {},
    seed: 0,
    metaBatchSize: 20,
    numTasks: 10,
    numHeldOut: 5,
    rolloutsPerTask: 20,
    iterations: 100,
    stepSize: 'scalar',
    innerStepSize: 0.1,
    policyKind: 'mlp',
    hidden: [100, 100],
    latentDim: 0,
    trpo: {},
    evalEvery: 5,
  };
}

export interface MamlIterationLog {
  iteration: number;
  envSamples: number;
  preReturn: number;
  postReturn: number;
  surrogateBefore: number;
  surrogateAfter: number;
  kl: number;
  accepted: boolean;
}

export interface MamlResult {
  curve: CurvePoint[];
  iterations: MamlIterationLog[];
  envSamples: number;
  policy: GmpsPolicy;
  params: Params;
  stepSizes: Params;
  dispose(): void;
}

export interface MamlOptions {
  config: MamlConfig;
  sampler: Sampler;
  obsDim: number;
  actDim: number;
  onIteration?: (log: MamlIterationLog) => void;
  onEval?: (p: CurvePoint) => void;
  /**
   * Per-iteration snapshot (θ, α, the meta-batch task stream, sample count, curve and logs): the
   * run continues from it when started again with the same config (every iteration draws its own
   * randomness from the seed and its index, so the continued run is the run that was not stopped).
   */
  snapshot?: SnapshotOption;
}

interface MamlSnapshotMeta {
  config: MamlConfig;
  /** Iterations completed. */
  iterations: number;
  envSamples: number;
  taskRng: { state: RngState; spare: number | null };
  curve: CurvePoint[];
  logs: MamlIterationLog[];
  extra: unknown;
}

/** Tensors of one MAML meta-batch (every task has the same number of rows: fixed horizons). */
export interface MamlBatch {
  numTasks: number;
  preRows: number;
  postRows: number;
  /** [T·n x obsDim], [T·n x d], [T·n] Â/n */
  preObs: tf.Tensor2D;
  preActions: tf.Tensor2D;
  preRowWeight: tf.Tensor1D;
  /** [T·n' x obsDim], [T x n' x d], [T x n'] Â', [T x n' x d] μ_old, [T x 1 x d] log σ_old */
  postObs: tf.Tensor2D;
  postActions: tf.Tensor3D;
  postAdv: tf.Tensor2D;
  oldMean: tf.Tensor3D;
  oldLogStd: tf.Tensor3D;
  dispose(): void;
}

/** One task's pre- and post-update samples as the arrays a batch's tensors are made of. */
interface MamlTaskArrays {
  preObs: Float32Array;
  preActions: Float32Array;
  /** Â/n per pre-update row. */
  preW: Float32Array;
  postObs: Float32Array;
  postActions: Float32Array;
  postAdv: Float32Array;
  oldMean: Float32Array;
  oldLogStd: Float32Array;
}

/** Every task's samples of a meta-batch, outside the tensor heap; `mamlBatchOf` makes tensors of some of them. */
export interface MamlSamples {
  numTasks: number;
  preRows: number;
  postRows: number;
  obsDim: number;
  actDim: number;
  tasks: MamlTaskArrays[];
}

/** Advantages and arrays of every task (post must carry θ-old's mean / logStd). */
export function mamlSamples(pre: Trajectory[][], post: Trajectory[][], obsDim: number, d: number, mode: ObsMode = 'state'): MamlSamples {
  const T = pre.length;
  if (T === 0 || post.length !== T) throw new Error(`MAML batch: ${pre.length} pre-update and ${post.length} post-update task groups`);
  const n = rowsOf(pre[0]);
  const m = rowsOf(post[0]);
  for (let i = 0; i < T; i++) {
    if (rowsOf(pre[i]) !== n || rowsOf(post[i]) !== m) throw new Error('MAML batch: tasks have different numbers of samples (episodes must have a fixed horizon)');
  }
  const tasks: MamlTaskArrays[] = [];
  for (let i = 0; i < T; i++) {
    const a = toAdaptBatch(pre[i], mode);
    if (a.obs.length !== n * obsDim) throw new Error(`MAML batch: ${mode} observations are ${a.obs.length / n} wide, the policy reads ${obsDim}`);
    const preW = new Float32Array(n);
    for (let r = 0; r < n; r++) preW[r] = a.advantages[r] / n;
    const b = toAdaptBatch(post[i], mode);
    const ls = post[i][0].agentInfos.logStd;
    if (!ls) throw new Error('MAML batch: post-update trajectories carry no agentInfos.logStd');
    tasks.push({
      preObs: a.obs,
      preActions: a.actions,
      preW,
      postObs: b.obs,
      postActions: b.actions,
      postAdv: b.advantages,
      oldMean: stackField(post[i], (tr) => tr.agentInfos.mean, 'agentInfos.mean'),
      oldLogStd: ls.slice(0, d),
    });
  }
  return { numTasks: T, preRows: n, postRows: m, obsDim, actDim: d, tasks };
}

/** Tensors of tasks [from, to) of `s` (the caller disposes them). */
export function mamlBatchOf(s: MamlSamples, from = 0, to = s.numTasks): MamlBatch {
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= s.numTasks && from < to)) {
    throw new Error(`MAML batch: tasks [${from}, ${to}) of ${s.numTasks}`);
  }
  const T = to - from;
  const { preRows: n, postRows: m, obsDim, actDim: d } = s;
  const cat = (field: keyof MamlTaskArrays, width: number): Float32Array => {
    const out = new Float32Array(T * width);
    for (let i = 0; i < T; i++) out.set(s.tasks[from + i][field], i * width);
    return out;
  };
  const t = {
    preObs: tf.tensor2d(cat('preObs', n * obsDim), [T * n, obsDim]),
    preActions: tf.tensor2d(cat('preActions', n * d), [T * n, d]),
    preRowWeight: tf.tensor1d(cat('preW', n)),
    postObs: tf.tensor2d(cat('postObs', m * obsDim), [T * m, obsDim]),
    postActions: tf.tensor3d(cat('postActions', m * d), [T, m, d]),
    postAdv: tf.tensor2d(cat('postAdv', m), [T, m]),
    oldMean: tf.tensor3d(cat('oldMean', m * d), [T, m, d]),
    oldLogStd: tf.tensor3d(cat('oldLogStd', d), [T, 1, d]),
  };
  return { numTasks: T, preRows: n, postRows: m, ...t, dispose: () => Object.values(t).forEach((x) => x.dispose()) };
}

/** Stacks pre- and post-update samples of every task into tensors (post must carry θ-old's mean / logStd). */
export function prepareMamlBatch(pre: Trajectory[][], post: Trajectory[][], obsDim: number, d: number, mode: ObsMode = 'state'): MamlBatch {
  return mamlBatchOf(mamlSamples(pre, post, obsDim, d, mode));
}

/**
 * The meta-batch in parts of at most `tasksPerPart` tasks, for `TrpoProblem.parts`: `at(p)` gives part p's
 * tensors, keeping one part in memory at a time (made when asked for, freed when another is, kept out of the
 * caller's `tf.tidy`), and `share(p)` its fraction of the tasks (every task has the same number of rows, so a
 * mean over the whole batch is the sum of the parts' means times their shares).
 */
export class MamlBatchParts {
  readonly parts: number;
  private current: { part: number; batch: MamlBatch } | undefined;
  constructor(
    private readonly samples: MamlSamples,
    private readonly tasksPerPart: number,
  ) {
    if (!Number.isInteger(tasksPerPart) || tasksPerPart < 1) throw new Error(`MAML: tasksPerPart must be an integer >= 1, got ${tasksPerPart}`);
    this.parts = Math.ceil(samples.numTasks / tasksPerPart);
  }
  private range(part: number): [number, number] {
    if (!Number.isInteger(part) || part < 0 || part >= this.parts) throw new Error(`MAML batch part ${part} of ${this.parts}`);
    return [part * this.tasksPerPart, Math.min(this.samples.numTasks, (part + 1) * this.tasksPerPart)];
  }
  at(part: number): MamlBatch {
    if (this.current?.part === part) return this.current.batch;
    this.dispose();
    const [from, to] = this.range(part);
    const batch = mamlBatchOf(this.samples, from, to);
    for (const v of Object.values(batch)) if (v instanceof tf.Tensor) tf.keep(v);
    this.current = { part, batch };
    return batch;
  }
  share(part: number): number {
    const [from, to] = this.range(part);
    return (to - from) / this.samples.numTasks;
  }
  dispose(): void {
    this.current?.batch.dispose();
    this.current = undefined;
  }
}

/** The post-update policies' mean [T x n' x d] and log σ [T|1 x 1 x d] as functions of θ and α. */
export function postUpdateDistribution(policy: GmpsPolicy, theta: Params, alpha: Params, b: MamlBatch): { mean: tf.Tensor3D; logStd: tf.Tensor3D } {
  const names = new Set(policy.adaptable);
  const T = b.numTasks;
  const { grads } = innerGradients(
    policy.head,
    theta,
    { numTasks: T, rowsPerTask: b.preRows, feat: policy.features(theta, b.preObs), actions: b.preActions, rowWeight: b.preRowWeight },
    names,
  );
  const phi: Params = { ...theta };
  for (const name of names) phi[name] = tf.sub(tf.expandDims(theta[name], 0), tf.mul(tf.expandDims(alpha[name], 0), grads[name]));
  const feat = policy.features(theta, b.postObs);
  const feat3 = tf.reshape(feat, [T, b.postRows, feat.shape[1]]) as tf.Tensor3D;
  const mean = headMeanPerTask(policy.head, { params: phi, perTask: names, numTasks: T }, feat3);
  const d = policy.config.actDim;
  const logStd = names.has('logStd')
    ? (tf.reshape(tf.maximum(phi.logStd, MIN_LOG_STD), [T, 1, d]) as tf.Tensor3D)
    : (tf.reshape(clampedLogStd(theta), [1, 1, d]) as tf.Tensor3D);
  return { mean, logStd };
}

const LOG_2PI = Math.log(2 * Math.PI);

/** −mean(ratio · Â') over every post-update sample. */
export function mamlSurrogate(policy: GmpsPolicy, theta: Params, alpha: Params, b: MamlBatch): tf.Scalar {
  const { mean, logStd } = postUpdateDistribution(policy, theta, alpha, b);
  const d = policy.config.actDim;
  const logp = (mu: tf.Tensor, ls: tf.Tensor) =>
    tf.sub(tf.mul(tf.sum(tf.square(tf.div(tf.sub(b.postActions, mu), tf.exp(ls))), -1), -0.5), tf.add(tf.sum(ls, -1), 0.5 * d * LOG_2PI));
  const ratio = tf.exp(tf.sub(logp(mean, logStd), logp(b.oldMean, b.oldLogStd)));
  return tf.neg(tf.mean(tf.mul(ratio, b.postAdv))) as tf.Scalar;
}

/** Mean KL(π_φ,old ‖ π_φ(θ, α)) over the post-update states. */
export function mamlKl(policy: GmpsPolicy, theta: Params, alpha: Params, b: MamlBatch): tf.Scalar {
  const { mean, logStd } = postUpdateDistribution(policy, theta, alpha, b);
  return tf.mean(gaussianKl(b.oldMean, b.oldLogStd, mean, logStd)) as tf.Scalar;
}

const avg = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function checkConfig(c: MamlConfig): void {
  for (const [k, v, min] of [
    ['metaBatchSize', c.metaBatchSize, 1],
    ['numTasks', c.numTasks, 1],
    ['numHeldOut', c.numHeldOut, 0],
    ['rolloutsPerTask', c.rolloutsPerTask, 2],
    ['iterations', c.iterations, 1],
    ['evalEvery', c.evalEvery, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new Error(`MAML: ${k} must be an integer >= ${min}, got ${v}`);
  }
  if (!(c.innerStepSize > 0)) throw new Error(`MAML: innerStepSize must be > 0, got ${c.innerStepSize}`);
  if (c.tasksPerPart !== undefined && !(Number.isInteger(c.tasksPerPart) && c.tasksPerPart >= 1)) {
    throw new Error(`MAML: tasksPerPart must be an integer >= 1, got ${c.tasksPerPart}`);
  }
}

/** Runs MAML-TRPO. The sampler's envs must be of `config.task`. */
export async function mamlTrain(opts: MamlOptions): Promise<MamlResult> {
  const c = opts.config;
  checkConfig(c);
  const { sampler } = opts;
  const policy =
    c.policyKind === 'vision'
      ? createPolicy({ ...defaultVisionConfig(opts.actDim), hidden: c.hidden, latentDim: c.latentDim, zInit: 1, initStepSize: c.innerStepSize })
      : createPolicy({
          kind: c.policyKind,
          obsDim: opts.obsDim,
          actDim: opts.actDim,
          hidden: c.hidden,
          latentDim: c.latentDim,
          zInit: c.policyKind === 'mlp' ? 1 : 0,
          initStepSize: c.innerStepSize,
        });
  const mode = obsModeOf(policy);
  checkSamplerFor({ obsMode: mode, policy: policy.config }, sampler);
  const obsDim = policy.config.obsDim;
  const init = policy.init(c.seed);
  let theta = init.params;
  let alpha = init.stepSizes;
  const thetaNames = policy.shapes.map(([n]) => n);
  const alphaNames = c.stepSize === 'learned' ? [...policy.adaptable] : [];

  const { createEnvFromSpec } = await import('./worker/spec.js');
  const probe = await createEnvFromSpec(envSpecOf(c), 0);
  let evalTasks: { tasks: TaskParams[]; heldOut: TaskParams[] };
  const sampleTask = (r: () => number) => probe.sampleTask(r);
  try {
    evalTasks = drawTasks({ seed: c.seed, numTasks: c.numTasks, numHeldOut: c.numHeldOut } as MetaTrainConfig, sampleTask);
  } catch (err) {
    probe.close();
    throw err;
  }
  const taskRng = new Rng(`${c.seed}-maml-meta-batches`);
  const K = c.rolloutsPerTask;
  let envSamples = 0;
  const curve: CurvePoint[] = [];
  const logs: MamlIterationLog[] = [];

  const evaluate = async (itr: number) => {
    const rng = new Rng(`${c.seed}-maml-eval-${itr}`);
    const ev = await evaluateAdaptation(sampler, policy, theta, alpha, evalTasks.tasks, K, mode, rng);
    ev.adapted.forEach(disposeParams);
    envSamples += ev.samples;
    const point: CurvePoint = { iteration: itr, envSamples, train: ev.result };
    if (evalTasks.heldOut.length) {
      const ho = await evaluateAdaptation(sampler, policy, theta, alpha, evalTasks.heldOut, K, mode, rng);
      ho.adapted.forEach(disposeParams);
      envSamples += ho.samples;
      point.heldOut = ho.result;
      point.envSamples = envSamples;
    }
    curve.push(point);
    opts.onEval?.(point);
  };

  let start = 0;
  const snap = opts.snapshot;
  try {
    if (snap && (await fileExists(snap.file))) {
      const saved = await readSnapshot<MamlSnapshotMeta>(snap.file, 'maml');
      // tasksPerPart only splits the same outer step into parts, so a run may change it when continued.
      checkSameSettings(snap.file, 'MAML', c, saved.meta.config, ['iterations', 'evalEvery', 'tasksPerPart']);
      const th = restoreTensors(saved, 'theta', theta);
      const al = restoreTensors(saved, 'alpha', alpha);
      disposeParams(theta);
      disposeParams(alpha);
      theta = th;
      alpha = al;
      taskRng.loadState(saved.meta.taskRng);
      envSamples = saved.meta.envSamples;
      curve.push(...saved.meta.curve);
      logs.push(...saved.meta.logs);
      start = saved.meta.iterations;
      await snap.onResume?.(saved.meta.extra, start);
    }
    for (let itr = start; itr < c.iterations; itr++) {
      if (c.evalEvery > 0 && itr % c.evalEvery === 0) await evaluate(itr);
      const rng = new Rng(`${c.seed}-maml-itr-${itr}`);
      const tasks = Array.from({ length: c.metaBatchSize }, () => sampleTask(taskRng.asFunction()));
      const pre = await sampler.sample({ tasks, rolloutsPerTask: K, act: policyAct(policy, () => theta, K, mode, rng) });
      const adapted = pre.map((g) => adaptStep(policy, theta, alpha, toAdaptBatch(g, mode)));
      let post: Trajectory[][];
      try {
        post = await sampler.sample({ tasks, rolloutsPerTask: K, act: policyAct(policy, (k) => adapted[k], K, mode, rng) });
      } finally {
        adapted.forEach(disposeParams);
      }
      envSamples += stepsOf(pre) + stepsOf(post);
      const batch = new MamlBatchParts(mamlSamples(pre, post, obsDim, opts.actDim, mode), c.tasksPerPart ?? (c.policyKind === 'vision' ? 1 : c.metaBatchSize));
      const split = (xs: tf.Tensor[]): [Params, Params] => {
        const th: Params = {};
        const al: Params = { ...alpha };
        thetaNames.forEach((n, i) => (th[n] = xs[i]));
        alphaNames.forEach((n, i) => (al[n] = xs[thetaNames.length + i]));
        return [th, al];
      };
      let res;
      try {
        res = trpoStep(
          {
            params: [...thetaNames.map((n) => theta[n]), ...alphaNames.map((n) => alpha[n])],
            parts: batch.parts,
            loss: (xs, p) => tf.mul(mamlSurrogate(policy, ...split(xs), batch.at(p)), batch.share(p)) as tf.Scalar,
            kl: (xs, p) => tf.mul(mamlKl(policy, ...split(xs), batch.at(p)), batch.share(p)) as tf.Scalar,
          },
          c.trpo,
        );
      } finally {
        batch.dispose();
      }
      const [th, al] = split(res.params);
      disposeParams(theta);
      theta = th;
      if (alphaNames.length) {
        for (const n of alphaNames) alpha[n].dispose();
        alpha = al;
      }
      const log: MamlIterationLog = {
        iteration: itr,
        envSamples,
        preReturn: avg(pre.map(meanReturn)),
        postReturn: avg(post.map(meanReturn)),
        surrogateBefore: res.lossBefore,
        surrogateAfter: res.lossAfter,
        kl: res.kl,
        accepted: res.accepted,
      };
      logs.push(log);
      opts.onIteration?.(log);
      if (snap) {
        const meta: MamlSnapshotMeta = { config: c, iterations: itr + 1, envSamples, taskRng: taskRng.saveState(), curve, logs, extra: snap.extra?.() ?? null };
        await writeSnapshot(snap.file, { kind: 'maml', meta, arrays: { ...tensorArrays('theta', theta), ...tensorArrays('alpha', alpha) } });
      }
    }
    await evaluate(c.iterations);
  } catch (err) {
    disposeParams(theta);
    disposeParams(alpha);
    throw err;
  } finally {
    probe.close();
  }
  return {
    curve,
    iterations: logs,
    envSamples,
    policy,
    params: theta,
    stepSizes: alpha,
    dispose: () => {
      disposeParams(theta);
      disposeParams(alpha);
    },
  };
}

/** Log-density of actions under a parameter set (used by tests and MultiTask). */
export function logProbOf(policy: GmpsPolicy, p: Params, obs: tf.Tensor2D, actions: tf.Tensor2D): tf.Tensor1D {
  return gaussianLogProb(policy.mean(p, obs), policy.logStd(p), actions);
}
