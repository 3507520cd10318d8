/**
 * RL² (Duan et al. 2016): the learner is a recurrent policy. A trial is `episodesPerTrial`
 * episodes of one task; the GRU's hidden state is carried across the episodes of a trial (reset
 * only between trials) and the input at each step is
 *
 *   x_t = [o_t, a_{t−1}, r_{t−1}, d_{t−1}]    (d: 1 on the first step after an episode ended)
 *
 * so the policy can infer the task from rewards and exploit it in later episodes. The policy is
 * a Gaussian: mean = W·h_t + b, state-independent log-std. It is trained across trials of many
 * tasks with TRPO (`trpo.ts`, as in the RL² paper) or PPO (clipped surrogate, Adam), on
 * advantages over the whole trial treated as one episode (discounted across episode boundaries,
 * linear-feature baseline).
 *
 * Acting needs the previous reward, which the batched `Sampler` does not hand to the policy, so
 * trials step `Env` instances directly, batched over trials in the calling thread.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import type { Env, TaskParams } from '../../sim/types.js';
import { computeAdvantages } from './advantages.js';
import { gruCell, gruSequence, gruShapes, initGru, type GruConfig } from './gru.js';
import type { ParamShapes, Params } from './policy/params.js';
import { Rng } from './rng.js';
import type { Trajectory } from './trajectory.js';
import { gaussianKl, trpoStep } from './trpo.js';

export interface Rl2Config {
  /** GRU units. */
  hidden: number;
  episodesPerTrial: number;
  /** Trials (each on a freshly drawn training task) per policy update. */
  trialsPerIteration: number;
  gamma: number;
  /** GAE λ. */
  lambda: number;
  optimizer: 'trpo' | 'ppo';
  /** TRPO KL bound δ. */
  maxKl: number;
  /** PPO: clip range ε, epochs over the batch, Adam learning rate. */
  ppoClip: number;
  ppoEpochs: number;
  lr: number;
  initLogStd: number;
  seed: number;
}

export const RL2_DEFAULTS: Rl2Config = {
  hidden: 100,
  episodesPerTrial: 2,
  trialsPerIteration: 20,
  gamma: 0.99,
  lambda: 1,
  optimizer: 'trpo',
  maxKl: 0.01,
  ppoClip: 0.2,
  ppoEpochs: 10,
  lr: 1e-3,
  initLogStd: 0,
  seed: 0,
};

const LOG_2PI = Math.log(2 * Math.PI);

/** One trial: the GRU input rows, actions and rewards of its consecutive episodes. */
export interface Trial {
  task: TaskParams;
  /** Steps in the trial (all episodes). */
  length: number;
  /** [length x inDim] policy inputs. */
  inputs: Float32Array;
  /** [length x actDim] sampled actions. */
  actions: Float32Array;
  /** [length x actDim] policy means at sampling time. */
  means: Float32Array;
  rewards: Float64Array;
  /** [length x stateDim] observations (baseline features). */
  states: Float32Array;
  /** Undiscounted return of each episode of the trial. */
  episodeReturns: number[];
  /** Whether each episode reached `info.success`. */
  episodeSuccess: boolean[];
}

export class Rl2 {
  readonly name = 'rl2';
  readonly config: Rl2Config;
  readonly gru: GruConfig;
  readonly inDim: number;
  readonly shapes: ParamShapes;
  params: Params;
  envSteps = 0;
  private readonly rng: Rng;
  private readonly ppoOpt?: tf.Optimizer;
  private readonly vars?: tf.Variable[];

