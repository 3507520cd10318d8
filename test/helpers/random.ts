/** Deterministic values in [-1, 1) (Park-Miller LCG): test data that is the same on every run. */
export function rnd(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed * 7919 + 13;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    a[i] = (s / 2147483647) * 2 - 1;
  }
  return a;
}
