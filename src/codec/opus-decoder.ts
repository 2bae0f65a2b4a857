/**
 * Opus decoder for the receive path: decode, exact-duration packet-loss concealment (PLC) and
 * in-band forward error correction (FEC).
 *
 * Backends, in the order `'auto'` tries them:
 *
 * | backend     | implementation                       | PLC                         | FEC |
 * |-------------|--------------------------------------|-----------------------------|-----|
 * | `native`    | argon-voice's addon (`native.ts`)    | exact (libopus, any 2.5 ms) | yes |
 * | `discordjs` | `@discordjs/opus` (native libopus)   | approximate (see below)     | no  |
 * | `wasm`      | `opusscript` (libopus in WebAssembly)| approximate                 | no  |
 *
 * @remarks
 * The fallbacks cannot ask libopus for a PLC of a given length: `@discordjs/opus` decodes an empty
 * buffer as a 120 ms PLC (its fixed `frame_size`), opusscript as 60 ms. So they run one such PLC,
 * keep it in a reservoir, and serve consecutive {@link OpusDecoder.conceal} calls from it: the output
 * is real libopus concealment of exactly the requested length and continuous across calls, but the
 * decoder's own state has run ahead by up to one PLC block, so the first packet after a loss joins
 * less smoothly than with the addon. Nor can they pass `decode_fec`, so
 * {@link OpusDecoder.decodeFec} conceals instead. `codecInfo()` reports both (`plc`, `fec`).
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { ClosedError, DependencyError, InvalidInputError } from '../errors.js';
import { loadNative, type NativeDecoder, nativeLoadError } from './native.js';

/** A concrete decoder implementation (see the table in this module's description). */
export type DecoderBackend = 'native' | 'discordjs' | 'wasm';

/** Sample rates libopus decodes to. */
export type OpusSampleRate = 8000 | 12000 | 16000 | 24000 | 48000;
const RATES: readonly number[] = [8000, 12000, 16000, 24000, 48000];

/** Options of {@link OpusDecoder}. */
export interface OpusDecoderOptions {
  /** 1 (mono) or 2 (interleaved stereo) output channels. */
  channels: 1 | 2;
  /** Output sample rate (default 48000). */
  sampleRate?: OpusSampleRate;
  /**
   * Implementation to use (default `'auto'`: the addon, else `@discordjs/opus`, else opusscript).
   * Naming one that cannot load throws a {@link DependencyError} rather than silently downgrading.
   */
  backend?: 'auto' | DecoderBackend;
}

// ---- fallback libraries -------------------------------------------------------------------------

interface DiscordOpus {
  decode(buf: Buffer): Buffer;
}
type DiscordCtor = new (rate: number, channels: number) => DiscordOpus;
interface ScriptOpus {
  decode(buf: Buffer): Buffer;
  delete(): void;
}
type ScriptCtor = new (rate: number, channels: number, application: number, options?: { wasm?: boolean }) => ScriptOpus;
const OPUS_APPLICATION_AUDIO = 2049;

const require = createRequire(import.meta.url);
let discordLib: DiscordCtor | Error | undefined;
let scriptLib: ScriptCtor | Error | undefined;

function loadDiscord(): DiscordCtor | Error {
  if (discordLib === undefined) {
    try {
      const ctor = (require('@discordjs/opus') as { OpusEncoder: DiscordCtor }).OpusEncoder;
      // A binding built for another Node ABI fails at construction, not at require; find out now.
      new ctor(48000, 1).decode(Buffer.alloc(0));
      discordLib = ctor;
    } catch (err) {
      discordLib = err instanceof Error ? err : new Error(String(err));
    }
  }
  return discordLib;
}

function loadScript(): ScriptCtor | Error {
  if (scriptLib === undefined) {
    try {
      scriptLib = require('opusscript') as ScriptCtor;
    } catch (err) {
      scriptLib = err instanceof Error ? err : new Error(String(err));
    }
  }
  return scriptLib;
}

function firstLine(e: Error): string {
  return e.message.split('\n')[0] ?? e.message;
}

