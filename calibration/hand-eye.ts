/**
 * Eye-to-hand extrinsics: where a fixed camera sits in the robot base frame, from a checkerboard
 * held rigidly by the gripper and observed at several arm poses.
 *
 * With G_i = base->gripper (forward kinematics), C_i = camera->board (solvePnP), X = base->camera
 * and Y = gripper->board (both unknown and constant):  G_i Y = X C_i.  For two samples i, j this
 * gives A X = X B with A = G_j G_i^-1 and B = C_j C_i^-1, solved in closed form with
 *   F. C. Park and B. J. Martin, "Robot sensor calibration: solving AX = XB on the Euclidean
 *   group", IEEE Trans. Robotics and Automation 10(5):717-721, 1994
 * (rotation: R_X = (M^T M)^-1/2 M^T with M = sum beta_i alpha_i^T, alpha/beta the rotation logs of
 * A/B, computed here as the equivalent orthogonal Procrustes solution; translation: linear least
 * squares on (R_A - I) t_X = R_X t_B - t_A). The closed form is then refined by Gauss-Newton on
 * the per-sample chain error G_i Y - X C_i over X and Y together, which uses each measurement
 * once instead of through pair differences.
 */
import { Matrix, SingularValueDecomposition, solve } from 'ml-matrix';
import {
  compose,
  invert,
  matMul3,
  matVec3,
  nearestRotation,
  norm3,
  rotationAngle,
  rotationFromRotvec,
  rotvecFromRotation,
  sub3,
  toMat3,
  type Mat3,
  type Pose,
  type Vec3,
} from './transforms.js';

export interface HandEyeSample {
  baseToGripper: Pose;
  cameraToBoard: Pose;
}

export interface SampleResidual {
  translation_m: number;
  rotation_rad: number;
}

export interface HandEyeResult {
  /** base -> camera: p_base = R p_camera + t */
  baseToCamera: Pose;
  /** gripper -> board (the board mount, a by-product) */
  gripperToBoard: Pose;
  residuals: SampleResidual[];
  rmsTranslationM: number;
  rmsRotationRad: number;
  method: string;
}

export interface HandEyeOptions {
  /** Gauss-Newton refinement of the Park-Martin estimate (default true). */
  refine?: boolean;
  /** Metres per radian used to weigh rotation errors against translation errors in the refinement. */
  rotationWeightM?: number;
}

/** Rotation-only Park & Martin solve for A X = X B over all sample pairs. */
function parkMartinRotation(pairs: { a: Pose; b: Pose }[]): Mat3 {
  const m = Matrix.zeros(3, 3);
  let informative = 0;
  for (const { a, b } of pairs) {
    const alpha = rotvecFromRotation(a.rotation);
    const beta = rotvecFromRotation(b.rotation);
    if (norm3(alpha) < 1e-3 && norm3(beta) < 1e-3) continue;
    informative++;
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) m.set(r, c, m.get(r, c) + beta[r] * alpha[c]);
  }
  const svd = new SingularValueDecomposition(m);
  const s = svd.diagonal;
  if (informative < 2 || s[1] < 1e-3 * s[0]) {
    throw new Error(
      'hand-eye: the arm poses rotate the gripper about (nearly) one axis only; record poses whose wrist ' +
        'orientations differ about at least two different axes (tilt and twist the board by 15-30 degrees)',
    );
  }
  // argmin sum ||R beta - alpha||^2 = V U^T for M = U S V^T (= (M^T M)^-1/2 M^T in the paper).
  return nearestRotation(toMat3(svd.rightSingularVectors.mmul(svd.leftSingularVectors.transpose())));
}

function parkMartinTranslation(pairs: { a: Pose; b: Pose }[], rx: Mat3): Vec3 {
  const rows: number[][] = [];
  const rhs: number[][] = [];
  for (const { a, b } of pairs) {
    const right = sub3(matVec3(rx, b.translation), a.translation);
    for (let r = 0; r < 3; r++) {
      rows.push([0, 1, 2].map((c) => a.rotation[r * 3 + c] - (r === c ? 1 : 0)));
      rhs.push([right[r]]);
    }
  }
  const t = solve(new Matrix(rows), new Matrix(rhs), true);
  return [t.get(0, 0), t.get(1, 0), t.get(2, 0)];
}

function meanPose(poses: Pose[]): Pose {
  const sumR = new Array(9).fill(0) as Mat3;
  const t: Vec3 = [0, 0, 0];
  for (const p of poses) {
    for (let k = 0; k < 9; k++) sumR[k] += p.rotation[k];
    for (let k = 0; k < 3; k++) t[k] += p.translation[k] / poses.length;
  }
  return { rotation: nearestRotation(sumR), translation: t };
}

