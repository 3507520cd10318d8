import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/learning/backend.js';
import { runFigure } from '../src/learning/experiment/run.js';
import type { RunResult, RunSpec } from '../src/learning/experiment/types.js';
import { experimentCli } from './helpers/experiment-cli.js';
import { loadCheckpoint, disposeLoaded } from '../src/learning/meta-train.js';

/** A few seconds of GMPS on the 2-D point task; the run's checkpoint lands in its work directory. */
const task = { kind: 'point', envOptions: { horizon: 8 } };
const tiny = { numTasks: 3, numHeldOut: 2, iterations: 1, evalEvery: 1, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 2, hidden: [8] };

describe('baselines: GMPS runs from a meta-trained checkpoint (gmps experiment --gmps-checkpoint)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => initBackend({ backend: 'wasm', log: null }));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-harness-ck-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const read = async (fig: string, id: string, seed = 0): Promise<RunResult> => JSON.parse(await readFile(path.join(dir, fig, `${id}-seed${seed}.json`), 'utf8')) as RunResult;

  it("reproduces the meta-training run's own fine-tuning curve on the seed's held-out tasks, and gives one point at the checkpoint's samples for a samples figure", async () => {
    const fine = { ...tiny, curve: 'fineTune', adaptSteps: 2, adaptRollouts: 3 };
    const trained = await runFigure({ figure: 'figT', scale: 'small', runs: [{ id: 'gmps', algorithm: 'gmps', task, config: fine }], seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.equal(trained[0].status, 'ran', trained[0].error);
    const ckDir = path.join(dir, 'figT', 'work', 'gmps-seed0');

    const runs: RunSpec[] = [
      { id: 'from-ck', algorithm: 'gmps', task, config: { ...fine, checkpoint: ckDir } },
      { id: 'from-ck-point', algorithm: 'gmps', task, config: { ...tiny, checkpoint: ckDir } },
    ];
    const st = await runFigure({ figure: 'figC', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(st.map((s) => [s.id, s.status, s.error]), [['from-ck', 'ran', undefined], ['from-ck-point', 'ran', undefined]]);

    const own = (await read('figT', 'gmps')).curve;
    const again = (await read('figC', 'from-ck')).curve;
    assert.equal(again.xAxis, 'adaptSteps');
    assert.deepEqual(again.points, own.points, 'same θ, α, held-out tasks and sampling seeds: the same curve');
    const ck = await loadCheckpoint(ckDir);
    try {
      assert.equal(again.extra?.checkpointIteration, ck.state.iteration);
      assert.equal(again.extra?.metaTrainingSamples, ck.state.envSamples);
      // Same seed, same task counts: the held-out tasks are the checkpoint run's own, and that is reported.
      assert.equal(again.extra?.tasksAlsoHeldOutOfCheckpoint, 2);

      const point = (await read('figC', 'from-ck-point')).curve;
      assert.equal(point.xAxis, 'envSamples');
      assert.equal(point.points.length, 1);
      assert.equal(point.points[0].x, ck.state.envSamples);
      assert.ok(Number.isFinite(point.points[0].y) && point.points[0].y < 0, `point-task return ${point.points[0].y}`);
      assert.ok(point.points[0].success !== undefined);
    } finally {
      disposeLoaded(ck);
    }

    // Another seed adapts the same checkpoint to its own held-out tasks.
    const seed1 = await runFigure({ figure: 'figC', scale: 'small', runs: runs.slice(0, 1), seeds: 2, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(seed1.map((s) => s.status), ['skipped', 'ran']);
    assert.equal((await read('figC', 'from-ck', 1)).curve.extra?.tasksAlsoHeldOutOfCheckpoint, 0);
  });

  it('refuses a checkpoint of another task, a missing one, and the training-task curve, saying why', async () => {
    const trained = await runFigure({ figure: 'figT', scale: 'small', runs: [{ id: 'gmps', algorithm: 'gmps', task, config: tiny }], seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.equal(trained[0].status, 'ran', trained[0].error);
    const ckDir = path.join(dir, 'figT', 'work', 'gmps-seed0');
    const bad: RunSpec[] = [
      { id: 'push', algorithm: 'gmps', task: { kind: 'push', envOptions: {} }, config: { ...tiny, curve: 'fineTune', checkpoint: ckDir } },
      { id: 'missing', algorithm: 'gmps', task, config: { ...tiny, curve: 'fineTune', checkpoint: path.join(dir, 'nope') } },
      { id: 'train', algorithm: 'gmps', task, config: { ...tiny, curve: 'train', checkpoint: ckDir } },
    ];
    const st = await runFigure({ figure: 'figB', scale: 'small', runs: bad, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(st.map((s) => s.status), ['failed', 'failed', 'failed']);
    assert.match(st[0].error!, /meta-trained on 'point' tasks, this figure runs 'push'/);
    assert.match(st[1].error!, /nope/);
    assert.match(st[2].error!, /curve 'train'/);
  });

  it('adapts a vision checkpoint on camera frames (fig6-vision-push) and refuses a policy of the other observation mode or camera size', async () => {
    const visionPush = { kind: 'push', envOptions: { camera: { width: 64, height: 48 } } };
    const fine = { numTasks: 20, numHeldOut: 1, curve: 'fineTune', adaptSteps: 1, adaptRollouts: 2, obsMode: 'vision' };
    const runs: RunSpec[] = [
      { id: 'vision', algorithm: 'gmps', task: visionPush, config: { ...fine, checkpoint: 'checkpoints/push-vision' } },
      { id: 'state-ck', algorithm: 'gmps', task: visionPush, config: { ...fine, checkpoint: 'checkpoints/push-state' } },
      { id: 'camera', algorithm: 'gmps', task: { kind: 'push', envOptions: { camera: { width: 32, height: 24 } } }, config: { ...fine, checkpoint: 'checkpoints/push-vision' } },
      { id: 'vision-ck', algorithm: 'gmps', task: { kind: 'push', envOptions: {} }, config: { ...tiny, curve: 'fineTune', numTasks: 20, numHeldOut: 1, checkpoint: 'checkpoints/push-vision' } },
    ];
    const st = await runFigure({ figure: 'figV', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(st.map((s) => s.status), ['ran', 'failed', 'failed', 'failed'], JSON.stringify(st.map((s) => s.error)));
    const curve = (await read('figV', 'vision')).curve;
    assert.equal(curve.points.length, 2);
    assert.ok(curve.points.every((p) => Number.isFinite(p.y)));
    assert.ok(curve.points[1].y > curve.points[0].y, `the learned step adapts the camera policy: ${curve.points.map((p) => p.y).join(' → ')}`);
    const shipped = JSON.parse(await readFile('checkpoints/push-vision/model.json', 'utf8')) as { gmps: { iteration: number } };
    assert.equal(curve.extra?.checkpointIteration, shipped.gmps.iteration);
    assert.ok(shipped.gmps.iteration > 0);
    assert.match(st[1].error!, /holds a state policy; this figure's GMPS runs a vision policy/);
    assert.match(st[2].error!, /the envs render 24x32 images, the vision policy takes 48x64/);
    assert.match(st[3].error!, /holds a vision policy; this figure's GMPS runs a state policy/);
  });

  it('--gmps-checkpoint sets the checkpoint on the GMPS runs of the figure only', async () => {
    const printed = await experimentCli(['experiment', 'fig6-door', '--scale', 'medium', '--gmps-checkpoint', 'checkpoints/door-state', '--list', '--json']);
    const spec = JSON.parse(printed) as { runs: RunSpec[] };
    assert.ok(spec.runs.some((r) => r.algorithm === 'multitask-imitation'));
    for (const r of spec.runs) assert.equal(r.config.checkpoint, r.algorithm === 'gmps' ? 'checkpoints/door-state' : undefined, r.id);
    // The adaptation node's launch default (plain policy-gradient steps of 0.001 after the first) is one of the
    // figure's GMPS runs, and so is the scaled alternative.
    const launch = readFileSync('launch/adapt_door.launch.yaml', 'utf8');
    const size = Number(/name: later_step_size, default: "([^"]+)"/.exec(launch)?.[1]);
    assert.equal(spec.runs.find((r) => r.id === `gmps-then-pg${size}`)?.config.laterStepSize, size);
    assert.equal(spec.runs.find((r) => r.id === 'gmps-later0.25')?.config.laterStepScale, 0.25);
  });
});
