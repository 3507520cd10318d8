import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { McapIndexedReader } from '@mcap/core';
import { FileHandleReadable } from '@mcap/nodejs';
import { open } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { McapRecorder, EPISODE_METADATA, EPISODE_RESULT_METADATA } from '../src/data/mcap-writer.js';
import { McapEpisodeReader, McapFormatError, readMcapInfo } from '../src/data/mcap-reader.js';
import { offeredQosYaml } from '../src/data/rosbag2-meta.js';
import { ros2msgSchemaText } from '../src/data/ros2-types.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const W = 64;
const H = 48;

function image(i: number, w = W, h = H): { header: unknown; height: number; width: number; encoding: string; is_bigendian: number; step: number; data: Uint8Array } {
  const data = new Uint8Array(w * h * 3);
  for (let k = 0; k < data.length; k++) data[k] = (k * 7 + i * 13) & 0xff;
  return { header: { stamp: { sec: 100 + i, nanosec: 5 }, frame_id: 'camera' }, height: h, width: w, encoding: 'rgb8', is_bigendian: 0, step: w * 3, data };
}

function jointState(i: number) {
  return {
    header: { stamp: { sec: 100 + i, nanosec: 0 }, frame_id: '' },
    name: ['right_j0', 'right_j1'],
    position: [0.1 * i, -1.18],
    velocity: [0, 0],
    effort: [0, 0],
  };
}

/** A deterministic clock: 10 ms per call, from a fixed epoch. */
function stepClock(startNs = 1_700_000_000_000_000_000n, stepNs = 10_000_000n): () => bigint {
  let t = startNs;
  return () => (t += stepNs);
}

const TOPICS = [
  { topic: '/camera/image_raw', type: 'sensor_msgs/msg/Image', qos: { reliability: 'best_effort' as const } },
  { topic: '/joint_states', type: 'sensor_msgs/msg/JointState' },
];

