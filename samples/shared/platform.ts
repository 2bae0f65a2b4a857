/**
 * The one helper every sample uses to find a platform to talk to.
 *
 * ```
 * ARGON_TOKEN set? ──yes──► Bot.connect(ARGON_API_URL ?? https://gateway.argon.zone)
 *       │no                 space:   ARGON_SPACE_ID        → the bot's first space
 *       │                   voice:   ARGON_CHANNEL_ID      → that space's first voice channel
 *       │                   text:    ARGON_TEXT_CHANNEL_ID → that space's first text channel
 *       └──────────────► Emulator.start({ port: 0 }) ──► Bot.connect(emu.apiUrl, emu.bot.token)
 *                           the demo space, its `voice` and `general` channels; the sample
 *                           then simulates the people it needs (see each sample's README)
 * ```
 *
 * Some samples need a second bot identity in the same voice room (the gateway keeps one
 * session per identity per room and a subscriber never hears its own identity, docs/platform.md §A6):
 * {@link SamplePlatform.extraIdentity} creates one in the emulator, or takes the next token of
 * `ARGON_EXTRA_TOKENS` on the real platform.
 * @packageDocumentation
 */
import { Bot } from '../../src/bot.js';
import { extraTokenSource } from '../../src/cli/context.js';
import type { Emulator } from '../../src/emulator/index.js';
import { InvalidInputError, registerSecret } from '../../src/errors.js';
import { Intents } from '../../src/events/intents.js';
import type { FramePacerOptions } from '../../src/pacing/index.js';
import { pacerWorkerSource } from '../../src/pacing/pacer-worker-source.js';
import { RestClient } from '../../src/rest/client.js';

/** Default REST base of the real platform (docs/platform.md §R1.1). */
export const DEFAULT_API_URL = 'https://gateway.argon.zone';

/** Options every sample's `run()` accepts. */
export interface SampleOptions {
  /** Stops the sample: it closes its sockets, finishes its files and resolves. */
  signal?: AbortSignal;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
  /** Environment to read `ARGON_*` from (default `process.env`). */
  env?: Record<string, string | undefined>;
  /**
   * Use this running emulator instead of starting one (tests inspect it afterwards). It is not
   * closed by the sample. Ignored when `env.ARGON_TOKEN` is set.
   */
  emulator?: Emulator;
}

/** A second bot identity (REST only) for the samples that need one. */
export interface ExtraIdentity {
  rest: RestClient;
  /** The identity's user id (its gateway identity). */
  userId: string;
  close(): Promise<void>;
}

