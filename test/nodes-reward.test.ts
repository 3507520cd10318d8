import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import { RosTime } from '../src/graph/time.js';
import rewardNode from '../nodes/reward.js';
import { quietRuntime, record, until } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('nodes: reward', function () {
  this.timeout(10000);
  let rt: InProcessRuntime;
  let node: RunningNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await rt?.shutdown();
  });

  async function start(params: Record<string, boolean | number | string>) {
    rt = quietRuntime();
    const probe = rt.createNode('probe');
    const rewards = record<Msg>(probe, 'std_msgs/msg/Float64', 'reward');
    const success = record<Msg>(probe, 'std_msgs/msg/Bool', 'success');
    const angles = record<Msg>(probe, 'std_msgs/msg/Float64', 'door_angle');
    const pub = (type: string, topic: string, qos?: 'latched' | 'clock') => probe.createPublisher(type, topic, qos ? { qos } : {});
    const clock = pub('rosgraph_msgs/msg/Clock', '/clock', 'clock');
    node = await startNode(rt, rewardNode, { parameterOverrides: { use_sim_time: true, ...params } });
    let t = 0;
    /** Advances sim time by one control step and returns the reward published for it. */
    const step = async () => {
      await rt.flush();
      const n = rewards.length;
      t += 0.05;
      clock.publish({ clock: RosTime.fromSeconds(t).toMsg() });
      await until(rt, () => rewards.length === n + 1, 'a reward');
      assert.equal(angles.length, rewards.length, 'one door_angle per reward');
      return { reward: rewards.at(-1)!.data as number, success: success.at(-1)!.data as boolean, angle: angles.at(-1)!.data as number };
    };
    return { pub, step, rewards };
  }

  it('sim source: sparse and dense GMPS door reward from the privileged state, target from task/params', async () => {
    const { pub, step } = await start({});
    const params = pub('gmps_msgs/msg/TaskParams', 'task/params', 'latched');
    const angle = pub('std_msgs/msg/Float64', 'task/door_angle');
    const grasp = pub('std_msgs/msg/Float64', 'task/grasp_distance');
    params.publish({ header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' }, task: 'door', target_rad: 0.5, goal_x: 0, goal_y: 0, episode: 1 });
    angle.publish({ data: 0.4 });
    grasp.publish({ data: 0.05 });
    let r = await step();
    assert.ok(Math.abs(r.reward - 10 * (0.5 - 0.1)) < 1e-12, `reward ${r.reward}`);
    assert.equal(r.angle, 0.4, 'the angle the reward was computed from');
    assert.equal(r.success, false, '0.1 rad off is not within 5 deg');
    angle.publish({ data: 0.52 });
    r = await step();
    assert.ok(Math.abs(r.reward - 10 * (0.5 - 0.02)) < 1e-12);
    assert.equal(r.success, true);
    grasp.publish({ data: 0.2 });
    r = await step();
    assert.equal(r.reward, 0, 'fingers 20 cm from the handle: no sparse reward');
    node!.node.setParameters([{ name: 'dense', value: true }]);
    r = await step();
    assert.ok(Math.abs(r.reward + 0.2) < 1e-12, 'dense reward subtracts the grasp distance');
  });

  it('hinge source: angle and grasp distance from the hand on the calibrated hinge circle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-reward-'));
    const file = join(dir, 'door_hinge.yaml');
    // vertical hinge at (0.9, -0.2, 0.3), handle 0.3 m away along +y when closed
    writeFileSync(
      file,
      'frame_id: base\naxis_point: {x: 0.9, y: -0.2, z: 0.3}\naxis_direction: {x: 0, y: 0, z: 1}\nradius_m: 0.3\nzero_direction: {x: 0, y: 1, z: 0}\n',
    );
    const { pub, step } = await start({ angle_source: 'hinge', hinge_file: file, target_rad: 0.6 });
    const hand = pub('geometry_msgs/msg/PoseStamped', 'hand_pose');
    const at = (theta: number, radial = 0) => ({
      header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' },
      // rotating +y about +z by theta gives (-sin, cos)
      pose: {
        position: { x: 0.9 - (0.3 + radial) * Math.sin(theta), y: -0.2 + (0.3 + radial) * Math.cos(theta), z: 0.3 },
        orientation: { x: 0, y: 0, z: 0, w: 1 },
      },
    });
    hand.publish(at(0.5));
    let r = await step();
    assert.ok(Math.abs(r.reward - 10 * (0.6 - 0.1)) < 1e-9, `reward ${r.reward}`);
    assert.ok(Math.abs(r.angle - 0.5) < 1e-9, `the hand's angle on the hinge circle: ${r.angle}`);
    hand.publish(at(0.5, 0.15));
    r = await step();
    assert.equal(r.reward, 0, 'hand 15 cm off the handle circle is not grasping');
  });

  it('refuses encoder/hinge sources without a hinge calibration, and unknown sources', async () => {
    rt = quietRuntime();
    await assert.rejects(startNode(rt, rewardNode, { parameterOverrides: { angle_source: 'encoder' } }), /needs the door hinge calibration: set hinge_file/);
    await assert.rejects(startNode(rt, rewardNode, { parameterOverrides: { angle_source: 'vision' } }), /must be auto, sim, encoder or hinge/);
  });

  it('auto source: the simulator state under use_sim_time; on wall time the calibrated hinge, refused without one', async () => {
    const { pub, step } = await start({ target_rad: 0.5 }); // use_sim_time, angle_source defaults to auto
    pub('std_msgs/msg/Float64', 'task/door_angle').publish({ data: 0.4 });
    pub('std_msgs/msg/Float64', 'task/grasp_distance').publish({ data: 0.05 });
    assert.ok(Math.abs((await step()).reward - 4) < 1e-12, 'reward from the simulator state');
    await node!.stop();
    node = undefined;
    await assert.rejects(
      startNode(rt, rewardNode, { name: 'reward_wall', parameterOverrides: { use_sim_time: false } }),
      /on wall time \(the real arm\) the door angle cannot come from the simulator: set hinge_file/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'gmps-reward-'));
    const file = join(dir, 'door_hinge.yaml');
    writeFileSync(file, 'frame_id: base\naxis_point: {x: 0.9, y: -0.2, z: 0.3}\naxis_direction: {x: 0, y: 0, z: 1}\nradius_m: 0.3\nzero_direction: {x: 0, y: 1, z: 0}\n');
    const probe = rt.createNode('probe_wall');
    const rewards = record<Msg>(probe, 'std_msgs/msg/Float64', 'reward');
    const wall = await startNode(rt, rewardNode, { name: 'reward_wall', parameterOverrides: { use_sim_time: false, hinge_file: file, target_rad: 0.6 } });
    try {
      const theta = 0.5; // hand on the handle circle at 0.5 rad
      probe.createPublisher('geometry_msgs/msg/PoseStamped', 'hand_pose').publish({
        header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' },
        pose: { position: { x: 0.9 - 0.3 * Math.sin(theta), y: -0.2 + 0.3 * Math.cos(theta), z: 0.3 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
      });
      await until(rt, () => rewards.length > 0, 'a wall-clock reward from the hinge', 200, 5000);
      assert.ok(Math.abs(rewards.at(-1)!.data - 10 * (0.6 - 0.1)) < 1e-9, `hinge reward ${rewards.at(-1)!.data}`);
    } finally {
      await wall.stop();
    }
  });
});
