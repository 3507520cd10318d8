import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import sinon from 'sinon';
import type { JointPositions } from '../src/robot/robot.js';
import { ros1Type } from '../src/robot/sawyer/intera-messages.js';
import { RobotRefusedError, SawyerLink } from '../src/robot/sawyer/sawyer-link.js';
import { ARM, FakeSawyer, NEUTRAL } from './fixtures/ros1/fake-sawyer.js';
import { hasDebianRosmaster, rospyPython, startMaster, type RunningMaster } from './fixtures/ros1/roscore.js';

const requireAll = process.env.GMPS_REQUIRE_ALL === '1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function target(offset: number[]): JointPositions {
  return { names: ARM, position: Float64Array.from(NEUTRAL.map((v, i) => v + (offset[i] ?? 0))) };
}

describe('SawyerLink over ROS 1 against a simulated Sawyer', function () {
  this.timeout(20_000);
  let master: RunningMaster;
  let fake: FakeSawyer;
  let link: SawyerLink;
  let validate: sinon.SinonSpy<[JointPositions], JointPositions>;

  before(async function () {
    if (!hasDebianRosmaster()) {
      if (requireAll) throw new Error('rosmaster not found: apt-get install ros-core python3-rospy (GMPS_REQUIRE_ALL=1)');
      // @foxglove/ros1's own master is used instead; the link code is the same.
    }
    master = await startMaster();
    fake = new FakeSawyer(master.uri);
    await fake.start();
  });

  after(async () => {
    await link?.disconnect();
    await fake?.stop();
    await master?.stop();
  });

  beforeEach(async () => {
    await fake.setState({ enabled: true, ready: true, stopped: false, estop_button: 0, estop_source: 0 });
    validate = sinon.spy((t: JointPositions) => t);
    link = new SawyerLink({ masterUri: master.uri, validate, targetWatchdogMs: 250 });
    await link.connect();
  });

  afterEach(async () => {
    await link.disconnect();
  });

  it('reads joint states by name (not by index) and reports their rate', async () => {
    await sleep(1100);
    const obs = await link.getObservation();
    assert.deepEqual([...obs.joints.names], ARM);
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(obs.joints.position[i]! - fake.q[i]!) < 0.05, `joint ${i}`);
    assert.ok(Math.abs(obs.hand[1]! - 0.16) < 1e-9, 'hand from endpoint_state');
    const hz = link.status().jointStateHz;
    assert.ok(hz > 50 && hz < 150, `jointStateHz ${hz}`);
  });

  it('streams position commands the robot receives faster than the 0.2 s timeout, and the arm follows', async () => {
    const before = fake.commands.length;
    const t0 = Date.now();
    const goal = target([0.2]);
    while (Date.now() - t0 < 800) {
      await link.sendAction(goal);
      await sleep(50);
    }
    const got = fake.commands.slice(before);
    const spanS = (got.at(-1)!.atMs - got[0]!.atMs) / 1000;
    const rate = (got.length - 1) / spanS;
    assert.ok(rate > 5, `command rate ${rate.toFixed(1)} Hz`);
    const last = got.at(-1)!.msg;
    assert.equal(last.mode, 1);
    assert.deepEqual(last.names, ARM);
    assert.ok(Math.abs(last.position[0]! - goal.position[0]!) < 1e-12);
    assert.ok(validate.called, 'every target passes the injected validator');
    assert.ok(fake.q[0]! > NEUTRAL[0]! + 0.1, `arm moved toward the target (j0=${fake.q[0]})`);
  });

  it('refuses NaN/Inf before the validator and sends nothing', async () => {
    const before = fake.commands.length;
    await assert.rejects(link.sendAction(target([NaN])), RobotRefusedError);
    await assert.rejects(link.sendAction(target([0, Infinity])), RobotRefusedError);
    assert.ok(validate.notCalled);
    const permissive = new SawyerLink({ masterUri: master.uri, validate: () => target([NaN]) , nodeName: '/gmps_link_permissive' });
    await permissive.connect();
    try {
      await assert.rejects(permissive.sendAction(target([0.01])), /finite/);
    } finally {
      await permissive.disconnect();
    }
    await sleep(100);
    assert.equal(fake.commands.length, before);
  });

  it('stops streaming on e-stop and refuses further commands', async () => {
    await link.sendAction(target([0.05]));
    const keepSending = setInterval(() => void link.sendAction(target([0.05])).catch(() => undefined), 40);
    try {
      await sleep(200);
      assert.ok(link.status().streaming);
      await fake.pressEstop();
      await sleep(150);
      const n = fake.commands.length;
      await sleep(300);
      assert.equal(fake.commands.length, n, 'no command after the e-stop report');
      const st = link.status();
      assert.equal(st.streaming, false);
      assert.equal(st.estop, true);
      assert.match(st.lastStop ?? '', /e-stop/);
    } finally {
      clearInterval(keepSending);
    }
    await assert.rejects(link.sendAction(target([0.05])), /e-stop/);
  });

  it('refuses while the robot is disabled', async () => {
    await fake.setState({ enabled: false, ready: false });
    await sleep(100);
    await assert.rejects(link.sendAction(target([0.05])), /disabled/);
    await link.enable(true);
    await sleep(200);
    assert.equal(fake.enableRequests.at(-1), true);
    await link.sendAction(target([0.05]));
    assert.ok(link.status().streaming);
  });

  it('stops streaming when its own target goes stale (watchdog)', async () => {
    await link.sendAction(target([0.03]));
    const start = fake.commands.length;
    await sleep(450);
    const st = link.status();
    assert.equal(st.streaming, false);
    assert.match(st.lastStop ?? '', /stale/);
    const n = fake.commands.length;
    assert.ok(n - start >= 5, `streamed until the watchdog (${n - start} commands)`);
    assert.ok(n - start < 60, `stopped after about 250 ms (${n - start} commands at 100 Hz)`);
    await sleep(200);
    assert.equal(fake.commands.length, n);
  });

  it('sends the gripper opening as an IOComponentCommand with JSON args', async () => {
    await link.sendAction(target([0]), 0.02);
    await sleep(150);
    const cmd = fake.gripperCommands.at(-1);
    assert.ok(cmd, 'gripper command received');
    assert.equal(cmd.op, 'set');
    assert.deepEqual(JSON.parse(cmd.args), { signals: { position_m: { format: { type: 'float' }, data: [0.02] } } });
    await assert.rejects(link.sendAction(target([0]), 0.2), /gripper opening/);
  });
});

