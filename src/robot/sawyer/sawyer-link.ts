/**
 * The physical Sawyer behind the Robot seam, over ROS 1 (Intera's own interface, no bridge).
 *
 * Commands: `sendAction` holds a joint-position target that has already passed the safety
 * envelope (the injected `validate`); a timer streams it as `intera_core_msgs/JointCommand`
 * (POSITION_MODE) faster than Intera's 0.2 s command timeout. When no new target arrives within
 * `targetWatchdogMs`, or the robot reports disabled / stopped / e-stop, streaming stops and the
 * arm holds its position by Intera's own timeout.
 */
import type { RosNode } from '@foxglove/ros1';
import type { JointPositions, Robot, RobotObservation } from '../robot.js';
import {
  ESTOP_BUTTON_PRESSED,
  JointCommandMode,
  ros1Now,
  ros1Type,
  type EndpointStateMsg,
  type IOComponentCommandMsg,
  type JointCommandMsg,
  type JointStateMsg,
  type RobotAssemblyStateMsg,
} from './intera-messages.js';
import { startRos1Node, stopRos1Node, type Ros1NodeOptions } from './ros1-node.js';

export const SAWYER_ARM_JOINTS = ['right_j0', 'right_j1', 'right_j2', 'right_j3', 'right_j4', 'right_j5', 'right_j6'] as const;
/** Electric gripper opening range, metres. */
export const GRIPPER_MAX_M = 0.041667;

export interface SawyerTopics {
  jointStates: string;
  endpointState: string;
  robotState: string;
  jointCommand: string;
  superEnable: string;
  gripperCommand: string;
}

export const DEFAULT_SAWYER_TOPICS: SawyerTopics = {
  jointStates: '/robot/joint_states',
  endpointState: '/robot/limb/right/endpoint_state',
  robotState: '/robot/state',
  jointCommand: '/robot/limb/right/joint_command',
  superEnable: '/robot/set_super_enable',
  gripperCommand: '/io/end_effector/right_gripper/command',
};

/** The safety envelope's check: returns the target that may be sent, or throws. */
export type TargetValidator = (target: JointPositions, observation: RobotObservation) => JointPositions;

export interface SawyerLinkOptions {
  /** e.g. `http://sawyer.local:11311/` */
  masterUri: string;
  validate: TargetValidator;
  /** This machine's address as the robot reaches it (ROS_IP). Default 127.0.0.1. */
  hostname?: string;
  nodeName?: string;
  /** JointCommand stream rate; must beat the 0.2 s Intera timeout. Default 100 Hz. */
  commandRateHz?: number;
  /** Stop streaming when `sendAction` has not been called for this long. Default 250 ms. */
  targetWatchdogMs?: number;
  /** Refuse to command when the last joint state is older than this. Default 200 ms. */
  jointStateTimeoutMs?: number;
  /** How long `connect` waits for the first joint state and robot state. Default 5000 ms. */
  connectTimeoutMs?: number;
  jointNames?: readonly string[];
  topics?: Partial<SawyerTopics>;
  log?: Ros1NodeOptions['log'];
}

export class RobotRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RobotRefusedError';
  }
}

export interface SawyerStatus {
  connected: boolean;
  enabled: boolean;
  stopped: boolean;
  estop: boolean;
  error: boolean;
  /** Joint state messages per second over the last second. */
  jointStateHz: number;
  streaming: boolean;
  commandsSent: number;
  /** Why streaming last stopped or a command was last refused. */
  lastStop?: string;
}

export class SawyerLink implements Robot {
  readonly topics: SawyerTopics;
  readonly jointNames: readonly string[];
  private readonly opts: Required<Omit<SawyerLinkOptions, 'topics' | 'log' | 'hostname' | 'jointNames'>> & SawyerLinkOptions;
  private node?: RosNode;
  private startMs = 0;
  private jointState?: { position: Float64Array; receivedMs: number };
  private jointStateTimes: number[] = [];
  private hand = new Float64Array([NaN, NaN, NaN]);
  private robotState?: RobotAssemblyStateMsg;
  private target?: { position: Float64Array; setMs: number };
  private gripperCommanded = NaN;
  private timer?: NodeJS.Timeout;
  private seq = 0;
  private commandsSent = 0;
  private lastStop?: string;
  private publishing = false;

  constructor(options: SawyerLinkOptions) {
    if (typeof options.validate !== 'function') {
      throw new Error('SawyerLink needs a validate(target) function (the safety envelope); commands are never sent unchecked');
    }
    this.opts = {
      nodeName: '/gmps_sawyer_link',
      commandRateHz: 100,
      targetWatchdogMs: 250,
      jointStateTimeoutMs: 200,
      connectTimeoutMs: 5000,
      ...options,
    };
    if (!(this.opts.commandRateHz > 5)) {
      throw new Error(`commandRateHz ${this.opts.commandRateHz} must exceed 5 Hz (Intera drops to holding after 0.2 s without a command)`);
    }
    this.topics = { ...DEFAULT_SAWYER_TOPICS, ...options.topics };
    this.jointNames = options.jointNames ?? SAWYER_ARM_JOINTS;
  }

