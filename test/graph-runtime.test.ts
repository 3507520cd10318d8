import assert from 'node:assert/strict';
import { InProcessRuntime } from '../src/graph/inprocess.js';
import { MessageValidationError, TimeoutError } from '../src/graph/errors.js';
import type { LogLevel } from '../src/graph/logger.js';
import type { Image, JointState } from '../src/graph/msgs.js';

const stamp = { sec: 1, nanosec: 2 };
const jointState = (p: number): JointState => ({
  header: { stamp, frame_id: 'base' },
  name: ['j0', 'j1'],
  position: [p, p + 1],
  velocity: [0, 0],
  effort: [0, 0],
});

function quietRuntime(logs: Array<[LogLevel, string, string]> = []): InProcessRuntime {
  return new InProcessRuntime({ log: (l, n, m) => logs.push([l, n, m]) });
}

const tick = () => new Promise((r) => setImmediate(r));

describe('graph in-process runtime', () => {
  let rt: InProcessRuntime;
  afterEach(async () => rt?.shutdown());

  it('delivers published messages asynchronously in rclnodejs shape', async () => {
    rt = quietRuntime();
    const a = rt.createNode('talker');
    const b = rt.createNode('listener');
    const got: JointState[] = [];
    b.createSubscription<JointState>('sensor_msgs/msg/JointState', 'joint_states', {}, (m) => {
      got.push(m);
    });
    const pub = a.createPublisher<JointState>('sensor_msgs/msg/JointState', 'joint_states');
    const msg = jointState(1);
    pub.publish(msg);
    assert.equal(got.length, 0, 'delivery must not happen inside publish()');
    msg.position = [99, 99]; // publisher reuses its object: queued message must not change
    await rt.flush();
    assert.equal(got.length, 1);
    assert.ok(got[0]!.position instanceof Float64Array);
    assert.deepEqual(Array.from(got[0]!.position), [1, 2]);
    assert.deepEqual(got[0]!.header.stamp, stamp);
    assert.equal(pub.getSubscriptionCount(), 1);
  });

  it('keep_last depth drops the OLDEST messages while an async callback is busy', async () => {
    rt = quietRuntime();
    const n = rt.createNode('n');
    const seen: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    n.createSubscription('std_msgs/msg/Float64', 'x', { qos: { depth: 3 } }, async (m) => {
      seen.push(m.data as number);
      if (seen.length === 1) await gate;
    });
    const pub = n.createPublisher('std_msgs/msg/Float64', 'x');
    pub.publish({ data: 0 });
    await tick();
    await tick();
    assert.deepEqual(seen, [0]);
    for (let i = 1; i <= 10; i++) pub.publish({ data: i });
    release();
    await rt.flush();
    assert.deepEqual(seen, [0, 8, 9, 10]);
  });

  it('transient_local publishers replay the last depth messages to late joiners', async () => {
    rt = quietRuntime();
    const n = rt.createNode('n');
    const pub = n.createPublisher('std_msgs/msg/String', 'status', { qos: { durability: 'transient_local', depth: 2 } });
    pub.publish({ data: 'a' });
    pub.publish({ data: 'b' });
    pub.publish({ data: 'c' });
    const late: string[] = [];
    const volatileLate: string[] = [];
    n.createSubscription('std_msgs/msg/String', 'status', { qos: 'latched' }, (m) => {
      late.push(m.data);
    });
    n.createSubscription('std_msgs/msg/String', 'status', {}, (m) => {
      volatileLate.push(m.data);
    });
    await rt.flush();
    assert.deepEqual(late, ['c'], 'the latched profile keeps depth 1');
    assert.deepEqual(volatileLate, []);
    const late2: string[] = [];
    n.createSubscription('std_msgs/msg/String', 'status', { qos: { durability: 'transient_local', depth: 5 } }, (m) => {
      late2.push(m.data);
    });
    await rt.flush();
    assert.deepEqual(late2, ['b', 'c']);
  });

  it('does not connect QoS-incompatible endpoints and warns', async () => {
    const logs: Array<[LogLevel, string, string]> = [];
    rt = quietRuntime(logs);
    const n = rt.createNode('n');
    const got: unknown[] = [];
    n.createSubscription('std_msgs/msg/Float64', 'x', { qos: 'default' }, (m) => {
      got.push(m);
    });
    const pub = n.createPublisher('std_msgs/msg/Float64', 'x', { qos: 'sensor_data' });
    pub.publish({ data: 1 });
    await rt.flush();
    assert.equal(got.length, 0);
    assert.ok(logs.some(([l, , m]) => l === 'warn' && m.includes('BEST_EFFORT')));
  });

  it('rejects invalid messages at publish with topic, type and field path', () => {
    rt = quietRuntime();
    const n = rt.createNode('n', { namespace: 'robot' });
    const pub = n.createPublisher('sensor_msgs/msg/JointState', 'joint_states');
    const bad = (mutate: (m: Record<string, unknown>) => void): MessageValidationError => {
      const m = jointState(0) as unknown as Record<string, unknown>;
      mutate(m);
      try {
        pub.publish(m);
      } catch (e) {
        assert.ok(e instanceof MessageValidationError, String(e));
        return e;
      }
      assert.fail('publish accepted an invalid message');
    };
    let e = bad((m) => delete m.effort);
    assert.equal(e.fieldPath, 'effort');
    assert.match(e.message, /\/robot\/joint_states/);
    assert.match(e.message, /sensor_msgs\/msg\/JointState/);
    e = bad((m) => ((m.position as number[])[1] = '3' as unknown as number));
    assert.equal(e.fieldPath, 'position[1]');
    e = bad((m) => ((m.header as { stamp: unknown }).stamp = { sec: 1.5, nanosec: 0 }));
    assert.equal(e.fieldPath, 'header.stamp.sec');
    e = bad((m) => (m.name = [1, 2]));
    assert.equal(e.fieldPath, 'name[0]');
    e = bad((m) => (m.positon = [1]));
    assert.equal(e.fieldPath, 'positon');
    // NaN is legal in ROS float fields
    pub.publish({ ...jointState(0), position: [NaN, 0] });

    const img = n.createPublisher<Image>('sensor_msgs/msg/Image', 'image');
    const image: Image = {
      header: { stamp, frame_id: 'cam' },
      height: 2,
      width: 2,
      encoding: 'rgb8',
      is_bigendian: 0,
      step: 6,
      data: new Uint8Array(12),
    };
    img.publish(image);
    assert.throws(() => img.publish({ ...image, data: [0, 256] }), /data\[1\].*uint8/);
    assert.throws(() => img.publish({ ...image, height: -1 }), /height.*uint32/);
    assert.throws(() => n.createPublisher('sensor_msgs/Image', 'x'), /sensor_msgs\/msg\/Image/);
    assert.throws(() => n.createPublisher('sensor_msgs/msg/Imagee', 'x'), /unknown interface type/);
  });

  it('knows our own messages from msg/ (gmps_msgs) and checks them', () => {
    rt = quietRuntime();
    const n = rt.createNode('n');
    const pub = n.createPublisher('gmps_msgs/msg/AdaptationStatus', 'status', { qos: 'latched' });
    const ok = {
      header: { stamp, frame_id: '' },
      task_id: 'door',
      trial: 1,
      phase: 'collecting',
      mean_return: -3.5,
      success_rate: 0.5,
      updates_applied: 1,
      final_door_angle_deg: NaN, // float64 carries NaN (no angle yet), as in ROS 2
    };
    pub.publish(ok);
    assert.throws(() => pub.publish({ ...ok, trial: -1 }), /trial/);
  });

  it('cdr validation mode serializes every message', () => {
    rt = new InProcessRuntime({ validation: 'cdr', log: () => {} });
    const n = rt.createNode('n');
    const pub = n.createPublisher('sensor_msgs/msg/JointState', 'js');
    pub.publish(jointState(0));
  });

  it('expands namespaces, private names and applies remaps', async () => {
    rt = quietRuntime();
    const n = rt.createNode('cam', {
      namespace: '/sawyer',
      remaps: [
        ['image', '/camera/image_raw'],
        ['~/info', 'info_remapped'],
      ],
    });
    assert.equal(n.getFullyQualifiedName(), '/sawyer/cam');
    assert.equal(n.resolveName('joint_states'), '/sawyer/joint_states');
    assert.equal(n.resolveName('/abs'), '/abs');
    assert.equal(n.resolveName('~/status'), '/sawyer/cam/status');
    assert.equal(n.resolveName('image'), '/camera/image_raw');
    assert.equal(n.resolveName('~/info'), '/sawyer/info_remapped');
    const other = rt.createNode('viewer');
    const got: string[] = [];
    other.createSubscription('std_msgs/msg/String', '/camera/image_raw', {}, (m) => {
      got.push(m.data);
    });
    n.createPublisher('std_msgs/msg/String', 'image').publish({ data: 'frame' });
    await rt.flush();
    assert.deepEqual(got, ['frame']);
    assert.throws(() => rt.createNode('bad-name'), /invalid node name/);
    assert.throws(() => rt.createNode('cam', { namespace: 'sawyer' }), /already exists/);
  });

  it('serves requests, validates them and times out clients', async () => {
    rt = quietRuntime();
    const server = rt.createNode('server');
    const client = rt.createNode('client');
    const c = client.createClient('std_srvs/srv/SetBool', '/enable');
    assert.equal(await c.waitForService(20), false);
    await assert.rejects(c.sendRequestAsync({ data: true }), /waitForService/);
    const waiting = c.waitForService(1000);
    server.createService('std_srvs/srv/SetBool', 'enable', (req: { data: boolean }) => ({
      success: req.data,
      message: req.data ? 'on' : 'off',
    }));
    assert.equal(await waiting, true);
    assert.deepEqual(await c.sendRequestAsync({ data: true }, { timeout: 500 }), { success: true, message: 'on' });
    await assert.rejects(c.sendRequestAsync({ data: 'yes' }), /request.*data.*boolean/);

    server.createService('std_srvs/srv/Trigger', 'slow', () => new Promise((r) => setTimeout(() => r({ success: true, message: '' }), 200)));
    const slow = client.createClient('std_srvs/srv/Trigger', '/slow');
    await assert.rejects(slow.sendRequestAsync({}, { timeout: 30 }), TimeoutError);

    server.createService('std_srvs/srv/Trigger', 'broken', () => ({ success: 'yes' }) as unknown as { success: boolean; message: string });
    const broken = client.createClient('std_srvs/srv/Trigger', '/broken');
    await assert.rejects(broken.sendRequestAsync({}, { timeout: 500 }), /response.*success/);
    assert.throws(() => server.createService('std_srvs/srv/Trigger', 'slow', () => ({ success: true, message: '' })), /already provided/);
  });

  it('declares parameters with overrides, rejects bad values and honours on-set callbacks', () => {
    rt = quietRuntime();
    const n = rt.createNode('policy', { parameterOverrides: { rate_hz: 30, checkpoint: 'ckpt/a', gain: 2, typo_param: 1 } });
    assert.equal(n.declareParameter('rate_hz', 'double', 20.0, { description: 'control rate' }), 30);
    assert.equal(n.declareParameter('checkpoint', 'string', '', { description: 'weights', readOnly: true }), 'ckpt/a');
    assert.equal(n.declareParameter('depth', 'integer', 4), 4);
    assert.throws(() => n.declareParameter('gain', 'string', 'x'), /gain.*launch.*expected string/);
    assert.throws(() => n.getParameter('nope'), /not declared/);
    assert.deepEqual(n.setParameters([{ name: 'checkpoint', value: 'b' }])[0]!.successful, false);
    n.addOnSetParametersCallback((ps) => {
      const bad = ps.find((p) => p.name === 'rate_hz' && (p.value as number) > 100);
      return bad ? { successful: false, reason: 'rate_hz must be <= 100' } : { successful: true, reason: '' };
    });
    const [r1, r2, r3] = n.setParameters([
      { name: 'rate_hz', value: 500 },
      { name: 'rate_hz', value: 50 },
      { name: 'depth', value: 1.5 },
    ]);
    assert.deepEqual(r1, { successful: false, reason: 'rate_hz must be <= 100' });
    assert.equal(r2!.successful, true);
    assert.equal(r3!.successful, false);
    assert.equal(n.getParameter('rate_hz'), 50);
    assert.deepEqual((n as unknown as { unusedParameterOverrides(): string[] }).unusedParameterOverrides(), ['gain', 'typo_param']);
    const ranged = rt.createNode('ranged', { parameterOverrides: { alpha: 2 } });
    assert.throws(() => ranged.declareParameter('alpha', 'double', 0.5, { range: { from: 0, to: 1 } }), /outside/);
  });

  it('uses /clock for now() and timers when use_sim_time is true', async () => {
    rt = quietRuntime();
    const sim = rt.createNode('sim');
    const ctl = rt.createNode('ctl', { parameterOverrides: { use_sim_time: true } });
    const wall = rt.createNode('wall');
    assert.equal(ctl.now().nanoseconds, 0n);
    assert.ok(wall.now().nanoseconds > 1_600_000_000n * 1_000_000_000n);
    const fired: bigint[] = [];
    ctl.createTimer(100_000_000n, () => {
      fired.push(ctl.now().nanoseconds);
    });
    const clock = sim.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' });
    for (let ms = 0; ms <= 500; ms += 50) {
      clock.publish({ clock: { sec: 0, nanosec: ms * 1_000_000 } });
      await rt.flush();
    }
    assert.equal(ctl.now().nanoseconds, 500_000_000n);
    assert.deepEqual(fired, [100, 200, 300, 400, 500].map((ms) => BigInt(ms) * 1_000_000n));
  });

  it('fires wall timers and skips periods while an async callback is still running', async () => {
    rt = quietRuntime();
    const n = rt.createNode('n');
    let calls = 0;
    const t = n.createTimer(5_000_000n, async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 22));
    });
    await new Promise((r) => setTimeout(r, 60));
    t.cancel();
    assert.ok(calls >= 2 && calls <= 4, `calls=${calls}`);
    assert.ok((t as unknown as { missedPeriods(): number }).missedPeriods() > 0);
  });
});
