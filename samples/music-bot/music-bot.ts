/**
 * The music bot itself: slash commands over an {@link AudioPlayer} publishing into one voice
 * channel.
 *
 * ```
 * /play <file|url> ─► queue ─► AudioPlayer ─► VoiceConnection (/audio/connect) ─► channel
 *                              │ Ogg/WebM Opus at volume 100 %: packets passed through untouched
 *                              └ anything else: ffmpeg → PCM → volume · crossfade → Opus
 * /skip  /queue  /volume <percent>  /stop (clears the queue and leaves the channel)
 * ```
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Bot } from '../../src/bot.js';
import type { ClusterPlayer } from '../../src/cluster/player.js';
import { probeContainer } from '../../src/codec/probe.js';
import { InvalidInputError } from '../../src/errors.js';
import type { FramePacerOptions } from '../../src/pacing/index.js';
import { CommandOptionType } from '../../src/rest/enums.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { AudioPlayer, type PlayoutResult, type Track } from '../../src/voice/player.js';
import { createAudioSource } from '../../src/voice/sources/create-source.js';
import type { AudioSource, ByteInput } from '../../src/voice/sources/types.js';
import { type CommandContext, CommandRouter, type CommandSpec, ensureCommands } from '../shared/commands.js';

/** The commands the music bot registers. */
export const MUSIC_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'play',
    description: 'Play a file or URL, or add it to the queue',
    options: [
      {
        name: 'source',
        description: 'A file path on the bot host, or an http(s) URL',
        type: CommandOptionType.String,
        required: true,
      },
    ],
  },
  { name: 'skip', description: 'Skip the current track' },
  { name: 'queue', description: 'Show what plays now and what comes next' },
  {
    name: 'volume',
    description: 'Set the volume (0–200 %)',
    options: [{ name: 'percent', description: 'Volume in percent', type: CommandOptionType.Integer, required: true }],
  },
  { name: 'stop', description: 'Stop, clear the queue and leave the voice channel' },
];

/** What happened to one track. */
export interface TrackReport {
  title: string;
  /** The file's own Opus packets were sent untouched. */
  passthrough: boolean;
  /** Playout result (`frames` sent), or the error message. */
  result?: PlayoutResult;
  error?: string;
}

/** Options of {@link MusicBot}. */
export interface MusicBotOptions {
  bot: Bot;
  spaceId: string;
  /** Voice channel used when the invoking user is in none. */
  voiceChannelId: string;
  /** Crossfade between consecutive decoded tracks, ms (default 1000). */
  crossfadeMs?: number;
  /** Publish stereo (default mono). Ogg Opus files pass through only when their channel count matches. */
  stereo?: boolean;
  /** Pacer options of the voice connection. */
  pacer?: Omit<FramePacerOptions, 'frameDurationMs'>;
  /**
   * Plays somewhere else instead of a local VoiceConnection + AudioPlayer: a ClusterPlayer for
   * the channel (the sample passes one when ARGON_NATS_URL is set; see docs/guides/scaling.md).
   */
  player?: ((channelId: string) => ClusterPlayer) | undefined;
  log?: (line: string) => void;
}

/** The player the bot drives: the local one, or a cluster-backed one ({@link MusicBotOptions.player}). */
export type MusicPlayer = AudioPlayer | ClusterPlayer;

/** Events of {@link MusicBot}. */
export type MusicBotEvents = {
  /** A track started (after its source opened). */
  playing: [track: Track];
  /** The voice connection is ready. */
  connected: [];
  /** The bot left the voice channel. */
  left: [];
};

function isUrl(s: string): boolean {
  return /^https?:\/\//i.test(s);
}

/** True when the file starts like an Ogg Opus or WebM Opus stream (what can pass through). */
async function isOpusContainer(path: string): Promise<boolean> {
  const fh = await open(path, 'r').catch(() => undefined);
  if (!fh) return false;
  try {
    const buf = new Uint8Array(64 * 1024);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const kind = probeContainer(buf.subarray(0, bytesRead));
    return kind === 'ogg-opus' || kind === 'webm-opus';
  } finally {
    await fh.close();
  }
}

