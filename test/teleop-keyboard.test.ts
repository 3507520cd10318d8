import assert from 'node:assert/strict';
import { KeyDecoder, KeyboardTeleop } from '../src/teleop/keyboard.js';

const ESC = '\x1b';

describe('teleop: keyboard decoding', () => {
  it('decodes letters, arrows in both cursor modes, space, Ctrl-C', () => {
    const d = new KeyDecoder();
    assert.deepEqual(d.feed(`wA${ESC}[C${ESC}[D${ESC}OA ${'\x03'}`, 0), ['w', 'a', 'right', 'left', 'up', 'space', 'ctrl-c']);
  });

  it('an arrow sequence split across reads is one key; a lone ESC is Esc only after the timeout', () => {
    const d = new KeyDecoder(50);
    assert.deepEqual(d.feed(ESC, 0), []);
    assert.deepEqual(d.feed('[', 10), []);
    assert.deepEqual(d.feed('C', 20), ['right']);
    assert.deepEqual(d.feed(ESC, 100), []);
    assert.deepEqual(d.flush(120), [], 'still inside the timeout');
    assert.deepEqual(d.flush(151), ['escape']);
    assert.deepEqual(d.flush(300), []);
  });

  it('ESC followed by a plain key is Esc then that key', () => {
    assert.deepEqual(new KeyDecoder().feed(`${ESC}w`, 0), ['escape', 'w']);
  });
});

describe('teleop: keyboard commands and episode keys', () => {
  it('maps w/s a/d r/f to ±x ±y ±z at the speed scale', () => {
    const cases: Array<[string, [number, number, number]]> = [
      ['w', [0.5, 0, 0]],
      ['s', [-0.5, 0, 0]],
      ['a', [0, 0.5, 0]],
      ['d', [0, -0.5, 0]],
      ['r', [0, 0, 0.5]],
      ['f', [0, 0, -0.5]],
    ];
    for (const [key, want] of cases) {
      const kb = new KeyboardTeleop({ speed: 0.5 });
      kb.feed(key, 0);
      assert.deepEqual(kb.command(10).linear, want, key);
    }
    const kb = new KeyboardTeleop({ speed: 1 });
    kb.feed('wdr', 0);
    assert.deepEqual(kb.command(10).linear, [1, -1, 1], 'three axes at once');
  });

  it('a held key (auto-repeat) keeps moving; motion stops shortly after the repeats stop', () => {
    const kb = new KeyboardTeleop({ speed: 1, initialHoldMs: 600, repeatHoldMs: 150 });
    kb.feed('w', 0);
    assert.equal(kb.command(400).linear[0], 1, 'bridges the auto-repeat delay');
    for (let t = 500; t <= 1500; t += 33) {
      kb.feed('w', t);
      assert.equal(kb.command(t + 20).linear[0], 1, `held at ${t} ms`);
    }
    const lastRepeat = 1490;
    assert.equal(kb.command(lastRepeat + 140).linear[0], 1);
    assert.equal(kb.command(lastRepeat + 160).linear[0], 0, 'released');
  });

  it('a tap moves only for the initial hold; the opposite key reverses at once', () => {
    const kb = new KeyboardTeleop({ speed: 1, initialHoldMs: 300 });
    kb.feed('a', 0);
    assert.equal(kb.command(299).linear[1], 1);
    assert.equal(kb.command(301).linear[1], 0);
    kb.feed('a', 1000);
    kb.feed('d', 1010);
    assert.equal(kb.command(1020).linear[1], -1);
  });

  it('+ / - change the speed within (0, 1]', () => {
    const kb = new KeyboardTeleop({ speed: 0.5, speedStep: 0.1 });
    kb.feed('++', 0);
    assert.equal(kb.speed, 0.7);
    kb.feed('++++++', 0);
    assert.equal(kb.speed, 1);
    kb.feed('-'.repeat(20), 0);
    assert.equal(kb.speed, 0.1);
    kb.feed('w', 0);
    assert.ok(Math.abs(kb.command(1).linear[0] - 0.1) < 1e-12);
  });

  it('→ saves, ← discards, Esc stops (after its timeout), space toggles the gripper, Ctrl-C interrupts', () => {
    const kb = new KeyboardTeleop();
    assert.deepEqual(kb.feed(`${ESC}[C${ESC}[D `, 0), ['save', 'discard', 'gripper']);
    assert.deepEqual(kb.feed(ESC, 100), []);
    assert.deepEqual(kb.command(200).events, ['stop']);
    assert.deepEqual(kb.feed('\x03', 300), ['interrupt']);
    assert.deepEqual(kb.command(300).linear, [0, 0, 0], 'episode keys do not move the arm');
  });

  it('rejects a speed outside (0, 1]', () => {
    assert.throws(() => new KeyboardTeleop({ speed: 0 }), /speed must be in \(0, 1\]/);
    assert.throws(() => new KeyboardTeleop({ speed: 2 }), /speed/);
  });
});

