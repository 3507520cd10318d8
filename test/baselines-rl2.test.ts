import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { gruSequence, gruShapes, initGru } from '../src/learning/gru.js';
import type { Params } from '../src/learning/policy/params.js';
import { Rng } from '../src/learning/rng.js';
import { evaluateRl2, trainRl2 } from '../src/learning/rl2.js';
import { PointEnv } from '../sim/point.js';
import type { TaskParams } from '../sim/types.js';

const goal = (x: number, y: number): TaskParams => ({ kind: 'point', goal: [x, y] });

const RL2_TEST_ITERATIONS = 60;
const RL2_TEST_CONFIG = { hidden: 32, trialsPerIteration: 8, episodesPerTrial: 2, optimizer: 'ppo' as const, lr: 3e-3, initLogStd: -0.5, seed: 1 };
// the same run with TRPO (lr is PPO's Adam rate; TRPO does not read it)
const RL2_TRPO_TEST_CONFIG = { ...RL2_TEST_CONFIG, optimizer: 'trpo' as const, maxKl: 0.05 };

describe('baselines RL²', function () {
  this.timeout(300000);
  before(async () => {
    await initBackend({ log: null });
  });

  it("GRU back-propagation through time matches finite differences", () => {
    const cfg = { inDim: 2, hidden: 3 };
    const rng = new Rng(5);
    const p = initGru(cfg, rng);
    // Non-zero biases so every gate term is exercised.
    p['gru/b'].dispose();
    p['gru/b'] = tf.tensor1d(Float32Array.from({ length: 9 }, () => rng.uniform(-0.5, 0.5)));
    const xs = tf.tensor3d(Float32Array.from({ length: 4 * 2 * 2 }, () => rng.uniform(-1, 1)), [4, 2, 2]);
    const h0 = tf.tensor2d(Float32Array.from({ length: 2 * 3 }, () => rng.uniform(-0.5, 0.5)), [2, 3]);
    const w = tf.tensor3d(Float32Array.from({ length: 4 * 2 * 3 }, () => rng.uniform(-1, 1)), [4, 2, 3]);
    const names = gruShapes(cfg).map(([n]) => n);
    const loss = (q: Params, x0: tf.Tensor2D): tf.Scalar => tf.sum(tf.mul(gruSequence(cfg, q, xs, x0), w)) as tf.Scalar;
    const analytic = tf.grads((...ts: tf.Tensor[]) => loss(Object.fromEntries(names.map((n, i) => [n, ts[i]])), ts[3] as tf.Tensor2D))([...names.map((n) => p[n]), h0]);
    const eps = 1e-2;
    const all = [...names.map((n) => p[n]), h0];
    let checked = 0;
    all.forEach((t, k) => {
      const base = t.dataSync().slice();
      const g = analytic[k].dataSync();
      for (let i = 0; i < base.length; i++) {
        const f = (delta: number) => {
          const v = base.slice();
          v[i] += delta;
          const moved = tf.tensor(v, t.shape);
          const q = Object.fromEntries(names.map((n, j) => [n, j === k ? moved : p[n]]));
          const val = loss(q, k === 3 ? (moved as tf.Tensor2D) : h0).dataSync()[0];
          moved.dispose();
          return val;
        };
        const fd = (f(eps) - f(-eps)) / (2 * eps);
        assert.ok(Math.abs(fd - g[i]) < 2e-3 + 2e-2 * Math.abs(fd), `${k < 3 ? names[k] : 'h0'}[${i}]: autodiff ${g[i]} vs finite difference ${fd}`);
        checked++;
      }
    });
    assert.equal(checked, 2 * 9 + 3 * 9 + 9 + 6);
  });

  for (const [name, config] of [
    ['PPO', RL2_TEST_CONFIG],
    // TRPO (the RL² paper's optimiser, and the default) with a looser KL bound than its 0.01 so that
    // 60 iterations suffice
    ['TRPO', RL2_TRPO_TEST_CONFIG],
  ] as const) {
    it(`learns the point goal with ${name}: last-episode return of a trial rises over meta-training`, async () => {
      const envs = Array.from({ length: 4 }, () => new PointEnv({ horizon: 20 }));
      const tasks = [goal(0.8, 0), goal(-0.8, 0)];
      const { agent, history } = await trainRl2({ envs, tasks, iterations: RL2_TEST_ITERATIONS, config });
      try {
        const E = agent.config.episodesPerTrial;
        const window = 10;
        const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
        const first = mean(history.slice(0, window).map((h) => h.returnsByEpisode[E - 1]));
        const last = mean(history.slice(-window).map((h) => h.returnsByEpisode[E - 1]));
        const evalRes = await evaluateRl2(agent, envs, [...tasks, ...tasks]);
        assert.equal(agent.config.optimizer, name.toLowerCase());
        console.log(`      RL² (${name}): env steps ${agent.envSteps}; last-episode return ${first.toFixed(2)} → ${last.toFixed(2)}; held-out trials by episode ${evalRes.returnsByEpisode.map((r) => r.toFixed(2)).join(', ')}`);
        assert.equal(agent.envSteps, RL2_TEST_ITERATIONS * config.trialsPerIteration * E * 20);
        assert.ok(last > first + 3, `last-episode return ${first.toFixed(2)} → ${last.toFixed(2)}`);
      } finally {
        agent.dispose();
      }
    });
  }
});
