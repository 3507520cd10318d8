/**
 * Contextual soft actor-critic (Haarnoja et al. 2018), the GMPS expert learner: one policy for
 * all meta-training tasks, fed the privileged task context next to the state. Twin Q networks
 * with Polyak-averaged targets, a tanh-squashed Gaussian policy, automatic entropy tuning, a
 * reward scale, and a configurable number of gradient steps per environment step. Data comes
 * from a `Sampler`, so envs step in worker threads while the networks train here.
 *
 * Episodes in our tasks end only by the time limit, so the last transition is bootstrapped
 * (a time-out is not a terminal state).
 */
import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';
import type { TaskParams } from '../../sim/types.js';
import type { ExpertAgent } from './expert.js';
import { fileExists } from './checkpoint-path.js';
import { Rng, type RngState } from './rng.js';
import type { ActBatch, ActFn, Sampler } from './sampler.js';
import {
  checkSameSettings,
  learnerArrays,
  readSnapshot,
  restoreLearner,
  restoreVariables,
  snapshotArray,
  SnapshotError,
  variableArrays,
  writeSnapshot,
  type OptimizerMeta,
  type Snapshot,
  type SnapshotArrays,
} from './snapshot.js';
import { succeeded, undiscountedReturn, type Trajectory } from './trajectory.js';

export interface SacConfig {
  hidden: number[];
  actorLr: number;
  criticLr: number;
  alphaLr: number;
  gamma: number;
  /** Polyak coefficient of the target networks. */
  tau: number;
  batchSize: number;
  /** Multiplies rewards in the critic target (GMPS sweep: 10, 50, 100). */
  rewardScale: number;
  /** Gradient steps per collected environment step (fractions allowed). */
  gradStepsPerEnvStep: number;
  replayCapacity: number;
  /** Environment steps with uniform random actions before the policy acts. */
  warmupSteps: number;
  /** Initial entropy temperature α. */
  initialAlpha: number;
  /** Tune α towards `targetEntropy` (default −actionDim). */
  autoEntropy: boolean;
  targetEntropy?: number;
  seed: number;
}

export const SAC_DEFAULTS: SacConfig = {
  hidden: [256, 256],
  actorLr: 3e-4,
  criticLr: 3e-4,
  alphaLr: 3e-4,
  gamma: 0.99,
  tau: 0.005,
  batchSize: 256,
  rewardScale: 1,
  gradStepsPerEnvStep: 1,
  replayCapacity: 1_000_000,
  warmupSteps: 1000,
  initialAlpha: 1,
  autoEntropy: true,
  seed: 0,
};

export interface SacDims {
  stateDim: number;
  contextDim: number;
  actionDim: number;
}

const LOG_STD_MIN = -5;
const LOG_STD_MAX = 2;

/** Fully connected ReLU network with a linear output; weights Glorot-uniform from a seeded Rng. */
export class Mlp {
  readonly weights: tf.Variable[] = [];
  readonly biases: tf.Variable[] = [];

  constructor(name: string, sizes: number[], rng: Rng) {
    for (let i = 0; i + 1 < sizes.length; i++) {
      const [fanIn, fanOut] = [sizes[i], sizes[i + 1]];
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      const w = Float32Array.from({ length: fanIn * fanOut }, () => rng.uniform(-limit, limit));
      this.weights.push(tf.variable(tf.tensor2d(w, [fanIn, fanOut]), true, `${name}/W${i}`));
      this.biases.push(tf.variable(tf.zeros([fanOut]), true, `${name}/b${i}`));
    }
  }

  get variables(): tf.Variable[] {
    return [...this.weights, ...this.biases];
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    let h = x;
    const n = this.weights.length;
    for (let i = 0; i < n; i++) {
      h = tf.add(tf.matMul(h, this.weights[i]), this.biases[i]) as tf.Tensor2D;
      if (i + 1 < n) h = tf.relu(h);
    }
    return h;
  }

