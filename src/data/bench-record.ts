/**
 * Recording throughput: a simulated teleoperation session (30 Hz 640x480 rgb8 camera, 100 Hz
 * joint states and hand poses, 10 Hz commands) offered to the recorder. `realtime` paces the
 * offers by the wall clock (the true test: does the disk keep up without a growing queue); the
 * accelerated mode offers as fast as the recorder absorbs them, which bounds the sustainable rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { McapRecorder } from './mcap-writer.js';

export interface RecordBenchOptions {
  /** Simulated session length, seconds. */
  seconds: number;
  realtime: boolean;
  dir?: string;
  chunkSize?: number;
}

export interface RecordBenchResult {
  sessionSeconds: number;
  realtime: boolean;
  wallSeconds: number;
  framesOffered: number;
  framesWritten: number;
  dropped: number;
  messagesWritten: number;
  megabytes: number;
  megabytesPerSecond: number;
  /** How many times faster than real time the recorder absorbed the session. */
  realtimeFactor: number;
  p50WriteLatencyMs: number;
  p99WriteLatencyMs: number;
  maxWriteLatencyMs: number;
  maxQueuedMegabytes: number;
}

export async function benchRecord(opts: RecordBenchOptions): Promise<RecordBenchResult> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'gmps-bench-record-'));
  const path = join(dir, `bench-${process.pid}-${Date.now()}.mcap`);
  const W = 640, H = 480;
  const frames = [0, 1, 2, 3].map((k) => {
    const d = new Uint8Array(W * H * 3);
    for (let i = 0; i < d.length; i++) d[i] = (i * 31 + k * 17) & 0xff;
    return d;
  });
  const simStartNs = BigInt(Date.now()) * 1_000_000n;
  let simNs = simStartNs;
  const rec = await McapRecorder.open({
    path,
    chunkSize: opts.chunkSize,
    clockNs: opts.realtime ? undefined : () => simNs,
    topics: [
      { topic: '/camera/image_raw', type: 'sensor_msgs/msg/Image', qos: { reliability: 'best_effort' } },
      { topic: '/joint_states', type: 'sensor_msgs/msg/JointState' },
      { topic: '/hand_pose', type: 'geometry_msgs/msg/PoseStamped' },
      { topic: '/cmd_ee', type: 'geometry_msgs/msg/TwistStamped' },
    ],
    episode: { task: JSON.stringify({ kind: 'door', targetRad: 0.3 }), operator: 'bench' },
  });
  const names = ['right_j0', 'right_j1', 'right_j2', 'right_j3', 'right_j4', 'right_j5', 'right_j6'];
  let framesOffered = 0;
  const pending: Promise<void>[] = [];
  const errors: Error[] = [];
  const offer = (p: Promise<void>): void => {
    pending.push(p.catch((e: Error) => void errors.push(e)));
    if (pending.length > 4096) pending.splice(0, 2048);
  };
  const t0 = performance.now();
  // One tick = 10 ms of session time: joints + hand each tick, a frame every 1/30 s, a command every 100 ms.
  const ticks = Math.round(opts.seconds * 100);
  let nextFrameS = 0;
  for (let k = 0; k < ticks; k++) {
    const tS = k / 100;
    simNs = simStartNs + BigInt(k) * 10_000_000n;
    if (opts.realtime) {
      const ahead = tS * 1000 - (performance.now() - t0);
      if (ahead > 1) await new Promise((r) => setTimeout(r, ahead));
    }
    const stamp = { sec: Math.floor(tS), nanosec: Math.round((tS % 1) * 1e9) };
    offer(rec.write('/joint_states', { header: { stamp, frame_id: '' }, name: names, position: names.map((_, i) => Math.sin(tS + i)), velocity: [], effort: [] }));
    offer(rec.write('/hand_pose', { header: { stamp, frame_id: 'base' }, pose: { position: { x: 0.45, y: 0.16, z: 0.2 }, orientation: { x: 0, y: 0, z: 0, w: 1 } } }));
    if (k % 10 === 0) offer(rec.write('/cmd_ee', { header: { stamp, frame_id: 'base' }, twist: { linear: { x: 0.1, y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } } }));
    while (nextFrameS <= tS + 1e-9) {
      framesOffered++;
      offer(rec.write('/camera/image_raw', { header: { stamp, frame_id: 'camera' }, height: H, width: W, encoding: 'rgb8', is_bigendian: 0, step: W * 3, data: frames[framesOffered % 4]! }));
      nextFrameS += 1 / 30;
    }
    // Accelerated mode: let the queue drain each tick so memory stays bounded, as a live producer would be paced.
    if (!opts.realtime) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  const summary = await rec.close({ success: 'true' });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  else rmSync(path, { force: true });
  const megabytes = summary.bytesWritten / 1e6;
  return {
    sessionSeconds: opts.seconds,
    realtime: opts.realtime,
    wallSeconds,
    framesOffered,
    framesWritten: summary.perTopic['/camera/image_raw'] ?? 0,
    dropped: summary.dropped,
    messagesWritten: summary.messageCount,
    megabytes,
    megabytesPerSecond: megabytes / wallSeconds,
    realtimeFactor: opts.seconds / wallSeconds,
    p50WriteLatencyMs: summary.latencyMs.p50,
    p99WriteLatencyMs: summary.latencyMs.p99,
    maxWriteLatencyMs: summary.latencyMs.max,
    maxQueuedMegabytes: summary.maxQueuedBytes / 1e6,
  };
}
