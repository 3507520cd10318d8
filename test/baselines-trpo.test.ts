import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { createPolicy } from '../src/learning/policy/index.js';
import { Rng } from '../src/learning/rng.js';
import { conjugateGradient, fisherVectorProduct, gaussianKl, trpoStep } from '../src/learning/trpo.js';

describe('baselines: TRPO', function () {
  this.timeout(30000);
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('conjugate gradient solves a small SPD system', () => {
    const rng = new Rng(4);
    const n = 6;
    const M = Array.from({ length: n }, () => Array.from({ length: n }, () => rng.normal()));
    // A = MᵀM + I (SPD)
    const A = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => M.reduce((s, row) => s + row[i] * row[j], 0) + (i === j ? 1 : 0)));
    const xTrue = Array.from({ length: n }, () => rng.normal());
    const b = A.map((row) => row.reduce((s, v, j) => s + v * xTrue[j], 0));
    let products = 0;
    const x = conjugateGradient((v) => {
      products++;
      return Float64Array.from(A.map((row) => row.reduce((s, a, j) => s + a * v[j], 0)));
    }, b, n);
    assert.ok(products <= n);
    x.forEach((v, i) => assert.ok(Math.abs(v - xTrue[i]) < 1e-6, `x[${i}] = ${v}, expected ${xTrue[i]}`));
  });

  it('the Fisher-vector product of a quadratic is its matrix times the vector', () => {
    const A = tf.tensor2d([
      [3, 1],
      [1, 2],
    ]);
    const kl = (xs: tf.Tensor[]) => tf.mul(0.5, tf.sum(tf.mul(tf.matMul(A, tf.reshape(xs[0], [2, 1])), tf.reshape(xs[0], [2, 1])))) as tf.Scalar;
    const [fv] = fisherVectorProduct(kl, [tf.tensor1d([0.3, -0.2])], [tf.tensor1d([1, -2])]);
    const got = Array.from(fv.dataSync());
    assert.ok(Math.abs(got[0] - 1) < 1e-5 && Math.abs(got[1] - -3) < 1e-5, `F v = ${got}`);
  });

  it('a step on a small policy problem improves the surrogate and keeps measured KL within 1.5 δ', () => {
    const policy = createPolicy({ kind: 'mlp', obsDim: 3, actDim: 2, hidden: [16], latentDim: 0, zInit: 0, initStepSize: 0.1 });
    const { params, stepSizes } = policy.init(7);
    const names = policy.shapes.map(([n]) => n);
    const rng = new Rng(9);
    const n = 256;
    const obs = tf.tensor2d(rng.fillNormal(new Float32Array(n * 3)), [n, 3]);
    const act = policy.act(params, obs.dataSync() as Float32Array, { seed: 3 });
    const actions = tf.tensor2d(act.action, [n, 2]);
    const oldMean = tf.tensor2d(act.mean, [n, 2]);
    const oldLogStd = policy.logStd(params);
    // advantages that reward the first action dimension: a learnable direction
    const adv = tf.tensor1d(Float32Array.from({ length: n }, (_, i) => act.action[2 * i] - act.mean[2 * i]));
    const asParams = (xs: tf.Tensor[]) => Object.fromEntries(names.map((k, i) => [k, xs[i]]));
    const oldLogp = policy.logProb(params, obs, actions);
    const loss = (xs: tf.Tensor[]) => tf.neg(tf.mean(tf.mul(tf.exp(tf.sub(policy.logProb(asParams(xs), obs, actions), oldLogp)), adv))) as tf.Scalar;
    const kl = (xs: tf.Tensor[]) => {
      const p = asParams(xs);
      return tf.mean(gaussianKl(oldMean, oldLogStd, policy.mean(p, obs), policy.logStd(p))) as tf.Scalar;
    };
    const delta = 0.01;
    const res = trpoStep({ params: names.map((k) => params[k]), loss, kl }, { maxKl: delta });
    assert.ok(res.accepted, 'the line search found an improving step');
    assert.ok(res.lossAfter < res.lossBefore);
    const measured = kl(res.params).dataSync()[0];
    assert.ok(measured <= 1.5 * delta, `KL ${measured}`);
    assert.ok(measured > 0.05 * delta, `the step is not trivial (KL ${measured})`);
    // a tighter bound gives a smaller step
    const tight = trpoStep({ params: names.map((k) => params[k]), loss, kl }, { maxKl: delta / 10 });
    assert.ok(kl(tight.params).dataSync()[0] <= 1.5 * delta / 10);

    // The same problem in three parts of unequal size (each returns its rows' share of the means): the same step.
    const bounds = [0, 40, 150, n];
    const rows = (t: tf.Tensor, p: number) => tf.slice(t, bounds[p], bounds[p + 1] - bounds[p]);
    const share = (p: number) => (bounds[p + 1] - bounds[p]) / n;
    const partLoss = (xs: tf.Tensor[], p: number) =>
      tf.mul(
        tf.neg(tf.mean(tf.mul(tf.exp(tf.sub(policy.logProb(asParams(xs), rows(obs, p) as tf.Tensor2D, rows(actions, p) as tf.Tensor2D), rows(oldLogp, p))), rows(adv, p)))),
        share(p),
      ) as tf.Scalar;
    const partKl = (xs: tf.Tensor[], p: number) => {
      const q = asParams(xs);
      const o = rows(obs, p) as tf.Tensor2D;
      return tf.mul(tf.mean(gaussianKl(rows(oldMean, p), oldLogStd, policy.mean(q, o), policy.logStd(q))), share(p)) as tf.Scalar;
    };
    const split = trpoStep({ params: names.map((k) => params[k]), parts: 3, loss: partLoss, kl: partKl }, { maxKl: delta });
    assert.equal(split.accepted, res.accepted);
    assert.equal(split.backtracks, res.backtracks);
    assert.ok(Math.abs(split.lossBefore - res.lossBefore) < 1e-6 && Math.abs(split.lossAfter - res.lossAfter) < 1e-5, `${split.lossAfter} vs ${res.lossAfter}`);
    // Float32 sums in another order, through conjugate gradient on a nearly singular Fisher matrix: close, not equal.
    const sq = (ts: tf.Tensor[]) => ts.reduce((acc, t) => acc + tf.sum(tf.square(t)).dataSync()[0], 0);
    const step = Math.sqrt(sq(res.params.map((t, i) => tf.sub(t, params[names[i]]))));
    const diff = Math.sqrt(sq(split.params.map((t, i) => tf.sub(t, res.params[i]))));
    assert.ok(step > 0 && diff <= 0.01 * step, `parts differ from one graph by ${diff}, the step is ${step}`);
    assert.throws(() => trpoStep({ params: names.map((k) => params[k]), parts: 0, loss: partLoss, kl: partKl }), /parts must be an integer >= 1/);
    Object.values(stepSizes).forEach((t) => t.dispose());
  });
});
