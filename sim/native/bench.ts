/**
 * Stepping speed of native MuJoCo (the C library, e.g. Debian's `libmujoco-dev` 2.2.2) next to the
 * WebAssembly build we run (`@mujoco/mujoco`), on the same MJCF and control, in one process run.
 *
 * The native side compiles `bench.c` with the system C compiler (`$CC`, default `cc`) against
 * `-lmujoco`, caching the binary under `os.tmpdir()/gmps-native-bench/<source hash>/`.
 * When something is missing it answers `{ unavailable: reason }` instead of throwing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MainModule } from '@mujoco/mujoco';
import { median } from '../../src/learning/stats.js';

export interface StepBenchOptions {
  /** mj_step calls per timed repeat. */
  steps: number;
  /** Control held during stepping (length = model nu); default the keyframe's control, or zeros. */
  ctrl?: readonly number[];
  /** Reset each repeat to this keyframe (index) instead of qpos0. */
  keyframe?: number;
  /** Timed repeats, each from a fresh reset; the reported rate is their median (default 3). */
  repeats?: number;
  /** Extra files (e.g. meshes) written next to the XML, by relative path. */
  files?: Readonly<Record<string, string | Uint8Array>>;
}

export interface StepBenchResult {
  mjStepsPerSec: number;
  mujocoVersion: string;
  steps: number;
  repeats: number;
  /** State after `steps` steps from the reset state. */
  qpos: number[];
  qvel: number[];
  time: number;
}

export type NativeBenchResult = StepBenchResult | { unavailable: string };

const CACHE_DIR = path.join(os.tmpdir(), 'gmps-native-bench');
const INSTALL_HINT = 'install it with `apt-get install libmujoco-dev` (Debian/Ubuntu)';

function checkOptions(opts: StepBenchOptions): { steps: number; repeats: number; ctrl: number[]; keyframe: number } {
  const steps = opts.steps;
  const keyframe = opts.keyframe ?? -1;
  if (!Number.isInteger(keyframe) || keyframe < -1) throw new Error(`keyframe must be a keyframe index, got ${opts.keyframe}`);
  const repeats = opts.repeats ?? 3;
  if (!Number.isInteger(steps) || steps <= 0) throw new Error(`steps must be a positive integer, got ${steps}`);
  if (!Number.isInteger(repeats) || repeats <= 0) throw new Error(`repeats must be a positive integer, got ${repeats}`);
  const ctrl = [...(opts.ctrl ?? [])];
  if (!ctrl.every(Number.isFinite)) throw new Error(`ctrl values must be finite numbers, got [${ctrl.join(', ')}]`);
  return { steps, repeats, ctrl, keyframe };
}

/** Path of bench.c, from the source tree or from a build under dist/. */
function sourcePath(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, 'bench.c'), path.resolve(here, '../../../sim/native/bench.c')];
  return candidates.find((p) => existsSync(p));
}

interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  missing?: boolean;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<ExecResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: unknown }) | null;
      if (e && e.code === 'ENOENT') {
        resolve({ code: null, stdout: '', stderr: String(e.message), missing: true });
        return;
      }
      const code = e ? (typeof e.code === 'number' ? e.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || (e ? String(e.message) : '') });
    });
  });
}

const binaries = new Map<string, Promise<{ binary: string } | { unavailable: string }>>();

/**
 * Compiles bench.c with `$CC` (default `cc`), once per source and compiler (cached on disk and in
 * this process); failures are not cached, so installing the missing piece needs no restart.
 */
export function nativeBenchBinary(): Promise<{ binary: string } | { unavailable: string }> {
  const cc = process.env.CC || 'cc';
  let p = binaries.get(cc);
  if (!p) {
    p = compile(cc);
    binaries.set(cc, p);
    const mine = p;
    void mine.then((r) => {
      if ('unavailable' in r && binaries.get(cc) === mine) binaries.delete(cc);
    });
  }
  return p;
}

