import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { adaptToTask } from '../src/learning/adapt.js';
import { initBackend } from '../src/learning/backend.js';
import { GmpsLearner } from '../src/learning/gmps.js';
import { loadCheckpoint, saveCheckpoint, defaultMetaTrainConfig, type TrainState } from '../src/learning/meta-train.js';
import { createPolicy, defaultVisionConfig, disposeParams } from '../src/learning/policy/index.js';
import { actOnce, loadInferencePolicy, visionRow } from '../src/learning/policy-runner.js';
import { createLocalSampler } from '../src/learning/sampler.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
// wasm: the conv policy is ~40x faster there than on the pure-JS cpu backend.
const COMMON = ['--workers', '0', '--backend', 'wasm', '--json'];
const DEG = Math.PI / 180;

describe('gmps meta-train --policy vision', function () {
  this.timeout(120_000);
  let dir: string;
  let ck: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-vision-'));
    ck = path.join(dir, 'door-vision');
    const mt = await run('node', [...CLI, 'meta-train', '--task', 'door', '--policy', 'vision', '--out', ck, '--tasks', '2', '--held-out', '1',
      '--rollouts', '2', '--demos', '1', '--iterations', '1', '--adam-steps', '2', '--eval-every', '0', '--envs', '4', ...COMMON]);
    const summary = JSON.parse(mt.stdout.trim());
    assert.equal(summary.iterations, 1);
    assert.equal(summary.policy, 'vision');
    assert.equal(summary.checkpoint, path.join(ck, 'model.json'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('saves a vision checkpoint: camera env options, obsMode vision, D* rows of 48x64 images + hand xyz', async () => {
    const json = JSON.parse(await readFile(path.join(ck, 'model.json'), 'utf8'));
    const c = json.gmps.extra.trainState.config;
    assert.equal(c.obsMode, 'vision');
    assert.equal(c.policy.kind, 'vision');
    assert.equal(c.policy.obsDim, 48 * 64 * 3 + 3);
    assert.deepEqual(c.envOptions.camera, { height: 48, width: 64 });
    await initBackend({ backend: 'wasm', log: null });
    const loaded = await loadCheckpoint(ck);
    try {
      assert.equal(loaded.demos.length, 2);
      const obsDim = 48 * 64 * 3 + 3;
      for (const d of loaded.demos) {
        const rows = d.actions.length / 3;
        assert.equal(rows, 100, 'one scripted-expert episode of the door horizon');
        assert.equal(d.obs.length, rows * obsDim);
        // image part: bytes / 255, rendered (not blank); last 3 columns: the hand, not an image value
        let lit = 0;
        for (let k = 0; k < obsDim - 3; k++) if (d.obs[k] > 0) lit++;
        assert.ok(lit > 1000, 'the first D* frame is a rendered image');
        const hand = d.obs.subarray(obsDim - 3, obsDim);
        assert.ok(Math.hypot(hand[0], hand[1], hand[2]) > 0.1, 'hand xyz follows the image');
      }
      assert.equal(loaded.state.iterations[0].demoRows, 200);
    } finally {
      disposeParams(loaded.params);
      disposeParams(loaded.stepSizes);
      for (const t of Object.values(loaded.adamSlots)) t.dispose();
    }
  });

  it('gmps adapt --json and gmps eval --json load it, create the camera env and adapt', async () => {
    const ad = await run('node', [...CLI, 'adapt', '--checkpoint', ck, '--task', 'door', '--target-deg', '30', '--steps', '1', '--rollouts', '2', '--envs', '2', ...COMMON]);
    const res = JSON.parse(ad.stdout.trim());
    assert.deepEqual(res.steps.map((s: { step: number }) => s.step), [0, 1]);
    for (const s of res.steps) assert.ok(Number.isFinite(s.return) && s.success >= 0 && s.success <= 1);
    assert.ok(Number.isFinite(res.expertReturn));
    const ev = await run('node', [...CLI, 'eval', '--checkpoint', ck, '--rollouts', '2', '--envs', '2', ...COMMON]);
    const e = JSON.parse(ev.stdout.trim());
    assert.equal(e.tasks, 1);
    for (const k of ['preReturn', 'postReturn', 'postSuccess', 'expertReturn']) assert.ok(Number.isFinite(e[k]), k);
  });

  it('--resume continues it from its own config (camera env, vision policy) without repeating --policy or --task', async () => {
    const copy = path.join(dir, 'resumed');
    await cp(ck, copy, { recursive: true });
    const res = await run('node', [...CLI, 'meta-train', '--out', copy, '--resume', '--iterations', '2', '--envs', '2', ...COMMON]);
    const summary = JSON.parse(res.stdout.trim());
    assert.equal(summary.iterations, 2);
    assert.equal(summary.policy, 'vision');
    const state = JSON.parse(await readFile(path.join(copy, 'model.json'), 'utf8')).gmps.extra.trainState;
    assert.equal(state.iteration, 2);
    assert.equal(state.config.obsMode, 'vision');
    await assert.rejects(run('node', [...CLI, 'meta-train', '--out', path.join(dir, 'nothing'), '--resume', ...COMMON]), (err: { stderr: string }) => /--resume: no GMPS checkpoint at/.test(err.stderr));
  });

  it("the policy node's loader accepts it and acts on a camera frame", async () => {
    const inf = await loadInferencePolicy(ck, { log: () => {} });
    try {
      assert.equal(inf.obsMode, 'vision');
      assert.equal(inf.task, 'door');
      assert.equal(inf.policy.config.kind, 'vision');
      const frame = { width: 64, height: 48, data: new Uint8Array(48 * 64 * 3).map((_, i) => (i * 7) % 256), encoding: 'rgb8' };
      const row = visionRow(inf.policy, frame, [0.6, 0.1, 0.3]);
      const a = actOnce(inf.policy, inf.params, row, { deterministic: true, seed: 0 });
      assert.equal(a.action.length, 3);
      assert.ok(Array.from(a.mean).every(Number.isFinite));
    } finally {
      inf.dispose();
    }
  });

  it('refuses to adapt a vision checkpoint with envs that render no images', async () => {
    await initBackend({ backend: 'wasm', log: null });
    const sampler = await createLocalSampler({ env: { kind: 'door', options: { seed: 0 } }, nEnvs: 2 });
    try {
      await assert.rejects(
        adaptToTask({ checkpoint: ck, sampler, task: { kind: 'door', targetRad: 30 * DEG }, steps: 1, rollouts: 2 }),
        /render images.*camera/,
      );
    } finally {
      await sampler.close();
    }
  });

  it('stores vision D* images as uint8 in the checkpoint and reads back the exact rows', async () => {
    await initBackend({ backend: 'wasm', log: null });
    const policy = createPolicy(defaultVisionConfig(3));
    const init = policy.init(3);
    const learner = new GmpsLearner(policy, init);
    disposeParams(init.params);
    disposeParams(init.stepSizes);
    const config = { ...defaultMetaTrainConfig('door', { obsDim: policy.config.obsDim, actDim: 3 }), obsMode: 'vision' as const, policy: policy.config };
    const state: TrainState = {
      config, iteration: 0, envSamples: 0, expertSamples: 0, expertReturn: 0, expertSuccess: 0,
      tasks: [{ kind: 'door', targetRad: 0.3 }], heldOut: [], iterations: [], curve: [],
    };
    const rows = 7;
    const obsDim = policy.config.obsDim;
    const imageRows = new Float32Array(rows * obsDim);
    for (let r = 0; r < rows; r++) {
      for (let k = 0; k < obsDim - 3; k++) imageRows[r * obsDim + k] = ((r * 31 + k * 13) % 256) / 255;
      imageRows.set([0.5 + r, -0.25, 0.125 * r], r * obsDim + obsDim - 3);
    }
    // A second task whose rows are not image bytes (e.g. hand-made) falls back to float32.
    const odd = imageRows.slice(0, obsDim).map((v, k) => (k === 5 ? 0.123456 : v));
    const demos = [
      { obs: imageRows, actions: Float32Array.from({ length: rows * 3 }, (_, i) => ((i % 5) - 2) / 2) },
      { obs: odd, actions: Float32Array.of(0.1, -0.2, 0.3) },
    ];
    const out = path.join(dir, 'quantized');
    try {
      await saveCheckpoint(out, state, learner, demos);
    } finally {
      learner.dispose();
    }
    const back = await loadCheckpoint(out);
    try {
      assert.deepEqual(back.demos[0].obs, demos[0].obs);
      assert.deepEqual(back.demos[0].actions, demos[0].actions);
      assert.deepEqual(back.demos[1].obs, demos[1].obs);
      const json = JSON.parse(await readFile(path.join(out, 'model.json'), 'utf8'));
      const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
      assert.ok(names.includes('extra/demos/0/images') && names.includes('extra/demos/0/hands') && !names.includes('extra/demos/0/obs'));
      assert.ok(names.includes('extra/demos/1/obs') && !names.includes('extra/demos/1/images'));
      const bin = await stat(path.join(out, json.weightsManifest[0].paths[0]));
      const thetaBytes = json.weightsManifest[0].weights
        .filter((w: { name: string }) => !w.name.startsWith('extra/demos/'))
        .reduce((s: number, w: { shape: number[] }) => s + 4 * w.shape.reduce((a, b) => a * b, 1), 0);
      assert.ok(bin.size - thetaBytes < 4 * rows * obsDim * 0.3 + 4 * obsDim + 1000, 'image bytes take one byte each');
    } finally {
      disposeParams(back.params);
      disposeParams(back.stepSizes);
      for (const t of Object.values(back.adamSlots)) t.dispose();
    }
  });
});
