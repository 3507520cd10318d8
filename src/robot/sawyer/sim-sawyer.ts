/**
 * A simulated Sawyer that speaks Intera's ROS 1 interface, backed by our MuJoCo door scene: what the Sawyer link,
 * the `sawyer` node and `gmps sawyer check` talk to when no arm is at hand.
 *
 * - Publishes `/robot/joint_states` (head_pan + right_j0..6) and `/robot/limb/right/endpoint_state` (gripper-tip
 *   pose) every physics tick (default 100 Hz), and `/robot/state` (RobotAssemblyState, latched, again at 10 Hz).
 * - Subscribes `/robot/limb/right/joint_command`: POSITION_MODE targets drive the joint servos; as Intera's joint
 *   controller, the servo setpoint follows the target no faster than the URDF joint velocity limits, and when no
 *   command arrives for the command timeout (0.2 s, or `/robot/limb/right/joint_command_timeout`) the arm holds
 *   its current joint angles. Commands while disabled or stopped are ignored.
 * - `/robot/set_super_enable` (Bool), `/robot/set_super_stop` and `/robot/set_super_reset` (Empty) switch the
 *   robot state; the gripper's IOComponentCommand (`position_m`) sets the finger opening.
 *
 * Physics advances with wall time in MuJoCo's own 5 ms steps (with the env's gravity compensation), so the
 * process runs in real time; everything received is kept for inspection (`commands`, `gripperCommands`, ...).
 */
import type { RosNode } from '@foxglove/ros1';
import { quaternionFromRotation, type Mat3 } from '../../../calibration/transforms.js';
import { DoorEnv } from '../../../sim/door.js';
import { DOOR, PHYSICS } from '../../../sim/layout.js';
import { mujoco, type MujocoModule } from '../../../sim/mujoco.js';
import type { EnvOptions } from '../../../sim/types.js';
import { N_JOINTS } from '../kinematics.js';
import { GRIPPER, JOINT_LIMITS, JOINT_NAMES } from '../sawyer-model.js';
import {
  ESTOP_BUTTON_PRESSED,
  JointCommandMode,
  ros1Now,
  ros1Type,
  type IOComponentCommandMsg,
  type JointCommandMsg,
  type RobotAssemblyStateMsg,
} from './intera-messages.js';
import { startRos1Node, stopRos1Node, type Ros1NodeOptions } from './ros1-node.js';
import { DEFAULT_SAWYER_TOPICS, type SawyerTopics } from './sawyer-link.js';

/** Intera's default command timeout (s): without a new JointCommand the arm holds. */
export const INTERA_COMMAND_TIMEOUT_S = 0.2;

export interface SimSawyerTopics extends SawyerTopics {
  superStop: string;
  superReset: string;
  commandTimeout: string;
}

export const SIM_SAWYER_TOPICS: SimSawyerTopics = {
  ...DEFAULT_SAWYER_TOPICS,
  superStop: '/robot/set_super_stop',
  superReset: '/robot/set_super_reset',
  commandTimeout: '/robot/limb/right/joint_command_timeout',
};

export interface SimSawyerOptions {
  masterUri: string;
  /** Address other nodes use to reach this one; default 127.0.0.1. */
  hostname?: string;
  nodeName?: string;
  /** Physics + joint state publication rate (Hz). Default 100, as Intera. */
  rateHz?: number;
  /** Initial command timeout (s). Default 0.2. */
  commandTimeoutS?: number;
  /** Start joint angles (rad, right_j0..6). Default: the door task's start pose. */
  startPose?: readonly number[];
  /** Start enabled (as after `enable_robot.py -e`). Default true. */
  enabled?: boolean;
  /** Keep at most this many received commands for inspection. Default 20000. */
  keepCommands?: number;
  log?: Ros1NodeOptions['log'];
}

export interface ReceivedJointCommand {
  atMs: number;
  /** The simulator's clock when it arrived (s of simulated physics since start). */
  simTimeS: number;
  msg: JointCommandMsg;
  /** Whether the arm took it as its new target. */
  accepted: boolean;
}