async function compile(cc: string): Promise<{ binary: string } | { unavailable: string }> {
  const src = sourcePath();
  if (!src) return { unavailable: 'sim/native/bench.c was not found next to the benchmark module' };
  const flags = ['-O2', '-std=c99', '-D_POSIX_C_SOURCE=199309L'];
  const source = await readFile(src);
  const hash = createHash('sha256').update(source).update(cc).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = path.join(CACHE_DIR, hash);
  const binary = path.join(dir, 'bench');
  if (existsSync(binary)) return { binary };
  await mkdir(dir, { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  const r = await run(cc, [...flags, '-o', tmp, src, '-lmujoco'], 120_000);
  if (r.missing) return { unavailable: `no C compiler: '${cc}' was not found (install gcc, or set CC)` };
  if (r.code !== 0) {
    await rm(tmp, { force: true });
    if (/mujoco\/mujoco\.h/.test(r.stderr)) {
      return { unavailable: `MuJoCo headers not found (<mujoco/mujoco.h>): ${INSTALL_HINT}` };
    }
    if (/lmujoco/.test(r.stderr)) return { unavailable: `the MuJoCo library (libmujoco.so) was not found: ${INSTALL_HINT}` };
    return { unavailable: `compiling the native benchmark failed: ${r.stderr.trim().slice(0, 2000)}` };
  }
  // rename is atomic: concurrent builders of the same hash all end with a complete binary.
  await rename(tmp, binary);
  return { binary };
}

/**
 * Native MuJoCo mj_step rate on `xml`, holding `ctrl`. `{ unavailable }` says why it could not run:
 * no compiler, no libmujoco, or the model failed to load in that MuJoCo version (with its error).
 */
export async function nativeStepsPerSec(xml: string, opts: StepBenchOptions): Promise<NativeBenchResult> {
  const { steps, repeats, ctrl, keyframe } = checkOptions(opts);
  const built = await nativeBenchBinary();
  if ('unavailable' in built) return built;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'gmps-mjcf-'));
  try {
    const xmlPath = path.join(dir, 'model.xml');
    await writeFile(xmlPath, xml);
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      const target = path.resolve(dir, rel);
      if (!target.startsWith(dir + path.sep)) throw new Error(`file path '${rel}' must stay inside the model directory`);
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content);
    }
    const r = await run(built.binary, [xmlPath, String(steps), String(repeats), String(keyframe), ...ctrl.map((c) => c.toPrecision(17))], 600_000);
    let out: Record<string, unknown>;
    try {
      out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '');
    } catch {
      return { unavailable: `the native benchmark exited with status ${r.code} without a result: ${r.stderr.trim().slice(0, 2000)}` };
    }
    if (typeof out.error === 'string') {
      return { unavailable: `native MuJoCo ${String(out.mujoco_version ?? '')} rejected the run: ${out.error}` };
    }
    return {
      mjStepsPerSec: Number(out.mj_steps_per_sec),
      mujocoVersion: String(out.mujoco_version),
      steps,
      repeats,
      qpos: out.qpos as number[],
      qvel: out.qvel as number[],
      time: Number(out.time),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

let wasmModule: Promise<MainModule> | undefined;

/**
 * The same stepping as `nativeStepsPerSec` in `@mujoco/mujoco` (WebAssembly). Throws on a model
 * that does not load (with MuJoCo's message) or a control of the wrong length.
 * Pass `mj` to reuse an already loaded module.
 */
export async function wasmStepsPerSec(xml: string, opts: StepBenchOptions & { mj?: MainModule }): Promise<StepBenchResult> {
  const { steps, repeats, ctrl, keyframe } = checkOptions(opts);
  const mj = opts.mj ?? (await (wasmModule ??= import('@mujoco/mujoco').then((m) => m.default())));
  const files = Object.entries(opts.files ?? {});
  let vfs: InstanceType<MainModule['MjVFS']> | undefined;
  if (files.length) {
    vfs = new mj.MjVFS();
    for (const [name, content] of files) {
      vfs.addBuffer(name, typeof content === 'string' ? new TextEncoder().encode(content) : content);
    }
  }
  const model = vfs ? mj.MjModel.from_xml_string(xml, vfs) : mj.MjModel.from_xml_string(xml);
  vfs?.delete();
  const data = new mj.MjData(model);
  try {
    if (ctrl.length !== 0 && ctrl.length !== model.nu) {
      throw new Error(`got ${ctrl.length} control values, the model has nu = ${model.nu}`);
    }
    if (keyframe >= model.nkey) {
      throw new Error(`keyframe ${keyframe} does not exist: the model has ${model.nkey} keyframes`);
    }
    const rates: number[] = [];
    // Repeat -1 is an untimed warm-up (lets the WebAssembly tier up), as in bench.c.
    for (let r = -1; r < repeats; r++) {
      if (keyframe >= 0) mj.mj_resetDataKeyframe(model, data, keyframe);
      else mj.mj_resetData(model, data);
      const c = data.ctrl as Float64Array;
      for (let i = 0; i < ctrl.length; i++) c[i] = ctrl[i];
      if (r < 0) {
        for (let s = 0; s < Math.min(steps, 1000); s++) mj.mj_step(model, data);
        continue;
      }
      const t0 = process.hrtime.bigint();
      for (let s = 0; s < steps; s++) mj.mj_step(model, data);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      rates.push(steps / seconds);
    }
    return {
      mjStepsPerSec: median(rates),
      mujocoVersion: mj.mj_versionString(),
      steps,
      repeats,
      qpos: Array.from(data.qpos as Float64Array),
      qvel: Array.from(data.qvel as Float64Array),
      time: data.time,
    };
  } finally {
    data.delete();
    model.delete();
  }
}
