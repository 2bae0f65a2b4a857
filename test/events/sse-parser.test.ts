import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { type SseItem, SseParser } from '../../src/events/sse-parser.js';
import { seeded } from '../rest/stub.js';

const enc = new TextEncoder();
const BIG = 2n ** 60n + 1n;

const WIRE =
  'event: ready\ndata: {"intents":12253,"spaces":[]}\nid: ready\n\n' +
  `event: messageCreate\ndata: {"spaceId":"s","channelId":"c","message":{"messageId":${BIG},"text":"héllo ✓ 🎧"}}\nid: 3f2a9c_42\n\n` +
  'event: heartbeat\ndata: {"timestamp":123}\nid: 3f2a9c:42\n\n';

function parseAll(chunks: Uint8Array[], parser = new SseParser()): SseItem[] {
  const out: SseItem[] = [];
  for (const c of chunks) out.push(...parser.push(c));
  out.push(...parser.end());
  return out;
}

function split(bytes: Uint8Array, sizes: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = Math.max(1, sizes());
    out.push(bytes.slice(i, i + n));
    i += n;
  }
  return out;
}

const expected = [
  { type: 'event', event: 'ready', data: '{"intents":12253,"spaces":[]}', id: 'ready' },
  {
    type: 'event',
    event: 'messageCreate',
    data: `{"spaceId":"s","channelId":"c","message":{"messageId":${BIG},"text":"héllo ✓ 🎧"}}`,
    id: '3f2a9c_42',
  },
  { type: 'event', event: 'heartbeat', data: '{"timestamp":123}', id: '3f2a9c:42' },
];

describe('SseParser', () => {
  it('parses a whole buffer', () => {
    expect(parseAll([enc.encode(WIRE)])).toEqual(expected);
  });

  it('parses byte by byte (multi-byte UTF-8 split across chunks)', () => {
    expect(parseAll(split(enc.encode(WIRE), () => 1))).toEqual(expected);
  });

  it.each([1, 2, 3, 7, 42, 1234])('parses seeded random chunking (seed %i)', (seed) => {
    const rnd = seeded(seed);
    expect(parseAll(split(enc.encode(WIRE), () => Math.floor(rnd() * 17)))).toEqual(expected);
  });

  it.each([
    ['CRLF', '\r\n'],
    ['CR', '\r'],
    ['LF', '\n'],
  ])('accepts %s line ends, whole and byte by byte', (_n, eol) => {
    const text = WIRE.replace(/\n/g, eol);
    expect(parseAll([enc.encode(text)])).toEqual(expected);
    expect(parseAll(split(enc.encode(text), () => 1))).toEqual(expected);
  });

  it('treats CR then LF in the next chunk as one line end', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: a\r'))).toEqual([]);
    expect(p.push(enc.encode('\n\r'))).toEqual([{ type: 'event', event: 'message', data: 'a', id: undefined }]);
    expect(p.push(enc.encode('\ndata: b\n\n'))).toEqual([
      { type: 'event', event: 'message', data: 'b', id: undefined },
    ]);
  });

  it('joins multiple data lines, skips comments and retry, strips one leading space and a BOM', () => {
    const p = new SseParser();
    const items = p.push(enc.encode('\uFEFF: comment\nretry: 3000\nevent:x\ndata:  two\ndata\ndata: three\n\n'));
    expect(items).toEqual([{ type: 'event', event: 'x', data: ' two\n\nthree', id: undefined }]);
    expect(p.retryMs).toBe(3000);
  });

  it('does not dispatch an event without data, and an id-less event has no id (last id kept separately)', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('event: x\nid: 7\n\n'))).toEqual([]);
    expect(p.push(enc.encode('data: y\n\n'))).toEqual([{ type: 'event', event: 'message', data: 'y', id: undefined }]);
    expect(p.lastEventId).toBe('7');
  });

  it('drops an unterminated event at end()', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('event: x\ndata: y\n'))).toEqual([]);
    expect(p.end()).toEqual([]);
  });

  it('reports an oversized event as a ProtocolError, drops it and resynchronises', () => {
    const p = new SseParser({ maxEventBytes: 64 });
    const big = `event: messageCreate\ndata: ${'x'.repeat(200)}\nid: 1\n\n`;
    const items = parseAll(
      split(enc.encode(`${big}data: ok\n\n`), () => 5),
      p,
    );
    expect(items).toHaveLength(2);
    expect(items[0]!.type).toBe('error');
    expect((items[0] as { error: Error }).error).toBeInstanceOf(ProtocolError);
    expect(items[1]).toEqual({ type: 'event', event: 'message', data: 'ok', id: undefined });
  });

  it('reports a single over-long line without buffering it all', () => {
    const p = new SseParser({ maxEventBytes: 1024 });
    const items: SseItem[] = [];
    items.push(...p.push(enc.encode('data: ')));
    for (let i = 0; i < 100; i++) items.push(...p.push(enc.encode('y'.repeat(100))));
    items.push(...p.push(enc.encode('\n\ndata: after\n\n')));
    expect(items.map((i) => i.type)).toEqual(['error', 'event']);
    expect(items[1]).toMatchObject({ data: 'after' });
  });

  it('reports malformed lines (unknown field, invalid UTF-8) as errors and keeps going', () => {
    const p = new SseParser();
    const bad = new Uint8Array([...enc.encode('data: a\n'), 0xff, 0xfe, 10, ...enc.encode('bogus: 1\ndata: b\n\n')]);
    const items = p.push(bad);
    expect(items.map((i) => i.type)).toEqual(['error', 'error', 'event']);
    expect((items[0] as { error: Error }).error).toBeInstanceOf(ProtocolError);
    expect((items[1] as { error: Error }).error.message).toMatch(/unknown field/);
    expect(items[2]).toMatchObject({ data: 'a\nb' });
  });

  it('does not keep references to caller buffers that get reused', () => {
    const p = new SseParser();
    const buf = enc.encode('data: abc');
    expect(p.push(buf)).toEqual([]);
    buf.fill(0x7a); // caller reuses its buffer
    expect(p.push(enc.encode('\n\n'))).toEqual([{ type: 'event', event: 'message', data: 'abc', id: undefined }]);
  });
});
