/**
 * The MuJoCo Sawyer with its task (door or push) as a ROS 2 node: the robot side of the graph in simulation.
 *
 * Stepping (parameter `lockstep`):
 * - false (default): a wall-clock timer advances one control step (0.05 s of sim time) every
 *   0.05 s / `real_time_factor`, holding the latest joint_command target.
 * - true: each accepted `joint_command` advances exactly one control step, so the graph runs as fast as its
 *   slowest node (the embedded adaptation run uses this). Sim time stands still between commands; while idle
 *   the node republishes the unchanged state at `idle_state_rate_hz` so late subscribers can sync.
 * Either way `/clock` advances 0.05 s per step, published after the step's state topics; run the other nodes
 * with `use_sim_time: true`. This node itself runs on wall time.
 */
import { defineNode, runIfMain, type RosNode } from '../src/graph/index.js';
import { hzToPeriodNs, RosTime } from '../src/graph/time.js';
import { jointTargetsFromCommand, type JointCommandLike } from '../src/nodes-support/joint-command.js';
import { type ResetRequest, taskFromRequest } from '../src/nodes-support/reset-request.js';
import { CONTROL_PERIOD_NS, JointSimDriver } from '../src/nodes-support/sim-driver.js';
import { SafetyViolation } from '../src/robot/safety.js';
import { createEnv } from '../sim/index.js';
import { DOOR, PUSH, PHYSICS } from '../sim/layout.js';
import type { SawyerTaskEnv } from '../sim/sawyer-env.js';

function declare(node: RosNode) {
  const task = node.declareParameter('task', 'string', 'door', { description: 'Simulated task: door or push', readOnly: true });
  if (task !== 'door' && task !== 'push') throw new Error(`parameter task must be 'door' or 'push', got '${task}'`);
  return {
    task: task as 'door' | 'push',
    targetRad: node.declareParameter('target_rad', 'double', (30 * Math.PI) / 180, {
      description: 'Door target angle (rad) of the first episode',
      range: { from: 0, to: DOOR.maxTargetRad },
    }),
    goal: node.declareParameter('goal', 'double_array', [(PUSH.goalMin[0] + PUSH.goalMax[0]) / 2, (PUSH.goalMin[1] + PUSH.goalMax[1]) / 2], {
      description: 'Push goal [x, y] (m, base frame) of the first episode',
    }),
    camera: node.declareParameter('camera', 'bool', false, { description: 'Render camera/image_raw (MuJoCo ray casting) every step', readOnly: true }),
    width: node.declareParameter('image_width', 'integer', 64, { description: 'Camera image width (px)', readOnly: true, range: { from: 1, to: 4096 } }),
    height: node.declareParameter('image_height', 'integer', 48, { description: 'Camera image height (px)', readOnly: true, range: { from: 1, to: 4096 } }),
    cameraFrame: node.declareParameter('camera_frame_id', 'string', 'scene_camera_optical_frame', { description: 'frame_id of the camera images' }),
    baseFrame: node.declareParameter('base_frame_id', 'string', 'base', { description: 'Robot base frame of hand_pose and task positions' }),
    lockstep: node.declareParameter('lockstep', 'bool', false, {
      description: 'Advance one control step per accepted joint_command instead of on a wall-clock timer',
      readOnly: true,
    }),
    rtf: node.declareParameter('real_time_factor', 'double', 1.0, {
      description: 'Timer mode: sim seconds per wall second',
      readOnly: true,
      range: { from: 0.01, to: 100 },
    }),
    idleRate: node.declareParameter('idle_state_rate_hz', 'double', 5.0, {
      description: 'Lock-step mode: rate (wall clock) at which the unchanged state is republished while no command comes; 0 disables',
      range: { from: 0, to: 1000 },
    }),
  };
}

