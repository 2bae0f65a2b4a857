/**
 * TTS engines for the tts-bot. Any object with `synthesize(text) → { pcm, sampleRate, channels }`
 * is an engine ({@link TtsEngine}, `src/tts/types.ts`); the voice pipeline resamples whatever
 * rate it returns to 48 kHz and encodes it.
 *
 * - `espeak` (default): eSpeak NG compiled to WebAssembly, from npm, no system packages, no model
 *   download ({@link EspeakTtsEngine}).
 * - `openai`: a cloud engine over HTTPS, as an example of plugging one in ({@link OpenAiTtsEngine}).
 *
 * To plug another cloud engine, implement {@link TtsEngine} the same way (ask the service for raw
 * 16-bit PCM, or decode what it returns) and pass it as `run({ engine })`.
 * @packageDocumentation
 */
import { HttpError, InvalidInputError } from '../../src/errors.js';
import { EspeakTtsEngine } from '../../src/tts/espeak.js';
import type { TtsAudio, TtsEngine, TtsOptions } from '../../src/tts/types.js';

export type { TtsAudio, TtsEngine, TtsOptions } from '../../src/tts/types.js';
export { EspeakTtsEngine } from '../../src/tts/espeak.js';

/** Options of {@link OpenAiTtsEngine}. */
export interface OpenAiTtsOptions {
  /** API key (default `process.env.OPENAI_API_KEY`). */
  apiKey?: string | undefined;
  /** Endpoint (default `https://api.openai.com/v1/audio/speech`; any compatible server works). */
  url?: string | undefined;
  /** Model (default `gpt-4o-mini-tts`). */
  model?: string | undefined;
  /** Default voice (default `alloy`). */
  voice?: string | undefined;
}

/**
 * A cloud engine: OpenAI's speech endpoint (or a compatible one) with `response_format: "pcm"`,
 * which answers raw 24 kHz mono signed 16-bit little-endian samples, so nothing needs decoding.
 */
export class OpenAiTtsEngine implements TtsEngine {
  readonly name = 'openai';
  readonly #o: Required<Omit<OpenAiTtsOptions, 'apiKey'>> & { apiKey: string };

  /** @throws InvalidInputError without an API key. */
  constructor(options: OpenAiTtsOptions = {}) {
    const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    if (!apiKey) throw new InvalidInputError('OpenAiTtsEngine needs an API key (option apiKey or OPENAI_API_KEY)');
    this.#o = {
      apiKey,
      url: options.url ?? 'https://api.openai.com/v1/audio/speech',
      model: options.model ?? 'gpt-4o-mini-tts',
      voice: options.voice ?? 'alloy',
    };
  }

  /** @throws HttpError when the service answers an error; AbortError-like errors from `fetch`. */
  async synthesize(text: string, options: TtsOptions = {}): Promise<TtsAudio> {
    const res = await fetch(this.#o.url, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.#o.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: this.#o.model,
        voice: options.voice ?? this.#o.voice,
        input: text,
        response_format: 'pcm',
      }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!res.ok) {
      const body = await res.text().catch(() => '');
      throw new HttpError({
        status: res.status,
        route: new URL(this.#o.url).pathname,
        method: 'POST',
        platformMessage: body.slice(0, 200),
        body,
      });
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const pcm = new Int16Array(bytes.length >> 1);
    for (let i = 0; i < pcm.length; i++) pcm[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >> 16;
    return { pcm, sampleRate: 24_000, channels: 1 };
  }
}

/**
 * The engine named by `ARGON_TTS_ENGINE` (`espeak`, the default, or `openai`).
 * @throws InvalidInputError for an unknown name (a missing `espeak-ng` package shows up as a
 *   DependencyError on the first synthesis).
 */
export function engineFromEnv(env: Record<string, string | undefined> = process.env): TtsEngine {
  const name = (env.ARGON_TTS_ENGINE ?? 'espeak').toLowerCase();
  if (name === 'espeak') return new EspeakTtsEngine({ ...(env.ARGON_TTS_VOICE ? { voice: env.ARGON_TTS_VOICE } : {}) });
  if (name === 'openai')
    return new OpenAiTtsEngine({ apiKey: env.OPENAI_API_KEY, voice: env.ARGON_TTS_VOICE, url: env.ARGON_TTS_URL });
  throw new InvalidInputError(`unknown ARGON_TTS_ENGINE '${name}': use espeak or openai`);
}
