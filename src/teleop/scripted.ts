/**
 * The scripted teleoperator: the simulated task's own scripted expert, run on a mirror of the robot's
 * privileged state as the graph publishes it (joint positions, door angle or block position, task
 * parameters). A private copy of the task env is set to that state (kinematics only, no stepping) and asked
 * for `expertAction()`, so the commands equal what the expert would do inside the simulator, without
 * duplicating the expert's logic. Used for tests and demos that need real demonstrations end to end.
 */
import { createEnv } from '../../sim/index.js';
import type { SawyerTaskEnv } from '../../sim/sawyer-env.js';
import type { TaskParams } from '../../sim/types.js';
import { JOINT_NAMES } from '../robot/sawyer-model.js';

export class ScriptedExpertMirror {
  private task?: TaskParams;
  private haveJoints = false;
  private haveObject = false;
  private readonly armQpos: Int32Array;
  private readonly objectQpos: number;

  private constructor(readonly kind: 'door' | 'push', private readonly env: SawyerTaskEnv) {
    const { mj, model } = env;
    const joint = (name: string): number => {
      const id = mj.mj_name2id(model, mj.mjtObj.mjOBJ_JOINT.value, name);
      if (id < 0) throw new Error(`the ${kind} scene has no joint '${name}'`);
      return model.jnt_qposadr[id]!;
    };
    this.armQpos = Int32Array.from(JOINT_NAMES, joint);
    this.objectQpos = joint(kind === 'door' ? 'door_hinge' : 'block_joint');
  }

  static async create(kind: 'door' | 'push'): Promise<ScriptedExpertMirror> {
    return new ScriptedExpertMirror(kind, (await createEnv(kind)) as SawyerTaskEnv);
  }

  /** True once the task, the joints and the task object have been seen. */
  get ready(): boolean {
    return !!this.task && this.haveJoints && this.haveObject;
  }

  get currentTask(): TaskParams | undefined {
    return this.task;
  }

  /** A new episode's task (resets the mirror; joints and object must be set again after). */
  setTask(task: TaskParams): void {
    this.env.reset(task);
    this.task = task;
    this.haveJoints = false;
    this.haveObject = false;
  }

  /** Joint positions by name (other joints in the message are ignored; a partial state is refused). */
  setJoints(names: readonly string[], positions: ArrayLike<number>): void {
    const q = this.env.data.qpos;
    const values = JOINT_NAMES.map((n, i) => {
      const k = names.length ? names.indexOf(n) : i;
      return k >= 0 && k < positions.length ? positions[k]! : NaN;
    });
    if (values.some((v) => !Number.isFinite(v))) return;
    values.forEach((v, i) => (q[this.armQpos[i]!] = v));
    this.haveJoints = true;
  }

  setDoorAngle(rad: number): void {
    if (this.kind !== 'door') throw new Error('a door angle was given to the push task mirror');
    if (!Number.isFinite(rad)) return;
    this.env.data.qpos[this.objectQpos] = rad;
    this.haveObject = true;
  }

  /** Block centre (the block slides without turning, so its orientation stays the identity). */
  setBlock(x: number, y: number, z: number): void {
    if (this.kind !== 'push') throw new Error('a block position was given to the door task mirror');
    if (![x, y, z].every(Number.isFinite)) return;
    const q = this.env.data.qpos, a = this.objectQpos;
    q[a] = x; q[a + 1] = y; q[a + 2] = z;
    q[a + 3] = 1; q[a + 4] = 0; q[a + 5] = 0; q[a + 6] = 0;
    this.haveObject = true;
  }

  /** The expert's displacement command in [-1, 1]^3 for the mirrored state. */
  action(): Float64Array {
    if (!this.ready) throw new Error('the scripted expert needs the task, the joint states and the task object state first');
    const { mj, model, data } = this.env;
    mj.mj_forward(model, data);
    return this.env.expertAction();
  }

  close(): void {
    this.env.close();
  }
}
