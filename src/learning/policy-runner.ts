/**
 * What the policy node needs from the learning code, with no ROS in it: a checkpoint loaded for
 * inference (model.json, or the checkpoint.json of an earlier version), observation rows
 * assembled from robot-side values, one action per control step, and parameter sets that travel
 * as named flat tensors (the `gmps_msgs/PolicyParams` message) and replace the checkpoint's θ
 * atomically.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TaskKind } from '../../sim/types.js';
import { DOOR } from '../../sim/layout.js';
import { initBackend } from './backend.js';
import { preprocessFrame, type ImageLike } from '../vision/preprocess.js';
import { disposeParams, obsModeOf, type GmpsPolicy, type Params } from './policy/index.js';
import type { TrainState } from './meta-train.js';
import type { ObsMode } from './trajectory.js';

export interface InferencePolicy {
  policy: GmpsPolicy;
  /** θ of the checkpoint. */
  params: Params;
  /** Learned step sizes α. */
  stepSizes: Params;
  obsMode: ObsMode;
  /** Task the checkpoint was meta-trained on. */
  task: TaskKind;
  /** Path of the file read. */
  file: string;
  dispose(): void;
}

/**
 * Loads a checkpoint directory (or its JSON): `model.json`, or the `checkpoint.json` of an earlier
 * version. Task and observation mode come from the meta-training state when the checkpoint has
 * one, else from `extra.task` and the policy kind. Adam state and D* are dropped. Initialises the
 * tfjs backend first (`GMPS_BACKEND` or the fallback order).
 */
export async function loadInferencePolicy(where: string, opts: { log?: (line: string) => void } = {}): Promise<InferencePolicy> {
  await initBackend({ log: opts.log ?? null });
  const { readAnyCheckpoint } = await import('./meta-train.js');
  const ck = await readAnyCheckpoint(where);
  for (const t of [...Object.values(ck.adamSlots), ...Object.values(ck.extraWeights)]) t.dispose();
  const config = (ck.meta.extra?.trainState as TrainState | undefined)?.config;
  return {
    policy: ck.policy,
    params: ck.params,
    stepSizes: ck.stepSizes,
    obsMode: config?.obsMode ?? obsModeOf(ck.policy),
    task: config?.task ?? (ck.meta.extra?.task as TaskKind | undefined) ?? 'door',
    file: ck.file,
    dispose: () => {
      disposeParams(ck.params);
      disposeParams(ck.stepSizes);
    },
  };
}

/** Door handle (grasp point) in the base frame for a door angle: the hinge rotates the closed-door grasp point. */
export function doorHandlePosition(angleRad: number): [number, number, number] {
  const [hx, hy, hz] = DOOR.hinge;
  const [gx, gy, gz] = DOOR.grasp;
  const c = Math.cos(angleRad);
  const s = Math.sin(angleRad);
  return [hx + c * gx - s * gy, hy + s * gx + c * gy, hz + gz];
}

export type Vec3 = readonly [number, number, number];

/**
 * The GMPS state row: door = hand xyz + handle xyz (from the door angle), and the angle itself for a
 * policy of 7 inputs (the env option `observeAngle`); push = hand xyz + block xyz.
 */
export function stateRow(task: TaskKind, hand: Vec3, extra: { doorAngle?: number; block?: Vec3 }, width = 6): Float32Array {
  if (width !== 6 && !(task === 'door' && width === 7)) {
    throw new Error(`no ${width}-value state observation for '${task}' (door: 6, or 7 with the door angle; push: 6)`);
  }
  const row = new Float32Array(width);
  row.set(hand, 0);
  if (task === 'door') {
    if (extra.doorAngle === undefined) throw new Error('door state observation needs the door angle');
    row.set(doorHandlePosition(extra.doorAngle), 3);
    if (width === 7) row[6] = extra.doorAngle;
  } else if (task === 'push') {
    if (!extra.block) throw new Error('push state observation needs the block position');
    row.set(extra.block, 3);
  } else {
    throw new Error(`no state observation for '${task}' tasks on the robot graph`);
  }
  return row;
}

