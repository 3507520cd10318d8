/**
 * Forward kinematics and the geometric Jacobian of the Sawyer, from `sawyer-model.ts`. Allocation-free on the
 * hot path: a `SawyerKinematics` instance owns its work buffers. Rotations are 3x3 row-major.
 */
import { GRIPPER, HAND_OFFSET, HAND_QUAT, LINKS, type Quat } from './sawyer-model.js';

export function quatToMat(q: Quat, out = new Float64Array(9)): Float64Array {
  const [w, x, y, z] = q;
  out[0] = 1 - 2 * (y * y + z * z); out[1] = 2 * (x * y - w * z); out[2] = 2 * (x * z + w * y);
  out[3] = 2 * (x * y + w * z); out[4] = 1 - 2 * (x * x + z * z); out[5] = 2 * (y * z - w * x);
  out[6] = 2 * (x * z - w * y); out[7] = 2 * (y * z + w * x); out[8] = 1 - 2 * (x * x + y * y);
  return out;
}

/** out = a · b for 3x3 row-major matrices (out must not alias a or b). */
function mul3(a: Float64Array, ao: number, b: Float64Array, bo: number, out: Float64Array, oo: number): void {
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      out[oo + 3 * i + j] = a[ao + 3 * i]! * b[bo + j]! + a[ao + 3 * i + 1]! * b[bo + 3 + j]! + a[ao + 3 * i + 2]! * b[bo + 6 + j]!;
    }
  }
}

export const N_JOINTS = LINKS.length;

export class SawyerKinematics {
  /** Joint origins (world), 3 per joint, after the last `forward`. */
  readonly jointPos = new Float64Array(3 * N_JOINTS);
  /** Joint axes (world), 3 per joint. */
  readonly jointAxis = new Float64Array(3 * N_JOINTS);
  /** right_hand frame. */
  readonly handPos = new Float64Array(3);
  readonly handRot = new Float64Array(9);
  /** right_gripper_tip point (between the fingertips); its frame is right_hand's. */
  readonly tipPos = new Float64Array(3);

  private readonly fixedRot: Float64Array[] = LINKS.map((l) => quatToMat(l.quat));
  private readonly handFixedRot = quatToMat(HAND_QUAT);
  private readonly r = new Float64Array(9);
  private readonly tmp = new Float64Array(9);
  private readonly rz = new Float64Array(9);

  /** Computes all frames for joint angles q (radians). */
  forward(q: ArrayLike<number>): void {
    const R = this.r;
    R.fill(0); R[0] = 1; R[4] = 1; R[8] = 1;
    let px = 0, py = 0, pz = 0;
    for (let i = 0; i < N_JOINTS; i++) {
      const link = LINKS[i]!;
      const [ox, oy, oz] = link.pos;
      px += R[0]! * ox + R[1]! * oy + R[2]! * oz;
      py += R[3]! * ox + R[4]! * oy + R[5]! * oz;
      pz += R[6]! * ox + R[7]! * oy + R[8]! * oz;
      mul3(R, 0, this.fixedRot[i]!, 0, this.tmp, 0);
      this.jointPos[3 * i] = px; this.jointPos[3 * i + 1] = py; this.jointPos[3 * i + 2] = pz;
      this.jointAxis[3 * i] = this.tmp[2]!; this.jointAxis[3 * i + 1] = this.tmp[5]!; this.jointAxis[3 * i + 2] = this.tmp[8]!;
      const c = Math.cos(q[i]!), s = Math.sin(q[i]!);
      const rz = this.rz;
      rz[0] = c; rz[1] = -s; rz[2] = 0; rz[3] = s; rz[4] = c; rz[5] = 0; rz[6] = 0; rz[7] = 0; rz[8] = 1;
      mul3(this.tmp, 0, rz, 0, R, 0);
    }
    const [hx, hy, hz] = HAND_OFFSET;
    this.handPos[0] = px + R[0]! * hx + R[1]! * hy + R[2]! * hz;
    this.handPos[1] = py + R[3]! * hx + R[4]! * hy + R[5]! * hz;
    this.handPos[2] = pz + R[6]! * hx + R[7]! * hy + R[8]! * hz;
    mul3(R, 0, this.handFixedRot, 0, this.handRot, 0);
    const t = GRIPPER.tipOffset;
    this.tipPos[0] = this.handPos[0]! + this.handRot[2]! * t;
    this.tipPos[1] = this.handPos[1]! + this.handRot[5]! * t;
    this.tipPos[2] = this.handPos[2]! + this.handRot[8]! * t;
  }

  /**
   * Geometric Jacobian (6 x 7, row-major: 3 linear rows then 3 angular rows) of a point rigidly attached to the
   * hand, at world position p, for the frames of the last `forward`.
   */
  jacobian(p: ArrayLike<number>, out: Float64Array): Float64Array {
    for (let i = 0; i < N_JOINTS; i++) {
      const ax = this.jointAxis[3 * i]!, ay = this.jointAxis[3 * i + 1]!, az = this.jointAxis[3 * i + 2]!;
      const dx = p[0]! - this.jointPos[3 * i]!, dy = p[1]! - this.jointPos[3 * i + 1]!, dz = p[2]! - this.jointPos[3 * i + 2]!;
      out[i] = ay * dz - az * dy;
      out[N_JOINTS + i] = az * dx - ax * dz;
      out[2 * N_JOINTS + i] = ax * dy - ay * dx;
      out[3 * N_JOINTS + i] = ax;
      out[4 * N_JOINTS + i] = ay;
      out[5 * N_JOINTS + i] = az;
    }
    return out;
  }
}
