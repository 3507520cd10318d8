/**
 * Door hinge calibration from hand (gripper) positions recorded while the gripper holds the handle
 * and the door is swung: least-squares plane (the arc's plane, whose normal is the hinge axis),
 * then a least-squares circle in that plane (algebraic fit of Kasa 1976 as the start, refined by
 * Gauss-Newton on the geometric distances). The closed-door sample fixes angle zero and the axis
 * direction is chosen so that opening the door is a positive angle (right-hand rule).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { EigenvalueDecomposition, Matrix, solve } from 'ml-matrix';
import YAML from 'yaml';
import { add3, cross3, dot3, norm3, normalize3, scale3, sub3, type Vec3 } from './transforms.js';

export interface DoorHinge {
  frameId: string;
  /** A point on the hinge axis (the arc's centre), metres. */
  axisPoint: Vec3;
  /** Unit hinge axis; opening the door rotates the handle positively about it. */
  axisDirection: Vec3;
  /** Handle distance from the axis, metres. */
  radiusM: number;
  /** Unit vector from the axis to the handle with the door closed (perpendicular to the axis). */
  zeroDirection: Vec3;
}

export interface DoorHingeFit {
  hinge: DoorHinge;
  samples: number;
  radialRmsM: number;
  planeRmsM: number;
  maxResidualM: number;
  angleRangeRad: [number, number];
}

/** Door opening angle (radians, positive = open) for a hand position on the handle. */
export function doorAngleFromHand(hinge: DoorHinge, handXyz: Vec3): number {
  const rel = sub3(handXyz, hinge.axisPoint);
  const radial = sub3(rel, scale3(hinge.axisDirection, dot3(rel, hinge.axisDirection)));
  return Math.atan2(dot3(cross3(hinge.zeroDirection, radial), hinge.axisDirection), dot3(hinge.zeroDirection, radial));
}

function fitCircle2d(pts: [number, number][]): { cx: number; cy: number; r: number } {
  // Kasa: x^2 + y^2 + D x + E y + F = 0 in least squares.
  const a = new Matrix(pts.map(([x, y]) => [x, y, 1]));
  const b = Matrix.columnVector(pts.map(([x, y]) => -(x * x + y * y)));
  const s = solve(a, b, true);
  let cx = -s.get(0, 0) / 2;
  let cy = -s.get(1, 0) / 2;
  let r = Math.sqrt(Math.max(cx * cx + cy * cy - s.get(2, 0), 0));
  const cost = (cx_: number, cy_: number, r_: number) =>
    pts.reduce((acc, [x, y]) => acc + (Math.hypot(x - cx_, y - cy_) - r_) ** 2, 0);
  let c = cost(cx, cy, r);
  for (let iter = 0; iter < 50; iter++) {
    const jac: number[][] = [];
    const res: number[] = [];
    for (const [x, y] of pts) {
      const d = Math.hypot(x - cx, y - cy) || 1e-12;
      jac.push([-(x - cx) / d, -(y - cy) / d, -1]);
      res.push(-(d - r));
    }
    const j = new Matrix(jac);
    const step = solve(j, Matrix.columnVector(res), true);
    const n = [cx + step.get(0, 0), cy + step.get(1, 0), r + step.get(2, 0)] as const;
    const cn = cost(n[0], n[1], n[2]);
    if (!(cn < c)) break;
    const small = c - cn < 1e-15 * Math.max(c, 1e-30);
    [cx, cy, r] = n;
    c = cn;
    if (small) break;
  }
  return { cx, cy, r };
}

