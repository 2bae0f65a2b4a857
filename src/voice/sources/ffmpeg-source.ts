/**
 * Any input ffmpeg can read (mp3, wav, flac, aac, video files, HTTP streams ...) → 48 kHz s16le
 * PCM from ffmpeg → exact frames → our Opus encoder.
 * @packageDocumentation
 */
import { ContainerError, DependencyError, InvalidInputError, IoError } from '../../errors.js';
import { BufferedSource, byteIterator, normalizeCommon, normalizeTarget, PcmPipeline } from './base.js';
import { type FfmpegProcess, resolveFfmpeg, spawnFfmpeg } from './ffmpeg.js';
import type { AudioSource, ByteInput, SourceOptions } from './types.js';

/** Options of {@link ffmpegSource}. */
export interface FfmpegSourceOptions extends SourceOptions {
  /** Extra input arguments placed before `-i` (advanced). */
  inputArgs?: readonly string[];
  /** Explicit ffmpeg binary (default: {@link resolveFfmpeg}). */
  ffmpegPath?: string;
}

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** Builds ffmpeg's argument list (exported for tests and for the CLI's `--dry-run`). */
export function buildFfmpegArgs(
  input: string | 'pipe:0',
  options: {
    channels: 1 | 2;
    seekMs?: number | undefined;
    volume?: number;
    normalize?: { targetLufs: number; truePeakDb: number } | undefined;
    inputArgs?: readonly string[] | undefined;
  },
): string[] {
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (isUrl(input)) args.push('-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5');
  // Input seeking (before -i) jumps by the demuxer's index instead of decoding everything before it.
  if (options.seekMs) args.push('-ss', (options.seekMs / 1000).toFixed(3));
  if (options.inputArgs) args.push(...options.inputArgs);
  // A path that starts with '-' would be read as an option.
  args.push('-i', input !== 'pipe:0' && input.startsWith('-') ? `./${input}` : input);
  const filters: string[] = [];
  if (options.volume !== undefined && options.volume !== 1) filters.push(`volume=${options.volume}`);
  // loudnorm (EBU R128, dynamic, true-peak limited) rather than our static normaliser: it runs
  // inside ffmpeg and works on live streams. It resamples internally to 192 kHz, hence -ar after it.
  if (options.normalize)
    filters.push(`loudnorm=I=${options.normalize.targetLufs}:TP=${options.normalize.truePeakDb}:LRA=11`);
  if (filters.length) args.push('-af', filters.join(','));
  args.push(
    '-vn',
    '-sn',
    '-dn',
    '-ac',
    String(options.channels),
    '-ar',
    '48000',
    '-f',
    's16le',
    '-acodec',
    'pcm_s16le',
    'pipe:1',
  );
  return args;
}

/** Maps ffmpeg's failure to a typed error carrying its stderr. */
function ffmpegError(tail: string, code: number | null, what: string): Error {
  const msg = `ffmpeg could not read ${what} (exit ${code}): ${tail || 'no message'}`;
  if (code === null && /spawn .*(ENOENT|EACCES)/.test(tail))
    return new DependencyError(`ffmpeg could not be started: ${tail}`);
  if (/No such file|Permission denied|Connection refused|Server returned|timed out|Input\/output error/i.test(tail))
    return new IoError(msg);
  if (
    /Invalid data|could not find codec|does not contain any stream|Output file #0 does not contain|Failed to read|header|moov atom/i.test(
      tail,
    )
  ) {
    return new ContainerError('unknown', 0, msg);
  }
  return new InvalidInputError(msg);
}

/**
 * Decodes anything ffmpeg reads and yields exact frames (Opus by default).
 *
 * @param input a file path, an http(s) URL (streamed with reconnects), or bytes/stream (piped to stdin).
 * @remarks
 * The child is spawned when iteration starts (or on `prefetch()`), killed on `close()` and on
 * abort, and always awaited. A failing ffmpeg ends the iteration with a typed error carrying the
 * last 2 KB of its stderr. Buffering: the read-ahead queue (`maxBufferedFrames`), one partial
 * frame, and ffmpeg's pipe (64 KB) — ffmpeg blocks when we stop reading.
 * @throws {@link DependencyError} when no ffmpeg is found; {@link InvalidInputError} for bad options.
 */