/** Why `backend` cannot load, or `undefined` when it can. */
function backendError(backend: DecoderBackend): string | undefined {
  if (backend === 'native') return loadNative() ? undefined : (nativeLoadError() ?? 'not loaded');
  const lib = backend === 'discordjs' ? loadDiscord() : loadScript();
  return lib instanceof Error ? firstLine(lib) : undefined;
}

/**
 * The backend an `OpusDecoder({ backend: 'auto' })` uses in this process.
 * @throws {@link DependencyError} when no Opus decoder can load at all.
 */
export function decoderBackend(): DecoderBackend {
  const reasons: string[] = [];
  for (const b of ['native', 'discordjs', 'wasm'] as const) {
    const err = backendError(b);
    if (err === undefined) return b;
    reasons.push(`${b}: ${err}`);
  }
  throw new DependencyError(
    `no Opus decoder available (${reasons.join('; ')}). Install @discordjs/opus or opusscript.`,
  );
}

// ---- implementations ----------------------------------------------------------------------------

/** What OpusDecoder needs from a backend; every method writes into the caller's `out`. */
interface DecoderImpl {
  decodeInto(packet: Uint8Array, out: Int16Array): number;
  concealInto(out: Int16Array): number;
  fecInto(packet: Uint8Array, out: Int16Array): number;
  lastPacketDuration(): number;
  reset(): void;
  close(): void;
}

/** Turns a libopus error from the addon (`code` = OPUS_*) into our typed error. */
function nativeError(what: string, err: unknown): InvalidInputError {
  const e = err as { code?: string; message?: string };
  const invalidPacket = e.code === 'OPUS_INVALID_PACKET';
  return new InvalidInputError(`OpusDecoder: ${what} failed: ${e.message ?? String(err)}`, {
    cause: err,
    code: invalidPacket ? 'ARGON_VOICE_INVALID_PACKET' : 'ARGON_VOICE_INVALID_INPUT',
  });
}

class NativeImpl implements DecoderImpl {
  readonly #dec: NativeDecoder;
  constructor(ctor: new (rate: number, channels: 1 | 2) => NativeDecoder, rate: number, channels: 1 | 2) {
    this.#dec = new ctor(rate, channels);
  }
  decodeInto(packet: Uint8Array, out: Int16Array): number {
    try {
      return this.#dec.decodeInto(packet, out, false);
    } catch (err) {
      throw nativeError('decode', err);
    }
  }
  concealInto(out: Int16Array): number {
    try {
      return this.#dec.concealInto(out);
    } catch (err) {
      throw nativeError('conceal', err);
    }
  }
  fecInto(packet: Uint8Array, out: Int16Array): number {
    try {
      return this.#dec.decodeInto(packet, out, true);
    } catch (err) {
      throw nativeError('FEC decode', err);
    }
  }
  lastPacketDuration(): number {
    return this.#dec.lastPacketDuration();
  }
  reset(): void {
    this.#dec.reset();
  }
  close(): void {
    this.#dec.close();
  }
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** Copies s16le bytes from a Buffer into `out` at `offset` (samples). */
function copyS16(src: Buffer, out: Int16Array, offset: number, count: number, srcOffset = 0): void {
  const byteStart = src.byteOffset + srcOffset * 2;
  if (LITTLE_ENDIAN && byteStart % 2 === 0) {
    out.set(new Int16Array(src.buffer, byteStart, count), offset);
    return;
  }
  for (let i = 0; i < count; i++) out[offset + i] = src.readInt16LE((srcOffset + i) * 2);
}

/**
 * `@discordjs/opus` and opusscript: one `decode(Buffer): Buffer` call each, where an empty buffer
 * means "conceal" with the library's fixed maximum frame size.
 *
 * PLC reservoir (samples are interleaved; `head`/`tail` count samples, not frames):
 * ```
 *   plc: [ served ... | head ... available ... tail | unused ]
 *   conceal(n): copy from head, head += n; refill with one more library PLC when head === tail
 *   decode()/reset(): head = tail = 0 (the reservoir belongs to the loss that just ended)
 * ```
 */
class FallbackImpl implements DecoderImpl {
  readonly #channels: number;
  readonly #make: () => { decode(buf: Buffer): Buffer; delete?(): void };
  #lib: { decode(buf: Buffer): Buffer; delete?(): void };
  #plc: Buffer = Buffer.alloc(0);
  #head = 0;
  #tail = 0;
  #last = 0;
  static readonly #EMPTY = Buffer.alloc(0);

