/** Picks the node runtime: rclnodejs when ROS 2 is sourced, otherwise the in-process one. */
import { InProcessRuntime, type InProcessRuntimeOptions } from './inprocess.js';
import type { RclnodejsRuntimeOptions } from './rclnodejs.js';
import type { Runtime, RuntimeKind } from './types.js';

export interface CreateRuntimeOptions extends InProcessRuntimeOptions, RclnodejsRuntimeOptions {
  /** 'auto' (default): rclnodejs when AMENT_PREFIX_PATH is set, else in-process. */
  kind?: RuntimeKind | 'auto';
}

export function chooseRuntimeKind(kind: RuntimeKind | 'auto' = 'auto', env: NodeJS.ProcessEnv = process.env): RuntimeKind {
  if (kind !== 'auto') return kind;
  return env.AMENT_PREFIX_PATH ? 'rclnodejs' : 'inprocess';
}

export async function createRuntime(options: CreateRuntimeOptions = {}): Promise<Runtime> {
  const kind = chooseRuntimeKind(options.kind, options.env);
  if (kind === 'inprocess') return new InProcessRuntime(options);
  const { createRclnodejsRuntime } = await import('./rclnodejs.js');
  return createRclnodejsRuntime(options);
}