const node = defineNode({
  name: 'sim',
  description: 'MuJoCo Sawyer + door/push task: /clock, joint_states, hand_pose, camera, task state; takes joint_command',
  async create(ros) {
    const p = declare(ros);
    if (!p.lockstep && ros.hasParameter('use_sim_time') && ros.getParameter('use_sim_time') === true) {
      throw new Error('the simulator publishes /clock and steps on wall time: do not set use_sim_time on it (set it on the other nodes)');
    }
    const env = (await createEnv(p.task)) as SawyerTaskEnv;
    let camera: import('../sim/camera.js').RayCamera | undefined;
    if (p.camera) {
      const { attachSceneCamera } = await import('../sim/scene-camera.js');
      camera = attachSceneCamera(env, { width: p.width, height: p.height });
    }
    const sim = new JointSimDriver(env);
    const log = ros.getLogger();

    const clockPub = ros.createPublisher('rosgraph_msgs/msg/Clock', '/clock', { qos: 'clock' });
    const jointPub = ros.createPublisher('sensor_msgs/msg/JointState', 'joint_states');
    const handPub = ros.createPublisher('geometry_msgs/msg/PoseStamped', 'hand_pose');
    const paramsPub = ros.createPublisher('gmps_msgs/msg/TaskParams', 'task/params', { qos: 'latched' });
    const anglePub = p.task === 'door' ? ros.createPublisher('std_msgs/msg/Float64', 'task/door_angle') : undefined;
    const graspPub = p.task === 'door' ? ros.createPublisher('std_msgs/msg/Float64', 'task/grasp_distance') : undefined;
    const blockPub = p.task === 'push' ? ros.createPublisher('geometry_msgs/msg/PointStamped', 'task/block_position') : undefined;
    const imagePub = camera ? ros.createPublisher('sensor_msgs/msg/Image', 'camera/image_raw', { qos: 'sensor_data' }) : undefined;
    const infoPub = camera ? ros.createPublisher('sensor_msgs/msg/CameraInfo', 'camera/camera_info', { qos: 'sensor_data' }) : undefined;

    let publishedStep = -1;
    const publishState = (): void => {
      const stamp = new RosTime(sim.simTimeNs).toMsg();
      const header = { stamp, frame_id: p.baseFrame };
      const js = sim.jointState();
      jointPub.publish({ header: { stamp, frame_id: '' }, name: js.name, position: js.position, velocity: js.velocity, effort: [] });
      handPub.publish({ header, pose: sim.tipPose() });
      const door = sim.doorState();
      if (door) {
        anglePub!.publish({ data: door.angle });
        graspPub!.publish({ data: door.graspDistance });
      }
      const push = sim.pushState();
      if (push) blockPub!.publish({ header, point: { x: push.block[0]!, y: push.block[1]!, z: push.block[2]! } });
      if (camera) {
        const rgb = camera.render(env.data).rgb;
        imagePub!.publish({
          header: { stamp, frame_id: p.cameraFrame },
          height: camera.height,
          width: camera.width,
          encoding: 'rgb8',
          is_bigendian: 0,
          step: camera.width * 3,
          data: rgb,
        });
        infoPub!.publish(camera.cameraInfo(p.cameraFrame, stamp));
      }
      // Last, so a use_sim_time node's timers see this step's state already delivered.
      clockPub.publish({ clock: stamp });
      publishedStep = sim.steps;
    };

    const startEpisode = (req: ResetRequest): void => {
      const task = taskFromRequest(p.task, req);
      sim.reset(task);
      const door = task.kind === 'door' ? task.targetRad : 0;
      const [gx, gy] = task.kind === 'push' ? task.goal : [0, 0];
      paramsPub.publish({
        header: { stamp: new RosTime(sim.simTimeNs).toMsg(), frame_id: p.baseFrame },
        task: task.kind,
        target_rad: door,
        goal_x: gx,
        goal_y: gy,
        episode: sim.episode,
      });
      publishState();
    };
    const goal = p.goal;
    if (goal.length !== 2) throw new Error(`parameter goal must be [x, y], got ${goal.length} values`);
    startEpisode({ task: p.task, target_rad: p.targetRad, goal_x: goal[0]!, goal_y: goal[1]! });

    ros.createService<ResetRequest, { success: boolean; message: string }>('gmps_msgs/srv/ResetEpisode', '~/reset_episode', (req) => {
      try {
        startEpisode(req);
        return { success: true, message: `episode ${sim.episode} started (${p.task})` };
      } catch (err) {
        const message = (err as Error).message;
        log.error(`reset_episode refused: ${message}`);
        return { success: false, message };
      }
    });

    let lastClip = '';
    ros.createSubscription<JointCommandLike>('sensor_msgs/msg/JointState', 'joint_command', {}, (cmd) => {
      let q: Float64Array;
      try {
        q = jointTargetsFromCommand(cmd);
      } catch (err) {
        if (!(err instanceof SafetyViolation)) throw err;
        log.error(`joint_command refused, the arm holds its last target: ${err.message}`);
        return;
      }
      const clip = sim.setTarget(q);
      // warn once per distinct reason in a row, so a steady clip (e.g. the velocity cap) does not flood the log
      const reason = clip.clipped ? clip.reasons.join(', ') : '';
      if (reason && reason !== lastClip) log.warn(`joint_command clipped by the safety envelope: ${reason}`);
      lastClip = reason;
      if (p.lockstep) {
        sim.step();
        publishState();
      }
    });

    if (!p.lockstep) {
      const period = BigInt(Math.round(Number(CONTROL_PERIOD_NS) / p.rtf));
      ros.createTimer(period, () => {
        sim.step();
        publishState();
      });
    } else if (p.idleRate > 0) {
      let lastSeen = publishedStep;
      ros.createTimer(hzToPeriodNs(p.idleRate), () => {
        if (publishedStep === lastSeen) publishState();
        lastSeen = publishedStep;
      });
    }
    log.info(
      `${p.task} simulator ready: ${p.lockstep ? 'lock-step (one step per joint_command)' : `timer at ${(p.rtf / PHYSICS.controlDt).toFixed(1)} Hz`}` +
        `${camera ? `, camera ${camera.width}x${camera.height}` : ''}`,
    );
    return { shutdown: () => env.close() };
  },
});

export default node;
await runIfMain(import.meta.url, node);