  constructor(make: () => { decode(buf: Buffer): Buffer; delete?(): void }, channels: number) {
    this.#make = make;
    this.#lib = make();
    this.#channels = channels;
  }

  decodeInto(packet: Uint8Array, out: Int16Array): number {
    // Zero length is the libraries' "packet lost" signal; refuse it so a caller bug is not hidden.
    if (packet.length === 0) {
      throw new InvalidInputError('OpusDecoder: decode failed: empty packet (use conceal() for a lost one)', {
        code: 'ARGON_VOICE_INVALID_PACKET',
      });
    }
    let pcm: Buffer;
    try {
      pcm = this.#lib.decode(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength));
    } catch (err) {
      throw new InvalidInputError(`OpusDecoder: decode failed: ${(err as Error).message}`, {
        cause: err,
        code: 'ARGON_VOICE_INVALID_PACKET',
      });
    }
    const samples = pcm.length >> 1;
    if (samples > out.length) {
      throw new InvalidInputError(
        `OpusDecoder: the packet decodes to ${samples / this.#channels} samples per channel, out holds ${out.length / this.#channels}`,
      );
    }
    copyS16(pcm, out, 0, samples);
    this.#head = this.#tail = 0;
    this.#last = samples / this.#channels;
    return this.#last;
  }

