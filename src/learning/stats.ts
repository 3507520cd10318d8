/** Summary statistics shared by the evaluation reports and the benchmark commands. */

/** The median of `xs` (the mean of the two middle values for an even count); `xs` is not reordered. */
export function median(xs: readonly number[]): number {
  if (!xs.length) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
