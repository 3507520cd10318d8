/**
 * GMPS meta-training (paper Algorithms 1 and 2, gmps-reference §1.1 and §5), top to bottom:
 *
 *   tasks     ← N training tasks drawn with the seed; held-out tasks from another stream
 *   D*        ← expert rollouts per task (scripted experts, contextual SAC, or recorded demos)
 *   for itr:
 *     D_i^tr  ← K rollouts of π_θ per training task (std ×1), advantages γ 0.99, λ 1, linear
 *               baseline per task, normalised; θ0's mean / log-std recorded
 *     every `evalEvery` itrs: one inner step per task with the learned α, roll the adapted
 *               policies out with std ×1e-5 (training and held-out tasks) and log pre/post returns
 *     θ, α    ← `adamSteps` Adam steps on the importance-weighted second-order meta-objective
 *     DAgger (optional): adapted policies' rollouts, relabelled by the experts, join D*
 *
 * Every iteration draws its randomness from `Rng(seed-itr)`, so a run resumed from a checkpoint
 * continues exactly as the uninterrupted run would have.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { TaskKind, TaskParams } from '../../sim/types.js';
import { ADAM_DEFAULTS } from './adam.js';
import { checkpointDir } from './checkpoint-path.js';
import {
  CheckpointError,
  checkpointPolicy,
  MODEL_JSON,
  readCheckpoint,
  readJsonFile,
  readModelJson,
  readWeightsFile,
  saveCheckpoint as writeCheckpoint,
  sortWeights,
  type LoadedCheckpoint as ModelCheckpoint,
  type QuantizedWeight,
} from './checkpoint.js';
import { toAdaptBatch, toTaskSamples } from './advantages.js';
import { expertDataset, labelWithExpert, scriptedExpert, type DemonstrationSource, type Expert } from './expert.js';
import { adaptStep, GmpsLearner, importanceStats, prepareBatch, type GmpsLearnerOptions, type ImportanceStats, type PreparedBatch } from './gmps.js';
import { writeLearningCurves } from './plot.js';
import { createPolicy, defaultMlpConfig, disposeParams, visionTrunkNames, type GmpsPolicy, type Params, type PolicyConfig } from './policy/index.js';
import { Rng } from './rng.js';
import type { ActBatch, EnvSpec, Sampler } from './sampler.js';
import { stepsOf, toTaskDemos, undiscountedReturn, writeVisionRow, type ObsMode, type Trajectory } from './trajectory.js';
import type { TaskBatch, TaskDemos } from './types.js';

/** GMPS samples adapted policies almost at their mean (gmps-reference §2.1). */
export const POST_UPDATE_STD_SCALE = 1e-5;

export interface MetaTrainConfig {
  task: TaskKind;
  /** Env options (dense reward, point-env sizes, ...). */
  envOptions: Record<string, unknown>;
  obsMode: ObsMode;
  seed: number;
  /** Number of fixed meta-training tasks. */
  numTasks: number;
  /** Held-out tasks evaluated every `evalEvery` iterations. */
  numHeldOut: number;
  /** K: pre-update rollouts per task and iteration. */
  rolloutsPerTask: number;
  /** Expert rollouts per task in the initial D*. */
  demosPerTask: number;
  /** Std of Gaussian noise on the scripted expert's executed actions (labels stay clean). */
  expertNoise: number;
  iterations: number;
  adamSteps: number;
  lr: number;
  /** 0: never evaluate (except at the end). */
  evalEvery: number;
  dagger: boolean;
  /** Adapted-policy rollouts per task aggregated into D* per DAgger round. */
  daggerRollouts: number;
  /**
   * Meta-train the log-std (GMPS: yes). Its only meta-gradient comes through the inner step's
   * 1/σ² scaling, which the learned α duplicates, and it cannot see what σ does to the exploration
   * rollouts; `false` keeps σ at `policy.initStd` as an exploration hyper-parameter.
   */
  learnStd?: boolean;
  /**
   * Tasks per Adam step (0 or absent: all, as GMPS). Smaller values split the iteration's tasks
   * into shuffled chunks and take each Adam step on one chunk in turn: stochastic over tasks, each
   * task's inner gradient still exact. Bounds the memory of the second-order graph (vision).
   */
  tasksPerStep?: number;
  /** Upper bound on the inner step's importance weights (absent: none, as GMPS). */
  isClip?: number;
  /** Lower bound on the inner step's importance weights (absent: none, as GMPS). */
  isClipLow?: number;
  /**
   * Adam steps over which the learning rate ramps linearly up to `lr` (absent or 0: none, as GMPS),
   * counted by the optimiser's own step, so a resumed run continues the ramp. For a start from a
   * checkpoint (`initFrom`), whose Adam moments are new and whose first steps are otherwise full-size.
   */
  lrWarmup?: number;
  /**
   * Vision: Adam leaves the trunk (convs, soft-argmax temperature, any read-out) as it is and
   * meta-trains the FC block, z and α only (absent: the whole network, as GMPS). For a trunk
   * fitted by `gmps vision-init`, whose first FC layer is precise to its keypoints.
   */
  freezeTrunk?: boolean;
  /** Weight of the pre-update imitation term (absent or 0: none, as GMPS); see MetaLossOptions. */
  preImitation?: number;
  /**
   * The task whose expert the pre-update imitation term imitates (absent: every training task's
   * own D*, i.e. the task-average behaviour). For the door, the widest target: the unadapted policy
   * then opens the door through every target, so each task's pre-update rollouts pass its reward
   * peak. Needs an expert that acts (scripted or SAC); its rollouts count as expert samples.
   */
  preImitationTask?: TaskParams;
  /**
   * Where θ and α started when not from the policy's initialiser: a checkpoint (`--init-from`), and
   * what the start changed in it (`InitAdjust`: σ set to `std`, every step size times `stepSizeScale`).
   */
  initFrom?: { checkpoint: string; iteration: number; envSamples: number; std?: number; stepSizeScale?: number };
  /**
   * A vision policy composed from a state checkpoint (`gmps vision-init`): where from, the pose
   * rows its keypoints were fitted on, the Adam steps and the read-out's validation RMSE (m).
   */
  visionInit?: { from: string; poseRows: number; fitSteps: number; valRmse: number; keypointStepSize: number | 'matched' | 'exact' };
  policy: PolicyConfig;
}

export interface CurvePoint {
  iteration: number;
  /** Environment steps so far (experts, training, evaluation, DAgger). */
  envSamples: number;
  train: EvalResult;
  heldOut?: EvalResult;
}

export interface EvalResult {
  preReturn: number;
  postReturn: number;
  preSuccess: number;
  postSuccess: number;
}

export interface IterationLog {
  iteration: number;
  envSamples: number;
  /** L_out before the first and after the last Adam step. */
  lossFirst: number;
  lossLast: number;
  preReturn: number;
  meanStepSize: number;
  demoRows: number;
  /**
   * Importance weights π_θ/π_θ0 of the last Adam step's batch after that step: how far an
   * iteration's Adam steps moved θ from the policy that sampled D^tr (absent in older runs).
   */
  importance?: ImportanceStats;
}

export interface TrainState {
  config: MetaTrainConfig;
  iteration: number;
  envSamples: number;
  expertSamples: number;
  expertReturn: number;
  expertSuccess: number;
  tasks: TaskParams[];
  heldOut: TaskParams[];
  iterations: IterationLog[];
  curve: CurvePoint[];
  /** With `keepBest`: the evaluation whose θ and α are in `<outDir>/best`, and the criterion it was chosen by (absent: 'return'). */
  best?: { iteration: number; score: number; by?: KeepBestBy };
}

export function defaultMetaTrainConfig(task: TaskKind, dims: { obsDim: number; actDim: number }): MetaTrainConfig {
  return {
    task,
    envOptions: {},
    obsMode: 'state',
    seed: 0,
    numTasks: 10,
    numHeldOut: 5,
    rolloutsPerTask: 20,
    demosPerTask: 5,
    expertNoise: 0.1,
    iterations: 20,
    adamSteps: 100,
    lr: 1e-3,
    evalEvery: 2,
    dagger: false,
    daggerRollouts: 2,
    policy: defaultMlpConfig(dims.obsDim, dims.actDim),
  };
}

