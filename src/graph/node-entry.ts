/**
 * The node-file contract. Each file in `nodes/` (compiled to `dist/nodes/<x>.js`) does:
 *
 *   import { defineNode, runIfMain } from '../src/graph/index.js';
 *   const node = defineNode({
 *     name: 'policy',                       // default node name (launch `name:` / `-r __node:=` override it)
 *     description: 'camera image → end-effector command',
 *     async create(ros, ctx) {
 *       const rate = ros.declareParameter('rate_hz', 'double', 20, { description: 'control rate' });
 *       const pub = ros.createPublisher('geometry_msgs/msg/TwistStamped', '~/command');
 *       ros.createSubscription('sensor_msgs/msg/Image', 'image', { qos: 'sensor_data' }, (img) => { ... });
 *       return { shutdown: async () => { ... } };   // optional
 *     },
 *   });
 *   export default node;
 *   await runIfMain(import.meta.url, node);
 *
 * - `create` gets a node already named, namespaced, remapped and with its parameter overrides;
 *   it declares parameters, creates endpoints and returns quickly (no endless loop: use timers).
 * - It may return `{ done, shutdown }`: `done` resolves when the node has finished its job (the
 *   launch ends when every node that has a `done` finished); `shutdown()` releases resources
 *   (files, devices) and is awaited before the node is destroyed.
 * - `ctx.signal` aborts on Ctrl-C / launch shutdown; `ctx.args` are the non-ROS command-line
 *   arguments (launch `args:` after the node file); `ctx.runtimeKind` says where it runs.
 * - The same file runs three ways: in the embedded launcher (imported, one process, in-process
 *   runtime), under `ros2 launch` / by hand as `node dist/nodes/x.js --ros-args -r __node:=n -p k:=v`
 *   (`runIfMain` starts it on rclnodejs when ROS 2 is sourced, else on the in-process runtime).
 */
import { realpathSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphError } from './errors.js';
import { InProcessNode } from './inprocess.js';
import { joinName, normalizeNamespace } from './names.js';
import { loadParamsFile, parseRosArgs } from './ros-args.js';
import { createRuntime } from './runtime.js';
import type { NodeOptions, ParameterValue, RosNode, Runtime, RuntimeKind } from './types.js';

export interface NodeContext {
  /** Non-ROS command-line arguments (launch `args:` after the node file). */
  args: string[];
  /** Aborted when the node must stop. */
  signal: AbortSignal;
  runtimeKind: RuntimeKind;
}

export interface NodeHandle {
  /** Resolves when the node has finished on its own (rejects = the node failed). */
  done?: Promise<unknown>;
  /** Awaited before the node is destroyed. */
  shutdown?(): void | Promise<void>;
}

export interface NodeDefinition {
  /** Default node name. */
  name: string;
  description?: string;
  create(node: RosNode, ctx: NodeContext): void | NodeHandle | Promise<void | NodeHandle>;
}

export function defineNode(def: NodeDefinition): NodeDefinition {
  if (!def || typeof def.create !== 'function' || typeof def.name !== 'string') {
    throw new GraphError('defineNode needs { name: string, create(node, ctx) }');
  }
  return Object.freeze({ ...def });
}

export function isNodeDefinition(v: unknown): v is NodeDefinition {
  return !!v && typeof v === 'object' && typeof (v as NodeDefinition).create === 'function' && typeof (v as NodeDefinition).name === 'string';
}

export interface StartNodeOptions extends NodeOptions {
  /** Node name; default the definition's. */
  name?: string;
  args?: string[];
  signal?: AbortSignal;
}

export interface RunningNode {
  node: RosNode;
  fqn: string;
  /** Resolves when the node's `done` resolves; never resolves for nodes without one. */
  done: Promise<unknown>;
  hasDone: boolean;
  stop(): Promise<void>;
}

