/**
 * GMPS door opening (R_multiworld `SawyerDoorOpenEnv`): pull the door open to a target angle θ* in [0, 60] deg,
 * never shown to the policy. Reward: doorRew = max(0, 10 (θ* − |θ − θ*|)) when the fingers are within 10 cm of the
 * handle, else 0 (the sparse GMPS reward); the dense variant adds −graspDist. Success: |θ − θ*| < 5 deg at the end.
 */
import { DOOR } from './layout.js';
import type { MujocoModule } from './mujoco.js';
import { SawyerTaskEnv } from './sawyer-env.js';
import type { EnvOptions, StepInfo, TaskParams } from './types.js';

const DEG = Math.PI / 180;
/** The expert hooks the fingers this far behind the handle bar's axis (m). */
const HOOK_OFFSET = 0.035;

export function doorReward(graspDist: number, angle: number, target: number, dense: boolean): number {
  const doorRew = graspDist < DOOR.graspGateM ? Math.max(0, 10 * (target - Math.abs(angle - target))) : 0;
  return dense ? doorRew - graspDist : doorRew;
}

export function checkDoorTask(task: TaskParams): asserts task is { kind: 'door'; targetRad: number } {
  if (task.kind !== 'door') throw new Error(`door env got a '${task.kind}' task; expected { kind: 'door', targetRad }`);
  if (!Number.isFinite(task.targetRad) || task.targetRad < 0 || task.targetRad > DOOR.maxTargetRad + 1e-9) {
    throw new Error(`door target angle ${(task.targetRad / DEG).toFixed(2)} deg is outside [0, 60] deg`);
  }
}

export class DoorEnv extends SawyerTaskEnv {
  readonly kind = 'door' as const;
  readonly stateDim: number;
  readonly horizon = DOOR.horizon;
  readonly contextDim = 1;
  private readonly hingeQpos: number;
  private readonly graspSite: number;
  private readonly buf = new Float64Array(6);
  private readonly observeAngle: boolean;

  constructor(mj: MujocoModule, options: EnvOptions = {}) {
    super(mj, 'door', options);
    this.observeAngle = options.observeAngle ?? false;
    this.stateDim = this.observeAngle ? 7 : 6;
    this.hingeQpos = this.model.jnt_qposadr[this.id('joint', 'door_hinge')]!;
    this.graspSite = this.id('site', 'door_grasp');
  }

  sampleTask(rng: () => number): TaskParams {
    return { kind: 'door', targetRad: rng() * DOOR.maxTargetRad };
  }

  protected validateTask(task: TaskParams): void { checkDoorTask(task); }
  protected handInit(): readonly [number, number, number] { return DOOR.handInit; }
  protected placeObjects(): void { this.data.qpos[this.hingeQpos] = 0; }

  get target(): number { return (this.task as { targetRad: number }).targetRad; }
  /** Door angle (rad), positive = pulled open toward the robot. */
  get angle(): number { return this.data.qpos[this.hingeQpos]!; }
  handle(out = new Float64Array(3)): Float64Array { return this.sitePos(this.graspSite, out); }

  context(): Float64Array { return Float64Array.of(this.target); }

  protected observeState(): Float64Array {
    const s = new Float64Array(this.stateDim);
    this.tip(s.subarray(0, 3));
    this.sitePos(this.graspSite, s, 3);
    if (this.observeAngle) s[6] = this.angle;
    return s;
  }

  graspDistance(): number {
    const b = this.buf;
    this.tip(b.subarray(0, 3));
    this.sitePos(this.graspSite, b, 3);
    return Math.hypot(b[0]! - b[3]!, b[1]! - b[4]!, b[2]! - b[5]!);
  }

  protected rewardAndInfo(): { reward: number; info: StepInfo } {
    const graspDist = this.graspDistance();
    const angle = this.angle;
    const reward = doorReward(graspDist, angle, this.target, this.dense);
    return {
      reward,
      info: { success: Math.abs(angle - this.target) < DOOR.successTolRad, doorAngle: angle, doorAngleTarget: this.target, graspDist, angleDelta: Math.abs(angle - this.target) },
    };
  }

  /**
   * Scripted expert (reads the door angle and target): go over the handle bar, drop the fingers between bar and
   * plank, then pull along the hinge circle until the target angle, and hold.
   */
  expertAction(): Float64Array {
    const tip = this.tip();
    const angle = this.angle, target = this.target;
    const [hx, hy, hz] = DOOR.hinge;
    const [gx, gy] = DOOR.grasp;
    // the hook point: between the handle bar and the plank, just below the bar's axis
    const hook = (theta: number): number[] => {
      const c = Math.cos(theta), s = Math.sin(theta), lx = gx + HOOK_OFFSET;
      return [hx + c * lx - s * gy, hy + s * lx + c * gy, hz - 0.015];
    };
    const at = hook(angle);
    // tip in the door frame: u along the door normal (positive toward the plank), v along the plank
    const c = Math.cos(angle), s = Math.sin(angle);
    const rx = tip[0]! - hx, ry = tip[1]! - hy;
    const u = c * rx + s * ry - gx, v = -s * rx + c * ry - gy;
    const clearZ = hz + 0.06;
    let goal: number[];
    const inGap = u > 0.01 && u < -gx - 0.02 && Math.abs(v) < DOOR.handleHalfLength;
    if (!inGap || tip[2]! > at[2]! + 0.02) {
      if (Math.hypot(tip[0]! - at[0]!, tip[1]! - at[1]!) < 0.015) {
        goal = at; // above the gap: drop in
      } else if (tip[2]! < clearZ - 0.01 && u > -0.08 && u < 0.01 && Math.abs(v) < DOOR.handleHalfLength + 0.05) {
        goal = [tip[0]! - 0.01 * c, tip[1]! - 0.01 * s, clearZ]; // in front of the bar and too low: back off and rise
      } else {
        goal = [at[0]!, at[1]!, clearZ];
      }
    } else if (angle < target - 0.03) {
      // the arm lags its command by about a step: aim short of the target so the door stops on it
      goal = hook(Math.min(target - 0.03, angle + 0.12));
    } else {
      goal = hook(target);
    }
    const a = new Float64Array(3);
    for (let i = 0; i < 3; i++) a[i] = Math.max(-1, Math.min(1, (goal[i]! - tip[i]!) / 0.01));
    return a;
  }
}
