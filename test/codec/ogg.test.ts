import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oggPageCrc } from '../../src/codec/ogg-crc.js';
import { demuxOggOpus, type OggDemuxEvent, OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { parseOpusPacket } from '../../src/codec/opus-packet.js';
import { ContainerError } from '../../src/errors.js';
import {
  chunked,
  decodeWithFfmpeg,
  makeOggOpus,
  makeOggVorbis,
  prng,
  readFixture,
  runFfmpeg,
} from '../helpers/fixtures.js';

const require = createRequire(import.meta.url);
type Codec = { decode(b: Buffer): Buffer; encode(b: Buffer): Buffer };
const { OpusEncoder } = require('@discordjs/opus') as { OpusEncoder: new (rate: number, ch: number) => Codec };

function demuxChunks(chunks: Uint8Array[], options?: { maxPacketBytes?: number }): OggDemuxEvent[] {
  const d = new OggOpusDemuxer(options);
  const out: OggDemuxEvent[] = [];
  for (const c of chunks) out.push(...d.write(c));
  out.push(...d.end());
  return out;
}

/** Comparable form of an event list. */
function summary(events: OggDemuxEvent[]): unknown[] {
  return events.map((e) =>
    e.type === 'packet'
      ? { ...e, packet: Buffer.from(e.packet).toString('base64'), granule: e.granule?.toString() }
      : e,
  );
}

function packetsOf(events: OggDemuxEvent[]): Extract<OggDemuxEvent, { type: 'packet' }>[] {
  return events.filter((e): e is Extract<OggDemuxEvent, { type: 'packet' }> => e.type === 'packet');
}

/** Errors from feeding `bytes` whole: undefined when it demuxes cleanly. */
function demuxError(bytes: Uint8Array): unknown {
  const d = new OggOpusDemuxer({ maxPacketBytes: 1 << 16 });
  try {
    d.write(bytes);
    d.write(new Uint8Array(0));
    d.end();
  } catch (err) {
    return err;
  }
  return undefined;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

/** s16 sine + a little deterministic noise, interleaved. */
function testSignal(samples: number, channels: number, seed = 1): Int16Array {
  const rnd = prng(seed);
  const out = new Int16Array(samples * channels);
  for (let i = 0; i < samples; i++) {
    const v =
      9000 * Math.sin((2 * Math.PI * 440 * i) / 48000) +
      4000 * Math.sin((2 * Math.PI * 1234 * i) / 48000) +
      300 * (rnd() - 0.5);
    for (let c = 0; c < channels; c++) out[i * channels + c] = Math.round(c === 1 ? v * 0.5 : v);
  }
  return out;
}

function encodeAll(pcm: Int16Array, channels: 1 | 2, frameMs: number): Uint8Array[] {
  const enc = new OpusEncoder(48000, channels);
  const n = frameMs * 48 * channels;
  const out: Uint8Array[] = [];
  for (let o = 0; o + n <= pcm.length; o += n) {
    const b = Buffer.from(pcm.buffer, pcm.byteOffset + o * 2, n * 2);
    out.push(new Uint8Array(enc.encode(b)));
  }
  return out;
}

function correlation(a: Int16Array, b: Int16Array, n: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return ab / Math.sqrt(aa * bb);
}

const DURATIONS = [2.5, 5, 10, 20, 40, 60];

describe('OggOpusDemuxer on ffmpeg files', () => {
  for (const channels of [1, 2] as const) {
    for (const frameDurationMs of DURATIONS) {
      it(`${channels} ch, ${frameDurationMs} ms frames: same events whole, byte by byte and in random chunks`, async () => {
        const path = await makeOggOpus({
          channels,
          frameDurationMs,
          durationS: 2,
          signal: frameDurationMs === 5 ? 'noise' : 'sine',
        });
        const bytes = readFixture(path);
        const whole = demuxChunks([bytes]);
        expect(summary(demuxChunks(chunked(bytes, 1)))).toEqual(summary(whole));
        expect(summary(demuxChunks(chunked(bytes, { seed: frameDurationMs * 10 + channels, max: 700 })))).toEqual(
          summary(whole),
        );

        const head = whole[0];
        expect(head?.type).toBe('head');
        if (head?.type !== 'head') return;
        expect(head.head).toMatchObject({ channels, inputSampleRate: 48000, mappingFamily: 0 });
        // libopus look-ahead: 312 samples, or 120 in its low-delay CELT-only mode (< 10 ms).
        const preSkip = head.head.preSkip;
        expect(preSkip).toBe(frameDurationMs < 10 ? 120 : 312);
        expect(whole[1]).toMatchObject({ type: 'tags', vendor: expect.stringContaining('Lavf') });
        expect(whole.at(-1)).toEqual({ type: 'eos', serial: head.serial });
        const packets = packetsOf(whole);
        for (const p of packets) {
          const info = parseOpusPacket(p.packet);
          expect(info.durationMs).toBe(frameDurationMs);
          expect(info.stereo).toBe(channels === 2);
          expect(p.samples).toBe(info.samples);
        }
        // Granules: every non-final granule equals the samples decoded so far (RFC 7845 §4).
        let total = 0;
        let granules = 0;
        for (const p of packets) {
          total += p.samples;
          if (p.granule !== undefined && p !== packets.at(-1)) {
            expect(Number(p.granule)).toBe(total);
            granules++;
          }
        }
        expect(granules).toBeGreaterThan(0);
        const last = packets.at(-1)?.granule;
        // ffmpeg plays back exactly granule − pre-skip samples.
        const decoded = await decodeWithFfmpeg(path, channels);
        expect(decoded.length / channels).toBe(Number(last) - preSkip);
        expect(Number(last) - preSkip).toBe(96000);
      });
    }
  }

  it('reads a 70 KB comment header that spans pages, in any chunking', async () => {
    const comment = 'x'.repeat(70_000);
    const bytes = readFixture(await makeOggOpus({ channels: 1, durationS: 0.2, comment }));
    for (const chunks of [[bytes], chunked(bytes, { seed: 9, max: 4096 }), chunked(bytes, 64)]) {
      const ev = demuxChunks(chunks);
      const tags = ev.find((e) => e.type === 'tags');
      // ffmpeg stores `comment` as DESCRIPTION.
      const found = tags?.type === 'tags' ? tags.comments.find((c) => c.startsWith('DESCRIPTION=')) : undefined;
      expect(found?.length).toBe(comment.length + 12);
      expect(found?.endsWith(comment)).toBe(true);
      expect(packetsOf(ev).length).toBe(11); // 10 × 20 ms + the encoder's flush packet
    }
  });

  it('lets the caller reuse its chunk buffer after write() returns', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 2, durationS: 0.5 }));
    const d = new OggOpusDemuxer();
    const scratch = new Uint8Array(777);
    const ev: OggDemuxEvent[] = [];
    for (let o = 0; o < bytes.length; o += scratch.length) {
      const n = Math.min(scratch.length, bytes.length - o);
      scratch.set(bytes.subarray(o, o + n));
      ev.push(...d.write(scratch.subarray(0, n)));
      scratch.fill(0xaa); // a pooled buffer being recycled
    }
    ev.push(...d.end());
    expect(summary(ev)).toEqual(summary(demuxChunks([bytes])));
  });

  it('works as an async generator over a stream', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 2, durationS: 0.5 }));
    async function* source(): AsyncGenerator<Uint8Array> {
      yield* chunked(bytes, 333);
    }
    const ev: OggDemuxEvent[] = [];
    for await (const e of demuxOggOpus(source())) ev.push(e);
    expect(summary(ev)).toEqual(summary(demuxChunks([bytes])));
  });
});

