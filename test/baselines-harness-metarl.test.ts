import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import sinon from 'sinon';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/learning/backend.js';
import { getAlgorithm } from '../src/learning/experiment/algorithms.js';
import { FIGURES, figureSpec, SCALES, type Scale } from '../src/learning/experiment/figures.js';
import { readTrainConfig } from '../src/learning/meta-train.js';
import { runFigure, savedIterations } from '../src/learning/experiment/run.js';
import type { RunContext, RunResult, RunSpec } from '../src/learning/experiment/types.js';
import { createLocalSampler } from '../src/learning/sampler.js';
import type { Sampler } from '../src/learning/sampler.js';
import { experimentCli } from './helpers/experiment-cli.js';

/** Budgets of seconds: a few iterations on the 2-D point task. */
const task = { kind: 'point', envOptions: { horizon: 8 } };
const common = { numTasks: 3, numHeldOut: 2, iterations: 2, evalEvery: 1 };
const tiny: Record<string, Record<string, unknown>> = {
  pearl: {
    ...common, hidden: [16], encoderHidden: [16], latentDim: 2, metaBatch: 2, batchSize: 16, contextBatch: 8,
    initialEpisodesPerTask: 1, tasksPerIteration: 2, priorEpisodes: 1, posteriorEpisodes: 1, gradStepsPerIteration: 3,
  },
  rl2: { ...common, hidden: 8, trialsPerIteration: 3, episodesPerTrial: 2, envs: 2 },
  maesn: { ...common, hidden: [16], latentDim: 2, episodesPerTask: 2, metaBatch: 2 },
};
const NEW = ['pearl', 'rl2', 'maesn'] as const;

/**
 * Runs an algorithm of the registry directly on the point task with a context that records every
 * point and log line; `killAt`: the point call that throws, where it is called (as a kill would stop
 * the run there; the harness' own `point` never rejects).
 */
async function runDirect(a: string, config: Record<string, unknown>, workDir: string, killAt?: number) {
  const samplers: Sampler[] = [];
  const logs: string[] = [];
  let calls = 0;
  const point = sinon.spy((_p: { x: number; y: number }): Promise<void> => {
    if (++calls === killAt) throw new Error('killed');
    return Promise.resolve();
  });
  const ctx: RunContext = {
    seed: 0, workDir, point, log: (l) => void logs.push(l),
    openSampler: async (t) => {
      const smp = await createLocalSampler({ env: { kind: 'point', options: { ...task.envOptions, ...t?.envOptions, seed: 0 } }, nEnvs: 2 });
      samplers.push(smp);
      return smp;
    },
  };
  try {
    const curve = await getAlgorithm(a).run({ id: a, algorithm: a, task, config }, ctx);
    return { curve, points: point.getCalls().map((c) => c.args[0]), logs };
  } finally {
    await Promise.allSettled(samplers.map((smp) => smp.close()));
  }
}

