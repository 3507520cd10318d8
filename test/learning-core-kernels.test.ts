import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../src/learning/backend.js';

/** Runs f on a backend and returns the values (inputs are re-uploaded from plain arrays). */
async function on<T extends tf.Tensor>(backend: string, f: () => T): Promise<{ shape: number[]; data: Float32Array }> {
  await tf.setBackend(backend);
  const t = f();
  const out = { shape: t.shape, data: t.dataSync() as Float32Array };
  t.dispose();
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function rand(shape: number[], seed: number): { values: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647;
    values[i] = (s / 2147483647) * 2 - 1;
  }
  return { values, shape };
}

const t4 = (r: { values: Float32Array; shape: number[] }) => tf.tensor4d(r.values, r.shape as [number, number, number, number]);

describe('learning core: wasm kernels vs the cpu backend', function () {
  before(async () => {
    await initBackend({ backend: 'wasm', log: null });
  });
  after(async () => {
    await tf.setBackend('wasm');
  });

  const convCases: Array<{ x: number[]; f: number[]; s: number | [number, number]; pad: 'same' | 'valid' }> = [
    { x: [2, 48, 64, 3], f: [5, 5, 3, 16], s: 3, pad: 'same' }, // vision layer 1
    { x: [2, 16, 22, 16], f: [3, 3, 16, 16], s: 3, pad: 'same' }, // vision layer 2
    { x: [2, 6, 8, 16], f: [3, 3, 16, 16], s: 1, pad: 'same' }, // vision layer 3
    { x: [3, 9, 7, 2], f: [3, 2, 2, 4], s: 2, pad: 'valid' },
    { x: [1, 10, 10, 2], f: [4, 4, 2, 3], s: 3, pad: 'valid' }, // rows the conv never reads
    { x: [2, 11, 8, 3], f: [2, 3, 3, 2], s: [2, 3], pad: 'same' },
    { x: [1, 5, 5, 1], f: [5, 5, 1, 1], s: 1, pad: 'valid' },
  ];
  for (const c of convCases) {
    it(`Conv2DBackpropFilter x=[${c.x}] filter=[${c.f}] stride=${c.s} ${c.pad}`, async () => {
      const x = rand(c.x, 3);
      const y = tf.tidy(() => tf.conv2d(t4(x), t4(rand(c.f, 5)), c.s, c.pad));
      const dy = rand(y.shape, 7);
      y.dispose();
      const run = () =>
        tf.engine().runKernel('Conv2DBackpropFilter', { x: t4(x), dy: t4(dy) }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: 'NHWC',
          filterShape: c.f,
        } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const w = await on('wasm', run);
      const cpu = await on('cpu', run);
      assert.deepEqual(w.shape, c.f);
      const scale = Math.max(1, ...Array.from(cpu.data, Math.abs));
      assert.ok(maxAbsDiff(w.data, cpu.data) < 1e-5 * scale, `max diff ${maxAbsDiff(w.data, cpu.data)}`);
    });
  }

  it('conv2d filter gradient through tf.grad on wasm equals cpu', async () => {
    const x = rand([2, 12, 16, 3], 11);
    const k = rand([5, 5, 3, 4], 13);
    const g = () => tf.grad((f: tf.Tensor) => tf.sum(tf.square(tf.conv2d(t4(x), f as tf.Tensor4D, 3, 'same'))))(t4(k));
    const w = await on('wasm', g);
    const cpu = await on('cpu', g);
    assert.ok(maxAbsDiff(w.data, cpu.data) < 1e-4 * Math.max(1, ...Array.from(cpu.data, Math.abs)));
  });

  it('second-order gradient of Conv2DBackpropFilter matches its bilinear form', async () => {
    // F(x, dy) is bilinear, so for R fixed: ∂<R,F>/∂dy = conv2d(x, R) and ∂<R,F>/∂x = conv2dTranspose(dy, R).
    const x = rand([2, 9, 10, 2], 17);
    const fShape = [3, 3, 2, 4];
    const R = rand(fShape, 19);
    for (const backend of ['wasm', 'cpu']) {
      await tf.setBackend(backend);
      tf.tidy(() => {
        const xt = t4(x);
        const dy = t4(rand([2, 5, 5, 4], 23));
        const F = (a: tf.Tensor, b: tf.Tensor) =>
          tf.engine().runKernel('Conv2DBackpropFilter', { x: a, dy: b }, {
            strides: 2,
            pad: 'same',
            dataFormat: 'NHWC',
            filterShape: fShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const [gx, gdy] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(F(a, b), t4(R))))([xt, dy]);
        const wantDy = tf.conv2d(xt, t4(R), 2, 'same');
        const wantX = tf.conv2dTranspose(dy, t4(R), [2, 9, 10, 2], 2, 'same');
        assert.ok(maxAbsDiff(gdy.dataSync() as Float32Array, wantDy.dataSync() as Float32Array) < 1e-4, `${backend} d/ddy`);
        assert.ok(maxAbsDiff(gx.dataSync() as Float32Array, wantX.dataSync() as Float32Array) < 1e-4, `${backend} d/dx`);
      });
    }
  });

  const mmCases: Array<{ a: number[]; b: number[]; ta: boolean; tb: boolean }> = [
    { a: [7, 5], b: [5, 3], ta: false, tb: false },
    { a: [7, 5], b: [3, 5], ta: false, tb: true },
    { a: [5, 7], b: [5, 3], ta: true, tb: false },
    { a: [5, 7], b: [3, 5], ta: true, tb: true },
    { a: [4, 6, 5], b: [4, 5, 3], ta: false, tb: false },
    { a: [4, 5, 6], b: [4, 5, 3], ta: true, tb: false },
    { a: [4, 6, 5], b: [4, 3, 5], ta: false, tb: true },
    { a: [4, 6, 5], b: [5, 3], ta: false, tb: false }, // shared right operand
    { a: [6, 5], b: [4, 5, 3], ta: false, tb: false }, // shared left operand
    { a: [2, 3, 6, 5], b: [2, 3, 5, 2], ta: false, tb: false },
  ];
  for (const c of mmCases) {
    it(`BatchMatMul a=[${c.a}]${c.ta ? 'ᵀ' : ''} b=[${c.b}]${c.tb ? 'ᵀ' : ''}`, async () => {
      const a = rand(c.a, 29);
      const b = rand(c.b, 31);
      const run = () => tf.matMul(tf.tensor(a.values, a.shape), tf.tensor(b.values, b.shape), c.ta, c.tb);
      const w = await on('wasm', run);
      const cpu = await on('cpu', run);
      assert.deepEqual(w.shape, cpu.shape);
      assert.ok(maxAbsDiff(w.data, cpu.data) < 1e-5, `max diff ${maxAbsDiff(w.data, cpu.data)}`);
    });
  }

  it('BatchMatMul on wasm leaks no tensors', async () => {
    await tf.setBackend('wasm');
    const a = tf.tensor(rand([4, 6, 5], 1).values, [4, 6, 5]);
    const b = tf.tensor(rand([4, 3, 5], 2).values, [4, 3, 5]);
    tf.matMul(a, b, false, true).dispose();
    const before = tf.memory().numBytes;
    const dataIds = (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    tf.matMul(a, b, false, true).dispose();
    assert.equal(tf.memory().numBytes, before);
    assert.equal((tf.backend() as unknown as { numDataIds(): number }).numDataIds(), dataIds);
    a.dispose();
    b.dispose();
  });
});

describe('learning core: backend choice', () => {
  it('rejects an unknown GMPS_BACKEND with the accepted names', async () => {
    const old = process.env.GMPS_BACKEND;
    process.env.GMPS_BACKEND = 'tpu';
    try {
      await assert.rejects(initBackend({ log: null }), /GMPS_BACKEND=tpu .*auto, node-gpu, node, wasm, cpu/);
    } finally {
      if (old === undefined) delete process.env.GMPS_BACKEND;
      else process.env.GMPS_BACKEND = old;
    }
  });

  it('an explicit backend that cannot load fails loudly instead of falling back', async () => {
    await assert.rejects(initBackend({ backend: 'node', log: null }), /tfjs backend 'node' could not be loaded/);
    assert.equal(tf.getBackend(), 'wasm');
  });

  it('auto falls back past the missing native bindings and logs the choice', async () => {
    const lines: string[] = [];
    const info = await initBackend({ backend: 'cpu', log: (l) => lines.push(l) });
    assert.equal(info.choice, 'cpu');
    assert.match(lines[0], /tfjs backend: cpu/);
    const wasm = await initBackend({ backend: 'wasm', log: null });
    assert.equal(wasm.choice, 'wasm');
    assert.equal(tf.getBackend(), 'wasm');
  });
});
