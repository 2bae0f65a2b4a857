/**
 * eSpeak NG compiled to WebAssembly (the `espeak-ng` npm package, an optional dependency):
 * a TTS engine that installs from npm with no system packages and no model download.
 *
 * Each call instantiates a fresh module (about 130–150 ms on a 2-vCPU VM): the Emscripten
 * build runs `main` once per instance, and a fresh instance keeps calls independent and
 * concurrent-safe. The text goes in through the module's in-memory file system, never on the
 * argument list, so text that starts with `-` cannot be read as an option.
 * @packageDocumentation
 */
import { DependencyError, InvalidInputError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import type { TtsAudio, TtsEngine, TtsOptions } from './types.js';
import { parseWav } from './wav.js';

type EspeakModule = { FS: { readFile(path: string): Uint8Array; writeFile(path: string, data: string): void } };
type EspeakFactory = (opts: Record<string, unknown>) => Promise<EspeakModule>;

let factory: Promise<EspeakFactory> | undefined;

async function loadFactory(): Promise<EspeakFactory> {
  factory ??= import('espeak-ng' as string).then(
    (m: { default: EspeakFactory }) => m.default,
    (err: unknown) => {
      factory = undefined;
      throw new DependencyError("the eSpeak NG engine needs the optional package 'espeak-ng' (npm install espeak-ng)", {
        cause: err,
      });
    },
  );
  return factory;
}

/** Options of {@link EspeakTtsEngine}. */
export interface EspeakOptions {
  /** Default voice (`en-us`). */
  voice?: string;
  /** Default rate in words per minute (175). */
  wordsPerMinute?: number;
  /** Longest accepted text, in characters (default 5000). */
  maxChars?: number;
}

/** eSpeak NG (wasm) as a {@link TtsEngine}. Output: mono 16-bit PCM at 22,050 Hz. */
export class EspeakTtsEngine implements TtsEngine {
  readonly name = 'espeak-ng-wasm';
  readonly #options: Required<EspeakOptions>;

  constructor(options: EspeakOptions = {}) {
    this.#options = { voice: 'en-us', wordsPerMinute: 175, maxChars: 5000, ...options };
  }

  /**
   * Synthesizes `text`.
   * @throws InvalidInputError for empty or over-long text or a malformed voice name;
   *   DependencyError when the `espeak-ng` package is missing.
   */
  async synthesize(text: string, options: TtsOptions = {}): Promise<TtsAudio> {
    const clean = text.replace(/\s+/g, ' ').trim();
    if (!clean) throw new InvalidInputError('nothing to say: the text is empty');
    if (clean.length > this.#options.maxChars) {
      throw new InvalidInputError(`text is ${clean.length} characters; the limit is ${this.#options.maxChars}`);
    }
    const voice = options.voice ?? this.#options.voice;
    if (!/^[A-Za-z0-9_+-]{1,40}$/.test(voice)) throw new InvalidInputError(`invalid voice name '${voice}'`);
    const wpm = Math.round(options.wordsPerMinute ?? this.#options.wordsPerMinute);
    if (!(wpm >= 80 && wpm <= 450)) throw new InvalidInputError(`wordsPerMinute must be 80–450, got ${wpm}`);
    throwIfAborted(options.signal, 'speech synthesis');
    const create = await loadFactory();
    const errors: string[] = [];
    const mod = await create({
      arguments: ['-w', 'out.wav', '-v', voice, '-s', String(wpm), '-f', 'in.txt'],
      print: () => {},
      printErr: (line: string) => errors.push(line),
      preRun: [(m: EspeakModule) => m.FS.writeFile('in.txt', clean)],
    });
    throwIfAborted(options.signal, 'speech synthesis');
    let wav: Uint8Array;
    try {
      wav = mod.FS.readFile('out.wav');
    } catch (err) {
      throw new InvalidInputError(`eSpeak NG produced no audio${errors.length ? `: ${errors.join('; ')}` : ''}`, {
        cause: err,
      });
    }
    return parseWav(wav);
  }
}
