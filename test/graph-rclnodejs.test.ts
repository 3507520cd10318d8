import assert from 'node:assert/strict';
import sinon from 'sinon';
import { createRclnodejsRuntime } from '../src/graph/rclnodejs.js';
import { createRuntime, chooseRuntimeKind } from '../src/graph/runtime.js';
import { MessageValidationError } from '../src/graph/errors.js';

/** A fake of the rclnodejs 2.2 surface (names, enums and argument order from its types/). */
function fakeRclnodejs() {
  const ParameterType = {
    PARAMETER_NOT_SET: 0,
    PARAMETER_BOOL: 1,
    PARAMETER_INTEGER: 2,
    PARAMETER_DOUBLE: 3,
    PARAMETER_STRING: 4,
    PARAMETER_BYTE_ARRAY: 5,
    PARAMETER_BOOL_ARRAY: 6,
    PARAMETER_INTEGER_ARRAY: 7,
    PARAMETER_DOUBLE_ARRAY: 8,
    PARAMETER_STRING_ARRAY: 9,
  };
  class Parameter {
    constructor(
      readonly name: string,
      readonly type: number,
      public value?: unknown,
    ) {}
  }
  class ParameterDescriptor {
    constructor(
      readonly name: string,
      readonly type: number,
      readonly description = '',
      readonly readOnly = false,
      readonly range?: unknown,
    ) {}
  }
  class FloatingPointRange {
    constructor(
      readonly fromValue: number,
      readonly toValue: number,
      readonly step = 0,
    ) {}
  }
  class IntegerRange extends FloatingPointRange {}
  class QoS {
    static profileDefault = 'qos_profile_default';
    static profileSystemDefault = 'qos_profile_system_default';
    static profileSensorData = 'qos_profile_sensor_data';
    static profileServicesDefault = 'qos_profile_services_default';
    static profileParameters = 'qos_profile_parameters';
    static HistoryPolicy = {
      RMW_QOS_POLICY_HISTORY_SYSTEM_DEFAULT: 0,
      RMW_QOS_POLICY_HISTORY_KEEP_LAST: 1,
      RMW_QOS_POLICY_HISTORY_KEEP_ALL: 2,
    };
    static ReliabilityPolicy = {
      RMW_QOS_POLICY_RELIABILITY_SYSTEM_DEFAULT: 0,
      RMW_QOS_POLICY_RELIABILITY_RELIABLE: 1,
      RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT: 2,
    };
    static DurabilityPolicy = {
      RMW_QOS_POLICY_DURABILITY_SYSTEM_DEFAULT: 0,
      RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL: 1,
      RMW_QOS_POLICY_DURABILITY_VOLATILE: 2,
    };
    constructor(
      public history?: number,
      public depth?: number,
      public reliability?: number,
      public durability?: number,
    ) {}
  }
  class NodeOptions {
    parameterOverrides: Parameter[] = [];
  }
  const nodes: FakeNode[] = [];
  class FakeNode {
    params = new Map<string, Parameter>();
    overrides: Parameter[];
    publisher = { publish: sinon.spy(), subscriptionCount: 2 };
    client = {
      isServiceServerAvailable: sinon.stub().returns(true),
      waitForService: sinon.stub().resolves(true),
      sendRequestAsync: sinon.stub().resolves({ success: true, message: 'ok' }),
    };
    timer = { cancel: sinon.spy(), reset: sinon.spy(), isCanceled: sinon.stub().returns(false) };
    clock = { clockType: 'ROS_TIME' };
    logger = { debug: sinon.spy(), info: sinon.spy(), warn: sinon.spy(), error: sinon.spy(), fatal: sinon.spy() };
    createPublisher = sinon.spy((_t: string, _topic: string, _o?: object) => this.publisher);
    createSubscription = sinon.spy((_t: string, _topic: string, _o: object, _cb: (m: unknown) => void) => ({}));
    createService = sinon.spy((_t: string, _n: string, _cb: (req: unknown, res: { send(r: unknown): void }) => void) => ({}));
    createClient = sinon.spy((_t: string, _n: string) => this.client);
    createTimer = sinon.spy((_p: bigint, _cb: () => void, _clock?: unknown) => this.timer);
    spin = sinon.spy();
    destroy = sinon.spy();
    setCallbacks: Array<(ps: Parameter[]) => { successful: boolean; reason: string }> = [];
    constructor(
      readonly nodeName: string,
      readonly ns = '',
      readonly context?: unknown,
      readonly options?: NodeOptions,
    ) {
      this.overrides = options?.parameterOverrides ?? [];
      nodes.push(this);
    }
    name() {
      return this.nodeName;
    }
    namespace() {
      return this.ns.startsWith('/') ? this.ns : `/${this.ns}`;
    }
    declareParameter = sinon.spy((p: Parameter, _d?: ParameterDescriptor) => {
      const o = this.overrides.find((x) => x.name === p.name);
      const eff = o ? new Parameter(p.name, p.type, o.value) : p;
      this.params.set(p.name, eff);
      return eff;
    });
    hasParameter(n: string) {
      return this.params.has(n);
    }
    getParameter(n: string) {
      return this.params.get(n) ?? new Parameter(n, 0);
    }
    setParameters = sinon.spy((ps: Parameter[]) =>
      ps.map((p) => {
        for (const cb of this.setCallbacks) {
          const r = cb([p]);
          if (!r.successful) return r;
        }
        this.params.set(p.name, p);
        return { successful: true, reason: '' };
      }),
    );
    addOnSetParametersCallback(cb: (ps: Parameter[]) => { successful: boolean; reason: string }) {
      this.setCallbacks.unshift(cb);
    }
    removeOnSetParametersCallback(cb: (ps: Parameter[]) => { successful: boolean; reason: string }) {
      this.setCallbacks = this.setCallbacks.filter((c) => c !== cb);
    }
    getLogger() {
      return this.logger;
    }
    getClock() {
      return this.clock;
    }
    now() {
      return { nanoseconds: 1_500_000_000n };
    }
  }
  const mod = {
    init: sinon.stub().resolves(),
    shutdown: sinon.stub(),
    Node: FakeNode,
    NodeOptions,
    QoS,
    Parameter,
    ParameterType,
    ParameterDescriptor,
    FloatingPointRange,
    IntegerRange,
  };
  return { mod, nodes };
}

