/**
 * GMPS vision policy (conv_fcBiasAda): observation = [image HWC in [0,1] flattened, hand xyz].
 * Three SAME convolutions with ReLU (16 filters: 5x5/3, 3x3/3, 3x3/1 on 48x64x3), a spatial
 * soft-argmax with a learned temperature (x, y in [-1, 1] per channel → 32 keypoint coordinates),
 * then [keypoints, hand xyz, z] into the Gaussian head FC 100-100 → 3. Everything is meta-trained;
 * only the FC weights/biases and z adapt in the inner step. Optionally (`vision.readout` D > 0) a
 * linear read-out maps the keypoints to D values (an object position) before the FC block.
 */
import * as tf from '@tensorflow/tfjs-core';
import { headShapes, type HeadConfig } from './head.js';
import { initHeadParams, initStepSizes } from './mlp.js';
import { xavierUniform, type ParamShapes, type Params } from './params.js';
import { PolicyBase, type PolicyConfig, type VisionConfig } from './policy.js';

export const DEFAULT_VISION: VisionConfig = {
  height: 48,
  width: 64,
  channels: 3,
  filters: [16, 16, 16],
  kernels: [5, 3, 3],
  strides: [3, 3, 1],
  handDim: 3,
};

export function defaultVisionConfig(actDim = 3, vision: VisionConfig = DEFAULT_VISION): PolicyConfig {
  return {
    kind: 'vision',
    obsDim: vision.height * vision.width * vision.channels + vision.handDim,
    actDim,
    hidden: [100, 100],
    latentDim: 4,
    zInit: 1,
    initStepSize: 0.5,
    vision,
  };
}

/**
 * The trunk's parameter names: conv kernels and biases, the soft-argmax temperature, and the
 * read-out when there is one (everything before the FC block; none of it adapts).
 */
export function visionTrunkNames(v: VisionConfig): string[] {
  const names = v.filters.flatMap((_f, i) => [`conv${i}/kernel`, `conv${i}/bias`]);
  names.push('softmaxTemp');
  if (v.readout) names.push('readout/kernel', 'readout/bias');
  return names;
}

/** Spatial size after each SAME conv. */
function convOutSizes(v: VisionConfig): Array<[number, number]> {
  const sizes: Array<[number, number]> = [];
  let [h, w] = [v.height, v.width];
  for (const s of v.strides) {
    h = Math.ceil(h / s);
    w = Math.ceil(w / s);
    sizes.push([h, w]);
  }
  return sizes;
}

export class VisionPolicy extends PolicyBase {
  readonly head: HeadConfig;
  readonly shapes: ParamShapes;
  readonly adaptable: readonly string[];
  private readonly v: VisionConfig;
  private readonly imageSize: number;
  private readonly featH: number;
  private readonly featW: number;
  /** [1, 1, H·W] soft-argmax grid coordinates (row-major over the last conv map). */
  private posX?: tf.Tensor;
  private posY?: tf.Tensor;

  constructor(readonly config: PolicyConfig) {
    super();
    const v = config.vision;
    if (config.kind !== 'vision' || !v) throw new Error("VisionPolicy: kind must be 'vision' with a vision config");
    if (v.filters.length !== v.kernels.length || v.filters.length !== v.strides.length || v.filters.length === 0) {
      throw new Error('VisionPolicy: filters, kernels and strides need one entry per conv layer');
    }
    this.v = v;
    this.imageSize = v.height * v.width * v.channels;
    if (config.obsDim !== this.imageSize + v.handDim) {
      throw new Error(`VisionPolicy: obsDim ${config.obsDim} != ${v.height}x${v.width}x${v.channels} + ${v.handDim}`);
    }
    [this.featH, this.featW] = convOutSizes(v)[v.filters.length - 1];
    const keypoints = 2 * v.filters[v.filters.length - 1];
    const readout = v.readout ?? 0;
    if (!Number.isInteger(readout) || readout < 0) throw new Error(`VisionPolicy: readout must be an integer >= 0, got ${v.readout}`);
    this.head = { inDim: (readout || keypoints) + v.handDim, actDim: config.actDim, hidden: config.hidden, latentDim: config.latentDim };
    const conv: [string, number[]][] = [];
    let cin = v.channels;
    v.filters.forEach((f, i) => {
      conv.push([`conv${i}/kernel`, [v.kernels[i], v.kernels[i], cin, f]]);
      conv.push([`conv${i}/bias`, [f]]);
      cin = f;
    });
    conv.push(['softmaxTemp', [1]]);
    if (readout > 0) {
      conv.push(['readout/kernel', [keypoints, readout]]);
      conv.push(['readout/bias', [readout]]);
    }
    const head = headShapes(this.head);
    this.shapes = [...conv, ...head];
    this.adaptable = head.map(([n]) => n).filter((n) => n !== 'logStd');
  }

