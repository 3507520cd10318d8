/**
 * What stands between end-effector commands and the joint_command topic: the Cartesian controller (IK + safety
 * envelope), a watchdog and a latched e-stop. Time is given in nanoseconds by the caller (the node clock, so sim
 * time under `use_sim_time`).
 *
 * - The controller starts from the first measured joint state, and restarts from the measured state when the
 *   arm is found farther than `resyncRad` from the commanded target (an episode reset, the arm moved by hand).
 * - The watchdog: when no command came for `timeoutNs`, the gate emits ONE hold command (the last target) and
 *   nothing more until commands resume; a robot that stops getting commands holds position (Intera does), and
 *   the lock-step simulator must not be driven by a holding controller.
 * - The e-stop latches: one hold at the measured position, then every command is refused until `resetEstop()`,
 *   which restarts the controller from the measured state.
 */
import type { CartesianController } from '../robot/cartesian.js';
import { N_JOINTS } from '../robot/kinematics.js';
import { SafetyViolation } from '../robot/safety.js';

export type GateState = 'waiting' | 'active' | 'holding' | 'estopped';

export type GateResult =
  | { kind: 'command'; q: Float64Array; clipped: string[] }
  | { kind: 'refused'; reason: string };

export interface GateOptions {
  timeoutNs: bigint;
  resyncRad: number;
}

export class CommandGate {
  state: GateState = 'waiting';
  private measured: Float64Array | undefined;
  private lastCommandNs: bigint | undefined;

  constructor(readonly controller: CartesianController, readonly options: GateOptions) {}

  /** A measured joint state; returns true when the controller restarted from it. */
  onJointState(q: ArrayLike<number>): boolean {
    if (q.length < N_JOINTS) return false;
    this.measured = Float64Array.from({ length: N_JOINTS }, (_, i) => q[i]!);
    if (!this.measured.every(Number.isFinite)) return false;
    if (this.state === 'estopped') return false;
    if (this.state === 'waiting') {
      this.controller.reset(this.measured);
      this.state = 'holding';
      return true;
    }
    const target = this.controller.jointTarget;
    let worst = 0;
    for (let i = 0; i < N_JOINTS; i++) worst = Math.max(worst, Math.abs(target[i]! - this.measured[i]!));
    if (worst > this.options.resyncRad) {
      this.controller.reset(this.measured);
      return true;
    }
    return false;
  }

  /** An end-effector displacement command in [-1, 1]^3 (1 unit = `controller.stepM` per step). */
  onCommand(action: ArrayLike<number>, nowNs: bigint): GateResult {
    if (this.state === 'estopped') return { kind: 'refused', reason: 'the e-stop is latched; call reset_estop to resume' };
    if (this.state === 'waiting') return { kind: 'refused', reason: 'no joint_states received yet; the controller does not know where the arm is' };
    let cmd;
    try {
      cmd = this.controller.step(action);
    } catch (err) {
      if (err instanceof SafetyViolation) return { kind: 'refused', reason: err.message };
      throw err;
    }
    this.lastCommandNs = nowNs;
    this.state = 'active';
    return { kind: 'command', q: cmd.q, clipped: cmd.clip.reasons };
  }

  /** Watchdog check; returns the hold target once when commands stopped for longer than the timeout. */
  tick(nowNs: bigint): Float64Array | undefined {
    if (this.state !== 'active' || this.lastCommandNs === undefined) return undefined;
    if (nowNs - this.lastCommandNs <= this.options.timeoutNs) return undefined;
    this.state = 'holding';
    return Float64Array.from(this.controller.jointTarget);
  }

  /** Latches the stop; returns the hold target (the measured position, else the last target). */
  estop(): Float64Array {
    const hold = this.measured ? Float64Array.from(this.measured) : Float64Array.from(this.controller.jointTarget);
    this.state = 'estopped';
    return hold;
  }

  resetEstop(): string {
    if (this.state !== 'estopped') return 'the e-stop was not latched';
    if (!this.measured) {
      this.state = 'waiting';
      return 'e-stop released; waiting for joint_states';
    }
    this.controller.reset(this.measured);
    this.state = 'holding';
    return 'e-stop released; the controller restarted from the measured joint state';
  }
}
