/**
 * Rigid transforms for calibration: 3x3 rotations stored row-major, poses as (R, t) with
 * `p_parent = R * p_child + t`, quaternions in ROS order {x, y, z, w}.
 */
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

export type Vec3 = [number, number, number];
/** Row-major 3x3. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];
export interface Pose {
  rotation: Mat3;
  translation: Vec3;
}
export interface Quaternion {
  x: number;
  y: number;
  z: number;
  w: number;
}

export const IDENTITY3: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function matMul3(a: Mat3, b: Mat3): Mat3 {
  const r = new Array(9).fill(0) as Mat3;
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      r[i * 3 + j] = a[i * 3] * b[j] + a[i * 3 + 1] * b[3 + j] + a[i * 3 + 2] * b[6 + j];
    }
  }
  return r;
}

export function matVec3(a: Mat3, v: Vec3): Vec3 {
  return [
    a[0] * v[0] + a[1] * v[1] + a[2] * v[2],
    a[3] * v[0] + a[4] * v[1] + a[5] * v[2],
    a[6] * v[0] + a[7] * v[1] + a[8] * v[2],
  ];
}

export function transpose3(a: Mat3): Mat3 {
  return [a[0], a[3], a[6], a[1], a[4], a[7], a[2], a[5], a[8]];
}

export const add3 = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const sub3 = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const scale3 = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const dot3 = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const norm3 = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
export const cross3 = (a: Vec3, b: Vec3): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
export function normalize3(a: Vec3): Vec3 {
  const n = norm3(a);
  if (!(n > 0)) throw new Error('cannot normalise a zero vector');
  return scale3(a, 1 / n);
}

export function compose(a: Pose, b: Pose): Pose {
  return { rotation: matMul3(a.rotation, b.rotation), translation: add3(matVec3(a.rotation, b.translation), a.translation) };
}

export function invert(a: Pose): Pose {
  const rt = transpose3(a.rotation);
  return { rotation: rt, translation: scale3(matVec3(rt, a.translation), -1) };
}

export function transformPoint(a: Pose, p: Vec3): Vec3 {
  return add3(matVec3(a.rotation, p), a.translation);
}

/** Exponential map: axis-angle vector (OpenCV rvec) to rotation matrix (Rodrigues' formula). */
export function rotationFromRotvec(v: Vec3): Mat3 {
  const theta = norm3(v);
  if (theta < 1e-12) {
    return [1, -v[2], v[1], v[2], 1, -v[0], -v[1], v[0], 1];
  }
  const [x, y, z] = scale3(v, 1 / theta);
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  const C = 1 - c;
  return [
    c + x * x * C, x * y * C - z * s, x * z * C + y * s,
    y * x * C + z * s, c + y * y * C, y * z * C - x * s,
    z * x * C - y * s, z * y * C + x * s, c + z * z * C,
  ];
}

/** Logarithm map: rotation matrix to axis-angle vector, stable near 0 and near pi. */
export function rotvecFromRotation(r: Mat3): Vec3 {
  const q = quaternionFromRotation(r);
  // Keep w >= 0 so the angle lies in [0, pi].
  const sign = q.w < 0 ? -1 : 1;
  const v: Vec3 = [q.x * sign, q.y * sign, q.z * sign];
  const s = norm3(v);
  if (s < 1e-12) return scale3(v, 2);
  const angle = 2 * Math.atan2(s, q.w * sign);
  return scale3(v, angle / s);
}

/** Angle of a rotation in [0, pi]. */
export function rotationAngle(r: Mat3): number {
  return norm3(rotvecFromRotation(r));
}

export function quaternionFromRotation(r: Mat3): Quaternion {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = r;
  const tr = m00 + m11 + m22;
  let q: Quaternion;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    q = { w: s / 4, x: (m21 - m12) / s, y: (m02 - m20) / s, z: (m10 - m01) / s };
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = { w: (m21 - m12) / s, x: s / 4, y: (m01 + m10) / s, z: (m02 + m20) / s };
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = { w: (m02 - m20) / s, x: (m01 + m10) / s, y: s / 4, z: (m12 + m21) / s };
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = { w: (m10 - m01) / s, x: (m02 + m20) / s, y: (m12 + m21) / s, z: s / 4 };
  }
  const n = Math.hypot(q.x, q.y, q.z, q.w);
  const sign = q.w < 0 ? -1 : 1; // canonical hemisphere: w >= 0
  return { x: (sign * q.x) / n, y: (sign * q.y) / n, z: (sign * q.z) / n, w: (sign * q.w) / n };
}

export function rotationFromQuaternion(q: Quaternion): Mat3 {
  const n = Math.hypot(q.x, q.y, q.z, q.w);
  if (!(n > 1e-9)) throw new Error('quaternion has zero length');
  const x = q.x / n, y = q.y / n, z = q.z / n, w = q.w / n;
  return [
    1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
    2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
    2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
  ];
}

/** Nearest rotation (Frobenius norm) to a 3x3 matrix, via SVD. */
export function nearestRotation(m: Mat3): Mat3 {
  const svd = new SingularValueDecomposition(new Matrix([m.slice(0, 3), m.slice(3, 6), m.slice(6, 9)]));
  const u = svd.leftSingularVectors;
  const v = svd.rightSingularVectors;
  const r = u.mmul(v.transpose());
  const det = determinant3(toMat3(r));
  const d = Matrix.diag([1, 1, det < 0 ? -1 : 1]);
  return toMat3(u.mmul(d).mmul(v.transpose()));
}

export function determinant3(a: Mat3): number {
  return (
    a[0] * (a[4] * a[8] - a[5] * a[7]) - a[1] * (a[3] * a[8] - a[5] * a[6]) + a[2] * (a[3] * a[7] - a[4] * a[6])
  );
}

export function toMat3(m: Matrix): Mat3 {
  return [m.get(0, 0), m.get(0, 1), m.get(0, 2), m.get(1, 0), m.get(1, 1), m.get(1, 2), m.get(2, 0), m.get(2, 1), m.get(2, 2)];
}

/** geometry_msgs/Transform-like plain object, the form written to YAML. */
export interface TransformRecord {
  translation: { x: number; y: number; z: number };
  rotation: Quaternion;
}

export function poseToRecord(p: Pose): TransformRecord {
  const [x, y, z] = p.translation;
  return { translation: { x, y, z }, rotation: quaternionFromRotation(p.rotation) };
}

export function poseFromRecord(r: TransformRecord): Pose {
  return { rotation: rotationFromQuaternion(r.rotation), translation: [r.translation.x, r.translation.y, r.translation.z] };
}
