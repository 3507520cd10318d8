/** Shared pieces of the node tests: a quiet in-process runtime that records logs, and message waiting. */
import { InProcessRuntime } from '../../src/graph/inprocess.js';
import type { LogLevel } from '../../src/graph/logger.js';
import type { RosNode } from '../../src/graph/types.js';

export interface Logged {
  level: LogLevel;
  name: string;
  message: string;
}

export function quietRuntime(logs: Logged[] = []): InProcessRuntime {
  return new InProcessRuntime({
    log: (level, name, message) => logs.push({ level, name, message }),
    onError: (err, where) => logs.push({ level: 'fatal', name: where, message: err.stack ?? err.message }),
  });
}

/** Records every message of a topic. */
export function record<T = Record<string, unknown>>(node: RosNode, type: string, topic: string, qos?: 'latched' | 'sensor_data' | 'clock'): T[] {
  const got: T[] = [];
  node.createSubscription<T>(type, topic, qos ? { qos } : {}, (m) => {
    got.push(m);
  });
  return got;
}

/**
 * Flushes deliveries until `cond` holds; fails after `rounds` flushes and, when waiting on wall-clock timers,
 * not before `minMs` milliseconds (a busy machine runs flush rounds faster than timers fire).
 */
export async function until(rt: InProcessRuntime, cond: () => boolean, what: string, rounds = 200, minMs = 0): Promise<void> {
  const deadline = performance.now() + minMs;
  for (let i = 0; i < rounds || performance.now() < deadline; i++) {
    await rt.flush();
    if (cond()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`timed out waiting for ${what}`);
}