  constructor(
    readonly dims: { stateDim: number; actionDim: number },
    config: Partial<Rl2Config> = {},
  ) {
    this.config = { ...RL2_DEFAULTS, ...config };
    const c = this.config;
    for (const [k, v] of Object.entries({ hidden: c.hidden, episodesPerTrial: c.episodesPerTrial, trialsPerIteration: c.trialsPerIteration, ppoEpochs: c.ppoEpochs })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`RL² ${k} must be a positive integer, got ${v}`);
    }
    if (c.optimizer !== 'trpo' && c.optimizer !== 'ppo') throw new Error(`RL² optimizer must be 'trpo' or 'ppo', got '${c.optimizer}'`);
    const { stateDim: S, actionDim: A } = dims;
    this.inDim = S + A + 2;
    this.gru = { inDim: this.inDim, hidden: c.hidden, prefix: 'gru' };
    this.shapes = [...gruShapes(this.gru), ['out/W', [c.hidden, A]], ['out/b', [A]], ['logStd', [A]]];
    this.rng = new Rng(c.seed);
    const init = this.rng.fork();
    const limit = Math.sqrt(6 / (c.hidden + A));
    const p = initGru(this.gru, init);
    p['out/W'] = tf.mul(tf.tensor2d(Float32Array.from({ length: c.hidden * A }, () => init.uniform(-limit, limit)), [c.hidden, A]), 0.1);
    p['out/b'] = tf.zeros([A]);
    p.logStd = tf.fill([A], c.initLogStd);
    if (c.optimizer === 'ppo') {
      this.vars = this.shapes.map(([n]) => tf.variable(p[n], true));
      for (const t of Object.values(p)) t.dispose();
      this.params = Object.fromEntries(this.shapes.map(([n], i) => [n, this.vars![i]]));
      this.ppoOpt = tf.train.adam(c.lr);
    } else {
      this.params = p;
    }
  }

  private meanOf(p: Params, h: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(h, p['out/W'] as tf.Tensor2D), p['out/b']) as tf.Tensor2D;
  }

  /**
   * Runs one trial per task (batched over `envs`, which step in this thread). Stochastic actions
   * unless `deterministic`. Env steps are added to `envSteps` when `count` is true.
   */
  async runTrials(envs: readonly Env[], tasks: readonly TaskParams[], opts: { deterministic?: boolean; count?: boolean } = {}): Promise<Trial[]> {
    if (envs.length === 0) throw new Error('RL² needs at least one env');
    const { stateDim: S, actionDim: A } = this.dims;
    for (const e of envs) {
      if (e.stateDim !== S || e.actionDim !== A) throw new Error(`RL² expects ${S}-D states and ${A}-D actions, env has ${e.stateDim} and ${e.actionDim}`);
    }
    const E = this.config.episodesPerTrial;
    const H = this.config.hidden;
    const D = this.inDim;
    const out: Trial[] = [];
    const logStd = this.params.logStd.dataSync() as Float32Array;
    for (let start = 0; start < tasks.length; start += envs.length) {
      const chunk = tasks.slice(start, start + envs.length);
      const c = chunk.length;
      const rows = chunk.map(() => ({ inputs: [] as number[], actions: [] as number[], means: [] as number[], rewards: [] as number[], states: [] as number[], returns: [] as number[], success: [] as boolean[] }));
      let h = tf.zeros([c, H]) as tf.Tensor2D;
      const prevA = new Float32Array(c * A);
      const prevR = new Float32Array(c);
      const doneFlag = new Float32Array(c);
      for (let e = 0; e < E; e++) {
        const obs = chunk.map((task, i) => envs[i].reset(task).state);
        const live = chunk.map(() => true);
        const ret = new Float64Array(c);
        const succ = chunk.map(() => false);
        const horizon = Math.max(...envs.slice(0, c).map((en) => en.horizon));
        for (let t = 0; t < horizon && live.some(Boolean); t++) {
          const x = new Float32Array(c * D);
          for (let i = 0; i < c; i++) {
            x.set(obs[i], i * D);
            x.set(prevA.subarray(i * A, (i + 1) * A), i * D + S);
            x[i * D + S + A] = prevR[i];
            x[i * D + S + A + 1] = doneFlag[i];
          }
          const liveMask = Float32Array.from(live, (l) => (l ? 1 : 0));
          const [hNext, meanT] = tf.tidy(() => {
            const hn = gruCell(this.gru, this.params, tf.tensor2d(x, [c, D]), h);
            // Rows whose episode already ended keep their state.
            const m = tf.tensor2d(liveMask, [c, 1]);
            const hk = tf.add(tf.mul(m, hn), tf.mul(tf.sub(1, m), h)) as tf.Tensor2D;
            return [hk, this.meanOf(this.params, hk)];
          });
          h.dispose();
          h = hNext;
          const mean = meanT.dataSync() as Float32Array;
          meanT.dispose();
          for (let i = 0; i < c; i++) {
            if (!live[i]) continue;
            const r = rows[i];
            const a = new Float32Array(A);
            for (let d = 0; d < A; d++) a[d] = mean[i * A + d] + (opts.deterministic ? 0 : Math.exp(logStd[d]) * this.rng.normal());
            const step = envs[i].step(a);
            r.inputs.push(...x.subarray(i * D, (i + 1) * D));
            r.actions.push(...a);
            r.means.push(...mean.subarray(i * A, (i + 1) * A));
            r.rewards.push(step.reward);
            r.states.push(...obs[i]);
            ret[i] += step.reward;
            if (step.info.success) succ[i] = true;
            for (let d = 0; d < A; d++) prevA[i * A + d] = Math.min(1, Math.max(-1, a[d]));
            prevR[i] = step.reward;
            doneFlag[i] = 0;
            obs[i] = step.observation.state;
            if (step.done) live[i] = false;
          }
        }
        for (let i = 0; i < c; i++) {
          rows[i].returns.push(ret[i]);
          rows[i].success.push(succ[i]);
          doneFlag[i] = 1;
        }
      }
      h.dispose();
      rows.forEach((r, i) => {
        out.push({
          task: chunk[i],
          length: r.rewards.length,
          inputs: Float32Array.from(r.inputs),
          actions: Float32Array.from(r.actions),
          means: Float32Array.from(r.means),
          rewards: Float64Array.from(r.rewards),
          states: Float32Array.from(r.states),
          episodeReturns: r.returns,
          episodeSuccess: r.success,
        });
        if (opts.count ?? true) this.envSteps += r.rewards.length;
      });
    }
    return out;
  }

  /** One policy update from a batch of trials. */
  update(trials: readonly Trial[]): { loss: number; kl: number; accepted: boolean } {
    if (trials.length === 0) throw new Error('RL² update needs at least one trial');
    const { stateDim: S, actionDim: A } = this.dims;
    const c = this.config;
    const n = trials.length;
    const T = Math.max(...trials.map((t) => t.length));
    const D = this.inDim;
    // Advantages over each trial as one episode.
    const pseudo = trials.map(
      (tr) => ({ length: tr.length, stateDim: S, states: tr.states, rewards: tr.rewards }) as unknown as Trajectory,
    );
    const adv = computeAdvantages(pseudo, { gamma: c.gamma, lambda: c.lambda, baseline: 'linear' }).advantages;
    // Time-major padded batch: row (t, i) at t·n + i.
    const xs = new Float32Array(T * n * D);
    const acts = new Float32Array(T * n * A);
    const oldMean = new Float32Array(T * n * A);
    const advs = new Float32Array(T * n);
    const mask = new Float32Array(T * n);
    trials.forEach((tr, i) => {
      for (let t = 0; t < tr.length; t++) {
        const r = t * n + i;
        xs.set(tr.inputs.subarray(t * D, (t + 1) * D), r * D);
        acts.set(tr.actions.subarray(t * A, (t + 1) * A), r * A);
        oldMean.set(tr.means.subarray(t * A, (t + 1) * A), r * A);
        advs[r] = adv[i][t];
        mask[r] = 1;
      }
    });
    const total = mask.reduce((s, v) => s + v, 0);
    const names = this.shapes.map(([nm]) => nm);
    const xT = tf.tensor3d(xs, [T, n, D]);
    const aT = tf.tensor2d(acts, [T * n, A]);
    const oldMeanT = tf.tensor2d(oldMean, [T * n, A]);
    const oldLogStd = tf.tensor1d(this.params.logStd.dataSync() as Float32Array);
    const advT = tf.tensor1d(advs);
    const maskT = tf.tensor1d(mask);
    const oldLogp = tf.tidy(() => logProb(oldMeanT, oldLogStd, aT));
    const forward = (p: Params): { mean: tf.Tensor2D; logStd: tf.Tensor1D } => {
      const hs = gruSequence(this.gru, p, xT);
      return { mean: this.meanOf(p, tf.reshape(hs, [T * n, c.hidden]) as tf.Tensor2D), logStd: p.logStd as tf.Tensor1D };
    };
    const masked = (x: tf.Tensor1D): tf.Scalar => tf.div(tf.sum(tf.mul(x, maskT)), total) as tf.Scalar;
    const asParams = (xsList: readonly tf.Tensor[]): Params => Object.fromEntries(names.map((nm, i) => [nm, xsList[i]]));
    const klOf = (p: Params): tf.Scalar => {
      const f = forward(p);
      return masked(gaussianKl(oldMeanT, oldLogStd, f.mean, f.logStd) as tf.Tensor1D);
    };
    try {
      if (c.optimizer === 'trpo') {
        const res = trpoStep({
          params: names.map((nm) => this.params[nm]),
          loss: (list) => {
            const f = forward(asParams(list));
            const ratio = tf.exp(tf.sub(logProb(f.mean, f.logStd, aT), oldLogp));
            return tf.neg(masked(tf.mul(ratio, advT) as tf.Tensor1D)) as tf.Scalar;
          },
          kl: (list) => klOf(asParams(list)),
        }, { maxKl: c.maxKl });
        for (const t of Object.values(this.params)) t.dispose();
        this.params = asParams(res.params);
        return { loss: res.lossAfter, kl: res.kl, accepted: res.accepted };
      }
      let loss = 0;
      for (let ep = 0; ep < c.ppoEpochs; ep++) {
        const l = this.ppoOpt!.minimize(() => {
          const f = forward(this.params);
          const ratio = tf.exp(tf.sub(logProb(f.mean, f.logStd, aT), oldLogp));
          const clipped = tf.clipByValue(ratio, 1 - c.ppoClip, 1 + c.ppoClip);
          return tf.neg(masked(tf.minimum(tf.mul(ratio, advT), tf.mul(clipped, advT)) as tf.Tensor1D)) as tf.Scalar;
        }, true, this.vars)!;
        loss = l.dataSync()[0];
        l.dispose();
      }
      const kl = tf.tidy(() => klOf(this.params).dataSync()[0]);
      return { loss, kl, accepted: true };
    } finally {
      for (const t of [xT, aT, oldMeanT, oldLogStd, advT, maskT, oldLogp]) t.dispose();
    }
  }

  dispose(): void {
    for (const t of Object.values(this.params)) t.dispose();
    this.ppoOpt?.dispose();
  }
}

