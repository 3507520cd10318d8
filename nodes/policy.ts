/**
 * Policy node: observation → GMPS policy (tfjs) → `cmd_ee` (geometry_msgs/TwistStamped, twist.linear = tip
 * displacement command clipped to [-1, 1]^3, the controller's convention).
 *
 * Observation: the checkpoint's kind decides. Vision: `camera/image_raw` (rgb8; 48x64 frames are used as they
 * are, others are cropped and resized by `src/vision/preprocess.ts`) + `hand_pose`. State (door): `hand_pose` +
 * the handle position from `task/door_angle`; (push): `hand_pose` + `task/block_position`.
 *
 * Control steps (`trigger`): `clock` = one step per `/clock` message (the lock-step simulator publishes it after
 * each step's state, and once at each episode reset), or `timer` = `rate_hz` on the node clock.
 * The node acts only while armed: `~/start_trial` (gmps_msgs/srv/StartTrial) arms it for a number of steps;
 * `autostart` arms it for ever at start. Every step is published on `~/steps` (gmps_msgs/msg/PolicyStep: input row,
 * sampled action, mean, log-std, parameter version) for the adaptation node.
 *
 * Parameters arrive on `~/params` (gmps_msgs/msg/PolicyParams, latched): they are validated and staged on
 * arrival and installed at the start of the next control step, so a step never mixes two sets and never waits.
 */
import { defineNode, runIfMain, type RosNode } from '../src/graph/index.js';
import type { Image } from '../src/graph/msgs.js';
import { hzToPeriodNs } from '../src/graph/time.js';
import { actOnce, loadInferencePolicy, ParamsSlot, stateRow, visionRow, type FlatTensor, type Vec3 } from '../src/learning/policy-runner.js';

interface StartTrialRequest {
  trial: number;
  steps: number;
  params_version: number;
  deterministic: boolean;
  seed: number;
}
type Stamp = { sec: number; nanosec: number };
type PoseStamped = { header: { stamp: Stamp }; pose: { position: { x: number; y: number; z: number } } };
type PolicyParamsMsg = { version: number; tensors: FlatTensor[] };

function declare(ros: RosNode) {
  return {
    checkpoint: ros.declareParameter('checkpoint', 'string', '', {
      description: 'GMPS checkpoint: a directory, its model.json, or the checkpoint.json of an earlier version',
      readOnly: true,
    }),
    trigger: ros.declareParameter<string>('trigger', 'string', 'timer', {
      description: 'When to act: clock (once per /clock message, lock-step simulator) or timer (rate_hz on the node clock)',
      readOnly: true,
    }),
    rateHz: ros.declareParameter('rate_hz', 'double', 20.0, { description: 'Control rate in timer mode (Hz)', readOnly: true, range: { from: 0.1, to: 1000 } }),
    autostart: ros.declareParameter('autostart', 'bool', false, { description: 'Act from the start, without ~/start_trial', readOnly: true }),
    deterministic: ros.declareParameter('deterministic', 'bool', true, { description: 'autostart: act with the mean (true) or sample (false)' }),
    seed: ros.declareParameter('seed', 'integer', 0, { description: 'autostart: seed of the action noise' }),
    exploreStdScale: ros.declareParameter('explore_std_scale', 'double', 1.0, {
      description:
        'Multiplies the policy\'s σ in sampled (exploring) actions; 1 = the σ it was meta-trained with (a meta-test setting, checkpoints/README.md). ~/steps keep the policy\'s own log_std',
      readOnly: true,
      range: { from: 0.01, to: 10 },
    }),
    frameId: ros.declareParameter('frame_id', 'string', 'base', { description: 'frame_id of cmd_ee' }),
    paramsWaitS: ros.declareParameter('params_wait_s', 'double', 10.0, {
      description: '~/start_trial waits this long (s, wall clock) for the requested parameter version',
      range: { from: 0, to: 600 },
    }),
  };
}

