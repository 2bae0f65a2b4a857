/**
 * Audio sources: everything that turns files, URLs, streams, TTS PCM or a microphone into
 * equally long frames for the player.
 * @packageDocumentation
 */
export type {
  AudioSource,
  AudioSourceInfo,
  AudioSourceStats,
  ByteInput,
  NormalizeOption,
  SourceOptions,
} from './types.js';
export { BufferedSource, DEFAULT_MAX_BUFFERED_FRAMES, type ProducerContext } from './base.js';
export { createAudioSource, type CreateAudioSourceOptions } from './create-source.js';
export { oggOpusSource } from './ogg-source.js';
export { webmOpusSource } from './webm-source.js';
export { buildFfmpegArgs, ffmpegSource, type FfmpegSourceOptions } from './ffmpeg-source.js';
export { pcmSource, type PcmSourceOptions } from './pcm-source.js';
export { microphoneSource, type MicrophoneSourceOptions } from './microphone-source.js';
export {
  clearFfmpegCache,
  type FfmpegCandidate,
  type FfmpegOrigin,
  type FfmpegProcess,
  type ResolvedFfmpeg,
  type ResolveFfmpegOptions,
  resolveFfmpeg,
  spawnFfmpeg,
} from './ffmpeg.js';
