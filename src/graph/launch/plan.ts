/**
 * Reads a ROS 2 YAML launch file (`launch:` = list of single-key maps) into a plan: the nodes
 * and executables to start, with names, namespaces, parameters and remaps fully resolved.
 * Actions: arg, let, group (scoped, push-ros-namespace / push_ros_namespace), include, node,
 * executable, set_env, unset_env, log; `if:` / `unless:` on every action.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { LaunchError } from '../errors.js';
import { joinName, normalizeNamespace } from '../names.js';
import { parseParamValue } from '../ros-args.js';
import type { ParameterValue } from '../types.js';
import { parseBool, substitute, type SubstitutionScope } from './substitutions.js';

export type ParamSource = { kind: 'value'; name: string; value: ParameterValue } | { kind: 'file'; path: string };

export interface PlannedNode {
  launchFile: string;
  pkg?: string;
  exec: string;
  /** The JS file for `exec: node` entries (first of `args`). */
  script?: string;
  /** Arguments after the script. */
  args: string[];
  /** Launch `name:`; when absent the node file's default name is used. */
  name?: string;
  namespace: string;
  params: ParamSource[];
  remaps: Array<[string, string]>;
  env: Record<string, string>;
  /** The command `ros2 launch` would run. */
  command: string[];
}

export interface PlannedExecutable {
  launchFile: string;
  cmd: string;
  cwd?: string;
  name?: string;
  env: Record<string, string>;
}

export interface LaunchPlan {
  file: string;
  /** Launch arguments of the top file with their values. */
  args: Record<string, string>;
  nodes: PlannedNode[];
  executables: PlannedExecutable[];
  logs: string[];
}

export interface PlanOptions {
  /** `name:=value` arguments from the command line. */
  args?: Record<string, string>;
  env?: Record<string, string | undefined>;
}

interface Scope extends SubstitutionScope {
  namespace: string;
  setEnv: Record<string, string>;
  /** Values given by the includer or the command line for this file's `arg`s. */
  given: Record<string, string>;
}

type Action = Record<string, unknown>;

const KNOWN_ACTIONS = [
  'arg',
  'let',
  'group',
  'include',
  'node',
  'executable',
  'set_env',
  'unset_env',
  'push-ros-namespace',
  'push_ros_namespace',
  'log',
];

/** Parses `name:=value` words into a map (errors on anything else). */
export function parseLaunchArgs(words: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const w of words) {
    const i = w.indexOf(':=');
    if (i <= 0) throw new LaunchError(`launch arguments look like name:=value, got '${w}'`);
    out[w.slice(0, i)] = w.slice(i + 2);
  }
  return out;
}

export function planLaunch(file: string, options: PlanOptions = {}): LaunchPlan {
  const path = resolve(file);
  const plan: LaunchPlan = { file: path, args: {}, nodes: [], executables: [], logs: [] };
  const declared = new Set<string>();
  const cli = options.args ?? {};
  const scope: Scope = {
    vars: new Map(),
    env: { ...(options.env ?? process.env) },
    file: path,
    anon: new Map(),
    namespace: '/',
    setEnv: {},
    given: { ...cli },
  };
  runFile(path, scope, plan, declared, true);
  const unknown = Object.keys(cli).filter((k) => !declared.has(k));
  if (unknown.length) {
    throw new LaunchError(
      `${path}: unknown launch argument(s) ${unknown.join(', ')}; this launch declares: ${[...declared].sort().join(', ') || '(none)'}`,
    );
  }
  return plan;
}

function readLaunchFile(path: string): Action[] {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new LaunchError(`cannot read launch file ${path}: ${(err as Error).message}`);
  }
  const list = (doc as { launch?: unknown } | null)?.launch;
  if (!Array.isArray(list)) throw new LaunchError(`${path}: a YAML launch file starts with 'launch:' followed by a list of actions`);
  return list as Action[];
}

function runFile(path: string, scope: Scope, plan: LaunchPlan, declared: Set<string>, top: boolean): void {
  const actions = readLaunchFile(path);
  runActions(actions, scope, plan, declared, top);
}

function str(v: unknown, scope: Scope, what: string): string {
  if (v === undefined || v === null) throw new LaunchError(`${scope.file}: ${what} is required`);
  if (typeof v === 'object') throw new LaunchError(`${scope.file}: ${what} must be a string, got ${JSON.stringify(v)}`);
  return substitute(String(v), scope);
}

function optStr(v: unknown, scope: Scope, what: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, scope, what);
}