/** The door scene with physics stepped in single MuJoCo steps (the env's own steps are 0.05 s control steps). */
class RealtimeDoorEnv extends DoorEnv {
  constructor(mj: MujocoModule, options: EnvOptions = {}) {
    super(mj, options);
  }
  /** One MuJoCo step holding servo setpoints `q` (gravity compensation as in every env step). */
  physicsStep(q: ArrayLike<number>): void {
    for (let i = 0; i < N_JOINTS; i++) this.data.ctrl[i] = q[i]!;
    this.simulate(1);
  }
  /** Both fingers at half the opening each (the scene's last two actuators). */
  setFingers(openingM: number): void {
    const nu = this.model.nu;
    this.data.ctrl[nu - 2] = openingM / 2;
    this.data.ctrl[nu - 1] = openingM / 2;
  }
  /** Puts the arm at `q` at rest. */
  placeArm(q: ArrayLike<number>): void {
    const { mj, model, data } = this;
    for (let i = 0; i < N_JOINTS; i++) {
      const j = mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT.value, JOINT_NAMES[i]!);
      data.qpos[model.jnt_qposadr[j]!] = q[i]!;
      data.qvel[model.jnt_dofadr[j]!] = 0;
      data.ctrl[i] = q[i]!;
    }
    mj.mj_forward(model, data);
  }
}

export class SimSawyer {
  readonly topics = SIM_SAWYER_TOPICS;
  commands: ReceivedJointCommand[] = [];
  gripperCommands: IOComponentCommandMsg[] = [];
  enableRequests: boolean[] = [];
  stopRequests = 0;
  /** Times the arm dropped to holding because commands stopped (the Intera timeout). */
  timeoutHolds = 0;
  /** When the last of those happened (wall time in ms, the simulator's clock in s) and the joint angles it holds (rad). */
  lastTimeoutHold?: { atMs: number; simTimeS: number; q: Float64Array };
  state: RobotAssemblyStateMsg;
  commandTimeoutS: number;

  private env?: RealtimeDoorEnv;
  private node?: RosNode;
  private timers: NodeJS.Timeout[] = [];
  private tickTimer?: NodeJS.Timeout;
  private readonly setpoint = new Float64Array(N_JOINTS);
  private commanded?: Float64Array;
  private lastCommandMs = 0;
  private lastPhysicsMs = 0;
  private simTimeS = 0;
  private seq = 0;
  private gripperM: number = GRIPPER.maxOpening;
  private tipSite = -1;
  private armQpos = new Int32Array(N_JOINTS);
  private armDof = new Int32Array(N_JOINTS);
  private headerCache = { prevTip: new Float64Array(3), prevS: 0 };
  private readonly opts: SimSawyerOptions;

  constructor(options: SimSawyerOptions) {
    this.opts = options;
    this.commandTimeoutS = options.commandTimeoutS ?? INTERA_COMMAND_TIMEOUT_S;
    const enabled = options.enabled ?? true;
    this.state = {
      homed: true, ready: enabled, enabled, stopped: false, error: false, lowVoltage: false, estop_button: 0, estop_source: 0,
    };
    const rate = options.rateHz ?? 100;
    if (!(rate >= 10 && rate <= 1000)) throw new Error(`SimSawyer rateHz ${rate} must lie in [10, 1000]`);
    if (options.startPose && options.startPose.length !== N_JOINTS) {
      throw new Error(`startPose has ${options.startPose.length} values; give ${N_JOINTS} (${JOINT_NAMES.join(', ')})`);
    }
  }

  get isRunning(): boolean {
    return this.node !== undefined;
  }

  /** Measured arm joint angles (rad, right_j0..6). */
  get q(): Float64Array {
    return this.requireEnv().jointPositions();
  }

  /** Gripper-tip position in the base frame (m). */
  tip(): Float64Array {
    return this.requireEnv().tip();
  }

  /**
   * Simulated physics time since start (s). It follows wall time, but a stalled process drops the
   * time it missed beyond 0.1 s, so on a loaded machine it runs behind the wall clock.
   */
  get simTime(): number {
    return this.simTimeS;
  }

  /** Whether the arm currently holds (no live command). */
  get holding(): boolean {
    return this.commanded === undefined;
  }

  get gripperOpening(): number {
    return this.gripperM;
  }

  async start(): Promise<void> {
    if (this.node) throw new Error('SimSawyer is already running');
    const env = new RealtimeDoorEnv(await mujoco());
    this.env = env;
    env.reset({ kind: 'door', targetRad: DOOR.maxTargetRad / 2 });
    if (this.opts.startPose) env.placeArm(this.opts.startPose);
    const { mj, model } = env;
    this.tipSite = mj.mj_name2id(model, mj.mjtObj.mjOBJ_SITE.value, 'right_gripper_tip');
    JOINT_NAMES.forEach((n, i) => {
      const j = mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT.value, n);
      this.armQpos[i] = model.jnt_qposadr[j]!;
      this.armDof[i] = model.jnt_dofadr[j]!;
    });
    this.setpoint.set(env.jointPositions());
    env.setFingers(this.gripperM);
    this.headerCache.prevTip.set(env.tip());

