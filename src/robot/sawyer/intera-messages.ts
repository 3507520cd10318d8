/**
 * ROS 1 message definitions the Sawyer link speaks: the Intera types from `msg/intera_core_msgs/`
 * (their fields and constants fix the md5sum the robot checks) and the standard ROS 1 types from
 * `@foxglove/rosmsg-msgs-common`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MessageDefinition } from '@foxglove/message-definition';
import { md5, parse, stringify } from '@foxglove/rosmsg';
import { ros1 } from '@foxglove/rosmsg-msgs-common';

export const INTERA_TYPES = [
  'intera_core_msgs/JointCommand',
  'intera_core_msgs/EndpointState',
  'intera_core_msgs/RobotAssemblyState',
  'intera_core_msgs/IOComponentCommand',
] as const;
export type InteraType = (typeof INTERA_TYPES)[number];

/** Full ROS 1 definition of one type: text as sent in the connection header, parsed form, md5. */
export interface Ros1Type {
  dataType: string;
  /** Root text then, per dependency, a line of 80 '=' and `MSG: pkg/Type` (gendeps layout). */
  definitionText: string;
  definitions: MessageDefinition[];
  md5sum: string;
}

const SEPARATOR = '='.repeat(80);

/** Finds `msg/intera_core_msgs` walking up from this module (works from `src/` and from `dist/src/`). */
export function interaMsgDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'msg', 'intera_core_msgs');
    if (existsSync(join(candidate, 'JointCommand.msg'))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error('msg/intera_core_msgs/*.msg not found above ' + dirname(fileURLToPath(import.meta.url)) +
    '; install the package with its msg/ folder');
}

function interaText(type: string): string {
  const name = type.split('/')[1];
  return readFileSync(join(interaMsgDir(), `${name}.msg`), 'utf8');
}

function isIntera(type: string): boolean {
  return type.startsWith('intera_core_msgs/');
}

const commonRos1 = ros1 as unknown as Record<string, MessageDefinition>;

function definitionOf(type: string): { text: string; def: MessageDefinition } {
  if (isIntera(type)) {
    const text = interaText(type);
    const [root] = parse(text, { skipTypeFixup: true });
    const definitions = root!.definitions.map((f) =>
      f.isComplex ? { ...f, type: qualify(f.type, 'intera_core_msgs') } : f);
    return { text, def: { ...root!, name: type, definitions } };
  }
  const def = commonRos1[type];
  if (!def) throw new Error(`no ROS 1 definition known for ${type}`);
  return { text: stringify([def]), def: { ...def, name: type } };
}

function qualify(type: string, pkg: string): string {
  if (type === 'Header') return 'std_msgs/Header';
  return type.includes('/') ? type : `${pkg}/${type}`;
}

const cache = new Map<string, Ros1Type>();

/** Builds the full definition (root + transitive dependencies, each once, depth-first). */
export function ros1Type(dataType: string): Ros1Type {
  const hit = cache.get(dataType);
  if (hit) return hit;
  const root = definitionOf(dataType);
  const seen = new Set<string>([dataType]);
  const parts: string[] = [root.text.trimEnd()];
  const defs: MessageDefinition[] = [{ ...root.def, name: undefined }];
  const visit = (def: MessageDefinition): void => {
    for (const f of def.definitions) {
      if (!f.isComplex) continue;
      const t = f.type;
      if (seen.has(t)) continue;
      seen.add(t);
      const dep = definitionOf(t);
      parts.push(`${SEPARATOR}\nMSG: ${t}\n${dep.text.trimEnd()}`);
      defs.push(dep.def);
      visit(dep.def);
    }
  };
  visit(root.def);
  const definitionText = parts.join('\n') + '\n';
  const definitions = parse(definitionText);
  const result: Ros1Type = { dataType, definitionText, definitions, md5sum: md5(definitions) };
  cache.set(dataType, result);
  return result;
}

/** JointCommand modes (constants of intera_core_msgs/JointCommand). */
export const JointCommandMode = { POSITION: 1, VELOCITY: 2, TORQUE: 3, TRAJECTORY: 4 } as const;

export interface Ros1Time {
  sec: number;
  nsec: number;
}
export interface Ros1Header {
  seq: number;
  stamp: Ros1Time;
  frame_id: string;
}
export interface JointCommandMsg {
  header: Ros1Header;
  mode: number;
  names: string[];
  position: number[];
  velocity: number[];
  acceleration: number[];
  effort: number[];
}
export interface JointStateMsg {
  header: Ros1Header;
  name: string[];
  position: ArrayLike<number>;
  velocity: ArrayLike<number>;
  effort: ArrayLike<number>;
}
export interface RobotAssemblyStateMsg {
  homed: boolean;
  ready: boolean;
  enabled: boolean;
  stopped: boolean;
  error: boolean;
  lowVoltage: boolean;
  estop_button: number;
  estop_source: number;
}
export interface Vec3Msg {
  x: number;
  y: number;
  z: number;
}
export interface EndpointStateMsg {
  header: Ros1Header;
  pose: { position: Vec3Msg; orientation: Vec3Msg & { w: number } };
  twist: { linear: Vec3Msg; angular: Vec3Msg };
  wrench: { force: Vec3Msg; torque: Vec3Msg };
  valid: boolean;
}
export interface IOComponentCommandMsg {
  time: Ros1Time;
  op: string;
  args: string;
}

export const ESTOP_BUTTON_PRESSED = 1;

export function ros1Now(nowMs = Date.now()): Ros1Time {
  const sec = Math.floor(nowMs / 1000);
  return { sec, nsec: Math.round((nowMs - sec * 1000) * 1e6) };
}
