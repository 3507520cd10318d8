/**
 * MAESN (Gupta et al. 2018), model-agnostic exploration with structured noise: a policy
 * π_θ(a | s, z) whose latent z is drawn once per episode from a per-task Gaussian N(μ_i, σ_i²).
 * The latent distribution of each training task is meta-learned with θ, MAML-style: the inner
 * step adapts only (μ_i, log σ_i) by a policy gradient on pre-update episodes,
 *
 *   μ_i'     = μ_i     + α_μ ⊙ ∇_μ J_i,       J_i = (1/n_i) Σ_t A_t log π_θ(a_t | s_t, μ_i + σ_i ⊙ ε_e(t))
 *   log σ_i' = log σ_i + α_σ ⊙ ∇_{log σ} J_i     (z reparameterised; ε fixed per episode)
 *
 * and the outer step maximises the post-update surrogate over θ, μ_i, log σ_i and the learned
 * step sizes α, with the exact second-order gradient (the inner gradient is a hand-written backward
 * pass through the MLP made of differentiable ops), plus β·KL(N(μ_i, σ_i²) ‖ N(0, I)) so that a new
 * task can start from the unit prior. Meta-test: z ~ N(0, I) explores, the same inner step adapts
 * the latent distribution (θ fixed), and the adapted latent acts.
 *
 * Deviation from the paper: the outer step is Adam on the post-update surrogate (MAML-VPG), not TRPO.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import type { TaskParams } from '../../sim/types.js';
import { computeAdvantages } from './advantages.js';
import { Rng } from './rng.js';
import type { ActFn, Sampler } from './sampler.js';
import { rowsOf, stackField, stepsOf, succeeded, undiscountedReturn, type Trajectory } from './trajectory.js';

export interface MaesnConfig {
  hidden: number[];
  latentDim: number;
  /** Episodes per task before and after the inner step. */
  episodesPerTask: number;
  /** Training tasks per meta-step (all of them when larger). */
  metaBatch: number;
  /** Initial inner step sizes for μ and log σ (meta-learned per latent dimension). */
  initStepSize: number;
  learnStepSizes: boolean;
  /** β, weight of the mean KL of the pre-update latent distributions to N(0, I). */
  klWeight: number;
  outerLr: number;
  gamma: number;
  initLogStd: number;
  seed: number;
}

/** GMPS's (100, 100) policy; latent size from the GMPS sweep (2 or 4). */
export const MAESN_DEFAULTS: MaesnConfig = {
  hidden: [100, 100],
  latentDim: 2,
  episodesPerTask: 20,
  metaBatch: 20,
  initStepSize: 0.5,
  learnStepSizes: true,
  klWeight: 0.1,
  outerLr: 1e-3,
  gamma: 0.99,
  initLogStd: 0,
  seed: 0,
};

const LOG_2PI = Math.log(2 * Math.PI);
let nextAgentId = 0;

/**
 * One-hot [T x n] of row → group: M·X sums rows per group, Mᵀ·Y gathers group rows. (Products
 * instead of gather: the wasm backend has no kernel for gather's gradient.)
 */
function oneHot(groupOfRow: ArrayLike<number>, T: number): tf.Tensor2D {
  const n = groupOfRow.length;
  const m = new Float32Array(T * n);
  for (let r = 0; r < n; r++) m[groupOfRow[r] * n + r] = 1;
  return tf.tensor2d(m, [T, n]);
}

/** Rows of one batch of episodes: task index and latent noise per row. */
interface LatentBatch {
  /** [n x S] */
  states: Float32Array;
  /** [n x A] */
  actions: Float32Array;
  /** [n] advantage / rows of its task. */
  coef: Float32Array;
  /** [n] position of the row's task in the meta-batch. */
  taskOfRow: Int32Array;
  /** [n x L] the episode's ε. */
  eps: Float32Array;
}

export interface MaesnStepStats {
  preReturn: number;
  postReturn: number;
  loss: number;
  kl: number;
}

