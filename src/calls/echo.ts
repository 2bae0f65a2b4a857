/**
 * The echo flow: what the platform's reference echo-bot does on a call (docs/platform.md §A7), on
 * this toolkit. Greet, record the caller for N seconds (≤ 2-byte DTX frames dropped), play
 * the recording back, hang up.
 *
 * ```
 *  connected ─► greeting (file │ TTS │ tone) ─► beep ─► record N s ─► play back ─► done (hang up)
 *      any step ends early when the call ends (call.signal): caller hang-up, target_left, socket loss
 * ```
 * The recording is the caller's own Opus packets, re-published untouched (passthrough): no
 * decode, no re-encode. Packets the gateway would refuse are replaced with silence of the same
 * duration, as echo-bot does (§A7 "Invalid frames").
 * @packageDocumentation
 */
import { DependencyError, InvalidInputError } from '../errors.js';
import type { TtsAudio, TtsEngine } from '../tts/types.js';
import { throwIfAborted } from '../util/abort.js';
import type { PlayInput } from '../voice/player.js';
import { pcmSource } from '../voice/sources/pcm-source.js';
import type { AudioSource } from '../voice/sources/types.js';
import type { Call } from './call-manager.js';
import type { DuplexCallSession } from './duplex-adapter.js';

/** Where the greeting came from. */
export type GreetingKind = 'file' | 'tts' | 'tone';

/** Progress of one echo call, for logs and UIs. */
export type EchoProgress =
  | { phase: 'greeting'; kind: GreetingKind }
  | { phase: 'recording'; durationMs: number }
  | { phase: 'playback'; frames: number }
  | { phase: 'done'; result: EchoResult };

/** What an echo call did. */
export interface EchoResult {
  greeting: GreetingKind;
  /** Frames of the greeting queued for the caller. */
  greetingFrames: number;
  /** Caller frames recorded (DTX dropped). */
  recordedFrames: number;
  /** DTX frames dropped while recording. */
  droppedDtx: number;
  /** Frames played back. */
  playedFrames: number;
}

/** Options of the echo flow. */
export interface EchoOptions {
  /**
   * The greeting: a path, URL, bytes, a ready source, or a factory called once per call.
   * Default: `greetingText` spoken by `tts`, or a two-tone chime when no TTS engine is available.
   */
  greeting?: PlayInput | (() => AudioSource | Promise<AudioSource>);
  /** Text spoken when there is no greeting file. Default: a short English (or Russian/German) prompt by the caller's locale. */
  greetingText?: string;
  /**
   * TTS engine for the spoken greeting. Default: eSpeak NG (`EspeakTtsEngine`) when the optional
   * `espeak-ng` package is installed. `false` uses the tone.
   */
  tts?: TtsEngine | false;
  /** How long to record the caller, seconds (default 5). */
  recordSeconds?: number;
  /** A short beep before recording (default true). */
  beep?: boolean;
  /**
   * Start synthesizing the default (English) greeting at once rather than on the first call
   * (default true when there is no `greeting`): the first synthesis loads the engine.
   */
  preload?: boolean;
  /** Progress callback (exceptions are ignored). */
  onProgress?: (progress: EchoProgress, call: Call<DuplexCallSession>) => void;
}

const GREETINGS: Record<string, { voice: string; text: string }> = {
  en: {
    voice: 'en-us',
    text: 'Hello! This is the echo bot. Say something after the beep, and I will play it back to you.',
  },
  ru: { voice: 'ru', text: 'Здравствуйте! Это эхо-бот. Скажите что-нибудь после сигнала, и я повторю.' },
  de: { voice: 'de', text: 'Hallo! Hier ist der Echo-Bot. Sprechen Sie nach dem Signalton, ich spiele es Ihnen vor.' },
};

/**
 * Sine tones as a source: one or more `[hz, durationMs]` segments, mono or stereo, encoded to
 * Opus frames through {@link pcmSource}. Each segment fades in and out over 5 ms (no clicks).
 * @throws InvalidInputError for a non-positive duration or frequency.
 */