describe('teleop: node with device keyboard', function () {
  this.timeout(20000);
  const stdin = process.stdin as NodeJS.ReadStream & { setRawMode?: (on: boolean) => unknown };
  const saved = { isTTY: Object.getOwnPropertyDescriptor(stdin, 'isTTY'), setRawMode: Object.getOwnPropertyDescriptor(stdin, 'setRawMode') };
  const rawModes: boolean[] = [];
  let rt: import('../src/graph/inprocess.js').InProcessRuntime | undefined;
  let running: import('../src/graph/node-entry.js').RunningNode | undefined;

  beforeEach(() => {
    rawModes.length = 0;
    Object.defineProperty(stdin, 'isTTY', { value: true, configurable: true });
    Object.defineProperty(stdin, 'setRawMode', { value: (on: boolean) => rawModes.push(on), configurable: true, writable: true });
  });
  afterEach(async () => {
    await running?.stop();
    await rt?.shutdown();
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(stdin, k, d);
      else delete (stdin as unknown as Record<string, unknown>)[k];
    }
  });

  it('turns terminal bytes into cmd_ee commands and episode events, and restores the terminal', async () => {
    const { startNode } = await import('../src/graph/node-entry.js');
    const { default: teleopNode } = await import('../nodes/teleop.js');
    const { quietRuntime, record, until } = await import('./helpers/nodes-graph.js');
    rt = quietRuntime();
    const probe = rt.createNode('probe');
    type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const cmds = record<Msg>(probe, 'geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const events = record<Msg>(probe, 'gmps_msgs/msg/EpisodeEvent', 'teleop/episode');
    const clock = probe.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' });
    running = await startNode(rt, teleopNode, { parameterOverrides: { device: 'keyboard', lockstep: true, speed: 1.0, speak: false } });
    assert.deepEqual(rawModes, [true], 'raw mode on');
    stdin.emit('data', Buffer.from('wf'));
    clock.publish({ clock: { sec: 1, nanosec: 0 } });
    await until(rt, () => cmds.length === 1, 'a command');
    const l = cmds[0]!.twist.linear;
    assert.deepEqual([l.x, l.y, l.z], [1, 0, -1]);
    stdin.emit('data', Buffer.from(`${ESC}[C${ESC}[D`));
    await until(rt, () => events.length === 2, 'save and discard');
    assert.deepEqual(events.map((e) => e.event), [1, 2]);
    await running.stop();
    running = undefined;
    assert.deepEqual(rawModes, [true, false], 'raw mode off again');
  });

  it('refuses to start without a terminal, saying what to do', async () => {
    Object.defineProperty(stdin, 'isTTY', { value: false, configurable: true });
    const { startNode } = await import('../src/graph/node-entry.js');
    const { default: teleopNode } = await import('../nodes/teleop.js');
    const { quietRuntime } = await import('./helpers/nodes-graph.js');
    rt = quietRuntime();
    await assert.rejects(startNode(rt, teleopNode, { parameterOverrides: { device: 'keyboard', speak: false } }), /needs a terminal.*device:=joy/);
  });
});
