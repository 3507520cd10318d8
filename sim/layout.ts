/**
 * Where the GMPS tasks sit in the robot base frame (REP-103: x forward, y left, z up, metres).
 *
 * The official GMPS environments (R_multiworld) use a world frame with y pointing away from the robot and x to
 * its right. We map a GMPS point (xg, yg, zg) to the base frame as (yg - 0.1, -xg, zg): the table top is the
 * plane z = 0 (the pedestal puts the arm's base level with the table) and the scene is moved 10 cm toward the
 * robot, so that the door handle lies inside the Sawyer's reach with the gripper pointing down. Every number
 * below is GMPS's after that map (gmps-reference §9).
 */
export const GMPS_Y_SHIFT = 0.1;

export const TABLE = { center: [0.7, 0, -0.025] as const, halfSize: [0.4, 0.45, 0.025] as const };

export const DOOR = {
  /** Hinge axis position (vertical axis through this point). */
  hinge: [0.9, -0.2, 0.3] as const,
  /** Plank half sizes (thickness, width, height); the plank spans from the hinge toward +y. */
  plankHalf: [0.01, 0.2, 0.2] as const,
  /**
   * Handle grasp point in the door frame (hinge origin, door closed = aligned with the base frame). GMPS's handle
   * stands 10 cm off the plank; ours stands 13 cm off so that the Sawyer's wrist clears the plank's top edge while
   * the fingers hook the bar (GMPS's hand is a free-floating mocap body with no arm behind it).
   */
  grasp: [-0.13, 0.3, 0] as const,
  handleHalfLength: 0.08,
  handleRadius: 0.01,
  /** Joint damping (N·m·s/rad) and friction loss (N·m). GMPS uses 100 with a mocap-welded hand; see README. */
  damping: 10,
  frictionloss: 0.5,
  maxTargetRad: (60 * Math.PI) / 180,
  /** Gripper-tip start (GMPS hand_init_pos (0, 0.4, 0.1)). */
  handInit: [0.3, 0, 0.1] as const,
  horizon: 100,
  /** Reward gate: finger-handle distance below this (m). */
  graspGateM: 0.1,
  successTolRad: (5 * Math.PI) / 180,
};

export const PUSH = {
  blockHalf: 0.02,
  /** As GMPS, the block has a huge rotational inertia (see scene.ts), so it slides without turning. */
  blockMassKg: 0.1,
  blockStart: [0.42, 0, 0.02] as const,
  /** Goal region: x in [0.6, 0.7], y in [-0.1, 0.1] (GMPS: x_g in [-0.1, 0.1], y_g in [0.7, 0.8]). */
  goalMin: [0.6, -0.1] as const,
  goalMax: [0.7, 0.1] as const,
  handInit: [0.3, 0, 0.05] as const,
  horizon: 50,
  successM: 0.05,
};

/** Physics: MuJoCo step and control period (GMPS: 0.05 s control step). */
export const PHYSICS = { timestep: 0.005, controlDt: 0.05 };
export const SUBSTEPS = Math.round(PHYSICS.controlDt / PHYSICS.timestep);
