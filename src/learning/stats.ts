/** Summary statistics shared by the evaluation reports and the benchmark commands. */

/** The median of `xs` (the mean of the two middle values for an even count); `xs` is not reordered. */
export function median(xs: readonly number[]): number {
  if (!xs.length) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The nearest-rank q-quantile of `xs` (0 < q <= 1: the smallest value with at least q of the values at or
 *  below it; p99 of 100 latencies is the 99th smallest); `xs` is not reordered. */
export function percentile(xs: readonly number[], q: number): number {
  if (!xs.length) throw new Error('percentile of no values');
  if (!(q > 0 && q <= 1)) throw new Error(`percentile: q must be in (0, 1], got ${q}`);
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length, Math.ceil(q * s.length)) - 1];
}