  copyFrom(other: Mlp, tau = 1): void {
    tf.tidy(() => {
      const mine = this.variables;
      other.variables.forEach((src, i) => {
        mine[i].assign(tau === 1 ? src : tf.add(tf.mul(src, tau), tf.mul(mine[i], 1 - tau)));
      });
    });
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** Rows of a replay buffer, row-major: inputs and next inputs [n x inputDim], actions [n x actionDim], rewards [n]. */
export interface ReplayRows {
  inputs: Float32Array;
  actions: Float32Array;
  rewards: Float32Array;
  nextInputs: Float32Array;
}

/** Ring buffer of (input, action, reward, next input) with input = [state, context]. */
export class ReplayBuffer {
  readonly inputs: Float32Array;
  readonly actions: Float32Array;
  readonly rewards: Float32Array;
  readonly nextInputs: Float32Array;
  size = 0;
  private head = 0;

  constructor(
    readonly capacity: number,
    readonly inputDim: number,
    readonly actionDim: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`replay capacity must be a positive integer, got ${capacity}`);
    this.inputs = new Float32Array(capacity * inputDim);
    this.nextInputs = new Float32Array(capacity * inputDim);
    this.actions = new Float32Array(capacity * actionDim);
    this.rewards = new Float32Array(capacity);
  }

  /** Forgets every transition (the storage is reused). */
  clear(): void {
    this.size = 0;
    this.head = 0;
  }

  /** Adds every transition of a trajectory (state + its context as input). */
  addTrajectory(tr: Trajectory): void {
    const sd = tr.stateDim;
    if (sd + tr.context.length !== this.inputDim) throw new Error(`replay expects input width ${this.inputDim}, trajectory has ${sd}+${tr.context.length}`);
    if (tr.actionDim !== this.actionDim) throw new Error(`replay expects ${this.actionDim}-D actions, trajectory has ${tr.actionDim}`);
    for (let t = 0; t < tr.length; t++) {
      const i = this.head;
      const next = t + 1 < tr.length ? tr.states.subarray((t + 1) * sd, (t + 2) * sd) : tr.finalState;
      this.inputs.set(tr.states.subarray(t * sd, (t + 1) * sd), i * this.inputDim);
      this.inputs.set(tr.context, i * this.inputDim + sd);
      this.nextInputs.set(next, i * this.inputDim);
      this.nextInputs.set(tr.context, i * this.inputDim + sd);
      for (let d = 0; d < this.actionDim; d++) this.actions[i * this.actionDim + d] = Math.min(1, Math.max(-1, tr.actions[t * this.actionDim + d]));
      this.rewards[i] = tr.rewards[t];
      this.head = (this.head + 1) % this.capacity;
      this.size = Math.min(this.size + 1, this.capacity);
    }
  }

  /** The stored rows (all of them once the ring has wrapped) and the ring's position, for snapshots. */
  saveState(): { meta: { size: number; head: number }; arrays: ReplayRows } {
    const rows = this.size;
    return {
      meta: { size: this.size, head: this.head },
      arrays: {
        inputs: this.inputs.subarray(0, rows * this.inputDim),
        actions: this.actions.subarray(0, rows * this.actionDim),
        rewards: this.rewards.subarray(0, rows),
        nextInputs: this.nextInputs.subarray(0, rows * this.inputDim),
      },
    };
  }

  /** `saveState()`'s rows as snapshot arrays named `<prefix>/<field>`, and the ring's position. */
  snapshotArrays(prefix: string): { meta: { size: number; head: number }; arrays: Record<string, Float32Array> } {
    const st = this.saveState();
    const arrays: Record<string, Float32Array> = {};
    for (const [name, a] of Object.entries(st.arrays)) arrays[`${prefix}/${name}`] = a;
    return { meta: st.meta, arrays };
  }

  /** Refills the buffer from the `<prefix>/<field>` arrays of a snapshot (`snapshotArrays`). */
  restoreFrom(snap: Snapshot, prefix: string, meta: { size: number; head: number }): void {
    this.loadState(meta, {
      inputs: snapshotArray(snap, `${prefix}/inputs`, meta.size * this.inputDim) as Float32Array,
      actions: snapshotArray(snap, `${prefix}/actions`, meta.size * this.actionDim) as Float32Array,
      rewards: snapshotArray(snap, `${prefix}/rewards`, meta.size) as Float32Array,
      nextInputs: snapshotArray(snap, `${prefix}/nextInputs`, meta.size * this.inputDim) as Float32Array,
    });
  }

  /** Refills the buffer from `saveState()` (same widths; the capacity may be larger, not smaller). */
  loadState(meta: { size: number; head: number }, arrays: ReplayRows): void {
    const { size, head } = meta;
    if (!Number.isInteger(size) || size < 0 || size > this.capacity || !Number.isInteger(head) || head < 0 || head >= Math.max(1, this.capacity)) {
      throw new Error(`replay buffer state (size ${size}, head ${head}) does not fit a buffer of capacity ${this.capacity}`);
    }
    if (arrays.inputs.length !== size * this.inputDim || arrays.nextInputs.length !== size * this.inputDim || arrays.actions.length !== size * this.actionDim || arrays.rewards.length !== size) {
      throw new Error(`replay buffer state holds arrays of other widths than this buffer's (${this.inputDim}-wide inputs, ${this.actionDim}-D actions, ${size} rows)`);
    }
    this.inputs.set(arrays.inputs);
    this.actions.set(arrays.actions);
    this.rewards.set(arrays.rewards);
    this.nextInputs.set(arrays.nextInputs);
    this.size = size;
    // A full ring continues where it was; a ring that never wrapped continues after its last row.
    this.head = size === this.capacity ? head : size % this.capacity;
  }

  sample(n: number, rng: Rng): ReplayRows {
    if (this.size === 0) throw new Error('replay buffer is empty');
    const inputs = new Float32Array(n * this.inputDim);
    const nextInputs = new Float32Array(n * this.inputDim);
    const actions = new Float32Array(n * this.actionDim);
    const rewards = new Float32Array(n);
    for (let k = 0; k < n; k++) {
      const i = rng.int(this.size);
      inputs.set(this.inputs.subarray(i * this.inputDim, (i + 1) * this.inputDim), k * this.inputDim);
      nextInputs.set(this.nextInputs.subarray(i * this.inputDim, (i + 1) * this.inputDim), k * this.inputDim);
      actions.set(this.actions.subarray(i * this.actionDim, (i + 1) * this.actionDim), k * this.actionDim);
      rewards[k] = this.rewards[i];
    }
    return { inputs, actions, rewards, nextInputs };
  }
}

export interface SacLosses {
  critic: number;
  actor: number;
  alpha: number;
  /** Current temperature α. */
  alphaValue: number;
}

export class ContextualSac implements ExpertAgent {
  readonly name = 'contextual-sac';
  readonly needsEnvExpert = false;
  readonly config: SacConfig;
  readonly replay: ReplayBuffer;
  readonly inputDim: number;
  /** Environment steps collected so far. */
  envSteps = 0;
  gradSteps = 0;
  private readonly rng: Rng;
  private readonly actor: Mlp;
  private readonly q1: Mlp;
  private readonly q2: Mlp;
  private readonly q1Target: Mlp;
  private readonly q2Target: Mlp;
  private readonly logAlpha: tf.Variable;
  private readonly actorOpt: tf.Optimizer;
  private readonly criticOpt: tf.Optimizer;
  private readonly alphaOpt: tf.Optimizer;
  private readonly targetEntropy: number;

