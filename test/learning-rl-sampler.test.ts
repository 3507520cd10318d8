import assert from 'node:assert/strict';
import { createLocalSampler, createSampler, type ActFn, type Sampler } from '../src/learning/sampler.js';
import { Rng } from '../src/learning/rng.js';
import type { TaskParams } from '../sim/types.js';
import type { EnvSpec } from '../src/learning/worker/spec.js';

const tasks: TaskParams[] = [
  { kind: 'point', goal: [0.5, 0.5] },
  { kind: 'point', goal: [-0.7, 0.2] },
  { kind: 'point', goal: [0.1, -0.9] },
];
const spec: EnvSpec = { kind: 'point', options: { seed: 11, initNoise: 0.05, horizon: 12, camera: { width: 8, height: 6 } } };

/** A seeded Gaussian "policy" that also records a mean and log-std like a GMPS policy does. */
function gaussianAct(seed: number): ActFn {
  const rng = new Rng(seed);
  return (b) => {
    const n = b.observations.length;
    const mean = new Float32Array(n * 2);
    const actions = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      for (let d = 0; d < 2; d++) {
        mean[i * 2 + d] = 0.3 * b.observations[i].state[d];
        actions[i * 2 + d] = mean[i * 2 + d] + 0.5 * rng.normal();
      }
    }
    return { actions, agentInfos: { mean, logStd: b.observations.map(() => Float32Array.of(Math.log(0.5), Math.log(0.5))) } };
  };
}

describe('learning-rl sampler', function () {
  this.timeout(30000);
  const open: Sampler[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('samples K fixed-horizon rollouts per task with states, hands, images, actions, rewards, infos', async () => {
    const s = await createLocalSampler({ env: spec, nEnvs: 4 });
    open.push(s);
    assert.equal(s.info.horizon, 12);
    const out = await s.sample({ tasks, rolloutsPerTask: 3, act: gaussianAct(1), queryExpert: true });
    assert.equal(out.length, 3);
    out.forEach((group, i) => {
      assert.equal(group.length, 3);
      for (const tr of group) {
        assert.deepEqual(tr.task, tasks[i]);
        assert.deepEqual([...tr.context], tasks[i].kind === 'point' ? tasks[i].goal : []);
        assert.equal(tr.length, 12);
        assert.equal(tr.terminated, true);
        assert.equal(tr.states.length, 24);
        assert.equal(tr.hands.length, 36);
        assert.equal(tr.images!.length, 12 * 6 * 8 * 3);
        assert.deepEqual(tr.imageShape, { height: 6, width: 8 });
        assert.equal(tr.actions.length, 24);
        assert.equal(tr.agentInfos.mean.length, 24);
        assert.equal(tr.agentInfos.logStd.length, 24);
        assert.equal(tr.expertActions!.length, 24);
        assert.equal(tr.envInfos.success.length, 12);
        assert.equal(tr.envInfos.distance.length, 12);
        // reward is −distance after each step (dense point task)
        for (let t = 0; t < 12; t++) assert.ok(Math.abs(tr.rewards[t] + tr.envInfos.distance[t]) < 1e-12);
        // the point's hand is its position
        assert.deepEqual([...tr.hands.slice(0, 2)], [...tr.states.slice(0, 2)]);
        // the state after step t is the state recorded at t+1: position moves by 0.1·clip(a)
        for (let d = 0; d < 2; d++) {
          const a = Math.min(1, Math.max(-1, tr.actions[d]));
          assert.ok(Math.abs(tr.states[2 + d] - (tr.states[d] + 0.1 * a)) < 1e-6);
        }
      }
    });
  });

  it('is deterministic: same seeds give identical trajectories, different policy seeds differ', async () => {
    const a = await createLocalSampler({ env: spec, nEnvs: 3 });
    const b = await createLocalSampler({ env: spec, nEnvs: 3 });
    open.push(a, b);
    const ra = await a.sample({ tasks, rolloutsPerTask: 2, act: gaussianAct(7) });
    const rb = await b.sample({ tasks, rolloutsPerTask: 2, act: gaussianAct(7) });
    assert.deepEqual(ra, rb);
    const rc = await b.sample({ tasks, rolloutsPerTask: 2, act: gaussianAct(8) });
    assert.notDeepEqual(ra[0][0].actions, rc[0][0].actions);
  });

  it('worker sampler gives exactly the same trajectories as the same-thread sampler', async () => {
    const local = await createLocalSampler({ env: spec, nEnvs: 5 });
    const workers = await createSampler({ env: spec, nEnvs: 5, nWorkers: 2 });
    open.push(local, workers);
    assert.equal(workers.info.nWorkers, 2);
    const req = { tasks, rolloutsPerTask: 3, queryExpert: true };
    const rl = await local.sample({ ...req, act: gaussianAct(3) });
    const rw = await workers.sample({ ...req, act: gaussianAct(3) });
    assert.deepEqual(rw, rl);
    // start noise differs per slot (seed + slot), so slots are not copies of each other
    assert.notDeepEqual(rl[0][0].states.slice(0, 2), rl[0][1].states.slice(0, 2));
    // a second request on the same workers works too
    const again = await workers.sample({ ...req, act: gaussianAct(3) });
    assert.equal(again.length, 3);
  });

  it('propagates an env error from a worker and refuses later requests', async () => {
    const s = await createSampler({ env: spec, nEnvs: 4, nWorkers: 2 });
    open.push(s);
    const act: ActFn = (b) => ({ actions: b.observations.map((_, i) => Float32Array.of(b.t === 3 && i === 3 ? Number.NaN : 0, 0)) });
    await assert.rejects(s.sample({ tasks, rolloutsPerTask: 2, act }), /env worker 1 .*action\[0\] is NaN/);
    await assert.rejects(s.sample({ tasks, rolloutsPerTask: 2, act: gaussianAct(1) }), /unusable after an env failure: .*NaN/);
  });

  it('reports a worker that crashes or exits while building its envs', async () => {
    const throwing = 'data:text/javascript,export function createEnv(){ setTimeout(() => { throw new Error("boom in env"); }); return new Promise(() => {}); }';
    await assert.rejects(createSampler({ env: { kind: 'point', factoryModule: throwing }, nEnvs: 2, nWorkers: 2 }), /env worker \d crashed: boom in env/);
    const exiting = 'data:text/javascript,export function createEnv(){ process.exit(3); }';
    await assert.rejects(createSampler({ env: { kind: 'point', factoryModule: exiting }, nEnvs: 2, nWorkers: 2 }), /exited unexpectedly with code 3/);
    await assert.rejects(
      createSampler({ env: { kind: 'point', factoryModule: 'file:///nonexistent/env-factory.js' }, nEnvs: 2, nWorkers: 1 }),
      /cannot load the env factory module file:\/\/\/nonexistent/,
    );
  });

  it('rejects malformed act output with a clear message', async () => {
    const s = await createLocalSampler({ env: spec, nEnvs: 2 });
    open.push(s);
    await assert.rejects(s.sample({ tasks, rolloutsPerTask: 1, act: () => ({ actions: [Float32Array.of(0, 0, 0)] }) }), /act returned 1 action rows for 2 envs/);
  });
});
