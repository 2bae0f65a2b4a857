/**
 * Opus encoder wrapper over `@discordjs/opus` (native libopus), falling back to `opusscript`
 * (libopus compiled to WebAssembly) when the native binding cannot load.
 *
 * @remarks
 * DTX is always forced off: the gateway rejects 1-byte packets and counts packets, not time
 * (docs/platform.md §A3.3, §A4.1). For the same reason {@link OpusEncoder.encode} never returns a packet
 * shorter than 3 bytes: receivers drop ≤ 2-byte frames as DTX (§A5), so a tiny packet that libopus
 * might still produce at a very low bitrate is re-framed as an equivalent code-3 packet with padding.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { ClosedError, DependencyError, InvalidInputError } from '../errors.js';

// CTL request numbers from opus_defines.h.
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;
const OPUS_SET_DTX = 4016;
const OPUS_SET_SIGNAL = 4024;
const OPUS_AUTO = -1000;
const OPUS_SIGNAL_VOICE = 3001;
const OPUS_SIGNAL_MUSIC = 3002;
const OPUSSCRIPT_APPLICATION_AUDIO = 2049;

/** Frame durations libopus can encode, in milliseconds. */
export type OpusFrameDuration = 2.5 | 5 | 10 | 20 | 40 | 60;
const DURATIONS: readonly number[] = [2.5, 5, 10, 20, 40, 60];

/** Options of {@link OpusEncoder}. */
export interface OpusEncoderOptions {
  /** 1 (mono) or 2 (interleaved stereo). */
  channels: 1 | 2;
  /** Duration of one frame; every {@link OpusEncoder.encode} call takes exactly this much PCM. */
  frameDurationMs: OpusFrameDuration;
  /** Target bitrate in bit/s (500..512000); default: libopus's automatic choice. */
  bitrate?: number;
  /** Encoder complexity 0..10 (default 10: best quality, ~1-2 % of a core per stream). */
  complexity?: number;
  /** Signal type hint (default `'auto'`). */
  signal?: 'voice' | 'music' | 'auto';
  /** In-band forward error correction (default false). Only useful together with `expectedLossPct`. */
  fec?: boolean;
  /** Expected packet loss in percent (0..100), which tunes FEC redundancy (default 0). */
  expectedLossPct?: number;
  /**
   * Preferred implementation (default `'native'`, falling back to the other when it cannot load).
   * `'wasm'` exists for tests and for platforms where the native addon misbehaves.
   */
  backend?: 'native' | 'wasm';
}

interface NativeEncoder {
  encode(buf: Buffer): Buffer;
  applyEncoderCTL(ctl: number, value: number): void;
  setBitrate(bitrate: number): void;
}
interface NativeModule {
  OpusEncoder: new (rate: number, channels: number) => NativeEncoder;
}
interface ScriptEncoder {
  encode(buf: Buffer, frameSize: number): Buffer;
  encoderCTL(ctl: number, arg: number): void;
  delete(): void;
}
type ScriptCtor = new (
  rate: number,
  channels: number,
  application: number,
  options?: { wasm?: boolean },
) => ScriptEncoder;

const require = createRequire(import.meta.url);
type Backend = { kind: 'native'; mod: NativeModule } | { kind: 'wasm'; ctor: ScriptCtor };
let nativeBackend: Backend | Error | undefined;
let wasmBackend: Backend | Error | undefined;

function loadNative(): Backend | Error {
  if (nativeBackend === undefined) {
    try {
      const mod = require('@discordjs/opus') as NativeModule;
      // Construct once: a binding built for another ABI fails here rather than on the first frame.
      new mod.OpusEncoder(48000, 1);
      nativeBackend = { kind: 'native', mod };
    } catch (err) {
      nativeBackend = err instanceof Error ? err : new Error(String(err));
    }
  }
  return nativeBackend;
}

function loadWasm(): Backend | Error {
  if (wasmBackend === undefined) {
    try {
      wasmBackend = { kind: 'wasm', ctor: require('opusscript') as ScriptCtor };
    } catch (err) {
      wasmBackend = err instanceof Error ? err : new Error(String(err));
    }
  }
  return wasmBackend;
}