/** What a sample talks to. */
export interface SamplePlatform {
  /** `emulator` when no `ARGON_TOKEN` was given. */
  readonly mode: 'emulator' | 'platform';
  /** The connected bot (REST + events). */
  readonly bot: Bot;
  readonly spaceId: string;
  readonly voiceChannelId: string;
  /** The text channel the sample reads or answers in, when the space has one. */
  readonly textChannelId: string | undefined;
  /** Audio gateway base override (`ARGON_AUDIO_URL`, or the emulator's); else StreamToken's `ingressUrl`. */
  readonly audioUrl: string | undefined;
  /** The emulator in use, if any. */
  readonly emulator: Emulator | undefined;
  /** Pacer options for voice connections (see {@link pacerOptions}). */
  readonly pacer: Omit<FramePacerOptions, 'frameDurationMs'>;
  /**
   * Another bot identity that is a member of {@link spaceId}.
   * @throws InvalidInputError on the real platform when `ARGON_EXTRA_TOKENS` has no token left.
   */
  extraIdentity(label: string): Promise<ExtraIdentity>;
  /** Closes the bot, the extra identities and an emulator this helper started. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link connectPlatform}. */
export interface ConnectPlatformOptions extends SampleOptions {
  /** Event intents of the bot (default Commands | Messages | Voice). */
  intents?: number;
}

/**
 * Pacer options that work where the samples run.
 *
 * @remarks The pacer thread runs source text built from `Function.prototype.toString()`. When the
 * library is loaded through a TypeScript loader that injects esbuild's `__name()` helper
 * (`node --import tsx`), that text calls a helper the worker does not have, and the thread dies
 * at once. In that case the pacer runs on the main thread instead (same schedule, timers instead
 * of a dedicated thread). From `dist/` the worker thread is used.
 */
export function pacerOptions(): Omit<FramePacerOptions, 'frameDurationMs'> {
  const src = pacerWorkerSource();
  const broken = /\b__name\(/.test(src) && !/\b(?:var|let|const|function)\s+__name\b/.test(src);
  return broken ? { mode: 'main' } : {};
}

function isType(c: { channelType: unknown }, name: 'Voice' | 'Text'): boolean {
  return c.channelType === name || c.channelType === (name === 'Voice' ? 1 : 0);
}

/**
 * Connects the sample's bot to the real platform (`ARGON_TOKEN`) or to an embedded emulator.
 * @throws InvalidInputError when the bot has no space or the space no voice channel;
 *   HttpError / TransportError / TimeoutError from connecting.
 */
export async function connectPlatform(options: ConnectPlatformOptions = {}): Promise<SamplePlatform> {
  const env = options.env ?? process.env;
  const log = options.log ?? (() => {});
  const intents = options.intents ?? Intents.Commands | Intents.Messages | Intents.Voice;
  let emulator: Emulator | undefined;
  let ownsEmulator = false;
  let token: string;
  let apiUrl: string;
  if (env.ARGON_TOKEN) {
    token = env.ARGON_TOKEN;
    apiUrl = env.ARGON_API_URL || DEFAULT_API_URL;
    registerSecret(token);
  } else if (options.emulator) {
    emulator = options.emulator;
    token = emulator.bot.token;
    apiUrl = emulator.apiUrl;
  } else {
    const { Emulator } = await import('../../src/emulator/index.js');
    emulator = await Emulator.start({ port: 0 });
    ownsEmulator = true;
    token = emulator.bot.token;
    apiUrl = emulator.apiUrl;
    log(`emulator: REST ${emulator.apiUrl}, audio ${emulator.audioUrl} (set ARGON_TOKEN to use the real platform)`);
  }
  const extras: ExtraIdentity[] = [];
  let bot: Bot | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await Promise.all(extras.map((e) => e.close().catch(() => undefined)));
    await bot?.close().catch(() => undefined);
    if (ownsEmulator) await emulator?.close();
  };
  try {
    bot = await Bot.connect({ token, baseUrl: apiUrl, intents, signal: options.signal });
    let spaceId: string | undefined;
    let voiceChannelId: string | undefined;
    let textChannelId: string | undefined;
    if (emulator && !env.ARGON_TOKEN) {
      spaceId = emulator.demo.spaceId;
      voiceChannelId = emulator.demo.voiceChannelId;
      textChannelId = emulator.demo.textChannelId;
    } else {
      spaceId = env.ARGON_SPACE_ID || bot.spaces[0]?.spaceId;
      if (!spaceId)
        throw new InvalidInputError('the bot is not a member of any space: invite it to one, or set ARGON_SPACE_ID');
      voiceChannelId = env.ARGON_CHANNEL_ID || undefined;
      textChannelId = env.ARGON_TEXT_CHANNEL_ID || undefined;
      if (!voiceChannelId || !textChannelId) {
        const { channels } = await bot.rest.channels.list({ spaceId }, { signal: options.signal });
        voiceChannelId ??= channels.find((c) => isType(c, 'Voice'))?.channelId;
        textChannelId ??= channels.find((c) => isType(c, 'Text'))?.channelId;
      }
      if (!voiceChannelId)
        throw new InvalidInputError(`space ${spaceId} has no voice channel: create one, or set ARGON_CHANNEL_ID`);
    }
    const space = spaceId;
    const emu = env.ARGON_TOKEN ? undefined : emulator;
    const nextExtra = extraTokenSource(env, emu, space);
    const platform: SamplePlatform = {
      mode: emu ? 'emulator' : 'platform',
      bot,
      spaceId: space,
      voiceChannelId,
      textChannelId,
      audioUrl: env.ARGON_AUDIO_URL || emu?.audioUrl,
      emulator: emu,
      pacer: pacerOptions(),
      async extraIdentity(label: string): Promise<ExtraIdentity> {
        if (closed) throw new InvalidInputError('the platform connection is closed');
        const next = nextExtra(label);
        if (!next) {
          throw new InvalidInputError(
            `this sample needs another bot identity ('${label}') in the same space: put its token in ARGON_EXTRA_TOKENS (comma-separated)`,
          );
        }
        const rest = new RestClient({ token: next.token, baseUrl: apiUrl });
        try {
          const me = await rest.botSelf.getMe({ signal: options.signal });
          const extra: ExtraIdentity = { rest, userId: me.userId, close: () => rest.close() };
          extras.push(extra);
          return extra;
        } catch (err) {
          await rest.close();
          throw err;
        }
      },
      close,
    };
    return platform;
  } catch (err) {
    await close();
    throw err;
  }
}
