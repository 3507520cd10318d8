/**
 * PEARL (Rakelly et al. 2019): off-policy meta-RL by probabilistic context inference. A context
 * encoder maps every transition c_n = (s, a, r[, s']) of a task to a Gaussian factor
 * N(μ_n, σ²_n); the posterior over the task latent z is their product,
 *
 *   σ² = 1 / Σ_n σ_n⁻²,   μ = σ² Σ_n μ_n / σ²_n       (the unit-Gaussian prior when n = 0),
 *
 * regularised by β·KL(q(z|c) ‖ N(0, I)). SAC runs on [s, z]: twin Q on [s, a, z] (the critic loss
 * trains the encoder), a tanh-Gaussian policy on [s, z̄] (z̄: z with its gradient stopped).
 * Meta-training keeps two replay buffers per task: the encoder buffer (data collected with z from
 * the prior) feeds context batches, the RL buffer (all data) feeds SAC batches. As in PEARL's code,
 * a task's encoder buffer is emptied before each iteration's prior episodes on it, so context
 * batches come from the current policy, as the context at meta-test does.
 *
 * Meta-test: one or more episodes with z ~ prior collect context, the posterior is inferred from
 * those transitions, then the policy acts deterministically with the posterior mean.
 *
 * Deviation from the paper's code: the V network with its target is replaced by the twin target
 * Q networks of `sac.ts` (the SAC variant with automatic entropy tuning).
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import type { TaskParams } from '../../sim/types.js';
import { fileExists } from './checkpoint-path.js';
import { Rng, type RngState } from './rng.js';
import {
  checkSameSettings,
  learnerArrays,
  type OptimizerMeta,
  readSnapshot,
  restoreLearner,
  type Snapshot,
  type SnapshotArrays,
  SnapshotError,
  type SnapshotOption,
  writeSnapshot,
} from './snapshot.js';
import type { ActFn, Sampler } from './sampler.js';
import { Mlp, ReplayBuffer, type ReplayRows } from './sac.js';
import { rowsOf, stepsOf, succeeded, undiscountedReturn, type Trajectory } from './trajectory.js';

export interface PearlConfig {
  latentDim: number;
  /** Hidden sizes of the policy and of each Q network. */
  hidden: number[];
  encoderHidden: number[];
  /** Feed s' to the encoder too (PEARL default: no). */
  useNextObs: boolean;
  actorLr: number;
  criticLr: number;
  encoderLr: number;
  alphaLr: number;
  gamma: number;
  tau: number;
  rewardScale: number;
  /** β, weight of Σ_tasks KL(q(z|c) ‖ N(0, I)). */
  klWeight: number;
  /** Tasks per gradient step. */
  metaBatch: number;
  /** SAC transitions per task per gradient step. */
  batchSize: number;
  /** Context transitions per task per gradient step. */
  contextBatch: number;
  initialAlpha: number;
  autoEntropy: boolean;
  targetEntropy?: number;
  /** Episodes per training task collected with z ~ prior before training starts. */
  initialEpisodesPerTask: number;
  /** Training tasks visited per iteration. */
  tasksPerIteration: number;
  /** Per visited task: episodes with z ~ prior (into both buffers). */
  priorEpisodes: number;
  /** Per visited task: episodes with z ~ posterior of encoder-buffer context (RL buffer only). */
  posteriorEpisodes: number;
  gradStepsPerIteration: number;
  /** Capacity of each per-task buffer (transitions). */
  replayCapacity: number;
  seed: number;
}

/** PEARL's published defaults, with GMPS's (100, 100) policy and critic sizes. */
export const PEARL_DEFAULTS: PearlConfig = {
  latentDim: 5,
  hidden: [100, 100],
  encoderHidden: [200, 200, 200],
  useNextObs: false,
  actorLr: 3e-4,
  criticLr: 3e-4,
  encoderLr: 3e-4,
  alphaLr: 3e-4,
  gamma: 0.99,
  tau: 0.005,
  rewardScale: 5,
  klWeight: 0.1,
  metaBatch: 16,
  batchSize: 256,
  contextBatch: 100,
  initialAlpha: 1,
  autoEntropy: true,
  initialEpisodesPerTask: 4,
  tasksPerIteration: 5,
  priorEpisodes: 2,
  posteriorEpisodes: 3,
  gradStepsPerIteration: 2000,
  replayCapacity: 1_000_000,
  seed: 0,
};

