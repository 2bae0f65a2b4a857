/**
 * Bigint-exact JSON for the Argon Bot API.
 *
 * Message ids (`messageId`, `replyTo`, `replyId`, `messageIds`) and permission/entitlement masks
 * (`permissions`, `grantedEntitlements`, `requiredEntitlements`) are int64 JSON *numbers* on the wire,
 * around 10^18 and 2^56 — far above 2^53, where `JSON.parse` silently rounds (docs/platform.md §R4.3). This module
 * parses them into `bigint` exactly and serialises `bigint` as numeric strings, which the server accepts
 * for every int64 field ("allow reading numbers from strings", §R4.3).
 *
 * Two paths:
 * - fast: when the text has no run of 16 or more digits, every integer in it is below 10^15 < 2^53, so
 *   `JSON.parse` is exact; one bounded walk then checks that no int64 key holds a number (one that
 *   does sends the text to the exact path, see below);
 * - exact: otherwise a small hand-written recursive-descent parser reads integers as source text and
 *   makes `bigint`s for the known keys (and for any other integer that would not survive as a double).
 *
 * Hostile-input rules (both paths):
 * - nesting deeper than {@link MAX_JSON_DEPTH} is a {@link ProtocolError}, not a stack overflow
 *   (the exact parser recurses; no Argon payload nests beyond ~10 levels);
 * - a value under an int64 key must be an integer literal (`-?digits`): `1.5`, `1e400` or
 *   `1152921504606846977.0` is a {@link ProtocolError}, never a float or a rounded id (docs/platform.md §R4.3). The
 *   fast path cannot see how `JSON.parse` spelled a number, so a document with a numeric value under
 *   an int64 key is re-read by the exact parser (real ids have 19 digits and take that path anyway).
 * @packageDocumentation
 */
import { ProtocolError } from '../errors.js';

/**
 * JSON keys whose integer values are int64 ids or masks and always become `bigint`
 * (arrays under these keys convert element-wise).
 */
export const BIGINT_KEYS: ReadonlySet<string> = new Set([
  'messageId',
  'messageIds',
  'replyTo',
  'replyId',
  'randomId',
  'permissions',
  'grantedEntitlements',
  'requiredEntitlements',
]);

const LONG_DIGITS = /\d{16}/;

/**
 * Deepest array/object nesting accepted. The exact parser recurses once per level, so this bounds
 * its stack use; Argon payloads nest about 6 levels deep (ready → spaces → entitlements).
 */
export const MAX_JSON_DEPTH = 512;

/**
 * Parses JSON text; integers under {@link BIGINT_KEYS} (or `keys`) become `bigint`, and so does any
 * other integer that a double cannot hold exactly.
 * @throws {@link ProtocolError} on malformed JSON, nesting deeper than {@link MAX_JSON_DEPTH}, or a
 *   value under an int64 key that is a number but not an integer literal (`1.5`, `1e400`, `7.0`).
 */
export function parseJson(text: string, keys: ReadonlySet<string> = BIGINT_KEYS): unknown {
  if (!LONG_DIGITS.test(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ProtocolError(`malformed JSON: ${clipText((err as Error).message)}`, { cause: err });
    }
    const converted = convertKnown(value, keys, false, 0);
    // A number under an int64 key: JSON.parse has already lost its spelling (`7` vs `7.0` vs `7e0`),
    // so read the document again with the exact parser, which checks the literal itself.
    if (converted === NEEDS_EXACT) return new ExactParser(text, keys).parseDocument();
    return converted;
  }
  return new ExactParser(text, keys).parseDocument();
}

/** Sentinel: the fast path met a number under an int64 key. */
const NEEDS_EXACT: unique symbol = Symbol('needs-exact');

function tooDeep(): never {
  throw new ProtocolError(`malformed JSON: nested deeper than ${MAX_JSON_DEPTH} levels`);
}

/** Walks a `JSON.parse` result; returns {@link NEEDS_EXACT} when an int64 key holds a number. */
function convertKnown(value: unknown, keys: ReadonlySet<string>, underKey: boolean, depth: number): unknown {
  if (typeof value === 'number') return underKey ? NEEDS_EXACT : value;
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) tooDeep();
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (convertKnown(value[i], keys, underKey, depth + 1) === NEEDS_EXACT) return NEEDS_EXACT;
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (convertKnown(obj[k], keys, keys.has(k), depth + 1) === NEEDS_EXACT) return NEEDS_EXACT;
  }
  return value;
}