/**
 * A music bot for one space. {@link MusicBot.start} registers the commands and starts handling
 * them; {@link MusicBot.close} leaves the channel and stops handling.
 */
export class MusicBot extends TypedEmitter<MusicBotEvents> {
  readonly #o: MusicBotOptions;
  readonly #log: (line: string) => void;
  #router: CommandRouter | undefined;
  #connection: VoiceConnection | undefined;
  #player: MusicPlayer | undefined;
  #volume = 1;
  /** Report of the track that plays now (its source opens after `playing`). */
  #currentReport: TrackReport | undefined;
  /** Every track played or attempted, in order. */
  readonly tracks: TrackReport[] = [];

  constructor(options: MusicBotOptions) {
    super();
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  /** The command router (its `transcript` lists every answered command). */
  get router(): CommandRouter {
    if (!this.#router) throw new InvalidInputError('MusicBot.start() was not called');
    return this.#router;
  }

  /** The player while the bot is in a voice channel. */
  get player(): MusicPlayer | undefined {
    return this.#player;
  }

  /** The voice connection while the bot is in a voice channel. */
  get connection(): VoiceConnection | undefined {
    return this.#connection;
  }

  /** Registers the commands and starts answering them. */
  async start(options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    const ids = await ensureCommands(this.#o.bot, this.#o.spaceId, MUSIC_COMMANDS, options);
    this.#router = new CommandRouter(this.#o.bot, ids, {
      play: (c) => this.#play(c),
      skip: () => this.#skip(),
      queue: () => this.#queue(),
      volume: (c) => this.#setVolume(c),
      stop: () => this.#stop(),
    });
    this.#router.on('error', (e) => this.#log(`reply failed: ${e.message}`));
    this.#log(`music-bot: /${MUSIC_COMMANDS.map((c) => c.name).join(', /')} registered in space ${this.#o.spaceId}`);
  }

  #join(channelId: string): MusicPlayer {
    if (this.#player) return this.#player;
    const player = this.#o.player ? this.#o.player(channelId) : this.#local(channelId);
    player.on('playing', (t) => {
      const report: TrackReport = { title: basename(t.title), passthrough: false };
      this.tracks.push(report);
      this.#currentReport = report;
      t.playout.then(
        (r) => (report.result = r),
        (e: Error) => (report.error = e.message),
      );
      this.emit('playing', t);
    });
    player.on('error', (err, t) => this.#log(`could not play ${basename(t.title)}: ${err.message}`));
    this.#player = player;
    this.#log(`joining voice channel ${channelId}`);
    return player;
  }

  /** A local VoiceConnection and AudioPlayer for the channel. */
  #local(channelId: string): AudioPlayer {
    const connection = new VoiceConnection({
      rest: this.#o.bot.rest,
      spaceId: this.#o.spaceId,
      channelId,
      stereo: this.#o.stereo ?? false,
      ...(this.#o.pacer ? { pacer: this.#o.pacer } : {}),
    });
    connection.on('stateChange', (_o, n) => {
      if (n.status === 'ready') this.emit('connected');
      if (n.status === 'closed' && this.#connection === connection) {
        // Lost for good (reconnects exhausted, token refused): drop the player, the next /play rejoins.
        if (n.reason) this.#log(`voice connection closed: ${n.reason.message}`);
        void this.#leave();
      }
    });
    connection.on('error', () => undefined); // the reason is kept in the closed state
    const player = new AudioPlayer(connection, {
      volume: this.#volume,
      crossfadeMs: this.#o.crossfadeMs ?? 1000,
      createSource: (input, opts) => this.#createSource(input, opts),
    });
    this.#connection = connection;
    return player;
  }

  /**
   * Opens a track's source when its turn comes. Ogg/WebM Opus files at volume 100 % are asked for
   * Opus output, which passes their packets through untouched (no decode, no re-encode, so no
   * crossfade either); everything else is decoded to PCM for volume and crossfade.
   */
  async #createSource(
    input: string | ByteInput,
    opts: Parameters<typeof createAudioSource>[1] = {},
  ): Promise<AudioSource> {
    const path = typeof input === 'string' ? input : undefined;
    const tryPassthrough = path !== undefined && !isUrl(path) && this.#volume === 1 && (await isOpusContainer(path));
    const source = await createAudioSource(input, tryPassthrough ? { ...opts, format: 'opus' } : opts);
    if (this.#currentReport) this.#currentReport.passthrough = source.info.passthrough;
    this.#log(
      `opened ${path ? basename(path) : 'stream'}: ${source.info.passthrough ? 'Opus passthrough' : `${source.info.kind} → ${source.info.format}`}`,
    );
    return source;
  }

  async #play(c: CommandContext): Promise<string> {
    const input = String(c.options.source ?? '').trim();
    if (!input) return 'Usage: /play <file|url>';
    if (!isUrl(input)) {
      const fh = await open(input, 'r').catch(() => undefined);
      if (!fh) return `Cannot play ${input}: no such file on the bot's host`;
      await fh.close();
    }
    const channelId = c.event.voiceState?.channelId ?? this.#o.voiceChannelId;
    const player = this.#join(channelId);
    const busy = player.state.status === 'playing' || player.state.status === 'paused' || player.queue.length > 0;
    player.play(input, { title: input });
    const name = basename(input);
    return busy ? `Queued ${name} (#${player.queue.length} in the queue)` : `Playing ${name}`;
  }

