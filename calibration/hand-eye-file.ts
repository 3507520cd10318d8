/**
 * Files of the eye-to-hand calibration: the recorded samples (arm pose + image or board pose per
 * entry) and the result, a static transform base -> camera optical frame with its residuals.
 *
 * Samples file (YAML or JSON), paths relative to the file:
 *   samples:
 *     - base_to_gripper: {translation: {x, y, z}, rotation: {x, y, z, w}}   # forward kinematics
 *       image: pose_00.png                     # needs --intrinsics and --board
 *     - base_to_gripper: {...}
 *       camera_to_board: {translation: {...}, rotation: {...}}   # instead of an image
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import YAML from 'yaml';
import type { HandEyeResult } from './hand-eye.js';
import { poseFromRecord, poseToRecord, type Pose, type TransformRecord } from './transforms.js';

export interface HandEyeSampleEntry {
  baseToGripper: Pose;
  image?: string;
  cameraToBoard?: Pose;
}

function transformField(v: unknown, where: string): Pose {
  const o = v as { translation?: Record<string, unknown>; rotation?: Record<string, unknown> } | undefined;
  const t = o?.translation;
  const r = o?.rotation;
  const nums = (x: Record<string, unknown> | undefined, keys: string[]) =>
    x !== undefined && keys.every((k) => typeof x[k] === 'number' && Number.isFinite(x[k] as number));
  if (!nums(t, ['x', 'y', 'z'])) throw new Error(`${where}.translation must have finite numbers x, y, z (metres)`);
  if (!nums(r, ['x', 'y', 'z', 'w'])) throw new Error(`${where}.rotation must be a quaternion with numbers x, y, z, w`);
  const q = r as unknown as TransformRecord['rotation'];
  if (Math.abs(Math.hypot(q.x, q.y, q.z, q.w) - 1) > 0.01) throw new Error(`${where}.rotation is not a unit quaternion`);
  return poseFromRecord(o as unknown as TransformRecord);
}

export function readHandEyeSamples(file: string): HandEyeSampleEntry[] {
  const doc = YAML.parse(readFileSync(file, 'utf8')) as { samples?: unknown } | null;
  if (!doc || !Array.isArray(doc.samples)) {
    throw new Error(`${file}: field 'samples' is missing (a list of {base_to_gripper, image | camera_to_board})`);
  }
  const base = dirname(file);
  return doc.samples.map((s: Record<string, unknown>, i: number) => {
    const where = `${file}: samples[${i}]`;
    if (typeof s !== 'object' || s === null) throw new Error(`${where} must be a mapping`);
    if (s.base_to_gripper === undefined) throw new Error(`${where}.base_to_gripper is missing`);
    const entry: HandEyeSampleEntry = { baseToGripper: transformField(s.base_to_gripper, `${where}.base_to_gripper`) };
    if (s.camera_to_board !== undefined) entry.cameraToBoard = transformField(s.camera_to_board, `${where}.camera_to_board`);
    else if (typeof s.image === 'string') entry.image = isAbsolute(s.image) ? s.image : join(base, s.image);
    else throw new Error(`${where} needs 'image' (a file name) or 'camera_to_board' (a transform)`);
    return entry;
  });
}

export interface HandEyeFileMeta {
  parentFrame: string;
  childFrame: string;
  samplesUsed: number;
  samplesSkipped: string[];
}

export function formatHandEye(result: HandEyeResult, meta: HandEyeFileMeta): string {
  const doc = new YAML.Document({
    parent_frame: meta.parentFrame,
    child_frame: meta.childFrame,
    transform: poseToRecord(result.baseToCamera),
    gripper_to_board: poseToRecord(result.gripperToBoard),
    method: result.method,
    residuals: {
      rms_translation_m: result.rmsTranslationM,
      rms_rotation_rad: result.rmsRotationRad,
      samples_used: meta.samplesUsed,
      samples_skipped: meta.samplesSkipped,
      per_sample: result.residuals,
    },
  });
  doc.commentBefore =
    ' Eye-to-hand calibration (gmps calibrate extrinsics): pose of the camera optical frame (z forward, x right,\n' +
    ' y down) in the robot base frame, p_parent = R(rotation) p_child + translation; publish as a static transform.';
  YAML.visit(doc, {
    Map(_k, node) {
      const keys = node.items.map((i) => String((i.key as { value?: unknown })?.value ?? i.key));
      if (keys.join() === 'x,y,z' || keys.join() === 'x,y,z,w' || keys.join() === 'translation_m,rotation_rad') node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

export function writeHandEye(file: string, result: HandEyeResult, meta: HandEyeFileMeta): void {
  writeFileSync(file, formatHandEye(result, meta));
}

export interface CameraExtrinsics {
  parentFrame: string;
  childFrame: string;
  baseToCamera: Pose;
}

export function readHandEye(file: string): CameraExtrinsics {
  let doc: Record<string, unknown> | null;
  try {
    doc = YAML.parse(readFileSync(file, 'utf8')) as Record<string, unknown> | null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'does not exist (run `gmps calibrate extrinsics` to make it)' : (err as Error).message}`);
  }
  if (!doc || doc.transform === undefined) throw new Error(`${file}: field 'transform' is missing`);
  return {
    parentFrame: typeof doc.parent_frame === 'string' ? doc.parent_frame : 'base',
    childFrame: typeof doc.child_frame === 'string' ? doc.child_frame : 'camera_optical_frame',
    baseToCamera: transformField(doc.transform, `${file}: transform`),
  };
}