/** Bounds text quoted from the input in an error message (a hostile body may be megabytes). */
function clipText(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

class ExactParser {
  #pos = 0;
  #depth = 0;
  readonly #s: string;
  readonly #keys: ReadonlySet<string>;

  constructor(text: string, keys: ReadonlySet<string>) {
    this.#s = text;
    this.#keys = keys;
  }

  parseDocument(): unknown {
    const v = this.#value(false, undefined);
    this.#ws();
    if (this.#pos !== this.#s.length) this.#fail('unexpected trailing characters');
    return v;
  }

  #fail(what: string): never {
    throw new ProtocolError(`malformed JSON at offset ${this.#pos}: ${what}`);
  }

  #ws(): void {
    const s = this.#s;
    let p = this.#pos;
    for (;;) {
      const c = s.charCodeAt(p);
      if (c === 32 || c === 10 || c === 13 || c === 9) p++;
      else break;
    }
    this.#pos = p;
  }

  /** `key`: the int64 key this value sits under (directly or in an array), for error messages. */
  #value(bigKey: boolean, key: string | undefined): unknown {
    this.#ws();
    const c = this.#s[this.#pos];
    switch (c) {
      case '{':
      case '[': {
        if (++this.#depth > MAX_JSON_DEPTH) this.#fail(`nested deeper than ${MAX_JSON_DEPTH} levels`);
        const v = c === '{' ? this.#object() : this.#array(bigKey, key);
        this.#depth--;
        return v;
      }
      case '"':
        return this.#string();
      case 't':
        return this.#literal('true', true);
      case 'f':
        return this.#literal('false', false);
      case 'n':
        return this.#literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number(bigKey, key);
        return this.#fail(c === undefined ? 'unexpected end of input' : `unexpected character ${JSON.stringify(c)}`);
    }
  }

  #literal<T>(word: string, value: T): T {
    if (!this.#s.startsWith(word, this.#pos)) this.#fail(`expected ${word}`);
    this.#pos += word.length;
    return value;
  }

  #object(): Record<string, unknown> {
    this.#pos++; // {
    const out: Record<string, unknown> = {};
    this.#ws();
    if (this.#s[this.#pos] === '}') {
      this.#pos++;
      return out;
    }
    for (;;) {
      this.#ws();
      if (this.#s[this.#pos] !== '"') this.#fail('expected a property name');
      const key = this.#string();
      this.#ws();
      if (this.#s[this.#pos] !== ':') this.#fail("expected ':'");
      this.#pos++;
      const big = this.#keys.has(key);
      const v = this.#value(big, big ? key : undefined);
      // `out.__proto__ = v` would replace the prototype; JSON.parse makes an own property.
      if (key === '__proto__')
        Object.defineProperty(out, key, { value: v, enumerable: true, writable: true, configurable: true });
      else out[key] = v;
      this.#ws();
      const c = this.#s[this.#pos++];
      if (c === '}') return out;
      if (c !== ',') this.#fail("expected ',' or '}'");
    }
  }

  #array(bigKey: boolean, key: string | undefined): unknown[] {
    this.#pos++; // [
    const out: unknown[] = [];
    this.#ws();
    if (this.#s[this.#pos] === ']') {
      this.#pos++;
      return out;
    }
    for (;;) {
      out.push(this.#value(bigKey, key));
      this.#ws();
      const c = this.#s[this.#pos++];
      if (c === ']') return out;
      if (c !== ',') this.#fail("expected ',' or ']'");
    }
  }

  #string(): string {
    const s = this.#s;
    const start = this.#pos;
    let p = start + 1;
    let escaped = false;
    for (;;) {
      const c = s.charCodeAt(p);
      if (Number.isNaN(c)) this.#fail('unterminated string');
      if (c === 34) break; // "
      if (c === 92) {
        escaped = true;
        p += 2;
        continue;
      }
      if (c < 0x20) this.#fail('control character in string');
      p++;
    }
    this.#pos = p + 1;
    const raw = s.slice(start, p + 1);
    if (!escaped) return raw.slice(1, -1);
    try {
      return JSON.parse(raw) as string;
    } catch (err) {
      return this.#fail(`bad string escape (${(err as Error).message})`);
    }
  }

  #number(bigKey: boolean, key: string | undefined): number | bigint {
    const s = this.#s;
    const start = this.#pos;
    let p = start;
    if (s[p] === '-') p++;
    const intStart = p;
    while (p < s.length && s.charCodeAt(p) >= 48 && s.charCodeAt(p) <= 57) p++;
    if (p === intStart) this.#fail('expected digits');
    if (s[intStart] === '0' && p - intStart > 1) this.#fail('leading zero');
    let isInt = true;
    if (s[p] === '.') {
      isInt = false;
      p++;
      const f = p;
      while (p < s.length && s.charCodeAt(p) >= 48 && s.charCodeAt(p) <= 57) p++;
      if (p === f) this.#fail('expected fraction digits');
    }
    if (s[p] === 'e' || s[p] === 'E') {
      isInt = false;
      p++;
      if (s[p] === '+' || s[p] === '-') p++;
      const e = p;
      while (p < s.length && s.charCodeAt(p) >= 48 && s.charCodeAt(p) <= 57) p++;
      if (p === e) this.#fail('expected exponent digits');
    }
    this.#pos = p;
    const text = s.slice(start, p);
    if (bigKey && !isInt) {
      // An int64 id or mask as a float would be rounded or meaningless (docs/platform.md §R4.3).
      this.#pos = start;
      this.#fail(`'${key ?? 'int64'}' must be an integer, got ${clipText(text, 40)}`);
    }
    if (isInt) {
      if (bigKey) return BigInt(text);
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    return Number(text);
  }
}

/**
 * Serialises a request body. `bigint` values are written as numeric strings (`"1152921504606846977"`),
 * which the server reads into int64 fields exactly; `undefined` members are omitted.
 */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
