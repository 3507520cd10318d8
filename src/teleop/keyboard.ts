/**
 * Keyboard teleoperation from a terminal in raw mode: key bytes → end-effector displacement commands and
 * episode events. Pure logic (no stdin, no ROS): feed it the bytes a terminal sends and the time they came.
 *
 * Motion keys (robosuite's layout, in the robot base frame, REP-103: x forward, y left, z up):
 *   w / s  +x / −x      a / d  +y / −y      r / f  +z / −z      + / −  speed scale up / down
 * Episode keys (LeRobot's): → save the episode, ← discard and record it again, Esc stop, space toggles the
 * gripper. Ctrl-C also stops (raw mode turns off the terminal's SIGINT).
 *
 * A terminal reports no key releases: a held key arrives as auto-repeat events (a first delay of about
 * 250–600 ms, then ~30 per second). So a first press holds its axis for `initialHoldMs` (bridging the
 * auto-repeat delay), each repeat extends it by `repeatHoldMs`, and the axis falls back to zero when the
 * repeats stop. A lone ESC byte is the Esc key only if no sequence byte follows within `escTimeoutMs`.
 */

export type EpisodeKeyEvent = 'save' | 'discard' | 'stop' | 'gripper' | 'interrupt';

export type KeyName =
  | 'up'
  | 'down'
  | 'right'
  | 'left'
  | 'escape'
  | 'space'
  | 'enter'
  | 'ctrl-c'
  | string;

export interface KeyBinding {
  key: string;
  does: string;
}

/** The key map, as printed for the operator. */
export const KEY_BINDINGS: readonly KeyBinding[] = [
  { key: 'w / s', does: 'move +x / -x (forward / back)' },
  { key: 'a / d', does: 'move +y / -y (left / right)' },
  { key: 'r / f', does: 'move +z / -z (up / down)' },
  { key: '+ / -', does: 'speed scale up / down' },
  { key: 'right arrow', does: 'save the episode' },
  { key: 'left arrow', does: 'discard the episode and record it again' },
  { key: 'Esc', does: 'stop recording' },
  { key: 'space', does: 'toggle the gripper' },
];

const MOTION: Record<string, [axis: number, dir: 1 | -1]> = {
  w: [0, 1],
  s: [0, -1],
  a: [1, 1],
  d: [1, -1],
  r: [2, 1],
  f: [2, -1],
};

const ESC = 0x1b;

/** Splits terminal input into key names: printable characters as themselves (lower case), arrows, Esc, Ctrl-C. */
export class KeyDecoder {
  private pending: number[] = [];
  private pendingSinceMs = 0;

  constructor(private readonly escTimeoutMs = 50) {}

  feed(input: Uint8Array | string, nowMs: number): KeyName[] {
    const bytes = typeof input === 'string' ? new TextEncoder().encode(input) : input;
    const keys = this.flush(nowMs);
    if (this.pending.length === 0 && bytes.length) this.pendingSinceMs = nowMs;
    for (const b of bytes) this.pending.push(b);
    keys.push(...this.decode(false));
    return keys;
  }

  /** Resolves a lone ESC once `escTimeoutMs` passed without the rest of a sequence. */
  flush(nowMs: number): KeyName[] {
    if (this.pending.length && nowMs - this.pendingSinceMs >= this.escTimeoutMs) return this.decode(true);
    return [];
  }

  private decode(final: boolean): KeyName[] {
    const out: KeyName[] = [];
    const p = this.pending;
    let i = 0;
    while (i < p.length) {
      const b = p[i]!;
      if (b !== ESC) {
        out.push(plainKey(b));
        i++;
        continue;
      }
      // ESC [ X or ESC O X (arrows in normal / application cursor mode); ESC [ 1 ; m X with modifiers
      if (i + 1 >= p.length) {
        if (!final) break;
        out.push('escape');
        i++;
        continue;
      }
      const intro = p[i + 1]!;
      if (intro !== 0x5b && intro !== 0x4f) {
        out.push('escape'); // Esc pressed, then another key quickly (or Alt+key)
        i++;
        continue;
      }
      // find the final byte of the CSI/SS3 sequence (0x40–0x7e)
      let j = i + 2;
      while (j < p.length && !(p[j]! >= 0x40 && p[j]! <= 0x7e)) j++;
      if (j >= p.length) {
        if (!final) break;
        out.push('escape');
        i++;
        continue;
      }
      const arrows: Record<number, KeyName> = { 0x41: 'up', 0x42: 'down', 0x43: 'right', 0x44: 'left' };
      out.push(arrows[p[j]!] ?? `esc-seq:${String.fromCharCode(...p.slice(i + 1, j + 1))}`);
      i = j + 1;
    }
    this.pending = p.slice(i);
    return out;
  }
}

