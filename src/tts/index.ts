export { type EspeakOptions, EspeakTtsEngine } from './espeak.js';
export type { TtsAudio, TtsEngine, TtsOptions } from './types.js';
export { parseWav } from './wav.js';
