/**
 * One place that says which codec and clock implementations this process runs, and why a faster
 * one did not load. Printed by the CLI's `doctor`, by CI, and worth attaching to a bug report.
 * @packageDocumentation
 */
import { DependencyError } from '../errors.js';
import { loadNative, nativeLoadError } from './native.js';
import { decoderBackend } from './opus-decoder.js';
import { encoderBackend } from './opus-encoder.js';

/** What {@link codecInfo} reports. */
export interface CodecInfo {
  /** Opus encoder: `@discordjs/opus` (`'native'`), opusscript (`'wasm'`), or none. */
  encoder: 'native' | 'wasm' | 'unavailable';
  /**
   * Opus decoder: argon-voice's addon, `@discordjs/opus`, opusscript, or none
   * (`'unavailable'` only when not even opusscript loads).
   */
  decoder: 'native-addon' | 'discordjs-opus' | 'wasm' | 'unavailable';
  /**
   * `'exact'`: libopus PLC of exactly the requested duration (the addon). `'approximate'`: libopus
   * PLC of the library's fixed block (120 ms / 60 ms) served in slices, so the decoder state runs
   * ahead of the output (see `opus-decoder.ts`).
   */
  plc: 'exact' | 'approximate';
  /** True when `decodeFec()` decodes in-band FEC; false when it conceals instead. */
  fec: boolean;
  /**
   * The publish pacer's clock: absolute-deadline sleeps on CLOCK_MONOTONIC in its worker thread
   * (the addon), or JS timers.
   */
  pacerClock: 'native-abs-sleep' | 'js';
  /** Why the addon did not load (not built, `ARGON_VOICE_NO_NATIVE=1`, wrong ABI ...). */
  addonError?: string;
  /** libopus version of the addon, e.g. `'libopus 1.3.1'`. */
  libopusVersion?: string;
  /** Why no encoder loaded, when `encoder` is `'unavailable'`. */
  encoderError?: string;
  /** Why no decoder loaded, when `decoder` is `'unavailable'`. */
  decoderError?: string;
}

const DECODER_NAMES = { native: 'native-addon', discordjs: 'discordjs-opus', wasm: 'wasm' } as const;

/**
 * Reports the codec and pacer-clock implementations in use. Never throws: a missing piece is
 * reported as `'unavailable'` with the reason.
 */
export function codecInfo(): CodecInfo {
  const addon = loadNative();
  let encoder: CodecInfo['encoder'] = 'unavailable';
  let encoderError: string | undefined;
  try {
    encoder = encoderBackend();
  } catch (err) {
    encoderError = err instanceof DependencyError ? err.message : String(err);
  }
  let decoder: CodecInfo['decoder'] = 'unavailable';
  let decoderError: string | undefined;
  try {
    decoder = DECODER_NAMES[decoderBackend()];
  } catch (err) {
    decoderError = err instanceof DependencyError ? err.message : String(err);
  }
  const info: CodecInfo = {
    encoder,
    decoder,
    plc: decoder === 'native-addon' ? 'exact' : 'approximate',
    fec: decoder === 'native-addon',
    pacerClock: addon ? 'native-abs-sleep' : 'js',
  };
  const addonError = nativeLoadError();
  if (addonError !== undefined) info.addonError = addonError;
  if (addon) info.libopusVersion = addon.libopusVersion();
  if (encoderError !== undefined) info.encoderError = encoderError;
  if (decoderError !== undefined) info.decoderError = decoderError;
  return info;
}
