import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { convertPolicy, defaultMetaTrainConfig, disposeLoaded, loadCheckpoint, metaTrain, type MetaTrainConfig } from '../src/learning/meta-train.js';
import { createPolicy, defaultMlpConfig, disposeParams, type PolicyConfig } from '../src/learning/policy/index.js';
import { createLocalSampler } from '../src/learning/sampler.js';

describe('continuing a checkpoint with another policy (--init-from with --observe-angle or --policy mlp-biasAda)', function () {
  this.timeout(180_000);
  before(async () => {
    await initBackend({ backend: 'cpu', log: null });
  });

  const door6: PolicyConfig = { ...defaultMlpConfig(6, 3), hidden: [8, 8], initStepSize: 0.3 };

  it('the door angle as a 7th input: a zero row in the first layer, so the policy acts exactly as before whatever the angle; its α from the handle rows', () => {
    const src = createPolicy(door6);
    const { params, stepSizes } = src.init(3);
    // distinct α per row, so the handle rows' mean is checkable
    const a0 = stepSizes.W0;
    stepSizes.W0 = tf.tidy(() => tf.mul(tf.add(tf.reshape(tf.range(0, 10), [10, 1]), 1), tf.onesLike(a0)));
    a0.dispose();
    const to = { ...door6, obsDim: 7 };
    const out = convertPolicy(door6, to, params, stepSizes);
    const dst = createPolicy(to);
    try {
      assert.deepEqual(out.params.W0.shape, [11, 8]);
      const w = out.params.W0.arraySync() as number[][];
      const w0 = params.W0.arraySync() as number[][];
      assert.deepEqual(w[6], new Array(8).fill(0), 'the angle row starts at zero');
      assert.deepEqual(w.slice(0, 6), w0.slice(0, 6));
      assert.deepEqual(w.slice(7), w0.slice(6), 'the z rows follow the angle row');
      const a = out.stepSizes.W0.arraySync() as number[][];
      assert.deepEqual(a[6], new Array(8).fill(5), 'α of the angle row: mean of the handle rows (4, 5, 6)');
      assert.deepEqual(a[7], new Array(8).fill(7));
      for (const name of ['W1', 'b0', 'logStd', 'z']) assert.deepEqual(out.params[name].dataSync(), params[name].dataSync(), name);
      const obs6 = Float32Array.from([0.1, 0.5, 0.2, 0.7, 0.1, 0.3, 0.2, 0.4, 0.1, 0.6, 0.2, 0.3]);
      for (const angle of [0, 0.4, 1.0]) {
        const obs7 = Float32Array.from([...obs6.subarray(0, 6), angle, ...obs6.subarray(6), angle]);
        const m6 = tf.tidy(() => src.mean(params, tf.tensor2d(obs6, [2, 6])).dataSync());
        const m7 = tf.tidy(() => dst.mean(out.params, tf.tensor2d(obs7, [2, 7])).dataSync());
        assert.deepEqual(Array.from(m7), Array.from(m6), `same actions at angle ${angle}`);
      }
    } finally {
      for (const p of [params, stepSizes, out.params, out.stepSizes]) disposeParams(p);
    }
  });

  it('mlp → mlp-biasAda keeps θ and gives z alone its α; other changes are refused with what is allowed', () => {
    const src = createPolicy(door6);
    const { params, stepSizes } = src.init(4);
    try {
      const out = convertPolicy(door6, { ...door6, kind: 'mlp-biasAda', initStepSize: 0.05 }, params, stepSizes);
      assert.deepEqual(Object.keys(out.stepSizes), ['z']);
      assert.deepEqual(Array.from(out.stepSizes.z.dataSync()), new Array(4).fill(Math.fround(0.05)));
      for (const [name, v] of Object.entries(params)) assert.deepEqual(out.params[name].dataSync(), v.dataSync(), name);
      disposeParams(out.params);
      disposeParams(out.stepSizes);
      assert.throws(() => convertPolicy(door6, { ...door6, obsDim: 8 }, params, stepSizes), /only one added input \(the door angle\)/);
      const biasAda = { ...door6, kind: 'mlp-biasAda' as const };
      assert.throws(() => convertPolicy(biasAda, door6, params, stepSizes), /'mlp-biasAda' policy cannot continue as 'mlp' \(only mlp → mlp-biasAda\)/);
      const point = { ...defaultMlpConfig(2, 2), hidden: [8, 8] };
      assert.throws(() => convertPolicy(point, { ...point, obsDim: 3 }, params, stepSizes), /needs the door state \(6 values\)/);
    } finally {
      disposeParams(params);
      disposeParams(stepSizes);
    }
  });

  it('meta-training a door checkpoint on with the angle observed: its envs gain the angle, its θ the row, and the run starts from the same policy', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-angle-'));
    const base = (envOptions: Record<string, unknown>, obsDim: number): MetaTrainConfig => {
      const c = defaultMetaTrainConfig('door', { obsDim, actDim: 3 });
      Object.assign(c, { envOptions, seed: 2, numTasks: 2, numHeldOut: 0, rolloutsPerTask: 2, demosPerTask: 1, iterations: 1, adamSteps: 2, evalEvery: 0 });
      c.policy = { ...c.policy, hidden: [8, 8] };
      return c;
    };
    const plain = await createLocalSampler({ env: { kind: 'door', options: { dense: true, seed: 2 } }, nEnvs: 2 });
    const angled = await createLocalSampler({ env: { kind: 'door', options: { dense: true, observeAngle: true, seed: 2 } }, nEnvs: 2 });
    try {
      (await metaTrain({ config: base({ dense: true }, 6), sampler: plain, outDir: path.join(dir, 'src') })).dispose();
      const next = { ...base({ dense: true, observeAngle: true }, 7), iterations: 2 };
      // the sampler must match the run's envs: the plain one is refused
      await assert.rejects(metaTrain({ config: next, sampler: plain, initFrom: path.join(dir, "src"), stopAfter: 1 }), /the envs give states of 6 values, the policy takes 7: create the envs with the options/);
      const start = await metaTrain({ config: next, sampler: angled, initFrom: path.join(dir, 'src'), stopAfter: 1 });
      const srcCk = await loadCheckpoint(path.join(dir, 'src'));
      try {
        const w = start.learner.params.W0.arraySync() as number[][];
        const w0 = srcCk.params.W0.arraySync() as number[][];
        assert.deepEqual([...w.slice(0, 6), ...w.slice(7)], w0, 'the checkpoint\'s first layer around the new row');
        assert.deepEqual(w[6], new Array(8).fill(0));
        assert.deepEqual(start.learner.params.W1.dataSync(), srcCk.params.W1.dataSync());
      } finally {
        start.dispose();
        disposeLoaded(srcCk);
      }
      const res = await metaTrain({ config: next, sampler: angled, initFrom: path.join(dir, 'src'), outDir: path.join(dir, 'dst') });
      res.dispose();
      assert.equal(res.state.config.policy.obsDim, 7);
      assert.deepEqual(res.state.config.envOptions, { dense: true, observeAngle: true });
      const ck = await loadCheckpoint(path.join(dir, 'dst'));
      try {
        assert.deepEqual(ck.params.W0.shape, [11, 8]);
      } finally {
        disposeLoaded(ck);
      }
    } finally {
      await plain.close();
      await angled.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
