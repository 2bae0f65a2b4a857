/**
 * The text-to-speech interface: text in, PCM out. Any engine (local wasm, a cloud API) plugs in
 * by implementing {@link TtsEngine}; the voice pipeline resamples its output to 48 kHz and
 * encodes it (see `pcmSource` in `src/voice/sources`).
 * @packageDocumentation
 */

/** Synthesized speech: mono or stereo interleaved signed 16-bit PCM at `sampleRate`. */
export interface TtsAudio {
  pcm: Int16Array;
  sampleRate: number;
  channels: 1 | 2;
}

/** Options of one synthesis call. */
export interface TtsOptions {
  /** Engine-specific voice name (`en-us`, `ru`, ...). */
  voice?: string;
  /** Speaking rate in words per minute (engine permitting). */
  wordsPerMinute?: number;
  signal?: AbortSignal;
}

/**
 * A speech synthesizer. Implementations must be safe to call concurrently and must not keep
 * the process alive between calls.
 *
 * @example A cloud engine
 * ```ts
 * const cloud: TtsEngine = {
 *   name: 'my-cloud-tts',
 *   async synthesize(text, { voice, signal } = {}) {
 *     const res = await fetch('https://tts.example/v1/speak', {
 *       method: 'POST', signal, body: JSON.stringify({ text, voice, format: 'pcm_s16le', rate: 24000 }),
 *     });
 *     return { pcm: new Int16Array(await res.arrayBuffer()), sampleRate: 24000, channels: 1 };
 *   },
 * };
 * ```
 */
export interface TtsEngine {
  readonly name: string;
  synthesize(text: string, options?: TtsOptions): Promise<TtsAudio>;
}
