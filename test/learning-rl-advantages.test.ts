import assert from 'node:assert/strict';
import { computeAdvantages, defaultBaselineFor, discountCumsum, normalize, toAdaptBatch, toTaskSamples } from '../src/learning/advantages.js';
import { LinearFeatureBaseline, solveLinear, type Baseline } from '../src/learning/baseline.js';
import { Rng } from '../src/learning/rng.js';
import type { Trajectory } from '../src/learning/trajectory.js';

function traj(states: number[][], rewards: number[], extra: Partial<Trajectory> = {}): Trajectory {
  const d = states[0].length;
  return {
    task: { kind: 'point', goal: [0, 0] },
    context: new Float64Array(2),
    length: rewards.length,
    stateDim: d,
    actionDim: 2,
    states: Float32Array.from(states.flat()),
    hands: new Float32Array(rewards.length * 3),
    actions: new Float32Array(rewards.length * 2),
    rewards: Float64Array.from(rewards),
    envInfos: {},
    agentInfos: {},
    finalState: new Float32Array(d),
    finalHand: new Float32Array(3),
    terminated: true,
    ...extra,
  };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what = ''): void {
  assert.equal(a.length, b.length, `${what} length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** Least squares by modified Gram–Schmidt QR (independent of the ridge normal equations). */
function lstsqQR(f: Float64Array, y: Float64Array, rows: number, cols: number): Float64Array {
  const q = Array.from({ length: cols }, (_, j) => Float64Array.from({ length: rows }, (_, i) => f[i * cols + j]));
  const r = new Float64Array(cols * cols);
  for (let j = 0; j < cols; j++) {
    for (let k = 0; k < j; k++) {
      let dot = 0;
      for (let i = 0; i < rows; i++) dot += q[k][i] * q[j][i];
      r[k * cols + j] = dot;
      for (let i = 0; i < rows; i++) q[j][i] -= dot * q[k][i];
    }
    let norm = 0;
    for (let i = 0; i < rows; i++) norm += q[j][i] ** 2;
    norm = Math.sqrt(norm);
    r[j * cols + j] = norm;
    for (let i = 0; i < rows; i++) q[j][i] /= norm;
  }
  const qty = q.map((col) => col.reduce((s, v, i) => s + v * y[i], 0));
  const x = new Float64Array(cols);
  for (let j = cols - 1; j >= 0; j--) {
    let s = qty[j];
    for (let k = j + 1; k < cols; k++) s -= r[j * cols + k] * x[k];
    x[j] = s / r[j * cols + j];
  }
  return x;
}

describe('learning-rl advantages and baseline', () => {
  it('discountCumsum matches a hand computation', () => {
    close(discountCumsum([1, 2, 3], 0.5), [2.75, 3.5, 3], 1e-12);
    close(discountCumsum([1, 1, 1, 1], 1), [4, 3, 2, 1], 0);
  });

  it('GAE via the δ-cumsum matches hand-computed values for λ = 1 and λ = 0.5', () => {
    const fixed: Baseline = { fit() {}, predict: () => Float64Array.of(0.5, 1, 2) };
    const tr = traj([[0], [0], [0]], [1, 2, 3]);
    const a1 = computeAdvantages([tr], { gamma: 0.5, lambda: 1, baseline: fixed, normalize: false });
    close(a1.returns[0], [2.75, 3.5, 3], 1e-12, 'returns');
    close(a1.advantages[0], [2.25, 2.5, 1.0], 1e-12, 'A(λ=1) = G − b');
    const a05 = computeAdvantages([tr], { gamma: 0.5, lambda: 0.5, baseline: fixed, normalize: false });
    close(a05.advantages[0], [1.5625, 2.25, 1.0], 1e-12, 'A(λ=0.5)');
  });

  it('normalises per batch with the population std and eps 1e-8', () => {
    const s = Math.sqrt(1.25);
    close(normalize([1, 2, 3, 4]), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-7);
    const fixed: Baseline = { fit() {}, predict: (t) => new Float64Array(t.length) };
    const a = computeAdvantages([traj([[0], [0]], [1, 0]), traj([[0], [0]], [0, 3])], { gamma: 1, baseline: fixed });
    // raw returns [1, 0, 3, 3] → normalised over both trajectories together
    const raw = [1, 0, 3, 3];
    const m = 1.75;
    const sd = Math.sqrt(raw.reduce((acc, v) => acc + (v - m) ** 2, 0) / 4);
    close(a.flat, raw.map((v) => (v - m) / (sd + 1e-8)), 1e-6, 'flat');
    const mean = a.flat.reduce((x, y) => x + y, 0) / 4;
    assert.ok(Math.abs(mean) < 1e-6);
  });

  it('linear feature baseline equals the ridge least-squares fit of the rllab features', () => {
    const rng = new Rng(5);
    const trajs: Trajectory[] = [];
    const returns: Float64Array[] = [];
    for (let k = 0; k < 4; k++) {
      const T = 30;
      // one component beyond the ±10 clip to exercise clipping
      const states = Array.from({ length: T }, () => [rng.normal(), rng.uniform(-2, 2), rng.normal() * 7]);
      trajs.push(traj(states, Array.from({ length: T }, () => rng.normal())));
      returns.push(Float64Array.from({ length: T }, () => rng.normal() * 3));
    }
    const b = new LinearFeatureBaseline();
    b.fit(trajs, returns);
    const feats = trajs.map((t) => LinearFeatureBaseline.features(t));
    const rows = 4 * 30;
    const cols = 2 * 3 + 4;
    const f = new Float64Array(rows * cols);
    feats.forEach((m, k) => f.set(m, k * 30 * cols));
    // spot-check the feature layout of one row: [o, o², t/100, (t/100)², (t/100)³, 1]
    const t = 7;
    const o = trajs[1].states.slice(t * 3, t * 3 + 3);
    const expected = [o[0], o[1], Math.max(-10, Math.min(10, o[2])), o[0] ** 2, o[1] ** 2, Math.max(-10, Math.min(10, o[2])) ** 2, 0.07, 0.07 ** 2, 0.07 ** 3, 1];
    close(feats[1].slice(t * cols, (t + 1) * cols), expected, 1e-9, 'features');
    const y = new Float64Array(rows);
    returns.forEach((r, k) => y.set(r, k * 30));
    // ridge = least squares on the augmented system [F; √reg·I] w ≈ [y; 0]
    const fa = new Float64Array((rows + cols) * cols);
    fa.set(f);
    for (let j = 0; j < cols; j++) fa[(rows + j) * cols + j] = Math.sqrt(1e-5);
    const ya = new Float64Array(rows + cols);
    ya.set(y);
    const ls = lstsqQR(fa, ya, rows + cols, cols);
    close(b.coefficients!, ls, 1e-6, 'coefficients');
    const pred = b.predict(trajs[2]);
    for (let i = 0; i < 30; i++) {
      let s = 0;
      for (let j = 0; j < cols; j++) s += feats[2][i * cols + j] * ls[j];
      assert.ok(Math.abs(pred[i] - s) < 1e-4, `prediction ${i}`);
    }
  });

  it("linear baseline on hands (the vision default) regresses on the hand positions, not the states", () => {
    const rng = new Rng(6);
    const T = 40;
    // Returns are a linear function of the hand's x; the states are noise.
    const mk = () => {
      const hands = Float32Array.from({ length: T * 3 }, () => rng.uniform(-1, 1));
      const tr = traj(Array.from({ length: T }, () => [rng.normal(), rng.normal()]), new Array(T).fill(0), { hands });
      return { tr, ret: Float64Array.from({ length: T }, (_, t) => 2 + 3 * hands[t * 3]) };
    };
    const data = [mk(), mk(), mk()];
    const onHands = new LinearFeatureBaseline({ input: 'hands' });
    onHands.fit(data.map((d) => d.tr), data.map((d) => d.ret));
    assert.equal(onHands.coefficients!.length, 2 * 3 + 4);
    close(onHands.predict(data[0].tr), data[0].ret, 1e-3, 'hand baseline');
    const onStates = new LinearFeatureBaseline();
    onStates.fit(data.map((d) => d.tr), data.map((d) => d.ret));
    const err = onStates.predict(data[0].tr).reduce((s, p, t) => s + Math.abs(p - data[0].ret[t]), 0) / T;
    assert.ok(err > 0.5, `the state baseline cannot see the hand (mean error ${err})`);
    // Vision rows get it by default; advantages are ~0 where the hand explains the return.
    assert.equal(defaultBaselineFor('vision'), 'linear-hand');
    assert.equal(defaultBaselineFor('state'), 'linear');
    const vision = data.map((d) => ({ ...d.tr, rewards: Float64Array.from({ length: T }, (_, t) => d.ret[t] - (t + 1 < T ? 0.99 * d.ret[t + 1] : 0)) }));
    const adv = computeAdvantages(vision, { baseline: 'linear-hand', normalize: false });
    assert.ok(adv.flat.every((a) => Math.abs(a) < 1e-2), 'hand baseline explains the returns');
    assert.throws(() => new LinearFeatureBaseline({ input: 'hands' }).fit([{ ...data[0].tr, hands: new Float32Array(0) }], [data[0].ret]), /no hand positions/);
  });

  it('linear baseline stays finite on collinear features (constant state)', () => {
    const tr = traj(Array.from({ length: 20 }, () => [1, 0]), Array.from({ length: 20 }, (_, t) => t));
    const returns = [discountCumsum(tr.rewards, 0.99)];
    const b = new LinearFeatureBaseline();
    b.fit([tr], returns);
    const p = b.predict(tr);
    assert.ok(p.every(Number.isFinite));
    // time features of a cubic fit the smooth return curve closely
    close(p, returns[0], 0.02 * returns[0][0], "fit");
  });

  it('solveLinear solves a pivoting case and flags singular systems with NaN', () => {
    close(solveLinear(Float64Array.of(0, 1, 1, 1), Float64Array.of(2, 3), 2), [1, 2], 1e-12);
    assert.ok(solveLinear(Float64Array.of(1, 2, 2, 4), Float64Array.of(1, 1), 2).every(Number.isNaN));
  });

  it('builds GMPS TaskSamples and AdaptBatch rows from trajectories', () => {
    const mean = Float32Array.of(0.1, 0.2, 0.3, 0.4);
    const logStd = Float32Array.of(-0.5, -0.6, -0.5, -0.6);
    const trs = [0, 1, 2].map((k) =>
      traj([[k, 1], [k, 2]], [k, -k], { actions: Float32Array.of(k, k, k, k), agentInfos: { mean, logStd } }),
    );
    const s = toTaskSamples(trs, 'state');
    assert.equal(s.obs.length, 6 * 2);
    assert.deepEqual([...s.obs.slice(4, 8)], [1, 1, 1, 2]);
    assert.equal(s.actions.length, 12);
    assert.equal(s.oldMean.length, 12);
    assert.deepEqual([...s.oldLogStd], [-0.5, -0.6].map(Math.fround));
    assert.equal(s.advantages.length, 6);
    const ad = toAdaptBatch(trs, 'state');
    assert.deepEqual([...ad.advantages], [...s.advantages]);
    assert.throws(() => toTaskSamples([traj([[0, 0]], [1])], 'state'), /agentInfos.mean/);
    assert.throws(() => toTaskSamples(trs, 'vision'), /camera/);
  });
});