function logProb(mean: tf.Tensor2D, logStd: tf.Tensor1D, actions: tf.Tensor2D): tf.Tensor1D {
  const d = mean.shape[1];
  const u = tf.div(tf.sub(actions, mean), tf.exp(logStd));
  return tf.sub(tf.mul(tf.sum(tf.square(u), 1), -0.5), tf.add(tf.sum(logStd), 0.5 * d * LOG_2PI)) as tf.Tensor1D;
}

export interface Rl2Evaluation {
  /** Mean return of episode e of the trials, e = 0 … episodesPerTrial−1. */
  returnsByEpisode: number[];
  successByEpisode: number[];
  envSteps: number;
}

/** Meta-test: one trial per task; nothing is trained, steps are not added to `envSteps`. */
export async function evaluateRl2(agent: Rl2, envs: readonly Env[], tasks: readonly TaskParams[], deterministic = false): Promise<Rl2Evaluation> {
  const trials = await agent.runTrials(envs, tasks, { deterministic, count: false });
  const E = agent.config.episodesPerTrial;
  const mean = (f: (t: Trial) => number) => trials.reduce((s, t) => s + f(t), 0) / trials.length;
  return {
    returnsByEpisode: Array.from({ length: E }, (_, e) => mean((t) => t.episodeReturns[e])),
    successByEpisode: Array.from({ length: E }, (_, e) => mean((t) => (t.episodeSuccess[e] ? 1 : 0))),
    envSteps: trials.reduce((s, t) => s + t.length, 0),
  };
}

