/**
 * Public types of the audio sources (type-only module, so implementation files never import
 * each other in a circle).
 * @packageDocumentation
 */
import type { OpusEncoderOptions } from '../../codec/opus-encoder.js';

/** What a source yields and how it was built. */
export interface AudioSourceInfo {
  /** Which factory produced the frames. */
  kind: 'ogg' | 'webm' | 'ffmpeg' | 'pcm' | 'microphone';
  /** `'opus'`: Opus packets (`Uint8Array`); `'pcm'`: interleaved 48 kHz s16 PCM frames (`Int16Array`). */
  format: 'opus' | 'pcm';
  /** Channels of the yielded audio. */
  channels: 1 | 2;
  /** Duration of every yielded frame, in milliseconds. */
  frameDurationMs: number;
  /** True when the file's own Opus packets are yielded untouched (no decode, no re-encode). */
  passthrough: boolean;
}

/** Counters kept by every source. */
export interface AudioSourceStats {
  /** Frames yielded to the consumer so far. */
  framesYielded: number;
  /** Frames produced (buffered ahead or yielded). */
  framesProduced: number;
  /** Packets from the input that were invalid (bad Opus structure, wrong duration, undecodable) and dropped. */
  invalidDropped: number;
  /** Input bytes read. */
  bytesIn: number;
  /** Largest number of frames that were buffered ahead at once (≤ `maxBufferedFrames`). */
  maxBuffered: number;
}

/**
 * A stream of equally long audio frames, ready to be paced.
 *
 * @remarks
 * Frames are prepared ahead of the consumer (decoding, resampling and encoding happen in the
 * source's own producer loop, never on the pacer's tick) into a bounded queue of at most
 * `maxBufferedFrames` frames (default 50 = 1 s at 20 ms). Iterate once: a source is a single
 * consumer stream. Breaking out of a `for await` loop closes the source.
 */
export interface AudioSource extends AsyncIterable<Uint8Array | Int16Array> {
  /** Format, channels and frame duration of the yielded frames. */
  readonly info: AudioSourceInfo;
  /** Counters. */
  readonly stats: AudioSourceStats;
  /** True once {@link close} was called or the stream ended. */
  readonly closed: boolean;
  /**
   * Stops producing, kills the ffmpeg/recorder child process, closes files and input streams.
   * A pending `next()` resolves as done. Idempotent; resolves when every resource is released.
   */
  close(): Promise<void>;
  /** Same as {@link close}. */
  [Symbol.asyncDispose](): Promise<void>;
  /**
   * Starts decoding/encoding now instead of on the first `next()`, so the first frames are ready
   * when playback starts (the player calls this when a track is queued next).
   */
  prefetch?(): void;
}

/** Loudness normalisation request: `true` uses −16 LUFS / −1 dBTP. */
export type NormalizeOption = boolean | { targetLufs?: number; truePeakDb?: number };

/** Options shared by every source factory. */
export interface SourceOptions {
  /** Output format (default `'opus'`). */
  format?: 'opus' | 'pcm';
  /** Frame duration in ms (default 20). Opus output supports 2.5 (PCM only), 5, 10, 20, 40, 60. */
  frameDurationMs?: number;
  /** Output channels (default: the input's for Ogg/WebM, 2 for ffmpeg, the input's for PCM). */
  channels?: 1 | 2;
  /** Encoder bitrate in bit/s (when encoding). */
  bitrate?: number;
  /** Linear gain (default 1). Anything but 1 disables passthrough. */
  volume?: number;
  /** Loudness normalisation (disables passthrough). */
  normalize?: NormalizeOption;
  /** Start this many ms into the input. */
  seekMs?: number;
  /** Aborting closes the source; a pending or later `next()` rejects with an AbortError. */
  signal?: AbortSignal;
  /** Extra encoder options (complexity, signal type, FEC ...). */
  encoder?: Partial<OpusEncoderOptions>;
  /** Bound of the read-ahead queue, in frames (default 50). */
  maxBufferedFrames?: number;
}

/** Anything a source can read bytes from (an array of chunks counts as an iterable). */
export type ByteInput = Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