export function envSpecOf(c: Pick<MetaTrainConfig, 'task' | 'envOptions' | 'seed'>): EnvSpec {
  return { kind: c.task, options: { ...c.envOptions, seed: c.seed } };
}

/** Episode success: the task's success flag at the final step (door: angle within tolerance at the end). */
export function finalSuccess(tr: Trajectory): boolean {
  const s = tr.envInfos.success;
  return !!s && s.length > 0 && s[s.length - 1] > 0;
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
export const meanReturn = (trajs: readonly Trajectory[]): number => mean(trajs.map(undiscountedReturn));
export const successRate = (trajs: readonly Trajectory[]): number => mean(trajs.map((t) => (finalSuccess(t) ? 1 : 0)));

/**
 * An act function for the sampler: rollout r belongs to task floor(r / K) and acts with that
 * task's parameter set (one set for all tasks, or one per task). Records θ's mean and log-std.
 */
export function policyAct(
  policy: GmpsPolicy,
  paramsOf: (taskIndex: number) => Params,
  rolloutsPerTask: number,
  obsMode: ObsMode,
  rng: Rng,
  stdScale = 1,
) {
  const { obsDim, actDim } = policy.config;
  return (batch: ActBatch) => {
    const n = batch.observations.length;
    const actions = new Float32Array(n * actDim);
    const means = new Float32Array(n * actDim);
    const logStds = new Float32Array(n * actDim);
    const groups = new Map<number, number[]>();
    batch.rollouts.forEach((r, i) => {
      const k = Math.floor(r / rolloutsPerTask);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k)!.push(i);
    });
    for (const [k, rows] of groups) {
      const p = paramsOf(k);
      const obs = new Float32Array(rows.length * obsDim);
      rows.forEach((i, j) => obs.set(observationRow(batch, i, obsMode), j * obsDim));
      const res = policy.act(p, obs, { seed: rng.nextUint32(), stdScale });
      const ls = tf.tidy(() => policy.logStd(p).dataSync() as Float32Array);
      rows.forEach((i, j) => {
        actions.set(res.action.subarray(j * actDim, (j + 1) * actDim), i * actDim);
        means.set(res.mean.subarray(j * actDim, (j + 1) * actDim), i * actDim);
        logStds.set(ls, i * actDim);
      });
    }
    return { actions, agentInfos: { mean: means, logStd: logStds } };
  };
}

function observationRow(batch: ActBatch, i: number, mode: ObsMode): Float32Array {
  const o = batch.observations[i];
  if (mode === 'state') return Float32Array.from(o.state);
  if (!o.image) throw new Error('vision policy: the env renders no images (create it with a camera)');
  const row = new Float32Array(o.image.length + 3);
  writeVisionRow(o.image, o.hand, row);
  return row;
}

/**
 * Pre-update returns, one adaptation step per task with the learned α, post-update returns.
 * `exploreStdScale` multiplies σ in the pre-update rollouts only (a meta-test knob, `gmps eval
 * --std-scale`; the step's policy gradient still uses the policy's own σ); meta-training uses 1.
 */
export async function evaluateAdaptation(
  sampler: Sampler,
  policy: GmpsPolicy,
  params: Params,
  stepSizes: Params,
  tasks: readonly TaskParams[],
  K: number,
  obsMode: ObsMode,
  rng: Rng,
  exploreStdScale = 1,
): Promise<{ result: EvalResult; samples: number; pre: Trajectory[][]; post: Trajectory[][]; adapted: Params[] }> {
  const pre = await sampler.sample({ tasks, rolloutsPerTask: K, act: policyAct(policy, () => params, K, obsMode, rng, exploreStdScale) });
  const adapted = pre.map((trajs) => adaptStep(policy, params, stepSizes, toAdaptBatch(trajs, obsMode)));
  const post = await sampler.sample({
    tasks,
    rolloutsPerTask: K,
    queryExpert: true,
    act: policyAct(policy, (k) => adapted[k], K, obsMode, rng, POST_UPDATE_STD_SCALE),
  });
  const result: EvalResult = {
    preReturn: mean(pre.map(meanReturn)),
    postReturn: mean(post.map(meanReturn)),
    preSuccess: mean(pre.map(successRate)),
    postSuccess: mean(post.map(successRate)),
  };
  return { result, samples: stepsOf(pre) + stepsOf(post), pre, post, adapted };
}

export type ExpertChoice = { kind: 'scripted' } | { kind: 'agent'; expert: Expert } | { kind: 'demos'; source: DemonstrationSource };

/**
 * Changes to a checkpoint's θ and α at `initFrom`, for meta-training it on with another exploration
 * σ: `std` sets σ (every action dimension; the log-std parameter is set to ln std), and
 * `stepSizeScale` multiplies every learned step size. The inner step moves the mean by about
 * α·(a − μ)/σ² ∝ α/σ with rollouts sampled at σ, so α·(S/σ)² keeps the step the checkpoint took at
 * meta-test with its rollouts sampled at S (`gmps eval --std-scale S/σ`), and α·S/σ keeps the step
 * it took at its own σ.
 */
export interface InitAdjust {
  std?: number;
  stepSizeScale?: number;
}

export function checkInitAdjust(a: InitAdjust): void {
  if (a.std !== undefined && !(Number.isFinite(a.std) && a.std > 0)) throw new Error(`the new σ must be a finite number > 0, got ${a.std}`);
  if (a.stepSizeScale !== undefined && !(Number.isFinite(a.stepSizeScale) && a.stepSizeScale > 0)) {
    throw new Error(`the step-size scale must be a finite number > 0, got ${a.stepSizeScale}`);
  }
}

/** θ and α of a checkpoint with `InitAdjust` applied (new tensors; the caller disposes them). */
export function adjustInit(init: { params: Params; stepSizes: Params }, a: InitAdjust): { params: Params; stepSizes: Params } {
  checkInitAdjust(a);
  if (a.std !== undefined && !('logStd' in init.params)) throw new Error('this policy has no log-std parameter to set');
  const params: Params = {};
  const stepSizes: Params = {};
  for (const [k, v] of Object.entries(init.params)) {
    params[k] = k === 'logStd' && a.std !== undefined ? tf.fill(v.shape, Math.log(a.std)) : tf.clone(v);
  }
  for (const [k, v] of Object.entries(init.stepSizes)) stepSizes[k] = a.stepSizeScale !== undefined ? tf.mul(v, a.stepSizeScale) : tf.clone(v);
  return { params, stepSizes };
}

export interface MetaTrainOptions {
  config: MetaTrainConfig;
  sampler: Sampler;
  expert?: ExpertChoice;
  /** Directory for the checkpoint (model.json + weights) and the curve (SVG/HTML); none: nothing written. */
  outDir?: string;
  /** Continue from the checkpoint in `outDir`. */
  resume?: boolean;
  /**
   * Start θ and α from this checkpoint (an exported one will do): its policy, training and held-out
   * tasks, sample count and curve carry over; D* is collected afresh and Adam starts from zero.
   * `config.iterations` counts from the checkpoint's first iteration, as if the run had gone on.
   */
  initFrom?: string;
  /**
   * With `initFrom`: draw the training and held-out tasks afresh (this config's seed, `numTasks`,
   * `numHeldOut`) instead of carrying the checkpoint's over, e.g. more tasks against overfitting to
   * the first draw, and more held-out tasks to select on. The run then evaluates at its first
   * iteration (the carried evaluation was on other tasks and is no candidate for `keepBest`).
   */
  redrawTasks?: boolean;
  /** With `initFrom`: changes to the checkpoint's σ and step sizes before the run starts (`InitAdjust`). */
  initAdjust?: InitAdjust;
  /** Stop after this iteration count in this call (for tests of resuming); default all. */
  stopAfter?: number;
  onIteration?: (log: IterationLog, state: TrainState) => void;
  onEval?: (point: CurvePoint) => void;
  /** With `resume`: called once the checkpoint is loaded, with the state the run continues from (its curve so far included). */
  onResume?: (state: TrainState) => void | Promise<void>;
  /**
   * Model selection: after every evaluation whose post-update return (held-out tasks, else the
   * training tasks) beats the best so far, write θ and α as they were evaluated to `<outDir>/best`
   * (an exported checkpoint: adapts and evaluates, does not resume). GMPS's post-update return moves
   * by tens between evaluations; this keeps the best one a run saw without picking on test tasks.
   */
  keepBest?: boolean;
  /**
   * With `keepBest`, what "best" means: 'return' (default) the post-update return; 'success' the
   * post-update success rate, ties broken by the return. A run resumed with another criterion than
   * its saved best starts selecting afresh (the scores do not compare).
   */
  keepBestBy?: KeepBestBy;
}