export function fitDoorHinge(positions: Vec3[], options: { closedIndex?: number; frameId?: string } = {}): DoorHingeFit {
  const n = positions.length;
  if (n < 5) throw new Error(`door hinge: need at least 5 hand positions along the door's swing, got ${n}`);
  positions.forEach((p, i) => {
    if (!p.every(Number.isFinite)) throw new Error(`door hinge: position ${i} is not three finite numbers: ${JSON.stringify(p)}`);
  });
  const closedIndex = options.closedIndex ?? 0;
  if (!Number.isInteger(closedIndex) || closedIndex < 0 || closedIndex >= n) {
    throw new Error(`door hinge: closed-door sample index ${closedIndex} is outside 0..${n - 1}`);
  }
  const centroid = scale3(positions.reduce((a, p) => add3(a, p), [0, 0, 0] as Vec3), 1 / n);
  const cov = Matrix.zeros(3, 3);
  for (const p of positions) {
    const d = sub3(p, centroid);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) cov.set(r, c, cov.get(r, c) + d[r] * d[c]);
  }
  const evd = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const col = (i: number): Vec3 => [0, 1, 2].map((r) => evd.eigenvectorMatrix.get(r, i)) as Vec3;
  let normal = normalize3(col(order[0][1]));
  const u = normalize3(col(order[2][1]));
  if (order[1][0] < 1e-8 * n) {
    throw new Error('door hinge: the hand positions lie on a straight line; record them along a wider swing of the door (at least 20 degrees)');
  }
  let v = cross3(normal, u);
  const planar = positions.map((p) => {
    const d = sub3(p, centroid);
    return [dot3(d, u), dot3(d, v)] as [number, number];
  });
  const circle = fitCircle2d(planar);
  const axisPoint = add3(centroid, add3(scale3(u, circle.cx), scale3(v, circle.cy)));
  const closed = positions[closedIndex];
  const closedRel = sub3(closed, axisPoint);
  const zeroDirection = normalize3(sub3(closedRel, scale3(normal, dot3(closedRel, normal))));
  let hinge: DoorHinge = { frameId: options.frameId ?? 'base', axisPoint, axisDirection: normal, radiusM: circle.r, zeroDirection };
  let angles = positions.map((p) => doorAngleFromHand(hinge, p));
  const farthest = angles.reduce((best, a) => (Math.abs(a) > Math.abs(best) ? a : best), 0);
  if (farthest < 0) {
    normal = scale3(normal, -1);
    v = scale3(v, -1);
    hinge = { ...hinge, axisDirection: normal };
    angles = angles.map((a) => -a);
  }
  const span = Math.max(...angles) - Math.min(...angles);
  if (span < (15 * Math.PI) / 180) {
    throw new Error(
      `door hinge: the recorded swing covers only ${((span * 180) / Math.PI).toFixed(1)} degrees; open the door at least 15 (better 45+) degrees while recording`,
    );
  }
  const wrongSide = angles.filter((a) => a < -Math.max(0.05 * span, (2 * Math.PI) / 180)).length;
  if (wrongSide > 0) {
    throw new Error(
      `door hinge: ${wrongSide} samples lie on the other side of the closed-door sample ${closedIndex}; pass the index of the sample taken with the door closed (--closed-index)`,
    );
  }
  let sumRad = 0;
  let sumPlane = 0;
  let maxRes = 0;
  for (const p of positions) {
    const rel = sub3(p, axisPoint);
    const axial = dot3(rel, normal);
    const radial = norm3(sub3(rel, scale3(normal, axial))) - circle.r;
    sumRad += radial * radial;
    sumPlane += axial * axial;
    maxRes = Math.max(maxRes, Math.hypot(radial, axial));
  }
  return {
    hinge,
    samples: n,
    radialRmsM: Math.sqrt(sumRad / n),
    planeRmsM: Math.sqrt(sumPlane / n),
    maxResidualM: maxRes,
    angleRangeRad: [Math.min(...angles), Math.max(...angles)],
  };
}

const xyz = (v: Vec3) => ({ x: v[0], y: v[1], z: v[2] });

export function formatDoorHinge(fit: DoorHingeFit): string {
  const h = fit.hinge;
  const doc = new YAML.Document({
    frame_id: h.frameId,
    axis_point: xyz(h.axisPoint),
    axis_direction: xyz(h.axisDirection),
    radius_m: h.radiusM,
    zero_direction: xyz(h.zeroDirection),
    fit: {
      samples: fit.samples,
      radial_rms_m: fit.radialRmsM,
      plane_rms_m: fit.planeRmsM,
      max_residual_m: fit.maxResidualM,
      angle_range_rad: fit.angleRangeRad,
    },
  });
  doc.commentBefore = ' Door hinge (gmps calibrate door): angle = rotation of the handle about axis_direction, 0 = closed, positive = open';
  return doc.toString({ lineWidth: 0 });
}

