/**
 * Joystick / gamepad teleoperation: `sensor_msgs/Joy` axes and buttons → end-effector displacement in
 * [-1, 1]^3 and episode events. Pure logic (no ROS).
 *
 * Each of x, y, z reads one axis (index, sign). A dead zone around the centre reads as zero and the rest
 * of the travel is rescaled so the command starts from zero at its edge (no jump), then multiplied by
 * `scale`. Buttons fire on their press (rising edge), so holding one sends one event.
 *
 * The defaults suit an Xbox-style pad under the ROS `joy` driver: left stick up = +x (forward), left stick
 * left = +y (left), right stick up = +z; A saves, B discards, Start stops, X toggles the gripper.
 */
import type { EpisodeKeyEvent } from './keyboard.js';

export interface JoystickMapping {
  /** Axis index of x, y, z. */
  axes: [number, number, number];
  /** Sign applied to each axis (+1 or −1). */
  signs: [number, number, number];
  /** |axis| below this reads as 0 (in [0, 1)). */
  deadZone: number;
  /** Command at full deflection, in (0, 1]. */
  scale: number;
  /** Button index of each episode event; −1 disables it. */
  buttons: { save: number; discard: number; stop: number; gripper: number };
}

export const DEFAULT_JOYSTICK_MAPPING: JoystickMapping = {
  axes: [1, 0, 4],
  signs: [1, 1, 1],
  deadZone: 0.1,
  scale: 1,
  buttons: { save: 0, discard: 1, stop: 7, gripper: 2 },
};

export interface JoyLike {
  axes: ArrayLike<number>;
  buttons: ArrayLike<number>;
}

export function checkJoystickMapping(m: JoystickMapping): void {
  if (m.axes.length !== 3 || m.axes.some((a) => !Number.isInteger(a) || a < 0)) {
    throw new Error(`joystick axes must be three axis indices >= 0 (x, y, z), got [${m.axes.join(', ')}]`);
  }
  if (m.signs.length !== 3 || m.signs.some((s) => s !== 1 && s !== -1)) {
    throw new Error(`joystick axis signs must be three values of 1 or -1, got [${m.signs.join(', ')}]`);
  }
  if (!(m.deadZone >= 0 && m.deadZone < 1)) throw new Error(`joystick dead zone must be in [0, 1), got ${m.deadZone}`);
  if (!(m.scale > 0 && m.scale <= 1)) throw new Error(`joystick scale must be in (0, 1], got ${m.scale}`);
  for (const [name, b] of Object.entries(m.buttons)) {
    if (!Number.isInteger(b) || b < -1) throw new Error(`joystick button for ${name} must be an index >= 0 or -1 (off), got ${b}`);
  }
}

/** One axis reading after the dead zone, rescaled to [-1, 1]. */
export function applyDeadZone(v: number, deadZone: number): number {
  if (!Number.isFinite(v)) return 0;
  const c = Math.max(-1, Math.min(1, v));
  const mag = Math.abs(c);
  if (mag <= deadZone) return 0;
  return (Math.sign(c) * (mag - deadZone)) / (1 - deadZone);
}

export class JoystickTeleop {
  private prevButtons: number[] = [];
  private warnedShort = false;

  constructor(readonly mapping: JoystickMapping = DEFAULT_JOYSTICK_MAPPING, private readonly warn: (m: string) => void = () => {}) {
    checkJoystickMapping(mapping);
  }

  /** Displacement command of one Joy message, plus the button presses it contains. */
  update(joy: JoyLike): { linear: [number, number, number]; events: EpisodeKeyEvent[] } {
    const m = this.mapping;
    const linear: [number, number, number] = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const idx = m.axes[i]!;
      if (idx >= joy.axes.length) {
        if (!this.warnedShort) this.warn(`joystick has ${joy.axes.length} axes; axis ${idx} (mapped to ${'xyz'[i]}) reads as 0`);
        this.warnedShort = true;
        continue;
      }
      linear[i] = m.signs[i]! * m.scale * applyDeadZone(joy.axes[idx]!, m.deadZone) + 0; // + 0: no -0
    }
    const events: EpisodeKeyEvent[] = [];
    const order: Array<[EpisodeKeyEvent, number]> = [
      ['save', m.buttons.save],
      ['discard', m.buttons.discard],
      ['stop', m.buttons.stop],
      ['gripper', m.buttons.gripper],
    ];
    for (const [event, b] of order) {
      if (b < 0 || b >= joy.buttons.length) continue;
      if (joy.buttons[b]! && !this.prevButtons[b]) events.push(event);
    }
    this.prevButtons = Array.from(joy.buttons);
    return { linear, events };
  }
}
