/** `gmps bench meta-step`, `gmps bench policy` and `gmps bench pearl-update`: speed of the learning core. */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { median, percentile } from '../../learning/stats.js';
import type { BackendChoice } from '../../learning/backend.js';

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${name} must be a positive integer, got '${value}'`);
  return n;
}

async function useBackend(name: string | undefined): Promise<string> {
  const { initBackend, isBackendChoice, BACKEND_CHOICES } = await import('../../learning/backend.js');
  if (name !== undefined && !isBackendChoice(name)) {
    throw new CliError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got '${name}'`);
  }
  try {
    return (await initBackend({ backend: name as BackendChoice | undefined })).choice;
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message : String(err));
  }
}

function print(result: Record<string, unknown>, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const lines = Object.entries(result).map(([k, v]) => `${k.padEnd(24)} ${typeof v === 'number' ? +v.toFixed(3) : String(v)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Deterministic pseudo-random floats in [-1, 1) (benchmark inputs only). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

interface MetaStepOptions {
  tasks: string;
  samples: string;
  demos: string;
  obsDim: string;
  policy: string;
  repeats: string;
  loop: boolean;
  loopRepeats: string;
  stockLoop: boolean;
  torch?: boolean;
  backend?: string;
  json?: boolean;
}

export async function benchMetaStep(o: MetaStepOptions): Promise<Record<string, unknown>> {
  const T = positiveInt('--tasks', o.tasks);
  const n = positiveInt('--samples', o.samples);
  const m = positiveInt('--demos', o.demos);
  const obsDim = positiveInt('--obs-dim', o.obsDim);
  const repeats = positiveInt('--repeats', o.repeats);
  const loopRepeats = positiveInt('--loop-repeats', o.loopRepeats);
  if (o.policy !== 'mlp' && o.policy !== 'mlp-biasAda') throw new CliError(`--policy must be mlp or mlp-biasAda, got '${o.policy}'`);
  const backend = await useBackend(o.backend);
  const tf = await import('@tensorflow/tfjs-core');
  const { createPolicy, defaultMlpConfig } = await import('../../learning/policy/index.js');
  const { GmpsLearner, prepareBatch } = await import('../../learning/gmps.js');
  const actDim = 3;
  const policy = createPolicy(defaultMlpConfig(obsDim, actDim, o.policy));
  const init = policy.init(0);
  const tasks = Array.from({ length: T }, (_, i) => {
    const obs = noise(n * obsDim, 11 + i);
    const oldMean = tf.tidy(() => policy.mean(init.params, tf.tensor2d(obs, [n, obsDim])).dataSync() as Float32Array);
    const eps = noise(n * actDim, 101 + i);
    return {
      samples: {
        obs,
        actions: oldMean.map((mu, k) => mu + eps[k]),
        advantages: noise(n, 201 + i),
        oldMean,
        oldLogStd: new Float32Array(actDim),
      },
      demos: { obs: noise(m * obsDim, 301 + i), actions: noise(m * actDim, 401 + i) },
    };
  });
  const learner = new GmpsLearner(policy, init);
  const batch = prepareBatch(policy, tasks);
  // Wall time, and this process' CPU time: on a loaded machine the latter is what an idle core would see.
  const cpu: number[] = [];
  const time = (f: () => void): number => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    f();
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    return wall;
  };
  time(() => learner.metaStep(batch)); // warm-up: kernel setup, XNNPACK operator caches
  cpu.length = 0;
  const batched: number[] = [];
  for (let r = 0; r < repeats; r++) batched.push(time(() => learner.metaStep(batch)));
  const batchedCpu = [...cpu];
  const result: Record<string, unknown> = {
    backend,
    policy: o.policy,
    tasks: T,
    samples_per_task: n,
    demos_per_task: m,
    ms_per_step: median(batched),
    ms_per_step_min: Math.min(...batched),
    cpu_ms_per_step: median(batchedCpu),
    repeats,
  };
  if (o.loop) {
    cpu.length = 0;
    const loop: number[] = [];
    for (let r = 0; r < loopRepeats; r++) loop.push(time(() => learner.metaStepLoop(tasks)));
    result.loop_ms_per_step = median(loop);
    result.loop_cpu_ms_per_step = median(cpu);
    result.speedup_vs_loop = median(loop) / median(batched);
    result.cpu_speedup_vs_loop = median(cpu) / median(batchedCpu);
    if (backend === 'wasm' && o.stockLoop) {
      // The same naive loop on the BatchMatMul kernel tfjs-wasm ships (slow transposed/batched path).
      const { setFastBatchMatMul } = await import('../../learning/wasm-kernels.js');
      setFastBatchMatMul(false);
      cpu.length = 0;
      try {
        result.stock_loop_ms_per_step = time(() => learner.metaStepLoop(tasks));
        result.stock_loop_cpu_ms_per_step = cpu[0];
        result.speedup_vs_stock_loop = (result.stock_loop_ms_per_step as number) / median(batched);
        result.cpu_speedup_vs_stock_loop = cpu[0] / median(batchedCpu);
      } finally {
        setFastBatchMatMul(true);
      }
    }
  }
  batch.dispose();
  learner.dispose();
  if (o.torch) {
    const t = await torchMetaStep({ tasks: T, samples: n, demos: m, obsDim, repeats });
    result.torch_ms_per_step = t.ms_per_step;
    result.torch_threads = t.threads;
    result.torch_version = t.torch_version;
    result.speedup_vs_torch = t.ms_per_step / median(batched);
  }
  return result;
}

/**
 * The same meta-step in plain PyTorch (src/learning/reference/meta_step_torch.py, a loop over
 * tasks with create_graph), run by python3 in this process's benchmark so the ratio is of one run.
 */
async function torchMetaStep(a: { tasks: number; samples: number; demos: number; obsDim: number; repeats: number }): Promise<{ ms_per_step: number; threads: number; torch_version: string }> {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const path = await import('node:path');
  const { existsSync } = await import('node:fs');
  // From src/cli/commands (tsx) or dist/src/cli/commands (built): the script stays in src/.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../learning/reference/meta_step_torch.py'), path.resolve(here, '../../../../src/learning/reference/meta_step_torch.py')];
  const script = candidates.find((p) => existsSync(p));
  if (!script) throw new CliError(`--torch: the PyTorch reference script is missing (looked in ${candidates.join(', ')})`);
  const args = [script, `tasks=${a.tasks}`, `samples=${a.samples}`, `demos=${a.demos}`, `obs_dim=${a.obsDim}`, `repeats=${a.repeats}`];
  // GMPS_PYTHON, else python3 on the PATH, else Debian's (python3-torch installs for /usr/bin/python3).
  const pythons = process.env.GMPS_PYTHON ? [process.env.GMPS_PYTHON] : ['python3', '/usr/bin/python3'];
  const run = (python: string): Promise<{ stdout: string } | { noTorch: true }> =>
    new Promise((resolve, reject) => {
      execFile(python, args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        if (!err) resolve({ stdout });
        else if (/No module named 'torch'/.test(stderr) || (err as NodeJS.ErrnoException).code === 'ENOENT') resolve({ noTorch: true });
        else reject(new CliError(`--torch: ${python} ${script} failed: ${stderr.trim() || err.message}`));
      });
    });
  let out: string | undefined;
  for (const python of pythons) {
    const r = await run(python);
    if ('stdout' in r) {
      out = r.stdout;
      break;
    }
  }
  if (out === undefined) throw new CliError(`--torch needs PyTorch for python3 (tried ${pythons.join(', ')}; Debian: apt-get install python3-torch, or set GMPS_PYTHON)`);
  return JSON.parse(out.trim().split('\n').at(-1)!) as { ms_per_step: number; threads: number; torch_version: string };
}

interface PolicyBenchOptions {
  policy: string;
  frames: string;
  backend?: string;
  json?: boolean;
}

export async function benchPolicy(o: PolicyBenchOptions): Promise<Record<string, unknown>> {
  const frames = positiveInt('--frames', o.frames);
  if (!['vision', 'mlp', 'mlp-biasAda'].includes(o.policy)) throw new CliError(`--policy must be vision, mlp or mlp-biasAda, got '${o.policy}'`);
  const backend = await useBackend(o.backend);
  const { createPolicy, defaultMlpConfig, defaultVisionConfig } = await import('../../learning/policy/index.js');
  const config = o.policy === 'vision' ? defaultVisionConfig() : defaultMlpConfig(6, 3, o.policy as 'mlp' | 'mlp-biasAda');
  const policy = createPolicy(config);
  const { params } = policy.init(0);
  const obs = noise(config.obsDim, 7).map((v) => 0.5 + 0.5 * v);
  for (let i = 0; i < 20; i++) policy.act(params, obs, { seed: i });
  const lat: number[] = [];
  for (let i = 0; i < frames; i++) {
    const t0 = performance.now();
    policy.act(params, obs, { seed: i });
    lat.push(performance.now() - t0);
  }
  return {
    backend,
    policy: o.policy,
    obs_dim: config.obsDim,
    frames,
    p50_ms: median(lat),
    p99_ms: percentile(lat, 0.99),
    mean_ms: lat.reduce((a, b) => a + b, 0) / frames,
  };
}

/** `n` tasks of an env kind, drawn with a fixed seed (the update benchmarks' replay data). */
async function benchTasks(kind: 'point' | 'ant', n: number): Promise<import('../../../sim/types.js').TaskParams[]> {
  const { createEnv } = await import('../../../sim/index.js');
  const { Rng } = await import('../../learning/rng.js');
  const probe = await createEnv(kind, {});
  try {
    const rng = new Rng(1);
    return Array.from({ length: n }, () => probe.sampleTask(() => rng.next()));
  } finally {
    probe.close();
  }
}

/** `warmup` untimed then `updates` timed calls of one gradient step: the median and 90th percentile in ms. */
function timeUpdates(update: () => unknown, warmup: number, updates: number): { ms_per_update: number; p90_ms: number } {
  for (let i = 0; i < warmup; i++) update();
  const ms: number[] = [];
  for (let i = 0; i < updates; i++) {
    const t0 = performance.now();
    update();
    ms.push(performance.now() - t0);
  }
  return { ms_per_update: median(ms), p90_ms: percentile(ms, 0.9) };
}

interface PearlBenchOptions {
  updates: string;
  warmup: string;
  tasks: string;
  backend?: string;
  json?: boolean;
}

/**
 * Milliseconds per PEARL gradient step (critic + encoder, actor, entropy temperature, target
 * critics) at PEARL's published sizes (pearl.ts defaults: meta-batch 16 tasks x 256 transitions,
 * context 100 per task, encoder 200-200-200, policy and critics 100-100), the settings of the
 * `medium` and `paper` experiment runs. The replay buffers hold real point-task episodes (the
 * timing depends on the network sizes, not on the task).
 */
export async function benchPearlUpdate(o: PearlBenchOptions): Promise<Record<string, unknown>> {
  const updates = positiveInt('--updates', o.updates);
  const warmup = positiveInt('--warmup', o.warmup);
  const nTasks = positiveInt('--tasks', o.tasks);
  const backend = await useBackend(o.backend);
  const { Pearl } = await import('../../learning/pearl.js');
  const { createLocalSampler } = await import('../../learning/sampler.js');
  const tasks = await benchTasks('point', nTasks);
  const sampler = await createLocalSampler({ env: { kind: 'point', options: {} }, nEnvs: 8 });
  const agent = new Pearl({ stateDim: sampler.info.stateDim, actionDim: sampler.info.actionDim }, { replayCapacity: 20_000 });
  try {
    await agent.collect(sampler, tasks, tasks.map((_, k) => k), 4, 'prior');
    const timed = timeUpdates(() => agent.update(), warmup, updates);
    const c = agent.config;
    return {
      backend,
      updates,
      meta_batch: c.metaBatch,
      batch_size: c.batchSize,
      context_batch: c.contextBatch,
      encoder_hidden: c.encoderHidden.join('-'),
      hidden: c.hidden.join('-'),
      ...timed,
    };
  } finally {
    agent.dispose();
    await sampler.close();
  }
}

interface SacBenchOptions {
  updates: string;
  warmup: string;
  task: string;
  hidden: string;
  backend?: string;
  json?: boolean;
}

/**
 * Milliseconds per contextual-SAC gradient step (twin critics, actor, temperature, target critics)
 * at the sizes of the Ant experts of the `medium` experiment runs (256-256, batch 256; one step per
 * env step, so 100 000 steps there), on a replay of real episodes of the task (warm-up actions).
 */
export async function benchSacUpdate(o: SacBenchOptions): Promise<Record<string, unknown>> {
  const updates = positiveInt('--updates', o.updates);
  const warmup = positiveInt('--warmup', o.warmup);
  const hidden = o.hidden.split(/[-,x]/).map((h) => positiveInt('--hidden', h));
  if (o.task !== 'ant' && o.task !== 'point') throw new Error(`--task must be ant or point, got '${o.task}'`);
  const backend = await useBackend(o.backend);
  const { trainSac } = await import('../../learning/sac.js');
  const { createLocalSampler } = await import('../../learning/sampler.js');
  const tasks = await benchTasks(o.task, 4);
  const sampler = await createLocalSampler({ env: { kind: o.task, options: { horizon: 50 } }, nEnvs: 4 });
  try {
    // 400 env steps of warm-up actions fill the replay; no gradient step is taken yet
    const { agent } = await trainSac({ sampler, tasks, envSteps: 400, config: { hidden, batchSize: 256, warmupSteps: 400, replayCapacity: 1000 } });
    try {
      const timed = timeUpdates(() => agent.update(), warmup, updates);
      return {
        backend,
        task: o.task,
        input_dim: agent.inputDim,
        action_dim: agent.dims.actionDim,
        hidden: hidden.join('-'),
        batch_size: agent.config.batchSize,
        updates,
        ...timed,
      };
    } finally {
      agent.dispose();
    }
  } finally {
    await sampler.close();
  }
}

export function registerLearningBench(_program: Command, bench: Command): void {
  bench
    .command('meta-step')
    .description('time one full second-order GMPS meta-gradient Adam step of the state policy (batched over tasks), and the naive per-task loop')
    .option('--tasks <n>', 'tasks in the meta-batch', '20')
    .option('--samples <n>', 'pre-update samples per task', '2000')
    .option('--demos <n>', 'demonstration steps per task', '2000')
    .option('--obs-dim <n>', 'observation size', '6')
    .option('--policy <kind>', 'mlp | mlp-biasAda', 'mlp')
    .option('--repeats <n>', 'timed batched steps (median reported)', '5')
    .option('--no-loop', 'skip timing the naive per-task loop')
    .option('--loop-repeats <n>', 'timed naive-loop steps', '1')
    .option('--no-stock-loop', "skip timing the naive loop on tfjs-wasm's stock BatchMatMul kernel")
    .option('--torch', 'also time the same step in plain PyTorch (python3 + python3-torch) and report speedup_vs_torch')
    .option('--backend <name>', 'auto | node-gpu | node | wasm | cpu (default: env GMPS_BACKEND or auto)')
    .option('--json', 'print one JSON object')
    .action(async (opts: MetaStepOptions) => print(await benchMetaStep(opts), opts.json));

  bench
    .command('policy')
    .description('single-frame inference latency of a policy (vision: 48x64x3 image + hand xyz)')
    .option('--policy <kind>', 'vision | mlp | mlp-biasAda', 'vision')
    .option('--frames <n>', 'timed frames', '500')
    .option('--backend <name>', 'auto | node-gpu | node | wasm | cpu (default: env GMPS_BACKEND or auto)')
    .option('--json', 'print one JSON object')
    .action(async (opts: PolicyBenchOptions) => print(await benchPolicy(opts), opts.json));

  bench
    .command('pearl-update')
    .description("milliseconds per PEARL gradient step at PEARL's published sizes (the medium and paper experiment settings)")
    .option('--updates <n>', 'timed gradient steps (median reported)', '30')
    .option('--warmup <n>', 'untimed gradient steps first', '3')
    .option('--tasks <n>', 'training tasks with data in the buffers', '16')
    .option('--backend <name>', 'auto | node-gpu | node | wasm | cpu (default: env GMPS_BACKEND or auto)')
    .option('--json', 'print one JSON object')
    .action(async (opts: PearlBenchOptions) => print(await benchPearlUpdate(opts), opts.json));

  bench
    .command('sac-update')
    .description('milliseconds per contextual-SAC gradient step at the Ant experts\' sizes (the GMPS experts of the Ant figures)')
    .option('--updates <n>', 'timed gradient steps (median reported)', '30')
    .option('--warmup <n>', 'untimed gradient steps first', '3')
    .option('--task <kind>', 'ant | point (the input and action sizes)', 'ant')
    .option('--hidden <sizes>', 'hidden layers, e.g. 256-256', '256-256')
    .option('--backend <name>', 'auto | node-gpu | node | wasm | cpu (default: env GMPS_BACKEND or auto)')
    .option('--json', 'print one JSON object')
    .action(async (opts: SacBenchOptions) => print(await benchSacUpdate(opts), opts.json));
}