function loadBackend(prefer?: 'native' | 'wasm'): Backend {
  const order = prefer === 'wasm' ? [loadWasm, loadNative] : [loadNative, loadWasm];
  const errors: Error[] = [];
  for (const load of order) {
    const b = load();
    if (!(b instanceof Error)) return b;
    errors.push(b);
  }
  throw new DependencyError(
    `no Opus encoder available: ${errors.map((e) => e.message.split('\n')[0]).join('; ')}. ` +
      'Install @discordjs/opus (native) or opusscript (WebAssembly).',
    { cause: errors[0] },
  );
}

/**
 * Which implementation encodes by default: `'native'` (`@discordjs/opus`) or `'wasm'` (`opusscript`).
 * @throws {@link DependencyError} when neither can load.
 */
export function encoderBackend(): 'native' | 'wasm' {
  return loadBackend().kind;
}

/**
 * Encodes fixed-size PCM frames (48 kHz, interleaved s16) into Opus packets.
 *
 * @example
 * ```ts
 * const enc = new OpusEncoder({ channels: 2, frameDurationMs: 20, bitrate: 96_000 });
 * const packet = enc.encode(pcm); // pcm.length === enc.frameSamples * 2
 * enc.close();
 * ```
 */
export class OpusEncoder {
  /** Channel count. */
  readonly channels: 1 | 2;
  /** Frame duration in milliseconds. */
  readonly frameDurationMs: OpusFrameDuration;
  /** Samples per channel in one frame (48 kHz): 120 for 2.5 ms ... 2880 for 60 ms. */
  readonly frameSamples: number;
  /** `'native'` or `'wasm'`. */
  readonly backend: 'native' | 'wasm';
  #native: NativeEncoder | undefined;
  #script: ScriptEncoder | undefined;
  #closed = false;
  #view: Buffer | undefined;

