/**
 * Adaptation node: GMPS meta-test adaptation on the robot graph. For each of `steps` + 1 rounds it runs
 * `rollouts` trials: arm the policy node for `horizon` steps (`policy/start_trial`), reset the episode to the
 * target (`sim/reset_episode`, gmps_msgs/srv/ResetEpisode), and collect what the policy did (`policy/steps`,
 * gmps_msgs/msg/PolicyStep) with the reward node's `reward` and `success`, paired in order (one reward per
 * control step), and where the trial left the door (the reward node's `door_angle` before the last reward). After a round it takes the GMPS policy-gradient step with the learned step sizes
 * (`adaptOnTrials` → `adaptStep`) and publishes the adapted parameters on `policy/params`; the next round's
 * trials wait for that version. Round k's sampled trials explore; its return and success are those of one more
 * trial with the mean action (GMPS's test protocol, σ ×1e-5), so round 0 is the meta-policy before any
 * adaptation. report.json keeps the sampled trials' returns too. The learned step sizes are meta-trained for
 * one step; for the steps after the first, `later_step_scale` multiplies them, or `later_step_size` > 0 replaces
 * them by plain policy-gradient steps of that size.
 *
 * Progress goes to `~/status` (gmps_msgs/msg/AdaptationStatus, latched) and, as a table, to stdout; at the end
 * `report.json` and the plots `adaptation.svg`/`.html` are written to `output_dir`.
 * Arm-then-reset: with the lock-step simulator and the policy's `trigger: clock`, the first step acts on the
 * state the reset publishes, so run the simulator with `idle_state_rate_hz: 0.0` (no republished stale state).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { defineNode, runIfMain, type Client, type RosNode } from '../src/graph/index.js';
import { writeLearningCurves } from '../src/learning/plot.js';
import { flattenParams, loadInferencePolicy } from '../src/learning/policy-runner.js';
import { AdaptationStepSizes } from '../src/learning/gmps.js';
import { disposeParams, type Params } from '../src/learning/policy/index.js';
import { adaptOnTrials, TrialBuffer } from '../src/learning/trial-buffer.js';
import { DOOR } from '../sim/layout.js';

const DEG = Math.PI / 180;

interface StepMsg {
  trial: number;
  step: number;
  params_version: number;
  observation: Float32Array;
  action: Float32Array;
  mean: Float32Array;
  log_std: Float32Array;
}
type Reply = { success: boolean; message: string };

export interface AdaptationStepRow {
  step: number;
  return: number;
  success: number;
  /** Where the round's mean-action trial left the door (deg); null when no door angle arrived. */
  finalDoorAngleDeg: number | null;
}

export interface AdaptationReport {
  targetDeg: number;
  steps: AdaptationStepRow[];
}

function declare(ros: RosNode) {
  const int = (name: string, def: number, description: string, from: number, to: number) =>
    ros.declareParameter(name, 'integer', def, { description, readOnly: true, range: { from, to } });
  return {
    checkpoint: ros.declareParameter('checkpoint', 'string', '', { description: 'GMPS checkpoint (the policy node must load the same one)', readOnly: true }),
    targetDeg: ros.declareParameter('target_deg', 'double', -1.0, {
      description: 'Door target angle (deg, [0, 60]); negative = draw one uniformly and print it',
      readOnly: true,
    }),
    steps: int('steps', 3, 'Adaptation (policy-gradient) steps', 0, 1000),
    rollouts: int('rollouts', 4, 'Trials per adaptation step (at least 2: advantages need a batch)', 2, 10000),
    laterStepScale: ros.declareParameter('later_step_scale', 'double', 1.0, {
      description: 'Multiplies the learned step sizes of the steps after the first (they are meta-trained for one step); 1 = GMPS, 0 = keep the one-step policy',
      readOnly: true,
      range: { from: 0, to: 10 },
    }),
    laterStepSize: ros.declareParameter('later_step_size', 'double', 0.0, {
      description:
        'When > 0: the steps after the first are plain policy-gradient steps of this size instead of later_step_scale x the learned step sizes (leave later_step_scale at 1.0)',
      readOnly: true,
      range: { from: 0, to: 10 },
    }),
    horizon: int('horizon', DOOR.horizon, 'Control steps per trial', 1, 100000),
    seed: int('seed', 0, 'Seed of the action noise (trial t uses seed·7919 + t)', 0, 2 ** 31 - 1),
    outputDir: ros.declareParameter('output_dir', 'string', '', {
      description: 'Directory of report.json and the plots; empty = runs/adapt-door-<time>',
      readOnly: true,
    }),
    resetService: ros.declareParameter('reset_service', 'string', 'sim/reset_episode', { description: 'ResetEpisode service of the simulator', readOnly: true }),
    trialTimeoutS: ros.declareParameter('trial_timeout_s', 'double', 120.0, {
      description: 'Fail when a trial makes no progress for this long (s, wall clock)',
      range: { from: 0.1, to: 3600 },
    }),
    printTable: ros.declareParameter('print_table', 'bool', true, { description: 'Print the per-step table on stdout' }),
  };
}