export type KeepBestBy = 'return' | 'success';

/**
 * Selection score of an evaluation on the held-out tasks, else the training tasks: the post-update
 * return; by 'success', the post-update success rate plus 1e-6 × the return, so that equal rates (they
 * move in steps of 1/tasks) are ordered by return without the return ever outweighing one more success.
 */
export function selectionScore(point: CurvePoint, by: KeepBestBy = 'return'): number {
  const r = point.heldOut ?? point.train;
  return by === 'success' ? r.postSuccess + 1e-6 * r.postReturn : r.postReturn;
}

/** Directory of the best evaluated checkpoint of a run with `keepBest`. */
export const BEST_DIR = 'best';

export interface MetaTrainResult {
  state: TrainState;
  policy: GmpsPolicy;
  learner: GmpsLearner;
  demos: TaskDemos[];
  dispose(): void;
}

function rngFor(seed: number, what: string): Rng {
  return new Rng(`${seed}-${what}`);
}

/** Draws the fixed training tasks and the held-out tasks (separate streams of the seed). */
export function drawTasks(c: MetaTrainConfig, sampleTask: (rng: () => number) => TaskParams): { tasks: TaskParams[]; heldOut: TaskParams[] } {
  const tr = rngFor(c.seed, 'tasks').asFunction();
  const ho = rngFor(c.seed, 'held-out').asFunction();
  return {
    tasks: Array.from({ length: c.numTasks }, () => sampleTask(tr)),
    heldOut: Array.from({ length: c.numHeldOut }, () => sampleTask(ho)),
  };
}

function checkConfig(c: MetaTrainConfig): void {
  const ints: [string, number, number][] = [
    ['numTasks', c.numTasks, 1],
    ['numHeldOut', c.numHeldOut, 0],
    ['rolloutsPerTask', c.rolloutsPerTask, 2],
    ['demosPerTask', c.demosPerTask, 1],
    ['iterations', c.iterations, 1],
    ['adamSteps', c.adamSteps, 1],
    ['evalEvery', c.evalEvery, 0],
    ['daggerRollouts', c.daggerRollouts, 1],
    ['tasksPerStep', c.tasksPerStep ?? 0, 0],
  ];
  for (const [name, v, min] of ints) {
    if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
  }
  if (!(c.lr > 0)) throw new Error(`lr must be > 0, got ${c.lr}`);
  if (!(c.expertNoise >= 0)) throw new Error(`expertNoise must be >= 0, got ${c.expertNoise}`);
  if (c.preImitation !== undefined && !(c.preImitation >= 0)) throw new Error(`preImitation must be >= 0, got ${c.preImitation}`);
  if (c.preImitationTask && !c.preImitation) throw new Error('preImitationTask is the task the pre-update imitation term imitates: set preImitation > 0 too');
  if (c.preImitationTask && c.preImitationTask.kind !== c.task) {
    throw new Error(`preImitationTask is a '${c.preImitationTask.kind}' task; meta-training runs '${c.task}' tasks`);
  }
  if (c.freezeTrunk && c.obsMode !== 'vision') throw new Error('freezeTrunk freezes a vision policy\'s convs: the policy here is a state policy');
  if (c.isClip !== undefined && !(c.isClip >= 1)) throw new Error(`isClip must be >= 1 (it bounds the importance weights from above), got ${c.isClip}`);
  if (c.isClipLow !== undefined && !(c.isClipLow > 0 && c.isClipLow <= 1)) {
    throw new Error(`isClipLow must be in (0, 1] (it bounds the importance weights from below), got ${c.isClipLow}`);
  }
  if (c.lrWarmup !== undefined && !(Number.isInteger(c.lrWarmup) && c.lrWarmup >= 0)) throw new Error(`lrWarmup must be an integer >= 0 (Adam steps), got ${c.lrWarmup}`);
}

/** A vision policy needs a sampler whose envs render images of the policy's size. */
export function checkSamplerFor(c: Pick<MetaTrainConfig, 'obsMode' | 'policy'>, sampler: Pick<Sampler, 'info'>): void {
  if (c.obsMode !== 'vision') {
    if (sampler.info.stateDim !== c.policy.obsDim) {
      throw new Error(
        `the envs give states of ${sampler.info.stateDim} values, the policy takes ${c.policy.obsDim}: create the envs with the options the policy was trained with (e.g. the door's observeAngle)`,
      );
    }
    return;
  }
  const v = c.policy.vision;
  if (!v) throw new Error("obsMode 'vision' needs a vision policy config (policy kind 'vision')");
  const shape = sampler.info.imageShape;
  if (!shape) throw new Error('the vision policy needs envs that render images: create the sampler with env options { camera: {} }');
  if (shape.height !== v.height || shape.width !== v.width) {
    throw new Error(`the envs render ${shape.height}x${shape.width} images, the vision policy takes ${v.height}x${v.width}: set the env camera size to match`);
  }
}

/**
 * Recorded demonstrations must fit the policy: images of its size for a vision policy, the env's
 * state width for a state policy, the env's action width. Names the offending file when known.
 */
export function checkDemonstrations(source: DemonstrationSource, c: Pick<MetaTrainConfig, 'obsMode' | 'policy'>, envStateDim: number): void {
  const loaded = (source as { loaded?: { path: string; trajectory: Trajectory }[] }).loaded;
  const where = (tr: Trajectory): string => {
    const p = loaded?.find((d) => d.trajectory === tr)?.path;
    return p ? `demonstration ${p}` : `a demonstration of task ${JSON.stringify(tr.task)}`;
  };
  for (const task of source.tasks()) {
    for (const tr of source.demos(task)) {
      if (tr.actionDim !== c.policy.actDim) throw new Error(`${where(tr)} has ${tr.actionDim}-d actions, the policy emits ${c.policy.actDim}`);
      if (c.obsMode === 'vision') {
        const v = c.policy.vision!;
        if (!tr.images || !tr.imageShape) {
          throw new Error(`${where(tr)} has no camera images, which the vision policy needs: record episodes with the camera on, or meta-train a state policy (--policy mlp)`);
        }
        if (tr.imageShape.height !== v.height || tr.imageShape.width !== v.width) {
          throw new Error(`${where(tr)} has ${tr.imageShape.height}x${tr.imageShape.width} images, the vision policy takes ${v.height}x${v.width}`);
        }
      } else if (tr.stateDim !== envStateDim || tr.stateDim !== c.policy.obsDim) {
        throw new Error(
          `${where(tr)} has ${tr.stateDim}-d state observations, the env and the state policy use ${envStateDim}` +
            (tr.stateDim === 3 ? ' (only the hand position was recorded, no /gmps/state topic): meta-train a vision policy (--policy vision) from these episodes' : ''),
        );
      }
    }
  }
}

/**
 * The wasm backend reports running out of its 4 GB heap as a bare `Aborted()`; say what it means
 * and what to change.
 */
