/**
 * The simulated Sawyer under Cartesian control: MuJoCo physics, our IK and safety envelope (the same classes that
 * command the real arm), gravity compensation as Intera's joint controller does it, and the common parts of the
 * door and push tasks. A task subclass adds its objects' state, reward, observation and scripted expert.
 */
import { CartesianController } from '../src/robot/cartesian.js';
import { SawyerIk, DOWN_ROT } from '../src/robot/ik.js';
import { N_JOINTS } from '../src/robot/kinematics.js';
import { GRIPPER, JOINT_NAMES, NEUTRAL_POSE } from '../src/robot/sawyer-model.js';
import { SafetyEnvelope, SafetyViolation } from '../src/robot/safety.js';
import { SUBSTEPS } from './layout.js';
import type { MujocoModule } from './mujoco.js';
import { sceneXml } from './scene.js';
import type { Env, EnvOptions, Observation, SawyerTaskKind, StepInfo, StepResult, TaskParams } from './types.js';

type MjModel = InstanceType<MujocoModule['MjModel']>;
type MjData = InstanceType<MujocoModule['MjData']>;

export interface Renderer {
  readonly height: number;
  readonly width: number;
  /** Renders the current state into an RGB8 buffer (row-major HxWx3). */
  render(data: MjData): Uint8Array;
  close(): void;
}

const startPoseCache = new Map<string, Float64Array>();

export abstract class SawyerTaskEnv implements Env {
  abstract readonly kind: SawyerTaskKind;
  abstract readonly stateDim: number;
  readonly actionDim = 3;
  abstract readonly horizon: number;
  abstract readonly contextDim: number;

  readonly model: MjModel;
  readonly data: MjData;
  readonly controller: CartesianController;
  protected readonly dense: boolean;
  protected t = 0;
  protected task: TaskParams | undefined;
  private renderer: Renderer | undefined;
  private readonly tipSite: number;
  private readonly armQpos: Int32Array;
  private readonly armDof: Int32Array;
  private readonly fingerQpos: number;
  private closed = false;

  protected constructor(readonly mj: MujocoModule, kind: SawyerTaskKind, options: EnvOptions, safety = new SafetyEnvelope()) {
    this.model = mj.MjModel.from_xml_string(sceneXml(kind));
    this.data = new mj.MjData(this.model);
    this.controller = new CartesianController(safety);
    this.dense = options.dense ?? false;
    this.tipSite = this.id('site', 'right_gripper_tip');
    this.armQpos = Int32Array.from(JOINT_NAMES, (n) => this.model.jnt_qposadr[this.id('joint', n)]!);
    this.armDof = Int32Array.from(JOINT_NAMES, (n) => this.model.jnt_dofadr[this.id('joint', n)]!);
    this.fingerQpos = this.model.jnt_qposadr[this.id('joint', 'right_gripper_l_finger_joint')]!;
  }

  /** Attaches a camera renderer; observations then carry `image`. */
  attachRenderer(renderer: Renderer): void {
    this.renderer = renderer;
  }

  get imageShape(): { height: number; width: number } | undefined {
    return this.renderer ? { height: this.renderer.height, width: this.renderer.width } : undefined;
  }

  protected id(type: 'site' | 'joint' | 'body' | 'geom', name: string): number {
    const obj = { site: this.mj.mjtObj.mjOBJ_SITE, joint: this.mj.mjtObj.mjOBJ_JOINT, body: this.mj.mjtObj.mjOBJ_BODY, geom: this.mj.mjtObj.mjOBJ_GEOM }[type];
    const i = this.mj.mj_name2id(this.model, obj.value, name);
    if (i < 0) throw new Error(`scene has no ${type} named '${name}'`);
    return i;
  }

  protected sitePos(site: number, out: Float64Array, offset = 0): Float64Array {
    const p = this.data.site_xpos;
    out[offset] = p[3 * site]!; out[offset + 1] = p[3 * site + 1]!; out[offset + 2] = p[3 * site + 2]!;
    return out;
  }

  /** Gripper tip position (the point midway between the fingertips). */
  tip(out = new Float64Array(3)): Float64Array { return this.sitePos(this.tipSite, out); }

  jointPositions(out = new Float64Array(N_JOINTS)): Float64Array {
    for (let i = 0; i < N_JOINTS; i++) out[i] = this.data.qpos[this.armQpos[i]!]!;
    return out;
  }

  abstract sampleTask(rng: () => number): TaskParams;
  abstract context(): Float64Array;
  abstract expertAction(): Float64Array;
  protected abstract validateTask(task: TaskParams): void;
  protected abstract handInit(): readonly [number, number, number];
  /** Gripper opening the task holds (m): the policy's action has no gripper dimension in GMPS's tasks. */
  protected gripperOpening(): number { return GRIPPER.maxOpening; }
  /** Places the task's objects after the keyframe reset. */
  protected abstract placeObjects(task: TaskParams): void;
  protected abstract observeState(): Float64Array;
  protected abstract rewardAndInfo(): { reward: number; info: StepInfo };

