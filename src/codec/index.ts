/**
 * The codec layer: Opus packets, containers, encoder/decoder, PCM and loudness helpers.
 * Bytes in, frames out; no sockets and no timers (STYLE.md, "Structure follows the data path").
 * @packageDocumentation
 */
export { type CodecInfo, codecInfo } from './codec-info.js';
export * from './containers-index.js';
export {
  type Biquad,
  kWeightingFilters,
  LoudnessMeter,
  type LoudnessMeterOptions,
  LoudnessNormalizer,
  type LoudnessNormalizerOptions,
  type LoudnessResult,
  measureLoudness,
  type NormalizationTarget,
  normalizationGain,
} from './loudness.js';
export {
  loadNative,
  NATIVE_ABI_VERSION,
  type NativeAddon,
  type NativeDecoder,
  nativeAddonPath,
  nativeLoadError,
  type RealtimeResult,
  type ThreadPolicy,
} from './native.js';
export {
  type DecoderBackend,
  decoderBackend,
  OpusDecoder,
  type OpusDecoderOptions,
  type OpusSampleRate,
} from './opus-decoder.js';
export { encoderBackend, OpusEncoder, type OpusEncoderOptions, type OpusFrameDuration } from './opus-encoder.js';
export {
  applyGain,
  applyRamp,
  f32ToS16,
  fadeIn,
  fadeOut,
  type MixOptions,
  mixInto,
  monoToStereo,
  type PcmArray,
  Resampler,
  type ResamplerOptions,
  s16ToF32,
  softClipSample,
  stereoToMono,
} from './pcm.js';
