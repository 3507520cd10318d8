/** Messages between the sampler and its env workers. */
import type { ResetItem, StepItem } from './env-slots.js';

export type WorkerRequest =
  | { id: number; type: 'init' }
  | { id: number; type: 'reset'; items: ResetItem[]; queryExpert: boolean }
  | { id: number; type: 'step'; items: StepItem[]; queryExpert: boolean }
  | { id: number; type: 'close' };

export type WorkerResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: string; stack?: string };