export interface PearlDims {
  stateDim: number;
  actionDim: number;
}

const LOG_STD_MIN = -5;
const LOG_STD_MAX = 2;
const MIN_FACTOR_VAR = 1e-7;
let nextAgentId = 0;

/** A Gaussian over z per task: mean and variance, each [T x L]. */
export interface LatentGaussian {
  mean: tf.Tensor2D;
  variance: tf.Tensor2D;
}

/**
 * Product of per-transition Gaussian factors, per task: means and variances [T x N x L] →
 * posterior [T x L]. With N = 0 the result is the unit prior.
 */
export function productOfGaussians(means: tf.Tensor3D, variances: tf.Tensor3D): LatentGaussian {
  const [T, N, L] = means.shape;
  if (N === 0) return { mean: tf.zeros([T, L]), variance: tf.ones([T, L]) };
  const precision = tf.reciprocal(tf.maximum(variances, MIN_FACTOR_VAR));
  const variance = tf.reciprocal(tf.sum(precision, 1)) as tf.Tensor2D;
  const mean = tf.mul(variance, tf.sum(tf.mul(means, precision), 1)) as tf.Tensor2D;
  return { mean, variance };
}

/** KL(N(μ, σ²) ‖ N(0, I)) per task [T]. */
export function klToUnitPrior(q: LatentGaussian): tf.Tensor1D {
  const { mean, variance } = q;
  return tf.mul(0.5, tf.sum(tf.sub(tf.add(variance, tf.square(mean)), tf.add(1, tf.log(variance))), 1)) as tf.Tensor1D;
}

/** Strips the privileged context so the replay buffer stores (s, a, r, s') only. */
function withoutContext(tr: Trajectory): Trajectory {
  return { ...tr, context: new Float64Array(0) };
}

export interface PearlLosses {
  critic: number;
  kl: number;
  actor: number;
  alphaValue: number;
}

/** The critics' input row (s, a, z): one layout for the TD target, the critic loss and the actor loss. */
function criticInput(s: tf.Tensor2D, a: tf.Tensor2D, z: tf.Tensor2D): tf.Tensor2D {
  return tf.concat([s, a, z], 1) as tf.Tensor2D;
}

export class Pearl {
  readonly name = 'pearl';
  readonly config: PearlConfig;
  readonly contextDim: number;
  /** Environment steps collected for meta-training. */
  envSteps = 0;
  gradSteps = 0;
  /** Per training task (index into the task list given to `collect`). */
  readonly encoderBuffers: ReplayBuffer[] = [];
  readonly rlBuffers: ReplayBuffer[] = [];
  private readonly rng: Rng;
  private readonly encoder: Mlp;
  private readonly actor: Mlp;
  private readonly q1: Mlp;
  private readonly q2: Mlp;
  private readonly q1Target: Mlp;
  private readonly q2Target: Mlp;
  private readonly logAlpha: tf.Variable;
  private readonly actorOpt: tf.Optimizer;
  private readonly criticOpt: tf.Optimizer;
  private readonly encoderOpt: tf.Optimizer;
  private readonly alphaOpt: tf.Optimizer;
  private readonly targetEntropy: number;

