/**
 * The recorder bot: `/record start` records each user in the voice channel to an aligned Ogg Opus
 * track (the received packets, unchanged) plus a decoded mix; `/record stop` finishes the files.
 *
 * ```
 * voiceJoin/voiceLeave ─► who is in the channel
 * /record start ─► one receiving identity per user ─► VoiceSubscriber (/audio/subscribe)
 *                      │ bot itself, then ARGON_EXTRA_TOKENS / emulator bots
 *                      ▼
 *               VoiceReceiver (one 5 ms tick, jitter buffer per user) ─► Recorder ─► <user>.ogg … mix.wav
 * /record stop  ─► Recorder.stop() (pad to the stop time, EOS) ─► unsubscribe ─► pad ends to the longest
 * ```
 * @remarks Why several identities: the gateway keeps one session per identity per room (LiveKit
 * identity uniqueness, docs/platform.md §A6), so one bot subscribing to two users of the same channel
 * kicks its own first subscription. Each user after the first needs another bot identity.
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Bot } from '../../src/bot.js';
import type { VoiceStateEvent } from '../../src/events/types.js';
import { CommandOptionType, UserFlags } from '../../src/rest/enums.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { type UserAudioStream, VoiceReceiver } from '../../src/voice/receiver.js';
import { RECORDING_JITTER, Recorder, type RecordingSummary } from '../../src/voice/recorder.js';
import { type SubscribeApi, VoiceSubscriber } from '../../src/voice/subscriber.js';
import { padTracksToLongest } from './align.js';
import { type CommandContext, CommandRouter, type CommandSpec, ensureCommands } from '../shared/commands.js';

/** The commands the recorder registers. */
export const RECORDER_COMMANDS: readonly CommandSpec[] = [
  {
    name: 'record',
    description: 'Record everyone in the voice channel (each to an aligned Ogg track, plus a mix)',
    options: [
      {
        name: 'action',
        description: 'start or stop',
        type: CommandOptionType.String,
        required: true,
        choices: [
          { name: 'start', value: 'start' },
          { name: 'stop', value: 'stop' },
        ],
      },
    ],
  },
];

/** A receiving identity: the REST client of a bot that subscribes for one user. */
export interface ReceivingIdentity {
  rest: SubscribeApi;
  /** Shown in logs. */
  label: string;
}

/** Options of {@link RecorderBot}. */
export interface RecorderBotOptions {
  bot: Bot;
  spaceId: string;
  voiceChannelId: string;
  /** Recordings go to `<outDir>/<session time>/`. */
  outDir: string;
  /** Audio gateway base (default StreamToken's `ingressUrl`). */
  gatewayUrl?: string | undefined;
  /**
   * Another identity for the n-th additional user (n = 1, 2 …); `undefined` when there is none
   * (that user is then not recorded, and the reply says so).
   */
  extraIdentity?: (n: number) => Promise<ReceivingIdentity | undefined>;
  log?: (line: string) => void;
}

/** Events of {@link RecorderBot}. */
export type RecorderBotEvents = {
  /** Someone joined or left the voice channel. */
  presence: [userIds: readonly string[]];
  /** A recording finished. */
  recorded: [summary: RecordingSummary];
};

interface Session {
  dir: string;
  receiver: VoiceReceiver;
  recorder: Recorder;
  subscribers: VoiceSubscriber[];
  users: string[];
}

/** Records a voice channel on command. */
export class RecorderBot extends TypedEmitter<RecorderBotEvents> {
  /** Every finished recording. */
  readonly recordings: RecordingSummary[] = [];
  readonly #o: RecorderBotOptions;
  readonly #log: (line: string) => void;
  readonly #present = new Map<string, string>();
  readonly #onJoin: (e: VoiceStateEvent) => void;
  readonly #onLeave: (e: VoiceStateEvent) => void;
  #router: CommandRouter | undefined;
  #session: Session | undefined;
  #extrasUsed = 0;
  readonly #extras: ReceivingIdentity[] = [];

  constructor(options: RecorderBotOptions) {
    super();
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#onJoin = (e) => {
      if (
        e.channelId !== options.voiceChannelId ||
        (e.user.flags & UserFlags.Bot) !== 0 ||
        e.user.userId === options.bot.me.userId
      )
        return;
      this.#present.set(e.user.userId, e.user.username);
      this.emit('presence', [...this.#present.keys()]);
    };
    this.#onLeave = (e) => {
      if (e.channelId !== options.voiceChannelId) return;
      if (this.#present.delete(e.user.userId)) this.emit('presence', [...this.#present.keys()]);
    };
  }

  /** Users seen in the voice channel (voiceJoin since start, not left since). */
  get present(): readonly string[] {
    return [...this.#present.keys()];
  }

  /** The command router (its `transcript` lists every answered command). */
  get router(): CommandRouter | undefined {
    return this.#router;
  }

  /** Whether a recording runs. */
  get recording(): boolean {
    return this.#session !== undefined;
  }

  /** Registers /record and starts answering it. */
  async start(options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.#o.bot.on('voiceJoin', this.#onJoin);
    this.#o.bot.on('voiceLeave', this.#onLeave);
    const ids = await ensureCommands(this.#o.bot, this.#o.spaceId, RECORDER_COMMANDS, options);
    this.#router = new CommandRouter(this.#o.bot, ids, { record: (c) => this.#record(c) });
    this.#router.on('error', (e) => this.#log(`reply failed: ${e.message}`));
    this.#log(`recorder: /record start|stop registered in space ${this.#o.spaceId}`);
  }

  async #record(c: CommandContext): Promise<string> {
    const action = String(c.options.action ?? '').toLowerCase();
    if (action === 'start') return this.#start(c);
    if (action === 'stop') {
      const summary = await this.stopRecording();
      if (!summary) return 'Not recording';
      const secs = (summary.durationMs / 1000).toFixed(1);
      const files = [...summary.tracks.map((t) => t.path), ...(summary.mixPath ? [summary.mixPath] : [])];
      return `Recorded ${summary.tracks.length} track${summary.tracks.length === 1 ? '' : 's'} of ${secs} s plus a mix:\n${files.join('\n')}`;
    }
    return 'Usage: /record start | /record stop';
  }

  async #identity(n: number): Promise<ReceivingIdentity | undefined> {
    if (n === 0) return { rest: this.#o.bot.rest, label: 'bot' };
    const have = this.#extras[n - 1];
    if (have) return have;
    const next = await this.#o.extraIdentity?.(++this.#extrasUsed).catch((err: Error) => {
      this.#log(`no identity for another user: ${err.message}`);
      return undefined;
    });
    if (next) this.#extras.push(next);
    return next;
  }

