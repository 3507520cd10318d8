/**
 * GMPS learning verbs: `gmps train-experts`, `gmps meta-train`, `gmps adapt`, `gmps eval`.
 * Heavy modules (tfjs, MuJoCo) load inside the actions.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { TaskParams } from '../../../sim/types.js';
import type { BackendChoice } from '../../learning/backend.js';
import { checkpointDir } from '../../learning/checkpoint-path.js';
import type { KeepBestBy } from '../../learning/meta-train.js';
import type { Sampler } from '../../learning/sampler.js';
import { parseNumber as num } from '../args.js';
import { CliError } from '../errors.js';

const DEG = Math.PI / 180;
const TASKS = ['door', 'push', 'point'] as const;
type Task = (typeof TASKS)[number];

function int(name: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

function keepBestBy(value: string): KeepBestBy {
  if (value !== 'return' && value !== 'success') throw new CliError(`--keep-best-by must be return or success, got '${value}'`);
  return value;
}

function taskKind(value: string): Task {
  if (!(TASKS as readonly string[]).includes(value)) throw new CliError(`--task must be one of ${TASKS.join(', ')}, got '${value}'`);
  return value as Task;
}

async function useBackend(name: string | undefined): Promise<void> {
  const { initBackend, isBackendChoice, BACKEND_CHOICES } = await import('../../learning/backend.js');
  if (name !== undefined && !isBackendChoice(name)) throw new CliError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got '${name}'`);
  try {
    await initBackend({ backend: name as BackendChoice | undefined });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

/** Env options a checkpoint was trained with: the reward variant, the camera for a vision policy, and any other task option. */
interface EnvChoice {
  dense?: boolean;
  camera?: { height?: number; width?: number };
  [option: string]: unknown;
}

async function openSampler(task: Task, envOptions: EnvChoice, seed: number, opts: { envs?: string; workers?: string }): Promise<Sampler> {
  const { createSampler, createLocalSampler } = await import('../../learning/sampler.js');
  const nEnvs = opts.envs ? int('--envs', opts.envs) : 10;
  const nWorkers = opts.workers !== undefined ? int('--workers', opts.workers, 0) : undefined;
  // Options left out keep the env's defaults (point and Ant are dense unless told otherwise).
  const env = { kind: task, options: { ...envOptions, seed } };
  return nWorkers === 0 ? createLocalSampler({ env, nEnvs }) : createSampler({ env, nEnvs, nWorkers });
}

function userError(err: unknown): never {
  if (err instanceof CliError) throw err;
  throw new CliError(err instanceof Error ? err.message : String(err), 1);
}

async function progressBar(total: number, label: string, enabled: boolean) {
  if (!enabled || !process.stderr.isTTY) return { update: (_v: number, _p?: Record<string, unknown>) => {}, stop: () => {} };
  const { default: cliProgress } = await import('cli-progress');
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} [{bar}] {value}/{total} {status}`, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { status: '' });
  return { update: (v: number, p?: Record<string, unknown>) => bar.update(v, p), stop: () => bar.stop() };
}

/** `--pre-imitation-target`: a door angle in degrees, or a push/point goal x,y. */
function preImitationTask(task: Task, value: string): TaskParams {
  const t = task === 'door' ? targetTask(task, { targetDeg: value }) : targetTask(task, { goal: value });
  return t!;
}

function targetTask(task: Task, opts: { targetDeg?: string; goal?: string }): TaskParams | undefined {
  if (opts.targetDeg !== undefined) {
    if (task !== 'door') throw new CliError('--target-deg applies to --task door only');
    const deg = num('--target-deg', opts.targetDeg);
    if (deg < 0 || deg > 60) throw new CliError(`--target-deg ${deg} is outside [0, 60] degrees`);
    return { kind: 'door', targetRad: deg * DEG };
  }
  if (opts.goal !== undefined) {
    if (task === 'door') throw new CliError('--goal applies to push and point tasks; use --target-deg for the door');
    const parts = opts.goal.split(',').map((s) => num('--goal', s));
    if (parts.length !== 2) throw new CliError(`--goal takes two numbers x,y, got '${opts.goal}'`);
    return { kind: task, goal: [parts[0], parts[1]] };
  }
  return undefined;
}

/**
 * n tasks drawn from the task distribution with a seed of their own (`--tasks n --task-seed S`): the same
 * draw for `gmps eval` and `gmps adapt`, so both report on the same fresh tasks.
 */
async function freshTasks(task: Task, n: number, taskSeed: number): Promise<TaskParams[]> {
  const { createEnv } = await import('../../../sim/index.js');
  const { Rng } = await import('../../learning/rng.js');
  const probe = await createEnv(task, {});
  try {
    const draw = new Rng(`eval-tasks-${taskSeed}`).asFunction();
    return Array.from({ length: n }, () => probe.sampleTask(draw));
  } finally {
    probe.close();
  }
}

/** Task, env options, observation mode and seed stored in a meta-training checkpoint. */
async function checkpointEnv(checkpoint: string, errorPrefix = 'cannot read checkpoint'): Promise<{ task: Task; env: EnvChoice; obsMode: string; seed: number }> {
  const { readTrainConfig } = await import('../../learning/meta-train.js');
  let cfg: Awaited<ReturnType<typeof readTrainConfig>>;
  try {
    cfg = await readTrainConfig(checkpoint);
  } catch (err) {
    throw new CliError(`${errorPrefix}: ${(err as Error).message}`);
  }
  if (!(TASKS as readonly string[]).includes(cfg.task)) throw new CliError(`the checkpoint was meta-trained on '${cfg.task}' tasks, which this command does not run (${TASKS.join(', ')})`);
  const obsMode = cfg.obsMode ?? 'state';
  // Every option the envs were trained with (horizon, reward variant, ...), not only the ones we know of.
  const env: EnvChoice = { ...(cfg.envOptions as EnvChoice | undefined) };
  if (obsMode === 'vision' && !env.camera) {
    const v = cfg.policy?.vision;
    env.camera = v ? { height: v.height, width: v.width } : {};
  }
  return { task: cfg.task as Task, env, obsMode, seed: cfg.seed };
}

/** Recorded demonstrations: a directory of .mcap episodes, one .mcap episode, or a gmps-demos JSON file. */
async function loadDemoSource(where: string, imageSize?: { height: number; width: number }) {
  const { stat, readdir } = await import('node:fs/promises');
  let st;
  try {
    st = await stat(where);
  } catch {
    throw new CliError(`--demos ${where}: no such file or directory (give a directory of .mcap episodes, an .mcap file or a demonstrations JSON)`);
  }
  let files: string[];
  if (st.isDirectory()) {
    files = (await readdir(where)).filter((f) => f.endsWith('.mcap')).sort().map((f) => path.join(where, f));
    if (files.length === 0) throw new CliError(`--demos ${where}: the directory holds no .mcap episodes (record some with gmps launch launch/teleop.launch.yaml output_dir:=${where})`);
  } else if (where.endsWith('.mcap')) {
    files = [where];
  } else if (where.endsWith('.json')) {
    const { loadDemonstrations } = await import('../../learning/meta-train.js');
    try {
      return { source: await loadDemonstrations(where), files: [where] };
    } catch (err) {
      throw new CliError(err instanceof Error ? err.message : String(err));
    }
  } else {
    throw new CliError(`--demos ${where}: expected a directory of .mcap episodes, an .mcap file or a .json demonstrations file`);
  }
  const { McapDemonstrationSource } = await import('../../data/demonstrations.js');
  try {
    return { source: await McapDemonstrationSource.load(files, imageSize ? { imageSize } : {}), files };
  } catch (err) {
    throw new CliError(`cannot load demonstrations: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : String(x));

