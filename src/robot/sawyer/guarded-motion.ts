/**
 * The safety envelope as the real arm applies it to joint targets, and the two guarded motions built on it:
 * a slow joint-space move (the real arm's episode reset) and the tip displacement of `gmps sawyer check`.
 *
 * `JointEnvelopeGuard.validate` is the Sawyer link's `validate` hook: every target is refused on NaN/Inf or a
 * wrong joint set, clipped to the joint limits (with the envelope's margin) and to the joint velocity cap
 * relative to the previous accepted target (or the measured joints when that is stale), and refused when its
 * gripper tip (our FK) lies outside the workspace box and farther out than the arm already is (so an arm that
 * starts outside can still be brought back in). The velocity cap is scaled by the time since the previous
 * target, so a fast command stream cannot add up to a fast arm.
 */
import type { JointPositions, Robot, RobotObservation } from '../robot.js';
import { CartesianController } from '../cartesian.js';
import { N_JOINTS, SawyerKinematics } from '../kinematics.js';
import { JOINT_NAMES } from '../sawyer-model.js';
import { assertFinite, DEFAULT_SAFETY, SafetyEnvelope, SafetyViolation, type ClipReport, type SafetyConfig } from '../safety.js';

export interface GuardOptions {
  config?: SafetyConfig;
  /** The previous target counts for the velocity cap only while younger than this (ms). Default 250. */
  freshMs?: number;
  now?: () => number;
}

export class JointEnvelopeGuard {
  readonly config: SafetyConfig;
  /** Why the last accepted target was clipped (empty when it was not). */
  lastClip: string[] = [];
  private readonly kin = new SawyerKinematics();
  private readonly freshMs: number;
  private readonly now: () => number;
  private last?: { q: Float64Array; atMs: number };

  constructor(options: GuardOptions = {}) {
    this.config = options.config ?? DEFAULT_SAFETY;
    new SafetyEnvelope(this.config); // validates the config once
    this.freshMs = options.freshMs ?? 250;
    this.now = options.now ?? Date.now;
  }

  /** Forgets the previous target (the next one is capped relative to the measured joints). */
  reset(): void {
    this.last = undefined;
  }

  /** Tip position (m, base frame) of joint angles q by our kinematics. */
  tipOf(q: ArrayLike<number>): Float64Array {
    this.kin.forward(q);
    return Float64Array.from(this.kin.tipPos);
  }

  /** How far (m) a point lies outside the workspace box; 0 inside. */
  outsideBy(p: ArrayLike<number>): number {
    const { min, max } = this.config.workspace;
    let d2 = 0;
    for (let i = 0; i < 3; i++) {
      const d = Math.max(min[i]! - p[i]!, 0, p[i]! - max[i]!);
      d2 += d * d;
    }
    return Math.sqrt(d2);
  }

  readonly validate = (target: JointPositions, observation: RobotObservation): JointPositions => {
    const next = byName(target, 'joint target');
    assertFinite(next, 'joint target');
    const measured = byName(observation.joints, 'measured joints');
    const now = this.now();
    const fresh = this.last && now - this.last.atMs <= this.freshMs ? this.last : undefined;
    const previous = fresh ? fresh.q : measured;
    const dtS = fresh ? Math.min(Math.max((now - fresh.atMs) / 1000, 0.005), this.config.controlDt) : this.config.controlDt;
    const clip: ClipReport = { clipped: false, reasons: [] };
    new SafetyEnvelope({ ...this.config, controlDt: dtS }).limitJointTarget(previous, next, clip);
    const out = this.outsideBy(this.tipOf(next));
    if (out > 1e-6) {
      const now = this.outsideBy(this.tipOf(measured));
      if (out > now + 1e-3) {
        throw new SafetyViolation(`joint target puts the gripper tip ${(out * 100).toFixed(1)} cm outside the workspace box; refused, the arm holds`);
      }
    }
    this.lastClip = clip.reasons;
    this.last = { q: Float64Array.from(next), atMs: now };
    return { names: JOINT_NAMES, position: next };
  };
}

