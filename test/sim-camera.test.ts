import { strict as assert } from 'node:assert';
import loadMujoco, { type MainModule, type MjData, type MjModel } from '@mujoco/mujoco';
import { RayCamera, benchCamera, opticalRotation, type RayCameraOptions } from '../sim/camera.js';

let mj: MainModule;

interface Scene {
  model: MjModel;
  data: MjData;
  close(): void;
}

function scene(worldbody: string, extra = ''): Scene {
  const model = mj.MjModel.from_xml_string(`<mujoco>${extra}<worldbody>${worldbody}</worldbody></mujoco>`);
  const data = new mj.MjData(model);
  mj.mj_forward(model, data);
  return {
    model,
    data,
    close() {
      data.delete();
      model.delete();
    },
  };
}

function withCamera<T>(s: Scene, opts: RayCameraOptions, fn: (cam: RayCamera) => T): T {
  const cam = new RayCamera(mj, s.model, opts);
  try {
    return fn(cam);
  } finally {
    cam.close();
  }
}

const pix = (rgb: Uint8Array, width: number, u: number, v: number): number[] => {
  const o = 3 * (v * width + u);
  return [rgb[o], rgb[o + 1], rgb[o + 2]];
};

// Camera at the origin looking along world +x, world z up: optical (x, y, z) = (-y, -z, x) world.
const lookX = { position: [0, 0, 0], target: [1, 0, 0], up: [0, 0, 1] } as const;

