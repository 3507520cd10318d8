import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { decodeImageFile, openCapture, parseCaptureSource } from '../src/vision/capture.js';
import { openCvOrSkip } from './helpers/calibration-opencv.js';

/** A 40x30 RGB image whose pixels all hold (k, 2k, 3k): identifies frame k after any resize. */
function writeFrame(file: string, k: number, width = 40, height = 30): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([k, 2 * k, 3 * k, 255], i * 4);
  writeFileSync(file, PNG.sync.write(png));
}

describe('vision: capture', () => {
  it('replays an image folder in natural file order at the requested size, then ends', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-replay-'));
    const order = [1, 2, 3, 10, 11]; // frame_10 must come after frame_3
    for (const k of order) writeFrame(join(dir, `frame_${k}.png`), k);
    writeFileSync(join(dir, 'notes.txt'), 'not an image');
    const src = await openCapture(dir, { width: 20, height: 15, fps: 10 });
    assert.equal(src.source.kind, 'folder');
    for (const [seq, k] of order.entries()) {
      const f = await src.read();
      assert.ok(f, `frame ${seq}`);
      assert.equal(f.width, 20);
      assert.equal(f.height, 15);
      assert.equal(f.data.length, 20 * 15 * 3);
      assert.deepEqual(Array.from(f.data.subarray(0, 3)), [k, 2 * k, 3 * k]);
      assert.deepEqual(Array.from(f.data.subarray(f.data.length - 3)), [k, 2 * k, 3 * k]);
      assert.equal(f.seq, seq);
      assert.ok(Math.abs(f.timestamp - seq / 10) < 1e-12);
    }
    assert.equal(await src.read(), null);
    src.close();
  });

  it('loops a replay when asked and keeps the native size when none is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-replay-loop-'));
    writeFrame(join(dir, 'a.png'), 5);
    writeFrame(join(dir, 'b.png'), 6);
    const src = await openCapture({ kind: 'folder', path: dir }, { loop: true });
    const ks = [];
    for (let i = 0; i < 5; i++) {
      const f = await src.read();
      assert.ok(f);
      assert.equal(f.width, 40);
      ks.push(f.data[0]);
    }
    assert.deepEqual(ks, [5, 6, 5, 6, 5]);
  });

  it('decodes binary PGM and PPM without OpenCV', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-pnm-'));
    writeFileSync(join(dir, 'g.pgm'), Buffer.concat([Buffer.from('P5\n# comment\n2 1\n255\n'), Buffer.from([10, 200])]));
    writeFileSync(join(dir, 'c.ppm'), Buffer.concat([Buffer.from('P6 1 1 255\n'), Buffer.from([1, 2, 3])]));
    assert.deepEqual(decodeImageFile(join(dir, 'g.pgm')), { data: new Uint8Array([10, 10, 10, 200, 200, 200]), width: 2, height: 1 });
    assert.deepEqual(decodeImageFile(join(dir, 'c.ppm')), { data: new Uint8Array([1, 2, 3]), width: 1, height: 1 });
    writeFileSync(join(dir, 'bad.pgm'), Buffer.from('P2\n1 1\n255\n7\n'));
    assert.throws(() => decodeImageFile(join(dir, 'bad.pgm')), /only binary 8-bit PGM/);
  });

  it('parses capture sources and rejects bad options with what to fix', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gmps-src-'));
    assert.deepEqual(parseCaptureSource('0'), { kind: 'device', index: 0 });
    assert.deepEqual(parseCaptureSource('/dev/video2'), { kind: 'device', index: 2 });
    assert.deepEqual(parseCaptureSource(dir), { kind: 'folder', path: dir });
    assert.throws(() => parseCaptureSource(join(dir, 'nope.mp4')), /neither a device index/);
    await assert.rejects(openCapture(dir), /holds no images/);
    mkdirSync(join(dir, 'x'));
    writeFrame(join(dir, 'x', 'a.png'), 1);
    await assert.rejects(openCapture(join(dir, 'x'), { width: 10 }), /both width and height/);
  });

  it('replays JPEG folders and video files through OpenCV', async function () {
    const cv = await openCvOrSkip(this);
    const dir = mkdtempSync(join(tmpdir(), 'gmps-cv-replay-'));
    for (const k of [3, 1, 2]) {
      // imwrite takes BGR: a frame of RGB (40k, 20k, 10k).
      const mat = new cv.Mat(30, 40, cv.CV_8UC3, [10 * k, 20 * k, 40 * k]);
      cv.imwrite(join(dir, `img${k}.jpg`), mat);
    }
    const src = await openCapture(dir, { width: 16, height: 12 });
    const got = [];
    for (let f = await src.read(); f; f = await src.read()) {
      assert.equal(f.width, 16);
      assert.equal(f.height, 12);
      got.push(Array.from(f.data.subarray(0, 3)));
    }
    assert.equal(got.length, 3);
    got.forEach((px, i) => {
      const k = i + 1;
      [40 * k, 20 * k, 10 * k].forEach((want, c) => assert.ok(Math.abs(px[c] - want) <= 3, `frame ${k} channel ${c}: ${px[c]} vs ${want}`));
    });

    const video = join(dir, 'clip.avi');
    const writer = new cv.VideoWriter(video, cv.VideoWriter.fourcc('MJPG'), 10, new cv.Size(40, 30));
    for (let k = 1; k <= 4; k++) writer.write(new cv.Mat(30, 40, cv.CV_8UC3, [10 * k, 20 * k, 40 * k]));
    writer.release();
    const clip = await openCapture(video, { width: 20, height: 15 });
    assert.equal(clip.source.kind, 'video');
    assert.equal(clip.fps, 10);
    const reds = [];
    for (let f = await clip.read(); f; f = await clip.read()) {
      assert.equal(f.width, 20);
      assert.ok(Math.abs(f.timestamp - f.seq / 10) < 1e-12);
      reds.push(f.data[0]);
    }
    assert.equal(reds.length, 4);
    reds.forEach((r, i) => assert.ok(Math.abs(r - 40 * (i + 1)) <= 3, `video frame ${i}: red ${r}`));
    clip.close();
  });
});
