import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { adaptStep, GmpsLearner, metaGradients, metaLoss, prepareBatch } from '../src/learning/gmps.js';
import { defaultMetaTrainConfig, learnerOptions, loadCheckpoint } from '../src/learning/meta-train.js';
import { createPolicy, defaultMlpConfig, defaultVisionConfig, disposeParams, type GmpsPolicy, type Params } from '../src/learning/policy/index.js';
import { Rng } from '../src/learning/rng.js';
import { composeVisionPolicy, fitKeypoints, poseDataOf, type PoseData } from '../src/learning/vision-init.js';
import type { Trajectory } from '../src/learning/trajectory.js';

const run = promisify(execFile);
const SMALL = { height: 24, width: 32, channels: 3, filters: [16, 16, 16], kernels: [5, 3, 3], strides: [3, 3, 1], handDim: 3 };

function readout(W: number[][], b: number[]): { W: tf.Tensor2D; b: tf.Tensor1D } {
  return { W: tf.tensor2d(W), b: tf.tensor1d(b) };
}

/** A state policy's θ and α with every entry different, a fresh vision trunk and a random read-out. */
function setup(state: GmpsPolicy, vision: GmpsPolicy, seed: number, bias: number[]) {
  const s = state.init(3);
  const theta: Params = {};
  for (const [n, t] of Object.entries(s.params)) theta[n] = tf.add(t, tf.randomNormal(t.shape, 0, 0.3, 'float32', n.length));
  const alpha: Params = {};
  for (const [n, t] of Object.entries(s.stepSizes)) alpha[n] = tf.add(t, tf.randomUniform(t.shape, 0, 0.1, 'float32', 7 + n.length));
  const v = vision.init(5);
  const rng = new Rng(seed);
  const W = Array.from({ length: 32 }, () => Array.from({ length: 3 }, () => rng.normal() * 0.2));
  const fit = { trunk: Object.fromEntries(Object.entries(v.params).filter(([n]) => n.startsWith('conv') || n === 'softmaxTemp')), readout: readout(W, bias) };
  return { s, theta, alpha, v, rng, fit };
}

