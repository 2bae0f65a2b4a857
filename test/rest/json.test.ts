import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { parseJson, stringifyJson } from '../../src/rest/json.js';

const BIG = 2n ** 60n + 1n; // 1152921504606846977: a double would round it to ...976

describe('parseJson (bigint-exact)', () => {
  it('keeps 2^60+1 exact for message ids, reply ids and id arrays', () => {
    const text = `{"messageId":${BIG},"replyTo":${BIG + 2n},"messageIds":[${BIG},5],"text":"x"}`;
    const v = parseJson(text) as { messageId: bigint; replyTo: bigint; messageIds: bigint[]; text: string };
    expect(v.messageId).toBe(BIG);
    expect(v.replyTo).toBe(BIG + 2n);
    expect(v.messageIds).toEqual([BIG, 5n]);
    expect(v.text).toBe('x');
    // the naive parser really loses it
    expect(BigInt((JSON.parse(text) as { messageId: number }).messageId)).not.toBe(BIG);
  });

  it('makes known int64 keys bigint even when small (fast path)', () => {
    const v = parseJson('{"messageId":42,"permissions":null,"grantedEntitlements":1024,"count":3}') as Record<
      string,
      unknown
    >;
    expect(v.messageId).toBe(42n);
    expect(v.permissions).toBeNull();
    expect(v.grantedEntitlements).toBe(1024n);
    expect(v.count).toBe(3);
  });

  it('converts masks nested in arrays of objects (ready.spaces[].grantedEntitlements = 2^56+1)', () => {
    const mask = 2n ** 56n + 1n;
    const v = parseJson(
      `{"intents":12253,"spaces":[{"spaceId":"a","grantedEntitlements":${mask},"pendingApproval":false}]}`,
    ) as {
      intents: number;
      spaces: Array<{ grantedEntitlements: bigint }>;
    };
    expect(v.intents).toBe(12253);
    expect(v.spaces[0]!.grantedEntitlements).toBe(mask);
  });

  it('keeps unknown unsafe integers exact as bigint and safe ones as numbers', () => {
    const v = parseJson(`{"value":${BIG},"n":-12,"f":1.5e3,"neg":-${BIG}}`) as Record<string, unknown>;
    expect(v.value).toBe(BIG);
    expect(v.n).toBe(-12);
    expect(v.f).toBe(1500);
    expect(v.neg).toBe(-BIG);
  });

  it('handles strings with escapes and digit runs on the exact path', () => {
    const v = parseJson(
      `{"text":"a\\"b\\\\c\\u00e9 1234567890123456","messageId":${BIG},"ok":true,"nil":null,"arr":[]}`,
    ) as Record<string, unknown>;
    expect(v.text).toBe('a"b\\cé 1234567890123456');
    expect(v.messageId).toBe(BIG);
    expect(v.ok).toBe(true);
    expect(v.nil).toBeNull();
    expect(v.arr).toEqual([]);
  });

  it.each(['{"messageId":1152921504606846977', '{"a":01234567890123456}', '[1152921504606846977,]', '', '{"a":tru}'])(
    'throws ProtocolError on malformed input %j',
    (text) => {
      expect(() => parseJson(text)).toThrow(ProtocolError);
    },
  );
});

describe('stringifyJson', () => {
  it('writes bigint as a numeric string and omits undefined', () => {
    expect(stringifyJson({ randomId: BIG, replyTo: undefined, ids: [BIG, 1n] })).toBe(
      `{"randomId":"${BIG}","ids":["${BIG}","1"]}`,
    );
  });
});

describe('parseJson on hostile input (regressions)', () => {
  it.each([
    ['exact path', `{"messageId":${BIG},"x":`],
    ['fast path', '{"x":'],
  ])('nesting deeper than MAX_JSON_DEPTH is a ProtocolError, not a RangeError (%s)', (_path, head) => {
    const deep = `${head}${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(() => parseJson(deep)).toThrow(ProtocolError);
    expect(() => parseJson(deep)).toThrow(/nested deeper than 512/);
    // 512 levels are still fine on both paths
    const ok = `${head}${'['.repeat(511)}${']'.repeat(511)}}`;
    expect(() => parseJson(ok)).not.toThrow();
  });

  it.each([
    '{"messageId":1.5}',
    '{"messageId":1e400}',
    '{"messageId":7.0}',
    '{"messageId":7e0}',
    `{"messageId":${BIG}.0}`,
    `{"messageIds":[${BIG},2.5]}`,
    '{"spaces":[{"grantedEntitlements":1.25}]}',
  ])('an int64 field that is not an integer literal is a ProtocolError: %s', (text) => {
    expect(() => parseJson(text)).toThrow(ProtocolError);
    expect(() => parseJson(text)).toThrow(/must be an integer/);
  });

  it('floats under other keys stay numbers on both paths', () => {
    expect(parseJson('{"messageId":7,"ratio":1.5}')).toEqual({ messageId: 7n, ratio: 1.5 });
    expect(parseJson(`{"messageId":${BIG},"ratio":1e3}`)).toEqual({ messageId: BIG, ratio: 1000 });
  });

  it('a "__proto__" key is an own property on the exact path, as with JSON.parse', () => {
    const v = parseJson(`{"messageId":${BIG},"__proto__":{"polluted":true}}`) as Record<string, unknown>;
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect((v as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual(['messageId', '__proto__']);
  });
});
