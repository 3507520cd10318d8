/**
 * The one place that picks the tfjs backend: tfjs-node-gpu → tfjs-node → wasm → cpu.
 * The two native bindings are optional (imported dynamically, never required); wasm and cpu
 * ship with the project. An explicit choice (CLI `--backend`, or env `GMPS_BACKEND`) wins and
 * fails loudly when it cannot load. The choice is logged once.
 */
import * as tf from '@tensorflow/tfjs-core';
import './policy/gradients.js';

export const BACKEND_CHOICES = ['auto', 'node-gpu', 'node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

export interface BackendInfo {
  /** What was asked for. */
  requested: BackendChoice;
  /** What runs: one of the concrete choices. */
  choice: Exclude<BackendChoice, 'auto'>;
  /** tfjs' own backend name (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** Compute threads the backend uses (wasm: XNNPACK pool; 1 in Node where wasm threads are off). */
  threads?: number;
  /** Why the ones before it in the fallback order were skipped. */
  skipped: string[];
}

let active: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

export function isBackendChoice(s: string): s is BackendChoice {
  return (BACKEND_CHOICES as readonly string[]).includes(s);
}

/** The backend in use, or undefined before `initBackend`. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

export interface InitBackendOptions {
  /** Defaults to env GMPS_BACKEND, else 'auto'. */
  backend?: BackendChoice;
  /** Where the choice is reported; defaults to one line on stderr. Pass null to stay silent. */
  log?: ((line: string) => void) | null;
}

/**
 * Selects and initialises the backend once per process; later calls return the same info
 * (asking for a different concrete backend later switches to it).
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const envChoice = process.env.GMPS_BACKEND;
  if (opts.backend === undefined && envChoice !== undefined && !isBackendChoice(envChoice)) {
    throw new Error(`GMPS_BACKEND=${envChoice} is not a backend; use one of ${BACKEND_CHOICES.join(', ')}`);
  }
  const requested: BackendChoice = opts.backend ?? (envChoice as BackendChoice | undefined) ?? 'auto';
  if (active && (requested === 'auto' || requested === active.choice)) return active;
  if (pending && requested === 'auto') return pending;
  pending = select(requested).then((info) => {
    active = info;
    const log = opts.log === undefined ? (l: string) => process.stderr.write(`${l}\n`) : opts.log;
    if (log) {
      const why = info.skipped.length ? ` (skipped: ${info.skipped.join('; ')})` : '';
      log(`tfjs backend: ${info.choice}${info.threads ? `, ${info.threads} thread(s)` : ''}${why}`);
    }
    return info;
  });
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

async function select(requested: BackendChoice): Promise<BackendInfo> {
  const order: Exclude<BackendChoice, 'auto'>[] =
    requested === 'auto' ? ['node-gpu', 'node', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  // Production mode: no debug checks, and no "install tfjs-node" banner from the cpu backend.
  tf.enableProdMode();
  for (const choice of order) {
    try {
      const tfName = await load(choice);
      const ok = await tf.setBackend(tfName);
      if (!ok) throw new Error(`tf.setBackend('${tfName}') returned false`);
      await tf.ready();
      return { requested, choice, tfName, threads: await threadsOf(choice), skipped };
    } catch (err) {
      const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (requested !== 'auto') {
        throw new Error(`tfjs backend '${choice}' could not be loaded: ${msg}`);
      }
      skipped.push(`${choice}: ${msg}`);
    }
  }
  throw new Error(`no tfjs backend could be loaded: ${skipped.join('; ')}`);
}

/** Imports the package that registers the backend; returns tfjs' name for it. */
async function load(choice: Exclude<BackendChoice, 'auto'>): Promise<string> {
  switch (choice) {
    case 'node-gpu':
    case 'node': {
      // Optional native bindings: a variable specifier keeps TypeScript from requiring them.
      const pkg = choice === 'node-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
      await import(pkg);
      if (!tf.findBackendFactory('tensorflow')) {
        throw new Error(`${pkg} loaded but registered no 'tensorflow' backend (tfjs-core version mismatch?)`);
      }
      return 'tensorflow';
    }
    case 'wasm': {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const { registerWasmKernels } = await import('./wasm-kernels.js');
      registerWasmKernels();
      // Node has no wasm threads (tfjs disables them there); one XNNPACK thread avoids idle pools.
      if (tf.env().getBool('IS_NODE')) wasm.setThreadsCount(1);
      return 'wasm';
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

async function threadsOf(choice: Exclude<BackendChoice, 'auto'>): Promise<number | undefined> {
  if (choice !== 'wasm') return undefined;
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  try {
    return wasm.getThreadsCount();
  } catch {
    return undefined;
  }
}
