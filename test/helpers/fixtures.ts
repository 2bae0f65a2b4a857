/**
 * Test fixtures generated at test time with the ffmpeg shipped by `@ffmpeg-installer/ffmpeg`
 * (static build with libopus and libmp3lame). Nothing is committed to the repo.
 *
 * - Every `make*` function returns the path of a file in one temp dir per test process
 *   (`$TMPDIR/argon-voice-fixtures-<pid>-*`); the same options return the same file (cached per
 *   process, generated once even when called concurrently). The dir is removed at exit, and dirs
 *   of dead test processes are swept when a new one starts.
 * - Signals are deterministic: `sine` is a 440 Hz tone (or `frequency`), `noise` is white noise
 *   from a fixed seed, so byte-exact comparisons within one run are fine.
 * - Use `readFixture(path)` for the bytes and `decodeWithFfmpeg(path)` to get s16le PCM back
 *   (what ffmpeg hears, after pre-skip and end trimming).
 *
 * ```ts
 * import { makeOggOpus, readFixture } from '../helpers/fixtures.js';
 * const path = await makeOggOpus({ channels: 2, frameDurationMs: 20, durationS: 1 });
 * ```
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom as prng } from '../../src/util/random.js';

const require = createRequire(import.meta.url);

/** Absolute path of the shipped static ffmpeg. */
export function ffmpegPath(): string {
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

const DIR_PREFIX = 'argon-voice-fixtures-';
let dir: string | undefined;

/** True when a process with this pid still runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function fixtureDir(): string {
  if (!dir) {
    // Test workers are often killed rather than exiting, so 'exit' cleanup is not enough:
    // also sweep the dirs of earlier workers that are gone (the pid is part of the name).
    for (const name of readdirSync(tmpdir())) {
      if (!name.startsWith(DIR_PREFIX)) continue;
      const path = join(tmpdir(), name);
      const m = /^(\d+)-/.exec(name.slice(DIR_PREFIX.length));
      // Dirs without a pid (older helper versions) go once they are an hour old.
      try {
        const stale = m ? !alive(Number(m[1])) : Date.now() - statSync(path).mtimeMs > 3_600_000;
        if (stale) rmSync(path, { recursive: true, force: true });
      } catch {
        // Another test process swept it first.
      }
    }
    dir = mkdtempSync(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    const d = dir;
    process.once('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}

/** Runs ffmpeg with `args`; resolves with stdout, rejects with stderr on a non-zero exit. */
export function runFfmpeg(args: string[], options: { maxBuffer?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(
      ffmpegPath(),
      ['-hide_banner', '-nostdin', ...args],
      { encoding: 'buffer', maxBuffer: options.maxBuffer ?? 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`ffmpeg ${args.join(' ')} failed: ${stderr.toString().slice(0, 2000)}`, { cause: err }));
        else resolve(stdout);
      },
    );
  });
}

/** Options shared by the audio fixture generators. */
export interface SignalOptions {
  /** 1 or 2. Default 1. */
  channels?: 1 | 2;
  /** Duration of the signal in seconds. Default 1. */
  durationS?: number;
  /** `sine` (default) or seeded white `noise`. */
  signal?: 'sine' | 'noise';
  /** Sine frequency in Hz. Default 440. */
  frequency?: number;
  /** Input sample rate. Default 48000. */
  sampleRate?: number;
}

/** Options of the Opus fixture generators. */
export interface OpusFixtureOptions extends SignalOptions {
  /** Opus frame duration: 2.5, 5, 10, 20 (default), 40 or 60 ms. */
  frameDurationMs?: number;
  /** Target bitrate, e.g. `'64k'`. Default: libopus's choice. */
  bitrate?: string;
  /** Constant bitrate (`-vbr off`). */
  cbr?: boolean;
  /** `comment` metadata (OpusTags); a 70 KB string makes the comment header span pages. */
  comment?: string;
}

const cache = new Map<string, Promise<string>>();

function cached(kind: string, ext: string, options: object, build: (out: string) => string[]): Promise<string> {
  const key = `${kind}:${JSON.stringify(options)}`;
  let p = cache.get(key);
  if (!p) {
    const out = join(fixtureDir(), `${kind}-${cache.size}.${ext}`);
    p = runFfmpeg(['-v', 'error', '-y', ...build(out)]).then(() => out);
    cache.set(key, p);
  }
  return p;
}

