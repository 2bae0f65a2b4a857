/**
 * Bigint-exact JSON for the Argon Bot API.
 *
 * Message ids (`messageId`, `replyTo`, `replyId`, `messageIds`) and permission/entitlement masks
 * (`permissions`, `grantedEntitlements`, `requiredEntitlements`) are int64 JSON *numbers* on the wire,
 * around 10^18 and 2^56 — far above 2^53, where `JSON.parse` silently rounds (spec §4.3). This module
 * parses them into `bigint` exactly and serialises `bigint` as numeric strings, which the server accepts
 * for every int64 field ("allow reading numbers from strings", §4.3).
 *
 * Two paths:
 * - fast: when the text has no run of 16 or more digits, every integer in it is below 10^15 < 2^53, so
 *   `JSON.parse` is exact; the known int64 keys are then converted to `bigint` in one walk;
 * - exact: otherwise a small hand-written recursive-descent parser reads integers as source text and
 *   makes `bigint`s for the known keys (and for any other integer that would not survive as a double).
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
 * Parses JSON text; integers under {@link BIGINT_KEYS} (or `keys`) become `bigint`, and so does any
 * other integer that a double cannot hold exactly.
 * @throws {@link ProtocolError} on malformed JSON.
 */
export function parseJson(text: string, keys: ReadonlySet<string> = BIGINT_KEYS): unknown {
  if (!LONG_DIGITS.test(text)) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new ProtocolError(`malformed JSON: ${(err as Error).message}`, { cause: err });
    }
    return convertKnown(value, keys, false);
  }
  return new ExactParser(text, keys).parseDocument();
}

function convertKnown(value: unknown, keys: ReadonlySet<string>, underKey: boolean): unknown {
  if (typeof value === 'number') return underKey && Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = convertKnown(value[i], keys, underKey);
    return value;
  }
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of Object.keys(obj)) obj[k] = convertKnown(obj[k], keys, keys.has(k));
  }
  return value;
}

class ExactParser {
  #pos = 0;
  readonly #s: string;
  readonly #keys: ReadonlySet<string>;

  constructor(text: string, keys: ReadonlySet<string>) {
    this.#s = text;
    this.#keys = keys;
  }

  parseDocument(): unknown {
    const v = this.#value(false);
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

  #value(bigKey: boolean): unknown {
    this.#ws();
    const c = this.#s[this.#pos];
    switch (c) {
      case '{':
        return this.#object();
      case '[':
        return this.#array(bigKey);
      case '"':
        return this.#string();
      case 't':
        return this.#literal('true', true);
      case 'f':
        return this.#literal('false', false);
      case 'n':
        return this.#literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number(bigKey);
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
      out[key] = this.#value(this.#keys.has(key));
      this.#ws();
      const c = this.#s[this.#pos++];
      if (c === '}') return out;
      if (c !== ',') this.#fail("expected ',' or '}'");
    }
  }

  #array(bigKey: boolean): unknown[] {
    this.#pos++; // [
    const out: unknown[] = [];
    this.#ws();
    if (this.#s[this.#pos] === ']') {
      this.#pos++;
      return out;
    }
    for (;;) {
      out.push(this.#value(bigKey));
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

  #number(bigKey: boolean): number | bigint {
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
