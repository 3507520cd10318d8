/**
 * Per-type message checkers compiled once from ROS 2 definitions. A checker verifies that a
 * value would serialize as its type and returns a normalized copy in the shape subscribers get
 * (rclnodejs default mode): numeric arrays become typed arrays, everything else is copied.
 * Copying once per publish keeps a publisher that reuses its message object from changing
 * messages still queued for slow subscribers.
 */
import type { MessageDefinition, MessageDefinitionField } from '@foxglove/message-definition';

/** Thrown inside checkers; the publisher adds topic and type. */
export class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

export type Checker = (value: unknown, path: string) => unknown;

type TypedArrayCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

const INT_RANGE: Record<string, [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  byte: [0, 255],
  char: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
};

const TYPED_ARRAY: Record<string, TypedArrayCtor> = {
  int8: Int8Array,
  uint8: Uint8Array,
  byte: Uint8Array,
  char: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

const BIG_RANGE: Record<string, [bigint, bigint]> = {
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function primitiveChecker(type: string, upperBound: number | undefined): Checker {
  const range = INT_RANGE[type];
  if (range) {
    const [lo, hi] = range;
    return (v, path) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
        throw new FieldError(path, `must be an integer ${type} in [${lo}, ${hi}], got ${describe(v)}`);
      }
      return v;
    };
  }
  const big = BIG_RANGE[type];
  if (big) {
    const [lo, hi] = big;
    return (v, path) => {
      if (typeof v === 'number' && Number.isSafeInteger(v) && (type === 'int64' || v >= 0)) return v;
      if (typeof v === 'bigint' && v >= lo && v <= hi) return v;
      throw new FieldError(path, `must be an integer ${type} (number or bigint), got ${describe(v)}`);
    };
  }
  switch (type) {
    case 'float32':
    case 'float64':
      return (v, path) => {
        if (typeof v !== 'number') throw new FieldError(path, `must be a number (${type}), got ${describe(v)}`);
        return v;
      };
    case 'bool':
      return (v, path) => {
        if (typeof v !== 'boolean') throw new FieldError(path, `must be a boolean, got ${describe(v)}`);
        return v;
      };
    case 'string':
    case 'wstring':
      return (v, path) => {
        if (typeof v !== 'string') throw new FieldError(path, `must be a string, got ${describe(v)}`);
        if (upperBound !== undefined && v.length > upperBound) {
          throw new FieldError(path, `is longer than its bound of ${upperBound} characters`);
        }
        return v;
      };
    case 'time':
    case 'duration': {
      const sec = primitiveChecker('int32', undefined);
      const nanosec = primitiveChecker('uint32', undefined);
      return (v, path) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          throw new FieldError(path, `must be {sec, nanosec} (builtin_interfaces/${type === 'time' ? 'Time' : 'Duration'}), got ${describe(v)}`);
        }
        const o = v as Record<string, unknown>;
        for (const k in o) {
          if (k !== 'sec' && k !== 'nanosec') throw new FieldError(`${path}.${k}`, 'is not a field of builtin_interfaces time (sec, nanosec)');
        }
        if (!('sec' in o)) throw new FieldError(`${path}.sec`, 'is missing');
        if (!('nanosec' in o)) throw new FieldError(`${path}.nanosec`, 'is missing');
        return { sec: sec(o.sec, `${path}.sec`), nanosec: nanosec(o.nanosec, `${path}.nanosec`) };
      };
    }
    default:
      throw new Error(`unsupported primitive type '${type}'`);
  }
}

function lengthCheck(field: MessageDefinitionField): (len: number, path: string) => void {
  const fixed = field.arrayLength;
  const bound = field.arrayUpperBound;
  if (fixed !== undefined) {
    return (len, path) => {
      if (len !== fixed) throw new FieldError(path, `must have exactly ${fixed} elements, got ${len}`);
    };
  }
  if (bound !== undefined) {
    return (len, path) => {
      if (len > bound) throw new FieldError(path, `must have at most ${bound} elements, got ${len}`);
    };
  }
  return () => {};
}

function numericArrayChecker(field: MessageDefinitionField): Checker {
  const Ctor = TYPED_ARRAY[field.type]!;
  const element = primitiveChecker(field.type, undefined);
  const isFloat = field.type === 'float32' || field.type === 'float64';
  const checkLen = lengthCheck(field);
  return (v, path) => {
    if (v instanceof Ctor) {
      checkLen(v.length, path);
      return v.slice();
    }
    if (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))) {
      const src = v as ArrayLike<unknown>;
      checkLen(src.length, path);
      if (isFloat && ArrayBuffer.isView(v) && !(v instanceof BigInt64Array || v instanceof BigUint64Array)) {
        return Ctor.from(src as ArrayLike<number>);
      }
      for (let i = 0; i < src.length; i++) element(src[i], `${path}[${i}]`);
      return Ctor.from(src as ArrayLike<number>);
    }
    throw new FieldError(path, `must be an array of ${field.type} (Array or ${Ctor.name}), got ${describe(v)}`);
  };
}

function genericArrayChecker(field: MessageDefinitionField, element: Checker): Checker {
  const checkLen = lengthCheck(field);
  return (v, path) => {
    if (!Array.isArray(v)) throw new FieldError(path, `must be an array of ${field.type}, got ${describe(v)}`);
    checkLen(v.length, path);
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = element(v[i], `${path}[${i}]`);
    return out;
  };
}

/** Compiles checkers for every definition; complex field types are resolved lazily by name. */
export class CheckerCompiler {
  private readonly cache = new Map<string, Checker>();

  constructor(private readonly lookup: (defKey: string) => MessageDefinition | undefined) {}

  get(defKey: string): Checker {
    let c = this.cache.get(defKey);
    if (!c) {
      const def = this.lookup(defKey);
      if (!def) throw new Error(`no definition for '${defKey}'`);
      // Placeholder breaks cycles (a type that contains itself through an array).
      let compiled: Checker | undefined;
      this.cache.set(defKey, (v, p) => compiled!(v, p));
      compiled = this.compileStruct(defKey, def);
      this.cache.set(defKey, compiled);
      c = compiled;
    }
    return c;
  }

  private fieldChecker(field: MessageDefinitionField): Checker {
    if (field.isComplex) {
      const inner: Checker = (v, p) => this.get(field.type)(v, p);
      return field.isArray ? genericArrayChecker(field, inner) : inner;
    }
    if (field.isArray) {
      if (TYPED_ARRAY[field.type]) return numericArrayChecker(field);
      return genericArrayChecker(field, primitiveChecker(field.type, field.upperBound));
    }
    return primitiveChecker(field.type, field.upperBound);
  }

  private compileStruct(defKey: string, def: MessageDefinition): Checker {
    const fields = def.definitions.filter((f) => !f.isConstant);
    const names = fields.map((f) => f.name);
    const known = new Set(names);
    const checkers = fields.map((f) => this.fieldChecker(f));
    const n = fields.length;
    return (v, path) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
        throw new FieldError(path, `must be a ${defKey} object, got ${describe(v)}`);
      }
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const name = names[i]!;
        const fp = path ? `${path}.${name}` : name;
        const fv = o[name];
        if (fv === undefined) throw new FieldError(fp, `is missing (${defKey} has fields: ${names.join(', ')})`);
        out[name] = checkers[i]!(fv, fp);
      }
      for (const k in o) {
        if (!known.has(k)) {
          throw new FieldError(path ? `${path}.${k}` : k, `is not a field of ${defKey} (fields: ${names.join(', ')})`);
        }
      }
      return out;
    };
  }
}