  get isConnected(): boolean {
    return this.node !== undefined;
  }

  async connect(): Promise<void> {
    if (this.node) throw new Error('SawyerLink is already connected');
    const node = await startRos1Node({
      name: this.opts.nodeName,
      masterUri: this.opts.masterUri,
      hostname: this.opts.hostname,
      log: this.opts.log,
    });
    this.node = node;
    this.startMs = Date.now();
    try {
      const js = ros1Type('sensor_msgs/JointState');
      node.subscribe({ topic: this.topics.jointStates, dataType: js.dataType, md5sum: js.md5sum, tcpNoDelay: true })
        .on('message', (msg) => this.onJointState(msg as JointStateMsg));
      const ep = ros1Type('intera_core_msgs/EndpointState');
      node.subscribe({ topic: this.topics.endpointState, dataType: ep.dataType, md5sum: ep.md5sum, tcpNoDelay: true })
        .on('message', (msg) => this.onEndpointState(msg as EndpointStateMsg));
      const rs = ros1Type('intera_core_msgs/RobotAssemblyState');
      node.subscribe({ topic: this.topics.robotState, dataType: rs.dataType, md5sum: rs.md5sum })
        .on('message', (msg) => this.onRobotState(msg as RobotAssemblyStateMsg));
      for (const [topic, type] of [
        [this.topics.jointCommand, 'intera_core_msgs/JointCommand'],
        [this.topics.superEnable, 'std_msgs/Bool'],
        [this.topics.gripperCommand, 'intera_core_msgs/IOComponentCommand'],
      ] as const) {
        const t = ros1Type(type);
        // The gripper command is latched so that a command sent before the IO node connects still arrives.
        const latching = topic === this.topics.gripperCommand;
        await node.advertise({ topic, dataType: t.dataType, messageDefinitionText: t.definitionText, md5sum: t.md5sum, latching });
      }
      await this.waitFor(() => this.jointState !== undefined && this.robotState !== undefined, () =>
        `no ${this.jointState ? this.topics.robotState : this.topics.jointStates} message within ${this.opts.connectTimeoutMs} ms ` +
        `from ${this.opts.masterUri}: is the robot in SDK mode, and is ROS_IP/hostname (${this.opts.hostname ?? '127.0.0.1'}) reachable from it?`);
    } catch (err) {
      await this.disconnect();
      throw err;
    }
  }

  async disconnect(): Promise<void> {
    this.stopStreaming('disconnected');
    const node = this.node;
    this.node = undefined;
    if (node) await stopRos1Node(node);
  }

  status(): SawyerStatus {
    const rs = this.robotState;
    return {
      connected: this.isConnected,
      enabled: rs?.enabled ?? false,
      stopped: rs?.stopped ?? false,
      estop: rs ? rs.estop_button === ESTOP_BUTTON_PRESSED : false,
      error: rs?.error ?? false,
      jointStateHz: this.jointStateHz(),
      streaming: this.timer !== undefined,
      commandsSent: this.commandsSent,
      lastStop: this.lastStop,
    };
  }

  jointStateHz(now = Date.now()): number {
    const cutoff = now - 1000;
    while (this.jointStateTimes.length > 0 && this.jointStateTimes[0]! < cutoff) this.jointStateTimes.shift();
    return this.jointStateTimes.length;
  }

  async getObservation(): Promise<RobotObservation> {
    this.requireConnected();
    const js = this.jointState;
    if (!js) throw new RobotRefusedError(`no joint state received yet on ${this.topics.jointStates}`);
    return {
      joints: { names: this.jointNames, position: Float64Array.from(js.position) },
      hand: Float64Array.from(this.hand),
      gripper: this.gripperCommanded,
      stamp: (js.receivedMs - this.startMs) / 1000,
    };
  }

  /** Enables (or disables) the arm through `/robot/set_super_enable`. */
  async enable(on = true): Promise<void> {
    this.requireConnected();
    if (!on) this.stopStreaming('disable requested');
    const node = this.node!;
    await this.waitFor(() => (node.publications.get(this.topics.superEnable)?.subscribers().size ?? 0) > 0,
      () => `nothing subscribes to ${this.topics.superEnable}: is the robot in SDK mode?`);
    await node.publish(this.topics.superEnable, { data: on });
  }

  async sendAction(target: JointPositions, gripper?: number): Promise<JointPositions> {
    this.requireConnected();
    checkFinite(target.position, 'joint target');
    if (gripper !== undefined) checkFinite([gripper], 'gripper opening');
    this.refuseUnlessOperational();
    const observation = await this.getObservation();
    const checked = this.opts.validate(target, observation);
    // The validator's output is checked again: a buggy or permissive envelope must not pass NaN through.
    checkFinite(checked.position, 'validated joint target');
    const position = this.reorder(checked);
    this.target = { position, setMs: Date.now() };
    if (!this.timer) this.startStreaming();
    if (gripper !== undefined) await this.commandGripper(gripper);
    return { names: this.jointNames, position: Float64Array.from(position) };
  }

