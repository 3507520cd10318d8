import { strict as assert } from 'node:assert';
import { centerCrop, preprocessFrame, preprocessFrameOpenCv, resizeRgb8 } from '../src/vision/preprocess.js';
import { openCvOrSkip } from './helpers/calibration-opencv.js';

/** RGB frame with R = f(x, y), G = 255 - R, B = 7. */
function frame(width: number, height: number, f: (x: number, y: number) => number) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      data[i] = f(x, y);
      data[i + 1] = 255 - f(x, y);
      data[i + 2] = 7;
    }
  }
  return { data, width, height };
}

function channel(out: Float32Array, c: number): number[] {
  return Array.from(out.filter((_, i) => i % 3 === c), (v) => Math.round(v * 255 * 1000) / 1000);
}

describe('vision: preprocess', () => {
  const ramp = frame(3, 3, (x, y) => 30 * x + 90 * y);
  const whole = { x: 0, y: 0, width: 3, height: 3 };

  it('bilinear 3x3 -> 2x2 matches the hand computation (pixel-centre alignment)', () => {
    // Output centres map to source 0.25 and 1.75 on both axes.
    const out = preprocessFrame(ramp, { width: 2, height: 2, crop: whole, interpolation: 'bilinear' });
    assert.deepEqual(channel(out, 0), [30, 75, 165, 210]);
    assert.deepEqual(channel(out, 1), [225, 180, 90, 45]);
    assert.deepEqual(channel(out, 2), [7, 7, 7, 7]);
  });

  it('area 3x3 -> 2x2 averages the covered pixels with fractional weights', () => {
    // Output pixel 0 covers source [0, 1.5): weights 2/3, 1/3 -> mean coordinate 1/3; pixel 1 -> 5/3.
    const out = preprocessFrame(ramp, { width: 2, height: 2, crop: whole });
    assert.deepEqual(channel(out, 0), [40, 80, 160, 200]);
  });

  it('centre-crops to the output aspect ratio by default and scales to [0, 1]', () => {
    assert.deepEqual(centerCrop(1280, 720, 64, 48), { x: 160, y: 0, width: 960, height: 720 });
    assert.deepEqual(centerCrop(640, 480, 64, 48), { x: 0, y: 0, width: 640, height: 480 });
    const wide = frame(4, 2, (x, y) => 10 * x + 100 * y);
    const out = preprocessFrame(wide, { width: 2, height: 2 });
    assert.deepEqual(channel(out, 0), [10, 20, 110, 120]);
    assert.ok(out.every((v) => v >= 0 && v <= 1));
  });

  it('defaults to a 48x64x3 HWC output and can write one slot of a batch buffer', () => {
    const f = frame(640, 480, (x) => (x < 320 ? 0 : 255));
    const single = preprocessFrame(f);
    assert.equal(single.length, 48 * 64 * 3);
    assert.equal(single[0], 0); // row 0, col 0, R
    assert.equal(single[(0 * 64 + 63) * 3], 1); // row 0, col 63, R
    const batch = new Float32Array(3 * 48 * 64 * 3).fill(-1);
    preprocessFrame(f, {}, batch, 48 * 64 * 3);
    assert.deepEqual(batch.subarray(48 * 64 * 3, 2 * 48 * 64 * 3), single);
    assert.equal(batch[0], -1);
    assert.equal(batch[2 * 48 * 64 * 3], -1);
  });

  it('area shrinking equals the block mean of a fine stripe pattern (bilinear aliases it)', () => {
    const stripes = frame(640, 480, (x) => (x % 3 === 0 ? 255 : 0));
    // 640x480 -> 64x48 maps 10x10 blocks to one pixel: the exact answer is each block's mean.
    const blockMean = Array.from({ length: 64 }, (_, i) => {
      let n = 0;
      for (let x = 10 * i; x < 10 * i + 10; x++) n += x % 3 === 0 ? 255 : 0;
      return n / 10;
    });
    const area = channel(preprocessFrame(stripes), 0);
    const bil = channel(preprocessFrame(stripes, { interpolation: 'bilinear' }), 0);
    let areaErr = 0;
    let bilErr = 0;
    for (let r = 0; r < 48; r++) {
      for (let c = 0; c < 64; c++) {
        areaErr = Math.max(areaErr, Math.abs(area[r * 64 + c] - blockMean[c]));
        bilErr = Math.max(bilErr, Math.abs(bil[r * 64 + c] - blockMean[c]));
      }
    }
    assert.ok(areaErr < 0.01, `area differs from the block mean by ${areaErr}`);
    assert.ok(bilErr > 20, `bilinear should point-sample the stripes (max deviation ${bilErr})`);
  });

  it('resizes RGB8 frames and rejects inconsistent frames and crops', () => {
    const out = resizeRgb8(ramp, 2, 2);
    assert.deepEqual(Array.from(out.filter((_, i) => i % 3 === 0)), [40, 80, 160, 200]);
    assert.throws(() => preprocessFrame({ data: new Uint8Array(10), width: 2, height: 2 }), /needs 12 bytes/);
    assert.throws(() => preprocessFrame(ramp, { crop: { x: 2, y: 0, width: 2, height: 3 } }), /inside the 3x3 frame/);
  });

  it('the OpenCV path agrees with the TypeScript path', async function () {
    const cv = await openCvOrSkip(this);
    const f = frame(640, 480, (x, y) => (x * 7 + y * 3 + ((x * y) % 17)) % 256);
    for (const interpolation of ['area', 'bilinear'] as const) {
      const ts = preprocessFrame(f, { interpolation });
      const ocv = preprocessFrameOpenCv(cv, f, { interpolation });
      let worst = 0;
      for (let i = 0; i < ts.length; i++) worst = Math.max(worst, Math.abs(ts[i] - ocv[i]));
      assert.ok(worst < 1.5 / 255, `${interpolation}: max difference ${worst * 255} levels`);
    }
  });
});
