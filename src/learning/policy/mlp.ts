/**
 * GMPS state policy: Gaussian MLP (100, 100, ReLU) on [obs, z], state-independent log-std.
 * - `mlp` (fullAda_Bias): every parameter adapts (weights, biases, log-std, z); z starts at ones.
 * - `mlp-biasAda` (biasAda_Bias): only z adapts; z starts at zeros.
 * Weights Xavier-uniform, biases zero, log-std 0, step sizes 0.5.
 */
import * as tf from '@tensorflow/tfjs-core';
import { headShapes, type HeadConfig } from './head.js';
import { xavierUniform, type ParamShapes, type Params } from './params.js';
import { PolicyBase, type PolicyConfig } from './policy.js';

export function defaultMlpConfig(obsDim: number, actDim: number, variant: 'mlp' | 'mlp-biasAda' = 'mlp'): PolicyConfig {
  return {
    kind: variant,
    obsDim,
    actDim,
    hidden: [100, 100],
    latentDim: 4,
    zInit: variant === 'mlp' ? 1 : 0,
    initStepSize: 0.5,
  };
}

/** Initialises a head's parameters: Xavier weights, zero biases, log-std ln(initStd) (0 by default), z = zInit. */
export function initHeadParams(head: HeadConfig, zInit: number, seed: number, initStd = 1): Params {
  if (!(initStd > 0) || !Number.isFinite(initStd)) throw new Error(`initial std must be a positive number, got ${initStd}`);
  const p: Params = {};
  let k = 0;
  for (const [name, shape] of headShapes(head)) {
    if (name.startsWith('W')) p[name] = xavierUniform(shape, seed * 1000 + k++);
    else if (name === 'z') p[name] = tf.fill(shape as number[], zInit);
    else if (name === 'logStd') p[name] = tf.fill(shape as number[], Math.log(initStd));
    else p[name] = tf.zeros(shape as number[]);
  }
  return p;
}

export function initStepSizes(shapes: ParamShapes, adaptable: readonly string[], value: number): Params {
  const adapt = new Set(adaptable);
  const out: Params = {};
  for (const [name, shape] of shapes) if (adapt.has(name)) out[name] = tf.fill(shape as number[], value);
  return out;
}

export class MlpPolicy extends PolicyBase {
  readonly head: HeadConfig;
  readonly shapes: ParamShapes;
  readonly adaptable: readonly string[];

  constructor(readonly config: PolicyConfig) {
    super();
    if (config.kind !== 'mlp' && config.kind !== 'mlp-biasAda') {
      throw new Error(`MlpPolicy: kind must be 'mlp' or 'mlp-biasAda', got '${config.kind}'`);
    }
    if (config.kind === 'mlp-biasAda' && config.latentDim < 1) {
      throw new Error('mlp-biasAda adapts only z: latentDim must be at least 1');
    }
    this.head = { inDim: config.obsDim, actDim: config.actDim, hidden: config.hidden, latentDim: config.latentDim };
    this.shapes = headShapes(this.head);
    this.adaptable = config.kind === 'mlp' ? this.shapes.map(([n]) => n) : ['z'];
  }

  init(seed: number): { params: Params; stepSizes: Params } {
    return {
      params: initHeadParams(this.head, this.config.zInit, seed, this.config.initStd),
      stepSizes: initStepSizes(this.shapes, this.adaptable, this.config.initStepSize),
    };
  }

  features(_p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    return obs;
  }
}
