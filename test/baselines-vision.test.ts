import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { rolloutExpert, scriptedExpert } from '../src/learning/expert.js';
import { defaultMamlConfig, mamlSurrogate, mamlTrain, postUpdateDistribution, type MamlBatch } from '../src/learning/maml.js';
import { behaviourClone, defaultMultiTaskConfig, fineTune, multiTaskImitation, multiTaskTrain } from '../src/learning/multitask.js';
import { createPolicy, defaultVisionConfig, disposeParams } from '../src/learning/policy/index.js';
import { createLocalSampler, type Sampler } from '../src/learning/sampler.js';
import { toTaskDemos } from '../src/learning/trajectory.js';
import type { TaskParams } from '../sim/types.js';

// The baselines of the paper's vision pushing figures (Fig. 5: MAML-RL and MultiTask; Fig. 6:
// MultiTask-imitation) on the GMPS conv policy, with frames rendered by the simulator.
const CAMERA = { camera: { height: 48, width: 64 } };
const OBS_DIM = 48 * 64 * 3 + 3;
const HORIZON = 50; // push

function rnd(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  });
}

describe('baselines on the vision policy (camera pushing)', function () {
  this.timeout(300_000);
  let sampler: Sampler;
  let tasks: TaskParams[];
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
    sampler = await createLocalSampler({ env: { kind: 'push', options: CAMERA }, nEnvs: 4 });
    tasks = [
      { kind: 'push', goal: [0.62, 0.05] },
      { kind: 'push', goal: [0.68, -0.07] },
    ];
  });
  after(async () => {
    await sampler?.close();
  });

  it("MAML's post-update surrogate: its gradient into the conv trunk equals finite differences", () => {
    // A small conv policy (12x16 frames) so the check runs in float32 without noise.
    const vision = { height: 12, width: 16, channels: 3, filters: [4, 4], kernels: [3, 3], strides: [2, 1], handDim: 3 };
    const policy = createPolicy({ ...defaultVisionConfig(3, vision), hidden: [8, 8], latentDim: 2 });
    const obsDim = 12 * 16 * 3 + 3;
    const { params: theta, stepSizes: alpha } = policy.init(3);
    const T = 2;
    const n = 6;
    const m = 5;
    const t = tf.tidy(() => {
      const preObs = tf.tensor2d(rnd(T * n * obsDim, 11), [T * n, obsDim]);
      const postObs = tf.tensor2d(rnd(T * m * obsDim, 12), [T * m, obsDim]);
      const partial = {
        numTasks: T,
        preRows: n,
        postRows: m,
        preObs,
        preActions: tf.sub(tf.tensor2d(rnd(T * n * 3, 13), [T * n, 3]), 0.5) as tf.Tensor2D,
        preRowWeight: tf.div(tf.sub(tf.tensor1d(rnd(T * n, 14)), 0.5), n) as tf.Tensor1D,
        postObs,
        postActions: tf.sub(tf.tensor3d(rnd(T * m * 3, 15), [T, m, 3]), 0.5) as tf.Tensor3D,
        postAdv: tf.sub(tf.tensor2d(rnd(T * m, 16), [T, m]), 0.5) as tf.Tensor2D,
      };
      const probe = { ...partial, oldMean: tf.zeros([T, m, 3]), oldLogStd: tf.zeros([T, 1, 3]) } as MamlBatch;
      const { mean, logStd } = postUpdateDistribution(policy, theta, alpha, probe);
      return { ...partial, oldMean: mean, oldLogStd: logStd };
    });
    const batch: MamlBatch = { ...t, dispose: () => Object.values(t).forEach((x) => typeof x === 'object' && x.dispose()) } as MamlBatch;
    try {
      // One parameter tensor at a time along a random direction; h small enough not to cross ReLU kinks.
      for (const [i, name] of ['conv0/kernel', 'conv1/kernel', 'conv1/bias', 'softmaxTemp'].entries()) {
        const [grad] = tf.grads((x: tf.Tensor) => mamlSurrogate(policy, { ...theta, [name]: x }, alpha, batch))([theta[name]]);
        const dir = tf.sub(tf.tensor(rnd(theta[name].size, 10 + i), theta[name].shape), 0.5);
        const analytic = tf.sum(tf.mul(grad, dir)).dataSync()[0];
        const at = (h: number) => tf.tidy(() => mamlSurrogate(policy, { ...theta, [name]: tf.add(theta[name], tf.mul(dir, h)) }, alpha, batch).dataSync()[0]);
        const h = 3e-3;
        const fd = (at(h) - at(-h)) / (2 * h);
        assert.ok(Math.abs(analytic) > 1e-4, `the surrogate depends on ${name} (directional derivative ${analytic})`);
        assert.ok(Math.abs(fd - analytic) < 5e-5 + 2e-2 * Math.abs(fd), `${name}: analytic ${analytic} vs fd ${fd}`);
        [grad, dir].forEach((x) => x.dispose());
      }
    } finally {
      batch.dispose();
      disposeParams(theta);
      disposeParams(alpha);
    }
  });

  it('MAML-TRPO runs on camera frames: FC adapts, the TRPO step moves the convs within its KL bound, every sample counted', async () => {
    const config = {
      ...defaultMamlConfig('push'),
      envOptions: CAMERA,
      seed: 2,
      metaBatchSize: 2,
      numTasks: 2,
      numHeldOut: 0,
      rolloutsPerTask: 2,
      iterations: 1,
      evalEvery: 0,
      hidden: [16, 16],
      policyKind: 'vision' as const,
      tasksPerPart: 1,
    };
    const init = createPolicy({ ...defaultVisionConfig(3), hidden: [16, 16], latentDim: 0, zInit: 1, initStepSize: 0.1 }).init(2);
    const res = await mamlTrain({ config, sampler, obsDim: 9, actDim: 3 });
    try {
      assert.equal(res.policy.config.kind, 'vision');
      assert.equal(res.policy.config.obsDim, OBS_DIM);
      assert.ok(res.policy.adaptable.length > 0 && res.policy.adaptable.every((n) => !n.startsWith('conv') && n !== 'softmaxTemp'), 'only the FC block adapts');
      const [log] = res.iterations;
      assert.ok(log.kl <= 0.01 * 1.5, `TRPO KL ${log.kl}`);
      // 1 itr × 2 tasks × 2 rollouts × horizon × 2 (pre, post) + the final evaluation (2 tasks × 2 × horizon × 2)
      assert.equal(res.envSamples, 2 * 2 * HORIZON * 2 + 2 * 2 * HORIZON * 2);
      assert.ok(log.accepted, 'the line search accepts a step');
      assert.ok(log.surrogateAfter < log.surrogateBefore, `surrogate ${log.surrogateBefore} → ${log.surrogateAfter}`);
      const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(res.params['conv0/kernel'], init.params['conv0/kernel']))).dataSync()[0]);
      assert.ok(moved > 0, 'the outer step updates the conv trunk');
      assert.ok(Number.isFinite(res.curve[0].train.postReturn));
    } finally {
      res.dispose();
      disposeParams(init.params);
      disposeParams(init.stepSizes);
    }
  });

  it('MultiTask trains the conv policy with TRPO on camera frames', async () => {
    const res = await multiTaskTrain({
      config: { ...defaultMultiTaskConfig('push'), envOptions: CAMERA, seed: 1, numTasks: 2, numHeldOut: 1, rolloutsPerTask: 2, iterations: 1, evalEvery: 0, evalRollouts: 1, hidden: [16, 16], obsMode: 'vision', rowsPerPart: HORIZON },
      sampler,
      obsDim: 9,
      actDim: 3,
    });
    try {
      assert.equal(res.policy.config.kind, 'vision');
      // 1 itr × 2 tasks × 2 rollouts + final evaluation of 2 training + 1 held-out task × 1 rollout
      assert.equal(res.envSamples, (2 * 2 + 3) * HORIZON);
      assert.ok(Number.isFinite(res.curve[0].heldOut!.postReturn));
    } finally {
      res.dispose();
    }
  });

  it('MultiTask-imitation clones camera demonstrations (minibatches), then fine-tunes the conv policy; state demonstrations are refused', async () => {
    const trajs = await rolloutExpert(sampler, scriptedExpert, tasks, 1);
    const demos = trajs.map((g) => toTaskDemos(g, 'vision', 'expert'));
    assert.equal(demos[0].obs.length, HORIZON * OBS_DIM);
    const policy = createPolicy({ ...defaultVisionConfig(3), hidden: [16, 16], latentDim: 0, zInit: 0, initStepSize: 0.1 });
    const few = behaviourClone(policy, demos, { seed: 0, bcSteps: 1, lr: 3e-3, bcBatch: 32 });
    const many = behaviourClone(policy, demos, { seed: 0, bcSteps: 60, lr: 3e-3, bcBatch: 32 });
    disposeParams(few.params);
    try {
      assert.ok(many.loss < few.loss * 0.7, `BC loss ${few.loss} → ${many.loss}`);
      const curve = await fineTune(sampler, policy, many.params, [tasks[0]], { seed: 0, fineTuneSteps: 1, rolloutsPerStep: 2, fineTuneStepSize: 0.01 });
      assert.equal(curve.returns.length, 2);
      assert.equal(curve.envSamples, 2 * 2 * HORIZON);
      assert.ok(curve.returns.every(Number.isFinite));
    } finally {
      disposeParams(many.params);
    }
    const state = trajs.map((g) => toTaskDemos(g, 'state', 'expert'));
    await assert.rejects(
      multiTaskImitation({
        sampler, obsDim: 9, actDim: 3, demos: state, heldOut: [tasks[1]],
        config: { seed: 0, hidden: [16, 16], bcSteps: 1, lr: 1e-3, fineTuneSteps: 1, rolloutsPerStep: 2, fineTuneStepSize: 0.01, obsMode: 'vision' },
      }),
      /demonstration 0 has .* observation values .* the vision policy reads 9219 per step \(record the demonstrations in the policy's observation mode\)/,
    );
  });
});
