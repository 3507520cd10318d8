/** Seeded random numbers for calibration tests (Park-Miller LCG + Box-Muller). */
export function seededRandom(seed: number): { uniform: () => number; gauss: () => number } {
  let s = seed % 2147483647;
  if (s <= 0) s += 2147483646;
  const uniform = () => (s = (s * 16807) % 2147483647) / 2147483647;
  const gauss = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, gauss };
}