    let node: RosNode;
    try {
      node = await startRos1Node({ name: this.opts.nodeName ?? '/sim_sawyer', masterUri: this.opts.masterUri, hostname: this.opts.hostname, log: this.opts.log });
    } catch (err) {
      env.close();
      this.env = undefined;
      throw err;
    }
    this.node = node;
    const t = this.topics;
    const adv = async (topic: string, type: string, latching = false): Promise<void> => {
      const d = ros1Type(type);
      await node.advertise({ topic, dataType: d.dataType, messageDefinitionText: d.definitionText, md5sum: d.md5sum, latching });
    };
    const sub = <M>(topic: string, type: string, onMessage: (m: M) => void, tcpNoDelay = false): void => {
      const d = ros1Type(type);
      node.subscribe({ topic, dataType: d.dataType, md5sum: d.md5sum, tcpNoDelay }).on('message', (m) => onMessage(m as M));
    };
    await adv(t.jointStates, 'sensor_msgs/JointState');
    await adv(t.endpointState, 'intera_core_msgs/EndpointState');
    await adv(t.robotState, 'intera_core_msgs/RobotAssemblyState', true);
    sub<JointCommandMsg>(t.jointCommand, 'intera_core_msgs/JointCommand', (m) => this.onCommand(m), true);
    sub<{ data: boolean }>(t.superEnable, 'std_msgs/Bool', (m) => {
      this.enableRequests.push(m.data);
      if (m.data && (this.state.stopped || this.state.estop_button === ESTOP_BUTTON_PRESSED)) return; // must reset first
      void this.setState({ enabled: m.data, ready: m.data });
    });
    sub<Record<string, never>>(t.superStop, 'std_msgs/Empty', () => {
      this.stopRequests++;
      void this.setState({ stopped: true, enabled: false, ready: false });
    });
    sub<Record<string, never>>(t.superReset, 'std_msgs/Empty', () => {
      if (this.state.estop_button === ESTOP_BUTTON_PRESSED) return; // the button must be released first
      void this.setState({ stopped: false, error: false, estop_source: 0 });
    });
    sub<{ data: number }>(t.commandTimeout, 'std_msgs/Float64', (m) => {
      if (Number.isFinite(m.data) && m.data > 0) this.commandTimeoutS = m.data;
    });
    sub<IOComponentCommandMsg>(t.gripperCommand, 'intera_core_msgs/IOComponentCommand', (m) => this.onGripper(m));