describe('OggOpusDemuxer errors', () => {
  it('flipped bytes anywhere give a ContainerError, never a crash or a hang', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 1, durationS: 0.5, frameDurationMs: 10 }));
    const rnd = prng(7);
    for (let i = 0; i < 300; i++) {
      const bad = bytes.slice();
      const at = Math.floor(rnd() * bad.length);
      bad[at] = (bad[at] as number) ^ (1 + Math.floor(rnd() * 255));
      const err = demuxError(bad);
      expect(err, `flip at ${at}`).toBeInstanceOf(ContainerError);
      expect((err as ContainerError).container).toBe('ogg');
      expect((err as ContainerError).offset).toBeLessThanOrEqual(at);
    }
  });

  it('truncation is an error unless it falls on a page boundary', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 1, durationS: 0.5 }));
    // Page boundaries from a clean demux of growing prefixes.
    const boundaries = new Set<number>([0]);
    const d = new OggOpusDemuxer();
    for (let i = 0; i < bytes.length; i++) {
      d.write(bytes.subarray(i, i + 1));
      if (d.position === i + 1) boundaries.add(i + 1);
    }
    expect(boundaries.size).toBeGreaterThan(3);
    const rnd = prng(3);
    const cuts = [...boundaries, ...Array.from({ length: 200 }, () => Math.floor(rnd() * bytes.length))];
    for (const cut of cuts) {
      const err = demuxError(bytes.subarray(0, cut));
      if (boundaries.has(cut)) expect(err).toBeUndefined();
      else expect(err).toMatchObject({ container: 'ogg', message: expect.stringContaining('truncated') });
    }
  });

  it('bad capture pattern, version and junk', () => {
    expect(demuxError(new TextEncoder().encode('OggX and more bytes'))).toMatchObject({ offset: 0 });
    expect(demuxError(new TextEncoder().encode('ID3\u0004 an mp3'))).toBeInstanceOf(ContainerError);
    const mux = new OggOpusMuxer({ channels: 1, serial: 1 });
    const head = mux.headers();
    const v = head.slice();
    v[4] = 1;
    expect(demuxError(v)).toMatchObject({ message: expect.stringContaining('version') });
    // Garbage after a valid page is reported at its offset.
    const junk = concat([head, new Uint8Array(40).fill(0x41)]);
    expect(demuxError(junk)).toMatchObject({ offset: head.length });
  });

  it('delivers the events before a fault, then throws', () => {
    const mux = new OggOpusMuxer({ channels: 1, serial: 5, maxPageDurationMs: 20 });
    const good = concat([mux.headers(), mux.write(Uint8Array.of(0xf8, 1, 2))]);
    const d = new OggOpusDemuxer();
    const ev = d.write(concat([good, new Uint8Array(30)]));
    expect(ev.map((e) => e.type)).toEqual(['head', 'tags', 'packet']);
    expect(() => d.end()).toThrow(ContainerError);
    expect(() => d.write(new Uint8Array(1))).toThrow(ContainerError);
  });

  it('rejects non-Opus streams (Ogg Vorbis)', async () => {
    const err = demuxError(readFixture(await makeOggVorbis({ durationS: 0.2 })));
    expect(err).toBeInstanceOf(ContainerError);
    expect((err as Error).message).toContain('Vorbis');
  });

  it('bounds memory: a packet over maxPacketBytes is an error', () => {
    const mux = new OggOpusMuxer({ channels: 1, serial: 2 });
    const big = new Uint8Array(200_000).fill(7);
    big[0] = 0xf8;
    const bytes = concat([mux.headers(), mux.write(big, 960), mux.end()]);
    expect(packetsOf(demuxChunks([bytes]))[0]?.packet.length).toBe(200_000);
    for (const chunks of [[bytes], chunked(bytes, 1000)]) {
      expect(() => demuxChunks(chunks, { maxPacketBytes: 100_000 })).toThrow(/maxPacketBytes/);
    }
  });

  it('a lost page drops only the packets that touched it (sequence gap, RFC 3533 §6)', () => {
    const mux = new OggOpusMuxer({ channels: 1, serial: 6, maxPageDurationMs: 40 });
    // 600-byte packets: pages of two packets each, every page ends on a packet boundary
    // except where 255 lacing values force a split; use one 70 000-byte packet to span pages.
    const small = (i: number): Uint8Array => Uint8Array.from([0xf8, ...new Array<number>(599).fill(i)]);
    const big = new Uint8Array(70_000).fill(9);
    big[0] = 0xf8;
    const pages: Uint8Array[] = [mux.headers()];
    const inputs = [small(1), small(2), big, small(3), small(4), small(5), small(6)];
    for (const p of inputs) pages.push(mux.write(p, 960));
    pages.push(mux.end());
    const bytes = concat(pages);
    // Split into pages with a demuxer-independent walk of the page headers.
    const bounds: number[] = [];
    for (let o = 0; o < bytes.length; ) {
      bounds.push(o);
      const nseg = bytes[o + 26] as number;
      let len = 27 + nseg;
      for (let i = 0; i < nseg; i++) len += bytes[o + 27 + i] as number;
      o += len;
    }
    expect(bounds.length).toBeGreaterThan(5);
    // Drop the page after the headers + first audio page: it holds the start of the big packet.
    const cutAt = 3;
    const cut = concat([bytes.subarray(0, bounds[cutAt]), bytes.subarray(bounds[cutAt + 1])]);
    const d = new OggOpusDemuxer();
    const ev = [...d.write(cut), ...d.end()];
    expect(d.lostPageGaps).toBe(1);
    const got = packetsOf(ev).map((p) => Buffer.from(p.packet));
    // Every delivered packet is one of the inputs, intact, and the big one is gone.
    for (const g of got) expect(inputs.some((p) => Buffer.from(p).equals(g))).toBe(true);
    expect(got.some((g) => g.length === 70_000)).toBe(false);
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(ev.at(-1)?.type).toBe('eos');
  });

  it('bounds the number of open logical streams', () => {
    const heads = Array.from({ length: 40 }, (_, i) => new OggOpusMuxer({ channels: 1, serial: 100 + i }).headers());
    expect(demuxError(concat(heads))).toMatchObject({ message: expect.stringContaining('logical streams') });
  });

  it('rejects a page whose stream never had a BOS page', () => {
    const mux = new OggOpusMuxer({ channels: 1, serial: 3, maxPageDurationMs: 20 });
    mux.headers();
    const audioPage = mux.write(Uint8Array.of(0xf8, 1, 2));
    expect(demuxError(audioPage)).toMatchObject({ message: expect.stringContaining('BOS') });
  });
});