interface MetaTrainCli {
  task: string;
  out?: string;
  tasks: string;
  heldOut: string;
  rollouts: string;
  demos: string;
  expertNoise: string;
  expert: string;
  demosFile?: string;
  sacSteps: string;
  sacExpert?: string;
  iterations: string;
  adamSteps: string;
  lr: string;
  evalEvery: string;
  dagger?: boolean;
  daggerRollouts: string;
  hidden: string;
  latentDim: string;
  stepSize: string;
  initStd: string;
  fixedStd?: boolean;
  tasksPerStep: string;
  isClip?: string;
  isClipLow?: string;
  lrWarmup?: string;
  freezeTrunk?: boolean;
  preImitation?: string;
  preImitationTarget?: string;
  initFrom?: string;
  redrawTasks?: boolean;
  setStd?: string;
  scaleStepSizes?: string;
  policy: string;
  seed: string;
  dense?: boolean;
  observeAngle?: boolean;
  resume?: boolean;
  keepBest?: boolean;
  keepBestBy?: string;
  envs?: string;
  workers?: string;
  backend?: string;
  json?: boolean;
}

/**
 * `--demos` is either the number of expert rollouts per task (an integer) or recorded
 * demonstrations (a directory of .mcap episodes, an .mcap file or a JSON file).
 */
function demosArg(value: string): { perTask: string } | { path: string } {
  if (/^\d+$/.test(value.trim()) && !existsSync(value)) return { perTask: value };
  return { path: value };
}