    const rateHz = this.opts.rateHz ?? 100;
    this.lastPhysicsMs = Date.now();
    // Scheduled against absolute times, so the rate stays at rateHz instead of drifting below it as setInterval does.
    const period = 1000 / rateHz;
    let due = Date.now() + period;
    const loop = (): void => {
      if (!this.node) return;
      this.tick();
      due += period;
      const now = Date.now();
      if (due < now - 5 * period) due = now + period; // after a stall, do not burst
      this.tickTimer = setTimeout(loop, Math.max(0, due - now));
    };
    this.tickTimer = setTimeout(loop, period);
    this.timers.push(setInterval(() => void node.publish(t.robotState, this.state).catch(() => undefined), 100));
    await node.publish(t.robotState, this.state);
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    clearTimeout(this.tickTimer);
    const node = this.node;
    this.node = undefined;
    if (node) await stopRos1Node(node);
    this.env?.close();
    this.env = undefined;
  }

  /** The e-stop button: the robot reports stopped + pressed and drops out of enabled; the arm holds. */
  async pressEstop(): Promise<void> {
    await this.setState({ stopped: true, enabled: false, ready: false, estop_button: ESTOP_BUTTON_PRESSED, estop_source: 1 });
  }

  /** Releases the button; the robot stays stopped until `set_super_reset` and disabled until enabled. */
  async releaseEstop(): Promise<void> {
    await this.setState({ estop_button: 0 });
  }

  async setState(patch: Partial<RobotAssemblyStateMsg>): Promise<void> {
    this.state = { ...this.state, ...patch };
    if (!this.operational()) this.hold();
    await this.node?.publish(this.topics.robotState, this.state).catch(() => undefined);
  }

  private operational(): boolean {
    const s = this.state;
    return s.enabled && !s.stopped && !s.error && s.estop_button !== ESTOP_BUTTON_PRESSED;
  }

  /** Holds the current joint angles (what Intera does when commands stop or the arm is disabled). */
  private hold(): void {
    this.commanded = undefined;
    if (this.env) this.setpoint.set(this.env.jointPositions());
  }

  private onCommand(msg: JointCommandMsg): void {
    const now = Date.now();
    const entry: ReceivedJointCommand = { atMs: now, simTimeS: this.simTimeS, msg, accepted: false };
    this.commands.push(entry);
    const keep = this.opts.keepCommands ?? 20000;
    if (this.commands.length > keep) this.commands.splice(0, this.commands.length - keep);
    if (!this.env || !this.operational() || msg.mode !== JointCommandMode.POSITION) return;
    if (msg.names.length !== msg.position.length) return;
    const target = this.commanded ? Float64Array.from(this.commanded) : Float64Array.from(this.setpoint);
    for (let i = 0; i < msg.names.length; i++) {
      const k = JOINT_NAMES.indexOf(msg.names[i]!);
      if (k < 0) continue;
      const v = msg.position[i]!;
      if (!Number.isFinite(v)) return; // the whole command is dropped
      // Intera clamps position targets to the joint limits.
      target[k] = Math.min(JOINT_LIMITS[k]!.upper, Math.max(JOINT_LIMITS[k]!.lower, v));
    }
    this.commanded = target;
    this.lastCommandMs = now;
    entry.accepted = true;
  }

  private onGripper(msg: IOComponentCommandMsg): void {
    this.gripperCommands.push(msg);
    if (msg.op !== 'set') return;
    try {
      const args = JSON.parse(msg.args) as { signals?: { position_m?: { data?: unknown[] } } };
      const v = args.signals?.position_m?.data?.[0];
      if (typeof v === 'number' && Number.isFinite(v)) {
        this.gripperM = Math.min(GRIPPER.maxOpening, Math.max(0, v));
        this.env?.setFingers(this.gripperM);
      }
    } catch {
      // malformed JSON: the real IO node ignores it as well
    }
  }

  private tick(): void {
    const env = this.env;
    if (!env) return;
    const now = Date.now();
    if (this.commanded && now - this.lastCommandMs > this.commandTimeoutS * 1000) {
      this.timeoutHolds++;
      this.hold();
      this.lastTimeoutHold = { atMs: now, simTimeS: this.simTimeS, q: Float64Array.from(this.setpoint) };
    }
    const dt = PHYSICS.timestep;
    // Catch up with wall time, but never more than 0.1 s at once (a stalled process must not jump the arm).
    const steps = Math.min(Math.floor((now - this.lastPhysicsMs) / 1000 / dt), Math.round(0.1 / dt));
    this.lastPhysicsMs += steps * dt * 1000;
    if (now - this.lastPhysicsMs > 100) this.lastPhysicsMs = now;
    const target = this.commanded;
    for (let s = 0; s < steps; s++) {
      if (target) {
        for (let i = 0; i < N_JOINTS; i++) {
          const cap = JOINT_LIMITS[i]!.velocity * dt;
          const d = target[i]! - this.setpoint[i]!;
          this.setpoint[i]! += Math.max(-cap, Math.min(cap, d));
        }
      }
      env.physicsStep(this.setpoint);
      this.simTimeS += dt;
    }
    void this.publish(now).catch(() => undefined);
  }

  private async publish(now: number): Promise<void> {
    const node = this.node;
    const env = this.env;
    if (!node || !env) return;
    const stamp = ros1Now(now);
    const { data } = env;
    const names = ['head_pan', ...JOINT_NAMES];
    const position = [0, ...Array.from(this.armQpos, (a) => data.qpos[a]!)];
    const velocity = [0, ...Array.from(this.armDof, (d) => data.qvel[d]!)];
    const effort = [0, ...Array.from(this.armDof, (d) => data.qfrc_actuator[d]!)];
    const seq = this.seq++;
    const tip = env.tip();
    const m = data.site_xmat;
    const r = Array.from({ length: 9 }, (_, i) => m[9 * this.tipSite + i]!) as Mat3;
    const o = quaternionFromRotation(r);
    const prev = this.headerCache;
    const span = this.simTimeS - prev.prevS;
    const lin = span > 0 ? [0, 1, 2].map((i) => (tip[i]! - prev.prevTip[i]!) / span) : [0, 0, 0];
    prev.prevTip.set(tip);
    prev.prevS = this.simTimeS;
    await Promise.all([
      node.publish(this.topics.jointStates, { header: { seq, stamp, frame_id: '' }, name: names, position, velocity, effort }),
      node.publish(this.topics.endpointState, {
        header: { seq, stamp, frame_id: 'base' },
        pose: { position: { x: tip[0]!, y: tip[1]!, z: tip[2]! }, orientation: o },
        twist: { linear: { x: lin[0]!, y: lin[1]!, z: lin[2]! }, angular: { x: 0, y: 0, z: 0 } },
        wrench: { force: { x: 0, y: 0, z: 0 }, torque: { x: 0, y: 0, z: 0 } },
        valid: true,
      }),
    ]);
  }

  private requireEnv(): RealtimeDoorEnv {
    if (!this.env) throw new Error('SimSawyer is not running: call start() first');
    return this.env;
  }
}
