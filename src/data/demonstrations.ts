/**
 * Recorded MCAP episodes → GMPS demonstrations (the learners' `Trajectory`, grouped by task).
 *
 * One step per end-effector command (`/cmd_ee`, linear = displacement command in [-1, 1]^3), or
 * on a fixed `controlHz` grid; the observation of a step is the latest image, hand pose and state
 * received at or before the command (zero-order hold, by log time). Images are centre-cropped and
 * area-resized to the policy size (48x64 HWC RGB8; the learners scale them to [0, 1]). The task
 * parameter comes from the `gmps.episode` metadata (`task` JSON or `door_angle_rad`) or else the
 * first `/task/door_angle` message.
 */
import type { TaskParams } from '../../sim/types.js';
import type { DemonstrationSource } from '../learning/expert.js';
import { taskKey } from '../learning/expert.js';
import type { Trajectory } from '../learning/trajectory.js';
import { POLICY_IMAGE_HEIGHT, POLICY_IMAGE_WIDTH, preprocessFrame } from '../vision/preprocess.js';
import { McapEpisodeReader, McapFormatError } from './mcap-reader.js';
import { EPISODE_METADATA, EPISODE_RESULT_METADATA } from './mcap-writer.js';

export interface DemoTopics {
  /** sensor_msgs/msg/Image (rgb8, bgr8, rgba8, bgra8 or mono8) */
  image: string;
  /** sensor_msgs/msg/JointState */
  jointStates: string;
  /** geometry_msgs/msg/PoseStamped: hand (end-effector) pose in the base frame */
  handPose: string;
  /** geometry_msgs/msg/TwistStamped: linear = displacement command in [-1, 1] */
  command: string;
  /** std_msgs/msg/Float64: the task parameter (door target angle, rad) */
  doorAngle: string;
  /** std_msgs/msg/Float64MultiArray: the GMPS state observation; the hand xyz when absent */
  state: string;
}

export const DEFAULT_DEMO_TOPICS: DemoTopics = {
  image: '/camera/image_raw',
  jointStates: '/joint_states',
  handPose: '/hand_pose',
  command: '/cmd_ee',
  doorAngle: '/task/door_angle',
  state: '/gmps/state',
};

export interface DemoLoadOptions {
  topics?: Partial<DemoTopics>;
  /** Resample on a fixed grid at this rate instead of one step per command. */
  controlHz?: number;
  imageSize?: { height: number; width: number };
  /** Task to use when the file names none. */
  defaultTask?: TaskParams;
  /** Skip episodes whose result metadata says success=false. */
  onlySuccessful?: boolean;
}

export interface LoadedDemo {
  path: string;
  trajectory: Trajectory;
  truncated: boolean;
  note?: string;
  success?: boolean;
  operatorNote?: string;
  /** Commands before the first hand pose / image, which had no observation. */
  skippedSteps: number;
  /** Action components outside [-1, 1] that were clipped. */
  clippedActions: number;
  jointNames: string[];
  /** [T x joints] joint positions at each step (NaN before the first joint state). */
  joints: Float32Array;
}

/** Metadata the recorder should write for a demonstration episode. */
export function episodeMetadata(task: TaskParams, extra: Record<string, string> = {}): Record<string, string> {
  const md: Record<string, string> = { task: JSON.stringify(task), ...extra };
  if (task.kind === 'door') md.door_angle_rad = String(task.targetRad);
  return md;
}

export function taskFromMetadata(md: Record<string, string> | undefined): TaskParams | undefined {
  if (!md) return undefined;
  if (md.task !== undefined) {
    let t: unknown;
    try {
      t = JSON.parse(md.task);
    } catch {
      throw new Error(`episode metadata "task" is not JSON: ${md.task}`);
    }
    const task = t as TaskParams;
    if (task?.kind === 'door' && Number.isFinite(task.targetRad)) return task;
    if ((task?.kind === 'push' || task?.kind === 'point') && Array.isArray(task.goal) && task.goal.length === 2) return task;
    throw new Error(`episode metadata "task" is not a task description: ${md.task}`);
  }
  if (md.door_angle_rad !== undefined) {
    const v = Number(md.door_angle_rad);
    if (!Number.isFinite(v)) throw new Error(`episode metadata door_angle_rad is not a number: ${md.door_angle_rad}`);
    return { kind: 'door', targetRad: v };
  }
  return undefined;
}

