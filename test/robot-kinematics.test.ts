import assert from 'node:assert/strict';
import { SawyerKinematics } from '../src/robot/kinematics.js';
import { SawyerIk, DOWN_ROT } from '../src/robot/ik.js';
import { JOINT_LIMITS, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';
import { mujoco } from '../sim/mujoco.js';
import { sceneXml } from '../sim/scene.js';
import { Rng } from '../src/learning/rng.js';

describe('Sawyer kinematics', () => {
  it('puts right_hand at the known neutral-pose position (Intera/Menagerie: 0.450, 0.160, 0.216 m)', () => {
    const k = new SawyerKinematics();
    k.forward(NEUTRAL_POSE);
    assert.ok(Math.abs(k.handPos[0]! - 0.450) < 1e-3, `x ${k.handPos[0]}`);
    assert.ok(Math.abs(k.handPos[1]! - 0.160) < 1e-3, `y ${k.handPos[1]}`);
    assert.ok(Math.abs(k.handPos[2]! - 0.216) < 1e-3, `z ${k.handPos[2]}`);
    // the neutral hand points straight down
    assert.ok(k.handRot[8]! < -0.999);
  });

  it('stretches to (1.016, 0.160, 0.317) m at all-zero joints', () => {
    const k = new SawyerKinematics();
    k.forward([0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(k.handPos, (x) => +x.toFixed(3)), [1.015, 0.16, 0.317]);
  });

  it('agrees with MuJoCo on the generated MJCF for random joint angles', async () => {
    const mj = await mujoco();
    const model = mj.MjModel.from_xml_string(sceneXml('door'));
    const data = new mj.MjData(model);
    try {
      const tip = mj.mj_name2id(model, mj.mjtObj.mjOBJ_SITE.value, 'right_gripper_tip');
      const hand = mj.mj_name2id(model, mj.mjtObj.mjOBJ_SITE.value, 'right_hand');
      const k = new SawyerKinematics();
      const rng = new Rng(3);
      for (let trial = 0; trial < 20; trial++) {
        const q = JOINT_LIMITS.map((l) => rng.uniform(l.lower, l.upper));
        for (let i = 0; i < 7; i++) data.qpos[i] = q[i]!;
        mj.mj_kinematics(model, data);
        k.forward(q);
        for (let a = 0; a < 3; a++) {
          assert.ok(Math.abs(data.site_xpos[3 * tip + a]! - k.tipPos[a]!) < 1e-7, `tip axis ${a} trial ${trial}`);
          assert.ok(Math.abs(data.site_xpos[3 * hand + a]! - k.handPos[a]!) < 1e-7, `hand axis ${a} trial ${trial}`);
        }
        for (let e = 0; e < 9; e++) assert.ok(Math.abs(data.site_xmat[9 * hand + e]! - k.handRot[e]!) < 1e-7, `hand rot ${e}`);
      }
    } finally {
      data.delete();
      model.delete();
    }
  });

  it('has a Jacobian that matches finite differences of the tip position', () => {
    const k = new SawyerKinematics();
    const q = Float64Array.from(NEUTRAL_POSE);
    k.forward(q);
    const p = Float64Array.from(k.tipPos);
    const J = k.jacobian(p, new Float64Array(42));
    const h = 1e-6;
    for (let j = 0; j < 7; j++) {
      q[j] = q[j]! + h; k.forward(q); const plus = Float64Array.from(k.tipPos);
      q[j] = q[j]! - 2 * h; k.forward(q); const minus = Float64Array.from(k.tipPos);
      q[j] = q[j]! + h;
      for (let a = 0; a < 3; a++) assert.ok(Math.abs((plus[a]! - minus[a]!) / (2 * h) - J[a * 7 + j]!) < 1e-6, `J[${a},${j}]`);
    }
  });
});

describe('Sawyer IK', () => {
  it('converges to 1 mm with the hand down over the task workspace, warm-started along a path', () => {
    const ik = new SawyerIk();
    const q = Float64Array.from(NEUTRAL_POSE);
    const start = new SawyerIk({ maxIterations: 500 }).solve([0.3, 0, 0.1], DOWN_ROT, NEUTRAL_POSE);
    q.set(start.q);
    let worst = 0;
    // sweep the workspace used by the door and push tasks in 1 cm steps, as the controller does
    const waypoints = [[0.3, 0, 0.1], [0.45, -0.1, 0.02], [0.7, 0.1, 0.02], [0.7, -0.1, 0.02], [0.8, 0.1, 0.36], [0.8, 0.1, 0.285], [0.62, -0.07, 0.285], [0.35, 0.3, 0.4]];
    const p = [0.3, 0, 0.1];
    for (const w of waypoints) {
      for (;;) {
        let done = true;
        for (let a = 0; a < 3; a++) {
          const d = w[a]! - p[a]!;
          if (Math.abs(d) > 1e-9) { p[a] = p[a]! + Math.max(-0.01, Math.min(0.01, d)); done = false; }
        }
        if (done) break;
        const r = ik.solve(p, DOWN_ROT, q, q);
        worst = Math.max(worst, r.positionError);
        assert.ok(r.orientationError < 0.05, `orientation error ${r.orientationError} at ${p}`);
      }
    }
    assert.ok(worst < 1e-3, `worst position error ${worst} m`);
  });

  it('never leaves the joint limits', () => {
    const ik = new SawyerIk();
    const r = ik.solve([2, 2, 2], DOWN_ROT, NEUTRAL_POSE);
    assert.equal(r.converged, false);
    r.q.forEach((v, i) => assert.ok(v >= JOINT_LIMITS[i]!.lower && v <= JOINT_LIMITS[i]!.upper));
  });
});
