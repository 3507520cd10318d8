import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { actOnce, doorHandlePosition, flattenParams, loadInferencePolicy, stateRow, visionRow, type InferencePolicy } from '../src/learning/policy-runner.js';
import { preprocessFrame } from '../src/vision/preprocess.js';
import policyNode from '../nodes/policy.js';
import { quietRuntime, record, until, type Logged } from './helpers/nodes-graph.js';
import { writeTestCheckpoint } from './nodes-policy-checkpoint.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('nodes: policy', function () {
  this.timeout(30000);
  let stateCk: string;
  let visionCk: string;
  let rt: InProcessRuntime | undefined;
  let running: RunningNode | undefined;
  let ref: InferencePolicy | undefined;
  before(async () => {
    stateCk = await writeTestCheckpoint('state', 3);
    visionCk = await writeTestCheckpoint('vision', 4);
  });
  afterEach(async () => {
    await running?.stop();
    await rt?.shutdown();
    ref?.dispose();
    running = rt = ref = undefined;
  });

  async function start(checkpoint: string, overrides: Record<string, unknown> = {}) {
    const logs: Logged[] = [];
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    const rec = {
      cmd: record<Msg>(probe, 'geometry_msgs/msg/TwistStamped', 'cmd_ee'),
      steps: record<Msg>(probe, 'gmps_msgs/msg/PolicyStep', '/policy/steps'),
    };
    running = await startNode(rt, policyNode, { parameterOverrides: { checkpoint, trigger: 'clock', ...overrides } });
    ref = await loadInferencePolicy(checkpoint);
    const io = {
      hand: probe.createPublisher('geometry_msgs/msg/PoseStamped', 'hand_pose'),
      angle: probe.createPublisher('std_msgs/msg/Float64', 'task/door_angle'),
      image: probe.createPublisher('sensor_msgs/msg/Image', 'camera/image_raw', { qos: 'sensor_data' }),
      clock: probe.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' }),
      params: probe.createPublisher('gmps_msgs/msg/PolicyParams', '/policy/params', { qos: 'latched' }),
      start: probe.createClient('gmps_msgs/srv/StartTrial', '/policy/start_trial'),
    };
    return { probe, rec, io, logs };
  }

  const stamp = (k: number) => ({ sec: k, nanosec: 0 });
  const pose = (k: number, xyz: number[]) => ({
    header: { stamp: stamp(k), frame_id: 'base' },
    pose: { position: { x: xyz[0]!, y: xyz[1]!, z: xyz[2]! }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
  });
  const image = (k: number, w: number, h: number) => {
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + k * 11) & 255;
    return { header: { stamp: stamp(k), frame_id: 'cam' }, height: h, width: w, encoding: 'rgb8', is_bigendian: 0, step: w * 3, data };
  };

  it('stateRow: the door angle as a 7th value for a policy trained with it (observeAngle), the same six values before it; other widths refused', async () => {
    const { createEnv } = await import('../sim/index.js');
    const env = await createEnv('door', { observeAngle: true });
    try {
      const obs = env.reset({ kind: 'door', targetRad: 0.5 });
      const row7 = stateRow('door', [obs.state[0]!, obs.state[1]!, obs.state[2]!], { doorAngle: 0 }, 7);
      Array.from(obs.state).forEach((v, i) => assert.ok(Math.abs(row7[i]! - v) < 1e-5, `value ${i}: graph ${row7[i]} vs sim ${v}`));
    } finally {
      env.close();
    }
    const row6 = stateRow('door', [0.3, 0.05, 0.12], { doorAngle: 0.4 });
    const row7 = stateRow('door', [0.3, 0.05, 0.12], { doorAngle: 0.4 }, 7);
    assert.deepEqual(Array.from(row7.subarray(0, 6)), Array.from(row6));
    assert.equal(row7[6], Math.fround(0.4));
    assert.throws(() => stateRow('push', [0, 0, 0], { block: [0, 0, 0] }, 7), /no 7-value state observation for 'push' \(door: 6, or 7 with the door angle; push: 6\)/);
    assert.throws(() => stateRow('door', [0, 0, 0], { doorAngle: 0 }, 9), /no 9-value state observation for 'door'/);
  });

  it('state checkpoint: hand pose + door angle → a cmd_ee in [-1, 1]^3 equal to the policy mean, and the recorded step', async () => {
    const { rec, io } = await start(stateCk);
    const r = await io.start.sendRequestAsync({ trial: 7, steps: 2, params_version: 0, deterministic: true, seed: 1 }, { timeout: 5000 });
    assert.equal(r.success, true, r.message);
    const hand = [0.3, 0.05, 0.12];
    io.hand.publish(pose(1, hand));
    io.angle.publish({ data: 0.3 });
    io.clock.publish({ clock: stamp(1) });
    await until(rt!, () => rec.cmd.length === 1 && rec.steps.length === 1, 'one command');
    const row = stateRow('door', hand as [number, number, number], { doorAngle: 0.3 });
    assert.deepEqual(Array.from(row.subarray(3)).map((v) => v.toFixed(5)), doorHandlePosition(0.3).map((v) => v.toFixed(5)));
    const expected = actOnce(ref!.policy, ref!.params, row, { deterministic: true, seed: 0 });
    const lin = rec.cmd[0]!.twist.linear;
    const got = [lin.x, lin.y, lin.z];
    got.forEach((v, i) => {
      assert.ok(v >= -1 && v <= 1, `component ${i} in [-1, 1]`);
      assert.ok(Math.abs(v - Math.max(-1, Math.min(1, expected.mean[i]!))) < 1e-6, `component ${i}: ${v} vs mean ${expected.mean[i]}`);
    });
    const step = rec.steps[0]!;
    assert.equal(step.trial, 7);
    assert.equal(step.step, 0);
    assert.equal(step.params_version, 0);
    assert.deepEqual(step.header.stamp, stamp(1));
    assert.deepEqual(Array.from(step.observation), Array.from(row));
    assert.deepEqual(Array.from(step.log_std), Array.from(expected.logStd));
    // a second step, then the trial is over: no third command
    io.clock.publish({ clock: stamp(2) });
    await until(rt!, () => rec.cmd.length === 2, 'second command');
    io.clock.publish({ clock: stamp(3) });
    for (let i = 0; i < 20; i++) await rt!.flush();
    assert.equal(rec.cmd.length, 2);
    assert.equal(rec.steps[1]!.step, 1);
  });

  it('explore_std_scale: a sampled action deviates from the mean by that multiple of the policy\'s own noise; the step keeps the policy\'s log_std', async () => {
    const { rec, io } = await start(stateCk, { explore_std_scale: 0.35 });
    const r = await io.start.sendRequestAsync({ trial: 1, steps: 1, params_version: 0, deterministic: false, seed: 5 }, { timeout: 5000 });
    assert.equal(r.success, true, r.message);
    const hand = [0.3, 0.05, 0.12];
    io.hand.publish(pose(1, hand));
    io.angle.publish({ data: 0.2 });
    io.clock.publish({ clock: stamp(1) });
    await until(rt!, () => rec.steps.length === 1, 'one sampled step');
    const row = stateRow('door', hand as [number, number, number], { doorAngle: 0.2 });
    const full = actOnce(ref!.policy, ref!.params, row, { deterministic: false, seed: (5 * 1000003) >>> 0 });
    const step = rec.steps[0]!;
    for (let i = 0; i < 3; i++) {
      const noise = full.action[i]! - full.mean[i]!;
      assert.ok(Math.abs(noise) > 1e-3, 'the policy\'s own noise is not negligible');
      assert.ok(Math.abs(step.action[i]! - step.mean[i]! - 0.35 * noise) < 1e-5, `component ${i}: ${step.action[i]! - step.mean[i]!} vs 0.35 x ${noise}`);
    }
    assert.deepEqual(Array.from(step.log_std), Array.from(full.logStd));
    assert.throws(() => actOnce(ref!.policy, ref!.params, row, { deterministic: false, seed: 0, stdScale: 0 }), /stdScale must be a positive number, got 0/);
  });

  it('vision checkpoint: a 48x64 sim frame is scaled as is, a 640x480 camera frame goes through preprocessing', async () => {
    const { rec, io } = await start(visionCk);
    assert.equal((await io.start.sendRequestAsync({ trial: 1, steps: 2, params_version: 0, deterministic: true, seed: 0 }, { timeout: 5000 })).success, true);
    const hand: [number, number, number] = [0.35, -0.02, 0.1];
    const small = image(1, 64, 48);
    io.hand.publish(pose(1, hand));
    io.image.publish(small);
    io.clock.publish({ clock: stamp(1) });
    await until(rt!, () => rec.steps.length === 1, 'first step');
    const obs0 = rec.steps[0]!.observation as Float32Array;
    assert.equal(obs0.length, 48 * 64 * 3 + 3);
    assert.ok(Math.abs(obs0[5]! - small.data[5]! / 255) < 1e-7);
    assert.deepEqual(Array.from(obs0.subarray(-3)), Array.from(Float32Array.from(hand)));
    const big = image(2, 640, 480);
    io.image.publish(big);
    io.clock.publish({ clock: stamp(2) });
    await until(rt!, () => rec.steps.length === 2 && rec.cmd.length === 2, 'second step');
    const obs1 = rec.steps[1]!.observation as Float32Array;
    const pre = preprocessFrame(big, { width: 64, height: 48 });
    assert.deepEqual(Array.from(obs1.subarray(0, pre.length)), Array.from(pre));
    assert.deepEqual(Array.from(visionRow(ref!.policy, big, hand)), Array.from(obs1));
    const lin = rec.cmd[1]!.twist.linear;
    const mean = actOnce(ref!.policy, ref!.params, obs1, { deterministic: true, seed: 0 }).mean;
    [lin.x, lin.y, lin.z].forEach((v, i) => assert.ok(Math.abs(v - Math.max(-1, Math.min(1, mean[i]!))) < 1e-5));
  });

  it('a parameter set published mid-trial takes effect at the next step, no step dropped; start_trial waits for its version', async () => {
    const { rec, io } = await start(stateCk);
    const hand = [0.3, 0, 0.1];
    const tick = async (k: number) => {
      io.hand.publish(pose(k, hand));
      io.angle.publish({ data: 0 });
      io.clock.publish({ clock: stamp(k) });
      await until(rt!, () => rec.steps.length === k, `step ${k}`);
    };
    // asks for version 1 before it exists: answered once it arrives
    const pending = io.start.sendRequestAsync({ trial: 2, steps: 4, params_version: 1, deterministic: true, seed: 0 }, { timeout: 5000 });
    const outBias = ref!.policy.shapes.filter(([, sh]) => sh.length === 1 && sh[0] === 3).map(([n]) => n).find((n) => n !== 'logStd')!;
    const moved = tf.add(ref!.params[outBias]!, tf.tensor1d([0.25, -0.25, 0.5]));
    const p = { ...ref!.params, [outBias]: moved };
    const shifted = { flat: flattenParams(p, [outBias]), mean: actOnce(ref!.policy, p, stateRow('door', [0.3, 0, 0.1], { doorAngle: 0 }), { deterministic: true, seed: 0 }).mean };
    moved.dispose();
    await new Promise((r) => setTimeout(r, 20));
    io.params.publish({ header: { stamp: stamp(0), frame_id: '' }, version: 1, tensors: shifted.flat });
    assert.equal((await pending).success, true);
    await tick(1);
    assert.equal(rec.steps[0]!.params_version, 1);
    const before = Array.from(rec.steps[0]!.mean as Float32Array);
    before.forEach((v, i) => assert.ok(Math.abs(v - shifted.mean[i]!) < 1e-6));
    // version 2 reverts to the checkpoint's θ (no tensors) between step 1 and step 2
    io.params.publish({ header: { stamp: stamp(1), frame_id: '' }, version: 2, tensors: [] });
    await rt!.flush();
    await tick(2);
    await tick(3);
    assert.deepEqual(rec.steps.map((s) => s.params_version), [1, 2, 2]);
    const base = actOnce(ref!.policy, ref!.params, stateRow('door', [0.3, 0, 0.1], { doorAngle: 0 }), { deterministic: true, seed: 0 }).mean;
    Array.from(rec.steps[1]!.mean as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - base[i]!) < 1e-6));
    assert.deepEqual(rec.steps.map((s) => s.step), [0, 1, 2]);
    assert.equal(rec.cmd.length, 3);
  });

  it('refuses a parameter set of the wrong shape and keeps acting with the current one', async () => {
    const { rec, io, logs } = await start(stateCk);
    const name = ref!.policy.shapes[0]![0];
    io.params.publish({ header: { stamp: stamp(0), frame_id: '' }, version: 1, tensors: [{ name, shape: [1], data: [0] }] });
    await until(rt!, () => logs.some((l) => /parameter set refused/.test(l.message)), 'refusal');
    const r = await io.start.sendRequestAsync({ trial: 1, steps: 1, params_version: 0, deterministic: true, seed: 0 }, { timeout: 5000 });
    assert.equal(r.success, true);
    io.hand.publish(pose(1, [0.3, 0, 0.1]));
    io.angle.publish({ data: 0 });
    io.clock.publish({ clock: stamp(1) });
    await until(rt!, () => rec.steps.length === 1, 'a step');
    assert.equal(rec.steps[0]!.params_version, 0);
  });

  it('fails at start with a clear message when the checkpoint is missing', async () => {
    rt = quietRuntime();
    await assert.rejects(startNode(rt, policyNode, { parameterOverrides: { checkpoint: '/nonexistent/ck' } }), /no GMPS checkpoint at \/nonexistent\/ck/);
    await assert.rejects(startNode(rt, policyNode, { name: 'p2' }), /parameter checkpoint is empty/);
  });
});
