/**
 * The experiment harness' seams. A figure is a list of runs; a run is one algorithm on one task
 * with one config; every run (per seed) writes one result JSON with its curve. Algorithms are
 * registered by name, so further baselines plug in with `registerAlgorithm`.
 */
import type { Sampler } from '../sampler.js';

export interface TaskSpec {
  kind: string;
  /** Env options (dense reward, horizon, camera, ...). */
  envOptions: Record<string, unknown>;
}

/** What a curve's x axis counts. */
export type XAxis = 'envSamples' | 'adaptSteps';

export interface CurvePointOut {
  /** Meta-training environment samples so far (or the adaptation step for `adaptSteps` curves). */
  x: number;
  /** Average return after adaptation (the figure's y value). */
  y: number;
  /** Success rate when the task has one. */
  success?: number;
}

export interface RunCurve {
  xAxis: XAxis;
  points: CurvePointOut[];
  /** Anything worth keeping next to the curve (expert return, final losses, ...). */
  extra?: Record<string, unknown>;
}

export interface RunSpec {
  /** Unique within the figure; names the result file and the legend entry. */
  id: string;
  algorithm: string;
  task: TaskSpec;
  /** Algorithm-specific settings (numbers of tasks, iterations, ...). */
  config: Record<string, unknown>;
}

export interface RunContext {
  seed: number;
  /** A sampler over `spec.task` with options merged over the task's (the algorithm closes it via `closeAll`). */
  openSampler(task?: Partial<TaskSpec>): Promise<Sampler>;
  /** Directory this run may write checkpoints to. */
  workDir: string;
  log(line: string): void;
  /**
   * Records a point of an `envSamples` curve as soon as it is measured. The harness keeps the points
   * so far in `<id>-seed<k>.partial.json`, so a run stopped before its end (hours at `medium`) still
   * leaves its curve up to there. Points are in x order; the returned curve is what the result file keeps.
   */
  point(p: CurvePointOut): Promise<void>;
}

export interface Algorithm {
  readonly name: string;
  readonly description: string;
  run(spec: RunSpec, ctx: RunContext): Promise<RunCurve>;
}

/** Which run and seed a result file belongs to, and how it was configured. */
export interface RunRecord {
  figure: string;
  scale: string;
  id: string;
  algorithm: string;
  seed: number;
  task: TaskSpec;
  config: Record<string, unknown>;
}

/** The curve so far of a run that has not finished (killed, failed or still running). */
export interface PartialRunResult extends RunRecord {
  format: 'gmps-experiment-partial/1';
  xAxis: 'envSamples';
  points: CurvePointOut[];
  /** The run's first start (a run continued from its snapshot keeps it). */
  startedAt: string;
  /** Wall-clock seconds the run has taken up to its last point, over all its starts. */
  seconds: number;
  updatedAt: string;
}

export interface RunResult extends RunRecord {
  format: 'gmps-experiment-run/1';
  curve: RunCurve;
  /** Wall-clock seconds the run took, over all its starts (killed and continued runs included). */
  seconds: number;
  finishedAt: string;
}
