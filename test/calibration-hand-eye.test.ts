import { strict as assert } from 'node:assert';
import { solveEyeToHand, type HandEyeSample } from '../calibration/hand-eye.js';
import {
  compose,
  invert,
  matMul3,
  norm3,
  poseFromRecord,
  poseToRecord,
  rotationAngle,
  rotationFromRotvec,
  rotvecFromRotation,
  sub3,
  transpose3,
  type Pose,
} from '../calibration/transforms.js';
import { seededRandom } from './helpers/calibration-random.js';

const deg = (r: number) => (r * 180) / Math.PI;

/** Camera 1.5 m in front of the arm looking back at it; board held 8 cm past the flange. */
const TRUE_X: Pose = { rotation: rotationFromRotvec([0.4, -2.1, 0.3]), translation: [1.45, 0.25, 0.55] };
const TRUE_Y: Pose = { rotation: rotationFromRotvec([0.05, 0.1, 1.4]), translation: [0.01, -0.02, 0.08] };

function synthetic(n: number, seed: number, noise: { armM: number; armRad: number; pnpM: number; pnpRad: number }): HandEyeSample[] {
  const rng = seededRandom(seed);
  const perturb = (p: Pose, sm: number, sr: number): Pose => ({
    rotation: matMul3(rotationFromRotvec([rng.gauss() * sr, rng.gauss() * sr, rng.gauss() * sr]), p.rotation),
    translation: [p.translation[0] + rng.gauss() * sm, p.translation[1] + rng.gauss() * sm, p.translation[2] + rng.gauss() * sm],
  });
  const samples: HandEyeSample[] = [];
  for (let i = 0; i < n; i++) {
    const g: Pose = {
      rotation: rotationFromRotvec([(rng.uniform() - 0.5) * 0.9, 1.5 + (rng.uniform() - 0.5) * 0.9, (rng.uniform() - 0.5) * 1.2]),
      translation: [0.6 + (rng.uniform() - 0.5) * 0.3, (rng.uniform() - 0.5) * 0.4, 0.3 + (rng.uniform() - 0.5) * 0.3],
    };
    const c = compose(invert(TRUE_X), compose(g, TRUE_Y));
    samples.push({ baseToGripper: perturb(g, noise.armM, noise.armRad), cameraToBoard: perturb(c, noise.pnpM, noise.pnpRad) });
  }
  return samples;
}

function errors(x: Pose): { mm: number; deg: number } {
  return {
    mm: norm3(sub3(x.translation, TRUE_X.translation)) * 1000,
    deg: deg(rotationAngle(matMul3(transpose3(TRUE_X.rotation), x.rotation))),
  };
}

describe('calibration: eye-to-hand (AX = XB)', () => {
  it('is exact on noise-free poses (Park-Martin closed form alone)', () => {
    const r = solveEyeToHand(synthetic(6, 11, { armM: 0, armRad: 0, pnpM: 0, pnpRad: 0 }), { refine: false });
    const e = errors(r.baseToCamera);
    assert.ok(e.mm < 1e-6 && e.deg < 1e-6, JSON.stringify(e));
    assert.ok(norm3(sub3(r.gripperToBoard.translation, TRUE_Y.translation)) < 1e-9);
    assert.ok(r.rmsTranslationM < 1e-9);
  });

  it('recovers the camera within 2 mm and 0.2 degrees from 20 noisy poses', () => {
    // Arm FK: 0.3 mm / 0.03 deg; solvePnP at ~1 m: 0.7 mm / 0.15 deg.
    const noise = { armM: 0.0003, armRad: 0.0005, pnpM: 0.0007, pnpRad: 0.0026 };
    const r = solveEyeToHand(synthetic(20, 5, noise));
    const closed = solveEyeToHand(synthetic(20, 5, noise), { refine: false });
    const e = errors(r.baseToCamera);
    const ec = errors(closed.baseToCamera);
    console.log(`      hand-eye: refined ${e.mm.toFixed(2)} mm ${e.deg.toFixed(3)} deg; Park-Martin only ${ec.mm.toFixed(2)} mm ${ec.deg.toFixed(3)} deg`);
    assert.ok(e.mm < 2 && e.deg < 0.2, JSON.stringify(e));
    assert.ok(ec.mm < 4 && ec.deg < 0.3, JSON.stringify(ec));
    assert.equal(r.residuals.length, 20);
    assert.ok(r.rmsTranslationM > 0.0002 && r.rmsTranslationM < 0.003, `residual rms ${r.rmsTranslationM}`);
  });

  it('refuses poses that all rotate about a single axis', () => {
    const samples: HandEyeSample[] = [0, 0.3, 0.6, 0.9].map((a) => {
      const g: Pose = { rotation: rotationFromRotvec([0, 0, a]), translation: [0.5 + a * 0.1, 0.1, 0.3] };
      return { baseToGripper: g, cameraToBoard: compose(invert(TRUE_X), compose(g, TRUE_Y)) };
    });
    assert.throws(() => solveEyeToHand(samples), /one axis only/);
    assert.throws(() => solveEyeToHand(samples.slice(0, 2)), /at least 3 samples/);
  });

  it('round-trips poses through quaternion records and rotation vectors', () => {
    const p: Pose = { rotation: rotationFromRotvec([0.3, -3.0, 0.2]), translation: [1, 2, 3] };
    const back = poseFromRecord(poseToRecord(p));
    assert.ok(rotationAngle(matMul3(transpose3(p.rotation), back.rotation)) < 1e-12);
    const v = rotvecFromRotation(p.rotation);
    assert.ok(norm3(sub3(v, [0.3, -3.0, 0.2])) < 1e-9);
  });
});
