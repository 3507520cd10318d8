import assert from 'node:assert/strict';
import { createEnv } from '../sim/index.js';
import { DoorEnv, doorReward } from '../sim/door.js';
import { PushEnv, pushReward } from '../sim/push.js';
import { DOOR } from '../sim/layout.js';
import { mujoco } from '../sim/mujoco.js';
import { sceneXml } from '../sim/scene.js';
import { SafetyViolation } from '../src/robot/safety.js';
import { Rng } from '../src/learning/rng.js';
import type { Env, TaskParams } from '../sim/types.js';

const DEG = Math.PI / 180;

function runExpert(env: Env, task: TaskParams): { ret: number; success: boolean; last: Record<string, number | boolean> } {
  env.reset(task);
  let ret = 0, last: Record<string, number | boolean> = {};
  for (let t = 0; t < env.horizon; t++) {
    const r = env.step(env.expertAction());
    ret += r.reward; last = r.info;
    if (t === env.horizon - 1) assert.equal(r.done, true); else assert.equal(r.done, false);
  }
  return { ret, success: !!last.success, last };
}

describe('door and push tasks', function () {
  this.timeout(120000);

  it('computes the GMPS door reward: gated tent peaking at the target, dense variant minus the grasp distance', () => {
    const target = 40 * DEG;
    assert.equal(doorReward(0.05, 20 * DEG, target, false), 10 * 20 * DEG); // 10 θ below the target
    assert.ok(Math.abs(doorReward(0.05, target, target, false) - 10 * target) < 1e-12); // peak 10 θ*
    assert.ok(Math.abs(doorReward(0.05, 60 * DEG, target, false) - 10 * 20 * DEG) < 1e-12); // 10 (2θ* − θ) above
    assert.equal(doorReward(0.05, 90 * DEG, target, false), 0); // clipped at 0
    assert.equal(doorReward(0.1, target, target, false), 0); // gate: fingers 10 cm or more away
    assert.ok(Math.abs(doorReward(0.05, 20 * DEG, target, true) - (10 * 20 * DEG - 0.05)) < 1e-12);
    assert.equal(doorReward(0.3, 20 * DEG, target, true), -0.3);
  });

  it('computes the GMPS push reward −reach + 100 max(0, d0 − place)', () => {
    assert.ok(Math.abs(pushReward(0.1, 0.25, 0.25) + 0.1) < 1e-12);
    assert.ok(Math.abs(pushReward(0.02, 0.05, 0.25) - (100 * 0.2 - 0.02)) < 1e-9);
    assert.equal(pushReward(0.3, 0.4, 0.25), -0.3);
  });

  it('reads the reward from the simulated state: door angle and finger-handle distance set by hand', async () => {
    const env = (await createEnv('door')) as DoorEnv;
    try {
      env.reset({ kind: 'door', targetRad: 30 * DEG });
      const hinge = env.model.jnt_qposadr[env.mj.mj_name2id(env.model, env.mj.mjtObj.mjOBJ_JOINT.value, 'door_hinge')]!;
      env.data.qpos[hinge] = 20 * DEG;
      env.mj.mj_forward(env.model, env.data);
      const far = (env as unknown as { rewardAndInfo(): { reward: number; info: Record<string, number> } }).rewardAndInfo();
      assert.ok(far.info.graspDist! > 0.1);
      assert.equal(far.reward, 0, 'gated: the hand starts far from the handle');
      assert.ok(Math.abs(far.info.doorAngle! - 20 * DEG) < 1e-12);
      // observation = tip + handle, never the target
      const obs = env.reset({ kind: 'door', targetRad: 10 * DEG });
      assert.equal(obs.state.length, 6);
      assert.ok(Math.hypot(obs.state[3]! - 0.77, obs.state[4]! - 0.1, obs.state[5]! - 0.3) < 1e-6, `handle at ${obs.state.subarray(3)}`);
      const obs2 = env.reset({ kind: 'door', targetRad: 50 * DEG });
      assert.deepEqual(obs.state, obs2.state, 'the target angle must not leak into the observation');
      assert.deepEqual(Array.from(env.context()), [50 * DEG]);
    } finally {
      env.close();
    }
  });

  it('observeAngle: the door state gains the door angle (rad) as a 7th value, still never the target', async () => {
    const env = (await createEnv('door', { observeAngle: true })) as DoorEnv;
    const plain = (await createEnv('door')) as DoorEnv;
    try {
      assert.equal(env.stateDim, 7);
      assert.equal(plain.stateDim, 6);
      const obs = env.reset({ kind: 'door', targetRad: 40 * DEG });
      const ref = plain.reset({ kind: 'door', targetRad: 40 * DEG });
      assert.equal(obs.state.length, 7);
      assert.deepEqual(Array.from(obs.state.subarray(0, 6)), Array.from(ref.state), 'the first six values are the plain state');
      assert.equal(obs.state[6], 0);
      // pull the door by hand: the 7th value follows the hinge
      const hinge = env.model.jnt_qposadr[env.mj.mj_name2id(env.model, env.mj.mjtObj.mjOBJ_JOINT.value, 'door_hinge')]!;
      env.data.qpos[hinge] = 25 * DEG;
      env.mj.mj_forward(env.model, env.data);
      const step = env.step(new Float32Array(3)).observation;
      assert.ok(Math.abs(step.state[6]! - env.angle) < 1e-12 && Math.abs(env.angle - 25 * DEG) < 2 * DEG, `angle ${step.state[6]} vs hinge ${env.angle}`);
      const other = env.reset({ kind: 'door', targetRad: 5 * DEG });
      assert.deepEqual(Array.from(other.state), Array.from(obs.state), 'the target does not leak into the observation');
    } finally {
      env.close();
      plain.close();
    }
  });

  for (const [kind, seed] of [['door', 11], ['push', 12]] as const) {
    it(`scripted ${kind} expert succeeds on at least 95% of random tasks`, async () => {
      const env = await createEnv(kind);
      const rng = new Rng(seed);
      let ok = 0;
      const n = 20;
      try {
        for (let i = 0; i < n; i++) if (runExpert(env, env.sampleTask(() => rng.next())).success) ok++;
      } finally {
        env.close();
      }
      assert.ok(ok / n >= 0.95, `${kind} expert succeeded on ${ok}/${n}`);
    });
  }

  it('is deterministic: the same task and actions give bit-identical trajectories', async () => {
    const a = await createEnv('push'), b = await createEnv('push');
    try {
      const rng = new Rng(5);
      const actions = Array.from({ length: 30 }, () => [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)]);
      const task: TaskParams = { kind: 'push', goal: [0.65, 0.05] };
      const traj = (env: Env): number[] => { env.reset(task); return actions.flatMap((u) => { const r = env.step(u); return [...r.observation.state, r.reward]; }); };
      const first = traj(a);
      assert.deepEqual(traj(b), first);
      assert.deepEqual(traj(a), first, 'reset restores the exact start state');
    } finally {
      a.close(); b.close();
    }
  });

  it('refuses a NaN action with a clear error and the arm holds', async () => {
    const env = (await createEnv('door')) as DoorEnv;
    try {
      env.reset({ kind: 'door', targetRad: 0.3 });
      env.step([1, 0, 0]);
      const tip = Float64Array.from(env.controller.tipTarget);
      const q = Float64Array.from(env.data.qpos);
      assert.throws(() => env.step([NaN, 0, 0]), (e: unknown) => e instanceof SafetyViolation && /action\[0\] is NaN/.test(e.message));
      assert.deepEqual(env.controller.tipTarget, tip);
      assert.deepEqual(env.data.qpos, q, 'no physics step was taken');
      const r = env.step([0, 0, 0]);
      assert.ok(Number.isFinite(r.reward));
    } finally {
      env.close();
    }
  });

  it('gives clear errors for an unknown task, an out-of-range target and a wrong task kind', async () => {
    await assert.rejects(createEnv('drawer'), /unknown task 'drawer'; known tasks: door, push, point/);
    const door = await createEnv('door');
    const push = (await createEnv('push')) as PushEnv;
    try {
      assert.throws(() => door.reset({ kind: 'door', targetRad: 70 * DEG }), /70\.00 deg is outside \[0, 60\] deg/);
      assert.throws(() => door.reset({ kind: 'door', targetRad: -0.1 }), /outside \[0, 60\]/);
      assert.throws(() => door.reset({ kind: 'push', goal: [0.65, 0] }), /door env got a 'push' task/);
      assert.throws(() => push.reset({ kind: 'push', goal: [0.9, 0] }), /outside the goal region/);
      assert.throws(() => door.step([0, 0, 0]), /call reset/);
    } finally {
      door.close(); push.close();
    }
  });

  it('keeps the door task parameter within GMPS bounds when sampling', async () => {
    const env = await createEnv('door');
    try {
      const rng = new Rng(1);
      for (let i = 0; i < 100; i++) {
        const t = env.sampleTask(() => rng.next());
        assert.ok(t.kind === 'door' && t.targetRad >= 0 && t.targetRad <= DOOR.maxTargetRad);
      }
    } finally {
      env.close();
    }
  });

  it('renders a 48x64 camera image observation of the scene', async () => {
    const env = await createEnv('door', { camera: {} });
    try {
      const obs = env.reset({ kind: 'door', targetRad: 0.2 });
      assert.ok(obs.image && obs.image.length === 48 * 64 * 3);
      const distinct = new Set<number>();
      for (let i = 0; i < obs.image.length; i += 3) distinct.add((obs.image[i]! << 16) | (obs.image[i + 1]! << 8) | obs.image[i + 2]!);
      assert.ok(distinct.size > 20, `the image shows a scene (${distinct.size} colours)`);
    } finally {
      env.close();
    }
  });

  it('exports MJCF with the real joint limits, the neutral keyframe and the named sites', async () => {
    const xml = sceneXml('door');
    assert.match(xml, /<joint name="right_j1" class="large_joint" range="-3.8095 2.2736"\/>/);
    assert.match(xml, /<key name="neutral" qpos="0 -1.18 0 2.18 0 0.57 3.3161/);
    for (const site of ['right_hand', 'right_gripper_tip', 'door_grasp']) assert.match(xml, new RegExp(`<site name="${site}"`));
    const mj = await mujoco();
    const m = mj.MjModel.from_xml_string(xml);
    try {
      assert.equal(m.nu, 9);
      assert.equal(m.njnt, 10);
    } finally {
      m.delete();
    }
  });
});
