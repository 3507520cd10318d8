/**
 * Runs a figure's runs for seeds 0..N−1, one result JSON per (run, seed) under
 * `<out>/<figure>/<id>-seed<k>.json`. Resumable: a run whose result file exists is skipped; a run
 * that throws leaves `<id>-seed<k>.error.txt` and the others still run.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TaskKind } from '../../../sim/types.js';
import type { Sampler } from '../sampler.js';
import { getAlgorithm } from './algorithms.js';
import type { RunResult, RunSpec, TaskSpec } from './types.js';

export interface RunFigureOptions {
  figure: string;
  scale: string;
  runs: readonly RunSpec[];
  seeds: number;
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

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

export async function runFigure(opts: RunFigureOptions): Promise<RunStatus[]> {
  if (!Number.isInteger(opts.seeds) || opts.seeds < 1) throw new Error(`seeds must be a positive integer, got ${opts.seeds}`);
  const log = opts.log ?? (() => {});
  const known = new Set(opts.runs.map((r) => r.id));
  for (const id of opts.only ?? []) if (!known.has(id)) throw new Error(`figure ${opts.figure} has no run '${id}'; runs: ${[...known].join(', ')}`);
  const selected = opts.runs.filter((r) => !opts.only || opts.only.includes(r.id));
  for (const r of selected) getAlgorithm(r.algorithm); // fail early on an unknown algorithm
  const out: RunStatus[] = [];
  for (const spec of selected) {
    for (let seed = 0; seed < opts.seeds; seed++) {
      const file = resultFile(opts.outDir, opts.figure, spec.id, seed);
      if (await exists(file)) {
        log(`${opts.figure}/${spec.id} seed ${seed}: done already (${file})`);
        out.push({ id: spec.id, seed, file, status: 'skipped' });
        continue;
      }
      log(`${opts.figure}/${spec.id} seed ${seed}: running ${spec.algorithm} on ${spec.task.kind}`);
      const workDir = path.join(opts.outDir, opts.figure, 'work', `${spec.id}-seed${seed}`);
      const samplers: Sampler[] = [];
      const t0 = Date.now();
      try {
        await mkdir(workDir, { recursive: true });
        const curve = await getAlgorithm(spec.algorithm).run(spec, {
          seed,
          workDir,
          log: (l) => log(`  ${l}`),
          openSampler: async (task?: Partial<TaskSpec>) => {
            const s = await openSampler({ ...spec.task, ...task, envOptions: { ...spec.task.envOptions, ...task?.envOptions } }, seed, opts);
            samplers.push(s);
            return s;
          },
        });
        const seconds = (Date.now() - t0) / 1000;
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
        await writeFile(`${file}.tmp`, `${JSON.stringify(result, null, 1)}\n`);
        await rename(`${file}.tmp`, file);
        await rm(file.replace(/\.json$/, '.error.txt'), { force: true });
        log(`${opts.figure}/${spec.id} seed ${seed}: finished in ${seconds.toFixed(0)} s`);
        out.push({ id: spec.id, seed, file, status: 'ran', seconds });
      } catch (err) {
        const msg = err instanceof Error ? (err.stack ?? err.message) : String(err);
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file.replace(/\.json$/, '.error.txt'), `${msg}\n`);
        log(`${opts.figure}/${spec.id} seed ${seed}: FAILED: ${err instanceof Error ? err.message : String(err)}`);
        out.push({ id: spec.id, seed, file, status: 'failed', error: err instanceof Error ? err.message : String(err) });
      } finally {
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

/** Reads every result JSON of a figure directory. */
export async function readResults(figureDir: string): Promise<RunResult[]> {
  const { readdir } = await import('node:fs/promises');
  let names: string[];
  try {
    names = await readdir(figureDir);
  } catch {
    return [];
  }
  const out: RunResult[] = [];
  for (const n of names.filter((x) => x.endsWith('.json')).sort()) {
    const json = JSON.parse(await readFile(path.join(figureDir, n), 'utf8')) as RunResult;
    if (json.format === 'gmps-experiment-run/1') out.push(json);
  }
  return out;
}
