import assert from 'node:assert/strict';
import { initBackend } from '../src/learning/backend.js';
import { rolloutExpert, scriptedExpert } from '../src/learning/expert.js';
import * as tf from '@tensorflow/tfjs-core';
import { behaviourClone, defaultMultiTaskConfig, fineTune, multiTaskImitation, multiTaskTrain } from '../src/learning/multitask.js';
import { createPolicy, disposeParams } from '../src/learning/policy/index.js';
import { createLocalSampler } from '../src/learning/sampler.js';
import { toTaskDemos } from '../src/learning/trajectory.js';
import type { TaskParams } from '../sim/types.js';

describe('baselines: MultiTask-imitation', function () {
  this.timeout(60000);
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });

  it('MultiTask: the TRPO step in parts of uneven size (how camera frames fit the heap) is the step on the whole batch', async () => {
    const envOptions = { horizon: 10, maxStep: 0.2 };
    const run = async (rowsPerPart?: number) => {
      const sampler = await createLocalSampler({ env: { kind: 'point', options: envOptions }, nEnvs: 4 });
      try {
        const config = { ...defaultMultiTaskConfig('point'), envOptions, seed: 2, numTasks: 3, numHeldOut: 0, rolloutsPerTask: 4, iterations: 1, evalEvery: 0, evalRollouts: 2, hidden: [16], rowsPerPart };
        return await multiTaskTrain({ config, sampler, obsDim: 2, actDim: 2 });
      } finally {
        await sampler.close();
      }
    };
    const whole = await run();
    const parts = await run(37); // 120 rows: parts of 37, 37, 37 and 9
    try {
      const init = whole.policy.init(2);
      const names = Object.keys(whole.params);
      const norm = (a: Record<string, tf.Tensor>, b: Record<string, tf.Tensor>) =>
        Math.sqrt(names.reduce((acc, k) => acc + tf.tidy(() => tf.sum(tf.square(tf.sub(a[k], b[k]))).dataSync()[0]), 0));
      const step = norm(whole.params, init.params);
      const diff = norm(parts.params, whole.params);
      assert.ok(step > 1e-4 && diff <= 0.01 * step, `parts differ from the whole batch by ${diff}; the step is ${step}`);
      disposeParams(init.params);
      disposeParams(init.stepSizes);
    } finally {
      whole.dispose();
      parts.dispose();
    }
    await assert.rejects(run(0), /rowsPerPart must be an integer >= 1, got 0/);
  });

  it('behaviour-clones the demonstrations, then fine-tunes on a held-out task with policy-gradient steps', async () => {
    const s = await createLocalSampler({ env: { kind: 'point', options: { horizon: 20, maxStep: 0.2 } }, nEnvs: 4 });
    try {
      const tasks: TaskParams[] = [
        { kind: 'point', goal: [0.5, 0.5] },
        { kind: 'point', goal: [-0.5, 0.3] },
        { kind: 'point', goal: [0.2, -0.8] },
      ];
      const demos = (await rolloutExpert(s, scriptedExpert, tasks, 2)).map((g) => toTaskDemos(g, 'state', 'expert'));
      const policy = createPolicy({ kind: 'mlp', obsDim: 2, actDim: 2, hidden: [32, 32], latentDim: 0, zInit: 0, initStepSize: 0.1 });
      const few = behaviourClone(policy, demos, { seed: 0, bcSteps: 5, lr: 1e-3 });
      const many = behaviourClone(policy, demos, { seed: 0, bcSteps: 200, lr: 1e-3 });
      assert.ok(many.loss < few.loss * 0.75, `BC loss ${few.loss} → ${many.loss}`);
      const r = await multiTaskImitation({
        sampler: s,
        obsDim: 2,
        actDim: 2,
        demos,
        heldOut: [{ kind: 'point', goal: [0.7, -0.2] }],
        config: { seed: 0, hidden: [32, 32], bcSteps: 200, lr: 1e-3, fineTuneSteps: 3, rolloutsPerStep: 8, fineTuneStepSize: 0.1 },
      });
      assert.equal(r.returns.length, 4);
      assert.equal(r.envSamples, 4 * 8 * 20);
      assert.ok(r.returns[3] > r.returns[0], `fine-tuning return ${r.returns[0]} → ${r.returns[3]}`);
    } finally {
      await s.close();
    }
  });

  it('fine-tunes from rollouts of the exploration σ it is given (initStd), so it can match the meta-policy it is compared with', async () => {
    const s = await createLocalSampler({ env: { kind: 'point', options: { horizon: 10, maxStep: 0.2 } }, nEnvs: 4 });
    try {
      const tasks: TaskParams[] = [{ kind: 'point', goal: [0.5, 0.5] }, { kind: 'point', goal: [-0.5, 0.3] }];
      const demos = (await rolloutExpert(s, scriptedExpert, tasks, 2)).map((g) => toTaskDemos(g, 'state', 'expert'));
      // The step-0 rollouts' returns: they differ only by the policy's action noise.
      const spread = async (initStd?: number): Promise<number> => {
        const seen: number[][] = [];
        const spy = { ...s, sample: async (req: Parameters<typeof s.sample>[0]) => {
          const out = await s.sample(req);
          seen.push(out[0].map((t) => t.rewards.reduce((a, b) => a + b, 0)));
          return out;
        } };
        await multiTaskImitation({
          sampler: spy, obsDim: 2, actDim: 2, demos, heldOut: [{ kind: 'point', goal: [0.7, -0.2] }],
          config: { seed: 0, hidden: [16], bcSteps: 20, lr: 1e-3, fineTuneSteps: 0, rolloutsPerStep: 4, fineTuneStepSize: 0.1, ...(initStd !== undefined ? { initStd } : {}) },
        });
        assert.equal(seen.length, 1);
        return Math.max(...seen[0]) - Math.min(...seen[0]);
      };
      const quiet = await spread(1e-4);
      const loud = await spread();
      assert.ok(quiet < 1e-2, `σ 1e-4: returns spread ${quiet}`);
      assert.ok(loud > 0.1, `default σ 1: returns spread ${loud}`);
    } finally {
      await s.close();
    }
  });

  it('fine-tuning with laterStepSize / laterStepScale: the first step takes the given α, every later step the fixed size or the scaled α', async () => {
    const s = await createLocalSampler({ env: { kind: 'point', options: { horizon: 10, maxStep: 0.2 } }, nEnvs: 4 });
    const policy = createPolicy({ kind: 'mlp', obsDim: 2, actDim: 2, hidden: [8], latentDim: 0, zInit: 0, initStepSize: 0.1, initStd: 0.3 });
    const { params, stepSizes } = policy.init(0);
    const alphas = Object.fromEntries(policy.adaptable.map((k) => [k, tf.fill(params[k].shape, 0.5)]));
    try {
      const task: TaskParams[] = [{ kind: 'point', goal: [0.7, -0.2] }];
      const c = { seed: 0, fineTuneSteps: 3, rolloutsPerStep: 4, fineTuneStepSize: 0.1 };
      const repeated = await fineTune(s, policy, params, task, c, alphas);
      // Later steps of the size α has everywhere: the same run, to the bit.
      assert.deepEqual((await fineTune(s, policy, params, task, { ...c, laterStepSize: 0.5 }, alphas)).returns, repeated.returns);
      const small = await fineTune(s, policy, params, task, { ...c, laterStepSize: 1e-3 }, alphas);
      assert.deepEqual(small.returns.slice(0, 2), repeated.returns.slice(0, 2), 'the same first step');
      for (const k of [2, 3]) assert.notEqual(small.returns[k], repeated.returns[k], `step ${k} takes the later size`);
      await assert.rejects(fineTune(s, policy, params, task, { ...c, laterStepSize: -1 }, alphas), /laterStepSize must be a finite number > 0/);
      // laterStepScale: α is 0.5 everywhere, so a scale of 0.002 is the fixed size 1e-3 (to the bit),
      // and a scale of 1 repeats α.
      assert.deepEqual((await fineTune(s, policy, params, task, { ...c, laterStepScale: 0.002 }, alphas)).returns, small.returns);
      assert.deepEqual((await fineTune(s, policy, params, task, { ...c, laterStepScale: 1 }, alphas)).returns, repeated.returns);
      await assert.rejects(fineTune(s, policy, params, task, { ...c, laterStepScale: -0.5 }, alphas), /laterStepScale must be a finite number >= 0/);
      await assert.rejects(fineTune(s, policy, params, task, { ...c, laterStepScale: 0.5, laterStepSize: 0.1 }, alphas), /not both/);
    } finally {
      disposeParams(params);
      disposeParams(stepSizes);
      disposeParams(alphas);
      await s.close();
    }
  });
});
