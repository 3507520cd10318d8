import assert from 'node:assert/strict';
import { moveJointsTo } from '../src/robot/sawyer/guarded-motion.js';
import type { JointPositions, Robot, RobotObservation } from '../src/robot/robot.js';
import { JOINT_NAMES, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';

/** A robot that follows every target at once, records them, and stalls once (its link busy) on the given call. */
function followingRobot(stallOnCall: number, stallMs: number) {
  let q = Float64Array.from(NEUTRAL_POSE);
  const sent: Float64Array[] = [];
  const robot: Robot = {
    isConnected: true,
    async connect() {},
    async disconnect() {},
    async getObservation() {
      return { joints: { names: [...JOINT_NAMES], position: Array.from(q) } } as unknown as RobotObservation;
    },
    async sendAction(target: JointPositions) {
      q = Float64Array.from(target.position);
      sent.push(q);
      if (sent.length === stallOnCall) await new Promise((r) => setTimeout(r, stallMs));
      return target;
    },
  };
  return { robot, sent };
}

describe('moveJointsTo: the slow joint-space move of the episode reset', function () {
  this.timeout(20_000);

  it('after a stall the target does not jump to where the timing says: each step moves at most one period at the speed', async () => {
    const { robot, sent } = followingRobot(3, 400);
    const goal = Float64Array.from(NEUTRAL_POSE);
    goal[0] += 0.12;
    goal[3] -= 0.06;
    const speed = 0.6;
    const rateHz = 50;
    const res = await moveJointsTo(robot, goal, { speedRadS: speed, rateHz, toleranceRad: 1e-9 });
    assert.equal(res.reached, true);
    const maxStep = speed / rateHz;
    let prev: Float64Array = Float64Array.from(NEUTRAL_POSE);
    for (const [k, q] of sent.entries()) {
      const d = Math.max(...Array.from(q, (v, i) => Math.abs(v - prev[i]!)));
      assert.ok(d <= maxStep + 1e-12, `target ${k} moved ${d.toFixed(4)} rad, more than ${maxStep} (one period at ${speed} rad/s)`);
      // on the straight line from the start to the goal: joint 3 moves half as far as joint 0, the others not at all
      assert.ok(Math.abs((q[3]! - NEUTRAL_POSE[3]!) + 0.5 * (q[0]! - NEUTRAL_POSE[0]!)) < 1e-12, `target ${k} off the line`);
      for (const i of [1, 2, 4, 5, 6]) assert.equal(q[i], NEUTRAL_POSE[i]);
      prev = q;
    }
    assert.deepEqual(Array.from(sent.at(-1)!), Array.from(goal), 'the last target is the goal');
    // 0.12 rad at 0.6 rad/s is 0.2 s of timing; the 0.4 s stall came on top of it instead of being skipped
    assert.ok(res.durationS > 0.55, `took ${res.durationS} s`);
  });

  it('a goal it is already at: one target, the goal itself', async () => {
    const { robot, sent } = followingRobot(0, 0);
    const res = await moveJointsTo(robot, NEUTRAL_POSE, { toleranceRad: 1e-9 });
    assert.equal(res.reached, true);
    assert.equal(sent.length, 1);
    assert.deepEqual(Array.from(sent[0]!), Array.from(NEUTRAL_POSE));
  });
});
