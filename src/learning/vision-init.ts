/**
 * A GMPS vision policy built from a meta-trained state policy, the split the GMPS paper (§4.3)
 * recommends: "the bulk of learning can be done without vision, while visual features are learned
 * with supervised learning". The state policies read [hand xyz, object xyz] (door: handle,
 * push: block); the vision policy reads [image, hand xyz] through convs and a spatial
 * soft-argmax. So:
 *
 *  1. Pose data: camera frames of the states the state meta-policy visits (its pre-update
 *     rollouts and its adapted rollouts) and of noisy expert rollouts, each labelled with the
 *     privileged object position the env knows.
 *  2. Keypoint fit: the convs, the soft-argmax temperature and a linear read-out r(k) = k·R + c
 *     from the 2C keypoint coordinates to the object position, by Adam on the squared error
 *     (targets normalised per coordinate; the normalisation is folded back into R and c).
 *  3. Composition. With the read-out in the policy (`vision.readout` = D, `--readout`): the vision head reads [r(k), hand] where the state head read
 *     [hand, object], so it is the state head with W0's rows reordered, and α likewise: the
 *     vision policy acts and adapts exactly as the state policy does on the read-out's estimate
 *     of the object. Without it (the paper's architecture, keypoints straight into the FC block; the default):
 *     W0_vis[keypoints] = R·W0[obj] and b0_vis = b0 + c·W0[obj], the hand and z rows and every
 *     later layer copied. It acts as the state policy does, but adapts differently: the object
 *     rows' inner gradient is Σ obj·δ where the keypoint rows see Σ k·δ, so their step sizes have
 *     no exact equivalent (`keypointStepSize`: a number, or 'matched', the object rows' step sizes
 *     rescaled so the rows move the first layer by the same amount).
 *
 * The result is a complete vision checkpoint (every parameter is the vision policy's own; the
 * convs are not frozen): it adapts and evaluates like any other, and `meta-train --init-from` can
 * continue meta-training all of it with GMPS.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from './adam.js';
import type { GmpsPolicy } from './policy/policy.js';
import type { Params } from './policy/params.js';
import { visionTrunkNames, type VisionPolicy } from './policy/vision.js';
import { xavierUniform } from './policy/params.js';
import { Rng } from './rng.js';
import type { TrainState } from './meta-train.js';
import type { Sampler } from './sampler.js';
import { rowsOf, writeVisionRow, type Trajectory } from './trajectory.js';

/** Camera frames with the hand position and the privileged object position of each. */
export interface PoseData {
  n: number;
  height: number;
  width: number;
  /** [n x H x W x 3] RGB8. */
  images: Uint8Array;
  /** [n x 3] */
  hands: Float32Array;
  /** [n x D] the object position the state policy reads (state columns 3..). */
  targets: Float32Array;
  targetDim: number;
}

/** Pose rows of camera trajectories of a state task: state = [hand xyz, object …]. */
export function poseDataOf(trajs: readonly Trajectory[]): PoseData {
  const first = trajs.find((t) => t.length > 0);
  if (!first) throw new Error('pose data: no trajectory steps');
  if (!first.images || !first.imageShape) throw new Error('pose data: the trajectories hold no camera images (sample them with a camera env)');
  const { height, width } = first.imageShape;
  const px = height * width * 3;
  const targetDim = first.stateDim - 3;
  if (targetDim < 1) throw new Error(`pose data: state width ${first.stateDim} has no object columns after the hand's three`);
  const n = rowsOf(trajs);
  const images = new Uint8Array(n * px);
  const hands = new Float32Array(n * 3);
  const targets = new Float32Array(n * targetDim);
  let row = 0;
  for (const [i, tr] of trajs.entries()) {
    if (!tr.images || tr.imageShape?.height !== height || tr.imageShape.width !== width || tr.stateDim !== first.stateDim) {
      throw new Error(`pose data: trajectory ${i} has no images or a different image size / state width than the first`);
    }
    images.set(tr.images.subarray(0, tr.length * px), row * px);
    hands.set(tr.hands.subarray(0, tr.length * 3), row * 3);
    for (let t = 0; t < tr.length; t++) {
      targets.set(tr.states.subarray(t * tr.stateDim + 3, (t + 1) * tr.stateDim), (row + t) * targetDim);
    }
    row += tr.length;
  }
  return { n, height, width, images, hands, targets, targetDim };
}