describe('OggOpusMuxer', () => {
  it('laces packets of 0..70 000 bytes incl. exact multiples of 255 across tiny and huge pages', () => {
    const sizes = [1, 3, 254, 255, 256, 509, 510, 511, 765, 1275, 65024, 65025, 65026, 70_000, 2, 255 * 255 * 2];
    const rnd = prng(11);
    const packets = sizes.map((n) => {
      const p = new Uint8Array(n);
      for (let i = 0; i < n; i++) p[i] = Math.floor(rnd() * 256);
      p[0] = 0xf8;
      return p;
    });
    for (const maxPageDurationMs of [1, 60, 1000]) {
      const mux = new OggOpusMuxer({ channels: 2, serial: 77, maxPageDurationMs });
      const bytes = concat([mux.headers(), ...packets.map((p) => mux.write(p, 960)), mux.end()]);
      for (const chunks of [[bytes], chunked(bytes, { seed: maxPageDurationMs, max: 3000 })]) {
        const got = packetsOf(demuxChunks(chunks));
        expect(got.map((p) => p.packet.length)).toEqual(sizes);
        got.forEach((p, i) => expect(Buffer.from(p.packet).equals(Buffer.from(packets[i] as Uint8Array))).toBe(true));
        expect(got.at(-1)?.granule).toBe(BigInt(960 * sizes.length));
      }
    }
  });

  it('writes the same granules as ffmpeg for the same packets (RFC 7845 §4)', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 2, frameDurationMs: 20, durationS: 3 }));
    const src = packetsOf(demuxChunks([bytes]));
    const mux = new OggOpusMuxer({ channels: 2, serial: 1 });
    const ours = concat([mux.headers(), ...src.map((p) => mux.write(p.packet)), mux.end()]);
    const back = packetsOf(demuxChunks([ours]));
    const marks = (ps: typeof src): string[] =>
      ps.slice(0, -1).flatMap((p, i) => (p.granule === undefined ? [] : [`${i}:${p.granule}`]));
    expect(marks(back)).toEqual(marks(src));
    expect(marks(back).length).toBe(3);
  });

  it('emits a page once maxPageDurationMs of audio is collected, so a killed writer leaves a valid file', () => {
    const mux = new OggOpusMuxer({ channels: 1, serial: 9, maxPageDurationMs: 100 });
    const out: Uint8Array[] = [mux.headers()];
    const sizes: number[] = [];
    for (let i = 0; i < 23; i++) {
      const page = mux.write(Uint8Array.of(0xf8, i, i), 960);
      sizes.push(page.length);
      out.push(page);
    }
    // Pages appear exactly after packets 5, 10, 15, 20 (100 ms each).
    expect(sizes.map((n, i) => (n > 0 ? i + 1 : 0)).filter(Boolean)).toEqual([5, 10, 15, 20]);
    const ev = demuxChunks(out); // no end(): what a crash leaves
    expect(packetsOf(ev).length).toBe(20);
    expect(ev.some((e) => e.type === 'eos')).toBe(false);
    const rest = concat([mux.end()]);
    const all = demuxChunks([...out, rest]);
    expect(packetsOf(all).length).toBe(23);
    expect(all.at(-1)).toEqual({ type: 'eos', serial: 9 });
  });

  it('writes OpusHead/OpusTags per RFC 7845 §5 with valid CRCs', () => {
    const mux = new OggOpusMuxer({
      channels: 2,
      serial: 0xdeadbeef,
      preSkip: 480,
      inputSampleRate: 44100,
      comments: ['TITLE=t', 'ARTIST=ü'],
      vendor: 'v',
    });
    const h = mux.headers();
    const ev = demuxChunks([h]);
    expect(ev[0]).toMatchObject({
      type: 'head',
      serial: 0xdeadbeef,
      head: { channels: 2, preSkip: 480, inputSampleRate: 44100, version: 1 },
    });
    expect(ev[1]).toEqual({ type: 'tags', vendor: 'v', comments: ['TITLE=t', 'ARTIST=ü'], serial: 0xdeadbeef });
    expect(h[5]).toBe(0x02); // BOS
    expect(new DataView(h.buffer, h.byteOffset).getUint32(22, true)).toBe(oggPageCrc(h.subarray(0, 27 + 1 + 19)));
    expect(() => mux.headers()).toThrow();
  });

  it('chained streams: a new BOS after EOS starts a new head', () => {
    const a = new OggOpusMuxer({ channels: 1, serial: 1 });
    const b = new OggOpusMuxer({ channels: 2, serial: 2 });
    const c = new OggOpusMuxer({ channels: 1, serial: 1 });
    const p = Uint8Array.of(0xf8, 1, 2);
    const bytes = concat([a.write(p), a.end(), b.write(p), b.write(p), b.end(), c.write(p), c.end()]);
    const types = demuxChunks(chunked(bytes, 7)).map((e) => `${e.type}:${e.serial}`);
    expect(types).toEqual([
      'head:1',
      'tags:1',
      'packet:1',
      'eos:1',
      'head:2',
      'tags:2',
      'packet:2',
      'packet:2',
      'eos:2',
      'head:1',
      'tags:1',
      'packet:1',
      'eos:1',
    ]);
  });

  it('ffmpeg reads what it writes, with the right duration', async () => {
    for (const [channels, frameMs] of [
      [1, 20],
      [2, 60],
      [1, 2.5],
    ] as const) {
      const pcm = testSignal(48000, channels);
      const packets = encodeAll(pcm, channels, frameMs);
      const mux = new OggOpusMuxer({ channels, maxPageDurationMs: 200 });
      const file = join(tmpdir(), `argon-voice-mux-${process.pid}-${channels}-${frameMs}.opus`);
      try {
        writeFileSync(file, concat([mux.headers(), ...packets.map((p) => mux.write(p)), mux.end()]));
        await runFfmpeg(['-v', 'error', '-i', file, '-f', 'null', '-']);
        const decoded = await decodeWithFfmpeg(file, channels);
        expect(decoded.length / channels).toBe(packets.length * frameMs * 48 - 312);
        // end({ pcmSamples }) lowers the last granule; ffmpeg trims the end to it (RFC 7845 §4.5).
        const pcmSamples = packets.length * frameMs * 48 - 312 - 100;
        // 300 ms pages leave packets pending at end(), which the override needs.
        const mux2 = new OggOpusMuxer({ channels, maxPageDurationMs: 300 });
        writeFileSync(file, concat([mux2.headers(), ...packets.map((p) => mux2.write(p)), mux2.end({ pcmSamples })]));
        expect((await decodeWithFfmpeg(file, channels)).length / channels).toBe(pcmSamples);
      } finally {
        rmSync(file, { force: true });
      }
    }
  });

  it('round trip PCM → Opus → Ogg → demux → decode keeps duration and signal', () => {
    const channels = 2;
    const pcm = testSignal(48000, channels, 5);
    const packets = encodeAll(pcm, channels, 20);
    const mux = new OggOpusMuxer({ channels, serial: 4 });
    const file = concat([mux.headers(), ...packets.map((p) => mux.write(p)), mux.end()]);
    const ev = demuxChunks(chunked(file, { seed: 1, max: 512 }));
    const head = ev[0];
    if (head?.type !== 'head') throw new Error('no head');
    const dec = new OpusEncoder(48000, channels);
    const parts = packetsOf(ev).map((p) => Buffer.from(dec.decode(Buffer.from(p.packet))));
    const out = new Int16Array(new Uint8Array(Buffer.concat(parts)).buffer);
    const lastGranule = Number(packetsOf(ev).at(-1)?.granule);
    expect(out.length / channels).toBe(lastGranule);
    const aligned = out.subarray(head.head.preSkip * channels);
    expect(aligned.length / channels).toBe(48000 - 312);
    expect(correlation(aligned, pcm, aligned.length)).toBeGreaterThan(0.9);
    // Misaligned by 5 ms the same signal does not correlate: the check has teeth.
    expect(correlation(out.subarray((head.head.preSkip + 240) * channels), pcm, 40000)).toBeLessThan(0.9);
  });
});
