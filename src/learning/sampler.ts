/**
 * Rollout sampling: K fixed-horizon episodes per task from a policy. Envs live in env slots,
 * either in worker threads (`createSampler`, N workers, default one per core) or in the main
 * thread (`createLocalSampler`). The policy runs in the main thread, batched: one `act` call per
 * time step for every live env. Rollout r (task-major order) always runs in slot r mod nEnvs with
 * that slot's env seed, so the result does not depend on the number of workers.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Env, Observation, StepInfo, TaskParams } from '../../sim/types.js';
import type { Trajectory } from './trajectory.js';
import { EnvSlots, type EnvDims, type ResetItem, type SlotObservation, type SlotStep, type StepItem } from './worker/env-slots.js';
import { createEnvFromSpec, moduleExt, type EnvSpec } from './worker/spec.js';
import type { WorkerRequest, WorkerResponse } from './worker/protocol.js';

export type { EnvSpec } from './worker/spec.js';

/** What the policy sees at one time step: all live envs, in slot order. */
export interface ActBatch {
  observations: Observation[];
  /** Privileged contexts (for contextual experts only). */
  contexts: Float64Array[];
  tasks: TaskParams[];
  /** Index (task-major) of each live env's rollout in the request. */
  rollouts: number[];
  /** Time step within the episode. */
  t: number;
  /** The envs' scripted expert actions in these states, when sampled with `queryExpert`. */
  expertActions?: Float64Array[];
}

/** Rows for the batch: one array per env, or one flat row-major array [B x width]. */
export type Rows = Float32Array[] | Float32Array;

export interface ActOutput {
  /** Actions to execute, [B x actionDim]. */
  actions: Rows;
  /** Per-step policy outputs to record, e.g. `{ mean, logStd }` of θ0 ([B x actionDim] each). */
  agentInfos?: Record<string, Rows>;
}

export type ActFn = (batch: ActBatch) => ActOutput | Promise<ActOutput>;

export interface SampleRequest {
  tasks: readonly TaskParams[];
  rolloutsPerTask: number;
  act: ActFn;
  /** Record the env's scripted expert action at every visited state (`Trajectory.expertActions`). */
  queryExpert?: boolean;
  /** Episode length cap; default the env horizon. */
  maxSteps?: number;
}

export interface SamplerInfo extends EnvDims {
  nEnvs: number;
  nWorkers: number;
}

export interface Sampler {
  readonly info: SamplerInfo;
  /** Trajectories grouped per task: result[i][k] is rollout k of tasks[i]. */
  sample(req: SampleRequest): Promise<Trajectory[][]>;
  close(): Promise<void>;
}

export interface SamplerOptions {
  env: EnvSpec;
  /** Envs stepped in parallel (default 8); a request runs in rounds of this many rollouts. */
  nEnvs?: number;
  /** Worker threads (default os.availableParallelism(), at most nEnvs). */
  nWorkers?: number;
}

export interface LocalSamplerOptions {
  env: EnvSpec;
  nEnvs?: number;
  /** Builds the env of a slot; default `createEnvFromSpec(env, slot)`. */
  factory?: (slot: number) => Env | Promise<Env>;
}

/** One group of env slots: local or behind a worker. */
interface EnvHost {
  readonly slots: readonly number[];
  reset(items: ResetItem[], queryExpert: boolean): Promise<SlotObservation[]>;
  step(items: StepItem[], queryExpert: boolean): Promise<SlotStep[]>;
  close(): Promise<void>;
}

const DEFAULT_N_ENVS = 8;

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

class LocalHost implements EnvHost {
  constructor(
    readonly slots: readonly number[],
    private readonly envSlots: EnvSlots,
  ) {}
  async reset(items: ResetItem[], q: boolean): Promise<SlotObservation[]> {
    return this.envSlots.reset(items, q);
  }
  async step(items: StepItem[], q: boolean): Promise<SlotStep[]> {
    return this.envSlots.step(items, q);
  }
  async close(): Promise<void> {
    this.envSlots.close();
  }
}