const env = { AMENT_PREFIX_PATH: '/opt/ros/humble' };

describe('graph rclnodejs runtime (against a fake of the 2.2 API)', () => {
  it('refuses to load without a sourced ROS 2 and explains why', async () => {
    const loader = sinon.stub().resolves({});
    await assert.rejects(createRclnodejsRuntime({ loader, env: {} }), /AMENT_PREFIX_PATH is not set.*setup\.bash/);
    assert.equal(loader.called, false, 'rclnodejs must not be imported without ROS 2');
    await assert.rejects(
      createRclnodejsRuntime({ loader: sinon.stub().rejects(new Error('Cannot find package')), env }),
      /npm install rclnodejs/,
    );
  });

  it('auto picks rclnodejs only when AMENT_PREFIX_PATH is set', async () => {
    assert.equal(chooseRuntimeKind('auto', {}), 'inprocess');
    assert.equal(chooseRuntimeKind('auto', env), 'rclnodejs');
    assert.equal(chooseRuntimeKind('inprocess', env), 'inprocess');
    const rt = await createRuntime({ kind: 'auto', env: {} });
    assert.equal(rt.kind, 'inprocess');
    await rt.shutdown();
  });

  it('initializes with argv, creates nodes with overrides and spins them', async () => {
    const { mod, nodes } = fakeRclnodejs();
    const argv = ['node', 'x.js', '--ros-args', '-r', '__node:=cam'];
    const rt = await createRclnodejsRuntime({ loader: async () => ({ default: mod }), env, argv });
    assert.equal(rt.kind, 'rclnodejs');
    sinon.assert.calledOnceWithExactly(mod.init, undefined, argv);
    const node = rt.createNode('policy', { namespace: '/sawyer', parameterOverrides: { rate_hz: 30, steps: 4, names: ['a'] } });
    const raw = nodes[0]!;
    assert.equal(raw.nodeName, 'policy');
    assert.equal(raw.ns, '/sawyer');
    assert.deepEqual(
      raw.overrides.map((p) => [p.name, p.type, p.value]),
      [
        ['rate_hz', 2, 30n],
        ['steps', 2, 4n],
        ['names', 9, ['a']],
      ],
    );
    sinon.assert.calledOnce(raw.spin);
    assert.equal(node.getFullyQualifiedName(), '/sawyer/policy');
    await rt.shutdown();
    sinon.assert.calledOnce(raw.destroy);
    sinon.assert.calledOnce(mod.shutdown);
  });

  it('maps publishers, subscriptions and QoS to rclnodejs calls and checks messages', async () => {
    const { mod, nodes } = fakeRclnodejs();
    const rt = await createRclnodejsRuntime({ loader: async () => mod, env, argv: [] });
    const node = rt.createNode('n');
    const raw = nodes[0]!;
    const pub = node.createPublisher('std_msgs/msg/Float64', 'x', { qos: 'sensor_data' });
    sinon.assert.calledWith(raw.createPublisher, 'std_msgs/msg/Float64', 'x', { qos: 'qos_profile_sensor_data' });
    pub.publish({ data: 1.5 });
    sinon.assert.calledWith(raw.publisher.publish, { data: 1.5 });
    assert.throws(() => pub.publish({ data: 'no' }), MessageValidationError);
    assert.equal(raw.publisher.publish.callCount, 1);
    assert.equal(pub.getSubscriptionCount(), 2);

    node.createPublisher('std_msgs/msg/String', '~/status', { qos: 'latched' });
    const q = raw.createPublisher.secondCall.args[2] as { qos: InstanceType<typeof mod.QoS> };
    assert.ok(q.qos instanceof mod.QoS);
    assert.deepEqual([q.qos.history, q.qos.depth, q.qos.reliability, q.qos.durability], [1, 1, 1, 1]);

    const got: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    node.createSubscription('std_msgs/msg/Float64', 'x', { qos: { depth: 2, reliability: 'best_effort' } }, async (m) => {
      got.push(m.data as number);
      if (got.length === 1) await gate;
    });
    const [type, topic, opts, cb] = raw.createSubscription.firstCall.args;
    assert.equal(type, 'std_msgs/msg/Float64');
    assert.equal(topic, 'x');
    assert.deepEqual([(opts as { qos: { depth: number; reliability: number } }).qos.depth, (opts as { qos: { reliability: number } }).qos.reliability], [2, 2]);
    for (let i = 0; i < 6; i++) cb({ data: i });
    release();
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(got, [0, 4, 5], 'one message at a time, keep_last drops the oldest');
    await rt.shutdown();
  });

  it('wraps services, clients, timers, time and the logger', async () => {
    const { mod, nodes } = fakeRclnodejs();
    const rt = await createRclnodejsRuntime({ loader: async () => mod, env, argv: [] });
    const node = rt.createNode('n');
    const raw = nodes[0]!;
    node.createService('std_srvs/srv/SetBool', 'enable', async (req: { data: boolean }) => ({ success: req.data, message: '' }));
    const [stype, sname, handler] = raw.createService.firstCall.args;
    assert.deepEqual([stype, sname], ['std_srvs/srv/SetBool', 'enable']);
    const send = sinon.spy();
    handler({ data: true }, { send });
    await new Promise((r) => setImmediate(r));
    sinon.assert.calledOnceWithExactly(send, { success: true, message: '' });

    const client = node.createClient('std_srvs/srv/Trigger', '/reset');
    sinon.assert.calledWith(raw.createClient, 'std_srvs/srv/Trigger', '/reset');
    assert.equal(await client.waitForService(100), true);
    sinon.assert.calledWith(raw.client.waitForService, 100);
    assert.deepEqual(await client.sendRequestAsync({}, { timeout: 50 }), { success: true, message: 'ok' });
    sinon.assert.calledWith(raw.client.sendRequestAsync, {}, { timeout: 50 });

    const tick = sinon.spy();
    const t = node.createTimer(50_000_000n, tick);
    const [period, timerCb, clock] = raw.createTimer.firstCall.args;
    assert.equal(period, 50_000_000n);
    assert.equal(clock, raw.clock, 'timers run on the node clock so use_sim_time applies');
    timerCb();
    sinon.assert.calledOnce(tick);
    t.cancel();
    sinon.assert.calledOnce(raw.timer.cancel);
    assert.throws(() => node.createTimer(50 as unknown as bigint, tick), /bigint/);

    assert.equal(node.now().nanoseconds, 1_500_000_000n);
    assert.deepEqual(node.now().toMsg(), { sec: 1, nanosec: 500_000_000 });
    node.getLogger().info('hello');
    sinon.assert.calledWith(raw.logger.info, 'hello');
    await rt.shutdown();
  });

  it('declares parameters with rclnodejs Parameter/ParameterDescriptor and converts values', async () => {
    const { mod, nodes } = fakeRclnodejs();
    const rt = await createRclnodejsRuntime({ loader: async () => mod, env, argv: [] });
    const node = rt.createNode('n', { parameterOverrides: { depth: 8 } });
    const raw = nodes[0]!;
    assert.equal(node.declareParameter('rate_hz', 'double', 20, { description: 'control rate', range: { from: 1, to: 100 } }), 20);
    const [p, d] = raw.declareParameter.firstCall.args as [InstanceType<typeof mod.Parameter>, InstanceType<typeof mod.ParameterDescriptor>];
    assert.ok(p instanceof mod.Parameter);
    assert.deepEqual([p.name, p.type, p.value], ['rate_hz', 3, 20]);
    assert.ok(d instanceof mod.ParameterDescriptor);
    assert.deepEqual([d.name, d.type, d.description, d.readOnly], ['rate_hz', 3, 'control rate', false]);
    assert.ok(d.range instanceof mod.FloatingPointRange);
    assert.equal(node.declareParameter('depth', 'integer', 2, { readOnly: true }), 8, 'integer comes back as number');
    assert.equal((raw.declareParameter.secondCall.args[0] as { value: unknown }).value, 2n, 'integers go to rclnodejs as BigInt');
    assert.throws(() => node.declareParameter('bad', 'integer', 1.5), /expected integer/);

    node.addOnSetParametersCallback((ps) =>
      ps[0]!.value === 0 ? { successful: false, reason: 'rate must be positive' } : { successful: true, reason: '' },
    );
    const [bad, ok, missing] = node.setParameters([
      { name: 'rate_hz', value: 0 },
      { name: 'rate_hz', value: 50 },
      { name: 'nope', value: 1 },
    ]);
    assert.deepEqual(bad, { successful: false, reason: 'rate must be positive' });
    assert.equal(ok!.successful, true);
    assert.equal(missing!.successful, false);
    assert.equal(node.getParameter('rate_hz'), 50);
    assert.throws(() => node.getParameter('nope'), /not declared/);
    await rt.shutdown();
  });
});