export class Maesn {
  readonly name = 'maesn';
  readonly config: MaesnConfig;
  envSteps = 0;
  readonly theta: tf.Variable[];
  readonly latentMean: tf.Variable;
  readonly latentLogStd: tf.Variable;
  readonly stepMean: tf.Variable;
  readonly stepLogStd: tf.Variable;
  private readonly rng: Rng;
  private readonly opt: tf.Optimizer;
  private readonly layers: number;

  constructor(
    readonly dims: { stateDim: number; actionDim: number },
    readonly numTasks: number,
    config: Partial<MaesnConfig> = {},
  ) {
    this.config = { ...MAESN_DEFAULTS, ...config };
    const c = this.config;
    for (const [k, v] of Object.entries({ latentDim: c.latentDim, episodesPerTask: c.episodesPerTask, metaBatch: c.metaBatch, numTasks })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`MAESN ${k} must be a positive integer, got ${v}`);
    }
    const { stateDim: S, actionDim: A } = dims;
    const L = c.latentDim;
    this.rng = new Rng(c.seed);
    const init = this.rng.fork();
    const id = `maesn${nextAgentId++}`;
    const sizes = [S + L, ...c.hidden, A];
    this.layers = sizes.length - 1;
    this.theta = [];
    for (let l = 0; l < this.layers; l++) {
      const [fi, fo] = [sizes[l], sizes[l + 1]];
      const limit = Math.sqrt(6 / (fi + fo));
      this.theta.push(tf.variable(tf.tensor2d(Float32Array.from({ length: fi * fo }, () => init.uniform(-limit, limit)), [fi, fo]), true, `${id}/W${l}`));
    }
    for (let l = 0; l < this.layers; l++) this.theta.push(tf.variable(tf.zeros([sizes[l + 1]]), true, `${id}/b${l}`));
    this.theta.push(tf.variable(tf.fill([A], c.initLogStd), true, `${id}/logStd`));
    this.latentMean = tf.variable(tf.zeros([numTasks, L]), true, `${id}/latentMean`);
    this.latentLogStd = tf.variable(tf.zeros([numTasks, L]), true, `${id}/latentLogStd`);
    this.stepMean = tf.variable(tf.fill([L], c.initStepSize), c.learnStepSizes, `${id}/stepMean`);
    this.stepLogStd = tf.variable(tf.fill([L], c.initStepSize), c.learnStepSizes, `${id}/stepLogStd`);
    this.opt = tf.train.adam(c.outerLr);
  }

  private W(l: number): tf.Tensor2D {
    return this.theta[l] as tf.Tensor2D;
  }
  private b(l: number): tf.Tensor1D {
    return this.theta[this.layers + l] as tf.Tensor1D;
  }
  private get logStd(): tf.Tensor1D {
    return this.theta[2 * this.layers] as tf.Tensor1D;
  }

  /** Mean action and the pre-activations of every hidden layer, for rows [s, z]. */
  private forward(x: tf.Tensor2D): { mean: tf.Tensor2D; pre: tf.Tensor2D[] } {
    const pre: tf.Tensor2D[] = [];
    let h = x;
    for (let l = 0; l < this.layers; l++) {
      const y = tf.add(tf.matMul(h, this.W(l)), this.b(l)) as tf.Tensor2D;
      if (l + 1 < this.layers) {
        pre.push(y);
        h = tf.relu(y);
      } else {
        h = y;
      }
    }
    return { mean: h, pre };
  }

  /** log π(a | s, z) per row and ∂(coef·log π)/∂z per row [n x L] (closed form, differentiable). */
  private logProbAndLatentGrad(s: tf.Tensor2D, z: tf.Tensor2D, a: tf.Tensor2D, coef: tf.Tensor1D): { logp: tf.Tensor1D; gz: tf.Tensor2D } {
    const S = this.dims.stateDim;
    const L = this.config.latentDim;
    const { mean, pre } = this.forward(tf.concat([s, z], 1) as tf.Tensor2D);
    const logStd = this.logStd;
    const invVar = tf.exp(tf.mul(logStd, -2));
    const diff = tf.sub(a, mean);
    const d = mean.shape[1];
    const logp = tf.sub(tf.mul(tf.sum(tf.mul(tf.square(diff), invVar), 1), -0.5), tf.add(tf.sum(logStd), 0.5 * d * LOG_2PI)) as tf.Tensor1D;
    let delta = tf.mul(tf.reshape(coef, [-1, 1]), tf.mul(diff, invVar)) as tf.Tensor2D;
    for (let l = this.layers - 1; l >= 1; l--) {
      delta = tf.mul(tf.matMul(delta, this.W(l), false, true), tf.step(pre[l - 1])) as tf.Tensor2D;
    }
    const w0z = tf.slice(this.W(0), [S, 0], [L, -1]) as tf.Tensor2D;
    return { logp, gz: tf.matMul(delta, w0z, false, true) as tf.Tensor2D };
  }

  /** The inner step for a meta-batch: latent distributions [T x L] → adapted ones. */
  innerStep(mean: tf.Tensor2D, logStd: tf.Tensor2D, batch: LatentBatch): { mean: tf.Tensor2D; logStd: tf.Tensor2D } {
    const T = mean.shape[0];
    const n = batch.taskOfRow.length;
    const L = this.config.latentDim;
    const eps = tf.tensor2d(batch.eps, [n, L]);
    const M = oneHot(batch.taskOfRow, T);
    const stdRows = tf.matMul(M, tf.exp(logStd), true, false);
    const z = tf.add(tf.matMul(M, mean, true, false), tf.mul(stdRows, eps)) as tf.Tensor2D;
    const { gz } = this.logProbAndLatentGrad(
      tf.tensor2d(batch.states, [n, this.dims.stateDim]),
      z,
      tf.tensor2d(batch.actions, [n, this.dims.actionDim]),
      tf.tensor1d(batch.coef),
    );
    const gMean = tf.matMul(M, gz);
    const gLogStd = tf.matMul(M, tf.mul(gz, tf.mul(stdRows, eps)));
    return {
      mean: tf.add(mean, tf.mul(this.stepMean, gMean)) as tf.Tensor2D,
      logStd: tf.add(logStd, tf.mul(this.stepLogStd, gLogStd)) as tf.Tensor2D,
    };
  }

  /** Acts with z_r = μ + σ ⊙ ε_r for rollout r (rows of `mean`, `logStd` per rollout). */
  private actWithLatents(latents: Float32Array[]): ActFn {
    const { stateDim: S, actionDim: A } = this.dims;
    const L = this.config.latentDim;
    return (batch) => {
      const n = batch.observations.length;
      const x = new Float32Array(n * (S + L));
      batch.observations.forEach((o, i) => {
        if (o.state.length !== S) throw new Error(`MAESN expects ${S}-D states, got ${o.state.length}`);
        x.set(o.state, i * (S + L));
        x.set(latents[batch.rollouts[i]], i * (S + L) + S);
      });
      const actions = tf.tidy(() => {
        const mean = this.forward(tf.tensor2d(x, [n, S + L])).mean;
        const noise = tf.tensor2d(this.rng.fillNormal(new Float32Array(n * A)), [n, A]);
        return tf.add(mean, tf.mul(noise, tf.exp(this.logStd))).dataSync() as Float32Array;
      });
      return { actions };
    };
  }

  /** K episodes per task with latents drawn from the given per-task distributions ([T x L] each). */
  private async sampleLatent(sampler: Sampler, tasks: readonly TaskParams[], mean: Float32Array, logStd: Float32Array, count: boolean): Promise<{ groups: Trajectory[][]; eps: Float32Array[] }> {
    const K = this.config.episodesPerTask;
    const L = this.config.latentDim;
    const eps: Float32Array[] = [];
    const latents: Float32Array[] = [];
    tasks.forEach((_, i) => {
      for (let k = 0; k < K; k++) {
        const e = this.rng.fillNormal(new Float32Array(L));
        eps.push(e);
        latents.push(e.map((v, d) => mean[i * L + d] + Math.exp(logStd[i * L + d]) * v));
      }
    });
    const groups = await sampler.sample({ tasks, rolloutsPerTask: K, act: this.actWithLatents(latents) });
    if (count) this.envSteps += stepsOf(groups);
    return { groups, eps };
  }

  /** Rows of a meta-batch's episodes with per-task normalised advantages. */
  private toBatch(groups: Trajectory[][], eps: Float32Array[]): LatentBatch {
    const K = this.config.episodesPerTask;
    const L = this.config.latentDim;
    const all = groups.flat();
    const n = rowsOf(all);
    const coef = new Float32Array(n);
    const taskOfRow = new Int32Array(n);
    const epsRows = new Float32Array(n * L);
    let row = 0;
    groups.forEach((trs, i) => {
      const adv = computeAdvantages(trs, { gamma: this.config.gamma }).flat;
      const ni = adv.length;
      adv.forEach((v, j) => {
        coef[row + j] = v / ni;
        taskOfRow[row + j] = i;
      });
      let r = row;
      trs.forEach((tr, k) => {
        for (let t = 0; t < tr.length; t++, r++) epsRows.set(eps[i * K + k], r * L);
      });
      row += ni;
    });
    return {
      states: stackField(all, (tr) => tr.states, 'states'),
      actions: stackField(all, (tr) => tr.actions, 'actions'),
      coef,
      taskOfRow,
      eps: epsRows,
    };
  }

  /** One meta-step on the training tasks `which` (indices into the task list). */
  async metaStep(sampler: Sampler, tasks: readonly TaskParams[], which: readonly number[]): Promise<MaesnStepStats> {
    if (tasks.length !== this.numTasks) throw new Error(`MAESN was built for ${this.numTasks} training tasks, got ${tasks.length}`);
    const T = which.length;
    const pick = tf.keep(tf.transpose(oneHot(which, this.numTasks))) as tf.Tensor2D; // [T x numTasks]: rows of the meta-batch
    const [mu0, ls0] = tf.tidy(() => [tf.matMul(pick, this.latentMean).dataSync() as Float32Array, tf.matMul(pick, this.latentLogStd).dataSync() as Float32Array]);
    const metaTasks = which.map((k) => tasks[k]);
    const pre = await this.sampleLatent(sampler, metaTasks, mu0, ls0, true);
    const preBatch = this.toBatch(pre.groups, pre.eps);
    const [mu1, ls1] = tf.tidy(() => {
      const q = this.innerStep(tf.matMul(pick, this.latentMean), tf.matMul(pick, this.latentLogStd), preBatch);
      return [q.mean.dataSync() as Float32Array, q.logStd.dataSync() as Float32Array];
    });
    const post = await this.sampleLatent(sampler, metaTasks, mu1, ls1, true);
    const postBatch = this.toBatch(post.groups, post.eps);
    const S = this.dims.stateDim;
    const A = this.dims.actionDim;
    const L = this.config.latentDim;
    const n = postBatch.taskOfRow.length;
    let klValue = 0;
    const vars = [...this.theta, this.latentMean, this.latentLogStd, ...(this.config.learnStepSizes ? [this.stepMean, this.stepLogStd] : [])];
    const loss = tf.tidy(() => {
      const sPost = tf.tensor2d(postBatch.states, [n, S]);
      const aPost = tf.tensor2d(postBatch.actions, [n, A]);
      const cPost = tf.tensor1d(postBatch.coef);
      const epsPost = tf.tensor2d(postBatch.eps, [n, L]);
      const rows = tf.transpose(oneHot(postBatch.taskOfRow, T)) as tf.Tensor2D; // [n x T]
      const { value, grads } = tf.variableGrads(() => {
        const mean = tf.matMul(pick, this.latentMean) as tf.Tensor2D;
        const logStd = tf.matMul(pick, this.latentLogStd) as tf.Tensor2D;
        const q = this.innerStep(mean, logStd, preBatch);
        const z = tf.add(tf.matMul(rows, q.mean), tf.mul(tf.matMul(rows, tf.exp(q.logStd)), epsPost)) as tf.Tensor2D;
        const { logp } = this.logProbAndLatentGrad(sPost, z, aPost, cPost);
        const surrogate = tf.div(tf.sum(tf.mul(cPost, logp)), T);
        const kl = tf.mean(tf.sum(tf.mul(0.5, tf.sub(tf.add(tf.exp(tf.mul(logStd, 2)), tf.square(mean)), tf.add(1, tf.mul(logStd, 2)))), 1));
        klValue = kl.dataSync()[0];
        return tf.add(tf.neg(surrogate), tf.mul(this.config.klWeight, kl)) as tf.Scalar;
      }, vars);
      this.opt.applyGradients(grads);
      return value.dataSync()[0];
    });
    pick.dispose();
    const meanRet = (g: Trajectory[][]) => g.flat().reduce((s, tr) => s + undiscountedReturn(tr), 0) / g.flat().length;
    return { preReturn: meanRet(pre.groups), postReturn: meanRet(post.groups), loss, kl: klValue };
  }

  /**
   * Meta-test on new tasks: explore with z ~ N(0, I), adapt the latent distribution with
   * `innerSteps` inner steps (θ fixed; fresh episodes before each), then act with the adapted latent.
   * Env steps are reported, not added to `envSteps`.
   */
  async adapt(sampler: Sampler, tasks: readonly TaskParams[], innerSteps = 1): Promise<MaesnEvaluation> {
    const L = this.config.latentDim;
    let mean: Float32Array = new Float32Array(tasks.length * L);
    let logStd: Float32Array = new Float32Array(tasks.length * L);
    const returns: number[] = [];
    const success: number[] = [];
    let envSteps = 0;
    for (let s = 0; s <= innerSteps; s++) {
      const { groups, eps } = await this.sampleLatent(sampler, tasks, mean, logStd, false);
      const all = groups.flat();
      envSteps += rowsOf(all);
      returns.push(all.reduce((acc, tr) => acc + undiscountedReturn(tr), 0) / all.length);
      success.push(all.filter(succeeded).length / all.length);
      if (s === innerSteps) break;
      const batch = this.toBatch(groups, eps);
      [mean, logStd] = tf.tidy(() => {
        const q = this.innerStep(tf.tensor2d(mean, [tasks.length, L]), tf.tensor2d(logStd, [tasks.length, L]), batch);
        return [q.mean.dataSync() as Float32Array, q.logStd.dataSync() as Float32Array];
      });
    }
    return { returnsByStep: returns, successByStep: success, envSteps };
  }

  dispose(): void {
    for (const v of [...this.theta, this.latentMean, this.latentLogStd, this.stepMean, this.stepLogStd]) v.dispose();
    this.opt.dispose();
  }
}

