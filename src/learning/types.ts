/**
 * Data seams of the learning code: what the sampler hands to the GMPS meta-step and to the
 * meta-test adaptation step. Plain typed arrays (row-major), so workers can transfer them.
 */

/**
 * Pre-update (on-policy) samples of one task, gathered with θ0 = the parameters at sampling time.
 * Vision policies: each obs row is the HWC image (values in [0,1]) flattened, followed by hand xyz.
 */
export interface TaskSamples {
  /** [n x obsDim] */
  obs: Float32Array;
  /** [n x actDim], the actions actually sampled (before any env clipping). */
  actions: Float32Array;
  /** [n], already normalised per task ((A - mean) / (std + 1e-8)). */
  advantages: Float32Array;
  /** [n x actDim], the mean of π_θ0 at each obs. */
  oldMean: Float32Array;
  /** [actDim], the log-std of π_θ0 (state independent). */
  oldLogStd: Float32Array;
}

/** Expert demonstrations of one task: targets of the outer (behaviour-cloning) loss. */
export interface TaskDemos {
  /** [m x obsDim] */
  obs: Float32Array;
  /** [m x actDim], expert actions (clipped to [-1, 1] by the loader). */
  actions: Float32Array;
}

/** One task's share of a GMPS meta-step. */
export interface TaskBatch {
  samples: TaskSamples;
  demos: TaskDemos;
}

/** What the meta-test adaptation step consumes: on-policy samples, no importance weights. */
export interface AdaptBatch {
  /** [n x obsDim] */
  obs: Float32Array;
  /** [n x actDim] */
  actions: Float32Array;
  /** [n], normalised advantages. */
  advantages: Float32Array;
}

/** Which GMPS policy a config or checkpoint describes. */
export type PolicyKind = 'mlp' | 'mlp-biasAda' | 'vision';

/** Dimensions every policy reports. */
export interface PolicyDims {
  obsDim: number;
  actDim: number;
}
