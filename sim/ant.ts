/**
 * Ant goal locomotion (GMPS §5.1, gmps-reference §9.5): the quadruped of `ant-model.ts` must walk
 * to a hidden goal on the quarter circle of radius 2 m (angles in [0, π/2]).
 *
 * Reward per control step (a = action clipped to [−1, 1], x = torso centre xy):
 *   dense : −‖x − g‖₁ + 4 − 0.005·Σa² − contact + 0.05
 *   sparse: as dense, but while ‖x − g‖₂ > 0.8 the distance term −‖x − g‖₁ + 4 becomes −‖g‖₁ + 4
 *   contact = 5e-4 · Σ clip(cfrc_ext, −1, 1)²  (gym Ant's contact cost with a small coefficient)
 * Episodes last 200 steps (no early termination). The observation is qpos (xyz, quaternion, 8 joint
 * angles) and qvel (14): 29 values, never the goal. `context()` is the goal.
 *
 * Out-of-distribution goals (Fig. 4): radius 2 m at angles outside the training arc, in
 * [−π/4, 0) ∪ (π/2, 3π/4] (`antOodGoals`).
 *
 * No scripted controller can walk the Ant: `expertAction()` returns a zero action (so samplers that
 * record expert labels still run) and Ant experts come from contextual SAC.
 */
import { ANT_FRAME_SKIP, ANT_JOINTS, antXml } from './ant-model.js';
import type { MujocoModule } from './mujoco.js';
import type { Env, EnvOptions, Observation, StepResult, TaskKind, TaskParams } from './types.js';

type MjModel = InstanceType<MujocoModule['MjModel']>;
type MjData = InstanceType<MujocoModule['MjData']>;

/** An Ant task: the goal position (m) of the torso centre. */
export type AntTask = Extract<TaskParams, { kind: 'ant' }>;

export const ANT = {
  goalRadius: 2,
  goalAngleLow: 0,
  goalAngleHigh: Math.PI / 2,
  horizon: 200,
  ctrlCostCoeff: 0.005,
  contactCostCoeff: 5e-4,
  survive: 0.05,
  sparseRadius: 0.8,
  /** Goals farther than this from the origin are refused (a typo guard, well beyond OOD goals). */
  maxGoalRadius: 10,
  initNoise: 0.1,
} as const;

export interface AntEnvOptions extends EnvOptions {
  /** Episode length (default 200). */
  horizon?: number;
}

/** The Ant task with this goal. */
export function antTask(goal: readonly [number, number]): AntTask {
  return { kind: 'ant', goal: [goal[0], goal[1]] };
}

function asAntTask(task: TaskParams): AntTask {
  if (task.kind !== 'ant') throw new Error(`ant env: cannot reset to a '${task.kind}' task`);
  // Tasks also arrive from JSON (task files, worker messages): check the goal's shape.
  const g: unknown = task.goal;
  if (!Array.isArray(g) || g.length !== 2 || !g.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Error('ant env: task.goal must be two finite numbers [x, y] in metres');
  }
  if (Math.hypot(g[0], g[1]) > ANT.maxGoalRadius) {
    throw new Error(`ant env: goal (${g[0]}, ${g[1]}) is more than ${ANT.maxGoalRadius} m from the start`);
  }
  return { kind: 'ant', goal: [g[0], g[1]] };
}

/** Goal at `angle` (rad) on the circle of radius `radius` (default 2 m). */
export function goalAt(angle: number, radius: number = ANT.goalRadius): [number, number] {
  return [radius * Math.cos(angle), radius * Math.sin(angle)];
}

/** `n` training goals evenly spaced over the arc [0, π/2] (GMPS' 40-goal ring uses linspace). */
export function antRingGoals(n: number): [number, number][] {
  return Array.from({ length: n }, (_, i) => goalAt(ANT.goalAngleLow + ((ANT.goalAngleHigh - ANT.goalAngleLow) * i) / Math.max(1, n - 1)));
}

/** `n` out-of-distribution goals, alternating between [−π/4, 0) and (π/2, 3π/4], radius 2 m. */
export function antOodGoals(n: number): [number, number][] {
  const out: [number, number][] = [];
  const perSide = Math.ceil(n / 2);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(i / 2) + 1;
    const offset = (k / perSide) * (Math.PI / 4);
    out.push(goalAt(i % 2 === 0 ? -offset : Math.PI / 2 + offset));
  }
  return out;
}

/** Distance term of the reward (before control, contact and survival terms). */
export function antDistanceReward(com: readonly [number, number], goal: readonly [number, number], sparse: boolean): number {
  const dx = com[0] - goal[0];
  const dy = com[1] - goal[1];
  if (sparse && Math.hypot(dx, dy) > ANT.sparseRadius) return -(Math.abs(goal[0]) + Math.abs(goal[1])) + 4;
  return -(Math.abs(dx) + Math.abs(dy)) + 4;
}

/** The full per-step reward from its parts. */
export function antReward(com: readonly [number, number], goal: readonly [number, number], action: ArrayLike<number>, contactCost: number, sparse: boolean): number {
  let sq = 0;
  for (let i = 0; i < action.length; i++) sq += action[i] * action[i];
  return antDistanceReward(com, goal, sparse) - ANT.ctrlCostCoeff * sq - contactCost + ANT.survive;
}

/** mulberry32: the env's own reset-noise generator. */
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

