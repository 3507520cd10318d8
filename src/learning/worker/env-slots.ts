/**
 * A group of env slots stepped together: the part of sampling that lives in a worker thread
 * (or in the main thread for the same-thread sampler). Observations are copied out so an env
 * may reuse its buffers.
 */
import type { Env, StepInfo, TaskParams } from '../../../sim/types.js';

export interface EnvDims {
  kind: Env['kind'];
  stateDim: number;
  actionDim: number;
  contextDim: number;
  horizon: number;
  imageShape?: { height: number; width: number };
}

export interface SlotObservation {
  slot: number;
  state: Float64Array;
  hand: Float64Array;
  image?: Uint8Array;
  /** Present after reset. */
  context?: Float64Array;
  /** The env's scripted expert action in this state, when asked for. */
  expert?: Float64Array;
}

export interface SlotStep extends SlotObservation {
  reward: number;
  done: boolean;
  info: StepInfo;
}

export interface ResetItem {
  slot: number;
  task: TaskParams;
}

export interface StepItem {
  slot: number;
  action: Float32Array;
}

export function dimsOf(env: Env): EnvDims {
  const d: EnvDims = {
    kind: env.kind,
    stateDim: env.stateDim,
    actionDim: env.actionDim,
    contextDim: env.contextDim,
    horizon: env.horizon,
  };
  if (env.imageShape) d.imageShape = { ...env.imageShape };
  return d;
}

export class EnvSlots {
  private readonly bySlot = new Map<number, Env>();

  constructor(slots: readonly number[], envs: readonly Env[]) {
    slots.forEach((s, i) => this.bySlot.set(s, envs[i]));
  }

  dims(): EnvDims {
    const first = this.bySlot.values().next().value;
    if (!first) throw new Error('no envs');
    return dimsOf(first);
  }

  reset(items: readonly ResetItem[], queryExpert: boolean): SlotObservation[] {
    return items.map(({ slot, task }) => {
      const env = this.env(slot);
      const obs = env.reset(task);
      return {
        slot,
        state: Float64Array.from(obs.state),
        hand: Float64Array.from(obs.hand),
        ...(obs.image ? { image: Uint8Array.from(obs.image) } : {}),
        context: Float64Array.from(env.context()),
        ...(queryExpert ? { expert: Float64Array.from(env.expertAction()) } : {}),
      };
    });
  }

  step(items: readonly StepItem[], queryExpert: boolean): SlotStep[] {
    return items.map(({ slot, action }) => {
      const env = this.env(slot);
      const r = env.step(action);
      return {
        slot,
        state: Float64Array.from(r.observation.state),
        hand: Float64Array.from(r.observation.hand),
        ...(r.observation.image ? { image: Uint8Array.from(r.observation.image) } : {}),
        reward: r.reward,
        done: r.done,
        info: { ...r.info },
        ...(queryExpert ? { expert: Float64Array.from(env.expertAction()) } : {}),
      };
    });
  }

  close(): void {
    for (const env of this.bySlot.values()) env.close();
    this.bySlot.clear();
  }

  private env(slot: number): Env {
    const env = this.bySlot.get(slot);
    if (!env) throw new Error(`no env in slot ${slot} here`);
    return env;
  }
}