async function call(client: Client, req: Record<string, unknown>, what: string, timeoutMs: number): Promise<Reply> {
  const res = (await client.sendRequestAsync(req, { timeout: timeoutMs })) as Reply;
  if (!res.success) throw new Error(`${what} refused: ${res.message}`);
  return res;
}

const node = defineNode({
  name: 'adaptation',
  description: 'GMPS adaptation by trial and error: runs trials through the policy node, takes policy-gradient steps, reports',
  async create(ros, ctx) {
    const p = declare(ros);
    if (!p.checkpoint) throw new Error('parameter checkpoint is empty: give the GMPS checkpoint directory the policy node loads');
    const log = ros.getLogger();
    let targetDeg = p.targetDeg;
    if (targetDeg < 0) {
      targetDeg = Math.round(Math.random() * 60 * 10) / 10;
      log.info(`target_deg not set: drew ${targetDeg} deg`);
    }
    if (!(targetDeg <= 60)) throw new Error(`target_deg must be in [0, 60] deg, got ${targetDeg}`);
    const ck = await loadInferencePolicy(p.checkpoint, { log: (l) => log.info(l) });
    if (ck.task !== 'door') {
      ck.dispose();
      throw new Error(`the checkpoint ${ck.file} was meta-trained on '${ck.task}' tasks; this node adapts door policies`);
    }
    if (p.laterStepSize > 0 && p.laterStepScale !== 1) {
      ck.dispose();
      throw new Error(
        `later_step_size (${p.laterStepSize}) and later_step_scale (${p.laterStepScale}) both size the steps after the first: set later_step_size to 0.0 or later_step_scale to 1.0`,
      );
    }
    const later = p.laterStepSize > 0 ? { laterStepSize: p.laterStepSize } : { laterStepScale: p.laterStepScale };
    const { policy, obsMode } = ck;
    const task = { kind: 'door' as const, targetRad: targetDeg * DEG };
    const { obsDim, actDim } = policy.config;

    const paramsPub = ros.createPublisher('gmps_msgs/msg/PolicyParams', 'policy/params', { qos: 'latched' });
    const statusPub = ros.createPublisher('gmps_msgs/msg/AdaptationStatus', '~/status', { qos: 'latched' });
    const startTrial = ros.createClient('gmps_msgs/srv/StartTrial', 'policy/start_trial');
    const reset = ros.createClient('gmps_msgs/srv/ResetEpisode', p.resetService);

    let current: { id: number; buf: TrialBuffer; finalAngleRad?: number; error?: Error; progressAt: number; wake?: () => void } | undefined;
    /** The reward node's latest door angle (rad); it publishes the angle of a step before its reward. */
    let doorAngle: number | undefined;
    const progress = (fn: (buf: TrialBuffer) => void): void => {
      const c = current;
      if (!c || c.error) return;
      try {
        fn(c.buf);
      } catch (err) {
        c.error = err as Error;
      }
      c.progressAt = performance.now();
      c.wake?.();
    };
    ros.createSubscription<StepMsg>('gmps_msgs/msg/PolicyStep', 'policy/steps', {}, (m) => {
      if (current && m.trial === current.id) {
        progress((b) =>
          b.addStep({ step: m.step, paramsVersion: m.params_version, observation: m.observation, action: m.action, mean: m.mean, logStd: m.log_std }),
        );
      }
    });
    ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'door_angle', {}, (m) => void (doorAngle = m.data));
    ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'reward', {}, (m) => {
      const c = current;
      if (!c?.buf.awaitingReward) return;
      progress((b) => b.addReward(m.data));
      if (c.buf.rewards.length === p.horizon) c.finalAngleRad = doorAngle;
    });
    ros.createSubscription<{ data: boolean }>('std_msgs/msg/Bool', 'success', {}, (m) => {
      if (current) progress((b) => b.addSuccess(m.data));
    });

    const taskId = `door_${targetDeg}deg`;
    const status = (phase: string, trial: number, updates: number, row?: AdaptationStepRow): void =>
      statusPub.publish({
        header: { stamp: ros.now().toMsg(), frame_id: '' },
        task_id: taskId,
        trial,
        phase,
        mean_return: row?.return ?? 0,
        success_rate: row?.success ?? 0,
        updates_applied: updates,
        final_door_angle_deg: row?.finalDoorAngleDeg ?? NaN,
      });
    const print = (line: string): void => {
      if (p.printTable) process.stdout.write(`${line}\n`);
    };

    /** Runs one trial; `finalAngleDeg` is where it left the door (undefined when no door angle arrived). */
    const runTrial = async (id: number, version: number, deterministic = false): Promise<{ buf: TrialBuffer; finalAngleDeg?: number }> => {
      const buf = new TrialBuffer(p.horizon, obsDim, actDim);
      const c: NonNullable<typeof current> = { id, buf, progressAt: performance.now() };
      current = c;
      try {
        await call(startTrial, { trial: id, steps: p.horizon, params_version: version, deterministic, seed: (p.seed * 7919 + id) >>> 0 }, 'policy/start_trial', 30000);
        await call(reset, { task: 'door', target_rad: task.targetRad, goal_x: 0, goal_y: 0 }, p.resetService, 30000);
        c.progressAt = performance.now();
        const done = () => buf.complete && buf.successes.length === p.horizon;
        while (!done()) {
          if (c.error) throw c.error;
          if (ctx.signal.aborted) throw new Error('stopped');
          if (performance.now() - c.progressAt > p.trialTimeoutS * 1000) {
            throw new Error(
              `trial ${id} stalled: ${buf.steps.length}/${p.horizon} policy steps, ${buf.rewards.length} rewards after ${p.trialTimeoutS} s ` +
                '(are the policy, controller, reward and simulator nodes running on this graph?)',
            );
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, 50);
            c.wake = () => {
              clearTimeout(t);
              r();
            };
          });
        }
        if (c.error) throw c.error;
        return { buf, ...(c.finalAngleRad !== undefined ? { finalAngleDeg: c.finalAngleRad / DEG } : {}) };
      } finally {
        current = undefined;
      }
    };

    const run = async (): Promise<AdaptationReport> => {
      const started = performance.now();
      for (const [client, name] of [[startTrial, 'policy/start_trial'], [reset, p.resetService]] as const) {
        if (!(await client.waitForService(30000))) throw new Error(`service ${ros.resolveName(name)} is not available (is its node running?)`);
      }
      let version = 0;
      paramsPub.publish({ header: { stamp: ros.now().toMsg(), frame_id: '' }, version, tensors: [] });
      let params: Params = ck.params;
      const schedule = AdaptationStepSizes.forPolicy(policy, ck.stepSizes, later);
      const rows: Array<AdaptationStepRow & { trialReturns: number[]; trialFinalDoorAnglesDeg: Array<number | null> }> = [];
      let trialId = 0;
      print(`adapting to a door target of ${targetDeg} deg: ${p.steps} steps x ${p.rollouts} trials of ${p.horizon} control steps`);
      print('step    return   success   door (deg)');
      try {
        for (let k = 0; k <= p.steps; k++) {
          const sampled: Array<{ buf: TrialBuffer; finalAngleDeg?: number }> = [];
          for (let r = 0; r < p.rollouts; r++) {
            status('collecting', trialId, k);
            sampled.push(await runTrial(++trialId, version));
          }
          const trials = sampled.map((t) => t.buf);
          // as GMPS's test protocol: the step's result is the mean action's episode; the sampled trials explore
          status('collecting', trialId, k);
          const evaluation = await runTrial(++trialId, version, true);
          const row = {
            step: k,
            return: evaluation.buf.return,
            success: evaluation.buf.success ? 1 : 0,
            finalDoorAngleDeg: evaluation.finalAngleDeg ?? null,
            trialReturns: trials.map((t) => t.return),
            trialFinalDoorAnglesDeg: sampled.map((t) => t.finalAngleDeg ?? null),
          };
          rows.push(row);
          const angle = row.finalDoorAngleDeg === null ? 'n/a' : row.finalDoorAngleDeg.toFixed(1);
          print(`${String(k).padStart(4)}  ${row.return.toFixed(2).padStart(8)}  ${row.success.toFixed(2).padStart(8)}  ${angle.padStart(11)}`);
          status(k < p.steps ? 'updating' : 'done', trialId, k, row);
          if (k < p.steps) {
            const next = adaptOnTrials(policy, params, schedule.at(k), trials, task, obsMode);
            if (params !== ck.params) disposeParams(params);
            params = next;
            version++;
            paramsPub.publish({ header: { stamp: ros.now().toMsg(), frame_id: '' }, version, tensors: flattenParams(params, policy.adaptable) });
          }
        }
      } catch (err) {
        status('failed', trialId, Math.max(0, version));
        throw err;
      } finally {
        if (params !== ck.params) disposeParams(params);
        schedule.dispose();
      }
      const report: AdaptationReport = {
        targetDeg,
        steps: rows.map(({ step, return: ret, success, finalDoorAngleDeg }) => ({ step, return: ret, success, finalDoorAngleDeg })),
      };
      const dir = p.outputDir || path.join('runs', `adapt-door-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      await mkdir(dir, { recursive: true });
      await writeFile(
        path.join(dir, 'report.json'),
        `${JSON.stringify(
          {
            ...report,
            targetRad: task.targetRad,
            checkpoint: ck.file,
            obsMode,
            rollouts: p.rollouts,
            ...later,
            horizon: p.horizon,
            seed: p.seed,
            trialReturns: rows.map((r) => r.trialReturns),
            trialFinalDoorAnglesDeg: rows.map((r) => r.trialFinalDoorAnglesDeg),
            seconds: Math.round((performance.now() - started) / 100) / 10,
          },
          null,
          1,
        )}\n`,
      );
      const x = rows.map((r) => r.step);
      await writeLearningCurves(path.join(dir, 'adaptation'), {
        title: `GMPS adaptation on the robot graph: door target ${targetDeg} deg`,
        xLabel: 'adaptation step',
        yLabel: 'average return',
        series: [{ name: `mean return of ${p.rollouts} trials`, x, y: rows.map((r) => r.return) }],
      });
      await writeLearningCurves(path.join(dir, 'success'), {
        title: `GMPS adaptation: success rate, door target ${targetDeg} deg`,
        xLabel: 'adaptation step',
        yLabel: 'success rate',
        series: [{ name: 'success rate', x, y: rows.map((r) => r.success) }],
      });
      print(`report: ${path.join(dir, 'report.json')}, plots: ${path.join(dir, 'adaptation.svg')}, ${path.join(dir, 'success.svg')}`);
      return report;
    };

    status('idle', 0, 0);
    const done = run();
    done.catch(() => {});
    return { done, shutdown: () => ck.dispose() };
  },
});

export default node;
await runIfMain(import.meta.url, node);