async function runMetaTrain(o: MetaTrainCli, cmd?: Command): Promise<void> {
  const task = taskKind(o.task);
  if (!['mlp', 'mlp-biasAda', 'vision'].includes(o.policy)) throw new CliError(`--policy must be mlp, mlp-biasAda or vision, got '${o.policy}'`);
  const vision = o.policy === 'vision';
  if (vision && task === 'point') throw new CliError('--policy vision needs a rendered task (door or push); the point task has no camera');
  const out = o.out ?? path.join('checkpoints', `${task}-${vision ? 'vision' : 'state'}`);
  const bestBy = o.keepBestBy === undefined ? undefined : keepBestBy(o.keepBestBy);
  if (!['scripted', 'sac', 'demos'].includes(o.expert)) throw new CliError(`--expert must be scripted, sac or demos, got '${o.expert}'`);
  const demos = demosArg(o.demos);
  const demosPath = 'path' in demos ? demos.path : o.demosFile;
  if ('path' in demos && o.demosFile) throw new CliError('give recorded demonstrations once: --demos PATH or --demos-file FILE');
  const expertKind = 'path' in demos && cmd?.getOptionValueSource('expert') !== 'cli' ? 'demos' : o.expert;
  if (expertKind !== 'demos' && 'path' in demos) throw new CliError(`--demos ${demos.path} gives recorded demonstrations, which --expert ${expertKind} does not use (drop --expert or use --expert demos)`);
  if (o.sacExpert !== undefined && expertKind !== 'sac') throw new CliError(`--sac-expert gives trained SAC experts, which --expert ${expertKind} does not use (add --expert sac)`);
  if (expertKind === 'demos' && !demosPath) throw new CliError('--expert demos needs --demos DIR (a directory of .mcap episodes) or --demos-file FILE (an .mcap or gmps-demos JSON file)');
  const hidden = o.hidden.split(',').map((s) => int('--hidden', s));
  const seed = int('--seed', o.seed, 0);
  await useBackend(o.backend);
  const mt = await import('../../learning/meta-train.js');
  const { defaultMlpConfig, defaultVisionConfig } = await import('../../learning/policy/index.js');
  const { createEnv } = await import('../../../sim/index.js');
  if (o.observeAngle && (task !== 'door' || vision)) throw new CliError('--observe-angle gives the door state policy the door angle: it needs --task door and a state policy (mlp or mlp-biasAda)');
  const probe = await createEnv(task, o.observeAngle ? { observeAngle: true } : {});
  const policy = {
    ...(vision ? defaultVisionConfig(probe.actionDim) : defaultMlpConfig(probe.stateDim, probe.actionDim, o.policy as 'mlp' | 'mlp-biasAda')),
    hidden,
    latentDim: int('--latent-dim', o.latentDim, 0),
    initStepSize: num('--step-size', o.stepSize),
    initStd: num('--init-std', o.initStd),
  };
  if (!(policy.initStd > 0)) throw new CliError(`--init-std must be > 0, got ${o.initStd}`);
  const dims = { obsDim: policy.obsDim, actDim: probe.actionDim };
  const config = mt.defaultMetaTrainConfig(task, dims);
  const envOptions: EnvChoice = {
    dense: !!o.dense,
    ...(vision ? { camera: { height: policy.vision!.height, width: policy.vision!.width } } : {}),
    ...(o.observeAngle ? { observeAngle: true } : {}),
  };
  let expert: import('../../learning/meta-train.js').ExpertChoice = { kind: 'scripted' };
  let demoFiles: string[] | undefined;
  let numTasks = int('--tasks', o.tasks);
  if (expertKind === 'demos' && !o.resume) {
    const loaded = await loadDemoSource(demosPath!, vision ? { height: policy.vision!.height, width: policy.vision!.width } : undefined);
    demoFiles = loaded.files;
    const demoTasks = loaded.source.tasks();
    if (demoTasks.length === 0) throw new CliError(`--demos ${demosPath}: no usable demonstrations (every episode was skipped)`);
    const other = demoTasks.find((t) => t.kind !== task);
    if (other) throw new CliError(`--demos ${demosPath} holds '${other.kind}' demonstrations; meta-train them with --task ${other.kind}`);
    try {
      mt.checkDemonstrations(loaded.source, { obsMode: vision ? 'vision' : 'state', policy }, probe.stateDim);
    } catch (err) {
      probe.close();
      throw new CliError(err instanceof Error ? err.message : String(err));
    }
    if (cmd?.getOptionValueSource('tasks') !== 'cli') numTasks = demoTasks.length;
    else if (numTasks > demoTasks.length) {
      probe.close();
      throw new CliError(`--tasks ${numTasks}: the demonstrations cover only ${demoTasks.length} task(s); drop --tasks to train on all of them`);
    }
    expert = { kind: 'demos', source: loaded.source };
  }
  Object.assign(config, {
    envOptions,
    obsMode: vision ? 'vision' : 'state',
    seed,
    numTasks,
    numHeldOut: int('--held-out', o.heldOut, 0),
    rolloutsPerTask: int('--rollouts', o.rollouts, 2),
    demosPerTask: 'perTask' in demos ? int('--demos', demos.perTask) : config.demosPerTask,
    expertNoise: num('--expert-noise', o.expertNoise),
    iterations: int('--iterations', o.iterations),
    adamSteps: int('--adam-steps', o.adamSteps),
    lr: num('--lr', o.lr),
    evalEvery: int('--eval-every', o.evalEvery, 0),
    dagger: !!o.dagger,
    daggerRollouts: int('--dagger-rollouts', o.daggerRollouts),
    learnStd: !o.fixedStd,
    tasksPerStep: int('--tasks-per-step', o.tasksPerStep, 0),
    ...(o.isClip !== undefined ? { isClip: num('--is-clip', o.isClip) } : {}),
    ...(o.isClipLow !== undefined ? { isClipLow: num('--is-clip-low', o.isClipLow) } : {}),
    ...(o.lrWarmup !== undefined ? { lrWarmup: int('--lr-warmup', o.lrWarmup, 0) } : {}),
    ...(o.freezeTrunk ? { freezeTrunk: true } : {}),
    ...(o.preImitation !== undefined ? { preImitation: num('--pre-imitation', o.preImitation) } : {}),
    ...(o.preImitationTarget !== undefined ? { preImitationTask: preImitationTask(task, o.preImitationTarget) } : {}),
  });
  if (config.preImitationTask && !config.preImitation) throw new CliError('--pre-imitation-target names what the pre-update imitation term imitates: give --pre-imitation B (> 0) too');
  if (o.redrawTasks && !o.initFrom) throw new CliError('--redraw-tasks draws new tasks (--tasks, --held-out, --seed) for a run started with --init-from; a new run draws its tasks anyway');
  if (o.initFrom && o.resume) throw new CliError('--resume continues the run in --out; --init-from starts a new run from a checkpoint: give one of them');
  if ((o.setStd !== undefined || o.scaleStepSizes !== undefined) && !o.initFrom) {
    throw new CliError('--set-std and --scale-step-sizes change the checkpoint a run starts from: give --init-from (a new run sets σ with --init-std and α with --step-size)');
  }
  const initAdjust: import('../../learning/meta-train.js').InitAdjust = {
    ...(o.setStd !== undefined ? { std: num('--set-std', o.setStd) } : {}),
    ...(o.scaleStepSizes !== undefined ? { stepSizeScale: num('--scale-step-sizes', o.scaleStepSizes) } : {}),
  };
  if (initAdjust.std !== undefined && !(initAdjust.std > 0)) throw new CliError(`--set-std must be > 0, got ${o.setStd}`);
  if (initAdjust.stepSizeScale !== undefined && !(initAdjust.stepSizeScale > 0)) throw new CliError(`--scale-step-sizes must be > 0, got ${o.scaleStepSizes}`);
  if (o.initFrom && path.resolve(checkpointDir(o.initFrom)) === path.resolve(out)) {
    throw new CliError('--init-from must differ from --out (the new run writes its checkpoints there); to continue a run use --resume');
  }
  config.policy = policy;
  const sacTasks = mt.drawTasks(config, (r) => probe.sampleTask(r)).tasks;
  probe.close();
  // Resuming: the checkpoint's config wins, so its task and env options (the camera of a vision
  // run) make the sampler, whatever --task / --policy / --dense say.
  // Starting from a checkpoint: its env options (dense reward, camera) as well.
  // --observe-angle on a checkpoint without the angle: its envs gain it (and its policy the input).
  const fromCheckpoint = async (ck: string) => {
    const c = await checkpointEnv(ck, '--init-from');
    return { ...c, env: o.observeAngle ? { ...c.env, observeAngle: true } : c.env, seed };
  };
  const run = o.resume ? await checkpointEnv(out, '--resume') : o.initFrom ? await fromCheckpoint(o.initFrom) : { task, env: envOptions, seed };
  const sampler = await openSampler(run.task, run.env, run.seed, o);
  const bar = await progressBar(config.iterations, 'meta-train', true);
  const t0 = Date.now();
  try {
    if (expertKind === 'sac') {
      // The run keeps its experts next to its checkpoint: --resume labels its DAgger states with the same ones.
      const { loadSacExpert, saveSacExpert, trainSac } = await import('../../learning/sac.js');
      const own = path.join(out, 'sac-expert.snapshot');
      const from = o.sacExpert ?? (o.resume ? own : undefined);
      if (from !== undefined) {
        if (!existsSync(from)) {
          throw new CliError(o.sacExpert !== undefined
            ? `--sac-expert ${from}: no such file (write one with gmps train-experts --expert sac --out FILE)`
            : `--resume with --expert sac continues with the run's own experts, and ${own} is missing (runs of older versions did not keep them): give --sac-expert FILE, or start the run over`);
        }
        const { agent } = await loadSacExpert(from, sampler.info);
        process.stderr.write(`contextual SAC experts from ${from} (${agent.envSteps} env steps of training)\n`);
        expert = { kind: 'agent', expert: agent };
        if (path.resolve(from) !== path.resolve(own)) await saveSacExpert(own, agent, { from: path.resolve(from) });
      } else {
        const steps = int('--sac-steps', o.sacSteps);
        process.stderr.write(`training contextual SAC experts for ${steps} env steps (continues from ${path.join(out, 'sac-training.snapshot')} if stopped)\n`);
        const { agent } = await trainSac({ sampler, tasks: sacTasks, envSteps: steps, config: { seed }, snapshot: { file: path.join(out, 'sac-training.snapshot') } });
        await saveSacExpert(own, agent, { seed, tasks: sacTasks });
        expert = { kind: 'agent', expert: agent };
      }
    }
    const res = await mt.metaTrain({
      config,
      sampler,
      expert,
      outDir: out,
      resume: !!o.resume,
      keepBest: !!o.keepBest || bestBy !== undefined,
      ...(bestBy ? { keepBestBy: bestBy } : {}),
      ...(o.initFrom ? { initFrom: o.initFrom } : {}),
      ...(o.redrawTasks ? { redrawTasks: true } : {}),
      ...(Object.keys(initAdjust).length ? { initAdjust } : {}),
      onIteration: (log, st) => {
        const w = log.importance;
        const ess = w ? ` ess ${w.essFractionMedian.toFixed(2)}` : '';
        bar.update(st.iteration, { status: `loss ${log.lossLast.toFixed(4)} pre ${fmt(log.preReturn)}${ess}` });
        if (!o.json && !process.stderr.isTTY) {
          process.stderr.write(`itr ${log.iteration}: loss ${log.lossFirst.toFixed(4)} → ${log.lossLast.toFixed(4)}, pre ${fmt(log.preReturn)}` +
            (w ? `, importance weights after the Adam steps: ESS/n median ${w.essFractionMedian.toFixed(3)} (min ${w.essFractionMin.toFixed(3)}), w in [${w.minWeight.toPrecision(3)}, ${w.maxWeight.toPrecision(3)}], ${(100 * w.clippedFraction).toFixed(1)} % clipped` : '') + '\n');
        }
      },
      onEval: (p) => {
        if (!o.json && !process.stderr.isTTY) {
          process.stderr.write(`itr ${p.iteration}: train pre ${fmt(p.train.preReturn)} post ${fmt(p.train.postReturn)} (success ${fmt(p.train.postSuccess)})` +
            (p.heldOut ? `, held-out pre ${fmt(p.heldOut.preReturn)} post ${fmt(p.heldOut.postReturn)} (success ${fmt(p.heldOut.postSuccess)})` : '') + '\n');
        }
      },
    });
    bar.stop();
    const last = res.state.curve.at(-1);
    const summary = {
      checkpoint: path.join(out, 'model.json'),
      task: res.state.config.task,
      policy: res.state.config.policy.kind,
      iterations: res.state.iteration,
      envSamples: res.state.envSamples,
      expertSamples: res.state.expertSamples,
      expertReturn: res.state.expertReturn,
      expertSuccess: res.state.expertSuccess,
      final: last ?? null,
      ...(res.state.best ? { best: { ...res.state.best, checkpoint: path.join(out, mt.BEST_DIR, 'model.json') } } : {}),
      seconds: (Date.now() - t0) / 1000,
      ...(demoFiles ? { demoFiles, demoTasks: res.state.tasks } : {}),
    };
    res.dispose();
    if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      process.stdout.write(`meta-trained ${task} for ${summary.iterations} iterations, ${summary.envSamples} env samples (${summary.expertSamples} expert), checkpoint ${summary.checkpoint}\n`);
      if (last) {
        process.stdout.write(`train tasks: pre ${fmt(last.train.preReturn)}, post ${fmt(last.train.postReturn)}, post success ${fmt(last.train.postSuccess)}; expert ${fmt(summary.expertReturn)}\n`);
        if (last.heldOut) process.stdout.write(`held-out:    pre ${fmt(last.heldOut.preReturn)}, post ${fmt(last.heldOut.postReturn)}, post success ${fmt(last.heldOut.postSuccess)}\n`);
      }
      if (res.state.best) {
        const b = res.state.best;
        const what = b.by === 'success' ? `post-update success ${fmt(Math.round(b.score * 1e4) / 1e4)}` : `post-update return ${fmt(b.score)}`;
        process.stdout.write(`best evaluation: iteration ${b.iteration}, ${what}: ${path.join(out, mt.BEST_DIR)}\n`);
      }
      process.stdout.write(`curve: ${path.join(out, 'curve.svg')}, ${path.join(out, 'curve.html')}\n`);
    }
  } catch (err) {
    bar.stop();
    userError(err);
  } finally {
    await sampler.close();
  }
}

