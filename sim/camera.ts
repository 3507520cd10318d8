/**
 * A pinhole camera rendered with MuJoCo's own ray casting (`mj_multiRay`): the WebAssembly build
 * has no OpenGL renderer, so each pixel is one ray from the optical centre through the pixel centre.
 *
 * Frames and conventions (REP-103 / REP-105, OpenCV):
 * - The camera pose is the pose of its *optical frame* in the MuJoCo world frame: x right, y down,
 *   z forward (along the optical axis). A MuJoCo `<camera>` looks along its own -z with y up; it is
 *   converted (optical = mujoco · diag(1, -1, -1)).
 * - Pixel (u, v) = (column, row), integer coordinates at pixel centres; the top-left pixel is (0, 0).
 *   A camera-frame point (x, y, z) projects to u = fx·x/z + cx, v = fy·y/z + cy, the same K that
 *   `cameraInfo()` publishes. With a field of view, cx = (W-1)/2, cy = (H-1)/2 and
 *   fy = (H/2)/tan(fovy/2) (fovy spans the full image height, edge to edge, as in MuJoCo), fx = fy.
 * - Depth is the z-depth in metres (distance along the optical axis, not along the ray), float32.
 *   Pixels whose ray hits nothing get `missDepth` (default +Infinity, "no return within range" as
 *   in REP-117); their colour is `background`.
 * - Colour: the hit geom's rgba (its material's rgba when it has a material), Lambert-shaded by a
 *   fixed world direction light plus ambient: c = rgb · (ambient + (1-ambient)·max(0, n·l)).
 *   Alpha is not blended: MuJoCo's rays skip geoms with alpha 0 and stop at any other geom.
 *   Only geoms are seen (not sites, tendons or flexes).
 *
 * Render after `mj_forward` (or `mj_kinematics`): rays use the geom poses in `data`; after `mj_step`
 * those are the poses at the start of that step.
 */
import type { MainModule, MjData, MjModel, IntBuffer, DoubleBuffer } from '@mujoco/mujoco';

export type Vec3 = readonly [number, number, number] | ArrayLike<number>;

/** Optical-frame pose, either looking at a target or given as a quaternion (geometry_msgs/Pose order). */
export type CameraPose =
  | { position: Vec3; target: Vec3; /** World "up" hint, default +z (REP-103). */ up?: Vec3 }
  | { position: Vec3; orientation: { x: number; y: number; z: number; w: number } };