function contextOf(task: TaskParams): Float64Array {
  return task.kind === 'door' ? Float64Array.of(task.targetRad) : Float64Array.from(task.goal);
}

interface ImageMsg {
  height: number;
  width: number;
  encoding: string;
  step: number;
  data: Uint8Array;
}
interface Vec3 { x: number; y: number; z: number }

/** Packed RGB8 from a sensor_msgs/Image of a common encoding. */
export function imageToRgb8(img: ImageMsg): Uint8Array {
  const { width: w, height: h, step } = img;
  const channels: Record<string, number> = { rgb8: 3, bgr8: 3, rgba8: 4, bgra8: 4, mono8: 1 };
  const c = channels[img.encoding];
  if (c === undefined) throw new Error(`image encoding ${img.encoding} is not supported (use rgb8, bgr8, rgba8, bgra8 or mono8)`);
  if (step < w * c || img.data.length < step * h) throw new Error(`image ${w}x${h} ${img.encoding}: step ${step} / ${img.data.length} bytes are too small`);
  if (img.encoding === 'rgb8' && step === w * 3) return img.data.subarray(0, w * h * 3);
  const out = new Uint8Array(w * h * 3);
  const bgr = img.encoding.startsWith('bgr');
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = y * step + x * c;
      const d = (y * w + x) * 3;
      if (c === 1) out[d] = out[d + 1] = out[d + 2] = img.data[s]!;
      else {
        out[d] = img.data[bgr ? s + 2 : s]!;
        out[d + 1] = img.data[s + 1]!;
        out[d + 2] = img.data[bgr ? s : s + 2]!;
      }
    }
  }
  return out;
}

