import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { adaptToTask, adaptToTasks } from '../src/learning/adapt.js';
import { initBackend } from '../src/learning/backend.js';
import { toAdaptBatch } from '../src/learning/advantages.js';
import { adaptStep } from '../src/learning/gmps.js';
import { BEST_DIR, defaultMetaTrainConfig, selectionScore, type CurvePoint, disposeLoaded, explainBackendAbort, loadCheckpoint, metaTrain, policyAct, taskChunks, type MetaTrainConfig } from '../src/learning/meta-train.js';
import { disposeParams } from '../src/learning/policy/index.js';
import { Rng } from '../src/learning/rng.js';
import { createLocalSampler, type Sampler } from '../src/learning/sampler.js';

const ENV = { horizon: 15, maxStep: 0.2 };

function pointConfig(over: Partial<MetaTrainConfig> = {}): MetaTrainConfig {
  const c = defaultMetaTrainConfig('point', { obsDim: 2, actDim: 2 });
  Object.assign(c, { envOptions: ENV, seed: 3, numTasks: 4, numHeldOut: 2, rolloutsPerTask: 6, demosPerTask: 1, iterations: 6, adamSteps: 20, lr: 3e-3, evalEvery: 2 }, over);
  c.policy = { ...c.policy, hidden: [16, 16] };
  return c;
}

