/**
 * MJCF of the simulated Sawyer scenes, generated from the kinematic facts in `src/robot/sawyer-model.ts` and
 * the task layout in `sim/layout.ts`. One self-contained document per task (no includes, no meshes), written
 * for MuJoCo 2.2.2 and newer: the native benchmark loads the very same text.
 */
import { BASE_MASS_KG, GRIPPER, HAND_OFFSET, HAND_QUAT, JOINT_LIMITS, LINKS, NEUTRAL_POSE, SERVO, type Vec3 } from '../src/robot/sawyer-model.js';
import { DOOR, PHYSICS, PUSH, TABLE } from './layout.js';
import type { SawyerTaskKind } from './types.js';

const f = (x: number): string => {
  const s = x.toFixed(9).replace(/\.?0+$/, '');
  return s === '-0' ? '0' : s;
};
const v = (a: readonly number[]): string => a.map(f).join(' ');

/**
 * The task camera: push is seen from the far side of the table looking back at the robot, tilted down (as
 * GMPS's `robotview_zoomed`); door from the robot's right, above, so that the handle, the hand and the door's
 * swing are all in view.
 */
export const SCENE_CAMERA = {
  name: 'scene_camera',
  fovy: 55,
  door: { pos: [0.5, -0.75, 0.75] as Vec3, target: [0.72, 0.02, 0.22] as Vec3 },
  push: { pos: [1.1, 0, 0.55] as Vec3, target: [0.55, 0, 0] as Vec3 },
};

/** MJCF `xyaxes` of a camera at `pos` looking at `target` with world z up (MuJoCo cameras look along −z). */
function lookAtXyaxes(pos: Vec3, target: Vec3): string {
  const fwd = [target[0] - pos[0], target[1] - pos[1], target[2] - pos[2]];
  const n = Math.hypot(fwd[0]!, fwd[1]!, fwd[2]!);
  const z = fwd.map((c) => -c / n);
  let x = [-z[1]!, z[0]!, 0]; // up × z, with up = (0, 0, 1)
  const nx = Math.hypot(x[0]!, x[1]!);
  x = x.map((c) => c / nx);
  const y = [z[1]! * x[2]! - z[2]! * x[1]!, z[2]! * x[0]! - z[0]! * x[2]!, z[0]! * x[1]! - z[1]! * x[0]!];
  return v([...x, ...y]);
}

function armXml(): string {
  let xml = '';
  let close = '';
  LINKS.forEach((link, i) => {
    const next: Vec3 = i + 1 < LINKS.length ? LINKS[i + 1]!.pos : HAND_OFFSET;
    const cls = i < 2 ? 'large_joint' : i < 4 ? 'medium_joint' : 'small_joint';
    const lim = JOINT_LIMITS[i]!;
    xml += `<body name="${link.body}" pos="${v(link.pos)}" quat="${v(link.quat)}">
<joint name="${link.joint}" class="${cls}" range="${f(lim.lower)} ${f(lim.upper)}"/>
<geom name="${link.body}_collision" class="arm_collision" fromto="0 0 0 ${v(next)}" size="${f(link.radius)}" mass="${f(link.massKg)}"/>
`;
    close += '</body>\n';
  });
  const palmTop = 0, palmBottom = GRIPPER.palmLength;
  const fingerZ = GRIPPER.palmLength + GRIPPER.fingerLength / 2;
  xml += `<body name="right_hand" pos="${v(HAND_OFFSET)}" quat="${v(HAND_QUAT)}">
<site name="right_hand" size="0.01" rgba="0 0 1 0.5"/>
<geom name="right_gripper_base" class="arm_collision" type="cylinder" fromto="0 0 ${f(palmTop)} 0 0 ${f(palmBottom)}" size="${f(GRIPPER.palmRadius)}" mass="${f(GRIPPER.palmMassKg)}" rgba="0.2 0.2 0.2 1"/>
<site name="right_gripper_tip" pos="0 0 ${f(GRIPPER.tipOffset)}" size="0.008" rgba="1 0 0 0.5"/>
<body name="right_gripper_l_finger" pos="0 0 ${f(fingerZ)}">
<joint name="right_gripper_l_finger_joint" class="finger" axis="1 0 0"/>
<geom name="right_gripper_l_finger" class="finger_collision" pos="0.005 0 0"/>
<site name="right_gripper_l_finger_tip" pos="0.005 0 ${f(GRIPPER.fingerLength / 2)}" size="0.004"/>
</body>
<body name="right_gripper_r_finger" pos="0 0 ${f(fingerZ)}">
<joint name="right_gripper_r_finger_joint" class="finger" axis="-1 0 0"/>
<geom name="right_gripper_r_finger" class="finger_collision" pos="-0.005 0 0"/>
<site name="right_gripper_r_finger_tip" pos="-0.005 0 ${f(GRIPPER.fingerLength / 2)}" size="0.004"/>
</body>
</body>
`;
  return xml + close;
}

