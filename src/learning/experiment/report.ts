/**
 * `gmps report`: one chart per figure directory (mean over seeds with a ±1 std band, SVG + HTML)
 * and a table of sample-efficiency ratios next to the paper's.
 *
 * Samples to reach X: X is the final mean return of the weaker of GMPS and MAML (so both curves
 * reach it); for each, the first x where its seed-mean curve is ≥ X; ratio = MAML / GMPS. No ratio
 * when the weaker one never rose above its first evaluation (X then measures no learning: both
 * "reach" it at their first point, e.g. MAML flat at 0 on the sparse door).
 *
 * Runs that have not finished (no result file, a `.partial.json` curve so far) are listed in a table
 * of their own, with the iteration they continue after when started again (their snapshot or
 * checkpoint in the work directory), and left out of the charts and ratios, whose seed means need
 * whole curves.
 *
 * Runs whose experts were trained by RL first (contextual SAC on Ant) get a table of their own: the
 * experts' samples (part of the run's x) and their training curve, the exploration return by round,
 * from the result file's `extra` (`expertSamples`, `sacCurve`).
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { meanWithBand, writeLearningCurves, type Series } from '../plot.js';
import { figureSpec, isFigure, isScale } from './figures.js';
import { readPartials, readResults, savedIterations } from './run.js';
import type { RunResult } from './types.js';

export interface RatioRow {
  figure: string;
  target: number;
  gmpsSamples: number | null;
  mamlSamples: number | null;
  ratio: number | null;
  paperRatio: number | null;
  /** Why there is no ratio, when there is none. */
  note?: string;
}

export interface FigureReport {
  figure: string;
  svg: string;
  html: string;
  runs: { id: string; seeds: number; finalMean: number }[];
}

export interface UnfinishedRun {
  figure: string;
  id: string;
  seed: number;
  /** The curve points recorded before the run stopped (or so far, if it still runs). */
  points: { x: number; y: number; success?: number }[];
  /** Wall time of the attempt whose curve this is. */
  seconds: number;
  updatedAt: string;
  /** Iterations its saved state holds (it continues after them when started again); absent: it starts over. */
  savedIterations?: number;
}

/** The RL-trained experts of a finished run (GMPS and MultiTask-imitation with `expert: 'sac'`). */
export interface ExpertTraining {
  figure: string;
  id: string;
  seed: number;
  /** Every sample the experts took: SAC's training steps plus any demonstrations (`extra.expertSamples`). */
  expertSamples: number | null;
  /** SAC's rounds: env steps so far, mean exploration return and success of the round's episodes (empty: not kept). */
  curve: { envSteps: number; meanReturn: number; successRate: number }[];
  /** The last round's exploration return (`extra.sacFinalReturn`; runs from before the curve was kept have only this). */
  finalReturn: number | null;
}

export interface Report {
  figures: FigureReport[];
  ratios: RatioRow[];
  unfinished: UnfinishedRun[];
  experts: ExpertTraining[];
  markdown: string;
}

function isSacCurve(v: unknown): v is ExpertTraining['curve'] {
  return Array.isArray(v) && v.every((p) => p && typeof p === 'object' && ['envSteps', 'meanReturn', 'successRate'].every((k) => Number.isFinite((p as Record<string, unknown>)[k])));
}

/** The experts' curve at about five evenly spaced rounds, first and last included. */
function sacSummary(curve: ExpertTraining['curve']): string {
  const n = curve.length;
  const idx = [...new Set([0, Math.round((n - 1) / 4), Math.round((n - 1) / 2), Math.round((3 * (n - 1)) / 4), n - 1])];
  return idx.map((i) => `${curve[i].envSteps} → ${curve[i].meanReturn.toFixed(1)}`).join(', ');
}

/** Mean curve over seeds: x of the shortest seed, y per seed truncated to it. */
export function seedMean(results: readonly RunResult[]): { x: number[]; runs: number[][] } {
  const n = Math.min(...results.map((r) => r.curve.points.length));
  const x = Array.from({ length: n }, (_, i) => results.reduce((s, r) => s + r.curve.points[i].x, 0) / results.length);
  return { x, runs: results.map((r) => r.curve.points.slice(0, n).map((p) => p.y)) };
}

/** First x at which `y` reaches `target` (null: never). */
export function samplesToReach(x: readonly number[], y: readonly number[], target: number): number | null {
  for (let i = 0; i < y.length; i++) if (y[i] >= target) return x[i];
  return null;
}

