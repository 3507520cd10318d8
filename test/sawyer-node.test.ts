import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planLaunch } from '../src/graph/launch/plan.js';
import { runLaunchPlan, type LaunchRun } from '../src/graph/launch/run.js';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { SawyerKinematics } from '../src/robot/kinematics.js';
import { JOINT_NAMES } from '../src/robot/sawyer-model.js';
import { JointEnvelopeGuard } from '../src/robot/sawyer/guarded-motion.js';
import sawyerNode from '../nodes/sawyer.js';
import { quietRuntime, record, type Logged } from './helpers/nodes-graph.js';
import { rosMissing, startSimSawyerRig, type SimSawyerRig } from './fixtures/ros1/sim-sawyer-rig.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const command = (q: ArrayLike<number>) => ({
  header: { stamp: { sec: 0, nanosec: 0 }, frame_id: '' },
  name: [...JOINT_NAMES],
  position: Array.from(q),
  velocity: [],
  effort: [],
});

describe('nodes: sawyer (real-arm side) against the MuJoCo-backed simulated Sawyer over ROS 1', function () {
  this.timeout(30_000);
  let rig: SimSawyerRig;
  let rt: InProcessRuntime;
  let sawyer: RunningNode;
  let logs: Logged[];
  /** The simulated arm starts at the door task's start pose. */
  let startPose: Float64Array;

  before(async function () {
    const missing = rosMissing();
    if (missing) this.skip();
    rig = await startSimSawyerRig();
    startPose = rig.sim.q;
  });
  after(async () => {
    await rig?.stop();
  });
  afterEach(async () => {
    await sawyer?.stop();
    await rt?.shutdown();
    // Leave the robot enabled and idle for the next test.
    if (rig) await rig.sim.setState({ enabled: true, ready: true, stopped: false, estop_button: 0, estop_source: 0 });
  });

  async function start(params: Record<string, boolean | number | string | number[]> = {}) {
    logs = [];
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    const rec = {
      clock: record<Msg>(probe, 'rosgraph_msgs/msg/Clock', '/clock', 'clock'),
      joints: record<Msg>(probe, 'sensor_msgs/msg/JointState', 'joint_states'),
      hand: record<Msg>(probe, 'geometry_msgs/msg/PoseStamped', 'hand_pose'),
      params: record<Msg>(probe, 'gmps_msgs/msg/TaskParams', 'task/params', 'latched'),
      status: record<Msg>(probe, 'diagnostic_msgs/msg/DiagnosticStatus', 'robot/status', 'latched'),
      estop: record<Msg>(probe, 'std_msgs/msg/Bool', 'estop'),
    };
    sawyer = await startNode(rt, sawyerNode, { parameterOverrides: { master_uri: rig.master.uri, hostname: '127.0.0.1', ...params } });
    const cmd = probe.createPublisher('sensor_msgs/msg/JointState', 'joint_command');
    const reset = probe.createClient<Msg, Msg>('gmps_msgs/srv/ResetEpisode', '/sawyer/reset_episode');
    return { rec, cmd, reset };
  }

  /** Publishes `q` on joint_command at 20 Hz for `ms`. */
  async function stream(cmd: { publish(m: unknown): void }, q: ArrayLike<number>, ms: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      cmd.publish(command(q));
      await sleep(50);
    }
  }

  it('publishes joint_states and hand_pose (FK of the measured joints) from the robot, and no /clock', async () => {
    const { rec } = await start();
    await waitFor(() => rec.joints.length > 20 && rec.hand.length > 20 && rec.status.length > 0, 'joint_states, hand_pose and robot/status');
    const js = rec.joints.at(-1)!;
    assert.deepEqual(js.name, [...JOINT_NAMES]);
    const q = rig.sim.q;
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(js.position[i] - q[i]!) < 0.01, `${JOINT_NAMES[i]} ${js.position[i]} vs robot ${q[i]}`);
    const hand = rec.hand.at(-1)!;
    assert.equal(hand.header.frame_id, 'base');
    const simTip = rig.sim.tip();
    const p = hand.pose.position;
    assert.ok(Math.hypot(p.x - simTip[0]!, p.y - simTip[1]!, p.z - simTip[2]!) < 0.005, `hand_pose ${JSON.stringify(p)} vs MuJoCo tip ${Array.from(simTip)}`);
    const o = hand.pose.orientation;
    assert.ok(Math.abs(Math.hypot(o.x, o.y, o.z, o.w) - 1) < 1e-9);
    // About the robot's 100 Hz (only fresh robot states are forwarded).
    const n0 = rec.joints.length;
    await sleep(1000);
    const hz = rec.joints.length - n0;
    assert.ok(hz > 40 && hz <= 120, `joint_states at ${hz} Hz`);
    assert.equal(rec.clock.length, 0, 'the real-arm node publishes no /clock');
    assert.equal(rec.status.at(-1)!.level, 0);
  });

  it('forwards joint_command through the envelope to the robot, and the simulated arm moves', async () => {
    const { rec, cmd } = await start();
    await waitFor(() => rec.joints.length > 0, 'joint_states');
    const q0 = rig.sim.q;
    const goal = Float64Array.from(q0);
    goal[0] = q0[0]! + 0.1;
    const n0 = rig.sim.commands.length;
    await stream(cmd, goal, 1000);
    const got = rig.sim.commands.slice(n0);
    assert.ok(got.length > 30, `the robot received ${got.length} JointCommands`);
    assert.ok(got.every((c) => c.msg.mode === 1 && c.accepted));
    const last = got.at(-1)!.msg;
    assert.deepEqual(last.names, [...JOINT_NAMES]);
    assert.ok(Math.abs(last.position[0]! - goal[0]!) < 1e-9, `last command j0 ${last.position[0]} vs ${goal[0]}`);
    const moved = rig.sim.q[0]! - q0[0]!;
    assert.ok(moved > 0.08, `right_j0 moved ${moved.toFixed(3)} rad of 0.1`);
    // A jump is clipped to the velocity cap, not sent whole.
    const jump = Float64Array.from(rig.sim.q);
    jump[0] = jump[0]! - 1.0;
    const n1 = rig.sim.commands.length;
    cmd.publish(command(jump));
    await waitFor(() => rig.sim.commands.length > n1, 'the clipped command');
    const first = rig.sim.commands[n1]!.msg.position[0]!;
    assert.ok(first > jump[0]! + 0.9, `the first command after a 1 rad jump moved j0 by ${(first - (jump[0]! + 1)).toFixed(3)} rad only`);
    assert.ok(logs.some((l) => l.level === 'warn' && /clipped/.test(l.message)), 'the clip is logged');
  });

  it('never lets a NaN, out-of-limit or out-of-workspace command reach the robot', async () => {
    const { rec, cmd } = await start();
    await waitFor(() => rec.joints.length > 0, 'joint_states');
    await sleep(400); // anything still streaming from before has stopped
    const q = rig.sim.q;
    const nan = Float64Array.from(q);
    nan[3] = NaN;
    const beyond = Float64Array.from(q);
    beyond[0] = 3.2; // right_j0 upper limit 3.0503
    // A small joint step (inside the velocity cap) that takes the tip farther out of the workspace box.
    const guard = new JointEnvelopeGuard();
    const kin = new SawyerKinematics();
    const outNow = guard.outsideBy(guard.tipOf(q));
    let outside: Float64Array | undefined;
    for (let i = 0; i < 7 && !outside; i++) {
      for (const s of [-1, 1]) {
        const c = Float64Array.from(q);
        c[i] = c[i]! + s * 0.07;
        kin.forward(c);
        if (guard.outsideBy(kin.tipPos) > outNow + 0.005) {
          outside = c;
          break;
        }
      }
    }
    assert.ok(outside, 'found a small step leaving the workspace');
    const n0 = rig.sim.commands.length;
    for (let k = 0; k < 5; k++) {
      cmd.publish(command(nan));
      cmd.publish(command(beyond));
      cmd.publish(command(outside));
      await sleep(50);
    }
    await sleep(300);
    assert.equal(rig.sim.commands.length, n0, 'the robot received no command at all');
    const errors = logs.filter((l) => l.level === 'error').map((l) => l.message).join('\n');
    assert.match(errors, /finite/);
    assert.match(errors, /outside its limits/);
    assert.match(errors, /workspace/);
  });

  it('stops streaming when /robot/state reports the e-stop, logs it and publishes estop', async () => {
    const { rec, cmd } = await start();
    await waitFor(() => rec.joints.length > 0, 'joint_states');
    const goal = Float64Array.from(rig.sim.q);
    const streaming = stream(cmd, goal, 1200);
    await sleep(300);
    assert.ok(rig.sim.commands.length > 0);
    await rig.sim.pressEstop();
    await sleep(200);
    const n = rig.sim.commands.length;
    await streaming; // joint_command keeps coming for another ~700 ms
    assert.equal(rig.sim.commands.length, n, 'no JointCommand reached the robot after its e-stop report');
    await waitFor(() => rec.estop.some((m) => m.data === true), 'estop');
    assert.ok(logs.some((l) => l.level === 'error' && /e-stop/.test(l.message)), 'the e-stop is logged as an error');
    await waitFor(() => rec.status.at(-1)?.level === 2, 'robot/status at error level');
    assert.match(rec.status.at(-1)!.message, /e-stop/);
  });

  it('stops streaming when joint_command stops; the robot then holds by its 0.2 s timeout', async () => {
    const { rec, cmd } = await start();
    await waitFor(() => rec.joints.length > 0, 'joint_states');
    const q0 = rig.sim.q;
    const goal = Float64Array.from(q0);
    goal[0] = q0[0]! - 0.05;
    const holds0 = rig.sim.timeoutHolds;
    await stream(cmd, goal, 300);
    assert.equal(rig.sim.holding, false, 'the robot follows while commands come');
    await sleep(250 + 200 + 100); // node watchdog + Intera timeout + margin
    const n = rig.sim.commands.length;
    assert.equal(rig.sim.holding, true);
    assert.ok(rig.sim.timeoutHolds > holds0, 'the robot dropped to holding by its command timeout');
    const qa = rig.sim.q;
    await sleep(400);
    assert.equal(rig.sim.commands.length, n, 'nothing streamed once joint_command stopped');
    const qb = rig.sim.q;
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(qb[i]! - qa[i]!) < 2e-3, `${JOINT_NAMES[i]} holds (${qa[i]} → ${qb[i]})`);
  });

  it('~/reset_episode moves the arm slowly to the start pose, then publishes task/params', async () => {
    const { rec, cmd, reset } = await start({ reset_speed_rad_s: 0.6 });
    await waitFor(() => rec.joints.length > 0, 'joint_states');
    const start0 = startPose;
    const away = Float64Array.from(rig.sim.q);
    away[0] = start0[0]! + 0.15;
    away[5] = away[5]! - 0.1;
    await stream(cmd, away, 800);
    assert.ok(Math.abs(rig.sim.q[0]! - start0[0]!) > 0.1, `the arm moved away (j0 ${rig.sim.q[0]} vs start ${start0[0]})`);
    const bad = await reset.sendRequestAsync({ task: 'push', target_rad: 0, goal_x: 0, goal_y: 0 }, { timeout: 5000 });
    assert.equal(bad.success, false);
    assert.match(bad.message, /door/);
    const t0 = Date.now();
    const n0 = rig.sim.commands.length;
    const res = await reset.sendRequestAsync({ task: '', target_rad: 0.4, goal_x: 0, goal_y: 0 }, { timeout: 15_000 });
    const tookS = (Date.now() - t0) / 1000;
    assert.equal(res.success, true, res.message);
    const q = rig.sim.q;
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(q[i]! - start0[i]!) < 0.03, `${JOINT_NAMES[i]} at the start pose (${q[i]} vs ${start0[i]})`);
    assert.ok(tookS > 0.1 / 0.6, `slow move (${tookS.toFixed(2)} s at 0.6 rad/s)`);
    // Slow: consecutive commands differ by at most 0.6 rad/s over their spacing (plus timer jitter).
    const sent = rig.sim.commands.slice(n0);
    let fastest = 0;
    for (let k = 1; k < sent.length; k++) {
      const dt = Math.max(0.005, (sent[k]!.atMs - sent[k - 1]!.atMs) / 1000);
      const d = Math.max(...sent[k]!.msg.position.map((v, i) => Math.abs(v - sent[k - 1]!.msg.position[i]!)));
      fastest = Math.max(fastest, d / Math.max(dt, 0.02));
    }
    assert.ok(fastest < 1.0, `reset command speed ${fastest.toFixed(2)} rad/s`);
    await waitFor(() => rec.params.length > 0, 'task/params');
    const tp = rec.params.at(-1)!;
    assert.equal(tp.task, 'door');
    assert.equal(tp.episode, 1);
    assert.ok(Math.abs(tp.target_rad - 0.4) < 1e-12);
  });
});