/**
 * The vision row: image HWC in [0, 1] at the policy's size, then hand xyz. Frames already at that
 * size (the simulator's) are scaled only; others go through the crop/resize of `preprocessFrame`.
 */
export function visionRow(policy: GmpsPolicy, frame: ImageLike & { encoding?: string }, hand: Vec3): Float32Array {
  const v = policy.config.vision;
  if (!v) throw new Error('visionRow: the policy has no vision config');
  if (frame.encoding !== undefined && frame.encoding !== 'rgb8') {
    throw new Error(`camera image encoding '${frame.encoding}' is not supported: publish rgb8`);
  }
  const size = v.height * v.width * 3;
  const row = new Float32Array(size + v.handDim);
  if (frame.width === v.width && frame.height === v.height) {
    if (frame.data.length !== size) throw new Error(`camera image of ${frame.width}x${frame.height} has ${frame.data.length} bytes, expected ${size} (rgb8)`);
    for (let i = 0; i < size; i++) row[i] = frame.data[i]! / 255;
  } else {
    preprocessFrame(frame, { width: v.width, height: v.height }, row, 0);
  }
  row.set(hand.slice(0, v.handDim), size);
  return row;
}

export interface PolicyAction {
  /** Sampled action (the mean when deterministic). */
  action: Float32Array;
  mean: Float32Array;
  logStd: Float32Array;
}

/** One control step: one observation row → action, mean and log-std of π(·|obs). */
export function actOnce(
  policy: GmpsPolicy,
  params: Params,
  obs: Float32Array,
  opts: { deterministic: boolean; seed: number; /** Multiplies σ of a sampled action (default 1); `logStd` stays the policy's own. */ stdScale?: number },
): PolicyAction {
  if (obs.length !== policy.config.obsDim) throw new Error(`observation has ${obs.length} values, the policy takes ${policy.config.obsDim}`);
  for (let i = 0; i < obs.length; i++) if (!Number.isFinite(obs[i])) throw new Error(`observation value ${i} is not finite`);
  const stdScale = opts.stdScale ?? 1;
  if (!(Number.isFinite(stdScale) && stdScale > 0)) throw new Error(`stdScale must be a positive number, got ${stdScale}`);
  const r = policy.act(params, obs, { seed: opts.seed, stdScale: opts.deterministic ? 0 : stdScale });
  const logStd = tf.tidy(() => policy.logStd(params).dataSync() as Float32Array);
  return { action: opts.deterministic ? r.mean : r.action, mean: r.mean, logStd: Float32Array.from(logStd) };
}

/** A tensor as it travels in `gmps_msgs/Tensor`. */
export interface FlatTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Flattens the named tensors of a parameter set (all of them when `names` is omitted). */
export function flattenParams(p: Params, names: readonly string[] = Object.keys(p)): FlatTensor[] {
  return names.map((name) => {
    const t = p[name];
    if (!t) throw new Error(`flattenParams: no tensor '${name}'`);
    return { name, shape: [...t.shape], data: Float32Array.from(t.dataSync() as Float32Array) };
  });
}

/**
 * The parameters the policy acts with: the checkpoint's θ overlaid by the tensors of the latest
 * parameter message. `stage` validates and builds a set; `swap` installs the staged set (call it at
 * the start of a control step, so a step never mixes two sets and no step waits for a transfer).
 */
export class ParamsSlot {
  private currentVersion = 0;
  private current: Params;
  private owned: tf.Tensor[] = [];
  private pending?: { version: number; params: Params; owned: tf.Tensor[] };

  constructor(
    private readonly policy: GmpsPolicy,
    private readonly base: Params,
  ) {
    this.current = base;
  }

  get version(): number {
    return this.currentVersion;
  }

  /** Version of the newest set received (installed or staged). */
  get latestVersion(): number {
    return this.pending?.version ?? this.currentVersion;
  }

  get params(): Params {
    return this.current;
  }

