import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { klToUnitPrior, Pearl, productOfGaussians, trainPearl } from '../src/learning/pearl.js';
import { createLocalSampler, type Sampler } from '../src/learning/sampler.js';
import type { TaskParams } from '../sim/types.js';

const goal = (x: number, y: number): TaskParams => ({ kind: 'point', goal: [x, y] });

describe('baselines PEARL', function () {
  this.timeout(300000);
  let sampler: Sampler;
  before(async () => {
    await initBackend({ log: null });
    sampler = await createLocalSampler({ env: { kind: 'point', options: { horizon: 20 } }, nEnvs: 4 });
  });
  after(async () => sampler.close());

  it('learns the point goal: acting on the posterior of two prior-z episodes reaches the goal the context reveals', async () => {
    // Two goals on opposite sides: a policy that ignores the context scores about −15 on average
    // (stays near the start, or is right on one goal and far wrong on the other); reaching either goal
    // in 8 steps and staying there scores about −3.6.
    const tasks = [goal(0.8, 0), goal(-0.8, 0)];
    const iterations = 120;
    const config = {
      hidden: [32, 32], encoderHidden: [32], latentDim: 2, seed: 1, initialEpisodesPerTask: 4, tasksPerIteration: 2,
      priorEpisodes: 2, posteriorEpisodes: 1, gradStepsPerIteration: 50, metaBatch: 4, batchSize: 128, contextBatch: 40,
      actorLr: 3e-3, criticLr: 3e-3, encoderLr: 3e-3, alphaLr: 3e-3,
    };
    const { agent, history } = await trainPearl({ sampler, tasks, iterations, config });
    try {
      assert.equal(agent.envSteps, 2 * 4 * 20 + iterations * 2 * (2 + 1) * 20, 'every collected episode is counted');
      assert.equal(history.at(-1)!.gradSteps, iterations * 50);
      // two context episodes: one that happens to move along y says nothing about these goals
      const test = await agent.evaluate(sampler, [...tasks, ...tasks, ...tasks, ...tasks], 2);
      console.log(`      PEARL: env steps ${agent.envSteps}; prior-z return ${test.priorReturn.toFixed(2)}, posterior ${test.posteriorReturn.toFixed(2)} (success ${test.posteriorSuccessRate})`);
      assert.ok(test.posteriorReturn > -8, `posterior return ${test.posteriorReturn.toFixed(2)} (about −3.6 at the goal, −15 ignoring the context)`);
      assert.ok(test.posteriorReturn > test.priorReturn + 5, `posterior ${test.posteriorReturn.toFixed(2)} vs prior-z ${test.priorReturn.toFixed(2)}`);
      assert.ok(test.posteriorSuccessRate >= 0.6, `success ${test.posteriorSuccessRate}`);
      // the two goals get posteriors on different sides in some latent dimension
      const m = test.posteriors.map((q) => Array.from(q.mean));
      assert.ok(m[0].some((v, d) => Math.abs(v - m[1][d]) > 0.5), `posterior means ${JSON.stringify(m.slice(0, 2))}`);
    } finally {
      agent.dispose();
    }
  });

  it('combines Gaussian factors as a product of Gaussians (hand computation)', () => {
    // Task 0: factors N(1, 1) and N(3, 4) in dim 0; N(0, 2) and N(-2, 2) in dim 1.
    // Precisions 1 + 1/4 = 1.25 → var 0.8, mean 0.8·(1/1 + 3/4) = 1.4; dim 1: var 1, mean 0.5·(0) + 0.5·(−2) = −1.
    const means = tf.tensor3d([1, 0, 3, -2], [1, 2, 2]);
    const vars = tf.tensor3d([1, 2, 4, 2], [1, 2, 2]);
    const q = productOfGaussians(means, vars);
    const m = q.mean.dataSync();
    const v = q.variance.dataSync();
    assert.ok(Math.abs(m[0] - 1.4) < 1e-6 && Math.abs(v[0] - 0.8) < 1e-6, `dim 0: ${m[0]}, ${v[0]}`);
    assert.ok(Math.abs(m[1] + 1) < 1e-6 && Math.abs(v[1] - 1) < 1e-6, `dim 1: ${m[1]}, ${v[1]}`);
    // KL(N(1.4, 0.8) ⊗ N(−1, 1) ‖ N(0, I)) = ½(0.8 + 1.96 − 1 − ln 0.8) + ½(1 + 1 − 1 − 0)
    const kl = klToUnitPrior(q).dataSync()[0];
    const expected = 0.5 * (0.8 + 1.96 - 1 - Math.log(0.8)) + 0.5;
    assert.ok(Math.abs(kl - expected) < 1e-5, `KL ${kl} vs ${expected}`);
    // No factors: the unit prior.
    const prior = productOfGaussians(tf.zeros([2, 0, 3]) as tf.Tensor3D, tf.ones([2, 0, 3]) as tf.Tensor3D);
    assert.deepEqual([...prior.mean.dataSync()], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...prior.variance.dataSync()], [1, 1, 1, 1, 1, 1]);
  });

  it("empties a visited task's encoder buffer before its prior episodes; the RL buffer keeps everything", async () => {
    const tasks = [goal(0.5, 0.5), goal(-0.5, 0.5)];
    const config = { hidden: [8], encoderHidden: [8], latentDim: 2, seed: 1, initialEpisodesPerTask: 2, tasksPerIteration: 1, priorEpisodes: 1, posteriorEpisodes: 1, gradStepsPerIteration: 0 };
    const visited: number[][] = [];
    const { agent } = await trainPearl({
      sampler,
      tasks,
      iterations: 3,
      config,
      onIteration: (_s, a) => void visited.push(a.encoderBuffers.map((b) => b.size)),
    });
    try {
      // initial: 2 prior episodes of 20 steps per task; each iteration one task: its encoder buffer
      // holds that iteration's single prior episode, the other task's is untouched.
      let before = [40, 40];
      for (const sizes of visited) {
        const changed = sizes.map((s, k) => s !== before[k]);
        assert.ok(sizes.every((s, k) => s === before[k] || s === 20), `encoder sizes ${sizes} after ${before}`);
        assert.ok(changed.filter(Boolean).length <= 1);
        before = sizes;
      }
      assert.ok(visited.some((sizes) => sizes.includes(20)), 'some task was revisited and its encoder buffer emptied first');
      const rlTotal = agent.rlBuffers.reduce((s, b) => s + b.size, 0);
      assert.equal(rlTotal, 2 * 40 + 3 * 2 * 20, 'every episode stays in the RL buffers');
    } finally {
      agent.dispose();
    }
  });

  it('continues from its per-iteration snapshot exactly as a run that was never stopped', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pearl-snap-'));
    const tasks = [goal(0.5, 0), goal(-0.5, 0), goal(0, 0.5)];
    const config = {
      hidden: [16], encoderHidden: [16], latentDim: 2, seed: 4, initialEpisodesPerTask: 1, tasksPerIteration: 2,
      priorEpisodes: 1, posteriorEpisodes: 1, gradStepsPerIteration: 5, metaBatch: 2, batchSize: 32, contextBatch: 10,
    };
    const weights = async (a: Pearl) => Array.from((await a.saveState()).arrays['net1/0']);
    const agents: Pearl[] = [];
    try {
      // Uninterrupted: 4 iterations.
      const whole = await trainPearl({ sampler, tasks, iterations: 4, config });
      agents.push(whole.agent);
      // Stopped after 2 (the snapshot is written after each), then a new agent continues to 4.
      const file = path.join(dir, 'pearl.snapshot');
      const first = await trainPearl({ sampler, tasks, iterations: 2, config, snapshot: { file, extra: () => ({ note: 'two' }) } });
      agents.push(first.agent);
      let resumed: { extra: unknown; iteration: number } | undefined;
      const seen: number[] = [];
      const second = await trainPearl({
        sampler, tasks, iterations: 4, config,
        snapshot: { file, onResume: (extra, iteration) => void (resumed = { extra, iteration }) },
        onIteration: (s) => void seen.push(s.iteration),
      });
      agents.push(second.agent);
      assert.deepEqual(resumed, { extra: { note: 'two' }, iteration: 2 });
      assert.deepEqual(seen, [2, 3], 'only the iterations after the snapshot run');
      assert.equal(second.agent.envSteps, whole.agent.envSteps);
      assert.equal(second.agent.gradSteps, whole.agent.gradSteps);
      assert.deepEqual(second.history.map((h) => h.meanReturn), whole.history.map((h) => h.meanReturn));
      assert.deepEqual(second.agent.rlBuffers.map((b) => b.size), whole.agent.rlBuffers.map((b) => b.size));
      // Same networks to the bit: the Adam moments, replay contents and random streams were restored.
      assert.deepEqual(await weights(second.agent), await weights(whole.agent));
      assert.notDeepEqual(await weights(second.agent), await weights(first.agent), 'the continued run trained further');

      // A snapshot of other settings, or a damaged one, is refused with what to do.
      await assert.rejects(trainPearl({ sampler, tasks, iterations: 5, config: { ...config, batchSize: 16 }, snapshot: { file } }), /other settings \(batchSize\); delete it/);
      await assert.rejects(trainPearl({ sampler, tasks: tasks.slice(0, 2), iterations: 5, config, snapshot: { file } }), /3 training tasks, this run has 2/);
      const bytes = await readFile(file);
      bytes[bytes.length - 3] ^= 0xff;
      await writeFile(file, bytes);
      await assert.rejects(trainPearl({ sampler, tasks, iterations: 5, config, snapshot: { file } }), /corrupt: the payload does not match its SHA-256; delete it/);
      await writeFile(file, bytes.subarray(0, bytes.length - 100));
      await assert.rejects(trainPearl({ sampler, tasks, iterations: 5, config, snapshot: { file } }), /truncated/);
    } finally {
      for (const a of agents) a.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('narrows the posterior as context transitions are added', async () => {
    const agent = new Pearl({ stateDim: 2, actionDim: 2 }, { hidden: [16], encoderHidden: [16], latentDim: 3, seed: 3 });
    try {
      const trajs = (await sampler.sample({ tasks: [goal(0.5, 0.5)], rolloutsPerTask: 1, act: agent.actWithLatents([new Float32Array(3)]) }))[0];
      const rows = agent.contextRows(trajs);
      const width = agent.contextDim;
      assert.equal(rows.length, 20 * width);
      let prev = agent.posterior(new Float32Array(0)).variance;
      assert.deepEqual([...prev], [1, 1, 1]);
      for (const n of [1, 2, 5, 10, 20]) {
        const v = agent.posterior(rows.subarray(0, n * width)).variance;
        for (let d = 0; d < 3; d++) assert.ok(v[d] < prev[d], `variance ${v[d]} with ${n} transitions is not below ${prev[d]}`);
        prev = v;
      }
      assert.throws(() => agent.posterior(new Float32Array(width + 1)), /multiple of the context width/);
    } finally {
      agent.dispose();
    }
  });

  it('gmps bench pearl-update prints the milliseconds per gradient step at the published sizes', async () => {
    const { benchPearlUpdate } = await import('../src/cli/commands/learning-bench.js');
    const r = await benchPearlUpdate({ updates: '2', warmup: '1', tasks: '2' });
    assert.equal(r.meta_batch, 16);
    assert.equal(r.batch_size, 256);
    assert.equal(r.context_batch, 100);
    assert.equal(r.encoder_hidden, '200-200-200');
    assert.equal(r.updates, 2);
    assert.ok((r.ms_per_update as number) > 0 && Number.isFinite(r.ms_per_update as number), String(r.ms_per_update));
    await assert.rejects(benchPearlUpdate({ updates: '0', warmup: '1', tasks: '2' }), /--updates must be a positive integer, got '0'/);
  });
});
