/**
 * Runs a figure's runs for seeds 0..N−1, one result JSON per (run, seed) under
 * `<out>/<figure>/<id>-seed<k>.json`. Resumable: a run whose result file exists is skipped; a run
 * that throws leaves `<id>-seed<k>.error.txt` and the others still run.
 *
 * While a run goes, the curve points it records (`RunContext.point`) are kept in
 * `<id>-seed<k>.partial.json`, rewritten atomically after each point: a run killed after hours leaves
 * its curve so far (`gmps report` lists it as unfinished). A run that starts again moves an earlier
 * partial curve to `<id>-seed<k>.partial.prev.json`; the finished result replaces both.
 *
 * Runs of hours continue where they stopped: PEARL, MAML and MultiTask write a snapshot of their whole state
 * after every iteration (`<out>/<figure>/work/<id>-seed<k>/<algorithm>.snapshot`), GMPS its
 * meta-training checkpoint; started again, the run continues after its last completed iteration and
 * hands its earlier curve points to the harness again, so the new partial curve is the whole curve.
 * The snapshots are deleted when the run finishes.
 *
 * The wall-clock time a run has taken is kept over its starts in `<workDir>/wallclock.json`
 * (rewritten at every curve point, every minute, and when the run fails), so the partial curve's and
 * the result's `seconds` count every start of the run, including the time after its last point
 * (a killed process loses at most the last minute), and `startedAt` is its first start.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TaskKind } from '../../../sim/types.js';
import { fileExists } from '../checkpoint-path.js';
import type { Sampler } from '../sampler.js';
import { getAlgorithm } from './algorithms.js';
import type { CurvePointOut, PartialRunResult, RunResult, RunSpec, TaskSpec } from './types.js';

export interface RunFigureOptions {
  figure: string;
  scale: string;
  runs: readonly RunSpec[];
  seeds: number;
  /** Run seeds firstSeed..seeds−1 only (default 0), e.g. to put another seed on a second machine. */
  firstSeed?: number;
  outDir: string;
  /** Env worker threads per sampler (0: envs in the main thread). Default 1. */
  workers?: number;
  /** Envs stepped in parallel per sampler (default 8). */
  envs?: number;
  /** Only runs with these ids. */
  only?: readonly string[];
  log?: (line: string) => void;
}

export interface RunStatus {
  id: string;
  seed: number;
  file: string;
  status: 'ran' | 'skipped' | 'failed';
  seconds?: number;
  error?: string;
}

export function resultFile(outDir: string, figure: string, id: string, seed: number): string {
  return path.join(outDir, figure, `${id}-seed${seed}.json`);
}

/** The directory a run may write its checkpoints and snapshots to. */
export function workDirOf(outDir: string, figure: string, id: string, seed: number): string {
  return path.join(outDir, figure, 'work', `${id}-seed${seed}`);
}

/** Wall-clock bookkeeping of a run over its starts (see the module comment). */
export interface RunClock {
  startedAt: string;
  seconds: number;
}

export function clockFile(outDir: string, figure: string, id: string, seed: number): string {
  return path.join(workDirOf(outDir, figure, id, seed), 'wallclock.json');
}

async function readClock(file: string, log: (line: string) => void): Promise<RunClock | undefined> {
  if (!(await fileExists(file))) return undefined;
  try {
    const c = JSON.parse(await readFile(file, 'utf8')) as Partial<RunClock>;
    if (typeof c.startedAt === 'string' && typeof c.seconds === 'number' && Number.isFinite(c.seconds) && c.seconds >= 0) {
      return { startedAt: c.startedAt, seconds: c.seconds };
    }
    log(`  ${file} holds no {startedAt, seconds}; the run's time counts from this start`);
  } catch (err) {
    log(`  could not read ${file} (${err instanceof Error ? err.message : String(err)}); the run's time counts from this start`);
  }
  return undefined;
}

/** Interval of the wall-clock file's rewrites while a run goes (a killed run loses at most this much). */
const CLOCK_EVERY_MS = 60_000;

export function partialFile(outDir: string, figure: string, id: string, seed: number): string {
  return path.join(outDir, figure, `${id}-seed${seed}.partial.json`);
}