export function writeDoorHinge(file: string, fit: DoorHingeFit): void {
  writeFileSync(file, formatDoorHinge(fit));
}

export function parseDoorHinge(text: string, file = '<door hinge>'): DoorHinge {
  const fail = (field: string | undefined, problem: string): never => {
    throw new Error(field ? `${file}: field '${field}' ${problem}` : `${file}: ${problem}`);
  };
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    return fail(undefined, `is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof doc !== 'object' || doc === null) return fail(undefined, 'must be a YAML mapping (written by `gmps calibrate door`)');
  const d = doc as Record<string, unknown>;
  const vec = (field: string): Vec3 => {
    const o = d[field] as Record<string, unknown> | undefined;
    if (o === undefined) return fail(field, 'is missing');
    const v = [o?.x, o?.y, o?.z];
    if (!v.every((c) => typeof c === 'number' && Number.isFinite(c))) return fail(field, 'must have finite numbers x, y, z');
    return v as Vec3;
  };
  const radius = d.radius_m;
  if (typeof radius !== 'number' || !(radius > 0)) fail('radius_m', radius === undefined ? 'is missing' : 'must be a positive number');
  const axis = vec('axis_direction');
  const zero = vec('zero_direction');
  if (Math.abs(norm3(axis) - 1) > 1e-3) fail('axis_direction', 'must be a unit vector');
  if (Math.abs(norm3(zero) - 1) > 1e-3 || Math.abs(dot3(axis, zero)) > 1e-3) {
    fail('zero_direction', 'must be a unit vector perpendicular to axis_direction');
  }
  return {
    frameId: typeof d.frame_id === 'string' ? d.frame_id : 'base',
    axisPoint: vec('axis_point'),
    axisDirection: axis,
    radiusM: radius as number,
    zeroDirection: zero,
  };
}

export function readDoorHinge(file: string): DoorHinge {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${file}: ${code === 'ENOENT' ? 'does not exist (run `gmps calibrate door` to make it)' : `cannot be read (${code})`}`);
  }
  return parseDoorHinge(text, file);
}

/**
 * Reads recorded hand positions: CSV with x,y,z columns (a header line is optional; extra columns
 * after z are ignored), or YAML/JSON `{positions: [[x,y,z], ...], closed_index?, frame_id?}`.
 */
export function readHandPositions(file: string): { positions: Vec3[]; closedIndex?: number; frameId?: string } {
  const text = readFileSync(file, 'utf8');
  if (/\.csv$/i.test(file)) {
    const positions: Vec3[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (!t || t.startsWith('#')) return;
      const cells = t.split(/[,;\s]+/).slice(0, 3).map(Number);
      if (cells.length < 3 || !cells.every(Number.isFinite)) {
        if (positions.length === 0 && i === 0) return; // header
        throw new Error(`${file}:${i + 1}: expected three numbers x,y,z, got '${t}'`);
      }
      positions.push(cells as Vec3);
    });
    return { positions };
  }
  const doc = YAML.parse(text) as Record<string, unknown> | null;
  const list = doc?.positions;
  if (!Array.isArray(list)) throw new Error(`${file}: field 'positions' is missing (a list of [x, y, z] in metres)`);
  const positions = list.map((p, i) => {
    const v = Array.isArray(p) ? p : [p?.x, p?.y, p?.z];
    if (v.length !== 3 || !v.every((c) => typeof c === 'number' && Number.isFinite(c))) {
      throw new Error(`${file}: positions[${i}] must be [x, y, z] (or {x, y, z}) finite numbers`);
    }
    return v as Vec3;
  });
  return {
    positions,
    closedIndex: typeof doc?.closed_index === 'number' ? doc.closed_index : undefined,
    frameId: typeof doc?.frame_id === 'string' ? doc.frame_id : undefined,
  };
}
