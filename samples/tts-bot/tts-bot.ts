/**
 * The TTS bot: messages posted in a text channel are spoken in a voice channel.
 *
 * ```
 * messageCreate (text channel, humans only) ─► TtsEngine.synthesize(text) ─► PCM at any rate
 *      ─► pcmSource (resample to 48 kHz, encode Opus) ─► AudioPlayer queue ─► VoiceConnection
 * ```
 * Messages are synthesized one at a time, in the order they arrived, and queued in the player,
 * so speech never overlaps and the next message is ready when the previous one ends.
 * @packageDocumentation
 */
import type { Bot } from '../../src/bot.js';
import type { MessageCreateEvent } from '../../src/events/types.js';
import type { FramePacerOptions } from '../../src/pacing/index.js';
import { UserFlags } from '../../src/rest/enums.js';
import type { TtsEngine } from '../../src/tts/types.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { AudioPlayer } from '../../src/voice/player.js';
import { pcmSource } from '../../src/voice/sources/pcm-source.js';

/** What happened to one message. */
export interface Utterance {
  messageId: bigint;
  userId: string;
  text: string;
  /** The engine's output. */
  sampleRate?: number;
  channels?: 1 | 2;
  /** Samples per channel at `sampleRate`. */
  samples?: number;
  /** Length of the synthesized speech, ms. */
  durationMs?: number;
  /** Opus frames sent for it (20 ms each), once played out. */
  frames?: number;
  status: 'synthesizing' | 'queued' | 'spoken' | 'failed';
  error?: string;
}

/** Options of {@link TtsBot}. */
export interface TtsBotOptions {
  bot: Bot;
  spaceId: string;
  voiceChannelId: string;
  /** Channel whose messages are spoken. */
  textChannelId: string;
  engine: TtsEngine;
  /** Voice name passed to the engine. */
  voice?: string;
  /** Longest text spoken, in characters (longer messages are cut). Default 400. */
  maxChars?: number;
  pacer?: Omit<FramePacerOptions, 'frameDurationMs'>;
  log?: (line: string) => void;
}

/** Events of {@link TtsBot}. */
export type TtsBotEvents = {
  /** An utterance changed status. */
  utterance: [u: Utterance];
};

/** Speaks a text channel into a voice channel. */
export class TtsBot extends TypedEmitter<TtsBotEvents> {
  /** Every message handled, in arrival order. */
  readonly utterances: Utterance[] = [];
  readonly #o: TtsBotOptions;
  readonly #log: (line: string) => void;
  readonly #listener: (e: MessageCreateEvent) => void;
  readonly #abort = new AbortController();
  #connection: VoiceConnection | undefined;
  #player: AudioPlayer | undefined;
  #chain: Promise<void> = Promise.resolve();
  #playouts: Promise<unknown>[] = [];
  #closed = false;

  constructor(options: TtsBotOptions) {
    super();
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#listener = (e) => this.#onMessage(e);
  }

  /** The voice connection once started. */
  get connection(): VoiceConnection | undefined {
    return this.#connection;
  }

  /**
   * Joins the voice channel and starts speaking new messages.
   * @throws TimeoutError / ClosedError when the voice connection does not become ready.
   */
  async start(options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {}): Promise<void> {
    const connection = new VoiceConnection({
      rest: this.#o.bot.rest,
      spaceId: this.#o.spaceId,
      channelId: this.#o.voiceChannelId,
      ...(this.#o.pacer ? { pacer: this.#o.pacer } : {}),
    });
    connection.on('error', () => undefined); // kept in the closed state
    this.#connection = connection;
    this.#player = new AudioPlayer(connection);
    this.#player.on('error', (err, t) => this.#log(`could not speak '${t.title}': ${err.message}`));
    await connection.ready({ signal: options.signal, timeoutMs: options.timeoutMs ?? 30_000 });
    this.#o.bot.on('messageCreate', this.#listener);
    this.#log(
      `tts-bot: speaking messages of channel ${this.#o.textChannelId} in voice channel ${this.#o.voiceChannelId} (engine ${this.#o.engine.name})`,
    );
  }

  #onMessage(e: MessageCreateEvent): void {
    const m = e.message;
    if (this.#closed || e.channelId !== this.#o.textChannelId) return;
    // Skip bots (ourselves included, docs/platform.md §R9.8) and empty messages.
    if (m.sender.userId === this.#o.bot.me.userId || (m.sender.flags & UserFlags.Bot) !== 0) return;
    const max = this.#o.maxChars ?? 400;
    const text = m.text.replace(/\s+/g, ' ').trim().slice(0, max);
    if (!text) return;
    const u: Utterance = { messageId: m.messageId, userId: m.sender.userId, text, status: 'synthesizing' };
    this.utterances.push(u);
    this.#update(u);
    this.#chain = this.#chain.then(() => this.#speak(u));
  }

  #update(u: Utterance): void {
    this.emit('utterance', u);
  }

  async #speak(u: Utterance): Promise<void> {
    const player = this.#player;
    if (this.#closed || !player) return;
    try {
      const audio = await this.#o.engine.synthesize(u.text, {
        signal: this.#abort.signal,
        ...(this.#o.voice ? { voice: this.#o.voice } : {}),
      });
      u.sampleRate = audio.sampleRate;
      u.channels = audio.channels;
      u.samples = audio.pcm.length / audio.channels;
      u.durationMs = (u.samples * 1000) / audio.sampleRate;
      const bytes = new Uint8Array(audio.pcm.buffer, audio.pcm.byteOffset, audio.pcm.byteLength);
      const source = pcmSource([bytes], { sampleRate: audio.sampleRate, channels: audio.channels, outputChannels: 1 });
      const track = player.play(source, { title: u.text.slice(0, 40) });
      u.status = 'queued';
      this.#update(u);
      this.#log(`speaking ${(u.durationMs / 1000).toFixed(2)} s: "${u.text}"`);
      this.#playouts.push(
        track.playout.then(
          (r) => {
            u.frames = r.frames;
            u.status = r.status === 'finished' ? 'spoken' : 'failed';
            if (r.status !== 'finished') u.error = 'stopped';
            this.#update(u);
          },
          (err: Error) => {
            u.status = 'failed';
            u.error = err.message;
            this.#update(u);
          },
        ),
      );
    } catch (err) {
      u.status = 'failed';
      u.error = (err as Error).message;
      this.#log(`could not synthesize "${u.text}": ${u.error}`);
      this.#update(u);
    }
  }

  /** Resolves once every message received so far was synthesized and played out (or failed). */
  async idle(): Promise<void> {
    await this.#chain;
    await Promise.all(this.#playouts);
  }

  /** Stops listening, cuts the speech and leaves the voice channel. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#o.bot.off('messageCreate', this.#listener);
    this.#abort.abort();
    await this.#player?.close();
    await this.#chain.catch(() => undefined);
    await this.#connection?.close();
  }
}
