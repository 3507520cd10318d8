import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { initBackend } from '../src/learning/backend.js';
import { disposeLoaded, loadCheckpoint } from '../src/learning/meta-train.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

describe('gmps meta-train / adapt / eval CLI', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    await initBackend({ backend: 'cpu', log: null });
    dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-cli-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('meta-trains a tiny point policy, then adapt --json prints { steps: [{ step, return, success }], expertReturn }', async () => {
    const out = path.join(dir, 'pt');
    const common = ['--workers', '0', '--backend', 'cpu', '--json'];
    const mt = await run('node', [...CLI, 'meta-train', '--task', 'point', '--out', out, '--tasks', '2', '--held-out', '1', '--rollouts', '3', '--demos', '1', '--iterations', '1', '--adam-steps', '2', '--hidden', '8', ...common]);
    const summary = JSON.parse(mt.stdout.trim());
    assert.equal(summary.iterations, 1);
    assert.equal(summary.checkpoint, path.join(out, 'model.json'));

    const ad = await run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', '0.4,-0.3', '--steps', '2', '--rollouts', '3', ...common]);
    const lines = ad.stdout.trim().split('\n');
    assert.equal(lines.length, 1, 'one JSON line on stdout');
    const res = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(res).sort(), ['expertReturn', 'steps']);
    assert.deepEqual(res.steps.map((s: { step: number }) => s.step), [0, 1, 2]);
    for (const s of res.steps) {
      assert.deepEqual(Object.keys(s).sort(), ['exploreReturn', 'exploreSuccess', 'outcome', 'return', 'step', 'success']);
      assert.ok(Number.isFinite(s.return) && s.success >= 0 && s.success <= 1);
      // where the episodes ended: the point's final distance to its goal, for the evaluation and the exploration rollouts
      const o = s.outcome;
      assert.equal(o.name, 'final distance to goal');
      assert.ok(o.value >= 0 && 0 <= o.explore.min && o.explore.min <= o.explore.median && o.explore.median <= o.explore.max, JSON.stringify(o));
    }
    assert.ok(res.expertReturn > res.steps[0].return, 'the scripted expert beats the untrained meta-policy');

    // --later-step-size: the first step is the learned one (same seed, same step 1), the later ones plain steps
    const adPlain = await run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', '0.4,-0.3', '--steps', '2', '--rollouts', '3', '--later-step-size', '1e-9', ...common]);
    const plain = JSON.parse(adPlain.stdout.trim());
    assert.equal(plain.steps[1].return, res.steps[1].return);
    assert.ok(Math.abs(plain.steps[2].return - plain.steps[1].return) < 1e-3, 'a 1e-9 later step keeps the one-step policy');
    await assert.rejects(
      run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', '0.4,-0.3', '--later-step-size', '0.001', '--later-step-scale', '0.25', ...common]),
      (err: { stderr: string }) => /give --later-step-scale .* or --later-step-size .*, not both/.test(err.stderr),
    );

    // --std-scale: the exploration rollouts of each step with σ x1e-6 all end in the same place; the step still runs
    const still = JSON.parse((await run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', '0.4,-0.3', '--steps', '1', '--rollouts', '3', '--std-scale', '1e-6', ...common])).stdout.trim());
    const spread = (r: { steps: Array<{ outcome: { explore: { min: number; max: number } } }> }) => r.steps[0].outcome.explore.max - r.steps[0].outcome.explore.min;
    assert.ok(spread(res) > 1e-3, `σ x1: exploration ends spread over ${spread(res)}`);
    assert.ok(spread(still) < 1e-4, `σ x1e-6: exploration ends spread over ${spread(still)}`);
    await assert.rejects(
      run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', '0.4,-0.3', '--std-scale', '0', ...common]),
      (err: { stderr: string }) => /--std-scale must be a number > 0/.test(err.stderr),
    );

    const ev = await run('node', [...CLI, 'eval', '--checkpoint', out, '--rollouts', '3', ...common]);
    const e = JSON.parse(ev.stdout.trim());
    assert.equal(e.tasks, 1);
    for (const k of ['preReturn', 'postReturn', 'postSuccess', 'expertReturn']) assert.ok(Number.isFinite(e[k]), k);

    // --tasks N: N fresh tasks from the task distribution (seeded), each with its own expert return
    const fresh = async (taskSeed: string) =>
      JSON.parse((await run('node', [...CLI, 'eval', '--checkpoint', out, '--rollouts', '2', '--tasks', '3', '--task-seed', taskSeed, ...common])).stdout.trim());
    const f = await fresh('5');
    assert.equal(f.tasks, 3);
    assert.equal(f.perTask.length, 3);
    const heldOutGoal = JSON.stringify(e.perTask[0].task.goal);
    assert.ok(f.perTask.every((t: { task: { goal: number[] }; expertReturn: number }) => JSON.stringify(t.task.goal) !== heldOutGoal && Number.isFinite(t.expertReturn)));
    assert.deepEqual((await fresh('5')).perTask.map((t: { task: unknown }) => t.task), f.perTask.map((t: { task: unknown }) => t.task), 'same seed, same tasks');
    assert.notDeepEqual((await fresh('6')).perTask.map((t: { task: unknown }) => t.task), f.perTask.map((t: { task: unknown }) => t.task));

    // adapt --tasks N: the same fresh tasks as eval's draw, task i sampled with --seed + i, the means per step
    const many = JSON.parse((await run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--tasks', '2', '--task-seed', '5', '--steps', '1', '--rollouts', '3', '--seed', '4', ...common])).stdout.trim());
    assert.equal(many.tasks, 2);
    assert.deepEqual(many.perTask.map((t: { task: unknown }) => t.task), f.perTask.slice(0, 2).map((t: { task: unknown }) => t.task));
    assert.deepEqual(many.perTask.map((t: { seed: number }) => t.seed), [4, 5]);
    const g = many.perTask[1].task.goal as number[];
    const single = JSON.parse((await run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--goal', `${g[0]},${g[1]}`, '--steps', '1', '--rollouts', '3', '--seed', '5', ...common])).stdout.trim());
    assert.deepEqual(many.perTask[1].steps, single.steps.map((s: { step: number; return: number; success: number }) => ({ step: s.step, return: s.return, success: s.success })));
    for (const k of [0, 1]) {
      const m = (many.perTask[0].steps[k].return + many.perTask[1].steps[k].return) / 2;
      assert.ok(Math.abs(many.steps[k].return - m) < 1e-9, `step ${k}: the mean over the tasks`);
    }
    await assert.rejects(
      run('node', [...CLI, 'adapt', '--checkpoint', out, '--task', 'point', '--tasks', '2', '--goal', '0.4,-0.3', ...common]),
      (err: { stderr: string }) => /give --tasks n .* or one task .*, not both/.test(err.stderr),
    );
  });

  it('export: a checkpoint without D* and Adam state that adapts and evaluates the same, and refuses to resume', async () => {
    const out = path.join(dir, 'exp-src');
    const shipped = path.join(dir, 'exp-dst');
    const common = ['--workers', '0', '--backend', 'cpu', '--json'];
    await run('node', [...CLI, 'meta-train', '--task', 'point', '--out', out, '--tasks', '2', '--held-out', '1', '--rollouts', '3', '--demos', '2', '--iterations', '1', '--adam-steps', '2', '--hidden', '8', ...common]);
    const ex = await run('node', [...CLI, 'export', '--checkpoint', out, '--out', shipped, '--backend', 'cpu']);
    assert.equal(ex.stdout.trim(), path.join(shipped, 'model.json'));
    const weights = async (d: string) => {
      const m = JSON.parse(await readFile(path.join(d, 'model.json'), 'utf8'));
      return { names: m.weightsManifest[0].weights.map((w: { name: string }) => w.name) as string[], bytes: (await stat(path.join(d, m.weightsManifest[0].paths[0]))).size };
    };
    const [a, b] = [await weights(out), await weights(shipped)];
    assert.ok(a.names.some((n) => n.startsWith('extra/demos/')) && a.names.some((n) => n.startsWith('adam/')));
    assert.deepEqual(b.names, a.names.filter((n) => !n.startsWith('extra/') && !n.startsWith('adam/')), 'θ and α only');
    assert.ok(b.bytes < a.bytes);
    const evalOf = async (d: string) => JSON.parse((await run('node', [...CLI, 'eval', '--checkpoint', d, '--rollouts', '3', ...common])).stdout.trim());
    assert.deepEqual(await evalOf(shipped), await evalOf(out), 'same θ and α, same evaluation');
    await assert.rejects(
      run('node', [...CLI, 'meta-train', '--task', 'point', '--out', shipped, '--resume', '--iterations', '2', ...common]),
      (err: { stderr: string }) => /exported for adaptation and evaluation \(gmps export\), not for resuming/.test(err.stderr),
    );
    await assert.rejects(run('node', [...CLI, 'export', '--checkpoint', out, '--out', out]), (err: { stderr: string }) => /--out must differ from --checkpoint/.test(err.stderr));

    // Meta-training the exported checkpoint on with a new σ and scaled step sizes; the model records both.
    const quiet = path.join(dir, 'exp-quiet');
    await run('node', [...CLI, 'meta-train', '--task', 'point', '--init-from', shipped, '--set-std', '0.3', '--scale-step-sizes', '0.36', '--fixed-std', '--out', quiet,
      '--iterations', '2', '--adam-steps', '2', '--rollouts', '3', '--demos', '2', ...common]);
    const q = await loadCheckpoint(quiet);
    try {
      assert.equal(q.state.config.initFrom?.std, 0.3);
      assert.equal(q.state.config.initFrom?.stepSizeScale, 0.36);
      for (const x of q.params.logStd.dataSync()) assert.ok(Math.abs(x - Math.log(0.3)) < 1e-6, 'σ set and kept fixed');
    } finally {
      disposeLoaded(q);
    }
  });

  it('rejects bad input with what to fix', async () => {
    await assert.rejects(run('node', [...CLI, 'adapt', '--checkpoint', path.join(dir, 'missing'), '--task', 'door', '--target-deg', '30', '--workers', '0']), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /cannot read checkpoint/);
      return true;
    });
    await assert.rejects(run('node', [...CLI, 'adapt', '--checkpoint', 'x', '--task', 'door', '--target-deg', '75']), (err: { stderr: string }) => /outside \[0, 60\]/.test(err.stderr));
    await assert.rejects(
      run('node', [...CLI, 'meta-train', '--task', 'point', '--set-std', '0.3', '--out', path.join(dir, 'never'), '--workers', '0', '--backend', 'cpu']),
      (err: { stderr: string }) => /--set-std and --scale-step-sizes change the checkpoint a run starts from: give --init-from/.test(err.stderr),
    );
  });

  it('SAC experts: train-experts saves them, meta-train --sac-expert uses them, a run keeps its own and --resume continues with them', async () => {
    const common = ['--workers', '0', '--backend', 'cpu', '--json'];
    const experts = path.join(dir, 'sac', 'point-experts.snapshot');
    const te = await run('node', [...CLI, 'train-experts', '--task', 'point', '--expert', 'sac', '--tasks', '2', '--demos', '1', '--sac-steps', '100', '--envs', '2', '--out', experts, ...common]);
    const trained = JSON.parse(te.stdout.trim());
    assert.equal(trained.file, experts);
    assert.ok((await stat(experts)).size > 0);
    await assert.rejects(stat(`${experts}.training`), 'the training snapshot goes when training ends');

    const train = ['meta-train', '--task', 'point', '--tasks', '2', '--held-out', '1', '--rollouts', '2', '--demos', '1', '--adam-steps', '1', '--hidden', '8', '--expert', 'sac', '--dagger', '--envs', '2'];
    const a = path.join(dir, 'sac', 'a');
    const used = await run('node', [...CLI, ...train, '--out', a, '--iterations', '1', '--sac-expert', experts, ...common]);
    assert.match(used.stderr, /contextual SAC experts from .*point-experts\.snapshot \(10\d env steps of training\)/);
    assert.doesNotMatch(used.stderr, /training contextual SAC/);
    assert.ok((await stat(path.join(a, 'sac-expert.snapshot'))).size > 0, 'the run keeps a copy of its experts');

    const b = path.join(dir, 'sac', 'b');
    const own = await run('node', [...CLI, ...train, '--out', b, '--iterations', '1', '--sac-steps', '100', ...common]);
    assert.match(own.stderr, /training contextual SAC experts for 100 env steps/);
    const resumed = await run('node', [...CLI, ...train, '--out', b, '--iterations', '2', '--resume', ...common]);
    assert.match(resumed.stderr, new RegExp(`contextual SAC experts from ${path.join(b, 'sac-expert.snapshot').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`));
    assert.equal(JSON.parse(resumed.stdout.trim()).iterations, 2);

    await assert.rejects(run('node', [...CLI, ...train, '--out', path.join(dir, 'sac', 'c'), '--sac-expert', path.join(dir, 'nope.snapshot'), ...common]), (err: { stderr: string }) => /--sac-expert .*nope\.snapshot: no such file/.test(err.stderr));
    await assert.rejects(run('node', [...CLI, ...train, '--out', path.join(dir, 'sac', 'c'), '--expert', 'scripted', '--sac-expert', experts, ...common]), (err: { stderr: string }) => /--sac-expert gives trained SAC experts, which --expert scripted does not use/.test(err.stderr));
  });
});