function byName(j: JointPositions, what: string): Float64Array {
  const out = new Float64Array(N_JOINTS);
  for (let i = 0; i < N_JOINTS; i++) {
    const k = j.names.indexOf(JOINT_NAMES[i]!);
    if (k < 0 || k >= j.position.length) throw new SafetyViolation(`${what} lacks ${JOINT_NAMES[i]} (has ${j.names.join(', ') || 'no names'})`);
    out[i] = j.position[k]!;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface MoveResult {
  reached: boolean;
  /** Largest joint error (rad) at the end. */
  finalErrorRad: number;
  durationS: number;
}

export interface JointMoveOptions {
  /** Joint speed of the interpolated target (rad/s). Default 0.3. */
  speedRadS?: number;
  /** Rate of new targets (Hz). Default 50. */
  rateHz?: number;
  toleranceRad?: number;
  /** Give up settling this long (ms) after the target reached the goal. Default 3000. */
  settleMs?: number;
  signal?: AbortSignal;
}

/**
 * Moves the arm to `goal` (rad, JOINT_NAMES order) along a straight joint-space line at a slow speed.
 * The line is timed (`speedRadS` on the joint with the farthest to go), and each target moves along it by at
 * most one period's travel at that speed: after a stall (a busy event loop, a slow link) the arm does not jump
 * to where the timing says it should be, the move just takes longer.
 */
export async function moveJointsTo(robot: Robot, goal: ArrayLike<number>, options: JointMoveOptions = {}): Promise<MoveResult> {
  assertFinite(goal, 'goal joints');
  if (goal.length !== N_JOINTS) throw new SafetyViolation(`goal has ${goal.length} joints; the Sawyer needs ${N_JOINTS}`);
  const speed = options.speedRadS ?? 0.3;
  const period = 1000 / (options.rateHz ?? 50);
  const tol = options.toleranceRad ?? 0.01;
  const maxStep = (speed * period) / 1000;
  const t0 = Date.now();
  const start = byName((await robot.getObservation()).joints, 'measured joints');
  let span = 0;
  for (let i = 0; i < N_JOINTS; i++) span = Math.max(span, Math.abs(goal[i]! - start[i]!));
  const durationMs = (span / speed) * 1000;
  const q = Float64Array.from(start);
  const want = new Float64Array(N_JOINTS);
  let err = Infinity;
  let arrivedAt: number | undefined;
  for (;;) {
    if (options.signal?.aborted) throw new Error('move aborted');
    const now = Date.now();
    const elapsed = now - t0;
    const s = durationMs > 0 ? Math.min(1, elapsed / durationMs) : 1;
    // q and the timed point are both on the line; q moves towards it by at most maxStep on any joint.
    let gap = 0;
    for (let i = 0; i < N_JOINTS; i++) {
      want[i] = start[i]! + (goal[i]! - start[i]!) * s;
      gap = Math.max(gap, Math.abs(want[i]! - q[i]!));
    }
    const k = gap > maxStep ? maxStep / gap : 1;
    for (let i = 0; i < N_JOINTS; i++) q[i] = k === 1 ? want[i]! : q[i]! + (want[i]! - q[i]!) * k;
    await robot.sendAction({ names: JOINT_NAMES, position: q });
    if (s >= 1 && k === 1) {
      arrivedAt ??= now;
      const m = byName((await robot.getObservation()).joints, 'measured joints');
      err = 0;
      for (let i = 0; i < N_JOINTS; i++) err = Math.max(err, Math.abs(goal[i]! - m[i]!));
      if (err <= tol || now - arrivedAt > (options.settleMs ?? 3000)) break;
    }
    await sleep(period);
  }
  return { reached: err <= tol, finalErrorRad: err, durationS: (Date.now() - t0) / 1000 };
}

export interface TipMoveOptions {
  /** Control steps per second (the tip moves `controller.stepM` per step). Default 20. */
  rateHz?: number;
  toleranceM?: number;
  settleMs?: number;
}

export interface TipMoveResult {
  reached: boolean;
  /** Distance (m) between the measured tip (FK of the measured joints) and the goal at the end. */
  errorM: number;
  measuredTip: Float64Array;
  durationS: number;
}

/**
 * Moves the gripper tip to `goal` (m, base frame) through the Cartesian controller (IK + envelope) at `stepM`
 * per control step, then keeps commanding the final target until the measured tip is within tolerance.
 */
export async function moveTipTo(
  robot: Robot,
  controller: CartesianController,
  goal: ArrayLike<number>,
  options: TipMoveOptions = {},
): Promise<TipMoveResult> {
  assertFinite(goal, 'tip goal');
  const period = 1000 / (options.rateHz ?? 20);
  const tol = options.toleranceM ?? 0.01;
  const kin = new SawyerKinematics();
  const t0 = Date.now();
  let settleStart: number | undefined;
  let err = Infinity;
  let tip = new Float64Array(3);
  for (;;) {
    const target = controller.tipTarget;
    const a = [0, 1, 2].map((i) => Math.max(-1, Math.min(1, (goal[i]! - target[i]!) / controller.stepM)));
    const cmd = controller.step(a);
    await robot.sendAction({ names: JOINT_NAMES, position: cmd.q });
    const measured = byName((await robot.getObservation()).joints, 'measured joints');
    kin.forward(measured);
    tip = Float64Array.from(kin.tipPos);
    err = Math.hypot(tip[0]! - goal[0]!, tip[1]! - goal[1]!, tip[2]! - goal[2]!);
    const targetErr = Math.hypot(...[0, 1, 2].map((i) => controller.tipTarget[i]! - goal[i]!));
    if (targetErr < 1e-6) {
      settleStart ??= Date.now();
      if (err <= tol * 0.25 || Date.now() - settleStart > (options.settleMs ?? 2000)) break;
    }
    await sleep(period);
  }
  return { reached: err <= tol, errorM: err, measuredTip: tip, durationS: (Date.now() - t0) / 1000 };
}