class Growable {
  private buf: Float32Array;
  length = 0;
  truncate(n: number): void {
    this.length = Math.min(this.length, n);
  }
  constructor(private readonly width: number) {
    this.buf = new Float32Array(Math.max(1, width) * 256);
  }
  push(row: ArrayLike<number>): void {
    if ((this.length + 1) * this.width > this.buf.length) {
      const next = new Float32Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    for (let i = 0; i < this.width; i++) this.buf[this.length * this.width + i] = row[i]!;
    this.length++;
  }
  result(): Float32Array {
    return this.buf.slice(0, this.length * this.width);
  }
}

/** Reads one recorded episode into a demonstration trajectory. */
export async function loadDemonstration(path: string, options: DemoLoadOptions = {}): Promise<LoadedDemo> {
  const topics = { ...DEFAULT_DEMO_TOPICS, ...options.topics };
  const size = options.imageSize ?? { height: POLICY_IMAGE_HEIGHT, width: POLICY_IMAGE_WIDTH };
  if (options.controlHz !== undefined && !(options.controlHz > 0)) throw new Error(`controlHz must be positive (got ${options.controlHz})`);
  const reader = await McapEpisodeReader.open(path);
  try {
    const info = reader.info;
    const present = new Set(info.topics.map((t) => t.topic));
    for (const need of [topics.command, topics.handPose]) {
      if (!present.has(need)) {
        throw new McapFormatError(`${path} has no ${need} topic (topics: ${[...present].join(', ')}); set the demonstration topic names to match the recording`);
      }
    }
    const hasImages = present.has(topics.image);
    const hasState = present.has(topics.state);
    const md = info.metadata[EPISODE_METADATA];
    const result = info.metadata[EPISODE_RESULT_METADATA];
    let task = taskFromMetadata(md);
    const wanted = [topics.command, topics.handPose, topics.image, topics.jointStates, topics.doorAngle, topics.state].filter((t) => present.has(t));

    let hand: Float32Array | undefined;
    let state: Float32Array | undefined;
    let stateDim = hasState ? -1 : 3;
    let rawImage: ImageMsg | undefined;
    let image: Uint8Array | undefined;
    let jointNames: string[] = [];
    let joints: Float32Array | undefined;
    let lastCmd: Float32Array | undefined;
    let skipped = 0;
    let clipped = 0;
    const imgBytes = size.height * size.width * 3;
    const images: Uint8Array[] = [];
    const hands = new Growable(3);
    const actions = new Growable(3);
    let states: Growable | undefined = hasState ? undefined : new Growable(3);
    let jointRows: Float32Array[] = [];
    const floatImg = new Float32Array(imgBytes);

    const emit = (action: Float32Array): void => {
      if (!hand || (hasImages && !rawImage) || (hasState && !state)) {
        skipped++;
        return;
      }
      if (hasImages) {
        if (!image) {
          const rgb = imageToRgb8(rawImage!);
          preprocessFrame({ data: rgb, width: rawImage!.width, height: rawImage!.height }, { height: size.height, width: size.width }, floatImg);
          image = new Uint8Array(imgBytes);
          for (let i = 0; i < imgBytes; i++) image[i] = Math.round(floatImg[i]! * 255);
        }
        images.push(image);
      }
      hands.push(hand);
      states ??= new Growable(stateDim);
      states.push(hasState ? state! : hand);
      actions.push(action);
      jointRows.push(joints ?? new Float32Array(jointNames.length).fill(NaN));
    };

    const periodNs = options.controlHz ? BigInt(Math.round(1e9 / options.controlHz)) : undefined;
    let nextGridNs: bigint | undefined;
    let lastCmdNs = 0n;
    let stepsUpToLastCmd = 0;

    for await (const m of reader.messages({ topics: wanted })) {
      if (periodNs !== undefined && nextGridNs !== undefined && lastCmd) {
        while (m.logTimeNs > nextGridNs) {
          emit(lastCmd);
          if (nextGridNs <= lastCmdNs) stepsUpToLastCmd = actions.length;
          nextGridNs += periodNs;
        }
      }
      const where = `${path}: ${m.topic} at log time ${m.logTimeNs} ns`;
      switch (m.topic) {
        case topics.command: {
          const lin = (m.message as { twist: { linear: Vec3 } }).twist.linear;
          const a = Float32Array.of(lin.x, lin.y, lin.z);
          for (let i = 0; i < 3; i++) {
            if (!Number.isFinite(a[i]!)) throw new McapFormatError(`${where}: command component ${i} is ${a[i]}`);
            if (a[i]! > 1 || a[i]! < -1) {
              a[i] = Math.max(-1, Math.min(1, a[i]!));
              clipped++;
            }
          }
          lastCmd = a;
          lastCmdNs = m.logTimeNs;
          if (periodNs === undefined) emit(a);
          else if (nextGridNs === undefined) {
            emit(a);
            nextGridNs = m.logTimeNs + periodNs;
          }
          stepsUpToLastCmd = actions.length;
          break;
        }
        case topics.handPose: {
          const p = (m.message as { pose: { position: Vec3 } }).pose.position;
          hand = Float32Array.of(p.x, p.y, p.z);
          if (!hand.every(Number.isFinite)) throw new McapFormatError(`${where}: hand position is not finite`);
          break;
        }
        case topics.image:
          rawImage = m.message as ImageMsg;
          image = undefined;
          break;
        case topics.state: {
          const s = Float32Array.from((m.message as { data: ArrayLike<number> }).data);
          if (stateDim < 0) stateDim = s.length;
          else if (s.length !== stateDim) throw new McapFormatError(`${where}: state has ${s.length} values, earlier ${stateDim}`);
          state = s;
          break;
        }
        case topics.jointStates: {
          const js = m.message as { name: string[]; position: ArrayLike<number> };
          if (jointNames.length === 0) jointNames = [...js.name];
          joints = new Float32Array(jointNames.length).fill(NaN);
          for (let i = 0; i < jointNames.length; i++) {
            const k = js.name.indexOf(jointNames[i]!);
            if (k >= 0) joints[i] = js.position[k]!;
          }
          // Rows emitted before the first joint state get the right width once the names are known.
          jointRows = jointRows.map((r) => (r.length === jointNames.length ? r : new Float32Array(jointNames.length).fill(NaN)));
          break;
        }
        case topics.doorAngle:
          if (!task) task = { kind: 'door', targetRad: (m.message as { data: number }).data };
          break;
        default:
          break;
      }
    }
    // On the grid, steps after the last command hold a command the operator no longer gave: drop them.
    if (periodNs !== undefined && actions.length > stepsUpToLastCmd) {
      const n = stepsUpToLastCmd;
      for (const g of [actions, hands, states!]) g.truncate(n);
      images.length = Math.min(images.length, n);
      jointRows.length = Math.min(jointRows.length, n);
    }
    task ??= options.defaultTask;
    if (!task) {
      throw new McapFormatError(`${path} names no task: record ${topics.doorAngle} or the ${EPISODE_METADATA} metadata (task / door_angle_rad), or pass a default task`);
    }
    const T = actions.length;
    if (T === 0) throw new McapFormatError(`${path} yields no demonstration steps (${skipped} commands arrived before any observation)`);
    const statesArr = states!.result();
    const handsArr = hands.result();
    const success = result?.success !== undefined ? result.success === 'true' : undefined;
    const successSteps = new Float64Array(T);
    if (success) successSteps[T - 1] = 1;
    let imagesArr: Uint8Array | undefined;
    if (hasImages) {
      imagesArr = new Uint8Array(T * imgBytes);
      images.forEach((img, t) => imagesArr!.set(img, t * imgBytes));
    }
    const jointMatrix = new Float32Array(T * jointNames.length);
    jointRows.forEach((r, t) => jointMatrix.set(r, t * jointNames.length));
    const finalStateDim = statesArr.length / T;
    const trajectory: Trajectory = {
      task,
      context: contextOf(task),
      length: T,
      stateDim: finalStateDim,
      actionDim: 3,
      states: statesArr,
      hands: handsArr,
      images: imagesArr,
      imageShape: hasImages ? { ...size } : undefined,
      actions: actions.result(),
      rewards: new Float64Array(T),
      envInfos: { success: successSteps },
      agentInfos: {},
      finalState: statesArr.slice((T - 1) * finalStateDim),
      finalHand: handsArr.slice((T - 1) * 3),
      terminated: true,
    };
    return {
      path,
      trajectory,
      truncated: info.truncated,
      note: info.note,
      success,
      operatorNote: result?.note ?? md?.note,
      skippedSteps: skipped,
      clippedActions: clipped,
      jointNames,
      joints: jointMatrix,
    };
  } finally {
    await reader.close();
  }
}

/** Demonstrations from MCAP recordings, grouped by their task parameter. */
export class McapDemonstrationSource implements DemonstrationSource {
  private constructor(readonly loaded: LoadedDemo[]) {}

  static async load(paths: readonly string[], options: DemoLoadOptions = {}): Promise<McapDemonstrationSource> {
    if (paths.length === 0) throw new Error('no demonstration files given');
    const loaded: LoadedDemo[] = [];
    for (const p of paths) {
      const d = await loadDemonstration(p, options);
      if (options.onlySuccessful && d.success === false) continue;
      loaded.push(d);
    }
    return new McapDemonstrationSource(loaded);
  }

  tasks(): TaskParams[] {
    const seen = new Map<string, TaskParams>();
    for (const d of this.loaded) seen.set(taskKey(d.trajectory.task), d.trajectory.task);
    return [...seen.values()];
  }

  demos(task: TaskParams): Trajectory[] {
    const key = taskKey(task);
    const out = this.loaded.filter((d) => taskKey(d.trajectory.task) === key).map((d) => d.trajectory);
    if (out.length === 0) throw new Error(`no demonstrations for task ${key} (have ${this.tasks().map(taskKey).join(', ') || 'none'})`);
    return out;
  }
}