function plainKey(b: number): KeyName {
  if (b === 0x03) return 'ctrl-c';
  if (b === 0x20) return 'space';
  if (b === 0x0d || b === 0x0a) return 'enter';
  return String.fromCharCode(b).toLowerCase();
}

export interface KeyboardTeleopOptions {
  /** Initial speed scale in (0, 1]: the command of a held key. Default 0.5. */
  speed?: number;
  /** Step of the + / − keys. Default 0.1. */
  speedStep?: number;
  /** How long a first press holds its axis, covering the terminal's auto-repeat delay (ms). Default 600. */
  initialHoldMs?: number;
  /** How long each auto-repeat event extends the hold (ms). Default 150. */
  repeatHoldMs?: number;
  escTimeoutMs?: number;
}

interface AxisHold {
  dir: number;
  untilMs: number;
}

export class KeyboardTeleop {
  speed: number;
  private readonly decoder: KeyDecoder;
  private readonly holds: Array<AxisHold | undefined> = [undefined, undefined, undefined];
  private readonly speedStep: number;
  private readonly initialHoldMs: number;
  private readonly repeatHoldMs: number;

  constructor(options: KeyboardTeleopOptions = {}) {
    this.speed = options.speed ?? 0.5;
    if (!(this.speed > 0 && this.speed <= 1)) throw new Error(`keyboard speed must be in (0, 1], got ${this.speed}`);
    this.speedStep = options.speedStep ?? 0.1;
    this.initialHoldMs = options.initialHoldMs ?? 600;
    this.repeatHoldMs = options.repeatHoldMs ?? 150;
    this.decoder = new KeyDecoder(options.escTimeoutMs ?? 50);
  }

  /** Feeds terminal bytes; returns the episode events they contain, in order. */
  feed(input: Uint8Array | string, nowMs: number): EpisodeKeyEvent[] {
    return this.apply(this.decoder.feed(input, nowMs), nowMs);
  }

  /** The displacement command at `nowMs`, each component in [-1, 1]. Also resolves a pending lone Esc. */
  command(nowMs: number): { linear: [number, number, number]; events: EpisodeKeyEvent[] } {
    const events = this.apply(this.decoder.flush(nowMs), nowMs);
    const linear: [number, number, number] = [0, 0, 0];
    for (let a = 0; a < 3; a++) {
      const h = this.holds[a];
      if (h && nowMs <= h.untilMs) linear[a] = h.dir * this.speed;
      else this.holds[a] = undefined;
    }
    return { linear, events };
  }

  /** Drops every held motion (e.g. when an episode ends). */
  release(): void {
    this.holds.fill(undefined);
  }

  private apply(keys: KeyName[], nowMs: number): EpisodeKeyEvent[] {
    const events: EpisodeKeyEvent[] = [];
    for (const k of keys) {
      const m = MOTION[k];
      if (m) {
        const [axis, dir] = m;
        const h = this.holds[axis];
        const repeat = h !== undefined && h.dir === dir && nowMs <= h.untilMs;
        const untilMs = nowMs + (repeat ? this.repeatHoldMs : this.initialHoldMs);
        this.holds[axis] = { dir, untilMs: repeat ? Math.max(h!.untilMs, untilMs) : untilMs };
        continue;
      }
      switch (k) {
        case '+':
        case '=':
          this.speed = round(Math.min(1, this.speed + this.speedStep));
          break;
        case '-':
        case '_':
          this.speed = round(Math.max(this.speedStep, this.speed - this.speedStep));
          break;
        case 'right':
          events.push('save');
          break;
        case 'left':
          events.push('discard');
          break;
        case 'escape':
          events.push('stop');
          break;
        case 'space':
          events.push('gripper');
          break;
        case 'ctrl-c':
          events.push('interrupt');
          break;
        default:
          break;
      }
    }
    return events;
  }
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
