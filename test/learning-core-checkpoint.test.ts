import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../src/learning/backend.js';
import { CheckpointError, loadLearner, readCheckpoint, saveCheckpoint } from '../src/learning/checkpoint.js';
import { GmpsLearner, prepareBatch } from '../src/learning/gmps.js';
import { createPolicy, defaultMlpConfig, type PolicyConfig } from '../src/learning/policy/index.js';
import type { TaskBatch } from '../src/learning/types.js';
import { rnd } from './helpers/random.js';

const cfg: PolicyConfig = { ...defaultMlpConfig(3, 2), hidden: [5], latentDim: 2 };

function tasks(): TaskBatch[] {
  return [0, 1].map((i) => ({
    samples: { obs: rnd(18, i + 1), actions: rnd(12, i + 2), advantages: rnd(6, i + 3), oldMean: rnd(12, i + 4), oldLogStd: new Float32Array(2) },
    demos: { obs: rnd(12, i + 5), actions: rnd(8, i + 6) },
  }));
}

function snapshot(l: GmpsLearner): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [k, v] of Object.entries(l.params)) out[`theta/${k}`] = Array.from(v.dataSync());
  for (const [k, v] of Object.entries(l.stepSizes)) out[`alpha/${k}`] = Array.from(v.dataSync());
  for (const [k, v] of Object.entries(l.adam.slots())) out[`adam/${k}`] = Array.from(v.dataSync());
  return out;
}

