/** Policies of GMPS, created from a config (as stored in checkpoints). */
import type { ObsMode } from '../trajectory.js';
import { MlpPolicy } from './mlp.js';
import type { GmpsPolicy, PolicyConfig } from './policy.js';
import { VisionPolicy } from './vision.js';

export function createPolicy(config: PolicyConfig): GmpsPolicy {
  switch (config.kind) {
    case 'mlp':
    case 'mlp-biasAda':
      return new MlpPolicy(config);
    case 'vision':
      return new VisionPolicy(config);
    default:
      throw new Error(`unknown policy kind '${(config as { kind: string }).kind}' (expected mlp, mlp-biasAda or vision)`);
  }
}

/** The observations a policy reads: camera frames + hand for vision policies, the state vector otherwise. */
export function obsModeOf(policy: GmpsPolicy): ObsMode {
  return policy.config.kind === 'vision' ? 'vision' : 'state';
}

export { defaultMlpConfig, MlpPolicy } from './mlp.js';
export { defaultVisionConfig, DEFAULT_VISION, VisionPolicy, visionTrunkNames } from './vision.js';
export type { ActOptions, ActResult, GmpsPolicy, PolicyConfig, VisionConfig } from './policy.js';
export { stepSizeShapes } from './policy.js';
export type { ParamShapes, Params } from './params.js';
export { assertParams, cloneParams, disposeParams, scaleParams } from './params.js';
