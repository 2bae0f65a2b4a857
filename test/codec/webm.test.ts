import { describe, expect, it } from 'vitest';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { type WebmDemuxEvent, WebmOpusDemuxer, demuxWebmOpus } from '../../src/codec/webm-demux.js';
import { ContainerError } from '../../src/errors.js';
import { chunked, makeOggOpus, makeWebmOpus, prng, readFixture } from '../helpers/fixtures.js';

function demuxChunks(chunks: Uint8Array[], options?: { maxElementBytes?: number }): WebmDemuxEvent[] {
  const d = new WebmOpusDemuxer(options);
  const out: WebmDemuxEvent[] = [];
  for (const c of chunks) out.push(...d.write(c));
  out.push(...d.end());
  return out;
}

function summary(events: WebmDemuxEvent[]): unknown[] {
  return events.map((e) => (e.type === 'packet' ? { ...e, packet: Buffer.from(e.packet).toString('base64') } : e));
}

function packets(events: WebmDemuxEvent[]): Uint8Array[] {
  return events.flatMap((e) => (e.type === 'packet' ? [e.packet] : []));
}

function b64(ps: Uint8Array[]): string[] {
  return ps.map((p) => Buffer.from(p).toString('base64'));
}

function demuxError(bytes: Uint8Array): unknown {
  try {
    demuxChunks([bytes]);
  } catch (err) {
    return err;
  }
  return undefined;
}

