/**
 * GMPS checkpoints: a directory with a tfjs-style `model.json` (weightsManifest) and one binary
 * weights file. model.json also carries, under `gmps`, the policy config, seed, iteration, Adam
 * settings and step count, and the code version that wrote it. Weights: θ (`theta/<name>`), step
 * sizes (`alpha/<name>`) and Adam slots (`adam/m/<key>`, `adam/v/<key>`), so training resumes
 * exactly, plus any extra weights of the caller (`extra/<name>`: float32, or uint8-quantized such
 * as camera images), all in the one weights file and covered by its SHA-256.
 *
 * Writes are atomic: the weights go to a new file named by their hash, then model.json is
 * replaced by rename, so a crash leaves the previous checkpoint intact. Loading checks the
 * checksum, sizes, names, shapes and dtypes and names the offending file on any mismatch.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type { AdamOptions } from './adam.js';
import { alphaKey, GmpsLearner } from './gmps.js';
import { createPolicy, type GmpsPolicy, type PolicyConfig } from './policy/index.js';
import { assertParams, type Params } from './policy/params.js';
import { stepSizeShapes } from './policy/policy.js';

export const CHECKPOINT_FORMAT = 'gmps-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;
export const MODEL_JSON = 'model.json';

export interface CodeVersion {
  package: string;
  git?: string;
}

export interface CheckpointMeta {
  policy: PolicyConfig;
  seed: number;
  /** Meta-iterations completed when written. */
  iteration: number;
  adam: { options: AdamOptions; step: number };
  /** Whether the inner loss is importance weighted. */
  importanceWeights: boolean;
  codeVersion: CodeVersion;
  createdAt: string;
  /** Free-form training settings (task set, batch sizes, ...). */
  extra?: Record<string, unknown>;
}

