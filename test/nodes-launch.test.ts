import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { planLaunch } from '../src/graph/launch/plan.js';
import { runLaunchPlan, type LaunchRun } from '../src/graph/launch/run.js';
import { quietRuntime, record, until, type Logged } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const FILE = resolve('launch/sim.launch.yaml');

describe('nodes: launch/sim.launch.yaml', function () {
  this.timeout(30000);
  let run: LaunchRun | undefined;
  afterEach(async () => run?.stop());

  it('plans sim + controller + reward, and sawyer instead of sim for hardware:=sawyer', () => {
    const plan = planLaunch(FILE, { args: { lockstep: 'true' } });
    assert.deepEqual(plan.nodes.map((n) => n.name), ['sim', 'controller', 'reward']);
    assert.deepEqual(plan.nodes[0]!.params.find((p) => p.kind === 'value' && p.name === 'lockstep'), { kind: 'value', name: 'lockstep', value: true });
    assert.deepEqual(plan.nodes[1]!.params[0], { kind: 'value', name: 'use_sim_time', value: true });
    const real = planLaunch(FILE, { args: { hardware: 'sawyer' } });
    assert.deepEqual(real.nodes.map((n) => n.name), ['sawyer', 'controller', 'reward']);
  });

  it('adapt_door: the simulator graph on sim time, and the real-arm graph on wall time for hardware:=sawyer', () => {
    const value = (plan: ReturnType<typeof planLaunch>, node: string, name: string) => {
      const p = plan.nodes.find((n) => n.name === node)!.params.find((q) => q.kind === 'value' && q.name === name);
      return p && 'value' in p ? p.value : undefined;
    };
    const sim = planLaunch(resolve('launch/adapt_door.launch.yaml'), { args: {} });
    assert.deepEqual(sim.nodes.map((n) => n.name), ['sim', 'controller', 'reward', 'policy', 'adaptation']);
    for (const n of ['controller', 'reward', 'policy', 'adaptation']) assert.equal(value(sim, n, 'use_sim_time'), true, n);
    assert.equal(value(sim, 'policy', 'trigger'), 'clock');
    assert.equal(value(sim, 'adaptation', 'reset_service'), 'sim/reset_episode');
    const real = planLaunch(resolve('launch/adapt_door.launch.yaml'), { args: { hardware: 'sawyer', hinge_file: 'hinge.yaml', camera_device: '/dev/video2' } });
    assert.deepEqual(real.nodes.map((n) => n.name), ['sawyer', 'camera', 'controller', 'reward', 'policy', 'adaptation']);
    assert.equal(real.nodes.find((n) => n.name === 'camera')!.namespace, '/camera', 'the camera publishes camera/image_raw');
    assert.equal(value(real, 'camera', 'source'), '/dev/video2');
    for (const n of ['controller', 'reward', 'adaptation']) assert.equal(value(real, n, 'use_sim_time'), false, n);
    assert.equal(value(real, 'policy', 'use_sim_time'), undefined, 'wall time by default');
    assert.equal(value(real, 'policy', 'trigger'), 'timer');
    assert.equal(value(real, 'reward', 'angle_source'), 'auto');
    assert.equal(value(real, 'reward', 'hinge_file'), 'hinge.yaml');
    assert.equal(value(real, 'adaptation', 'reset_service'), 'sawyer/reset_episode');
    // the exploration σ scale reaches the policy node in both graphs
    const scaled = (hardware: string) => planLaunch(resolve('launch/adapt_door.launch.yaml'), { args: { hardware, explore_std_scale: '0.5' } });
    for (const hw of ['sim', 'sawyer']) assert.equal(Number(value(scaled(hw), 'policy', 'explore_std_scale')), 0.5, hw);
  });

  it('runs in lock-step: cmd_ee moves the arm, rewards come per step', async () => {
    const logs: Logged[] = [];
    const runtime = quietRuntime(logs);
    run = await runLaunchPlan(planLaunch(FILE, { args: { lockstep: 'true' } }), { runtime, log: () => {} });
    const probe = runtime.createNode('probe');
    const hand = record<Msg>(probe, 'geometry_msgs/msg/PoseStamped', 'hand_pose');
    const rewards = record<Msg>(probe, 'std_msgs/msg/Float64', 'reward');
    const cmd = probe.createPublisher('geometry_msgs/msg/TwistStamped', 'cmd_ee');
    const reset = probe.createClient('gmps_msgs/srv/ResetEpisode', '/sim/reset_episode');
    assert.equal((await reset.sendRequestAsync({ task: '', target_rad: 0.4, goal_x: 0, goal_y: 0 }, { timeout: 5000 })).success, true);
    await until(runtime, () => hand.length === 1 && logs.some((l) => /started from the measured/.test(l.message)), 'sync');
    const z0 = hand[0]!.pose.position.z;
    for (let i = 0; i < 5; i++) {
      cmd.publish({ header: { stamp: { sec: 0, nanosec: 0 }, frame_id: 'base' }, twist: { linear: { x: 0, y: 0, z: -1 }, angular: { x: 0, y: 0, z: 0 } } });
      await until(runtime, () => hand.length === i + 2, `step ${i + 1}`);
    }
    await until(runtime, () => rewards.length >= 4, 'rewards');
    assert.ok(hand.at(-1)!.pose.position.z < z0 - 0.03, `the tip went down (${z0} → ${hand.at(-1)!.pose.position.z})`);
    assert.ok(rewards.every((r) => r.data === 0), 'the hand starts far from the handle: sparse reward 0');
    assert.deepEqual(logs.filter((l) => l.level === 'error' || l.level === 'fatal'), []);
  });
});
