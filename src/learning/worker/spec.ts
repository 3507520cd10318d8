/**
 * How sampler workers build their envs. Functions cannot cross a thread boundary, so an env is
 * described by data: a task kind, its options, and optionally a module exporting the factory.
 */
import type { Env, EnvOptions, TaskKind } from '../../../sim/types.js';

export interface EnvSpec {
  kind: TaskKind;
  /** Passed to the factory; `seed` is offset by the slot index so every env slot differs. */
  options?: EnvOptions & Record<string, unknown>;
  /**
   * URL (file://) or package name of a module exporting `createEnv(kind, options): Env | Promise<Env>`
   * (or the export named by `factoryExport`). Default: the point env for 'point', else `sim/index`.
   */
  factoryModule?: string;
  factoryExport?: string;
}

type Factory = (kind: TaskKind, options: EnvOptions & Record<string, unknown>) => Env | Promise<Env>;

/** Options of the env in `slot`: the spec's options with `seed` = base seed + slot. */
export function slotOptions(spec: EnvSpec, slot: number): EnvOptions & Record<string, unknown> {
  return { ...(spec.options ?? {}), seed: (spec.options?.seed ?? 0) + slot };
}

export async function createEnvFromSpec(spec: EnvSpec, slot: number): Promise<Env> {
  const options = slotOptions(spec, slot);
  if (!spec.factoryModule && spec.kind === 'point') {
    const { createPointEnv } = await import('../../../sim/point.js');
    return createPointEnv(options);
  }
  const specifier = spec.factoryModule ?? new URL(`../../../sim/index${moduleExt()}`, import.meta.url).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`cannot load the env factory module ${specifier}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const name = spec.factoryExport ?? 'createEnv';
  const factory = mod[name];
  if (typeof factory !== 'function') throw new Error(`env factory module ${specifier} has no function export '${name}'`);
  const env = await (factory as Factory)(spec.kind, options);
  if (env.kind !== spec.kind) throw new Error(`env factory made a '${env.kind}' env, expected '${spec.kind}'`);
  return env;
}

/** '.ts' when running from sources (tsx), '.js' when compiled. */
export function moduleExt(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}