export interface PinholeIntrinsics {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

export interface RayCameraOptions {
  /** Image height in pixels (default 48, as the GMPS vision policy). */
  height?: number;
  /** Image width in pixels (default 64). */
  width?: number;
  /** Vertical field of view in degrees (default 45, MuJoCo's default). Ignored with `intrinsics`. */
  fovyDeg?: number;
  /** Explicit pinhole intrinsics in pixels (instead of `fovyDeg`). */
  intrinsics?: PinholeIntrinsics;
  /** Fixed pose of the optical frame in the world. Required unless `mjcfCamera` is given. */
  pose?: CameraPose;
  /**
   * Render from a `<camera>` of the model (name or id): its pose is read from `data.cam_xpos` /
   * `data.cam_xmat` at every frame, so cameras attached to moving bodies follow them. Its `fovy`
   * (or `focal` + `sensorsize`) sets the intrinsics unless `intrinsics` is given.
   */
  mjcfCamera?: string | number;
  /** Body (name or id) whose geoms the rays ignore, e.g. the camera mount. */
  excludeBody?: string | number;
  /** Geom groups (0..5) the rays see; default all. */
  geomGroups?: readonly number[];
  /** Whether static (world-body) geoms are seen (default true). */
  includeStatic?: boolean;
  /** Colour of pixels whose ray hits nothing, RGB 0..255 (default [0, 0, 0]). */
  background?: readonly [number, number, number];
  /** World direction pointing *towards* the light (default normalize([0.3, -0.4, 1]): from above). */
  lightDir?: Vec3;
  /** Ambient fraction of the colour in [0, 1] (default 0.35). */
  ambient?: number;
  /** Geoms whose centre is farther than this (metres, plus their bounding radius) are ignored (default 1e6). */
  maxDistance?: number;
  /** Depth written for misses (default +Infinity; 0 or NaN are common alternatives). */
  missDepth?: number;
}

/** One rendered frame. The arrays are the camera's own buffers, overwritten by the next `render`. */
export interface CameraFrame {
  height: number;
  width: number;
  /** RGB8, row-major H x W x 3. */
  rgb: Uint8Array;
  /** z-depth in metres, row-major H x W; `missDepth` where nothing was hit. */
  depth: Float32Array;
  /** Id of the geom seen at each pixel, -1 for a miss. */
  geomId: Int32Array;
}

/** `sensor_msgs/msg/CameraInfo` as a plain object (ROS 2 field names). */
export interface CameraInfoMsg {
  header: { stamp: { sec: number; nanosec: number }; frame_id: string };
  height: number;
  width: number;
  distortion_model: string;
  d: number[];
  k: number[];
  r: number[];
  p: number[];
  binning_x: number;
  binning_y: number;
  roi: { x_offset: number; y_offset: number; height: number; width: number; do_rectify: boolean };
}

const NGROUP = 6;

function vec3(v: Vec3, what: string): [number, number, number] {
  if (v == null || v.length !== 3) throw new Error(`${what} must be 3 numbers [x, y, z]`);
  const out: [number, number, number] = [Number(v[0]), Number(v[1]), Number(v[2])];
  if (!out.every(Number.isFinite)) throw new Error(`${what} must be finite, got [${out.join(', ')}]`);
  return out;
}

function normalize(v: [number, number, number], what: string): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (!(n > 1e-12)) throw new Error(`${what} must be a non-zero vector`);
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a: readonly number[], b: readonly number[]): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/**
 * Rotation of the optical frame in the world as a row-major 3x3 matrix whose columns are the
 * optical x (right), y (down), z (forward) axes in world coordinates.
 */
export function opticalRotation(pose: CameraPose): Float64Array {
  const R = new Float64Array(9);
  if ('target' in pose) {
    const p = vec3(pose.position, 'pose.position');
    const t = vec3(pose.target, 'pose.target');
    const z = normalize([t[0] - p[0], t[1] - p[1], t[2] - p[2]], 'pose.target - pose.position');
    const up = normalize(vec3(pose.up ?? [0, 0, 1], 'pose.up'), 'pose.up');
    const xr = cross(z, up);
    if (Math.hypot(...xr) < 1e-9) {
      throw new Error('pose.up is parallel to the viewing direction: give another up vector');
    }
    const x = normalize(xr, 'optical x');
    const y = cross(z, x);
    for (let i = 0; i < 3; i++) {
      R[3 * i] = x[i];
      R[3 * i + 1] = y[i];
      R[3 * i + 2] = z[i];
    }
    return R;
  }
  const q = pose.orientation;
  const qq = [q?.w, q?.x, q?.y, q?.z].map(Number);
  if (!qq.every(Number.isFinite)) throw new Error('pose.orientation must be {x, y, z, w} finite numbers');
  const n = Math.hypot(...qq);
  if (!(n > 1e-12)) throw new Error('pose.orientation must be a non-zero quaternion');
  const [w, x, y, z] = qq.map((c) => c / n);
  R[0] = 1 - 2 * (y * y + z * z);
  R[1] = 2 * (x * y - z * w);
  R[2] = 2 * (x * z + y * w);
  R[3] = 2 * (x * y + z * w);
  R[4] = 1 - 2 * (x * x + z * z);
  R[5] = 2 * (y * z - x * w);
  R[6] = 2 * (x * z - y * w);
  R[7] = 2 * (y * z + x * w);
  R[8] = 1 - 2 * (x * x + y * y);
  return R;
}

function resolveId(mj: MainModule, model: MjModel, type: number, kind: string, id: string | number, count: number): number {
  if (typeof id === 'number') {
    if (!Number.isInteger(id) || id < 0 || id >= count) {
      throw new Error(`${kind} id ${id} is out of range: the model has ${count} ${kind}s`);
    }
    return id;
  }
  const found = mj.mj_name2id(model, type, id);
  if (found < 0) throw new Error(`the model has no ${kind} named '${id}'`);
  return found;
}

