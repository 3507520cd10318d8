/** Loads the MuJoCo WebAssembly module once per thread. */
import loadMujoco from '@mujoco/mujoco';

export type MujocoModule = Awaited<ReturnType<typeof loadMujoco>>;

let loading: Promise<MujocoModule> | undefined;

export function mujoco(): Promise<MujocoModule> {
  loading ??= loadMujoco();
  return loading;
}
