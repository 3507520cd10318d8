/**
 * Adam exactly as TF1's tf.train.AdamOptimizer (which GMPS used): one global step count,
 * lr_t = lr·√(1−β2^t)/(1−β1^t), θ ← θ − lr_t·m/(√v + ε). Slots persist across calls and can be
 * saved and restored, so meta-training resumes exactly. An optional linear warm-up scales lr_t by
 * min(1, t / warmup) (not in TF1's optimiser; 0, the default, is none). A parameter that receives no gradient in
 * a call keeps its slots unchanged (as TF does for a None gradient).
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  /** Steps over which the learning rate ramps linearly from lr/warmup to lr (0: none). */
  warmup?: number;
}

export const ADAM_DEFAULTS: AdamOptions = { lr: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };

export class Adam {
  readonly opts: AdamOptions;
  /** Number of updates applied so far. */
  step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(opts: Partial<AdamOptions> = {}) {
    this.opts = { ...ADAM_DEFAULTS, ...opts };
  }

  /** Applies one update to `vars` with `grads` (same keys; missing keys are skipped). */
  apply(vars: Record<string, tf.Variable>, grads: Record<string, tf.Tensor>): void {
    const { lr, beta1, beta2, epsilon, warmup } = this.opts;
    this.step += 1;
    const t = this.step;
    const ramp = warmup ? Math.min(1, t / warmup) : 1;
    const lrT = (ramp * lr * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
    tf.tidy(() => {
      for (const [name, g] of Object.entries(grads)) {
        const x = vars[name];
        if (!x) throw new Error(`Adam: gradient for unknown variable '${name}'`);
        const m = this.slot(this.m, name, x);
        const v = this.slot(this.v, name, x);
        const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(m1);
        v.assign(v1);
        x.assign(tf.sub(x, tf.mul(tf.div(m1, tf.add(tf.sqrt(v1), epsilon)), lrT)));
      }
    });
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable {
    let s = map.get(name);
    if (!s) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }

  /** Slot tensors by name (`m/<param>`, `v/<param>`); they stay owned by the optimiser. */
  slots(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [k, t] of this.m) out[`m/${k}`] = t;
    for (const [k, t] of this.v) out[`v/${k}`] = t;
    return out;
  }

  /** Replaces the state with saved slots (values are copied) and step count. */
  restore(step: number, slots: Record<string, tf.Tensor>): void {
    this.dispose();
    this.step = step;
    for (const [key, t] of Object.entries(slots)) {
      const slash = key.indexOf('/');
      const kind = key.slice(0, slash);
      const name = key.slice(slash + 1);
      if (slash < 0 || (kind !== 'm' && kind !== 'v')) throw new Error(`Adam: bad slot name '${key}'`);
      (kind === 'm' ? this.m : this.v).set(name, tf.variable(tf.clone(t), false));
    }
  }

  dispose(): void {
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