  constructor(
    readonly dims: PearlDims,
    config: Partial<PearlConfig> = {},
  ) {
    this.config = { ...PEARL_DEFAULTS, ...config };
    const c = this.config;
    for (const [k, v] of Object.entries({
      latentDim: c.latentDim,
      metaBatch: c.metaBatch,
      batchSize: c.batchSize,
      contextBatch: c.contextBatch,
      replayCapacity: c.replayCapacity,
      tasksPerIteration: c.tasksPerIteration,
    })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`PEARL ${k} must be a positive integer, got ${v}`);
    }
    for (const [k, v] of Object.entries({
      initialEpisodesPerTask: c.initialEpisodesPerTask,
      priorEpisodes: c.priorEpisodes,
      posteriorEpisodes: c.posteriorEpisodes,
      gradStepsPerIteration: c.gradStepsPerIteration,
    })) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`PEARL ${k} must be a non-negative integer, got ${v}`);
    }
    if (c.priorEpisodes + c.initialEpisodesPerTask === 0) throw new Error('PEARL needs priorEpisodes or initialEpisodesPerTask > 0 to fill the encoder buffers');
    if (!(c.initialAlpha > 0)) throw new Error(`PEARL initialAlpha must be > 0, got ${c.initialAlpha}`);
    if (!(c.klWeight >= 0)) throw new Error(`PEARL klWeight must be >= 0, got ${c.klWeight}`);
    const { stateDim: S, actionDim: A } = dims;
    const L = c.latentDim;
    this.contextDim = S + A + 1 + (c.useNextObs ? S : 0);
    this.rng = new Rng(c.seed);
    const init = this.rng.fork();
    // tfjs variable names are process-global: one prefix per agent.
    const id = `pearl${nextAgentId++}`;
    this.encoder = new Mlp(`${id}/encoder`, [this.contextDim, ...c.encoderHidden, 2 * L], init);
    this.actor = new Mlp(`${id}/actor`, [S + L, ...c.hidden, 2 * A], init);
    const qSizes = [S + A + L, ...c.hidden, 1];
    this.q1 = new Mlp(`${id}/q1`, qSizes, init);
    this.q2 = new Mlp(`${id}/q2`, qSizes, init);
    this.q1Target = new Mlp(`${id}/q1_target`, qSizes, init);
    this.q2Target = new Mlp(`${id}/q2_target`, qSizes, init);
    this.q1Target.copyFrom(this.q1);
    this.q2Target.copyFrom(this.q2);
    this.logAlpha = tf.variable(tf.scalar(Math.log(c.initialAlpha)), true, `${id}/log_alpha`);
    this.targetEntropy = c.targetEntropy ?? -A;
    this.actorOpt = tf.train.adam(c.actorLr);
    this.criticOpt = tf.train.adam(c.criticLr);
    this.encoderOpt = tf.train.adam(c.encoderLr);
    this.alphaOpt = tf.train.adam(c.alphaLr);
  }

  // ---- inference -------------------------------------------------------------------------

  /** Gaussian factors of context rows [T·N x contextDim] → means and variances [T x N x L]. */
  private factors(ctx: tf.Tensor2D, T: number, N: number): { means: tf.Tensor3D; variances: tf.Tensor3D } {
    const L = this.config.latentDim;
    const out = this.encoder.apply(ctx);
    const means = tf.reshape(tf.slice(out, [0, 0], [-1, L]), [T, N, L]) as tf.Tensor3D;
    const variances = tf.reshape(tf.softplus(tf.slice(out, [0, L], [-1, L])), [T, N, L]) as tf.Tensor3D;
    return { means, variances };
  }

  /** Posterior of each task from its context rows (T tasks x N rows each). */
  private posteriorTensor(ctx: tf.Tensor2D, T: number, N: number): LatentGaussian {
    if (N === 0) return productOfGaussians(tf.zeros([T, 0, this.config.latentDim]), tf.ones([T, 0, this.config.latentDim]));
    const f = this.factors(ctx, T, N);
    return productOfGaussians(f.means, f.variances);
  }

  /** Context rows (s, a, r[, s']) of trajectories, in order. */
  contextRows(trajs: readonly Trajectory[]): Float32Array {
    const { stateDim: S, actionDim: A } = this.dims;
    const n = rowsOf(trajs);
    const out = new Float32Array(n * this.contextDim);
    let row = 0;
    for (const tr of trajs) {
      if (tr.stateDim !== S || tr.actionDim !== A) throw new Error(`PEARL expects ${S}-D states and ${A}-D actions, trajectory has ${tr.stateDim} and ${tr.actionDim}`);
      for (let t = 0; t < tr.length; t++, row++) {
        const o = row * this.contextDim;
        out.set(tr.states.subarray(t * S, (t + 1) * S), o);
        for (let d = 0; d < A; d++) out[o + S + d] = Math.min(1, Math.max(-1, tr.actions[t * A + d]));
        out[o + S + A] = tr.rewards[t];
        if (this.config.useNextObs) out.set(t + 1 < tr.length ? tr.states.subarray((t + 1) * S, (t + 2) * S) : tr.finalState, o + S + A + 1);
      }
    }
    return out;
  }

  /** Posterior over z from context rows [N x contextDim] of one task (N may be 0: the prior). */
  posterior(context: Float32Array): { mean: Float32Array; variance: Float32Array } {
    if (context.length % this.contextDim !== 0) throw new Error(`PEARL context length ${context.length} is not a multiple of the context width ${this.contextDim}`);
    const N = context.length / this.contextDim;
    const [mean, variance] = tf.tidy(() => {
      const q = this.posteriorTensor(tf.tensor2d(context, [N, this.contextDim]), 1, N);
      return [q.mean.dataSync() as Float32Array, q.variance.dataSync() as Float32Array];
    });
    return { mean, variance };
  }

  private rowsFromReplay(b: ReplayRows, n: number): Float32Array {
    const { stateDim: S, actionDim: A } = this.dims;
    const out = new Float32Array(n * this.contextDim);
    for (let i = 0; i < n; i++) {
      const o = i * this.contextDim;
      out.set(b.inputs.subarray(i * S, (i + 1) * S), o);
      out.set(b.actions.subarray(i * A, (i + 1) * A), o + S);
      out[o + S + A] = b.rewards[i];
      if (this.config.useNextObs) out.set(b.nextInputs.subarray(i * S, (i + 1) * S), o + S + A + 1);
    }
    return out;
  }

  /** A context batch of `n` transitions from task `k`'s encoder buffer. */
  private sampleContext(k: number, n: number): Float32Array {
    return this.rowsFromReplay(this.encoderBuffers[k].sample(n, this.rng), n);
  }

  private priorSample(): Float32Array {
    return this.rng.fillNormal(new Float32Array(this.config.latentDim));
  }

  private posteriorSample(q: { mean: Float32Array; variance: Float32Array }): Float32Array {
    return q.mean.map((m, i) => m + Math.sqrt(q.variance[i]) * this.rng.normal());
  }

  // ---- acting ----------------------------------------------------------------------------

  private policy(x: tf.Tensor2D, eps: tf.Tensor2D): { mean: tf.Tensor2D; action: tf.Tensor2D; logp: tf.Tensor1D } {
    const A = this.dims.actionDim;
    const out = this.actor.apply(x);
    const mu = tf.slice(out, [0, 0], [-1, A]);
    const raw = tf.slice(out, [0, A], [-1, A]);
    const logStd = tf.add(LOG_STD_MIN, tf.mul(0.5 * (LOG_STD_MAX - LOG_STD_MIN), tf.add(tf.tanh(raw), 1)));
    const u = tf.add(mu, tf.mul(tf.exp(logStd), eps));
    const action = tf.tanh(u);
    const gauss = tf.sum(tf.sub(tf.mul(-0.5, tf.square(eps)), tf.add(logStd, 0.5 * Math.log(2 * Math.PI))), 1);
    const squash = tf.sum(tf.log(tf.add(tf.sub(1, tf.square(action)), 1e-6)), 1);
    return { mean: tf.tanh(mu) as tf.Tensor2D, action: action as tf.Tensor2D, logp: tf.sub(gauss, squash) as tf.Tensor1D };
  }

  private noise(n: number): tf.Tensor2D {
    return tf.tensor2d(this.rng.fillNormal(new Float32Array(n * this.dims.actionDim)), [n, this.dims.actionDim]);
  }

  /**
   * Acts with one latent per rollout (`latents[batch.rollouts[i]]`): a tanh-Gaussian sample, or
   * tanh(μ) when `deterministic`.
   */
  actWithLatents(latents: readonly Float32Array[], deterministic = false): ActFn {
    const { stateDim: S, actionDim: A } = this.dims;
    const L = this.config.latentDim;
    return async (batch) => {
      const n = batch.observations.length;
      const x = new Float32Array(n * (S + L));
      batch.observations.forEach((o, i) => {
        if (o.state.length !== S) throw new Error(`PEARL expects ${S}-D states, got ${o.state.length}`);
        x.set(o.state, i * (S + L));
        x.set(latents[batch.rollouts[i]], i * (S + L) + S);
      });
      const a = tf.tidy(() => {
        const p = this.policy(tf.tensor2d(x, [n, S + L]), deterministic ? tf.zeros([n, A]) : this.noise(n));
        return deterministic ? p.mean : p.action;
      });
      const actions = (await a.data()) as Float32Array;
      a.dispose();
      return { actions };
    };
  }

  // ---- data collection -------------------------------------------------------------------

  private ensureBuffers(numTasks: number): void {
    const { stateDim: S, actionDim: A } = this.dims;
    while (this.rlBuffers.length < numTasks) {
      this.rlBuffers.push(new ReplayBuffer(this.config.replayCapacity, S, A));
      this.encoderBuffers.push(new ReplayBuffer(this.config.replayCapacity, S, A));
    }
  }

  /**
   * Collects `episodes` episodes for each listed training task (indices into `tasks`): with z
   * drawn from the prior per episode (stored in both buffers), or from the posterior of an
   * encoder-buffer context batch (stored in the RL buffer only).
   */
  async collect(
    sampler: Sampler,
    tasks: readonly TaskParams[],
    which: readonly number[],
    episodes: number,
    mode: 'prior' | 'posterior',
    opts: { clearEncoder?: boolean } = {},
  ): Promise<Trajectory[][]> {
    if (episodes === 0 || which.length === 0) return which.map(() => []);
    this.ensureBuffers(tasks.length);
    if (opts.clearEncoder && mode === 'prior') for (const k of new Set(which)) this.encoderBuffers[k].clear();
    const latents: Float32Array[] = [];
    for (const k of which) {
      const q = mode === 'posterior' && this.encoderBuffers[k].size > 0 ? this.posterior(this.sampleContext(k, this.config.contextBatch)) : undefined;
      for (let e = 0; e < episodes; e++) latents.push(q ? this.posteriorSample(q) : this.priorSample());
    }
    const groups = await sampler.sample({ tasks: which.map((k) => tasks[k]), rolloutsPerTask: episodes, act: this.actWithLatents(latents) });
    groups.forEach((trs, i) => {
      const k = which[i];
      for (const tr of trs) {
        const plain = withoutContext(tr);
        this.rlBuffers[k].addTrajectory(plain);
        if (mode === 'prior') this.encoderBuffers[k].addTrajectory(plain);
        this.envSteps += tr.length;
      }
    });
    return groups;
  }

  // ---- training --------------------------------------------------------------------------

  /** One SAC + encoder gradient step on a meta-batch of tasks with data. */
  update(): PearlLosses {
    const c = this.config;
    const { stateDim: S, actionDim: A } = this.dims;
    const L = c.latentDim;
    const ready = this.encoderBuffers.map((b, k) => (b.size > 0 && this.rlBuffers[k].size > 0 ? k : -1)).filter((k) => k >= 0);
    if (ready.length === 0) throw new Error('PEARL update: no task has data yet; collect first');
    const T = c.metaBatch;
    const B = c.batchSize;
    const N = c.contextBatch;
    const taskIdx = Array.from({ length: T }, () => ready[this.rng.int(ready.length)]);
    const ctx = new Float32Array(T * N * this.contextDim);
    const s = new Float32Array(T * B * S);
    const s2 = new Float32Array(T * B * S);
    const a = new Float32Array(T * B * A);
    const r = new Float32Array(T * B);
    taskIdx.forEach((k, i) => {
      ctx.set(this.sampleContext(k, N), i * N * this.contextDim);
      const b = this.rlBuffers[k].sample(B, this.rng);
      s.set(b.inputs, i * B * S);
      s2.set(b.nextInputs, i * B * S);
      a.set(b.actions, i * B * A);
      r.set(b.rewards, i * B);
    });
    const n = T * B;
    const zEps = this.rng.fillNormal(new Float32Array(T * L));
    return tf.tidy(() => {
      const ctxT = tf.tensor2d(ctx, [T * N, this.contextDim]);
      const x = tf.tensor2d(s, [n, S]);
      const x2 = tf.tensor2d(s2, [n, S]);
      const at = tf.tensor2d(a, [n, A]);
      const rt = tf.tensor1d(r);
      const epsZ = tf.tensor2d(zEps, [T, L]);
      // z per task (reparameterised) [T x L], tiled to that task's B rows.
      const tileZ = (zTask: tf.Tensor2D): tf.Tensor2D => tf.reshape(tf.tile(tf.expandDims(zTask, 1), [1, B, 1]), [n, L]) as tf.Tensor2D;
      // The soft Bellman target; zBar is z's value (a constant): the target does not train the encoder.
      const bellmanTarget = (zBar: tf.Tensor2D): tf.Tensor1D => {
        const next = this.policy(tf.concat([x2, zBar], 1) as tf.Tensor2D, this.noise(n));
        const xa2 = criticInput(x2, next.action, zBar);
        const qNext = tf.reshape(tf.minimum(this.q1Target.apply(xa2), this.q2Target.apply(xa2)), [n]);
        return tf.add(tf.mul(rt, c.rewardScale), tf.mul(c.gamma, tf.sub(qNext, tf.mul(tf.exp(this.logAlpha), next.logp)))) as tf.Tensor1D;
      };
      let klValue = 0;
      let zValue: Float32Array | undefined;
      // Critic and encoder: one loss, two optimisers (their own learning rates). The encoder runs
      // once: z's [T x L] values are read out of the tape for the target and the actor, so the
      // target's ops (which depend on no variable being differentiated) get no backward pass.
      const criticVars = [...this.q1.variables, ...this.q2.variables];
      const encVars = this.encoder.variables;
      const { value: criticLoss, grads } = tf.variableGrads(() => {
        const q = this.posteriorTensor(ctxT, T, N);
        const zTask = tf.add(q.mean, tf.mul(tf.sqrt(q.variance), epsZ)) as tf.Tensor2D;
        zValue = zTask.dataSync() as Float32Array;
        const y = bellmanTarget(tileZ(tf.tensor2d(zValue, [T, L])));
        const kl = tf.sum(klToUnitPrior(q)) as tf.Scalar;
        const xa = criticInput(x, at, tileZ(zTask));
        const e1 = tf.sub(tf.reshape(this.q1.apply(xa), [n]), y);
        const e2 = tf.sub(tf.reshape(this.q2.apply(xa), [n]), y);
        const klTerm = tf.mul(c.klWeight, kl);
        klValue = kl.dataSync()[0];
        return tf.add(tf.add(tf.mean(tf.square(e1)), tf.mean(tf.square(e2))), klTerm) as tf.Scalar;
      }, [...criticVars, ...encVars]);
      const zBar = tileZ(tf.tensor2d(zValue!, [T, L])); // value only: the actor does not train the encoder
      this.criticOpt.applyGradients(Object.fromEntries(criticVars.map((v) => [v.name, grads[v.name]])));
      this.encoderOpt.applyGradients(Object.fromEntries(encVars.map((v) => [v.name, grads[v.name]])));
      const xz = tf.concat([x, zBar], 1) as tf.Tensor2D;
      const eps = this.noise(n);
      let logpNew: tf.Tensor1D | undefined;
      const actorLoss = this.actorOpt.minimize(
        () => {
          const p = this.policy(xz, eps);
          logpNew = tf.keep(p.logp);
          const xan = criticInput(x, p.action, zBar);
          const q = tf.reshape(tf.minimum(this.q1.apply(xan), this.q2.apply(xan)), [n]);
          return tf.mean(tf.sub(tf.mul(tf.exp(this.logAlpha), p.logp), q)) as tf.Scalar;
        },
        true,
        this.actor.variables,
      )!;
      if (c.autoEntropy) {
        const target = tf.add(logpNew!, this.targetEntropy);
        this.alphaOpt.minimize(() => tf.neg(tf.mean(tf.mul(this.logAlpha, target))) as tf.Scalar, false, [this.logAlpha]);
      }
      logpNew?.dispose();
      this.q1Target.copyFrom(this.q1, c.tau);
      this.q2Target.copyFrom(this.q2, c.tau);
      this.gradSteps++;
      return {
        critic: criticLoss.dataSync()[0],
        kl: klValue,
        actor: actorLoss.dataSync()[0],
        alphaValue: Math.exp(this.logAlpha.dataSync()[0]),
      };
    });
  }

  // ---- meta-test -------------------------------------------------------------------------

  /**
   * Meta-test on `tasks`: `contextEpisodes` episodes with z ~ prior (stochastic actions) collect
   * context, then one episode acts deterministically with the posterior mean of all of it.
   * Its env steps are counted in the result, not in `envSteps`.
   */
  async evaluate(sampler: Sampler, tasks: readonly TaskParams[], contextEpisodes = 1): Promise<PearlEvaluation> {
    if (!Number.isInteger(contextEpisodes) || contextEpisodes < 1) throw new Error(`contextEpisodes must be a positive integer, got ${contextEpisodes}`);
    const priorZ = Array.from({ length: tasks.length * contextEpisodes }, () => this.priorSample());
    const explore = await sampler.sample({ tasks, rolloutsPerTask: contextEpisodes, act: this.actWithLatents(priorZ) });
    const posteriors = explore.map((trs) => this.posterior(this.contextRows(trs)));
    const exploit = (await sampler.sample({ tasks, rolloutsPerTask: 1, act: this.actWithLatents(posteriors.map((q) => q.mean), true) })).map((g) => g[0]);
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    return {
      priorReturn: mean(explore.flat().map(undiscountedReturn)),
      posteriorReturn: mean(exploit.map(undiscountedReturn)),
      posteriorSuccessRate: exploit.filter(succeeded).length / exploit.length,
      perTask: exploit.map(undiscountedReturn),
      posteriors,
      envSteps: stepsOf([...explore, exploit]),
    };
  }

  // ---- snapshots -------------------------------------------------------------------------

  private get networks(): Mlp[] {
    return [this.encoder, this.actor, this.q1, this.q2, this.q1Target, this.q2Target];
  }

  private get optimizers(): Array<[string, tf.Optimizer]> {
    return [
      ['actor', this.actorOpt],
      ['critic', this.criticOpt],
      ['encoder', this.encoderOpt],
      ['alpha', this.alphaOpt],
    ];
  }

  /**
   * Everything the agent learns and draws from: the six networks and log α, the four Adam states,
   * every replay buffer, its random stream and its counters (`loadState` continues from it).
   */
  async saveState(): Promise<{ meta: PearlStateMeta; arrays: SnapshotArrays }> {
    const learner = await learnerArrays(this.networks.map((m) => m.variables), this.logAlpha, this.optimizers);
    const arrays: SnapshotArrays = { ...learner.arrays };
    const buffers = (kind: 'rl' | 'enc', list: ReplayBuffer[]) =>
      list.map((b, k) => {
        const st = b.snapshotArrays(`${kind}/${k}`);
        Object.assign(arrays, st.arrays);
        return st.meta;
      });
    return {
      meta: {
        config: this.config,
        dims: this.dims,
        envSteps: this.envSteps,
        gradSteps: this.gradSteps,
        rng: this.rng.saveState(),
        optimizers: learner.optimizers,
        rlBuffers: buffers('rl', this.rlBuffers),
        encoderBuffers: buffers('enc', this.encoderBuffers),
      },
      arrays,
    };
  }

  /** Continues from `saveState()` of an agent with the same dimensions and config (else a SnapshotError naming the difference). */
  async loadState(snap: Snapshot<PearlStateMeta>): Promise<void> {
    const m = snap.meta;
    checkSameSettings('the snapshot', 'PEARL', { ...this.config, dims: this.dims }, { ...m.config, dims: m.dims });
    await restoreLearner(snap, this.networks.map((n) => n.variables), this.logAlpha, this.optimizers, m.optimizers);
    this.ensureBuffers(m.rlBuffers.length);
    m.rlBuffers.forEach((bm, k) => this.rlBuffers[k].restoreFrom(snap, `rl/${k}`, bm));
    m.encoderBuffers.forEach((bm, k) => this.encoderBuffers[k].restoreFrom(snap, `enc/${k}`, bm));
    this.rng.loadState(m.rng);
    this.envSteps = m.envSteps;
    this.gradSteps = m.gradSteps;
  }

  dispose(): void {
    for (const m of this.networks) m.dispose();
    this.logAlpha.dispose();
    for (const o of [this.actorOpt, this.criticOpt, this.encoderOpt, this.alphaOpt]) o.dispose();
  }
}

