/**
 * Camera calibration files in the `camera_calibration_parsers` YAML format (what ROS's
 * `camera_calibration` writes and `camera_info_manager` reads), and their reading back into the
 * fields of `sensor_msgs/CameraInfo`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';

export type DistortionModel = 'plumb_bob' | 'rational_polynomial' | 'equidistant';
const DISTORTION_LENGTHS: Record<DistortionModel, number[]> = {
  plumb_bob: [5],
  rational_polynomial: [8],
  equidistant: [4],
};

export interface CameraCalibration {
  imageWidth: number;
  imageHeight: number;
  cameraName: string;
  /** 3x3 row-major. */
  cameraMatrix: number[];
  distortionModel: DistortionModel;
  distortionCoefficients: number[];
  /** 3x3 row-major. */
  rectificationMatrix: number[];
  /** 3x4 row-major. */
  projectionMatrix: number[];
}

/** The `sensor_msgs/msg/CameraInfo` fields a calibration fills (ROS 2 field names). */
export interface CameraInfoFields {
  width: number;
  height: number;
  distortion_model: string;
  d: number[];
  k: number[];
  r: number[];
  p: number[];
}

export function cameraInfoFields(c: CameraCalibration): CameraInfoFields {
  return {
    width: c.imageWidth,
    height: c.imageHeight,
    distortion_model: c.distortionModel,
    d: [...c.distortionCoefficients],
    k: [...c.cameraMatrix],
    r: [...c.rectificationMatrix],
    p: [...c.projectionMatrix],
  };
}

/** Builds a calibration from intrinsics; P = [K | 0] (monocular, no rectification). */
export function calibrationFromIntrinsics(args: {
  width: number;
  height: number;
  cameraName: string;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  distortion: number[];
}): CameraCalibration {
  const { fx, fy, cx, cy } = args;
  return {
    imageWidth: args.width,
    imageHeight: args.height,
    cameraName: args.cameraName,
    cameraMatrix: [fx, 0, cx, 0, fy, cy, 0, 0, 1],
    distortionModel: 'plumb_bob',
    distortionCoefficients: [...args.distortion],
    rectificationMatrix: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    projectionMatrix: [fx, 0, cx, 0, 0, fy, cy, 0, 0, 0, 1, 0],
  };
}

const matrixNode = (rows: number, cols: number, data: number[]) => ({ rows, cols, data });

/** YAML text in the camera_calibration_parsers layout; `comment` lines go on top (e.g. the RMS). */
export function formatCameraCalibration(c: CameraCalibration, comment?: string): string {
  const doc = new YAML.Document({
    image_width: c.imageWidth,
    image_height: c.imageHeight,
    camera_name: c.cameraName,
    camera_matrix: matrixNode(3, 3, c.cameraMatrix),
    distortion_model: c.distortionModel,
    distortion_coefficients: matrixNode(1, c.distortionCoefficients.length, c.distortionCoefficients),
    rectification_matrix: matrixNode(3, 3, c.rectificationMatrix),
    projection_matrix: matrixNode(3, 4, c.projectionMatrix),
  });
  YAML.visit(doc, {
    Seq(_key, node) {
      node.flow = true;
    },
  });
  if (comment) doc.commentBefore = comment.split('\n').map((l) => ` ${l}`).join('\n');
  return doc.toString({ lineWidth: 0 });
}

export function writeCameraCalibration(file: string, c: CameraCalibration, comment?: string): void {
  writeFileSync(file, formatCameraCalibration(c, comment));
}

export class CalibrationFileError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    problem: string,
  ) {
    super(field ? `${file}: field '${field}' ${problem}` : `${file}: ${problem}`);
    this.name = 'CalibrationFileError';
  }
}

function positiveInt(doc: Record<string, unknown>, field: string, file: string): number {
  const v = doc[field];
  if (v === undefined) throw new CalibrationFileError(file, field, 'is missing');
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new CalibrationFileError(file, field, `must be a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function matrixField(
  doc: Record<string, unknown>,
  field: string,
  file: string,
  rows: number,
  cols: number | number[],
): number[] {
  const v = doc[field];
  if (v === undefined) throw new CalibrationFileError(file, field, 'is missing');
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new CalibrationFileError(file, field, 'must be a mapping with rows, cols and data');
  }
  const m = v as Record<string, unknown>;
  const allowedCols = Array.isArray(cols) ? cols : [cols];
  if (m.rows !== rows) throw new CalibrationFileError(file, `${field}.rows`, `must be ${rows}, got ${JSON.stringify(m.rows)}`);
  if (typeof m.cols !== 'number' || !allowedCols.includes(m.cols)) {
    throw new CalibrationFileError(file, `${field}.cols`, `must be ${allowedCols.join(' or ')}, got ${JSON.stringify(m.cols)}`);
  }
  const data = m.data;
  if (!Array.isArray(data) || data.length !== rows * m.cols || !data.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new CalibrationFileError(file, `${field}.data`, `must be a list of ${rows * m.cols} finite numbers`);
  }
  return data as number[];
}

/** Parses calibration YAML text; `file` names the source in errors. */
export function parseCameraCalibration(text: string, file = '<calibration>'): CameraCalibration {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new CalibrationFileError(file, undefined, `is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new CalibrationFileError(file, undefined, 'must be a YAML mapping with image_width, image_height, camera_matrix, ...');
  }
  const d = doc as Record<string, unknown>;
  const model = d.distortion_model;
  if (model === undefined) throw new CalibrationFileError(file, 'distortion_model', 'is missing');
  if (typeof model !== 'string' || !(model in DISTORTION_LENGTHS)) {
    throw new CalibrationFileError(file, 'distortion_model', `must be one of ${Object.keys(DISTORTION_LENGTHS).join(', ')}, got ${JSON.stringify(model)}`);
  }
  const distortionModel = model as DistortionModel;
  const name = d.camera_name ?? '';
  if (typeof name !== 'string') throw new CalibrationFileError(file, 'camera_name', 'must be a string');
  const cameraMatrix = matrixField(d, 'camera_matrix', file, 3, 3);
  if (!(cameraMatrix[0] > 0 && cameraMatrix[4] > 0)) {
    throw new CalibrationFileError(file, 'camera_matrix.data', 'must have positive focal lengths fx (data[0]) and fy (data[4])');
  }
  return {
    imageWidth: positiveInt(d, 'image_width', file),
    imageHeight: positiveInt(d, 'image_height', file),
    cameraName: name,
    cameraMatrix,
    distortionModel,
    distortionCoefficients: matrixField(d, 'distortion_coefficients', file, 1, DISTORTION_LENGTHS[distortionModel]),
    rectificationMatrix: matrixField(d, 'rectification_matrix', file, 3, 3),
    projectionMatrix: matrixField(d, 'projection_matrix', file, 3, 4),
  };
}

export function readCameraCalibration(file: string): CameraCalibration {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CalibrationFileError(
      file,
      undefined,
      code === 'ENOENT' ? 'does not exist (run `gmps calibrate intrinsics` to make it)' : `cannot be read (${code ?? String(err)})`,
    );
  }
  return parseCameraCalibration(text, file);
}
