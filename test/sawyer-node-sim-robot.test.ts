import assert from 'node:assert/strict';
import type { RosNode } from '@foxglove/ros1';
import { JOINT_LIMITS, JOINT_NAMES } from '../src/robot/sawyer-model.js';
import { ros1Now, ros1Type } from '../src/robot/sawyer/intera-messages.js';
import { startRos1Node, stopRos1Node } from '../src/robot/sawyer/ros1-node.js';
import { rosMissing, startSimSawyerRig, type SimSawyerRig } from './fixtures/ros1/sim-sawyer-rig.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The MuJoCo-backed simulated Sawyer as a raw Intera client sees it (no SawyerLink in between). */
describe('simulated Sawyer (MuJoCo) speaking Intera ROS 1', function () {
  this.timeout(30_000);
  let rig: SimSawyerRig;
  let client: RosNode;

  before(async function () {
    if (rosMissing()) this.skip();
    rig = await startSimSawyerRig();
    client = await startRos1Node({ name: '/raw_intera_client', masterUri: rig.master.uri });
    for (const [topic, type] of [
      ['/robot/limb/right/joint_command', 'intera_core_msgs/JointCommand'],
      ['/robot/set_super_stop', 'std_msgs/Empty'],
      ['/robot/set_super_reset', 'std_msgs/Empty'],
      ['/robot/set_super_enable', 'std_msgs/Bool'],
      ['/io/end_effector/right_gripper/command', 'intera_core_msgs/IOComponentCommand'],
    ] as const) {
      const t = ros1Type(type);
      await client.advertise({ topic, dataType: t.dataType, messageDefinitionText: t.definitionText, md5sum: t.md5sum });
    }
    const deadline = Date.now() + 5000;
    while ([...client.publications.values()].some((p) => p.subscribers().size === 0)) {
      if (Date.now() > deadline) throw new Error('the simulated Sawyer did not subscribe');
      await sleep(20);
    }
  });
  after(async () => {
    if (client) await stopRos1Node(client);
    await rig?.stop();
  });

  const send = (q: ArrayLike<number>, mode = 1) =>
    client.publish('/robot/limb/right/joint_command', {
      header: { seq: 0, stamp: ros1Now(), frame_id: '' },
      mode,
      names: [...JOINT_NAMES],
      position: Array.from(q),
      velocity: [],
      acceleration: [],
      effort: [],
    });

  // The simulated arm runs on wall time but drops what a stalled process missed, so on a loaded
  // machine it simulates less than the wall clock shows: motion is checked against its own clock.
  it('follows POSITION_MODE no faster than the joint velocity limit, and holds 0.2 s after the last command', async () => {
    const sim = rig.sim;
    const q0 = sim.q;
    const far = Float64Array.from(q0);
    far[0] = q0[0]! + 1.0; // right_j0 at 1.74 rad/s needs > 0.57 s
    const holds = sim.timeoutHolds;
    const firstIdx = sim.commands.length;
    // A controller streaming the same target every 20 ms, for 0.3 s of simulated time.
    const deadline = Date.now() + 10_000;
    do {
      await send(far);
      await sleep(20);
      if (Date.now() > deadline) throw new Error(`the simulator ran ${sim.simTime} s in 10 s of wall time`);
    } while (sim.commands.length === firstIdx || sim.simTime - sim.commands[firstIdx]!.simTimeS < 0.3);
    assert.equal(sim.commands.length > firstIdx && sim.commands.slice(firstIdx).every((c) => c.accepted), true, 'every command taken');
    while (!sim.holding) {
      if (Date.now() > deadline + 3000) throw new Error('never held after the commands stopped');
      await sleep(10);
    }
    await sleep(30); // the last command's delivery, if it overtook the hold, would show here
    const first = sim.commands[firstIdx]!;
    const last = sim.commands.at(-1)!;
    const hold = sim.lastTimeoutHold!;
    assert.ok(sim.timeoutHolds > holds, 'held because the commands stopped (the Intera timeout)');
    assert.ok(hold.atMs - last.atMs >= 200, `held ${hold.atMs - last.atMs} ms after the last command; the timeout is 0.2 s`);
    const drivenS = hold.simTimeS - first.simTimeS;
    const moved = hold.q[0]! - q0[0]!; // where the arm was when the timeout fired: the position it holds
    assert.ok(drivenS >= 0.3, `driven for ${drivenS.toFixed(3)} s of simulated time`);
    assert.ok(moved > 0.1, `moved ${moved.toFixed(3)} rad toward the target in ${drivenS.toFixed(3)} simulated s`);
    assert.ok(moved < JOINT_LIMITS[0]!.velocity * drivenS + 0.02, `no faster than the velocity limit (${moved.toFixed(3)} rad in ${drivenS.toFixed(3)} simulated s)`);
    if (JOINT_LIMITS[0]!.velocity * drivenS < 0.9) assert.ok(moved < 0.95, 'did not reach the far target: it held');
    // It settles where it held (the servo takes up the arm's momentum) and stays there.
    const simAtHold = sim.simTime;
    await sleep(400);
    assert.ok(sim.simTime > simAtHold, 'the simulator kept running');
    const qb = sim.q[0]!;
    assert.ok(Math.abs(qb - hold.q[0]!) < 0.01, `settles at the held position (${hold.q[0]} → ${qb})`);
    await sleep(200);
    assert.ok(Math.abs(sim.q[0]! - qb) < 0.002, `holds (${qb} → ${sim.q[0]})`);
  });

  it('ignores non-position modes and commands while stopped; set_super_reset + enable recover', async () => {
    const q0 = rig.sim.q;
    const moved = Float64Array.from(q0);
    moved[0] = q0[0]! - 0.2;
    let n = rig.sim.commands.length;
    await send(moved, 2);
    await sleep(200);
    assert.equal(rig.sim.commands.length, n + 1);
    assert.equal(rig.sim.commands.at(-1)!.accepted, false, 'VELOCITY_MODE is not simulated: ignored');
    await client.publish('/robot/set_super_stop', {});
    await sleep(150);
    assert.equal(rig.sim.state.stopped, true);
    assert.equal(rig.sim.state.enabled, false);
    n = rig.sim.commands.length;
    await send(moved);
    await sleep(150);
    assert.equal(rig.sim.commands.at(-1)!.accepted, false, 'ignored while stopped');
    await client.publish('/robot/set_super_enable', { data: true });
    await sleep(150);
    assert.equal(rig.sim.state.enabled, false, 'enable is refused until the stop is reset');
    await client.publish('/robot/set_super_reset', {});
    await sleep(100);
    await client.publish('/robot/set_super_enable', { data: true });
    await sleep(150);
    assert.equal(rig.sim.state.enabled, true);
    assert.equal(rig.sim.state.stopped, false);
    assert.ok(Math.abs(rig.sim.q[0]! - q0[0]!) < 0.01, 'the arm never moved');
  });

  it('sets the gripper opening from the IOComponentCommand position_m signal', async () => {
    await client.publish('/io/end_effector/right_gripper/command', {
      time: ros1Now(),
      op: 'set',
      args: JSON.stringify({ signals: { position_m: { format: { type: 'float' }, data: [0.01] } } }),
    });
    await sleep(150);
    assert.equal(rig.sim.gripperOpening, 0.01);
    assert.equal(rig.sim.gripperCommands.length, 1);
  });
});