/** Ray-cast pinhole camera over one MjModel. Call `close()` to free its WebAssembly buffers. */
export class RayCamera {
  readonly height: number;
  readonly width: number;
  readonly intrinsics: PinholeIntrinsics;
  /** Id of the MJCF camera rendered from, or -1 for a free pose. */
  readonly mjcfCameraId: number;
  private readonly n: number;
  private readonly dirCam: Float64Array;
  private readonly vec: Float64Array;
  private readonly pnt = [0, 0, 0];
  private readonly R = new Float64Array(9);
  private readonly light: [number, number, number];
  private readonly ambient: number;
  private readonly bg: readonly [number, number, number];
  private readonly missDepth: number;
  private readonly groups: number[] | null;
  private readonly includeStatic: boolean;
  private readonly excludeBodyId: number;
  private readonly cutoff: number;
  private colors: Float32Array;
  private geomBuf: IntBuffer | null;
  private distBuf: DoubleBuffer | null;
  private normalBuf: DoubleBuffer | null;
  private geomView: Int32Array | null = null;
  private distView: Float64Array | null = null;
  private normalView: Float64Array | null = null;
  private readonly frame: CameraFrame;
  private poseDirty = true;

  constructor(
    private readonly mj: MainModule,
    private readonly model: MjModel,
    opts: RayCameraOptions = {},
  ) {
    const height = opts.height ?? 48;
    const width = opts.width ?? 64;
    for (const [name, v] of [['height', height], ['width', width]] as const) {
      if (!Number.isInteger(v) || v <= 0) throw new Error(`camera ${name} must be a positive integer, got ${v}`);
    }
    this.height = height;
    this.width = width;
    this.n = height * width;

    this.mjcfCameraId =
      opts.mjcfCamera === undefined
        ? -1
        : resolveId(mj, model, mj.mjtObj.mjOBJ_CAMERA.value, 'camera', opts.mjcfCamera, model.ncam);
    if (this.mjcfCameraId < 0 && !opts.pose) {
      throw new Error('camera needs a pose ({position, target} or {position, orientation}) or mjcfCamera');
    }
    this.intrinsics = this.resolveIntrinsics(opts);
    if (opts.pose) this.setPose(opts.pose);

    this.light = normalize(vec3(opts.lightDir ?? [0.3, -0.4, 1], 'lightDir'), 'lightDir');
    this.ambient = opts.ambient ?? 0.35;
    if (!(this.ambient >= 0 && this.ambient <= 1)) throw new Error(`ambient must be in [0, 1], got ${opts.ambient}`);
    const bg = opts.background ?? [0, 0, 0];
    if (bg.length !== 3 || !bg.every((c) => c >= 0 && c <= 255)) {
      throw new Error('background must be [r, g, b] with components in 0..255');
    }
    this.bg = [Math.round(bg[0]), Math.round(bg[1]), Math.round(bg[2])];
    this.missDepth = opts.missDepth ?? Number.POSITIVE_INFINITY;
    this.cutoff = opts.maxDistance ?? 1e6;
    if (!(this.cutoff > 0)) throw new Error(`maxDistance must be positive, got ${opts.maxDistance}`);
    this.includeStatic = opts.includeStatic ?? true;
    if (opts.geomGroups) {
      this.groups = new Array(NGROUP).fill(0);
      for (const g of opts.geomGroups) {
        if (!Number.isInteger(g) || g < 0 || g >= NGROUP) throw new Error(`geomGroups entries must be 0..5, got ${g}`);
        this.groups[g] = 1;
      }
    } else {
      this.groups = null;
    }
    this.excludeBodyId =
      opts.excludeBody === undefined
        ? -1
        : resolveId(mj, model, mj.mjtObj.mjOBJ_BODY.value, 'body', opts.excludeBody, model.nbody);

    // Camera-frame ray through each pixel centre, scaled to unit z so that the distance
    // mj_multiRay returns (in multiples of the ray vector) is the z-depth itself.
    const { fx, fy, cx, cy } = this.intrinsics;
    this.dirCam = new Float64Array(3 * this.n);
    for (let v = 0, i = 0; v < height; v++) {
      for (let u = 0; u < width; u++, i++) {
        this.dirCam[3 * i] = (u - cx) / fx;
        this.dirCam[3 * i + 1] = (v - cy) / fy;
        this.dirCam[3 * i + 2] = 1;
      }
    }
    this.vec = new Float64Array(3 * this.n);
    this.colors = new Float32Array(3 * model.ngeom);
    this.refreshColors();

    this.geomBuf = new mj.IntBuffer(this.n);
    this.distBuf = new mj.DoubleBuffer(this.n);
    this.normalBuf = new mj.DoubleBuffer(3 * this.n);
    this.frame = {
      height,
      width,
      rgb: new Uint8Array(3 * this.n),
      depth: new Float32Array(this.n),
      geomId: new Int32Array(this.n),
    };
  }

