/**
 * Renders grayscale images of a planar checkerboard seen by a pinhole camera with known intrinsics
 * (plumb_bob distortion optional), anti-aliased by supersampling, so calibration can be checked
 * against ground truth. Board frame: inner corner (i, j) at (i*s, j*s, 0), i along the board's
 * `cols` inner corners; the board has one extra square all round plus a white quiet zone.
 */
import { writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { matMul3, matVec3, rotationFromRotvec, sub3, transpose3, type Pose, type Vec3 } from '../../calibration/transforms.js';

export interface TrueIntrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** k1, k2, p1, p2, k3 */
  dist?: [number, number, number, number, number];
}

export interface RenderBoard {
  cols: number;
  rows: number;
  squareM: number;
}

export interface RenderOptions {
  supersample?: number;
  background?: number;
  black?: number;
  white?: number;
}

function undistortNormalized(xd: number, yd: number, d: [number, number, number, number, number]): [number, number] {
  const [k1, k2, p1, p2, k3] = d;
  let x = xd;
  let y = yd;
  for (let it = 0; it < 8; it++) {
    const r2 = x * x + y * y;
    const radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3));
    const dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x);
    const dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y;
    x = (xd - dx) / radial;
    y = (yd - dy) / radial;
  }
  return [x, y];
}

const rayTables = new Map<string, Float64Array>();

/** Normalised (undistorted) ray directions of every sub-pixel sample, shared by all views of one camera. */
function rayTable(k: TrueIntrinsics, width: number, height: number, ss: number): Float64Array {
  const key = JSON.stringify([k, width, height, ss]);
  let table = rayTables.get(key);
  if (table) return table;
  table = new Float64Array(width * height * ss * ss * 2);
  let n = 0;
  for (let v = 0; v < height; v++) {
    for (let u = 0; u < width; u++) {
      for (let sy = 0; sy < ss; sy++) {
        for (let sx = 0; sx < ss; sx++) {
          let x = (u + (sx + 0.5) / ss - 0.5 - k.cx) / k.fx;
          let y = (v + (sy + 0.5) / ss - 0.5 - k.cy) / k.fy;
          if (k.dist) [x, y] = undistortNormalized(x, y, k.dist);
          table[n++] = x;
          table[n++] = y;
        }
      }
    }
  }
  rayTables.set(key, table);
  return table;
}

/** `cameraToBoard` maps board coordinates into the camera frame (as solvePnP's rvec/tvec). */
export function renderCheckerboard(
  k: TrueIntrinsics,
  width: number,
  height: number,
  cameraToBoard: Pose,
  board: RenderBoard,
  options: RenderOptions = {},
): Uint8Array {
  const ss = options.supersample ?? 4;
  const bg = options.background ?? 110;
  const black = options.black ?? 25;
  const white = options.white ?? 230;
  const rt = transpose3(cameraToBoard.rotation);
  const [ox, oy, oz] = matVec3(rt, cameraToBoard.translation).map((c) => -c); // camera centre in board frame
  const inv = 1 / board.squareM;
  const rays = rayTable(k, width, height, ss);
  const out = new Uint8Array(width * height);
  const per = ss * ss;
  for (let p = 0, n = 0; p < width * height; p++) {
    let acc = 0;
    for (let q = 0; q < per; q++, n += 2) {
      const x = rays[n];
      const y = rays[n + 1];
      const dx = rt[0] * x + rt[1] * y + rt[2];
      const dy = rt[3] * x + rt[4] * y + rt[5];
      const dz = rt[6] * x + rt[7] * y + rt[8];
      const t = -oz / dz;
      let value = bg;
      if (t > 0) {
        const qx = Math.floor((ox + t * dx) * inv);
        const qy = Math.floor((oy + t * dy) * inv);
        if (qx >= -1 && qx <= board.cols - 1 && qy >= -1 && qy <= board.rows - 1) {
          value = ((qx + qy) & 1) === 0 ? black : white;
        } else if (qx >= -2 && qx <= board.cols && qy >= -2 && qy <= board.rows) {
          value = white;
        }
      }
      acc += value;
    }
    out[p] = Math.round(acc / per);
  }
  return out;
}

export function writeGrayPng(file: string, gray: Uint8Array, width: number, height: number): void {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(gray);
  writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false }));
}

/**
 * Camera->board poses that put the board centre at (x, y, z) in the camera frame, tilted by
 * (ax, ay) radians about the board's x/y axes and turned by az about the view axis.
 */
export function boardPose(board: RenderBoard, centre: Vec3, ax: number, ay: number, az: number): Pose {
  const r = matMul3(rotationFromRotvec([0, 0, az]), matMul3(rotationFromRotvec([0, ay, 0]), rotationFromRotvec([ax, 0, 0])));
  const boardCentre: Vec3 = [((board.cols - 1) * board.squareM) / 2, ((board.rows - 1) * board.squareM) / 2, 0];
  return { rotation: r, translation: sub3(centre, matVec3(r, boardCentre)) };
}

/** A spread of views good for intrinsics: tilts of +-30 degrees in both axes, several depths. */
export function calibrationViews(board: RenderBoard): Pose[] {
  const d = (x: number) => (x * Math.PI) / 180;
  const views: [Vec3, number, number, number][] = [
    [[0, 0, 0.5], 0, 0, 0],
    [[0.04, 0.02, 0.5], d(30), 0, d(5)],
    [[-0.04, -0.02, 0.52], d(-30), 0, d(-5)],
    [[0.03, -0.03, 0.5], 0, d(30), d(8)],
    [[-0.03, 0.03, 0.5], 0, d(-30), d(-8)],
    [[0.05, 0.04, 0.55], d(20), d(20), d(15)],
    [[-0.05, -0.04, 0.55], d(-20), d(-20), d(-15)],
    [[0.05, -0.04, 0.6], d(20), d(-25), d(3)],
    [[-0.05, 0.04, 0.6], d(-25), d(20), d(-3)],
    [[0.0, 0.0, 0.42], d(10), d(-10), d(90)],
    [[0.08, 0.06, 0.7], d(-15), d(25), d(0)],
    [[-0.08, -0.06, 0.7], d(15), d(-25), d(0)],
  ];
  return views.map(([c, ax, ay, az]) => boardPose(board, c, ax, ay, az));
}
