/**
 * The real Sawyer (Intera 5.x over ROS 1) as the robot side of the graph, with the topics and services of the
 * `sim` node so that the controller, reward and adaptation nodes run unchanged (launch `hardware:=sawyer`).
 *
 * - `joint_states` (sensor_msgs/JointState, right_j0..6) and `hand_pose` (geometry_msgs/PoseStamped, gripper tip
 *   by our FK of the measured joints) at `state_rate_hz` while fresh joint states arrive from the robot.
 * - `joint_command` (sensor_msgs/JointState positions): names, finiteness and joint limits checked, then the
 *   safety envelope (velocity cap, limit margin, workspace box by FK) before the Sawyer link streams it as
 *   Intera JointCommand at `command_rate_hz`. When joint_command stops for `command_timeout_s` streaming stops
 *   and Intera's own 0.2 s timeout makes the arm hold.
 * - `~/reset_episode` (gmps_msgs/srv/ResetEpisode): moves the arm slowly (`reset_speed_rad_s`) through the
 *   envelope to the task's start pose, then publishes `task/params` (latched) and answers.
 * - `~/enable` (std_srvs/SetBool): enables / disables the arm (`/robot/set_super_enable`).
 * - `robot/status` (diagnostic_msgs/DiagnosticStatus, latched, on change and at 1 Hz): enabled, stopped, e-stop,
 *   rates. When the robot reports e-stop, stopped or error, the node logs an error and publishes `estop`
 *   (std_msgs/Bool, true) once, which latches the controller's stop.
 * No `/clock`: the real arm runs on wall time (do not set use_sim_time on any node).
 */
