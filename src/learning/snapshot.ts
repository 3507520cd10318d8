/**
 * Training snapshots: the whole state of a long run (networks, optimiser moments, replay buffers,
 * random-number streams, counters, curve so far) in one file, so a run of hours that is stopped
 * continues from its last completed iteration instead of from zero (the experiment harness writes
 * one per iteration for PEARL and MAML; GMPS resumes from its own meta-training checkpoint).
 *
 * File layout: the 8 bytes `GMPSSNAP`, a little-endian uint32 header length, the header (UTF-8
 * JSON: `kind`, the caller's `meta`, an index of the arrays and the SHA-256 of the payload), then
 * the payload, the arrays' bytes in index order. Written atomically (temporary file, fsync,
 * rename). Reading checks magic, header, sizes and checksum; any mismatch is a SnapshotError that
 * names the file and says what to do (delete it and the run starts over).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { writeAtomic } from './checkpoint.js';

export const SNAPSHOT_MAGIC = 'GMPSSNAP';
export const SNAPSHOT_VERSION = 1;
/** The magic and the header length (uint32 LE) before the header. */
const LEAD_BYTES = SNAPSHOT_MAGIC.length + 4;

/** The header length a snapshot's first bytes announce; a SnapshotError when they are not a snapshot's. */
function headerLength(file: string, lead: Buffer): number {
  if (lead.length < LEAD_BYTES || lead.toString('latin1', 0, SNAPSHOT_MAGIC.length) !== SNAPSHOT_MAGIC) {
    throw new SnapshotError(`${file}: not a training snapshot (no GMPSSNAP header); delete it to start the run over`);
  }
  return lead.readUInt32LE(SNAPSHOT_MAGIC.length);
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

export type SnapshotArray = Float32Array | Float64Array;
export type SnapshotArrays = Record<string, SnapshotArray>;

interface ArrayIndex {
  name: string;
  dtype: 'float32' | 'float64';
  length: number;
}

interface SnapshotHeader {
  format: 'gmps-snapshot';
  version: number;
  kind: string;
  meta: unknown;
  arrays: ArrayIndex[];
  payloadBytes: number;
  sha256: string;
  createdAt: string;
}

export interface Snapshot<M = unknown> {
  kind: string;
  meta: M;
  arrays: SnapshotArrays;
}

/** Writes a snapshot of `kind` atomically. `meta` must survive JSON (no NaN is lost: use null). */
export async function writeSnapshot(file: string, snap: Snapshot): Promise<void> {
  const index: ArrayIndex[] = [];
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let bytes = 0;
  for (const [name, a] of Object.entries(snap.arrays)) {
    if (!(a instanceof Float32Array) && !(a instanceof Float64Array)) throw new Error(`snapshot array '${name}' must be a Float32Array or Float64Array`);
    const chunk = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    index.push({ name, dtype: a instanceof Float32Array ? 'float32' : 'float64', length: a.length });
    chunks.push(chunk);
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  const header: SnapshotHeader = {
    format: 'gmps-snapshot',
    version: SNAPSHOT_VERSION,
    kind: snap.kind,
    meta: snap.meta,
    arrays: index,
    payloadBytes: bytes,
    sha256: hash.digest('hex'),
    createdAt: new Date().toISOString(),
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const lead = Buffer.alloc(LEAD_BYTES);
  lead.write(SNAPSHOT_MAGIC, 0, 'latin1');
  lead.writeUInt32LE(json.length, SNAPSHOT_MAGIC.length);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await writeAtomic(file, [lead, json, ...chunks]);
}

/** The kind and meta of a snapshot, from its header only (the payload is neither read nor checked). */
export async function readSnapshotHeader(file: string): Promise<{ kind: string; meta: unknown; createdAt: string }> {
  const h = await fs.open(file, 'r');
  try {
    const lead = Buffer.alloc(LEAD_BYTES);
    const { bytesRead } = await h.read(lead, 0, LEAD_BYTES, 0);
    const json = Buffer.alloc(headerLength(file, lead.subarray(0, bytesRead)));
    const got = (await h.read(json, 0, json.length, LEAD_BYTES)).bytesRead;
    if (got !== json.length) throw new SnapshotError(`${file}: truncated header`);
    const header = JSON.parse(json.toString('utf8')) as SnapshotHeader;
    return { kind: header.kind, meta: header.meta, createdAt: header.createdAt };
  } finally {
    await h.close();
  }
}

/** Reads and checks a snapshot; `kind` must match the one written. */
export async function readSnapshot<M = unknown>(file: string, kind: string): Promise<Snapshot<M>> {
  const bad = (why: string): never => {
    throw new SnapshotError(`${file}: ${why}; delete it to start the run over`);
  };
  let buf: Buffer;
  try {
    buf = await fs.readFile(file);
  } catch (err) {
    throw new SnapshotError(`${file}: cannot read the snapshot (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const headerLen = headerLength(file, buf.subarray(0, LEAD_BYTES));
  if (LEAD_BYTES + headerLen > buf.length) bad(`truncated: the header needs ${headerLen} bytes, the file has ${buf.length - LEAD_BYTES} after the magic`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(buf.toString('utf8', LEAD_BYTES, LEAD_BYTES + headerLen)) as SnapshotHeader;
  } catch (err) {
    return bad(`its header is not valid JSON (${(err as Error).message})`);
  }
  if (header.format !== 'gmps-snapshot' || header.version !== SNAPSHOT_VERSION) bad(`unsupported snapshot format ${String(header.format)} v${String(header.version)} (expected gmps-snapshot v${SNAPSHOT_VERSION})`);
  if (header.kind !== kind) bad(`it is a '${header.kind}' snapshot, expected '${kind}'`);
  const payload = buf.subarray(LEAD_BYTES + headerLen);
  if (payload.length !== header.payloadBytes) bad(`${payload.length < header.payloadBytes ? 'truncated' : 'too long'}: ${payload.length} payload bytes, the header describes ${header.payloadBytes}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) bad('corrupt: the payload does not match its SHA-256');
  const arrays: SnapshotArrays = {};
  let off = 0;
  for (const a of header.arrays) {
    const width = a.dtype === 'float64' ? 8 : 4;
    const n = a.length * width;
    // Copy into a fresh, aligned buffer.
    const raw = new Uint8Array(n);
    raw.set(payload.subarray(off, off + n));
    arrays[a.name] = a.dtype === 'float64' ? new Float64Array(raw.buffer) : new Float32Array(raw.buffer);
    off += n;
  }
  return { kind: header.kind, meta: header.meta as M, arrays };
}

/** Fetches a named array of a snapshot, with its expected length checked. */
export function snapshotArray(snap: Snapshot, name: string, length?: number): SnapshotArray {
  const a = snap.arrays[name];
  if (!a) throw new SnapshotError(`the ${snap.kind} snapshot has no array '${name}'; it was written by another version of the code: delete it to start the run over`);
  if (length !== undefined && a.length !== length) throw new SnapshotError(`the ${snap.kind} snapshot's array '${name}' has ${a.length} values, expected ${length}: delete the snapshot to start the run over`);
  return a;
}

/**
 * How a training loop takes per-iteration snapshots: written after every iteration to `file`,
 * with the caller's `extra()`; when the file exists at the start, the loop continues from it and
 * `onResume` gets that extra and the number of iterations already done.
 */
export interface SnapshotOption {
  file: string;
  extra?: () => unknown;
  onResume?: (extra: unknown, iteration: number) => void | Promise<void>;
}

/**
 * Refuses a snapshot written with other settings than the run's (keys in `ignore` may change
 * between attempts, e.g. the iteration count), naming the keys that differ.
 */
export function checkSameSettings(file: string, what: string, mine: object, theirs: object, ignore: readonly string[] = []): void {
  const a = mine as Record<string, unknown>;
  const b = (theirs ?? {}) as Record<string, unknown>;
  const diff = Object.keys({ ...a, ...b }).filter((k) => !ignore.includes(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (diff.length) throw new SnapshotError(`${file} was written by a ${what} run with other settings (${diff.join(', ')}); delete it to start the run over, or run with its settings`);
}

/** Tensors by name as `<prefix>/<name>` arrays. */
export function tensorArrays(prefix: string, tensors: Record<string, tf.Tensor>): SnapshotArrays {
  const out: SnapshotArrays = {};
  for (const [name, t] of Object.entries(tensors)) out[`${prefix}/${name}`] = Float32Array.from(t.dataSync());
  return out;
}

/** New tensors of the same names and shapes as `like`, from the `<prefix>/<name>` arrays. */
export function restoreTensors(snap: Snapshot, prefix: string, like: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, t] of Object.entries(like)) out[name] = tf.tensor(Float32Array.from(snapshotArray(snap, `${prefix}/${name}`, t.size)), t.shape, 'float32');
  return out;
}

// ---- tfjs variables and optimisers -------------------------------------------------------------

/** Values of variables, as `<prefix>/<i>` arrays in the given order. */
export function variableArrays(prefix: string, vars: readonly tf.Variable[]): SnapshotArrays {
  const out: SnapshotArrays = {};
  vars.forEach((v, i) => (out[`${prefix}/${i}`] = v.dataSync() as Float32Array));
  return out;
}

/** Assigns the `<prefix>/<i>` arrays of a snapshot to variables (shapes checked by size). */
export function restoreVariables(snap: Snapshot, prefix: string, vars: readonly tf.Variable[]): void {
  vars.forEach((v, i) => {
    const a = snapshotArray(snap, `${prefix}/${i}`, v.size);
    tf.tidy(() => v.assign(tf.tensor(Float32Array.from(a), v.shape, 'float32')));
  });
}

export interface OptimizerMeta {
  iterations: number;
  /** Shapes of the optimiser's own variables (Adam: first moments, then second moments). */
  shapes: number[][];
}

/** A tfjs optimiser's state (`getWeights`): its step count in meta, its variables as arrays. */
export async function optimizerState(prefix: string, opt: tf.Optimizer): Promise<{ meta: OptimizerMeta; arrays: SnapshotArrays }> {
  const weights = await opt.getWeights();
  const [iter, ...rest] = weights;
  const arrays: SnapshotArrays = {};
  const shapes: number[][] = [];
  for (let i = 0; i < rest.length; i++) {
    arrays[`${prefix}/${i}`] = (await rest[i].tensor.data()) as Float32Array;
    shapes.push(rest[i].tensor.shape);
  }
  const iterations = (await iter.tensor.data())[0];
  iter.tensor.dispose(); // made by getWeights for this call
  return { meta: { iterations, shapes }, arrays };
}

/** Restores a tfjs optimiser from `optimizerState` (`setWeights`); its variables' order is its own. */
export async function restoreOptimizer(snap: Snapshot, prefix: string, opt: tf.Optimizer, meta: OptimizerMeta): Promise<void> {
  if (!meta || !Number.isFinite(meta.iterations) || !Array.isArray(meta.shapes)) throw new SnapshotError(`the ${snap.kind} snapshot has no optimiser state for '${prefix}': delete it to start the run over`);
  const tensors = meta.shapes.map((shape, i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return { name: `${prefix}/${i}`, tensor: tf.tensor(Float32Array.from(snapshotArray(snap, `${prefix}/${i}`, n)), shape, 'float32') };
  });
  const iter = { name: 'iter', tensor: tf.scalar(meta.iterations, 'int32') };
  try {
    await opt.setWeights([iter, ...tensors]);
  } finally {
    iter.tensor.dispose();
    for (const t of tensors) t.tensor.dispose();
  }
}

/**
 * An off-policy learner's networks (each a list of variables, stored as `net<i>`), its log α and
 * its named optimisers, as snapshot arrays plus the optimisers' metadata (`restoreLearner` reads them).
 */
export async function learnerArrays(
  nets: ReadonlyArray<readonly tf.Variable[]>,
  logAlpha: tf.Variable,
  optimizers: ReadonlyArray<readonly [string, tf.Optimizer]>,
): Promise<{ arrays: SnapshotArrays; optimizers: Record<string, OptimizerMeta> }> {
  const arrays: SnapshotArrays = {};
  nets.forEach((vars, i) => Object.assign(arrays, variableArrays(`net${i}`, vars)));
  Object.assign(arrays, variableArrays('logAlpha', [logAlpha]));
  const metas: Record<string, OptimizerMeta> = {};
  for (const [name, opt] of optimizers) {
    const st = await optimizerState(`opt/${name}`, opt);
    metas[name] = st.meta;
    Object.assign(arrays, st.arrays);
  }
  return { arrays, optimizers: metas };
}

/** Restores what `learnerArrays` saved into the same networks, log α and optimisers. */
export async function restoreLearner(
  snap: Snapshot,
  nets: ReadonlyArray<readonly tf.Variable[]>,
  logAlpha: tf.Variable,
  optimizers: ReadonlyArray<readonly [string, tf.Optimizer]>,
  metas: Record<string, OptimizerMeta>,
): Promise<void> {
  nets.forEach((vars, i) => restoreVariables(snap, `net${i}`, vars));
  restoreVariables(snap, 'logAlpha', [logAlpha]);
  for (const [name, opt] of optimizers) await restoreOptimizer(snap, `opt/${name}`, opt, metas?.[name]);
}
