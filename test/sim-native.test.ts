import { strict as assert } from 'node:assert';
import { nativeBenchBinary, nativeStepsPerSec, wasmStepsPerSec, type StepBenchResult } from '../sim/native/bench.js';

// Contact-free, undamped pendulum driven by a motor: identical dynamics in MuJoCo 2.2.2 and 3.x.
const PENDULUM = `<mujoco model="pendulum">
  <option timestep="0.002"/>
  <worldbody>
    <body name="pole" pos="0 0 1">
      <joint name="hinge" type="hinge" axis="0 1 0"/>
      <geom type="capsule" fromto="0 0 0 0.5 0 0" size="0.05" contype="0" conaffinity="0"/>
    </body>
  </worldbody>
  <actuator><motor name="torque" joint="hinge"/></actuator>
  <keyframe><key name="tilted" qpos="1.2" ctrl="-0.3"/></keyframe>
</mujoco>`;

function ok(r: StepBenchResult | { unavailable: string }): StepBenchResult {
  if ('unavailable' in r) assert.fail(`native benchmark unavailable: ${r.unavailable}`);
  return r;
}

describe('sim/native: native MuJoCo benchmark harness', function () {
  this.timeout(120_000);

  describe('with libmujoco-dev', function () {
    before(async function () {
      const built = await nativeBenchBinary();
      if ('unavailable' in built) {
        if (process.env.GMPS_REQUIRE_ALL === '1') assert.fail(`GMPS_REQUIRE_ALL=1 but ${built.unavailable}`);
        console.log(`      skipped: ${built.unavailable}`);
        this.skip();
      }
    });

    it('steps a pendulum natively and in wasm to the same state', async function () {
      for (const ctrl of [[0], [0.5]]) {
        const native = ok(await nativeStepsPerSec(PENDULUM, { steps: 1000, ctrl, repeats: 1 }));
        const wasm = await wasmStepsPerSec(PENDULUM, { steps: 1000, ctrl, repeats: 1 });
        assert.match(native.mujocoVersion, /^\d+\.\d+\.\d+/);
        assert.match(wasm.mujocoVersion, /^3\./);
        assert.ok(Math.abs(native.time - 2) < 1e-9 && Math.abs(wasm.time - 2) < 1e-9, 'both ran 1000 steps of 2 ms');
        assert.equal(native.qpos.length, 1);
        assert.ok(Math.abs(native.qpos[0] - wasm.qpos[0]) < 1e-6, `qpos native ${native.qpos[0]} vs wasm ${wasm.qpos[0]}`);
        assert.ok(Math.abs(native.qvel[0] - wasm.qvel[0]) < 1e-6, `qvel native ${native.qvel[0]} vs wasm ${wasm.qvel[0]}`);
        assert.ok(native.mjStepsPerSec > 0 && wasm.mjStepsPerSec > 0);
      }
    });

    it('holds the given control (the motor torque changes the final state)', async function () {
      const free = ok(await nativeStepsPerSec(PENDULUM, { steps: 300, repeats: 1 }));
      const driven = ok(await nativeStepsPerSec(PENDULUM, { steps: 300, ctrl: [2], repeats: 1 }));
      assert.ok(Math.abs(free.qpos[0]) > 0.1, 'gravity swings the pendulum');
      assert.ok(Math.abs(driven.qpos[0] - free.qpos[0]) > 0.05, 'the held torque changes the motion');
    });

    it('reports a model the native version rejects, with MuJoCo\'s error text', async function () {
      const xml = PENDULUM.replace('<option timestep="0.002"/>', '<option timestep="0.002" integrator="implicitfast"/>');
      const r = await nativeStepsPerSec(xml, { steps: 10 });
      if (!('unavailable' in r)) this.skip(); // a native MuJoCo >= 3.0 accepts implicitfast
      assert.match(r.unavailable, /rejected.*implicitfast/s);
    });

    it('starts from a keyframe with its control when asked, in both builds', async function () {
      const native = ok(await nativeStepsPerSec(PENDULUM, { steps: 200, keyframe: 0, repeats: 1 }));
      const wasm = await wasmStepsPerSec(PENDULUM, { steps: 200, keyframe: 0, repeats: 1 });
      const fromZero = ok(await nativeStepsPerSec(PENDULUM, { steps: 200, repeats: 1 }));
      assert.ok(Math.abs(native.qpos[0] - wasm.qpos[0]) < 1e-6, `qpos native ${native.qpos[0]} vs wasm ${wasm.qpos[0]}`);
      assert.ok(Math.abs(native.qpos[0] - fromZero.qpos[0]) > 0.1, 'the keyframe changes the start state');
      const bad = await nativeStepsPerSec(PENDULUM, { steps: 10, keyframe: 3 });
      assert.ok('unavailable' in bad && /keyframe 3 does not exist.*1 keyframes/.test(bad.unavailable));
      await assert.rejects(wasmStepsPerSec(PENDULUM, { steps: 10, keyframe: 3 }), /keyframe 3 does not exist/);
    });

    it('reports a control of the wrong length', async function () {
      const r = await nativeStepsPerSec(PENDULUM, { steps: 10, ctrl: [1, 2] });
      assert.ok('unavailable' in r);
      assert.match(r.unavailable, /2 control values.*nu = 1/);
    });
  });

  it('says when there is no C compiler', async function () {
    const saved = process.env.CC;
    process.env.CC = '/nonexistent/gmps-cc';
    try {
      const r = await nativeStepsPerSec(PENDULUM, { steps: 10 });
      assert.ok('unavailable' in r);
      assert.match(r.unavailable, /no C compiler.*gmps-cc/);
    } finally {
      if (saved === undefined) delete process.env.CC;
      else process.env.CC = saved;
    }
  });

  it('wasm stepping rejects bad options and models clearly', async function () {
    await assert.rejects(wasmStepsPerSec(PENDULUM, { steps: 0 }), /steps must be a positive integer/);
    await assert.rejects(wasmStepsPerSec(PENDULUM, { steps: 10, ctrl: [1, 2] }), /2 control values.*nu = 1/);
    await assert.rejects(wasmStepsPerSec(PENDULUM, { steps: 10, ctrl: [NaN] }), /finite/);
    await assert.rejects(wasmStepsPerSec('<mujoco><worldbody><geom bogus="1"/></worldbody></mujoco>', { steps: 1 }));
    await assert.rejects(nativeStepsPerSec(PENDULUM, { steps: -1 }), /steps must be a positive integer/);
  });
});