describe('learning core: checkpoints', function () {
  let dir: string;
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gmps-ck-'));
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function trainedLearner(): Promise<GmpsLearner> {
    const policy = createPolicy(cfg);
    const learner = new GmpsLearner(policy, policy.init(3));
    const b = prepareBatch(policy, tasks());
    learner.metaStep(b);
    learner.metaStep(b);
    b.dispose();
    return learner;
  }

  it('round-trips θ, α, Adam slots and metadata, and resumes meta-training exactly', async () => {
    const a = await trainedLearner();
    const modelPath = await saveCheckpoint(dir, a, { seed: 3, iteration: 2, extra: { tasks: 2 } });
    const files = (await fs.readdir(dir)).sort();
    assert.equal(files.length, 2);
    assert.equal(files[0], 'model.json');
    assert.match(files[1], /^weights-[0-9a-f]{16}\.bin$/);
    const json = JSON.parse(await fs.readFile(modelPath, 'utf8'));
    assert.equal(json.weightsManifest[0].paths[0], files[1]);
    assert.ok(json.weightsManifest[0].weights.some((w: { name: string }) => w.name === 'adam/m/alpha/W0'));
    assert.deepEqual(json.gmps.policy, cfg);
    assert.equal(json.gmps.seed, 3);
    assert.equal(json.gmps.iteration, 2);
    assert.equal(json.gmps.adam.step, 2);
    assert.match(json.gmps.codeVersion.package, /@\d+\.\d+\.\d+/);

    const { learner: b, meta } = await loadLearner(dir);
    assert.deepEqual(meta.extra, { tasks: 2 });
    assert.deepEqual(snapshot(b), snapshot(a));
    assert.equal(b.adam.step, 2);
    // One more step on both: identical (the optimiser state came back, not just θ).
    const batch = prepareBatch(a.policy, tasks());
    const la = a.metaStep(batch);
    const lb = b.metaStep(batch);
    assert.equal(lb, la);
    assert.deepEqual(snapshot(b), snapshot(a));
    batch.dispose();
    a.dispose();
    b.dispose();
  });

  it('a second save replaces the first atomically and leaves no stale or temporary files', async () => {
    const a = await trainedLearner();
    await saveCheckpoint(dir, a, { seed: 3, iteration: 2 });
    const first = (await fs.readdir(dir)).find((f) => f.endsWith('.bin'));
    const b = prepareBatch(a.policy, tasks());
    a.metaStep(b);
    b.dispose();
    await saveCheckpoint(dir, a, { seed: 3, iteration: 3 });
    const files = await fs.readdir(dir);
    assert.equal(files.length, 2, files.join(', '));
    assert.ok(!files.includes(first!));
    const ck = await readCheckpoint(dir);
    assert.equal(ck.meta.iteration, 3);
    ck.dispose();
    a.dispose();
  });

  it('stores extra float32 and uint8-quantized weights in the checksummed weights file and returns them', async () => {
    const a = await trainedLearner();
    const table = tf.tensor2d([[1.5, -2], [0.25, 8]]);
    const bytes = Uint8Array.from({ length: 12 }, (_, i) => (i * 23) % 256);
    const modelPath = await saveCheckpoint(dir, a, {
      seed: 1,
      iteration: 2,
      extraWeights: { 'notes/table': table, 'notes/image': { shape: [3, 4], bytes, scale: 1 / 255, min: 0 } },
    });
    table.dispose();
    const json = JSON.parse(await fs.readFile(modelPath, 'utf8'));
    const specs: tf.io.WeightsManifestEntry[] = json.weightsManifest[0].weights;
    assert.deepEqual(specs.find((w) => w.name === 'extra/notes/image')?.quantization, { dtype: 'uint8', scale: 1 / 255, min: 0 });
    const bin = path.join(dir, json.weightsManifest[0].paths[0]);
    const floats = specs.filter((w) => !w.quantization).reduce((s, w) => s + w.shape.reduce((x, y) => x * y, 1), 0);
    assert.equal((await fs.stat(bin)).size, 4 * floats + 12, 'a uint8-quantized element takes one byte');

    const ck = await readCheckpoint(dir);
    assert.deepEqual(Object.keys(ck.extraWeights).sort(), ['notes/image', 'notes/table']);
    assert.deepEqual(Array.from(ck.extraWeights['notes/table'].dataSync()), [1.5, -2, 0.25, 8]);
    assert.deepEqual(ck.extraWeights['notes/image'].shape, [3, 4]);
    assert.deepEqual(ck.extraWeights['notes/image'].dataSync(), Float32Array.from(bytes, (b) => b / 255));
    assert.deepEqual(snapshot(a), Object.fromEntries([
      ...Object.entries(ck.params).map(([k, t]) => [`theta/${k}`, Array.from(t.dataSync())]),
      ...Object.entries(ck.stepSizes).map(([k, t]) => [`alpha/${k}`, Array.from(t.dataSync())]),
      ...Object.entries(ck.adamSlots).map(([k, t]) => [`adam/${k}`, Array.from(t.dataSync())]),
    ]));
    ck.dispose();
    a.dispose();

    const good = await fs.readFile(bin);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 1] ^= 0x80; // the last image byte
    await fs.writeFile(bin, flipped);
    await assert.rejects(readCheckpoint(dir), (e: Error) => e instanceof CheckpointError && /corrupt/.test(e.message));
    await fs.writeFile(bin, good);

    const goodJson = JSON.parse(await fs.readFile(modelPath, 'utf8'));
    const rewrite = async (edit: (w: tf.io.WeightsManifestEntry[]) => void) => {
      const j = structuredClone(goodJson);
      edit(j.weightsManifest[0].weights);
      await fs.writeFile(modelPath, JSON.stringify(j));
    };
    await rewrite((ws) => (ws.find((w) => w.name === 'extra/notes/table')!.name = 'notes/table'));
    await assert.rejects(readCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(modelPath) && /unexpected weight 'notes\/table'/.test(e.message));
    await rewrite((ws) => (ws.find((w) => w.name === 'extra/notes/image')!.quantization = { dtype: 'uint16', scale: 1, min: 0 }));
    await assert.rejects(readCheckpoint(dir), /quantized to uint16; only uint8 quantization is supported/);
    await rewrite((ws) => {
      const [image] = ws.splice(ws.findIndex((w) => w.name === 'extra/notes/image'), 1);
      ws.unshift({ ...image, name: 'theta/W0', shape: [12] });
    });
    await assert.rejects(readCheckpoint(dir), /'theta\/W0' is quantized; θ, step sizes and Adam slots must be float32/);
  });

  it('a corrupt, truncated or mismatched checkpoint is a clear error naming the file', async () => {
    const a = await trainedLearner();
    const modelPath = await saveCheckpoint(dir, a, { seed: 0, iteration: 1 });
    a.dispose();
    const bin = path.join(dir, (await fs.readdir(dir)).find((f) => f.endsWith('.bin'))!);
    const good = await fs.readFile(bin);
    const goodJson = await fs.readFile(modelPath, 'utf8');

    const flipped = Buffer.from(good);
    flipped[10] ^= 0xff;
    await fs.writeFile(bin, flipped);
    await assert.rejects(readCheckpoint(dir), (e: Error) => e instanceof CheckpointError && e.message.includes(bin) && /corrupt/.test(e.message));

    await fs.writeFile(bin, good.subarray(0, good.length - 7));
    await assert.rejects(readCheckpoint(dir), (e: Error) => e.message.includes(bin) && /truncated/.test(e.message));

    await fs.writeFile(bin, good);
    await fs.writeFile(modelPath, goodJson.slice(0, goodJson.length / 2));
    await assert.rejects(readCheckpoint(dir), (e: Error) => e.message.includes(modelPath) && /not valid JSON/.test(e.message));

    const wrongShape = JSON.parse(goodJson);
    wrongShape.gmps.policy.hidden = [6];
    await fs.writeFile(modelPath, JSON.stringify(wrongShape));
    await assert.rejects(readCheckpoint(dir), (e: Error) => e.message.includes(modelPath) && /'W0' has shape \[5, 5\], expected \[5, 6\]/.test(e.message));

    const wrongDtype = JSON.parse(goodJson);
    wrongDtype.weightsManifest[0].weights[0].dtype = 'int32';
    await fs.writeFile(modelPath, JSON.stringify(wrongDtype));
    await assert.rejects(readCheckpoint(dir), /only float32 is supported/);

    await fs.rm(bin);
    await fs.writeFile(modelPath, goodJson);
    await assert.rejects(readCheckpoint(dir), (e: Error) => e.message.includes(bin) && /ENOENT/.test(e.message));
    await assert.rejects(readCheckpoint(path.join(dir, 'nowhere')), /cannot read the checkpoint manifest/);
  });
});
