import assert from 'node:assert/strict';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { applyDeadZone, DEFAULT_JOYSTICK_MAPPING, JoystickTeleop, type JoystickMapping } from '../src/teleop/joystick.js';
import teleopNode from '../nodes/teleop.js';
import { quietRuntime, record, until, type Logged } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const joy = (axes: number[], buttons: number[] = []) => ({ axes, buttons });

describe('teleop: joystick mapping', () => {
  it('dead zone reads as zero and the rest of the travel is rescaled from its edge', () => {
    assert.equal(applyDeadZone(0.05, 0.1), 0);
    assert.equal(applyDeadZone(-0.1, 0.1), 0);
    assert.ok(Math.abs(applyDeadZone(0.55, 0.1) - 0.5) < 1e-12);
    assert.equal(applyDeadZone(1, 0.1), 1);
    assert.equal(applyDeadZone(-1.5, 0.1), -1, 'clipped to the stick range');
    assert.equal(applyDeadZone(NaN, 0.1), 0);
  });

  it('maps the configured axes with signs and scale to x, y, z', () => {
    const m: JoystickMapping = { ...DEFAULT_JOYSTICK_MAPPING, axes: [3, 0, 1], signs: [-1, 1, 1], deadZone: 0, scale: 0.5 };
    const t = new JoystickTeleop(m);
    assert.deepEqual(t.update(joy([0.2, -0.4, 0, 0.8])).linear, [-0.4, 0.1, -0.2]);
    const d = new JoystickTeleop();
    assert.deepEqual(d.update(joy([0.6, -1, 0, 0, 0.05])).linear, [-1, (0.6 - 0.1) / 0.9, 0], 'default: left stick x/y, right stick z');
  });

  it('buttons fire once per press (rising edge)', () => {
    const t = new JoystickTeleop();
    const { save, discard, stop, gripper } = DEFAULT_JOYSTICK_MAPPING.buttons;
    const pressed = (...idx: number[]) => Array.from({ length: 11 }, (_, i) => (idx.includes(i) ? 1 : 0));
    assert.deepEqual(t.update(joy([0, 0, 0, 0, 0], pressed(save))).events, ['save']);
    assert.deepEqual(t.update(joy([0, 0, 0, 0, 0], pressed(save))).events, [], 'held: no repeat');
    assert.deepEqual(t.update(joy([0, 0, 0, 0, 0], pressed())).events, []);
    assert.deepEqual(t.update(joy([0, 0, 0, 0, 0], pressed(discard, gripper))).events, ['discard', 'gripper']);
    assert.deepEqual(t.update(joy([0, 0, 0, 0, 0], pressed(stop))).events, ['stop']);
  });

  it('a joystick with fewer axes reads the missing ones as zero and warns once', () => {
    const warnings: string[] = [];
    const t = new JoystickTeleop(DEFAULT_JOYSTICK_MAPPING, (w) => warnings.push(w));
    assert.deepEqual(t.update(joy([0.5, 1])).linear, [1, (0.5 - 0.1) / 0.9, 0]);
    t.update(joy([0.5, 1]));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /2 axes; axis 4 \(mapped to z\)/);
  });

  it('rejects a bad mapping with what to fix', () => {
    assert.throws(() => new JoystickTeleop({ ...DEFAULT_JOYSTICK_MAPPING, deadZone: 1 }), /dead zone must be in \[0, 1\)/);
    assert.throws(() => new JoystickTeleop({ ...DEFAULT_JOYSTICK_MAPPING, signs: [1, 2, 1] }), /signs/);
    assert.throws(() => new JoystickTeleop({ ...DEFAULT_JOYSTICK_MAPPING, axes: [0, -1, 2] }), /axis indices/);
  });
});

describe('teleop: node with device joy', function () {
  this.timeout(20000);
  let rt: InProcessRuntime;
  const running: RunningNode[] = [];
  afterEach(async () => {
    for (const n of running.splice(0).reverse()) await n.stop();
    await rt?.shutdown();
  });

  it('publishes cmd_ee from sensor_msgs/Joy on the control clock and episode events on teleop/episode', async () => {
    const logs: Logged[] = [];
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    const cmds = record<Msg>(probe, 'geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const events = record<Msg>(probe, 'gmps_msgs/msg/EpisodeEvent', 'teleop/episode');
    const joyPub = probe.createPublisher('sensor_msgs/msg/Joy', 'joy');
    const clock = probe.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' });
    running.push(await startNode(rt, teleopNode, { parameterOverrides: { device: 'joy', lockstep: true, joy_dead_zone: 0.0, speak: false } }));
    const header = { stamp: { sec: 0, nanosec: 0 }, frame_id: '' };
    joyPub.publish({ header, axes: [0.25, 0.5, 0, 0, -1], buttons: [1, 0, 0, 0, 0, 0, 0, 0] });
    await until(rt, () => events.length === 1, 'the save event');
    for (let i = 1; i <= 3; i++) {
      clock.publish({ clock: { sec: i, nanosec: 0 } });
      await until(rt, () => cmds.length === i, `command ${i}`);
    }
    clock.publish({ clock: { sec: 3, nanosec: 0 } });
    await rt.flush();
    assert.equal(cmds.length, 3, 'one command per new clock time in lock-step');
    const l = cmds[0]!.twist.linear;
    assert.deepEqual([l.x, l.y, l.z], [0.5, 0.25, -1]);
    assert.equal(cmds[0]!.header.frame_id, 'base');
    assert.equal(events[0]!.event, 1, 'A = SAVE');
    joyPub.publish({ header, axes: [0, 0, 0, 0, 0], buttons: [0, 1, 0, 0, 0, 0, 0, 1] });
    await until(rt, () => events.length === 3, 'discard and stop');
    assert.deepEqual(events.map((e) => e.event), [1, 2, 3]);
  });
});