  /** Stops streaming now; the arm holds by Intera's command timeout. */
  hold(reason = 'hold requested'): void {
    this.stopStreaming(reason);
  }

  private async commandGripper(openingM: number): Promise<void> {
    if (openingM < 0 || openingM > GRIPPER_MAX_M) {
      throw new RobotRefusedError(`gripper opening ${openingM} m is outside [0, ${GRIPPER_MAX_M}] m`);
    }
    if (openingM === this.gripperCommanded) return;
    const msg: IOComponentCommandMsg = {
      time: ros1Now(),
      op: 'set',
      args: JSON.stringify({ signals: { position_m: { format: { type: 'float' }, data: [openingM] } } }),
    };
    await this.node!.publish(this.topics.gripperCommand, msg);
    this.gripperCommanded = openingM;
  }

  private reorder(target: JointPositions): Float64Array {
    const out = new Float64Array(this.jointNames.length);
    for (let i = 0; i < this.jointNames.length; i++) {
      const k = target.names.indexOf(this.jointNames[i]!);
      if (k < 0) throw new RobotRefusedError(`joint target lacks ${this.jointNames[i]} (has ${target.names.join(', ')})`);
      out[i] = target.position[k]!;
    }
    return out;
  }

  private operationalProblem(now = Date.now()): string | undefined {
    const rs = this.robotState;
    if (!rs) return `no robot state received on ${this.topics.robotState}`;
    if (rs.estop_button === ESTOP_BUTTON_PRESSED) return 'e-stop button pressed';
    if (rs.stopped) return 'robot stopped (e-stop asserted)';
    if (rs.error) return 'robot reports an error';
    if (!rs.enabled) return 'robot disabled (enable it first)';
    const js = this.jointState;
    if (!js || now - js.receivedMs > this.opts.jointStateTimeoutMs) {
      return `joint states stale (none for ${this.opts.jointStateTimeoutMs} ms on ${this.topics.jointStates})`;
    }
    return undefined;
  }

  private refuseUnlessOperational(): void {
    const problem = this.operationalProblem();
    if (problem) {
      this.stopStreaming(problem);
      throw new RobotRefusedError(`command refused: ${problem}`);
    }
  }

  private startStreaming(): void {
    this.lastStop = undefined;
    this.timer = setInterval(() => this.tick(), 1000 / this.opts.commandRateHz);
    this.tick();
  }

  private stopStreaming(reason: string): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.lastStop = reason;
    }
    this.target = undefined;
  }

  private tick(): void {
    const now = Date.now();
    const target = this.target;
    if (!target || !this.node) return this.stopStreaming('no target');
    if (now - target.setMs > this.opts.targetWatchdogMs) {
      return this.stopStreaming(`target stale (no new target within ${this.opts.targetWatchdogMs} ms)`);
    }
    const problem = this.operationalProblem(now);
    if (problem) return this.stopStreaming(problem);
    if (this.publishing) return; // previous write still in flight; the next tick sends the latest target
    const msg: JointCommandMsg = {
      header: { seq: this.seq++, stamp: ros1Now(now), frame_id: '' },
      mode: JointCommandMode.POSITION,
      names: [...this.jointNames],
      position: Array.from(target.position),
      velocity: [],
      acceleration: [],
      effort: [],
    };
    this.publishing = true;
    this.node.publish(this.topics.jointCommand, msg).then(
      () => { this.commandsSent++; },
      (err: unknown) => this.stopStreaming(`publish failed: ${err instanceof Error ? err.message : String(err)}`),
    ).finally(() => { this.publishing = false; });
  }

  private onJointState(msg: JointStateMsg): void {
    const now = Date.now();
    const prev = this.jointState?.position;
    const position = prev ? Float64Array.from(prev) : new Float64Array(this.jointNames.length).fill(NaN);
    for (let i = 0; i < this.jointNames.length; i++) {
      const k = msg.name.indexOf(this.jointNames[i]!);
      if (k >= 0 && k < msg.position.length) position[i] = msg.position[k]!;
    }
    // Intera also publishes messages holding only some joints (e.g. head_pan): wait until every arm joint is known.
    if (position.some((v) => Number.isNaN(v))) return;
    this.jointState = { position, receivedMs: now };
    this.jointStateTimes.push(now);
    if (this.jointStateTimes.length > 4000) this.jointStateTimes.splice(0, 2000);
  }

  private onEndpointState(msg: EndpointStateMsg): void {
    const p = msg.pose.position;
    this.hand = new Float64Array([p.x, p.y, p.z]);
  }

  private onRobotState(msg: RobotAssemblyStateMsg): void {
    this.robotState = msg;
    if (this.timer) {
      const problem = this.operationalProblem();
      if (problem) this.stopStreaming(problem);
    }
  }

  private requireConnected(): void {
    if (!this.node) throw new Error('SawyerLink is not connected: call connect() first');
  }

  private async waitFor(cond: () => boolean, message: () => string): Promise<void> {
    const deadline = Date.now() + this.opts.connectTimeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(message());
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new RobotRefusedError(`${what}[${i}] is ${values[i]}: only finite numbers are sent to the robot`);
    }
  }
}