function doorXml(): string {
  const [t, w, h] = DOOR.plankHalf;
  const [gx, gy] = DOOR.grasp;
  const hl = DOOR.handleHalfLength;
  return `<body name="door" pos="${v(DOOR.hinge)}">
<joint name="door_hinge" type="hinge" axis="0 0 1" limited="true" range="-0.1 1.6" damping="${f(DOOR.damping)}" frictionloss="${f(DOOR.frictionloss)}" armature="0.05"/>
<geom name="door_plank" class="object" type="box" pos="0 ${f(w)} 0" size="${v([t, w, h])}" mass="2" rgba="0.55 0.35 0.2 1"/>
<geom name="door_handle" class="object" type="capsule" fromto="${v([gx, gy - hl, 0])} ${v([gx, gy + hl, 0])}" size="${f(DOOR.handleRadius)}" mass="0.1" rgba="0.8 0.8 0.85 1"/>
<geom name="door_handle_post_a" class="object" type="capsule" fromto="${v([gx, gy - hl, 0])} ${v([-t, gy - hl, 0])}" size="${f(DOOR.handleRadius)}" mass="0.05" rgba="0.8 0.8 0.85 1"/>
<geom name="door_handle_post_b" class="object" type="capsule" fromto="${v([gx, gy + hl, 0])} ${v([-t, gy + hl, 0])}" size="${f(DOOR.handleRadius)}" mass="0.05" rgba="0.8 0.8 0.85 1"/>
<site name="door_grasp" pos="${v([gx, gy, 0])}" size="0.01" rgba="0 1 0 0.5"/>
</body>
<body name="door_frame" pos="${v(DOOR.hinge)}">
<geom name="door_post" type="box" pos="0.045 -0.03 0" size="0.02 0.02 ${f(h)}" contype="0" conaffinity="0" rgba="0.4 0.4 0.4 1"/>
</body>
`;
}

function pushXml(): string {
  const s = PUSH.blockHalf;
  return `<body name="block" pos="${v(PUSH.blockStart)}">
<freejoint name="block_joint"/>
<inertial pos="0 0 0" mass="${f(PUSH.blockMassKg)}" diaginertia="10 10 10"/>
<geom name="block" class="object" type="box" size="${v([s, s, s])}" friction="1 0.005 0.0001" rgba="0.1 0.3 0.9 1"/>
</body>
<site name="goal" pos="${v([(PUSH.goalMin[0] + PUSH.goalMax[0]) / 2, 0, 0.001])}" size="0.02" rgba="0 1 0 0.3" group="4"/>
`;
}