export function toneSource(
  segments: ReadonlyArray<readonly [hz: number, durationMs: number]> = [[440, 400]],
  options: { amplitude?: number; frameDurationMs?: number; channels?: 1 | 2; signal?: AbortSignal } = {},
): AudioSource {
  const amp = Math.round((options.amplitude ?? 0.3) * 32767);
  const total = segments.reduce((n, [hz, ms]) => {
    if (!(hz > 0) || !(ms > 0)) throw new InvalidInputError(`toneSource: bad segment [${hz}, ${ms}]`);
    return n + Math.round(ms * 48);
  }, 0);
  const pcm = new Int16Array(total);
  const fade = 240;
  let o = 0;
  for (const [hz, ms] of segments) {
    const n = Math.round(ms * 48);
    for (let i = 0; i < n; i++) {
      const env = Math.min(1, i / fade, (n - 1 - i) / fade);
      pcm[o + i] = Math.round(amp * env * Math.sin((2 * Math.PI * hz * i) / 48_000));
    }
    o += n;
  }
  return pcmSource(new Uint8Array(pcm.buffer), {
    sampleRate: 48_000,
    channels: 1,
    outputChannels: options.channels ?? 1,
    frameDurationMs: options.frameDurationMs ?? 20,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Speech from a TTS engine as a source (any rate; resampled to 48 kHz and encoded by
 * {@link pcmSource}).
 */
export function ttsAudioSource(
  audio: TtsAudio,
  options: { frameDurationMs?: number; channels?: 1 | 2; signal?: AbortSignal } = {},
): AudioSource {
  const bytes = new Uint8Array(audio.pcm.buffer, audio.pcm.byteOffset, audio.pcm.byteLength);
  return pcmSource(bytes, {
    sampleRate: audio.sampleRate,
    channels: audio.channels,
    outputChannels: options.channels ?? 1,
    frameDurationMs: options.frameDurationMs ?? 20,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Loads the default TTS engine, or undefined when `espeak-ng` is not installed. */
async function defaultTts(): Promise<TtsEngine | undefined> {
  try {
    const { EspeakTtsEngine } = await import('../tts/espeak.js');
    return new EspeakTtsEngine();
  } catch {
    return undefined;
  }
}

/**
 * The echo flow as a call handler for `CallManager`'s `onCall` / `answerCalls`: greet, record,
 * play back. The manager hangs up when it returns. Synthesized greetings are cached per voice.
 * @throws InvalidInputError for a bad `recordSeconds`.
 */
export function echoHandler(options: EchoOptions = {}): (call: Call<DuplexCallSession>) => Promise<EchoResult> {
  const recordSeconds = options.recordSeconds ?? 5;
  if (!(recordSeconds > 0) || !Number.isFinite(recordSeconds))
    throw new InvalidInputError(`recordSeconds must be a positive number, got ${recordSeconds}`);
  const speech = new Map<string, Promise<TtsAudio | undefined>>();
  let engine: Promise<TtsEngine | undefined> | undefined;

  const synthesize = (locale: string | null): Promise<TtsAudio | undefined> => {
    const g = GREETINGS[(locale ?? 'en').toLowerCase().split(/[-_]/)[0] ?? 'en'] ?? GREETINGS.en!;
    const text = options.greetingText ?? g.text;
    const voice = options.greetingText ? 'en-us' : g.voice;
    const key = `${voice}\u0000${text}`;
    let p = speech.get(key);
    if (!p) {
      engine ??=
        options.tts === false ? Promise.resolve(undefined) : options.tts ? Promise.resolve(options.tts) : defaultTts();
      p = engine.then(async (e) => {
        if (!e) return undefined;
        try {
          return await e.synthesize(text, { voice });
        } catch (err) {
          // No engine package (or no such voice): fall back to the tone, and do not retry per call.
          if (err instanceof DependencyError || err instanceof InvalidInputError) return undefined;
          speech.delete(key);
          throw err;
        }
      });
      speech.set(key, p);
    }
    return p;
  };

  if (options.greeting === undefined && (options.preload ?? true) && options.tts !== false) {
    synthesize('en').catch(() => undefined);
  }

  return async (call) => {
    const session = call.session;
    if (!session) throw new InvalidInputError(`call ${call.callId} is not connected`);
    const signal = call.signal;
    const progress = (p: EchoProgress) => {
      try {
        options.onProgress?.(p, call);
      } catch {}
    };
    const fd = session.frameDurationMs;
    // 1. Greeting.
    let kind: GreetingKind;
    let greeting: PlayInput;
    if (options.greeting !== undefined) {
      kind = 'file';
      greeting = typeof options.greeting === 'function' ? await options.greeting() : options.greeting;
    } else {
      const audio = await synthesize(call.locale);
      throwIfAborted(signal, 'the echo greeting');
      if (audio) {
        kind = 'tts';
        greeting = ttsAudioSource(audio, { frameDurationMs: fd, signal });
      } else {
        kind = 'tone';
        greeting = toneSource(
          [
            [523.25, 180],
            [659.25, 180],
            [783.99, 260],
          ],
          { frameDurationMs: fd, signal },
        );
      }
    }
    progress({ phase: 'greeting', kind });
    const greeted = await session.play(greeting, { title: 'greeting', signal });
    // 2. Beep, then record.
    if (options.beep ?? true)
      await session.play(toneSource([[880, 200]], { frameDurationMs: fd, signal }), { title: 'beep', signal });
    const durationMs = recordSeconds * 1000;
    progress({ phase: 'recording', durationMs });
    const recording = session.record({ durationMs, signal });
    const recorded = await recording.done;
    throwIfAborted(signal, 'the echo call');
    // 3. Play it back.
    progress({ phase: 'playback', frames: recorded.frames.length });
    const played = recorded.frames.length
      ? await session.play(recording.toSource({ frameDurationMs: fd, channels: session.channels }), {
          title: 'playback',
          signal,
        })
      : { status: 'finished' as const, frames: 0 };
    const result: EchoResult = {
      greeting: kind,
      greetingFrames: greeted.frames,
      recordedFrames: recorded.frames.length,
      droppedDtx: recorded.droppedDtx,
      playedFrames: played.frames,
    };
    progress({ phase: 'done', result });
    return result;
  };
}