  constructor(
    readonly dims: SacDims,
    config: Partial<SacConfig> = {},
  ) {
    this.config = { ...SAC_DEFAULTS, ...config };
    const c = this.config;
    for (const [k, v] of Object.entries({ batchSize: c.batchSize, replayCapacity: c.replayCapacity })) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`SAC ${k} must be a positive integer, got ${v}`);
    }
    if (!(c.gradStepsPerEnvStep >= 0)) throw new Error(`SAC gradStepsPerEnvStep must be >= 0, got ${c.gradStepsPerEnvStep}`);
    if (!(c.initialAlpha > 0)) throw new Error(`SAC initialAlpha must be > 0, got ${c.initialAlpha}`);
    const { stateDim, contextDim, actionDim } = dims;
    this.inputDim = stateDim + contextDim;
    this.rng = new Rng(c.seed);
    const init = this.rng.fork();
    this.actor = new Mlp('sac/actor', [this.inputDim, ...c.hidden, 2 * actionDim], init);
    this.q1 = new Mlp('sac/q1', [this.inputDim + actionDim, ...c.hidden, 1], init);
    this.q2 = new Mlp('sac/q2', [this.inputDim + actionDim, ...c.hidden, 1], init);
    this.q1Target = new Mlp('sac/q1_target', [this.inputDim + actionDim, ...c.hidden, 1], init);
    this.q2Target = new Mlp('sac/q2_target', [this.inputDim + actionDim, ...c.hidden, 1], init);
    this.q1Target.copyFrom(this.q1);
    this.q2Target.copyFrom(this.q2);
    this.logAlpha = tf.variable(tf.scalar(Math.log(c.initialAlpha)), true, 'sac/log_alpha');
    this.targetEntropy = c.targetEntropy ?? -actionDim;
    this.actorOpt = tf.train.adam(c.actorLr);
    this.criticOpt = tf.train.adam(c.criticLr);
    this.alphaOpt = tf.train.adam(c.alphaLr);
    this.replay = new ReplayBuffer(c.replayCapacity, this.inputDim, actionDim);
  }

  /** Mean action tanh(μ) and a reparameterised sample with its log-density (tanh-corrected). */
  private policy(x: tf.Tensor2D, eps: tf.Tensor2D): { mean: tf.Tensor2D; action: tf.Tensor2D; logp: tf.Tensor1D } {
    const ad = this.dims.actionDim;
    const out = this.actor.apply(x);
    const mu = tf.slice(out, [0, 0], [-1, ad]);
    const raw = tf.slice(out, [0, ad], [-1, ad]);
    const logStd = tf.add(LOG_STD_MIN, tf.mul(0.5 * (LOG_STD_MAX - LOG_STD_MIN), tf.add(tf.tanh(raw), 1)));
    const u = tf.add(mu, tf.mul(tf.exp(logStd), eps));
    const action = tf.tanh(u);
    const gauss = tf.sum(tf.sub(tf.mul(-0.5, tf.square(eps)), tf.add(logStd, 0.5 * Math.log(2 * Math.PI))), 1);
    const squash = tf.sum(tf.log(tf.add(tf.sub(1, tf.square(action)), 1e-6)), 1);
    return { mean: tf.tanh(mu), action: action as tf.Tensor2D, logp: tf.sub(gauss, squash) as tf.Tensor1D };
  }

  private noise(n: number): tf.Tensor2D {
    return tf.tensor2d(this.rng.fillNormal(new Float32Array(n * this.dims.actionDim)), [n, this.dims.actionDim]);
  }

  private inputRows(states: Float32Array | Float64Array, contexts: Float64Array[] | Float64Array, n: number): Float32Array {
    const { stateDim, contextDim } = this.dims;
    if (states.length !== n * stateDim) throw new Error(`SAC expects ${n} states of width ${stateDim}, got ${states.length} values`);
    const x = new Float32Array(n * this.inputDim);
    for (let i = 0; i < n; i++) {
      x.set(states.subarray(i * stateDim, (i + 1) * stateDim), i * this.inputDim);
      const c = Array.isArray(contexts) ? contexts[i] : contexts;
      if (c.length !== contextDim) throw new Error(`SAC expects contexts of width ${contextDim}, got ${c.length}`);
      x.set(c, i * this.inputDim + stateDim);
    }
    return x;
  }

  private batchInputs(batch: ActBatch): Float32Array {
    const n = batch.observations.length;
    const sd = this.dims.stateDim;
    const states = new Float32Array(n * sd);
    batch.observations.forEach((o, i) => states.set(o.state, i * sd));
    return this.inputRows(states, batch.contexts, n);
  }

  /** Deterministic actions tanh(μ) for stored states (one context per row or one for all). */
  async label(states: Float32Array, contexts: Float64Array[] | Float64Array): Promise<Float32Array> {
    const n = states.length / this.dims.stateDim;
    const x = this.inputRows(states, contexts, n);
    const mean = tf.tidy(() => this.policy(tf.tensor2d(x, [n, this.inputDim]), tf.zeros([n, this.dims.actionDim])).mean);
    const out = (await mean.data()) as Float32Array;
    mean.dispose();
    return out;
  }

  /** Expert action: deterministic tanh(μ). */
  async act(batch: ActBatch): Promise<Float32Array[]> {
    const flat = await this.label(
      (() => {
        const sd = this.dims.stateDim;
        const s = new Float32Array(batch.observations.length * sd);
        batch.observations.forEach((o, i) => s.set(o.state, i * sd));
        return s;
      })(),
      batch.contexts,
    );
    const ad = this.dims.actionDim;
    return batch.observations.map((_, i) => flat.slice(i * ad, (i + 1) * ad));
  }

  /** Exploration policy for sampling: uniform during warm-up, then tanh-Gaussian samples. */
  explorationAct(): ActFn {
    return async (batch) => {
      const n = batch.observations.length;
      const ad = this.dims.actionDim;
      if (this.envSteps < this.config.warmupSteps) {
        return { actions: Float32Array.from({ length: n * ad }, () => this.rng.uniform(-1, 1)) };
      }
      const x = this.batchInputs(batch);
      const a = tf.tidy(() => this.policy(tf.tensor2d(x, [n, this.inputDim]), this.noise(n)).action);
      const actions = (await a.data()) as Float32Array;
      a.dispose();
      return { actions };
    };
  }

  /** One gradient step on critics, actor and temperature from a replay minibatch. */
  update(): SacLosses {
    const c = this.config;
    const b = this.replay.sample(c.batchSize, this.rng);
    const n = c.batchSize;
    const ad = this.dims.actionDim;
    return tf.tidy(() => {
      const x = tf.tensor2d(b.inputs, [n, this.inputDim]);
      const x2 = tf.tensor2d(b.nextInputs, [n, this.inputDim]);
      const a = tf.tensor2d(b.actions, [n, ad]);
      const r = tf.tensor1d(b.rewards);
      const alpha = tf.exp(this.logAlpha);
      const next = this.policy(x2, this.noise(n));
      const xa2 = tf.concat([x2, next.action], 1);
      const qNext = tf.reshape(tf.minimum(this.q1Target.apply(xa2), this.q2Target.apply(xa2)), [n]);
      const y = tf.add(tf.mul(r, c.rewardScale), tf.mul(c.gamma, tf.sub(qNext, tf.mul(alpha, next.logp))));
      const yc = tf.keep(y);
      const xa = tf.concat([x, a], 1);
      const criticLoss = this.criticOpt.minimize(
        () => {
          const e1 = tf.sub(tf.reshape(this.q1.apply(xa), [n]), yc);
          const e2 = tf.sub(tf.reshape(this.q2.apply(xa), [n]), yc);
          return tf.add(tf.mean(tf.square(e1)), tf.mean(tf.square(e2))) as tf.Scalar;
        },
        true,
        [...this.q1.variables, ...this.q2.variables],
      )!;
      yc.dispose();
      const eps = this.noise(n);
      let logpNew: tf.Tensor1D | undefined;
      const actorLoss = this.actorOpt.minimize(
        () => {
          const p = this.policy(x, eps);
          logpNew = tf.keep(p.logp);
          const xan = tf.concat([x, p.action], 1);
          const q = tf.reshape(tf.minimum(this.q1.apply(xan), this.q2.apply(xan)), [n]);
          return tf.mean(tf.sub(tf.mul(tf.exp(this.logAlpha), p.logp), q)) as tf.Scalar;
        },
        true,
        this.actor.variables,
      )!;
      let alphaLoss = tf.scalar(0);
      if (c.autoEntropy) {
        const target = tf.add(logpNew!, this.targetEntropy);
        alphaLoss = this.alphaOpt.minimize(() => tf.neg(tf.mean(tf.mul(this.logAlpha, target))) as tf.Scalar, true, [this.logAlpha])!;
      }
      logpNew?.dispose();
      this.q1Target.copyFrom(this.q1, c.tau);
      this.q2Target.copyFrom(this.q2, c.tau);
      this.gradSteps++;
      return {
        critic: criticLoss.dataSync()[0],
        actor: actorLoss.dataSync()[0],
        alpha: alphaLoss.dataSync()[0],
        alphaValue: Math.exp(this.logAlpha.dataSync()[0]),
      };
    });
  }

  /** Named copies of the actor's weights and the temperature (for saving an expert). */
  actorWeights(): Record<string, { shape: number[]; data: Float32Array }> {
    const out: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const v of [...this.actor.variables, this.logAlpha]) out[v.name] = { shape: v.shape.slice(), data: v.dataSync() as Float32Array };
    return out;
  }

  private get networks(): Mlp[] {
    return [this.actor, this.q1, this.q2, this.q1Target, this.q2Target];
  }

  private get optimizers(): Array<[string, tf.Optimizer]> {
    return [
      ['actor', this.actorOpt],
      ['critic', this.criticOpt],
      ['alpha', this.alphaOpt],
    ];
  }

  /** Everything training continues from: the five networks and log α, the Adam states, the replay buffer, the random stream, the counters. */
  async saveState(): Promise<{ meta: SacStateMeta; arrays: SnapshotArrays }> {
    const learner = await learnerArrays(this.networks.map((m) => m.variables), this.logAlpha, this.optimizers);
    const replay = this.replay.snapshotArrays('replay');
    return {
      meta: { config: this.config, dims: this.dims, envSteps: this.envSteps, gradSteps: this.gradSteps, rng: this.rng.saveState(), optimizers: learner.optimizers, replay: replay.meta },
      arrays: { ...learner.arrays, ...replay.arrays },
    };
  }

  /** Continues from `saveState()` of an agent with the same dimensions and config (else a SnapshotError naming the difference). */
  async loadState(snap: Snapshot<SacStateMeta>, where = 'the snapshot'): Promise<void> {
    const m = snap.meta;
    checkSameSettings(where, 'SAC', { ...this.config, dims: this.dims }, { ...m.config, dims: m.dims });
    await restoreLearner(snap, this.networks.map((n) => n.variables), this.logAlpha, this.optimizers, m.optimizers);
    this.replay.restoreFrom(snap, 'replay', m.replay);
    this.rng.loadState(m.rng);
    this.envSteps = m.envSteps;
    this.gradSteps = m.gradSteps;
  }

  /**
   * The trained expert as a snapshot (kind `sac-expert`): the actor and the temperature, the
   * sizes, config and step counts, and the caller's `extra`. The critics, their optimisers and the
   * replay buffer are not kept: an expert restored from it acts and labels, it does not train on.
   */
  expertSnapshot(extra: unknown = null): Snapshot<SacExpertMeta> {
    return {
      kind: SAC_EXPERT_KIND,
      meta: { dims: this.dims, config: this.config, envSteps: this.envSteps, gradSteps: this.gradSteps, extra },
      arrays: { ...variableArrays('actor', this.actor.variables), ...variableArrays('logAlpha', [this.logAlpha]) },
    };
  }

  /** An expert from `expertSnapshot()`: the same actions and labels as the agent that wrote it. */
  static fromExpertSnapshot(snap: Snapshot<SacExpertMeta>, where = 'the SAC expert snapshot'): ContextualSac {
    if (snap.kind !== SAC_EXPERT_KIND) throw new SnapshotError(`${where} holds a '${snap.kind}', not a SAC expert`);
    const m = snap.meta;
    if (!m || typeof m !== 'object' || !m.dims || !m.config || !Number.isFinite(m.envSteps)) throw new SnapshotError(`${where}: its header lacks the expert's sizes, config or step count`);
    // One replay row: the expert does not train, so its buffer is never filled.
    const agent = new ContextualSac(m.dims, { ...m.config, replayCapacity: 1 });
    try {
      restoreVariables(snap, 'actor', agent.actor.variables);
      restoreVariables(snap, 'logAlpha', [agent.logAlpha]);
    } catch (err) {
      agent.dispose();
      throw err;
    }
    agent.envSteps = m.envSteps;
    agent.gradSteps = m.gradSteps;
    return agent;
  }

  dispose(): void {
    for (const m of this.networks) m.dispose();
    this.logAlpha.dispose();
    for (const o of [this.actorOpt, this.criticOpt, this.alphaOpt]) o.dispose();
  }
}