function body(action: Action, key: string, scope: Scope): Record<string, unknown> {
  const b = action[key];
  if (b === null || b === undefined) return {};
  if (typeof b !== 'object' || Array.isArray(b)) {
    if (key === 'group' && Array.isArray(b)) return { children: b };
    throw new LaunchError(`${scope.file}: '${key}' must be a map of attributes`);
  }
  return b as Record<string, unknown>;
}

function conditionHolds(b: Record<string, unknown>, scope: Scope, key: string): boolean {
  if (b.if !== undefined && !parseBool(str(b.if, scope, `${key}.if`), `${scope.file}: ${key} if=`)) return false;
  if (b.unless !== undefined && parseBool(str(b.unless, scope, `${key}.unless`), `${scope.file}: ${key} unless=`)) return false;
  return true;
}

function childScope(scope: Scope, file = scope.file, given = scope.given): Scope {
  return { ...scope, vars: new Map(scope.vars), setEnv: { ...scope.setEnv }, env: { ...scope.env }, file, given };
}

function runActions(actions: Action[], scope: Scope, plan: LaunchPlan, declared: Set<string>, top: boolean): void {
  for (const action of actions) {
    if (!action || typeof action !== 'object' || Array.isArray(action) || Object.keys(action).length !== 1) {
      throw new LaunchError(`${scope.file}: each launch entry is a single-key map like '- node: {...}', got ${JSON.stringify(action)}`);
    }
    const key = Object.keys(action)[0]!;
    if (!KNOWN_ACTIONS.includes(key)) {
      throw new LaunchError(`${scope.file}: unsupported launch action '${key}'; supported: ${KNOWN_ACTIONS.join(', ')}`);
    }
    const b = body(action, key, scope);
    if (!conditionHolds(b, scope, key)) continue;
    switch (key) {
      case 'arg': {
        const name = str(b.name, scope, 'arg.name');
        declared.add(name);
        let value: string;
        if (Object.prototype.hasOwnProperty.call(scope.given, name)) value = scope.given[name]!;
        else if (b.default !== undefined && b.default !== null) value = str(b.default, scope, `arg ${name} default`);
        else {
          throw new LaunchError(
            `${scope.file}: launch argument '${name}' is required (no default)` +
              (b.description ? `: ${String(b.description)}` : '') +
              `; pass it as ${name}:=<value>`,
          );
        }
        scope.vars.set(name, value);
        if (top) plan.args[name] = value;
        break;
      }
      case 'let':
        scope.vars.set(str(b.name, scope, 'let.name'), str(b.value, scope, 'let.value'));
        break;
      case 'set_env': {
        const name = str(b.name, scope, 'set_env.name');
        const value = str(b.value, scope, 'set_env.value');
        scope.env[name] = value;
        scope.setEnv[name] = value;
        break;
      }
      case 'unset_env': {
        const name = str(b.name, scope, 'unset_env.name');
        delete scope.env[name];
        delete scope.setEnv[name];
        break;
      }
      case 'push-ros-namespace':
      case 'push_ros_namespace': {
        const ns = str(b.namespace, scope, `${key}.namespace`);
        scope.namespace = ns.startsWith('/') ? normalizeNamespace(ns) : normalizeNamespace(joinName(scope.namespace, ns));
        break;
      }
      case 'log':
        plan.logs.push(str(b.message ?? b.msg, scope, 'log.message'));
        break;
      case 'group': {
        const children = b.children;
        if (!Array.isArray(children)) throw new LaunchError(`${scope.file}: group needs 'children:' (a list of actions)`);
        const scoped = b.scoped === undefined ? true : parseBool(str(b.scoped, scope, 'group.scoped'), 'group scoped=');
        if (scoped) runActions(children as Action[], childScope(scope), plan, declared, false);
        else runActions(children as Action[], scope, plan, declared, top);
        break;
      }
      case 'include': {
        let file = str(b.file, scope, 'include.file');
        if (!isAbsolute(file)) file = resolve(dirname(scope.file), file);
        const given: Record<string, string> = {};
        const argList = b.arg ?? b.args ?? [];
        if (!Array.isArray(argList)) throw new LaunchError(`${scope.file}: include.arg must be a list of {name, value}`);
        for (const a of argList as Array<Record<string, unknown>>) {
          given[str(a.name, scope, 'include arg name')] = str(a.value, scope, 'include arg value');
        }
        // Command-line values reach included files too (ros2 launch keeps one global context).
        const inner = childScope(scope, file, { ...scope.given, ...given });
        inner.vars = new Map(scope.vars);
        runFile(file, inner, plan, declared, false);
        break;
      }
      case 'node':
        plan.nodes.push(planNode(b, scope));
        break;
      case 'executable': {
        const cmd = str(b.cmd, scope, 'executable.cmd');
        const env = { ...scope.setEnv, ...envList(b.env, scope) };
        plan.executables.push({
          launchFile: scope.file,
          cmd: b.args !== undefined ? `${cmd} ${str(b.args, scope, 'executable.args')}` : cmd,
          cwd: optStr(b.cwd, scope, 'executable.cwd'),
          name: optStr(b.name, scope, 'executable.name'),
          env,
        });
        break;
      }
    }
  }
}

