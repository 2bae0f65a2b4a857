/**
 * Machinery shared by the sources: a bounded read-ahead queue driven by a producer loop, the
 * PCM → frame → gain → normaliser → encoder pipeline, and byte-input adapters.
 * @packageDocumentation
 */
import { Readable } from 'node:stream';
import { LoudnessNormalizer } from '../../codec/loudness.js';
import { OpusEncoder, type OpusEncoderOptions, type OpusFrameDuration } from '../../codec/opus-encoder.js';
import { applyGain } from '../../codec/pcm.js';
import { AbortError, ArgonVoiceError, InvalidInputError, IoError } from '../../errors.js';
import type {
  AudioSource,
  AudioSourceInfo,
  AudioSourceStats,
  ByteInput,
  NormalizeOption,
  SourceOptions,
} from './types.js';

/** Default read-ahead bound: 50 frames (1 s at 20 ms). */
export const DEFAULT_MAX_BUFFERED_FRAMES = 50;

type Frame = Uint8Array | Int16Array;

/** What a producer loop gets: a way to hand over frames (waits while the queue is full) and the stop signal. */
export interface ProducerContext {
  /** Queues one frame; resolves when there is room again. Rejects once the source is closed. */
  push(frame: Frame): Promise<void>;
  /** Fires when the source closes or is aborted. */
  readonly signal: AbortSignal;
  /** Counters the producer updates (`invalidDropped`, `bytesIn`). */
  readonly stats: AudioSourceStats;
}

class StopProducing extends Error {}

/**
 * A source whose frames come from an async producer function into a bounded FIFO.
 *
 * ```
 *  producer ──push──► [ f f f f … ≤ maxBufferedFrames ] ──next()──► consumer (player)
 *      ▲ waits while full                                    waits while empty
 * ```
 * The producer starts on the first `next()` (or {@link prefetch}), so creating a source that is
 * never played spawns nothing beyond what the factory needed to probe the input.
 */