async function writeAtomic(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 1)}\n`);
  await rename(`${file}.tmp`, file);
}

export async function runFigure(opts: RunFigureOptions): Promise<RunStatus[]> {
  if (!Number.isInteger(opts.seeds) || opts.seeds < 1) throw new Error(`seeds must be a positive integer, got ${opts.seeds}`);
  const firstSeed = opts.firstSeed ?? 0;
  if (!Number.isInteger(firstSeed) || firstSeed < 0 || firstSeed >= opts.seeds) {
    throw new Error(`firstSeed must be an integer in [0, seeds − 1] = [0, ${opts.seeds - 1}], got ${opts.firstSeed}`);
  }
  const log = opts.log ?? (() => {});
  const known = new Set(opts.runs.map((r) => r.id));
  for (const id of opts.only ?? []) if (!known.has(id)) throw new Error(`figure ${opts.figure} has no run '${id}'; runs: ${[...known].join(', ')}`);
  const selected = opts.runs.filter((r) => !opts.only || opts.only.includes(r.id));
  for (const r of selected) getAlgorithm(r.algorithm); // fail early on an unknown algorithm
  const out: RunStatus[] = [];
  for (const spec of selected) {
    for (let seed = firstSeed; seed < opts.seeds; seed++) {
      const file = resultFile(opts.outDir, opts.figure, spec.id, seed);
      if (await fileExists(file)) {
        log(`${opts.figure}/${spec.id} seed ${seed}: done already (${file})`);
        out.push({ id: spec.id, seed, file, status: 'skipped' });
        continue;
      }
      log(`${opts.figure}/${spec.id} seed ${seed}: running ${spec.algorithm} on ${spec.task.kind}`);
      const workDir = workDirOf(opts.outDir, opts.figure, spec.id, seed);
      const samplers: Sampler[] = [];
      const t0 = Date.now();
      const clock = clockFile(opts.outDir, opts.figure, spec.id, seed);
      const before = await readClock(clock, log);
      const elapsed = () => (before?.seconds ?? 0) + (Date.now() - t0) / 1000;
      const startedAt = before?.startedAt ?? new Date(t0).toISOString();
      const partial = partialFile(opts.outDir, opts.figure, spec.id, seed);
      const partialPrev = partial.replace(/\.json$/, '.prev.json');
      const sofar: PartialRunResult = {
        format: 'gmps-experiment-partial/1', figure: opts.figure, scale: opts.scale, id: spec.id, algorithm: spec.algorithm, seed,
        task: spec.task, config: spec.config, xAxis: 'envSamples', points: [], startedAt, seconds: 0, updatedAt: '',
      };
      let writes: Promise<void> = Promise.resolve();
      // Chained after the partial-curve writes, never rejects: a failed write is logged and the next one retries.
      const saveClock = () => {
        const value: RunClock = { startedAt, seconds: elapsed() };
        writes = writes.then(() =>
          writeAtomic(clock, value).catch((err: unknown) => log(`  could not write ${clock}: ${err instanceof Error ? err.message : String(err)}`)),
        );
        return writes;
      };
      let ticker: ReturnType<typeof setInterval> | undefined;
      try {
        await mkdir(workDir, { recursive: true });
        if (before) log(`${opts.figure}/${spec.id} seed ${seed}: ${before.seconds.toFixed(0)} s spent by earlier starts (${clock})`);
        ticker = setInterval(() => void saveClock(), CLOCK_EVERY_MS);
        ticker.unref();
        if (await fileExists(partial)) {
          await rename(partial, partialPrev);
          log(`${opts.figure}/${spec.id} seed ${seed}: starting again; the earlier unfinished curve is kept in ${partialPrev}`);
        }
        const curve = await getAlgorithm(spec.algorithm).run(spec, {
          seed,
          workDir,
          log: (l) => log(`  ${l}`),
          // Never rejects (callers may not await it): a failed write is logged, and the next point retries it.
          point: (p: CurvePointOut) => {
            sofar.points.push({ ...p });
            sofar.seconds = elapsed();
            sofar.updatedAt = new Date().toISOString();
            const snapshot = JSON.parse(JSON.stringify(sofar)) as PartialRunResult;
            writes = writes.then(() =>
              writeAtomic(partial, snapshot).catch((err: unknown) => log(`  could not write ${partial}: ${err instanceof Error ? err.message : String(err)}`)),
            );
            return saveClock();
          },
          openSampler: async (task?: Partial<TaskSpec>) => {
            const s = await openSampler({ ...spec.task, ...task, envOptions: { ...spec.task.envOptions, ...task?.envOptions } }, seed, opts);
            samplers.push(s);
            return s;
          },
        });
        clearInterval(ticker);
        await writes;
        const seconds = elapsed();
        const result: RunResult = {
          format: 'gmps-experiment-run/1',
          figure: opts.figure,
          scale: opts.scale,
          id: spec.id,
          algorithm: spec.algorithm,
          seed,
          task: spec.task,
          config: spec.config,
          curve,
          seconds,
          finishedAt: new Date().toISOString(),
        };
        await writeAtomic(file, result);
        await rm(file.replace(/\.json$/, '.error.txt'), { force: true });
        await rm(partial, { force: true });
        await rm(partialPrev, { force: true });
        await rm(clock, { force: true });
        for (const f of await figureFiles(workDir)) if (f.endsWith('.snapshot')) await rm(path.join(workDir, f), { force: true });
        log(`${opts.figure}/${spec.id} seed ${seed}: finished in ${seconds.toFixed(0)} s`);
        out.push({ id: spec.id, seed, file, status: 'ran', seconds });
      } catch (err) {
        clearInterval(ticker);
        await saveClock();
        const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file.replace(/\.json$/, '.error.txt'), `${msg}\n`);
        log(`${opts.figure}/${spec.id} seed ${seed}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
        out.push({ id: spec.id, seed, file, status: 'failed', error: err instanceof Error ? err.message : String(err) });
      } finally {
        clearInterval(ticker);
        await Promise.allSettled(samplers.map((s) => s.close()));
      }
    }
  }
  return out;
}