  /**
   * @throws {@link InvalidInputError} for an option out of range.
   * @throws {@link DependencyError} when no Opus implementation loads.
   */
  constructor(options: OpusEncoderOptions) {
    const { channels, frameDurationMs } = options;
    if (channels !== 1 && channels !== 2)
      throw new InvalidInputError(`OpusEncoder: channels must be 1 or 2, got ${channels}`);
    if (!DURATIONS.includes(frameDurationMs)) {
      throw new InvalidInputError(
        `OpusEncoder: frameDurationMs must be one of ${DURATIONS.join(', ')}, got ${frameDurationMs}`,
      );
    }
    const { bitrate, complexity, expectedLossPct } = options;
    if (bitrate !== undefined && !(Number.isInteger(bitrate) && bitrate >= 500 && bitrate <= 512_000)) {
      throw new InvalidInputError(`OpusEncoder: bitrate must be an integer in 500..512000, got ${bitrate}`);
    }
    if (complexity !== undefined && !(Number.isInteger(complexity) && complexity >= 0 && complexity <= 10)) {
      throw new InvalidInputError(`OpusEncoder: complexity must be an integer in 0..10, got ${complexity}`);
    }
    if (
      expectedLossPct !== undefined &&
      !(Number.isInteger(expectedLossPct) && expectedLossPct >= 0 && expectedLossPct <= 100)
    ) {
      throw new InvalidInputError(`OpusEncoder: expectedLossPct must be an integer in 0..100, got ${expectedLossPct}`);
    }
    const signal = options.signal ?? 'auto';
    if (signal !== 'auto' && signal !== 'voice' && signal !== 'music')
      throw new InvalidInputError(`OpusEncoder: bad signal ${String(signal)}`);
    this.channels = channels;
    this.frameDurationMs = frameDurationMs;
    this.frameSamples = (48000 * frameDurationMs) / 1000;
    const b = loadBackend(options.backend);
    this.backend = b.kind;
    let ctl: (req: number, value: number) => void;
    if (b.kind === 'native') {
      const enc = new b.mod.OpusEncoder(48000, channels);
      this.#native = enc;
      ctl = (req, value) => enc.applyEncoderCTL(req, value);
    } else {
      const enc = new b.ctor(48000, channels, OPUSSCRIPT_APPLICATION_AUDIO, { wasm: true });
      this.#script = enc;
      ctl = (req, value) => enc.encoderCTL(req, value);
    }
    try {
      ctl(OPUS_SET_DTX, 0);
      if (bitrate !== undefined) {
        if (this.#native) this.#native.setBitrate(bitrate);
        else ctl(OPUS_SET_BITRATE, bitrate);
      }
      if (complexity !== undefined) ctl(OPUS_SET_COMPLEXITY, complexity);
      ctl(OPUS_SET_SIGNAL, signal === 'voice' ? OPUS_SIGNAL_VOICE : signal === 'music' ? OPUS_SIGNAL_MUSIC : OPUS_AUTO);
      ctl(OPUS_SET_INBAND_FEC, options.fec ? 1 : 0);
      if (expectedLossPct !== undefined) ctl(OPUS_SET_PACKET_LOSS_PERC, expectedLossPct);
    } catch (err) {
      this.close();
      throw new InvalidInputError(`OpusEncoder: libopus rejected an option: ${(err as Error).message}`, { cause: err });
    }
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Encodes exactly one frame: `frameSamples × channels` interleaved samples.
   * The input is not copied (the binding reads it through a Buffer view of the same memory).
   * @returns a packet of 3..3825 bytes with DTX off.
   * @throws {@link InvalidInputError} for a wrong length or type.
   * @throws {@link ClosedError} after {@link close}.
   */
  encode(pcm: Int16Array): Uint8Array {
    if (this.#closed) throw new ClosedError('OpusEncoder: encode() after close()');
    if (!(pcm instanceof Int16Array)) throw new InvalidInputError('OpusEncoder: encode() takes an Int16Array');
    const expected = this.frameSamples * this.channels;
    if (pcm.length !== expected) {
      throw new InvalidInputError(
        `OpusEncoder: a ${this.frameDurationMs} ms ${this.channels}-channel frame is ${expected} samples, got ${pcm.length}`,
      );
    }
    // Buffer.from(arrayBuffer, offset, length) is a view, not a copy; callers that encode from
    // one reused frame buffer (the sources' framer does not, a mixer does) also reuse the view.
    let view = this.#view;
    if (view === undefined || view.buffer !== pcm.buffer || view.byteOffset !== pcm.byteOffset) {
      view = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
      this.#view = view;
    }
    let out: Uint8Array;
    try {
      out = this.#native ? this.#native.encode(view) : this.#script!.encode(view, this.frameSamples);
    } catch (err) {
      throw new InvalidInputError(`OpusEncoder: libopus failed to encode: ${(err as Error).message}`, { cause: err });
    }
    if (out.length <= 2) return padTinyPacket(out);
    return out;
  }

  /** Frees the libopus state. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#script?.delete();
    this.#script = undefined;
    // The native encoder is freed by its finaliser; dropping the reference is all we can do.
    this.#native = undefined;
    this.#view = undefined;
  }
}

/**
 * Re-frames a 1- or 2-byte code-0 packet as a code-3 packet with one frame and zero padding
 * bytes (RFC 6716 §3.2.5): `TOC|3, 0x41 (padding flag, M=1), 0x00 (padding length 0), data…`.
 * It decodes identically but is ≥ 3 bytes, so nobody mistakes it for DTX.
 */
function padTinyPacket(p: Uint8Array): Uint8Array {
  const toc = p[0];
  if (toc === undefined || (toc & 3) !== 0) {
    throw new InvalidInputError(`OpusEncoder: libopus produced an unusable ${p.length}-byte packet`);
  }
  const out = new Uint8Array(p.length + 2);
  out[0] = toc | 3;
  out[1] = 0x41;
  out[2] = 0;
  out.set(p.subarray(1), 3);
  return out;
}
