import assert from 'node:assert/strict';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { RosTime } from '../src/graph/time.js';
import type { Publisher } from '../src/graph/types.js';
import { DOWN_ROT, SawyerIk } from '../src/robot/ik.js';
import { JOINT_NAMES, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';
import controllerNode from '../nodes/controller.js';
import simNode from '../nodes/sim.js';
import { quietRuntime, record, until, type Logged } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const twist = (x: number, y = 0, z = 0) => ({
  header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' },
  twist: { linear: { x, y, z }, angular: { x: 0, y: 0, z: 0 } },
});

describe('nodes: controller', function () {
  this.timeout(20000);
  let rt: InProcessRuntime;
  let logs: Logged[];
  const running: RunningNode[] = [];
  afterEach(async () => {
    for (const n of running.splice(0).reverse()) await n.stop();
    await rt?.shutdown();
  });

  it('turns one cmd_ee into a joint_command that moves the simulated tip 1 cm (lock-step)', async () => {
    logs = [];
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    const hand = record<Msg>(probe, 'geometry_msgs/msg/PoseStamped', 'hand_pose');
    const commands = record<Msg>(probe, 'sensor_msgs/msg/JointState', 'joint_command');
    running.push(await startNode(rt, simNode, { parameterOverrides: { lockstep: true, idle_state_rate_hz: 0 } }));
    running.push(await startNode(rt, controllerNode, { parameterOverrides: { use_sim_time: true } }));
    const cmd = probe.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee');
    // The sim's first state went out before the controller subscribed: a reset republishes it.
    const js = record<Msg>(probe, 'sensor_msgs/msg/JointState', 'joint_states');
    const reset = probe.createClient('gmps_msgs/srv/ResetEpisode', '/sim/reset_episode');
    await reset.sendRequestAsync({ task: 'door', target_rad: 0.5, goal_x: 0, goal_y: 0 }, { timeout: 5000 });
    await until(rt, () => js.length >= 1 && logs.some((l) => /started from the measured/.test(l.message)), 'controller sync');
    const p0 = hand.at(-1)!.pose.position;
    const n0 = hand.length;
    cmd.publish(twist(1));
    await until(rt, () => hand.length === n0 + 1, 'the commanded step');
    for (let i = 0; i < 3; i++) {
      cmd.publish(twist(0));
      await until(rt, () => hand.length === n0 + 2 + i, `settle step ${i}`);
    }
    const p1 = hand.at(-1)!.pose.position;
    assert.equal(commands.length, 4);
    assert.deepEqual(commands[0]!.name, [...JOINT_NAMES]);
    assert.ok(Math.abs(p1.x - p0.x - 0.01) < 0.002, `tip moved ${(p1.x - p0.x) * 1000} mm in x, expected 10`);
    assert.ok(Math.abs(p1.y - p0.y) < 0.002 && Math.abs(p1.z - p0.z) < 0.002, 'and not sideways');
  });

  describe('watchdog, e-stop and bad commands (sim time from a hand-driven /clock)', () => {
    let clock: Publisher;
    let cmd: Publisher;
    let commands: Msg[];
    const setTime = async (s: number) => {
      clock.publish({ clock: RosTime.fromSeconds(s).toMsg() });
      await rt.flush();
    };

    beforeEach(async () => {
      logs = [];
      rt = quietRuntime(logs);
      const probe = rt.createNode('probe');
      commands = record<Msg>(probe, 'sensor_msgs/msg/JointState', 'joint_command');
      clock = probe.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' });
      cmd = probe.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee');
      const js = probe.createPublisher('sensor_msgs/msg/JointState', 'joint_states');
      running.push(
        await startNode(rt, controllerNode, { parameterOverrides: { use_sim_time: true, command_timeout_s: 0.5, watchdog_rate_hz: 20.0 } }),
      );
      const q = new SawyerIk({ maxIterations: 500, nullspaceGain: 0.02 }).solve([0.6, 0, 0.2], DOWN_ROT, NEUTRAL_POSE).q;
      await setTime(1);
      js.publish({ header: { stamp: { sec: 1, nanosec: 0 }, frame_id: '' }, name: [...JOINT_NAMES], position: Array.from(q), velocity: [], effort: [] });
      await until(rt, () => logs.some((l) => /started from the measured/.test(l.message)), 'controller sync');
    });

    it('holds once when cmd_ee stops for longer than the timeout, then resumes', async () => {
      cmd.publish(twist(0, 1));
      await until(rt, () => commands.length === 1, 'first command');
      for (let t = 1.05; t <= 1.5; t += 0.05) await setTime(t);
      assert.equal(commands.length, 1, 'no hold before the timeout');
      for (let t = 1.55; t <= 2.5; t += 0.05) await setTime(t);
      assert.equal(commands.length, 2, 'exactly one hold command after the timeout');
      assert.deepEqual(Array.from(commands[1]!.position), Array.from(commands[0]!.position), 'the hold is the last target');
      assert.equal(commands[1]!.header.stamp.sec, 1);
      assert.ok(logs.some((l) => l.level === 'warn' && /watchdog: no cmd_ee for more than 0.5 s/.test(l.message)));
      cmd.publish(twist(0, 1));
      await until(rt, () => commands.length === 3, 'resumed command');
    });

    it('e-stop latches until reset_estop', async () => {
      const probe = rt.createNode('estopper');
      const estop = probe.createPublisher('std_msgs/msg/Bool', 'estop');
      const reset = probe.createClient('std_srvs/srv/Trigger', '/controller/reset_estop');
      cmd.publish(twist(1));
      await until(rt, () => commands.length === 1, 'first command');
      estop.publish({ data: true });
      await until(rt, () => commands.length === 2, 'the e-stop hold');
      estop.publish({ data: false }); // does not release
      cmd.publish(twist(1));
      await rt.flush();
      assert.equal(commands.length, 2, 'commands are refused while the e-stop is latched');
      assert.ok(logs.some((l) => l.level === 'error' && /E-STOP/.test(l.message)));
      assert.ok(logs.some((l) => l.level === 'error' && /refused.*e-stop is latched/.test(l.message)));
      const r = await reset.sendRequestAsync({}, { timeout: 2000 });
      assert.equal(r.success, true);
      cmd.publish(twist(1));
      await until(rt, () => commands.length === 3, 'commands after the reset');
    });

    it('refuses a NaN cmd_ee with a clear error and publishes nothing', async () => {
      cmd.publish(twist(NaN));
      cmd.publish(twist(0, Infinity));
      await rt.flush();
      await rt.flush();
      assert.equal(commands.length, 0);
      const errors = logs.filter((l) => l.level === 'error').map((l) => l.message);
      assert.match(errors[0]!, /cmd_ee refused, the arm holds: action\[0\] is NaN/);
      assert.match(errors[1]!, /action\[1\] is Infinity/);
    });
  });
});