describe('launch/sim.launch.yaml hardware:=sawyer against the simulated Sawyer', function () {
  this.timeout(30_000);
  let rig: SimSawyerRig | undefined;
  let run: LaunchRun | undefined;
  const saved = process.env.ROS_MASTER_URI;
  after(async () => {
    await run?.stop();
    await rig?.stop();
    if (saved === undefined) delete process.env.ROS_MASTER_URI;
    else process.env.ROS_MASTER_URI = saved;
  });

  it('runs sawyer + controller + reward on wall time: cmd_ee moves the simulated arm through the envelope', async function () {
    if (rosMissing()) this.skip();
    rig = await startSimSawyerRig();
    process.env.ROS_MASTER_URI = rig.master.uri; // the sawyer node's master_uri default
    const logs: Logged[] = [];
    const runtime = quietRuntime(logs);
    // On wall time the reward needs the door hinge calibration; without it the launch says so.
    await assert.rejects(
      runLaunchPlan(planLaunch(resolve('launch/sim.launch.yaml'), { args: { hardware: 'sawyer' } }), { runtime: quietRuntime([]), log: () => {} }),
      /door angle cannot come from the simulator: set hinge_file/,
    );
    const hingeFile = join(mkdtempSync(join(tmpdir(), 'gmps-hinge-')), 'door_hinge.yaml');
    writeFileSync(hingeFile, 'frame_id: base\naxis_point: {x: 0.9, y: -0.2, z: 0.3}\naxis_direction: {x: 0, y: 0, z: 1}\nradius_m: 0.3\nzero_direction: {x: 0, y: 1, z: 0}\n');
    run = await runLaunchPlan(planLaunch(resolve('launch/sim.launch.yaml'), { args: { hardware: 'sawyer', hinge_file: hingeFile } }), { runtime, log: () => {} });
    const probe = runtime.createNode('probe');
    const clock = record<Msg>(probe, 'rosgraph_msgs/msg/Clock', '/clock', 'clock');
    const hand = record<Msg>(probe, 'geometry_msgs/msg/PoseStamped', 'hand_pose');
    await waitFor(() => hand.length > 0 && logs.some((l) => /started from the measured/.test(l.message)), 'the controller synced to the arm');
    const tip0 = rig.sim.tip();
    const cmd = probe.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const t0 = Date.now();
    while (Date.now() - t0 < 1000) {
      cmd.publish({ header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' }, twist: { linear: { x: 0, y: 0, z: 1 }, angular: { x: 0, y: 0, z: 0 } } });
      await sleep(50);
    }
    await sleep(300);
    const rise = rig.sim.tip()[2]! - tip0[2]!;
    assert.ok(rise > 0.1, `the tip rose ${rise.toFixed(3)} m (20 steps of 1 cm)`);
    assert.equal(clock.length, 0, 'no /clock on the real arm');
    assert.ok(rig.sim.commands.length > 20, `${rig.sim.commands.length} JointCommands reached the robot`);
  });
});

describe('nodes: sawyer without a robot', function () {
  this.timeout(10_000);
  it('fails to start with what to check when the master is unreachable', async () => {
    const { freePort } = await import('./fixtures/ros1/roscore.js');
    const rt = quietRuntime();
    try {
      const uri = `http://127.0.0.1:${await freePort()}/`;
      await assert.rejects(
        startNode(rt, sawyerNode, { parameterOverrides: { master_uri: uri, connect_timeout_s: 1.0 } }),
        (err: Error) => err.message.includes(`cannot connect to the Sawyer at ${uri}`) && /ROS_MASTER_URI/.test(err.message) && /SDK mode/.test(err.message),
      );
    } finally {
      await rt.shutdown();
    }
  });
});
