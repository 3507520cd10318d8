/**
 * Worker-thread entry of the sampler: owns the envs of some slots and answers
 * `init` / `reset` / `step` / `close` requests. Any failure is reported with its message, then
 * the sampler tears all workers down.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createEnvFromSpec, type EnvSpec } from './spec.js';
import { EnvSlots } from './env-slots.js';
import type { WorkerRequest, WorkerResponse } from './protocol.js';

if (!parentPort) throw new Error('env-worker must run in a worker thread');
const port = parentPort;
const { spec, slots } = workerData as { spec: EnvSpec; slots: number[] };

let envSlots: EnvSlots | undefined;

async function handle(req: WorkerRequest): Promise<unknown> {
  switch (req.type) {
    case 'init': {
      const envs = [];
      for (const s of slots) envs.push(await createEnvFromSpec(spec, s));
      envSlots = new EnvSlots(slots, envs);
      return envSlots.dims();
    }
    case 'reset':
      return ready().reset(req.items, req.queryExpert);
    case 'step':
      return ready().step(req.items, req.queryExpert);
    case 'close':
      envSlots?.close();
      envSlots = undefined;
      return null;
  }
}

function ready(): EnvSlots {
  if (!envSlots) throw new Error('env worker used before init');
  return envSlots;
}

port.on('message', (req: WorkerRequest) => {
  handle(req).then(
    (result) => port.postMessage({ id: req.id, ok: true, result } satisfies WorkerResponse),
    (err: unknown) =>
      port.postMessage({
        id: req.id,
        ok: false,
        error: err instanceof Error ? err.message : String(err),
        stack: err instanceof Error ? err.stack : undefined,
      } satisfies WorkerResponse),
  );
});