// --- a tiny EBML writer for hand-built files (RFC 8794 §4: VINT sizes) ---
type Part = Uint8Array | number[];
const UNKNOWN = -1;
function idBytes(id: number): number[] {
  const out: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return out;
}
function sizeBytes(n: number): number[] {
  if (n === UNKNOWN) return [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
  for (let len = 1; len <= 8; len++) {
    if (n < 2 ** (7 * len) - 1) {
      const out: number[] = [];
      let v = n;
      for (let i = 0; i < len; i++) {
        out.unshift(v & 0xff);
        v = Math.floor(v / 256);
      }
      out[0] = (out[0] as number) | (0x80 >> (len - 1));
      return out;
    }
  }
  throw new Error('too big');
}
function el(id: number, ...body: Part[]): Uint8Array {
  const data = Buffer.concat(body.map((b) => Uint8Array.from(b)));
  return Uint8Array.from([...idBytes(id), ...sizeBytes(data.length), ...data]);
}
function elUnknown(id: number, ...body: Part[]): Uint8Array {
  return Uint8Array.from([
    ...idBytes(id),
    ...sizeBytes(UNKNOWN),
    ...Buffer.concat(body.map((b) => Uint8Array.from(b))),
  ]);
}
const str = (s: string): number[] => [...Buffer.from(s)];
const uintEl = (id: number, v: number): Uint8Array => el(id, [v]);
function opusHead(channels: number, preSkip = 312): number[] {
  return [...str('OpusHead'), 1, channels, preSkip & 0xff, preSkip >> 8, 0x80, 0xbb, 0, 0, 0, 0, 0];
}
function ebmlHeader(docType = 'webm'): Uint8Array {
  return el(0x1a45dfa3, el(0x4286, [1]), el(0x4282, str(docType)));
}
function track(number: number, codec: string, extra: Part[] = []): Uint8Array {
  return el(0xae, uintEl(0xd7, number), el(0x86, str(codec)), ...extra);
}
/** SimpleBlock/Block body: track VINT, int16 timecode, flags, then frames. */
function blockBody(trackNo: number, tc: number, flags: number, ...rest: Part[]): number[] {
  return [0x80 | trackNo, (tc >> 8) & 0xff, tc & 0xff, flags, ...Buffer.concat(rest.map((r) => Uint8Array.from(r)))];
}
const pk = (n: number, fill: number): number[] => [0xf8, ...new Array<number>(n - 1).fill(fill)];

/** A file with a video track (skipped), unknown-size segment and clusters, every block form and lacing. */
function handBuilt(): { bytes: Uint8Array; expected: number[][] } {
  const a = pk(5, 1);
  const b = pk(300, 2);
  const c = pk(7, 3);
  const d = pk(260, 4);
  const e = pk(4, 5);
  const f = pk(4, 6);
  const g = pk(9, 7);
  const h = pk(3, 8);
  const bytes = Buffer.concat([
    ebmlHeader(),
    elUnknown(
      0x18538067,
      el(0x1549a966, el(0x2ad7b1, [0x0f, 0x42, 0x40])),
      el(0x1654ae6b, track(1, 'V_VP8'), track(2, 'A_OPUS', [el(0x63a2, opusHead(2)), el(0xe1, uintEl(0x9f, 2))])),
      el(0xec, new Array(20).fill(0)), // Void
      elUnknown(
        0x1f43b675,
        uintEl(0xe7, 0),
        el(0xa3, blockBody(1, 0, 0x80, new Array(5000).fill(0x55))), // video, skipped unbuffered
        el(0xa3, blockBody(2, 0, 0x80, a)),
        el(0xa0, el(0xa1, blockBody(2, 20, 0, b)), uintEl(0x9b, 20)), // BlockGroup + BlockDuration
        // Xiph lacing: 3 frames, sizes 7 and 260 (= 255 + 5) then the rest.
        el(0xa3, blockBody(2, 40, 0x82, [2, 7, 255, 5], c, d, e)),
      ),
      elUnknown(
        0x1f43b675,
        uintEl(0xe7, 100),
        // Fixed lacing: 2 frames of 4 bytes.
        el(0xa3, blockBody(2, 0, 0x84, [1], e, f)),
        // EBML lacing: 3 frames; sizes 9, then 3 = 9 + (−6) as a signed 1-byte VINT (bias 63).
        el(0xa3, blockBody(2, 20, 0x86, [2, 0x80 | 9, 0x80 | (63 - 6)], g, h, a)),
      ),
      el(0x1c53bb6b, [0xbb, 0x80]), // Cues ends the unknown-size cluster
    ),
  ]);
  return { bytes: Uint8Array.from(bytes), expected: [a, b, c, d, e, e, f, g, h, a] };
}

/** Rewrites every known-size Cluster of an ffmpeg file to unknown size (same length: 8-byte sizes). */
function makeClustersUnknown(bytes: Uint8Array): { out: Uint8Array; count: number } {
  const out = bytes.slice();
  let count = 0;
  for (let i = 0; i + 12 < out.length; i++) {
    if (out[i] === 0x1f && out[i + 1] === 0x43 && out[i + 2] === 0xb6 && out[i + 3] === 0x75 && out[i + 4] === 0x01) {
      out.fill(0xff, i + 5, i + 12);
      count++;
    }
  }
  return { out, count };
}

describe('WebmOpusDemuxer on ffmpeg files', () => {
  for (const channels of [1, 2] as const) {
    for (const frameDurationMs of [2.5, 10, 20, 60]) {
      it(`${channels} ch ${frameDurationMs} ms: same packets as the Ogg file, in any chunking`, async () => {
        const o = { channels, frameDurationMs, durationS: 1 };
        const bytes = readFixture(await makeWebmOpus(o));
        const whole = demuxChunks([bytes]);
        expect(summary(demuxChunks(chunked(bytes, 1)))).toEqual(summary(whole));
        expect(summary(demuxChunks(chunked(bytes, { seed: channels * 100 + frameDurationMs, max: 900 })))).toEqual(
          summary(whole),
        );
        expect(whole[0]).toMatchObject({ type: 'head', serial: 1, head: { channels } });
        expect(whole.at(-1)).toEqual({ type: 'eos', serial: 1 });
        // libopus is deterministic: the same input gives the same packets in both containers.
        const ogg = new OggOpusDemuxer().write(readFixture(await makeOggOpus(o)));
        expect(b64(packets(whole))).toEqual(b64(packets(ogg)));
        const times = whole.flatMap((e) => (e.type === 'packet' ? [e.timestampMs as number] : []));
        for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThanOrEqual(times[i - 1] as number);
        expect(whole.every((e) => e.type !== 'packet' || e.samples === frameDurationMs * 48)).toBe(true);
      });
    }
  }

  it('reads live output (unknown-size segment) and unknown-size clusters ended by Cues', async () => {
    const base = readFixture(await makeWebmOpus({ channels: 2, durationS: 2 }));
    const expected = b64(packets(demuxChunks([base])));
    const live = readFixture(await makeWebmOpus({ channels: 2, durationS: 2, live: true }));
    expect(b64(packets(demuxChunks(chunked(live, 97))))).toEqual(expected);
    for (const src of [base, live]) {
      const { out, count } = makeClustersUnknown(src);
      expect(count).toBeGreaterThan(0);
      const ev = demuxChunks(chunked(out, { seed: 5, max: 2000 }));
      expect(b64(packets(ev))).toEqual(expected);
      expect(ev.at(-1)?.type).toBe('eos');
    }
  });

  it('chained segments (two live recordings back to back) give head … eos twice', async () => {
    const live = readFixture(await makeWebmOpus({ channels: 1, durationS: 0.5, live: true }));
    const both = Uint8Array.from(Buffer.concat([live, live]));
    const ev = demuxChunks(chunked(both, { seed: 8, max: 300 }));
    const n = packets(demuxChunks([live])).length;
    expect(ev.map((e) => e.type)).toEqual([
      'head',
      ...new Array<string>(n).fill('packet'),
      'eos',
      'head',
      ...new Array<string>(n).fill('packet'),
      'eos',
    ]);
  });

  it('works as an async generator', async () => {
    const bytes = readFixture(await makeWebmOpus({ channels: 1, durationS: 0.5 }));
    async function* src(): AsyncGenerator<Uint8Array> {
      yield* chunked(bytes, 1000);
    }
    const ev: WebmDemuxEvent[] = [];
    for await (const e of demuxWebmOpus(src())) ev.push(e);
    expect(summary(ev)).toEqual(summary(demuxChunks([bytes])));
  });
});

describe('WebmOpusDemuxer on hand-built files', () => {
  it('SimpleBlock, BlockGroup, Xiph/fixed/EBML lacing, skipped video track, Void and Cues', () => {
    const { bytes, expected } = handBuilt();
    for (const chunks of [[bytes], chunked(bytes, 1), chunked(bytes, { seed: 4, max: 64 })]) {
      const ev = demuxChunks(chunks, { maxElementBytes: 4096 }); // video block (5 KB) is never buffered
      expect(ev[0]).toMatchObject({ type: 'head', serial: 2, head: { channels: 2, preSkip: 312 } });
      expect(packets(ev).map((p) => Array.from(p))).toEqual(expected);
      const ts = ev.flatMap((e) => (e.type === 'packet' ? [e.timestampMs] : []));
      expect(ts).toEqual([0, 20, 40, 40, 40, 100, 100, 120, 120, 120]);
      expect(ev.at(-1)).toEqual({ type: 'eos', serial: 2 });
    }
  });

  it('builds the head from Channels and CodecDelay when CodecPrivate is missing', () => {
    const bytes = Buffer.concat([
      ebmlHeader('matroska'),
      el(
        0x18538067,
        el(0x1654ae6b, track(3, 'A_OPUS', [el(0x56aa, [0x63, 0x2e, 0xa0]), el(0xe1, uintEl(0x9f, 2))])),
        el(0x1f43b675, uintEl(0xe7, 0), el(0xa3, blockBody(3, 0, 0x80, pk(3, 0)))),
      ),
    ]);
    const ev = demuxChunks([Uint8Array.from(bytes)]);
    // CodecDelay 6 500 000 ns = 312 samples at 48 kHz.
    expect(ev[0]).toMatchObject({ type: 'head', serial: 3, head: { channels: 2, preSkip: 312 } });
    expect(packets(ev).length).toBe(1);
  });

  it('rejects files without an Opus track, wrong DocType and non-EBML input', () => {
    const noOpus = Buffer.concat([
      ebmlHeader(),
      el(0x18538067, el(0x1654ae6b, track(1, 'A_VORBIS')), el(0x1f43b675, uintEl(0xe7, 0))),
    ]);
    expect(demuxError(Uint8Array.from(noOpus))).toMatchObject({
      container: 'webm',
      message: expect.stringContaining('A_VORBIS'),
    });
    expect(demuxError(Uint8Array.from(Buffer.concat([ebmlHeader('mkv3d'), el(0x18538067)])))).toMatchObject({
      message: expect.stringContaining('DocType'),
    });
    expect(demuxError(new TextEncoder().encode('RIFF....WAVEfmt '))).toMatchObject({ container: 'webm', offset: 0 });
  });

  it('rejects a child that overruns its parent and oversized elements', () => {
    const overrun = Uint8Array.from([
      ...ebmlHeader(),
      ...idBytes(0x18538067),
      ...sizeBytes(4),
      ...el(0xec, new Array(10).fill(0)),
    ]);
    expect(demuxError(overrun)).toMatchObject({ message: expect.stringContaining('overruns') });
    const { bytes } = handBuilt();
    expect(() => demuxChunks([bytes], { maxElementBytes: 100 })).toThrow(/maxElementBytes/);
  });
});

describe('WebmOpusDemuxer robustness', () => {
  it('flipped bytes and random garbage: ContainerError or clean events, never another error or a hang', async () => {
    const bytes = readFixture(await makeWebmOpus({ channels: 1, durationS: 0.5 }));
    const rnd = prng(99);
    let errors = 0;
    for (let i = 0; i < 400; i++) {
      const bad = bytes.slice();
      for (let k = 0; k < 3; k++) {
        const at = Math.floor(rnd() ** 3 * bad.length); // favour the header region
        bad[at] = Math.floor(rnd() * 256);
      }
      const err = demuxError(bad);
      if (err !== undefined) {
        expect(err).toBeInstanceOf(ContainerError);
        errors++;
      }
    }
    expect(errors).toBeGreaterThan(20);
    for (let i = 0; i < 200; i++) {
      const junk = new Uint8Array(1 + Math.floor(rnd() * 3000));
      for (let k = 0; k < junk.length; k++) junk[k] = Math.floor(rnd() * 256);
      if (i % 2 === 0) junk.set(ebmlHeader(), 0);
      const err = demuxError(junk);
      if (err !== undefined) expect(err).toBeInstanceOf(ContainerError);
    }
  });

  it('truncation inside an element is a ContainerError', async () => {
    const bytes = readFixture(await makeWebmOpus({ channels: 2, durationS: 0.5 }));
    const rnd = prng(12);
    for (let i = 0; i < 100; i++) {
      const cut = 1 + Math.floor(rnd() * (bytes.length - 2));
      expect(demuxError(bytes.subarray(0, cut))).toMatchObject({
        container: 'webm',
        message: expect.stringContaining('truncated'),
      });
    }
  });
});
