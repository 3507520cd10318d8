import assert from 'node:assert/strict';
import { ANT, AntEnv, antDistanceReward, antOodGoals, antReward, antRingGoals, antTask } from '../sim/ant.js';
import { antXml } from '../sim/ant-model.js';
import { createEnv } from '../sim/index.js';
import { mujoco } from '../sim/mujoco.js';
import type { TaskParams } from '../sim/types.js';

describe('sim ant', function () {
  this.timeout(20000);
  let env: AntEnv;
  before(async () => {
    env = new AntEnv(await mujoco(), { seed: 3 });
  });
  after(() => env.close());

  it('builds the 8-motor quadruped (gear 150, ctrlrange ±1) without MuJoCo 3-only MJCF', () => {
    assert.equal(env.model.nu, 8);
    assert.equal(env.model.nq, 15);
    assert.equal(env.model.nv, 14);
    for (let i = 0; i < 8; i++) {
      assert.equal(env.model.actuator_gear[6 * i], 150);
      assert.deepEqual([env.model.actuator_ctrlrange[2 * i], env.model.actuator_ctrlrange[2 * i + 1]], [-1, 1]);
    }
    const xml = antXml();
    for (const newer of ['implicitfast', 'gravcomp', '<frame', 'coordinate=']) assert.ok(!xml.includes(newer), `MJCF uses ${newer}`);
  });

  it('loads through createEnv, resets without the goal in the observation, steps 200 steps', async () => {
    const e = await createEnv('ant', { seed: 1 });
    try {
      const task = antTask([0, 2]);
      const obs = e.reset(task);
      assert.equal(obs.state.length, e.stateDim);
      assert.equal(e.horizon, 200);
      assert.deepEqual(Array.from(e.context()), [0, 2]);
      const other = e.reset(antTask([2, 0]));
      // same seed stream differs between resets, but the goal must not enter the state: compare sizes and start height
      assert.equal(other.state.length, obs.state.length);
      let last;
      for (let t = 0; t < 200; t++) last = e.step(new Float32Array(8).fill(t % 2 ? 0.5 : -0.5));
      assert.equal(last!.done, true);
      assert.ok(last!.observation.state.every(Number.isFinite));
      assert.throws(() => e.step(new Float32Array(8)), /episode ended/);
      assert.deepEqual(Array.from(e.expertAction()), new Array(8).fill(0));
    } finally {
      e.close();
    }
  });

  it('reward formula on hand-set states: dense, sparse gating at 0.8 m, control cost', () => {
    const goal: [number, number] = [2, 0];
    assert.equal(antDistanceReward([0.5, 0.2], goal, false), -(1.5 + 0.2) + 4);
    assert.equal(antDistanceReward([0.5, 0.2], goal, true), -2 + 4); // far: −‖g‖₁ + 4
    assert.ok(Math.abs(antDistanceReward([1.8, 0.3], goal, true) - 3.5) < 1e-12); // within 0.8: dense term
    assert.ok(Math.abs(antDistanceReward([1.8, 0.3], goal, false) - 3.5) < 1e-12);
    const a = [1, -1, 0.5, 0, 0, 0, 0, 0];
    const r = antReward([1.8, 0.3], goal, a, 0.01, false);
    assert.ok(Math.abs(r - (3.5 - 0.005 * 2.25 - 0.01 + 0.05)) < 1e-12);
  });

  it('step reward equals the formula at the torso position it reports (torso placed by hand)', () => {
    for (const sparse of [false, true]) {
      const e = new AntEnv(env.mj, { seed: 5, dense: !sparse });
      try {
        e.reset(antTask([2, 0]));
        e.setTorsoXY(1.7, 0.1);
        const a = Float32Array.of(0.3, -0.2, 2, 0, 0, 0, 0, -3); // clipped to ±1 for control and cost
        const r = e.step(a);
        const clipped = Array.from(a, (v) => Math.max(-1, Math.min(1, v)));
        const expect = antReward([r.info.x as number, r.info.y as number], [2, 0], clipped, r.info.contactCost as number, sparse);
        assert.ok(Math.abs(r.reward - expect) < 1e-9, `${r.reward} vs ${expect}`);
        assert.ok(Math.abs((r.info.x as number) - 1.7) < 0.2, 'the torso stays near where it was put');
        assert.ok((r.info.distance as number) < ANT.sparseRadius && r.info.success);
        // far from the goal, the sparse reward no longer depends on the position
        e.setTorsoXY(-1, -1);
        const far = e.step(new Float32Array(8));
        const distTerm = far.reward + (far.info.contactCost as number) - ANT.survive;
        assert.ok(Math.abs(distTerm - (sparse ? 2 : 4 - Math.abs((far.info.x as number) - 2) - Math.abs(far.info.y as number))) < 1e-9);
      } finally {
        e.close();
      }
    }
  });

  it('training goals lie on the quarter circle; OOD goals outside it; bad tasks are refused', () => {
    for (const [x, y] of antRingGoals(5)) {
      assert.ok(Math.abs(Math.hypot(x, y) - 2) < 1e-12);
      const ang = Math.atan2(y, x);
      assert.ok(ang >= -1e-12 && ang <= Math.PI / 2 + 1e-12);
    }
    for (const [x, y] of antOodGoals(6)) {
      const ang = Math.atan2(y, x);
      assert.ok(Math.abs(Math.hypot(x, y) - 2) < 1e-12);
      assert.ok(ang < 0 || ang > Math.PI / 2, `angle ${ang}`);
    }
    const rng = (() => {
      let s = 0.1;
      return () => (s = (s * 9301 + 0.49297) % 1);
    })();
    const t = env.sampleTask(rng) as unknown as { goal: [number, number] };
    assert.ok(Math.abs(Math.hypot(...t.goal) - 2) < 1e-12 && t.goal[0] >= -1e-12 && t.goal[1] >= -1e-12);
    assert.throws(() => env.reset({ kind: 'point', goal: [0, 0] } as TaskParams), /cannot reset to a 'point' task/);
    assert.throws(() => env.reset(antTask([50, 0])), /more than 10 m/);
    env.reset(antTask([1, 1]));
    assert.throws(() => env.step([0, 0]), /length 8/);
    assert.throws(() => env.step([0, 0, 0, Number.NaN, 0, 0, 0, 0]), /finite/);
  });
});
