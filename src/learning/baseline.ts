/**
 * Value baselines for the policy-gradient inner step, as rllab's: `LinearFeatureBaseline`
 * (ridge regression of discounted returns on [o, o², t/100, (t/100)², (t/100)³, 1], with o the
 * state clipped to [-10, 10]) and `ZeroBaseline` (the GMPS conv policy's choice). The linear
 * baseline can also read the hand position instead of the state (`input: 'hands'`): what a vision
 * policy observes besides the image, so it needs no privileged state.
 */
import type { Trajectory } from './trajectory.js';

export interface Baseline {
  /** Fits to trajectories and their discounted returns (one array per trajectory). */
  fit(trajs: readonly Trajectory[], returns: readonly Float64Array[]): void;
  /** Baseline value at every step of `traj`. */
  predict(traj: Trajectory): Float64Array;
}

export class ZeroBaseline implements Baseline {
  fit(): void {}
  predict(traj: Trajectory): Float64Array {
    return new Float64Array(traj.length);
  }
}

export interface LinearBaselineOptions {
  /** Ridge coefficient; multiplied by 10 after a NaN solution, up to 5 tries (default 1e-5). */
  regCoeff?: number;
  /** What o is: the trajectory's states (default) or its hand positions. */
  input?: 'states' | 'hands';
}

type BaselineInput = Pick<Trajectory, 'states' | 'length' | 'stateDim'> & Partial<Pick<Trajectory, 'hands'>>;

/** The rows o_t the baseline regresses on and their width. */
function inputRows(traj: BaselineInput, input: 'states' | 'hands'): { rows: Float32Array; d: number } {
  if (input === 'states') return { rows: traj.states, d: traj.stateDim };
  if (!traj.hands || traj.hands.length < traj.length * 3) throw new Error('linear baseline on hands: the trajectory has no hand positions');
  return { rows: traj.hands, d: 3 };
}

export class LinearFeatureBaseline implements Baseline {
  readonly regCoeff: number;
  readonly input: 'states' | 'hands';
  /** Fitted coefficients, undefined before the first fit (predicts zeros then). */
  coefficients: Float64Array | undefined;

  constructor(opts: LinearBaselineOptions = {}) {
    this.regCoeff = opts.regCoeff ?? 1e-5;
    this.input = opts.input ?? 'states';
  }

  /** Width d of o for this baseline's input. */
  private inputDim(traj: Pick<Trajectory, 'stateDim'>): number {
    return this.input === 'hands' ? 3 : traj.stateDim;
  }

  /** Feature matrix [T x (2·d + 4)] of one trajectory (d: the state width, or 3 for hands). */
  static features(traj: BaselineInput, input: 'states' | 'hands' = 'states'): Float64Array {
    const { rows, d } = inputRows(traj, input);
    const w = 2 * d + 4;
    const out = new Float64Array(traj.length * w);
    for (let t = 0; t < traj.length; t++) {
      const row = t * w;
      for (let i = 0; i < d; i++) {
        const o = Math.min(10, Math.max(-10, rows[t * d + i]));
        out[row + i] = o;
        out[row + d + i] = o * o;
      }
      const a = t / 100;
      out[row + 2 * d] = a;
      out[row + 2 * d + 1] = a * a;
      out[row + 2 * d + 2] = a * a * a;
      out[row + 2 * d + 3] = 1;
    }
    return out;
  }

  fit(trajs: readonly Trajectory[], returns: readonly Float64Array[]): void {
    if (trajs.length !== returns.length) throw new Error(`baseline fit: ${trajs.length} trajectories but ${returns.length} return arrays`);
    if (trajs.length === 0) throw new Error('baseline fit: no trajectories');
    const width = (tr: Trajectory) => 2 * this.inputDim(tr) + 4;
    const w = width(trajs[0]);
    const ftf = new Float64Array(w * w);
    const fty = new Float64Array(w);
    trajs.forEach((tr, k) => {
      if (width(tr) !== w) throw new Error('baseline fit: trajectories disagree on state width');
      if (returns[k].length !== tr.length) throw new Error(`baseline fit: trajectory ${k} has ${tr.length} steps but ${returns[k].length} returns`);
      const f = LinearFeatureBaseline.features(tr, this.input);
      for (let t = 0; t < tr.length; t++) {
        const row = t * w;
        const y = returns[k][t];
        for (let i = 0; i < w; i++) {
          const fi = f[row + i];
          if (fi === 0) continue;
          fty[i] += fi * y;
          for (let j = i; j < w; j++) ftf[i * w + j] += fi * f[row + j];
        }
      }
    });
    for (let i = 0; i < w; i++) for (let j = 0; j < i; j++) ftf[i * w + j] = ftf[j * w + i];
    let reg = this.regCoeff;
    let coeffs: Float64Array = new Float64Array(w).fill(Number.NaN);
    for (let attempt = 0; attempt < 5; attempt++) {
      const a = Float64Array.from(ftf);
      for (let i = 0; i < w; i++) a[i * w + i] += reg;
      coeffs = solveLinear(a, Float64Array.from(fty), w);
      if (!coeffs.some(Number.isNaN)) break;
      reg *= 10;
    }
    this.coefficients = coeffs;
  }

  predict(traj: Trajectory): Float64Array {
    const out = new Float64Array(traj.length);
    const c = this.coefficients;
    if (!c) return out;
    const w = c.length;
    const d = this.inputDim(traj);
    if (w !== 2 * d + 4) throw new Error(`baseline was fitted on ${(w - 4) / 2}-D states, got ${d}-D`);
    const f = LinearFeatureBaseline.features(traj, this.input);
    for (let t = 0; t < traj.length; t++) {
      let s = 0;
      for (let i = 0; i < w; i++) s += f[t * w + i] * c[i];
      out[t] = s;
    }
    return out;
  }
}

/**
 * Solves A x = b (A row-major n x n, both overwritten) by Gaussian elimination with partial
 * pivoting. Returns NaNs when A is numerically singular, so callers can regularise and retry.
 */
export function solveLinear(a: Float64Array, b: Float64Array, n: number): Float64Array {
  if (a.length !== n * n || b.length !== n) throw new Error(`solveLinear: expected ${n}x${n} and ${n}, got ${a.length} and ${b.length}`);
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]));
  const tiny = scale * n * Number.EPSILON;
  for (let col = 0; col < n; col++) {
    let piv = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r * n + col]) > Math.abs(a[piv * n + col])) piv = r;
    const p = a[piv * n + col];
    if (!(Math.abs(p) > tiny)) return new Float64Array(n).fill(Number.NaN);
    if (piv !== col) {
      for (let k = 0; k < n; k++) [a[col * n + k], a[piv * n + k]] = [a[piv * n + k], a[col * n + k]];
      [b[col], b[piv]] = [b[piv], b[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const m = a[r * n + col] / p;
      if (m === 0) continue;
      for (let k = col; k < n; k++) a[r * n + k] -= m * a[col * n + k];
      b[r] -= m * b[col];
    }
  }
  const x = new Float64Array(n);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}