export interface SacStateMeta {
  config: SacConfig;
  dims: SacDims;
  envSteps: number;
  gradSteps: number;
  rng: { state: RngState; spare: number | null };
  optimizers: Record<string, OptimizerMeta>;
  replay: { size: number; head: number };
}

export const SAC_EXPERT_KIND = 'sac-expert';

/** Header of a SAC expert snapshot. */
export interface SacExpertMeta {
  dims: SacDims;
  config: SacConfig;
  envSteps: number;
  gradSteps: number;
  /** What the writer kept with it (the experiment harness: the settings that trained it, its last return). */
  extra: unknown;
}

/** Writes a trained agent's expert snapshot (`expertSnapshot`) atomically. */
export async function saveSacExpert(file: string, agent: ContextualSac, extra: unknown = null): Promise<void> {
  await writeSnapshot(file, agent.expertSnapshot(extra));
}

/**
 * Loads a SAC expert snapshot (`gmps train-experts --expert sac`, or the one a run keeps) for envs of
 * the given sizes (a sampler's `info` will do); a snapshot of other sizes is refused with both named.
 */
export async function loadSacExpert(file: string, dims: SacDims): Promise<{ agent: ContextualSac; extra: unknown }> {
  const snap = await readSnapshot<SacExpertMeta>(file, SAC_EXPERT_KIND);
  const d = snap.meta?.dims;
  if (!d || d.stateDim !== dims.stateDim || d.contextDim !== dims.contextDim || d.actionDim !== dims.actionDim) {
    const sizes = (x: SacDims | undefined) => (x ? `${x.stateDim}, ${x.contextDim}, ${x.actionDim}` : 'none recorded');
    throw new SnapshotError(`${file} holds a SAC expert for state, context, action sizes ${sizes(d)}; these envs have ${sizes(dims)}`);
  }
  return { agent: ContextualSac.fromExpertSnapshot(snap, file), extra: snap.meta.extra };
}

