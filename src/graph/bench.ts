/**
 * `gmps bench graph`: in-process runtime throughput (JointState, 48x64 rgb8 Image, each checked
 * and copied at publish) and a 20 Hz camera → policy → command loop measuring stamp-to-receipt
 * latency. The policy is pluggable so the real policy node can be measured the same way.
 */
import { InProcessRuntime, type ValidationMode } from './inprocess.js';
import type { Image, JointState, TwistStamped } from './msgs.js';
import { hzToPeriodNs, RosTime } from './time.js';
import { percentile } from '../learning/stats.js';

export type BenchPolicy = (image: Image) => TwistStamped['twist'] | Promise<TwistStamped['twist']>;

export interface GraphBenchOptions {
  /** Seconds per throughput measurement. */
  throughputSeconds?: number;
  /** Seconds of the 20 Hz loop. */
  loopSeconds?: number;
  loopHz?: number;
  policy?: BenchPolicy;
  validation?: ValidationMode;
}

export interface GraphBenchResult {
  validation: ValidationMode;
  msgs_per_sec_joint_state: number;
  msgs_per_sec_image: number;
  loop_hz: number;
  loop_samples: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  missed_deadlines: number;
}

/** Mean brightness steers a tiny twist: enough work to touch every pixel. */
export const defaultBenchPolicy: BenchPolicy = (img) => {
  const d = img.data;
  let s = 0;
  for (let i = 0; i < d.length; i++) s += d[i]!;
  const m = s / d.length / 255;
  return { linear: { x: 0.01 * (m - 0.5), y: 0, z: 0 }, angular: { x: 0, y: 0, z: 0 } };
};

function makeImage(h = 48, w = 64): Image {
  const data = new Uint8Array(h * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 255;
  return { header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'camera' }, height: h, width: w, encoding: 'rgb8', is_bigendian: 0, step: w * 3, data };
}

async function throughput(
  validation: ValidationMode,
  type: string,
  make: (i: number) => object,
  seconds: number,
): Promise<number> {
  const rt = new InProcessRuntime({ validation, log: () => {} });
  try {
    const n = rt.createNode('bench');
    let received = 0;
    n.createSubscription(type, 'x', { qos: { depth: 1000 } }, () => {
      received++;
    });
    const pub = n.createPublisher(type, 'x', { qos: { depth: 1000 } });
    const t0 = performance.now();
    let i = 0;
    while (performance.now() - t0 < seconds * 1000) {
      for (let k = 0; k < 500; k++) pub.publish(make(i++));
      await rt.flush();
    }
    return Math.round(received / ((performance.now() - t0) / 1000));
  } finally {
    await rt.shutdown();
  }
}

export async function runGraphBench(options: GraphBenchOptions = {}): Promise<GraphBenchResult> {
  const validation = options.validation ?? 'check';
  const tSec = options.throughputSeconds ?? 1;
  const stamp = { sec: 0, nanosec: 0 };
  const js = (i: number): JointState => ({
    header: { stamp, frame_id: 'base' },
    name: ['right_j0', 'right_j1', 'right_j2', 'right_j3', 'right_j4', 'right_j5', 'right_j6'],
    position: [i, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    velocity: [0, 0, 0, 0, 0, 0, 0],
    effort: [0, 0, 0, 0, 0, 0, 0],
  });
  const img = makeImage();
  const msgsJoint = await throughput(validation, 'sensor_msgs/msg/JointState', js, tSec);
  const msgsImage = await throughput(validation, 'sensor_msgs/msg/Image', () => img, tSec);

  const hz = options.loopHz ?? 20;
  const policy = options.policy ?? defaultBenchPolicy;
  const rt = new InProcessRuntime({ validation, log: () => {} });
  const latencies: number[] = [];
  let missed = 0;
  try {
    const camera = rt.createNode('camera');
    const policyNode = rt.createNode('policy');
    const robot = rt.createNode('robot');
    const imagePub = camera.createPublisher<Image>('sensor_msgs/msg/Image', 'image', { qos: 'sensor_data' });
    const cmdPub = policyNode.createPublisher<TwistStamped>('geometry_msgs/msg/TwistStamped', 'command', { qos: 1 });
    policyNode.createSubscription<Image>('sensor_msgs/msg/Image', 'image', { qos: 'sensor_data' }, async (m) => {
      const twist = await policy(m);
      cmdPub.publish({ header: { stamp: m.header.stamp, frame_id: 'base' }, twist });
    });
    const periodMs = 1000 / hz;
    robot.createSubscription<TwistStamped>('geometry_msgs/msg/TwistStamped', 'command', { qos: 1 }, (m) => {
      const ms = Number(robot.now().nanoseconds - RosTime.fromMsg(m.header.stamp).nanoseconds) / 1e6;
      latencies.push(ms);
      if (ms > periodMs) missed++;
    });
    let sent = 0;
    const timer = camera.createTimer(hzToPeriodNs(hz), () => {
      sent++;
      imagePub.publish({ ...img, header: { stamp: camera.now().toMsg(), frame_id: 'camera' } });
    });
    await new Promise((r) => setTimeout(r, (options.loopSeconds ?? 3) * 1000));
    timer.cancel();
    await rt.flush();
    missed += sent - latencies.length + (timer as unknown as { missedPeriods(): number }).missedPeriods();
  } finally {
    await rt.shutdown();
  }
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  // No loop samples (a loop that never ran): NaN latencies, as the JSON's loop_samples 0 says.
  const q = (p: number) => (latencies.length ? percentile(latencies, p) : NaN);
  return {
    validation,
    msgs_per_sec_joint_state: msgsJoint,
    msgs_per_sec_image: msgsImage,
    loop_hz: hz,
    loop_samples: latencies.length,
    p50_ms: r3(q(0.5)),
    p99_ms: r3(q(0.99)),
    max_ms: r3(q(1)),
    missed_deadlines: missed,
  };
}
