import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { calibrationFromIntrinsics, formatCameraCalibration } from '../calibration/camera-info.js';
import type { InProcessRuntime } from '../src/graph/inprocess.js';
import { startNode, type RunningNode } from '../src/graph/node-entry.js';
import cameraNode from '../nodes/camera.js';
import { quietRuntime, record } from './helpers/nodes-graph.js';

type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function imageFolder(n: number, width: number, height: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'gmps-camnode-'));
  for (let i = 0; i < n; i++) {
    const png = new PNG({ width, height });
    for (let p = 0; p < width * height; p++) png.data.set([10 * i, p % 256, 200, 255], 4 * p);
    writeFileSync(join(dir, `frame${i}.png`), PNG.sync.write(png));
  }
  return dir;
}

describe('nodes: camera', function () {
  this.timeout(10000);
  let rt: InProcessRuntime;
  let node: RunningNode | undefined;
  afterEach(async () => {
    await node?.stop();
    await rt?.shutdown();
  });

  it('replays an image folder to image_raw + calibrated camera_info, then finishes', async () => {
    const dir = imageFolder(3, 8, 6);
    const calib = join(dir, 'camera.yaml');
    writeFileSync(calib, formatCameraCalibration(calibrationFromIntrinsics({ width: 8, height: 6, cameraName: 'cam', fx: 7, fy: 7.5, cx: 3.5, cy: 2.5, distortion: [0.1, 0, 0, 0, 0] })));
    rt = quietRuntime();
    const probe = rt.createNode('probe');
    const images = record<Msg>(probe, 'sensor_msgs/msg/Image', 'image_raw', 'sensor_data');
    const infos = record<Msg>(probe, 'sensor_msgs/msg/CameraInfo', 'camera_info', 'sensor_data');
    node = await startNode(rt, cameraNode, { parameterOverrides: { source: dir, fps: 200.0, calibration_file: calib } });
    await node.done;
    await rt.flush();
    assert.equal(images.length, 3);
    assert.deepEqual(images.map((m) => m.data[0]), [0, 10, 20], 'frames in file order');
    assert.equal(images[0]!.encoding, 'rgb8');
    assert.equal(images[0]!.step, 24);
    assert.equal(images[0]!.header.frame_id, 'camera_optical_frame');
    assert.equal(infos.length, 3);
    assert.deepEqual(Array.from(infos[0]!.k), [7, 0, 3.5, 0, 7.5, 2.5, 0, 0, 1]);
    assert.equal(infos[0]!.d[0], 0.1);
    assert.deepEqual(infos[0]!.header, images[0]!.header);
  });

  it('fails clearly on a calibration of another size, and on a camera it cannot open', async () => {
    const dir = imageFolder(1, 8, 6);
    const calib = join(dir, 'camera.yaml');
    writeFileSync(calib, formatCameraCalibration(calibrationFromIntrinsics({ width: 640, height: 480, cameraName: 'c', fx: 500, fy: 500, cx: 320, cy: 240, distortion: [0, 0, 0, 0, 0] })));
    rt = quietRuntime();
    node = await startNode(rt, cameraNode, { parameterOverrides: { source: dir, fps: 200.0, calibration_file: calib } });
    await assert.rejects(node.done, /calibration for 640x480 images but the camera gives 8x6/);
    await node.stop();
    node = undefined;
    // Without OpenCV: the install recipe; with it: the device cannot be opened.
    await assert.rejects(startNode(rt, cameraNode, { name: 'cam2', parameterOverrides: { source: '/dev/video97' } }), /needs OpenCV.*apt-get install|cannot open camera 97/s);
  });
});