export interface SacRoundStats {
  round: number;
  envSteps: number;
  gradSteps: number;
  /** Mean undiscounted return of this round's exploration episodes. */
  meanReturn: number;
  successRate: number;
  losses?: SacLosses;
}

export interface TrainSacOptions {
  sampler: Sampler;
  /** The task set; each round draws one task per env slot uniformly from it. */
  tasks: readonly TaskParams[];
  /** Total environment steps to collect. */
  envSteps: number;
  config?: Partial<SacConfig>;
  /** Continue training an existing agent instead of a new one. */
  agent?: ContextualSac;
  onRound?: (stats: SacRoundStats) => void;
  /**
   * Training snapshot: written after every `everyRounds` rounds (default 1) and deleted when the
   * training ends. When the file exists at the start, training continues from it: the agent (networks,
   * Adam states, replay buffer, random streams), the task stream, the round and the step budget.
   */
  snapshot?: { file: string; everyRounds?: number };
}

interface SacTrainingMeta {
  agent: SacStateMeta;
  /** Rounds completed (not `iterations`: the experiment harness reads that key as a run's progress). */
  rounds: number;
  /** The training's env-step budget (`envSteps`) and the agent's step count it stops at. */
  budget: number;
  stopAt: number;
  gradDebt: number;
  taskRng: { state: RngState; spare: number | null };
  tasks: number;
  history: SacRoundStats[];
}

