import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { Adam } from '../src/learning/adam.js';
import { initBackend } from '../src/learning/backend.js';
import { adaptStep, GmpsLearner, importanceStats, metaGradients, metaLoss, metaLossLoop, prepareBatch } from '../src/learning/gmps.js';
import { gaussianLogProb, innerGradients } from '../src/learning/policy/head.js';
import { createPolicy, defaultMlpConfig, defaultVisionConfig, type GmpsPolicy, type Params, type PolicyConfig } from '../src/learning/policy/index.js';
import type { TaskBatch } from '../src/learning/types.js';
import { rnd } from './helpers/random.js';

/** Tasks whose samples were drawn by a policy θ0 ≠ θ (so importance weights are not 1). */
function makeTasks(policy: GmpsPolicy, theta0: Params, sizes: Array<[n: number, m: number]>, seed = 1): TaskBatch[] {
  const { obsDim, actDim } = policy.config;
  return sizes.map(([n, m], i) => {
    const obs = rnd(n * obsDim, seed * 100 + i).map((v) => (policy.config.kind === 'vision' ? 0.5 + 0.5 * v : v));
    const oldMean = tf.tidy(() => policy.mean(theta0, tf.tensor2d(obs, [n, obsDim])).dataSync() as Float32Array);
    const oldLogStd = tf.tidy(() => policy.logStd(theta0).dataSync() as Float32Array);
    const eps = rnd(n * actDim, seed * 100 + 50 + i);
    return {
      samples: {
        obs,
        actions: oldMean.map((mu, k) => mu + Math.exp(oldLogStd[k % actDim]) * eps[k]),
        advantages: rnd(n, seed * 100 + 70 + i),
        oldMean,
        oldLogStd,
      },
      demos: {
        obs: rnd(m * obsDim, seed * 100 + 80 + i).map((v) => (policy.config.kind === 'vision' ? 0.5 + 0.5 * v : v)),
        actions: rnd(m * actDim, seed * 100 + 90 + i),
      },
    };
  });
}

/** θ with every entry moved a little (a policy that has drifted from the sampling one). */
function perturbed(p: Params, scale: number, seed: number): Params {
  const out: Params = {};
  let k = 0;
  for (const [name, t] of Object.entries(p)) out[name] = tf.add(t, tf.mul(tf.tensor(rnd(t.size, seed + k++), t.shape), scale));
  return out;
}

function smallMlp(kind: 'mlp' | 'mlp-biasAda' = 'mlp'): PolicyConfig {
  return { ...defaultMlpConfig(4, 2, kind), hidden: [6, 5], latentDim: 2 };
}

function smallVision(): PolicyConfig {
  const v = { height: 12, width: 16, channels: 3, filters: [4, 4, 3], kernels: [5, 3, 3], strides: [3, 3, 1], handDim: 3 };
  return { ...defaultVisionConfig(3, v), hidden: [7, 6] };
}

