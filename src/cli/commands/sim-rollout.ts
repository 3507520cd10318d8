import { createEnv, type TaskParams } from '../../../sim/index.js';
import { Rng } from '../../learning/rng.js';
import { CliError } from '../errors.js';
import { parseNumber } from '../args.js';
import { DEG, type RolloutOptions } from './sim.js';

export function taskFromOptions(kind: string, opts: { targetDeg?: string; goal?: string }, sample: () => TaskParams): TaskParams {
  if (kind === 'door' && opts.targetDeg !== undefined) {
    const deg = parseNumber('--target-deg', opts.targetDeg);
    if (deg < 0 || deg > 60) throw new CliError(`--target-deg ${deg} is outside [0, 60] degrees`);
    return { kind: 'door', targetRad: deg * DEG };
  }
  if (kind === 'push' && opts.goal !== undefined) {
    const parts = opts.goal.split(',').map((s) => parseNumber('--goal', s));
    if (parts.length !== 2) throw new CliError(`--goal takes two numbers x,y in metres, got '${opts.goal}'`);
    return { kind: 'push', goal: [parts[0]!, parts[1]!] };
  }
  return sample();
}

export async function runRollout(opts: RolloutOptions): Promise<void> {
  if (opts.task !== 'door' && opts.task !== 'push') throw new CliError(`unknown task '${opts.task}'; choose door or push`);
  if (!['scripted', 'zero', 'random'].includes(opts.policy)) throw new CliError(`unknown policy '${opts.policy}'; choose scripted, zero or random`);
  const seed = parseNumber('--seed', opts.seed);
  const random = new Rng(seed);
  const rng = (): number => random.next();
  const env = await createEnv(opts.task, { dense: !!opts.dense });
  try {
    let task: TaskParams;
    try {
      task = taskFromOptions(opts.task, opts, () => env.sampleTask(rng));
      env.reset(task);
    } catch (err) {
      throw err instanceof CliError ? err : new CliError((err as Error).message);
    }
    const rows: string[] = [];
    let ret = 0, steps = 0;
    let info: Record<string, number | boolean> = {};
    let hand: Float64Array = new Float64Array(3);
    for (let t = 0; t < env.horizon; t++) {
      const action = opts.policy === 'scripted' ? env.expertAction() : opts.policy === 'zero' ? [0, 0, 0] : [rng() * 2 - 1, rng() * 2 - 1, rng() * 2 - 1];
      const r = env.step(action);
      ret += r.reward; steps++; info = r.info; hand = r.observation.hand;
      if (t % 10 === 9 || r.done) {
        const extra = opts.task === 'door' ? `${((r.info.doorAngle as number) / DEG).toFixed(1).padStart(8)}` : `${(r.info.placeDist as number).toFixed(3).padStart(8)}`;
        rows.push(`${String(t + 1).padStart(5)}  ${Array.from(hand, (x) => x.toFixed(3).padStart(7)).join(' ')}  ${extra}  ${r.reward.toFixed(2).padStart(8)}  ${ret.toFixed(1).padStart(8)}`);
      }
      if (r.done) break;
    }
    const result: Record<string, unknown> = { task: opts.task, policy: opts.policy, return: ret, success: !!info.success, steps };
    if (task.kind === 'door') { result.targetDeg = task.targetRad / DEG; result.finalAngleDeg = (info.doorAngle as number) / DEG; }
    if (task.kind === 'push') { result.goal = task.goal; result.finalDistance = info.placeDist; }
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const head = opts.task === 'door' ? 'door deg' : 'block→goal m';
      process.stdout.write(`${opts.task} task ${task.kind === 'door' ? `target ${(task.targetRad / DEG).toFixed(1)} deg` : `goal (${task.goal.map((x) => x.toFixed(3)).join(', ')}) m`}, policy ${opts.policy}\n`);
      process.stdout.write(` step   tip x   tip y   tip z  ${head.padStart(8)}    reward    return\n${rows.join('\n')}\n`);
      process.stdout.write(`return ${ret.toFixed(1)}, success ${result.success ? 'yes' : 'no'}, ${opts.task === 'door' ? `final angle ${(result.finalAngleDeg as number).toFixed(1)} deg` : `final distance ${(result.finalDistance as number).toFixed(3)} m`}, ${steps} steps\n`);
    }
  } finally {
    env.close();
  }
}
