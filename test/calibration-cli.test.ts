import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { calibrationFromIntrinsics, writeCameraCalibration } from '../calibration/camera-info.js';
import { doorAngleFromHand, readDoorHinge } from '../calibration/door-hinge.js';
import { readHandEye } from '../calibration/hand-eye-file.js';
import {
  compose,
  invert,
  matMul3,
  norm3,
  poseToRecord,
  rotationAngle,
  rotationFromRotvec,
  sub3,
  transpose3,
  type Pose,
  type Vec3,
} from '../calibration/transforms.js';
import { runGmps } from './helpers/calibration-cli.js';
import { openCvOrSkip } from './helpers/calibration-opencv.js';
import { calibrationViews, renderCheckerboard, writeGrayPng } from './helpers/calibration-render.js';

const BOARD = { cols: 9, rows: 6, squareM: 0.025 };
/** Camera 1.3 m in front of the robot, looking back at it (optical frame: z forward, y down). */
const TRUE_X: Pose = {
  rotation: matMul3([0, 0, -1, 1, 0, 0, 0, -1, 0], rotationFromRotvec([0.05, -0.1, 0.02])),
  translation: [1.3, 0.1, 0.45],
};
const TRUE_Y: Pose = { rotation: rotationFromRotvec([0.1, -0.05, 1.2]), translation: [0.01, 0.02, 0.09] };

function errors(x: { translation: { x: number; y: number; z: number }; rotation: Pose['rotation'] }) {
  const t = x.translation;
  return {
    mm: norm3(sub3([t.x, t.y, t.z], TRUE_X.translation)) * 1000,
    deg: (rotationAngle(matMul3(transpose3(TRUE_X.rotation), x.rotation)) * 180) / Math.PI,
  };
}

describe('calibration: gmps calibrate extrinsics / door', () => {
  it('extrinsics from recorded board poses (no images) writes a static transform', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-he-poses-'));
    const samples = calibrationViews(BOARD).slice(0, 8).map((c) => ({
      base_to_gripper: poseToRecord(compose(compose(TRUE_X, c), invert(TRUE_Y))),
      camera_to_board: poseToRecord(c),
    }));
    const file = join(dir, 'samples.yaml');
    writeFileSync(file, YAML.stringify({ samples }));
    const out = join(dir, 'extrinsics.yaml');
    const r = runGmps(['calibrate', 'extrinsics', '--samples', file, '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.equal(res.samples_used, 8);
    const back = readHandEye(out);
    assert.equal(back.parentFrame, 'base');
    assert.equal(back.childFrame, 'camera_optical_frame');
    const e = errors({ translation: res.translation, rotation: back.baseToCamera.rotation });
    assert.ok(e.mm < 0.01 && e.deg < 0.001, JSON.stringify(e));

    writeFileSync(file, YAML.stringify({ samples: [{ base_to_gripper: samples[0].base_to_gripper, image: 'a.png' }] }));
    const bad = runGmps(['calibrate', 'extrinsics', '--samples', file, '--out', out]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /pass --intrinsics <camera.yaml> and --square-m/);
  });

  it('extrinsics from rendered images of a gripper-held board: within 2 mm and 0.2 degrees', async function () {
    await openCvOrSkip(this);
    const dir = mkdtempSync(join(tmpdir(), 'gmps-he-images-'));
    const k = { fx: 600, fy: 600, cx: 320, cy: 240 };
    const camFile = join(dir, 'camera.yaml');
    writeCameraCalibration(camFile, calibrationFromIntrinsics({ width: 640, height: 480, cameraName: 'cam', ...k, distortion: [0, 0, 0, 0, 0] }));
    const samples = calibrationViews(BOARD).slice(0, 10).map((c, i) => {
      writeGrayPng(join(dir, `pose_${i}.png`), renderCheckerboard(k, 640, 480, c, BOARD, { supersample: 3 }), 640, 480);
      return { base_to_gripper: poseToRecord(compose(compose(TRUE_X, c), invert(TRUE_Y))), image: `pose_${i}.png` };
    });
    const file = join(dir, 'samples.yaml');
    writeFileSync(file, YAML.stringify({ samples }));
    const out = join(dir, 'extrinsics.yaml');
    const r = runGmps(['calibrate', 'extrinsics', '--samples', file, '--intrinsics', camFile, '--board', '9x6', '--square-m', '0.025', '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    const e = errors({ translation: res.translation, rotation: readHandEye(out).baseToCamera.rotation });
    console.log(`      extrinsics from images: ${e.mm.toFixed(3)} mm, ${e.deg.toFixed(4)} deg; residual rms ${(res.rms_translation_m * 1000).toFixed(3)} mm`);
    assert.equal(res.samples_used, 10);
    assert.ok(e.mm < 2 && e.deg < 0.2, JSON.stringify(e));
  });

  it('door: fits a recorded CSV swing and writes the hinge the reward node reads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-door-cli-'));
    const centre: Vec3 = [0.8, -0.35, 0.2];
    const radius = 0.3;
    const rows = Array.from({ length: 30 }, (_, i) => {
      const t = (i / 29) * (80 * Math.PI) / 180; // opens counter-clockwise seen from above
      return [centre[0] - radius * Math.cos(t), centre[1] - radius * Math.sin(t), centre[2]];
    });
    const csv = join(dir, 'hand.csv');
    writeFileSync(csv, 'x,y,z\n' + rows.map((r) => r.join(',')).join('\n'));
    const out = join(dir, 'door.yaml');
    const r = runGmps(['calibrate', 'door', '--positions', csv, '--out', out, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout);
    assert.ok(Math.abs(res.radius_m - radius) < 1e-6);
    assert.ok(Math.abs(res.angle_range_deg[1] - 80) < 1e-4);
    const hinge = readDoorHinge(out);
    assert.ok(Math.abs(hinge.axisDirection[2] - 1) < 1e-9, 'counter-clockwise opening seen from above: axis +z');
    assert.ok(Math.abs(doorAngleFromHand(hinge, rows[29] as Vec3) - (80 * Math.PI) / 180) < 1e-6);
    const bad = runGmps(['calibrate', 'door', '--positions', csv, '--out', out, '--closed-index', '15']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /other side of the closed-door sample 15/);
  });
});
