/**
 * The functional policy seam: parameters are passed in, so adapted parameters φ are just another
 * parameter set. Every policy is a trunk (identity for state observations, a CNN for images)
 * followed by the shared Gaussian head of `head.ts`; the policy says which parameters adapt in the
 * inner loop and owns their learned per-element step sizes α.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { PolicyKind } from '../types.js';
import { clampedLogStd, gaussianLogProb, headMean, headMeanFused, type HeadConfig } from './head.js';
import type { ParamShapes, Params } from './params.js';

export interface VisionConfig {
  height: number;
  width: number;
  channels: number;
  /** Filters, kernel sizes and strides per conv layer (SAME padding, ReLU). */
  filters: readonly number[];
  kernels: readonly number[];
  strides: readonly number[];
  /** Proprioceptive values appended after the image (hand xyz). */
  handDim: number;
  /**
   * Width of a linear read-out from the keypoints (0 or absent: none, the GMPS architecture: the
   * 2C keypoint coordinates go to the FC block). With D > 0 the keypoints pass through
   * `readout/kernel` [2C x D] + `readout/bias` [D] first (an object position, fitted by
   * `gmps vision-init`); it belongs to the trunk, is meta-trained and does not adapt.
   */
  readout?: number;
}

export interface PolicyConfig {
  kind: PolicyKind;
  obsDim: number;
  actDim: number;
  hidden: readonly number[];
  /** Bias-transformation vector size (0: none). */
  latentDim: number;
  /** Initial value of z's elements. */
  zInit: number;
  /** Initial value of every learned step size. */
  initStepSize: number;
  /** Initial σ of the Gaussian (log-std starts at ln initStd); GMPS uses 1. */
  initStd?: number;
  vision?: VisionConfig;
}

export interface ActOptions {
  /** Seed of the Gaussian noise; same seed, same actions. */
  seed?: number;
  /** Multiplies σ (GMPS samples adapted policies with 1e-5, i.e. almost the mean). */
  stdScale?: number;
}

export interface ActResult {
  /** [n x actDim] sampled actions. */
  action: Float32Array;
  /** [n x actDim] means. */
  mean: Float32Array;
}

export interface GmpsPolicy {
  readonly config: PolicyConfig;
  readonly head: HeadConfig;
  /** Every parameter of θ, in checkpoint order. */
  readonly shapes: ParamShapes;
  /** Names of the parameters the inner step adapts (each has a step size of the same shape). */
  readonly adaptable: readonly string[];
  /** Fresh θ and α (α = initStepSize everywhere). Deterministic in `seed`. */
  init(seed: number): { params: Params; stepSizes: Params };
  /** Head features [n x F] for observations [n x obsDim] (the observations themselves for MLPs). */
  features(p: Params, obs: tf.Tensor2D): tf.Tensor2D;
  /** Mean action [n x actDim]. */
  mean(p: Params, obs: tf.Tensor2D): tf.Tensor2D;
  /** Clamped log-std [actDim]. */
  logStd(p: Params): tf.Tensor1D;
  /** log π(a|s) per row [n]. */
  logProb(p: Params, obs: tf.Tensor2D, actions: tf.Tensor2D): tf.Tensor1D;
  /** Inference (no gradients, fused kernels): rows of `obs` → sampled actions and means. */
  act(p: Params, obs: Float32Array, opts?: ActOptions): ActResult;
}

/** Shapes of the step sizes: one per adaptable parameter. */
export function stepSizeShapes(policy: GmpsPolicy): ParamShapes {
  const adapt = new Set(policy.adaptable);
  return policy.shapes.filter(([n]) => adapt.has(n));
}

/** Shared implementation of mean / logProb / act over a trunk. */
export abstract class PolicyBase implements GmpsPolicy {
  abstract readonly config: PolicyConfig;
  abstract readonly head: HeadConfig;
  abstract readonly shapes: ParamShapes;
  abstract readonly adaptable: readonly string[];
  abstract init(seed: number): { params: Params; stepSizes: Params };
  abstract features(p: Params, obs: tf.Tensor2D): tf.Tensor2D;
  /** Inference-only features (may use fused kernels). */
  protected featuresFast(p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    return this.features(p, obs);
  }

  mean(p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    return headMean(this.head, p, this.features(p, obs));
  }

  logStd(p: Params): tf.Tensor1D {
    return clampedLogStd(p);
  }

  logProb(p: Params, obs: tf.Tensor2D, actions: tf.Tensor2D): tf.Tensor1D {
    return gaussianLogProb(this.mean(p, obs), this.logStd(p), actions);
  }

  act(p: Params, obs: Float32Array, opts: ActOptions = {}): ActResult {
    const { obsDim, actDim } = this.config;
    if (obs.length % obsDim !== 0 || obs.length === 0) {
      throw new Error(`act: observation length ${obs.length} is not a positive multiple of obsDim ${obsDim}`);
    }
    const n = obs.length / obsDim;
    const [mean, action] = tf.tidy(() => {
      const o = tf.tensor2d(obs, [n, obsDim]);
      const mu = headMeanFused(this.head, p, this.featuresFast(p, o));
      const scale = opts.stdScale ?? 1;
      const noise = tf.randomNormal([n, actDim], 0, 1, 'float32', opts.seed);
      const a = tf.add(mu, tf.mul(noise, tf.mul(tf.exp(clampedLogStd(p)), scale)));
      return [mu.dataSync() as Float32Array, a.dataSync() as Float32Array];
    });
    return { action, mean };
  }
}