export class AntEnv implements Env {
  readonly kind: TaskKind = 'ant';
  readonly stateDim: number;
  readonly actionDim = ANT_JOINTS.length;
  readonly contextDim = 2;
  readonly horizon: number;
  readonly sparse: boolean;
  readonly model: MjModel;
  readonly data: MjData;
  private readonly torso: number;
  private readonly noise: () => number;
  private readonly goal = new Float64Array(2);
  private t = 0;
  private hasTask = false;
  private closed = false;

  constructor(
    readonly mj: MujocoModule,
    options: AntEnvOptions = {},
  ) {
    if (options.camera) throw new Error('ant env: image observations are not supported (create it without a camera)');
    const horizon = options.horizon ?? ANT.horizon;
    if (!Number.isInteger(horizon) || horizon < 1) throw new Error(`ant env: horizon must be a positive integer, got ${horizon}`);
    this.horizon = horizon;
    this.sparse = options.dense === false;
    this.noise = mulberry32(options.seed ?? 0);
    this.model = mj.MjModel.from_xml_string(antXml());
    this.data = new mj.MjData(this.model);
    this.stateDim = this.model.nq + this.model.nv;
    this.torso = mj.mj_name2id(this.model, mj.mjtObj.mjOBJ_BODY.value, 'torso');
    if (this.torso < 0) throw new Error('ant model has no torso body');
  }

  sampleTask(rng: () => number): TaskParams {
    return antTask(goalAt(ANT.goalAngleLow + (ANT.goalAngleHigh - ANT.goalAngleLow) * rng()));
  }

  reset(task: TaskParams): Observation {
    this.assertOpen();
    const t = asAntTask(task);
    const { mj, model, data } = this;
    mj.mj_resetData(model, data);
    const u = () => ANT.initNoise * (2 * this.noise() - 1);
    for (let i = 0; i < model.nq; i++) data.qpos[i] = data.qpos[i]! + u();
    for (let i = 0; i < model.nv; i++) data.qvel[i] = u();
    mj.mj_forward(model, data);
    this.goal[0] = t.goal[0];
    this.goal[1] = t.goal[1];
    this.t = 0;
    this.hasTask = true;
    return this.observe();
  }

  step(action: ArrayLike<number>): StepResult {
    this.assertOpen();
    if (!this.hasTask) throw new Error('ant env: call reset(task) before step()');
    if (action.length !== this.actionDim) throw new Error(`ant env: action must have length ${this.actionDim}, got ${action.length}`);
    for (let i = 0; i < action.length; i++) {
      if (!Number.isFinite(action[i])) throw new Error(`ant env: action[${i}] is ${action[i]}; actions must be finite`);
    }
    if (this.t >= this.horizon) throw new Error(`ant env: the episode ended at step ${this.horizon}; call reset(task)`);
    const { mj, model, data } = this;
    const a = new Float64Array(this.actionDim);
    for (let i = 0; i < a.length; i++) a[i] = data.ctrl[i] = Math.min(1, Math.max(-1, action[i]));
    for (let s = 0; s < ANT_FRAME_SKIP; s++) mj.mj_step(model, data);
    // cfrc_ext is only filled on demand in MuJoCo ≥ 2.3.
    mj.mj_rnePostConstraint(model, data);
    this.t++;
    const com = this.com();
    const contactCost = this.contactCost();
    const reward = antReward(com, [this.goal[0], this.goal[1]], a, contactCost, this.sparse);
    const distance = Math.hypot(com[0] - this.goal[0], com[1] - this.goal[1]);
    let ctrlCost = 0;
    for (const v of a) ctrlCost += ANT.ctrlCostCoeff * v * v;
    return {
      observation: this.observe(),
      reward,
      done: this.t >= this.horizon,
      info: { success: distance <= ANT.sparseRadius, distance, ctrlCost, contactCost, x: com[0], y: com[1] },
    };
  }

  /** Torso centre (x, y): the ant's position in the reward. */
  com(): [number, number] {
    const p = this.data.xipos;
    return [p[3 * this.torso]!, p[3 * this.torso + 1]!];
  }

  /** 5e-4 · Σ clip(cfrc_ext, −1, 1)² over all bodies. */
  contactCost(): number {
    const f = this.data.cfrc_ext;
    let s = 0;
    for (let i = 0; i < 6 * this.model.nbody; i++) {
      const v = Math.min(1, Math.max(-1, f[i]!));
      s += v * v;
    }
    return ANT.contactCostCoeff * s;
  }

  context(): Float64Array {
    return Float64Array.from(this.goal);
  }

  /** No scripted Ant controller exists; experts come from contextual SAC. Zero action. */
  expertAction(): Float64Array {
    return new Float64Array(this.actionDim);
  }

  /** Sets the torso position directly (tests and diagnostics); recomputes kinematics. */
  setTorsoXY(x: number, y: number): void {
    this.data.qpos[0] = x;
    this.data.qpos[1] = y;
    this.mj.mj_forward(this.model, this.data);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.data.delete();
    this.model.delete();
  }

  private observe(): Observation {
    const { model, data } = this;
    const state = new Float64Array(this.stateDim);
    for (let i = 0; i < model.nq; i++) state[i] = data.qpos[i]!;
    for (let i = 0; i < model.nv; i++) state[model.nq + i] = data.qvel[i]!;
    const p = data.xipos;
    return { state, hand: Float64Array.of(p[3 * this.torso]!, p[3 * this.torso + 1]!, p[3 * this.torso + 2]!) };
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('ant env is closed');
  }
}
