/**
 * Checks of a joint position command (`sensor_msgs/JointState` used as a command) before it may reach
 * a motor: the Sawyer's seven arm joints by name (or in order when unnamed), every value finite and
 * inside the URDF limits. A refused command throws `SafetyViolation`; the caller keeps the arm holding.
 */
import { N_JOINTS } from '../robot/kinematics.js';
import { JOINT_LIMITS, JOINT_NAMES } from '../robot/sawyer-model.js';
import { SafetyViolation } from '../robot/safety.js';

export { JOINT_NAMES };

export interface JointCommandLike {
  name: readonly string[];
  position: ArrayLike<number>;
}

/** The arm joint targets of a command in `JOINT_NAMES` order (other joints, e.g. the gripper, are ignored). */
export function jointTargetsFromCommand(cmd: JointCommandLike): Float64Array {
  const out = new Float64Array(N_JOINTS);
  const { name, position } = cmd;
  if (name.length === 0) {
    if (position.length !== N_JOINTS) {
      throw new SafetyViolation(`joint command has ${position.length} unnamed positions; send ${N_JOINTS} (${JOINT_NAMES.join(', ')}) or name them`);
    }
    for (let i = 0; i < N_JOINTS; i++) out[i] = position[i]!;
  } else {
    if (name.length !== position.length) {
      throw new SafetyViolation(`joint command has ${name.length} names but ${position.length} positions; they must match`);
    }
    for (let i = 0; i < N_JOINTS; i++) {
      const k = name.indexOf(JOINT_NAMES[i]!);
      if (k < 0) throw new SafetyViolation(`joint command lacks ${JOINT_NAMES[i]}; it must name all of ${JOINT_NAMES.join(', ')}`);
      out[i] = position[k]!;
    }
  }
  for (let i = 0; i < N_JOINTS; i++) {
    const v = out[i]!;
    const lim = JOINT_LIMITS[i]!;
    if (!Number.isFinite(v)) throw new SafetyViolation(`joint command ${JOINT_NAMES[i]} is ${v}: every position must be a finite number`);
    if (v < lim.lower || v > lim.upper) {
      throw new SafetyViolation(`joint command ${JOINT_NAMES[i]} = ${v.toFixed(4)} rad is outside its limits [${lim.lower}, ${lim.upper}] rad`);
    }
  }
  return out;
}

/** A joint command message for `targets` (positions only, REP-103 radians). */
export function jointCommandMessage(targets: ArrayLike<number>, stamp: { sec: number; nanosec: number }, frameId = '') {
  return {
    header: { stamp, frame_id: frameId },
    name: [...JOINT_NAMES],
    position: Array.from(targets),
    velocity: [] as number[],
    effort: [] as number[],
  };
}