export async function startNode(runtime: Runtime, def: NodeDefinition, options: StartNodeOptions = {}): Promise<RunningNode> {
  const controller = new AbortController();
  if (options.signal) {
    if (options.signal.aborted) controller.abort();
    else options.signal.addEventListener('abort', () => controller.abort(), { once: true });
  }
  const node = runtime.createNode(options.name ?? def.name, options);
  let handle: void | NodeHandle;
  try {
    handle = await def.create(node, { args: options.args ?? [], signal: controller.signal, runtimeKind: runtime.kind });
  } catch (err) {
    node.destroy();
    throw err;
  }
  if (node instanceof InProcessNode) {
    const unused = node.unusedParameterOverrides();
    if (unused.length) {
      node.getLogger().warn(`parameters given at launch but never declared by this node: ${unused.join(', ')}`);
    }
  }
  let stopped = false;
  return {
    node,
    fqn: node.getFullyQualifiedName(),
    done: handle?.done ?? new Promise(() => {}),
    hasDone: !!handle?.done,
    async stop() {
      if (stopped) return;
      stopped = true;
      controller.abort();
      try {
        await handle?.shutdown?.();
      } finally {
        node.destroy();
      }
    },
  };
}

/** Node options from `--ros-args` for the in-process runtime (rcl does this itself under rclnodejs). */
export function nodeOptionsFromArgv(argv: readonly string[], defaultName: string): StartNodeOptions {
  const ros = parseRosArgs(argv);
  const name = ros.nodeName ?? defaultName;
  const namespace = normalizeNamespace(ros.namespace);
  const fqn = joinName(namespace, name);
  const parameterOverrides: Record<string, ParameterValue> = {};
  for (const f of ros.paramFiles) Object.assign(parameterOverrides, loadParamsFile(f, name, fqn));
  for (const p of ros.params) if (!p.node || p.node === name) parameterOverrides[p.name] = p.value;
  const remaps = ros.remaps.filter(([, , only]) => !only || only === name).map(([f, t]) => [f, t] as [string, string]);
  return { name, namespace, parameterOverrides, remaps, args: ros.rest };
}

/**
 * Runs a node definition as its own process until Ctrl-C / SIGTERM or its `done`, then exits
 * (code 0, or 1 when the node failed). Under rclnodejs the `--ros-args` are handled by rcl;
 * in-process they are parsed here.
 */
export async function runNodeMain(def: NodeDefinition, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  let runtime: Runtime | undefined;
  let running: RunningNode | undefined;
  // A node with only subscriptions has nothing else keeping the event loop alive.
  const keepAlive = setInterval(() => {}, 1 << 30);
  const exit = async (code: number, message?: string): Promise<never> => {
    clearInterval(keepAlive);
    if (message) process.stderr.write(`${def.name}: ${message}\n`);
    await running?.stop().catch(() => {});
    await runtime?.shutdown().catch(() => {});
    process.exit(code);
  };
  try {
    runtime = await createRuntime({ kind: 'auto', argv: [process.argv[0]!, process.argv[1]!, ...argv] });
    const options: StartNodeOptions =
      runtime.kind === 'inprocess' ? nodeOptionsFromArgv(argv, def.name) : { args: parseRosArgs(argv).rest };
    running = await startNode(runtime, def, options);
  } catch (err) {
    return exit(2, err instanceof GraphError ? err.message : ((err as Error)?.stack ?? String(err)));
  }
  process.once('SIGINT', () => void exit(0));
  process.once('SIGTERM', () => void exit(0));
  const r = running;
  if (r.hasDone) {
    r.done.then(
      () => exit(0),
      (err: unknown) => {
        r.node.getLogger().fatal(`node failed: ${(err as Error)?.stack ?? String(err)}`);
        return exit(1);
      },
    );
  }
  await new Promise<never>(() => {});
}

/** True when `moduleUrl` is the script node was started with. */
export function isMainModule(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(resolvePath(entry)) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/** `await runIfMain(import.meta.url, node)` at the bottom of a node file. */
export async function runIfMain(moduleUrl: string, def: NodeDefinition): Promise<void> {
  // Not awaited: a top-level await that never settles would make Node exit with code 13.
  if (isMainModule(moduleUrl)) void runNodeMain(def);
}
