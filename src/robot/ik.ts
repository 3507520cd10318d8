/**
 * Damped-least-squares inverse kinematics for the gripper tip of the Sawyer: position (weight 1) and hand
 * orientation (weight `orientationWeight`, in m/rad), with a null-space pull of the redundant joint toward a
 * rest posture and joint-limit clamping. Warm-started from the previous solution, so a 1 cm step converges in a
 * couple of iterations. Allocation-free after construction.
 */
import { SawyerKinematics, N_JOINTS } from './kinematics.js';
import { JOINT_LIMITS, NEUTRAL_POSE } from './sawyer-model.js';

/** The hand pointing straight down, fingers across the robot's y axis: the neutral pose's hand orientation. */
export const DOWN_ROT: Float64Array = Float64Array.from([0, 1, 0, 1, 0, 0, 0, 0, -1]);

export interface IkOptions {
  orientationWeight?: number;
  damping?: number;
  maxIterations?: number;
  /** Stop when the weighted error norm is below this (metres). */
  tolerance?: number;
  nullspaceGain?: number;
  rest?: readonly number[];
  /** Keep this far inside the joint limits (rad). */
  limitMargin?: number;
}

export interface IkResult {
  q: Float64Array;
  positionError: number;
  orientationError: number;
  iterations: number;
  converged: boolean;
}

export class SawyerIk {
  readonly kin = new SawyerKinematics();
  private readonly opt: Required<IkOptions>;
  private readonly J = new Float64Array(6 * N_JOINTS);
  private readonly A = new Float64Array(36);
  private readonly e = new Float64Array(6);
  private readonly y = new Float64Array(6);
  private readonly dq = new Float64Array(N_JOINTS);
  private readonly v = new Float64Array(N_JOINTS);
  private readonly jv = new Float64Array(6);
  private readonly lower: Float64Array;
  private readonly upper: Float64Array;

  constructor(options: IkOptions = {}) {
    this.opt = {
      orientationWeight: options.orientationWeight ?? 0.3,
      damping: options.damping ?? 0.02,
      maxIterations: options.maxIterations ?? 20,
      tolerance: options.tolerance ?? 3e-4,
      nullspaceGain: options.nullspaceGain ?? 0.05,
      rest: options.rest ?? NEUTRAL_POSE,
      limitMargin: options.limitMargin ?? 0.02,
    };
    this.lower = Float64Array.from(JOINT_LIMITS, (l) => l.lower + this.opt.limitMargin);
    this.upper = Float64Array.from(JOINT_LIMITS, (l) => l.upper - this.opt.limitMargin);
  }

  /**
   * Solves for joint angles putting the gripper tip at `target` with hand rotation `rot` (3x3 row-major),
   * starting from `seed`. Writes into `out` (may be the seed array).
   */
  solve(target: ArrayLike<number>, rot: ArrayLike<number>, seed: ArrayLike<number>, out = new Float64Array(N_JOINTS)): IkResult {
    const { kin, J, A, e, y, dq, v, jv } = this;
    const w = this.opt.orientationWeight;
    const lambda2 = this.opt.damping * this.opt.damping;
    const q = out;
    for (let i = 0; i < N_JOINTS; i++) q[i] = Math.min(this.upper[i]!, Math.max(this.lower[i]!, seed[i]!));
    let it = 0, posErr = Infinity, oriErr = Infinity, converged = false, prevErr = Infinity;
    for (; it <= this.opt.maxIterations; it++) {
      kin.forward(q);
      const p = kin.tipPos, R = kin.handRot;
      e[0] = target[0]! - p[0]!; e[1] = target[1]! - p[1]!; e[2] = target[2]! - p[2]!;
      // orientation error 0.5 Σ_k (r_k × r*_k) over the columns k of the current and target rotations
      let ex = 0, ey = 0, ez = 0;
      for (let k = 0; k < 3; k++) {
        const ax = R[k]!, ay = R[3 + k]!, az = R[6 + k]!;
        const bx = rot[k]!, by = rot[3 + k]!, bz = rot[6 + k]!;
        ex += ay * bz - az * by; ey += az * bx - ax * bz; ez += ax * by - ay * bx;
      }
      e[3] = 0.5 * ex * w; e[4] = 0.5 * ey * w; e[5] = 0.5 * ez * w;
      posErr = Math.hypot(e[0], e[1], e[2]);
      oriErr = Math.hypot(ex, ey, ez) * 0.5;
      const err = Math.hypot(posErr, e[3], e[4], e[5]);
      if (err < this.opt.tolerance) { converged = true; break; }
      // stalled: the damping and the null-space pull balance the residual, more iterations only cost time
      if (it === this.opt.maxIterations || err > 0.98 * prevErr) break;
      prevErr = err;
      kin.jacobian(p, J);
      for (let r = 3; r < 6; r++) for (let c = 0; c < N_JOINTS; c++) J[r * N_JOINTS + c] = J[r * N_JOINTS + c]! * w;
      // A = J Jᵀ + λ² I, solve A y = e, dq = Jᵀ y
      for (let r = 0; r < 6; r++) {
        for (let c = 0; c <= r; c++) {
          let s = 0;
          for (let k = 0; k < N_JOINTS; k++) s += J[r * N_JOINTS + k]! * J[c * N_JOINTS + k]!;
          A[r * 6 + c] = s; A[c * 6 + r] = s;
        }
        A[r * 6 + r] = A[r * 6 + r]! + lambda2;
      }
      choleskySolve6(A, e, y);
      for (let k = 0; k < N_JOINTS; k++) {
        let s = 0;
        for (let r = 0; r < 6; r++) s += J[r * N_JOINTS + k]! * y[r]!;
        dq[k] = s;
      }
      // null-space pull toward the rest posture: v - Jᵀ A⁻¹ J v
      const g = this.opt.nullspaceGain;
      for (let k = 0; k < N_JOINTS; k++) v[k] = g * (this.opt.rest[k]! - q[k]!);
      for (let r = 0; r < 6; r++) {
        let s = 0;
        for (let k = 0; k < N_JOINTS; k++) s += J[r * N_JOINTS + k]! * v[k]!;
        jv[r] = s;
      }
      choleskySolve6(A, jv, y);
      for (let k = 0; k < N_JOINTS; k++) {
        let s = 0;
        for (let r = 0; r < 6; r++) s += J[r * N_JOINTS + k]! * y[r]!;
        q[k] = Math.min(this.upper[k]!, Math.max(this.lower[k]!, q[k]! + dq[k]! + v[k]! - s));
      }
    }
    return { q, positionError: posErr, orientationError: oriErr, iterations: it, converged };
  }
}

/** Solves the symmetric positive-definite 6x6 system A x = b (A is overwritten by its Cholesky factor copy-free). */
const L = new Float64Array(36);
function choleskySolve6(A: Float64Array, b: Float64Array, x: Float64Array): void {
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * 6 + j]!;
      for (let k = 0; k < j; k++) s -= L[i * 6 + k]! * L[j * 6 + k]!;
      L[i * 6 + j] = i === j ? Math.sqrt(Math.max(s, 1e-18)) : s / L[j * 6 + j]!;
    }
  }
  for (let i = 0; i < 6; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * 6 + k]! * x[k]!;
    x[i] = s / L[i * 6 + i]!;
  }
  for (let i = 5; i >= 0; i--) {
    let s = x[i]!;
    for (let k = i + 1; k < 6; k++) s -= L[k * 6 + i]! * x[k]!;
    x[i] = s / L[i * 6 + i]!;
  }
}