function envList(v: unknown, scope: Scope): Record<string, string> {
  if (v === undefined) return {};
  if (!Array.isArray(v)) throw new LaunchError(`${scope.file}: env must be a list of {name, value}`);
  const out: Record<string, string> = {};
  for (const e of v as Array<Record<string, unknown>>) out[str(e.name, scope, 'env.name')] = str(e.value, scope, 'env.value');
  return out;
}

/** Splits an `args:` string like a shell would for plain words and quotes. */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(s); m; m = re.exec(s)) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

function paramValue(v: unknown, scope: Scope, name: string): ParameterValue {
  if (typeof v === 'string') return parseParamValue(substitute(v, scope));
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? substitute(x, scope) : x)) as ParameterValue;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  throw new LaunchError(`${scope.file}: param '${name}' value must be a scalar or a list, got ${JSON.stringify(v)}`);
}

function collectParams(list: unknown, scope: Scope, prefix: string, out: ParamSource[]): void {
  if (list === undefined) return;
  if (!Array.isArray(list)) throw new LaunchError(`${scope.file}: node param must be a list of {name, value} or {from: file.yaml}`);
  for (const p of list as Array<Record<string, unknown>>) {
    if (p.from !== undefined) {
      let path = str(p.from, scope, 'param.from');
      if (!isAbsolute(path)) path = resolve(dirname(scope.file), path);
      out.push({ kind: 'file', path });
      continue;
    }
    const name = `${prefix}${str(p.name, scope, 'param.name')}`;
    if (p.param !== undefined) collectParams(p.param, scope, `${name}.`, out);
    else if (p.value === undefined) throw new LaunchError(`${scope.file}: param '${name}' has no value`);
    else out.push({ kind: 'value', name, value: paramValue(p.value, scope, name) });
  }
}

function planNode(b: Record<string, unknown>, scope: Scope): PlannedNode {
  const exec = str(b.exec, scope, 'node.exec');
  const pkg = optStr(b.pkg, scope, 'node.pkg');
  const allArgs = b.args === undefined ? [] : splitArgs(str(b.args, scope, 'node.args'));
  const isJs = exec === 'node' && !pkg;
  const script = isJs ? allArgs[0] : undefined;
  if (isJs && !script) throw new LaunchError(`${scope.file}: a node with 'exec: node' needs the JS file as the first of 'args'`);
  const args = isJs ? allArgs.slice(1) : allArgs;
  const name = optStr(b.name, scope, 'node.name');
  const nodeNs = optStr(b.namespace, scope, 'node.namespace');
  const namespace =
    nodeNs === undefined
      ? scope.namespace
      : nodeNs.startsWith('/')
        ? normalizeNamespace(nodeNs)
        : normalizeNamespace(joinName(scope.namespace, nodeNs));
  const params: ParamSource[] = [];
  collectParams(b.param, scope, '', params);
  const remaps: Array<[string, string]> = [];
  if (b.remap !== undefined) {
    if (!Array.isArray(b.remap)) throw new LaunchError(`${scope.file}: node remap must be a list of {from, to}`);
    for (const r of b.remap as Array<Record<string, unknown>>) remaps.push([str(r.from, scope, 'remap.from'), str(r.to, scope, 'remap.to')]);
  }
  const env = { ...scope.setEnv, ...envList(b.env, scope) };
  const rosArgs: string[] = [];
  if (name) rosArgs.push('-r', `__node:=${name}`);
  if (namespace !== '/') rosArgs.push('-r', `__ns:=${namespace}`);
  for (const p of params) {
    if (p.kind === 'file') rosArgs.push('--params-file', p.path);
    else rosArgs.push('-p', `${p.name}:=${typeof p.value === 'string' ? p.value : JSON.stringify(p.value)}`);
  }
  for (const [f, t] of remaps) rosArgs.push('-r', `${f}:=${t}`);
  const head = isJs ? ['node', script!, ...args] : [pkg ? `${pkg}/${exec}` : exec, ...args];
  return {
    launchFile: scope.file,
    pkg,
    exec,
    script,
    args,
    name,
    namespace,
    params,
    remaps,
    env,
    command: rosArgs.length ? [...head, '--ros-args', ...rosArgs] : head,
  };
}
