import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/learning/backend.js';
import { inMemoryDemonstrations, expertDataset, labelWithExpert, rolloutExpert, scriptedExpert } from '../src/learning/expert.js';
import { Rng } from '../src/learning/rng.js';
import { ContextualSac, loadSacExpert, trainSac, type SacExpertMeta } from '../src/learning/sac.js';
import { readSnapshot, writeSnapshot } from '../src/learning/snapshot.js';
import { createLocalSampler, type Sampler } from '../src/learning/sampler.js';
import { succeeded, undiscountedReturn, type Trajectory } from '../src/learning/trajectory.js';
import { PointEnv } from '../sim/point.js';
import type { TaskParams } from '../sim/types.js';

const meanReturn = (trs: Trajectory[]) => trs.reduce((s, t) => s + undiscountedReturn(t), 0) / trs.length;

describe('learning-rl SAC and experts', function () {
  this.timeout(120000);
  let sampler: Sampler;
  let tasks: TaskParams[];
  before(async () => {
    await initBackend({ log: null });
    sampler = await createLocalSampler({ env: { kind: 'point', options: { horizon: 30 } }, nEnvs: 4 });
    const env = new PointEnv();
    const rng = new Rng(1);
    tasks = Array.from({ length: 8 }, () => env.sampleTask(rng.asFunction()));
  });
  after(async () => sampler.close());

  it('contextual SAC learns the point task: return rises clearly within a fixed budget', async () => {
    const budget = 720;
    const ratio = 1;
    const { agent, history } = await trainSac({
      sampler,
      tasks,
      envSteps: budget,
      config: { hidden: [64, 64], batchSize: 64, warmupSteps: 240, gradStepsPerEnvStep: ratio, initialAlpha: 0.1, actorLr: 1e-3, criticLr: 1e-3, alphaLr: 1e-3, seed: 1 },
    });
    try {
      assert.equal(agent.envSteps, budget);
      // updates start with the round that completes the 240-step warm-up (rounds of 4 x 30 steps)
      assert.equal(agent.gradSteps, Math.floor((budget - 120) * ratio));
      const random = (history[0].meanReturn + history[1].meanReturn) / 2;
      // deterministic evaluation of the learned expert on every training task
      const evalTrajs = (await rolloutExpert(sampler, agent, tasks, 1)).flat();
      const learned = meanReturn(evalTrajs);
      const scripted = meanReturn((await rolloutExpert(sampler, scriptedExpert, tasks, 1)).flat());
      console.log(`      return: random ${random.toFixed(2)}, learned ${learned.toFixed(2)}, scripted ${scripted.toFixed(2)}, successes ${evalTrajs.filter(succeeded).length}/8`);
      assert.ok(learned > random + 0.5 * (scripted - random), `return ${learned.toFixed(2)} vs random ${random.toFixed(2)}, scripted ${scripted.toFixed(2)}`);
      assert.ok(evalTrajs.filter(succeeded).length >= 5, 'reaches most goals');
      // labels from stored states equal the actions it executed in those states
      const labelled = await labelWithExpert(agent, evalTrajs.slice(0, 2));
      for (const tr of labelled) {
        for (let i = 0; i < tr.actions.length; i++) assert.ok(Math.abs(tr.expertActions![i] - tr.actions[i]) < 1e-5);
      }
    } finally {
      agent.dispose();
    }
  });

  it('training stopped part-way continues from its snapshot to the same agent as a run never stopped; the snapshot goes when training ends', async () => {
    const config = { hidden: [16, 16], batchSize: 32, warmupSteps: 120, seed: 5 };
    const states = new Float32Array(Array.from({ length: 4 * 2 }, (_, i) => Math.cos(i)));
    const contexts = Array.from({ length: 4 }, (_, i) => Float64Array.of(0.3 * i - 0.5, -0.2));
    const fresh = () => createLocalSampler({ env: { kind: 'point', options: { horizon: 30 } }, nEnvs: 4 });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-sac-train-'));
    const file = path.join(dir, 'sac-training.snapshot');
    const run = async (onRound?: (r: number) => void) => {
      const smp = await fresh();
      try {
        return await trainSac({ sampler: smp, tasks, envSteps: 480, config, snapshot: { file }, onRound: (st) => onRound?.(st.round) });
      } finally {
        await smp.close();
      }
    };
    try {
      const whole = await run();
      const want = await whole.agent.label(states, contexts);
      const wantSteps = [whole.agent.envSteps, whole.agent.gradSteps];
      whole.agent.dispose();
      assert.ok(!existsSync(file), 'no snapshot left by a finished training');
      // stopped in its 3rd round (after the 2nd round's snapshot), past the warm-up
      await assert.rejects(run((r) => {
        if (r === 2) throw new Error('killed');
      }), /killed/);
      assert.ok(existsSync(file));
      const seen: number[] = [];
      const again = await run((r) => void seen.push(r));
      try {
        assert.deepEqual([again.agent.envSteps, again.agent.gradSteps], wantSteps);
        assert.deepEqual(again.history.map((h) => h.round), [0, 1, 2, 3], 'the rounds before the stop are kept in the history');
        // The same actor up to float32 rounding: tfjs Adam's setWeights recomputes β^t with pow(), where
        // the uninterrupted optimiser had multiplied it up step by step (a difference in the last bits).
        const got = await again.agent.label(states, contexts);
        const diff = Math.max(...Array.from(got, (v, i) => Math.abs(v - want[i])));
        assert.ok(diff < 1e-5, `the same actor as the run never stopped (max difference ${diff})`);
        assert.deepEqual(seen, [2, 3], 'it ran only the rounds after the snapshot');
      } finally {
        again.agent.dispose();
      }
      // a snapshot of another training is refused, naming what differs
      await assert.rejects(run((r) => {
        if (r === 2) throw new Error('killed');
      }), /killed/);
      const smp = await fresh();
      try {
        await assert.rejects(trainSac({ sampler: smp, tasks, envSteps: 480, config: { ...config, hidden: [8] }, snapshot: { file } }), /other settings \(hidden\)/);
        await assert.rejects(trainSac({ sampler: smp, tasks: tasks.slice(1), envSteps: 480, config, snapshot: { file } }), /written for 8 tasks, this run has 7/);
        await assert.rejects(trainSac({ sampler: smp, tasks, envSteps: 600, config, snapshot: { file } }), /a SAC training of 480 env steps, this one has 600/);
      } finally {
        await smp.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a SAC expert snapshot restores an agent that labels exactly as the trained one; a damaged or foreign one is refused', async () => {
    const { agent } = await trainSac({ sampler, tasks, envSteps: 240, config: { hidden: [16, 16], batchSize: 32, warmupSteps: 120, seed: 3 } });
    const states = new Float32Array(Array.from({ length: 5 * 2 }, (_, i) => Math.sin(i)));
    const contexts = Array.from({ length: 5 }, (_, i) => Float64Array.of(0.2 * i - 0.4, 0.3)); // goals
    let want: Float32Array;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-sac-expert-'));
    const file = path.join(dir, 'sac-expert.snapshot');
    try {
      want = await agent.label(states, contexts);
      await writeSnapshot(file, agent.expertSnapshot({ note: 'kept' }));
      assert.ok(agent.gradSteps > 0);
    } finally {
      agent.dispose(); // its variables are named: the restored agent registers the same names
    }
    const snap = await readSnapshot<SacExpertMeta>(file, 'sac-expert');
    const back = ContextualSac.fromExpertSnapshot(snap);
    try {
      assert.deepEqual(Array.from(await back.label(states, contexts)), Array.from(want));
      assert.equal(back.envSteps, 240);
      assert.deepEqual(snap.meta.extra, { note: 'kept' });
      assert.equal(back.replay.capacity, 1, 'an expert that only acts holds no replay memory');
    } finally {
      back.dispose();
    }
    assert.throws(() => ContextualSac.fromExpertSnapshot({ ...snap, kind: 'pearl' }, file), /holds a 'pearl', not a SAC expert/);
    assert.throws(() => ContextualSac.fromExpertSnapshot({ ...snap, arrays: {} }, file), /actor/);
    await assert.rejects(loadSacExpert(file, { stateDim: 3, contextDim: 2, actionDim: 2 }), /holds a SAC expert for state, context, action sizes 2, 2, 2; these envs have 3, 2, 2/);
    const bytes = await readFile(file);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(file, bytes);
    await assert.rejects(readSnapshot(file, 'sac-expert'), /delete it to start the run over/);
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls out the scripted expert into D* and labels visited states for aggregation', async () => {
    const dStar = await rolloutExpert(sampler, scriptedExpert, tasks.slice(0, 3), 2);
    assert.equal(dStar.length, 3);
    for (const group of dStar) {
      assert.equal(group.length, 2);
      for (const tr of group) {
        assert.ok(succeeded(tr));
        assert.deepEqual([...tr.actions], [...tr.expertActions!]);
      }
    }
    // states visited by another policy, labelled by the env's expert at sampling time
    const visited = (await sampler.sample({ tasks: tasks.slice(0, 2), rolloutsPerTask: 1, queryExpert: true, act: (b) => ({ actions: b.observations.map(() => Float32Array.of(0.3, -0.3)) }) })).flat();
    const labelled = await labelWithExpert(scriptedExpert, visited);
    assert.ok(labelled[0].expertActions!.some((v, i) => v !== labelled[0].actions[i]));
    const unlabelled = (await sampler.sample({ tasks: tasks.slice(0, 1), rolloutsPerTask: 1, act: (b) => ({ actions: b.observations.map(() => Float32Array.of(0, 0)) }) })).flat();
    await assert.rejects(labelWithExpert(scriptedExpert, unlabelled), /queryExpert: true/);
  });

  it('serves recorded demonstrations through the same dataset call', async () => {
    const demos = (await rolloutExpert(sampler, scriptedExpert, tasks.slice(0, 2), 2)).flat();
    const source = inMemoryDemonstrations(demos);
    assert.equal(source.tasks().length, 2);
    const data = await expertDataset(source, [tasks[1], tasks[0]]);
    assert.deepEqual(data[0].map((t) => t.task), [tasks[1], tasks[1]]);
    assert.throws(() => source.demos(tasks[5]), /no demonstrations for task point:/);
  });

  it('gmps bench sac-update prints the milliseconds per gradient step at the given sizes', async () => {
    const { benchSacUpdate } = await import('../src/cli/commands/learning-bench.js');
    const r = await benchSacUpdate({ updates: '2', warmup: '1', task: 'point', hidden: '16-16' });
    assert.deepEqual([r.task, r.input_dim, r.action_dim, r.hidden, r.batch_size, r.updates], ['point', 4, 2, '16-16', 256, 2]);
    assert.ok((r.ms_per_update as number) > 0 && Number.isFinite(r.ms_per_update as number), String(r.ms_per_update));
    await assert.rejects(benchSacUpdate({ updates: '2', warmup: '1', task: 'door', hidden: '16' }), /--task must be ant or point, got 'door'/);
    await assert.rejects(benchSacUpdate({ updates: '0', warmup: '1', task: 'point', hidden: '16' }), /--updates must be a positive integer, got '0'/);
  });

  it('rejects bad SAC configs with a clear message', () => {
    assert.throws(() => new ContextualSac({ stateDim: 2, contextDim: 2, actionDim: 2 }, { batchSize: 0 }), /batchSize must be a positive integer/);
  });
});
