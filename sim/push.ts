/**
 * GMPS pushing (R_multiworld `SawyerPushEnv`, rewMode posPlace): push a 4 cm block from a fixed start to a goal in
 * a 20 x 10 cm region, goal never shown to the policy. Reward r = −reachDist + 100 · max(0, d0 − placeDist) with
 * reachDist = ‖block − fingers‖ (3-D), placeDist = ‖block_xy − goal‖, d0 the start-goal distance. Success:
 * placeDist < 5 cm.
 */
import { PUSH } from './layout.js';
import type { MujocoModule } from './mujoco.js';
import { SawyerTaskEnv } from './sawyer-env.js';
import type { EnvOptions, StepInfo, TaskParams } from './types.js';

/** Lateral steering gain of the scripted expert (1/m). */
const K_LATERAL = 10;

export function pushReward(reachDist: number, placeDist: number, d0: number): number {
  return -reachDist + 100 * Math.max(0, d0 - placeDist);
}

export function checkPushTask(task: TaskParams): asserts task is { kind: 'push'; goal: [number, number] } {
  if (task.kind !== 'push') throw new Error(`push env got a '${task.kind}' task; expected { kind: 'push', goal: [x, y] }`);
  const [x, y] = task.goal;
  const tol = 1e-9;
  if (!Number.isFinite(x) || !Number.isFinite(y) || x < PUSH.goalMin[0] - tol || x > PUSH.goalMax[0] + tol || y < PUSH.goalMin[1] - tol || y > PUSH.goalMax[1] + tol) {
    throw new Error(`push goal (${x}, ${y}) m is outside the goal region x in [${PUSH.goalMin[0]}, ${PUSH.goalMax[0]}], y in [${PUSH.goalMin[1]}, ${PUSH.goalMax[1]}]`);
  }
}

export class PushEnv extends SawyerTaskEnv {
  readonly kind = 'push' as const;
  readonly stateDim = 6;
  readonly horizon = PUSH.horizon;
  readonly contextDim = 2;
  private readonly blockQpos: number;
  private readonly blockBody: number;
  private d0 = 0;

  constructor(mj: MujocoModule, options: EnvOptions = {}) {
    super(mj, 'push', options);
    this.blockQpos = this.model.jnt_qposadr[this.id('joint', 'block_joint')]!;
    this.blockBody = this.id('body', 'block');
  }

  sampleTask(rng: () => number): TaskParams {
    const x = PUSH.goalMin[0] + rng() * (PUSH.goalMax[0] - PUSH.goalMin[0]);
    const y = PUSH.goalMin[1] + rng() * (PUSH.goalMax[1] - PUSH.goalMin[1]);
    return { kind: 'push', goal: [x, y] };
  }

  protected validateTask(task: TaskParams): void { checkPushTask(task); }
  protected handInit(): readonly [number, number, number] { return PUSH.handInit; }
  /** Closed: the open fingers (41.7 mm) would straddle the 4 cm block instead of pushing it. */
  protected override gripperOpening(): number { return 0; }

  get goal(): [number, number] { return (this.task as { goal: [number, number] }).goal; }

  protected placeObjects(): void {
    const q = this.data.qpos, a = this.blockQpos;
    q[a] = PUSH.blockStart[0]; q[a + 1] = PUSH.blockStart[1]; q[a + 2] = PUSH.blockStart[2];
    q[a + 3] = 1; q[a + 4] = 0; q[a + 5] = 0; q[a + 6] = 0;
    const [gx, gy] = this.goal;
    this.d0 = Math.hypot(PUSH.blockStart[0] - gx, PUSH.blockStart[1] - gy);
  }

  block(out = new Float64Array(3), offset = 0): Float64Array {
    const p = this.data.xpos, b = this.blockBody;
    out[offset] = p[3 * b]!; out[offset + 1] = p[3 * b + 1]!; out[offset + 2] = p[3 * b + 2]!;
    return out;
  }

  context(): Float64Array { return Float64Array.from(this.goal); }

  protected observeState(): Float64Array {
    const s = new Float64Array(6);
    this.tip(s.subarray(0, 3));
    this.block(s, 3);
    return s;
  }

  protected rewardAndInfo(): { reward: number; info: StepInfo } {
    const tip = this.tip(), b = this.block();
    const [gx, gy] = this.goal;
    const reachDist = Math.hypot(b[0]! - tip[0]!, b[1]! - tip[1]!, b[2]! - tip[2]!);
    const placeDist = Math.hypot(b[0]! - gx, b[1]! - gy);
    return { reward: pushReward(reachDist, placeDist, this.d0), info: { success: placeDist < PUSH.successM, reachDist, placeDist } };
  }

  /**
   * Scripted expert (reads the goal): get behind the block on the goal line (going over it if on the wrong side),
   * then push along the line, steering the contact point to correct the block's lateral drift.
   */
  expertAction(): Float64Array {
    const tip = this.tip(), b = this.block();
    const [gx, gy] = this.goal;
    let ux = gx - b[0]!, uy = gy - b[1]!;
    const dist = Math.hypot(ux, uy);
    const a = new Float64Array(3);
    if (dist < 0.01) return a;
    ux /= dist; uy /= dist;
    const behind = PUSH.blockHalf + 0.02;
    const pre = [b[0]! - ux * behind, b[1]! - uy * behind];
    const along = (tip[0]! - b[0]!) * ux + (tip[1]! - b[1]!) * uy;
    const lateral = -(tip[0]! - b[0]!) * uy + (tip[1]! - b[1]!) * ux;
    let goal: number[];
    if (along > -0.015 || Math.abs(lateral) > 0.02) {
      // reposition behind the block; lift over it when the way is blocked
      const high = along > -0.015 && Math.abs(lateral) < PUSH.blockHalf + 0.03;
      const nearPre = Math.hypot(tip[0]! - pre[0]!, tip[1]! - pre[1]!) < 0.01;
      goal = [pre[0]!, pre[1]!, high ? 0.08 : nearPre ? 0.02 : Math.max(0.02, tip[2]!)];
    } else {
      // full speed along the goal line, steering back onto it; slow down on the last centimetres
      // the block follows the fingers (it cannot turn): move along the goal line, steering back onto it
      let dx = ux + K_LATERAL * lateral * uy, dy = uy - K_LATERAL * lateral * ux;
      const scale = Math.min(1, dist / 0.03) / Math.max(Math.abs(dx), Math.abs(dy));
      dx *= scale; dy *= scale;
      a[0] = dx; a[1] = dy; a[2] = Math.max(-1, Math.min(1, (0.02 - tip[2]!) / 0.01));
      return a;
    }
    for (let i = 0; i < 3; i++) a[i] = Math.max(-1, Math.min(1, (goal[i]! - tip[i]!) / 0.01));
    return a;
  }
}
