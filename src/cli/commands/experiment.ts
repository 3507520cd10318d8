/**
 * Paper-reproduction verbs: `gmps experiment FIG` (run a figure's runs, resumable) and
 * `gmps report` (charts and sample-efficiency table from the result files).
 */
import type { Command } from 'commander';
import { CliError } from '../errors.js';

function int(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

export function registerExperiment(program: Command, _bench: Command): void {
  program
    .command('experiment')
    .description('run one figure of the GMPS paper (every algorithm x seed), skipping runs whose result JSON exists; a run stopped part-way continues after its last completed iteration (PEARL, MAML, MultiTask snapshots; GMPS checkpoint)')
    .argument('<figure>', 'fig3-push, fig3-ant, fig4-ant-ood, fig5-door-sparse, fig5-ant-sparse, fig5-vision-push, fig6-door or fig6-vision-push')
    .option('--scale <scale>', "'small' (minutes per run on 2 cores), 'medium' (the paper's task and rollout counts, hours per run) or 'paper' (appendix D sizes)", 'small')
    .option('--seeds <n>', 'seeds 0..n-1 per run', '3')
    .option('--first-seed <k>', 'start at seed k (seeds k..n-1), e.g. to run another seed elsewhere', '0')
    .option('--out <dir>', 'result directory (one subfolder per figure)', 'experiments/results')
    .option('--only <ids>', 'comma-separated run ids of the figure (e.g. gmps,maml)')
    .option('--workers <n>', 'env worker threads per sampler (0: main thread)', '1')
    .option('--envs <n>', 'envs stepped in parallel per sampler', '8')
    .option('--backend <name>', 'tfjs backend: auto, node-gpu, node, wasm, cpu')
    .option('--gmps-checkpoint <dir>', 'GMPS runs adapt this meta-trained checkpoint to each seed\'s held-out tasks instead of meta-training (figures over samples get one GMPS point, at the checkpoint\'s samples)')
    .option('--list', 'print the figure\'s runs and configs without running them')
    .option('--json', 'print the run statuses as JSON on one line')
    .action(async (figure: string, o: Record<string, string | boolean | undefined>) => {
      const { FIGURES, figureSpec, isFigure, isScale, SCALES } = await import('../../learning/experiment/figures.js');
      if (!isFigure(figure)) throw new CliError(`unknown figure '${figure}'; choose one of ${FIGURES.join(', ')}`);
      const scale = o.scale as string;
      if (!isScale(scale)) throw new CliError(`--scale must be ${SCALES.join(', ')}; got '${scale}'`);
      const seeds = int('--seeds', o.seeds as string, 1);
      const firstSeed = int('--first-seed', o.firstSeed as string, 0);
      if (firstSeed >= seeds) throw new CliError(`--first-seed ${firstSeed} leaves no seed to run: seeds are 0..${seeds - 1} (--seeds ${seeds})`);
      const spec = figureSpec(figure, scale);
      if (o.gmpsCheckpoint) {
        const gmpsRuns = spec.runs.filter((r) => r.algorithm === 'gmps');
        if (!gmpsRuns.length) throw new CliError(`--gmps-checkpoint: figure ${figure} has no GMPS run`);
        const { curveKind } = await import('../../learning/experiment/algorithms.js');
        for (const r of gmpsRuns) {
          if (curveKind(r.config) === 'train') throw new CliError(`--gmps-checkpoint: figure ${figure} plots GMPS on its training tasks; a checkpoint is evaluated on the seed's held-out tasks`);
          r.config = { ...r.config, checkpoint: o.gmpsCheckpoint as string };
        }
      }
      if (o.list) {
        if (o.json) process.stdout.write(`${JSON.stringify(spec)}\n`);
        else for (const r of spec.runs) process.stdout.write(`${r.id}: ${r.algorithm} on ${r.task.kind} ${JSON.stringify(r.task.envOptions)} ${JSON.stringify(r.config)}\n`);
        return;
      }
      const { initBackend, isBackendChoice } = await import('../../learning/backend.js');
      const backend = o.backend as string | undefined;
      if (backend !== undefined && !isBackendChoice(backend)) throw new CliError(`--backend: unknown backend '${backend}'`);
      await initBackend(backend ? { backend } : {});
      const { runFigure } = await import('../../learning/experiment/run.js');
      let statuses;
      try {
        statuses = await runFigure({
          figure,
          scale,
          runs: spec.runs,
          seeds,
          firstSeed,
          outDir: o.out as string,
          workers: int('--workers', o.workers as string, 0),
          envs: int('--envs', o.envs as string, 1),
          only: o.only ? (o.only as string).split(',').map((s) => s.trim()) : undefined,
          log: (l) => process.stderr.write(`${l}\n`),
        });
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err));
      }
      if (o.json) process.stdout.write(`${JSON.stringify(statuses)}\n`);
      else for (const s of statuses) process.stdout.write(`${s.id} seed ${s.seed}: ${s.status}${s.error ? ` (${s.error})` : ''} ${s.file}\n`);
      const failed = statuses.filter((s) => s.status === 'failed').length;
      if (failed) throw new CliError(`${failed} run(s) failed; see the .error.txt files next to the results`, 1);
    });

  program
    .command('report')
    .description('draw every figure found in the result directory (seed mean ± std) and the samples-to-reach table')
    .option('--dir <dir>', 'result directory written by gmps experiment', 'experiments/results')
    .option('--json', 'print the report as JSON on one line')
    .action(async (o: { dir: string; json?: boolean }) => {
      const { writeReport } = await import('../../learning/experiment/report.js');
      let report;
      try {
        report = await writeReport(o.dir);
      } catch (err) {
        throw new CliError(err instanceof Error ? err.message : String(err));
      }
      if (o.json) process.stdout.write(`${JSON.stringify({ figures: report.figures, ratios: report.ratios, unfinished: report.unfinished, experts: report.experts })}\n`);
      else process.stdout.write(report.markdown);
    });
}
