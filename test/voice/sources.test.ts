import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { demuxOggOpus } from '../../src/codec/ogg-demux.js';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { measureLoudness } from '../../src/codec/loudness.js';
import { isGatewaySafe, parseOpusPacket } from '../../src/codec/opus-packet.js';
import { AbortError, ContainerError, DependencyError, InvalidInputError, IoError } from '../../src/errors.js';
import {
  type AudioSource,
  createAudioSource,
  ffmpegSource,
  microphoneSource,
  oggOpusSource,
  pcmSource,
  webmOpusSource,
} from '../../src/voice/sources/index.js';
import { chunked, makeMp3, makeOggOpus, makeWav, makeWebmOpus, readFixture } from '../helpers/fixtures.js';

/** ffmpeg processes that are children of this test process. */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /ffmpeg/.test(l));
  } catch {
    return []; // ps exits 1 when there are no children at all
  }
}

/** A PCM source over `seconds` of silence at 48 kHz, read-ahead bound 10. */
async function pcmSourceOf(seconds: number): Promise<AudioSource> {
  return pcmSource(new Uint8Array(96000 * seconds), {
    sampleRate: 48000,
    channels: 1,
    output: 'pcm',
    maxBufferedFrames: 10,
  });
}

async function collect(source: AudioSource): Promise<(Uint8Array | Int16Array)[]> {
  const out: (Uint8Array | Int16Array)[] = [];
  for await (const f of source) out.push(f);
  return out;
}

function expectOpusFrames(frames: (Uint8Array | Int16Array)[], ms: number): void {
  for (const f of frames) {
    expect(f).toBeInstanceOf(Uint8Array);
    expect(isGatewaySafe(f as Uint8Array, ms)).toBe(true);
    expect(parseOpusPacket(f as Uint8Array).durationMs).toBe(ms);
  }
}

let ogg20: string;
let ogg60: string;
let webm20: string;
let mp3: string;
let wav: string;
let longWav: string;
let corrupt: string;
beforeAll(async () => {
  [ogg20, ogg60, webm20, mp3, wav, longWav] = await Promise.all([
    makeOggOpus({ channels: 2, frameDurationMs: 20, durationS: 1 }),
    makeOggOpus({ channels: 1, frameDurationMs: 60, durationS: 1.2 }),
    makeWebmOpus({ channels: 2, frameDurationMs: 20, durationS: 1 }),
    makeMp3({ channels: 2, durationS: 2, sampleRate: 44100 }),
    makeWav({ channels: 1, durationS: 1.5, sampleRate: 22050 }),
    makeWav({ channels: 2, durationS: 20 }),
  ]);
  corrupt = join(tmpdir(), `argon-corrupt-${process.pid}.mp3`);
  const junk = new Uint8Array(4096);
  for (let i = 0; i < junk.length; i++) junk[i] = (i * 7919 + 13) & 0xff;
  writeFileSync(corrupt, junk);
});