describe('learning core: GMPS maths', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('inner gradient equals central finite differences of the importance-weighted inner loss', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp());
      const { params: theta0 } = policy.init(3);
      const theta = perturbed(theta0, 0.05, 9);
      const tasks = makeTasks(policy, theta0, [[9, 4], [7, 4]]);
      const b = prepareBatch(policy, tasks);
      const wanted = new Set(policy.adaptable);
      const batch = { numTasks: 2, rowsPerTask: b.rowsPerTask, feat: b.obs, actions: b.actions, rowWeight: b.rowWeight, oldLogProb: b.oldLogProb };
      const { grads, weights } = innerGradients(policy.head, theta, batch, wanted);
      const w = weights.dataSync();
      assert.ok(Math.max(...Array.from(w, (x) => Math.abs(x - 1))) > 0.01, 'importance weights differ from 1 in this set-up');
      // L_in,i(θ) = −Σ_t rowWeight_t · w_t · log π_θ(a_t|s_t), with w frozen at θ.
      const Lin = (p: Params, task: number): number =>
        tf.tidy(() => {
          const logp = gaussianLogProb(policy.mean(p, b.obs), policy.logStd(p), b.actions).dataSync();
          const rw = b.rowWeight.dataSync();
          let s = 0;
          for (let r = task * b.rowsPerTask; r < (task + 1) * b.rowsPerTask; r++) s -= rw[r] * w[r] * logp[r];
          return s;
        });
      const h = 1e-3;
      for (const name of policy.adaptable) {
        const g = grads[name].dataSync();
        const size = theta[name].size;
        for (const idx of [0, Math.floor(size / 2), size - 1]) {
          for (let task = 0; task < 2; task++) {
            const shift = (d: number): Params => {
              const v = theta[name].dataSync().slice();
              v[idx] += d;
              return { ...theta, [name]: tf.tensor(v, theta[name].shape) };
            };
            const fd = (Lin(shift(h), task) - Lin(shift(-h), task)) / (2 * h);
            const an = g[task * size + idx];
            assert.ok(Math.abs(fd - an) < 2e-3 + 2e-2 * Math.abs(fd), `${name}[${idx}] task ${task}: analytic ${an} vs fd ${fd}`);
          }
        }
      }
      b.dispose();
    });
  });

  it('meta-gradient w.r.t. θ and α equals finite differences of L_out (second order, IS weights frozen)', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp());
      const { params: theta0, stepSizes } = policy.init(5);
      const theta = perturbed(theta0, 0.05, 19);
      const alpha = perturbed(stepSizes, 0.1, 29);
      const tasks = makeTasks(policy, theta0, [[8, 5], [8, 6]], 2);
      const b = prepareBatch(policy, tasks);
      const g = metaGradients(policy, theta, alpha, (th, al) => metaLoss(policy, th, al, b));
      // Importance weights are a stop-gradient: the finite differences hold them at w(θ_base).
      const frozen = { ...b };
      const L = (th: Params, al: Params): number =>
        tf.tidy(() => {
          // w(θ) is recomputed inside metaLoss; hold it at w(θ_base) by shifting oldLogProb.
          const logpBase = gaussianLogProb(policy.mean(theta, b.obs), policy.logStd(theta), b.actions);
          const logpHere = gaussianLogProb(policy.mean(th, b.obs), policy.logStd(th), b.actions);
          const old = tf.add(b.oldLogProb, tf.sub(logpHere, logpBase)) as tf.Tensor1D;
          return metaLoss(policy, th, al, { ...frozen, oldLogProb: old }).dataSync()[0];
        });
      const dirCheck = (which: 'theta' | 'alpha', seed: number) => {
        const base = which === 'theta' ? theta : alpha;
        const grads = which === 'theta' ? g.theta : g.alpha;
        const names = Object.keys(grads);
        const dir: Params = {};
        names.forEach((n, k) => (dir[n] = tf.tensor(rnd(base[n].size, seed + k), base[n].shape)));
        let analytic = 0;
        for (const n of names) analytic += tf.sum(tf.mul(grads[n], dir[n])).dataSync()[0];
        const h = 2e-3;
        const at = (s: number): number => {
          const moved: Params = { ...base };
          for (const n of names) moved[n] = tf.add(base[n], tf.mul(dir[n], s));
          return which === 'theta' ? L(moved, alpha) : L(theta, moved);
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        assert.ok(Math.abs(fd - analytic) < 1e-3 + 2e-2 * Math.abs(fd), `${which} direction ${seed}: analytic ${analytic} vs fd ${fd}`);
        return analytic;
      };
      const dt: number[] = [];
      const da: number[] = [];
      for (const seed of [101, 202, 303]) {
        dt.push(Math.abs(dirCheck('theta', seed)));
        da.push(Math.abs(dirCheck('alpha', seed)));
      }
      assert.ok(Math.max(...dt) > 1e-3, 'θ meta-gradient is not trivially zero');
      assert.ok(Math.max(...da) > 1e-3, 'α meta-gradient is not trivially zero');
      b.dispose();
    });
  });

  it('batched meta-gradient equals the per-task tape-on-tape loop (mlp, biasAda, vision)', () => {
    for (const cfg of [smallMlp('mlp'), smallMlp('mlp-biasAda'), smallVision()]) {
      tf.tidy(() => {
        const policy = createPolicy(cfg);
        const { params: theta0, stepSizes } = policy.init(7);
        const theta = perturbed(theta0, 0.03, 3);
        const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3], [7, 5]], 4); // unequal sizes: padding
        const b = prepareBatch(policy, tasks);
        const batched = metaGradients(policy, theta, stepSizes, (th, al) => metaLoss(policy, th, al, b));
        const loop = metaGradients(policy, theta, stepSizes, (th, al) => metaLossLoop(policy, th, al, tasks));
        const lb = batched.loss.dataSync()[0];
        const ll = loop.loss.dataSync()[0];
        assert.ok(Math.abs(lb - ll) < 1e-5 * Math.max(1, Math.abs(ll)), `${cfg.kind} loss ${lb} vs ${ll}`);
        for (const group of ['theta', 'alpha'] as const) {
          assert.deepEqual(Object.keys(batched[group]).sort(), Object.keys(loop[group]).sort());
          for (const [name, t] of Object.entries(batched[group])) {
            const x = t.dataSync();
            const y = loop[group][name].dataSync();
            const scale = Math.max(1e-3, ...Array.from(y, Math.abs));
            for (let i = 0; i < x.length; i++) {
              assert.ok(Math.abs(x[i] - y[i]) < 1e-4 * scale, `${cfg.kind} ${group}/${name}[${i}]: ${x[i]} vs ${y[i]}`);
            }
          }
        }
        b.dispose();
      });
    }
  });

  it('isClip bounds the importance weights: batched and loop agree, clipped weights change L_out, a loose bound does not', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp('mlp'));
      const { params: theta0, stepSizes } = policy.init(7);
      const theta = perturbed(theta0, 0.3, 3); // far from θ0: weights well away from 1
      const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3]], 4);
      const b = prepareBatch(policy, tasks);
      const w = innerGradients(policy.head, theta, { numTasks: 2, rowsPerTask: b.rowsPerTask, feat: b.obs, actions: b.actions, rowWeight: b.rowWeight, oldLogProb: b.oldLogProb }, new Set(['b0'])).weights;
      const wClip = innerGradients(policy.head, theta, { numTasks: 2, rowsPerTask: b.rowsPerTask, feat: b.obs, actions: b.actions, rowWeight: b.rowWeight, oldLogProb: b.oldLogProb, isClip: 1.1 }, new Set(['b0'])).weights;
      assert.ok(Math.max(...Array.from(w.dataSync())) > 1.1, 'some weight exceeds the bound');
      assert.deepEqual(Array.from(wClip.dataSync()), Array.from(w.dataSync(), (x) => Math.min(x, Math.fround(1.1))));
      const value = (f: () => tf.Scalar) => f().dataSync()[0];
      const clipped = value(() => metaLoss(policy, theta, stepSizes, b, { isClip: 1.1 }));
      assert.ok(Math.abs(clipped - value(() => metaLossLoop(policy, theta, stepSizes, tasks, { isClip: 1.1 }))) < 1e-5 * Math.max(1, Math.abs(clipped)));
      const free = value(() => metaLoss(policy, theta, stepSizes, b));
      assert.notEqual(clipped, free);
      assert.equal(value(() => metaLoss(policy, theta, stepSizes, b, { isClip: 1e30 })), free);
      b.dispose();
    });
  });

  it('isClipLow bounds the importance weights from below: batched and loop agree, two-sided with isClip, a loose bound changes nothing', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp('mlp'));
      const { params: theta0, stepSizes } = policy.init(7);
      const theta = perturbed(theta0, 0.3, 3);
      const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3]], 4);
      const b = prepareBatch(policy, tasks);
      const inner = (extra: { isClip?: number; isClipLow?: number }) =>
        Array.from(innerGradients(policy.head, theta, { numTasks: 2, rowsPerTask: b.rowsPerTask, feat: b.obs, actions: b.actions, rowWeight: b.rowWeight, oldLogProb: b.oldLogProb, ...extra }, new Set(['b0'])).weights.dataSync());
      const w = inner({});
      const real = w.filter((_, r) => r % b.rowsPerTask < b.rowCounts[Math.floor(r / b.rowsPerTask)]);
      assert.ok(Math.min(...real) < 0.9 && Math.max(...real) > 1.1, `weights on both sides of [0.9, 1.1]: ${Math.min(...real)}..${Math.max(...real)}`);
      assert.deepEqual(inner({ isClipLow: 0.9 }), w.map((x) => Math.max(x, Math.fround(0.9))));
      assert.deepEqual(inner({ isClip: 1.1, isClipLow: 0.9 }), w.map((x) => Math.min(Math.max(x, Math.fround(0.9)), Math.fround(1.1))));
      const value = (f: () => tf.Scalar) => f().dataSync()[0];
      const both = { isClip: 1.1, isClipLow: 0.9 };
      const clipped = value(() => metaLoss(policy, theta, stepSizes, b, both));
      assert.ok(Math.abs(clipped - value(() => metaLossLoop(policy, theta, stepSizes, tasks, both))) < 1e-5 * Math.max(1, Math.abs(clipped)));
      assert.notEqual(clipped, value(() => metaLoss(policy, theta, stepSizes, b, { isClip: 1.1 })), 'the lower bound moves L_out');
      assert.equal(value(() => metaLoss(policy, theta, stepSizes, b, { isClipLow: 1e-30 })), value(() => metaLoss(policy, theta, stepSizes, b)));
      const stats = importanceStats(policy, theta, b, 1.1, 0.9);
      assert.ok(Math.abs(stats.clippedFraction - real.filter((x) => x > 1.1 || x < 0.9).length / real.length) < 1e-9, 'clippedFraction counts both sides');
      b.dispose();
    });
  });

  it('importanceStats: per-task effective sample size of π_θ/π_θ0 over the real rows (padding left out), extremes, share above the clip', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp('mlp'));
      const { params: theta0 } = policy.init(7);
      const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3], [8, 2]], 4);
      const b = prepareBatch(policy, tasks);
      assert.deepEqual(b.rowCounts, [6, 9, 8]);
      const same = importanceStats(policy, theta0, b, 2);
      assert.ok(Math.abs(same.essFractionMedian - 1) < 1e-5 && Math.abs(same.essFractionMin - 1) < 1e-5, 'θ = θ0: every weight is 1');
      assert.ok(Math.abs(same.minWeight - 1) < 1e-4 && Math.abs(same.maxWeight - 1) < 1e-4 && same.clippedFraction === 0);

      const theta = perturbed(theta0, 0.8, 3);
      const w = Array.from(innerGradients(policy.head, theta, { numTasks: 3, rowsPerTask: b.rowsPerTask, feat: b.obs, actions: b.actions, rowWeight: b.rowWeight, oldLogProb: b.oldLogProb }, new Set(['b0'])).weights.dataSync());
      const perTask = b.rowCounts.map((n, i) => w.slice(i * b.rowsPerTask, i * b.rowsPerTask + n));
      const ess = perTask.map((ws) => ws.reduce((a, x) => a + x, 0) ** 2 / ws.reduce((a, x) => a + x * x, 0) / ws.length).sort((x, y) => x - y);
      const real = perTask.flat();
      const sortedW = [...real].sort((x, y) => x - y);
      const k = Math.floor(real.length / 2);
      const clip = (sortedW[k] + sortedW[k + 1]) / 2; // between two weights: float32 vs float64 cannot flip a row
      const got = importanceStats(policy, theta, b, clip);
      const close = (a: number, e: number, what: string) => assert.ok(Math.abs(a - e) <= 1e-4 * Math.max(1, Math.abs(e)), `${what}: ${a} vs ${e}`);
      close(got.essFractionMedian, ess[1], 'median ESS/n');
      close(got.essFractionMin, ess[0], 'min ESS/n');
      assert.ok(ess[0] < 0.95, `θ far from θ0 lowers the ESS (${ess[0]})`);
      close(got.minWeight, Math.min(...real), 'min weight');
      close(got.maxWeight, Math.max(...real), 'max weight');
      close(got.clippedFraction, real.filter((x) => x > clip).length / real.length, 'share above the clip');
      assert.equal(importanceStats(policy, theta, b).clippedFraction, 0, 'no clip, nothing clipped');
      // one weight of e^800 (beyond float64): that task's ESS is one row, and the numbers stay finite for the JSON log
      const shift = new Float32Array(b.oldLogProb.size);
      shift[0] = 800;
      const far = importanceStats(policy, theta0, { ...b, oldLogProb: tf.sub(b.oldLogProb, shift) as tf.Tensor1D });
      close(far.essFractionMin, 1 / 6, 'one row carries task 0');
      assert.equal(far.maxWeight, Number.MAX_VALUE);
      b.dispose();
    });
  });

  it('preImitation adds β · (task-averaged imitation loss of the unadapted mean) to L_out, its gradient to θ only', () => {
    tf.tidy(() => {
      const beta = 0.7;
      const policy = createPolicy(smallMlp('mlp'));
      const { params: theta0, stepSizes } = policy.init(7);
      const theta = perturbed(theta0, 0.03, 3);
      const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3]], 4);
      const b = prepareBatch(policy, tasks);
      const { obsDim, actDim } = policy.config;
      // the imitation loss of θ itself, task by task, from the policy's mean on each task's demos
      const bc = (th: Params): tf.Scalar => {
        let total: tf.Tensor = tf.scalar(0);
        for (const t of tasks) {
          const m = t.demos.actions.length / actDim;
          const mu = policy.mean(th, tf.tensor2d(t.demos.obs, [m, obsDim]));
          total = tf.add(total, tf.mean(tf.squaredDifference(mu, tf.tensor2d(t.demos.actions, [m, actDim]))));
        }
        return tf.div(total, tasks.length) as tf.Scalar;
      };
      const plain = metaGradients(policy, theta, stepSizes, (th, al) => metaLoss(policy, th, al, b));
      const withPre = metaGradients(policy, theta, stepSizes, (th, al) => metaLoss(policy, th, al, b, { preImitation: beta }));
      const loop = metaGradients(policy, theta, stepSizes, (th, al) => metaLossLoop(policy, th, al, tasks, { preImitation: beta }));
      const names = policy.shapes.map(([n]) => n);
      // the mean does not read logStd: its imitation gradient is zero
      const meanNames = names.filter((n) => n !== 'logStd');
      const bcGrads = tf.grads((...xs: tf.Tensor[]) => bc({ ...theta, ...Object.fromEntries(meanNames.map((n, k) => [n, xs[k]])) }))(meanNames.map((n) => theta[n]));
      const bcGrad = names.map((n) => (n === 'logStd' ? tf.zerosLike(theta[n]) : bcGrads[meanNames.indexOf(n)]));
      const expected = plain.loss.dataSync()[0] + beta * bc(theta).dataSync()[0];
      assert.ok(bc(theta).dataSync()[0] > 0.01, 'the unadapted mean does not already imitate the demos');
      for (const got of [withPre.loss.dataSync()[0], loop.loss.dataSync()[0]]) {
        assert.ok(Math.abs(got - expected) < 1e-5 * Math.max(1, expected), `L ${got} vs ${expected}`);
      }
      names.forEach((n, k) => {
        const x = withPre.theta[n].dataSync();
        const p = plain.theta[n].dataSync();
        const g = bcGrad[k].dataSync();
        const y = loop.theta[n].dataSync();
        const scale = Math.max(1e-3, ...Array.from(x, Math.abs));
        for (let i = 0; i < x.length; i++) {
          assert.ok(Math.abs(x[i] - (p[i] + beta * g[i])) < 1e-4 * scale, `θ/${n}[${i}]: ${x[i]} vs ${p[i] + beta * g[i]}`);
          assert.ok(Math.abs(x[i] - y[i]) < 1e-4 * scale, `batched vs loop θ/${n}[${i}]: ${x[i]} vs ${y[i]}`);
        }
      });
      for (const [n, t] of Object.entries(withPre.alpha)) assert.deepEqual(Array.from(t.dataSync()), Array.from(plain.alpha[n].dataSync()), `α/${n} unchanged`);
      b.dispose();
    });
  });

  it('preDemos: the pre-update imitation term imitates those rows (one exploration task) instead of the tasks\' D*', () => {
    tf.tidy(() => {
      const beta = 0.4;
      const policy = createPolicy(smallMlp('mlp'));
      const { params: theta0, stepSizes } = policy.init(8);
      const theta = perturbed(theta0, 0.03, 5);
      const tasks = makeTasks(policy, theta0, [[6, 4], [9, 3]], 4);
      const b = prepareBatch(policy, tasks);
      const { obsDim, actDim } = policy.config;
      const m = 7;
      const obs = tf.randomNormal([m, obsDim], 0, 1, 'float32', 11) as tf.Tensor2D;
      const actions = tf.randomNormal([m, actDim], 0, 1, 'float32', 12) as tf.Tensor2D;
      const preDemos = { obs, actions };
      const value = (f: () => tf.Scalar) => f().dataSync()[0];
      const plain = value(() => metaLoss(policy, theta, stepSizes, b));
      // by hand: β · mean over rows and action dims of (μ_θ(s) − a)²
      const mu = policy.mean(theta, obs).arraySync();
      const a = actions.arraySync();
      let sq = 0;
      for (let r = 0; r < m; r++) for (let k = 0; k < actDim; k++) sq += (mu[r][k] - a[r][k]) ** 2;
      const expected = plain + (beta * sq) / (m * actDim);
      const batched = value(() => metaLoss(policy, theta, stepSizes, b, { preImitation: beta, preDemos }));
      const loop = value(() => metaLossLoop(policy, theta, stepSizes, tasks, { preImitation: beta, preDemos }));
      const taskAverage = value(() => metaLoss(policy, theta, stepSizes, b, { preImitation: beta }));
      for (const got of [batched, loop]) assert.ok(Math.abs(got - expected) < 1e-5 * Math.max(1, expected), `L ${got} vs ${expected}`);
      assert.ok(Math.abs(taskAverage - batched) > 1e-3, 'the exploration rows, not the tasks\' D*, are imitated');
      // without β the rows are ignored
      assert.equal(value(() => metaLoss(policy, theta, stepSizes, b, { preDemos })), plain);
      b.dispose();
    });
  });
});

