/** `gmps sim ...` and `gmps bench sim`: the MuJoCo Sawyer tasks. */
import type { Command } from 'commander';
import { parseNumber } from '../args.js';
import { CliError } from '../errors.js';

const DEG = Math.PI / 180;

export interface RolloutOptions {
  task: string;
  targetDeg?: string;
  goal?: string;
  policy: string;
  seed: string;
  dense?: boolean;
  json?: boolean;
}

export function registerSim(program: Command, bench: Command): void {
  const sim = program.command('sim').description('the simulated Sawyer: rollouts, scene export');

  sim.command('rollout')
    .description('run one episode of a task and print its return, success and trajectory')
    .option('--task <name>', 'door | push', 'door')
    .option('--target-deg <deg>', 'door target angle in degrees, in [0, 60] (default: drawn from --seed)')
    .option('--goal <x,y>', 'push goal in metres, x in [0.6, 0.7], y in [-0.1, 0.1] (default: drawn from --seed)')
    .option('--policy <name>', 'scripted (the task expert) | zero | random', 'scripted')
    .option('--seed <n>', 'seed for the task draw and the random policy', '0')
    .option('--dense', 'dense reward variant (door: minus the finger-handle distance)')
    .option('--json', 'print one JSON object')
    .action(async (opts: RolloutOptions) => {
      const { runRollout } = await import('./sim-rollout.js');
      await runRollout(opts);
    });

  sim.command('export-mjcf')
    .description('print the complete MJCF of a task scene (self-contained, loads in MuJoCo >= 2.2.2)')
    .option('--task <name>', 'door | push', 'door')
    .action(async (opts: { task: string }) => {
      if (opts.task !== 'door' && opts.task !== 'push') throw new CliError(`unknown task '${opts.task}'; choose door or push`);
      const { sceneXml } = await import('../../../sim/scene.js');
      process.stdout.write(sceneXml(opts.task));
    });

  bench.command('sim')
    .description('environment, mj_step and camera rates of a task (and native MuJoCo where installed)')
    .option('--task <name>', 'door | push', 'door')
    .option('--camera', 'also render the 48x64 camera every step')
    .option('--steps <n>', 'control steps per timed repeat', '2000')
    .option('--repeats <n>', 'timed repeats (median reported)', '5')
    .option('--json', 'print one JSON object')
    .action(async (opts: { task: string; camera?: boolean; steps: string; repeats: string; json?: boolean }) => {
      const { benchSim } = await import('./sim-bench.js');
      const result = await benchSim({ task: opts.task, camera: !!opts.camera, steps: parseNumber('--steps', opts.steps), repeats: parseNumber('--repeats', opts.repeats) });
      process.stdout.write(opts.json ? `${JSON.stringify(result)}\n` : `${Object.entries(result).map(([k, v]) => `${k.padEnd(32)} ${typeof v === 'number' ? +v.toFixed(3) : v}`).join('\n')}\n`);
    });
}

export { DEG };