  async #start(c: CommandContext): Promise<string> {
    if (this.#session)
      return `Already recording ${this.#session.users.map((u) => this.#present.get(u) ?? u).join(', ')}`;
    const inChannel = c.event.voiceState?.channelId === this.#o.voiceChannelId;
    if (inChannel && !this.#present.has(c.event.user.userId))
      this.#present.set(c.event.user.userId, c.event.user.username);
    const wanted = [...this.#present.keys()];
    if (wanted.length === 0) return 'Nobody is in the voice channel';
    const users: string[] = [];
    const identities: ReceivingIdentity[] = [];
    for (const u of wanted) {
      const id = await this.#identity(users.length);
      if (!id) break;
      users.push(u);
      identities.push(id);
    }
    const skipped = wanted.slice(users.length);
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const dir = join(this.#o.outDir, stamp);
    mkdirSync(dir, { recursive: true });
    const where = { spaceId: this.#o.spaceId, channelId: this.#o.voiceChannelId };
    const receiver = new VoiceReceiver({ ...where });
    const subscribers: VoiceSubscriber[] = [];
    receiver.on('error', (e, u) => this.#log(`${u}: ${e.message}`));
    const recorder = new Recorder({
      receiver,
      users,
      outDir: dir,
      fileName: (u) => `${safe(this.#present.get(u) ?? u)}-${u.slice(0, 8)}.ogg`,
      mix: { channels: 1, fileName: 'mix.wav' },
      subscribe: (userId): UserAudioStream => {
        const id = identities[users.indexOf(userId)]!;
        const sub = new VoiceSubscriber({ rest: id.rest, ...where, userId, gatewayUrl: this.#o.gatewayUrl });
        sub.on('error', (e) => this.#log(`subscriber of ${userId}: ${e.message}`));
        subscribers.push(sub);
        return receiver.attach(userId, sub, { mode: 'opus', jitter: RECORDING_JITTER });
      },
    });
    recorder.on('error', (e, u) => this.#log(`recording ${u ?? 'mix'} failed: ${e.message}`));
    this.#session = { dir, receiver, recorder, subscribers, users };
    const names = users.map((u) => this.#present.get(u) ?? u);
    this.#log(`recording ${names.join(', ')} into ${dir}`);
    return `Recording ${names.join(', ')}${skipped.length ? ` (not ${skipped.map((u) => this.#present.get(u) ?? u).join(', ')}: each user needs a receiving identity, see ARGON_EXTRA_TOKENS)` : ''}`;
  }

  /** The per-user streams of the running recording (their jitter buffers say what is still held). */
  get streams(): UserAudioStream[] {
    const s = this.#session;
    return s ? s.users.map((u) => s.receiver.streams.get(u)).filter((x): x is UserAudioStream => x !== undefined) : [];
  }

  /** The subscribers of the running recording (for waiting until they are subscribed). */
  get subscribers(): readonly VoiceSubscriber[] {
    return this.#session?.subscribers ?? [];
  }

  /**
   * Finishes the running recording: pads every track to the same length, writes the EOS pages
   * and the mix, then unsubscribes. Resolves undefined when nothing was recording.
   */
  async stopRecording(): Promise<RecordingSummary | undefined> {
    const s = this.#session;
    if (!s) return undefined;
    this.#session = undefined;
    const summary = await s.recorder.stop();
    await s.receiver.close();
    await Promise.all(s.subscribers.map((x) => x.close()));
    try {
      padTracksToLongest(summary);
    } catch (err) {
      this.#log(`could not align the track ends: ${(err as Error).message}`);
    }
    this.recordings.push(summary);
    this.emit('recorded', summary);
    return summary;
  }

  /** Stops answering, finishes a running recording. Idempotent. */
  async close(): Promise<void> {
    await this.#router?.close();
    this.#o.bot.off('voiceJoin', this.#onJoin);
    this.#o.bot.off('voiceLeave', this.#onLeave);
    await this.stopRecording();
  }
}

function safe(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'user';
}