const node = defineNode({
  name: 'policy',
  description: 'GMPS policy: camera image or state + hand pose → cmd_ee; parameter swaps between trials; records each step',
  async create(ros) {
    const p = declare(ros);
    if (!p.checkpoint) throw new Error('parameter checkpoint is empty: give the GMPS checkpoint directory (e.g. checkpoints/door-vision)');
    if (p.trigger !== 'clock' && p.trigger !== 'timer') throw new Error(`parameter trigger must be clock or timer, got '${p.trigger}'`);
    const log = ros.getLogger();
    const ck = await loadInferencePolicy(p.checkpoint, { log: (l) => log.info(l) });
    const { policy, obsMode, task } = ck;
    // A state policy's input width must be one the graph can build (door: 6, or 7 with the angle): fail now, not per step.
    if (obsMode === 'state') stateRow(task, [0, 0, 0], { doorAngle: 0, block: [0, 0, 0] }, policy.config.obsDim);
    const slot = new ParamsSlot(policy, ck.params);

    let hand: { xyz: Vec3; stamp: Stamp } | undefined;
    let image: Image | undefined;
    let doorAngle: number | undefined;
    let block: Vec3 | undefined;
    ros.createSubscription<PoseStamped>('geometry_msgs/msg/PoseStamped', 'hand_pose', {}, (m) => {
      const q = m.pose.position;
      hand = { xyz: [q.x, q.y, q.z], stamp: m.header.stamp };
    });
    if (obsMode === 'vision') {
      ros.createSubscription<Image>('sensor_msgs/msg/Image', 'camera/image_raw', { qos: 'sensor_data' }, (m) => void (image = m));
    } else if (task === 'door') {
      ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'task/door_angle', {}, (m) => void (doorAngle = m.data));
    } else {
      ros.createSubscription<{ point: { x: number; y: number; z: number } }>('geometry_msgs/msg/PointStamped', 'task/block_position', {}, (m) => {
        block = [m.point.x, m.point.y, m.point.z];
      });
    }
    ros.createSubscription<PolicyParamsMsg>('gmps_msgs/msg/PolicyParams', '~/params', { qos: 'latched' }, (m) => {
      try {
        slot.stage(m.version, m.tensors);
        log.debug(`parameter set ${m.version} staged (${m.tensors.length} tensors)`);
      } catch (err) {
        log.error(`parameter set refused, keeping the current one: ${(err as Error).message}`);
      }
    });

    const cmdPub = ros.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const stepPub = ros.createPublisher('gmps_msgs/msg/PolicyStep', '~/steps');

    const observe = (): { row: Float32Array; stamp: Stamp } | string => {
      if (!hand) return 'no hand_pose yet';
      if (obsMode === 'vision') {
        if (!image) return 'no camera/image_raw yet';
        const data = image.data instanceof Uint8Array ? image.data : Uint8Array.from(image.data);
        return { row: visionRow(policy, { ...image, data }, hand.xyz), stamp: image.header.stamp };
      }
      return { row: stateRow(task, hand.xyz, { doorAngle, block }, policy.config.obsDim), stamp: hand.stamp };
    };

    let trial: { id: number; left: number; step: number; deterministic: boolean; seed: number } | undefined = p.autostart
      ? { id: 0, left: Infinity, step: 0, deterministic: p.deterministic, seed: p.seed }
      : undefined;
    let lastProblem = '';
    const tick = (): void => {
      if (!trial) return;
      if (slot.swap()) log.info(`acting with parameter set ${slot.version}`);
      let obs: ReturnType<typeof observe>;
      try {
        obs = observe();
      } catch (err) {
        obs = (err as Error).message;
      }
      if (typeof obs === 'string') {
        if (obs !== lastProblem) log.warn(`no action this step: ${obs}`);
        lastProblem = obs;
        return;
      }
      lastProblem = '';
      const t = trial;
      const a = actOnce(policy, slot.params, obs.row, { deterministic: t.deterministic, seed: (t.seed * 1000003 + t.step) >>> 0, stdScale: p.exploreStdScale });
      const clip = (v: number) => Math.max(-1, Math.min(1, v));
      cmdPub.publish({
        header: { stamp: ros.now().toMsg(), frame_id: p.frameId },
        twist: { linear: { x: clip(a.action[0]!), y: clip(a.action[1]!), z: clip(a.action[2]!) }, angular: { x: 0, y: 0, z: 0 } },
      });
      stepPub.publish({
        header: { stamp: obs.stamp, frame_id: p.frameId },
        trial: t.id,
        step: t.step,
        params_version: slot.version,
        observation: obs.row,
        action: a.action,
        mean: a.mean,
        log_std: a.logStd,
      });
      t.step++;
      if (--t.left <= 0) trial = undefined;
    };

    if (p.trigger === 'clock') {
      ros.createSubscription('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' }, () => tick());
    } else {
      ros.createTimer(hzToPeriodNs(p.rateHz), () => tick());
    }

    ros.createService<StartTrialRequest, { success: boolean; message: string }>('gmps_msgs/srv/StartTrial', '~/start_trial', async (req) => {
      if (trial) return { success: false, message: `trial ${trial.id} is still running (${trial.step} steps done)` };
      if (!(req.steps > 0)) return { success: false, message: `steps must be positive, got ${req.steps}` };
      const deadline = performance.now() + p.paramsWaitS * 1000;
      while (slot.latestVersion < req.params_version) {
        if (performance.now() > deadline) {
          return { success: false, message: `parameter set ${req.params_version} did not arrive on ~/params within ${p.paramsWaitS} s (have ${slot.latestVersion})` };
        }
        await new Promise((r) => setTimeout(r, 2));
      }
      trial = { id: req.trial, left: req.steps, step: 0, deterministic: req.deterministic, seed: req.seed };
      return { success: true, message: `trial ${req.trial}: ${req.steps} steps with parameter set ${slot.latestVersion}` };
    });

    log.info(
      `${obsMode} policy (${policy.config.kind}, ${task}) from ${ck.file}; acting ${p.trigger === 'clock' ? 'once per /clock' : `at ${p.rateHz} Hz`}` +
        `${p.autostart ? ', autostart' : ', waiting for ~/start_trial'}`,
    );
    return {
      shutdown: () => {
        slot.dispose();
        ck.dispose();
      },
    };
  },
});

export default node;
await runIfMain(import.meta.url, node);