/** tsx's ESM API module (the `import` target of `tsx/esm/api`), next to its `tsx` loader entry. */
function tsxApiUrl(): string {
  const loader = createRequire(import.meta.url).resolve('tsx');
  return pathToFileURL(path.join(path.dirname(loader), 'esm', 'api', 'index.mjs')).href;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type Request = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

class WorkerHost implements EnvHost {
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;
  private closing = false;

  constructor(
    readonly index: number,
    readonly slots: readonly number[],
    private readonly worker: Worker,
  ) {
    worker.on('message', (msg: WorkerResponse) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`env worker ${index} (slots ${slots.join(',')}): ${msg.error}`));
    });
    worker.on('error', (err) => this.fail(new Error(`env worker ${index} crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new Error(`env worker ${index} exited unexpectedly with code ${code}`));
    });
  }

  static spawn(index: number, slots: number[], spec: EnvSpec): WorkerHost {
    const url = new URL(`./worker/env-worker${moduleExt()}`, import.meta.url);
    // Running from TypeScript sources (tsx): Node 20 workers do not get the parent's loader hooks,
    // so the worker registers tsx itself before importing its entry.
    const worker =
      moduleExt() === '.ts'
        ? new Worker(
            `import(${JSON.stringify(tsxApiUrl())}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`,
            { eval: true, workerData: { spec, slots } },
          )
        : new Worker(url, { workerData: { spec, slots } });
    return new WorkerHost(index, slots, worker);
  }

  init(): Promise<EnvDims> {
    return this.call({ type: 'init' }) as Promise<EnvDims>;
  }
  reset(items: ResetItem[], queryExpert: boolean): Promise<SlotObservation[]> {
    return this.call({ type: 'reset', items, queryExpert }) as Promise<SlotObservation[]>;
  }
  step(items: StepItem[], queryExpert: boolean): Promise<SlotStep[]> {
    return this.call({ type: 'step', items, queryExpert }) as Promise<SlotStep[]>;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    if (!this.failure) {
      try {
        await this.call({ type: 'close' });
      } catch {
        // the worker is terminated below either way
      }
    }
    this.closing = true;
    await this.worker.terminate();
  }

  private call(req: Request): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new Error(`env worker ${this.index} is closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id });
    });
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}

/** Sampler over envs in worker threads. */
export async function createSampler(opts: SamplerOptions): Promise<Sampler> {
  const nEnvs = opts.nEnvs ?? DEFAULT_N_ENVS;
  checkCount('nEnvs', nEnvs);
  const nWorkers = Math.min(opts.nWorkers ?? os.availableParallelism(), nEnvs);
  checkCount('nWorkers', nWorkers);
  const groups: number[][] = Array.from({ length: nWorkers }, () => []);
  // Contiguous slot blocks, sizes differing by at most one.
  for (let s = 0; s < nEnvs; s++) groups[Math.floor((s * nWorkers) / nEnvs)].push(s);
  const hosts = groups.map((slots, i) => WorkerHost.spawn(i, slots, opts.env));
  let dims: EnvDims[];
  try {
    dims = await Promise.all(hosts.map((h) => h.init()));
  } catch (err) {
    await Promise.allSettled(hosts.map((h) => h.close()));
    throw err;
  }
  return new SlotSampler(hosts, { ...dims[0], nEnvs, nWorkers });
}

/** Sampler with every env in the calling thread: for tests and tiny jobs. Same results as `createSampler`. */
export async function createLocalSampler(opts: LocalSamplerOptions): Promise<Sampler> {
  const nEnvs = opts.nEnvs ?? DEFAULT_N_ENVS;
  checkCount('nEnvs', nEnvs);
  const slots = Array.from({ length: nEnvs }, (_, i) => i);
  const envs: Env[] = [];
  try {
    for (const s of slots) envs.push(await (opts.factory ? opts.factory(s) : createEnvFromSpec(opts.env, s)));
  } catch (err) {
    for (const e of envs) e.close();
    throw err;
  }
  const envSlots = new EnvSlots(slots, envs);
  return new SlotSampler([new LocalHost(slots, envSlots)], { ...envSlots.dims(), nEnvs, nWorkers: 0 });
}