  private resolveIntrinsics(opts: RayCameraOptions): PinholeIntrinsics {
    const { height, width } = this;
    if (opts.intrinsics) {
      const k = opts.intrinsics;
      if (![k.fx, k.fy, k.cx, k.cy].every(Number.isFinite) || !(k.fx > 0 && k.fy > 0)) {
        throw new Error('intrinsics need finite fx, fy > 0 and finite cx, cy (pixels)');
      }
      return { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy };
    }
    const cx = (width - 1) / 2;
    const cy = (height - 1) / 2;
    if (opts.fovyDeg === undefined && this.mjcfCameraId >= 0) {
      const c = this.mjcfCameraId;
      if (this.model.cam_projection && this.model.cam_projection[c] !== 0) {
        throw new Error('orthographic MJCF cameras are not supported by the ray-cast camera');
      }
      const sensor = this.model.cam_sensorsize as Float32Array;
      if (sensor && sensor[2 * c] > 0 && sensor[2 * c + 1] > 0) {
        const intr = this.model.cam_intrinsic as Float32Array;
        if (intr[4 * c + 2] !== 0 || intr[4 * c + 3] !== 0) {
          throw new Error('MJCF camera principal point offsets are not supported: give intrinsics explicitly');
        }
        return { fx: (intr[4 * c] / sensor[2 * c]) * width, fy: (intr[4 * c + 1] / sensor[2 * c + 1]) * height, cx, cy };
      }
      return RayCamera.fromFovy(this.model.cam_fovy[c], height, cx, cy);
    }
    return RayCamera.fromFovy(opts.fovyDeg ?? 45, height, cx, cy);
  }

  private static fromFovy(fovyDeg: number, height: number, cx: number, cy: number): PinholeIntrinsics {
    if (!(fovyDeg > 0 && fovyDeg < 180)) throw new Error(`fovyDeg must be in (0, 180), got ${fovyDeg}`);
    const fy = height / 2 / Math.tan(((fovyDeg / 2) * Math.PI) / 180);
    return { fx: fy, fy, cx, cy };
  }

  /** Sets a fixed pose (only for cameras not bound to an MJCF camera). */
  setPose(pose: CameraPose): void {
    if (this.mjcfCameraId >= 0) throw new Error('this camera follows an MJCF camera; its pose comes from the model');
    const p = vec3(pose.position, 'pose.position');
    this.R.set(opticalRotation(pose));
    this.pnt[0] = p[0];
    this.pnt[1] = p[1];
    this.pnt[2] = p[2];
    this.poseDirty = true;
  }

  /** Optical-frame position (world) and rotation (row-major, columns = optical axes) used by the last render. */
  pose(): { position: [number, number, number]; rotation: Float64Array } {
    return { position: [this.pnt[0], this.pnt[1], this.pnt[2]], rotation: Float64Array.from(this.R) };
  }

