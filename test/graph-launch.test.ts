import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import sinon from 'sinon';
import { registerGraph } from '../src/cli/commands/graph.js';
import { LaunchError } from '../src/graph/errors.js';
import { InProcessRuntime } from '../src/graph/inprocess.js';
import { planLaunch, parseLaunchArgs } from '../src/graph/launch/plan.js';
import { NodeRegistry, runLaunchPlan } from '../src/graph/launch/run.js';
import { substitute } from '../src/graph/launch/substitutions.js';
import { defineNode, nodeOptionsFromArgv } from '../src/graph/node-entry.js';
import { packageRoot } from '../src/graph/paths.js';

const FIXTURE = resolve('test/fixtures/graph/talker_listener.launch.yaml');

function tempLaunch(text: string, name = 'x.launch.yaml'): string {
  const dir = mkdtempSync(join(tmpdir(), 'gmps-launch-'));
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('graph launch', () => {
  it('evaluates substitutions, including nested and boolean ones', () => {
    const scope = {
      vars: new Map([
        ['a', 'true'],
        ['n', '3'],
      ]),
      env: { HOME_X: '/h' } as Record<string, string | undefined>,
      file: '/x/y/z.launch.yaml',
      anon: new Map<string, string>(),
    };
    assert.equal(substitute('$(var n)-$(env HOME_X)-$(env NOPE fallback value)', scope), '3-/h-fallback value');
    assert.equal(substitute('$(dirname)/$(filename)', scope), '/x/y/z.launch.yaml');
    assert.equal(substitute('$(find-pkg-share sawyer_gmps)', scope), packageRoot());
    assert.equal(substitute('$(eq $(var n) 3.0)', scope), 'true');
    assert.equal(substitute("$(equals $(var a) 'True')", scope), 'true');
    assert.equal(substitute('$(and $(var a) $(not $(var a)))', scope), 'false');
    assert.equal(substitute('$(or false $(var a))', scope), 'true');
    assert.equal(substitute('$(anon cam)', scope), substitute('$(anon cam)', scope));
    assert.match(substitute('$(anon cam)', scope), /^cam_[0-9a-f]{8}$/);
    assert.throws(() => substitute('$(var missing)', scope), /no launch argument or let named 'missing'.*a, n/);
    assert.throws(() => substitute('$(env NOPE)', scope), /NOPE.*not set/);
    assert.throws(() => substitute('$(not maybe)', scope), /not a boolean/);
    assert.throws(() => substitute('$(find-pkg-share not_a_pkg)', { ...scope, env: {} }), /not_a_pkg.*not found/);
    assert.throws(() => substitute('$(command ls)', scope), /unknown substitution/);
  });

  it('plans the example: pushed namespace, remaps, params, include with args, if', () => {
    const plan = planLaunch(FIXTURE, { args: { count: '7' } });
    assert.deepEqual(plan.args, { count: '7', use_ns: 'true', with_extra: 'false' });
    assert.equal(plan.nodes.length, 2, 'extra_talker is skipped by its if');
    const [talker, listener] = plan.nodes;
    assert.equal(talker!.name, 'talker');
    assert.equal(talker!.namespace, '/demo');
    assert.equal(talker!.script, join(packageRoot(), 'dist/test/fixtures/graph/talker.js'));
    assert.deepEqual(talker!.params, [
      { kind: 'value', name: 'count', value: 7 },
      { kind: 'value', name: 'rate_hz', value: 100 },
    ]);
    assert.deepEqual(talker!.remaps, [['chatter', 'conversation']]);
    assert.deepEqual(talker!.command.slice(0, 3), ['node', talker!.script, '--ros-args']);
    assert.ok(talker!.command.join(' ').includes('-r __ns:=/demo -p count:=7'));
    assert.equal(listener!.namespace, '/demo', 'an include inherits the pushed namespace');
    assert.deepEqual(listener!.params[1], { kind: 'value', name: 'expected', value: 7 });
    assert.equal(listener!.params[0]!.kind, 'file');

    const flat = planLaunch(FIXTURE, { args: { use_ns: 'false', with_extra: 'true' } });
    assert.deepEqual(
      flat.nodes.map((n) => `${n.namespace}:${n.name}`),
      ['/:talker', '/:listener', '/:extra_talker'],
    );
    const zero = planLaunch(FIXTURE, { args: { with_extra: 'true', count: '0' } });
    assert.equal(zero.nodes.length, 2, '$(and ... $(not $(eq count 0))) is false');
  });

  it('reports unknown and missing arguments and malformed files clearly', () => {
    assert.throws(() => planLaunch(FIXTURE, { args: { cuont: '3' } }), (e: Error) => {
      assert.ok(e instanceof LaunchError);
      assert.match(e.message, /unknown launch argument\(s\) cuont.*count/);
      return true;
    });
    const needs = tempLaunch('launch:\n- arg: {name: robot_ip, description: "address of the arm"}\n');
    assert.throws(() => planLaunch(needs), /'robot_ip' is required.*address of the arm.*robot_ip:=/);
    assert.deepEqual(planLaunch(needs, { args: { robot_ip: '10.0.0.2' } }).args, { robot_ip: '10.0.0.2' });
    assert.throws(() => planLaunch(tempLaunch('nodes: []\n')), /starts with 'launch:'/);
    assert.throws(() => planLaunch(tempLaunch('launch:\n- timer: {period: 1}\n')), /unsupported launch action 'timer'/);
    assert.throws(() => planLaunch(tempLaunch('launch:\n- node: {exec: node, args: "$(var nope)"}\n')), /\$\(var nope\)/);
    assert.throws(() => parseLaunchArgs(['count=3']), /name:=value/);
  });

  it('scopes groups, applies unless, set_env and let', () => {
    const f = tempLaunch(`
launch:
- arg: {name: sim, default: "true"}
- let: {name: ns, value: "robot_$(var sim)"}
- set_env: {name: GMPS_TEST_ENV, value: "a"}
- group:
    children:
    - push_ros_namespace: {namespace: "$(var ns)"}
    - let: {name: inner, value: "x"}
    - node: {exec: node, args: "a.js", name: n1, unless: "$(var sim)"}
    - node: {exec: node, args: "a.js --verbose 'two words'", name: n2, namespace: cams, param: [{name: g, param: [{name: k, value: [1, 2]}]}]}
- node: {exec: node, args: "a.js", name: n3, namespace: /abs}
- executable: {cmd: "echo hi", name: echo, env: [{name: E, value: "1"}]}
`);
    const plan = planLaunch(f);
    assert.deepEqual(
      plan.nodes.map((n) => [n.name, n.namespace]),
      [
        ['n2', '/robot_true/cams'],
        ['n3', '/abs'],
      ],
    );
    assert.deepEqual(plan.nodes[0]!.args, ['--verbose', 'two words']);
    assert.deepEqual(plan.nodes[0]!.params, [{ kind: 'value', name: 'g.k', value: [1, 2] }]);
    assert.deepEqual(plan.nodes[1]!.env, { GMPS_TEST_ENV: 'a' });
    assert.deepEqual(plan.executables[0]!.env, { GMPS_TEST_ENV: 'a', E: '1' });
    const leak = tempLaunch(`
launch:
- group:
    children:
    - let: {name: inner, value: "x"}
- node: {exec: node, args: "$(var inner).js"}
`);
    assert.throws(() => planLaunch(leak), /no launch argument or let named 'inner'/);
  });

  it('parses --ros-args for standalone nodes', () => {
    const params = tempLaunch('/**:\n  ros__parameters:\n    rate_hz: 5.0\n    nested: {gain: 2}\n', 'p.yaml');
    const o = nodeOptionsFromArgv(
      ['--input', 'x', '--ros-args', '-r', '__node:=cam', '-r', '__ns:=/sawyer', '-p', 'rate_hz:=30', '--params-file', params, '-r', 'image:=/raw', '-r', 'other:a:=b', '-p', 'other:k:=1', '--', 'tail'],
      'camera',
    );
    assert.equal(o.name, 'cam');
    assert.equal(o.namespace, '/sawyer');
    assert.deepEqual(o.parameterOverrides, { rate_hz: 30, 'nested.gain': 2 });
    assert.deepEqual(o.remaps, [['image', '/raw']]);
    assert.deepEqual(o.args, ['--input', 'x', 'tail']);
    assert.throws(() => nodeOptionsFromArgv(['--ros-args', '-x'], 'n'), /unknown --ros-args option '-x'/);
  });

  it('runs a plan in one process with registered node definitions', async () => {
    const seen: string[] = [];
    const registry = new NodeRegistry()
      .register(
        'dist/test/fixtures/graph/talker.js',
        defineNode({
          name: 'talker',
          create(node) {
            const count = node.declareParameter('count', 'integer', 1);
            const pub = node.createPublisher('std_msgs/msg/String', 'chatter', { qos: { depth: 20, durability: 'transient_local' } });
            for (let i = 0; i < count; i++) pub.publish({ data: `m${i}` });
          },
        }),
      )
      .register(
        'dist/test/fixtures/graph/listener.js',
        defineNode({
          name: 'listener',
          create(node) {
            const expected = node.declareParameter('expected', 'integer', 1);
            const prefix = node.declareParameter('prefix', 'string', '');
            let finish!: () => void;
            const done = new Promise<void>((r) => (finish = r));
            node.createSubscription('std_msgs/msg/String', 'conversation', { qos: { depth: 20, durability: 'transient_local' } }, (m) => {
              seen.push(`${prefix}:${m.data}`);
              if (seen.length === expected) finish();
            });
            return { done };
          },
        }),
      );
    const runtime = new InProcessRuntime({ log: () => {} });
    const run = await runLaunchPlan(planLaunch(FIXTURE, { args: { count: '2' } }), { registry, runtime, log: () => {} });
    await run.finished;
    await run.stop();
    assert.deepEqual(seen, ['heard:m0', 'heard:m1']);
    assert.ok(runtime.isShutdown);
  });

  it('refuses non-JS nodes and node files without a definition', async () => {
    const f = tempLaunch('launch:\n- node: {pkg: usb_cam, exec: usb_cam_node_exe, name: cam}\n');
    await assert.rejects(runLaunchPlan(planLaunch(f), { log: () => {} }), /not a JS node.*ros2 launch/);
    const dir = mkdtempSync(join(tmpdir(), 'gmps-node-'));
    writeFileSync(join(dir, 'bad.mjs'), 'export default { hello: 1 };\n');
    const g = tempLaunch(`launch:\n- node: {exec: node, args: "${join(dir, 'bad.mjs')}"}\n`);
    await assert.rejects(runLaunchPlan(planLaunch(g), { log: () => {} }), /does not export a node/);
  });

  it('gmps launch runs the example talker/listener end to end', async () => {
    const program = new Command().exitOverride();
    const bench = program.command('bench');
    registerGraph(program, bench);
    const out: string[] = [];
    const stdout = sinon.stub(process.stdout, 'write').callsFake((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    const stderr = sinon.stub(process.stderr, 'write').callsFake(() => true);
    try {
      await program.parseAsync(['node', 'gmps', 'launch', FIXTURE, 'count:=3', '--json']);
    } finally {
      stdout.restore();
      stderr.restore();
    }
    const heard = stderr.args.map((a) => String(a[0])).filter((l) => l.includes('heard hello'));
    assert.equal(heard.length, 3, heard.join(''));
    assert.match(heard[2]!, /\[demo\.listener\]: heard hello 3 on \/demo\/conversation/);
    const summary = JSON.parse(out.join('').trim()) as { status: string; nodes: string[] };
    assert.equal(summary.status, 'finished');
    assert.deepEqual(summary.nodes, ['/demo/talker', '/demo/listener']);
  });

  it('runs a node file standalone with --ros-args (in-process when ROS 2 is not sourced)', () => {
    const env = { ...process.env, AMENT_PREFIX_PATH: '' };
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'test/fixtures/graph/talker.ts', ...args], { env, encoding: 'utf8', timeout: 20000 });
    const ok = run('--ros-args', '-r', '__node:=t1', '-p', 'count:=2', '-p', 'rate_hz:=200.0');
    assert.equal(ok.status, 0, ok.stderr);
    const bad = run('--ros-args', '-p', 'count:=many');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /parameter 'count'.*expected integer, got the string "many"/);
  });
});
