/** Int64-exact JSON (src/emulator/rest/json.ts) and request binding rules. */
import { describe, expect, it } from 'vitest';
import { BindError, JsonReader, parseAnyGuid, toInt64 } from '../../src/emulator/rest/binding.js';
import { JsonSyntaxError, parseJson, stringifyJson } from '../../src/emulator/rest/json.js';
import { mintBotToken, tokenPrefixForGuid } from '../../src/emulator/rest/state.js';

describe('parseJson / stringifyJson', () => {
  it('keeps integers beyond 2^53 exact as bigint and writes them back as bare numbers', () => {
    const text =
      '{"a":1883113794220064768,"b":-9223372036854775808,"c":9007199254740991,"d":1.5,"e":[72057594037927936]}';
    const v = parseJson(text) as Record<string, unknown>;
    expect(v.a).toBe(1883113794220064768n);
    expect(v.b).toBe(-9223372036854775808n);
    expect(v.c).toBe(9007199254740991);
    expect(v.d).toBe(1.5);
    expect(stringifyJson(v)).toBe(text);
  });

  it('emits explicit nulls, skips undefined, escapes strings', () => {
    expect(stringifyJson({ a: null, b: undefined, c: 'x"\n', d: [1n, true] })).toBe(
      '{"a":null,"c":"x\\"\\n","d":[1,true]}',
    );
  });

  it('rejects malformed text and absurd nesting without throwing anything else', () => {
    for (const t of ['', '{', '[1,]', '{"a" 1}', '01', 'tru', '"\\x"', '{"a":1}x', '['.repeat(1000)]) {
      expect(() => parseJson(t), t.slice(0, 20)).toThrow(JsonSyntaxError);
    }
  });

  it('treats __proto__ as a plain key', () => {
    const v = parseJson('{"__proto__":{"polluted":1}}') as Record<string, unknown>;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(v)).toEqual(['__proto__']);
  });
});

describe('binding', () => {
  it('int64 from numbers, bigints and numeric strings; rejects fractions and overflow', () => {
    expect(toInt64('123', 'x')).toBe(123n);
    expect(toInt64(5, 'x')).toBe(5n);
    expect(toInt64(2n ** 62n, 'x')).toBe(2n ** 62n);
    for (const bad of [1.5, '1.0', ' 1', 'abc', 2n ** 63n, true])
      expect(() => toInt64(bad as never, 'x')).toThrow(BindError);
  });

  it('reads members case-insensitively with C# defaults', () => {
    const r = JsonReader.of(parseJson('{"ChannelID":"AAAAAAAA-0000-0000-0000-000000000000","TEXT":null}'));
    expect(r.guid('channelId')).toBe('aaaaaaaa-0000-0000-0000-000000000000');
    expect(r.str('text')).toBeNull();
    expect(r.guid('spaceId')).toBe('00000000-0000-0000-0000-000000000000');
    expect(r.int64('randomId')).toBe(0n);
    expect(() => r.str('x', { required: true })).toThrow(BindError);
  });

  it('query GUIDs accept the .NET forms; body GUIDs only the dashed one', () => {
    const g = '0f8fad5b-d9cb-469f-a165-70867728950e';
    for (const f of [g, g.replace(/-/g, ''), `{${g}}`, `(${g})`, g.toUpperCase()]) expect(parseAnyGuid(f)).toBe(g);
    expect(parseAnyGuid('nope')).toBeUndefined();
    expect(() => JsonReader.of(parseJson(`{"id":"${g.replace(/-/g, '')}"}`)).guid('id')).toThrow(BindError);
  });
});

describe('bot tokens (§R1.4)', () => {
  it('prefix = the AppId GUID bytes in .NET layout, reversed, upper-case hex; 43-char base64url secret', () => {
    expect(tokenPrefixForGuid('00112233-4455-6677-8899-aabbccddeeff')).toBe('FFEEDDCCBBAA99886677445500112233');
    expect(mintBotToken('00112233-4455-6677-8899-aabbccddeeff')).toMatch(
      /^FFEEDDCCBBAA99886677445500112233:[A-Za-z0-9_-]{43}$/,
    );
  });
});