export async function writeReport(dir: string): Promise<Report> {
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    throw new Error(`no experiment directory at ${dir}; run 'gmps experiment FIG --out ${dir}' first`);
  }
  const figures: FigureReport[] = [];
  const ratios: RatioRow[] = [];
  const unfinished: UnfinishedRun[] = [];
  const experts: ExpertTraining[] = [];
  for (const fig of names) {
    for (const p of await readPartials(path.join(dir, fig))) {
      const saved = await savedIterations(dir, fig, p.id, p.seed);
      unfinished.push({ figure: fig, id: p.id, seed: p.seed, points: p.points, seconds: p.seconds, updatedAt: p.updatedAt, ...(saved !== undefined ? { savedIterations: saved } : {}) });
    }
    const results = (await readResults(path.join(dir, fig))).filter((r) => r.curve.points.length > 0);
    for (const r of results) {
      const kept = r.curve.extra?.sacCurve;
      const sac = isSacCurve(kept) ? kept : [];
      const last = r.curve.extra?.sacFinalReturn;
      const finalReturn = typeof last === 'number' && Number.isFinite(last) ? last : (sac.at(-1)?.meanReturn ?? null);
      if (!sac.length && finalReturn === null) continue;
      const samples = r.curve.extra?.expertSamples;
      experts.push({ figure: fig, id: r.id, seed: r.seed, expertSamples: typeof samples === 'number' ? samples : null, curve: sac, finalReturn });
    }
    if (!results.length) continue;
    const byId = new Map<string, RunResult[]>();
    for (const r of results) byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    const scale = String(results[0].scale);
    const spec = isFigure(fig) ? figureSpec(fig, isScale(scale) ? scale : 'small') : undefined;
    const series: Series[] = [];
    const means = new Map<string, { x: number[]; y: number[] }>();
    const runs: FigureReport['runs'] = [];
    for (const [id, rs] of byId) {
      const { x, runs: ys } = seedMean(rs);
      const s = meanWithBand(`${id} (${rs.length} seed${rs.length > 1 ? 's' : ''})`, x, ys);
      series.push(s);
      means.set(id, { x, y: Array.from(s.y) });
      runs.push({ id, seeds: rs.length, finalMean: s.y[s.y.length - 1] });
    }
    const xAxis = results[0].curve.xAxis;
    const files = await writeLearningCurves(path.join(dir, fig, fig), {
      title: spec?.title ?? fig,
      xLabel: spec?.xLabel ?? (xAxis === 'envSamples' ? 'meta-training environment samples' : 'adaptation steps'),
      yLabel: spec?.yLabel ?? 'average return',
      series,
    });
    figures.push({ figure: fig, ...files, runs });
    const g = means.get('gmps');
    const m = means.get('maml');
    if (xAxis === 'envSamples' && g && m && g.y.length && m.y.length) {
      const gFinal = g.y[g.y.length - 1];
      const mFinal = m.y[m.y.length - 1];
      const [weaker, name] = gFinal <= mFinal ? [g, 'GMPS'] : [m, 'MAML'];
      const target = Math.min(gFinal, mFinal);
      const gs = samplesToReach(g.x, g.y, target);
      const ms = samplesToReach(m.x, m.y, target);
      const flat = !(target > weaker.y[0]);
      ratios.push({
        figure: fig, target, gmpsSamples: gs, mamlSamples: ms, ratio: !flat && gs && ms ? ms / gs : null, paperRatio: spec?.paperRatioVsMaml ?? null,
        ...(flat ? { note: `${name} never rose above its first evaluation (${weaker.y[0].toFixed(2)})` } : {}),
      });
    }
  }
  const fmt = (v: number | null, digits = 0) => (v === null ? '—' : v.toFixed(digits));
  const lines = ['# GMPS reproduction report', '', '| figure | run | seeds | final mean return |', '|---|---|---|---|'];
  for (const f of figures) for (const r of f.runs) lines.push(`| ${f.figure} | ${r.id} | ${r.seeds} | ${r.finalMean.toFixed(2)} |`);
  lines.push('', '## Samples to reach X (X = final mean return of the weaker of GMPS and MAML)', '');
  lines.push('| figure | X | GMPS samples | MAML samples | MAML / GMPS | paper | note |', '|---|---|---|---|---|---|---|');
  for (const r of ratios) {
    lines.push(`| ${r.figure} | ${r.target.toFixed(2)} | ${fmt(r.gmpsSamples)} | ${fmt(r.mamlSamples)} | ${fmt(r.ratio, 1)} | ${r.paperRatio ? `~${r.paperRatio}x` : '—'} | ${r.note ?? ''} |`);
  }
  if (experts.length) {
    lines.push('', '## Experts trained by RL first (their samples are in the run\'s x)', '');
    lines.push('| figure | run | seed | expert samples | SAC: env steps → mean exploration return | final success |', '|---|---|---|---|---|---|');
    for (const e of experts) {
      const last = e.curve.at(-1);
      const curve = last ? sacSummary(e.curve) : `last round ${fmt(e.finalReturn, 1)} (curve not kept by this run)`;
      lines.push(`| ${e.figure} | ${e.id} | ${e.seed} | ${fmt(e.expertSamples)} | ${curve} | ${last ? last.successRate.toFixed(2) : '—'} |`);
    }
  }
  if (unfinished.length) {
    lines.push('', '## Unfinished runs (curve so far; not in the charts or ratios)', '');
    lines.push(
      '| figure | run | seed | samples → return (success) | hours to last point (all starts) | last point at | saved state: iterations done |',
      '|---|---|---|---|---|---|---|',
    );
    for (const u of unfinished) {
      const pts = u.points.map((p) => `${p.x} → ${p.y.toFixed(2)}${p.success !== undefined ? ` (${p.success.toFixed(2)})` : ''}`).join(', ') || 'no point yet';
      const resume = u.savedIterations !== undefined ? String(u.savedIterations) : '— (starts over; no saved state here)';
      lines.push(`| ${u.figure} | ${u.id} | ${u.seed} | ${pts} | ${(u.seconds / 3600).toFixed(2)} | ${u.updatedAt || '—'} | ${resume} |`);
    }
  }
  const markdown = `${lines.join('\n')}\n`;
  await writeFile(path.join(dir, 'report.md'), markdown);
  await writeFile(path.join(dir, 'report.json'), `${JSON.stringify({ figures, ratios, unfinished, experts }, null, 1)}\n`);
  return { figures, ratios, unfinished, experts, markdown };
}
