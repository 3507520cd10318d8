/**
 * Seeded pseudo-random numbers for everything stochastic in learning (task draws, exploration
 * noise, replay sampling, initialisation), so a run is reproduced exactly from its seed.
 * Generator: sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state, passes
 * PractRand), seeded through splitmix32 so nearby integer seeds give unrelated streams.
 */

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Hashes a string seed to 32 bits (FNV-1a). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export type RngState = [number, number, number, number];

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** Second normal of the last Box–Muller pair, or NaN. */
  private spare = Number.NaN;

  constructor(seed: number | string = 0) {
    if (typeof seed === 'number' && !Number.isFinite(seed)) {
      throw new Error(`Rng seed must be a finite number or a string, got ${seed}`);
    }
    const s = typeof seed === 'string' ? hashString(seed) : (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) >>> 0;
    const mix = splitmix32(s);
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    [r.a, r.b, r.c, r.d] = state.map((x) => x >>> 0) as RngState;
    return r;
  }

  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** The full state, the pending Box–Muller normal included (null when none), for snapshots. */
  saveState(): { state: RngState; spare: number | null } {
    return { state: this.state(), spare: Number.isNaN(this.spare) ? null : this.spare };
  }

  /** Continues exactly from a `saveState()`. */
  loadState(saved: { state: RngState; spare: number | null }): void {
    if (!Array.isArray(saved?.state) || saved.state.length !== 4 || !saved.state.every((x) => Number.isInteger(x))) {
      throw new Error(`Rng.loadState needs four 32-bit integers, got ${JSON.stringify(saved?.state)}`);
    }
    [this.a, this.b, this.c, this.d] = saved.state.map((x) => x >>> 0) as RngState;
    this.spare = saved.spare ?? Number.NaN;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer uniform in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int needs a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Normal draw (Box–Muller, both values of each pair used). */
  normal(mean = 0, std = 1): number {
    if (!Number.isNaN(this.spare)) {
      const z = this.spare;
      this.spare = Number.NaN;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Fills `out` with standard normal draws and returns it. */
  fillNormal<T extends Float32Array | Float64Array>(out: T): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  /** A new generator seeded from this one: an independent stream for a sub-component. */
  fork(): Rng {
    return new Rng(this.nextUint32() ^ Math.imul(this.nextUint32(), 0x9e3779b1));
  }

  /** `() => uniform [0, 1)` bound to this generator, e.g. for `Env.sampleTask`. */
  asFunction(): () => number {
    return () => this.next();
  }
}
