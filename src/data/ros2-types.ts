/**
 * ROS 2 message types for rosbag2-compatible MCAP: CDR definitions and the `ros2msg` schema text.
 *
 * Standard types come from `@foxglove/rosmsg-msgs-common` (humble by default); other packages can
 * be added with `registerRos2MessageText`. The schema text follows rosbag2's layout: the root .msg
 * text, then for every dependency (each once, depth-first, in sorted order per message) a line of
 * 80 '=' and `MSG: pkg/Type`. The text is generated from the definitions (fields and constants
 * without comments), which is what readers parse.
 */
import type { MessageDefinition, MessageDefinitionField } from '@foxglove/message-definition';
import { parse } from '@foxglove/rosmsg';
import * as common from '@foxglove/rosmsg-msgs-common';

export type Ros2Distro = 'humble' | 'iron' | 'jazzy';

const SEPARATOR = '='.repeat(80);

const custom = new Map<string, MessageDefinition>();

/** `sensor_msgs/msg/Image` → `sensor_msgs/Image` (the form used inside definitions). */
export function shortTypeName(type: string): string {
  const parts = type.split('/');
  if (parts.length === 3 && parts[1] === 'msg') return `${parts[0]}/${parts[2]}`;
  if (parts.length === 2) return type;
  throw new Error(`"${type}" is not a ROS 2 message type name (expected pkg/msg/Type)`);
}

/** `sensor_msgs/Image` → `sensor_msgs/msg/Image` (the form rosbag2 stores as topic type). */
export function fullTypeName(type: string): string {
  const short = shortTypeName(type);
  const [pkg, name] = short.split('/');
  return `${pkg}/msg/${name}`;
}

function library(distro: Ros2Distro): Record<string, MessageDefinition> {
  const lib = { humble: common.ros2humble, iron: common.ros2iron, jazzy: common.ros2jazzy }[distro];
  return lib as unknown as Record<string, MessageDefinition>;
}

/** Adds a message from its .msg text (e.g. a ROS 2 port of intera_core_msgs). */
export function registerRos2MessageText(type: string, msgText: string): void {
  const short = shortTypeName(type);
  const [pkg] = short.split('/');
  const [root] = parse(msgText, { ros2: true, skipTypeFixup: true });
  const definitions = root!.definitions.map((f) =>
    f.isComplex && !f.type.includes('/') ? { ...f, type: `${pkg}/${f.type}` } : f);
  custom.set(short, { name: short, definitions });
}

export function lookupDefinition(type: string, distro: Ros2Distro = 'humble'): MessageDefinition {
  const short = shortTypeName(type);
  const def = custom.get(short) ?? library(distro)[short];
  if (!def) {
    throw new Error(`unknown ROS 2 message type ${type}: use a standard type (${distro}) or register its .msg text with registerRos2MessageText`);
  }
  return { ...def, name: short };
}

/** Root first, then every complex dependency once, as MessageWriter/MessageReader expect. */
export function ros2Definitions(type: string, distro: Ros2Distro = 'humble'): MessageDefinition[] {
  const root = lookupDefinition(type, distro);
  const out: MessageDefinition[] = [root];
  const seen = new Set([root.name]);
  const visit = (def: MessageDefinition): void => {
    for (const f of def.definitions) {
      if (!f.isComplex || seen.has(f.type)) continue;
      seen.add(f.type);
      const dep = lookupDefinition(f.type, distro);
      out.push(dep);
      visit(dep);
    }
  };
  visit(root);
  return out;
}

function fieldTypeText(f: MessageDefinitionField): string {
  let base: string;
  if (f.type === 'time') base = 'builtin_interfaces/Time';
  else if (f.type === 'duration') base = 'builtin_interfaces/Duration';
  else if (f.type === 'string' && f.upperBound !== undefined) base = `string<=${f.upperBound}`;
  else base = f.type;
  if (!f.isArray) return base;
  if (f.arrayLength !== undefined) return `${base}[${f.arrayLength}]`;
  if (f.arrayUpperBound !== undefined) return `${base}[<=${f.arrayUpperBound}]`;
  return `${base}[]`;
}

function constantText(f: MessageDefinitionField): string {
  const value = f.valueText ?? (typeof f.value === 'string' ? f.value : String(f.value));
  return `${f.type} ${f.name}=${value}`;
}

