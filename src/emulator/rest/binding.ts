/**
 * Request binding as ASP.NET Core Minimal APIs do it (docs/platform.md §R2.3, §R4.1–§R4.4):
 * case-insensitive JSON member names, missing members take defaults, wrong JSON types and
 * non-dashed GUIDs in bodies are 400 with an empty body, int64 accepted as number or numeric string.
 * @packageDocumentation
 */
import { isJsonObject, type JsonValue } from './json.js';

/** Raised while binding a request; the pipeline answers 400 (or 415) with an empty body. */
export class BindError extends Error {
  /** 400 for bad values, 415 for a missing JSON content type. */
  readonly status: 400 | 415;
  constructor(message: string, status: 400 | 415 = 400) {
    super(message);
    this.name = 'BindError';
    this.status = status;
  }
}

/** The all-zero GUID: what a missing GUID member binds to. */
export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

const DASHED = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parses a GUID in any .NET `Guid.TryParse` form (N, D, B, P); returns dashed lowercase or undefined. */
export function parseAnyGuid(s: string): string | undefined {
  let t = s.trim();
  if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('(') && t.endsWith(')'))) t = t.slice(1, -1);
  if (DASHED.test(t)) return t.toLowerCase();
  if (/^[0-9a-fA-F]{32}$/.test(t)) {
    const h = t.toLowerCase();
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  return undefined;
}

/** Reads an int64 from a JSON value (number, bigint or numeric string). */
export function toInt64(v: JsonValue, what: string): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new BindError(`${what}: not an integer`);
    b = BigInt(v);
  } else if (typeof v === 'string' && /^-?\d+$/.test(v.trim()) && v === v.trim()) b = BigInt(v);
  else throw new BindError(`${what}: expected an int64`);
  if (b < INT64_MIN || b > INT64_MAX) throw new BindError(`${what}: out of int64 range`);
  return b;
}

/**
 * Case-insensitive reader over a JSON object (a request body or a nested object in it).
 * Every getter returns the C# default for a missing member and throws {@link BindError} for a wrong type.
 */
export class JsonReader {
  readonly #obj: { [key: string]: JsonValue };
  readonly #path: string;

  constructor(obj: { [key: string]: JsonValue }, path = '$') {
    this.#obj = obj;
    this.#path = path;
  }

  /** Wraps a body that must be a JSON object. @throws BindError otherwise. */
  static of(v: JsonValue | undefined, path = '$'): JsonReader {
    if (!isJsonObject(v)) throw new BindError(`${path}: expected a JSON object`);
    return new JsonReader(v, path);
  }

  /** Raw member (case-insensitive name match, last one wins like System.Text.Json). */
  raw(name: string): JsonValue | undefined {
    const lower = name.toLowerCase();
    let found: JsonValue | undefined;
    for (const k of Object.keys(this.#obj)) if (k.toLowerCase() === lower) found = this.#obj[k];
    return found;
  }

  /** True when the member is present (even as null). */
  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  /** A string member; missing or null → null. */
  str(name: string, opts: { required?: boolean } = {}): string | null {
    const v = this.raw(name);
    if (v === undefined) {
      if (opts.required) throw new BindError(`${this.#path}.${name}: required`);
      return null;
    }
    if (v === null) return null;
    if (typeof v !== 'string') throw new BindError(`${this.#path}.${name}: expected a string`);
    return v;
  }

  /** A non-nullable GUID member (dashed form only); missing → zero GUID. */
  guid(name: string): string {
    const v = this.raw(name);
    if (v === undefined) return ZERO_GUID;
    if (typeof v !== 'string' || !DASHED.test(v)) throw new BindError(`${this.#path}.${name}: expected a dashed GUID`);
    return v.toLowerCase();
  }

  /** A nullable GUID member. */
  guidOrNull(name: string): string | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    return this.guid(name);
  }

  /** An int64 member; missing → 0. */
  int64(name: string): bigint {
    const v = this.raw(name);
    if (v === undefined) return 0n;
    if (v === null) throw new BindError(`${this.#path}.${name}: null for a non-nullable int64`);
    return toInt64(v, `${this.#path}.${name}`);
  }

  /** A nullable int64 member. */
  int64OrNull(name: string): bigint | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    return toInt64(v, `${this.#path}.${name}`);
  }