  concealInto(out: Int16Array): number {
    let done = 0;
    while (done < out.length) {
      if (this.#head === this.#tail) this.#refill();
      const n = Math.min(out.length - done, this.#tail - this.#head);
      copyS16(this.#plc, out, done, n, this.#head);
      this.#head += n;
      done += n;
    }
    this.#last = out.length / this.#channels;
    return this.#last;
  }

  fecInto(_packet: Uint8Array, out: Int16Array): number {
    // The library never passes decode_fec = 1, so the FEC data is unreachable: conceal instead.
    return this.concealInto(out);
  }

  lastPacketDuration(): number {
    return this.#last;
  }

  reset(): void {
    // Neither library exposes OPUS_RESET_STATE reliably; a fresh instance is the same thing.
    this.#lib.delete?.();
    this.#lib = this.#make();
    this.#head = this.#tail = 0;
    this.#last = 0;
  }

  close(): void {
    this.#lib.delete?.();
  }

  #refill(): void {
    let pcm: Buffer;
    try {
      pcm = this.#lib.decode(FallbackImpl.#EMPTY);
    } catch (err) {
      throw new InvalidInputError(`OpusDecoder: conceal failed: ${(err as Error).message}`, { cause: err });
    }
    if (pcm.length < 2) throw new InvalidInputError('OpusDecoder: conceal failed: the library returned no samples');
    // Keep our own copy: opusscript's result is a fresh Buffer, but not guaranteed to stay unshared.
    if (this.#plc.length < pcm.length) this.#plc = Buffer.alloc(pcm.length);
    pcm.copy(this.#plc);
    this.#head = 0;
    this.#tail = pcm.length >> 1;
  }
}

// ---- public class -------------------------------------------------------------------------------

/**
 * Decodes Opus packets to interleaved s16 PCM, conceals lost packets for an exact duration and
 * rebuilds a lost packet from the FEC data in the next one.
 *
 * @example
 * ```ts
 * const dec = new OpusDecoder({ channels: 2 });
 * const pcm = dec.decode(packet);                 // Int16Array, samples × 2
 * const gap = dec.conceal(960);                   // 20 ms of PLC, exactly
 * const rebuilt = dec.decodeFec(nextPacket, 960); // the lost frame before nextPacket
 * dec.close();
 * ```
 * @remarks
 * `decode()`, `conceal()` and `decodeFec()` return a new array; the `…Into` variants write into a
 * caller-owned buffer and allocate nothing with the addon (the jitter buffer's hot path).
 */
export class OpusDecoder {
  /** Output channel count. */
  readonly channels: 1 | 2;
  /** Output sample rate. */
  readonly sampleRate: OpusSampleRate;
  /** The implementation in use. */
  readonly backend: DecoderBackend;
  /** True when {@link conceal} is libopus PLC of exactly the requested length (the addon only). */
  readonly exactPlc: boolean;
  /** True when {@link decodeFec} really decodes FEC data (the addon only); otherwise it conceals. */
  readonly fecSupported: boolean;
  #impl: DecoderImpl | undefined;
  /** Scratch for `decode()`: one maximal packet (120 ms), so the copy out is the only allocation. */
  readonly #scratch: Int16Array;
  /** 2.5 ms in samples per channel: the granularity of libopus's PLC and FEC frame sizes. */
  readonly #step: number;

  /**
   * @throws {@link InvalidInputError} for bad options.
   * @throws {@link DependencyError} when the requested backend (or, for `'auto'`, any) cannot load.
   */
  constructor(options: OpusDecoderOptions) {
    const { channels } = options;
    const sampleRate = options.sampleRate ?? 48000;
    const wanted = options.backend ?? 'auto';
    if (channels !== 1 && channels !== 2)
      throw new InvalidInputError(`OpusDecoder: channels must be 1 or 2, got ${String(channels)}`);
    if (!RATES.includes(sampleRate)) {
      throw new InvalidInputError(
        `OpusDecoder: sampleRate must be one of ${RATES.join(', ')}, got ${String(sampleRate)}`,
      );
    }
    if (!['auto', 'native', 'discordjs', 'wasm'].includes(wanted)) {
      throw new InvalidInputError(`OpusDecoder: unknown backend ${String(wanted)}`);
    }
    let backend: DecoderBackend;
    if (wanted === 'auto') {
      backend = decoderBackend();
    } else {
      const why = backendError(wanted);
      if (why !== undefined) {
        throw new DependencyError(`OpusDecoder: the '${wanted}' backend is unavailable: ${why}`);
      }
      backend = wanted;
    }
    this.channels = channels;
    this.sampleRate = sampleRate;
    this.backend = backend;
    this.exactPlc = backend === 'native';
    this.fecSupported = backend === 'native';
    this.#step = sampleRate / 400;
    this.#scratch = new Int16Array(((sampleRate * 120) / 1000) * channels);
    if (backend === 'native') {
      this.#impl = new NativeImpl(loadNative()!.Decoder, sampleRate, channels);
    } else if (backend === 'discordjs') {
      const Ctor = loadDiscord() as DiscordCtor;
      this.#impl = new FallbackImpl(() => new Ctor(sampleRate, channels), channels);
    } else {
      const Ctor = loadScript() as ScriptCtor;
      this.#impl = new FallbackImpl(
        () => new Ctor(sampleRate, channels, OPUS_APPLICATION_AUDIO, { wasm: true }),
        channels,
      );
    }
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#impl === undefined;
  }

  /**
   * Samples per channel of the last packet decoded or concealed (`OPUS_GET_LAST_PACKET_DURATION`).
   * @throws {@link ClosedError} after {@link close}.
   */
  get lastPacketDuration(): number {
    return this.#open('lastPacketDuration').lastPacketDuration();
  }

  /**
   * Decodes one packet.
   * @returns interleaved PCM, `samples × channels` long (a new array).
   * @throws {@link InvalidInputError} (code `ARGON_VOICE_INVALID_PACKET`) for an empty or corrupt packet.
   * @throws {@link ClosedError} after {@link close}.
   */
  decode(packet: Uint8Array): Int16Array {
    const n = this.decodeInto(packet, this.#scratch);
    return this.#scratch.slice(0, n * this.channels);
  }

  /**
   * Decodes one packet into `out`, which must hold the whole packet (`sampleRate × 0.12 × channels`
   * always does).
   * @returns samples per channel written.
   * @throws {@link InvalidInputError} for an empty or corrupt packet, or an `out` too short.
   * @throws {@link ClosedError} after {@link close}.
   */
  decodeInto(packet: Uint8Array, out: Int16Array): number {
    const impl = this.#open('decode');
    checkPacket(packet);
    checkOut(out, this.channels);
    return impl.decodeInto(packet, out);
  }

  /**
   * Conceals a lost stretch of exactly `samples` samples per channel.
   * @param samples a positive multiple of 2.5 ms (120 at 48 kHz): 120, 240, 480, 960, 1920, 2880 ...
   * @returns `samples × channels` interleaved samples (a new array).
   * @throws {@link InvalidInputError} for a duration that is not a positive multiple of 2.5 ms.
   * @throws {@link ClosedError} after {@link close}.
   */
  conceal(samples: number): Int16Array {
    this.#checkDuration(samples, 'conceal');
    const out = new Int16Array(samples * this.channels);
    this.concealInto(out);
    return out;
  }

  /**
   * Conceals `out.length / channels` samples per channel into `out`.
   * @returns samples per channel written.
   * @throws {@link InvalidInputError} when that is not a positive multiple of 2.5 ms.
   * @throws {@link ClosedError} after {@link close}.
   */
  concealInto(out: Int16Array): number {
    const impl = this.#open('conceal');
    checkOut(out, this.channels);
    this.#checkDuration(out.length / this.channels, 'conceal');
    return impl.concealInto(out);
  }

  /**
   * Rebuilds the lost packet that came just before `nextPacket` from the in-band FEC data that
   * `nextPacket` carries (RFC 6716 §2.1.7, LBRR frames), for exactly `samples` per channel.
   * Decode `nextPacket` itself normally afterwards. Where there is no FEC data (CELT-mode packets,
   * an encoder without FEC, or a fallback backend, see {@link fecSupported}), this conceals instead.
   * @param samples the lost stretch, a positive multiple of 2.5 ms (usually one frame).
   * @returns `samples × channels` interleaved samples (a new array).
   * @throws {@link InvalidInputError} for a corrupt packet or a bad duration.
   * @throws {@link ClosedError} after {@link close}.
   */
  decodeFec(nextPacket: Uint8Array, samples: number): Int16Array {
    this.#checkDuration(samples, 'decodeFec');
    const out = new Int16Array(samples * this.channels);
    this.decodeFecInto(nextPacket, out);
    return out;
  }

  /**
   * {@link decodeFec} into a caller-owned buffer of `samples × channels`.
   * @returns samples per channel written.
   */
  decodeFecInto(nextPacket: Uint8Array, out: Int16Array): number {
    const impl = this.#open('decodeFec');
    checkPacket(nextPacket);
    checkOut(out, this.channels);
    this.#checkDuration(out.length / this.channels, 'decodeFec');
    return impl.fecInto(nextPacket, out);
  }

  /**
   * Forgets the stream history, as after a long silence or a new speaker.
   * @throws {@link ClosedError} after {@link close}.
   */
  reset(): void {
    this.#open('reset').reset();
  }

  /** Frees the libopus state. Idempotent. */
  close(): void {
    const impl = this.#impl;
    this.#impl = undefined;
    impl?.close();
  }

  /** Same as {@link close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #open(what: string): DecoderImpl {
    if (this.#impl === undefined) throw new ClosedError(`OpusDecoder: ${what}() after close()`);
    return this.#impl;
  }

  #checkDuration(samples: number, what: string): void {
    if (!Number.isInteger(samples) || samples <= 0 || samples % this.#step !== 0) {
      throw new InvalidInputError(
        `OpusDecoder: ${what}() needs a positive multiple of 2.5 ms (${this.#step} samples at ${this.sampleRate} Hz), got ${samples}`,
      );
    }
  }
}

function checkPacket(packet: Uint8Array): void {
  if (!(packet instanceof Uint8Array)) throw new InvalidInputError('OpusDecoder: a packet must be a Uint8Array');
}

function checkOut(out: Int16Array, channels: number): void {
  if (!(out instanceof Int16Array)) throw new InvalidInputError('OpusDecoder: out must be an Int16Array');
  if (out.length === 0 || out.length % channels !== 0) {
    throw new InvalidInputError(
      `OpusDecoder: out length must be a non-zero multiple of ${channels}, got ${out.length}`,
    );
  }
}