describe('vision-init: a vision policy from a state policy', function () {
  this.timeout(120_000);
  before(() => initBackend({ backend: 'wasm', log: null }));

  it('composes the state head onto the keypoints: same mean action when the read-out is exact, step sizes carried over', () => {
    const state = createPolicy({ ...defaultMlpConfig(6, 3), initStepSize: 0.25 });
    const vision = createPolicy({ ...defaultVisionConfig(3, SMALL), initStepSize: 0.25 });
    const { s, theta, alpha, v, fit } = setup(state, vision, 1, [0.1, -0.2, 0.3]);
    const composed = composeVisionPolicy({ policy: state, params: theta, stepSizes: alpha }, vision, fit, { keypointStepSize: 0.01 });
    const n = 5;
    const px = SMALL.height * SMALL.width * 3;
    const obs = tf.tidy(() => tf.concat([tf.randomUniform([n, px], 0, 1, 'float32', 9), tf.randomUniform([n, 3], -0.5, 0.5, 'float32', 10)], 1)) as tf.Tensor2D;
    const [mv, ms] = tf.tidy(() => {
      const f = vision.features(composed.params, obs);
      const kp = tf.slice(f, [0, 0], [n, 32]);
      const hand = tf.slice(f, [0, 32], [n, 3]);
      const object = tf.add(tf.matMul(kp, fit.readout.W), fit.readout.b);
      const stateObs = tf.concat([hand, object], 1) as tf.Tensor2D;
      return [vision.mean(composed.params, obs).arraySync() as number[][], state.mean(theta, stateObs).arraySync() as number[][]];
    });
    for (let i = 0; i < n; i++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(mv[i][j] - ms[i][j]) < 1e-4, `row ${i} action ${j}: vision ${mv[i][j]} vs state ${ms[i][j]}`);
    // Step sizes: keypoint rows get the given value; the hand and z rows and the later layers are the state policy's.
    const a0 = composed.stepSizes.W0.arraySync() as number[][];
    const s0 = alpha.W0.arraySync() as number[][];
    assert.equal(a0.length, 32 + 3 + 4);
    assert.ok(a0.slice(0, 32).every((row) => row.every((x) => Math.abs(x - 0.01) < 1e-7)));
    assert.deepEqual(a0.slice(32, 35), s0.slice(0, 3));
    assert.deepEqual(a0.slice(35), s0.slice(6, 10));
    for (const name of ['b0', 'W1', 'b1', 'W2', 'b2', 'z']) assert.deepEqual(composed.stepSizes[name].arraySync(), alpha[name].arraySync(), name);
    assert.deepEqual(composed.params.z.arraySync(), theta.z.arraySync());
    assert.deepEqual(composed.params.logStd.arraySync(), theta.logStd.arraySync());
    assert.deepEqual(Object.keys(composed.stepSizes).sort(), [...vision.adaptable].sort());
    for (const p of [s.params, s.stepSizes, theta, alpha, v.params, v.stepSizes, composed.params, composed.stepSizes]) disposeParams(p);
    obs.dispose();
  });

  it('with the read-out in the policy, the composed vision policy acts and adapts exactly as the state policy on the read-out object', () => {
    const state = createPolicy({ ...defaultMlpConfig(6, 3), initStepSize: 0.25 });
    const vision = createPolicy({ ...defaultVisionConfig(3, { ...SMALL, readout: 3 }), initStepSize: 0.25 });
    assert.equal(vision.head.inDim, 6, 'the FC block reads the 3 read-out values and the hand');
    assert.ok(vision.shapes.some(([n]) => n === 'readout/kernel') && !vision.adaptable.includes('readout/kernel'), 'the read-out is meta-trained, not adapted');
    const { s, theta, alpha, v, rng, fit } = setup(state, vision, 2, [0.1, 0.6, 0.2]);
    const composed = composeVisionPolicy({ policy: state, params: theta, stepSizes: alpha }, vision, fit);
    const n = 6;
    const px = SMALL.height * SMALL.width * 3;
    const obs = tf.tidy(() => tf.concat([tf.randomUniform([n, px], 0, 1, 'float32', 9), tf.randomUniform([n, 3], -0.5, 0.5, 'float32', 10)], 1)) as tf.Tensor2D;
    const stateObs = tf.tidy(() => {
      const kp = (vision as unknown as { keypoints(p: Params, o: tf.Tensor2D): tf.Tensor2D }).keypoints(composed.params, obs);
      return tf.concat([tf.slice(obs, [0, px], [n, 3]), tf.add(tf.matMul(kp, fit.readout.W), fit.readout.b)], 1) as tf.Tensor2D;
    });
    const close = (a: number[][], b: number[][], what: string) => a.forEach((row, i) => row.forEach((x, j) => assert.ok(Math.abs(x - b[i][j]) < 1e-4, `${what} row ${i} action ${j}: ${x} vs ${b[i][j]}`)));
    close(tf.tidy(() => vision.mean(composed.params, obs).arraySync() as number[][]), tf.tidy(() => state.mean(theta, stateObs).arraySync() as number[][]), 'mean');
    // One inner step on the same actions and advantages: the adapted policies agree too.
    const actions = Float32Array.from({ length: n * 3 }, () => rng.normal());
    const advantages = Float32Array.from({ length: n }, () => rng.normal());
    const phiV = adaptStep(vision, composed.params, composed.stepSizes, { obs: obs.dataSync() as Float32Array, actions, advantages });
    const phiS = adaptStep(state, theta, alpha, { obs: stateObs.dataSync() as Float32Array, actions, advantages });
    close(tf.tidy(() => vision.mean(phiV, obs).arraySync() as number[][]), tf.tidy(() => state.mean(phiS, stateObs).arraySync() as number[][]), 'adapted mean');
    assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(phiS.z, theta.z))).dataSync()[0]) > 1e-4, 'the step moved the parameters');
    for (const p of [s.params, s.stepSizes, theta, alpha, v.params, v.stepSizes, composed.params, composed.stepSizes, phiV, phiS]) disposeParams(p);
    obs.dispose();
    stateObs.dispose();
  });

  it('--freeze-trunk: meta-training steps leave the convs, soft-argmax and read-out as they are and move the FC block', () => {
    const policyConfig = { ...defaultVisionConfig(3, { ...SMALL, readout: 3 }), hidden: [8, 8] };
    const c = { ...defaultMetaTrainConfig('door', { obsDim: policyConfig.obsDim, actDim: 3 }), obsMode: 'vision' as const, policy: policyConfig, freezeTrunk: true, learnStd: false };
    const opts = learnerOptions(c);
    assert.deepEqual([...opts.frozen!].sort(), ['conv0/bias', 'conv0/kernel', 'conv1/bias', 'conv1/kernel', 'conv2/bias', 'conv2/kernel', 'logStd', 'readout/bias', 'readout/kernel', 'softmaxTemp']);
    const policy = createPolicy(policyConfig);
    const init = policy.init(1);
    const learner = new GmpsLearner(policy, init, opts);
    const px = SMALL.height * SMALL.width * 3;
    const rng = new Rng(3);
    const m = 12;
    const obs = Float32Array.from({ length: m * (px + 3) }, () => rng.next());
    const task = {
      samples: { obs, actions: Float32Array.from({ length: m * 3 }, () => rng.normal()), advantages: Float32Array.from({ length: m }, () => rng.normal()), oldMean: new Float32Array(m * 3), oldLogStd: new Float32Array(3) },
      demos: { obs, actions: Float32Array.from({ length: m * 3 }, () => rng.normal()) },
    };
    const before = Object.fromEntries(Object.entries(learner.params).map(([n, v]) => [n, v.dataSync().slice()]));
    const batch = prepareBatch(policy, [task]);
    // Frozen parameters enter the meta-gradient as constants: no gradient for them, the same for the rest.
    const loss = (th: Params, al: Params) => metaLoss(policy, th, al, batch, opts);
    const all = metaGradients(policy, learner.params, learner.stepSizes, loss);
    const part = metaGradients(policy, learner.params, learner.stepSizes, loss, new Set(opts.frozen));
    assert.deepEqual(Object.keys(part.theta).sort(), Object.keys(all.theta).filter((n) => !opts.frozen!.includes(n)).sort());
    for (const [n, g] of Object.entries(part.theta)) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(g, all.theta[n]))).dataSync()[0]);
      assert.ok(d < 1e-6, `${n}: gradient differs by ${d}`);
    }
    for (const g of [all, part]) {
      g.loss.dispose();
      for (const t of [...Object.values(g.theta), ...Object.values(g.alpha)]) t.dispose();
    }
    learner.metaStep(batch);
    batch.dispose();
    const moved = (n: string) => learner.params[n].dataSync().some((x, i) => x !== before[n][i]);
    for (const n of opts.frozen!) assert.ok(!moved(n), `${n} stays`);
    for (const n of ['W0', 'b0', 'W2', 'z']) assert.ok(moved(n), `${n} is meta-trained`);
    learner.dispose();
    disposeParams(init.params);
    disposeParams(init.stepSizes);
  });

  it("'matched' keypoint step sizes: per hidden unit Σ_d α_obj[d, j]·E[o_d²] / Σ_i E[k_i²], the same in every keypoint row", () => {
    const state = createPolicy({ ...defaultMlpConfig(6, 3), hidden: [4, 4] });
    const vision = createPolicy({ ...defaultVisionConfig(3, SMALL), hidden: [4, 4] });
    const s = state.init(1);
    const v = vision.init(2);
    // α_obj rows (3..5 of W0) = [[1, 2, 3, 4], [0, 1, 0, 1], [2, 0, 0, 0]]
    const a0 = s.stepSizes.W0.arraySync() as number[][];
    a0[3] = [1, 2, 3, 4];
    a0[4] = [0, 1, 0, 1];
    a0[5] = [2, 0, 0, 0];
    const alpha = { ...s.stepSizes, W0: tf.tensor2d(a0) };
    const trunk = Object.fromEntries(Object.entries(v.params).filter(([n]) => n.startsWith('conv') || n === 'softmaxTemp'));
    const fit = { trunk, readout: readout(Array.from({ length: 32 }, () => [0, 0, 0]), [0, 0, 0]), keypointPower: 2, targetPower: [0.5, 1, 0.25] };
    const composed = composeVisionPolicy({ policy: state, params: s.params, stepSizes: alpha }, vision, fit, { keypointStepSize: 'matched' });
    // unit 0: (0.5·1 + 1·0 + 0.25·2) / 2 = 0.5; unit 1: (1 + 1) / 2 = 1; unit 2: 1.5 / 2 = 0.75; unit 3: (2 + 1) / 2 = 1.5
    const k = composed.stepSizes.W0.arraySync() as number[][];
    for (let i = 0; i < 32; i++) k[i].forEach((x, j) => assert.ok(Math.abs(x - [0.5, 1, 0.75, 1.5][j]) < 1e-6, `row ${i} unit ${j}: ${x}`));
    assert.throws(() => composeVisionPolicy({ policy: state, params: s.params, stepSizes: alpha }, vision, { trunk, readout: fit.readout }, { keypointStepSize: 'matched' }), /keypointPower/);
    for (const p of [s.params, s.stepSizes, v.params, v.stepSizes, composed.params, composed.stepSizes]) disposeParams(p);
    alpha.W0.dispose();
  });

  it('fits the keypoints to an object position: a bright square on a dark image, validation RMSE well below the spread of the targets', () => {
    const vision = createPolicy(defaultVisionConfig(3, SMALL));
    const n = 600;
    const { height: H, width: Wd } = SMALL;
    const rng = new Rng(2);
    const trajs: Trajectory[] = [];
    const targets: number[] = [];
    for (let e = 0; e < n / 20; e++) {
      const len = 20;
      const images = new Uint8Array(len * H * Wd * 3);
      const states = new Float32Array(len * 6);
      for (let t = 0; t < len; t++) {
        const cx = 4 + Math.floor(rng.next() * (Wd - 8));
        const cy = 4 + Math.floor(rng.next() * (H - 8));
        for (let y = cy - 2; y <= cy + 2; y++) for (let x = cx - 2; x <= cx + 2; x++) for (let c = 0; c < 3; c++) images[((t * H + y) * Wd + x) * 3 + c] = 255;
        // object xyz: the square's position in metres (a 32 x 24 cm table), z fixed
        states.set([0, 0, 0, cx * 0.01, cy * 0.01, 0.05], t * 6);
        targets.push(cx * 0.01, cy * 0.01);
      }
      trajs.push({
        task: { kind: 'door', targetRad: 0 }, context: new Float64Array(1), length: len, stateDim: 6, actionDim: 3, states,
        hands: new Float32Array(len * 3), images, imageShape: { height: H, width: Wd }, actions: new Float32Array(len * 3),
        rewards: new Float64Array(len), envInfos: {}, agentInfos: {}, finalState: new Float32Array(6), finalHand: new Float32Array(3), terminated: true,
      });
    }
    const data: PoseData = poseDataOf(trajs);
    assert.equal(data.n, n);
    assert.equal(data.targetDim, 3);
    assert.deepEqual([...data.targets.subarray(0, 3)].map((x) => Math.round(x * 100)), [Math.round(targets[0] * 100), Math.round(targets[1] * 100), 5]);
    const init = vision.init(1);
    const fit = fitKeypoints(vision, init.params, data, { steps: 400, batchSize: 32, lr: 3e-3, seed: 1 });
    // Spread of the targets: x uniform over 24 cells of 1 cm, y over 16 (z constant) → RMS per coordinate ≈ 4.1 cm.
    const xs = targets.filter((_, i) => i % 2 === 0);
    const ys = targets.filter((_, i) => i % 2 === 1);
    const sd = (a: number[]) => Math.sqrt(a.reduce((s, x) => s + (x - a.reduce((p, q) => p + q, 0) / a.length) ** 2, 0) / a.length);
    const spread = Math.sqrt((sd(xs) ** 2 + sd(ys) ** 2) / 3);
    assert.ok(fit.valRmse < 0.35 * spread, `validation RMSE ${(fit.valRmse * 100).toFixed(2)} cm vs spread ${(spread * 100).toFixed(2)} cm`);
    assert.ok(fit.curve[0].valRmse > fit.valRmse, 'the validation error falls during the fit');
    assert.deepEqual(fit.readout.W.shape, [32, 3]);
    assert.ok(Math.abs(fit.targetPower[2] - 0.05 ** 2) < 1e-6, `E[z²] ${fit.targetPower[2]}`);
    assert.ok(fit.keypointPower > 0 && fit.keypointPower <= 32, `Σ E[k²] ${fit.keypointPower} (coordinates in [-1, 1])`);
    disposeParams(init.params);
    disposeParams(init.stepSizes);
    disposeParams(fit.trunk);
    fit.readout.W.dispose();
    fit.readout.b.dispose();
  });

  it('gmps vision-init makes a vision checkpoint from the shipped door-state one that adapts and records where it came from', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-vinit-'));
    try {
      const out = path.join(dir, 'door-vision');
      const res = await run('node', ['--import', 'tsx', 'src/cli/main.ts', 'vision-init', '--from', 'checkpoints/door-state', '--out', out,
        '--tasks', '1', '--rollouts', '2', '--fit-steps', '4', '--batch', '16', '--readout', '--workers', '0', '--envs', '4', '--backend', 'wasm', '--json']);
      const summary = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
      assert.equal(summary.poseRows, 600, 'pre-update, adapted and expert rollouts: 3 x 2 x 100 frames');
      assert.equal(summary.fit.curve.at(-1).step, 4);
      const json = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8'));
      const c = json.gmps.extra.trainState.config;
      assert.equal(c.obsMode, 'vision');
      assert.equal(c.policy.kind, 'vision');
      assert.deepEqual(c.envOptions, { dense: true, camera: { height: 48, width: 64 } });
      assert.equal(c.visionInit.from, 'checkpoints/door-state');
      assert.equal(c.visionInit.poseRows, 600);
      assert.equal(c.visionInit.keypointStepSize, 'exact');
      assert.equal(c.policy.vision.readout, 3, 'the keypoint read-out to the handle position stays in the policy');
      assert.ok(existsSync(path.join(out, 'curve.svg')), 'the meta-training curve of the head (the state run) is written next to it');
      const ck = await loadCheckpoint(out);
      const from = await loadCheckpoint('checkpoints/door-state');
      try {
        assert.equal(ck.policy.config.kind, 'vision');
        // The head is the state head with W0's rows reordered [hand, handle, z] → [handle, hand, z]; α likewise.
        const order = [3, 4, 5, 0, 1, 2, 6, 7, 8, 9];
        for (const [mine, theirs] of [[ck.params, from.params], [ck.stepSizes, from.stepSizes]]) {
          const a = mine.W0.arraySync() as number[][];
          const b = theirs.W0.arraySync() as number[][];
          order.forEach((r, i) => assert.deepEqual(a[i], b[r], `W0 row ${i}`));
          for (const name of ['W1', 'b1', 'W2', 'b2', 'b0', 'z']) assert.deepEqual(mine[name].arraySync(), theirs[name].arraySync(), name);
        }
        assert.deepEqual(ck.state.tasks, from.state.tasks, 'the state run\'s training tasks carry over');
      } finally {
        for (const k of [ck, from]) {
          disposeParams(k.params);
          disposeParams(k.stepSizes);
        }
      }
      const adapt = await run('node', ['--import', 'tsx', 'src/cli/main.ts', 'adapt', '--checkpoint', out, '--task', 'door', '--target-deg', '30',
        '--steps', '1', '--rollouts', '2', '--workers', '0', '--backend', 'wasm', '--json']);
      const r = JSON.parse(adapt.stdout.trim().split('\n').at(-1)!);
      assert.equal(r.steps.length, 2);
      assert.ok(r.steps.every((s: { return: number }) => Number.isFinite(s.return)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
