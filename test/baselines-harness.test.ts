import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sinon from 'sinon';
import { curveKind, getAlgorithm, registerAlgorithm } from '../src/learning/experiment/algorithms.js';
import { FIGURES, figureSpec, SCALES } from '../src/learning/experiment/figures.js';
import { samplesToReach, writeReport } from '../src/learning/experiment/report.js';
import { clockFile, partialFile, readPartials, runFigure } from '../src/learning/experiment/run.js';
import type { Algorithm, RunSpec } from '../src/learning/experiment/types.js';
import { experimentCli } from './helpers/experiment-cli.js';

const calls: string[] = [];
/** When set, the fake run stops (as if killed) after recording this many points. */
let stopAfter: number | undefined;
/** When set, the fake run advances this fake clock by 100 s before each point, and by 40 s before it stops. */
let fakeClock: sinon.SinonFakeTimers | undefined;
/** A stand-in algorithm: a deterministic curve whose slope depends on the run config. */
const fake: Algorithm = {
  name: 'harness-test-fake',
  description: 'test double',
  async run(spec, ctx) {
    calls.push(`${spec.id}/${ctx.seed}`);
    const slope = spec.config.slope as number;
    if (slope < 0) throw new Error('negative slope');
    const points = [0, 1, 2, 3].map((k) => ({ x: 1000 * k, y: slope * k + ctx.seed, success: k / 4 }));
    for (const [i, p] of points.entries()) {
      if (i === stopAfter) {
        fakeClock?.tick(40_000);
        throw new Error('stopped from outside');
      }
      fakeClock?.tick(100_000);
      await ctx.point(p);
    }
    // With `sacRounds`, as GMPS with contextual SAC experts: their samples and training curve in `extra`.
    const rounds = spec.config.sacRounds as number | undefined;
    const curve = rounds ? Array.from({ length: rounds }, (_, i) => ({ envSteps: 100 * (i + 1), meanReturn: 10 * i + ctx.seed, successRate: i / rounds })) : [];
    // `sacCurveKept: false`: a run from before the curve was kept, with the last round's return only
    const extra = rounds ? { expertSamples: 100 * rounds + 7, sacFinalReturn: curve[rounds - 1].meanReturn, ...(spec.config.sacCurveKept === false ? {} : { sacCurve: curve }) } : undefined;
    return { xAxis: 'envSamples', points, ...(extra ? { extra } : {}) };
  },
};

