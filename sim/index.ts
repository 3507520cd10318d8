/** The simulated tasks: `createEnv(kind, options)`. */
import { DoorEnv } from './door.js';
import { mujoco } from './mujoco.js';
import { PushEnv } from './push.js';
import type { Env, EnvOptions, TaskKind, TaskParams } from './types.js';

/** A task in words, for logs and tables: `door 35.0 deg`, `push goal (0.050, 0.750) m`. */
export function describeTask(task: TaskParams): string {
  return task.kind === 'door'
    ? `door ${((task.targetRad * 180) / Math.PI).toFixed(1)} deg`
    : `${task.kind} goal (${task.goal[0].toFixed(3)}, ${task.goal[1].toFixed(3)}) m`;
}

export const TASK_KINDS: readonly TaskKind[] = ['door', 'push', 'point', 'ant'];

export async function createEnv(kind: TaskKind | string, options: EnvOptions = {}): Promise<Env> {
  switch (kind) {
    case 'door':
    case 'push': {
      const mj = await mujoco();
      const env = kind === 'door' ? new DoorEnv(mj, options) : new PushEnv(mj, options);
      if (options.camera) {
        const { attachSceneCamera } = await import('./scene-camera.js');
        attachSceneCamera(env, options.camera);
      }
      return env;
    }
    case 'point': {
      const { PointEnv } = await import('./point.js');
      return new PointEnv(options);
    }
    case 'ant': {
      const { AntEnv } = await import('./ant.js');
      return new AntEnv(await mujoco(), options);
    }
    default:
      throw new Error(`unknown task '${kind}'; known tasks: ${TASK_KINDS.join(', ')}`);
  }
}

export type { Env, EnvOptions, TaskKind, TaskParams, Observation, StepResult } from './types.js';