/** Observation rows [image / 255, hand] of the given pose rows. */
function obsRows(d: PoseData, rows: readonly number[]): Float32Array {
  const px = d.height * d.width * 3;
  const out = new Float32Array(rows.length * (px + 3));
  rows.forEach((r, j) => writeVisionRow(d.images.subarray(r * px, (r + 1) * px), d.hands.subarray(r * 3, r * 3 + 3), out, j * (px + 3)));
  return out;
}

export interface KeypointFitOptions {
  steps: number;
  batchSize?: number;
  lr?: number;
  seed?: number;
  /** Share of the rows held out for validation (default 0.1). */
  validation?: number;
  /** Rows of the validation set evaluated per report (default all, in chunks). */
  evalEvery?: number;
  log?: (p: { step: number; trainRmse: number; valRmse: number }) => void;
}

export interface KeypointFit {
  /** The vision policy's trunk parameters: conv kernels and biases, softmaxTemp. */
  trunk: Params;
  /** Read-out from the 2C keypoint coordinates to the object position: [2C x D] and [D]. */
  readout: { W: tf.Tensor2D; b: tf.Tensor1D };
  /** Root-mean-square error per coordinate (m) on the training and validation rows at the end. */
  trainRmse: number;
  valRmse: number;
  curve: Array<{ step: number; trainRmse: number; valRmse: number }>;
  /** Mean squared keypoint coordinate Σ_i mean(k_i²) and per-coordinate mean squared target mean(o_d²), over the validation rows. */
  keypointPower: number;
  targetPower: number[];
}

/** The conv and soft-argmax parameters (not the head, not a read-out). */
function trunkNames(policy: GmpsPolicy): string[] {
  return visionTrunkNames({ ...policy.config.vision!, readout: 0 });
}

/**
 * Fits the vision trunk (convs + soft-argmax) and a linear read-out to the pose data.
 * `init` must hold the trunk parameters (e.g. `policy.init(seed).params`).
 */
