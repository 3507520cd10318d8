/** `gmps data ...` (recorded demonstrations, MCAP) and `gmps bench record`. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';

function positive(name: string, value: string): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new CliError(`${name} must be a positive number, got '${value}'`);
  return n;
}

function jsonLine(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x));
}

async function userErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const { McapFormatError } = await import('../../data/mcap-reader.js');
    if (err instanceof McapFormatError) throw new CliError(err.message);
    throw err;
  }
}

export function registerData(program: Command, bench: Command): void {
  const data = program.command('data').description('recorded demonstrations (rosbag2-compatible MCAP files)');

  data.command('info')
    .description('topics, message counts, episode metadata of an MCAP recording; says when a file is truncated')
    .argument('<file>', 'an .mcap file (ours or written by ros2 bag record)')
    .option('--json', 'print one JSON object')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { readMcapInfo } = await import('../../data/mcap-reader.js');
      const info = await userErrors(() => readMcapInfo(file));
      if (opts.json) {
        process.stdout.write(jsonLine(info) + '\n');
        return;
      }
      const secs = Number(info.endNs - info.startNs) / 1e9;
      process.stdout.write(`${info.path}: profile ${info.profile || '(none)'}, ${info.messageCount} messages over ${secs.toFixed(2)} s, ${info.chunkCount} chunks\n`);
      if (info.truncated) process.stdout.write(`WARNING: ${info.note}\n`);
      for (const t of info.topics) process.stdout.write(`  ${t.topic}  ${t.type}  ${t.messageCount}\n`);
      for (const [name, md] of Object.entries(info.metadata)) {
        if (name === 'rosbag2') continue;
        process.stdout.write(`  metadata ${name}: ${Object.entries(md).map(([k, v]) => `${k}=${v}`).join(', ')}\n`);
      }
    });

  data.command('demos')
    .description('turn recorded episodes into GMPS demonstrations and summarise them per task')
    .argument('<files...>', '.mcap episodes')
    .option('--control-hz <hz>', 'resample on a fixed control-rate grid (default: one step per /cmd_ee message)')
    .option('--image-topic <topic>', 'sensor_msgs/Image topic', '/camera/image_raw')
    .option('--hand-topic <topic>', 'geometry_msgs/PoseStamped hand pose topic', '/hand_pose')
    .option('--command-topic <topic>', 'geometry_msgs/TwistStamped end-effector command topic', '/cmd_ee')
    .option('--door-angle-topic <topic>', 'std_msgs/Float64 task parameter topic', '/task/door_angle')
    .option('--only-successful', 'skip episodes recorded with success=false')
    .option('--json', 'print one JSON object')
    .action(async (files: string[], opts: { controlHz?: string; imageTopic: string; handTopic: string; commandTopic: string; doorAngleTopic: string; onlySuccessful?: boolean; json?: boolean }) => {
      const { McapDemonstrationSource } = await import('../../data/demonstrations.js');
      const { taskKey } = await import('../../learning/expert.js');
      const { rowsOf } = await import('../../learning/trajectory.js');
      const src = await userErrors(() => McapDemonstrationSource.load(files, {
        controlHz: opts.controlHz === undefined ? undefined : positive('--control-hz', opts.controlHz),
        topics: { image: opts.imageTopic, handPose: opts.handTopic, command: opts.commandTopic, doorAngle: opts.doorAngleTopic },
        onlySuccessful: opts.onlySuccessful,
      }));
      const episodes = src.loaded.map((d) => ({
        path: d.path, task: taskKey(d.trajectory.task), steps: d.trajectory.length, images: d.trajectory.images !== undefined,
        success: d.success ?? null, truncated: d.truncated, skippedSteps: d.skippedSteps, clippedActions: d.clippedActions,
      }));
      const tasks = src.tasks().map((t) => {
        const demos = src.demos(t);
        return { task: taskKey(t), demos: demos.length, steps: rowsOf(demos) };
      });
      if (opts.json) {
        process.stdout.write(jsonLine({ episodes, tasks }) + '\n');
        return;
      }
      for (const e of episodes) {
        process.stdout.write(`${e.path}: ${e.task}, ${e.steps} steps${e.images ? ' with images' : ''}` +
          `${e.success === null ? '' : e.success ? ', success' : ', failure'}${e.truncated ? ', TRUNCATED' : ''}` +
          `${e.clippedActions ? `, ${e.clippedActions} action values clipped` : ''}\n`);
      }
      for (const t of tasks) process.stdout.write(`task ${t.task}: ${t.demos} demos, ${t.steps} steps\n`);
    });

  bench.command('record')
    .description('MCAP recording throughput: 30 Hz 640x480 rgb8 + 100 Hz joint states/hand + 10 Hz commands')
    .option('--seconds <s>', 'simulated session length', '600')
    .option('--realtime', 'pace offers by the wall clock (default: accelerated, as fast as the recorder absorbs them)')
    .option('--dir <path>', 'directory for the temporary recording (default: the OS temp dir)')
    .option('--chunk-kib <n>', 'MCAP chunk size in KiB', '1024')
    .option('--json', 'print one JSON object')
    .action(async (opts: { seconds: string; realtime?: boolean; dir?: string; chunkKib: string; json?: boolean }) => {
      const { benchRecord } = await import('../../data/bench-record.js');
      const r = await benchRecord({
        seconds: positive('--seconds', opts.seconds),
        realtime: opts.realtime ?? false,
        dir: opts.dir,
        chunkSize: Math.round(positive('--chunk-kib', opts.chunkKib) * 1024),
      });
      if (opts.json) process.stdout.write(jsonLine(r) + '\n');
      else {
        process.stdout.write(`${r.sessionSeconds} s session${r.realtime ? ' (real time)' : ''} in ${r.wallSeconds.toFixed(1)} s: ` +
          `${r.framesWritten}/${r.framesOffered} frames, ${r.dropped} dropped, ${r.megabytesPerSecond.toFixed(0)} MB/s, ` +
          `${r.realtimeFactor.toFixed(1)}x real time, p99 write latency ${r.p99WriteLatencyMs.toFixed(2)} ms\n`);
      }
    });
}
