/**
 * Door reward node: the GMPS door reward (`doorReward`, sparse or dense) from the door angle, the target angle
 * and the finger-handle distance, published on `reward` once per control period of the node clock (under
 * use_sim_time with the lock-step simulator: once per simulator step), with `success` (|angle − target| within
 * `success_tolerance_rad`), and the door angle it used on `door_angle` (std_msgs/Float64, rad; the adaptation node
 * reports where each trial left the door from it).
 *
 * `angle_source`: `sim` reads the simulator's privileged `task/door_angle` and `task/grasp_distance`;
 * `encoder` reads `encoder/door_angle` (std_msgs/Float64, rad, remap it to your encoder) and computes the grasp
 * distance from `hand_pose` and the calibrated hinge (`hinge_file`); `hinge` takes the angle from the hand
 * position on the calibrated hinge circle (valid while the gripper holds the handle). `auto` (the default)
 * is `sim` on simulator time (`use_sim_time`, the MuJoCo graph) and on wall time (the real arm, which has no
 * privileged door state) `hinge`, which needs `hinge_file`.
 * The target comes from `task/params` (latched) unless `target_rad` is set (>= 0).
 */
import { readDoorHinge, doorAngleFromHand, type DoorHinge } from '../calibration/door-hinge.js';
import { defineNode, runIfMain } from '../src/graph/index.js';
import { hzToPeriodNs } from '../src/graph/time.js';
import { graspDistanceOnHinge } from '../src/nodes-support/door-reward.js';
import { doorReward } from '../sim/door.js';
import { DOOR } from '../sim/layout.js';

type Pose = { pose: { position: { x: number; y: number; z: number } } };

const node = defineNode({
  name: 'reward',
  description: 'GMPS door reward from the door angle (sim state, encoder or hinge-calibrated hand position)',
  create(ros) {
    const asked = ros.declareParameter<string>('angle_source', 'string', 'auto', {
      description:
        'Door angle from: sim (task/door_angle), encoder (encoder/door_angle), hinge (hand_pose on the calibrated hinge), ' +
        'or auto (sim under use_sim_time, else hinge)',
      readOnly: true,
    });
    if (asked !== 'auto' && asked !== 'sim' && asked !== 'encoder' && asked !== 'hinge') {
      throw new Error(`parameter angle_source must be auto, sim, encoder or hinge, got '${asked}'`);
    }
    const source: 'sim' | 'encoder' | 'hinge' = asked === 'auto' ? (ros.getParameter<boolean>('use_sim_time') ? 'sim' : 'hinge') : asked;
    ros.declareParameter('dense', 'bool', false, { description: 'Dense reward: subtract the grasp distance (m) from the sparse GMPS reward' });
    const hingeFile = ros.declareParameter('hinge_file', 'string', '', {
      description: 'Door hinge calibration YAML (gmps calibrate door); needed for angle_source encoder and hinge',
      readOnly: true,
    });
    const fixedTarget = ros.declareParameter('target_rad', 'double', -1.0, {
      description: 'Target door angle (rad); negative = take it from task/params',
    });
    ros.declareParameter('success_tolerance_rad', 'double', DOOR.successTolRad, {
      description: 'Success when |angle - target| is below this (rad)',
      range: { from: 0, to: Math.PI },
    });
    const rateHz = ros.declareParameter('rate_hz', 'double', 20.0, {
      description: 'Reward rate on the node clock (Hz); 20 = one per 0.05 s control step',
      readOnly: true,
      range: { from: 0.1, to: 1000 },
    });
    let hinge: DoorHinge | undefined;
    if (source !== 'sim') {
      if (!hingeFile) {
        throw new Error(
          asked === 'auto'
            ? 'on wall time (the real arm) the door angle cannot come from the simulator: set hinge_file (made by `gmps calibrate door`) ' +
                'for the hinge source, or angle_source encoder with hinge_file and an encoder/door_angle topic'
            : `angle_source ${source} needs the door hinge calibration: set hinge_file (made by \`gmps calibrate door\`)`,
        );
      }
      hinge = readDoorHinge(hingeFile);
    }
    const log = ros.getLogger();
    if (asked === 'auto') log.info(`door angle source: ${source} (${source === 'sim' ? 'simulator time' : 'wall time, calibrated hinge'})`);
    const rewardPub = ros.createPublisher('std_msgs/msg/Float64', 'reward');
    const successPub = ros.createPublisher('std_msgs/msg/Bool', 'success');
    const anglePub = ros.createPublisher('std_msgs/msg/Float64', 'door_angle');

    let angle: number | undefined;
    let grasp: number | undefined;
    let target: number | undefined = fixedTarget >= 0 ? fixedTarget : undefined;
    ros.createSubscription<{ target_rad: number; task: string }>('gmps_msgs/msg/TaskParams', 'task/params', { qos: 'latched' }, (m) => {
      if (ros.getParameter<number>('target_rad') < 0 && m.task === 'door') target = m.target_rad;
    });
    if (source === 'sim') {
      ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'task/door_angle', {}, (m) => void (angle = m.data));
      ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'task/grasp_distance', {}, (m) => void (grasp = m.data));
    } else {
      if (source === 'encoder') {
        ros.createSubscription<{ data: number }>('std_msgs/msg/Float64', 'encoder/door_angle', {}, (m) => void (angle = m.data));
      }
      ros.createSubscription<Pose>('geometry_msgs/msg/PoseStamped', 'hand_pose', {}, (m) => {
        const p = m.pose.position;
        const hand: [number, number, number] = [p.x, p.y, p.z];
        if (source === 'hinge') angle = doorAngleFromHand(hinge!, hand);
        grasp = angle === undefined ? undefined : graspDistanceOnHinge(hinge!, hand, angle);
      });
    }
    ros.addOnSetParametersCallback((params) => {
      for (const p of params) if (p.name === 'target_rad' && typeof p.value === 'number' && p.value >= 0) target = p.value;
      return { successful: true, reason: '' };
    });

    let waitingSaid = false;
    ros.createTimer(hzToPeriodNs(rateHz), () => {
      if (angle === undefined || grasp === undefined || target === undefined) {
        if (!waitingSaid) {
          const missing = [angle === undefined && 'door angle', grasp === undefined && 'grasp distance', target === undefined && 'target (task/params or target_rad)'];
          log.info(`waiting for ${missing.filter(Boolean).join(', ')}`);
          waitingSaid = true;
        }
        return;
      }
      // The angle first: a subscriber that pairs it with the step's reward has it when the reward arrives.
      anglePub.publish({ data: angle });
      rewardPub.publish({ data: doorReward(grasp, angle, target, ros.getParameter<boolean>('dense')) });
      successPub.publish({ data: Math.abs(angle - target) < ros.getParameter<number>('success_tolerance_rad') });
    });
  },
});

export default node;
await runIfMain(import.meta.url, node);
