/**
 * A 2-D point-goal task: a point mass in the plane moves by `maxStep · clip(a, -1, 1)` per step
 * towards a hidden goal drawn uniformly from a box. Cheap and deterministic, it exercises every
 * learning component (sampler, baselines, SAC, GMPS) in fast tests without MuJoCo.
 *
 * Reward: dense `-‖p - g‖`; sparse (`dense: false`, the sparse ant-goal shape of the GMPS paper)
 * `-‖p - g‖` within `sparseRadius` of the goal, else `-‖p0 - g‖` (the start distance).
 * Success: within `successRadius`. Episodes end only at the horizon.
 */
import type { Env, EnvOptions, Observation, StepResult, TaskParams } from './types.js';

export interface PointEnvOptions extends EnvOptions {
  /** Episode length (default 50). */
  horizon?: number;
  /** Largest displacement per step, per axis (default 0.1). */
  maxStep?: number;
  /** Goals are drawn uniformly from [lo, hi]² (default [-1, 1]). */
  goalLow?: number;
  goalHigh?: number;
  /** Success distance (default 0.1). */
  successRadius?: number;
  /** Sparse variant: reward region radius (default 0.3). */
  sparseRadius?: number;
  /** Start is the origin plus uniform noise of this half-width, drawn from `seed` (default 0). */
  initNoise?: number;
}

export const POINT_DEFAULTS = {
  horizon: 50,
  maxStep: 0.1,
  goalLow: -1,
  goalHigh: 1,
  successRadius: 0.1,
  sparseRadius: 0.3,
  initNoise: 0,
} as const;

/** mulberry32: the env's own tiny generator for start noise (keeps `sim/` free of learning code). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class PointEnv implements Env {
  readonly kind = 'point' as const;
  readonly stateDim = 2;
  readonly actionDim = 2;
  readonly contextDim = 2;
  readonly horizon: number;
  readonly imageShape?: { height: number; width: number };
  readonly dense: boolean;
  private readonly maxStep: number;
  private readonly goalLow: number;
  private readonly goalHigh: number;
  private readonly successRadius: number;
  private readonly sparseRadius: number;
  private readonly initNoise: number;
  private readonly noise: () => number;
  private readonly pos = new Float64Array(2);
  private readonly goal = new Float64Array(2);
  private startDist = 0;
  private t = 0;
  private hasTask = false;

  constructor(options: PointEnvOptions = {}) {
    const o = { ...POINT_DEFAULTS, ...stripUndefined(options) };
    if (!Number.isInteger(o.horizon) || o.horizon < 1) throw new Error(`point env: horizon must be a positive integer, got ${o.horizon}`);
    if (!(o.maxStep > 0)) throw new Error(`point env: maxStep must be > 0, got ${o.maxStep}`);
    if (!(o.goalHigh > o.goalLow)) throw new Error(`point env: goalHigh (${o.goalHigh}) must exceed goalLow (${o.goalLow})`);
    if (!(o.initNoise >= 0)) throw new Error(`point env: initNoise must be >= 0, got ${o.initNoise}`);
    this.horizon = o.horizon;
    this.maxStep = o.maxStep;
    this.goalLow = o.goalLow;
    this.goalHigh = o.goalHigh;
    this.successRadius = o.successRadius;
    this.sparseRadius = o.sparseRadius;
    this.initNoise = o.initNoise;
    this.dense = options.dense ?? true;
    this.noise = mulberry32(options.seed ?? 0);
    if (options.camera) {
      const width = options.camera.width ?? 32;
      const height = options.camera.height ?? 32;
      if (!Number.isInteger(width) || !Number.isInteger(height) || width < 2 || height < 2) {
        throw new Error(`point env: camera size must be integers >= 2, got ${width}x${height}`);
      }
      this.imageShape = { height, width };
    }
  }

  sampleTask(rng: () => number): TaskParams {
    const span = this.goalHigh - this.goalLow;
    return { kind: 'point', goal: [this.goalLow + span * rng(), this.goalLow + span * rng()] };
  }

  reset(task: TaskParams): Observation {
    if (task.kind !== 'point') throw new Error(`point env: cannot reset to a '${task.kind}' task`);
    const [gx, gy] = task.goal;
    for (const g of [gx, gy]) {
      if (!Number.isFinite(g) || g < this.goalLow || g > this.goalHigh) {
        throw new Error(`point env: goal (${gx}, ${gy}) outside the goal box [${this.goalLow}, ${this.goalHigh}]²`);
      }
    }
    this.goal[0] = gx;
    this.goal[1] = gy;
    this.pos[0] = this.initNoise * (2 * this.noise() - 1);
    this.pos[1] = this.initNoise * (2 * this.noise() - 1);
    this.startDist = this.distance();
    this.t = 0;
    this.hasTask = true;
    return this.observe();
  }

  step(action: ArrayLike<number>): StepResult {
    if (!this.hasTask) throw new Error('point env: step() before reset()');
    if (action.length !== 2) throw new Error(`point env: action must have length 2, got ${action.length}`);
    for (let i = 0; i < 2; i++) {
      if (!Number.isFinite(action[i])) throw new Error(`point env: action[${i}] is ${action[i]}; actions must be finite`);
    }
    if (this.t >= this.horizon) throw new Error(`point env: episode is over (horizon ${this.horizon}); call reset()`);
    for (let i = 0; i < 2; i++) this.pos[i] += this.maxStep * Math.min(1, Math.max(-1, action[i]));
    this.t++;
    const d = this.distance();
    const reward = this.dense || d <= this.sparseRadius ? -d : -this.startDist;
    return {
      observation: this.observe(),
      reward,
      done: this.t >= this.horizon,
      info: { success: d <= this.successRadius, distance: d },
    };
  }

  context(): Float64Array {
    return Float64Array.from(this.goal);
  }

  expertAction(): Float64Array {
    const a = new Float64Array(2);
    for (let i = 0; i < 2; i++) a[i] = Math.min(1, Math.max(-1, (this.goal[i] - this.pos[i]) / this.maxStep));
    return a;
  }

  close(): void {}

  private distance(): number {
    return Math.hypot(this.pos[0] - this.goal[0], this.pos[1] - this.goal[1]);
  }

  private observe(): Observation {
    const obs: Observation = { state: Float64Array.from(this.pos), hand: Float64Array.of(this.pos[0], this.pos[1], 0) };
    if (this.imageShape) obs.image = this.render(this.imageShape.height, this.imageShape.width);
    return obs;
  }

  /** Top view: white field spanning the goal box (with a margin), the point as a red 3x3 dot. */
  private render(height: number, width: number): Uint8Array {
    const img = new Uint8Array(height * width * 3).fill(255);
    const margin = 0.25 * (this.goalHigh - this.goalLow);
    const lo = this.goalLow - margin;
    const span = this.goalHigh - this.goalLow + 2 * margin;
    const cx = Math.round(((this.pos[0] - lo) / span) * (width - 1));
    const cy = Math.round((1 - (this.pos[1] - lo) / span) * (height - 1));
    for (let y = cy - 1; y <= cy + 1; y++) {
      for (let x = cx - 1; x <= cx + 1; x++) {
        if (x < 0 || y < 0 || x >= width || y >= height) continue;
        const k = (y * width + x) * 3;
        img[k] = 220;
        img[k + 1] = 30;
        img[k + 2] = 30;
      }
    }
    return img;
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function createPointEnv(options: PointEnvOptions = {}): PointEnv {
  return new PointEnv(options);
}
