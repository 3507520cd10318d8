/**
 * The safety envelope every motor command passes, on the real arm and in the simulator alike: NaN/Inf
 * rejection, a workspace box for the gripper tip, a per-step displacement cap, joint limits and a joint
 * velocity cap. A rejected command throws `SafetyViolation` and changes nothing; a command that is merely
 * too large is clipped and the clip is reported.
 */
import { JOINT_LIMITS, JOINT_NAMES } from './sawyer-model.js';

export class SafetyViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetyViolation';
  }
}

export interface Box { min: readonly [number, number, number]; max: readonly [number, number, number] }

export interface SafetyConfig {
  /** Gripper-tip workspace in the base frame (m). */
  workspace: Box;
  /** Largest tip displacement per control step, per axis (m). */
  maxStepM: number;
  /** Stay this far inside the URDF joint limits (rad). */
  jointMarginRad: number;
  /** Fraction of the URDF joint velocity limit allowed. */
  velocityScale: number;
  /** Control period (s), used with the velocity cap. */
  controlDt: number;
}

/** GMPS's hand box mapped to the robot base frame (see `sim/layout.ts`), 2 cm per-step cap (1 cm commanded). */
export const DEFAULT_SAFETY: SafetyConfig = {
  workspace: { min: [0.3, -0.5, 0.015], max: [0.9, 0.5, 0.47] },
  maxStepM: 0.02,
  jointMarginRad: 0.02,
  velocityScale: 0.9,
  controlDt: 0.05,
};

export interface ClipReport { clipped: boolean; reasons: string[] }

export function assertFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      throw new SafetyViolation(`${what}[${i}] is ${v}: every element must be a finite number; the command was refused and the arm holds`);
    }
  }
}

export class SafetyEnvelope {
  constructor(readonly config: SafetyConfig = DEFAULT_SAFETY) {
    const { min, max } = config.workspace;
    for (let i = 0; i < 3; i++) {
      if (!(min[i]! < max[i]!)) throw new Error(`safety workspace: min[${i}]=${min[i]} must be below max[${i}]=${max[i]}`);
    }
    if (!(config.maxStepM > 0)) throw new Error('safety maxStepM must be positive');
  }

  /** Clips a new tip target: per-axis step from `previous`, then the workspace box. Writes into `next`. */
  limitTipTarget(previous: ArrayLike<number>, next: Float64Array, report?: ClipReport): Float64Array {
    assertFinite(next, 'tip target');
    const { workspace, maxStepM } = this.config;
    for (let i = 0; i < 3; i++) {
      let v = next[i]!;
      const d = v - previous[i]!;
      if (d > maxStepM) { v = previous[i]! + maxStepM; note(report, `step axis ${i}`); }
      else if (d < -maxStepM) { v = previous[i]! - maxStepM; note(report, `step axis ${i}`); }
      if (v < workspace.min[i]!) { v = workspace.min[i]!; note(report, `workspace min axis ${i}`); }
      else if (v > workspace.max[i]!) { v = workspace.max[i]!; note(report, `workspace max axis ${i}`); }
      next[i] = v;
    }
    return next;
  }

  /** Whether a tip position lies in the workspace box (with a tolerance). */
  inWorkspace(p: ArrayLike<number>, tol = 1e-6): boolean {
    const { min, max } = this.config.workspace;
    for (let i = 0; i < 3; i++) if (p[i]! < min[i]! - tol || p[i]! > max[i]! + tol) return false;
    return true;
  }

  /**
   * Clips joint targets to the limits and the velocity cap relative to the previous target (scaling the whole
   * step so the direction is kept). Throws on NaN/Inf or a wrong length. Writes into `next`.
   */
  limitJointTarget(previous: ArrayLike<number>, next: Float64Array, report?: ClipReport): Float64Array {
    if (next.length !== JOINT_LIMITS.length) {
      throw new SafetyViolation(`joint target has ${next.length} values; the Sawyer needs ${JOINT_LIMITS.length} (${JOINT_NAMES.join(', ')})`);
    }
    assertFinite(next, 'joint target');
    const { jointMarginRad, velocityScale, controlDt } = this.config;
    let scale = 1;
    for (let i = 0; i < next.length; i++) {
      const cap = JOINT_LIMITS[i]!.velocity * velocityScale * controlDt;
      const d = Math.abs(next[i]! - previous[i]!);
      if (d > cap) scale = Math.min(scale, cap / d);
    }
    if (scale < 1) note(report, 'joint velocity');
    for (let i = 0; i < next.length; i++) {
      let v = previous[i]! + (next[i]! - previous[i]!) * scale;
      const lo = JOINT_LIMITS[i]!.lower + jointMarginRad, hi = JOINT_LIMITS[i]!.upper - jointMarginRad;
      if (v < lo) { v = lo; note(report, `${JOINT_NAMES[i]} lower limit`); }
      else if (v > hi) { v = hi; note(report, `${JOINT_NAMES[i]} upper limit`); }
      next[i] = v;
    }
    return next;
  }
}

function note(report: ClipReport | undefined, reason: string): void {
  if (report) { report.clipped = true; report.reasons.push(reason); }
}