describe('rospy accepts our JointCommand', function () {
  this.timeout(30_000);

  it('a rospy subscriber (md5 from genpy) receives the commands the link streams', async function () {
    const py = rospyPython();
    if (!py || !hasDebianRosmaster()) {
      if (requireAll) throw new Error('python3-rospy / ros-core missing (GMPS_REQUIRE_ALL=1)');
      this.skip();
    }
    const master = await startMaster('rosmaster');
    const fake = new FakeSawyer(master.uri);
    const dir = mkdtempSync(join(tmpdir(), 'gmps-rospy-'));
    let link: SawyerLink | undefined;
    try {
      await fake.start();
      const def = join(dir, 'JointCommand.txt');
      writeFileSync(def, ros1Type('intera_core_msgs/JointCommand').definitionText);
      const script = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'ros1', 'rospy_joint_command_listener.py');
      const child = spawn(py!, [script, '/robot/limb/right/joint_command', def, '20', '10'], {
        env: { ...process.env, ROS_MASTER_URI: master.uri, ROS_HOSTNAME: '127.0.0.1', ROS_LOG_DIR: join(dir, 'log'), ROS_HOME: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (err += String(d)));
      const exited = new Promise<number | null>((r) => child.once('exit', r));
      const deadline = Date.now() + 10_000;
      while (!out.includes('"ready"') && Date.now() < deadline && child.exitCode === null) await sleep(50);
      assert.ok(out.includes('"ready"'), `rospy listener did not start: ${err}`);
      link = new SawyerLink({ masterUri: master.uri, validate: (t) => t });
      await link.connect();
      await sleep(500); // rospy connects to the new publisher
      const t0 = Date.now();
      while (child.exitCode === null && Date.now() - t0 < 5000) {
        await link.sendAction(target([0.01]));
        await sleep(50);
      }
      const code = await exited;
      const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { md5sum: string; count?: number; first?: { mode: number; names: string[] } });
      const result = lines.at(-1)!;
      assert.equal(code, 0, err);
      assert.equal(result.md5sum, 'c8c85922d297da6209a089a906207e5d');
      assert.ok((result.count ?? 0) >= 20, `rospy received ${result.count} commands`);
      assert.equal(result.first?.mode, 1);
      assert.deepEqual(result.first?.names, ARM);
    } finally {
      await link?.disconnect();
      await fake.stop();
      await master.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