describe('baselines: PEARL, RL² and MAESN in the experiment harness', function () {
  this.timeout(60000);
  let dir: string;
  before(() => initBackend({ log: null }));
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-harness-metarl-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const read = async (fig: string, id: string): Promise<RunResult> => JSON.parse(await readFile(path.join(dir, fig, `${id}-seed0.json`), 'utf8')) as RunResult;

  it('gmps with contextual SAC experts runs seed after seed in one process (each seed frees its experts)', async () => {
    const runs: RunSpec[] = [{
      id: 'gmps-sac', algorithm: 'gmps', task,
      config: { ...common, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 2, hidden: [16], expert: 'sac', sacSteps: 64, sacWarmup: 32, sacHidden: [16] },
    }];
    const st = await runFigure({ figure: 'figS', scale: 'small', runs, seeds: 2, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(st.map((s) => [s.seed, s.status, s.error]), [[0, 'ran', undefined], [1, 'ran', undefined]]);
    for (const seed of [0, 1]) {
      const r = JSON.parse(await readFile(path.join(dir, 'figS', `gmps-sac-seed${seed}.json`), 'utf8')) as RunResult;
      assert.ok((r.curve.extra?.expertSamples as number) >= 64, `seed ${seed}: the SAC experts' samples count`);
      // their training curve: a round of 2 envs × 8 steps each, the last one's return the final one
      const sac = r.curve.extra?.sacCurve as { envSteps: number; meanReturn: number; successRate: number }[];
      assert.deepEqual(sac.map((p) => p.envSteps), [16, 32, 48, 64], `seed ${seed}`);
      for (const p of sac) assert.ok(Number.isFinite(p.meanReturn) && p.successRate >= 0 && p.successRate <= 1);
      assert.equal(sac.at(-1)!.meanReturn, r.curve.extra?.sacFinalReturn);
    }
  });

  it('multitask-imitation clones contextual SAC experts (expert sac), counting their samples, and reuses experts a stopped start left', async () => {
    const config = { ...common, demosPerTask: 2, bcSteps: 20, adaptSteps: 1, adaptRollouts: 2, hidden: [16], expert: 'sac', sacSteps: 64, sacWarmup: 32, sacHidden: [16] };
    const work = path.join(dir, 'mti');
    const first = await runDirect('multitask-imitation', config, work);
    assert.ok(first.logs.some((l) => /^sac round 3: 64 steps/.test(l)), first.logs.join(' | '));
    const extra = first.curve.extra!;
    // 64 SAC steps, then 3 training tasks × 2 demos × 8 steps
    assert.equal(extra.expertSamples, 64 + 3 * 2 * 8);
    assert.equal((extra.sacCurve as unknown[]).length, 4);
    assert.deepEqual(first.curve.points.map((p) => p.x), [0, 1]);
    for (const p of first.curve.points) assert.ok(Number.isFinite(p.y) && p.y < 0, `${p.y}`);
    // Its experts stay in the work directory: a second start clones the same ones without training.
    const again = await runDirect('multitask-imitation', config, work);
    assert.ok(again.logs.some((l) => /multitask-imitation: SAC experts from .*sac-expert\.snapshot \(64 env steps/.test(l)), again.logs.join(' | '));
    assert.ok(!again.logs.some((l) => /^sac round/.test(l)));
    assert.deepEqual(again.curve, first.curve, 'the same experts, demos and fine-tuning');
    await assert.rejects(runDirect('multitask-imitation', { ...config, expert: 'pearl' }, path.join(dir, 'mti2')), /'expert' must be 'scripted' or 'sac', got "pearl"/);
  });

  it('each writes a sample-count curve of held-out returns, resumes, and gmps report lists it', async () => {
    const runs: RunSpec[] = NEW.map((a) => ({ id: a, algorithm: a, task, config: tiny[a] }));
    const first = await runFigure({ figure: 'figM', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(first.map((s) => [s.id, s.status, s.error]), NEW.map((a) => [a, 'ran', undefined]));
    const finished: Record<string, string> = {};
    for (const a of NEW) {
      const r = await read('figM', a);
      finished[a] = r.finishedAt;
      assert.equal(r.algorithm, a);
      assert.equal(r.curve.xAxis, 'envSamples');
      assert.equal(r.curve.points.length, 2, `${a}: one point per iteration (evalEvery 1)`);
      const [p0, p1] = r.curve.points;
      assert.ok(p0.x > 0 && p1.x > p0.x, `${a}: x counts meta-training samples and grows: ${p0.x}, ${p1.x}`);
      // Point-task returns are minus summed distances: negative, at most 8 steps of ~2.9 m.
      for (const p of r.curve.points) assert.ok(Number.isFinite(p.y) && p.y < 0 && p.y > -8 * 3, `${a}: return ${p.y}`);
      assert.ok(p0.success !== undefined && p0.success >= 0 && p0.success <= 1);
    }
    // The per-iteration snapshot served while PEARL ran; a finished run deletes it.
    assert.deepEqual((await readdir(path.join(dir, 'figM', 'work', 'pearl-seed0'))).filter((f) => f.endsWith('.snapshot')), []);
    // The x axis is the algorithm's own sample count: RL² trials are 3 trials × 2 episodes × 8 steps per iteration.
    assert.deepEqual((await read('figM', 'rl2')).curve.points.map((p) => p.x), [48, 96]);
    // MAESN: 2 tasks × 2 episodes × (pre + post) × 8 steps per iteration.
    assert.deepEqual((await read('figM', 'maesn')).curve.points.map((p) => p.x), [64, 128]);
    // PEARL: 3 tasks × 1 initial episode, then 2 tasks × (1 prior + 1 posterior) episodes, 8 steps each.
    assert.deepEqual((await read('figM', 'pearl')).curve.points.map((p) => p.x), [24 + 32, 24 + 64]);

    const again = await runFigure({ figure: 'figM', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(again.map((s) => s.status), ['skipped', 'skipped', 'skipped']);
    for (const a of NEW) assert.equal((await read('figM', a)).finishedAt, finished[a], `${a} was rerun`);

    const printed = await experimentCli(['report', '--dir', dir, '--json']);
    const report = JSON.parse(printed) as { figures: { figure: string; runs: { id: string; seeds: number; finalMean: number }[] }[] };
    const fig = report.figures.find((f) => f.figure === 'figM');
    assert.ok(fig, 'figM missing from the report');
    assert.deepEqual(fig.runs.map((r) => r.id).sort(), [...NEW].sort());
    for (const r of fig.runs) {
      const last = (await read('figM', r.id)).curve.points.at(-1)!.y;
      assert.equal(r.finalMean, last, `${r.id}: final mean of one seed is its last point`);
    }
    const names = await readdir(path.join(dir, 'figM'));
    assert.ok(names.includes('figM.svg'));
    assert.ok(!names.some((n) => n.includes('.partial')), `finished runs leave no partial curve: ${names.join(' ')}`);
  });

  it('every meta-training algorithm hands each point of its samples curve to the harness as it is measured', async () => {
    const configs: Record<string, Record<string, unknown>> = {
      ...tiny,
      gmps: { ...common, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 1, hidden: [8] },
      maml: { ...common, rolloutsPerTask: 2, metaBatchSize: 2, hidden: [8] },
      multitask: { ...common, rolloutsPerTask: 2, evalRollouts: 2, hidden: [8] },
    };
    for (const [a, config] of Object.entries(configs)) {
      const { curve, points } = await runDirect(a, config, path.join(dir, a));
      assert.ok(curve.points.length >= 2, `${a}: ${curve.points.length} points`);
      // Recorded while running, in order, and the same points as the finished curve.
      assert.deepEqual(points, curve.points, a);
    }
  });

  it('a long run stopped part-way (PEARL, MAML, MultiTask, GMPS) continues from its last iteration when started again, with the same curve as a run never stopped', async () => {
    const configs: Record<string, Record<string, unknown>> = {
      pearl: { ...tiny.pearl, iterations: 3 },
      maml: { ...common, iterations: 3, rolloutsPerTask: 2, metaBatchSize: 2, hidden: [8] },
      multitask: { ...common, iterations: 3, rolloutsPerTask: 2, evalRollouts: 2, hidden: [8] },
      gmps: { ...common, iterations: 3, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 1, hidden: [8] },
      // with contextual SAC experts: kept in the work directory, so the continued run labels with the same ones
      'gmps-sac': { ...common, iterations: 3, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 1, hidden: [8], dagger: true, expert: 'sac', sacSteps: 64, sacWarmup: 32, sacHidden: [16] },
    };
    for (const [name, config] of Object.entries(configs)) {
      const a = name === 'gmps-sac' ? 'gmps' : name;
      const attempt = (workDir: string, killAt?: number) => runDirect(a, config, workDir, killAt);
      const whole = await attempt(path.join(dir, `${a}-whole`));
      // PEARL evaluates after each of its 3 iterations; the others before each and after the last.
      assert.equal(whole.curve.points.length, a === 'pearl' ? 3 : 4, a);
      const work = path.join(dir, 'figK', 'work', `${a}-seed0`); // where the harness puts it
      await rm(work, { recursive: true, force: true });
      assert.equal(await savedIterations(dir, 'figK', a, 0), undefined, `${a}: nothing saved before it ran`);
      // Killed while handing over its third point, i.e. during the third iteration (after two were saved).
      await assert.rejects(attempt(work, 3), /killed/, a);
      assert.equal(await savedIterations(dir, 'figK', a, 0), 2, `${a}: gmps report says where it continues`);
      const again = await attempt(work);
      assert.ok(again.logs.some((l) => /continuing from the (snapshot|checkpoint) after iteration 2/.test(l)), `${a}: ${again.logs.join(' | ')}`);
      assert.deepEqual(again.curve.points, whole.curve.points, `${a}: the continued run's curve is the uninterrupted one`);
      assert.deepEqual(again.points, whole.curve.points, `${a}: the earlier points are handed to the harness again, then the new ones`);
      // Saved state of other settings is refused, naming what differs (GMPS keeps the sizes in its policy config).
      await assert.rejects(runDirect(a, { ...config, hidden: [4] }, work), a === 'gmps' ? /other settings \(policy\); delete it/ : /other settings \(hidden\); delete it/, a);
      if (name === 'gmps-sac') {
        assert.ok(again.logs.some((l) => /SAC experts from .*sac-expert\.snapshot \(64 env steps/.test(l)), again.logs.join(' | '));
        assert.ok(!again.logs.some((l) => /^sac round/.test(l)), 'the continued run does not train its experts again');
        assert.deepEqual(again.curve.extra, whole.curve.extra, 'expert samples, SAC return and SAC curve carried over');
        await assert.rejects(runDirect(a, { ...config, sacSteps: 80 }, work), /SAC expert run with other settings \(sacSteps\); delete it/);
      }
    }
  });

  it("each adapts on held-out tasks for the 'fineTune' curve (x = adaptation step)", async () => {
    const runs: RunSpec[] = NEW.map((a) => ({ id: a, algorithm: a, task, config: { ...tiny[a], iterations: 1, curve: 'fineTune', adaptSteps: 2 } }));
    const st = await runFigure({ figure: 'figF', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.deepEqual(st.map((s) => [s.id, s.status, s.error]), NEW.map((a) => [a, 'ran', undefined]));
    // PEARL: prior episodes, then posterior after 1 and 2 context episodes; MAESN: 0..2 inner steps;
    // RL²: the trial's 2 episodes.
    const expectedX: Record<string, number[]> = { pearl: [0, 1, 2], maesn: [0, 1, 2], rl2: [0, 1] };
    for (const a of NEW) {
      const r = await read('figF', a);
      assert.equal(r.curve.xAxis, 'adaptSteps');
      assert.deepEqual(r.curve.points.map((p) => p.x), expectedX[a], a);
      for (const p of r.curve.points) assert.ok(Number.isFinite(p.y) && p.y < 0, `${a}: ${p.y}`);
    }
  });

  it('rejects a wrongly typed algorithm setting with the key in the message', async () => {
    const runs: RunSpec[] = [{ id: 'rl2', algorithm: 'rl2', task, config: { ...tiny.rl2, hidden: [8, 8] } }];
    const [s] = await runFigure({ figure: 'figE', scale: 'small', runs, seeds: 1, outDir: dir, workers: 0 });
    assert.equal(s.status, 'failed');
    assert.match(s.error!, /RL² run config 'hidden' must be a number/);
  });

  it('MAML on the 200-step Ant takes its TRPO step in parts of 5 tasks (the heap); the harness passes tasksPerPart on', async () => {
    const mamlOf = (fig: (typeof FIGURES)[number], scale: Scale) => figureSpec(fig, scale).runs.find((r) => r.id === 'maml')!.config;
    for (const fig of ['fig3-ant', 'fig4-ant-ood', 'fig5-ant-sparse'] as const) {
      assert.equal(mamlOf(fig, 'small').tasksPerPart, undefined, `${fig}: horizon 50 at small`);
      for (const scale of ['medium', 'paper'] as const) assert.equal(mamlOf(fig, scale).tasksPerPart, 5, `${fig} ${scale}`);
    }
    for (const fig of ['fig3-push', 'fig5-door-sparse', 'fig5-vision-push'] as const) assert.equal(mamlOf(fig, 'medium').tasksPerPart, undefined, fig);
    const config = { ...common, iterations: 1, rolloutsPerTask: 2, metaBatchSize: 2, hidden: [8] };
    await assert.rejects(runDirect('maml', { ...config, tasksPerPart: 0 }, path.join(dir, 'parts')), /tasksPerPart must be an integer >= 1, got 0/);
  });

  it('the figures list them where the paper compares them, at every scale', () => {
    const ids = (f: (typeof FIGURES)[number], scale: Scale) => figureSpec(f, scale).runs.map((r) => r.algorithm);
    for (const scale of SCALES) {
      for (const f of ['fig3-push', 'fig3-ant'] as const) for (const a of ['pearl', 'rl2']) assert.ok(ids(f, scale).includes(a), `${f} ${scale}: ${a}`);
      assert.ok(ids('fig4-ant-ood', scale).includes('pearl'));
      for (const f of ['fig5-door-sparse', 'fig5-ant-sparse'] as const) for (const a of ['maesn', 'pearl', 'maml']) assert.ok(ids(f, scale).includes(a), `${f} ${scale}: ${a}`);
      for (const f of FIGURES) for (const r of figureSpec(f, scale).runs) getAlgorithm(r.algorithm);
    }
    const ood = figureSpec('fig4-ant-ood', 'small').runs.find((r) => r.algorithm === 'pearl')!;
    assert.equal(ood.config.curve, 'ood');
    // Paper budgets are larger than the small ones.
    const it = (scale: Scale, a: string) => figureSpec('fig3-ant', scale).runs.find((r) => r.algorithm === a)!.config.iterations as number;
    for (const a of ['pearl', 'rl2']) assert.ok(it('paper', a) > it('medium', a) && it('medium', a) > it('small', a));
  });

  it("gmps at 'medium' scale meta-trains with the shipped door checkpoint's settings (fixed σ 0.5, α₀ 0.25, clip 2, DAgger, pre-update imitation)", async () => {
    const medium = figureSpec('fig6-door', 'medium').runs.find((r) => r.algorithm === 'gmps')!.config;
    assert.deepEqual(
      [medium.initStd, medium.fixedStd, medium.stepSize, medium.isClip, medium.dagger, medium.preImitation, medium.rolloutsPerTask, medium.numTasks],
      [0.5, true, 0.25, 2, true, 1, 20, 20],
    );
    const knobs = { initStd: medium.initStd, fixedStd: true, stepSize: medium.stepSize, isClip: medium.isClip, dagger: true, preImitation: medium.preImitation, lr: 2e-3 };
    const runs: RunSpec[] = [{ id: 'gmps-knobs', algorithm: 'gmps', task, config: { ...common, iterations: 1, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 1, hidden: [8], ...knobs } }];
    const [st] = await runFigure({ figure: 'figK', scale: 'medium', runs, seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.equal(st.status, 'ran', st.error);
    const c = await readTrainConfig(path.join(dir, 'figK', 'work', 'gmps-knobs-seed0'));
    assert.deepEqual(
      [c.learnStd, c.isClip, c.dagger, c.preImitation, c.lr, c.policy.initStd, c.policy.initStepSize],
      [false, 2, true, 1, 2e-3, 0.5, 0.25],
    );
    // Left out, they stay GMPS's.
    const plain = await runFigure({ figure: 'figK', scale: 'small', runs: [{ ...runs[0], id: 'gmps-plain', config: { ...common, iterations: 1, rolloutsPerTask: 2, demosPerTask: 1, adamSteps: 1, hidden: [8] } }], seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.equal(plain[0].status, 'ran', plain[0].error);
    const p = await readTrainConfig(path.join(dir, 'figK', 'work', 'gmps-plain-seed0'));
    assert.deepEqual([p.learnStd ?? true, p.isClip, p.dagger, p.preImitation, p.policy.initStd ?? 1, p.policy.initStepSize], [true, undefined, false, undefined, 1, 0.5]);
    // A switch that is not a boolean is an error naming it, not silently off.
    const bad = await runFigure({ figure: 'figK', scale: 'small', runs: [{ ...runs[0], id: 'gmps-bad', config: { ...runs[0].config, dagger: 'yes' } }], seeds: 1, outDir: dir, workers: 0, envs: 2 });
    assert.match(String(bad[0].error), /run config 'dagger' must be true or false, got "yes"/);
  });
});
