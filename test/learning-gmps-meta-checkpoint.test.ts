import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { CheckpointError, saveCheckpoint as saveModelCheckpoint } from '../src/learning/checkpoint.js';
import { alphaKey, GmpsLearner } from '../src/learning/gmps.js';
import {
  defaultMetaTrainConfig,
  loadCheckpoint,
  readTrainConfig,
  saveCheckpoint,
  type LoadedCheckpoint,
  type TrainState,
} from '../src/learning/meta-train.js';
import { createPolicy, DEFAULT_VISION, defaultVisionConfig, disposeParams, stepSizeShapes, type GmpsPolicy } from '../src/learning/policy/index.js';
import { loadInferencePolicy } from '../src/learning/policy-runner.js';
import type { TaskDemos } from '../src/learning/types.js';

const SHIPPED = path.resolve('checkpoints');

/** A small vision policy with a restored Adam state (step 7, distinct slot values). */
function visionLearner(): GmpsLearner {
  const policy = createPolicy(defaultVisionConfig(3, { ...DEFAULT_VISION, height: 6, width: 8, filters: [2, 2, 2] }));
  const init = policy.init(5);
  const learner = new GmpsLearner(policy, init, { adam: { lr: 2e-3 } });
  disposeParams(init.params);
  disposeParams(init.stepSizes);
  const slots: Record<string, tf.Tensor> = {};
  let k = 1;
  const shapes = [...policy.shapes, ...stepSizeShapes(policy).map(([n, s]) => [alphaKey(n), s] as const)];
  for (const [name, shape] of shapes) {
    for (const mv of ['m', 'v']) {
      const n = shape.reduce((a, b) => a * b, 1);
      slots[`${mv}/${name}`] = tf.tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(k * 1000 + i) * 1e-2), [...shape]);
      k++;
    }
  }
  learner.adam.restore(7, slots);
  Object.values(slots).forEach((t) => t.dispose());
  return learner;
}

function trainState(policy: GmpsPolicy, iteration: number): TrainState {
  const config = { ...defaultMetaTrainConfig('door', { obsDim: policy.config.obsDim, actDim: 3 }), obsMode: 'vision' as const, policy: policy.config };
  config.envOptions = { camera: { height: 6, width: 8 } };
  const train = { preReturn: -3.5, postReturn: -2.25, preSuccess: 0, postSuccess: 0.5 };
  return {
    config,
    iteration,
    envSamples: 1234,
    expertSamples: 200,
    expertReturn: -1.5,
    expertSuccess: 1,
    tasks: [{ kind: 'door', targetRad: 0.3 }, { kind: 'door', targetRad: 0.7 }, { kind: 'door', targetRad: 0.1 }],
    heldOut: [{ kind: 'door', targetRad: 0.5 }],
    iterations: [{ iteration: 0, envSamples: 1000, lossFirst: 1.5, lossLast: 1.25, preReturn: -3.5, meanStepSize: 0.5, demoRows: 6 }],
    curve: [{ iteration: 0, envSamples: 1000, train, heldOut: train }],
  };
}

/** Task 0: camera rows (image bytes / 255 + hand xyz); task 1: a row that is not image bytes; task 2: empty. */
function visionDemos(obsDim: number): TaskDemos[] {
  const rows = 5;
  const images = new Float32Array(rows * obsDim);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < obsDim - 3; k++) images[r * obsDim + k] = ((r * 31 + k * 13) % 256) / 255;
    images.set([0.5 + r, -0.25, 0.125 * r], r * obsDim + obsDim - 3);
  }
  const odd = images.slice(0, obsDim).map((v, k) => (k === 5 ? 0.123456 : v));
  return [
    { obs: images, actions: Float32Array.from({ length: rows * 3 }, (_, i) => ((i % 5) - 2) / 2) },
    { obs: odd, actions: Float32Array.of(0.1, -0.2, 0.3) },
    { obs: new Float32Array(0), actions: new Float32Array(0) },
  ];
}

const values = (m: Record<string, tf.Tensor>): Record<string, number[]> =>
  Object.fromEntries(Object.entries(m).map(([k, t]) => [k, Array.from(t.dataSync())]));

function disposeLoaded(ck: LoadedCheckpoint): void {
  disposeParams(ck.params);
  disposeParams(ck.stepSizes);
  Object.values(ck.adamSlots).forEach((t) => t.dispose());
}