  /** Re-reads geom and material colours (after changing `geom_rgba` / `mat_rgba`, e.g. domain randomisation). */
  refreshColors(): void {
    const m = this.model;
    const rgba = m.geom_rgba as Float32Array;
    const matid = m.geom_matid as Int32Array;
    const matRgba = m.nmat > 0 ? (m.mat_rgba as Float32Array) : null;
    for (let g = 0; g < m.ngeom; g++) {
      const src = matid[g] >= 0 && matRgba ? matRgba : rgba;
      const o = matid[g] >= 0 && matRgba ? 4 * matid[g] : 4 * g;
      for (let c = 0; c < 3; c++) this.colors[3 * g + c] = Math.min(1, Math.max(0, src[o + c])) * 255;
    }
  }

  private updatePoseFromModel(data: MjData): void {
    const c = this.mjcfCameraId;
    const xpos = data.cam_xpos as Float64Array;
    const xmat = data.cam_xmat as Float64Array;
    const M = this.R;
    for (let i = 0; i < 3; i++) {
      this.pnt[i] = xpos[3 * c + i];
      M[3 * i] = xmat[9 * c + 3 * i];
      M[3 * i + 1] = -xmat[9 * c + 3 * i + 1];
      M[3 * i + 2] = -xmat[9 * c + 3 * i + 2];
    }
    this.poseDirty = true;
  }

  private updateRays(): void {
    const R = this.R;
    const d = this.dirCam;
    const v = this.vec;
    for (let i = 0; i < 3 * this.n; i += 3) {
      const x = d[i];
      const y = d[i + 1];
      v[i] = R[0] * x + R[1] * y + R[2];
      v[i + 1] = R[3] * x + R[4] * y + R[5];
      v[i + 2] = R[6] * x + R[7] * y + R[8];
    }
    this.poseDirty = false;
  }

  // Typed-array views into WebAssembly memory detach when that memory grows: re-fetch them then.
  private views(): [Int32Array, Float64Array, Float64Array] {
    if (!this.geomBuf || !this.distBuf || !this.normalBuf) throw new Error('camera is closed');
    if (!this.geomView || this.geomView.length !== this.n) this.geomView = this.geomBuf.GetView() as Int32Array;
    if (!this.distView || this.distView.length !== this.n) this.distView = this.distBuf.GetView() as Float64Array;
    if (!this.normalView || this.normalView.length !== 3 * this.n) {
      this.normalView = this.normalBuf.GetView() as Float64Array;
    }
    return [this.geomView, this.distView, this.normalView];
  }

  /** Renders one frame from the geom poses in `data` with a single `mj_multiRay` call. */
  render(data: MjData): CameraFrame {
    if (!this.geomBuf || !this.distBuf || !this.normalBuf) throw new Error('camera is closed');
    if (this.mjcfCameraId >= 0) this.updatePoseFromModel(data);
    if (this.poseDirty) this.updateRays();
    this.mj.mj_multiRay(
      this.model,
      data,
      this.pnt,
      this.vec as unknown as number[],
      this.groups as number[],
      this.includeStatic,
      this.excludeBodyId,
      this.geomBuf,
      this.distBuf,
      this.normalBuf,
      this.n,
      this.cutoff,
    );
    const [gid, dist, nrm] = this.views();
    const { rgb, depth, geomId } = this.frame;
    const [lx, ly, lz] = this.light;
    const amb = this.ambient;
    const diff = 1 - amb;
    const col = this.colors;
    const [br, bgc, bb] = this.bg;
    const miss = this.missDepth;
    for (let i = 0; i < this.n; i++) {
      const g = gid[i];
      geomId[i] = g;
      const o = 3 * i;
      if (g < 0) {
        depth[i] = miss;
        rgb[o] = br;
        rgb[o + 1] = bgc;
        rgb[o + 2] = bb;
        continue;
      }
      depth[i] = dist[i];
      const lambert = nrm[o] * lx + nrm[o + 1] * ly + nrm[o + 2] * lz;
      const s = amb + (lambert > 0 ? diff * lambert : 0);
      const c = 3 * g;
      // Uint8Array assignment truncates; +0.5 rounds to nearest.
      rgb[o] = col[c] * s + 0.5;
      rgb[o + 1] = col[c + 1] * s + 0.5;
      rgb[o + 2] = col[c + 2] * s + 0.5;
    }
    return this.frame;
  }