export interface PearlStateMeta {
  config: PearlConfig;
  dims: PearlDims;
  envSteps: number;
  gradSteps: number;
  rng: { state: RngState; spare: number | null };
  optimizers: Record<string, OptimizerMeta>;
  rlBuffers: Array<{ size: number; head: number }>;
  encoderBuffers: Array<{ size: number; head: number }>;
}

export interface PearlEvaluation {
  /** Mean return of the context-collection episodes (z ~ prior). */
  priorReturn: number;
  /** Mean return of the episode acting on the posterior mean. */
  posteriorReturn: number;
  posteriorSuccessRate: number;
  perTask: number[];
  posteriors: Array<{ mean: Float32Array; variance: Float32Array }>;
  envSteps: number;
}

export interface PearlIterationStats {
  iteration: number;
  envSteps: number;
  gradSteps: number;
  /** Mean return of this iteration's collected episodes. */
  meanReturn: number;
  losses?: PearlLosses;
}

export interface TrainPearlOptions {
  sampler: Sampler;
  /** Meta-training tasks; buffer k belongs to tasks[k]. */
  tasks: readonly TaskParams[];
  iterations: number;
  config?: Partial<PearlConfig>;
  /** Continue training an existing agent (same task list). */
  agent?: Pearl;
  onIteration?: (stats: PearlIterationStats, agent: Pearl) => void | Promise<void>;
  /**
   * Snapshot file: written after every iteration (after `onIteration`), with the caller's `extra()`
   * (e.g. its curve so far). When the file exists at the start, training continues from it: the
   * agent, the task stream and the iteration count are restored and `onResume` gets the extra.
   */
  snapshot?: SnapshotOption;
}