export async function ffmpegSource(input: string | ByteInput, options: FfmpegSourceOptions = {}): Promise<AudioSource> {
  const { format, frameDurationMs, volume } = normalizeCommon(options);
  const channels = options.channels ?? 2;
  const normalize = normalizeTarget(options.normalize);
  if (typeof input === 'string' && input.length === 0) throw new InvalidInputError('ffmpegSource: empty input path');
  const ffmpegPath = options.ffmpegPath ?? (await resolveFfmpeg()).path;
  const what = typeof input === 'string' ? JSON.stringify(input) : 'the input stream';
  const args = buildFfmpegArgs(typeof input === 'string' ? input : 'pipe:0', {
    channels,
    seekMs: options.seekMs,
    volume,
    normalize,
    inputArgs: options.inputArgs,
  });
  let proc: FfmpegProcess | undefined;
  let feeder: ReturnType<typeof byteIterator> | undefined;
  let feedError: Error | undefined;
  return new BufferedSource(
    { kind: 'ffmpeg', format, channels, frameDurationMs, passthrough: false },
    async (ctx) => {
      const pipeline = new PcmPipeline({
        channels,
        frameDurationMs,
        format,
        volume: 1, // applied by ffmpeg's volume filter
        bitrate: options.bitrate,
        encoder: options.encoder,
      });
      try {
        if (ctx.signal.aborted) return;
        proc = spawnFfmpeg(ffmpegPath, args);
        const p = proc;
        if (typeof input !== 'string') {
          feeder = byteIterator(input);
          void feed(feeder, p, ctx).then((err) => {
            feedError = err;
          });
        }
        // An odd byte count can straddle chunks: keep the dangling byte.
        let carry: Uint8Array | undefined;
        for await (const chunk of p.child.stdout as AsyncIterable<Buffer>) {
          let bytes: Uint8Array = chunk;
          if (carry) {
            const joined = new Uint8Array(carry.length + chunk.length);
            joined.set(carry);
            joined.set(chunk, carry.length);
            bytes = joined;
            carry = undefined;
          }
          const even = bytes.length & ~1;
          if (even < bytes.length) carry = bytes.slice(even);
          // Copy into an aligned Int16Array (Buffer pool slices may be odd-aligned).
          const pcm = new Int16Array(even / 2);
          new Uint8Array(pcm.buffer).set(bytes.subarray(0, even));
          for (const f of pipeline.push(pcm)) await ctx.push(f);
        }
        const { code, signal } = await p.exited;
        if (ctx.signal.aborted) return;
        if (code !== 0) throw ffmpegError(p.stderrTail(), code ?? (signal as unknown as number), what);
        if (feedError)
          throw new IoError(`reading the input for ffmpeg failed: ${feedError.message}`, { cause: feedError });
        const tail = pipeline.end();
        if (ctx.stats.framesProduced === 0 && tail.length === 0) {
          throw new ContainerError(
            'unknown',
            0,
            `ffmpeg decoded no audio from ${what}: ${p.stderrTail() || 'empty output'}`,
          );
        }
        for (const f of tail) await ctx.push(f);
      } finally {
        pipeline.close();
        await proc?.kill();
        await feeder?.close();
      }
    },
    {
      maxBufferedFrames: options.maxBufferedFrames,
      signal: options.signal,
      cleanup: async () => {
        await proc?.kill();
        await feeder?.close();
      },
    },
  );
}

/** Copies the input into ffmpeg's stdin, honouring backpressure. Errors surface via ffmpeg's exit. */
async function feed(
  feeder: ReturnType<typeof byteIterator>,
  p: FfmpegProcess,
  ctx: { signal: AbortSignal; stats: { bytesIn: number } },
): Promise<Error | undefined> {
  const stdin = p.child.stdin;
  let error: Error | undefined;
  try {
    for (;;) {
      if (ctx.signal.aborted || stdin.destroyed) break;
      const r = await feeder.iterator.next();
      if (r.done) break;
      ctx.stats.bytesIn += r.value.length;
      if (!stdin.write(r.value)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            stdin.off('drain', done);
            stdin.off('close', done);
            resolve();
          };
          stdin.on('drain', done);
          stdin.on('close', done);
        });
      }
    }
  } catch (err) {
    // A failing input stream: end stdin so ffmpeg stops, and report the input's error.
    error = err instanceof Error ? err : new Error(String(err));
  } finally {
    stdin.end();
    await feeder.close();
  }
  return error;
}