  #current(): Track | undefined {
    const s = this.#player?.state;
    return s && (s.status === 'playing' || s.status === 'paused') ? s.track : undefined;
  }

  #skip(): string {
    const cur = this.#current();
    if (!this.#player || !cur) return 'Nothing is playing';
    const next = this.#player.queue[0];
    this.#player.skip();
    return `Skipped ${basename(cur.title)}; ${next ? `next: ${basename(next.title)}` : 'the queue is empty'}`;
  }

  #queue(): string {
    const cur = this.#current();
    const queue = this.#player?.queue ?? [];
    if (!cur && queue.length === 0) return 'The queue is empty';
    const lines = [cur ? `Now playing: ${basename(cur.title)}` : 'Nothing is playing'];
    if (queue.length === 0) lines.push('Up next: nothing');
    else lines.push('Up next:', ...queue.map((t, i) => `${i + 1}. ${basename(t.title)}`));
    return lines.join('\n');
  }

  #setVolume(c: CommandContext): string {
    const pct = Number(c.options.percent);
    if (!Number.isFinite(pct) || pct < 0 || pct > 200) return 'Volume must be 0–200 %';
    this.#volume = pct / 100;
    if (this.#player) this.#player.volume = this.#volume;
    const passthrough = this.#current() !== undefined && this.#currentReport?.passthrough === true;
    return `Volume ${Math.round(pct)} %${passthrough ? ' (from the next track: the current one is passed through untouched)' : ''}`;
  }

  async #stop(): Promise<string> {
    if (!this.#player) return 'Not in a voice channel';
    const cleared = this.#player.queue.length;
    await this.#leave();
    return `Stopped${cleared ? `, cleared ${cleared} queued track${cleared === 1 ? '' : 's'}` : ''}; left the voice channel`;
  }

  async #leave(): Promise<void> {
    const player = this.#player;
    const connection = this.#connection;
    this.#player = undefined;
    this.#connection = undefined;
    if (player) await player.close();
    if (connection) {
      await connection.close();
      this.emit('left');
    }
  }

  /** Stops handling commands and leaves the voice channel. Idempotent. */
  async close(): Promise<void> {
    await this.#router?.close();
    await this.#leave();
  }
}