interface PearlSnapshotMeta {
  agent: PearlStateMeta;
  /** Iterations completed. */
  iterations: number;
  taskRng: { state: RngState; spare: number | null };
  tasks: number;
  history: PearlIterationStats[];
  extra: unknown;
}

/**
 * PEARL meta-training: initial prior-z data for every task, then per iteration data for
 * `tasksPerIteration` random tasks (prior and posterior episodes) and `gradStepsPerIteration`
 * gradient steps.
 */
export async function trainPearl(opts: TrainPearlOptions): Promise<{ agent: Pearl; history: PearlIterationStats[] }> {
  if (opts.tasks.length === 0) throw new Error('trainPearl needs at least one task');
  if (!Number.isInteger(opts.iterations) || opts.iterations < 0) throw new Error(`iterations must be a non-negative integer, got ${opts.iterations}`);
  const info = opts.sampler.info;
  const agent = opts.agent ?? new Pearl({ stateDim: info.stateDim, actionDim: info.actionDim }, opts.config);
  try {
    return await runPearl(opts, agent);
  } catch (err) {
    // An agent made here frees its (process-global) variable names, so the next run can make its own.
    if (!opts.agent) agent.dispose();
    throw err;
  }
}

async function runPearl(opts: TrainPearlOptions, agent: Pearl): Promise<{ agent: Pearl; history: PearlIterationStats[] }> {
  const c = agent.config;
  const taskRng = new Rng(`pearl-tasks-${c.seed}`);
  const all = opts.tasks.map((_, k) => k);
  const history: PearlIterationStats[] = [];
  let start = 0;
  const snap = opts.snapshot;
  if (snap && (await fileExists(snap.file))) {
    const saved = await readSnapshot<PearlSnapshotMeta>(snap.file, 'pearl');
    if (saved.meta.tasks !== opts.tasks.length) throw new SnapshotError(`${snap.file} was written for ${saved.meta.tasks} training tasks, this run has ${opts.tasks.length}; delete it to start the run over`);
    await agent.loadState({ ...saved, meta: saved.meta.agent });
    taskRng.loadState(saved.meta.taskRng);
    start = saved.meta.iterations;
    history.push(...saved.meta.history);
    await snap.onResume?.(saved.meta.extra, start);
  } else if (agent.envSteps === 0) {
    await agent.collect(opts.sampler, opts.tasks, all, c.initialEpisodesPerTask, 'prior');
  }
  for (let it = start; it < opts.iterations; it++) {
    const which = Array.from({ length: c.tasksPerIteration }, () => taskRng.int(opts.tasks.length));
    const prior = await agent.collect(opts.sampler, opts.tasks, which, c.priorEpisodes, 'prior', { clearEncoder: true });
    const post = await agent.collect(opts.sampler, opts.tasks, which, c.posteriorEpisodes, 'posterior');
    let losses: PearlLosses | undefined;
    for (let g = 0; g < c.gradStepsPerIteration; g++) losses = agent.update();
    const trajs = [...prior.flat(), ...post.flat()];
    const stats: PearlIterationStats = {
      iteration: it,
      envSteps: agent.envSteps,
      gradSteps: agent.gradSteps,
      meanReturn: trajs.length ? trajs.reduce((s, tr) => s + undiscountedReturn(tr), 0) / trajs.length : Number.NaN,
      ...(losses ? { losses } : {}),
    };
    history.push(stats);
    await opts.onIteration?.(stats, agent);
    if (snap) {
      const st = await agent.saveState();
      const meta: PearlSnapshotMeta = { agent: st.meta, iterations: it + 1, taskRng: taskRng.saveState(), tasks: opts.tasks.length, history, extra: snap.extra?.() ?? null };
      await writeSnapshot(snap.file, { kind: 'pearl', meta, arrays: st.arrays });
    }
  }
  return { agent, history };
}
