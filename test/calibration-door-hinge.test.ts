import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  doorAngleFromHand,
  fitDoorHinge,
  formatDoorHinge,
  parseDoorHinge,
  readHandPositions,
} from '../calibration/door-hinge.js';
import { add3, cross3, dot3, normalize3, scale3, type Vec3 } from '../calibration/transforms.js';
import { seededRandom } from './helpers/calibration-random.js';

/** Handle positions on a door swinging about `axis` through `point`, angles in radians. */
function arc(point: Vec3, axis: Vec3, zero: Vec3, radius: number, angles: number[], noise: number, seed = 3): Vec3[] {
  const rng = seededRandom(seed);
  const a = normalize3(axis);
  const e0 = normalize3(zero);
  const e1 = cross3(a, e0);
  return angles.map((t) => {
    const p = add3(point, add3(scale3(e0, radius * Math.cos(t)), scale3(e1, radius * Math.sin(t))));
    return [p[0] + rng.gauss() * noise, p[1] + rng.gauss() * noise, p[2] + rng.gauss() * noise] as Vec3;
  });
}

const deg = (d: number) => (d * Math.PI) / 180;
const linspace = (a: number, b: number, n: number) => Array.from({ length: n }, (_, i) => a + ((b - a) * i) / (n - 1));

describe('calibration: door hinge', () => {
  // A door hinged on a slightly tilted axis near the arm, handle 0.35 m from the hinge.
  const point: Vec3 = [0.75, -0.3, 0.1];
  const axis = normalize3([0.02, -0.03, 1]);
  const zero = normalize3(cross3(axis, [1, 0, 0]));
  const radius = 0.35;

  it('recovers axis, radius and angles from a noisy 70-degree swing (1 mm noise)', () => {
    const angles = linspace(0, deg(70), 40);
    const fit = fitDoorHinge(arc(point, axis, zero, radius, angles, 0.001));
    console.log(`      door fit: axis err ${(Math.acos(Math.min(1, dot3(fit.hinge.axisDirection, axis))) * 180 / Math.PI).toFixed(3)} deg, radius err ${((fit.hinge.radiusM - radius) * 1000).toFixed(2)} mm`);
    const h = fit.hinge;
    const axisErr = Math.acos(Math.min(1, dot3(h.axisDirection, axis)));
    assert.ok(axisErr < deg(1), `axis error ${(axisErr * 180) / Math.PI} deg`);
    assert.ok(Math.abs(h.radiusM - radius) < 0.003, `radius ${h.radiusM}`);
    const rel = [h.axisPoint[0] - point[0], h.axisPoint[1] - point[1], h.axisPoint[2] - point[2]] as Vec3;
    const offAxis = Math.hypot(...(rel.map((c, i) => c - axis[i] * dot3(rel, axis)) as Vec3));
    assert.ok(offAxis < 0.004, `axis point is ${offAxis} m off the true axis`);
    // Noise-free handle positions on the true arc read back their angles.
    for (const t of [0, deg(10), deg(35), deg(65)]) {
      const [p] = arc(point, axis, zero, radius, [t], 0);
      assert.ok(Math.abs(doorAngleFromHand(h, p) - t) < deg(1), `angle ${t} read as ${doorAngleFromHand(h, p)}`);
    }
    assert.ok(fit.radialRmsM < 0.0015 && fit.radialRmsM > 0.0003, `radial rms ${fit.radialRmsM}`);
  });

  it('makes pulling open positive whichever way the door swings, with zero at the closed sample', () => {
    const angles = linspace(0, deg(-60), 25); // swings the other way about `axis`
    const positions = arc(point, axis, zero, radius, angles, 0.0005);
    const fit = fitDoorHinge(positions);
    assert.ok(dot3(fit.hinge.axisDirection, axis) < -0.99, 'axis must flip so that opening is positive');
    assert.ok(Math.abs(doorAngleFromHand(fit.hinge, positions[0])) < deg(0.5));
    assert.ok(Math.abs(doorAngleFromHand(fit.hinge, positions[24]) - deg(60)) < deg(1));
    // Closed sample given by index when the recording starts open.
    const reversed = [...positions].reverse();
    const fit2 = fitDoorHinge(reversed, { closedIndex: reversed.length - 1 });
    assert.ok(Math.abs(doorAngleFromHand(fit2.hinge, positions[24]) - deg(60)) < deg(1));
  });

  it('rejects a closed index in the middle of the swing, a too-short swing, and collinear points', () => {
    const positions = arc(point, axis, zero, radius, linspace(0, deg(60), 21), 0.0002);
    assert.throws(() => fitDoorHinge(positions, { closedIndex: 10 }), /other side of the closed-door sample/);
    assert.throws(() => fitDoorHinge(arc(point, axis, zero, radius, linspace(0, deg(5), 10), 0.0002)), /covers only/);
    const line = linspace(0, 1, 8).map((t) => [t, 2 * t, 0] as Vec3);
    assert.throws(() => fitDoorHinge(line), /straight line/);
  });

  it('writes YAML that reads back into the same hinge, and reads CSV/YAML hand positions', () => {
    const positions = arc(point, axis, zero, radius, linspace(0, deg(80), 15), 0.001);
    const fit = fitDoorHinge(positions, { frameId: 'base' });
    const back = parseDoorHinge(formatDoorHinge(fit));
    assert.deepEqual(back, fit.hinge);
    assert.throws(() => parseDoorHinge('axis_point: {x: 0, y: 0, z: 0}\n', 'door.yaml'), /door.yaml: field 'radius_m' is missing/);

    const dir = mkdtempSync(join(tmpdir(), 'gmps-door-'));
    const csv = join(dir, 'hand.csv');
    writeFileSync(csv, 'x,y,z\n' + positions.map((p) => p.join(',')).join('\n') + '\n');
    assert.deepEqual(readHandPositions(csv).positions, positions);
    const yml = join(dir, 'hand.yaml');
    writeFileSync(yml, `closed_index: 0\npositions:\n${positions.map((p) => `  - [${p.join(', ')}]`).join('\n')}\n`);
    assert.equal(readHandPositions(yml).positions.length, positions.length);
    writeFileSync(csv, '1,2,3\n1,2\n');
    assert.throws(() => readHandPositions(csv), /hand.csv:2: expected three numbers/);
  });
});
