/**
 * Learning curves as standalone SVG (and an HTML page embedding it with the data as a table),
 * written next to checkpoints. Hand-written SVG: no browser or canvas needed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Optional error band (e.g. mean ± std over seeds), same length as `x`. */
  lower?: ArrayLike<number>;
  upper?: ArrayLike<number>;
  /** CSS colour; default from a colour-blind-safe palette. */
  color?: string;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
}

/** Okabe–Ito palette. */
const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'];

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** About `count` round tick values covering [lo, hi] (1-2-5 steps). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - d, hi + d];
  }
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  // the 1-2-5 step whose tick count comes closest to `count`
  const step = [1, 2, 5, 10]
    .map((m) => m * mag)
    .reduce((best, st) => (Math.abs((hi - lo) / st - count) < Math.abs((hi - lo) / best - count) ? st : best));
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) ticks.push(k === 0 ? 0 : Number((k * step).toPrecision(12)));
  return ticks;
}

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(6)));
}

function checkSeries(s: Series, i: number): void {
  if (s.x.length !== s.y.length) throw new Error(`series ${i} ('${s.name}'): ${s.x.length} x values but ${s.y.length} y values`);
  for (const [k, band] of [['lower', s.lower], ['upper', s.upper]] as const) {
    if (band && band.length !== s.x.length) throw new Error(`series ${i} ('${s.name}'): ${k} band has ${band.length} values, expected ${s.x.length}`);
  }
  if (!!s.lower !== !!s.upper) throw new Error(`series ${i} ('${s.name}'): give both lower and upper for an error band`);
}

export function renderSvg(spec: ChartSpec): string {
  const W = spec.width ?? 720;
  const H = spec.height ?? 440;
  const m = { left: 72, right: 170, top: 40, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  spec.series.forEach(checkSeries);
  const xs: number[] = [];
  const ys: number[] = [];
  for (const s of spec.series) {
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) continue;
      xs.push(s.x[i]);
      ys.push(s.y[i]);
      if (s.lower && Number.isFinite(s.lower[i])) ys.push(s.lower[i]);
      if (s.upper && Number.isFinite(s.upper[i])) ys.push(s.upper[i]);
    }
  }
  const xTicks = niceTicks(xs.length ? Math.min(...xs) : 0, xs.length ? Math.max(...xs) : 1);
  const yTicks = niceTicks(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1);
  const [x0, x1] = [Math.min(xTicks[0], ...xs), Math.max(xTicks[xTicks.length - 1], ...xs)];
  const [y0, y1] = [Math.min(yTicks[0], ...ys), Math.max(yTicks[yTicks.length - 1], ...ys)];
  const sx = (v: number) => m.left + ((v - x0) / (x1 - x0 || 1)) * pw;
  const sy = (v: number) => m.top + ph - ((v - y0) / (y1 - y0 || 1)) * ph;
  const p = (v: number) => v.toFixed(2);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`);
  out.push('<g class="grid" stroke="#e0e0e0" stroke-width="1">');
  for (const t of xTicks) if (t >= x0 && t <= x1) out.push(`<line x1="${p(sx(t))}" y1="${m.top}" x2="${p(sx(t))}" y2="${m.top + ph}"/>`);
  for (const t of yTicks) if (t >= y0 && t <= y1) out.push(`<line x1="${m.left}" y1="${p(sy(t))}" x2="${m.left + pw}" y2="${p(sy(t))}"/>`);
  out.push('</g>');
  out.push(`<g class="axes" stroke="#333333" stroke-width="1"><line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}"/><line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}"/></g>`);
  out.push('<g class="ticks" fill="#333333">');
  for (const t of xTicks) if (t >= x0 && t <= x1) out.push(`<text x="${p(sx(t))}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(t)}</text>`);
  for (const t of yTicks) if (t >= y0 && t <= y1) out.push(`<text x="${m.left - 8}" y="${p(sy(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  out.push('</g>');
  out.push(`<text class="x-label" x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`);
  out.push(`<text class="y-label" transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`);
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    if (s.lower && s.upper) {
      const idx = Array.from({ length: s.x.length }, (_, i) => i).filter((i) => [s.x[i], s.lower![i], s.upper![i]].every(Number.isFinite));
      if (idx.length) {
        const top = idx.map((i) => `${p(sx(s.x[i]))},${p(sy(s.upper![i]))}`);
        const bottom = idx.reverse().map((i) => `${p(sx(s.x[i]))},${p(sy(s.lower![i]))}`);
        out.push(`<polygon class="band" points="${[...top, ...bottom].join(' ')}" fill="${color}" fill-opacity="0.2" stroke="none"/>`);
      }
    }
    // Non-finite points break the line instead of being drawn at a made-up value.
    let d = '';
    let pen = false;
    for (let i = 0; i < s.x.length; i++) {
      if (!Number.isFinite(s.x[i]) || !Number.isFinite(s.y[i])) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${p(sx(s.x[i]))},${p(sy(s.y[i]))} `;
      pen = true;
    }
    if (d) out.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2"/>`);
    if (s.x.length === 1 && d) out.push(`<circle cx="${p(sx(s.x[0]))}" cy="${p(sy(s.y[0]))}" r="3" fill="${color}"/>`);
    const ly = m.top + 10 + k * 20;
    out.push(`<line x1="${m.left + pw + 14}" y1="${ly}" x2="${m.left + pw + 36}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${m.left + pw + 42}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
    out.push('</g>');
  });
  out.push('</svg>');
  return out.join('\n');
}

/** An HTML page with the chart and its data as a table. */
export function renderHtml(spec: ChartSpec): string {
  const rows = spec.series
    .flatMap((s) =>
      Array.from({ length: s.x.length }, (_, i) => {
        const band = s.lower && s.upper ? `<td>${fmt(s.lower[i])}</td><td>${fmt(s.upper[i])}</td>` : '<td></td><td></td>';
        return `<tr><td>${escapeXml(s.name)}</td><td>${fmt(s.x[i])}</td><td>${fmt(s.y[i])}</td>${band}</tr>`;
      }),
    )
    .join('\n');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(spec.title)}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}details{margin-top:1em}</style>
</head><body>
${renderSvg(spec)}
<details><summary>data</summary>
<table><thead><tr><th>series</th><th>${escapeXml(spec.xLabel)}</th><th>${escapeXml(spec.yLabel)}</th><th>lower</th><th>upper</th></tr></thead>
<tbody>
${rows}
</tbody></table></details>
</body></html>
`;
}

/** Writes `<base>.svg` and `<base>.html`; returns their paths. */
export async function writeLearningCurves(base: string, spec: ChartSpec): Promise<{ svg: string; html: string }> {
  const svg = `${base}.svg`;
  const html = `${base}.html`;
  await mkdir(path.dirname(path.resolve(svg)), { recursive: true });
  await writeFile(svg, renderSvg(spec));
  await writeFile(html, renderHtml(spec));
  return { svg, html };
}

/** Mean and mean ± std over runs (rows of equal length): a series with an error band. */
export function meanWithBand(name: string, x: ArrayLike<number>, runs: readonly ArrayLike<number>[]): Series {
  if (runs.length === 0) throw new Error('meanWithBand needs at least one run');
  const n = x.length;
  for (const r of runs) if (r.length !== n) throw new Error(`every run must have ${n} values`);
  const y = new Float64Array(n);
  const lower = new Float64Array(n);
  const upper = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = runs.map((r) => r[i]);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
    y[i] = mean;
    lower[i] = mean - sd;
    upper[i] = mean + sd;
  }
  return { name, x, y, lower, upper };
}