function assertSameLearner(ck: LoadedCheckpoint, learner: GmpsLearner): void {
  assert.deepEqual(values(ck.params), values(learner.params), 'θ');
  assert.deepEqual(values(ck.stepSizes), values(learner.stepSizes), 'α');
  assert.deepEqual(values(ck.adamSlots), values(learner.adam.slots()), 'Adam slots');
  assert.equal(ck.adamStep, learner.adam.step);
}

/** The layout `gmps meta-train` wrote before model.json: checkpoint.json + weights-<iteration>.bin, D* under demos/. */
async function writeLegacyCheckpoint(dir: string, state: TrainState, learner: GmpsLearner, demos: TaskDemos[]): Promise<void> {
  const named: tf.NamedTensorMap = {};
  for (const [n, v] of Object.entries(learner.params)) named[`theta/${n}`] = v;
  for (const [n, v] of Object.entries(learner.stepSizes)) named[`alpha/${n}`] = v;
  for (const [n, v] of Object.entries(learner.adam.slots())) named[`adam/${n}`] = v;
  const o = state.config.policy.obsDim;
  const px = o - 3;
  const owned: tf.Tensor[] = [];
  // Task 0 as uint8 images + float hands (as the old writer stored camera rows), the others as float rows.
  const m0 = demos[0].actions.length / 3;
  const bytes = new Uint8Array(m0 * px);
  const hands = new Float32Array(m0 * 3);
  for (let r = 0; r < m0; r++) {
    for (let k = 0; k < px; k++) bytes[r * px + k] = Math.round(demos[0].obs[r * o + k] * 255);
    hands.set(demos[0].obs.subarray(r * o + px, (r + 1) * o), r * 3);
  }
  owned.push((named['demos/0/hands'] = tf.tensor2d(hands, [m0, 3])));
  demos.forEach((d, i) => {
    const m = d.actions.length / 3;
    if (i > 0) owned.push((named[`demos/${i}/obs`] = tf.tensor2d(d.obs, [m, o])));
    owned.push((named[`demos/${i}/actions`] = tf.tensor2d(d.actions, [m, 3])));
  });
  const { data, specs } = await tf.io.encodeWeights(named);
  owned.forEach((t) => t.dispose());
  specs.push({ name: 'demos/0/images', shape: [m0, px], dtype: 'float32', quantization: { dtype: 'uint8', scale: 1 / 255, min: 0 } });
  const weightsFile = `weights-${String(state.iteration).padStart(5, '0')}.bin`;
  await writeFile(path.join(dir, weightsFile), Buffer.concat([new Uint8Array(data), bytes]));
  const json = { format: 'gmps-meta-checkpoint/1', state, adamStep: learner.adam.step, numDemoTasks: demos.length, weightsManifest: [{ paths: [weightsFile], weights: specs }] };
  await writeFile(path.join(dir, 'checkpoint.json'), `${JSON.stringify(json, null, 1)}\n`);
}