export interface MaesnEvaluation {
  /** Mean episode return before adaptation (index 0) and after each inner step. */
  returnsByStep: number[];
  successByStep: number[];
  envSteps: number;
}

export interface MaesnIterationStats extends MaesnStepStats {
  iteration: number;
  envSteps: number;
}

export interface TrainMaesnOptions {
  sampler: Sampler;
  tasks: readonly TaskParams[];
  iterations: number;
  config?: Partial<MaesnConfig>;
  agent?: Maesn;
  onIteration?: (stats: MaesnIterationStats, agent: Maesn) => void | Promise<void>;
}

export async function trainMaesn(opts: TrainMaesnOptions): Promise<{ agent: Maesn; history: MaesnIterationStats[] }> {
  if (opts.tasks.length === 0) throw new Error('trainMaesn needs at least one task');
  const info = opts.sampler.info;
  const agent = opts.agent ?? new Maesn({ stateDim: info.stateDim, actionDim: info.actionDim }, opts.tasks.length, opts.config);
  const taskRng = new Rng(`maesn-tasks-${agent.config.seed}`);
  const history: MaesnIterationStats[] = [];
  for (let it = 0; it < opts.iterations; it++) {
    const all = opts.tasks.map((_, k) => k);
    // A random subset without replacement when the meta-batch is smaller than the task set.
    for (let i = all.length - 1; i > 0; i--) {
      const j = taskRng.int(i + 1);
      [all[i], all[j]] = [all[j], all[i]];
    }
    const which = all.slice(0, Math.min(agent.config.metaBatch, all.length));
    const s = await agent.metaStep(opts.sampler, opts.tasks, which);
    const stats = { iteration: it, envSteps: agent.envSteps, ...s };
    history.push(stats);
    await opts.onIteration?.(stats, agent);
  }
  return { agent, history };
}