export class BufferedSource implements AudioSource {
  readonly info: AudioSourceInfo;
  readonly stats: AudioSourceStats = {
    framesYielded: 0,
    framesProduced: 0,
    invalidDropped: 0,
    bytesIn: 0,
    maxBuffered: 0,
  };
  readonly #max: number;
  readonly #queue: Frame[] = [];
  #head = 0;
  readonly #stop = new AbortController();
  readonly #produce: (ctx: ProducerContext) => Promise<void>;
  readonly #cleanup: () => Promise<void> | void;
  #started = false;
  #done = false; // producer finished (normally or with an error)
  #error: Error | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #producerDone: Promise<void> = Promise.resolve();
  #consumerWakes: (() => void)[] = []; // a list: a caller may (wrongly) await two next() at once
  #producerWake: (() => void) | undefined;
  readonly #userSignal: AbortSignal | undefined;
  readonly #onAbort = () => {
    this.#error ??= new AbortError('the audio source was aborted', { cause: this.#userSignal?.reason });
    void this.close();
  };

  constructor(
    info: AudioSourceInfo,
    produce: (ctx: ProducerContext) => Promise<void>,
    options: {
      maxBufferedFrames?: number | undefined;
      signal?: AbortSignal | undefined;
      cleanup?: () => Promise<void> | void;
    },
  ) {
    const max = options.maxBufferedFrames ?? DEFAULT_MAX_BUFFERED_FRAMES;
    if (!Number.isInteger(max) || max < 1 || max > 10_000)
      throw new InvalidInputError(`maxBufferedFrames must be an integer in 1..10000, got ${max}`);
    this.info = Object.freeze({ ...info });
    this.#max = max;
    this.#produce = produce;
    this.#cleanup = options.cleanup ?? (() => {});
    this.#userSignal = options.signal;
    if (options.signal?.aborted) this.#onAbort();
    else options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** True once closed (by the caller, by abort, or after the last frame was consumed). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Frames currently buffered ahead. */
  get buffered(): number {
    return this.#queue.length - this.#head;
  }

  /** Starts the producer now, so the first frames are ready before playback starts. */
  prefetch(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const ctx: ProducerContext = { push: (f) => this.#push(f), signal: this.#stop.signal, stats: this.stats };
    this.#producerDone = this.#produce(ctx).then(
      () => this.#finish(undefined),
      (err: unknown) => this.#finish(err),
    );
  }

  #finish(err: unknown): void {
    if (err !== undefined && !(err instanceof StopProducing) && !this.#stop.signal.aborted) {
      this.#error ??= err instanceof Error ? err : new InvalidInputError(String(err));
    }
    this.#done = true;
    this.#wakeConsumer();
  }

  #wakeConsumer(): void {
    const wakes = this.#consumerWakes;
    if (wakes.length === 0) return;
    this.#consumerWakes = [];
    for (const w of wakes) w();
  }

  async #push(frame: Frame): Promise<void> {
    if (this.#stop.signal.aborted) throw new StopProducing();
    this.#queue.push(frame);
    this.stats.framesProduced++;
    const n = this.buffered;
    if (n > this.stats.maxBuffered) this.stats.maxBuffered = n;
    this.#wakeConsumer();
    while (this.buffered >= this.#max && !this.#stop.signal.aborted) {
      await new Promise<void>((resolve) => {
        this.#producerWake = resolve;
      });
    }
    if (this.#stop.signal.aborted) throw new StopProducing();
  }

  async #next(): Promise<IteratorResult<Frame>> {
    this.prefetch();
    for (;;) {
      if (this.#error && (this.#closed || this.buffered === 0)) {
        const err = this.#error;
        this.#error = undefined; // report once; the iterator is done afterwards
        this.#done = true;
        await this.close();
        throw err;
      }
      if (this.#closed) return { done: true, value: undefined };
      if (this.buffered > 0) {
        const frame = this.#queue[this.#head]!;
        this.#queue[this.#head++] = undefined as unknown as Frame;
        // Compact now and then instead of shift() per frame (O(n)).
        if (this.#head >= 64 && this.#head * 2 >= this.#queue.length) {
          this.#queue.splice(0, this.#head);
          this.#head = 0;
        }
        this.stats.framesYielded++;
        const w = this.#producerWake;
        this.#producerWake = undefined;
        w?.();
        return { done: false, value: frame };
      }
      if (this.#done) {
        await this.close();
        return { done: true, value: undefined };
      }
      await new Promise<void>((resolve) => {
        this.#consumerWakes.push(resolve);
      });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<Frame> {
    return {
      next: () => this.#next(),
      return: async () => {
        await this.close();
        return { done: true, value: undefined };
      },
    };
  }

  /** Stops the producer, releases its resources and drops buffered frames. Idempotent. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    this.#userSignal?.removeEventListener('abort', this.#onAbort);
    this.#stop.abort();
    const w = this.#producerWake;
    this.#producerWake = undefined;
    w?.();
    this.#wakeConsumer();
    this.#queue.length = 0;
    this.#head = 0;
    this.#closing = (async () => {
      try {
        await this.#cleanup();
      } finally {
        await this.#producerDone;
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Validates the common options and fills defaults. */
export function normalizeCommon(options: SourceOptions): {
  format: 'opus' | 'pcm';
  frameDurationMs: number;
  volume: number;
} {
  const format = options.format ?? 'opus';
  if (format !== 'opus' && format !== 'pcm')
    throw new InvalidInputError(`format must be 'opus' or 'pcm', got ${String(format)}`);
  const frameDurationMs = options.frameDurationMs ?? 20;
  const allowed = format === 'opus' ? [2.5, 5, 10, 20, 40, 60] : [2.5, 5, 10, 20, 40, 60, 80, 100, 120];
  if (!allowed.includes(frameDurationMs))
    throw new InvalidInputError(`frameDurationMs must be one of ${allowed.join(', ')}, got ${frameDurationMs}`);
  const volume = options.volume ?? 1;
  if (!Number.isFinite(volume) || volume < 0 || volume > 16)
    throw new InvalidInputError(`volume must be in 0..16, got ${volume}`);
  if (options.channels !== undefined && options.channels !== 1 && options.channels !== 2) {
    throw new InvalidInputError(`channels must be 1 or 2, got ${String(options.channels)}`);
  }
  if (options.seekMs !== undefined && !(Number.isFinite(options.seekMs) && options.seekMs >= 0)) {
    throw new InvalidInputError(`seekMs must be a finite number ≥ 0, got ${options.seekMs}`);
  }
  return { format, frameDurationMs, volume };
}

/** Normaliser settings from the `normalize` option, or undefined when off. */
export function normalizeTarget(
  opt: NormalizeOption | undefined,
): { targetLufs: number; truePeakDb: number } | undefined {
  if (!opt) return undefined;
  const o = opt === true ? {} : opt;
  return { targetLufs: o.targetLufs ?? -16, truePeakDb: o.truePeakDb ?? -1 };
}

/**
 * PCM (48 kHz, interleaved, output channel count) → exact frames → gain → optional loudness
 * normaliser → optional Opus encoder. Buffering: less than one frame in the framer, plus the
 * normaliser's bounded measuring window when enabled.
 */
export class PcmPipeline {
  readonly frameLength: number; // samples (all channels) per frame
  readonly #frame: Int16Array;
  #fill = 0;
  #skip: number; // samples (all channels) still to discard (seek, Opus pre-skip)
  readonly #volume: number;
  readonly #normalizer: LoudnessNormalizer | undefined;
  readonly #encoder: OpusEncoder | undefined;

  constructor(options: {
    channels: 1 | 2;
    frameDurationMs: number;
    format: 'opus' | 'pcm';
    volume: number;
    normalize?: { targetLufs: number; truePeakDb: number } | undefined;
    bitrate?: number | undefined;
    encoder?: Partial<OpusEncoderOptions> | undefined;
    skipSamples?: number;
  }) {
    const samples = (48000 * options.frameDurationMs) / 1000;
    this.frameLength = samples * options.channels;
    this.#frame = new Int16Array(this.frameLength);
    this.#skip = (options.skipSamples ?? 0) * options.channels;
    this.#volume = options.volume;
    if (options.normalize) {
      this.#normalizer = new LoudnessNormalizer({
        channels: options.channels,
        targetLufs: options.normalize.targetLufs,
        truePeakLimitDb: options.normalize.truePeakDb,
      });
    }
    if (options.format === 'opus') {
      const enc: OpusEncoderOptions = {
        ...options.encoder,
        channels: options.channels,
        frameDurationMs: options.frameDurationMs as OpusFrameDuration,
      };
      if (options.bitrate !== undefined) enc.bitrate = options.bitrate;
      this.#encoder = new OpusEncoder(enc);
    }
  }

  /** Feeds PCM; returns the finished frames (Opus packets or PCM frames). */
  push(pcm: Int16Array): Frame[] {
    let offset = 0;
    if (this.#skip > 0) {
      offset = Math.min(this.#skip, pcm.length);
      this.#skip -= offset;
    }
    const out: Frame[] = [];
    while (offset < pcm.length) {
      const take = Math.min(this.frameLength - this.#fill, pcm.length - offset);
      this.#frame.set(pcm.subarray(offset, offset + take), this.#fill);
      this.#fill += take;
      offset += take;
      if (this.#fill === this.frameLength) {
        this.#emit(this.#frame.slice(), out);
        this.#fill = 0;
      }
    }
    return out;
  }

  /** Ends the stream: zero-pads and emits the last partial frame, releases the normaliser's window. */
  end(): Frame[] {
    const out: Frame[] = [];
    if (this.#fill > 0) {
      const last = new Int16Array(this.frameLength);
      last.set(this.#frame.subarray(0, this.#fill));
      this.#fill = 0;
      this.#emit(last, out);
    }
    if (this.#normalizer) for (const f of this.#normalizer.flush()) out.push(this.#encode(f));
    return out;
  }

  /** Frees the encoder. Idempotent. */
  close(): void {
    this.#encoder?.close();
  }

  #emit(frame: Int16Array, out: Frame[]): void {
    if (this.#volume !== 1) applyGain(frame, this.#volume);
    if (this.#normalizer) {
      for (const f of this.#normalizer.push(frame)) out.push(this.#encode(f));
      return;
    }
    out.push(this.#encode(frame));
  }

  #encode(frame: Int16Array): Frame {
    return this.#encoder ? this.#encoder.encode(frame) : frame;
  }
}

/**
 * Turns any byte input into an async iterator of chunks with a `close()` that releases the
 * underlying stream (destroying Node streams, calling `return()` on iterators).
 */
export function byteIterator(input: ByteInput): { iterator: AsyncIterator<Uint8Array>; close(): Promise<void> } {
  if (input instanceof Uint8Array) {
    let sent = false;
    return {
      iterator: {
        next: async () => {
          if (sent) return { done: true, value: undefined };
          sent = true;
          return { done: false, value: input };
        },
      },
      close: async () => {
        sent = true;
      },
    };
  }
  let stream: Readable | undefined;
  let iterable: AsyncIterable<Uint8Array>;
  if (input instanceof Readable) {
    stream = input;
    iterable = input;
  } else if (typeof (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') {
    iterable = input as AsyncIterable<Uint8Array>;
  } else if (typeof (input as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
    // A plain array (or generator) of chunks.
    const sync = input as Iterable<Uint8Array>;
    iterable = (async function* () {
      yield* sync;
    })();
  } else if (typeof (input as NodeJS.ReadableStream).on === 'function') {
    // An old-style stream: wrap it so it can be iterated and destroyed.
    stream = new Readable().wrap(input as NodeJS.ReadableStream);
    iterable = stream;
  } else {
    throw new InvalidInputError(
      'unsupported input: expected a path, URL, Uint8Array, Node stream or (async) iterable of Uint8Array',
    );
  }
  const it = iterable[Symbol.asyncIterator]();
  let closed = false;
  // close() must not wait for a slow producer (a TTS stream that is still thinking): a pending
  // next() settles as done at once, and the input's own return() runs in the background
  // (an async generator queues return() behind its pending next()).
  let onClose!: () => void;
  const closedSignal = new Promise<IteratorResult<Uint8Array>>((resolve) => {
    onClose = () => resolve({ done: true, value: undefined });
  });
  return {
    iterator: {
      next: async () => {
        if (closed) return { done: true, value: undefined };
        let r: IteratorResult<Uint8Array>;
        try {
          r = await Promise.race([it.next(), closedSignal]);
        } catch (err) {
          // The input itself failed (a file read error, a stream that broke): an I/O error, with
          // the original as cause, the same way the ffmpeg path reports it.
          if (err instanceof ArgonVoiceError) throw err;
          throw new IoError(`reading the audio input failed: ${(err as Error)?.message ?? String(err)}`, {
            cause: err,
          });
        }
        if (!r.done && !(r.value instanceof Uint8Array)) {
          throw new InvalidInputError(`input chunks must be Uint8Array, got ${typeof r.value}`);
        }
        return r;
      },
    },
    close: async () => {
      if (closed) return;
      closed = true;
      onClose();
      stream?.destroy();
      Promise.resolve()
        .then(() => it.return?.())
        .catch(() => {
          // The input's own teardown failed; nothing more we can release.
        });
    },
  };
}

/** An async iterator that first yields `prefix`, then the rest of `rest`. */
export function prepend(prefix: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      let i = 0;
      return {
        next: async () => {
          if (i < prefix.length) return { done: false, value: prefix[i++]! };
          return rest.next();
        },
      };
    },
  };
}