export function explainBackendAbort(err: unknown): unknown {
  const msg = err instanceof Error ? err.message : String(err);
  // Emscripten aborts on a failed allocation; some kernels instead fault on the null buffer.
  if (!/Aborted\(|memory access out of bounds/.test(msg)) return err;
  return new Error(
    `the tfjs backend aborted (${msg.split('.')[0]}): on wasm this is almost always its 4 GB heap running full in the ` +
      'meta-gradient. Lower --tasks-per-step (tasks per Adam step), --rollouts or --dagger-rollouts, or meta-train ' +
      'where @tensorflow/tfjs-node(-gpu) is installed; resume with --resume from the last checkpoint',
  );
}

/** Task indices 0..n-1 shuffled into chunks of at most `size` (one chunk of all when size is 0 or >= n). */
export function taskChunks(n: number, size: number, rng: Rng): number[][] {
  if (size <= 0 || size >= n) return [Array.from({ length: n }, (_, i) => i)];
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const count = Math.ceil(n / size);
  const out: number[][] = [];
  for (let k = 0; k < count; k++) out.push(order.slice(Math.floor((k * n) / count), Math.floor(((k + 1) * n) / count)));
  return out;
}

export function learnerOptions(c: MetaTrainConfig): GmpsLearnerOptions {
  return {
    adam: { lr: c.lr, ...(c.lrWarmup ? { warmup: c.lrWarmup } : {}) },
    frozen: [...(c.learnStd === false ? ['logStd'] : []), ...(c.freezeTrunk && c.policy.vision ? visionTrunkNames(c.policy.vision) : [])],
    ...(c.isClip !== undefined ? { isClip: c.isClip } : {}),
    ...(c.isClipLow !== undefined ? { isClipLow: c.isClipLow } : {}),
    ...(c.preImitation ? { preImitation: c.preImitation } : {}),
  };
}

/** Runs (or resumes) meta-training. */
export async function metaTrain(opts: MetaTrainOptions): Promise<MetaTrainResult> {
  const sampler = opts.sampler;
  let c = opts.config;
  checkConfig(c);
  checkSamplerFor(c, sampler);
  let state: TrainState;
  let learner: GmpsLearner;
  let demos: TaskDemos[];
  let preDemos: TaskDemos | undefined;
  let policy: GmpsPolicy;
  if (opts.resume && opts.initFrom) throw new Error('resume continues the run in outDir; initFrom starts a new one: give one of them');
  if (opts.redrawTasks && !opts.initFrom) throw new Error('redrawTasks draws new tasks for a run started from a checkpoint (initFrom); a new run draws its tasks anyway');
  if (opts.initAdjust && !opts.initFrom) throw new Error('initAdjust changes the σ and step sizes of the checkpoint a run starts from (initFrom)');
  if (opts.initAdjust) checkInitAdjust(opts.initAdjust);
  if (opts.resume) {
    if (!opts.outDir) throw new Error('resume needs the checkpoint directory');
    const ck = await loadCheckpoint(opts.outDir);
    const slots = Object.keys(ck.adamSlots).length;
    if (ck.demos.length !== ck.state.tasks.length || slots === 0 || (ck.state.config.preImitationTask && !ck.preDemos)) {
      disposeLoaded(ck);
      throw new Error(
        `${opts.outDir} holds ${ck.demos.length} demonstration sets for ${ck.state.tasks.length} tasks and ` +
          `${slots ? 'its' : 'no'} Adam state: it was exported for adaptation and evaluation ` +
          '(gmps export), not for resuming; resume from the meta-training run directory',
      );
    }
    c = { ...ck.state.config, iterations: Math.max(c.iterations, ck.state.config.iterations) };
    state = { ...ck.state, config: c };
    policy = ck.policy;
    preDemos = ck.preDemos;
    learner = new GmpsLearner(policy, { params: ck.params, stepSizes: ck.stepSizes }, learnerOptions(c));
    learner.adam.restore(ck.adamStep, ck.adamSlots);
    demos = ck.demos;
    disposeLoaded(ck);
    await opts.onResume?.(state);
  } else {
    const from = opts.initFrom ? await loadCheckpoint(opts.initFrom) : undefined;
    if (from) {
      try {
        c = initFromConfig(c, from.state, opts.initFrom!, !!opts.redrawTasks, opts.initAdjust);
      } catch (err) {
        disposeLoaded(from);
        throw err;
      }
      const same = c.policy.kind === from.policy.config.kind && c.policy.obsDim === from.policy.config.obsDim;
      policy = same ? from.policy : createPolicy(c.policy);
      const converted = same ? undefined : convertPolicy(from.policy.config, c.policy, from.params, from.stepSizes);
      const start = converted ?? { params: from.params, stepSizes: from.stepSizes };
      const adjusted = opts.initAdjust ? adjustInit(start, opts.initAdjust) : undefined;
      learner = new GmpsLearner(policy, adjusted ?? start, learnerOptions(c));
      for (const t of [converted, adjusted]) {
        if (!t) continue;
        disposeParams(t.params);
        disposeParams(t.stepSizes);
      }
      disposeLoaded(from);
    } else {
      policy = createPolicy(c.policy);
      const init = policy.init(c.seed);
      learner = new GmpsLearner(policy, init, learnerOptions(c));
      disposeParams(init.params);
      disposeParams(init.stepSizes);
    }
    let drawn: { tasks: TaskParams[]; heldOut: TaskParams[] };
    if (from && !opts.redrawTasks) {
      drawn = { tasks: from.state.tasks, heldOut: from.state.heldOut };
    } else {
      const { createEnvFromSpec } = await import('./worker/spec.js');
      const probe = await createEnvFromSpec(envSpecOf(c), 0);
      try {
        drawn = drawTasks(c, (r) => probe.sampleTask(r));
      } finally {
        probe.close();
      }
    }
    const { heldOut } = drawn;
    // Recorded demonstrations fix the training tasks: the ones they were recorded on.
    const tasks = opts.expert?.kind === 'demos' && !from ? opts.expert.source.tasks().slice(0, c.numTasks) : drawn.tasks;
    if (tasks.length === 0) throw new Error('the demonstration source holds no tasks');
    if (opts.expert?.kind === 'demos') checkDemonstrations(opts.expert.source, c, sampler.info.stateDim);
    const expertTrajs = await collectExpertData(opts.expert ?? { kind: 'scripted' }, sampler, tasks, c);
    let expertSamples = stepsOf(expertTrajs);
    demos = expertTrajs.map((trajs) => expertDemos(trajs, c.obsMode));
    if (c.preImitationTask) {
      if (opts.expert?.kind === 'demos') {
        throw new Error('preImitationTask needs an expert that acts on that task (scripted or SAC), not recorded demonstrations');
      }
      // As many expert rollouts as the initial D* of all training tasks together.
      const explore = await collectExpertData(opts.expert ?? { kind: 'scripted' }, sampler, [c.preImitationTask], {
        ...c,
        demosPerTask: c.demosPerTask * tasks.length,
      });
      expertSamples += stepsOf(explore);
      preDemos = expertDemos(explore[0], c.obsMode);
    }
    state = {
      config: c,
      iteration: from?.state.iteration ?? 0,
      envSamples: (from?.state.envSamples ?? 0) + expertSamples,
      expertSamples: (from?.state.expertSamples ?? 0) + expertSamples,
      expertReturn: mean(expertTrajs.map(meanReturn)),
      expertSuccess: mean(expertTrajs.map(successRate)),
      tasks,
      heldOut,
      iterations: [...(from?.state.iterations ?? [])],
      curve: [...(from?.state.curve ?? [])],
    };
  }
  const preDemoTensors = preDemos ? demoTensors(preDemos, c.policy.obsDim, c.policy.actDim) : undefined;
  if (preDemoTensors) learner.opts.preDemos = preDemoTensors;
  const daggerExpert: Expert | undefined = !c.dagger
    ? undefined
    : opts.expert?.kind === 'agent'
      ? opts.expert.expert
      : opts.expert?.kind === 'demos'
        ? undefined
        : scriptedExpert;
  if (c.dagger && !daggerExpert) throw new Error('DAgger needs an expert that can label states (scripted or SAC), not recorded demonstrations');

  const K = c.rolloutsPerTask;
  // A run resumed or started from a checkpoint whose last evaluation is of the θ it starts from:
  // that evaluation is a candidate too.
  // Not when the tasks were redrawn: that evaluation was on the checkpoint's tasks.
  const fresh = opts.redrawTasks ? state.iteration : undefined;
  const carried = fresh === undefined ? state.curve.at(-1) : undefined;
  if (carried && carried.iteration === state.iteration) await keepIfBest(opts, state, learner, carried);
  const stop = Math.min(c.iterations, opts.stopAfter ?? c.iterations);
  for (let itr = state.iteration; itr < stop; itr++) {
    const rng = rngFor(c.seed, `itr-${itr}`);
    // θ evaluated at this iteration already (the final evaluation of the run resumed or started
    // from): not again; on redrawn tasks, always (the first evaluation on them).
    const isEval = itr === fresh || (c.evalEvery > 0 && itr % c.evalEvery === 0 && state.curve.at(-1)?.iteration !== itr);
    let trainTrajs: Trajectory[][];
    let adaptedForDagger: Params[] | undefined;
    if (isEval) {
      const ev = await evaluateAdaptation(sampler, policy, learner.params, learner.stepSizes, state.tasks, K, c.obsMode, rng);
      state.envSamples += ev.samples;
      const point: CurvePoint = { iteration: itr, envSamples: state.envSamples, train: ev.result };
      if (state.heldOut.length) {
        const ho = await evaluateAdaptation(sampler, policy, learner.params, learner.stepSizes, state.heldOut, K, c.obsMode, rng);
        state.envSamples += ho.samples;
        ho.adapted.forEach(disposeParams);
        point.heldOut = ho.result;
        point.envSamples = state.envSamples;
      }
      state.curve.push(point);
      opts.onEval?.(point);
      await keepIfBest(opts, state, learner, point);
      // θ has not moved since the evaluation's pre-update rollouts: they are this iteration's D^tr.
      trainTrajs = ev.pre;
      if (c.dagger) {
        adaptedForDagger = ev.adapted;
        await aggregate(demos, ev.post.map((g) => g.slice(0, c.daggerRollouts)), daggerExpert!, c.obsMode);
      } else {
        ev.adapted.forEach(disposeParams);
      }
    } else {
      trainTrajs = await sampler.sample({ tasks: state.tasks, rolloutsPerTask: K, act: policyAct(policy, () => learner.params, K, c.obsMode, rng) });
      state.envSamples += stepsOf(trainTrajs);
      if (c.dagger) {
        const adapted = trainTrajs.map((g) => adaptStep(policy, learner.params, learner.stepSizes, toAdaptBatch(g, c.obsMode)));
        const post = await sampler.sample({
          tasks: state.tasks,
          rolloutsPerTask: c.daggerRollouts,
          queryExpert: true,
          act: policyAct(policy, (k) => adapted[k], c.daggerRollouts, c.obsMode, rng, POST_UPDATE_STD_SCALE),
        });
        state.envSamples += stepsOf(post);
        adaptedForDagger = adapted;
        await aggregate(demos, post, daggerExpert!, c.obsMode);
      }
    }
    adaptedForDagger?.forEach(disposeParams);
    const preReturn = mean(trainTrajs.map(meanReturn));
    // Vision rows are ~9k floats: build each task's float rows from its uint8 images only here, and
    // let the trajectories and per-task copies go before the Adam steps (the prepared batch has them).
    const chunks = taskChunks(state.tasks.length, c.tasksPerStep ?? 0, rngFor(c.seed, `chunks-${itr}`));
    // One chunk (GMPS): its tensors are built once. Several: only the current chunk's tensors live
    // on the backend (the point of chunking is to bound that memory); the rows stay in JS.
    const chunkRows: TaskBatch[][] = chunks.map((chunk) => chunk.map((i) => ({ samples: toTaskSamples(trainTrajs[i], c.obsMode), demos: demos[i] })));
    trainTrajs = [];
    let kept: PreparedBatch | undefined = chunkRows.length === 1 ? prepareBatch(policy, chunkRows[0]) : undefined;
    let lossFirst = Number.NaN;
    let lossLast = Number.NaN;
    let importance: ImportanceStats | undefined;
    try {
      for (let s = 0; s < c.adamSteps; s++) {
        const batch = kept ?? prepareBatch(policy, chunkRows[s % chunkRows.length]);
        let l: number;
        try {
          l = learner.metaStep(batch);
          if (s === c.adamSteps - 1) importance = importanceStats(policy, learner.params, batch, c.isClip, c.isClipLow);
        } catch (err) {
          throw explainBackendAbort(err);
        } finally {
          if (batch !== kept) batch.dispose();
        }
        if (!Number.isFinite(l)) throw new Error(`meta-loss became ${l} at iteration ${itr}, Adam step ${s}; lower --lr`);
        if (s === 0) lossFirst = l;
        lossLast = l;
      }
    } finally {
      kept?.dispose();
      kept = undefined;
    }
    const log: IterationLog = {
      iteration: itr,
      envSamples: state.envSamples,
      lossFirst,
      lossLast,
      preReturn,
      meanStepSize: meanStepSize(learner),
      demoRows: demos.reduce((s, d) => s + d.actions.length / c.policy.actDim, 0),
      ...(importance ? { importance } : {}),
    };
    state.iterations.push(log);
    state.iteration = itr + 1;
    opts.onIteration?.(log, state);
    if (opts.outDir) {
      await saveCheckpoint(opts.outDir, state, learner, demos, preDemos);
      // A run stopped by hand still leaves its curve up to the last evaluation.
      if (isEval) await writeCurve(opts.outDir, state);
    }
  }
  if (state.iteration >= c.iterations && c.evalEvery >= 0 && state.curve.at(-1)?.iteration !== c.iterations) {
    // Final evaluation of the trained θ.
    const rng = rngFor(c.seed, `itr-${c.iterations}`);
    const ev = await evaluateAdaptation(sampler, policy, learner.params, learner.stepSizes, state.tasks, K, c.obsMode, rng);
    ev.adapted.forEach(disposeParams);
    state.envSamples += ev.samples;
    const point: CurvePoint = { iteration: c.iterations, envSamples: state.envSamples, train: ev.result };
    if (state.heldOut.length) {
      const ho = await evaluateAdaptation(sampler, policy, learner.params, learner.stepSizes, state.heldOut, K, c.obsMode, rng);
      ho.adapted.forEach(disposeParams);
      state.envSamples += ho.samples;
      point.heldOut = ho.result;
      point.envSamples = state.envSamples;
    }
    state.curve.push(point);
    opts.onEval?.(point);
    await keepIfBest(opts, state, learner, point);
    if (opts.outDir) await saveCheckpoint(opts.outDir, state, learner, demos, preDemos);
  }
  if (opts.outDir) await writeCurve(opts.outDir, state);
  return {
    state,
    policy,
    learner,
    demos,
    dispose: () => {
      learner.dispose();
      if (preDemoTensors) {
        preDemoTensors.obs.dispose();
        preDemoTensors.actions.dispose();
      }
    },
  };
}

/** D* rows of expert rollouts: the expert's labels where the rollouts carry them, else the actions taken. */
function expertDemos(trajs: Trajectory[], mode: ObsMode): TaskDemos {
  return toTaskDemos(trajs, mode, trajs[0]?.expertActions ? 'expert' : 'actions');
}

function demoTensors(d: TaskDemos, obsDim: number, actDim: number): { obs: tf.Tensor2D; actions: tf.Tensor2D } {
  const m = d.actions.length / actDim;
  return { obs: tf.tensor2d(d.obs, [m, obsDim]), actions: tf.tensor2d(d.actions, [m, actDim]) };
}

/**
 * θ and α of a checkpoint for a run whose policy differs from it (`initFromConfig` allows two changes):
 * - one more input (the door angle, appended to the state): the first layer gains a zero row for
 *   it, so the policy acts exactly as before until meta-training moves that row; its step sizes
 *   start, per hidden unit, at the mean of the handle rows' (inputs 3–5: the angle is a function of
 *   the handle's position);
 * - `mlp` → `mlp-biasAda`: the same θ; only z adapts, its α starting afresh at the new config's
 *   initial step size (the checkpoint's α of z was learned for a step of every parameter).
 * The caller disposes the result.
 */
export function convertPolicy(from: PolicyConfig, to: PolicyConfig, params: Params, stepSizes: Params): { params: Params; stepSizes: Params } {
  if (from.kind === 'vision' || to.kind === 'vision') throw new Error('convertPolicy: vision policies are not converted');
  const extra = to.obsDim - from.obsDim;
  if (extra !== 0 && extra !== 1) throw new Error(`convertPolicy: observation size ${from.obsDim} → ${to.obsDim}: only one added input (the door angle) is supported`);
  if (extra === 1 && from.obsDim < 6) throw new Error(`convertPolicy: adding the door angle needs the door state (6 values), the checkpoint sees ${from.obsDim}`);
  if (from.kind !== to.kind && !(from.kind === 'mlp' && to.kind === 'mlp-biasAda')) {
    throw new Error(`convertPolicy: a '${from.kind}' policy cannot continue as '${to.kind}' (only mlp → mlp-biasAda)`);
  }
  return tf.tidy(() => {
    const widen = (w: tf.Tensor, row: tf.Tensor): tf.Tensor =>
      tf.concat([tf.slice(w, [0, 0], [from.obsDim, -1]), row, tf.slice(w, [from.obsDim, 0], [-1, -1])], 0);
    const outParams: Params = {};
    for (const [name, v] of Object.entries(params)) {
      outParams[name] = name === 'W0' && extra === 1 ? widen(v, tf.zeros([1, v.shape[1]!])) : tf.clone(v);
    }
    const outAlpha: Params = {};
    if (to.kind === 'mlp-biasAda') {
      outAlpha.z = tf.fill(stepSizes.z.shape, to.initStepSize);
    } else {
      for (const [name, v] of Object.entries(stepSizes)) {
        outAlpha[name] = name === 'W0' && extra === 1 ? widen(v, tf.mean(tf.slice(v, [3, 0], [3, -1]), 0, true)) : tf.clone(v);
      }
    }
    // tidy keeps the tensors it returns, nested ones included
    return { params: outParams, stepSizes: outAlpha };
  });
}

/**
 * The config of a run that starts from checkpoint `from`: the checkpoint's policy, task, env and
 * task counts (policy and env changed only as `convertPolicy` allows) (θ and the tasks must fit them; the counts are this run's when it redraws the tasks); everything else (σ handling, Adam, DAgger,
 * imitation terms, iterations) from `c`.
 */
function initFromConfig(c: MetaTrainConfig, from: TrainState, where: string, redraw: boolean, adjust?: InitAdjust): MetaTrainConfig {
  const f = from.config;
  if (f.task !== c.task) throw new Error(`--init-from ${where} was meta-trained on '${f.task}' tasks, this run is '${c.task}'`);
  if (f.obsMode !== c.obsMode) throw new Error(`--init-from ${where} holds a ${f.obsMode} policy, this run trains a ${c.obsMode} one`);
  if (c.iterations <= from.iteration) {
    throw new Error(`--init-from ${where} has already run ${from.iteration} iterations: --iterations counts from its start, so give more than ${from.iteration}`);
  }
  // The changes of policy a checkpoint allows (`convertPolicy`): a full-adaptation MLP continued
  // with only its bias-transformation vector z adapting (`--policy mlp-biasAda`), and a door state
  // policy given the door angle as a further input (`--observe-angle`).
  const toBiasAda = f.policy.kind === 'mlp' && c.policy.kind === 'mlp-biasAda';
  const addAngle = c.envOptions.observeAngle === true && f.envOptions.observeAngle !== true;
  if (addAngle && (f.task !== 'door' || f.obsMode !== 'state')) {
    throw new Error(`--init-from ${where}: the door angle is an input for door state policies; this checkpoint holds a ${f.task} ${f.obsMode} policy`);
  }
  let policy: PolicyConfig = f.policy;
  if (toBiasAda) policy = { ...policy, kind: 'mlp-biasAda', initStepSize: c.policy.initStepSize };
  if (addAngle) policy = { ...policy, obsDim: f.policy.obsDim + 1 };
  if (adjust?.std !== undefined) policy = { ...policy, initStd: adjust.std };
  return {
    ...c,
    envOptions: addAngle ? { ...f.envOptions, observeAngle: true } : f.envOptions,
    policy,
    numTasks: redraw ? c.numTasks : from.tasks.length,
    numHeldOut: redraw ? c.numHeldOut : from.heldOut.length,
    initFrom: {
      checkpoint: where, iteration: from.iteration, envSamples: from.envSamples,
      ...(adjust?.std !== undefined ? { std: adjust.std } : {}),
      ...(adjust?.stepSizeScale !== undefined ? { stepSizeScale: adjust.stepSizeScale } : {}),
    },
  };
}

function meanStepSize(learner: GmpsLearner): number {
  return tf.tidy(() => {
    const all = Object.values(learner.stepSizes).map((v) => tf.reshape(v, [-1]));
    return all.length ? tf.mean(tf.concat(all)).dataSync()[0] : Number.NaN;
  });
}

async function collectExpertData(choice: ExpertChoice, sampler: Sampler, tasks: TaskParams[], c: MetaTrainConfig): Promise<Trajectory[][]> {
  if (choice.kind === 'demos') return expertDataset(choice.source, tasks);
  if (choice.kind === 'agent') return expertDataset({ sampler, expert: choice.expert, rolloutsPerTask: c.demosPerTask }, tasks);
  const noise = rngFor(c.seed, 'expert-noise');
  const { rolloutExpert } = await import('./expert.js');
  return rolloutExpert(sampler, scriptedExpert, tasks, c.demosPerTask, c.expertNoise > 0 ? { noiseStd: c.expertNoise, noiseRng: () => noise.next() } : {});
}

/** DAgger: relabel the adapted policies' visited states with the expert's actions, append to D*. */
async function aggregate(demos: TaskDemos[], post: Trajectory[][], expert: Expert, mode: ObsMode): Promise<void> {
  for (let i = 0; i < demos.length; i++) {
    const labelled = await labelWithExpert(expert, post[i]);
    const extra = toTaskDemos(labelled, mode, 'expert');
    demos[i] = { obs: concat(demos[i].obs, extra.obs), actions: concat(demos[i].actions, extra.actions) };
  }
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Checkpoints: the `model.json` + weights file of checkpoint.ts (atomic writes, SHA-256 checked on
// load). `gmps.extra` holds the TrainState (config, progress, tasks, curve) and the number of D*
// tasks; D* is among the weights as `extra/demos/<i>/actions` and `extra/demos/<i>/obs`, or for
// vision rows `extra/demos/<i>/images` + `extra/demos/<i>/hands`. Directories written before hold
// `checkpoint.json` (format 'gmps-meta-checkpoint/1', no checksum): still read, never written; the
// next save there replaces them with model.json.

const LEGACY_FORMAT = 'gmps-meta-checkpoint/1';
const LEGACY_JSON = 'checkpoint.json';
const NO_TRAIN_STATE =
  'holds no meta-training state (gmps.extra.trainState): adapt, eval and resume need a checkpoint written by `gmps meta-train --out <dir>`';

interface LegacyCheckpointJson {
  format: string;
  state: TrainState;
  adamStep: number;
  numDemoTasks: number;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** What meta-training keeps in model.json's `gmps.extra`. */
type MetaTrainExtra = { task: TaskKind; trainState: TrainState; numDemoTasks: number };

/**
 * Writes a meta-training checkpoint. The pre-update imitation task's demonstrations (`preDemos`),
 * when the run has them, are stored after the training tasks' D* (demos/<T>/...).
 */
export async function saveCheckpoint(
  dir: string,
  state: TrainState,
  learner: GmpsLearner,
  taskDemos: readonly TaskDemos[],
  preDemos?: TaskDemos,
): Promise<void> {
  const demos = preDemos ? [...taskDemos, preDemos] : taskDemos;
  const d = state.config.policy.actDim;
  const o = state.config.policy.obsDim;
  const vision = state.config.obsMode === 'vision' ? state.config.policy.vision : undefined;
  const extraWeights: Record<string, tf.Tensor | QuantizedWeight> = {};
  const owned: tf.Tensor[] = [];
  const float = (name: string, values: Float32Array, rows: number, cols: number): void => {
    const t = tf.tensor2d(values, [rows, cols]);
    owned.push(t);
    extraWeights[name] = t;
  };
  try {
    // Vision demo rows are image bytes / 255 + hand xyz: their image part is stored as uint8 (exact
    // since every value is k/255), a quarter of the float32 size.
    demos.forEach((t, i) => {
      const m = t.actions.length / d;
      const px = vision ? o - vision.handDim : 0;
      const q = vision ? quantizeImageRows(t.obs, m, o, px) : undefined;
      if (q) {
        extraWeights[`demos/${i}/images`] = { shape: [m, px], bytes: q, scale: 1 / 255, min: 0 };
        const hands = new Float32Array(m * (o - px));
        for (let r = 0; r < m; r++) hands.set(t.obs.subarray(r * o + px, (r + 1) * o), r * (o - px));
        float(`demos/${i}/hands`, hands, m, o - px);
      } else {
        float(`demos/${i}/obs`, t.obs, m, o);
      }
      float(`demos/${i}/actions`, t.actions, m, d);
    });
    const extra: MetaTrainExtra = { task: state.config.task, trainState: state, numDemoTasks: demos.length };
    await writeCheckpoint(dir, learner, { seed: state.config.seed, iteration: state.iteration, extra, extraWeights });
  } finally {
    owned.forEach((t) => t.dispose());
  }
  // A checkpoint.json of an earlier version in this directory is now stale.
  for (const f of await readdir(dir)) {
    if (f === LEGACY_JSON || f === `${LEGACY_JSON}.tmp` || /^weights-\d{5}\.bin(\.tmp)?$/.test(f)) await rm(path.join(dir, f), { force: true });
  }
}

/** `keepBest`: writes θ and α (as evaluated at `point`) to `<outDir>/best` when the point beats the best so far. */
async function keepIfBest(opts: MetaTrainOptions, state: TrainState, learner: GmpsLearner, point: CurvePoint): Promise<void> {
  if (!opts.keepBest || !opts.outDir) return;
  const by = opts.keepBestBy ?? 'return';
  const score = selectionScore(point, by);
  const comparable = state.best && (state.best.by ?? 'return') === by;
  if (!Number.isFinite(score) || (comparable && state.best!.score >= score)) return;
  state.best = { iteration: point.iteration, score, by };
  await saveCheckpoint(path.join(opts.outDir, BEST_DIR), state, learner, []);
  await writeCurve(path.join(opts.outDir, BEST_DIR), state);
}

/**
 * Copies a meta-training checkpoint for shipping: θ, α, the config, tasks and learning curve, and
 * the curve files; without D* and the Adam state, so it adapts and evaluates but does not resume
 * (a vision run's D* of camera frames is hundreds of MB). Returns the path of the new model.json.
 */
export async function exportCheckpoint(from: string, to: string): Promise<string> {
  // θ and α only: D* stays encoded (loadCheckpoint would unpack every demo row just to drop it).
  const ck = await readAnyCheckpoint(from);
  let learner: GmpsLearner;
  let state: TrainState;
  try {
    state = trainStateOf(ck.file, (ck.meta.extra as Partial<MetaTrainExtra> | undefined)?.trainState);
    learner = new GmpsLearner(ck.policy, { params: ck.params, stepSizes: ck.stepSizes }, learnerOptions(state.config));
  } finally {
    ck.dispose();
  }
  try {
    await saveCheckpoint(to, state, learner, []);
  } finally {
    learner.dispose();
  }
  const srcDir = checkpointDir(from);
  for (const f of ['curve.json', 'curve.svg', 'curve.html']) {
    if (existsSync(path.join(srcDir, f))) await copyFile(path.join(srcDir, f), path.join(to, f));
  }
  return path.join(to, MODEL_JSON);
}

/** Frees the tensors a loaded checkpoint holds (θ, α, Adam slots) once they have been copied or are not needed. */
export function disposeLoaded(ck: Pick<LoadedCheckpoint, 'params' | 'stepSizes' | 'adamSlots'>): void {
  disposeParams(ck.params);
  disposeParams(ck.stepSizes);
  for (const t of Object.values(ck.adamSlots)) t.dispose();
}

export interface LoadedCheckpoint {
  state: TrainState;
  policy: GmpsPolicy;
  params: Params;
  stepSizes: Params;
  adamStep: number;
  adamSlots: Record<string, tf.Tensor>;
  demos: TaskDemos[];
  /** The pre-update imitation task's demonstrations (config.preImitationTask), when saved. */
  preDemos?: TaskDemos;
}

/**
 * The checkpoint file to read: the JSON path given, or in a directory its model.json, else a
 * `checkpoint.json` of an earlier version (`legacy`).
 */
export function checkpointFile(where: string): { file: string; legacy: boolean } {
  if (where.endsWith('.json')) return { file: where, legacy: path.basename(where) === LEGACY_JSON };
  const model = path.join(where, MODEL_JSON);
  if (existsSync(model)) return { file: model, legacy: false };
  const legacy = path.join(where, LEGACY_JSON);
  if (existsSync(legacy)) return { file: legacy, legacy: true };
  throw new CheckpointError(`no GMPS checkpoint at ${where}: expected ${model} (write one with \`gmps meta-train --out <dir>\`)`);
}

async function readLegacyJson(file: string): Promise<LegacyCheckpointJson> {
  const json = (await readJsonFile(file, 'checkpoint')) as LegacyCheckpointJson | null;
  if (json?.format !== LEGACY_FORMAT) {
    throw new CheckpointError(`${file}: not a GMPS meta-training checkpoint (format '${String(json?.format)}', expected '${LEGACY_FORMAT}')`);
  }
  return json;
}

export function trainStateOf(file: string, state: TrainState | undefined): TrainState {
  if (!state || typeof state !== 'object' || !state.config?.policy) throw new CheckpointError(`${file}: ${NO_TRAIN_STATE}`);
  return state;
}

/** A legacy checkpoint.json read into the current shape (its D* weights become `extra/demos/...`). */
async function readLegacyCheckpoint(file: string): Promise<ModelCheckpoint> {
  const json = await readLegacyJson(file);
  const state = trainStateOf(file, json.state);
  if (!Number.isInteger(json.adamStep) || !Number.isInteger(json.numDemoTasks)) {
    throw new CheckpointError(`${file}: the Adam step or the number of demonstration tasks is missing`);
  }
  const c = state.config;
  const policy = checkpointPolicy(file, c.policy);
  const group = json.weightsManifest?.[0];
  const weights = Array.isArray(group?.weights) ? group.weights.map((w) => (w.name?.startsWith('demos/') ? { ...w, name: `extra/${w.name}` } : w)) : group?.weights;
  const all = await readWeightsFile(file, group && { ...group, weights }, undefined);
  const sorted = sortWeights(file, policy, all);
  const extra: MetaTrainExtra = { task: c.task, trainState: state, numDemoTasks: json.numDemoTasks };
  return {
    meta: {
      policy: c.policy,
      seed: c.seed,
      iteration: state.iteration,
      adam: { options: { ...ADAM_DEFAULTS, lr: c.lr }, step: json.adamStep },
      importanceWeights: true,
      codeVersion: { package: 'unknown' },
      createdAt: (await stat(file)).mtime.toISOString(),
      extra,
    },
    policy,
    ...sorted,
    dispose: () => Object.values(all).forEach((t) => t.dispose()),
  };
}

/**
 * Reads any GMPS checkpoint (directory, model.json or a legacy checkpoint.json) with the checks of
 * checkpoint.ts; meta-training state, when there is some, is in `meta.extra.trainState`.
 */
export async function readAnyCheckpoint(where: string): Promise<ModelCheckpoint & { file: string }> {
  const { file, legacy } = checkpointFile(where);
  const ck = legacy ? await readLegacyCheckpoint(file) : await readCheckpoint(file);
  return { ...ck, file };
}

/** The meta-training config of a checkpoint, from its JSON alone (the weights are not read). */
export async function readTrainConfig(where: string): Promise<MetaTrainConfig> {
  const { file, legacy } = checkpointFile(where);
  const state = legacy ? (await readLegacyJson(file)).state : ((await readModelJson(file)).gmps.extra as Partial<MetaTrainExtra> | undefined)?.trainState;
  return trainStateOf(file, state).config;
}

/** Reads a checkpoint directory (or its model.json / legacy checkpoint.json path). Caller disposes the tensors. */
export async function loadCheckpoint(where: string): Promise<LoadedCheckpoint> {
  const ck = await readAnyCheckpoint(where);
  let state: TrainState;
  let demos: TaskDemos[];
  try {
    const extra = ck.meta.extra as Partial<MetaTrainExtra> | undefined;
    state = trainStateOf(ck.file, extra?.trainState);
    demos = demosFromWeights(ck.file, ck.extraWeights, extra!.numDemoTasks, state.config);
  } catch (err) {
    ck.dispose();
    throw err;
  }
  Object.values(ck.extraWeights).forEach((t) => t.dispose());
  // A run with a pre-update imitation task stores its demonstrations after the tasks' D*.
  const preDemos = state.config.preImitationTask && demos.length === state.tasks.length + 1 ? demos.pop() : undefined;
  return {
    state,
    policy: ck.policy,
    params: ck.params,
    stepSizes: ck.stepSizes,
    adamStep: ck.meta.adam.step,
    adamSlots: ck.adamSlots,
    demos,
    ...(preDemos ? { preDemos } : {}),
  };
}

type DemoPart = { data: Float32Array; cols: number };

/** D* from the `demos/<i>/...` extra weights: actions, and obs or images + hands, row counts matching. */
function demosFromWeights(file: string, weights: Record<string, tf.Tensor>, n: unknown, c: MetaTrainConfig): TaskDemos[] {
  const bad = (why: string): never => {
    throw new CheckpointError(`${file}: ${why}`);
  };
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) bad(`the number of demonstration tasks is ${String(n)}, expected an integer >= 0`);
  const count = n as number;
  const parts = Array.from({ length: count }, () => ({}) as Partial<Record<'obs' | 'actions' | 'images' | 'hands', tf.Tensor>>);
  for (const [name, t] of Object.entries(weights)) {
    const m = /^demos\/(\d+)\/(obs|actions|images|hands)$/.exec(name);
    if (!m || Number(m[1]) >= count) bad(`unexpected weight 'extra/${name}'`);
    parts[Number(m![1])][m![2] as 'obs'] = t;
  }
  const { obsDim: o, actDim: d } = c.policy;
  return parts.map((p, i) => {
    const rows = p.actions?.shape[0] ?? 0;
    const part = (what: 'obs' | 'actions' | 'images' | 'hands', cols: number | undefined): DemoPart => {
      const t = p[what];
      if (!t) bad(`the demonstrations of task ${i} lack '${what}'`);
      if (t!.rank !== 2 || t!.shape[0] !== rows || (cols !== undefined && t!.shape[1] !== cols)) {
        bad(`the demonstrations of task ${i}: '${what}' has shape [${t!.shape}], expected [${rows}, ${cols ?? 'n'}]`);
      }
      return { data: t!.dataSync() as Float32Array, cols: t!.shape[1] ?? 0 };
    };
    const actions = part('actions', d).data;
    if (p.obs || !p.images) return { obs: part('obs', o).data, actions };
    const images = part('images', undefined);
    return { obs: joinColumns(images, part('hands', o - images.cols)), actions };
  });
}

/** The uint8 image columns [0, px) of m rows of width w, or undefined when they are not all k/255. */
function quantizeImageRows(obs: Float32Array, m: number, w: number, px: number): Uint8Array | undefined {
  const q = new Uint8Array(m * px);
  for (let r = 0; r < m; r++) {
    for (let k = 0; k < px; k++) {
      const v = obs[r * w + k] * 255;
      const b = Math.round(v);
      if (!(b >= 0 && b <= 255) || Math.abs(v - b) > 1e-3) return undefined;
      q[r * px + k] = b;
    }
  }
  return q;
}

function joinColumns(a: DemoPart, b: DemoPart): Float32Array {
  const m = a.cols ? a.data.length / a.cols : 0;
  const w = a.cols + b.cols;
  const out = new Float32Array(m * w);
  for (let r = 0; r < m; r++) {
    out.set(a.data.subarray(r * a.cols, (r + 1) * a.cols), r * w);
    out.set(b.data.subarray(r * b.cols, (r + 1) * b.cols), r * w + a.cols);
  }
  return out;
}

/** Learning curves next to the checkpoint: curve.json, curve.svg, curve.html. */
export async function writeCurve(dir: string, state: TrainState): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'curve.json'), `${JSON.stringify({ curve: state.curve, iterations: state.iterations, expertReturn: state.expertReturn }, null, 1)}\n`);
  if (state.curve.length === 0) return;
  const x = state.curve.map((p) => p.envSamples);
  const series = [
    { name: 'train pre-update', x, y: state.curve.map((p) => p.train.preReturn) },
    { name: 'train post-update', x, y: state.curve.map((p) => p.train.postReturn) },
  ];
  if (state.curve.every((p) => p.heldOut)) {
    series.push({ name: 'held-out pre-update', x, y: state.curve.map((p) => p.heldOut!.preReturn) });
    series.push({ name: 'held-out post-update', x, y: state.curve.map((p) => p.heldOut!.postReturn) });
  }
  series.push({ name: 'expert', x, y: state.curve.map(() => state.expertReturn) });
  await writeLearningCurves(path.join(dir, 'curve'), {
    title: `GMPS meta-training (${state.config.task})`,
    xLabel: 'environment samples',
    yLabel: 'average return',
    series,
  });
}