export interface Rl2IterationStats {
  iteration: number;
  envSteps: number;
  returnsByEpisode: number[];
  loss: number;
  kl: number;
  accepted: boolean;
}

export interface TrainRl2Options {
  /** Envs stepped in this thread (trials run batched over them). */
  envs: readonly Env[];
  tasks: readonly TaskParams[];
  iterations: number;
  config?: Partial<Rl2Config>;
  agent?: Rl2;
  onIteration?: (stats: Rl2IterationStats, agent: Rl2) => void | Promise<void>;
}

/** RL² meta-training: per iteration, trials on randomly drawn training tasks, then one update. */
export async function trainRl2(opts: TrainRl2Options): Promise<{ agent: Rl2; history: Rl2IterationStats[] }> {
  if (opts.tasks.length === 0) throw new Error('trainRl2 needs at least one task');
  if (opts.envs.length === 0) throw new Error('trainRl2 needs at least one env');
  const agent = opts.agent ?? new Rl2({ stateDim: opts.envs[0].stateDim, actionDim: opts.envs[0].actionDim }, opts.config);
  const taskRng = new Rng(`rl2-tasks-${agent.config.seed}`);
  const history: Rl2IterationStats[] = [];
  for (let it = 0; it < opts.iterations; it++) {
    const tasks = Array.from({ length: agent.config.trialsPerIteration }, () => opts.tasks[taskRng.int(opts.tasks.length)]);
    const trials = await agent.runTrials(opts.envs, tasks);
    const res = agent.update(trials);
    const E = agent.config.episodesPerTrial;
    const stats: Rl2IterationStats = {
      iteration: it,
      envSteps: agent.envSteps,
      returnsByEpisode: Array.from({ length: E }, (_, e) => trials.reduce((s, t) => s + t.episodeReturns[e], 0) / trials.length),
      ...res,
    };
    history.push(stats);
    await opts.onIteration?.(stats, agent);
  }
  return { agent, history };
}
