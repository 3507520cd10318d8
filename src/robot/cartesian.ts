/**
 * Cartesian control as the real arm gets it: an action in [-1, 1]^3 (plus an optional gripper dimension) is a
 * gripper-tip displacement of `stepM` per unit per control step; it moves a commanded tip target (like GMPS's
 * mocap), which passes the safety envelope, then damped-least-squares IK gives joint position targets, which pass
 * the envelope again. The simulator uses this class as is.
 */
import { SawyerIk, DOWN_ROT, type IkOptions } from './ik.js';
import { N_JOINTS } from './kinematics.js';
import { GRIPPER } from './sawyer-model.js';
import { assertFinite, SafetyEnvelope, SafetyViolation, type ClipReport } from './safety.js';

export interface CartesianCommand {
  /** Joint position targets (rad), inside the envelope. */
  q: Float64Array;
  /** Commanded tip position after the envelope (m). */
  tipTarget: Float64Array;
  /** Gripper opening target (m). */
  gripper: number;
  /** The displacement actually commanded this step (m), after clipping. */
  displacement: Float64Array;
  clip: ClipReport;
  ikError: number;
}

export class CartesianController {
  readonly ik: SawyerIk;
  private readonly q = new Float64Array(N_JOINTS);
  private readonly tip = new Float64Array(3);
  private readonly nextTip = new Float64Array(3);
  private readonly nextQ = new Float64Array(N_JOINTS);
  private gripper: number = GRIPPER.maxOpening;

  constructor(readonly safety = new SafetyEnvelope(), readonly stepM = 0.01, ikOptions: IkOptions = {}) {
    this.ik = new SawyerIk(ikOptions);
  }

  /** Restarts from measured joint angles: the tip target becomes the current tip. */
  reset(q: ArrayLike<number>, gripper: number = GRIPPER.maxOpening): void {
    assertFinite(q, 'joint positions');
    for (let i = 0; i < N_JOINTS; i++) this.q[i] = q[i]!;
    this.ik.kin.forward(this.q);
    this.tip.set(this.ik.kin.tipPos);
    this.gripper = gripper;
  }

  get tipTarget(): Float64Array { return this.tip; }
  get jointTarget(): Float64Array { return this.q; }

  /**
   * Moves the tip target toward an absolute position (clipped by the envelope's step cap and box) and solves IK:
   * used to drive the arm to a start pose. Same checks as `step`.
   */
  moveTipTo(target: ArrayLike<number>): CartesianCommand {
    assertFinite(target, 'tip target');
    const a = new Float64Array(3);
    for (let i = 0; i < 3; i++) a[i] = (target[i]! - this.tip[i]!) / this.stepM;
    return this.command(a, true);
  }

  /** One control step. Throws `SafetyViolation` (state unchanged: the arm holds) on NaN/Inf or a wrong length. */
  step(action: ArrayLike<number>): CartesianCommand {
    if (action.length !== 3 && action.length !== 4) {
      throw new SafetyViolation(`action has ${action.length} values; expected 3 (dx, dy, dz in [-1, 1]) or 4 (plus gripper in [-1, 1])`);
    }
    assertFinite(action, 'action');
    return this.command(action, false);
  }

  private command(action: ArrayLike<number>, unclipped: boolean): CartesianCommand {
    const clip: ClipReport = { clipped: false, reasons: [] };
    for (let i = 0; i < 3; i++) {
      const a = unclipped ? action[i]! : Math.max(-1, Math.min(1, action[i]!));
      this.nextTip[i] = this.tip[i]! + a * this.stepM;
    }
    this.safety.limitTipTarget(this.tip, this.nextTip, clip);
    const r = this.ik.solve(this.nextTip, DOWN_ROT, this.q, this.nextQ);
    this.safety.limitJointTarget(this.q, this.nextQ, clip);
    const displacement = new Float64Array(3);
    for (let i = 0; i < 3; i++) displacement[i] = this.nextTip[i]! - this.tip[i]!;
    this.tip.set(this.nextTip);
    this.q.set(this.nextQ);
    if (action.length === 4) {
      const g = Math.max(-1, Math.min(1, action[3]!));
      this.gripper = ((g + 1) / 2) * GRIPPER.maxOpening;
    }
    return { q: Float64Array.from(this.q), tipTarget: Float64Array.from(this.tip), gripper: this.gripper, displacement, clip, ikError: r.positionError };
  }
}
