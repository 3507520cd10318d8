import assert from 'node:assert/strict';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { JOINT_NAMES } from '../src/robot/sawyer-model.js';
import simNode from '../nodes/sim.js';
import { quietRuntime, record, until, type Logged } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('nodes: sim', function () {
  this.timeout(20000);
  let rt: InProcessRuntime;
  let sim: RunningNode;
  let logs: Logged[];
  afterEach(async () => {
    await sim?.stop();
    await rt?.shutdown();
  });

  async function start(params: Record<string, boolean | number | string | number[]>) {
    logs = [];
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    const rec = {
      clock: record<Msg>(probe, 'rosgraph_msgs/msg/Clock', '/clock', 'clock'),
      joints: record<Msg>(probe, 'sensor_msgs/msg/JointState', 'joint_states'),
      hand: record<Msg>(probe, 'geometry_msgs/msg/PoseStamped', 'hand_pose'),
      image: record<Msg>(probe, 'sensor_msgs/msg/Image', 'camera/image_raw', 'sensor_data'),
      info: record<Msg>(probe, 'sensor_msgs/msg/CameraInfo', 'camera/camera_info', 'sensor_data'),
      angle: record<Msg>(probe, 'std_msgs/msg/Float64', 'task/door_angle'),
      params: record<Msg>(probe, 'gmps_msgs/msg/TaskParams', 'task/params', 'latched'),
    };
    sim = await startNode(rt, simNode, { parameterOverrides: params });
    const cmd = probe.createPublisher('sensor_msgs/msg/JointState', 'joint_command');
    const reset = probe.createClient('gmps_msgs/srv/ResetEpisode', '/sim/reset_episode');
    return { probe, rec, cmd, reset };
  }

  const command = (q: ArrayLike<number>) => ({
    header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' },
    name: [...JOINT_NAMES],
    position: Array.from(q),
    velocity: [],
    effort: [],
  });

  it('lock-step: publishes clock, joint_states, hand_pose, image and camera_info per joint_command, 0.05 s a step', async () => {
    const { rec, cmd } = await start({ lockstep: true, camera: true, image_width: 32, image_height: 24, idle_state_rate_hz: 0 });
    await until(rt, () => rec.params.length === 1 && rec.joints.length === 1, 'the initial state');
    const q0 = Float64Array.from(rec.joints[0]!.position);
    assert.deepEqual(rec.joints[0]!.name, [...JOINT_NAMES]);
    assert.equal(rec.params[0]!.task, 'door');
    assert.ok(Math.abs(rec.params[0]!.target_rad - Math.PI / 6) < 1e-12);

    const q1 = Float64Array.from(q0);
    q1[0] = q0[0]! + 0.02;
    for (let i = 0; i < 3; i++) {
      cmd.publish(command(q1));
      await until(rt, () => rec.clock.length === i + 2, `step ${i + 1}`);
    }
    const times = rec.clock.map((c) => c.clock.sec + c.clock.nanosec * 1e-9);
    assert.deepEqual(times.map((t) => Math.round(t * 1000)), [0, 50, 100, 150]);
    assert.equal(rec.joints.length, 4);
    const last = rec.joints.at(-1)!;
    assert.ok(last.position[0] > q0[0]! + 0.01, `joint 0 moved toward its target (${last.position[0]} vs ${q0[0]})`);
    assert.ok(last.velocity.length === 7 && last.velocity.every(Number.isFinite));
    assert.deepEqual(last.header.stamp, rec.clock.at(-1)!.clock);
    const img = rec.image.at(-1)!;
    assert.equal(img.encoding, 'rgb8');
    assert.equal(img.width, 32);
    assert.equal(img.height, 24);
    assert.equal(img.step, 96);
    assert.equal(img.data.length, 32 * 24 * 3);
    assert.ok(new Set(img.data).size > 4, 'the image shows a scene, not a flat colour');
    assert.equal(rec.info.at(-1)!.width, 32);
    assert.equal(rec.info.at(-1)!.k[8], 1);
    const hand = rec.hand.at(-1)!;
    assert.equal(hand.header.frame_id, 'base');
    const o = hand.pose.orientation;
    assert.ok(Math.abs(Math.hypot(o.x, o.y, o.z, o.w) - 1) < 1e-9);
    assert.ok(hand.pose.position.z > 0 && hand.pose.position.x > 0.2);
    assert.equal(rec.angle.length, 4);
  });

  it('refuses NaN and out-of-limit joint commands with an error and holds', async () => {
    const { rec, cmd } = await start({ lockstep: true, idle_state_rate_hz: 0 });
    await until(rt, () => rec.joints.length === 1, 'the initial state');
    const q0 = Float64Array.from(rec.joints[0]!.position);
    const bad = Float64Array.from(q0);
    bad[2] = NaN;
    cmd.publish(command(bad));
    const far = Float64Array.from(q0);
    far[0] = 4; // right_j0 limit is ±3.05 rad
    cmd.publish(command(far));
    await rt.flush();
    await rt.flush();
    assert.equal(rec.clock.length, 1, 'a refused command does not step the simulator');
    const errors = logs.filter((l) => l.level === 'error').map((l) => l.message);
    assert.equal(errors.length, 2, errors.join('\n'));
    assert.match(errors[0]!, /refused.*right_j2 is NaN/);
    assert.match(errors[1]!, /refused.*right_j0 = 4\.0000 rad is outside its limits/);
    cmd.publish(command(q0));
    await until(rt, () => rec.clock.length === 2, 'a good command');
    const q = rec.joints.at(-1)!.position;
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(q[i] - q0[i]!) < 5e-3, `joint ${i} held at ${q0[i]}, is ${q[i]}`);
  });

  it('resets an episode through the ResetEpisode service and refuses bad tasks', async () => {
    const { rec, cmd, reset } = await start({ lockstep: true, idle_state_rate_hz: 0 });
    await until(rt, () => rec.joints.length === 1, 'the initial state');
    const q0 = Float64Array.from(rec.joints[0]!.position);
    const q1 = Float64Array.from(q0);
    q1[1] = q0[1]! + 0.05;
    for (const n of [2, 3]) {
      cmd.publish(command(q1));
      await until(rt, () => rec.clock.length === n, `step ${n - 1}`);
    }
    const ok = await reset.sendRequestAsync({ task: 'door', target_rad: 0.7, goal_x: 0, goal_y: 0 }, { timeout: 5000 });
    assert.deepEqual(ok, { success: true, message: 'episode 2 started (door)' });
    await until(rt, () => rec.params.length === 2, 'the new task');
    assert.equal(rec.params[1]!.target_rad, 0.7);
    assert.equal(rec.params[1]!.episode, 2);
    const after = rec.joints.at(-1)!.position;
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(after[i] - q0[i]!) < 1e-3, 'the arm is back at its start pose');
    assert.equal(rec.angle.at(-1)!.data, 0);
    assert.equal(Math.round((rec.clock.at(-1)!.clock.nanosec as number) / 1e6), 100, 'sim time keeps running across resets');

    const far = await reset.sendRequestAsync({ task: 'door', target_rad: 2, goal_x: 0, goal_y: 0 });
    assert.equal(far.success, false);
    assert.match(far.message, /outside \[0, 60\] deg/);
    const other = await reset.sendRequestAsync({ task: 'push', target_rad: 0, goal_x: 0, goal_y: 0 });
    assert.equal(other.success, false);
    assert.match(other.message, /runs the 'door' task.*task:=push/);
  });

  it('timer mode steps on its own at the control rate', async () => {
    const { rec } = await start({ lockstep: false, real_time_factor: 10.0, task: 'push' });
    await until(rt, () => rec.clock.length >= 4, 'timer steps', 5000, 10000);
    const ns = rec.clock.map((c) => c.clock.sec * 1e9 + c.clock.nanosec);
    for (let i = 1; i < ns.length; i++) assert.equal(ns[i]! - ns[i - 1]!, 50_000_000);
    assert.equal(rec.params[0]!.task, 'push');
    assert.equal(rec.angle.length, 0, 'no door angle for the push task');
  });
});