export interface ModelJson {
  format: string;
  formatVersion: number;
  generatedBy: string;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
  weightsSha256: string;
  gmps: CheckpointMeta;
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

let cachedVersion: CodeVersion | undefined;

/** Package version and `git describe` of the running code (git part omitted outside a repository). */
export function codeVersion(): CodeVersion {
  if (cachedVersion) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  let pkg = 'unknown';
  for (let i = 0; i < 6; i++) {
    try {
      const j = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      pkg = `${j.name ?? 'unknown'}@${j.version ?? '0.0.0'}`;
      break;
    } catch {
      dir = path.dirname(dir);
    }
  }
  let git: string | undefined;
  try {
    git = execFileSync('git', ['describe', '--always', '--dirty', '--tags'], {
      cwd: dir,
      timeout: 3000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    git = undefined;
  }
  cachedVersion = { package: pkg, ...(git ? { git } : {}) };
  return cachedVersion;
}

/** Writes a file through a temporary file, fsync and rename: a reader sees the old file or the new one, never a part. */
export async function writeAtomic(file: string, data: string | readonly Uint8Array[]): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const h = await fs.open(tmp, 'w');
  try {
    if (typeof data === 'string') await h.writeFile(data);
    else for (const chunk of data) await h.write(chunk);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, file);
}

/** A uint8-quantized weight given as its bytes: element k is `min + scale * bytes[k]`. */
export interface QuantizedWeight {
  shape: number[];
  bytes: Uint8Array;
  scale: number;
  min: number;
}

export interface SaveInfo {
  seed: number;
  iteration: number;
  extra?: Record<string, unknown>;
  /** Further weights, stored as `extra/<name>`: float32 tensors or uint8-quantized bytes. */
  extraWeights?: Record<string, tf.Tensor | QuantizedWeight>;
}

const EXTRA = 'extra/';
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Writes the learner (θ, α, Adam state) and any extra weights to `dir`; returns the path of model.json. */
export async function saveCheckpoint(dir: string, learner: GmpsLearner, info: SaveInfo): Promise<string> {
  const named: Array<{ name: string; tensor: tf.Tensor }> = [];
  for (const [name] of learner.policy.shapes) named.push({ name: `theta/${name}`, tensor: learner.params[name] });
  for (const [name] of stepSizeShapes(learner.policy)) named.push({ name: `alpha/${name}`, tensor: learner.stepSizes[name] });
  for (const [key, t] of Object.entries(learner.adam.slots())) named.push({ name: `adam/${key}`, tensor: t });
  const quantized: Array<{ spec: tf.io.WeightsManifestEntry; bytes: Uint8Array }> = [];
  for (const [name, w] of Object.entries(info.extraWeights ?? {})) {
    if (!name) throw new Error('saveCheckpoint: an extra weight needs a name');
    if (w instanceof tf.Tensor) {
      if (w.dtype !== 'float32') throw new Error(`saveCheckpoint: extra weight '${name}' has dtype ${w.dtype}; only float32 is supported`);
      named.push({ name: `${EXTRA}${name}`, tensor: w });
      continue;
    }
    if (w.bytes.length !== numel(w.shape)) {
      throw new Error(`saveCheckpoint: extra weight '${name}' has ${w.bytes.length} bytes for shape [${w.shape}]`);
    }
    if (!Number.isFinite(w.scale) || !Number.isFinite(w.min)) throw new Error(`saveCheckpoint: extra weight '${name}' needs a finite scale and min`);
    quantized.push({
      spec: { name: `${EXTRA}${name}`, shape: w.shape, dtype: 'float32', quantization: { dtype: 'uint8', scale: w.scale, min: w.min } },
      bytes: w.bytes,
    });
  }
  await fs.mkdir(dir, { recursive: true });
  const { data, specs } = await tf.io.encodeWeights(named);
  const chunks = [new Uint8Array(data), ...quantized.map((q) => q.bytes)];
  specs.push(...quantized.map((q) => q.spec));
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  const sha = hash.digest('hex');
  const binName = `weights-${sha.slice(0, 16)}.bin`;
  await writeAtomic(path.join(dir, binName), chunks);
  const model: ModelJson = {
    format: CHECKPOINT_FORMAT,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    generatedBy: `@tensorflow/tfjs-core ${tf.version_core}`,
    weightsManifest: [{ paths: [binName], weights: specs }],
    weightsSha256: sha,
    gmps: {
      policy: learner.policy.config,
      seed: info.seed,
      iteration: info.iteration,
      adam: { options: learner.adam.opts, step: learner.adam.step },
      importanceWeights: learner.opts.importanceWeights !== false,
      codeVersion: codeVersion(),
      createdAt: new Date().toISOString(),
      ...(info.extra ? { extra: info.extra } : {}),
    },
  };
  const modelPath = path.join(dir, MODEL_JSON);
  await writeAtomic(modelPath, `${JSON.stringify(model, null, 1)}\n`);
  // Weights files of earlier saves are no longer referenced.
  for (const f of await fs.readdir(dir)) {
    if (/^weights-[0-9a-f]{16}\.bin$/.test(f) && f !== binName) await fs.rm(path.join(dir, f), { force: true });
  }
  return modelPath;
}

export interface LoadedCheckpoint {
  meta: CheckpointMeta;
  policy: GmpsPolicy;
  params: Params;
  stepSizes: Params;
  /** Adam slots by key (`m/<name>`, `v/<name>`). */
  adamSlots: Params;
  /** The `extra/` weights by name (without the prefix), uint8-quantized ones dequantized. */
  extraWeights: Record<string, tf.Tensor>;
  dispose(): void;
}

function fail(file: string, why: string): never {
  throw new CheckpointError(`${file}: ${why}`);
}

/** Reads and parses a JSON file; a missing, unreadable or truncated file is a CheckpointError naming it. */
export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    fail(file, `cannot read the ${what} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    fail(file, `not valid JSON, the file is truncated or corrupt (${(err as Error).message})`);
  }
}

/** Reads model.json (not the weights): format, version, manifest and the `gmps` metadata checked. */
export async function readModelJson(modelPath: string): Promise<ModelJson> {
  const model = (await readJsonFile(modelPath, 'checkpoint manifest')) as ModelJson;
  if (!model || typeof model !== 'object' || model.format !== CHECKPOINT_FORMAT) {
    fail(modelPath, `not a GMPS checkpoint (format '${String(model?.format)}', expected '${CHECKPOINT_FORMAT}')`);
  }
  if (model.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    fail(modelPath, `checkpoint format version ${model.formatVersion} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`);
  }
  const meta = model.gmps;
  if (!meta || typeof meta !== 'object' || !meta.policy) fail(modelPath, "missing the 'gmps' metadata (policy config, seed, iteration)");
  return model;
}

/**
 * Reads the one weights file a manifest group names (next to `manifestPath`), checks every entry's
 * dtype and shape, the file size and, when given, its SHA-256, and decodes it. Entries are float32,
 * or float32 quantized to uint8 (one byte an element; only `extra/` weights may be quantized).
 */
export async function readWeightsFile(
  manifestPath: string,
  group: { paths: string[]; weights: tf.io.WeightsManifestEntry[] } | undefined,
  sha256: string | undefined,
): Promise<tf.NamedTensorMap> {
  if (!group || group.paths?.length !== 1 || !Array.isArray(group.weights)) {
    fail(manifestPath, 'weightsManifest must hold exactly one group with one weights file');
  }
  const binName = group.paths[0];
  if (typeof binName !== 'string' || binName.includes('/') || binName.includes('\\')) {
    fail(manifestPath, `weights path '${binName}' must be a file name in the checkpoint directory`);
  }
  const binPath = path.join(path.dirname(manifestPath), binName);
  let expectedBytes = 0;
  for (const w of group.weights) {
    if (w.dtype !== 'float32') fail(manifestPath, `weight '${w.name}' has dtype ${w.dtype}; only float32 is supported`);
    if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(manifestPath, `weight '${w.name}' has an invalid shape ${JSON.stringify(w.shape)}`);
    }
    const q = w.quantization;
    if ('quantization' in w) {
      if (q?.dtype !== 'uint8') fail(manifestPath, `weight '${w.name}' is quantized to ${q?.dtype}; only uint8 quantization is supported`);
      if (!w.name.startsWith(EXTRA)) fail(manifestPath, `weight '${w.name}' is quantized; θ, step sizes and Adam slots must be float32`);
      if (!Number.isFinite(q.scale) || !Number.isFinite(q.min)) fail(manifestPath, `weight '${w.name}' has no finite quantization scale and min`);
    }
    expectedBytes += (q ? 1 : 4) * numel(w.shape);
  }
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(binPath);
  } catch (err) {
    fail(binPath, `cannot read the weights file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (bytes.length !== expectedBytes) {
    fail(binPath, `${bytes.length < expectedBytes ? 'truncated' : 'too long'}: ${bytes.length} bytes, the manifest describes ${expectedBytes}`);
  }
  if (sha256 !== undefined) {
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== sha256) fail(binPath, `corrupt: its SHA-256 does not match the one recorded in ${path.basename(manifestPath)}`);
  }
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return tf.io.decodeWeights(buf, group.weights);
}

/**
 * Sorts decoded weights into θ, step sizes, Adam slots and `extra/` weights and checks them
 * against the policy. Any other name, or a shape mismatch, is a CheckpointError naming `file`;
 * the tensors are disposed then.
 */
export function sortWeights(
  file: string,
  policy: GmpsPolicy,
  all: tf.NamedTensorMap,
): Pick<LoadedCheckpoint, 'params' | 'stepSizes' | 'adamSlots' | 'extraWeights'> {
  const params: Params = {};
  const stepSizes: Params = {};
  const adamSlots: Params = {};
  const extraWeights: Record<string, tf.Tensor> = {};
  try {
    for (const [name, t] of Object.entries(all)) {
      if (name.startsWith('theta/')) params[name.slice(6)] = t;
      else if (name.startsWith('alpha/')) stepSizes[name.slice(6)] = t;
      else if (name.startsWith('adam/')) adamSlots[name.slice(5)] = t;
      else if (name.startsWith(EXTRA) && name.length > EXTRA.length) extraWeights[name.slice(EXTRA.length)] = t;
      else throw new Error(`unexpected weight '${name}'`);
    }
    assertParams(params, policy.shapes, `${file} θ`);
    assertParams(stepSizes, stepSizeShapes(policy), `${file} step sizes`);
    const slotShapes = new Map<string, readonly number[]>();
    for (const [n, s] of policy.shapes) slotShapes.set(n, s);
    for (const [n, s] of stepSizeShapes(policy)) slotShapes.set(alphaKey(n), s);
    for (const [key, t] of Object.entries(adamSlots)) {
      const varName = key.replace(/^[mv]\//, '');
      const s = slotShapes.get(varName);
      if (!/^[mv]\//.test(key) || !s) throw new Error(`unexpected Adam slot '${key}'`);
      if (t.shape.join(',') !== s.join(',')) throw new Error(`Adam slot '${key}' has shape [${t.shape}], expected [${s}]`);
    }
  } catch (err) {
    Object.values(all).forEach((t) => t.dispose());
    const msg = (err as Error).message;
    throw new CheckpointError(msg.startsWith(file) ? msg : `${file}: ${msg}`);
  }
  return { params, stepSizes, adamSlots, extraWeights };
}

/** Creates the policy a checkpoint's config describes; an invalid config is a CheckpointError naming `file`. */
export function checkpointPolicy(file: string, config: PolicyConfig): GmpsPolicy {
  try {
    return createPolicy(config);
  } catch (err) {
    fail(file, `invalid policy config: ${(err as Error).message}`);
  }
}

/** Reads and validates a checkpoint directory (or its model.json path). */
export async function readCheckpoint(dirOrModel: string): Promise<LoadedCheckpoint> {
  const modelPath = dirOrModel.endsWith('.json') ? dirOrModel : path.join(dirOrModel, MODEL_JSON);
  const model = await readModelJson(modelPath);
  if (!Array.isArray(model.weightsManifest) || model.weightsManifest.length !== 1) {
    fail(modelPath, 'weightsManifest must hold exactly one group with one weights file');
  }
  const policy = checkpointPolicy(modelPath, model.gmps.policy);
  const all = await readWeightsFile(modelPath, model.weightsManifest[0], String(model.weightsSha256));
  const sorted = sortWeights(modelPath, policy, all);
  return { meta: model.gmps, policy, ...sorted, dispose: () => Object.values(all).forEach((t) => t.dispose()) };
}

/** Restores a learner that continues meta-training exactly where the checkpoint stopped. */
export async function loadLearner(dirOrModel: string): Promise<{ learner: GmpsLearner; meta: CheckpointMeta }> {
  const ck = await readCheckpoint(dirOrModel);
  try {
    const learner = new GmpsLearner(
      ck.policy,
      { params: ck.params, stepSizes: ck.stepSizes },
      { adam: ck.meta.adam.options, importanceWeights: ck.meta.importanceWeights },
    );
    learner.adam.restore(ck.meta.adam.step, ck.adamSlots);
    return { learner, meta: ck.meta };
  } finally {
    ck.dispose();
  }
}
