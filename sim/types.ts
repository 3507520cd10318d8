/**
 * The Task seam: every simulated task (door, push, the Ant, the 2-D point used by tests) implements
 * `Env`. The task parameter (door target angle, push or Ant goal) is privileged: it is never part of
 * `Observation.state`; learners that may use it (contextual experts) read `context()`.
 */

/** A task instance: which task and its parameter. Angles in radians, positions in metres. */
export type TaskParams =
  | { kind: 'door'; targetRad: number }
  | { kind: 'push'; goal: [number, number] }
  | { kind: 'point'; goal: [number, number] }
  | { kind: 'ant'; goal: [number, number] };

export type TaskKind = TaskParams['kind'];
/** The tasks played by the simulated Sawyer (the others are the point mass and the Ant). */
export type SawyerTaskKind = 'door' | 'push';

export interface Observation {
  /** GMPS state observation (door: hand xyz + handle xyz; push: hand xyz + block xyz). */
  state: Float64Array;
  /** Hand (end-effector) position in the robot base frame, metres. */
  hand: Float64Array;
  /** RGB8 image, row-major HxWx3, present when the env was created with a camera. */
  image?: Uint8Array;
}

export interface StepInfo {
  success: boolean;
  [key: string]: number | boolean;
}

export interface StepResult {
  observation: Observation;
  reward: number;
  done: boolean;
  info: StepInfo;
}

export interface Env {
  readonly kind: TaskKind;
  readonly stateDim: number;
  readonly actionDim: number;
  readonly horizon: number;
  /** Length of `context()`: the privileged task description for contextual experts. */
  readonly contextDim: number;
  /** Image size when the env renders images, else undefined. */
  readonly imageShape?: { height: number; width: number };
  /** Draws a task uniformly from the task distribution. `rng` returns uniform [0, 1). */
  sampleTask(rng: () => number): TaskParams;
  /** Resets the episode to the given task (throws a clear error on a task of another kind or out of range). */
  reset(task: TaskParams): Observation;
  /** One control step. Throws on a NaN/Inf action or a wrong action length, leaving the state as it was. */
  step(action: ArrayLike<number>): StepResult;
  /** Privileged context of the current task (e.g. the target angle), for experts only. */
  context(): Float64Array;
  /** The scripted expert's action in the current state (may read privileged state). */
  expertAction(): Float64Array;
  /** Frees native (WebAssembly) memory. */
  close(): void;
}

/** Options for `createEnv`. */
export interface EnvOptions {
  /** Dense reward variant (door: `- graspDist` added). Default false for door = the sparse GMPS reward... see task docs. */
  dense?: boolean;
  /** Render an RGB image observation of this size (default none). */
  camera?: { width?: number; height?: number };
  seed?: number;
  /**
   * Door: append the door angle (rad) to the state, which is then hand xyz, handle xyz, angle (7
   * values; default false: 6). The paper's full-state door observation includes the angle.
   */
  observeAngle?: boolean;
}