// ---------------------------------------------------------------------------------------------
// Demonstration files (JSON): expert rollouts saved by `gmps train-experts`, read back as a
// `DemonstrationSource` for meta-training.

const DEMOS_FORMAT = 'gmps-demos/1';

export async function saveDemonstrations(file: string, groups: readonly Trajectory[][], meta: Record<string, unknown> = {}): Promise<void> {
  const trajectories = groups.flat().map((tr) => ({
    task: tr.task,
    context: Array.from(tr.context),
    length: tr.length,
    stateDim: tr.stateDim,
    actionDim: tr.actionDim,
    states: Array.from(tr.states),
    hands: Array.from(tr.hands),
    actions: Array.from(tr.actions),
    ...(tr.expertActions ? { expertActions: Array.from(tr.expertActions) } : {}),
    rewards: Array.from(tr.rewards),
    success: Array.from(tr.envInfos.success ?? []),
  }));
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify({ format: DEMOS_FORMAT, ...meta, trajectories }));
  await rename(`${file}.tmp`, file);
}

export async function loadDemonstrations(file: string): Promise<DemonstrationSource> {
  let json: { format?: string; trajectories?: Record<string, unknown>[] };
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read demonstrations ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (json.format !== DEMOS_FORMAT || !Array.isArray(json.trajectories)) {
    throw new Error(`${file} is not a GMPS demonstration file (expected format '${DEMOS_FORMAT}')`);
  }
  const f32 = (x: unknown) => Float32Array.from(x as number[]);
  const trajs: Trajectory[] = json.trajectories.map((t) => {
    const length = t.length as number;
    const stateDim = t.stateDim as number;
    const states = f32(t.states);
    return {
      task: t.task as TaskParams,
      context: Float64Array.from(t.context as number[]),
      length,
      stateDim,
      actionDim: t.actionDim as number,
      states,
      hands: f32(t.hands),
      actions: f32(t.actions),
      ...(t.expertActions ? { expertActions: f32(t.expertActions) } : {}),
      rewards: Float64Array.from(t.rewards as number[]),
      envInfos: { success: Float64Array.from(t.success as number[]) },
      agentInfos: {},
      finalState: states.slice((length - 1) * stateDim),
      finalHand: f32(t.hands).slice((length - 1) * 3),
      terminated: true,
    };
  });
  const { inMemoryDemonstrations } = await import('./expert.js');
  return inMemoryDemonstrations(trajs);
}