  /** Validates a set against the policy's shapes and stages it; throws (staging nothing) on a mismatch. */
  stage(version: number, tensors: readonly FlatTensor[]): void {
    const shapes = new Map(this.policy.shapes.map(([n, s]) => [n, s]));
    const seen = new Set<string>();
    for (const t of tensors) {
      const expected = shapes.get(t.name);
      if (!expected) throw new Error(`parameter set ${version}: the policy has no tensor '${t.name}'`);
      if (seen.has(t.name)) throw new Error(`parameter set ${version}: tensor '${t.name}' appears twice`);
      seen.add(t.name);
      const shape = Array.from(t.shape);
      if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
        throw new Error(`parameter set ${version}: '${t.name}' has shape [${shape}], the policy expects [${expected}]`);
      }
      const size = expected.reduce((a, b) => a * b, 1);
      if (t.data.length !== size) throw new Error(`parameter set ${version}: '${t.name}' has ${t.data.length} values, expected ${size}`);
      for (let i = 0; i < t.data.length; i++) {
        if (!Number.isFinite(t.data[i])) throw new Error(`parameter set ${version}: '${t.name}' value ${i} is not finite`);
      }
    }
    const params: Params = { ...this.base };
    const owned: tf.Tensor[] = [];
    for (const t of tensors) {
      const x = tf.tensor(Float32Array.from(t.data), [...shapes.get(t.name)!], 'float32');
      owned.push(x);
      params[t.name] = x;
    }
    if (this.pending) this.pending.owned.forEach((x) => x.dispose());
    this.pending = { version, params, owned };
  }

  /** Installs the staged set, if any; returns true when the parameters changed. */
  swap(): boolean {
    if (!this.pending) return false;
    this.owned.forEach((x) => x.dispose());
    ({ version: this.currentVersion, params: this.current, owned: this.owned } = this.pending);
    this.pending = undefined;
    return true;
  }

  dispose(): void {
    this.owned.forEach((x) => x.dispose());
    this.pending?.owned.forEach((x) => x.dispose());
    this.owned = [];
    this.pending = undefined;
    this.current = this.base;
  }
}

/** A sensor_msgs/Image as subscribers get it (rgb8). */
export interface CameraImage {
  data: Uint8Array | number[];
  width: number;
  height: number;
  encoding?: string;
}

/**
 * An image → command function around a vision policy (hand held at `hand`), for timing the
 * camera → policy → command path (`gmps bench graph`). Without a checkpoint the GMPS conv policy
 * is freshly initialised: inference costs the same whatever the weights.
 */
export async function imageCommandPolicy(
  checkpoint?: string,
  hand: Vec3 = [0.3, 0, 0.1],
): Promise<{ describe: string; run(image: CameraImage): { x: number; y: number; z: number }; dispose(): void }> {
  let policy: GmpsPolicy;
  let params: Params;
  let dispose: () => void;
  let describe: string;
  if (checkpoint) {
    const ck = await loadInferencePolicy(checkpoint);
    if (ck.obsMode !== 'vision') {
      ck.dispose();
      throw new Error(`${ck.file} holds a ${ck.obsMode} policy; the image → command path needs a vision checkpoint`);
    }
    ({ policy, params } = ck);
    dispose = ck.dispose;
    describe = `vision policy from ${ck.file}`;
  } else {
    await initBackend({ log: null });
    const { createPolicy, defaultVisionConfig } = await import('./policy/index.js');
    policy = createPolicy(defaultVisionConfig());
    const init = policy.init(0);
    disposeParams(init.stepSizes);
    params = init.params;
    dispose = () => disposeParams(params);
    describe = 'GMPS vision policy (untrained weights)';
  }
  const clip = (v: number) => Math.max(-1, Math.min(1, v));
  // Untimed warm-up: the first inference compiles and allocates the backend's kernels.
  actOnce(policy, params, new Float32Array(policy.config.obsDim), { deterministic: true, seed: 0 });
  return {
    describe,
    run(image) {
      const frame = { ...image, data: image.data instanceof Uint8Array ? image.data : Uint8Array.from(image.data) };
      const a = actOnce(policy, params, visionRow(policy, frame, hand), { deterministic: true, seed: 0 }).action;
      return { x: clip(a[0]!), y: clip(a[1]!), z: clip(a[2]!) };
    },
    dispose,
  };
}