describe('GMPS meta-training (point task)', function () {
  this.timeout(120_000);
  let dir: string;
  let sampler: Sampler;

  before(async () => {
    await initBackend({ backend: 'cpu', log: null });
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-mt-'));
    sampler = await createLocalSampler({ env: { kind: 'point', options: ENV }, nEnvs: 12 });
  });
  after(async () => {
    await sampler.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('raises the post-adaptation return over meta-iterations, and adapting to a held-out goal raises the return', async () => {
    const out = path.join(dir, 'rise');
    const res = await metaTrain({ config: pointConfig(), sampler, outDir: out });
    const post = res.state.curve.map((p) => p.train.postReturn);
    res.dispose();
    assert.equal(res.state.curve.length, 4); // iterations 0, 2, 4 and the final evaluation
    // every iteration logs how far its Adam steps moved θ from the sampling policy
    for (const log of res.state.iterations) {
      const w = log.importance!;
      assert.ok(w.essFractionMin > 0 && w.essFractionMin <= w.essFractionMedian && w.essFractionMedian <= 1 + 1e-6, JSON.stringify(w));
      assert.ok(w.minWeight < 1 && w.maxWeight > 1, `θ moved, so weights spread around 1: ${JSON.stringify(w)}`);
    }
    const first = post[0];
    const lastTwo = (post.at(-1)! + post.at(-2)!) / 2;
    assert.ok(lastTwo > first + 2, `post-update return should rise: ${post.map((x) => x.toFixed(2)).join(' → ')}`);
    assert.ok(res.state.curve.at(-1)!.train.postReturn > res.state.curve.at(-1)!.train.preReturn, 'adapted policies beat the meta-policy');
    assert.ok(res.state.envSamples > res.state.expertSamples && res.state.expertSamples === 4 * 15);

    const adapt = await adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, seed: 1 });
    assert.equal(adapt.steps.length, 3);
    assert.deepEqual(adapt.steps.map((s) => s.step), [0, 1, 2]);
    const after = Math.max(adapt.steps[1].return, adapt.steps[2].return);
    assert.ok(after > adapt.steps[0].return, `adaptation should raise the return: ${adapt.steps.map((s) => s.return.toFixed(2)).join(' → ')}`);
    assert.ok(adapt.expertReturn > adapt.steps[0].return);

    // later steps with 0 x the learned step sizes keep the one-step policy; the first step is unchanged
    const frozen = await adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, seed: 1, laterStepScale: 0 });
    assert.ok(Math.abs(frozen.steps[1].return - adapt.steps[1].return) < 1e-9, 'the first step takes the learned step sizes');
    assert.ok(Math.abs(frozen.steps[2].return - frozen.steps[1].return) < 1e-3, `step 2 keeps step 1's policy: ${frozen.steps[1].return} vs ${frozen.steps[2].return}`);
    assert.ok(Math.abs(adapt.steps[2].return - adapt.steps[1].return) > 1e-3, 'while the full step moves it');
    await assert.rejects(adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, laterStepScale: -1 }), /laterStepScale must be a finite number >= 0/);
    // laterStepSize: plain steps of that size after the first; a tiny one keeps the one-step policy too
    const plain = await adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, seed: 1, laterStepSize: 1e-9 });
    assert.ok(Math.abs(plain.steps[1].return - adapt.steps[1].return) < 1e-9, 'the first step takes the learned step sizes');
    assert.ok(Math.abs(plain.steps[2].return - plain.steps[1].return) < 1e-3, `a 1e-9 step keeps step 1's policy: ${plain.steps[1].return} vs ${plain.steps[2].return}`);
    await assert.rejects(
      adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, laterStepSize: 0.001, laterStepScale: 0.25 }),
      /not both/,
    );
    await assert.rejects(adaptToTask({ checkpoint: out, sampler, task: { kind: 'point', goal: [-0.8, 0.7] }, steps: 2, rollouts: 8, laterStepSize: 0 }), /laterStepSize must be a finite number > 0/);

    // many tasks: task i is adaptToTask with seed + i, and the per-step numbers are the means over the tasks
    const goals = [{ kind: 'point' as const, goal: [-0.8, 0.7] as [number, number] }, { kind: 'point' as const, goal: [0.5, -0.6] as [number, number] }];
    const many = await adaptToTasks({ checkpoint: out, sampler, tasks: goals, steps: 2, rollouts: 8, seed: 1, laterStepSize: 1e-3 });
    const one = await Promise.all(goals.map((task, i) => adaptToTask({ checkpoint: out, sampler, task, steps: 2, rollouts: 8, seed: 1 + i, laterStepSize: 1e-3 })));
    assert.equal(many.tasks, 2);
    assert.deepEqual(many.perTask.map((t) => t.seed), [1, 2]);
    assert.equal(many.perTask[0].steps[1].return, adapt.steps[1].return, 'task 0 with seed 1: the same first step as above');
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(many.perTask[i].task, goals[i]);
      assert.deepEqual(many.perTask[i].steps, one[i].steps.map((s) => ({ step: s.step, return: s.return, success: s.success })));
    }
    for (let k = 0; k <= 2; k++) {
      assert.ok(Math.abs(many.steps[k].return - (one[0].steps[k].return + one[1].steps[k].return) / 2) < 1e-9, `mean return at step ${k}`);
      assert.ok(Math.abs(many.steps[k].success - (one[0].steps[k].success + one[1].steps[k].success) / 2) < 1e-12);
    }
    assert.ok(Math.abs(many.expertReturn - (one[0].expertReturn + one[1].expertReturn) / 2) < 1e-9);
    await assert.rejects(adaptToTasks({ checkpoint: out, sampler, tasks: [], steps: 1, rollouts: 8 }), /no tasks to adapt to/);
  });

  it('tasks per Adam step: shuffled chunks that partition the tasks; meta-training on chunks still learns', async () => {
    const chunks = taskChunks(10, 4, new Rng(1));
    assert.deepEqual(chunks.map((c) => c.length), [3, 3, 4]);
    assert.deepEqual(chunks.flat().sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(chunks.flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'shuffled');
    assert.deepEqual(taskChunks(10, 4, new Rng(1)), chunks, 'deterministic in the seed');
    assert.deepEqual(taskChunks(3, 0, new Rng(1)), [[0, 1, 2]]);
    assert.deepEqual(taskChunks(3, 5, new Rng(1)), [[0, 1, 2]]);
    const res = await metaTrain({ config: pointConfig({ tasksPerStep: 2 }), sampler });
    const post = res.state.curve.map((p) => p.train.postReturn);
    res.dispose();
    assert.ok((post.at(-1)! + post.at(-2)!) / 2 > post[0] + 2, `post-update return should rise: ${post.map((x) => x.toFixed(2)).join(' → ')}`);
    await assert.rejects(metaTrain({ config: pointConfig({ tasksPerStep: -1 }), sampler }), /tasksPerStep must be an integer >= 0/);
  });

  it("turns the wasm backend's bare Aborted() into what to change; other errors pass through", () => {
    const other = new Error('meta-loss became NaN');
    assert.equal(explainBackendAbort(other), other);
    const e = explainBackendAbort(new Error('Aborted(). Build with -sASSERTIONS for more info.')) as Error;
    assert.match(e.message, /tfjs backend aborted \(Aborted\(\)\).*4 GB heap.*--tasks-per-step.*--resume/);
  });

  it('gmps eval runs a checkpoint in the envs it was trained in (every env option, here the point horizon)', async () => {
    const out = path.join(dir, 'env-options');
    const res = await metaTrain({ config: pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 3, iterations: 1, adamSteps: 2 }), sampler, outDir: out });
    res.dispose();
    // the same evaluation in-process, with envs made from the training options (horizon 15, not the default)
    const local = await createLocalSampler({ env: { kind: 'point', options: { ...ENV, seed: 0 } }, nEnvs: 10 });
    const { evaluateCheckpoint } = await import('../src/learning/eval.js');
    const want = await evaluateCheckpoint({ checkpoint: out, sampler: local, rollouts: 3, seed: 0 });
    await local.close();
    const { stdout } = await promisify(execFile)('node', ['--import', 'tsx', 'src/cli/main.ts', 'eval', '--checkpoint', out, '--rollouts', '3', '--workers', '0', '--backend', 'cpu', '--json']);
    const got = JSON.parse(stdout.trim());
    assert.equal(got.preReturn, want.preReturn);
    assert.equal(got.postReturn, want.postReturn);
    assert.equal(got.expertReturn, want.expertReturn);
    // where the held-out task's episodes ended: the point's final distance to its goal
    const o = got.perTask[0].outcome;
    assert.deepEqual(o, want.perTask[0].outcome);
    assert.equal(o.name, 'final distance to goal');
    assert.ok(o.pre.min <= o.pre.median && o.pre.median <= o.pre.max && o.post >= 0, JSON.stringify(o));
  });

  it('taskOutcome: final door angles in degrees (pre-update min, median, max; post-update mean), and a clear error without the step info', async () => {
    const { taskOutcome } = await import('../src/learning/eval.js');
    const door = (...anglesRad: number[]) =>
      ({ length: anglesRad.length, envInfos: { doorAngle: Float64Array.from(anglesRad) } }) as unknown as import('../src/learning/trajectory.js').Trajectory;
    const deg = Math.PI / 180;
    const pre = [door(0, 30 * deg), door(0, 10 * deg), door(0, 40 * deg), door(50 * deg, 20 * deg)];
    const o = taskOutcome('door', pre, [door(0, 25 * deg), door(0, 35 * deg)]);
    assert.equal(o.unit, 'deg');
    assert.ok(Math.abs(o.pre.min - 10) < 1e-9 && Math.abs(o.pre.max - 40) < 1e-9, 'the last step, not the widest');
    assert.ok(Math.abs(o.pre.median - 25) < 1e-9, `median of 10, 20, 30, 40: ${o.pre.median}`);
    assert.ok(Math.abs(o.post - 30) < 1e-9);
    assert.throws(() => taskOutcome('push', pre, pre), /push episode without a 'placeDist' step info/);
  });

  it('resumes from a checkpoint exactly as the uninterrupted run continues', async () => {
    const tiny = pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 3, iterations: 4, adamSteps: 3, evalEvery: 3, dagger: true, daggerRollouts: 1 });
    const full = await metaTrain({ config: tiny, sampler, outDir: path.join(dir, 'full') });
    full.dispose();
    const part = await metaTrain({ config: tiny, sampler, outDir: path.join(dir, 'part'), stopAfter: 2 });
    part.dispose();
    assert.equal(part.state.iteration, 2);
    // stopped before its end, the run still has its curve up to the last evaluation (iteration 0)
    const partCurve = JSON.parse(await readFile(path.join(dir, 'part', 'curve.json'), 'utf8')) as { curve: { iteration: number }[] };
    assert.deepEqual(partCurve.curve.map((p) => p.iteration), [0]);
    const resumed = await metaTrain({ config: tiny, sampler, outDir: path.join(dir, 'part'), resume: true });
    resumed.dispose();
    assert.deepEqual(resumed.state.curve, full.state.curve);
    assert.deepEqual(resumed.state.iterations, full.state.iterations);
    assert.equal(resumed.state.envSamples, full.state.envSamples);
    const a = await loadCheckpoint(path.join(dir, 'full'));
    const b = await loadCheckpoint(path.join(dir, 'part'));
    for (const name of Object.keys(a.params)) assert.deepEqual(b.params[name].dataSync(), a.params[name].dataSync(), `θ ${name}`);
    for (const name of Object.keys(a.stepSizes)) assert.deepEqual(b.stepSizes[name].dataSync(), a.stepSizes[name].dataSync(), `α ${name}`);
    assert.equal(b.adamStep, a.adamStep);
    // DAgger grew D* the same way in both runs.
    assert.deepEqual(b.demos.map((d) => d.actions.length), a.demos.map((d) => d.actions.length));
    assert.ok(a.demos[0].actions.length > 15 * 2, 'DAgger aggregated relabelled states into D*');
    [a, b].forEach(disposeLoaded);
  });

  it('--keep-best: <out>/best holds θ and α exactly as they were at the evaluation with the best held-out post-update return', async () => {
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 2, rolloutsPerTask: 3, iterations: 6, adamSteps: 4, evalEvery: 1, lr: 1e-2 });
    const out = path.join(dir, 'keep-best');
    const run = await metaTrain({ config: cfg, sampler, outDir: out, keepBest: true });
    run.dispose();
    const scores = run.state.curve.map((p) => p.heldOut!.postReturn);
    assert.equal(scores.length, 7);
    const bestAt = scores.indexOf(Math.max(...scores));
    assert.deepEqual(run.state.best, { iteration: run.state.curve[bestAt].iteration, score: scores[bestAt], by: 'return' });
    const best = await loadCheckpoint(path.join(out, BEST_DIR));
    assert.equal(best.state.iteration, run.state.best!.iteration);
    assert.equal(best.demos.length, 0, 'best/ is an export: no D*');
    // The same run stopped at that iteration has exactly the θ and α that were evaluated there.
    const upTo = await metaTrain({ config: cfg, sampler, stopAfter: run.state.best!.iteration });
    for (const name of Object.keys(best.params)) assert.deepEqual(best.params[name].dataSync(), upTo.learner.params[name].dataSync(), `θ ${name}`);
    for (const name of Object.keys(best.stepSizes)) assert.deepEqual(best.stepSizes[name].dataSync(), upTo.learner.stepSizes[name].dataSync(), `α ${name}`);
    upTo.dispose();
    disposeLoaded(best);
    assert.ok(scores.some((s) => s !== scores[bestAt]), 'the evaluations differ, so the selection chose among distinct scores');

    // A run started from that run's checkpoint, whose last evaluation is of the θ it starts from,
    // counts that evaluation as a candidate (here the only one).
    const from = path.join(dir, 'keep-best-from');
    const cont = await metaTrain({ config: { ...cfg, iterations: 7 }, sampler, outDir: from, keepBest: true, initFrom: out, stopAfter: 6 });
    cont.dispose();
    assert.deepEqual(cont.state.best, { iteration: 6, score: scores.at(-1), by: 'return' });
    const kept = await loadCheckpoint(path.join(from, BEST_DIR));
    assert.equal(kept.state.iteration, 6);
    disposeLoaded(kept);
  });

  it('selectionScore: by return, the post-update return; by success, the success rate first and the return only between equal rates', () => {
    const at = (postSuccess: number, postReturn: number, heldOut = true): CurvePoint => {
      const r = { preReturn: 0, postReturn, preSuccess: 0, postSuccess };
      return heldOut ? { iteration: 0, envSamples: 0, train: { ...r, postSuccess: 1, postReturn: 1e4 }, heldOut: r } : { iteration: 0, envSamples: 0, train: r };
    };
    const surer = at(0.55, 90);
    const richer = at(0.5, 160);
    assert.ok(selectionScore(richer) > selectionScore(surer), 'by return (the default)');
    assert.ok(selectionScore(surer, 'success') > selectionScore(richer, 'success'), 'one more success outweighs 70 of return');
    assert.ok(selectionScore(at(0.5, 161), 'success') > selectionScore(richer, 'success'), 'equal rates: the return decides');
    assert.ok(selectionScore(at(0.05, -5000), 'success') > selectionScore(at(0, 5000), 'success'), 'even a return of thousands does not outweigh one success in 20');
    assert.equal(selectionScore(at(0.3, 50, false), 'success'), 0.3 + 50e-6, 'the training tasks when there are no held-out ones');
  });

  it('--keep-best-by success keeps the evaluation with the best held-out success (then return); resumed by return, it selects afresh', async () => {
    // A wide success radius, so that the success rates of a short run differ between evaluations.
    const wide = { ...ENV, successRadius: 0.5 };
    const cfg = pointConfig({ envOptions: wide, seed: 4, numTasks: 2, numHeldOut: 3, rolloutsPerTask: 3, iterations: 6, adamSteps: 4, evalEvery: 1, lr: 1e-2 });
    const out = path.join(dir, 'keep-best-success');
    const wideSampler = await createLocalSampler({ env: { kind: 'point', options: wide }, nEnvs: 9 });
    try {
      const part = await metaTrain({ config: cfg, sampler: wideSampler, outDir: out, keepBest: true, keepBestBy: 'success', stopAfter: 4 });
      part.dispose();
      const key = (p: CurvePoint) => [p.heldOut!.postSuccess, p.heldOut!.postReturn] as const;
      const better = (a: CurvePoint, b: CurvePoint) => key(a)[0] > key(b)[0] || (key(a)[0] === key(b)[0] && key(a)[1] > key(b)[1]);
      const points = part.state.curve;
      assert.ok(new Set(points.map((p) => p.heldOut!.postSuccess)).size > 1, `the success rates differ: ${points.map((p) => p.heldOut!.postSuccess)}`);
      const bestPoint = points.reduce((a, b) => (better(b, a) ? b : a));
      const byReturn = points.reduce((a, b) => (b.heldOut!.postReturn > a.heldOut!.postReturn ? b : a));
      assert.notEqual(bestPoint.iteration, byReturn.iteration, 'in this run the two criteria choose differently');
      assert.equal(part.state.best?.iteration, bestPoint.iteration);
      assert.equal(part.state.best?.by, 'success');
      const kept = await loadCheckpoint(path.join(out, BEST_DIR));
      assert.equal(kept.state.iteration, bestPoint.iteration);
      disposeLoaded(kept);
      // Resumed with the other criterion: the success score is not compared with returns.
      const resumed = await metaTrain({ config: cfg, sampler: wideSampler, outDir: out, resume: true, keepBest: true, keepBestBy: 'return' });
      resumed.dispose();
      const since = resumed.state.curve.filter((p) => p.iteration >= 4).map((p) => p.heldOut!.postReturn);
      assert.deepEqual(resumed.state.best, { iteration: resumed.state.curve.find((p) => p.heldOut!.postReturn === Math.max(...since) && p.iteration >= 4)!.iteration, score: Math.max(...since), by: 'return' });
    } finally {
      await wideSampler.close();
    }
  });

  it('initFrom + redrawTasks: θ and α from the checkpoint, new training and held-out tasks (this run\'s seed and counts), evaluated at the first iteration; keep-best ignores the carried evaluation', async () => {
    const { drawTasks } = await import('../src/learning/meta-train.js');
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 3, iterations: 2, adamSteps: 3, evalEvery: 2 });
    const src = path.join(dir, 'redraw-src');
    const first = await metaTrain({ config: cfg, sampler, outDir: src });
    first.dispose();
    const ck = await loadCheckpoint(src);
    const next = { ...cfg, seed: cfg.seed + 1, numTasks: 3, numHeldOut: 4, iterations: 3, evalEvery: 0 };
    const out = path.join(dir, 'redraw');
    // θ after 0 iterations of the new run: the checkpoint's, exactly
    const zero = await metaTrain({ config: next, sampler, outDir: path.join(dir, 'redraw-zero'), initFrom: src, redrawTasks: true, keepBest: true, stopAfter: 2 });
    for (const k of Object.keys(ck.params)) assert.deepEqual(zero.learner.params[k].dataSync(), ck.params[k].dataSync(), k);
    zero.dispose();
    assert.equal(zero.state.best, undefined, 'the carried evaluation (other held-out tasks) is no candidate');
    // Without redrawing, it is.
    const same = await metaTrain({ config: { ...next, numTasks: 2, numHeldOut: 1 }, sampler, outDir: path.join(dir, 'redraw-same'), initFrom: src, keepBest: true, stopAfter: 2 });
    same.dispose();
    assert.equal(same.state.best?.score, ck.state.curve.at(-1)!.heldOut!.postReturn);
    const run = await metaTrain({ config: next, sampler, outDir: out, initFrom: src, redrawTasks: true, keepBest: true });
    run.dispose();
    const { createEnv } = await import('../sim/index.js');
    const probe = await createEnv('point', {});
    const expected = drawTasks(next, (r) => probe.sampleTask(r));
    probe.close();
    assert.deepEqual(run.state.tasks, expected.tasks);
    assert.deepEqual(run.state.heldOut, expected.heldOut);
    assert.equal(run.state.heldOut.length, 4);
    assert.notDeepEqual(run.state.tasks, ck.state.tasks.slice(0, 3));
    assert.equal(run.state.iteration, 3);
    // The carried curve, then an evaluation at iteration 2 on the new tasks (evalEvery 0 would skip it), then the final one.
    assert.deepEqual(run.state.curve.map((p) => p.iteration), [...ck.state.curve.map((p) => p.iteration), 2, 3]);
    assert.notEqual(run.state.curve.at(-3)!.heldOut!.postReturn, run.state.curve.at(-2)!.heldOut!.postReturn, 'same θ, other held-out tasks');
    const fresh = run.state.curve.slice(-2).map((p) => p.heldOut!.postReturn);
    assert.equal(run.state.best?.score, Math.max(...fresh), `best chosen among the evaluations on the new tasks: ${JSON.stringify(run.state.best)}`);
    disposeLoaded(ck);
    await assert.rejects(metaTrain({ config: next, sampler, redrawTasks: true }), /redrawTasks draws new tasks for a run started from a checkpoint/);
  });

  it('eval --step-scale s: the adaptation step uses s·α, exactly as a checkpoint whose α is s times larger; s must be positive; --std-scale scales the exploration σ', async () => {
    const { evaluateCheckpoint } = await import('../src/learning/eval.js');
    const { evaluateAdaptation } = await import('../src/learning/meta-train.js');
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 2, rolloutsPerTask: 3, iterations: 2, adamSteps: 4, evalEvery: 0 });
    const out = path.join(dir, 'step-scale');
    (await metaTrain({ config: cfg, sampler, outDir: out })).dispose();
    const scaled = await evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, seed: 4, stepScale: 3 });
    const plain = await evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, seed: 4 });
    const ck = await loadCheckpoint(out);
    try {
      const alpha3 = Object.fromEntries(Object.entries(ck.stepSizes).map(([k, v]) => [k, tf.mul(v, 3)]));
      const ev = await evaluateAdaptation(sampler, ck.policy, ck.params, alpha3, ck.state.heldOut, 3, 'state', new Rng('4-eval'));
      ev.adapted.forEach(disposeParams);
      disposeParams(alpha3);
      assert.equal(scaled.preReturn, plain.preReturn, 'the same pre-update rollouts');
      assert.equal(scaled.postReturn, ev.result.postReturn);
      assert.notEqual(scaled.postReturn, plain.postReturn, 'a three times larger step changes the adapted policy');
    } finally {
      disposeLoaded(ck);
    }
    await assert.rejects(evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, stepScale: 0 }), /stepScale must be a positive number, got 0/);
    // the unadapted θ (σ ×1e-5) is the post-update policy of a vanishing step, and does not depend on the step
    const tiny = await evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, seed: 4, stepScale: 1e-9 });
    assert.equal(scaled.unadaptedReturn, plain.unadaptedReturn);
    assert.ok(Math.abs(tiny.postReturn - plain.unadaptedReturn) < 1e-3, `a vanishing step: post ${tiny.postReturn} vs unadapted ${plain.unadaptedReturn}`);
    assert.ok(Math.abs(plain.postReturn - plain.unadaptedReturn) > 1e-2, 'the real step moves the policy');
    for (const t of plain.perTask) assert.ok(Number.isFinite(t.unadaptedReturn) && t.unadaptedSuccess >= 0 && t.unadaptedSuccess <= 1);

    // --std-scale: σ of the rollouts the step learns from. Near zero, they are all θ's mean path (the
    // unadapted policy's return, no spread of final distances); 1 is the default.
    const quiet = await evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, seed: 4, stdScale: 1e-6 });
    assert.ok(Math.abs(quiet.preReturn - plain.unadaptedReturn) < 1e-3, `pre ${quiet.preReturn} vs unadapted ${plain.unadaptedReturn}`);
    for (const t of quiet.perTask) assert.ok(t.outcome.pre.max - t.outcome.pre.min < 1e-4, `spread ${JSON.stringify(t.outcome.pre)}`);
    assert.ok(plain.perTask.some((t) => t.outcome.pre.max - t.outcome.pre.min > 1e-2), 'σ at its trained value spreads the rollouts');
    const one = await evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, seed: 4, stdScale: 1 });
    assert.equal(one.postReturn, plain.postReturn);
    await assert.rejects(evaluateCheckpoint({ checkpoint: out, sampler, rollouts: 3, stdScale: -1 }), /stdScale must be a positive number, got -1/);
  });

  it('a pre-update imitation task: its expert rollouts are counted and checkpointed, the unadapted policy heads for its goal, resuming is exact', async () => {
    const explore = { kind: 'point' as const, goal: [0.9, 0.9] as [number, number] };
    const base = { numTasks: 2, numHeldOut: 0, rolloutsPerTask: 3, iterations: 3, adamSteps: 15, evalEvery: 0, lr: 1e-2, preImitation: 5 };
    const withTask = pointConfig({ ...base, preImitationTask: explore });
    const full = await metaTrain({ config: withTask, sampler, outDir: path.join(dir, 'explore-full'), stopAfter: 3 });
    full.dispose();
    const plain = await metaTrain({ config: pointConfig(base), sampler, stopAfter: 3 });
    // 2 tasks x 1 demo + the exploration task's 2 x 1 rollouts, 15 steps each
    assert.equal(full.state.expertSamples, plain.state.expertSamples + 2 * 15);
    const ck = await loadCheckpoint(path.join(dir, 'explore-full'));
    assert.equal(ck.demos.length, 2);
    assert.equal(ck.preDemos?.actions.length, 2 * 15 * 2, 'the exploration demonstrations are saved apart from D*');
    // the unadapted mean at the start moves toward the exploration goal, not toward the task average
    const startObs = tf.tensor2d([[0, 0]]);
    const towardGoal = (params: Record<string, tf.Tensor>): number => {
      const a = ck.policy.mean(params, startObs).dataSync();
      return (a[0] * explore.goal[0] + a[1] * explore.goal[1]) / Math.hypot(...explore.goal) / Math.hypot(a[0], a[1]);
    };
    assert.ok(towardGoal(ck.params) > 0.9, `pre-update mean points at the exploration goal (cos ${towardGoal(ck.params).toFixed(3)})`);
    assert.ok(towardGoal(plain.learner.params) < towardGoal(ck.params), 'without the task it does not');
    plain.dispose();
    const part = await metaTrain({ config: withTask, sampler, outDir: path.join(dir, 'explore-part'), stopAfter: 1 });
    part.dispose();
    const resumed = await metaTrain({ config: withTask, sampler, outDir: path.join(dir, 'explore-part'), resume: true, stopAfter: 3 });
    resumed.dispose();
    const again = await loadCheckpoint(path.join(dir, 'explore-part'));
    for (const name of Object.keys(ck.params)) assert.deepEqual(again.params[name].dataSync(), ck.params[name].dataSync(), `θ ${name}`);
    [ck, again].forEach(disposeLoaded);
    startObs.dispose();
  });

  it('--init-from starts θ and α from a checkpoint, carries its tasks, samples and curve over and numbers iterations on', async () => {
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 3, iterations: 2, adamSteps: 3, evalEvery: 2 });
    const src = await metaTrain({ config: cfg, sampler, outDir: path.join(dir, 'init-src') });
    const next = { ...cfg, numTasks: 5, iterations: 4, lr: 2e-3 };
    // no iteration run: θ and α are the checkpoint's
    const start = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'init-src'), stopAfter: 2 });
    for (const [name, v] of Object.entries(start.learner.params)) assert.deepEqual(v.dataSync(), src.learner.params[name].dataSync(), `θ ${name}`);
    for (const [name, v] of Object.entries(start.learner.stepSizes)) assert.deepEqual(v.dataSync(), src.learner.stepSizes[name].dataSync(), `α ${name}`);
    start.dispose();
    src.dispose();
    const res = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'init-src'), outDir: path.join(dir, 'init-dst') });
    res.dispose();
    assert.deepEqual(res.state.tasks, src.state.tasks, 'the checkpoint\'s training tasks, not --tasks');
    assert.deepEqual(res.state.heldOut, src.state.heldOut);
    assert.deepEqual(res.state.iterations.map((l) => l.iteration), [0, 1, 2, 3]);
    assert.deepEqual(res.state.curve.slice(0, src.state.curve.length), src.state.curve);
    assert.deepEqual(res.state.curve.map((p) => p.iteration), [0, 2, 4]);
    // the fresh D* (2 tasks x 1 demo x 15 steps) is counted on top of the checkpoint's samples
    assert.equal(res.state.expertSamples, src.state.expertSamples + 2 * 15);
    assert.ok(res.state.iterations[2].envSamples > src.state.envSamples + 2 * 15);
    assert.equal(res.state.config.initFrom?.iteration, 2);
    assert.equal(res.state.config.lr, 2e-3, 'the new run\'s own settings');
    await assert.rejects(
      metaTrain({ config: { ...next, iterations: 2 }, sampler, initFrom: path.join(dir, 'init-src') }),
      /already run 2 iterations.*more than 2/,
    );
  });

  it('--lr-warmup and --is-clip-low reach the optimiser and the meta-loss, are recorded, and bad values are refused by name', async () => {
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 0, rolloutsPerTask: 3, iterations: 1, adamSteps: 3, evalEvery: 0 });
    const start = await metaTrain({ config: cfg, sampler, stopAfter: 0 });
    const plain = await metaTrain({ config: cfg, sampler });
    const warm = await metaTrain({ config: { ...cfg, lrWarmup: 6, isClip: 2, isClipLow: 0.5 }, sampler, outDir: path.join(dir, 'warm') });
    try {
      assert.equal(warm.learner.adam.opts.warmup, 6);
      assert.equal(warm.learner.opts.isClipLow, 0.5);
      assert.equal(warm.state.config.lrWarmup, 6, 'kept in the checkpoint config, so a resumed run ramps on');
      // The same rollouts (same seed); Adam's steps are about lr_t each, here a sixth, a third and a half of lr:
      // θ moves about a third as far from where it started.
      const moved = (r: typeof plain) => Object.entries(r.learner.params).reduce((acc, [name, v]) => acc + tf.tidy(() => tf.sum(tf.abs(tf.sub(v, start.learner.params[name]))).dataSync()[0]), 0);
      const ratio = moved(warm) / moved(plain);
      assert.ok(ratio > 0.2 && ratio < 0.5, `θ moved ${ratio.toFixed(3)} times as far with the warm-up`);
    } finally {
      plain.dispose();
      warm.dispose();
      start.dispose();
    }
    await assert.rejects(metaTrain({ config: { ...cfg, isClipLow: 0 }, sampler }), /isClipLow must be in \(0, 1\]/);
    await assert.rejects(metaTrain({ config: { ...cfg, isClipLow: 1.5 }, sampler }), /isClipLow must be in \(0, 1\]/);
    await assert.rejects(metaTrain({ config: { ...cfg, lrWarmup: 2.5 }, sampler }), /lrWarmup must be an integer >= 0/);
  });

  it('--init-from with a new σ and scaled step sizes: log-std set, α scaled, recorded; α·(S/σ)² takes the same inner step on the same rollouts', async () => {
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 3, iterations: 2, adamSteps: 3, evalEvery: 2, learnStd: false, policy: { ...pointConfig().policy, initStd: 0.5 } });
    const src = await metaTrain({ config: cfg, sampler, outDir: path.join(dir, 'std-src') });
    const next = { ...cfg, iterations: 3 };
    const S = 0.2;
    const k = (S / 0.5) ** 2;
    const start = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'std-src'), initAdjust: { std: S, stepSizeScale: k }, stopAfter: 2 });
    try {
      for (const [name, v] of Object.entries(start.learner.params)) {
        if (name === 'logStd') for (const x of v.dataSync()) assert.ok(Math.abs(x - Math.log(S)) < 1e-6, `log-std ${x}`);
        else assert.deepEqual(v.dataSync(), src.learner.params[name].dataSync(), `θ ${name}`);
      }
      for (const [name, v] of Object.entries(start.learner.stepSizes)) {
        const a = src.learner.stepSizes[name].dataSync();
        v.dataSync().forEach((x, i) => assert.ok(Math.abs(x - k * a[i]) < 1e-6 * Math.max(1, Math.abs(a[i])), `α ${name}[${i}]`));
      }
      assert.deepEqual(start.state.config.initFrom, { checkpoint: path.join(dir, 'std-src'), iteration: 2, envSamples: src.state.envSamples, std: S, stepSizeScale: k });
      assert.equal(start.state.config.policy.initStd, S);
      // The same rollouts (actions drawn at σ·S/σ around θ's mean): the checkpoint's step and the adjusted one move
      // every mean parameter alike.
      const [trajs] = await sampler.sample({ tasks: [{ kind: 'point', goal: [0.4, -0.3] }], rolloutsPerTask: 6, act: policyAct(src.policy, () => start.learner.params, 6, 'state', new Rng(5)) });
      const batch = toAdaptBatch(trajs, 'state');
      const before = adaptStep(src.policy, src.learner.params, src.learner.stepSizes, batch);
      const after = adaptStep(start.policy, start.learner.params, start.learner.stepSizes, batch);
      for (const name of Object.keys(before)) {
        if (name === 'logStd') continue;
        const d0 = tf.tidy(() => tf.sub(before[name], src.learner.params[name]).dataSync());
        const d1 = tf.tidy(() => tf.sub(after[name], start.learner.params[name]).dataSync());
        const scale = Math.max(...Array.from(d0, Math.abs));
        assert.ok(scale > 0, `${name} moves`);
        d0.forEach((x, i) => assert.ok(Math.abs(x - d1[i]) < 1e-3 * scale, `${name}[${i}]: ${x} vs ${d1[i]}`));
      }
      disposeParams(before);
      disposeParams(after);
    } finally {
      start.dispose();
      src.dispose();
    }
    // Meta-trained on with a fixed σ: the new σ stays.
    const res = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'std-src'), initAdjust: { std: S }, outDir: path.join(dir, 'std-dst') });
    res.dispose();
    const ck = await loadCheckpoint(path.join(dir, 'std-dst'));
    for (const x of ck.params.logStd.dataSync()) assert.ok(Math.abs(x - Math.log(S)) < 1e-6);
    disposeLoaded(ck);
    await assert.rejects(metaTrain({ config: next, sampler, initAdjust: { std: S } }), /initAdjust .*initFrom/);
    await assert.rejects(metaTrain({ config: next, sampler, initFrom: path.join(dir, 'std-src'), initAdjust: { std: 0 } }), /σ must be a finite number > 0, got 0/);
    await assert.rejects(metaTrain({ config: next, sampler, initFrom: path.join(dir, 'std-src'), initAdjust: { stepSizeScale: Number.NaN } }), /step-size scale must be a finite number > 0/);
  });

  it('--init-from with --policy mlp-biasAda: the checkpoint\'s θ, only z adapts from then on, its α starting at the run\'s step size', async () => {
    const cfg = pointConfig({ numTasks: 2, numHeldOut: 1, rolloutsPerTask: 4, iterations: 2, adamSteps: 3, evalEvery: 2 });
    const src = await metaTrain({ config: cfg, sampler, outDir: path.join(dir, 'z-src') });
    const next = { ...cfg, iterations: 3, policy: { ...cfg.policy, kind: 'mlp-biasAda' as const, initStepSize: 0.7 } };
    const start = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'z-src'), stopAfter: 2 });
    try {
      assert.equal(start.state.config.policy.kind, 'mlp-biasAda');
      assert.deepEqual(start.state.config.policy.hidden, cfg.policy.hidden);
      for (const [name, v] of Object.entries(start.learner.params)) assert.deepEqual(v.dataSync(), src.learner.params[name].dataSync(), `θ ${name}`);
      assert.deepEqual(Object.keys(start.learner.stepSizes), ['z']);
      assert.deepEqual(Array.from(start.learner.stepSizes.z.dataSync()), new Array(cfg.policy.latentDim).fill(0.7).map((x) => Math.fround(x)));
    } finally {
      start.dispose();
      src.dispose();
    }
    const out = path.join(dir, 'z-dst');
    const res = await metaTrain({ config: next, sampler, initFrom: path.join(dir, 'z-src'), outDir: out });
    res.dispose();
    const ck = await loadCheckpoint(out);
    try {
      assert.equal(ck.policy.config.kind, 'mlp-biasAda');
      assert.deepEqual(Object.keys(ck.stepSizes), ['z']);
      // adapting the checkpoint moves z and nothing else
      const [trajs] = await sampler.sample({ tasks: [{ kind: 'point', goal: [0.5, 0.5] }], rolloutsPerTask: 4, act: policyAct(ck.policy, () => ck.params, 4, 'state', new Rng(2)) });
      const phi = adaptStep(ck.policy, ck.params, ck.stepSizes, toAdaptBatch(trajs, 'state'));
      for (const [name, v] of Object.entries(phi)) {
        if (name === 'z') assert.notDeepEqual(v.dataSync(), ck.params.z.dataSync(), 'z moves');
        else assert.deepEqual(v.dataSync(), ck.params[name].dataSync(), `${name} stays`);
      }
      disposeParams(phi);
    } finally {
      disposeLoaded(ck);
    }
  });
});