/** Complete MJCF of the scene for a task. */
export function sceneXml(kind: SawyerTaskKind): string {
  const arm = NEUTRAL_POSE;
  const fingers = [GRIPPER.maxOpening / 2, GRIPPER.maxOpening / 2];
  const taskQpos = kind === 'door' ? [0] : [...PUSH.blockStart, 1, 0, 0, 0];
  const large = SERVO[0], medium = SERVO[2], small = SERVO[4];
  const actuators = LINKS.map((l, i) => {
    const s = SERVO[i]!;
    const lim = JOINT_LIMITS[i]!;
    return `<general name="${l.joint}" joint="${l.joint}" ctrllimited="true" ctrlrange="${f(lim.lower)} ${f(lim.upper)}" forcelimited="true" forcerange="${f(-lim.effort)} ${f(lim.effort)}" biastype="affine" gainprm="${f(s.kp)}" biasprm="0 ${f(-s.kp)} ${f(-s.kv)}"/>`;
  }).join('\n');
  const cam = SCENE_CAMERA[kind];
  return `<mujoco model="sawyer_${kind}">
<compiler angle="radian" inertiafromgeom="true"/>
<option timestep="${f(PHYSICS.timestep)}" integrator="Euler" gravity="0 0 -9.81"/>
<size njmax="500" nconmax="100"/>
<visual><global offwidth="640" offheight="480"/></visual>
<default>
<joint limited="true" damping="0.1"/>
<geom condim="3" friction="1 0.005 0.0001" solref="0.01 1"/>
<default class="large_joint"><joint armature="${f(large.armature)}" frictionloss="${f(large.frictionloss)}" damping="${f(large.damping)}"/></default>
<default class="medium_joint"><joint armature="${f(medium.armature)}" frictionloss="${f(medium.frictionloss)}" damping="${f(medium.damping)}"/></default>
<default class="small_joint"><joint armature="${f(small.armature)}" frictionloss="${f(small.frictionloss)}" damping="${f(small.damping)}"/></default>
<default class="finger"><joint type="slide" range="0 ${f(GRIPPER.maxOpening / 2)}" armature="0.05" damping="5"/></default>
<default class="arm_collision"><geom type="capsule" contype="2" conaffinity="1" rgba="0.75 0.1 0.1 1"/></default>
<default class="finger_collision"><geom type="box" size="0.005 0.01 ${f(GRIPPER.fingerLength / 2)}" contype="2" conaffinity="1" mass="${f(GRIPPER.fingerMassKg)}" friction="2 0.005 0.0001" rgba="0.15 0.15 0.15 1"/></default>
<default class="object"><geom contype="1" conaffinity="3"/></default>
</default>
<worldbody>
<light name="top" pos="0.6 0 2" dir="0 0 -1" directional="true"/>
<geom name="floor" class="object" type="plane" pos="0 0 -0.9" size="3 3 0.1" rgba="0.35 0.35 0.38 1"/>
<geom name="table" class="object" type="box" pos="${v(TABLE.center)}" size="${v(TABLE.halfSize)}" friction="1 0.005 0.0001" rgba="0.85 0.85 0.8 1"/>
<camera name="${SCENE_CAMERA.name}" pos="${v(cam.pos)}" xyaxes="${lookAtXyaxes(cam.pos, cam.target)}" fovy="${f(SCENE_CAMERA.fovy)}"/>
<body name="right_arm_base_link" pos="0 0 0">
<geom name="base_collision" class="arm_collision" type="cylinder" fromto="0 0 -0.05 0 0 0.08" size="0.09" mass="${f(BASE_MASS_KG)}"/>
${armXml()}</body>
${kind === 'door' ? doorXml() : pushXml()}</worldbody>
<actuator>
${actuators}
<general name="right_gripper_l" joint="right_gripper_l_finger_joint" ctrllimited="true" ctrlrange="0 ${f(GRIPPER.maxOpening / 2)}" forcelimited="true" forcerange="-20 20" biastype="affine" gainprm="400" biasprm="0 -400 -10"/>
<general name="right_gripper_r" joint="right_gripper_r_finger_joint" ctrllimited="true" ctrlrange="0 ${f(GRIPPER.maxOpening / 2)}" forcelimited="true" forcerange="-20 20" biastype="affine" gainprm="400" biasprm="0 -400 -10"/>
</actuator>
<keyframe>
<key name="neutral" qpos="${v([...arm, ...fingers, ...taskQpos])}" ctrl="${v([...arm, ...fingers])}"/>
</keyframe>
</mujoco>
`;
}
