/**
 * The embedded launcher: runs a launch plan in ONE process on the in-process runtime. A node
 * entry `exec: node, args: <share>/dist/<path>.js` is mapped to the node file in this package
 * (its TypeScript source when running from source) and started through its `defineNode` entry;
 * `executable` entries are spawned as child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LaunchError } from '../errors.js';
import { InProcessRuntime } from '../inprocess.js';
import { joinName } from '../names.js';
import { isNodeDefinition, startNode, type NodeDefinition, type RunningNode } from '../node-entry.js';
import { packageRoot } from '../paths.js';
import { loadParamsFile } from '../ros-args.js';
import type { ParameterValue } from '../types.js';
import type { LaunchPlan, PlannedNode } from './plan.js';

export type NodeLoader = () => Promise<NodeDefinition | { default: NodeDefinition }>;

/** Node files by package-relative path (`dist/nodes/policy.js`); others are found on disk. */
export class NodeRegistry {
  private readonly loaders = new Map<string, NodeLoader>();

  register(relPath: string, loader: NodeLoader | NodeDefinition): this {
    this.loaders.set(relPath.replace(/^\.?\//, ''), isNodeDefinition(loader) ? async () => loader : loader);
    return this;
  }

  async resolve(script: string): Promise<NodeDefinition> {
    const root = packageRoot();
    const abs = isAbsolute(script) ? script : resolve(root, script);
    const rel = relative(root, abs);
    const loader = this.loaders.get(rel);
    let mod: unknown;
    if (loader) mod = await loader();
    else {
      const file = locateNodeFile(root, rel, abs);
      try {
        mod = await import(pathToFileURL(file).href);
      } catch (err) {
        throw new LaunchError(`cannot load node file ${file}: ${(err as Error).message}`);
      }
    }
    const def = isNodeDefinition(mod) ? mod : (mod as { default?: unknown }).default;
    if (!isNodeDefinition(def)) {
      throw new LaunchError(`${script} does not export a node: its default export must be defineNode({ name, create })`);
    }
    return def;
  }
}

const runningFromSource = import.meta.url.endsWith('.ts');

/** `dist/x/y.js` → the built file, or `x/y.ts` when running from TypeScript sources. */
function locateNodeFile(root: string, rel: string, abs: string): string {
  const candidates: string[] = [];
  if (!rel.startsWith('..') && rel.startsWith('dist/') && rel.endsWith('.js')) {
    const source = join(root, rel.slice('dist/'.length, -'.js'.length) + '.ts');
    if (runningFromSource) candidates.push(source, abs);
    else candidates.push(abs, source);
  } else candidates.push(abs);
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new LaunchError(`node file not found: ${abs}${candidates.length > 1 ? ` (nor ${candidates[0]})` : ''}`);
  return found;
}

export interface LaunchOptions {
  runtime?: InProcessRuntime;
  registry?: NodeRegistry;
  /** Stop everything when aborted (Ctrl-C). */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export interface LaunchRun {
  runtime: InProcessRuntime;
  nodes: RunningNode[];
  /** Resolves when every node with a `done` finished (never, if none has one), rejects on a node failure. */
  finished: Promise<void>;
  /** Stops nodes (awaiting their `shutdown`), children and the runtime. */
  stop(): Promise<void>;
}

export function nodeParameters(n: PlannedNode, name: string): Record<string, ParameterValue> {
  const fqn = joinName(n.namespace, name);
  const out: Record<string, ParameterValue> = {};
  for (const p of n.params) {
    if (p.kind === 'file') Object.assign(out, loadParamsFile(p.path, name, fqn));
    else out[p.name] = p.value;
  }
  return out;
}

export async function runLaunchPlan(plan: LaunchPlan, options: LaunchOptions = {}): Promise<LaunchRun> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const registry = options.registry ?? new NodeRegistry();
  let fail!: (err: Error) => void;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {});
  const runtime =
    options.runtime ?? new InProcessRuntime({ onError: (err, where) => fail(new LaunchError(`${where}: ${err.message}`)) });
  for (const line of plan.logs) log(`[launch] ${line}`);

  for (const n of plan.nodes) {
    if (!n.script) {
      throw new LaunchError(
        `${n.launchFile}: node '${n.name ?? n.exec}' (pkg ${n.pkg ?? '-'}, exec ${n.exec}) is not a JS node; ` +
          'the embedded launcher only runs `exec: node` entries; run this file with `ros2 launch` instead',
      );
    }
  }
  const defs = await Promise.all(plan.nodes.map((n) => registry.resolve(n.script!)));

  const nodes: RunningNode[] = [];
  const children: ChildProcess[] = [];
  const controller = new AbortController();
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      controller.abort();
      for (const c of children) if (c.exitCode === null) c.kill('SIGINT');
      for (const n of [...nodes].reverse()) {
        await n.stop().catch((err: unknown) => log(`[launch] ${n.fqn}: shutdown failed: ${(err as Error).message}`));
      }
      await runtime.shutdown();
    })());
  options.signal?.addEventListener('abort', () => void stop(), { once: true });

  try {
    for (const [i, n] of plan.nodes.entries()) {
      const def = defs[i]!;
      const name = n.name ?? def.name;
      for (const [k, v] of Object.entries(n.env)) process.env[k] = v;
      const running = await startNode(runtime, def, {
        name,
        namespace: n.namespace,
        parameterOverrides: nodeParameters(n, name),
        remaps: n.remaps,
        args: n.args,
        signal: controller.signal,
      });
      nodes.push(running);
      log(`[launch] started ${running.fqn} (${relative(packageRoot(), n.script!) || n.script})`);
    }
    for (const e of plan.executables) {
      const child = spawn(e.cmd, { shell: true, cwd: e.cwd, env: { ...process.env, ...e.env }, stdio: 'inherit' });
      children.push(child);
      child.on('exit', (code, sig) => log(`[launch] ${e.name ?? e.cmd}: exited (${sig ?? code})`));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const withDone = nodes.filter((n) => n.hasDone);
  const allDone = withDone.length
    ? Promise.all(
        withDone.map((n) =>
          n.done.then(
            () => log(`[launch] ${n.fqn} finished`),
            (err: unknown) => {
              throw new LaunchError(`${n.fqn} failed: ${(err as Error)?.message ?? String(err)}`);
            },
          ),
        ),
      ).then(() => undefined)
    : new Promise<void>(() => {});
  const finished = Promise.race([allDone, failed]);
  return { runtime, nodes, finished, stop };
}