class TrajectoryBuilder {
  readonly states: number[] = [];
  readonly hands: number[] = [];
  readonly images: Uint8Array[] = [];
  readonly actions: number[] = [];
  readonly rewards: number[] = [];
  readonly experts: number[] = [];
  readonly infos = new Map<string, number[]>();
  readonly agentInfos = new Map<string, number[]>();
  length = 0;
  terminated = false;
  last: SlotObservation;

  constructor(
    readonly task: TaskParams,
    readonly context: Float64Array,
    first: SlotObservation,
  ) {
    this.last = first;
  }

  addInfo(info: StepInfo, t: number): void {
    for (const [k, v] of Object.entries(info)) {
      let col = this.infos.get(k);
      if (!col) {
        col = new Array<number>(t).fill(Number.NaN);
        this.infos.set(k, col);
      }
      col.push(typeof v === 'boolean' ? (v ? 1 : 0) : v);
    }
  }

  build(dims: EnvDims): Trajectory {
    const T = this.length;
    const traj: Trajectory = {
      task: this.task,
      context: this.context,
      length: T,
      stateDim: dims.stateDim,
      actionDim: dims.actionDim,
      states: Float32Array.from(this.states),
      hands: Float32Array.from(this.hands),
      actions: Float32Array.from(this.actions),
      rewards: Float64Array.from(this.rewards),
      envInfos: Object.fromEntries([...this.infos].map(([k, v]) => [k, Float64Array.from(v)])),
      agentInfos: Object.fromEntries([...this.agentInfos].map(([k, v]) => [k, Float32Array.from(v)])),
      finalState: Float32Array.from(this.last.state),
      finalHand: Float32Array.from(this.last.hand),
      terminated: this.terminated,
    };
    if (this.images.length) {
      const px = this.images[0].length;
      const all = new Uint8Array(px * T);
      this.images.forEach((im, t) => all.set(im, t * px));
      traj.images = all;
      traj.imageShape = dims.imageShape ? { ...dims.imageShape } : undefined;
    }
    if (this.experts.length) traj.expertActions = Float32Array.from(this.experts);
    return traj;
  }
}

/** Splits `rows` into `n` rows of equal width; checks shape. */
function rowsOf(rows: Rows, n: number, what: string, width?: number): Float32Array[] {
  let out: Float32Array[];
  if (Array.isArray(rows)) {
    if (rows.length !== n) throw new Error(`act returned ${rows.length} ${what} rows for ${n} envs`);
    out = rows;
  } else {
    if (n === 0 || rows.length % n !== 0) throw new Error(`act returned a flat ${what} array of length ${rows.length}, not a multiple of ${n} envs`);
    const w = rows.length / n;
    out = Array.from({ length: n }, (_, i) => rows.subarray(i * w, (i + 1) * w));
  }
  if (width !== undefined) {
    for (const r of out) if (r.length !== width) throw new Error(`act returned ${what} of width ${r.length}, expected ${width}`);
  }
  return out;
}

class SlotSampler implements Sampler {
  private broken: Error | undefined;
  private closed = false;
  private busy = false;

  constructor(
    private readonly hosts: EnvHost[],
    readonly info: SamplerInfo,
  ) {}

