import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McapRecorder } from '../src/data/mcap-writer.js';
import { episodeMetadata, imageToRgb8, loadDemonstration, McapDemonstrationSource } from '../src/data/demonstrations.js';
import { stackObservations } from '../src/learning/trajectory.js';

const IMG_W = 640;
const IMG_H = 480;

const frames = new Map<number, Uint8Array>();
/** 640x480 frame whose left half is red and right half is a gray level `g`. */
function frame(g: number) {
  const data = frames.get(g) ?? pixels(g);
  frames.set(g, data);
  return { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'cam' }, height: IMG_H, width: IMG_W, encoding: 'rgb8', is_bigendian: 0, step: IMG_W * 3, data };
}

function pixels(g: number): Uint8Array {
  const data = new Uint8Array(IMG_W * IMG_H * 3);
  for (let y = 0; y < IMG_H; y++) {
    for (let x = 0; x < IMG_W; x++) {
      const i = (y * IMG_W + x) * 3;
      if (x < IMG_W / 2) data[i] = 255;
      else data[i] = data[i + 1] = data[i + 2] = g;
    }
  }
  return data;
}

const stamp = { sec: 0, nanosec: 0 };
const pose = (x: number) => ({ header: { stamp, frame_id: 'base' }, pose: { position: { x, y: 0.16, z: 0.2 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } });
const cmd = (x: number, y = 0, z = 0) => ({ header: { stamp, frame_id: 'base' }, twist: { linear: { x, y, z }, angular: { x: 0, y: 0, z: 0 } } });
const joints = (q: number) => ({ header: { stamp, frame_id: '' }, name: ['head_pan', 'right_j0'], position: [9, q], velocity: [], effort: [] });

const TOPICS = [
  { topic: '/camera/image_raw', type: 'sensor_msgs/msg/Image' },
  { topic: '/joint_states', type: 'sensor_msgs/msg/JointState' },
  { topic: '/hand_pose', type: 'geometry_msgs/msg/PoseStamped' },
  { topic: '/cmd_ee', type: 'geometry_msgs/msg/TwistStamped' },
  { topic: '/task/door_angle', type: 'std_msgs/msg/Float64' },
];

/** Clock advanced by the test: log time = `now` ms. */
function manualClock() {
  const c = { ms: 0, ns: () => BigInt(Math.round(c.ms * 1e6)) + 1_000_000_000_000n };
  return c;
}

describe('data: MCAP episodes → GMPS demonstrations', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gmps-demo-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** 30 Hz camera, 100 Hz joints/hand, 10 Hz commands, for `seconds`. Command k = (k/10 - 1) clipped later. */
  async function recordEpisode(path: string, opts: { angle?: number; viaTopic?: boolean; success?: boolean; seconds?: number; cmdScale?: number } = {}) {
    const clock = manualClock();
    const rec = await McapRecorder.open({
      path, topics: TOPICS, clockNs: clock.ns,
      episode: opts.viaTopic ? undefined : episodeMetadata({ kind: 'door', targetRad: opts.angle ?? 0.3 }, { operator: 'alice' }),
    });
    if (opts.viaTopic) await rec.write('/task/door_angle', { data: opts.angle ?? 0.3 });
    const ticks = (opts.seconds ?? 1) * 300; // one tick = 10/3 ms
    let cmdK = 0;
    for (let tick = 0; tick <= ticks; tick++) {
      const ms = (tick * 10) / 3;
      clock.ms = ms;
      if (tick % 10 === 0) await rec.write('/camera/image_raw', frame(Math.round(ms / 10) % 256));
      if (tick % 3 === 0) {
        await rec.write('/joint_states', joints(ms / 1000));
        await rec.write('/hand_pose', pose(0.4 + ms / 10000));
      }
      if (tick % 30 === 15) {
        await rec.write('/cmd_ee', cmd((opts.cmdScale ?? 1) * (cmdK / 10 - 0.5), 0.25, -0.5));
        cmdK++;
      }
    }
    await rec.close(opts.success === undefined ? {} : { success: String(opts.success), note: 'demo' });
  }

  it('aligns one step per command with the latest image, hand and joints before it', async () => {
    const path = join(dir, 'ep.mcap');
    await recordEpisode(path, { angle: 0.3, success: true });
    const d = await loadDemonstration(path);
    const tr = d.trajectory;
    assert.deepEqual(tr.task, { kind: 'door', targetRad: 0.3 });
    assert.deepEqual([...tr.context], [0.3]);
    assert.equal(tr.length, 10, 'commands at 50, 150, ..., 950 ms');
    assert.equal(d.success, true);
    assert.equal(tr.envInfos.success![tr.length - 1], 1);
    assert.equal(tr.actionDim, 3);
    assert.ok(Math.abs(tr.actions[0]! - -0.5) < 1e-6 && Math.abs(tr.actions[1]! - 0.25) < 1e-6 && Math.abs(tr.actions[2]! - -0.5) < 1e-6);
    // The first command comes at 50 ms: the latest hand pose then is the one at 50 ms (x = 0.405).
    assert.ok(Math.abs(tr.hands[0]! - 0.405) < 1e-5, `hand x ${tr.hands[0]}`);
    assert.equal(tr.stateDim, 3, 'state = hand xyz without a state topic');
    assert.deepEqual(d.jointNames, ['head_pan', 'right_j0']);
    assert.ok(Math.abs(d.joints[1]! - 0.05) < 1e-6, 'right_j0 by name');
    assert.deepEqual(tr.imageShape, { height: 48, width: 64 });
    assert.equal(tr.images!.length, 10 * 48 * 64 * 3);
    // Left half red, right half gray level of the frame at <= 50 ms (frame at ~33 ms → g = 3).
    const px = (t: number, y: number, x: number) => [...tr.images!.subarray(t * 9216 + (y * 64 + x) * 3, t * 9216 + (y * 64 + x) * 3 + 3)];
    assert.deepEqual(px(0, 10, 5), [255, 0, 0]);
    assert.deepEqual(px(0, 40, 60), [3, 3, 3]);
    // Vision observation rows: image in [0, 1] then hand xyz.
    const obs = stackObservations([tr], 'vision');
    assert.equal(obs.length, 10 * (9216 + 3));
    assert.ok(Math.abs(obs[0]! - 1) < 1e-6);
    assert.ok(Math.abs(obs[9216]! - tr.hands[0]!) < 1e-6);
  });

  it('resamples on a fixed control-rate grid with zero-order hold', async () => {
    const path = join(dir, 'ep.mcap');
    await recordEpisode(path);
    const d = await loadDemonstration(path, { controlHz: 20 });
    // Commands from 50 ms to 950 ms: grid at 50, 100, ..., 950 ms = 19 steps (none after the last command).
    assert.equal(d.trajectory.length, 19);
    // Steps 0 and 1 (50, 100 ms) both hold the first command; step 2 (150 ms) the second.
    assert.equal(d.trajectory.actions[0], d.trajectory.actions[3]);
    assert.ok(Math.abs(d.trajectory.actions[6]! - -0.4) < 1e-6);
  });

  it('clips actions to [-1, 1] and counts them; reads the task from the door-angle topic', async () => {
    const path = join(dir, 'ep.mcap');
    await recordEpisode(path, { viaTopic: true, angle: 0.2, cmdScale: 4, seconds: 0.5 });
    const d = await loadDemonstration(path);
    assert.deepEqual(d.trajectory.task, { kind: 'door', targetRad: 0.2 });
    assert.ok(d.clippedActions > 0);
    for (const a of d.trajectory.actions) assert.ok(a >= -1 && a <= 1);
  });

  it('groups episodes by task as a DemonstrationSource and filters failures', async () => {
    await recordEpisode(join(dir, 'a.mcap'), { angle: 0.3, success: true, seconds: 0.2 });
    await recordEpisode(join(dir, 'b.mcap'), { angle: 0.3, success: true, seconds: 0.2 });
    await recordEpisode(join(dir, 'c.mcap'), { angle: 0.15, success: true, seconds: 0.2 });
    await recordEpisode(join(dir, 'd.mcap'), { angle: 0.15, success: false, seconds: 0.2 });
    const paths = ['a', 'b', 'c', 'd'].map((n) => join(dir, `${n}.mcap`));
    const src = await McapDemonstrationSource.load(paths, { onlySuccessful: true });
    assert.deepEqual(src.tasks(), [{ kind: 'door', targetRad: 0.3 }, { kind: 'door', targetRad: 0.15 }]);
    assert.equal(src.demos({ kind: 'door', targetRad: 0.3 }).length, 2);
    assert.equal(src.demos({ kind: 'door', targetRad: 0.15 }).length, 1);
    assert.throws(() => src.demos({ kind: 'door', targetRad: 0.5 }), /no demonstrations for task door:0.5/);
  });

  it('says which topic is missing and when no task is named', async () => {
    const path = join(dir, 'ep.mcap');
    const rec = await McapRecorder.open({ path, topics: TOPICS.slice(2, 4) });
    await rec.write('/hand_pose', pose(0.4));
    await rec.write('/cmd_ee', cmd(0.1));
    await rec.close();
    await assert.rejects(loadDemonstration(path), /names no task/);
    const d = await loadDemonstration(path, { defaultTask: { kind: 'door', targetRad: 0.1 } });
    assert.equal(d.trajectory.length, 1);
    assert.equal(d.trajectory.images, undefined);
    await assert.rejects(loadDemonstration(path, { topics: { command: '/teleop/cmd' } }), /has no \/teleop\/cmd topic/);
  });

  it('converts bgr8 / mono8 / padded rows to packed RGB8', () => {
    const bgr = imageToRgb8({ width: 2, height: 1, encoding: 'bgr8', step: 8, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 0, 0) });
    assert.deepEqual([...bgr], [3, 2, 1, 6, 5, 4]);
    const mono = imageToRgb8({ width: 2, height: 1, encoding: 'mono8', step: 2, data: Uint8Array.of(7, 9) });
    assert.deepEqual([...mono], [7, 7, 7, 9, 9, 9]);
    assert.throws(() => imageToRgb8({ width: 1, height: 1, encoding: '16UC1', step: 2, data: new Uint8Array(2) }), /not supported/);
  });
});
