/**
 * `gmps bench sim`: medians of one run. env_steps_per_sec is the full control step (IK, safety, physics,
 * reward, observation); mj_steps_per_sec is bare mj_step on the same model, from states of those episodes
 * (at rest); env_overhead_fraction is the environment's own time per control step (IK, safety, gravity
 * compensation, reward, observation) over the time of its mj_step calls, both timed inside the same episodes.
 */
import { createEnv } from '../../../sim/index.js';
import { SUBSTEPS } from '../../../sim/layout.js';
import type { SawyerTaskEnv } from '../../../sim/sawyer-env.js';
import { sceneXml } from '../../../sim/scene.js';
import { nativeStepsPerSec } from '../../../sim/native/bench.js';
import { benchCamera } from '../../../sim/camera.js';
import { attachSceneCamera } from '../../../sim/scene-camera.js';
import { CliError } from '../errors.js';
import { median } from '../../learning/stats.js';

export async function benchSim(opts: { task: string; camera: boolean; steps: number; repeats: number }): Promise<Record<string, number | string | boolean>> {
  if (opts.task !== 'door' && opts.task !== 'push') throw new CliError(`unknown task '${opts.task}'; choose door or push`);
  if (!(opts.steps > 0) || !(opts.repeats > 0)) throw new CliError('--steps and --repeats must be positive');
  const env = (await createEnv(opts.task)) as SawyerTaskEnv;
  const cameraEnv = opts.camera ? ((await createEnv(opts.task)) as SawyerTaskEnv) : undefined;
  const camera = cameraEnv ? attachSceneCamera(cameraEnv, { height: 48, width: 64 }) : undefined;
  try {
    const task = env.sampleTask(() => 0.5);
    // Timed episodes driven by the scripted expert, so the physics sees the contacts of real use.
    const timeEnv = (e: SawyerTaskEnv): { perStep: number; states: Float64Array[] } => {
      const states: Float64Array[] = [];
      let n = 0, t0 = process.hrtime.bigint();
      e.reset(task);
      const actions: Float64Array[] = [];
      for (let i = 0; i < e.horizon; i++) actions.push(e.expertAction()), e.step(actions[i]!);
      e.reset(task);
      t0 = process.hrtime.bigint();
      while (n < opts.steps) {
        for (let i = 0; i < e.horizon && n < opts.steps; i++, n++) {
          e.step(actions[i]!);
          if (states.length < 50 && i % 2 === 0) states.push(Float64Array.from(e.data.qpos));
        }
        if (n < opts.steps) e.reset(task);
      }
      return { perStep: Number(process.hrtime.bigint() - t0) / 1e9 / n, states };
    };
    const envRates: number[] = [], mjRates: number[] = [], camRates: number[] = [], overheads: number[] = [];
    let states: Float64Array[] = [];
    for (let r = 0; r < opts.repeats; r++) {
      const res = timeEnv(env);
      envRates.push(1 / res.perStep);
      states = res.states;
      env.profile = true;
      env.mjStepNs = 0n;
      const profiled = timeEnv(env);
      const mjPerStep = Number(env.mjStepNs) / 1e9 / (env.horizon + opts.steps); // timeEnv steps one warm-up episode too
      env.profile = false;
      overheads.push((profiled.perStep - mjPerStep) / mjPerStep);
      // bare mj_step from the same states, holding the same controls
      const { mj, model, data } = env;
      const per = Math.max(1, Math.floor((opts.steps * SUBSTEPS) / states.length));
      let total = 0, count = 0;
      for (const q of states) {
        data.qpos.set(q); data.qvel.fill(0);
        mj.mj_forward(model, data);
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < per; i++) mj.mj_step(model, data);
        total += Number(process.hrtime.bigint() - t0) / 1e9; count += per;
      }
      mjRates.push(count / total);
      if (cameraEnv && camera) camRates.push(benchCamera(cameraEnv.mj, cameraEnv.model, cameraEnv.data, camera, 500, 1));
    }
    const envRate = median(envRates), mjRate = median(mjRates);
    const result: Record<string, number | string | boolean> = {
      task: opts.task,
      substeps_per_env_step: SUBSTEPS,
      env_steps_per_sec: envRate,
      mj_steps_per_sec: mjRate,
      env_overhead_fraction: median(overheads),
    };
    if (camRates.length) {
      result.camera_frames_per_sec = median(camRates);
      const t = timeEnv(cameraEnv!);
      result.env_steps_per_sec_with_camera = 1 / t.perStep;
    }
    const native = await nativeStepsPerSec(sceneXml(opts.task), { steps: 20000, ctrl: Array.from(env.data.ctrl), repeats: 3 });
    if ('unavailable' in native) result.native_unavailable = native.unavailable;
    else {
      result.native_mj_steps_per_sec = native.mjStepsPerSec;
      result.native_mujoco_version = native.mujocoVersion;
      result.wasm_over_native = mjRate / native.mjStepsPerSec;
    }
    return result;
  } finally {
    env.close();
    cameraEnv?.close();
  }
}
