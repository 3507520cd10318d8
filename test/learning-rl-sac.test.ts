import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { initBackend } from '../src/learning/backend.js';
import { inMemoryDemonstrations, expertDataset, labelWithExpert, rolloutExpert, scriptedExpert } from '../src/learning/expert.js';
import { Rng } from '../src/learning/rng.js';
import { ContextualSac, trainSac, type SacExpertMeta } from '../src/learning/sac.js';
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

  it('rejects bad SAC configs with a clear message', () => {
    assert.throws(() => new ContextualSac({ stateDim: 2, contextDim: 2, actionDim: 2 }, { batchSize: 0 }), /batchSize must be a positive integer/);
  });
});