describe('Ogg/WebM passthrough', () => {
  it('yields the file’s packets byte-identical, without decoding', async () => {
    const expected: Uint8Array[] = [];
    for await (const ev of demuxOggOpus(Readable.from(chunked(readFixture(ogg20), 4096)))) {
      if (ev.type === 'packet') expected.push(ev.packet);
    }
    const source = await createAudioSource(ogg20);
    expect(source.info).toEqual({ kind: 'ogg', format: 'opus', channels: 2, frameDurationMs: 20, passthrough: true });
    const frames = await collect(source);
    expect(frames.length).toBe(expected.length);
    frames.forEach((f, i) => expect(Buffer.from(f as Uint8Array).equals(Buffer.from(expected[i]!))).toBe(true));
    expect(source.closed).toBe(true);
    expect(source.stats.invalidDropped).toBe(0);
  });

  it('WebM Opus from a stream in odd chunks passes through too', async () => {
    const bytes = readFixture(webm20);
    const source = await createAudioSource(Readable.from(chunked(bytes, { seed: 3, max: 777 })));
    expect(source.info).toMatchObject({ kind: 'webm', passthrough: true, channels: 2 });
    const frames = await collect(source);
    expect(Math.abs(frames.length - 50)).toBeLessThanOrEqual(1);
    expectOpusFrames(frames, 20);
    const direct = await collect(await webmOpusSource(webm20));
    expect(direct.map((f) => Buffer.from(f).toString('hex'))).toEqual(
      frames.map((f) => Buffer.from(f).toString('hex')),
    );
  });

  it('drops packets that are not gateway-safe and counts them; a wholly invalid stream is a typed error', async () => {
    const good = (await collect(await oggOpusSource(readFixture(ogg20)))) as Uint8Array[];
    const mux = new OggOpusMuxer({ channels: 2 });
    const parts = [mux.headers()];
    good.forEach((p, i) => {
      // Packet 10 becomes code 3 with a zero frame count (RFC 6716 §3.2.5 forbids M = 0).
      parts.push(mux.write(i === 10 ? Uint8Array.from([p[0]! | 3, 0]) : p, 960));
    });
    parts.push(mux.end());
    const s = await oggOpusSource(parts);
    expect(s.info.passthrough).toBe(true);
    const frames = await collect(s);
    expect(frames.length).toBe(good.length - 1);
    expect(s.stats.invalidDropped).toBe(1);
    expect(Buffer.from(frames[10] as Uint8Array).equals(Buffer.from(good[11]!))).toBe(true);

    const bad = new OggOpusMuxer({ channels: 1 });
    const junk = [bad.headers()];
    for (let i = 0; i < 5; i++) junk.push(bad.write(Uint8Array.from([0xfb, 0]), 960));
    junk.push(bad.end());
    const b = await oggOpusSource(junk);
    await expect(collect(b)).rejects.toBeInstanceOf(InvalidInputError);
    expect(b.stats.invalidDropped).toBe(5);
  });

  it('an Ogg header output gain forces decoding and is applied', async () => {
    const good = (await collect(await oggOpusSource(readFixture(ogg20)))) as Uint8Array[];
    const mux = new OggOpusMuxer({ channels: 2, outputGain: -6 * 256 });
    const parts = [mux.headers(), ...good.map((p) => mux.write(p, 960)), mux.end()];
    const gained = await oggOpusSource(parts, { format: 'pcm' });
    expect(gained.info.passthrough).toBe(false);
    const plain = await oggOpusSource(readFixture(ogg20), { format: 'pcm' });
    const rms = (frames: (Uint8Array | Int16Array)[]) => {
      let e = 0;
      let n = 0;
      for (const f of frames as Int16Array[]) {
        for (const v of f) {
          e += v * v;
          n++;
        }
      }
      return Math.sqrt(e / n);
    };
    const ratioDb = 20 * Math.log10(rms(await collect(gained)) / rms(await collect(plain)));
    expect(Math.abs(ratioDb - -6)).toBeLessThan(0.2);
  });

  it('seekMs skips whole packets in passthrough', async () => {
    const all = await collect(await createAudioSource(ogg20));
    const sought = await collect(await createAudioSource(ogg20, { seekMs: 400 }));
    expect(sought.length).toBe(all.length - 20);
    expect(Buffer.from(sought[0] as Uint8Array).equals(Buffer.from(all[20] as Uint8Array))).toBe(true);
  });
});

