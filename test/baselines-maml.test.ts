import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
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

  it('continues from its per-iteration snapshot exactly as a run that was never stopped', async () => {
    const envOptions = { horizon: 10, maxStep: 0.2 };
    const dir = await mkdtemp(path.join(tmpdir(), 'maml-snap-'));
    const base = {
      ...defaultMamlConfig('point'), envOptions, seed: 5, metaBatchSize: 3, numTasks: 3, numHeldOut: 2,
      rolloutsPerTask: 4, evalEvery: 2, hidden: [16], stepSize: 'learned' as const,
    };
    const run = async (iterations: number, opts: Partial<Parameters<typeof mamlTrain>[0]> = {}, over: Partial<typeof base> = {}) => {
      const sampler = await createLocalSampler({ env: { kind: 'point', options: envOptions }, nEnvs: 4 });
      try {
        return await mamlTrain({ config: { ...base, ...over, iterations }, sampler, obsDim: 2, actDim: 2, ...opts });
      } finally {
        await sampler.close();
      }
    };
    const file = path.join(dir, 'maml.snapshot');
    const whole = await run(4);
    const first = await run(2, { snapshot: { file, extra: () => 'mine' } });
    first.dispose();
    let resumedAt = -1;
    let extra: unknown;
    const itrs: number[] = [];
    const second = await run(4, { snapshot: { file, onResume: (e, i) => void ((resumedAt = i), (extra = e)) }, onIteration: (l) => void itrs.push(l.iteration) });
    try {
      assert.equal(resumedAt, 2);
      assert.equal(extra, 'mine');
      assert.deepEqual(itrs, [2, 3], 'only the iterations after the snapshot run');
      assert.equal(second.envSamples, whole.envSamples);
      assert.deepEqual(JSON.parse(JSON.stringify(second.curve)), JSON.parse(JSON.stringify(whole.curve)));
      assert.deepEqual(second.iterations.map((l) => l.surrogateAfter), whole.iterations.map((l) => l.surrogateAfter));
      for (const [name, t] of Object.entries({ ...whole.params, ...whole.stepSizes })) {
        const mine = { ...second.params, ...second.stepSizes }[name];
        assert.deepEqual(Array.from(mine.dataSync()), Array.from(t.dataSync()), `${name} differs after the continued run`);
      }
      await assert.rejects(run(5, { snapshot: { file } }, { rolloutsPerTask: 5 }), /other settings \(rolloutsPerTask\); delete it/);
    } finally {
      whole.dispose();
      second.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the outer step in parts of one task (how the conv policy fits the heap) is the step on the whole meta-batch', async () => {
    const envOptions = { horizon: 10, maxStep: 0.2 };
    const run = async (tasksPerPart?: number) => {
      const sampler = await createLocalSampler({ env: { kind: 'point', options: envOptions }, nEnvs: 4 });
      try {
        const config = {
          ...defaultMamlConfig('point'), envOptions, seed: 3, metaBatchSize: 3, numTasks: 2, numHeldOut: 0,
          rolloutsPerTask: 4, iterations: 1, evalEvery: 0, hidden: [16], stepSize: 'learned' as const, tasksPerPart,
        };
        return await mamlTrain({ config, sampler, obsDim: 2, actDim: 2 });
      } finally {
        await sampler.close();
      }
    };
    const whole = await run();
    const parts = await run(1);
    try {
      const [a] = whole.iterations;
      const [b] = parts.iterations;
      assert.ok(a.accepted && b.accepted);
      assert.ok(Math.abs(a.surrogateBefore - b.surrogateBefore) < 1e-6, `${a.surrogateBefore} vs ${b.surrogateBefore}`);
      assert.ok(Math.abs(a.surrogateAfter - b.surrogateAfter) < 1e-4, `${a.surrogateAfter} vs ${b.surrogateAfter}`);
      // θ and α: float32 sums in another order through conjugate gradient, so close to the step's length, not equal.
      const init = whole.policy.init(3);
      const all = (r: typeof whole) => [...Object.values(r.params), ...Object.values(r.stepSizes)];
      const start = [...Object.values(init.params), ...Object.values(init.stepSizes)];
      const norm = (xs: tf.Tensor[], ys: tf.Tensor[]) => Math.sqrt(xs.reduce((acc, x, i) => acc + tf.tidy(() => tf.sum(tf.square(tf.sub(x, ys[i]))).dataSync()[0]), 0));
      const step = norm(all(whole), start);
      const diff = norm(all(parts), all(whole));
      assert.ok(step > 0 && diff <= 0.01 * step, `parts differ from the whole batch by ${diff}; the step is ${step}`);
      start.forEach((t) => t.dispose());
    } finally {
      whole.dispose();
      parts.dispose();
    }
    await assert.rejects(run(0), /tasksPerPart must be an integer >= 1, got 0/);
  });
});