  init(seed: number): { params: Params; stepSizes: Params } {
    const params = initHeadParams(this.head, this.config.zInit, seed, this.config.initStd);
    this.v.filters.forEach((_f, i) => {
      const kShape = this.shapes.find(([n]) => n === `conv${i}/kernel`)![1];
      params[`conv${i}/kernel`] = xavierUniform(kShape, seed * 1000 + 500 + i);
      params[`conv${i}/bias`] = tf.zeros([this.v.filters[i]]);
    });
    params.softmaxTemp = tf.ones([1]);
    if (this.v.readout) {
      params['readout/kernel'] = xavierUniform([2 * this.v.filters[this.v.filters.length - 1], this.v.readout], seed * 1000 + 600);
      params['readout/bias'] = tf.zeros([this.v.readout]);
    }
    return { params, stepSizes: initStepSizes(this.shapes, this.adaptable, this.config.initStepSize) };
  }

  private grid(): [tf.Tensor, tf.Tensor] {
    if (!this.posX || !this.posY) {
      const hw = this.featH * this.featW;
      const xs = new Float32Array(hw);
      const ys = new Float32Array(hw);
      const lin = (i: number, n: number) => (n === 1 ? 0 : -1 + (2 * i) / (n - 1));
      for (let r = 0; r < this.featH; r++) {
        for (let c = 0; c < this.featW; c++) {
          xs[r * this.featW + c] = lin(c, this.featW);
          ys[r * this.featW + c] = lin(r, this.featH);
        }
      }
      this.posX = tf.keep(tf.tensor3d(xs, [1, 1, hw]));
      this.posY = tf.keep(tf.tensor3d(ys, [1, 1, hw]));
    }
    return [this.posX, this.posY!];
  }

  private split(obs: tf.Tensor2D): [tf.Tensor4D, tf.Tensor2D] {
    const n = obs.shape[0];
    const { height, width, channels, handDim } = this.v;
    const img = tf.reshape(tf.slice(obs, [0, 0], [n, this.imageSize]), [n, height, width, channels]) as tf.Tensor4D;
    const hand = tf.slice(obs, [0, this.imageSize], [n, handDim]) as tf.Tensor2D;
    return [img, hand];
  }

  /** The keypoints, or their linear read-out when the policy has one. */
  private keypointFeatures(p: Params, kp: tf.Tensor2D): tf.Tensor2D {
    if (!this.v.readout) return kp;
    return tf.add(tf.matMul(kp, p['readout/kernel'] as tf.Tensor2D), p['readout/bias']) as tf.Tensor2D;
  }

  /** Expected (x, y) of each channel's softmax over space: [n, 2C] as x0, y0, x1, y1, … */
  private softArgmax(p: Params, fmap: tf.Tensor4D): tf.Tensor2D {
    const [n, h, w, c] = fmap.shape;
    const logits = tf.div(tf.transpose(tf.reshape(fmap, [n, h * w, c]), [0, 2, 1]), p.softmaxTemp);
    const prob = tf.softmax(logits); // [n, C, HW]
    const [px, py] = this.grid();
    const ex = tf.sum(tf.mul(prob, px), 2, true);
    const ey = tf.sum(tf.mul(prob, py), 2, true);
    return tf.reshape(tf.concat([ex, ey], 2), [n, 2 * c]) as tf.Tensor2D;
  }

  features(p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    const hand = this.split(obs)[1];
    return tf.concat([this.keypointFeatures(p, this.keypoints(p, obs)), hand], 1) as tf.Tensor2D;
  }

  /** The 2C soft-argmax keypoint coordinates [n x 2C] (before any read-out). */
  keypoints(p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    let [x] = this.split(obs);
    this.v.filters.forEach((_f, i) => {
      const y = tf.conv2d(x, p[`conv${i}/kernel`] as tf.Tensor4D, this.v.strides[i], 'same');
      x = tf.relu(tf.add(y, p[`conv${i}/bias`])) as tf.Tensor4D;
    });
    return this.softArgmax(p, x);
  }

  protected override featuresFast(p: Params, obs: tf.Tensor2D): tf.Tensor2D {
    let [x, hand] = this.split(obs);
    this.v.filters.forEach((_f, i) => {
      x = tf.fused.conv2d({
        x,
        filter: p[`conv${i}/kernel`] as tf.Tensor4D,
        strides: this.v.strides[i],
        pad: 'same',
        bias: p[`conv${i}/bias`],
        activation: 'relu',
      });
    });
    return tf.concat([this.keypointFeatures(p, this.softArgmax(p, x)), hand], 1) as tf.Tensor2D;
  }
}
