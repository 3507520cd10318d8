/**
 * Camera intrinsics from checkerboard images: OpenCV findChessboardCorners + cornerSubPix +
 * calibrateCamera (plumb_bob), written in the camera_calibration_parsers YAML format
 * (see `camera-info.ts` for the format and its reader).
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { loadOpenCv, type CvMat, type CvPoint2, type OpenCv } from '../src/vision/opencv.js';
import { calibrationFromIntrinsics, type CameraCalibration } from './camera-info.js';
import type { Vec3 } from './transforms.js';

export interface BoardSpec {
  /** Inner corners along a row (OpenCV patternSize.width). */
  cols: number;
  /** Inner corners along a column (patternSize.height). */
  rows: number;
  /** Side of one square, metres. */
  squareM: number;
}

export function parseBoardSpec(text: string, squareM: number): BoardSpec {
  const m = /^\s*(\d+)\s*[xX]\s*(\d+)\s*$/.exec(text);
  if (!m) throw new Error(`board '${text}' must be COLSxROWS of inner corners, e.g. 9x6`);
  const cols = Number(m[1]);
  const rows = Number(m[2]);
  if (cols < 3 || rows < 3) throw new Error(`board '${text}' needs at least 3x3 inner corners`);
  if (!(squareM > 0 && squareM < 1)) throw new Error(`square size ${squareM} m must be in (0, 1) metres, e.g. 0.025`);
  return { cols, rows, squareM };
}

/** Board-frame corner positions in findChessboardCorners' order (row by row). */
export function boardObjectPoints(board: BoardSpec): Vec3[] {
  const pts: Vec3[] = [];
  for (let j = 0; j < board.rows; j++) for (let i = 0; i < board.cols; i++) pts.push([i * board.squareM, j * board.squareM, 0]);
  return pts;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.pgm', '.ppm', '.pnm', '.webp']);

/** Image files of a folder in natural order (frame2 before frame10). */
export function listImages(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder of images`);
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`image folder ${dir} does not exist`);
    throw err;
  }
  return names
    .filter((n) => IMAGE_EXTENSIONS.has(extname(n).toLowerCase()))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((n) => join(dir, n));
}

export function readGray(cv: OpenCv, file: string): CvMat {
  const mat = cv.imread(file, cv.IMREAD_GRAYSCALE);
  if (mat.empty) throw new Error(`${file}: cannot be read as an image`);
  return mat;
}

/** Sub-pixel checkerboard corners, or null when the full board is not found. */
export function detectBoard(cv: OpenCv, gray: CvMat, board: BoardSpec): CvPoint2[] | null {
  const found = gray.findChessboardCorners(new cv.Size(board.cols, board.rows), cv.CALIB_CB_ADAPTIVE_THRESH + cv.CALIB_CB_NORMALIZE_IMAGE);
  if (!found.returnValue || found.corners.length !== board.cols * board.rows) return null;
  // Refinement window: up to 11 px but well inside one square so it never sees a second corner.
  let spacing = Infinity;
  for (let j = 0; j < board.rows; j++) {
    for (let i = 0; i + 1 < board.cols; i++) {
      const a = found.corners[j * board.cols + i];
      const b = found.corners[j * board.cols + i + 1];
      spacing = Math.min(spacing, Math.hypot(a.x - b.x, a.y - b.y));
    }
  }
  const half = Math.max(2, Math.min(11, Math.floor(spacing * 0.4)));
  const criteria = new cv.TermCriteria(cv.termCriteria.EPS + cv.termCriteria.MAX_ITER, 40, 0.001);
  return gray.cornerSubPix(found.corners, new cv.Size(half, half), new cv.Size(-1, -1), criteria);
}

export interface IntrinsicsResult {
  calibration: CameraCalibration;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  distortion: number[];
  /** RMS reprojection error over all corners, pixels. */
  rms: number;
  imagesUsed: string[];
  /** Images where the whole board was not found. */
  imagesRejected: string[];
  perViewErrors: number[];
}

export interface IntrinsicsOptions {
  cameraName?: string;
  minImages?: number;
  onImage?: (file: string, found: boolean) => void;
}

export async function calibrateIntrinsics(files: string[], board: BoardSpec, options: IntrinsicsOptions = {}): Promise<IntrinsicsResult> {
  const cv = await loadOpenCv();
  const minImages = options.minImages ?? 5;
  const object = boardObjectPoints(board).map(([x, y, z]) => new cv.Point3(x, y, z));
  const imagePoints: CvPoint2[][] = [];
  const used: string[] = [];
  const rejected: string[] = [];
  let size: { width: number; height: number } | undefined;
  for (const file of files) {
    const gray = readGray(cv, file);
    if (size && (gray.cols !== size.width || gray.rows !== size.height)) {
      throw new Error(`${file} is ${gray.cols}x${gray.rows} but earlier images are ${size.width}x${size.height}; calibrate one resolution at a time`);
    }
    size ??= { width: gray.cols, height: gray.rows };
    const corners = detectBoard(cv, gray, board);
    options.onImage?.(file, corners !== null);
    if (corners) {
      imagePoints.push(corners);
      used.push(file);
    } else {
      rejected.push(file);
    }
  }
  if (!size) throw new Error('no images given');
  if (used.length < minImages) {
    throw new Error(
      `the ${board.cols}x${board.rows} board was found in ${used.length} of ${files.length} images; need at least ${minImages}. ` +
        'Check --board (inner corners, not squares), lighting and that the whole board is visible',
    );
  }
  const cameraMatrix = new cv.Mat([[1, 0, 0], [0, 1, 0], [0, 0, 1]], cv.CV_64F);
  const criteria = new cv.TermCriteria(cv.termCriteria.EPS + cv.termCriteria.MAX_ITER, 100, 1e-12);
  const res = cv.calibrateCameraExtended(
    imagePoints.map(() => object),
    imagePoints,
    new cv.Size(size.width, size.height),
    cameraMatrix,
    [0, 0, 0, 0, 0],
    0,
    criteria,
  );
  const k = cameraMatrix.getDataAsArray();
  const [fx, cx, fy, cy] = [k[0][0], k[0][2], k[1][1], k[1][2]];
  if (!(fx > 1 && fy > 1)) throw new Error('calibrateCamera did not return a camera matrix (OpenCV binding mismatch?)');
  const distortion = res.distCoeffs.slice(0, 5);
  while (distortion.length < 5) distortion.push(0);
  return {
    calibration: calibrationFromIntrinsics({
      width: size.width,
      height: size.height,
      cameraName: options.cameraName ?? 'camera',
      fx,
      fy,
      cx,
      cy,
      distortion,
    }),
    fx,
    fy,
    cx,
    cy,
    distortion,
    rms: res.returnValue,
    imagesUsed: used,
    imagesRejected: rejected,
    perViewErrors: res.perViewErrors,
  };
}
