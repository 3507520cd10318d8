/** Gives a task env image observations from the scene's MJCF camera, rendered by MuJoCo ray casting. */
import { RayCamera } from './camera.js';
import { SCENE_CAMERA } from './scene.js';
import type { SawyerTaskEnv } from './sawyer-env.js';
import type { Env } from './types.js';

export function attachSceneCamera(env: Env, size: { width?: number; height?: number }): RayCamera {
  const task = env as SawyerTaskEnv;
  if (typeof task.attachRenderer !== 'function') throw new Error(`the ${env.kind} task has no camera`);
  const camera = new RayCamera(task.mj, task.model, {
    height: size.height ?? 48,
    width: size.width ?? 64,
    mjcfCamera: SCENE_CAMERA.name,
    background: [40, 40, 48],
  });
  task.attachRenderer({
    height: camera.height,
    width: camera.width,
    render: (data) => camera.render(data).rgb.slice(),
    close: () => camera.close(),
  });
  return camera;
}
