/**
 * The simulated Sawyer driven at joint level, as the sim node exposes it: joint position targets (already
 * checked by `jointTargetsFromCommand`) pass the safety envelope's velocity cap relative to the previous
 * target, then MuJoCo advances one control step (PHYSICS.controlDt) under the task env's own servo and
 * gravity compensation. Sim time is a whole number of control steps, so it is exact in nanoseconds.
 */
import { quaternionFromRotation, type Mat3, type Quaternion } from '../../calibration/transforms.js';
import { DoorEnv } from '../../sim/door.js';
import { PHYSICS } from '../../sim/layout.js';
import { PushEnv } from '../../sim/push.js';
import type { SawyerTaskEnv } from '../../sim/sawyer-env.js';
import type { TaskParams } from '../../sim/types.js';
import { N_JOINTS } from '../robot/kinematics.js';
import { JOINT_NAMES } from '../robot/sawyer-model.js';
import type { ClipReport } from '../robot/safety.js';

export const CONTROL_PERIOD_NS = BigInt(Math.round(PHYSICS.controlDt * 1e9));

export class JointSimDriver {
  /** Control steps since the driver was created (sim time = steps × control period). */
  steps = 0;
  episode = 0;
  private readonly target = new Float64Array(N_JOINTS);
  private readonly prevQ = new Float64Array(N_JOINTS);
  private readonly velocity = new Float64Array(N_JOINTS);
  private readonly tipSite: number;

  constructor(readonly env: SawyerTaskEnv) {
    const { mj, model } = env;
    this.tipSite = mj.mj_name2id(model, mj.mjtObj.mjOBJ_SITE.value, 'right_gripper_tip');
    if (this.tipSite < 0) throw new Error('the scene has no right_gripper_tip site');
  }

  get simTimeNs(): bigint {
    return BigInt(this.steps) * CONTROL_PERIOD_NS;
  }

  /** Starts an episode; the arm's target becomes its start pose. Throws a clear error on a bad task. */
  reset(task: TaskParams): void {
    this.env.reset(task);
    this.env.jointPositions(this.target);
    this.prevQ.set(this.target);
    this.velocity.fill(0);
    this.episode++;
  }

  get jointTarget(): Float64Array {
    return this.target;
  }

  /** Sets the joint targets after the envelope's joint-limit margin and velocity cap; reports clipping. */
  setTarget(q: ArrayLike<number>): ClipReport {
    const next = Float64Array.from(q);
    const clip: ClipReport = { clipped: false, reasons: [] };
    this.env.controller.safety.limitJointTarget(this.target, next, clip);
    this.target.set(next);
    return clip;
  }

  /** One control step toward the current targets. */
  step(): void {
    this.env.jointPositions(this.prevQ);
    this.env.stepJointTargets(this.target);
    const q = this.env.jointPositions();
    for (let i = 0; i < N_JOINTS; i++) this.velocity[i] = (q[i]! - this.prevQ[i]!) / PHYSICS.controlDt;
    this.steps++;
  }

  jointState(): { name: string[]; position: Float64Array; velocity: Float64Array } {
    return { name: [...JOINT_NAMES], position: this.env.jointPositions(), velocity: Float64Array.from(this.velocity) };
  }

  /** Gripper-tip pose in the base frame. */
  tipPose(): { position: { x: number; y: number; z: number }; orientation: Quaternion } {
    const p = this.env.tip();
    const m = this.env.data.site_xmat;
    const r = Array.from({ length: 9 }, (_, i) => m[9 * this.tipSite + i]!) as Mat3;
    return { position: { x: p[0]!, y: p[1]!, z: p[2]! }, orientation: quaternionFromRotation(r) };
  }

  /** Privileged door state, or undefined for other tasks. */
  doorState(): { angle: number; target: number; graspDistance: number } | undefined {
    const env = this.env;
    if (!(env instanceof DoorEnv)) return undefined;
    return { angle: env.angle, target: env.target, graspDistance: env.graspDistance() };
  }

  /** Privileged push state (block position, goal), or undefined for other tasks. */
  pushState(): { block: Float64Array; goal: [number, number] } | undefined {
    const env = this.env;
    if (!(env instanceof PushEnv)) return undefined;
    return { block: env.block(), goal: env.goal };
  }
}