  /** An int32 member (also an integer enum); missing → `dflt`. */
  int32(name: string, dflt = 0, opts: { required?: boolean } = {}): number {
    const v = this.raw(name);
    if (v === undefined) {
      if (opts.required) throw new BindError(`${this.#path}.${name}: required`);
      return dflt;
    }
    if (v === null) throw new BindError(`${this.#path}.${name}: null for a non-nullable int`);
    const b = toInt64(v, `${this.#path}.${name}`);
    if (b < -(2n ** 31n) || b >= 2n ** 31n) throw new BindError(`${this.#path}.${name}: out of int32 range`);
    return Number(b);
  }

  /**
   * An integer enum member: JSON numbers only (no string enum converter and no
   * reading-from-string for enums on the server, §R4.4); missing → `dflt`.
   */
  enumValue(name: string, dflt = 0, opts: { required?: boolean } = {}): number {
    const v = this.raw(name);
    if (v !== undefined && v !== null && typeof v !== 'number' && typeof v !== 'bigint') {
      throw new BindError(`${this.#path}.${name}: enums are integers`);
    }
    return this.int32(name, dflt, opts);
  }

  /** A nullable integer enum member. */
  enumOrNull(name: string): number | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    return this.enumValue(name);
  }

  /** A nullable int32 member. */
  int32OrNull(name: string): number | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    return this.int32(name);
  }

  /** A nullable boolean member. */
  boolOrNull(name: string): boolean | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    if (typeof v !== 'boolean') throw new BindError(`${this.#path}.${name}: expected a boolean`);
    return v;
  }

  /** A floating-point member (numbers or numeric strings); missing → 0. */
  num(name: string): number {
    const v = this.raw(name);
    if (v === undefined) return 0;
    if (typeof v === 'number') return v;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    throw new BindError(`${this.#path}.${name}: expected a number`);
  }

  /** A nullable array member, each element mapped by `fn`. */
  arr<T>(name: string, fn: (v: JsonValue, path: string) => T): T[] | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) throw new BindError(`${this.#path}.${name}: expected an array`);
    return v.map((e, idx) => fn(e, `${this.#path}.${name}[${idx}]`));
  }

  /** A nullable nested object member. */
  obj(name: string): JsonReader | null {
    const v = this.raw(name);
    if (v === undefined || v === null) return null;
    return JsonReader.of(v, `${this.#path}.${name}`);
  }

  /** The underlying object (for storing raw request fragments). */
  get value(): { [key: string]: JsonValue } {
    return this.#obj;
  }
}

/** Case-insensitive query-string reader with .NET binding rules for required parameters. */
export class QueryReader {
  readonly #params: URLSearchParams;

  constructor(params: URLSearchParams) {
    this.#params = params;
  }

  /** Raw value (case-insensitive name; first occurrence). */
  raw(name: string): string | undefined {
    const lower = name.toLowerCase();
    for (const [k, v] of this.#params) if (k.toLowerCase() === lower) return v;
    return undefined;
  }

  /** A required GUID (any .NET format). @throws BindError when missing or unparsable. */
  guid(name: string): string {
    const v = this.raw(name);
    const g = v === undefined ? undefined : parseAnyGuid(v);
    if (!g) throw new BindError(`query ${name}: required GUID`);
    return g;
  }

  /** An optional int64. @throws BindError when present but unparsable. */
  int64OrNull(name: string): bigint | null {
    const v = this.raw(name);
    if (v === undefined || v === '') return null;
    if (!/^\s*[-+]?\d+\s*$/.test(v)) throw new BindError(`query ${name}: not an integer`);
    const b = BigInt(v.trim());
    if (b < INT64_MIN || b > INT64_MAX) throw new BindError(`query ${name}: out of range`);
    return b;
  }

  /** An optional int32. @throws BindError when present but unparsable. */
  int32OrNull(name: string): number | null {
    const b = this.int64OrNull(name);
    if (b === null) return null;
    if (b < -(2n ** 31n) || b >= 2n ** 31n) throw new BindError(`query ${name}: out of int32 range`);
    return Number(b);
  }
}
