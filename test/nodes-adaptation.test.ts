import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sinon from 'sinon';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { toAdaptBatch } from '../src/learning/advantages.js';
import { adaptStep } from '../src/learning/gmps.js';
import { disposeParams, scaleParams, type Params } from '../src/learning/policy/index.js';
import { loadInferencePolicy, type InferencePolicy } from '../src/learning/policy-runner.js';
import { Rng } from '../src/learning/rng.js';
import type { Trajectory } from '../src/learning/trajectory.js';
import adaptationNode from '../nodes/adaptation.js';
import { quietRuntime, record, until } from './helpers/nodes-graph.js';
import { writeTestCheckpoint } from './nodes-policy-checkpoint.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('nodes: adaptation', function () {
  this.timeout(30000);
  let ck: string;
  let rt: InProcessRuntime | undefined;
  let running: RunningNode | undefined;
  let ref: InferencePolicy | undefined;
  let stdout: sinon.SinonStub | undefined;
  before(async () => {
    ck = await writeTestCheckpoint('state', 5);
  });
  afterEach(async () => {
    stdout?.restore();
    await running?.stop();
    await rt?.shutdown();
    ref?.dispose();
    running = rt = ref = stdout = undefined;
  });

  /**
   * Stands in for policy, simulator and reward nodes: on each reset it plays `horizon` recorded steps of
   * random observations and actions with the armed trial's id, each followed by a reward and success flag.
   */
  function fakeGraph(horizon: number, publishAngles = true) {
    const fake = rt!.createNode('fake');
    const stepPub = fake.createPublisher('gmps_msgs/msg/PolicyStep', '/policy/steps');
    const rewardPub = fake.createPublisher('std_msgs/msg/Float64', '/reward');
    const successPub = fake.createPublisher('std_msgs/msg/Bool', '/success');
    const anglePub = fake.createPublisher('std_msgs/msg/Float64', '/door_angle');
    const rng = new Rng('fake-graph');
    const trials: Array<{ obs: number[][]; actions: number[][]; rewards: number[]; success: boolean[]; angles: number[]; version: number; deterministic: boolean }> = [];
    let armed: { trial: number; version: number; deterministic: boolean } | undefined;
    fake.createService('gmps_msgs/srv/StartTrial', '/policy/start_trial', (req: Msg) => {
      armed = { trial: req.trial, version: req.params_version, deterministic: req.deterministic };
      return { success: true, message: '' };
    });
    fake.createService('gmps_msgs/srv/ResetEpisode', '/sim/reset_episode', (req: Msg) => {
      assert.ok(Math.abs(req.target_rad - (25 * Math.PI) / 180) < 1e-12);
      const a = armed!;
      armed = undefined;
      const t = { obs: [] as number[][], actions: [] as number[][], rewards: [] as number[], success: [] as boolean[], angles: [] as number[], version: a.version, deterministic: a.deterministic };
      trials.push(t);
      setImmediate(() => {
        for (let k = 0; k < horizon; k++) {
          const obs = Array.from({ length: 6 }, () => rng.uniform(-0.5, 0.5));
          const action = Array.from({ length: 3 }, () => rng.uniform(-1.2, 1.2));
          const r = Math.max(0, rng.uniform(-2, 5));
          const ok = rng.next() < 0.5;
          const angle = rng.uniform(0, 1);
          t.angles.push(angle);
          t.obs.push(obs);
          t.actions.push(action);
          t.rewards.push(r);
          t.success.push(ok);
          stepPub.publish({
            header: { stamp: { sec: k, nanosec: 0 }, frame_id: 'base' },
            trial: a.trial,
            step: k,
            params_version: a.version,
            observation: obs,
            action,
            mean: action.map((x) => x * 0.5),
            log_std: [0, 0, 0],
          });
          if (publishAngles) anglePub.publish({ data: angle }); // as the reward node: the step's angle, then its reward
          rewardPub.publish({ data: r });
          successPub.publish({ data: ok });
        }
      });
      return { success: true, message: 'reset' };
    });
    return trials;
  }

  const asTrajectory = (t: { obs: number[][]; actions: number[][]; rewards: number[] }): Trajectory => {
    const T = t.obs.length;
    const states = Float32Array.from(t.obs.flat());
    return {
      task: { kind: 'door', targetRad: (25 * Math.PI) / 180 },
      context: new Float64Array(1),
      length: T,
      stateDim: 6,
      actionDim: 3,
      states,
      hands: new Float32Array(T * 3),
      actions: Float32Array.from(t.actions.flat()),
      rewards: Float64Array.from(t.rewards),
      envInfos: {},
      agentInfos: {},
      finalState: states.slice(-6),
      finalHand: new Float32Array(3),
      terminated: true,
    };
  };

  it("its GMPS step on the collected trials equals adaptStep on the same batch; report, plots and the next round's parameter version", async () => {
    rt = quietRuntime();
    stdout = sinon.stub(process.stdout, 'write').returns(true);
    const horizon = 6;
    const trials = fakeGraph(horizon);
    const probe = rt.createNode('probe');
    const params = record<Msg>(probe, 'gmps_msgs/msg/PolicyParams', '/policy/params', 'latched');
    const status = record<Msg>(probe, 'gmps_msgs/msg/AdaptationStatus', '/adaptation/status', 'latched');
    const out = mkdtempSync(path.join(tmpdir(), 'gmps-adapt-'));
    running = await startNode(rt, adaptationNode, {
      parameterOverrides: { checkpoint: ck, target_deg: 25.0, steps: 1, rollouts: 3, horizon, output_dir: out, seed: 2 },
    });
    const report = (await running.done) as { targetDeg: number; steps: Array<{ step: number; return: number; success: number; finalDoorAngleDeg: number | null }> };
    stdout.restore();
    stdout = undefined;
    await until(rt, () => params.length === 2, 'two parameter sets');

    // each round: 3 sampled trials that the step learns from, then one with the mean action that scores the round
    assert.equal(trials.length, 8);
    assert.deepEqual(trials.map((t) => t.version), [0, 0, 0, 0, 1, 1, 1, 1]);
    assert.deepEqual(trials.map((t) => t.deterministic), [false, false, false, true, false, false, false, true]);
    ref = await loadInferencePolicy(ck);
    const direct = adaptStep(ref.policy, ref.params, ref.stepSizes, toAdaptBatch(trials.slice(0, 3).map(asTrajectory), 'state'));
    try {
      const sent = params[1]!;
      assert.equal(sent.version, 1);
      assert.deepEqual(sent.tensors.map((t: Msg) => t.name).sort(), [...ref.policy.adaptable].sort());
      let changed = 0;
      for (const t of sent.tensors as Msg[]) {
        const want = direct[t.name]!.dataSync();
        const base = ref.params[t.name]!.dataSync();
        assert.deepEqual(Array.from(t.shape), direct[t.name]!.shape);
        for (let i = 0; i < want.length; i++) {
          assert.ok(Math.abs(t.data[i] - want[i]!) <= 1e-6 * Math.max(1, Math.abs(want[i]!)), `${t.name}[${i}]: ${t.data[i]} vs ${want[i]}`);
          if (Math.abs(want[i]! - base[i]!) > 1e-7) changed++;
        }
      }
      assert.ok(changed > 0, 'the step moved the parameters');
    } finally {
      disposeParams(direct);
    }

    assert.equal(report.targetDeg, 25);
    const ret = (t: { rewards: number[] }) => t.rewards.reduce((a, b) => a + b, 0);
    const succ = (t: { success: boolean[] }) => (t.success[t.success.length - 1] ? 1 : 0);
    assert.deepEqual(report.steps.map((s) => s.step), [0, 1]);
    assert.ok(Math.abs(report.steps[0]!.return - ret(trials[3]!)) < 1e-9);
    assert.ok(Math.abs(report.steps[1]!.return - ret(trials[7]!)) < 1e-9);
    assert.equal(report.steps[1]!.success, succ(trials[7]!));
    const file = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
    assert.deepEqual(file.steps, report.steps);
    assert.equal(file.trialReturns[0].length, 3);
    assert.ok(existsSync(path.join(out, 'adaptation.svg')) && existsSync(path.join(out, 'adaptation.html')));
    assert.equal(status.at(-1)!.phase, 'done');
    assert.equal(status.at(-1)!.updates_applied, 1);
    // where each trial left the door: the last door_angle before its last reward, in degrees
    const lastDeg = (t: { angles: number[] }) => (t.angles.at(-1)! * 180) / Math.PI;
    assert.deepEqual(report.steps.map((s) => s.finalDoorAngleDeg), [lastDeg(trials[3]!), lastDeg(trials[7]!)]);
    assert.deepEqual(file.trialFinalDoorAnglesDeg, [trials.slice(0, 3).map(lastDeg), trials.slice(4, 7).map(lastDeg)]);
    assert.equal(status.at(-1)!.final_door_angle_deg, lastDeg(trials[7]!));
    assert.ok(Number.isNaN(status[0]!.final_door_angle_deg), 'NaN before the first scored trial');
  });

  it('without door_angle messages the report says null and the status NaN, and adaptation still runs', async () => {
    rt = quietRuntime();
    fakeGraph(4, false);
    const probe = rt.createNode('probe');
    const status = record<Msg>(probe, 'gmps_msgs/msg/AdaptationStatus', '/adaptation/status', 'latched');
    running = await startNode(rt, adaptationNode, {
      parameterOverrides: { checkpoint: ck, target_deg: 25.0, steps: 1, rollouts: 2, horizon: 4, print_table: false, output_dir: mkdtempSync(path.join(tmpdir(), 'gmps-adapt-')) },
    });
    const report = (await running.done) as { steps: Array<{ finalDoorAngleDeg: number | null }> };
    assert.deepEqual(report.steps.map((s) => s.finalDoorAngleDeg), [null, null]);
    await until(rt, () => status.at(-1)?.phase === 'done', 'the done status');
    assert.ok(Number.isNaN(status.at(-1)!.final_door_angle_deg));
  });

  /** Runs two steps with `later` set and checks the sent φ₁ (learned α) and φ₂ (`laterSizes(α)`). */
  async function secondStepTakes(later: Msg, laterSizes: (alpha: Params) => Params, what: string): Promise<Msg> {
    rt = quietRuntime();
    stdout = sinon.stub(process.stdout, 'write').returns(true);
    const horizon = 5;
    const trials = fakeGraph(horizon);
    const probe = rt.createNode('probe');
    const params = record<Msg>(probe, 'gmps_msgs/msg/PolicyParams', '/policy/params', 'latched');
    const out = mkdtempSync(path.join(tmpdir(), 'gmps-adapt-'));
    running = await startNode(rt, adaptationNode, {
      parameterOverrides: { checkpoint: ck, target_deg: 25.0, steps: 2, rollouts: 3, horizon, output_dir: out, seed: 3, ...later },
    });
    await running.done;
    stdout.restore();
    stdout = undefined;
    await until(rt, () => params.length === 3, 'three parameter sets');
    assert.deepEqual(trials.map((t) => t.version), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    ref = await loadInferencePolicy(ck);
    const sizes = laterSizes(ref.stepSizes);
    const batch = (from: number) => toAdaptBatch(trials.slice(from, from + 3).map(asTrajectory), 'state');
    const phi1 = adaptStep(ref.policy, ref.params, ref.stepSizes, batch(0));
    const phi2 = adaptStep(ref.policy, phi1, sizes, batch(4));
    const phi2Full = adaptStep(ref.policy, phi1, ref.stepSizes, batch(4));
    try {
      const close = (sent: Msg, want: Params) =>
        (sent.tensors as Msg[]).every((t) => {
          const w = want[t.name]!.dataSync();
          return Array.from(w).every((x, i) => Math.abs(t.data[i] - x) <= 1e-6 * Math.max(1, Math.abs(x)));
        });
      assert.ok(close(params[1]!, phi1), 'the first step uses the learned step sizes');
      assert.ok(close(params[2]!, phi2), `the second step uses ${what}`);
      assert.ok(!close(params[2]!, phi2Full), 'and differs from a step with the full step sizes');
    } finally {
      for (const p of [sizes, phi1, phi2, phi2Full]) disposeParams(p);
    }
    return JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));
  }

  it('later_step_scale multiplies the learned step sizes of the second step, not the first', async () => {
    const report = await secondStepTakes({ later_step_scale: 0.25 }, (alpha) => scaleParams(alpha, 0.25), '0.25 x the learned step sizes');
    assert.equal(report.laterStepScale, 0.25);
    assert.equal(report.laterStepSize, undefined);
  });

  it('later_step_size > 0 makes the second step a plain policy-gradient step of that size', async () => {
    const fixed = (alpha: Params): Params => Object.fromEntries(Object.entries(alpha).map(([k, t]) => [k, tf.fill(t.shape, 0.001)]));
    const report = await secondStepTakes({ later_step_size: 0.001 }, fixed, 'the fixed size 0.001 on every adaptable element');
    assert.equal(report.laterStepSize, 0.001);
    assert.equal(report.laterStepScale, undefined);
  });

  it('refuses later_step_size together with a later_step_scale other than 1, naming both', async () => {
    rt = quietRuntime();
    await assert.rejects(
      startNode(rt, adaptationNode, { parameterOverrides: { checkpoint: ck, target_deg: 25.0, later_step_size: 0.001, later_step_scale: 0.25 } }),
      /later_step_size \(0.001\) and later_step_scale \(0.25\) both size the steps after the first: set later_step_size to 0.0 or later_step_scale to 1.0/,
    );
  });

  it('fails with what is missing when a trial stalls', async () => {
    rt = quietRuntime();
    const fake = rt.createNode('fake');
    fake.createService('gmps_msgs/srv/StartTrial', '/policy/start_trial', () => ({ success: true, message: '' }));
    fake.createService('gmps_msgs/srv/ResetEpisode', '/sim/reset_episode', () => ({ success: true, message: '' }));
    running = await startNode(rt, adaptationNode, {
      parameterOverrides: { checkpoint: ck, target_deg: 10.0, steps: 0, rollouts: 2, horizon: 5, trial_timeout_s: 0.3, print_table: false, output_dir: mkdtempSync(path.join(tmpdir(), 'gmps-adapt-')) },
    });
    await assert.rejects(running.done, /trial 1 stalled: 0\/5 policy steps, 0 rewards/);
  });

  it('rejects a target outside [0, 60] deg', async () => {
    rt = quietRuntime();
    await assert.rejects(startNode(rt, adaptationNode, { parameterOverrides: { checkpoint: ck, target_deg: 75.0 } }), /target_deg must be in \[0, 60\] deg/);
  });
});
