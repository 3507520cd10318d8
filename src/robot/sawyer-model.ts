/**
 * Kinematic and actuator facts of the Rethink Sawyer (Intera 5.x), in one place. The simulator's MJCF is
 * generated from these constants and the IK uses them too, so the simulated arm and the controller that will
 * command the real arm share one model.
 *
 * Sources: sawyer_description URDF (joint limits, velocity and effort limits, right_hand frame), the Menagerie
 * Sawyer (link offsets, masses, position-servo gains). Frames follow REP-103: the base frame is
 * `right_arm_base_link`, x forward, y left, z up, metres and radians.
 */

export type Vec3 = readonly [number, number, number];
/** Quaternion (w, x, y, z), as MuJoCo writes it. */
export type Quat = readonly [number, number, number, number];

export interface LinkSpec {
  /** Body name in the MJCF (URDF link name). */
  body: string;
  joint: string;
  /** Body origin in the parent body's frame. */
  pos: Vec3;
  /** Body orientation in the parent body's frame; the joint turns about the body's local z. */
  quat: Quat;
  massKg: number;
  /** Radius of the link's collision capsule, which runs from this body's origin to the next body's origin. */
  radius: number;
}

function normalize(q: readonly number[]): Quat {
  const n = Math.hypot(q[0]!, q[1]!, q[2]!, q[3]!);
  return [q[0]! / n, q[1]! / n, q[2]! / n, q[3]! / n];
}

/** Fixed offset of `right_l0` above the base (the base is the robot's pedestal mount). */
export const BASE_TO_L0: Vec3 = [0, 0, 0.08];
export const BASE_MASS_KG = 2.0687;

export const LINKS: readonly LinkSpec[] = [
  { body: 'right_l0', joint: 'right_j0', pos: BASE_TO_L0, quat: [1, 0, 0, 0], massKg: 5.3213, radius: 0.075 },
  { body: 'right_l1', joint: 'right_j1', pos: [0.081, 0.05, 0.237], quat: normalize([1, -1, 1, 1]), massKg: 4.505, radius: 0.07 },
  { body: 'right_l2', joint: 'right_j2', pos: [0, -0.14, 0.1425], quat: normalize([1, 1, 0, 0]), massKg: 1.745, radius: 0.055 },
  { body: 'right_l3', joint: 'right_j3', pos: [0, -0.042, 0.26], quat: normalize([1, -1, 0, 0]), massKg: 2.5097, radius: 0.055 },
  { body: 'right_l4', joint: 'right_j4', pos: [0, -0.125, -0.1265], quat: normalize([1, 1, 0, 0]), massKg: 1.1136, radius: 0.045 },
  { body: 'right_l5', joint: 'right_j5', pos: [0, 0.031, 0.275], quat: normalize([1, -1, 0, 0]), massKg: 1.5625, radius: 0.045 },
  { body: 'right_l6', joint: 'right_j6', pos: [0, -0.11, 0.1053], quat: normalize([0.0616248, 0.06163, -0.704416, 0.704416]), massKg: 0.3292, radius: 0.045 },
];

export const JOINT_NAMES: readonly string[] = LINKS.map((l) => l.joint);

export interface JointLimit { lower: number; upper: number; velocity: number; effort: number }

/** sawyer_description URDF limits (rad, rad/s, N·m). */
export const JOINT_LIMITS: readonly JointLimit[] = [
  { lower: -3.0503, upper: 3.0503, velocity: 1.74, effort: 80 },
  { lower: -3.8095, upper: 2.2736, velocity: 1.328, effort: 80 },
  { lower: -3.0426, upper: 3.0426, velocity: 1.957, effort: 40 },
  { lower: -3.0439, upper: 3.0439, velocity: 1.957, effort: 40 },
  { lower: -2.9761, upper: 2.9761, velocity: 3.485, effort: 9 },
  { lower: -2.9761, upper: 2.9761, velocity: 3.485, effort: 9 },
  { lower: -4.7124, upper: 4.7124, velocity: 4.545, effort: 9 },
];

/** Position-servo gains of the Menagerie Sawyer (kp N·m/rad, kv N·m·s/rad) and joint friction/armature. */
export const SERVO = [
  { kp: 800, kv: 80, frictionloss: 0.3, armature: 1, damping: 0.1 },
  { kp: 800, kv: 80, frictionloss: 0.3, armature: 1, damping: 0.1 },
  { kp: 800, kv: 80, frictionloss: 0.3, armature: 1, damping: 0.1 },
  { kp: 800, kv: 80, frictionloss: 0.3, armature: 1, damping: 0.1 },
  { kp: 500, kv: 50, frictionloss: 0.1, armature: 1, damping: 0.1 },
  { kp: 500, kv: 50, frictionloss: 0.1, armature: 1, damping: 0.1 },
  { kp: 500, kv: 50, frictionloss: 0.1, armature: 1, damping: 0.1 },
] as const;

/** Intera's named pose `neutral` (sawyer_description/params/named_poses.yaml). */
export const NEUTRAL_POSE: readonly number[] = [0, -1.18, 0, 2.18, 0, 0.57, 3.3161];

/** `right_hand` = right_l6 + (0, 0, 0.0245), rpy (0, 0, π/2) (URDF). */
export const HAND_OFFSET: Vec3 = [0, 0, 0.0245];
export const HAND_QUAT: Quat = [Math.SQRT1_2, 0, 0, Math.SQRT1_2];

/**
 * Rethink electric gripper, along right_hand's z: the gripper base (palm) and the point midway between the
 * fingertips (`right_gripper_tip`). The tip offset is our approximation of the standard finger set; measure
 * yours and change it here (the controller and the simulator both follow).
 */
export const GRIPPER = {
  palmLength: 0.06,
  palmRadius: 0.035,
  fingerLength: 0.06,
  tipOffset: 0.12,
  /** Opening between the fingers, metres (Intera `position_m`). */
  maxOpening: 0.041667,
  fingerMassKg: 0.02,
  palmMassKg: 0.3,
} as const;
