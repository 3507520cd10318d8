import assert from 'node:assert/strict';
import { initBackend } from '../src/learning/backend.js';
import { trainMaesn } from '../src/learning/maesn.js';
import { createLocalSampler, type Sampler } from '../src/learning/sampler.js';
import type { TaskParams } from '../sim/types.js';

const goal = (x: number, y: number): TaskParams => ({ kind: 'point', goal: [x, y] });

describe('baselines MAESN', function () {
  this.timeout(120000);
  let sampler: Sampler;
  before(async () => {
    await initBackend({ log: null });
    sampler = await createLocalSampler({ env: { kind: 'point', options: { horizon: 20 } }, nEnvs: 8 });
  });
  after(async () => sampler.close());

  it('learns the point goal: post-update return rises over meta-training, and the latent adapts from the prior', async () => {
    const tasks = [goal(0.8, 0), goal(-0.8, 0)];
    const iterations = 150;
    const config = { hidden: [32], latentDim: 2, episodesPerTask: 8, metaBatch: 2, outerLr: 1e-2, initLogStd: -0.5, seed: 1 };
    const { agent, history } = await trainMaesn({ sampler, tasks, iterations, config });
    try {
      const window = 15;
      const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
      const first = mean(history.slice(0, window).map((h) => h.postReturn));
      const last = mean(history.slice(-window).map((h) => h.postReturn));
      const test = await agent.adapt(sampler, [...tasks, ...tasks]);
      console.log(`      MAESN: env steps ${agent.envSteps}; post-update return ${first.toFixed(2)} → ${last.toFixed(2)}; meta-test from the prior ${test.returnsByStep.map((r) => r.toFixed(2)).join(' → ')}`);
      // Every episode of both phases is counted: 2 tasks x 8 episodes x 20 steps, pre and post.
      assert.equal(agent.envSteps, iterations * 2 * 2 * 8 * 20);
      assert.ok(last > first + 3, `post-update return ${first.toFixed(2)} → ${last.toFixed(2)}`);
      assert.equal(test.returnsByStep.length, 2);
    } finally {
      agent.dispose();
    }
  });
});
