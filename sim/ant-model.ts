/**
 * MJCF of the quadruped used by the Ant goal tasks, written from the classic gym Ant's facts:
 * a 0.25 m torso sphere starting 0.75 m up on a free joint; four legs on the diagonals, each a
 * hip strut fixed to the torso, a thigh capsule (hip joint about z, ±30°) and a shin capsule
 * (ankle joint across the leg, 30°..70°, positive bends the foot down; gym writes the same limits
 * with flipped axes on two legs); eight motors with
 * gear 150 and ctrlrange ±1; timestep 0.01 s, RK4. Only elements MuJoCo 2.2 already knew are used
 * (no `frame`, `gravcomp` or `implicitfast`), so the same file loads in MuJoCo 2.2.2 and 3.x.
 */

export const ANT_TIMESTEP = 0.01;
/** Physics steps per control step (gym's frame_skip): control at 20 Hz. */
export const ANT_FRAME_SKIP = 5;
export const ANT_JOINTS = ['hip_1', 'ankle_1', 'hip_2', 'ankle_2', 'hip_3', 'ankle_3', 'hip_4', 'ankle_4'] as const;

interface Leg {
  name: string;
  /** Unit direction of the leg in the torso's xy plane (diagonal). */
  dir: [number, number];
}

const LEGS: readonly Leg[] = [
  { name: 'front_left', dir: [1, 1] },
  { name: 'front_right', dir: [-1, 1] },
  { name: 'back_left', dir: [-1, -1] },
  { name: 'back_right', dir: [1, -1] },
];

const f = (v: number): string => String(Number(v.toFixed(4)));

function legXml(leg: Leg, i: number): string {
  const [dx, dy] = leg.dir;
  const hip = 0.2; // the hip sits 0.2 m out along each axis (gym: the end of the 'aux' capsule)
  const thigh = 0.2;
  const shin = 0.4;
  const n = i + 1;
  return `
      <geom name="${leg.name}_strut" fromto="0 0 0 ${f(dx * hip)} ${f(dy * hip)} 0"/>
      <body name="${leg.name}_thigh" pos="${f(dx * hip)} ${f(dy * hip)} 0">
        <joint name="hip_${n}" class="hip"/>
        <geom name="${leg.name}_thigh_geom" fromto="0 0 0 ${f(dx * thigh)} ${f(dy * thigh)} 0"/>
        <body name="${leg.name}_shin" pos="${f(dx * thigh)} ${f(dy * thigh)} 0">
          <joint name="ankle_${n}" axis="${f(-dy)} ${f(dx)} 0" range="30 70"/>
          <geom name="${leg.name}_shin_geom" fromto="0 0 0 ${f(dx * shin)} ${f(dy * shin)} 0"/>
          <site name="${leg.name}_foot" pos="${f(dx * shin)} ${f(dy * shin)} 0" size="0.02"/>
        </body>
      </body>`;
}

/** The Ant MJCF. */
export function antXml(): string {
  const motors = ANT_JOINTS.map((j) => `    <motor name="${j}" joint="${j}"/>`).join('\n');
  return `<mujoco model="gmps_ant">
  <compiler angle="degree" inertiafromgeom="true"/>
  <option timestep="${ANT_TIMESTEP}" integrator="RK4"/>
  <default>
    <joint type="hinge" limited="true" armature="1" damping="1"/>
    <geom type="capsule" size="0.08" condim="3" conaffinity="0" density="5" friction="1 0.5 0.5" margin="0.01" rgba="0.8 0.6 0.4 1"/>
    <motor ctrllimited="true" ctrlrange="-1 1" gear="150"/>
    <default class="hip">
      <joint axis="0 0 1" range="-30 30"/>
    </default>
  </default>
  <asset>
    <texture name="grid" type="2d" builtin="checker" rgb1="0.1 0.2 0.3" rgb2="0.2 0.3 0.4" width="300" height="300"/>
    <material name="grid" texture="grid" texrepeat="20 20" reflectance="0.1"/>
  </asset>
  <worldbody>
    <light name="sun" directional="true" pos="0 0 5" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="40 40 0.1" conaffinity="1" material="grid" rgba="0.8 0.9 0.8 1"/>
    <body name="torso" pos="0 0 0.75">
      <joint name="root" type="free" limited="false" armature="0" damping="0" margin="0.01"/>
      <geom name="torso_geom" type="sphere" size="0.25"/>${LEGS.map(legXml).join('')}
    </body>
  </worldbody>
  <actuator>
${motors}
  </actuator>
</mujoco>
`;
}