describe('meta-training checkpoints: model.json with the training state and D*', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-meta-ck-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('round-trips the TrainState, θ, α, Adam slots and D* (vision images as uint8, exactly) in one checksummed weights file', async () => {
    const learner = visionLearner();
    const state = trainState(learner.policy, 4);
    const demos = visionDemos(learner.policy.config.obsDim);
    try {
      await saveCheckpoint(dir, state, learner, demos);
      const files = (await readdir(dir)).sort();
      assert.equal(files.length, 2, files.join(', '));
      assert.equal(files[0], 'model.json');
      assert.match(files[1], /^weights-[0-9a-f]{16}\.bin$/);

      const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      assert.equal(json.format, 'gmps-checkpoint');
      assert.match(json.weightsSha256, /^[0-9a-f]{64}$/);
      assert.equal(json.gmps.iteration, 4);
      assert.equal(json.gmps.adam.step, 7);
      assert.equal(json.gmps.adam.options.lr, 2e-3);
      assert.equal(json.gmps.extra.task, 'door');
      assert.equal(json.gmps.extra.numDemoTasks, 3);
      assert.deepEqual(json.gmps.extra.trainState, JSON.parse(JSON.stringify(state)));
      const specs: tf.io.WeightsManifestEntry[] = json.weightsManifest[0].weights;
      const byName = new Map(specs.map((w) => [w.name, w]));
      assert.deepEqual(byName.get('extra/demos/0/images')?.quantization, { dtype: 'uint8', scale: 1 / 255, min: 0 });
      assert.ok(byName.has('extra/demos/0/hands') && !byName.has('extra/demos/0/obs'));
      assert.ok(byName.has('extra/demos/1/obs') && !byName.has('extra/demos/1/images'), 'rows that are not image bytes stay float32');
      assert.deepEqual(byName.get('extra/demos/2/actions')?.shape, [0, 3]);
      const expectedBytes = specs.reduce((s, w) => s + (w.quantization ? 1 : 4) * w.shape.reduce((a, b) => a * b, 1), 0);
      assert.equal((await stat(path.join(dir, files[1]))).size, expectedBytes, 'one byte per image value');

      const back = await loadCheckpoint(dir);
      try {
        assert.deepEqual(back.state, JSON.parse(JSON.stringify(state)));
        assertSameLearner(back, learner);
        assert.equal(back.demos.length, 3);
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(back.demos[i].obs, demos[i].obs, `D* obs of task ${i}`);
          assert.deepEqual(back.demos[i].actions, demos[i].actions, `D* actions of task ${i}`);
        }
      } finally {
        disposeLoaded(back);
      }
      assert.equal((await readTrainConfig(path.join(dir, 'model.json'))).obsMode, 'vision');
      const inf = await loadInferencePolicy(dir, { log: () => {} });
      assert.deepEqual([inf.obsMode, inf.task, inf.file], ['vision', 'door', path.join(dir, 'model.json')]);
      inf.dispose();
    } finally {
      learner.dispose();
    }
  });

  it('a flipped byte, a truncated file or a foreign weight is a CheckpointError naming the file', async () => {
    const learner = visionLearner();
    await saveCheckpoint(dir, trainState(learner.policy, 1), learner, visionDemos(learner.policy.config.obsDim));
    const modelPath = path.join(dir, 'model.json');
    const bin = path.join(dir, (await readdir(dir)).find((f) => f.endsWith('.bin'))!);
    const good = await readFile(bin);
    const goodJson = await readFile(modelPath, 'utf8');

    const flipped = Buffer.from(good);
    flipped[flipped.length - 20] ^= 0x01; // inside the uint8 images
    await writeFile(bin, flipped);
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(bin) && /corrupt: its SHA-256 does not match/.test(e.message));

    await writeFile(bin, good.subarray(0, good.length - 3));
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(bin) && /truncated/.test(e.message));

    await writeFile(bin, good);
    await writeFile(modelPath, goodJson.slice(0, goodJson.length / 2));
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(modelPath) && /not valid JSON/.test(e.message));
    await assert.rejects(readTrainConfig(dir), (e: Error) => e instanceof CheckpointError && /not valid JSON/.test(e.message));

    const foreign = JSON.parse(goodJson);
    foreign.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'extra/demos/1/obs').name = 'extra/notes';
    await writeFile(modelPath, JSON.stringify(foreign));
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /unexpected weight 'extra\/notes'/.test(e.message));

    const lost = JSON.parse(goodJson);
    lost.weightsManifest[0].weights.find((w: { name: string }) => w.name === 'extra/demos/0/hands').name = 'extra/demos/9/hands';
    await writeFile(modelPath, JSON.stringify(lost));
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /unexpected weight 'extra\/demos\/9\/hands'/.test(e.message));

    // A plain learner checkpoint (no training state) serves inference but not adapt/eval/resume.
    await rm(dir, { recursive: true });
    await saveModelCheckpoint(dir, learner, { seed: 1, iteration: 0, extra: { task: 'door' } });
    learner.dispose();
    await assert.rejects(loadCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(modelPath) && /holds no meta-training state/.test(e.message));
    await assert.rejects(readTrainConfig(dir), /holds no meta-training state/);
    await assert.rejects(loadCheckpoint(path.join(dir, 'nowhere')), (e: Error) => e instanceof CheckpointError && /no GMPS checkpoint at .*nowhere/.test(e.message));
  });

  it('reads a checkpoint.json of the earlier layout; model.json wins over it; a save replaces it', async () => {
    const learner = visionLearner();
    const demos = visionDemos(learner.policy.config.obsDim);
    try {
      await writeLegacyCheckpoint(dir, trainState(learner.policy, 3), learner, demos);
      const legacy = await loadCheckpoint(dir);
      try {
        assert.equal(legacy.state.iteration, 3);
        assertSameLearner(legacy, learner);
        for (let i = 0; i < 3; i++) assert.deepEqual([legacy.demos[i].obs, legacy.demos[i].actions], [demos[i].obs, demos[i].actions], `D* of task ${i}`);
      } finally {
        disposeLoaded(legacy);
      }
      const inf = await loadInferencePolicy(path.join(dir, 'checkpoint.json'), { log: () => {} });
      assert.deepEqual([inf.obsMode, inf.task], ['vision', 'door']);
      inf.dispose();
      assert.equal((await readTrainConfig(dir)).task, 'door');

      const legacyJson = await readFile(path.join(dir, 'checkpoint.json'));
      await saveCheckpoint(dir, trainState(learner.policy, 4), learner, demos);
      const files = (await readdir(dir)).sort();
      assert.equal(files.length, 2, `the stale checkpoint.json and its weights are gone: ${files.join(', ')}`);
      assert.equal(files[0], 'model.json');

      // Both present (a checkpoint.json put back next to model.json): model.json wins.
      await writeFile(path.join(dir, 'checkpoint.json'), legacyJson);
      const both = await loadCheckpoint(dir);
      assert.equal(both.state.iteration, 4);
      disposeLoaded(both);

      // A corrupt legacy file is a clear error too.
      await writeFile(path.join(dir, 'checkpoint.json'), legacyJson.subarray(0, 100));
      await assert.rejects(loadCheckpoint(path.join(dir, 'checkpoint.json')), (e: Error) => e instanceof CheckpointError && /checkpoint\.json: not valid JSON/.test(e.message));
    } finally {
      learner.dispose();
    }
  });

  it('every shipped checkpoint loads with its checksum checked, for the task and policy kind it is documented as, exported without D* and Adam state', async () => {
    const expected: Record<string, { task: string; kind: string; obsMode: string; observeAngle?: boolean }> = {
      'door-state': { task: 'door', kind: 'mlp', obsMode: 'state' },
      'door-state-angle': { task: 'door', kind: 'mlp', obsMode: 'state', observeAngle: true },
      'push-state': { task: 'push', kind: 'mlp', obsMode: 'state' },
      'door-vision': { task: 'door', kind: 'vision', obsMode: 'vision' },
      'push-vision': { task: 'push', kind: 'vision', obsMode: 'vision' },
    };
    const shipped = (await readdir(SHIPPED, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    assert.ok(shipped.includes('door-state') && shipped.includes('push-state'), `shipped: ${shipped}`);
    for (const name of shipped) {
      const want = expected[name];
      assert.ok(want, `checkpoints/${name} is not documented here`);
      const dir = path.join(SHIPPED, name);
      const ck = await loadCheckpoint(dir);
      try {
        assert.equal(ck.state.config.task, want.task, name);
        assert.equal(ck.policy.config.kind, want.kind, name);
        assert.equal(ck.state.config.obsMode, want.obsMode, name);
        // the door angle as an input: the envs that run it must observe it, and the policy takes 7 values
        assert.equal(ck.state.config.envOptions.observeAngle === true, !!want.observeAngle, `${name}: env option observeAngle`);
        if (want.obsMode === 'state') assert.equal(ck.policy.config.obsDim, want.observeAngle ? 7 : 6, name);
        assert.equal(ck.demos.length, 0, `${name}: exported without D*`);
        assert.equal(Object.keys(ck.adamSlots).length, 0, `${name}: exported without the Adam state`);
        assert.ok(ck.state.curve.length > 0 && ck.state.iteration > 0, `${name}: carries its learning curve`);
      } finally {
        disposeLoaded(ck);
      }
      const inf = await loadInferencePolicy(dir);
      assert.equal(inf.task, want.task);
      inf.dispose();
      const model = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
      assert.match(model.weightsSha256, /^[0-9a-f]{64}$/);
      assert.match(model.gmps.codeVersion.package, /^sawyer-gmps@/, 'the code version that wrote it');
    }
  });
});