/**
 * A linear-Gaussian policy (no hidden layer), 1-D observation, 1-D action, 1-D z:
 *   μ(s) = w_s·s + w_z·z + b,  σ = exp(ℓ).
 * Everything below is computed by hand in float64 from the GMPS formulas.
 */
describe('learning core: GMPS on a tiny linear-Gaussian case, by hand', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  interface Lin {
    ws: number;
    wz: number;
    b: number;
    l: number;
    z: number;
  }
  const KEYS = ['ws', 'wz', 'b', 'l', 'z'] as const;
  const cfg: PolicyConfig = { kind: 'mlp', obsDim: 1, actDim: 1, hidden: [], latentDim: 1, zInit: 1, initStepSize: 0.5 };
  const theta0: Lin = { ws: 0.7, wz: -0.4, b: 0.2, l: -0.3, z: 1.0 };
  const alpha0: Lin = { ws: 0.5, wz: 0.5, b: 0.5, l: 0.5, z: 0.5 };
  const tasksRaw = [
    { s: [0.5, -1.0, 1.5], a: [0.9, -0.2, 1.1], A: [1.2, -0.7, -0.5], sd: [0.3, -0.8], ad: [0.6, -0.1] },
    { s: [-0.4, 0.8, 0.1], a: [-0.5, 0.3, 0.4], A: [-1.1, 0.9, 0.2], sd: [1.0, -0.2], ad: [0.2, 0.5] },
  ];
  const mu = (p: Lin, s: number) => p.ws * s + p.wz * p.z + p.b;
  const logp = (p: Lin, s: number, a: number) => {
    const u = (a - mu(p, s)) / Math.exp(p.l);
    return -p.l - 0.5 * u * u - 0.5 * Math.log(2 * Math.PI);
  };
  /** Inner gradient of −(1/N) Σ w·A·log π_θ, by hand. */
  const innerGrad = (p: Lin, t: (typeof tasksRaw)[number], w: number[]): Lin => {
    const g: Lin = { ws: 0, wz: 0, b: 0, l: 0, z: 0 };
    const N = t.s.length;
    const sig = Math.exp(p.l);
    t.s.forEach((s, k) => {
      const u = (t.a[k] - mu(p, s)) / sig;
      const c = (w[k] * t.A[k]) / N;
      const dmu = -c * (u / sig); // ∂L/∂μ
      g.ws += dmu * s;
      g.wz += dmu * p.z;
      g.b += dmu;
      g.z += dmu * p.wz;
      g.l += -c * (-1 + u * u);
    });
    return g;
  };
  /** L_out with importance weights given (held constant). */
  const Lout = (p: Lin, al: Lin, weights: number[][]): number => {
    let total = 0;
    tasksRaw.forEach((t, i) => {
      const g = innerGrad(p, t, weights[i]);
      const phi = Object.fromEntries(KEYS.map((k) => [k, p[k] - al[k] * g[k]])) as unknown as Lin;
      let se = 0;
      t.sd.forEach((s, j) => (se += (mu(phi, s) - t.ad[j]) ** 2));
      total += se / t.sd.length / tasksRaw.length;
    });
    return total;
  };
  const isWeights = (p: Lin, old: Lin) => tasksRaw.map((t) => t.s.map((s, k) => Math.exp(logp(p, s, t.a[k]) - logp(old, s, t.a[k]))));
  /** ∂L_out/∂(θ, α) with w frozen: central differences in float64 (h = 1e-6). */
  const metaGrad = (p: Lin, al: Lin, old: Lin): { gt: Lin; ga: Lin; loss: number } => {
    const w = isWeights(p, old);
    const h = 1e-6;
    const gt = {} as Lin;
    const ga = {} as Lin;
    for (const k of KEYS) {
      gt[k] = (Lout({ ...p, [k]: p[k] + h }, al, w) - Lout({ ...p, [k]: p[k] - h }, al, w)) / (2 * h);
      ga[k] = (Lout(p, { ...al, [k]: al[k] + h }, w) - Lout(p, { ...al, [k]: al[k] - h }, w)) / (2 * h);
    }
    return { gt, ga, loss: Lout(p, al, w) };
  };
  const toParams = (p: Lin): Params => ({
    W0: tf.tensor2d([[p.ws], [p.wz]]),
    b0: tf.tensor1d([p.b]),
    logStd: tf.tensor1d([p.l]),
    z: tf.tensor1d([p.z]),
  });
  const toAlpha = (a: Lin): Params => ({
    W0: tf.tensor2d([[a.ws], [a.wz]]),
    b0: tf.tensor1d([a.b]),
    logStd: tf.tensor1d([a.l]),
    z: tf.tensor1d([a.z]),
  });
  const fromParams = (p: Record<string, tf.Tensor>): Lin => {
    const W0 = p.W0.dataSync();
    return { ws: W0[0], wz: W0[1], b: p.b0.dataSync()[0], l: p.logStd.dataSync()[0], z: p.z.dataSync()[0] };
  };
  const batchFrom = (old: Lin): TaskBatch[] =>
    tasksRaw.map((t) => ({
      samples: {
        obs: Float32Array.from(t.s),
        actions: Float32Array.from(t.a),
        advantages: Float32Array.from(t.A),
        oldMean: Float32Array.from(t.s.map((s) => mu(old, s))),
        oldLogStd: Float32Array.from([old.l]),
      },
      demos: { obs: Float32Array.from(t.sd), actions: Float32Array.from(t.ad) },
    }));
  const close = (got: number, want: number, tol: number, what: string) =>
    assert.ok(Math.abs(got - want) <= tol, `${what}: got ${got}, expected ${want}`);

  it('meta-gradient with importance weights (θ ≠ θ0) matches the hand computation', () => {
    tf.tidy(() => {
      const policy = createPolicy(cfg);
      const theta: Lin = { ws: 0.75, wz: -0.35, b: 0.1, l: -0.2, z: 0.9 }; // drifted from θ0
      const alpha: Lin = { ws: 0.4, wz: 0.6, b: 0.3, l: 0.5, z: 0.7 };
      const want = metaGrad(theta, alpha, theta0);
      const b = prepareBatch(policy, batchFrom(theta0));
      const g = metaGradients(policy, toParams(theta), toAlpha(alpha), (th, al) => metaLoss(policy, th, al, b));
      close(g.loss.dataSync()[0], want.loss, 1e-6, 'L_out');
      const gt = fromParams(g.theta);
      for (const k of KEYS) close(gt[k], want.gt[k], 2e-5 + 1e-4 * Math.abs(want.gt[k]), `∂L/∂${k}`);
      const ga = fromParams({ ...g.alpha, logStd: tf.tensor1d([0]) });
      for (const k of KEYS) if (k !== 'l') close(ga[k], want.ga[k], 2e-5 + 1e-4 * Math.abs(want.ga[k]), `∂L/∂α_${k}`);
      assert.equal(want.ga.l, 0, "the adapted log-std never reaches the mean-only outer loss");
      assert.ok(!('logStd' in g.alpha));
      // Without importance weights the gradient is different: the test above sees w.
      const noW = metaGradients(policy, toParams(theta), toAlpha(alpha), (th, al) => metaLoss(policy, th, al, b, { importanceWeights: false }));
      const ones = tasksRaw.map((t) => t.s.map(() => 1));
      close(noW.loss.dataSync()[0], Lout(theta, alpha, ones), 1e-6, 'L_out with w ≡ 1');
      assert.ok(Math.abs(noW.loss.dataSync()[0] - want.loss) > 1e-4);
      b.dispose();
    });
  });

  it('two Adam meta-steps (TF1 Adam, slots kept, w recomputed at step 2) give the hand-computed θ and α', () => {
    const policy = createPolicy(cfg);
    const learner = new GmpsLearner(policy, { params: toParams(theta0), stepSizes: toAlpha(alpha0) });
    const b = prepareBatch(policy, batchFrom(theta0));
    // By hand: Adam(lr 1e-3, β1 .9, β2 .999, ε 1e-8) on (θ, α) from the meta-gradients.
    let p = { ...theta0 };
    let al = { ...alpha0 };
    const m: Record<string, number> = {};
    const v: Record<string, number> = {};
    const losses: number[] = [];
    for (let t = 1; t <= 2; t++) {
      const { gt, ga, loss } = metaGrad(p, al, theta0);
      losses.push(loss);
      const lrT = (1e-3 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      const upd = (key: string, x: number, g: number) => {
        m[key] = 0.9 * (m[key] ?? 0) + 0.1 * g;
        v[key] = 0.999 * (v[key] ?? 0) + 0.001 * g * g;
        return x - (lrT * m[key]) / (Math.sqrt(v[key]) + 1e-8);
      };
      const np = { ...p };
      const na = { ...al };
      for (const k of KEYS) {
        np[k] = upd(`t${k}`, p[k], gt[k]);
        if (k !== 'l') na[k] = upd(`a${k}`, al[k], ga[k]);
      }
      p = np;
      al = na;
    }
    const got1 = learner.metaStep(b);
    const got2 = learner.metaStep(b);
    close(got1, losses[0], 1e-6, 'loss at step 1');
    close(got2, losses[1], 1e-6, 'loss at step 2');
    const th = fromParams(learner.params);
    const a = fromParams(learner.stepSizes);
    for (const k of KEYS) {
      close(th[k], p[k], 2e-6, `θ.${k} after 2 steps`);
      close(a[k], al[k], 2e-6, `α.${k} after 2 steps`);
      assert.ok(k === 'l' ? a[k] === 0.5 : Math.abs(a[k] - 0.5) > 1e-3, `α.${k} moved only if it reaches the outer loss`);
    }
    assert.equal(learner.adam.step, 2);
    b.dispose();
    learner.dispose();
  });

  it('Adam with a warm-up of W steps scales lr_t by t/W up to step W, by its own step count, so a restored optimiser continues the ramp', () => {
    const run = (warmup: number | undefined, steps: number, restoreAt?: number): number[] => {
      let adam = new Adam({ lr: 0.1, ...(warmup ? { warmup } : {}) });
      const x = tf.variable(tf.scalar(1));
      const xs: number[] = [];
      for (let t = 1; t <= steps; t++) {
        if (t === restoreAt) {
          const slots = Object.fromEntries(Object.entries(adam.slots()).map(([k, v]) => [k, tf.clone(v)]));
          const step = adam.step;
          adam.dispose();
          adam = new Adam({ lr: 0.1, ...(warmup ? { warmup } : {}) });
          adam.restore(step, slots);
          Object.values(slots).forEach((v) => v.dispose());
        }
        adam.apply({ x }, { x: tf.scalar(2 * x.dataSync()[0]) }); // d(x²)/dx
        xs.push(x.dataSync()[0]);
      }
      adam.dispose();
      x.dispose();
      return xs;
    };
    const byHand = (warmup: number, steps: number): number[] => {
      let x = 1;
      let m = 0;
      let v = 0;
      const xs: number[] = [];
      for (let t = 1; t <= steps; t++) {
        const g = 2 * x;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        const lrT = (Math.min(1, t / warmup) * 0.1 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
        x -= (lrT * m) / (Math.sqrt(v) + 1e-8);
        xs.push(x);
      }
      return xs;
    };
    const warm = run(4, 6);
    byHand(4, 6).forEach((e, i) => close(warm[i], e, 1e-5, `x after step ${i + 1} with a warm-up of 4`));
    close(1 - warm[0], 0.1 / 4, 1e-5, 'the first step is a quarter of lr');
    const plain = run(undefined, 6);
    byHand(1, 6).forEach((e, i) => close(plain[i], e, 1e-5, `x after step ${i + 1} without a warm-up`));
    assert.deepEqual(run(4, 6, 3), warm, 'restored at step 3, the ramp goes on from there');
  });

  it('adaptStep is φ = θ − α ⊙ ∇(−mean(log π · A)) with w ≡ 1', () => {
    tf.tidy(() => {
      const policy = createPolicy(cfg);
      const t = tasksRaw[0];
      const phi = adaptStep(policy, toParams(theta0), toAlpha(alpha0), {
        obs: Float32Array.from(t.s),
        actions: Float32Array.from(t.a),
        advantages: Float32Array.from(t.A),
      });
      const g = innerGrad(theta0, t, [1, 1, 1]);
      const got = fromParams(phi);
      for (const k of KEYS) close(got[k], theta0[k] - alpha0[k] * g[k], 1e-6, `φ.${k}`);
    });
  });
});

describe('learning core: policies', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('state policy: GMPS architecture and initialisation', () => {
    tf.tidy(() => {
      const policy = createPolicy(defaultMlpConfig(6, 3));
      const { params, stepSizes } = policy.init(0);
      const shapes = Object.fromEntries(Object.entries(params).map(([k, t]) => [k, t.shape]));
      assert.deepEqual(shapes, { W0: [10, 100], b0: [100], W1: [100, 100], b1: [100], W2: [100, 3], b2: [3], logStd: [3], z: [4] });
      assert.deepEqual(Array.from(params.z.dataSync()), [1, 1, 1, 1]);
      assert.deepEqual(Array.from(params.logStd.dataSync()), [0, 0, 0]);
      assert.equal(tf.max(tf.abs(params.b1)).dataSync()[0], 0);
      const limit = Math.sqrt(6 / (100 + 100));
      const w1 = params.W1.dataSync();
      assert.ok(Math.max(...Array.from(w1, Math.abs)) <= limit && Math.max(...Array.from(w1, Math.abs)) > 0.9 * limit, 'Xavier-uniform range');
      assert.deepEqual(Object.keys(stepSizes).sort(), Object.keys(params).sort(), 'fullAda adapts every parameter');
      for (const t of Object.values(stepSizes)) assert.ok(Array.from(t.dataSync()).every((x) => x === 0.5));
      // log-std is clamped at ln 1e-6
      assert.ok(Math.abs(policy.logStd({ ...params, logStd: tf.tensor1d([-30, 0, -1]) }).dataSync()[0] - Math.log(1e-6)) < 1e-5);
    });
  });

  it('initStd sets the initial σ; a learner with logStd frozen leaves it while θ and α move', () => {
    const policy = createPolicy({ ...smallMlp('mlp'), initStd: 0.3 });
    const init = policy.init(4);
    const theta0 = Object.fromEntries(Object.entries(init.params).map(([k, t]) => [k, Array.from(t.dataSync())]));
    assert.ok(theta0.logStd.every((v) => Math.abs(v - Math.log(0.3)) < 1e-6), `log-std starts at ln 0.3, got ${theta0.logStd}`);
    assert.throws(() => createPolicy({ ...smallMlp('mlp'), initStd: 0 }).init(0), /initial std must be a positive number/);
    const batch = prepareBatch(policy, makeTasks(policy, init.params, [[6, 4], [5, 3]], 9));
    for (const frozen of [[], ['logStd']]) {
      const learner = new GmpsLearner(policy, init, { frozen });
      learner.metaStep(batch);
      learner.metaStep(batch);
      const moved = (name: string) => Array.from(learner.params[name].dataSync()).some((v, i) => v !== theta0[name][i]);
      assert.equal(moved('logStd'), frozen.length === 0, `logStd ${frozen.length ? 'frozen' : 'trained'}`);
      assert.ok(moved('W0') && moved('z'), 'the other parameters are trained');
      assert.ok(Array.from(learner.stepSizes.W0.dataSync()).some((v) => v !== 0.5), 'α is trained');
      learner.dispose();
    }
    batch.dispose();
  });

  it('biasAda adapts only z (initialised to zeros)', () => {
    tf.tidy(() => {
      const policy = createPolicy(smallMlp('mlp-biasAda'));
      const { params, stepSizes } = policy.init(1);
      assert.deepEqual(policy.adaptable, ['z']);
      assert.deepEqual(Object.keys(stepSizes), ['z']);
      assert.ok(Array.from(params.z.dataSync()).every((x) => x === 0));
      const n = 12;
      const phi = adaptStep(policy, params, stepSizes, { obs: rnd(n * 4, 1), actions: rnd(n * 2, 2), advantages: rnd(n, 3) });
      for (const [name, t] of Object.entries(phi)) {
        const diff = tf.max(tf.abs(tf.sub(t, params[name]))).dataSync()[0];
        if (name === 'z') assert.ok(diff > 1e-4, 'z adapted');
        else assert.equal(diff, 0, `${name} unchanged`);
      }
    });
  });

  it('vision policy: shapes, keypoints in [-1, 1], only FC weights/biases and z adapt', () => {
    tf.tidy(() => {
      const policy = createPolicy(defaultVisionConfig());
      assert.equal(policy.config.obsDim, 48 * 64 * 3 + 3);
      const { params, stepSizes } = policy.init(2);
      assert.deepEqual(params['conv0/kernel'].shape, [5, 5, 3, 16]);
      assert.deepEqual(params['conv1/kernel'].shape, [3, 3, 16, 16]);
      assert.deepEqual(params['conv2/kernel'].shape, [3, 3, 16, 16]);
      assert.deepEqual(params.W0.shape, [32 + 3 + 4, 100]);
      assert.deepEqual(params.W2.shape, [100, 3]);
      assert.deepEqual([...policy.adaptable].sort(), ['W0', 'W1', 'W2', 'b0', 'b1', 'b2', 'z']);
      assert.deepEqual(Object.keys(stepSizes).sort(), [...policy.adaptable].sort());
      const n = 3;
      const obs = tf.tensor2d(rnd(n * policy.config.obsDim, 4).map((v) => 0.5 + 0.5 * v), [n, policy.config.obsDim]);
      const feat = policy.features(params, obs);
      assert.deepEqual(feat.shape, [n, 35]);
      const f = feat.arraySync() as number[][];
      for (const row of f) for (const x of row.slice(0, 32)) assert.ok(x >= -1 && x <= 1);
      assert.deepEqual(policy.mean(params, obs).shape, [n, 3]);
      const phi = adaptStep(policy, params, stepSizes, { obs: obs.dataSync() as Float32Array, actions: rnd(n * 3, 5), advantages: rnd(n, 6) });
      for (const [name, t] of Object.entries(phi)) {
        const diff = tf.max(tf.abs(tf.sub(t, params[name]))).dataSync()[0];
        if (policy.adaptable.includes(name)) assert.ok(diff > 0, `${name} adapted`);
        else assert.equal(diff, 0, `${name} unchanged`);
      }
    });
  });

  it('act: fused fast path equals mean(), seeded sampling is reproducible, stdScale 0 gives the mean', () => {
    for (const cfg of [smallMlp(), smallVision()]) {
      tf.tidy(() => {
        const policy = createPolicy(cfg);
        const { params } = policy.init(8);
        const n = 4;
        const obs = rnd(n * cfg.obsDim, 9).map((v) => 0.5 + 0.5 * v);
        const a1 = policy.act(params, obs, { seed: 42 });
        const a2 = policy.act(params, obs, { seed: 42 });
        const a3 = policy.act(params, obs, { seed: 43 });
        const det = policy.act(params, obs, { stdScale: 0 });
        const mean = policy.mean(params, tf.tensor2d(obs, [n, cfg.obsDim])).dataSync();
        assert.equal(a1.action.length, n * cfg.actDim);
        assert.deepEqual(a1.action, a2.action);
        assert.notDeepEqual(a1.action, a3.action);
        for (let i = 0; i < mean.length; i++) {
          assert.ok(Math.abs(a1.mean[i] - mean[i]) < 1e-5, 'fused mean equals the training-graph mean');
          assert.ok(Math.abs(det.action[i] - mean[i]) < 1e-5);
        }
        assert.throws(() => policy.act(params, obs.subarray(1)), /not a positive multiple of obsDim/);
      });
    }
  });

  it('rejects a malformed batch with the task and field at fault', () => {
    const policy = createPolicy(smallMlp());
    const { params } = policy.init(0);
    const tasks = makeTasks(policy, params, [[4, 3], [4, 3]]);
    tasks[1].samples.oldMean = tasks[1].samples.oldMean.subarray(1);
    assert.throws(() => prepareBatch(policy, tasks), /task 1 samples\.oldMean has 7 values, expected 4 x 2/);
    assert.throws(() => prepareBatch(policy, []), /no tasks/);
  });
});