describe('re-encoding', () => {
  it('a 60 ms file requested at 20 ms is transcoded: every packet 20 ms and gateway-safe', async () => {
    const source = await createAudioSource(ogg60, { frameDurationMs: 20 });
    expect(source.info).toMatchObject({ kind: 'ogg', passthrough: false, channels: 1, frameDurationMs: 20 });
    const frames = await collect(source);
    expectOpusFrames(frames, 20);
    expect(Math.abs(frames.length - 60)).toBeLessThanOrEqual(1);
  });

  it('volume disables passthrough; pcm output gives exact-length Int16Array frames', async () => {
    const loud = await createAudioSource(ogg20, { volume: 0.5 });
    expect(loud.info.passthrough).toBe(false);
    expectOpusFrames(await collect(loud), 20);
    const pcm = await createAudioSource(ogg20, { format: 'pcm', channels: 1, frameDurationMs: 10 });
    expect(pcm.info).toMatchObject({ format: 'pcm', channels: 1, passthrough: false });
    const frames = await collect(pcm);
    for (const f of frames) {
      expect(f).toBeInstanceOf(Int16Array);
      expect(f.length).toBe(480);
    }
    expect(Math.abs(frames.length - 100)).toBeLessThanOrEqual(1);
  });
});

describe('ffmpeg sources', () => {
  it('mp3 and wav give the right number of frames for their duration (±1)', async () => {
    const m = await createAudioSource(mp3);
    expect(m.info).toMatchObject({ kind: 'ffmpeg', passthrough: false, channels: 2, frameDurationMs: 20 });
    const mf = await collect(m);
    expectOpusFrames(mf, 20);
    expect(Math.abs(mf.length - 100)).toBeLessThanOrEqual(1);
    const w = await createAudioSource(wav, { frameDurationMs: 40, channels: 1 });
    const wf = await collect(w);
    expectOpusFrames(wf, 40);
    expect(Math.abs(wf.length - Math.ceil(1500 / 40))).toBeLessThanOrEqual(1);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('bytes that need ffmpeg are piped through stdin', async () => {
    const s = await createAudioSource(readFixture(wav), { format: 'pcm', channels: 1 });
    const frames = await collect(s);
    expect(s.stats.bytesIn).toBe(readFixture(wav).length);
    expect(Math.abs(frames.length - 75)).toBeLessThanOrEqual(1);
  });

  it('a corrupt file ends the iteration with a typed error carrying ffmpeg’s message, and ffmpeg is gone', async () => {
    const s = await createAudioSource(corrupt);
    const err = await collect(s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/ffmpeg/);
    expect((err as Error).message.length).toBeGreaterThan(40);
    expect(s.closed).toBe(true);
    expect(ffmpegChildren()).toEqual([]);
  });

  it('a missing file is an IoError', async () => {
    await expect(createAudioSource(join(tmpdir(), 'definitely-missing.mp3'))).rejects.toBeInstanceOf(IoError);
    const viaFfmpeg = await ffmpegSource(join(tmpdir(), 'definitely-missing.mp3'));
    await expect(collect(viaFfmpeg)).rejects.toBeInstanceOf(IoError);
  });

  it('close() mid-stream kills ffmpeg and the iteration ends; the read-ahead stays bounded', async () => {
    const s = await createAudioSource(longWav, { maxBufferedFrames: 10 });
    const it = s[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) expect((await it.next()).done).toBe(false);
    expect(ffmpegChildren().length).toBe(1);
    expect(s.stats.maxBuffered).toBeLessThanOrEqual(10);
    await Promise.all([s.close(), s.close()]);
    expect(ffmpegChildren()).toEqual([]);
    expect((await it.next()).done).toBe(true);
    expect(s.stats.framesProduced).toBeLessThan(1000);
  });

  it('an AbortSignal stops the source: the next read rejects with AbortError and ffmpeg is gone', async () => {
    const ac = new AbortController();
    const s = await createAudioSource(longWav, { signal: ac.signal });
    const it = s[Symbol.asyncIterator]();
    await it.next();
    ac.abort(new Error('user stop'));
    const err = await it.next().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    await s.close();
    expect(ffmpegChildren()).toEqual([]);
    await expect(createAudioSource(ogg20, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
  });

  it('a source that is never iterated spawns nothing, and close() still works', async () => {
    const s = await createAudioSource(longWav);
    expect(ffmpegChildren()).toEqual([]);
    await s.close();
    expect(s.closed).toBe(true);
    expect((await s[Symbol.asyncIterator]().next()).done).toBe(true);
  });

  it('prefetch() fills the read-ahead before the first read, up to the bound', async () => {
    const s = await pcmSourceOf(2);
    s.prefetch?.();
    for (let i = 0; i < 20 && s.stats.framesProduced < 10; i++) await new Promise((r) => setImmediate(r));
    expect(s.stats.framesProduced).toBe(10);
    expect(s.stats.framesYielded).toBe(0);
    await s.close();
  });

  it('breaking out of for-await closes the source', async () => {
    const s = await createAudioSource(longWav);
    let n = 0;
    for await (const _ of s) if (++n === 3) break;
    expect(s.closed).toBe(true);
    expect(ffmpegChildren()).toEqual([]);
  });
});

describe('URLs and normalisation', () => {
  it('an http URL is streamed through ffmpeg (with reconnect options) and gives the right frame count', async () => {
    const body = readFixture(mp3);
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      const s = await createAudioSource(`http://127.0.0.1:${port}/song.mp3`);
      expect(s.info.kind).toBe('ffmpeg');
      const frames = await collect(s);
      expectOpusFrames(frames, 20);
      expect(Math.abs(frames.length - 100)).toBeLessThanOrEqual(1);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  function quietTone(seconds: number): Int16Array {
    const amp = 10 ** ((-30 + 3.01) / 20) * 32767; // −30 LUFS mono
    return Int16Array.from({ length: 48000 * seconds }, (_, i) =>
      Math.round(amp * Math.sin((2 * Math.PI * 997 * i) / 48000)),
    );
  }
  async function loudnessOf(s: AudioSource): Promise<number> {
    const frames = (await collect(s)) as Int16Array[];
    const all = new Int16Array(frames.length * frames[0]!.length);
    frames.forEach((f, i) => all.set(f, i * f.length));
    return measureLoudness(all, { channels: s.info.channels }).integratedLufs;
  }

  it('normalize on PCM input measures a window, then brings a −30 LUFS tone to −16 LUFS', async () => {
    const pcm = quietTone(4);
    const s = pcmSource(new Uint8Array(pcm.buffer), { sampleRate: 48000, channels: 1, output: 'pcm', normalize: true });
    expect(Math.abs((await loudnessOf(s)) - -16)).toBeLessThan(0.5);
  });

  it('normalize through ffmpeg uses loudnorm and lands near −16 LUFS', async () => {
    const pcm = quietTone(6);
    const wavPath = join(tmpdir(), `argon-quiet-${process.pid}.raw`);
    writeFileSync(wavPath, new Uint8Array(pcm.buffer));
    const s = await ffmpegSource(wavPath, {
      format: 'pcm',
      channels: 1,
      normalize: true,
      inputArgs: ['-f', 's16le', '-ar', '48000', '-ac', '1'],
    });
    expect(Math.abs((await loudnessOf(s)) - -16)).toBeLessThan(1.5);
  });
});

describe('pcmSource', () => {
  function tonePcm(rate: number, seconds: number, format: 's16le' | 'f32le'): Uint8Array {
    const n = Math.round(rate * seconds);
    if (format === 'f32le') {
      const f = new Float32Array(n);
      for (let i = 0; i < n; i++) f[i] = 0.5 * Math.sin((2 * Math.PI * 1000 * i) / rate);
      return new Uint8Array(f.buffer);
    }
    const s = new Int16Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.round(16000 * Math.sin((2 * Math.PI * 1000 * i) / rate));
    return new Uint8Array(s.buffer);
  }

  for (const rate of [16000, 22050, 24000]) {
    it(`${rate} Hz s16le in odd chunks → 48 kHz frames: right count, the tone survives`, async () => {
      const bytes = tonePcm(rate, 1, 's16le');
      const s = pcmSource(chunked(bytes, { seed: rate, max: 1001 }), {
        sampleRate: rate,
        channels: 1,
        output: 'pcm',
      });
      expect(s.info).toEqual({ kind: 'pcm', format: 'pcm', channels: 1, frameDurationMs: 20, passthrough: false });
      const frames = (await collect(s)) as Int16Array[];
      expect(frames.length).toBe(50);
      const all = new Int16Array(48000);
      frames.forEach((f, i) => all.set(f, i * 960));
      let xy = 0;
      let xx = 0;
      let yy = 0;
      for (let i = 480; i < 47520; i++) {
        const y = Math.sin((2 * Math.PI * 1000 * i) / 48000);
        xy += all[i]! * y;
        xx += all[i]! ** 2;
        yy += y * y;
      }
      expect(xy / Math.sqrt(xx * yy)).toBeGreaterThan(0.99);
    });
  }

  it('f32le stereo output, Opus frames, last frame zero-padded', async () => {
    const s = pcmSource(
      (async function* () {
        yield tonePcm(24000, 0.51, 'f32le');
      })(),
      { sampleRate: 24000, channels: 1, format: 'f32le', outputChannels: 2 },
    );
    expect(s.info).toMatchObject({ format: 'opus', channels: 2 });
    const frames = await collect(s);
    expect(frames.length).toBe(26); // 510 ms → 25.5 frames, padded to 26
    expectOpusFrames(frames, 20);
    expect(parseOpusPacket(frames[0] as Uint8Array).stereo).toBe(true);
  });

  it('bad options are typed errors', () => {
    expect(() => pcmSource(new Uint8Array(0), { sampleRate: 1, channels: 1 })).toThrow(InvalidInputError);
    expect(() => pcmSource(new Uint8Array(0), { sampleRate: 16000, channels: 3 as 1 })).toThrow(InvalidInputError);
    expect(() => pcmSource(new Uint8Array(0), { sampleRate: 16000, channels: 1, frameDurationMs: 7 })).toThrow(
      InvalidInputError,
    );
  });
});

describe('teardown with slow inputs', () => {
  it('close() does not wait for an async iterable that is still producing', async () => {
    let release!: () => void;
    const stuck = new Promise<void>((r) => {
      release = r;
    });
    async function* slowTts(): AsyncIterable<Uint8Array> {
      yield new Uint8Array(3200); // 100 ms of 16 kHz mono
      await stuck; // the TTS engine is still thinking
      yield new Uint8Array(3200);
    }
    const s = pcmSource(slowTts(), { sampleRate: 16000, channels: 1, output: 'pcm' });
    const it = s[Symbol.asyncIterator]();
    for (let i = 0; i < 4; i++) expect((await it.next()).done).toBe(false);
    const pending = it.next();
    await s.close();
    expect((await pending).done).toBe(true);
    release();
  });

  it('a missing ffmpeg binary is a DependencyError from the iterator', async () => {
    const s = await ffmpegSource(wav, { ffmpegPath: join(tmpdir(), 'no-ffmpeg-here') });
    await expect(collect(s)).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('createAudioSource input handling', () => {
  it('rejects unsupported input types and bad options', async () => {
    await expect(createAudioSource(42 as unknown as string)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(createAudioSource('')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(createAudioSource(ogg20, { frameDurationMs: 15 })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(createAudioSource(ogg20, { volume: -1 })).rejects.toBeInstanceOf(InvalidInputError);
  });
  it('a truncated Ogg header is a ContainerError', async () => {
    const bytes = readFixture(ogg20).slice(0, 40);
    await expect(oggOpusSource(bytes)).rejects.toBeInstanceOf(ContainerError);
  });
});

describe('microphoneSource', () => {
  it('without sox/arecord it is a DependencyError that says what to install', async () => {
    const err = await microphoneSource({ env: { PATH: join(tmpdir(), 'no-such-dir') } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as Error).message).toMatch(/sox.*arecord/);
  });
});
