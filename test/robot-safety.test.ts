import assert from 'node:assert/strict';
import { CartesianController } from '../src/robot/cartesian.js';
import { SafetyEnvelope, SafetyViolation, DEFAULT_SAFETY } from '../src/robot/safety.js';
import { JOINT_LIMITS, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';
import { SawyerIk, DOWN_ROT } from '../src/robot/ik.js';

function startController(): CartesianController {
  const c = new CartesianController();
  c.reset(new SawyerIk({ maxIterations: 500 }).solve([0.5, 0, 0.2], DOWN_ROT, NEUTRAL_POSE).q);
  return c;
}

describe('safety envelope', () => {
  it('refuses NaN and Inf actions and leaves the command unchanged', () => {
    const c = startController();
    const tip = Float64Array.from(c.tipTarget), q = Float64Array.from(c.jointTarget);
    for (const bad of [[NaN, 0, 0], [0, Infinity, 0], [0, 0, -Infinity]]) {
      assert.throws(() => c.step(bad), (e: unknown) => e instanceof SafetyViolation && /finite/.test(e.message));
    }
    assert.throws(() => c.step([0.1, 0.2]), /expected 3/);
    assert.deepEqual(c.tipTarget, tip);
    assert.deepEqual(c.jointTarget, q);
  });

  it('clips actions to 1 cm per axis and keeps the tip target inside the workspace box', () => {
    const c = startController();
    const before = Float64Array.from(c.tipTarget);
    const cmd = c.step([5, -5, 0]);
    assert.ok(Math.abs(cmd.displacement[0]! - 0.01) < 1e-12 && Math.abs(cmd.displacement[1]! + 0.01) < 1e-12);
    assert.ok(Math.abs(c.tipTarget[0]! - before[0]! - 0.01) < 1e-12);
    for (let i = 0; i < 200; i++) c.step([0, 0, -1]);
    assert.equal(c.tipTarget[2], DEFAULT_SAFETY.workspace.min[2]);
    for (let i = 0; i < 200; i++) c.step([1, 1, 1]);
    assert.deepEqual(Array.from(c.tipTarget), [DEFAULT_SAFETY.workspace.max[0], DEFAULT_SAFETY.workspace.max[1], DEFAULT_SAFETY.workspace.max[2]]);
  });

  it('caps the tip step and reports the clip', () => {
    const env = new SafetyEnvelope();
    const next = Float64Array.of(0.6, 0, 0.2);
    const report = { clipped: false, reasons: [] as string[] };
    env.limitTipTarget([0.5, 0, 0.2], next, report);
    assert.ok(Math.abs(next[0]! - (0.5 + DEFAULT_SAFETY.maxStepM)) < 1e-12);
    assert.ok(report.clipped && report.reasons.some((r) => r.startsWith('step')));
  });

  it('clips joint targets to the limits and scales a too-fast step, keeping its direction', () => {
    const env = new SafetyEnvelope();
    const prev = Float64Array.from(NEUTRAL_POSE);
    const next = Float64Array.from(NEUTRAL_POSE);
    next[0] = next[0]! + 1; next[1] = next[1]! + 0.5;
    const report = { clipped: false, reasons: [] as string[] };
    env.limitJointTarget(prev, next, report);
    const cap0 = JOINT_LIMITS[0]!.velocity * DEFAULT_SAFETY.velocityScale * DEFAULT_SAFETY.controlDt;
    assert.ok(Math.abs(next[0]! - prev[0]! - cap0) < 1e-12);
    assert.ok(Math.abs((next[1]! - prev[1]!) / (next[0]! - prev[0]!) - 0.5) < 1e-12, 'direction kept');
    const far = Float64Array.from(JOINT_LIMITS, (l) => l.upper + 1);
    env.limitJointTarget(far, far);
    far.forEach((v, i) => assert.ok(v <= JOINT_LIMITS[i]!.upper - DEFAULT_SAFETY.jointMarginRad + 1e-12));
    assert.throws(() => env.limitJointTarget(prev, Float64Array.of(0, 0)), /needs 7/);
    assert.throws(() => env.limitJointTarget(prev, Float64Array.of(0, 0, 0, NaN, 0, 0, 0)), SafetyViolation);
  });

  it('rejects an inverted workspace box', () => {
    assert.throws(() => new SafetyEnvelope({ ...DEFAULT_SAFETY, workspace: { min: [1, 0, 0], max: [0, 1, 1] } }), /min\[0\]/);
  });
});
