/**
 * GMPS checkpoints: a directory with a tfjs-style `model.json` (weightsManifest) and one binary
 * weights file. model.json also carries, under `gmps`, the policy config, seed, iteration, Adam
 * settings and step count, and the code version that wrote it. Weights: θ (`theta/<name>`), step
 * sizes (`alpha/<name>`) and Adam slots (`adam/m/<key>`, `adam/v/<key>`), so training resumes
 * exactly.
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
const MODEL_JSON = 'model.json';

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

interface ModelJson {
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

async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  const h = await fs.open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, file);
}

export interface SaveInfo {
  seed: number;
  iteration: number;
  extra?: Record<string, unknown>;
}

/** Writes the learner (θ, α, Adam state) to `dir`; returns the path of model.json. */
export async function saveCheckpoint(dir: string, learner: GmpsLearner, info: SaveInfo): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const named: Array<{ name: string; tensor: tf.Tensor }> = [];
  for (const [name] of learner.policy.shapes) named.push({ name: `theta/${name}`, tensor: learner.params[name] });
  for (const [name] of stepSizeShapes(learner.policy)) named.push({ name: `alpha/${name}`, tensor: learner.stepSizes[name] });
  for (const [key, t] of Object.entries(learner.adam.slots())) named.push({ name: `adam/${key}`, tensor: t });
  const { data, specs } = await tf.io.encodeWeights(named);
  const bytes = new Uint8Array(data);
  const sha = createHash('sha256').update(bytes).digest('hex');
  const binName = `weights-${sha.slice(0, 16)}.bin`;
  await writeAtomic(path.join(dir, binName), bytes);
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
  dispose(): void;
}

function fail(file: string, why: string): never {
  throw new CheckpointError(`${file}: ${why}`);
}

/** Reads and validates a checkpoint directory (or its model.json path). */
export async function readCheckpoint(dirOrModel: string): Promise<LoadedCheckpoint> {
  const modelPath = dirOrModel.endsWith('.json') ? dirOrModel : path.join(dirOrModel, MODEL_JSON);
  const dir = path.dirname(modelPath);
  let text: string;
  try {
    text = await fs.readFile(modelPath, 'utf8');
  } catch (err) {
    fail(modelPath, `cannot read the checkpoint manifest (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let model: ModelJson;
  try {
    model = JSON.parse(text) as ModelJson;
  } catch (err) {
    fail(modelPath, `not valid JSON, the file is truncated or corrupt (${(err as Error).message})`);
  }
  if (model.format !== CHECKPOINT_FORMAT) fail(modelPath, `not a GMPS checkpoint (format '${String(model.format)}')`);
  if (model.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
    fail(modelPath, `checkpoint format version ${model.formatVersion} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`);
  }
  const group = model.weightsManifest?.[0];
  if (!group || model.weightsManifest.length !== 1 || group.paths?.length !== 1 || !Array.isArray(group.weights)) {
    fail(modelPath, 'weightsManifest must hold exactly one group with one weights file');
  }
  const meta = model.gmps;
  if (!meta || typeof meta !== 'object' || !meta.policy) fail(modelPath, "missing the 'gmps' metadata (policy config, seed, iteration)");
  const binName = group.paths[0];
  if (binName.includes('/') || binName.includes('\\')) fail(modelPath, `weights path '${binName}' must be a file name in the checkpoint directory`);
  const binPath = path.join(dir, binName);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(binPath);
  } catch (err) {
    fail(binPath, `cannot read the weights file (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let expectedBytes = 0;
  for (const w of group.weights) {
    if (w.dtype !== 'float32') fail(modelPath, `weight '${w.name}' has dtype ${w.dtype}; only float32 is supported`);
    expectedBytes += 4 * w.shape.reduce((a, b) => a * b, 1);
  }
  if (bytes.length !== expectedBytes) {
    fail(binPath, `${bytes.length < expectedBytes ? 'truncated' : 'too long'}: ${bytes.length} bytes, the manifest describes ${expectedBytes}`);
  }
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== model.weightsSha256) fail(binPath, 'corrupt: its SHA-256 does not match the one recorded in model.json');

  let policy: GmpsPolicy;
  try {
    policy = createPolicy(meta.policy);
  } catch (err) {
    fail(modelPath, `invalid policy config: ${(err as Error).message}`);
  }
  const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const all = tf.io.decodeWeights(buf, group.weights);
  const params: Params = {};
  const stepSizes: Params = {};
  const adamSlots: Params = {};
  const disposeAll = () => Object.values(all).forEach((t) => t.dispose());
  for (const [name, t] of Object.entries(all)) {
    if (name.startsWith('theta/')) params[name.slice(6)] = t;
    else if (name.startsWith('alpha/')) stepSizes[name.slice(6)] = t;
    else if (name.startsWith('adam/')) adamSlots[name.slice(5)] = t;
    else {
      disposeAll();
      fail(modelPath, `unexpected weight '${name}'`);
    }
  }
  try {
    assertParams(params, policy.shapes, `${modelPath} θ`);
    assertParams(stepSizes, stepSizeShapes(policy), `${modelPath} step sizes`);
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
    disposeAll();
    throw new CheckpointError((err as Error).message);
  }
  return { meta, policy, params, stepSizes, adamSlots, dispose: disposeAll };
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