function chainResiduals(samples: HandEyeSample[], x: Pose, y: Pose): SampleResidual[] {
  return samples.map((s) => {
    const viaArm = compose(s.baseToGripper, y);
    const viaCamera = compose(x, s.cameraToBoard);
    return {
      translation_m: norm3(sub3(viaArm.translation, viaCamera.translation)),
      rotation_rad: rotationAngle(matMul3(transposeOf(viaCamera.rotation), viaArm.rotation)),
    };
  });
}

const transposeOf = (r: Mat3): Mat3 => [r[0], r[3], r[6], r[1], r[4], r[7], r[2], r[5], r[8]];

function perturb(p: Pose, d: number[]): Pose {
  return {
    rotation: matMul3(rotationFromRotvec([d[0], d[1], d[2]]), p.rotation),
    translation: [p.translation[0] + d[3], p.translation[1] + d[4], p.translation[2] + d[5]],
  };
}

function residualVector(samples: HandEyeSample[], x: Pose, y: Pose, w: number): number[] {
  const out: number[] = [];
  for (const s of samples) {
    const viaArm = compose(s.baseToGripper, y);
    const viaCamera = compose(x, s.cameraToBoard);
    out.push(...sub3(viaArm.translation, viaCamera.translation));
    const rot = rotvecFromRotation(matMul3(viaArm.rotation, transposeOf(viaCamera.rotation)));
    out.push(rot[0] * w, rot[1] * w, rot[2] * w);
  }
  return out;
}

/** Gauss-Newton (numerical Jacobian, 12 unknowns) on the chain error of every sample. */
function refine(samples: HandEyeSample[], x0: Pose, y0: Pose, w: number): { x: Pose; y: Pose } {
  let x = x0;
  let y = y0;
  const cost = (r: number[]) => r.reduce((acc, v) => acc + v * v, 0);
  let r = residualVector(samples, x, y, w);
  let c = cost(r);
  const h = 1e-7;
  for (let iter = 0; iter < 20; iter++) {
    const jac = new Matrix(r.length, 12);
    for (let k = 0; k < 12; k++) {
      const d = new Array(6).fill(0);
      d[k % 6] = h;
      const rk = k < 6 ? residualVector(samples, perturb(x, d), y, w) : residualVector(samples, x, perturb(y, d), w);
      for (let i = 0; i < r.length; i++) jac.set(i, k, (rk[i] - r[i]) / h);
    }
    const jt = jac.transpose();
    const step = solve(jt.mmul(jac).add(Matrix.eye(12).mul(1e-12)), jt.mmul(Matrix.columnVector(r)).mul(-1), true);
    const dx = step.getColumn(0);
    const xn = perturb(x, dx.slice(0, 6));
    const yn = perturb(y, dx.slice(6, 12));
    const rn = residualVector(samples, xn, yn, w);
    const cn = cost(rn);
    if (!(cn < c)) break;
    const done = c - cn < 1e-14 * Math.max(c, 1e-30);
    x = xn;
    y = yn;
    r = rn;
    c = cn;
    if (done) break;
  }
  return { x, y };
}

export function solveEyeToHand(samples: HandEyeSample[], options: HandEyeOptions = {}): HandEyeResult {
  if (samples.length < 3) {
    throw new Error(`hand-eye: need at least 3 samples (arm poses with the board seen), got ${samples.length}`);
  }
  const pairs: { a: Pose; b: Pose }[] = [];
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const gi = samples[i].baseToGripper;
      const gj = samples[j].baseToGripper;
      const ci = samples[i].cameraToBoard;
      const cj = samples[j].cameraToBoard;
      pairs.push({ a: compose(gj, invert(gi)), b: compose(cj, invert(ci)) });
    }
  }
  const rx = parkMartinRotation(pairs);
  const tx = parkMartinTranslation(pairs, rx);
  let x: Pose = { rotation: rx, translation: tx };
  let y = meanPose(samples.map((s) => compose(invert(s.baseToGripper), compose(x, s.cameraToBoard))));
  let method = 'park-martin-1994';
  if (options.refine ?? true) {
    ({ x, y } = refine(samples, x, y, options.rotationWeightM ?? 0.3));
    method += '+gauss-newton';
  }
  const residuals = chainResiduals(samples, x, y);
  const rms = (k: keyof SampleResidual) => Math.sqrt(residuals.reduce((a, r) => a + r[k] ** 2, 0) / residuals.length);
  return {
    baseToCamera: x,
    gripperToBoard: y,
    residuals,
    rmsTranslationM: rms('translation_m'),
    rmsRotationRad: rms('rotation_rad'),
    method,
  };
}