  /** Projects a world point to pixel coordinates (u, v) and its z-depth, with the current pose. */
  project(world: Vec3): { u: number; v: number; depth: number } {
    const p = vec3(world, 'point');
    const d = [p[0] - this.pnt[0], p[1] - this.pnt[1], p[2] - this.pnt[2]];
    const R = this.R;
    const x = R[0] * d[0] + R[3] * d[1] + R[6] * d[2];
    const y = R[1] * d[0] + R[4] * d[1] + R[7] * d[2];
    const z = R[2] * d[0] + R[5] * d[1] + R[8] * d[2];
    const { fx, fy, cx, cy } = this.intrinsics;
    return { u: (fx * x) / z + cx, v: (fy * y) / z + cy, depth: z };
  }

  /**
   * `sensor_msgs/msg/CameraInfo` for this camera: no distortion, R = identity, P = [K | 0].
   * `stamp` is seconds (number) or a ROS time {sec, nanosec}.
   */
  cameraInfo(frameId: string, stamp: number | { sec: number; nanosec: number } = 0): CameraInfoMsg {
    let t: { sec: number; nanosec: number };
    if (typeof stamp === 'number') {
      if (!Number.isFinite(stamp) || stamp < 0) throw new Error(`stamp must be non-negative seconds, got ${stamp}`);
      const sec = Math.floor(stamp);
      const nanosec = Math.min(999_999_999, Math.round((stamp - sec) * 1e9));
      t = { sec, nanosec };
    } else {
      t = { sec: stamp.sec, nanosec: stamp.nanosec };
    }
    const { fx, fy, cx, cy } = this.intrinsics;
    return {
      header: { stamp: t, frame_id: frameId },
      height: this.height,
      width: this.width,
      distortion_model: 'plumb_bob',
      d: [0, 0, 0, 0, 0],
      k: [fx, 0, cx, 0, fy, cy, 0, 0, 1],
      r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
      p: [fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0],
      binning_x: 0,
      binning_y: 0,
      roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
    };
  }

  /** Frees the WebAssembly buffers; the camera cannot render afterwards. Safe to call twice. */
  close(): void {
    for (const b of [this.geomBuf, this.distBuf, this.normalBuf]) b?.delete();
    this.geomBuf = this.distBuf = this.normalBuf = null;
    this.geomView = this.distView = this.normalView = null;
  }
}

/**
 * Median rendering rate (frames per second) of `camera` over `repeats` runs of `frames` renders.
 * Runs `mj_forward` once first so the geom poses are current. `clock: 'cpu'` divides by this
 * process's CPU time instead of wall time: the rate on one core, steadier on a loaded machine.
 */
export function benchCamera(
  mj: MainModule,
  model: MjModel,
  data: MjData,
  camera: RayCamera,
  frames: number,
  repeats = 5,
  clock: 'wall' | 'cpu' = 'wall',
): number {
  if (!Number.isInteger(frames) || frames <= 0) throw new Error(`frames must be a positive integer, got ${frames}`);
  if (!Number.isInteger(repeats) || repeats <= 0) throw new Error(`repeats must be a positive integer, got ${repeats}`);
  if (clock !== 'wall' && clock !== 'cpu') throw new Error(`clock must be 'wall' or 'cpu', got ${String(clock)}`);
  const seconds =
    clock === 'wall'
      ? () => Number(process.hrtime.bigint()) / 1e9
      : () => {
          const u = process.cpuUsage();
          return (u.user + u.system) / 1e6;
        };
  mj.mj_forward(model, data);
  for (let i = 0; i < Math.min(frames, 20); i++) camera.render(data);
  const rates: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = seconds();
    for (let i = 0; i < frames; i++) camera.render(data);
    rates.push(frames / Math.max(seconds() - t0, 1e-9));
  }
  rates.sort((a, b) => a - b);
  const mid = rates.length >> 1;
  return rates.length % 2 ? rates[mid] : (rates[mid - 1] + rates[mid]) / 2;
}