describe('sim/camera: ray-cast pinhole camera', function () {
  before(async function () {
    mj = await loadMujoco();
  });

  it('shows a red box exactly where the projection puts it and background elsewhere', function () {
    const s = scene('<geom type="box" pos="2 0 0" size="0.2 0.2 0.2" rgba="1 0 0 1"/>');
    try {
      withCamera(s, { pose: lookX, background: [0, 0, 255], ambient: 1 }, (cam) => {
        const f = cam.render(s.data);
        const { fx, fy, cx, cy } = cam.intrinsics;
        // Front face at x = 1.8 spans optical x, y in [-0.2, 0.2].
        const half = [(fx * 0.2) / 1.8, (fy * 0.2) / 1.8];
        let red = 0;
        for (let v = 0; v < f.height; v++) {
          for (let u = 0; u < f.width; u++) {
            const du = Math.abs(u - cx);
            const dv = Math.abs(v - cy);
            const c = pix(f.rgb, f.width, u, v);
            if (du < half[0] - 0.5 && dv < half[1] - 0.5) {
              assert.deepEqual(c, [255, 0, 0], `pixel (${u}, ${v}) inside the box projection`);
              assert.ok(Math.abs(f.depth[v * f.width + u] - 1.8) < 1e-6);
              red++;
            } else if (du > half[0] + 0.5 || dv > half[1] + 0.5) {
              assert.deepEqual(c, [0, 0, 255], `pixel (${u}, ${v}) outside the box projection`);
              assert.equal(f.depth[v * f.width + u], Infinity);
              assert.equal(f.geomId[v * f.width + u], -1);
            }
          }
        }
        assert.ok(red > 20, `expected a block of red pixels, got ${red}`);
      });
    } finally {
      s.close();
    }
  });

  it('puts the image upright: world +z is image up, world -y is image right', function () {
    const s = scene(
      '<geom type="sphere" pos="3 0 0.8" size="0.2" rgba="0 1 0 1"/>' +
        '<geom type="sphere" pos="3 -0.8 0" size="0.2" rgba="0 0 1 1"/>',
    );
    try {
      withCamera(s, { pose: lookX, ambient: 1 }, (cam) => {
        const f = cam.render(s.data);
        const up = cam.project([3, 0, 0.8]);
        const right = cam.project([3, -0.8, 0]);
        assert.ok(up.v < cam.intrinsics.cy && Math.abs(up.u - cam.intrinsics.cx) < 1e-9);
        assert.ok(right.u > cam.intrinsics.cx && Math.abs(right.v - cam.intrinsics.cy) < 1e-9);
        assert.deepEqual(pix(f.rgb, f.width, Math.round(up.u), Math.round(up.v)), [0, 255, 0]);
        assert.deepEqual(pix(f.rgb, f.width, Math.round(right.u), Math.round(right.v)), [0, 0, 255]);
      });
    } finally {
      s.close();
    }
  });

  it('reports z-depth: constant over a fronto-parallel plane, range/cos(angle) along each ray', function () {
    const s = scene('<geom type="plane" pos="0 0 0" size="10 10 0.1" rgba="0.5 0.5 0.5 1"/>');
    try {
      withCamera(s, { pose: { position: [0.3, -0.2, 2], target: [0.3, -0.2, 0], up: [0, 1, 0] }, fovyDeg: 70 }, (cam) => {
        const f = cam.render(s.data);
        const { fx, fy, cx, cy } = cam.intrinsics;
        const gid = new mj.IntBuffer(1);
        try {
          for (const [u, v] of [[0, 0], [63, 47], [0, 47], [Math.round(cx), Math.round(cy)], [10, 30]]) {
            const z = f.depth[v * f.width + u];
            assert.ok(Math.abs(z - 2) < 1e-6, `z-depth at (${u}, ${v}) is ${z}, expected 2`);
            // Independent metric range along the unit ray through the pixel centre.
            const x = (u - cx) / fx;
            const y = (v - cy) / fy;
            const norm = Math.hypot(x, y, 1);
            const R = cam.pose().rotation;
            const dir = [0, 1, 2].map((i) => (R[3 * i] * x + R[3 * i + 1] * y + R[3 * i + 2]) / norm);
            const range = mj.mj_ray(s.model, s.data, [0.3, -0.2, 2], dir, null as unknown as number[], true, -1, gid, null);
            const cosAngle = 1 / norm;
            assert.ok(Math.abs(range - z / cosAngle) < 1e-6, `range ${range} vs z/cos ${z / cosAngle}`);
          }
          assert.ok(Math.hypot((0 - cx) / fx, (0 - cy) / fy, 1) > 1.3, 'the corner ray is far enough off-axis');
        } finally {
          gid.delete();
        }
      });
    } finally {
      s.close();
    }
  });

  it('shades the face turned towards the light brighter than the face turned away', function () {
    const s = scene('<geom type="box" pos="0 0 0" size="0.3 0.3 0.3" rgba="0.8 0.8 0.8 1"/>');
    try {
      withCamera(s, { pose: { position: [2, 2, 0.2], target: [0, 0, 0] }, lightDir: [1, 0, 0], ambient: 0.3 }, (cam) => {
        const f = cam.render(s.data);
        const lit = cam.project([0.3, 0, 0]); // centre of the +x face (normal +x, towards the light)
        const dark = cam.project([0, 0.3, 0]); // centre of the +y face (normal +y, perpendicular)
        const a = pix(f.rgb, f.width, Math.round(lit.u), Math.round(lit.v));
        const b = pix(f.rgb, f.width, Math.round(dark.u), Math.round(dark.v));
        assert.deepEqual(a, [204, 204, 204], 'fully lit: 0.8 * 255');
        assert.deepEqual(b, [61, 61, 61], 'ambient only: 0.3 * 0.8 * 255');
      });
    } finally {
      s.close();
    }
  });

  it('uses the material colour when the geom has a material', function () {
    const s = scene(
      '<geom type="box" pos="2 0 0" size="0.3 0.3 0.3" material="teal"/>',
      '<asset><material name="teal" rgba="0 0.5 0.5 1"/></asset>',
    );
    try {
      withCamera(s, { pose: lookX, ambient: 1 }, (cam) => {
        const f = cam.render(s.data);
        assert.deepEqual(pix(f.rgb, f.width, 32, 24), [0, 128, 128]);
      });
    } finally {
      s.close();
    }
  });

  it('CameraInfo K projects a known 3-D point onto the pixel that shows it', function () {
    const s = scene(
      '<geom type="sphere" pos="3 -0.4 0.3" size="0.1" rgba="1 1 0 1"/>' +
        '<geom type="box" pos="5 0 0" size="0.1 3 3" rgba="0.2 0.2 0.2 1"/>',
    );
    try {
      const intrinsics = { fx: 50, fy: 60, cx: 30.3, cy: 20.7 };
      withCamera(s, { pose: lookX, intrinsics, ambient: 1 }, (cam) => {
        const f = cam.render(s.data);
        const info = cam.cameraInfo('camera_optical', { sec: 12, nanosec: 5 });
        assert.equal(info.height, 48);
        assert.equal(info.width, 64);
        assert.deepEqual(info.header, { stamp: { sec: 12, nanosec: 5 }, frame_id: 'camera_optical' });
        assert.equal(info.distortion_model, 'plumb_bob');
        assert.deepEqual(info.d, [0, 0, 0, 0, 0]);
        assert.deepEqual(info.r, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert.equal(info.p.length, 12);
        // Optical coordinates of (3, -0.4, 0.3) for a camera looking along +x with z up: (0.4, -0.3, 3).
        const X = [0.4, -0.3, 3];
        const k = info.k;
        const w = k[6] * X[0] + k[7] * X[1] + k[8] * X[2];
        const u = Math.round((k[0] * X[0] + k[1] * X[1] + k[2] * X[2]) / w);
        const v = Math.round((k[3] * X[0] + k[4] * X[1] + k[5] * X[2]) / w);
        const pp = [info.p[0] * X[0] + info.p[2] * X[2], info.p[5] * X[1] + info.p[6] * X[2], X[2]];
        assert.deepEqual([Math.round(pp[0] / pp[2]), Math.round(pp[1] / pp[2])], [u, v], 'P agrees with K');
        assert.deepEqual(pix(f.rgb, f.width, u, v), [255, 255, 0]);
        const z = f.depth[v * f.width + u];
        assert.ok(z > 2.89 && z < 2.92, `depth at the sphere ${z}`);
        // The neighbourhood a few pixels away shows the wall behind, not the sphere.
        assert.deepEqual(pix(f.rgb, f.width, u + 6, v), [51, 51, 51]);
        const secs = cam.cameraInfo('c', 1.25).header.stamp;
        assert.deepEqual(secs, { sec: 1, nanosec: 250_000_000 });
      });
    } finally {
      s.close();
    }
  });

  it('accepts an orientation quaternion (x, y, z, w) equivalent to a look-at pose', function () {
    const Rlook = opticalRotation(lookX);
    const Rq = opticalRotation({ position: [0, 0, 0], orientation: { x: -0.5, y: 0.5, z: -0.5, w: 0.5 } });
    const expected = [0, 0, 1, -1, 0, 0, 0, -1, 0];
    for (let i = 0; i < 9; i++) {
      assert.ok(Math.abs(Rlook[i] - expected[i]) < 1e-12, `look-at R[${i}]`);
      assert.ok(Math.abs(Rq[i] - expected[i]) < 1e-12, `quaternion R[${i}]`);
    }
  });

  it('renders from an MJCF <camera>, following the body it is attached to', function () {
    const s = scene(
      '<geom type="box" pos="0.3 0.2 0" size="0.2 0.1 0.05" rgba="1 0 0 1"/>' +
        '<geom type="sphere" pos="-0.4 -0.1 0" size="0.15" rgba="0 1 0 1"/>' +
        '<body name="rig" pos="0 0 2"><joint name="slide" type="slide" axis="1 0 0"/>' +
        '<geom type="sphere" size="0.01" mass="1" contype="0" conaffinity="0"/>' +
        '<camera name="top" pos="0 0 0" fovy="60"/></body>',
    );
    try {
      const free = new RayCamera(mj, s.model, {
        pose: { position: [0, 0, 2], target: [0, 0, 0], up: [0, 1, 0] },
        fovyDeg: 60,
        excludeBody: 'rig',
      });
      const fromModel = new RayCamera(mj, s.model, { mjcfCamera: 'top', excludeBody: 'rig' });
      try {
        assert.deepEqual(fromModel.intrinsics, free.intrinsics);
        const a = Uint8Array.from(free.render(s.data).rgb);
        const b = fromModel.render(s.data).rgb;
        assert.deepEqual(b, a);
        assert.ok(a.some((c, i) => i % 3 === 0 && c > 0), 'the scene is visible');
        // Move the rig by 0.5 m along x: the MJCF camera follows, the free one stays.
        s.data.qpos[0] = 0.5;
        mj.mj_forward(s.model, s.data);
        free.setPose({ position: [0.5, 0, 2], target: [0.5, 0, 0], up: [0, 1, 0] });
        assert.deepEqual(fromModel.render(s.data).rgb, free.render(s.data).rgb);
        assert.notDeepEqual(Uint8Array.from(fromModel.render(s.data).rgb), a);
      } finally {
        free.close();
        fromModel.close();
      }
    } finally {
      s.close();
    }
  });

  it('excludes the mount body and filters geom groups when asked', function () {
    const s = scene(
      '<body name="mount" pos="0 0 0"><geom type="box" size="0.05 0.05 0.05" rgba="1 1 1 1"/></body>' +
        '<geom type="box" pos="2 0 0" size="0.1 1 1" rgba="1 0 0 1" group="0"/>' +
        '<geom type="box" pos="1 0 0" size="0.1 0.2 0.2" rgba="0 1 0 1" group="2"/>',
    );
    try {
      const centre = 24 * 64 + 32;
      withCamera(s, { pose: lookX }, (cam) => {
        const f = cam.render(s.data);
        assert.ok(f.depth[centre] < 0.1, 'without exclusion the ray hits the mount around the camera');
      });
      withCamera(s, { pose: lookX, excludeBody: 'mount' }, (cam) => {
        const f = cam.render(s.data);
        assert.ok(Math.abs(f.depth[centre] - 0.9) < 1e-6, 'the group-2 box in front');
      });
      withCamera(s, { pose: lookX, excludeBody: 'mount', geomGroups: [0] }, (cam) => {
        const f = cam.render(s.data);
        assert.ok(Math.abs(f.depth[centre] - 1.9) < 1e-6, 'group 2 hidden: the wall behind');
      });
    } finally {
      s.close();
    }
  });

  it('rejects bad sizes, a missing pose and unknown names with clear errors', function () {
    const s = scene('<geom type="sphere" size="0.1"/>');
    try {
      assert.throws(() => new RayCamera(mj, s.model, { pose: lookX, height: 0 }), /height must be a positive integer/);
      assert.throws(() => new RayCamera(mj, s.model, { pose: lookX, width: -4 }), /width must be a positive integer/);
      assert.throws(() => new RayCamera(mj, s.model, { pose: lookX, width: 2.5 }), /width must be a positive integer/);
      assert.throws(() => new RayCamera(mj, s.model, {}), /needs a pose/);
      assert.throws(() => new RayCamera(mj, s.model, { mjcfCamera: 'nope' }), /no camera named 'nope'/);
      assert.throws(() => new RayCamera(mj, s.model, { pose: lookX, excludeBody: 'nope' }), /no body named 'nope'/);
      assert.throws(
        () => new RayCamera(mj, s.model, { pose: { position: [0, 0, 1], target: [0, 0, 0] } }),
        /up is parallel/,
      );
      const cam = new RayCamera(mj, s.model, { pose: lookX });
      cam.close();
      cam.close();
      assert.throws(() => cam.render(s.data), /closed/);
    } finally {
      s.close();
    }
  });

  it('benchCamera returns a positive median frame rate', function () {
    const s = scene('<geom type="box" pos="2 0 0" size="0.2 0.2 0.2"/>');
    try {
      withCamera(s, { pose: lookX }, (cam) => {
        const fps = benchCamera(mj, s.model, s.data, cam, 5, 3);
        assert.ok(Number.isFinite(fps) && fps > 0);
        const cpuFps = benchCamera(mj, s.model, s.data, cam, 5, 3, 'cpu');
        assert.ok(Number.isFinite(cpuFps) && cpuFps > 0);
        assert.throws(() => benchCamera(mj, s.model, s.data, cam, 0), /frames must be a positive integer/);
      });
    } finally {
      s.close();
    }
  });
});