const SAC_TRAINING_KIND = 'sac-training';

/**
 * Trains contextual SAC: each round samples one episode per env slot with the exploration
 * policy, stores it, then takes `gradStepsPerEnvStep` gradient steps per collected step
 * (from the round that completes the warm-up on).
 */
export async function trainSac(opts: TrainSacOptions): Promise<{ agent: ContextualSac; history: SacRoundStats[] }> {
  if (opts.tasks.length === 0) throw new Error('trainSac needs at least one task');
  const info = opts.sampler.info;
  const agent = opts.agent ?? new ContextualSac({ stateDim: info.stateDim, contextDim: info.contextDim, actionDim: info.actionDim }, opts.config);
  try {
    return await runSac(opts, agent);
  } catch (err) {
    // An agent made here frees its (process-global) variable names, so the next run can make its own.
    if (!opts.agent) agent.dispose();
    throw err;
  }
}

async function runSac(opts: TrainSacOptions, agent: ContextualSac): Promise<{ agent: ContextualSac; history: SacRoundStats[] }> {
  const info = opts.sampler.info;
  const taskRng = new Rng(`sac-tasks-${agent.config.seed}`);
  const history: SacRoundStats[] = [];
  let gradDebt = 0;
  let stopAt = agent.envSteps + opts.envSteps;
  let start = 0;
  const snap = opts.snapshot;
  const every = snap?.everyRounds ?? 1;
  if (snap && !(Number.isInteger(every) && every >= 1)) throw new Error(`SAC snapshot everyRounds must be a positive integer, got ${every}`);
  if (snap && (await fileExists(snap.file))) {
    const saved = await readSnapshot<SacTrainingMeta>(snap.file, SAC_TRAINING_KIND);
    const m = saved.meta;
    if (m.tasks !== opts.tasks.length) throw new SnapshotError(`${snap.file} was written for ${m.tasks} tasks, this run has ${opts.tasks.length}; delete it to start over`);
    if (m.budget !== opts.envSteps) throw new SnapshotError(`${snap.file} is a SAC training of ${m.budget} env steps, this one has ${opts.envSteps}; delete it to start over`);
    await agent.loadState({ ...saved, meta: m.agent }, snap.file);
    taskRng.loadState(m.taskRng);
    gradDebt = m.gradDebt;
    stopAt = m.stopAt;
    start = m.rounds;
    history.push(...m.history);
  }
  for (let round = start; agent.envSteps < stopAt; round++) {
    const roundTasks = Array.from({ length: info.nEnvs }, () => opts.tasks[taskRng.int(opts.tasks.length)]);
    const trajs = (await opts.sampler.sample({ tasks: roundTasks, rolloutsPerTask: 1, act: agent.explorationAct() })).flat();
    let steps = 0;
    for (const tr of trajs) {
      agent.replay.addTrajectory(tr);
      steps += tr.length;
    }
    agent.envSteps += steps;
    let losses: SacLosses | undefined;
    if (agent.envSteps >= Math.max(agent.config.warmupSteps, agent.config.batchSize)) {
      gradDebt += steps * agent.config.gradStepsPerEnvStep;
      for (; gradDebt >= 1; gradDebt--) losses = agent.update();
    }
    const stats: SacRoundStats = {
      round,
      envSteps: agent.envSteps,
      gradSteps: agent.gradSteps,
      meanReturn: trajs.reduce((s, tr) => s + undiscountedReturn(tr), 0) / trajs.length,
      successRate: trajs.filter(succeeded).length / trajs.length,
      ...(losses ? { losses } : {}),
    };
    history.push(stats);
    opts.onRound?.(stats);
    if (snap && (round + 1) % every === 0 && agent.envSteps < stopAt) {
      const st = await agent.saveState();
      const meta: SacTrainingMeta = { agent: st.meta, rounds: round + 1, budget: opts.envSteps, stopAt, gradDebt, taskRng: taskRng.saveState(), tasks: opts.tasks.length, history };
      await writeSnapshot(snap.file, { kind: SAC_TRAINING_KIND, meta, arrays: st.arrays });
    }
  }
  if (snap) await rm(snap.file, { force: true });
  return { agent, history };
}