  async sample(req: SampleRequest): Promise<Trajectory[][]> {
    if (this.broken) throw new Error(`sampler is unusable after an env failure: ${this.broken.message}`);
    if (this.closed) throw new Error('sampler is closed');
    if (this.busy) throw new Error('sampler is already sampling; await the previous sample() first');
    checkCount('rolloutsPerTask', req.rolloutsPerTask);
    const maxSteps = req.maxSteps ?? this.info.horizon;
    checkCount('maxSteps', maxSteps);
    this.busy = true;
    try {
      return await this.run(req, maxSteps);
    } catch (err) {
      this.broken = err instanceof Error ? err : new Error(String(err));
      await Promise.allSettled(this.hosts.map((h) => h.close()));
      throw this.broken;
    } finally {
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(this.hosts.map((h) => h.close()));
  }

  private async run(req: SampleRequest, maxSteps: number): Promise<Trajectory[][]> {
    const K = req.rolloutsPerTask;
    const q = req.queryExpert ?? false;
    const total = req.tasks.length * K;
    const out: Trajectory[][] = req.tasks.map(() => []);
    const { nEnvs, actionDim } = this.info;
    for (let start = 0; start < total; start += nEnvs) {
      const count = Math.min(nEnvs, total - start);
      const resetItems: ResetItem[] = [];
      for (let j = 0; j < count; j++) resetItems.push({ slot: j, task: req.tasks[Math.floor((start + j) / K)] });
      const first = await this.fanOut(resetItems, (h, items) => h.reset(items, q));
      const builders = first.map((o, j) => new TrajectoryBuilder(resetItems[j].task, o.context!, o));
      let live = builders.map((_, j) => j);
      for (let t = 0; t < maxSteps && live.length; t++) {
        const obs = live.map((j) => builders[j].last);
        const batch: ActBatch = {
          observations: obs.map((o) => ({ state: o.state, hand: o.hand, ...(o.image ? { image: o.image } : {}) })),
          contexts: live.map((j) => builders[j].context),
          tasks: live.map((j) => builders[j].task),
          rollouts: live.map((j) => start + j),
          t,
        };
        if (q) batch.expertActions = obs.map((o) => o.expert!);
        const res = await req.act(batch);
        const actions = rowsOf(res.actions, live.length, 'action', actionDim);
        const infos = Object.entries(res.agentInfos ?? {}).map(([k, v]) => [k, rowsOf(v, live.length, `agentInfos.${k}`)] as const);
        live.forEach((j, i) => {
          const b = builders[j];
          const o = b.last;
          b.states.push(...o.state);
          b.hands.push(...o.hand);
          if (o.image) b.images.push(o.image);
          if (q) b.experts.push(...o.expert!);
          b.actions.push(...actions[i]);
          for (const [k, rows] of infos) {
            let col = b.agentInfos.get(k);
            if (!col) b.agentInfos.set(k, (col = []));
            col.push(...rows[i]);
          }
        });
        const stepItems = live.map((j, i) => ({ slot: j, action: Float32Array.from(actions[i]) }));
        const results = await this.fanOut(stepItems, (h, items) => h.step(items, q));
        const next: number[] = [];
        live.forEach((j, i) => {
          const b = builders[j];
          const r = results[i];
          b.rewards.push(r.reward);
          b.addInfo(r.info, b.length);
          b.length++;
          b.last = r;
          if (r.done) b.terminated = true;
          else next.push(j);
        });
        live = next;
      }
      builders.forEach((b, j) => out[Math.floor((start + j) / K)].push(b.build(this.info)));
    }
    return out;
  }

  /** Sends each host its items (in parallel) and returns the results in the items' order. */
  private async fanOut<I extends { slot: number }, R>(items: I[], call: (h: EnvHost, items: I[]) => Promise<R[]>): Promise<R[]> {
    const results = new Array<R>(items.length);
    await Promise.all(
      this.hosts.map(async (h) => {
        const idx: number[] = [];
        items.forEach((it, i) => {
          if (h.slots.includes(it.slot)) idx.push(i);
        });
        if (!idx.length) return;
        const res = await call(h, idx.map((i) => items[i]));
        idx.forEach((i, k) => (results[i] = res[k]));
      }),
    );
    return results;
  }
}
