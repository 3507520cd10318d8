import assert from 'node:assert/strict';
import { initBackend } from '../src/learning/backend.js';
import { defaultMamlConfig, mamlTrain } from '../src/learning/maml.js';
import { createLocalSampler } from '../src/learning/sampler.js';

describe('baselines: MAML-TRPO', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('learns to adapt to hidden 2-D point goals: post-adaptation return rises within a fixed budget', async () => {
    const envOptions = { horizon: 15, maxStep: 0.2 };
    const sampler = await createLocalSampler({ env: { kind: 'point', options: envOptions }, nEnvs: 8 });
    try {
      const config = {
        ...defaultMamlConfig('point'),
        envOptions,
        seed: 1,
        metaBatchSize: 6,
        numTasks: 5,
        numHeldOut: 0,
        rolloutsPerTask: 8,
        iterations: 6,
        evalEvery: 6,
        hidden: [32, 32],
      };
      const res = await mamlTrain({ config, sampler, obsDim: 2, actDim: 2 });
      try {
        assert.equal(res.curve.length, 2);
        const [first, last] = res.curve;
        assert.ok(last.train.postReturn > first.train.postReturn + 1, `post-update return ${first.train.postReturn} → ${last.train.postReturn}`);
        assert.ok(res.iterations.every((l) => l.kl <= 0.01 * 1.5));
        // every sample is counted: 6 itrs × 6 tasks × 8 rollouts × 15 steps × 2 (pre, post) + 2 evals × 5 tasks × 8 × 15 × 2
        assert.equal(res.envSamples, 6 * 6 * 8 * 15 * 2 + 2 * 5 * 8 * 15 * 2);
        assert.equal(last.envSamples, res.envSamples);
      } finally {
        res.dispose();
      }
    } finally {
      await sampler.close();
    }
  });
});