describe('baselines: experiment harness', function () {
  this.timeout(20000);
  let dir: string;
  before(() => {
    try {
      getAlgorithm(fake.name);
    } catch {
      registerAlgorithm(fake);
    }
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-harness-'));
    calls.length = 0;
    stopAfter = undefined;
  });
  afterEach(async () => {
    fakeClock?.restore();
    fakeClock = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const task = { kind: 'point', envOptions: {} };
  const runs: RunSpec[] = [
    { id: 'gmps', algorithm: fake.name, task, config: { slope: 4 } },
    { id: 'maml', algorithm: fake.name, task, config: { slope: 1 } },
  ];

  it('is resumable: a second run skips finished runs and runs only the missing seeds', async () => {
    const first = await runFigure({ figure: 'figX', scale: 'small', runs, seeds: 2, outDir: dir, workers: 0 });
    assert.deepEqual(first.map((s) => s.status), ['ran', 'ran', 'ran', 'ran']);
    assert.deepEqual(calls, ['gmps/0', 'gmps/1', 'maml/0', 'maml/1']);
    calls.length = 0;
    const second = await runFigure({ figure: 'figX', scale: 'small', runs, seeds: 3, outDir: dir, workers: 0 });
    assert.deepEqual(second.map((s) => s.status), ['skipped', 'skipped', 'ran', 'skipped', 'skipped', 'ran']);
    assert.deepEqual(calls, ['gmps/2', 'maml/2']);
    const json = JSON.parse(await readFile(path.join(dir, 'figX', 'maml-seed2.json'), 'utf8'));
    assert.equal(json.curve.points[3].y, 1 * 3 + 2);
  });

  it('--first-seed k runs only seeds k..n−1, and refuses a k that leaves no seed', async () => {
    const st = await runFigure({ figure: 'figX', scale: 'small', runs, seeds: 3, firstSeed: 1, outDir: dir, workers: 0 });
    assert.deepEqual(st.map((s) => [s.id, s.seed, s.status]), [['gmps', 1, 'ran'], ['gmps', 2, 'ran'], ['maml', 1, 'ran'], ['maml', 2, 'ran']]);
    assert.deepEqual(calls, ['gmps/1', 'gmps/2', 'maml/1', 'maml/2']);
    assert.deepEqual((await readdir(path.join(dir, 'figX'))).filter((f) => f.endsWith('.json')).sort(), ['gmps-seed1.json', 'gmps-seed2.json', 'maml-seed1.json', 'maml-seed2.json']);
    await assert.rejects(runFigure({ figure: 'figX', scale: 'small', runs, seeds: 2, firstSeed: 2, outDir: dir, workers: 0 }), /firstSeed must be an integer in \[0, seeds − 1\] = \[0, 1\], got 2/);
    await assert.rejects(experimentCli(['experiment', 'fig3-push', '--seeds', '2', '--first-seed', '2', '--out', dir]), /--first-seed 2 leaves no seed to run: seeds are 0\.\.1/);
  });

  it('records a failing run without stopping the others, and retries it next time', async () => {
    const bad: RunSpec[] = [{ ...runs[0], id: 'broken', config: { slope: -1 } }, runs[1]];
    const st = await runFigure({ figure: 'figY', scale: 'small', runs: bad, seeds: 1, outDir: dir, workers: 0 });
    assert.deepEqual(st.map((s) => s.status), ['failed', 'ran']);
    assert.match(await readFile(path.join(dir, 'figY', 'broken-seed0.error.txt'), 'utf8'), /negative slope/);
    const again = await runFigure({ figure: 'figY', scale: 'small', runs: bad, seeds: 1, outDir: dir, workers: 0 });
    assert.deepEqual(again.map((s) => s.status), ['failed', 'skipped']);
  });

  it('a run stopped before its end leaves its curve so far; a restart keeps the earlier one; the finished result replaces both', async () => {
    const one = [runs[1]];
    const file = partialFile(dir, 'fig3-push', 'maml', 0);
    stopAfter = 3;
    const st = await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    assert.equal(st[0].status, 'failed');
    const kept = JSON.parse(await readFile(file, 'utf8'));
    assert.equal(kept.format, 'gmps-experiment-partial/1');
    assert.deepEqual(kept.points, [{ x: 0, y: 0, success: 0 }, { x: 1000, y: 1, success: 0.25 }, { x: 2000, y: 2, success: 0.5 }]);
    assert.deepEqual(kept.config, { slope: 1 });
    let report = await writeReport(dir);
    assert.deepEqual(report.unfinished.map((u) => [u.figure, u.id, u.seed, u.points.length]), [['fig3-push', 'maml', 0, 3]]);
    assert.match(report.markdown, /## Unfinished runs[\s\S]*\| fig3-push \| maml \| 0 \| 0 → 0\.00 \(0\.00\), 1000 → 1\.00 \(0\.25\), 2000 → 2\.00 \(0\.50\) \|/);

    stopAfter = 1; // started again and stopped sooner: the longer earlier curve is not overwritten
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    const prev = JSON.parse(await readFile(file.replace(/\.json$/, '.prev.json'), 'utf8'));
    assert.equal(prev.points.length, 3);
    // The report shows the longer earlier curve until the new attempt's is as long.
    assert.deepEqual((await readPartials(path.join(dir, 'fig3-push'))).map((p) => p.points.length), [3]);
    await rm(file);
    assert.deepEqual((await readPartials(path.join(dir, 'fig3-push'))).map((p) => p.points.length), [3], 'a new attempt with no point yet');

    stopAfter = undefined;
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    const names = await readdir(path.join(dir, 'fig3-push'));
    assert.ok(names.includes('maml-seed0.json'));
    assert.ok(!names.some((n) => n.includes('.partial')), names.join(' '));
    report = await writeReport(dir);
    assert.deepEqual(report.unfinished, []);
    assert.doesNotMatch(report.markdown, /Unfinished/);
  });

  it('counts a run\'s wall-clock time over all its starts, the time after its last point included', async () => {
    const one = [runs[1]];
    fakeClock = sinon.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z'), toFake: ['Date'] });
    stopAfter = 2; // 2 points at 100 s and 200 s, then 40 s of work lost to the stop
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    const first = JSON.parse(await readFile(partialFile(dir, 'fig3-push', 'maml', 0), 'utf8'));
    assert.equal(first.seconds, 200);
    assert.equal(first.startedAt, '2026-01-01T00:00:00.000Z');
    assert.deepEqual(JSON.parse(await readFile(clockFile(dir, 'fig3-push', 'maml', 0), 'utf8')), { startedAt: '2026-01-01T00:00:00.000Z', seconds: 240 });

    fakeClock.tick(3600_000); // an hour with no run going does not count
    stopAfter = 1;
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    const second = JSON.parse(await readFile(partialFile(dir, 'fig3-push', 'maml', 0), 'utf8'));
    assert.equal(second.seconds, 240 + 100);
    assert.equal(second.startedAt, '2026-01-01T00:00:00.000Z');

    stopAfter = undefined;
    const st = await runFigure({ figure: 'fig3-push', scale: 'small', runs: one, seeds: 1, outDir: dir, workers: 0 });
    assert.equal(st[0].seconds, 240 + 140 + 400);
    const result = JSON.parse(await readFile(path.join(dir, 'fig3-push', 'maml-seed0.json'), 'utf8'));
    assert.equal(result.seconds, 780);
    assert.ok(!(await readdir(path.dirname(clockFile(dir, 'fig3-push', 'maml', 0)))).includes('wallclock.json'), 'the finished run leaves no clock file');

    // A corrupt clock file is reported and the time counts from the new start.
    const lines: string[] = [];
    stopAfter = 1;
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: [{ ...one[0], id: 'maml2' }], seeds: 1, outDir: dir, workers: 0 });
    await writeFile(clockFile(dir, 'fig3-push', 'maml2', 0), '{"seconds": "a lot"');
    await runFigure({ figure: 'fig3-push', scale: 'small', runs: [{ ...one[0], id: 'maml2' }], seeds: 1, outDir: dir, workers: 0, log: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /could not read .*wallclock\.json.*counts from this start/.test(l)), lines.join('\n'));
    assert.equal(JSON.parse(await readFile(partialFile(dir, 'fig3-push', 'maml2', 0), 'utf8')).seconds, 100);
  });

  it('report: seed-mean charts (SVG + HTML) and the samples-to-reach ratio', async () => {
    await runFigure({ figure: 'fig3-push', scale: 'small', runs, seeds: 2, outDir: dir, workers: 0 });
    const report = await writeReport(dir);
    const files = await readdir(path.join(dir, 'fig3-push'));
    assert.ok(files.includes('fig3-push.svg') && files.includes('fig3-push.html'));
    const svg = await readFile(path.join(dir, 'fig3-push', 'fig3-push.svg'), 'utf8');
    assert.match(svg, /class="band"/);
    // final means: gmps 12.5, maml 3.5 → X = 3.5; gmps reaches it at x = 1000 (4·1 + 0.5), maml at 3000
    const [row] = report.ratios;
    assert.equal(row.target, 3.5);
    assert.equal(row.gmpsSamples, 1000);
    assert.equal(row.mamlSamples, 3000);
    assert.equal(row.ratio, 3);
    assert.equal(row.paperRatio, 4);
    assert.match(report.markdown, /fig3-push \| 3\.50 \| 1000 \| 3000 \| 3\.0 \| ~4x \|  \|/);
    assert.equal(row.note, undefined);
    assert.equal(samplesToReach([0, 1], [0, 0], 1), null);

    // A MAML that learns nothing (flat at its seed): X is its first value, and there is no ratio.
    const flat: RunSpec[] = [runs[0], { ...runs[1], config: { slope: 0 } }];
    await runFigure({ figure: 'fig5-door-sparse', scale: 'small', runs: flat, seeds: 2, outDir: dir, workers: 0 });
    const again = await writeReport(dir);
    const sparse = again.ratios.find((r) => r.figure === 'fig5-door-sparse')!;
    assert.equal(sparse.target, 0.5);
    assert.equal(sparse.ratio, null);
    assert.equal(sparse.note, 'MAML never rose above its first evaluation (0.50)');
    assert.match(again.markdown, /fig5-door-sparse \| 0\.50 \| 0 \| 0 \| — \| — \| MAML never rose/);
  });

  it('report: a table of the RL-trained experts of finished runs (samples, SAC curve at five rounds, final success); none without them', async () => {
    await runFigure({ figure: 'fig3-push', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0 });
    const none = await writeReport(dir);
    assert.deepEqual(none.experts, []);
    assert.doesNotMatch(none.markdown, /Experts trained by RL/);
    const withSac: RunSpec[] = [{ ...runs[0], config: { slope: 4, sacRounds: 9 } }];
    await runFigure({ figure: 'fig3-ant', scale: 'small', runs: withSac, seeds: 2, outDir: dir, workers: 0 });
    const report = await writeReport(dir);
    assert.deepEqual(report.experts.map((e) => [e.figure, e.id, e.seed, e.expertSamples, e.curve.length]), [['fig3-ant', 'gmps', 0, 907, 9], ['fig3-ant', 'gmps', 1, 907, 9]]);
    assert.match(report.markdown, /\| fig3-ant \| gmps \| 1 \| 907 \| 100 → 1\.0, 300 → 21\.0, 500 → 41\.0, 700 → 61\.0, 900 → 81\.0 \| 0\.89 \|/);
    assert.deepEqual(JSON.parse(await readFile(path.join(dir, 'report.json'), 'utf8')).experts, report.experts);
    await runFigure({ figure: 'fig5-ant-sparse', scale: 'small', runs: [{ ...runs[0], config: { slope: 4, sacRounds: 5, sacCurveKept: false } }], seeds: 1, outDir: dir, workers: 0 });
    const withOld = await writeReport(dir);
    const old = withOld.experts.find((e) => e.figure === 'fig5-ant-sparse')!;
    assert.deepEqual([old.curve, old.finalReturn, old.expertSamples], [[], 40, 507]);
    assert.match(withOld.markdown, /\| fig5-ant-sparse \| gmps \| 0 \| 507 \| last round 40\.0 \(curve not kept by this run\) \| — \|/);
  });

  it('every algorithm plots held-out tasks unless a run asks otherwise, and every training-curve run has held-out tasks', () => {
    assert.equal(curveKind({}), 'heldOut');
    assert.equal(curveKind({ curve: 'train' }), 'train');
    assert.throws(() => curveKind({ curve: 'test' }), /must be train, heldOut, fineTune or ood/);
    for (const f of FIGURES) {
      for (const scale of SCALES) {
        for (const r of figureSpec(f, scale).runs) {
          if (curveKind(r.config) !== 'heldOut' || r.algorithm === 'multitask-imitation') continue;
          assert.ok(Number(r.config.numHeldOut) >= 1, `${f} ${scale} ${r.algorithm}: numHeldOut ${String(r.config.numHeldOut)}`);
        }
      }
    }
  });

  it('every figure lists only registered algorithms, at every scale', () => {
    for (const f of FIGURES) {
      for (const scale of SCALES) {
        const spec = figureSpec(f, scale);
        assert.ok(spec.runs.length > 0);
        for (const r of spec.runs) assert.equal(getAlgorithm(r.algorithm).name, r.algorithm);
      }
    }
  });
});
