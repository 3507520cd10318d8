/**
 * One episode as the learners see it: row-major typed arrays (one row per time step), so they
 * move between worker threads cheaply and feed tfjs tensors directly.
 */
import type { Observation, TaskParams } from '../../sim/types.js';
import type { TaskDemos } from './types.js';

export interface Trajectory {
  task: TaskParams;
  /** Privileged task context (`env.context()` after reset); only experts may read it. */
  context: Float64Array;
  /** Number of steps T. */
  length: number;
  stateDim: number;
  actionDim: number;
  /** [T x stateDim] observation before each action. */
  states: Float32Array;
  /** [T x 3] hand position before each action. */
  hands: Float32Array;
  /** [T x H x W x 3] RGB8 images before each action, when the env renders. */
  images?: Uint8Array;
  imageShape?: { height: number; width: number };
  /** [T x actionDim] actions as the policy emitted them (the env clips to its range). */
  actions: Float32Array;
  /** [T] */
  rewards: Float64Array;
  /** Numeric step infos per step (booleans as 0/1), e.g. `success`, `distance`. */
  envInfos: Record<string, Float64Array>;
  /** Per-step policy outputs recorded at sampling time, e.g. `mean` and `logStd` ([T x actionDim]). */
  agentInfos: Record<string, Float32Array>;
  /** [T x actionDim] the env's scripted expert action in each visited state (when queried). */
  expertActions?: Float32Array;
  /** Observation after the last step (state, hand), for bootstrapping learners such as SAC. */
  finalState: Float32Array;
  finalHand: Float32Array;
  /** True when the episode ended by `done` (always at the horizon in our tasks). */
  terminated: boolean;
}

export function undiscountedReturn(traj: Trajectory): number {
  let s = 0;
  for (let t = 0; t < traj.length; t++) s += traj.rewards[t];
  return s;
}

/** True when `info.success` was reached at any step. */
export function succeeded(traj: Trajectory): boolean {
  const s = traj.envInfos.success;
  if (!s) return false;
  for (let t = 0; t < s.length; t++) if (s[t] > 0) return true;
  return false;
}

/** Row `t` of the state matrix (a view, not a copy). */
export function stateAt(traj: Trajectory, t: number): Float32Array {
  return traj.states.subarray(t * traj.stateDim, (t + 1) * traj.stateDim);
}

/** Which observation rows a policy consumes. */
export type ObsMode = 'state' | 'vision';

/** Width of one observation row for the given mode. */
export function obsDimOf(traj: Pick<Trajectory, 'stateDim' | 'imageShape'>, mode: ObsMode): number {
  if (mode === 'state') return traj.stateDim;
  if (!traj.imageShape) throw new Error('vision observations need trajectories sampled with a camera (no images recorded)');
  return traj.imageShape.height * traj.imageShape.width * 3 + 3;
}

/** Steps (rows) of a list of trajectories. */
export function rowsOf(trajs: readonly Trajectory[]): number {
  let n = 0;
  for (const tr of trajs) n += tr.length;
  return n;
}

/** Env steps in trajectory groups (e.g. one group per task): the samples they cost. */
export function stepsOf(groups: readonly (readonly Trajectory[])[]): number {
  let n = 0;
  for (const g of groups) n += rowsOf(g);
  return n;
}

/**
 * Policy observation rows of several trajectories, stacked: `state` rows, or for vision the HWC
 * image scaled to [0, 1] followed by hand xyz (the GMPS conv policy's input layout).
 */
export function stackObservations(trajs: readonly Trajectory[], mode: ObsMode): Float32Array {
  if (trajs.length === 0) return new Float32Array(0);
  const dim = obsDimOf(trajs[0], mode);
  const n = rowsOf(trajs);
  const out = new Float32Array(n * dim);
  let row = 0;
  for (const tr of trajs) {
    if (obsDimOf(tr, mode) !== dim) throw new Error(`trajectories disagree on observation width (${obsDimOf(tr, mode)} vs ${dim})`);
    if (mode === 'state') {
      out.set(tr.states, row * dim);
    } else {
      const px = dim - 3;
      for (let t = 0; t < tr.length; t++) {
        writeVisionRow(tr.images!.subarray(t * px, (t + 1) * px), tr.hands.subarray(t * 3, t * 3 + 3), out, (row + t) * dim);
      }
    }
    row += tr.length;
  }
  return out;
}

/** Writes one vision observation row, the HWC image bytes / 255 then hand xyz, into `out` at `offset`. */
export function writeVisionRow(image: Uint8Array, hand: ArrayLike<number>, out: Float32Array, offset = 0): void {
  for (let i = 0; i < image.length; i++) out[offset + i] = image[i] / 255;
  for (let i = 0; i < 3; i++) out[offset + image.length + i] = hand[i];
}

/** Concatenates one per-step field of several trajectories. */
export function stackField(trajs: readonly Trajectory[], pick: (tr: Trajectory) => Float32Array | undefined, what: string): Float32Array {
  const parts = trajs.map((tr, i) => {
    const p = pick(tr);
    if (!p) throw new Error(`trajectory ${i} has no ${what}`);
    return p;
  });
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Behaviour-cloning targets of one task from expert trajectories: observation rows and the
 * expert actions clipped to [-1, 1] (as the GMPS loader does). `labels: 'expert'` uses the
 * relabelled `expertActions` instead of the executed actions (DAgger-style aggregation).
 */
export function toTaskDemos(trajs: readonly Trajectory[], mode: ObsMode, labels: 'actions' | 'expert' = 'actions'): TaskDemos {
  const obs = stackObservations(trajs, mode);
  const actions = stackField(trajs, (tr) => (labels === 'actions' ? tr.actions : tr.expertActions), labels === 'actions' ? 'actions' : 'expertActions');
  for (let i = 0; i < actions.length; i++) {
    if (!Number.isFinite(actions[i])) throw new Error(`expert action ${i} is ${actions[i]}; demonstrations must be finite`);
    actions[i] = Math.min(1, Math.max(-1, actions[i]));
  }
  return { obs, actions };
}

/** Copies an observation into the typed-array layout used by trajectories. */
export function observationRow(obs: Observation): { state: Float32Array; hand: Float32Array } {
  return { state: Float32Array.from(obs.state), hand: Float32Array.from(obs.hand) };
}