function input(o: SignalOptions): string[] {
  const d = o.durationS ?? 1;
  const sr = o.sampleRate ?? 48000;
  const src =
    (o.signal ?? 'sine') === 'noise'
      ? `anoisesrc=color=white:sample_rate=${sr}:duration=${d}:amplitude=0.3:seed=7`
      : `sine=frequency=${o.frequency ?? 440}:sample_rate=${sr}:duration=${d}`;
  return ['-f', 'lavfi', '-i', src, '-ac', String(o.channels ?? 1)];
}

function opusArgs(o: OpusFixtureOptions): string[] {
  const a = ['-c:a', 'libopus', '-frame_duration', String(o.frameDurationMs ?? 20), '-application', 'audio'];
  if (o.bitrate) a.push('-b:a', o.bitrate);
  if (o.cbr) a.push('-vbr', 'off');
  if (o.comment !== undefined) a.push('-metadata', `comment=${o.comment}`);
  return a;
}

/** An Ogg Opus file (`.opus`) made by ffmpeg's libopus encoder and Ogg muxer. */
export function makeOggOpus(options: OpusFixtureOptions = {}): Promise<string> {
  return cached('ogg', 'opus', options, (out) => [...input(options), ...opusArgs(options), '-f', 'opus', out]);
}

/**
 * A WebM file with one Opus track. `live: true` writes as ffmpeg does to a pipe (`-live 1`,
 * unknown-size Segment, no Cues).
 */
export function makeWebmOpus(options: OpusFixtureOptions & { live?: boolean } = {}): Promise<string> {
  return cached('webm', 'webm', options, (out) => [
    ...input(options),
    ...opusArgs(options),
    ...(options.live ? ['-live', '1'] : []),
    '-f',
    'webm',
    out,
  ]);
}

/** An Ogg Vorbis file (`needs-ffmpeg` for the probe). ffmpeg's native encoder needs stereo. */
export function makeOggVorbis(options: SignalOptions = {}): Promise<string> {
  return cached('vorbis', 'ogg', options, (out) => [
    ...input({ ...options, channels: 2 }),
    '-c:a',
    'vorbis',
    '-strict',
    '-2',
    '-f',
    'ogg',
    out,
  ]);
}

/** An Ogg FLAC file. */
export function makeOggFlac(options: SignalOptions = {}): Promise<string> {
  return cached('flac', 'oga', options, (out) => [...input(options), '-c:a', 'flac', '-f', 'ogg', out]);
}

/** A 16-bit PCM WAV file. */
export function makeWav(options: SignalOptions = {}): Promise<string> {
  return cached('wav', 'wav', options, (out) => [...input(options), '-c:a', 'pcm_s16le', '-f', 'wav', out]);
}

/** An MP3 file (libmp3lame). */
export function makeMp3(options: SignalOptions & { bitrate?: string } = {}): Promise<string> {
  return cached('mp3', 'mp3', options, (out) => [
    ...input(options),
    '-c:a',
    'libmp3lame',
    '-b:a',
    options.bitrate ?? '128k',
    '-f',
    'mp3',
    out,
  ]);
}

/** The bytes of a fixture as a plain `Uint8Array`. */
export function readFixture(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

/**
 * Decodes any file ffmpeg understands to interleaved s16le at 48 kHz.
 *
 * @param channels - channel count to ask ffmpeg for (it up/down-mixes as needed).
 * @returns interleaved samples; `length / channels` is the duration in samples.
 */
export async function decodeWithFfmpeg(path: string, channels: 1 | 2 = 1): Promise<Int16Array> {
  const out = await runFfmpeg(['-v', 'error', '-i', path, '-f', 's16le', '-ac', String(channels), '-ar', '48000', '-']);
  return new Int16Array(out.buffer.slice(out.byteOffset, out.byteOffset + out.length - (out.length % 2)));
}

/** Splits `bytes` into chunks: a fixed size, or random sizes in [1, max] from a seed. */
export function chunked(bytes: Uint8Array, size: number | { seed: number; max: number }): Uint8Array[] {
  const out: Uint8Array[] = [];
  const rnd = typeof size === 'number' ? undefined : prng(size.seed);
  for (let o = 0; o < bytes.length; ) {
    const n = typeof size === 'number' ? size : 1 + Math.floor((rnd as () => number)() * size.max);
    out.push(bytes.subarray(o, o + n));
    o += n;
  }
  return out;
}

/** The library's seeded PRNG (mulberry32), under this helper's name. */
export { prng };
