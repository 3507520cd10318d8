/** Node parameters with ROS 2 semantics: declare-before-use, typed, read-only, ranges, set callbacks. */
import { GraphError } from './errors.js';
import type {
  OnSetParametersCallback,
  Parameter,
  ParameterDescriptor,
  ParameterTypeName,
  ParameterValue,
  SetParametersResult,
} from './types.js';

export const PARAMETER_TYPES: readonly ParameterTypeName[] = [
  'bool',
  'integer',
  'double',
  'string',
  'byte_array',
  'bool_array',
  'integer_array',
  'double_array',
  'string_array',
];

function elementOk(type: string, v: unknown): boolean {
  switch (type) {
    case 'bool':
      return typeof v === 'boolean';
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v);
    case 'double':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'byte':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255;
    default:
      return false;
  }
}

/**
 * Returns `value` in the declared type, or a reason it does not fit. Integers are accepted for
 * doubles (YAML and JSON cannot tell `1.0` from `1`); bigint integers become numbers.
 */
export function coerceParameterValue(
  type: ParameterTypeName,
  value: unknown,
): { ok: true; value: ParameterValue } | { ok: false; reason: string } {
  if (typeof value === 'bigint') value = Number(value);
  if (type.endsWith('_array')) {
    const elem = type === 'byte_array' ? 'byte' : type.slice(0, -'_array'.length);
    if (ArrayBuffer.isView(value)) value = Array.from(value as unknown as ArrayLike<number>);
    if (!Array.isArray(value)) return { ok: false, reason: `expected ${type}, got ${describeValue(value)}` };
    const arr = value.map((v) => (typeof v === 'bigint' ? Number(v) : v));
    const bad = arr.findIndex((v) => !elementOk(elem, v));
    if (bad >= 0) return { ok: false, reason: `expected ${type}, element ${bad} is ${describeValue(arr[bad])}` };
    return { ok: true, value: arr as ParameterValue };
  }
  if (!elementOk(type, value)) return { ok: false, reason: `expected ${type}, got ${describeValue(value)}` };
  return { ok: true, value: value as ParameterValue };
}

function describeValue(v: unknown): string {
  if (Array.isArray(v)) return `an array [${v.slice(0, 4).map(String).join(', ')}${v.length > 4 ? ', ...' : ''}]`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  return `${typeof v} ${String(v)}`;
}

/** The parameter type a YAML/JSON value would get in ROS 2 (used for overrides nobody declared). */
export function inferParameterType(value: unknown): ParameterTypeName {
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'double';
  if (typeof value === 'string') return 'string';
  if (Array.isArray(value) && value.length > 0) {
    const t = inferParameterType(value[0]);
    if (t === 'bool' || t === 'integer' || t === 'double' || t === 'string') {
      if (t === 'integer' && value.some((x) => typeof x === 'number' && !Number.isInteger(x))) return 'double_array';
      return `${t}_array` as ParameterTypeName;
    }
  }
  if (Array.isArray(value)) return 'string_array';
  throw new GraphError(`cannot use ${describeValue(value)} as a parameter value`);
}

interface Entry {
  type: ParameterTypeName;
  value: ParameterValue;
  descriptor: ParameterDescriptor;
}

export class ParameterStore {
  private readonly entries = new Map<string, Entry>();
  private readonly callbacks: OnSetParametersCallback[] = [];
  private readonly usedOverrides = new Set<string>();

  constructor(
    private readonly owner: string,
    private readonly overrides: Readonly<Record<string, ParameterValue>> = {},
  ) {}