export function registerLearning(program: Command, _bench: Command): void {
  program
    .command('meta-train')
    .description('meta-train a GMPS policy: expert demonstrations D*, then meta-iterations of K rollouts per task and Adam steps on the second-order meta-objective; writes a resumable checkpoint and the learning curve (SVG/HTML)')
    .option('--task <task>', 'door, push or point', 'door')
    .option('--out <dir>', 'checkpoint directory (default checkpoints/<task>-state, or <task>-vision)')
    .option('--tasks <n>', 'number of fixed meta-training tasks', '10')
    .option('--held-out <n>', 'held-out tasks evaluated with the training tasks', '5')
    .option('--rollouts <k>', 'K: pre-update rollouts per task and iteration', '20')
    .option('--demos <n|path>', 'expert rollouts per task in D* (a number), or recorded demonstrations to meta-train from (a directory of .mcap episodes, an .mcap file or a gmps-demos JSON; same as --expert demos): the training tasks are the ones they were recorded on', '5')
    .option('--expert-noise <std>', 'Gaussian noise on the scripted expert\'s executed actions (labels stay clean)', '0.1')
    .option('--expert <kind>', 'scripted (the envs\' scripted experts), sac (contextual SAC trained first) or demos (recorded: --demos PATH or --demos-file FILE)', 'scripted')
    .option('--demos-file <file>', 'demonstrations: gmps-demos JSON (gmps train-experts --expert scripted) or an .mcap episode')
    .option('--sac-steps <n>', 'environment steps of SAC expert training (--expert sac)', '20000')
    .option('--sac-expert <file>', 'with --expert sac: trained experts to use instead of training them (gmps train-experts --expert sac --out FILE)')
    .option('--iterations <n>', 'meta-iterations', '20')
    .option('--adam-steps <n>', 'Adam steps on the meta-objective per iteration', '100')
    .option('--lr <lr>', 'Adam learning rate', '0.001')
    .option('--eval-every <n>', 'evaluate pre/post-adaptation returns every n iterations (0: only at the end)', '2')
    .option('--dagger', 'aggregate expert-labelled rollouts of the adapted policies into D*')
    .option('--dagger-rollouts <n>', 'adapted-policy rollouts per task per DAgger round', '2')
    .option('--policy <kind>', 'mlp (every parameter adapts), mlp-biasAda (only z adapts) or vision (48x64 camera image + hand xyz: 3 convs, spatial soft-argmax, FC; the FC layers and z adapt)', 'mlp')
    .option('--hidden <sizes>', 'hidden layer sizes, comma separated', '100,100')
    .option('--latent-dim <n>', 'size of the bias-transformation vector z', '4')
    .option('--step-size <a>', 'initial value of every learned step size', '0.5')
    .option('--init-std <s>', 'initial σ of the policy (GMPS: 1); the pre-update rollouts explore with it', '1')
    .option('--fixed-std', 'keep σ at --init-std instead of meta-training the log-std')
    .option('--is-clip <w>', 'upper bound on the inner step\'s importance weights (default: none, as GMPS); helps a small --init-std')
    .option('--is-clip-low <w>', 'lower bound on the inner step\'s importance weights, in (0, 1] (default: none, as GMPS); with --is-clip a two-sided clip')
    .option('--lr-warmup <steps>', 'ramp the Adam learning rate linearly up to --lr over this many Adam steps (default: none, as GMPS); for --init-from, whose Adam moments start from zero')
    .option('--freeze-trunk', 'vision: meta-train the FC block, z and α only and leave the convs, soft-argmax and any read-out as they are (e.g. a trunk fitted by gmps vision-init; default: the whole network, as GMPS)')
    .option('--pre-imitation <b>', 'weight of a behaviour-cloning term on the unadapted policy (default: none, as GMPS); keeps the pre-update rollouts at the task-average behaviour')
    .option('--pre-imitation-target <deg|x,y>', 'the task whose expert the --pre-imitation term imitates instead of every task\'s (a door angle in degrees, a push/point goal x,y); the door\'s widest target (60) makes the pre-update rollouts open the door through every target')
    .option('--init-from <checkpoint>', 'start θ and α from a checkpoint (an exported one will do): its policy and tasks carry over, D* is collected afresh, Adam starts from zero; --iterations counts from its first iteration')
    .option('--redraw-tasks', 'with --init-from: draw --tasks training and --held-out held-out tasks afresh with --seed instead of carrying the checkpoint\'s')
    .option('--set-std <s>', 'with --init-from: set the checkpoint\'s σ to s (kept with --fixed-std), e.g. to meta-train it on with quieter exploration')
    .option('--scale-step-sizes <k>', 'with --init-from: multiply the checkpoint\'s learned step sizes by k; with --set-std s, k = (s/σ)² keeps the step it took at meta-test with --std-scale s/σ, k = s/σ the step at its own σ')
    .option('--tasks-per-step <n>', 'tasks per Adam step (0: all, as GMPS); fewer bound the memory of the vision meta-gradient', '0')
    .option('--seed <n>', 'seed of task draws, initialisation and sampling', '0')
    .option('--dense', 'dense (shaped) reward variant')
    .option('--observe-angle', 'door: the state policy also sees the door angle (7 inputs, as the paper\'s full state); with --init-from a checkpoint without it, its first layer gains a zero row for the angle (the same policy until meta-training moves it)')
    .option('--resume', 'continue the checkpoint in --out (its config wins; --iterations may extend it)')
    .option('--keep-best', 'after each evaluation that beats the best post-update return so far (held-out tasks, else training tasks), write θ and α as evaluated to <out>/best (an exported checkpoint)')
    .option('--keep-best-by <return|success>', 'implies --keep-best; success: the best post-update success rate, ties broken by return')
    .option('--envs <n>', 'envs stepped in parallel', '10')
    .option('--workers <n>', 'env worker threads (0: envs in the main thread; default one per core)')
    .option('--backend <name>', 'tfjs backend: auto, node-gpu, node, wasm, cpu')
    .option('--json', 'print one JSON summary on stdout')
    .action((o: MetaTrainCli, cmd: Command) => runMetaTrain(o, cmd));

  program
    .command('adapt')
    .description('meta-test adaptation on a task never trained on: K rollouts, one policy-gradient step with the learned step sizes, repeated; step 0 is before adaptation, success is the fraction of rollouts ending in success')
    .requiredOption('--checkpoint <path>', 'checkpoint directory, its model.json, or the checkpoint.json of an earlier version')
    .option('--task <task>', 'door, push or point (must match the checkpoint)', 'door')
    .option('--target-deg <deg>', 'door target angle in degrees [0, 60]')
    .option('--goal <x,y>', 'push/point goal')
    .option('--steps <n>', 'adaptation steps', '3')
    .option('--rollouts <k>', 'rollouts per step', '20')
    .option('--later-step-scale <s>', 'multiply the learned step sizes of the steps after the first (α is meta-trained for one step; 0 keeps the one-step policy; default 1)')
    .option('--later-step-size <a>', 'instead of --later-step-scale: plain policy-gradient steps of size a after the first (e.g. 0.001)')
    .option('--std-scale <s>', "multiply the policy's exploration σ in the rollouts each step learns from (default 1: the σ it was meta-trained with)")
    .option('--tasks <n>', 'instead of one task: adapt to n tasks drawn with --task-seed (the tasks of `gmps eval --tasks n`), task i with sampling seed --seed + i, and report the means per step')
    .option('--task-seed <n>', 'seed of the --tasks draw', '1000')
    .option('--seed <n>', 'sampling seed (and the task draw when no target is given)', '0')
    .option('--envs <n>', 'envs stepped in parallel', '10')
    .option('--workers <n>', 'env worker threads (0: main thread)')
    .option('--backend <name>', 'tfjs backend')
    .option('--json', 'print { steps: [{ step, return, success }], expertReturn } on stdout (with --tasks: the means, plus tasks and perTask)')
    .action(async (o: { checkpoint: string; task: string; targetDeg?: string; goal?: string; steps: string; rollouts: string; laterStepScale?: string; laterStepSize?: string; stdScale?: string; tasks?: string; taskSeed: string; seed: string; envs?: string; workers?: string; backend?: string; json?: boolean }) => {
      const task = taskKind(o.task);
      if (o.tasks !== undefined && (o.targetDeg !== undefined || o.goal !== undefined)) {
        throw new CliError('give --tasks n (n drawn tasks) or one task (--target-deg / --goal), not both');
      }
      const seed = int('--seed', o.seed, 0);
      const steps = int('--steps', o.steps, 0);
      const rollouts = int('--rollouts', o.rollouts, 2);
      if (o.laterStepScale !== undefined && o.laterStepSize !== undefined) {
        throw new CliError('give --later-step-scale (a multiple of the learned step sizes) or --later-step-size (a fixed plain step), not both');
      }
      const later: { laterStepScale?: number; laterStepSize?: number; stdScale?: number } = {};
      if (o.stdScale !== undefined) {
        later.stdScale = num('--std-scale', o.stdScale);
        if (!(later.stdScale > 0)) throw new CliError(`--std-scale must be a number > 0 (the rollouts must differ for a policy gradient), got ${o.stdScale}`);
      }
      if (o.laterStepScale !== undefined) {
        later.laterStepScale = num('--later-step-scale', o.laterStepScale);
        if (!(later.laterStepScale >= 0)) throw new CliError(`--later-step-scale must be a number >= 0, got ${o.laterStepScale}`);
      }
      if (o.laterStepSize !== undefined) {
        later.laterStepSize = num('--later-step-size', o.laterStepSize);
        if (!(later.laterStepSize > 0)) throw new CliError(`--later-step-size must be a number > 0, got ${o.laterStepSize}`);
      }
      await useBackend(o.backend);
      if (o.tasks !== undefined) {
        const n = int('--tasks', o.tasks, 1);
        const tasks = await freshTasks(task, n, int('--task-seed', o.taskSeed, 0));
        const { env } = await checkpointEnv(o.checkpoint);
        const sampler = await openSampler(task, env, seed, o);
        try {
          const { adaptToTasks } = await import('../../learning/adapt.js');
          const { describeTask } = await import('../../../sim/index.js');
          const res = await adaptToTasks({
            checkpoint: o.checkpoint,
            sampler,
            tasks,
            steps,
            rollouts,
            ...later,
            seed,
            onTask: (i, t, r) => {
              if (o.json) return;
              process.stderr.write(`task ${i + 1}/${n} ${describeTask(t)}: return ${r.steps.map((s) => fmt(s.return)).join(' → ')}, success ${r.steps.map((s) => fmt(s.success)).join(' → ')}, expert ${fmt(r.expertReturn)}\n`);
            },
          });
          if (o.json) process.stdout.write(`${JSON.stringify(res)}\n`);
          else {
            process.stdout.write(`${n} tasks (task seed ${o.taskSeed}) x ${rollouts} rollouts per step; expert return ${fmt(res.expertReturn)}\nstep  return  success\n`);
            for (const s of res.steps) process.stdout.write(`${String(s.step).padEnd(4)}  ${fmt(s.return).padStart(6)}  ${fmt(s.success).padStart(7)}\n`);
          }
        } catch (err) {
          userError(err);
        } finally {
          await sampler.close();
        }
        return;
      }
      let target = targetTask(task, o);
      if (!target) {
        const { createEnv } = await import('../../../sim/index.js');
        const { Rng } = await import('../../learning/rng.js');
        const probe = await createEnv(task, {});
        target = probe.sampleTask(new Rng(`${seed}-adapt-task`).asFunction());
        probe.close();
      }
      const { env } = await checkpointEnv(o.checkpoint);
      const sampler = await openSampler(task, env, seed, o);
      try {
        const { adaptToTask } = await import('../../learning/adapt.js');
        const res = await adaptToTask({
          checkpoint: o.checkpoint,
          sampler,
          task: target!,
          steps,
          rollouts,
          ...later,
          seed,
          onStep: (s) => {
            if (o.json) return;
            const e = s.outcome;
            process.stderr.write(`step ${s.step}: return ${fmt(s.return)}, success ${fmt(s.success)}, ${e.name} ${fmt(e.value)} ${e.unit} (exploration ${fmt(e.explore.min)}–${fmt(e.explore.max)})\n`);
          },
        });
        if (o.json) process.stdout.write(`${JSON.stringify(res)}\n`);
        else process.stdout.write(`expert return ${fmt(res.expertReturn)}; after ${steps} step(s): return ${fmt(res.steps.at(-1)!.return)}, success ${fmt(res.steps.at(-1)!.success)}\n`);
      } catch (err) {
        userError(err);
      } finally {
        await sampler.close();
      }
    });

  program
    .command('export')
    .description('copy a meta-training checkpoint for shipping: θ, α, config, tasks and curve, without D* and the Adam state (it adapts and evaluates; it does not resume)')
    .requiredOption('--checkpoint <path>', 'meta-training checkpoint directory (or its model.json)')
    .requiredOption('--out <dir>', 'directory of the exported checkpoint')
    .option('--backend <name>', 'tfjs backend')
    .action(async (o: { checkpoint: string; out: string; backend?: string }) => {
      if (path.resolve(o.out) === path.resolve(checkpointDir(o.checkpoint))) {
        throw new CliError('--out must differ from --checkpoint (the export drops D* and the Adam state the run needs to resume)');
      }
      await useBackend(o.backend);
      const { exportCheckpoint } = await import('../../learning/meta-train.js');
      try {
        const file = await exportCheckpoint(o.checkpoint, o.out);
        process.stdout.write(`${file}\n`);
      } catch (err) {
        userError(err);
      }
    });

  program
    .command('vision-init')
    .description('make a vision checkpoint from a meta-trained state checkpoint: fit the convs and soft-argmax keypoints to the object position (privileged state) on camera frames of the state policy\'s rollouts, then compose the state head onto them')
    .requiredOption('--from <checkpoint>', 'meta-trained state checkpoint (directory or model.json)')
    .requiredOption('--out <dir>', 'directory of the vision checkpoint')
    .option('--tasks <n>', 'tasks of the pose data, drawn from the task distribution', '20')
    .option('--rollouts <k>', 'rollouts per task of each behaviour (pre-update, adapted, noisy expert)', '10')
    .option('--fit-steps <n>', 'Adam steps of the keypoint fit', '3000')
    .option('--batch <n>', 'frames per Adam step', '64')
    .option('--lr <x>', 'Adam learning rate of the keypoint fit', '0.001')
    .option('--keypoint-step-size <x>', 'inner step size of the first layer\'s keypoint rows: matched (per hidden unit, the state policy\'s object-row step sizes rescaled by mean squares) or a number; not used with --readout', 'matched')
    .option('--readout', 'keep the keypoint read-out in the policy as a linear layer before the FC block (the composed policy then adapts exactly as the state policy) instead of folding it into the first FC layer (the paper\'s layout)')
    .option('--height <n>', 'camera image height', '48')
    .option('--width <n>', 'camera image width', '64')
    .option('--seed <n>', 'seed', '0')
    .option('--envs <n>', 'envs stepped in parallel', '10')
    .option('--workers <n>', 'env worker threads (0: main thread)')
    .option('--backend <name>', 'tfjs backend')
    .option('--json', 'print the result as one JSON line')
    .action(async (o: { from: string; out: string; tasks: string; rollouts: string; fitSteps: string; batch: string; lr: string; keypointStepSize: string; readout?: boolean; height: string; width: string; seed: string; envs?: string; workers?: string; backend?: string; json?: boolean }) => {
      if (path.resolve(o.out) === path.resolve(checkpointDir(o.from))) throw new CliError('--out must differ from --from');
      const ck = await checkpointEnv(o.from, '--from');
      if (ck.obsMode !== 'state') throw new CliError(`--from ${o.from} holds a ${ck.obsMode} policy; give a state checkpoint`);
      const seed = int('--seed', o.seed, 0);
      const fitSteps = int('--fit-steps', o.fitSteps);
      const keypointStepSize = o.keypointStepSize === 'matched' ? 'matched' : num('--keypoint-step-size', o.keypointStepSize);
      if (keypointStepSize !== 'matched' && !(keypointStepSize >= 0)) throw new CliError(`--keypoint-step-size must be matched or a number >= 0, got ${o.keypointStepSize}`);
      await useBackend(o.backend);
      const camera = { height: int('--height', o.height), width: int('--width', o.width) };
      const sampler = await openSampler(ck.task, { ...ck.env, camera }, seed, o);
      const t0 = Date.now();
      try {
        const { visionInit } = await import('../../learning/vision-init.js');
        const res = await visionInit({
          from: o.from,
          outDir: o.out,
          sampler,
          tasks: int('--tasks', o.tasks),
          rollouts: int('--rollouts', o.rollouts),
          seed,
          fit: {
            steps: fitSteps,
            batchSize: int('--batch', o.batch),
            lr: num('--lr', o.lr),
            log: (p) => process.stderr.write(`fit step ${p.step}: RMSE train ${(100 * p.trainRmse).toFixed(2)} cm, validation ${(100 * p.valRmse).toFixed(2)} cm\n`),
          },
          readout: !!o.readout,
          compose: { keypointStepSize },
          log: (line) => process.stderr.write(`${line}\n`),
        });
        const summary = { ...res, seconds: (Date.now() - t0) / 1000 };
        if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(`vision checkpoint ${res.checkpoint}: ${res.poseRows} frames, keypoint read-out RMSE ${(100 * res.fit.valRmse).toFixed(2)} cm (validation)\n`);
      } catch (err) {
        userError(err);
      } finally {
        await sampler.close();
      }
    });

  program
    .command('eval')
    .description('evaluate a meta-trained checkpoint on its held-out tasks: pre-update return, one adaptation step, post-update return and success (std x1e-5), expert return')
    .requiredOption('--checkpoint <path>', 'checkpoint directory, its model.json, or the checkpoint.json of an earlier version')
    .option('--rollouts <k>', 'rollouts per task', '20')
    .option('--tasks <n>', 'evaluate on n new tasks drawn from the task distribution with --task-seed (default: the checkpoint\'s held-out tasks)')
    .option('--task-seed <n>', 'seed of the --tasks draw', '1000')
    .option('--seed <n>', 'sampling seed', '0')
    .option('--step-scale <s>', 'multiply the learned step sizes of the adaptation step (choose it on tasks of its own --task-seed)', '1')
    .option('--std-scale <s>', 'multiply the policy\'s exploration σ in the rollouts the step learns from (default 1: the σ it was meta-trained with; choose it as --step-scale)', '1')
    .option('--envs <n>', 'envs stepped in parallel', '10')
    .option('--workers <n>', 'env worker threads (0: main thread)')
    .option('--backend <name>', 'tfjs backend')
    .option('--json', 'print the result as one JSON line')
    .action(async (o: { checkpoint: string; rollouts: string; tasks?: string; taskSeed: string; seed: string; stepScale: string; stdScale: string; envs?: string; workers?: string; backend?: string; json?: boolean }) => {
      await useBackend(o.backend);
      const ck = await checkpointEnv(o.checkpoint);
      const seed = int('--seed', o.seed, 0);
      let tasks: import('../../../sim/types.js').TaskParams[] | undefined;
      if (o.tasks !== undefined) tasks = await freshTasks(ck.task, int('--tasks', o.tasks, 1), int('--task-seed', o.taskSeed, 0));
      const sampler = await openSampler(ck.task, ck.env, seed, o);
      try {
        const { evaluateCheckpoint } = await import('../../learning/eval.js');
        const res = await evaluateCheckpoint({ checkpoint: o.checkpoint, sampler, rollouts: int('--rollouts', o.rollouts, 2), seed, tasks, stepScale: num('--step-scale', o.stepScale), stdScale: num('--std-scale', o.stdScale) });
        if (o.json) process.stdout.write(`${JSON.stringify(res)}\n`);
        else {
          process.stdout.write(`${res.tasks} ${tasks ? 'new' : 'held-out'} tasks x ${res.rolloutsPerTask} rollouts\n`);
          const { describeTask } = await import('../../../sim/index.js');
          for (const t of res.perTask) {
            const o = t.outcome;
            process.stdout.write(
              `  ${describeTask(t.task)}: pre ${fmt(t.preReturn)}, post ${fmt(t.postReturn)}, success ${fmt(t.postSuccess)}, unadapted ${fmt(t.unadaptedReturn)}, expert ${fmt(t.expertReturn)}; ` +
                `${o.name}: pre ${fmt(o.pre.min)}–${fmt(o.pre.max)} (median ${fmt(o.pre.median)}), post ${fmt(o.post)} ${o.unit}\n`,
            );
          }
          process.stdout.write(
            `pre-update return ${fmt(res.preReturn)} (success ${fmt(res.preSuccess)})\npost-update return ${fmt(res.postReturn)} (success ${fmt(res.postSuccess)})\n` +
              `unadapted θ at σ x1e-5 (a step of zero) ${fmt(res.unadaptedReturn)} (success ${fmt(res.unadaptedSuccess)})\nexpert return ${fmt(res.expertReturn)} (success ${fmt(res.expertSuccess)})\n`,
          );
        }
      } catch (err) {
        userError(err);
      } finally {
        await sampler.close();
      }
    });

  program
    .command('train-experts')
    .description('get the experts of the meta-training tasks: --expert scripted rolls out the envs\' scripted experts and saves the demonstrations (for meta-train --expert demos); --expert sac trains one contextual SAC policy, reports its success and saves it (for meta-train --expert sac --sac-expert)')
    .option('--task <task>', 'door, push or point', 'door')
    .option('--expert <kind>', 'scripted or sac', 'scripted')
    .option('--tasks <n>', 'training tasks (drawn as meta-train draws them with the same --seed)', '10')
    .option('--demos <n>', 'rollouts per task', '5')
    .option('--sac-steps <n>', 'SAC environment steps', '20000')
    .option('--out <file>', 'output: demonstrations JSON (scripted) or the experts\' snapshot for meta-train --sac-expert (sac; its training snapshots to FILE.training and continues from there if stopped)')
    .option('--seed <n>', 'seed', '0')
    .option('--dense', 'dense (shaped) reward variant')
    .option('--envs <n>', 'envs stepped in parallel', '10')
    .option('--workers <n>', 'env worker threads (0: main thread)')
    .option('--backend <name>', 'tfjs backend')
    .option('--json', 'print the result as one JSON line')
    .action(async (o: { task: string; expert: string; tasks: string; demos: string; sacSteps: string; out?: string; seed: string; dense?: boolean; envs?: string; workers?: string; backend?: string; json?: boolean }) => {
      const task = taskKind(o.task);
      if (o.expert !== 'scripted' && o.expert !== 'sac') throw new CliError(`--expert must be scripted or sac, got '${o.expert}'`);
      const seed = int('--seed', o.seed, 0);
      const mt = await import('../../learning/meta-train.js');
      const { createEnv } = await import('../../../sim/index.js');
      const probe = await createEnv(task, {});
      const cfg = { ...mt.defaultMetaTrainConfig(task, { obsDim: probe.stateDim, actDim: probe.actionDim }), seed, numTasks: int('--tasks', o.tasks), numHeldOut: 0 };
      const { tasks } = mt.drawTasks(cfg, (r) => probe.sampleTask(r));
      probe.close();
      const sampler = await openSampler(task, { dense: !!o.dense }, seed, o);
      try {
        if (o.expert === 'scripted') {
          const { rolloutExpert, scriptedExpert } = await import('../../learning/expert.js');
          const groups = await rolloutExpert(sampler, scriptedExpert, tasks, int('--demos', o.demos));
          const out = o.out ?? path.join('checkpoints', `${task}-demos.json`);
          await mt.saveDemonstrations(out, groups, { task, seed });
          const res = { expert: 'scripted', task, tasks: tasks.length, demosPerTask: groups[0].length, meanReturn: groups.reduce((s, g) => s + mt.meanReturn(g), 0) / groups.length, success: groups.reduce((s, g) => s + mt.successRate(g), 0) / groups.length, file: out };
          process.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `scripted expert on ${res.tasks} tasks: return ${fmt(res.meanReturn)}, success ${fmt(res.success)}; demonstrations in ${out}\n`);
        } else {
          await useBackend(o.backend);
          const { saveSacExpert, trainSac } = await import('../../learning/sac.js');
          const { rolloutExpert } = await import('../../learning/expert.js');
          const out = o.out ?? path.join('checkpoints', `${task}-sac-expert.snapshot`);
          const steps = int('--sac-steps', o.sacSteps);
          if (existsSync(`${out}.training`)) process.stderr.write(`SAC training continues from ${out}.training\n`);
          const bar = await progressBar(steps, 'SAC', true);
          const { agent } = await trainSac({ sampler, tasks, envSteps: steps, config: { seed }, snapshot: { file: `${out}.training` }, onRound: (s) => bar.update(s.envSteps, { status: `return ${fmt(s.meanReturn)}` }) });
          bar.stop();
          const groups = await rolloutExpert(sampler, agent, tasks, int('--demos', o.demos));
          const res = { expert: 'sac', task, tasks: tasks.length, envSteps: agent.envSteps, meanReturn: groups.reduce((s, g) => s + mt.meanReturn(g), 0) / groups.length, success: groups.reduce((s, g) => s + mt.successRate(g), 0) / groups.length, file: out };
          await saveSacExpert(out, agent, { task, seed, dense: !!o.dense, tasks, meanReturn: res.meanReturn, success: res.success });
          agent.dispose();
          process.stdout.write(o.json ? `${JSON.stringify(res)}\n` : `contextual SAC after ${res.envSteps} env steps: return ${fmt(res.meanReturn)}, success ${fmt(res.success)}; experts in ${out} (meta-train --expert sac --sac-expert ${out})\n`);
        }
      } catch (err) {
        userError(err);
      } finally {
        await sampler.close();
      }
    });
}
