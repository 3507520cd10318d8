/**
 * The bookkeeping of demonstration recording, apart from ROS: which topics a recording holds, episode file
 * names (never overwriting an earlier session's files), the task of each episode, and whether an episode
 * succeeded when the operator did not say.
 */
import { readdirSync } from 'node:fs';
import { DOOR, PUSH } from '../../sim/layout.js';
import type { TaskParams } from '../../sim/types.js';

export interface RecordedTopicSpec {
  /** As given (relative names resolve in the recorder's namespace). */
  name: string;
  type: string;
  /** Subscription QoS profile. */
  qos: 'default' | 'sensor_data' | 'latched';
  /** Written again at the start of each episode file (the latest value), so every file opens with a full state. */
  snapshot: boolean;
}

/** Types (and QoS) of the graph's topics, so a recording lists them by name only. */
export const KNOWN_TOPICS: Record<string, Omit<RecordedTopicSpec, 'name'>> = {
  'camera/image_raw': { type: 'sensor_msgs/msg/Image', qos: 'sensor_data', snapshot: true },
  'camera/camera_info': { type: 'sensor_msgs/msg/CameraInfo', qos: 'sensor_data', snapshot: true },
  joint_states: { type: 'sensor_msgs/msg/JointState', qos: 'default', snapshot: true },
  hand_pose: { type: 'geometry_msgs/msg/PoseStamped', qos: 'default', snapshot: true },
  cmd_ee: { type: 'geometry_msgs/msg/TwistStamped', qos: 'default', snapshot: false },
  joint_command: { type: 'sensor_msgs/msg/JointState', qos: 'default', snapshot: false },
  'task/params': { type: 'gmps_msgs/msg/TaskParams', qos: 'latched', snapshot: true },
  'task/door_angle': { type: 'std_msgs/msg/Float64', qos: 'default', snapshot: true },
  'task/grasp_distance': { type: 'std_msgs/msg/Float64', qos: 'default', snapshot: true },
  'task/block_position': { type: 'geometry_msgs/msg/PointStamped', qos: 'default', snapshot: true },
  reward: { type: 'std_msgs/msg/Float64', qos: 'default', snapshot: false },
};

export const DEFAULT_RECORDED_TOPICS = ['camera/image_raw', 'joint_states', 'hand_pose', 'cmd_ee', 'joint_command', 'task/params', 'task/door_angle', 'task/grasp_distance'];

/** `name` (a known topic) or `name:pkg/msg/Type` (any other; add `@sensor_data` or `@latched` for its QoS). */
export function parseTopicSpec(spec: string): RecordedTopicSpec {
  const s = spec.trim();
  const colon = s.indexOf(':');
  if (colon < 0) {
    const known = KNOWN_TOPICS[s.replace(/^\//, '')];
    if (!known) {
      throw new Error(
        `recorded topic '${s}' has no known type: write it as '${s}:pkg/msg/Type' (known: ${Object.keys(KNOWN_TOPICS).join(', ')})`,
      );
    }
    return { name: s, ...known };
  }
  const name = s.slice(0, colon);
  let type = s.slice(colon + 1);
  let qos: RecordedTopicSpec['qos'] = 'default';
  const at = type.indexOf('@');
  if (at >= 0) {
    const q = type.slice(at + 1);
    if (q !== 'default' && q !== 'sensor_data' && q !== 'latched') throw new Error(`recorded topic '${s}': QoS must be default, sensor_data or latched, got '${q}'`);
    qos = q;
    type = type.slice(0, at);
  }
  if (!name || !/^[A-Za-z][A-Za-z0-9_]*\/msg\/[A-Za-z][A-Za-z0-9_]*$/.test(type)) {
    throw new Error(`recorded topic '${s}' must be 'name' or 'name:pkg/msg/Type'`);
  }
  return { name, type, qos, snapshot: type !== 'geometry_msgs/msg/TwistStamped' };
}

/** `<prefix>_0007.mcap` */
export function episodeFileName(prefix: string, index: number): string {
  return `${prefix}_${String(index).padStart(4, '0')}.mcap`;
}

/** The first file index after every `<prefix>_<n>.mcap` already in `dir` (1 for an empty folder). */
export function nextEpisodeIndex(dir: string, prefix: string): number {
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_(\\d+)\\.mcap$`);
  let max = 0;
  for (const f of readdirSync(dir)) {
    const m = re.exec(f);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** The task of episode `episode` (1-based): door targets cycle through `targetsDeg` when given. */
export function taskForEpisode(
  kind: 'door' | 'push',
  episode: number,
  p: { targetDeg: number; targetsDeg: readonly number[]; goal: readonly number[] },
): TaskParams {
  if (kind === 'push') {
    if (p.goal.length !== 2) throw new Error(`the push goal must be [x, y], got ${p.goal.length} values`);
    return { kind: 'push', goal: [p.goal[0]!, p.goal[1]!] };
  }
  const deg = p.targetsDeg.length ? p.targetsDeg[(episode - 1) % p.targetsDeg.length]! : p.targetDeg;
  if (!Number.isFinite(deg) || deg < 0 || deg > 60) throw new Error(`door target angle ${deg} deg is outside [0, 60] deg`);
  return { kind: 'door', targetRad: (deg * Math.PI) / 180 };
}

/** Task success from the final task state, with the simulator's tolerances; undefined when not measured. */
export function judgeSuccess(task: TaskParams, state: { doorAngle?: number; block?: [number, number, number] }): boolean | undefined {
  if (task.kind === 'door') {
    return state.doorAngle === undefined ? undefined : Math.abs(state.doorAngle - task.targetRad) < DOOR.successTolRad;
  }
  if (task.kind === 'push' && state.block) {
    return Math.hypot(state.block[0] - task.goal[0], state.block[1] - task.goal[1]) < PUSH.successM;
  }
  return undefined;
}