async function openSampler(task: TaskSpec, seed: number, opts: RunFigureOptions): Promise<Sampler> {
  const { createLocalSampler, createSampler } = await import('../sampler.js');
  const env = { kind: task.kind as TaskKind, options: { ...task.envOptions, seed } };
  const nEnvs = opts.envs ?? 8;
  const workers = opts.workers ?? 1;
  return workers === 0 ? createLocalSampler({ env, nEnvs }) : createSampler({ env, nEnvs, nWorkers: workers });
}

/** The file names of a figure directory, sorted (none when it does not exist). */
async function figureFiles(figureDir: string): Promise<string[]> {
  try {
    return (await readdir(figureDir)).sort();
  } catch {
    return [];
  }
}

const RESULT_NAME = /-seed\d+\.json$/;

/**
 * How far a stopped run's saved state goes: the iterations its snapshot (PEARL, MAML, MultiTask) or
 * meta-training checkpoint (GMPS) holds, i.e. where it continues when started again; undefined when
 * its work directory holds neither (it starts over).
 */
export async function savedIterations(outDir: string, figure: string, id: string, seed: number): Promise<number | undefined> {
  const workDir = workDirOf(outDir, figure, id, seed);
  const { readSnapshotHeader } = await import('../snapshot.js');
  for (const f of await figureFiles(workDir)) {
    if (!f.endsWith('.snapshot')) continue;
    try {
      const { meta } = await readSnapshotHeader(path.join(workDir, f));
      const n = (meta as { iterations?: unknown } | null)?.iterations;
      if (typeof n === 'number') return n;
    } catch {
      return undefined; // unreadable: the run will say why when started
    }
  }
  try {
    const model = JSON.parse(await readFile(path.join(workDir, 'model.json'), 'utf8')) as { gmps?: { iteration?: unknown } };
    return typeof model.gmps?.iteration === 'number' ? model.gmps.iteration : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The curves so far of the runs of a figure directory that have no result file: of each run's latest
 * attempt (`.partial.json`) and the one before (`.partial.prev.json`), the one with more points (the
 * latest on a tie), so a run started again shows its earlier curve until the new one is as long.
 */
export async function readPartials(figureDir: string): Promise<PartialRunResult[]> {
  const names = await figureFiles(figureDir);
  const done = new Set(names.filter((n) => RESULT_NAME.test(n)));
  const read = async (n: string): Promise<PartialRunResult | undefined> => {
    let json: PartialRunResult;
    try {
      json = JSON.parse(await readFile(path.join(figureDir, n), 'utf8')) as PartialRunResult;
    } catch (err) {
      throw new Error(`${path.join(figureDir, n)} is not valid JSON (${err instanceof Error ? err.message : String(err)}); delete it or restore it`);
    }
    return json.format === 'gmps-experiment-partial/1' ? json : undefined;
  };
  const runs = new Set(names.map((n) => n.match(/^(.*-seed\d+)\.partial(\.prev)?\.json$/)?.[1]).filter((r): r is string => !!r));
  const out: PartialRunResult[] = [];
  for (const run of [...runs].sort()) {
    if (done.has(`${run}.json`)) continue;
    const latest = names.includes(`${run}.partial.json`) ? await read(`${run}.partial.json`) : undefined;
    const earlier = names.includes(`${run}.partial.prev.json`) ? await read(`${run}.partial.prev.json`) : undefined;
    const pick = earlier && (!latest || earlier.points.length > latest.points.length) ? earlier : latest;
    if (pick) out.push(pick);
  }
  return out;
}

/** Reads every result JSON (`<id>-seed<k>.json`) of a figure directory. */
export async function readResults(figureDir: string): Promise<RunResult[]> {
  const out: RunResult[] = [];
  for (const n of (await figureFiles(figureDir)).filter((x) => RESULT_NAME.test(x))) {
    const json = JSON.parse(await readFile(path.join(figureDir, n), 'utf8')) as RunResult;
    if (json.format === 'gmps-experiment-run/1') out.push(json);
  }
  return out;
}
