import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  calibrationFromIntrinsics,
  cameraInfoFields,
  formatCameraCalibration,
  parseCameraCalibration,
  readCameraCalibration,
} from '../calibration/camera-info.js';
import { boardObjectPoints, parseBoardSpec } from '../calibration/intrinsics.js';
import { runGmps } from './helpers/calibration-cli.js';
import { openCvOrSkip } from './helpers/calibration-opencv.js';
import { calibrationViews, renderCheckerboard, writeGrayPng, type TrueIntrinsics } from './helpers/calibration-render.js';

const BOARD = { cols: 9, rows: 6, squareM: 0.025 };

describe('calibration: camera intrinsics', () => {
  const cal = calibrationFromIntrinsics({ width: 640, height: 480, cameraName: 'head_cam', fx: 610.5, fy: 605.25, cx: 322, cy: 236.5, distortion: [-0.08, 0.03, 0.0005, -0.0003, 0] });

  it('writes the camera_calibration_parsers YAML layout and reads it back into CameraInfo fields', () => {
    const text = formatCameraCalibration(cal, 'RMS 0.1 px');
    assert.match(text, /^# RMS 0.1 px\n/);
    assert.match(text, /\nimage_width: 640\nimage_height: 480\ncamera_name: head_cam\ncamera_matrix:\n  rows: 3\n  cols: 3\n  data: \[ 610.5, 0, 322, 0, 605.25, 236.5, 0, 0, 1 \]\n/);
    assert.match(text, /\ndistortion_model: plumb_bob\ndistortion_coefficients:\n  rows: 1\n  cols: 5\n/);
    assert.match(text, /\nprojection_matrix:\n  rows: 3\n  cols: 4\n  data: \[ 610.5, 0, 322, 0, 0, 605.25, 236.5, 0, 0, 0, 1, 0 \]/);
    const back = parseCameraCalibration(text);
    assert.deepEqual(back, cal);
    assert.deepEqual(cameraInfoFields(back), {
      width: 640, height: 480, distortion_model: 'plumb_bob',
      d: [-0.08, 0.03, 0.0005, -0.0003, 0],
      k: [610.5, 0, 322, 0, 605.25, 236.5, 0, 0, 1],
      r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      p: [610.5, 0, 322, 0, 0, 605.25, 236.5, 0, 0, 0, 1, 0],
    });
  });

  it('names the file and the field when a calibration file is missing or malformed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-caminfo-'));
    const file = join(dir, 'cam.yaml');
    assert.throws(() => readCameraCalibration(file), (e: Error) => e.message.includes(file) && /does not exist/.test(e.message));
    const good = formatCameraCalibration(cal);
    const cases: [string, RegExp][] = [
      [good.replace(/image_width: 640\n/, ''), /field 'image_width' is missing/],
      [good.replace('image_height: 480', 'image_height: -1'), /field 'image_height' must be a positive integer/],
      [good.replace('distortion_model: plumb_bob', 'distortion_model: fisheye'), /field 'distortion_model' must be one of/],
      [good.replace('  data: [ 610.5, 0, 322, 0, 605.25, 236.5, 0, 0, 1 ]', '  data: [ 1, 2 ]'), /field 'camera_matrix.data' must be a list of 9 finite numbers/],
      [good.replace(/projection_matrix:[\s\S]*$/, ''), /field 'projection_matrix' is missing/],
      ['image_width: [unclosed', /is not valid YAML/],
    ];
    for (const [text, re] of cases) {
      writeFileSync(file, text);
      assert.throws(() => readCameraCalibration(file), (e: Error) => e.message.startsWith(`${file}: `) && re.test(e.message), re.source);
    }
  });

  it('parses board specs and orders object points row by row', () => {
    assert.deepEqual(parseBoardSpec('9x6', 0.025), BOARD);
    assert.throws(() => parseBoardSpec('9 by 6', 0.025), /COLSxROWS/);
    assert.throws(() => parseBoardSpec('9x6', 25), /metres/);
    const pts = boardObjectPoints(BOARD);
    assert.equal(pts.length, 54);
    assert.deepEqual(pts[1], [0.025, 0, 0]);
    assert.deepEqual(pts[9], [0, 0.025, 0]);
  });

  it('`gmps calibrate intrinsics` recovers fx, fy, cx, cy within 1% from rendered board images', async function () {
    await openCvOrSkip(this);
    const truth: TrueIntrinsics = { fx: 610, fy: 605, cx: 322, cy: 236, dist: [-0.08, 0.03, 0.0005, -0.0003, 0] };
    const dir = mkdtempSync(join(tmpdir(), 'gmps-intrinsics-'));
    const views = calibrationViews(BOARD);
    views.forEach((pose, i) => writeGrayPng(join(dir, `view_${i}.png`), renderCheckerboard(truth, 640, 480, pose, BOARD, { supersample: 3 }), 640, 480));
    writeGrayPng(join(dir, 'blank.png'), new Uint8Array(640 * 480).fill(128), 640, 480);
    const out = join(dir, 'camera.yaml');
    const r = runGmps(['calibrate', 'intrinsics', '--images', dir, '--board', '9x6', '--square-m', '0.025', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `--json prints one line, got: ${r.stdout}`);
    const res = JSON.parse(lines[0]);
    console.log(`      intrinsics: fx ${res.fx.toFixed(2)} fy ${res.fy.toFixed(2)} cx ${res.cx.toFixed(2)} cy ${res.cy.toFixed(2)} rms ${res.rms.toFixed(3)} px`);
    for (const k of ['fx', 'fy', 'cx', 'cy'] as const) {
      const rel = Math.abs(res[k] - truth[k]) / truth[k];
      assert.ok(rel < 0.01, `${k} ${res[k]} vs ${truth[k]} (${(rel * 100).toFixed(2)}%)`);
    }
    assert.equal(res.images_used, views.length);
    assert.equal(res.images_rejected, 1);
    assert.ok(res.rms > 0 && res.rms < 0.5, `rms ${res.rms}`);
    const written = readCameraCalibration(out);
    assert.equal(written.cameraMatrix[0], res.fx);
    assert.equal(written.imageWidth, 640);
    assert.match(readFileSync(out, 'utf8'), /^# gmps calibrate intrinsics: RMS reprojection error/);
  });

  it('`gmps calibrate intrinsics` explains a board that is never found', async function () {
    await openCvOrSkip(this);
    const dir = mkdtempSync(join(tmpdir(), 'gmps-intrinsics-bad-'));
    const truth: TrueIntrinsics = { fx: 600, fy: 600, cx: 320, cy: 240 };
    calibrationViews(BOARD).slice(0, 3).forEach((pose, i) =>
      writeGrayPng(join(dir, `v${i}.png`), renderCheckerboard(truth, 640, 480, pose, BOARD, { supersample: 1 }), 640, 480));
    const r = runGmps(['calibrate', 'intrinsics', '--images', dir, '--board', '8x6', '--square-m', '0.025', '--out', join(dir, 'c.yaml'), '--json']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /board was found in 0 of 3 images.*Check --board \(inner corners/);
  });
});
