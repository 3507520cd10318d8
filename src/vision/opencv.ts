/**
 * Lazy, optional OpenCV (`@u4/opencv4nodejs` built against the system OpenCV). Everything that
 * does not need OpenCV (meta-training, preprocessing, the calibration maths) must work without it,
 * so the binding is imported only here, on first use, and typed by the narrow surface we use.
 */
export interface CvPoint2 {
  x: number;
  y: number;
}
export interface CvPoint3 extends CvPoint2 {
  z: number;
}
export interface CvVec3 {
  x: number;
  y: number;
  z: number;
}

export interface CvMat {
  readonly rows: number;
  readonly cols: number;
  readonly channels: number;
  readonly type: number;
  readonly empty: boolean;
  getData(): Buffer;
  getDataAsArray(): number[][];
  getRegion(rect: unknown): CvMat;
  resize(rows: number, cols: number, fx?: number, fy?: number, interpolation?: number): CvMat;
  convertTo(type: number, alpha?: number, beta?: number): CvMat;
  cvtColor(code: number): CvMat;
  findChessboardCorners(patternSize: unknown, flags?: number): { returnValue: boolean; corners: CvPoint2[] };
  cornerSubPix(corners: CvPoint2[], winSize: unknown, zeroZone: unknown, criteria: unknown): CvPoint2[];
  release(): void;
}

export interface CvVideoCapture {
  read(): CvMat;
  get(prop: number): number;
  set(prop: number, value: number): boolean;
  release(): void;
}

export interface OpenCv {
  Mat: {
    new (data: Buffer, rows: number, cols: number, type?: number): CvMat;
    new (rows: number, cols: number, type: number, fill?: number | number[]): CvMat;
    new (data: number[][], type: number): CvMat;
  };
  Size: new (width: number, height: number) => unknown;
  Rect: new (x: number, y: number, width: number, height: number) => unknown;
  Point2: new (x: number, y: number) => CvPoint2;
  Point3: new (x: number, y: number, z: number) => CvPoint3;
  TermCriteria: new (type: number, maxCount: number, epsilon: number) => unknown;
  VideoCapture: new (source: string | number) => CvVideoCapture;
  VideoWriter: {
    new (file: string, fourcc: number, fps: number, frameSize: unknown, isColor?: boolean): { write(frame: CvMat): void; release(): void };
    fourcc(code: string): number;
  };
  imread(path: string, flags?: number): CvMat;
  imwrite(path: string, mat: CvMat): void;
  calibrateCameraExtended(
    objectPoints: CvPoint3[][],
    imagePoints: CvPoint2[][],
    imageSize: unknown,
    cameraMatrix: CvMat,
    distCoeffs: number[],
    flags?: number,
    criteria?: unknown,
  ): { returnValue: number; rvecs: CvVec3[]; tvecs: CvVec3[]; distCoeffs: number[]; perViewErrors: number[] };
  solvePnP(
    objectPoints: CvPoint3[],
    imagePoints: CvPoint2[],
    cameraMatrix: CvMat,
    distCoeffs: number[],
  ): { returnValue: boolean; rvec: CvVec3; tvec: CvVec3 };
  readonly CV_8UC1: number;
  readonly CV_8UC3: number;
  readonly CV_32FC3: number;
  readonly CV_64F: number;
  readonly INTER_AREA: number;
  readonly INTER_LINEAR: number;
  readonly COLOR_BGR2RGB: number;
  readonly COLOR_BGR2GRAY: number;
  readonly COLOR_GRAY2RGB: number;
  readonly IMREAD_COLOR: number;
  readonly IMREAD_GRAYSCALE: number;
  readonly CAP_PROP_FRAME_WIDTH: number;
  readonly CAP_PROP_FRAME_HEIGHT: number;
  readonly CAP_PROP_FPS: number;
  readonly CAP_PROP_POS_MSEC: number;
  readonly CALIB_CB_ADAPTIVE_THRESH: number;
  readonly CALIB_CB_NORMALIZE_IMAGE: number;
  readonly termCriteria: { readonly EPS: number; readonly MAX_ITER: number; readonly COUNT: number };
  readonly SOLVEPNP_ITERATIVE: number;
}

export const OPENCV_INSTALL_HINT =
  'OpenCV is not available. Install it with: apt-get install -y libopencv-dev libopencv-contrib-dev && ' +
  'OPENCV4NODEJS_DISABLE_AUTOBUILD=1 OPENCV_INCLUDE_DIR=/usr/include/opencv4 ' +
  'OPENCV_LIB_DIR=/usr/lib/x86_64-linux-gnu OPENCV_BIN_DIR=/usr/bin npm install @u4/opencv4nodejs@7.1.2 ' +
  '(builds for about 10 minutes; on other architectures point OPENCV_LIB_DIR at the multiarch lib folder)';

export class OpenCvUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super(`${OPENCV_INSTALL_HINT}. Loading it failed with: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`);
    this.name = 'OpenCvUnavailableError';
  }
}

let loaded: Promise<OpenCv> | undefined;

/** The binding's build helper logs its configuration on stdout at load time, which would corrupt --json output. */
async function silenceBuildLogger(): Promise<void> {
  try {
    const specifier = '@u4/opencv-build';
    const mod = (await import(specifier)) as { Log?: { silence: boolean } };
    if (mod.Log) mod.Log.silence = true;
  } catch {
    // Not fatal: only the log lines stay.
  }
}

/** Imports the binding once; rejects with `OpenCvUnavailableError` (install recipe) when missing. */
export function loadOpenCv(): Promise<OpenCv> {
  loaded ??= (async () => {
    // A non-literal specifier keeps TypeScript from requiring the optional package at build time.
    const specifier = '@u4/opencv4nodejs';
    // We link the system OpenCV; without this the loader looks for (and may try) its own build.
    process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
    try {
      await silenceBuildLogger();
      const mod = (await import(specifier)) as { default?: OpenCv } & OpenCv;
      return mod.default ?? mod;
    } catch (err) {
      throw new OpenCvUnavailableError(err);
    }
  })();
  return loaded;
}

/** True when the binding loads; never throws. */
export async function openCvAvailable(): Promise<boolean> {
  try {
    await loadOpenCv();
    return true;
  } catch {
    return false;
  }
}