/** One message's .msg text (fields, then constants). */
export function msgText(def: MessageDefinition): string {
  const lines: string[] = [];
  for (const f of def.definitions) {
    if (f.isConstant) lines.push(constantText(f));
    else lines.push(`${fieldTypeText(f)} ${f.name}`);
  }
  return lines.join('\n') + '\n';
}

function dependencyNames(def: MessageDefinition): string[] {
  const names = new Set<string>();
  for (const f of def.definitions) {
    if (f.isConstant) continue;
    if (f.type === 'time') names.add('builtin_interfaces/Time');
    else if (f.type === 'duration') names.add('builtin_interfaces/Duration');
    else if (f.isComplex) names.add(f.type);
  }
  return [...names].sort();
}

const BUILTIN_TEXT: Record<string, string> = {
  'builtin_interfaces/Time': 'int32 sec\nuint32 nanosec\n',
  'builtin_interfaces/Duration': 'int32 sec\nuint32 nanosec\n',
};

/** The `ros2msg` schema data rosbag2 writes for `type` (root text + delimited dependencies). */
export function ros2msgSchemaText(type: string, distro: Ros2Distro = 'humble'): string {
  const seen = new Set<string>();
  const textOf = (name: string): { text: string; deps: string[] } => {
    const builtin = BUILTIN_TEXT[name];
    if (builtin) return { text: builtin, deps: [] };
    const def = lookupDefinition(name, distro);
    return { text: msgText(def), deps: dependencyNames(def) };
  };
  const render = (name: string): string => {
    const { text, deps } = textOf(name);
    let out = text;
    for (const dep of deps) {
      if (seen.has(dep)) continue;
      seen.add(dep);
      out += `\n${SEPARATOR}\nMSG: ${dep}\n` + render(dep);
    }
    return out;
  };
  return render(shortTypeName(type));
}

/** Parses `ros2msg` schema data (ours or rosbag2's) into reader definitions. */
export function parseRos2msgSchema(schemaName: string, data: string): MessageDefinition[] {
  const defs = parse(data, { ros2: true });
  if (defs[0] && defs[0].name === undefined) defs[0] = { ...defs[0], name: shortTypeName(schemaName) };
  return defs;
}

const NUMERIC = new Set(['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64', 'byte', 'char']);

/**
 * Checks a message object against its definition: every key must be a field, nested messages
 * must be objects, arrays must be arrays, scalars of the right JS type. The CDR writer itself
 * fills anything missing or mistyped with defaults, which would lose data silently.
 * Returns a description of the first problem, or undefined.
 */
export function checkMessageShape(defs: readonly MessageDefinition[], msg: unknown, rootName?: string): string | undefined {
  const byName = new Map(defs.map((d) => [d.name ?? rootName ?? '', d]));
  const check = (def: MessageDefinition, value: unknown, path: string): string | undefined => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${path || 'message'} must be an object`;
    const fields = new Map(def.definitions.filter((f) => !f.isConstant).map((f) => [f.name, f]));
    for (const [key, v] of Object.entries(value)) {
      const f = fields.get(key);
      const where = path ? `${path}.${key}` : key;
      if (!f) return `${where} is not a field of ${def.name ?? rootName} (fields: ${[...fields.keys()].join(', ')})`;
      if (v === undefined) continue;
      if (f.isArray) {
        if (!Array.isArray(v) && !ArrayBuffer.isView(v)) return `${where} must be an array`;
        const first = (v as ArrayLike<unknown>)[0];
        if (first !== undefined) {
          const p = scalar(f.type, first, `${where}[0]`);
          if (p) return p;
        }
      } else {
        const p = scalar(f.type, v, where);
        if (p) return p;
      }
    }
    return undefined;
  };
  const scalar = (type: string, v: unknown, where: string): string | undefined => {
    if (type === 'time' || type === 'duration') return typeof v === 'object' && v !== null ? undefined : `${where} must be {sec, nanosec}`;
    if (type === 'string' || type === 'wstring') return typeof v === 'string' ? undefined : `${where} must be a string`;
    if (type === 'bool') return typeof v === 'boolean' || typeof v === 'number' ? undefined : `${where} must be a boolean`;
    if (NUMERIC.has(type)) return typeof v === 'number' || typeof v === 'bigint' ? undefined : `${where} must be a number`;
    const sub = byName.get(type);
    return sub ? check(sub, v, where) : undefined;
  };
  return check(defs[0]!, msg, '');
}