  reset(task: TaskParams): Observation {
    this.assertOpen();
    this.validateTask(task);
    this.task = task;
    this.t = 0;
    const { mj, model, data } = this;
    mj.mj_resetDataKeyframe(model, data, 0);
    const q = this.startPose();
    for (let i = 0; i < N_JOINTS; i++) { data.qpos[this.armQpos[i]!] = q[i]!; data.ctrl[i] = q[i]!; }
    const half = this.gripperOpening() / 2;
    data.qpos[this.fingerQpos] = half; data.qpos[this.fingerQpos + 1] = half;
    this.placeObjects(task);
    mj.mj_forward(model, data);
    this.controller.reset(q, this.gripperOpening());
    this.setGripper(this.gripperOpening());
    this.simulate(SUBSTEPS);
    return this.observe();
  }

  /** Joint angles putting the tip at the task's start position, hand down (solved once per task kind). */
  private startPose(): Float64Array {
    const key = `${this.kind}:${this.handInit().join(',')}`;
    let q = startPoseCache.get(key);
    if (!q) {
      const ik = new SawyerIk({ maxIterations: 500, nullspaceGain: 0.02 });
      const r = ik.solve(this.handInit(), DOWN_ROT, NEUTRAL_POSE);
      if (r.positionError > 1e-3) throw new Error(`start pose of ${this.kind} is out of reach (IK error ${r.positionError.toFixed(4)} m)`);
      q = Float64Array.from(r.q);
      startPoseCache.set(key, q);
    }
    return q;
  }

  step(action: ArrayLike<number>): StepResult {
    this.assertOpen();
    if (!this.task) throw new Error(`${this.kind} env: call reset(task) before step()`);
    if (this.t >= this.horizon) throw new Error(`${this.kind} env: the episode ended at step ${this.horizon}; call reset(task)`);
    const cmd = this.controller.step(action); // throws SafetyViolation before anything changes
    for (let i = 0; i < N_JOINTS; i++) this.data.ctrl[i] = cmd.q[i]!;
    this.setGripper(cmd.gripper);
    this.simulate(SUBSTEPS);
    this.t++;
    const { reward, info } = this.rewardAndInfo();
    if (cmd.clip.clipped) info.clipped = true;
    return { observation: this.observe(), reward, done: this.t >= this.horizon, info };
  }

  /**
   * One control step holding joint position targets that already passed the safety envelope (the joint-level
   * interface the ROS sim node exposes: a controller outside the env did the IK). Does not advance the
   * episode's step counter or compute the reward.
   */
  stepJointTargets(q: ArrayLike<number>): void {
    this.assertOpen();
    if (q.length !== N_JOINTS) throw new SafetyViolation(`joint targets have ${q.length} values; the Sawyer needs ${N_JOINTS}`);
    for (let i = 0; i < N_JOINTS; i++) {
      if (!Number.isFinite(q[i]!)) throw new SafetyViolation(`joint target ${JOINT_NAMES[i]} is ${q[i]}; refused, the arm holds`);
    }
    for (let i = 0; i < N_JOINTS; i++) this.data.ctrl[i] = q[i]!;
    this.simulate(SUBSTEPS);
  }

  private setGripper(opening: number): void {
    const nu = this.model.nu;
    this.data.ctrl[nu - 2] = opening / 2;
    this.data.ctrl[nu - 1] = opening / 2;
  }

  /** When true, `mjStepNs` accumulates the time spent inside mj_step (for `gmps bench sim`). */
  profile = false;
  mjStepNs = 0n;

  /** Steps physics with gravity compensation on the arm joints, as Intera's joint position controller applies it. */
  protected simulate(n: number): void {
    const { mj, model, data } = this;
    for (let s = 0; s < n; s++) {
      for (let i = 0; i < N_JOINTS; i++) {
        const dof = this.armDof[i]!;
        data.qfrc_applied[dof] = data.qfrc_bias[dof]!;
      }
      if (this.profile) {
        const t0 = process.hrtime.bigint();
        mj.mj_step(model, data);
        this.mjStepNs += process.hrtime.bigint() - t0;
      } else {
        mj.mj_step(model, data);
      }
    }
  }

  protected observe(): Observation {
    const obs: Observation = { state: this.observeState(), hand: this.tip() };
    if (this.renderer) obs.image = this.renderer.render(this.data);
    return obs;
  }

  protected assertOpen(): void {
    if (this.closed) throw new Error(`${this.kind} env is closed`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.renderer?.close();
    this.data.delete();
    this.model.delete();
  }
}

