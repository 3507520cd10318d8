/**
 * `--ros-args` command-line parsing (as rcl does it) and ROS 2 parameter files, so a node file
 * started by `ros2 launch` or by hand (`node dist/nodes/x.js --ros-args -r __node:=x -p k:=v`)
 * gets the same name, namespace, remaps and parameters on either runtime.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { GraphError } from './errors.js';
import type { ParameterValue } from './types.js';

export interface RosArgs {
  nodeName?: string;
  namespace?: string;
  /** [from, to, onlyForNode?] */
  remaps: Array<[string, string, string?]>;
  /** Parameter assignments in order; `node` restricts one to a node name. */
  params: Array<{ name: string; value: ParameterValue; node?: string }>;
  paramFiles: string[];
  logLevel?: string;
  /** Arguments outside `--ros-args ... [--]` blocks, in order (argv[0..1] not included). */
  rest: string[];
}

/** Parses a YAML scalar the way `-p name:=value` does (`1` integer, `1.5` double, `true` bool, `[1,2]` array). */
export function parseParamValue(text: string): ParameterValue {
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch {
    return text;
  }
  if (v === null || v === undefined) return text;
  if (typeof v === 'object' && !Array.isArray(v)) return text;
  return v as ParameterValue;
}

function splitAssignment(s: string, flag: string): [string, string] {
  const i = s.indexOf(':=');
  if (i <= 0) throw new GraphError(`--ros-args ${flag} expects name:=value, got '${s}'`);
  return [s.slice(0, i), s.slice(i + 2)];
}

/** Parses argv without the executable and script (pass `process.argv.slice(2)`). */
export function parseRosArgs(argv: readonly string[]): RosArgs {
  const out: RosArgs = { remaps: [], params: [], paramFiles: [], rest: [] };
  let inRos = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--ros-args') {
      inRos = true;
      continue;
    }
    if (!inRos) {
      out.rest.push(a);
      continue;
    }
    if (a === '--') {
      inRos = false;
      continue;
    }
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new GraphError(`--ros-args ${a} needs a value`);
      return v;
    };
    switch (a) {
      case '-r':
      case '--remap': {
        const [lhs, to] = splitAssignment(next(), a);
        const parts = lhs.split(':');
        const [node, from] = parts.length === 2 && !lhs.startsWith('~') ? [parts[0], parts[1]!] : [undefined, lhs];
        if (from === '__node' || from === '__name') out.nodeName = to;
        else if (from === '__ns') out.namespace = to;
        else out.remaps.push(node ? [from, to, node] : [from, to]);
        break;
      }
      case '-p':
      case '--param': {
        const [lhs, v] = splitAssignment(next(), a);
        const parts = lhs.split(':');
        const value = parseParamValue(v);
        if (parts.length === 2) out.params.push({ node: parts[0], name: parts[1]!, value });
        else out.params.push({ name: lhs, value });
        break;
      }
      case '--params-file':
        out.paramFiles.push(next());
        break;
      case '--log-level':
        out.logLevel = next();
        break;
      case '-e':
      case '--enclave':
      case '--log-config-file':
        next();
        break;
      case '--enable-stdout-logs':
      case '--disable-stdout-logs':
      case '--enable-rosout-logs':
      case '--disable-rosout-logs':
      case '--enable-external-lib-logs':
      case '--disable-external-lib-logs':
        break;
      default:
        throw new GraphError(`unknown --ros-args option '${a}' (supported: -r, -p, --params-file, --log-level)`);
    }
  }
  return out;
}

function flatten(prefix: string, v: unknown, out: Record<string, ParameterValue>): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, sub] of Object.entries(v as Record<string, unknown>)) flatten(prefix ? `${prefix}.${k}` : k, sub, out);
  } else if (v !== null && v !== undefined) {
    out[prefix] = v as ParameterValue;
  }
}

/** Keys of a params file that apply to a node: `/**`, `/ns/name`, `ns/name`, `name`, `/**\/name`. */
function appliesTo(key: string, nodeName: string, fqn: string): boolean {
  if (key === '/**' || key === '**') return true;
  if (key === fqn || `/${key}` === fqn) return true;
  if (key === nodeName && fqn.split('/').length === 2) return true;
  if (key === nodeName) return true;
  if (key.startsWith('/**/')) return key.slice(4) === nodeName;
  return false;
}

/** Parameters for one node from a ROS 2 params file (`node: {ros__parameters: {...}}`). */
export function loadParamsFile(path: string, nodeName: string, fqn: string): Record<string, ParameterValue> {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new GraphError(`cannot read parameter file ${path}: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new GraphError(`parameter file ${path}: expected a map of node names to {ros__parameters: ...}`);
  }
  const out: Record<string, ParameterValue> = {};
  for (const [key, body] of Object.entries(doc as Record<string, unknown>)) {
    if (!appliesTo(key, nodeName, fqn)) continue;
    const params = (body as Record<string, unknown> | null)?.ros__parameters;
    if (params === undefined) {
      throw new GraphError(`parameter file ${path}: '${key}' has no 'ros__parameters' map`);
    }
    flatten('', params, out);
  }
  return out;
}