  declare<V extends ParameterValue>(
    name: string,
    type: ParameterTypeName,
    defaultValue: V,
    descriptor: ParameterDescriptor = {},
  ): V {
    if (!PARAMETER_TYPES.includes(type)) {
      throw new GraphError(`${this.owner}: parameter '${name}' has unknown type '${type}'; use ${PARAMETER_TYPES.join(', ')}`);
    }
    if (this.entries.has(name)) throw new GraphError(`${this.owner}: parameter '${name}' is already declared`);
    const fromOverride = Object.prototype.hasOwnProperty.call(this.overrides, name);
    const raw = fromOverride ? this.overrides[name] : defaultValue;
    const c = coerceParameterValue(type, raw);
    if (!c.ok) {
      const where = fromOverride ? 'the value given at launch' : 'its default';
      throw new GraphError(`${this.owner}: parameter '${name}': ${where} does not fit: ${c.reason}`);
    }
    const rangeProblem = checkRange(descriptor, c.value);
    if (rangeProblem) throw new GraphError(`${this.owner}: parameter '${name}': ${rangeProblem}`);
    const veto = this.runCallbacks([{ name, type, value: c.value }]);
    if (!veto.successful) throw new GraphError(`${this.owner}: parameter '${name}' rejected: ${veto.reason}`);
    if (fromOverride) this.usedOverrides.add(name);
    this.entries.set(name, { type, value: c.value, descriptor });
    return c.value as V;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get<V extends ParameterValue>(name: string): V {
    const e = this.entries.get(name);
    if (!e) throw new GraphError(`${this.owner}: parameter '${name}' is not declared (declare it with declareParameter first)`);
    return e.value as V;
  }

  getParameter(name: string): Parameter {
    const e = this.entries.get(name);
    if (!e) throw new GraphError(`${this.owner}: parameter '${name}' is not declared`);
    return { name, type: e.type, value: e.value };
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Like rclnodejs `setParameters`: in order, each one checked and offered to the callbacks. */
  set(list: Array<{ name: string; value: ParameterValue }>): SetParametersResult[] {
    return list.map(({ name, value }) => {
      const e = this.entries.get(name);
      if (!e) return { successful: false, reason: `parameter '${name}' is not declared` };
      if (e.descriptor.readOnly) return { successful: false, reason: `parameter '${name}' is read-only` };
      const c = coerceParameterValue(e.type, value);
      if (!c.ok) return { successful: false, reason: `parameter '${name}': ${c.reason}` };
      const rangeProblem = checkRange(e.descriptor, c.value);
      if (rangeProblem) return { successful: false, reason: `parameter '${name}': ${rangeProblem}` };
      const res = this.runCallbacks([{ name, type: e.type, value: c.value }]);
      if (!res.successful) return res;
      e.value = c.value;
      return { successful: true, reason: '' };
    });
  }

  addCallback(cb: OnSetParametersCallback): void {
    this.callbacks.unshift(cb);
  }

  removeCallback(cb: OnSetParametersCallback): void {
    const i = this.callbacks.indexOf(cb);
    if (i >= 0) this.callbacks.splice(i, 1);
  }

  /** Overrides given at launch that no declared parameter consumed (likely typos). */
  unusedOverrides(): string[] {
    return Object.keys(this.overrides).filter((k) => !this.usedOverrides.has(k) && !this.entries.has(k));
  }

  private runCallbacks(params: Parameter[]): SetParametersResult {
    for (const cb of this.callbacks) {
      const r = cb(params);
      if (!r || !r.successful) return { successful: false, reason: r?.reason || 'rejected by an on-set-parameters callback' };
    }
    return { successful: true, reason: '' };
  }
}

function checkRange(descriptor: ParameterDescriptor, value: ParameterValue): string | undefined {
  const r = descriptor.range;
  if (!r || typeof value !== 'number') return undefined;
  if (value < r.from || value > r.to) return `value ${value} is outside [${r.from}, ${r.to}]`;
  if (r.step && r.step > 0 && value !== r.to) {
    const k = (value - r.from) / r.step;
    if (Math.abs(k - Math.round(k)) > 1e-6) return `value ${value} is not on the step ${r.step} from ${r.from}`;
  }
  return undefined;
}
