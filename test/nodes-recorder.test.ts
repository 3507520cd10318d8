import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDemonstration } from '../src/data/demonstrations.js';
import { readMcapInfo } from '../src/data/mcap-reader.js';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import type { Publisher } from '../src/graph/types.js';
import { JOINT_NAMES } from '../src/robot/sawyer-model.js';
import { nextEpisodeIndex, parseTopicSpec, taskForEpisode } from '../src/teleop/recording.js';
import recorderNode from '../nodes/recorder.js';
import { quietRuntime, record, type Logged } from './helpers/nodes-graph.js';

/** Waits (wall clock) for `cond`, flushing deliveries: file writes take real time. */
async function until(rt: InProcessRuntime, cond: () => boolean, what: string, ms = 8000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    await rt.flush();
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SAVE = 1, DISCARD = 2, STOP = 3;
const DEG = Math.PI / 180;

describe('nodes: recorder (one MCAP per episode, rig without a simulator)', function () {
  this.timeout(20000);
  let rt: InProcessRuntime;
  let dir: string;
  let logs: Logged[];
  let running: RunningNode;
  let pubs: Record<string, Publisher>;
  let status: Msg[];
  let t = 0;

  const stamp = () => ({ sec: 100 + Math.floor(t / 20), nanosec: (t % 20) * 50_000_000 });
  /** One control step as the robot side and the teleop publish it. */
  const step = async (cmdX: number, doorAngle: number) => {
    t++;
    const header = { stamp: stamp(), frame_id: 'base' };
    pubs.js!.publish({ header, name: [...JOINT_NAMES], position: JOINT_NAMES.map((_, i) => 0.1 * i + t * 1e-3), velocity: [], effort: [] });
    pubs.hand!.publish({ header, pose: { position: { x: 0.3 + 0.01 * t, y: 0, z: 0.1 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } });
    pubs.angle!.publish({ data: doorAngle });
    pubs.cmd!.publish({ header, twist: { linear: { x: cmdX, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } } });
    await rt.flush();
  };
  const event = async (kind: number, outcome = 0, note = '') => {
    pubs.event!.publish({ header: { stamp: stamp(), frame_id: '' }, event: kind, outcome, note });
    await rt.flush();
  };
  const files = () => readdirSync(dir).filter((f) => f.endsWith('.mcap')).sort();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gmps-recorder-'));
    logs = [];
    t = 0;
    rt = quietRuntime(logs);
    const probe = rt.createNode('probe');
    status = record<Msg>(probe, 'gmps_msgs/msg/RecorderStatus', 'recorder/status', 'latched');
    pubs = {
      js: probe.createPublisher('sensor_msgs/msg/JointState', 'joint_states'),
      hand: probe.createPublisher('geometry_msgs/msg/PoseStamped', 'hand_pose'),
      angle: probe.createPublisher('std_msgs/msg/Float64', 'task/door_angle'),
      cmd: probe.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee'),
      event: probe.createPublisher('gmps_msgs/msg/EpisodeEvent', 'teleop/episode'),
    };
    running = await startNode(rt, recorderNode, {
      parameterOverrides: {
        hardware: 'sawyer',
        reset_time_s: 0.0,
        tail_ms: 0.0,
        output_dir: dir,
        target_deg: 20.0,
        operator: 'ada',
        topics: ['joint_states', 'hand_pose', 'cmd_ee', 'task/door_angle'],
      },
    });
    await until(rt, () => status.some((s) => s.phase === 'recording'), 'recording to start');
  });
  afterEach(async () => {
    await running?.stop();
    await rt?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('SAVE finalizes a readable file with task and result metadata; the next episode starts in a new file', async () => {
    await step(0, 0); // state before the first command: not a command, not a step
    for (let i = 0; i < 5; i++) await step(1, 0.1 * i);
    await step(0, 20 * DEG + 0.01); // the door ends within 5 deg of the 20 deg target
    await event(SAVE, 0, 'clean pull');
    await until(rt, () => status.some((s) => s.phase === 'recording' && s.episode === 2), 'episode 2');
    assert.deepEqual(files(), ['episode_0001.mcap', 'episode_0002.mcap']);

    const info = await readMcapInfo(join(dir, 'episode_0001.mcap'));
    assert.equal(info.truncated, false);
    assert.equal(info.profile, 'ros2');
    const count = Object.fromEntries(info.topics.map((x) => [x.topic, x.messageCount]));
    assert.equal(count['/cmd_ee'], 7);
    assert.equal(count['/hand_pose'], 7);
    const md = info.metadata['gmps.episode']!;
    assert.deepEqual(JSON.parse(md.task!), { kind: 'door', targetRad: 20 * DEG });
    assert.equal(md.operator, 'ada');
    assert.equal(md.episode, '1');
    const result = info.metadata['gmps.episode.result']!;
    assert.equal(result.success, 'true');
    assert.equal(result.success_judged_by, 'task state');
    assert.equal(result.note, 'clean pull');
    assert.equal(result.steps, '7');

    const demo = await loadDemonstration(join(dir, 'episode_0001.mcap'));
    assert.equal(demo.trajectory.length, 7);
    assert.equal(demo.success, true);
    assert.deepEqual(Array.from(demo.trajectory.actions.subarray(0, 6)), [0, 0, 0, 1, 0, 0]);
  });

  it('the operator outcome overrides the task state; DISCARD deletes the file and records the episode again', async () => {
    for (let i = 0; i < 3; i++) await step(1, 0);
    await event(DISCARD);
    await until(rt, () => status.filter((s) => s.phase === 'recording').length >= 2, 're-recording');
    assert.equal(status.at(-1)!.episode, 1, 'the same episode again');
    assert.deepEqual(files(), ['episode_0001.mcap'], 'the discarded file is gone; its name is reused');
    for (let i = 0; i < 3; i++) await step(-1, 0);
    await event(SAVE, 1 /* SUCCESS */);
    await until(rt, () => status.some((s) => s.episode === 2), 'episode 2');
    const info = await readMcapInfo(join(dir, 'episode_0001.mcap'));
    assert.equal(info.metadata['gmps.episode.result']!.success, 'true');
    assert.equal(info.metadata['gmps.episode.result']!.success_judged_by, 'operator');
    const demo = await loadDemonstration(join(dir, 'episode_0001.mcap'));
    assert.ok(Array.from(demo.trajectory.actions).filter((_, i) => i % 3 === 0).every((x) => x === -1), 'only the re-recorded commands');
  });

  it('STOP finalizes the episode with the operator outcome and ends the node', async () => {
    await step(1, 0);
    await event(SAVE);
    await until(rt, () => status.some((s) => s.episode === 2 && s.phase === 'recording'), 'episode 2');
    await step(0, 0);
    await event(STOP, 2 /* FAILURE */);
    await running.done;
    await until(rt, () => status.at(-1)!.phase === 'stopped', 'the stopped status');
    assert.equal(status.at(-1)!.saved, 2);
    assert.deepEqual(files(), ['episode_0001.mcap', 'episode_0002.mcap']);
    const r2 = (await readMcapInfo(join(dir, 'episode_0002.mcap'))).metadata['gmps.episode.result']!;
    assert.equal(r2.success, 'false');
  });

  it('an episode with no command is not kept', async () => {
    await step(1, 0);
    await event(SAVE);
    await until(rt, () => status.some((s) => s.episode === 2 && s.phase === 'recording'), 'episode 2');
    await event(SAVE); // nothing happened in episode 2
    await until(rt, () => logs.some((l) => /has no \/cmd_ee command/.test(l.message)), 'the warning');
    await until(rt, () => status.filter((s) => s.phase === 'recording' && s.episode === 2).length === 2, 'episode 2 again');
    assert.equal(status.at(-1)!.saved, 1);
    await step(1, 0);
    await event(STOP);
    await running.done;
    assert.deepEqual(files(), ['episode_0001.mcap', 'episode_0002.mcap']);
    assert.equal((await readMcapInfo(join(dir, 'episode_0002.mcap'))).metadata['gmps.episode.result']!.steps, '1', 'the re-recorded episode 2, not the empty one');
  });

  it('shutting down mid-episode keeps the file, marked interrupted', async () => {
    await step(1, 0);
    await step(1, 0);
    await running.stop();
    const info = await readMcapInfo(join(dir, 'episode_0001.mcap'));
    assert.equal(info.truncated, false);
    assert.match(info.metadata['gmps.episode.result']!.note!, /interrupted/);
  });
});

describe('teleop: recording bookkeeping', () => {
  it('continues file numbering after an earlier session and names known topics by type', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-recnames-'));
    try {
      assert.equal(nextEpisodeIndex(dir, 'episode'), 1);
      writeFileSync(join(dir, 'episode_0007.mcap'), '');
      writeFileSync(join(dir, 'other_0042.mcap'), '');
      assert.equal(nextEpisodeIndex(dir, 'episode'), 8);
      assert.ok(existsSync(join(dir, 'episode_0007.mcap')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(parseTopicSpec('camera/image_raw'), { name: 'camera/image_raw', type: 'sensor_msgs/msg/Image', qos: 'sensor_data', snapshot: true });
    assert.deepEqual(parseTopicSpec('/wrench:geometry_msgs/msg/WrenchStamped@sensor_data'), {
      name: '/wrench',
      type: 'geometry_msgs/msg/WrenchStamped',
      qos: 'sensor_data',
      snapshot: true,
    });
    assert.throws(() => parseTopicSpec('mystery'), /has no known type: write it as 'mystery:pkg\/msg\/Type'/);
    assert.throws(() => parseTopicSpec('x:geometry_msgs/WrenchStamped'), /name:pkg\/msg\/Type/);
  });

  it('cycles door targets across episodes and refuses angles outside [0, 60] deg', () => {
    const p = { targetDeg: 30, targetsDeg: [10, 40], goal: [0.65, 0] };
    assert.deepEqual([1, 2, 3].map((e) => (taskForEpisode('door', e, p) as { targetRad: number }).targetRad / DEG).map(Math.round), [10, 40, 10]);
    assert.equal((taskForEpisode('door', 5, { ...p, targetsDeg: [] }) as { targetRad: number }).targetRad, 30 * DEG);
    assert.throws(() => taskForEpisode('door', 1, { ...p, targetsDeg: [75] }), /outside \[0, 60\] deg/);
  });
});
