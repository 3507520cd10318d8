/** Camera -> checkerboard pose of one image (findChessboardCorners + solvePnP), for hand-eye calibration. */
import { loadOpenCv } from '../src/vision/opencv.js';
import type { CameraCalibration } from './camera-info.js';
import { boardObjectPoints, detectBoard, readGray, type BoardSpec } from './intrinsics.js';
import { rotationFromRotvec, type Pose } from './transforms.js';

export interface BoardPose {
  cameraToBoard: Pose;
  /** RMS reprojection error of the corners at the solved pose, pixels. */
  reprojectionRmsPx: number;
}

function project(cal: CameraCalibration, pose: Pose, p: [number, number, number]): [number, number] {
  const r = pose.rotation;
  const t = pose.translation;
  const X = r[0] * p[0] + r[1] * p[1] + r[2] * p[2] + t[0];
  const Y = r[3] * p[0] + r[4] * p[1] + r[5] * p[2] + t[1];
  const Z = r[6] * p[0] + r[7] * p[1] + r[8] * p[2] + t[2];
  const x = X / Z;
  const y = Y / Z;
  const [k1, k2, p1, p2, k3] = cal.distortionCoefficients;
  const r2 = x * x + y * y;
  const radial = 1 + r2 * (k1 + r2 * (k2 + r2 * (k3 ?? 0)));
  const xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
  const yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
  const k = cal.cameraMatrix;
  return [k[0] * xd + k[2], k[4] * yd + k[5]];
}

/** The board pose in one image, or null when the whole board is not visible. */
export async function boardPoseFromImage(file: string, cal: CameraCalibration, board: BoardSpec): Promise<BoardPose | null> {
  if (cal.distortionModel !== 'plumb_bob') {
    throw new Error(`board poses need a plumb_bob calibration; ${cal.distortionModel} is not supported here`);
  }
  const cv = await loadOpenCv();
  const gray = readGray(cv, file);
  if (gray.cols !== cal.imageWidth || gray.rows !== cal.imageHeight) {
    throw new Error(`${file} is ${gray.cols}x${gray.rows} but the camera calibration is for ${cal.imageWidth}x${cal.imageHeight}`);
  }
  const corners = detectBoard(cv, gray, board);
  if (!corners) return null;
  const object = boardObjectPoints(board);
  const k = cal.cameraMatrix;
  const K = new cv.Mat([[k[0], k[1], k[2]], [k[3], k[4], k[5]], [k[6], k[7], k[8]]], cv.CV_64F);
  // Iterative (Levenberg-Marquardt) solve, the binding's default; its typings misstate the optional arguments.
  const res = cv.solvePnP(
    object.map(([x, y, z]) => new cv.Point3(x, y, z)),
    corners,
    K,
    cal.distortionCoefficients,
  );
  if (!res.returnValue) return null;
  const pose: Pose = {
    rotation: rotationFromRotvec([res.rvec.x, res.rvec.y, res.rvec.z]),
    translation: [res.tvec.x, res.tvec.y, res.tvec.z],
  };
  let sum = 0;
  object.forEach((p, i) => {
    const [u, v] = project(cal, pose, p);
    sum += (u - corners[i].x) ** 2 + (v - corners[i].y) ** 2;
  });
  return { cameraToBoard: pose, reprojectionRmsPx: Math.sqrt(sum / object.length) };
}