describe('data: MCAP recorder and reader (rosbag2 profile)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gmps-mcap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function recordSmall(path: string, n = 10): Promise<void> {
    const rec = await McapRecorder.open({ path, topics: TOPICS, clockNs: stepClock(), chunkSize: 16 * 1024,
      episode: { task: JSON.stringify({ kind: 'door', targetRad: 0.3 }), operator: 'alice' } });
    for (let i = 0; i < n; i++) {
      await rec.write('/camera/image_raw', image(i));
      await rec.write('/joint_states', jointState(i));
    }
    const summary = await rec.close({ success: 'true', note: 'clean open' });
    assert.equal(summary.messageCount, 2 * n);
    assert.equal(summary.dropped, 0);
  }

  it('writes images + joint states + metadata and reads them back equal, in log-time order', async () => {
    const path = join(dir, 'ep.mcap');
    await recordSmall(path);
    const r = await McapEpisodeReader.open(path);
    try {
      assert.equal(r.info.truncated, false);
      assert.equal(r.info.messageCount, 20);
      assert.deepEqual(r.info.metadata[EPISODE_METADATA], { task: '{"kind":"door","targetRad":0.3}', operator: 'alice' });
      assert.deepEqual(r.info.metadata[EPISODE_RESULT_METADATA], { success: 'true', note: 'clean open' });
      let i = 0;
      let last = -1n;
      for await (const m of r.messages()) {
        assert.ok(m.logTimeNs > last, 'log time increases');
        last = m.logTimeNs;
        const k = Math.floor(i / 2);
        if (i % 2 === 0) {
          assert.equal(m.topic, '/camera/image_raw');
          const img = m.message as ReturnType<typeof image>;
          assert.equal(img.encoding, 'rgb8');
          assert.deepEqual(Buffer.from(img.data), Buffer.from(image(k).data));
          assert.deepEqual(img.header, { stamp: { sec: 100 + k, nanosec: 5 }, frame_id: 'camera' });
        } else {
          assert.equal(m.topic, '/joint_states');
          const js = m.message as { name: string[]; position: Float64Array };
          assert.deepEqual(js.name, ['right_j0', 'right_j1']);
          assert.ok(Math.abs(js.position[0]! - 0.1 * k) < 1e-12);
        }
        i++;
      }
      assert.equal(i, 20);
      const only: string[] = [];
      for await (const m of r.messages({ topics: ['/joint_states'] })) only.push(m.topic);
      assert.equal(only.length, 10);
    } finally {
      await r.close();
    }
  });

  it('has the ros2 profile, cdr channels with rosbag2 QoS YAML, ros2msg schemas, statistics and rosbag2 metadata', async () => {
    const path = join(dir, 'ep.mcap');
    await recordSmall(path);
    const fh = await open(path, 'r');
    try {
      const r = await McapIndexedReader.Initialize({ readable: new FileHandleReadable(fh) });
      assert.equal(r.header.profile, 'ros2');
      assert.ok(r.statistics, 'statistics record present');
      assert.equal(r.statistics.messageCount, 20n);
      assert.ok(r.statistics.chunkCount > 1, 'several chunks');
      const channels = [...r.channelsById.values()];
      const byTopic = new Map(channels.map((c) => [c.topic, c]));
      for (const c of channels) {
        assert.equal(c.messageEncoding, 'cdr');
        const schema = r.schemasById.get(c.schemaId)!;
        assert.equal(schema.encoding, 'ros2msg');
      }
      assert.equal(r.schemasById.get(byTopic.get('/camera/image_raw')!.schemaId)!.name, 'sensor_msgs/msg/Image');
      assert.equal(r.schemasById.get(byTopic.get('/joint_states')!.schemaId)!.name, 'sensor_msgs/msg/JointState');
      const imgSchema = new TextDecoder().decode(r.schemasById.get(byTopic.get('/camera/image_raw')!.schemaId)!.data);
      assert.ok(imgSchema.startsWith('std_msgs/Header header\nuint32 height\n'));
      assert.match(imgSchema, new RegExp(`\n\n${'='.repeat(80)}\nMSG: std_msgs/Header\nbuiltin_interfaces/Time stamp\nstring frame_id\n`));
      assert.match(imgSchema, new RegExp(`\n${'='.repeat(80)}\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n$`));
      // The QoS as rosbag2 stores it: a YAML sequence with integer policies and {sec, nsec} durations.
      const qos = parseYaml(byTopic.get('/camera/image_raw')!.metadata.get('offered_qos_profiles')!) as Record<string, unknown>[];
      assert.equal(qos.length, 1);
      assert.deepEqual(Object.keys(qos[0]!), ['history', 'depth', 'reliability', 'durability', 'deadline', 'lifespan', 'liveliness',
        'liveliness_lease_duration', 'avoid_ros_namespace_conventions']);
      assert.equal(qos[0]!.reliability, 2, 'best effort image topic');
      assert.deepEqual(qos[0]!.deadline, { sec: 9223372036, nsec: 854775807 });
      assert.equal((parseYaml(byTopic.get('/joint_states')!.metadata.get('offered_qos_profiles')!) as Record<string, unknown>[])[0]!.reliability, 1);
      // CDR little-endian encapsulation, logTime == publishTime when none given.
      for await (const m of r.readMessages({ topics: ['/joint_states'] })) {
        assert.deepEqual([...m.data.subarray(0, 4)], [0, 1, 0, 0]);
        assert.equal(m.logTime, m.publishTime);
        break;
      }
      const bag: Record<string, string> = {};
      for await (const md of r.readMetadata({ name: 'rosbag2' })) Object.assign(bag, Object.fromEntries(md.metadata));
      const meta = (parseYaml(bag.serialized_metadata!) as { rosbag2_bagfile_information: Record<string, unknown> }).rosbag2_bagfile_information;
      assert.equal(meta.version, 8);
      assert.equal(meta.storage_identifier, 'mcap');
      assert.equal(meta.message_count, 20);
      assert.equal(meta.ros_distro, 'humble');
      const topics = meta.topics_with_message_count as { topic_metadata: { name: string; type: string; offered_qos_profiles: string }; message_count: number }[];
      assert.deepEqual(topics.map((t) => [t.topic_metadata.name, t.topic_metadata.type, t.message_count]),
        [['/camera/image_raw', 'sensor_msgs/msg/Image', 10], ['/joint_states', 'sensor_msgs/msg/JointState', 10]]);
      assert.equal(topics[0]!.topic_metadata.offered_qos_profiles, offeredQosYaml({ reliability: 'best_effort' }));
    } finally {
      await fh.close();
    }
  });

  it('QoS YAML is byte-identical to rosbag2 (Humble) for a reliable volatile publisher', () => {
    assert.equal(offeredQosYaml(),
      '- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n    sec: 9223372036\n    nsec: 854775807\n' +
      '  lifespan:\n    sec: 9223372036\n    nsec: 854775807\n  liveliness: 1\n  liveliness_lease_duration:\n' +
      '    sec: 9223372036\n    nsec: 854775807\n  avoid_ros_namespace_conventions: false');
  });

  it('schema text lists each dependency once, depth-first in sorted order, as rosbag2 does', () => {
    const text = ros2msgSchemaText('geometry_msgs/msg/PoseStamped');
    const deps = [...text.matchAll(/^MSG: (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(deps, ['geometry_msgs/Pose', 'geometry_msgs/Point', 'geometry_msgs/Quaternion', 'std_msgs/Header', 'builtin_interfaces/Time']);
  });

  it('a recorder killed mid-recording (SIGKILL) leaves a file readable up to its last chunk, reported truncated', async () => {
    const path = join(dir, 'killed.mcap');
    const child = join(dir, "child.mts");
    const writerUrl = pathToFileURL(join(repo, 'src/data/mcap-writer.ts')).href;
    writeFileSync(child, `
import { McapRecorder } from ${JSON.stringify(writerUrl)};
const W = 320, H = 240;
const rec = await McapRecorder.open({ path: process.argv[2], chunkSize: 256 * 1024, syncIntervalMs: 0,
  topics: [{ topic: '/camera/image_raw', type: 'sensor_msgs/msg/Image' }, { topic: '/joint_states', type: 'sensor_msgs/msg/JointState' }],
  episode: { door_angle_rad: '0.25', operator: 'bob' } });
for (let i = 0; ; i++) {
  const data = new Uint8Array(W * H * 3).fill(i & 0xff);
  await rec.write('/camera/image_raw', { header: { stamp: { sec: i, nanosec: 0 }, frame_id: 'c' }, height: H, width: W, encoding: 'rgb8', is_bigendian: 0, step: W * 3, data });
  await rec.write('/joint_states', { header: { stamp: { sec: i, nanosec: 0 }, frame_id: '' }, name: ['right_j0'], position: [i], velocity: [], effort: [] });
  if (i === 40) process.stdout.write('written 41\\n');
  if (i > 40) await new Promise((r) => setTimeout(r, 2));
}
`);
    const proc = spawn(process.execPath, ['--import', 'tsx', child, path], { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => (out += String(d)));
    proc.stderr.on('data', (d) => (err += String(d)));
    const exited = new Promise((r) => proc.once('exit', r));
    const deadline = Date.now() + 20_000;
    while (!out.includes('written 41') && Date.now() < deadline && proc.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    assert.ok(out.includes('written 41'), `child recorder did not start: ${err}`);
    proc.kill('SIGKILL');
    await exited;

    const info = await readMcapInfo(path);
    assert.equal(info.truncated, true);
    assert.match(info.note ?? '', /truncated/);
    assert.equal(info.profile, 'ros2');
    assert.deepEqual(info.metadata[EPISODE_METADATA], { door_angle_rad: '0.25', operator: 'bob' });
    // 41 images of 230 kB with 256 kB chunks: at least the first 40 are in completed chunks.
    const images = info.topics.find((t) => t.topic === '/camera/image_raw')!.messageCount;
    assert.ok(images >= 40, `recovered ${images} images`);
    const r = await McapEpisodeReader.open(path);
    try {
      let k = 0;
      for await (const m of r.messages({ topics: ['/camera/image_raw'] })) {
        const img = m.message as { data: Uint8Array; width: number };
        assert.equal(img.width, 320);
        assert.equal(img.data[0], k & 0xff, `image ${k} content`);
        assert.equal(img.data[img.data.length - 1], k & 0xff);
        k++;
      }
      assert.equal(k, images);
    } finally {
      await r.close();
    }
  });

  it('recovers a file cut inside a record and reports where it stops', async () => {
    const path = join(dir, 'cut.mcap');
    await recordSmall(path);
    truncateSync(path, Math.floor(statSync(path).size * 0.6));
    const info = await readMcapInfo(path);
    assert.equal(info.truncated, true);
    assert.match(info.note ?? '', /incomplete last record/);
    assert.ok(info.messageCount > 0 && info.messageCount < 20);
  });

  it('gives a clear error for a file that is not MCAP and for corrupt chunk data', async () => {
    const notMcap = join(dir, 'x.mcap');
    writeFileSync(notMcap, 'this is a text file, not a recording');
    await assert.rejects(McapEpisodeReader.open(notMcap), (e: unknown) => e instanceof McapFormatError && /not an MCAP file/.test(e.message));
    await assert.rejects(McapEpisodeReader.open(join(dir, 'missing.mcap')), /no such file/);

    const path = join(dir, 'corrupt.mcap');
    await recordSmall(path);
    const bytes = readFileSync(path);
    // Flip bytes inside the first image's pixels (inside a chunk, so its CRC no longer matches).
    const at = bytes.indexOf(Buffer.from(image(0).data.subarray(100, 132)));
    assert.ok(at > 0);
    for (let i = 0; i < 16; i++) bytes[at + i] ^= 0xff;
    writeFileSync(path, bytes);
    const r = await McapEpisodeReader.open(path);
    try {
      await assert.rejects(async () => {
        for await (const _ of r.messages()) { /* read all */ }
      }, (e: unknown) => e instanceof McapFormatError && /corrupt\.mcap/.test(e.message) && /crc/i.test(e.message));
    } finally {
      await r.close();
    }
  });

  it('rejects unknown topics and types and never overwrites a recording', async () => {
    const path = join(dir, 'a.mcap');
    await assert.rejects(McapRecorder.open({ path, topics: [{ topic: '/x', type: 'nope_msgs/msg/Thing' }] }), /unknown ROS 2 message type nope_msgs/);
    const rec = await McapRecorder.open({ path, topics: TOPICS });
    assert.throws(() => rec.write('/other', {}), /not part of this recording/);
    await assert.rejects(rec.write('/joint_states', { name: 5 }), /does not fit sensor_msgs\/msg\/JointState/);
    await rec.close();
    await assert.rejects(McapRecorder.open({ path, topics: TOPICS }), /already exists/);
  });
});