export function fitKeypoints(policy: GmpsPolicy, init: Params, data: PoseData, opts: KeypointFitOptions): KeypointFit {
  if (policy.config.kind !== 'vision' || !policy.config.vision) throw new Error('fitKeypoints: needs a vision policy');
  const v = policy.config.vision;
  if (v.height !== data.height || v.width !== data.width) {
    throw new Error(`fitKeypoints: the policy reads ${v.height}x${v.width} images, the pose data holds ${data.height}x${data.width}`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const batch = opts.batchSize ?? 64;
  const D = data.targetDim;
  const kp = 2 * v.filters[v.filters.length - 1];
  // Split rows (shuffled) into training and validation.
  const order = Array.from({ length: data.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const nVal = Math.max(1, Math.floor(data.n * (opts.validation ?? 0.1)));
  const val = order.slice(0, nVal);
  const train = order.slice(nVal);
  if (train.length < batch) throw new Error(`fitKeypoints: ${train.length} training rows, fewer than one batch of ${batch}`);
  // Per-coordinate normalisation of the targets (training rows).
  const mu = new Float32Array(D);
  const sd = new Float32Array(D);
  for (const r of train) for (let k = 0; k < D; k++) mu[k] += data.targets[r * D + k] / train.length;
  for (const r of train) for (let k = 0; k < D; k++) sd[k] += (data.targets[r * D + k] - mu[k]) ** 2 / train.length;
  for (let k = 0; k < D; k++) sd[k] = Math.max(Math.sqrt(sd[k]), 1e-3);
  const targetRows = (rows: readonly number[]) => {
    const out = new Float32Array(rows.length * D);
    rows.forEach((r, j) => {
      for (let k = 0; k < D; k++) out[j * D + k] = (data.targets[r * D + k] - mu[k]) / sd[k];
    });
    return out;
  };

  const names = trunkNames(policy);
  const vars: Record<string, tf.Variable> = {};
  for (const n of names) {
    if (!init[n]) throw new Error(`fitKeypoints: init lacks the trunk parameter '${n}'`);
    vars[n] = tf.variable(tf.clone(init[n]), true);
  }
  vars.readoutW = tf.variable(xavierUniform([kp, D], (opts.seed ?? 0) + 77), true);
  vars.readoutB = tf.variable(tf.zeros([D]), true);
  const adam = new Adam({ lr: opts.lr ?? 1e-3 });
  const obsDim = policy.config.obsDim;
  const vp = policy as VisionPolicy;
  const predict = (p: Params, obs: tf.Tensor2D): tf.Tensor2D => {
    const k = vp.keypoints(p, obs);
    return tf.add(tf.matMul(k, p.readoutW as tf.Tensor2D), p.readoutB) as tf.Tensor2D;
  };
  /** RMSE in metres per coordinate over `rows`, in chunks. */
  const rmse = (rows: readonly number[]): number => {
    let se = 0;
    for (let s = 0; s < rows.length; s += 256) {
      const chunk = rows.slice(s, s + 256);
      se += tf.tidy(() => {
        const pred = predict(vars, tf.tensor2d(obsRows(data, chunk), [chunk.length, obsDim]));
        const err = tf.mul(tf.sub(pred, tf.tensor2d(targetRows(chunk), [chunk.length, D])), tf.tensor1d(sd));
        return tf.sum(tf.square(err)).dataSync()[0];
      });
    }
    return Math.sqrt(se / (rows.length * D));
  };
  const curve: KeypointFit['curve'] = [];
  const every = opts.evalEvery ?? Math.max(1, Math.floor(opts.steps / 10));
  const trainProbe = train.slice(0, Math.min(train.length, val.length));
  for (let step = 1; step <= opts.steps; step++) {
    const rows = Array.from({ length: batch }, () => train[Math.floor(rng.next() * train.length)]);
    const obs = obsRows(data, rows);
    const y = targetRows(rows);
    tf.tidy(() => {
      const o = tf.tensor2d(obs, [batch, obsDim]);
      const t = tf.tensor2d(y, [batch, D]);
      const { grads } = tf.variableGrads(() => tf.mean(tf.sum(tf.square(tf.sub(predict(vars, o), t)), 1)) as tf.Scalar, Object.values(vars));
      const byName: Record<string, tf.Tensor> = {};
      for (const [n, x] of Object.entries(vars)) byName[n] = grads[x.name];
      adam.apply(vars, byName);
    });
    if (step % every === 0 || step === opts.steps) {
      const p = { step, trainRmse: rmse(trainProbe), valRmse: rmse(val) };
      curve.push(p);
      opts.log?.(p);
    }
  }
  adam.dispose();
  const trunk: Params = {};
  for (const n of names) trunk[n] = tf.clone(vars[n]);
  // Fold the normalisation in: r(k) = (k·W + b)·sd + mu.
  const readout = tf.tidy(() => {
    const s = tf.tensor1d(sd);
    return {
      W: tf.mul(vars.readoutW, s) as tf.Tensor2D,
      b: tf.add(tf.mul(vars.readoutB, s), tf.tensor1d(mu)) as tf.Tensor1D,
    };
  });
  const last = curve.at(-1)!;
  let keypointPower = 0;
  for (let s = 0; s < val.length; s += 256) {
    const chunk = val.slice(s, s + 256);
    const k = tf.tidy(() => vp.keypoints(vars, tf.tensor2d(obsRows(data, chunk), [chunk.length, obsDim])).dataSync() as Float32Array);
    for (let i = 0; i < k.length; i++) keypointPower += k[i] * k[i];
  }
  keypointPower /= val.length;
  const targetPower = Array.from({ length: D }, (_, d) => val.reduce((a, r) => a + data.targets[r * D + d] ** 2, 0) / val.length);
  for (const x of Object.values(vars)) x.dispose();
  return { trunk, readout, trainRmse: last.trainRmse, valRmse: last.valRmse, curve, keypointPower, targetPower };
}

export interface ComposeOptions {
  /**
   * Step size of W0's keypoint rows: a number for all of them (default 0: the composed policy
   * adapts through the other parameters), or 'matched': per hidden unit j,
   * α_k[j] = Σ_d α_obj[d, j]·E[o_d²] / Σ_i E[k_i²], so that for rows whose values change little
   * over an episode the keypoint rows move unit j's pre-activation as the object rows did
   * (the inner step through row i moves it by about −α[i, j]·x_i²·Σ_t δ_tj).
   */
  keypointStepSize?: number | 'matched';
}

/**
 * θ and α of the vision policy that computes the state policy's action from the fitted keypoints
 * (see the module comment). The state head must read [hand xyz, object (D)] then z; the vision
 * head [2C keypoints, hand xyz] then z, with the same hidden sizes and latent size.
 */
export function composeVisionPolicy(
  state: { policy: GmpsPolicy; params: Params; stepSizes: Params },
  vision: GmpsPolicy,
  fit: Pick<KeypointFit, 'trunk' | 'readout'> & Partial<Pick<KeypointFit, 'keypointPower' | 'targetPower'>>,
  opts: ComposeOptions = {},
): { params: Params; stepSizes: Params } {
  const hs = state.policy.head;
  const hv = vision.head;
  const D = fit.readout.W.shape[1];
  const kp = fit.readout.W.shape[0];
  const withReadout = (vision.config.vision?.readout ?? 0) > 0;
  if (hs.inDim !== 3 + D) throw new Error(`composeVisionPolicy: the state head reads ${hs.inDim} values, expected hand (3) + object (${D})`);
  if (withReadout && vision.config.vision!.readout !== D) {
    throw new Error(`composeVisionPolicy: the vision policy's read-out has width ${vision.config.vision!.readout}, the fitted one ${D}`);
  }
  const first = withReadout ? D : kp;
  if (hv.inDim !== first + 3) throw new Error(`composeVisionPolicy: the vision head reads ${hv.inDim} values, expected ${first} + hand (3)`);
  if (hs.latentDim !== hv.latentDim || hs.hidden.length !== hv.hidden.length || hs.hidden.some((h, i) => h !== hv.hidden[i]) || hs.actDim !== hv.actDim) {
    throw new Error('composeVisionPolicy: the state and vision heads differ in hidden sizes, latent size or action size');
  }
  if (!state.policy.adaptable.includes('W0') || !vision.adaptable.includes('W0')) {
    throw new Error('composeVisionPolicy: both policies must adapt W0 (full-head adaptation)');
  }
  const L = hs.latentDim;
  return tf.tidy(() => {
    // The state head's first layer (weights and step sizes) reads [hand (3), object (D), z (L)].
    const rows = (t: tf.Tensor) => ({
      hand: tf.slice(t, [0, 0], [3, -1]),
      obj: tf.slice(t, [3, 0], [D, -1]),
      z: tf.slice(t, [3 + D, 0], [L, -1]),
    });
    const w0 = rows(state.params.W0);
    const a0 = rows(state.stepSizes.W0);
    const params: Params = {};
    for (const n of Object.keys(fit.trunk)) params[n] = tf.clone(fit.trunk[n]);
    const stepSizes: Params = {};
    for (const n of vision.adaptable) if (n !== 'W0') stepSizes[n] = tf.clone(state.stepSizes[n]);
    if (withReadout) {
      // The read-out computes the object position: the head is the state head with its first
      // layer's rows reordered from [hand, object, z] to [object, hand, z].
      params['readout/kernel'] = tf.clone(fit.readout.W);
      params['readout/bias'] = tf.clone(fit.readout.b);
      params.W0 = tf.concat([w0.obj, w0.hand, w0.z], 0);
      stepSizes.W0 = tf.concat([a0.obj, a0.hand, a0.z], 0);
    } else {
      params.W0 = tf.concat([tf.matMul(fit.readout.W, w0.obj), w0.hand, w0.z], 0);
      params.b0 = tf.add(state.params.b0, tf.reshape(tf.matMul(tf.reshape(fit.readout.b, [1, D]), w0.obj), [-1]));
      let kpRows: tf.Tensor;
      if (opts.keypointStepSize === 'matched') {
        if (!fit.targetPower || fit.targetPower.length !== D || !(fit.keypointPower! > 0)) {
          throw new Error("composeVisionPolicy: keypointStepSize 'matched' needs the fit's keypointPower and targetPower");
        }
        const perUnit = tf.div(tf.matMul(tf.tensor2d([fit.targetPower], [1, D]), a0.obj as tf.Tensor2D), fit.keypointPower!);
        kpRows = tf.tile(perUnit, [kp, 1]);
      } else {
        kpRows = tf.fill([kp, a0.obj.shape[1]!], opts.keypointStepSize ?? 0);
      }
      stepSizes.W0 = tf.concat([kpRows, a0.hand, a0.z], 0);
    }
    // Every other head parameter (later layers, log-std, z) is the state policy's.
    for (const [n] of vision.shapes) if (!(n in params)) params[n] = tf.clone(state.params[n]);
    return { params, stepSizes };
  });
}

export interface VisionInitOptions {
  /** The meta-trained state checkpoint (directory or model.json). */
  from: string;
  /** Output directory of the vision checkpoint. */
  outDir: string;
  /** A sampler over the same task with a camera of the vision policy's image size. */
  sampler: Sampler;
  /** Tasks of the pose data, drawn from the task distribution (default 20). */
  tasks?: number;
  /** Rollouts per task of each behaviour: pre-update, adapted, noisy expert (default 10). */
  rollouts?: number;
  /** Std of the action noise of the expert rollouts (default 0.1). */
  expertNoise?: number;
  fit: KeypointFitOptions;
  /** Keep the keypoint read-out in the policy as a layer before the FC block (default false: the paper's layout, the read-out folded into the first FC layer). */
  readout?: boolean;
  /** First-layer keypoint step sizes without the read-out (default 'matched'). */
  compose?: ComposeOptions;
  seed?: number;
  log?: (line: string) => void;
}

export interface VisionInitResult {
  checkpoint: string;
  poseRows: number;
  envSamples: number;
  fit: Omit<KeypointFit, 'trunk' | 'readout'>;
}

/** The whole `gmps vision-init`: pose data, keypoint fit, composition, checkpoint. */
export async function visionInit(opts: VisionInitOptions): Promise<VisionInitResult> {
  const mt = await import('./meta-train.js');
  const { createPolicy, defaultVisionConfig, DEFAULT_VISION } = await import('./policy/index.js');
  const { GmpsLearner } = await import('./gmps.js');
  const { rolloutExpert, scriptedExpert } = await import('./expert.js');
  const { disposeParams } = await import('./policy/params.js');
  const log = opts.log ?? (() => {});
  const seed = opts.seed ?? 0;
  const ck = await mt.readAnyCheckpoint(opts.from);
  try {
    const state = mt.trainStateOf(ck.file, (ck.meta.extra as { trainState?: TrainState } | undefined)?.trainState);
    const sc = state.config;
    if (sc.obsMode !== 'state') throw new Error(`${opts.from} holds a ${sc.obsMode} policy; vision-init composes from a state policy`);
    const info = opts.sampler.info;
    if (!info.imageShape) throw new Error('vision-init: the sampler renders no images (open it with a camera env)');
    const vcfg = {
      ...defaultVisionConfig(sc.policy.actDim, {
        ...DEFAULT_VISION,
        height: info.imageShape.height,
        width: info.imageShape.width,
        ...(opts.readout ? { readout: sc.policy.obsDim - 3 } : {}),
      }),
      hidden: sc.policy.hidden,
      latentDim: sc.policy.latentDim,
      zInit: sc.policy.zInit,
      initStepSize: sc.policy.initStepSize,
      ...(sc.policy.initStd !== undefined ? { initStd: sc.policy.initStd } : {}),
    };
    const vision = createPolicy(vcfg);
    // 1. Pose data from the state policy's own behaviour and from noisy experts.
    const rng = new Rng(`${seed}-vision-init`);
    const probe = await (await import('./worker/spec.js')).createEnvFromSpec({ kind: sc.task, options: { ...sc.envOptions, seed } }, 0);
    const tasks = Array.from({ length: opts.tasks ?? 20 }, () => probe.sampleTask(rng.asFunction()));
    probe.close();
    const K = opts.rollouts ?? 10;
    const ev = await mt.evaluateAdaptation(opts.sampler, ck.policy, ck.params, ck.stepSizes, tasks, K, 'state', rng);
    ev.adapted.forEach(disposeParams);
    log(`pose data: state policy pre ${ev.result.preReturn.toFixed(1)}, adapted ${ev.result.postReturn.toFixed(1)} (success ${ev.result.postSuccess.toFixed(2)})`);
    const expert = await rolloutExpert(opts.sampler, scriptedExpert, tasks, K, { noiseStd: opts.expertNoise ?? 0.1, noiseRng: rng.asFunction() });
    const trajs = [...ev.pre.flat(), ...ev.post.flat(), ...expert.flat()];
    const data = poseDataOf(trajs);
    log(`pose data: ${data.n} frames of ${tasks.length} tasks`);
    // 2. Keypoints.
    const init = vision.init(seed);
    let fit: KeypointFit;
    try {
      fit = fitKeypoints(vision, init.params, data, { seed, ...opts.fit });
    } finally {
      disposeParams(init.params);
      disposeParams(init.stepSizes);
    }
    // 3. Composition and checkpoint.
    const keypointStepSize = opts.compose?.keypointStepSize ?? 'matched';
    const composed = composeVisionPolicy({ policy: ck.policy, params: ck.params, stepSizes: ck.stepSizes }, vision, fit, { keypointStepSize });
    disposeParams(fit.trunk);
    fit.readout.W.dispose();
    fit.readout.b.dispose();
    const config = {
      ...sc,
      obsMode: 'vision' as const,
      envOptions: { ...sc.envOptions, camera: { height: info.imageShape.height, width: info.imageShape.width } },
      policy: vcfg,
      visionInit: { from: opts.from, poseRows: data.n, fitSteps: opts.fit.steps, valRmse: fit.valRmse, keypointStepSize: opts.readout ? ('exact' as const) : keypointStepSize },
    };
    const learner = new GmpsLearner(vision, composed, mt.learnerOptions(config));
    disposeParams(composed.params);
    disposeParams(composed.stepSizes);
    const envSamples = data.n;
    try {
      const visionState = { ...state, config, envSamples: state.envSamples + envSamples };
      await mt.saveCheckpoint(opts.outDir, visionState, learner, []);
      // The head's meta-training curve is the state run's (measured with the state policy).
      await mt.writeCurve(opts.outDir, visionState);
    } finally {
      learner.dispose();
    }
    const { trunk: _t, readout: _r, ...fitReport } = fit;
    return { checkpoint: path.join(opts.outDir, 'model.json'), poseRows: data.n, envSamples, fit: fitReport };
  } finally {
    ck.dispose();
  }
}