import { quaternionFromRotation, type Mat3 } from '../calibration/transforms.js';
import { defineNode, runIfMain, type RosNode } from '../src/graph/index.js';
import { hzToPeriodNs } from '../src/graph/time.js';
import { jointTargetsFromCommand, type JointCommandLike } from '../src/nodes-support/joint-command.js';
import { type ResetRequest, taskFromRequest } from '../src/nodes-support/reset-request.js';
import { DOWN_ROT, SawyerIk } from '../src/robot/ik.js';
import { N_JOINTS, SawyerKinematics } from '../src/robot/kinematics.js';
import { SafetyViolation } from '../src/robot/safety.js';
import { JOINT_NAMES, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';
import { JointEnvelopeGuard, moveJointsTo } from '../src/robot/sawyer/guarded-motion.js';
import { RobotRefusedError, SawyerLink, type SawyerStatus } from '../src/robot/sawyer/sawyer-link.js';
import { DOOR, PUSH } from '../sim/layout.js';

function declare(ros: RosNode) {
  const task = ros.declareParameter('task', 'string', 'door', { description: 'Task of the rig: door or push (chooses the start pose)', readOnly: true });
  if (task !== 'door' && task !== 'push') throw new Error(`parameter task must be 'door' or 'push', got '${task}'`);
  return {
    task: task as 'door' | 'push',
    masterUri: ros.declareParameter('master_uri', 'string', process.env.ROS_MASTER_URI ?? 'http://localhost:11311/', {
      description: "The robot's ROS 1 master, e.g. http://sawyer.local:11311/ (default: env ROS_MASTER_URI)",
      readOnly: true,
    }),
    hostname: ros.declareParameter('hostname', 'string', process.env.ROS_IP ?? process.env.ROS_HOSTNAME ?? '127.0.0.1', {
      description: "This machine's address as the robot reaches it (ROS_IP / ROS_HOSTNAME; default from the environment)",
      readOnly: true,
    }),
    ros1Name: ros.declareParameter('ros1_node_name', 'string', '/gmps_sawyer', { description: 'Node name on the ROS 1 master', readOnly: true }),
    commandRateHz: ros.declareParameter('command_rate_hz', 'double', 100.0, {
      description: 'JointCommand stream rate to the robot (Hz); Intera holds after 0.2 s without one',
      readOnly: true,
      range: { from: 10, to: 1000 },
    }),
    commandTimeoutS: ros.declareParameter('command_timeout_s', 'double', 0.25, {
      description: 'Stop streaming when joint_command stops for this long (s, wall clock); the arm then holds',
      readOnly: true,
      range: { from: 0.05, to: 5 },
    }),
    jointStateTimeoutS: ros.declareParameter('joint_state_timeout_s', 'double', 0.2, {
      description: 'Refuse commands when the last robot joint state is older than this (s)',
      readOnly: true,
      range: { from: 0.02, to: 5 },
    }),
    connectTimeoutS: ros.declareParameter('connect_timeout_s', 'double', 10.0, {
      description: 'How long to wait at start for the robot joint states and state (s)',
      readOnly: true,
      range: { from: 0.5, to: 120 },
    }),
    stateRateHz: ros.declareParameter('state_rate_hz', 'double', 100.0, {
      description: 'Publication rate of joint_states and hand_pose (Hz); only fresh robot states are published',
      readOnly: true,
      range: { from: 1, to: 1000 },
    }),
    baseFrame: ros.declareParameter('base_frame_id', 'string', 'base', { description: 'Robot base frame of hand_pose' }),
    startPose: ros.declareParameter('start_pose', 'double_array', [] as number[], {
      description: 'Episode start joints (rad, right_j0..6); empty = the task start pose (tip at the sim task start, hand down)',
      readOnly: true,
    }),
    resetSpeed: ros.declareParameter('reset_speed_rad_s', 'double', 0.3, {
      description: 'Joint speed of the reset move (rad/s)',
      range: { from: 0.01, to: 1.0 },
    }),
    resetTolerance: ros.declareParameter('reset_tolerance_rad', 'double', 0.02, {
      description: 'The reset succeeds when every joint is this close to the start pose (rad)',
      range: { from: 0.001, to: 0.2 },
    }),
    enableOnStart: ros.declareParameter('enable_on_start', 'bool', false, { description: 'Enable the arm when the node starts', readOnly: true }),
  };
}

/** Joint angles putting the tip at the task's start position, hand down (as the simulator's episode start). */
function taskStartPose(task: 'door' | 'push'): Float64Array {
  const hand = task === 'door' ? DOOR.handInit : PUSH.handInit;
  const r = new SawyerIk({ maxIterations: 500, nullspaceGain: 0.02 }).solve(hand, DOWN_ROT, NEUTRAL_POSE);
  if (r.positionError > 1e-3) throw new Error(`the ${task} start pose is out of reach (IK error ${r.positionError.toFixed(4)} m); set start_pose`);
  return Float64Array.from(r.q);
}

function robotProblem(st: SawyerStatus): { problem?: string; emergency: boolean } {
  if (st.estop) return { problem: 'e-stop button pressed', emergency: true };
  if (st.stopped) return { problem: 'robot stopped (e-stop asserted)', emergency: true };
  if (st.error) return { problem: 'robot reports an error', emergency: true };
  if (!st.enabled) return { problem: 'robot disabled (call ~/enable or run enable_robot.py -e)', emergency: false };
  return { emergency: false };
}

const node = defineNode({
  name: 'sawyer',
  description: 'The real Sawyer over Intera ROS 1: joint_states, hand_pose, joint_command through the safety envelope, reset_episode, robot status',
  async create(ros) {
    const p = declare(ros);
    if (ros.hasParameter('use_sim_time') && ros.getParameter('use_sim_time') === true) {
      throw new Error('the real arm runs on wall time and nothing publishes /clock: do not set use_sim_time (hardware:=sawyer)');
    }
    const log = ros.getLogger();
    let startPose: Float64Array;
    if (p.startPose.length) {
      if (p.startPose.length !== N_JOINTS || !p.startPose.every(Number.isFinite)) {
        throw new Error(`parameter start_pose must hold ${N_JOINTS} finite angles (rad, ${JOINT_NAMES.join(', ')}), got [${p.startPose.join(', ')}]`);
      }
      startPose = Float64Array.from(p.startPose);
      jointTargetsFromCommand({ name: [], position: startPose }); // inside the joint limits, or throws
    } else {
      startPose = taskStartPose(p.task);
    }

    const guard = new JointEnvelopeGuard({ freshMs: p.commandTimeoutS * 1000 });
    const link = new SawyerLink({
      masterUri: p.masterUri,
      hostname: p.hostname,
      nodeName: p.ros1Name,
      validate: guard.validate,
      commandRateHz: p.commandRateHz,
      targetWatchdogMs: p.commandTimeoutS * 1000,
      jointStateTimeoutMs: p.jointStateTimeoutS * 1000,
      connectTimeoutMs: p.connectTimeoutS * 1000,
    });
    try {
      await link.connect();
    } catch (err) {
      throw new Error(`cannot connect to the Sawyer at ${p.masterUri}: ${(err as Error).message}. ` +
        'Check master_uri (ROS_MASTER_URI), hostname (ROS_IP) reachable from the robot, and that the robot is in SDK mode.');
    }
    if (p.enableOnStart) await link.enable(true);

    const jointPub = ros.createPublisher('sensor_msgs/msg/JointState', 'joint_states');
    const handPub = ros.createPublisher('geometry_msgs/msg/PoseStamped', 'hand_pose');
    const paramsPub = ros.createPublisher('gmps_msgs/msg/TaskParams', 'task/params', { qos: 'latched' });
    const statusPub = ros.createPublisher('diagnostic_msgs/msg/DiagnosticStatus', 'robot/status', { qos: 'latched' });
    const estopPub = ros.createPublisher('std_msgs/msg/Bool', 'estop');

    const kin = new SawyerKinematics();
    let lastStamp = NaN;
    let prevQ: Float64Array | undefined;
    let published = 0;
    ros.createTimer(hzToPeriodNs(p.stateRateHz), async () => {
      if (!link.isConnected) return;
      const obs = await link.getObservation().catch(() => undefined);
      if (!obs || obs.stamp === lastStamp) return;
      const dt = obs.stamp - lastStamp;
      lastStamp = obs.stamp;
      const q = obs.joints.position;
      const velocity = prevQ && dt > 0 ? Array.from(q, (v, i) => (v - prevQ![i]!) / dt) : new Array<number>(N_JOINTS).fill(0);
      prevQ = Float64Array.from(q);
      const stamp = ros.now().toMsg();
      jointPub.publish({ header: { stamp, frame_id: '' }, name: [...JOINT_NAMES], position: Array.from(q), velocity, effort: [] });
      kin.forward(q);
      const t = kin.tipPos;
      handPub.publish({
        header: { stamp, frame_id: p.baseFrame },
        pose: { position: { x: t[0]!, y: t[1]!, z: t[2]! }, orientation: quaternionFromRotation(Array.from(kin.handRot) as Mat3) },
      });
      published++;
    });

    let lastProblem: string | undefined = '';
    let statusCount = 0;
    const publishStatus = (st: SawyerStatus, problem: string | undefined): void => {
      statusPub.publish({
        level: problem ? 2 : 0,
        name: 'sawyer',
        message: problem ?? 'enabled',
        hardware_id: p.masterUri,
        values: [
          ['enabled', st.enabled], ['stopped', st.stopped], ['estop', st.estop], ['error', st.error],
          ['joint_state_hz', st.jointStateHz], ['streaming', st.streaming], ['commands_sent', st.commandsSent],
          ['last_stop', st.lastStop ?? ''],
        ].map(([key, value]) => ({ key: String(key), value: String(value) })),
      });
    };
    ros.createTimer(hzToPeriodNs(10), () => {
      const st = link.status();
      const { problem, emergency } = robotProblem(st);
      if (problem !== lastProblem) {
        if (problem) {
          log.error(`${problem}: joint commands are refused and the arm holds`);
          if (emergency) estopPub.publish({ data: true });
        } else if (lastProblem !== '') {
          log.info('robot enabled again; call the controller\'s ~/reset_estop to resume if it latched');
        }
        lastProblem = problem;
        publishStatus(st, problem);
      } else if (++statusCount % 10 === 0) {
        publishStatus(st, problem);
      }
    });

    let resetting = false;
    let lastRefusal = '';
    const refuse = (reason: string): void => {
      if (reason !== lastRefusal) log.error(`joint_command refused, the arm holds: ${reason}`);
      lastRefusal = reason;
    };
    let lastClipWarn = '';
    ros.createSubscription<JointCommandLike>('sensor_msgs/msg/JointState', 'joint_command', {}, (cmd) => {
      if (resetting) return refuse('an episode reset is moving the arm');
      let q: Float64Array;
      try {
        q = jointTargetsFromCommand(cmd);
      } catch (err) {
        if (err instanceof SafetyViolation) return refuse(err.message);
        throw err;
      }
      link.sendAction({ names: JOINT_NAMES, position: q }).then(
        () => {
          lastRefusal = '';
          const clip = guard.lastClip.join(', ');
          if (clip && clip !== lastClipWarn) log.warn(`joint_command clipped by the safety envelope: ${clip}`);
          lastClipWarn = clip;
        },
        (err: unknown) => {
          if (err instanceof SafetyViolation || err instanceof RobotRefusedError) return refuse(err.message);
          refuse(`unexpected: ${(err as Error)?.message ?? String(err)}`);
        },
      );
    });

    let episode = 0;
    ros.createService<ResetRequest, { success: boolean; message: string }>('gmps_msgs/srv/ResetEpisode', '~/reset_episode', async (req) => {
      try {
        taskFromRequest(p.task, req);
      } catch (err) {
        return { success: false, message: (err as Error).message };
      }
      if (resetting) return { success: false, message: 'a reset is already running' };
      resetting = true;
      link.hold('episode reset');
      guard.reset();
      try {
        const r = await moveJointsTo(link, startPose, { speedRadS: p.resetSpeed, toleranceRad: p.resetTolerance, rateHz: 50 });
        if (!r.reached) {
          const message = `the arm did not reach the start pose (max joint error ${r.finalErrorRad.toFixed(3)} rad after ${r.durationS.toFixed(1)} s)`;
          log.error(`reset_episode: ${message}`);
          return { success: false, message };
        }
        episode++;
        paramsPub.publish({
          header: { stamp: ros.now().toMsg(), frame_id: p.baseFrame },
          task: p.task,
          target_rad: p.task === 'door' ? req.target_rad : 0,
          goal_x: p.task === 'push' ? req.goal_x : 0,
          goal_y: p.task === 'push' ? req.goal_y : 0,
          episode,
        });
        return { success: true, message: `episode ${episode} started (${p.task}); at the start pose after ${r.durationS.toFixed(1)} s` };
      } catch (err) {
        const message = (err as Error).message;
        log.error(`reset_episode failed, the arm holds: ${message}`);
        return { success: false, message };
      } finally {
        link.hold('episode reset finished');
        guard.reset();
        resetting = false;
      }
    });

    ros.createService<{ data: boolean }, { success: boolean; message: string }>('std_srvs/srv/SetBool', '~/enable', async (req) => {
      try {
        await link.enable(req.data);
        return { success: true, message: req.data ? 'enable requested' : 'disable requested' };
      } catch (err) {
        return { success: false, message: (err as Error).message };
      }
    });

    log.info(`connected to the Sawyer at ${p.masterUri}; joint commands stream at ${p.commandRateHz} Hz, reset pose [${Array.from(startPose, (v) => v.toFixed(3)).join(', ')}]`);
    return {
      shutdown: async () => {
        log.debug(`published ${published} joint states`);
        await link.disconnect();
      },
    };
  },
});

export default node;
await runIfMain(import.meta.url, node);
