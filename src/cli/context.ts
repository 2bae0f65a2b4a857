/**
 * Shared plumbing for every command: which platform to talk to (the real API with `ARGON_TOKEN`,
 * or an in-process emulator without it), which space and voice channel, and a tiny flag parser.
 *
 * ```
 * ARGON_TOKEN set?  ──yes──► RestClient(ARGON_API_URL ?? https://gateway.argon.zone)
 *        │no
 *        └──────────────► Emulator.start({ port: 0 }) ──► RestClient(emu.apiUrl, emu.bot.token)
 * space:   --space   → ARGON_SPACE_ID   → the bot's first space (IBotSelf/GetSpaces)
 * channel: --channel → ARGON_CHANNEL_ID → that space's first voice channel (IChannels/List)
 * more bot identities (one voice session per identity per room, docs/platform.md §A6):
 *          ARGON_EXTRA_TOKENS (comma-separated) with ARGON_TOKEN, else a new emulator bot each
 * ```
 * @packageDocumentation
 */
import { InvalidInputError, registerSecret } from '../errors.js';
import type { Emulator } from '../emulator/index.js';
import { RestClient } from '../rest/index.js';
import type { CliIo } from './types.js';

/** Default REST base when `ARGON_API_URL` is not set (docs/platform.md §R1.1). */
export const DEFAULT_API_URL = 'https://gateway.argon.zone';

/**
 * The extra bot tokens of `ARGON_EXTRA_TOKENS` (comma-separated, blanks ignored), in order, each
 * registered as a secret so that it is redacted from every message.
 */
export function parseExtraTokens(env: Record<string, string | undefined>): string[] {
  const tokens = (env.ARGON_EXTRA_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of tokens) registerSecret(t);
  return tokens;
}

/**
 * Hands out the token of one more bot identity in `spaceId` per call: with `emulator`, a new bot
 * made a member of the space (`name` is its username); else the next token of
 * `ARGON_EXTRA_TOKENS`, and `undefined` once they are used up. Tokens are registered as secrets.
 */
export function extraTokenSource(
  env: Record<string, string | undefined>,
  emulator: Emulator | undefined,
  spaceId: string,
): (name: string) => { token: string; label: string } | undefined {
  const tokens = emulator ? [] : parseExtraTokens(env);
  let used = 0;
  return (name) => {
    if (emulator) {
      const bot = emulator.createBot({ username: name, verified: true });
      emulator.addMember(spaceId, bot.userId);
      registerSecret(bot.token);
      return { token: bot.token, label: `emulator bot ${bot.userId}` };
    }
    const token = tokens[used];
    if (token === undefined) return undefined;
    used++;
    return { token, label: `ARGON_EXTRA_TOKENS #${used}` };
  };
}

/** Another bot identity, for one more voice session in the same room (docs/platform.md §A6). */
export interface ExtraIdentity {
  /** REST client authenticated as that bot (closed by {@link PlatformContext.close}). */
  rest: RestClient;
  /** Where it came from, for messages (`ARGON_EXTRA_TOKENS #1`, `emulator bot <userId>`); never the token. */
  label: string;
}

/** What a command talks to, resolved from flags, environment and the platform itself. */
export interface PlatformContext {
  /** REST client authenticated as the bot. */
  rest: RestClient;
  /** The bot token (registered as a secret: never printed). */
  token: string;
  /** REST base URL in use. */
  apiUrl: string;
  /** Space the command works in. */
  spaceId: string;
  /** Voice channel the command works in. */
  channelId: string;
  /** The embedded emulator when no `ARGON_TOKEN` was given. */
  emulator?: Emulator;
  /**
   * Another bot identity in {@link spaceId}: with `ARGON_TOKEN`, the next unused token of
   * `ARGON_EXTRA_TOKENS` (`undefined` once they are used up); with the embedded emulator, a new
   * bot made a member of the space (`name` is its username).
   * @remarks The gateway keeps one session per bot identity per room (docs/platform.md §A6), so a
   * command that opens several sessions in one voice channel needs one identity for each.
   */
  extraIdentity(name: string): ExtraIdentity | undefined;
  /** Releases the REST client and stops the embedded emulator; idempotent. */
  close(): Promise<void>;
}

/** Options of {@link resolvePlatform}. */
export interface ResolvePlatformOptions {
  /** `--space` flag value (wins over `ARGON_SPACE_ID`). */
  space?: string | undefined;
  /** `--channel` flag value (wins over `ARGON_CHANNEL_ID`). */
  channel?: string | undefined;
  /**
   * The command needs a verified bot (ICalls is for verified bots only). With the emulator, a
   * verified bot is created when the default one is not; against the real API it is only checked
   * by the platform when the call is made.
   */
  needCallsVerified?: boolean | undefined;
  /** Aborts the resolution (REST calls, emulator start). */
  signal?: AbortSignal | undefined;
}

interface SpaceLike {
  spaceId: string;
}
interface ChannelLike {
  channelId: string;
  channelType: string | number;
}

function isVoiceChannel(c: ChannelLike): boolean {
  return c.channelType === 'Voice' || c.channelType === 1;
}

/**
 * Resolves the platform a command runs against.
 *
 * @throws InvalidInputError when the bot has no space or the space has no voice channel.
 * @throws HttpError / TransportError from the REST calls made to find the defaults.
 */
export async function resolvePlatform(io: CliIo, options: ResolvePlatformOptions = {}): Promise<PlatformContext> {
  const env = io.env;
  const signal = options.signal ?? io.signal;
  let emulator: Emulator | undefined;
  let token: string;
  let apiUrl: string;
  if (env.ARGON_TOKEN) {
    token = env.ARGON_TOKEN;
    apiUrl = env.ARGON_API_URL || DEFAULT_API_URL;
  } else {
    const mod = await import('../emulator/index.js');
    // A test's clock (CliIo.clock) drives the embedded emulator too: one clock for the session.
    emulator = await mod.Emulator.start({ port: 0, ...(io.clock ? { clock: io.clock } : {}) });
    apiUrl = emulator.apiUrl;
    token = emulator.bot.token;
  }
  registerSecret(token);
  let closed = false;
  let rest: RestClient | undefined;
  const extras: RestClient[] = [];
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const clients = [rest, ...extras] as unknown as Array<{ close?: () => unknown } | undefined>;
    try {
      await Promise.all(clients.map(async (r) => r?.close?.()));
    } finally {
      await emulator?.close();
    }
  };
  try {
    let spaceId = options.space || env.ARGON_SPACE_ID || undefined;
    let channelId = options.channel || env.ARGON_CHANNEL_ID || undefined;
    if (emulator && options.needCallsVerified && !emulator.bot.verified) {
      // ICalls is for verified bots only: give the command a verified bot with its own space.
      const bot = await emulator.createBot({ verified: true, username: 'argon-voice-cli' });
      token = bot.token;
      registerSecret(token);
      const space = await emulator.createSpace({ name: 'cli', members: [bot.userId] });
      const channel = await emulator.createChannel({ spaceId: space.spaceId, name: 'voice', type: 'voice' });
      spaceId ??= space.spaceId;
      channelId ??= channel.channelId;
    }
    rest = new RestClient({ token, baseUrl: apiUrl });
    if (!spaceId) {
      const { spaces } = (await rest.botSelf.getSpaces({ signal })) as { spaces: SpaceLike[] };
      const first = spaces[0];
      if (!first) {
        throw new InvalidInputError('the bot is not a member of any space: invite it to one, or pass --space ID');
      }
      spaceId = first.spaceId;
    }
    if (!channelId) {
      const { channels } = (await rest.channels.list({ spaceId }, { signal })) as { channels: ChannelLike[] };
      const voice = channels.find(isVoiceChannel);
      if (!voice) {
        throw new InvalidInputError(`space ${spaceId} has no voice channel: create one, or pass --channel ID`);
      }
      channelId = voice.channelId;
    }
    const nextExtra = extraTokenSource(env, emulator, spaceId);
    const extraIdentity = (name: string): ExtraIdentity | undefined => {
      if (closed) throw new InvalidInputError('the platform context is closed');
      const next = nextExtra(name);
      if (!next) return undefined;
      // Built like the main client above: same base URL, its own token.
      const client = new RestClient({ token: next.token, baseUrl: apiUrl });
      extras.push(client);
      return { rest: client, label: next.label };
    };
    const ctx: PlatformContext = { rest, token, apiUrl, spaceId, channelId, extraIdentity, close };
    if (emulator) ctx.emulator = emulator;
    return ctx;
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
}

/**
 * Pulls every `--<name> X` / `--<name>=X` out of `argv` (for a flag that may be repeated, which
 * {@link parseFlags} does not keep): its values in order, and the other arguments.
 * @throws InvalidInputError when the last `--<name>` has no value.
 */
export function takeRepeated(argv: readonly string[], name: string): { values: string[]; rest: string[] } {
  const values: string[] = [];
  const rest: string[] = [];
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === flag) {
      const v = argv[i + 1];
      if (v === undefined) throw new InvalidInputError(`option ${flag} needs a value`);
      values.push(v);
      i++;
    } else if (a.startsWith(`${flag}=`)) {
      values.push(a.slice(flag.length + 1));
    } else {
      rest.push(a);
    }
  }
  return { values, rest };
}

/** Declares one flag for {@link parseFlags}. */
export interface FlagSpec {
  /** `string` takes a value (`--x v` or `--x=v`), `number` parses it, `boolean` takes none. */
  type: 'string' | 'number' | 'boolean';
  /** One-letter alias (`-v`). */
  short?: string;
  /** Value when the flag is absent. */
  default?: string | number | boolean;
}

/** Result of {@link parseFlags}: flag values by name plus the positional arguments. */
export interface ParsedFlags {
  /** Values by flag name (without dashes); absent flags without a default are undefined. */
  flags: Record<string, string | number | boolean | undefined>;
  /** Arguments that are not flags, in order (everything after `--` included). */
  positionals: string[];
}

/**
 * Parses `argv` against `spec` (`{ 'frame-ms': { type: 'number', default: 20 } }`).
 * Supports `--name value`, `--name=value`, `-x value`, `--no-name` for booleans and `--`.
 *
 * @throws InvalidInputError on an unknown flag, a missing value or a non-numeric number.
 */
export function parseFlags(argv: readonly string[], spec: Record<string, FlagSpec>): ParsedFlags {
  const flags: ParsedFlags['flags'] = {};
  const positionals: string[] = [];
  for (const [name, s] of Object.entries(spec)) flags[name] = s.default;
  const byShort = new Map<string, string>();
  for (const [name, s] of Object.entries(spec)) if (s.short) byShort.set(s.short, name);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    let name: string | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
      if (
        !(name in spec) &&
        name.startsWith('no-') &&
        spec[name.slice(3)]?.type === 'boolean' &&
        inline === undefined
      ) {
        flags[name.slice(3)] = false;
        continue;
      }
    } else if (arg.length === 2 && arg[0] === '-' && arg[1] !== '-' && !/\d/.test(arg[1]!)) {
      name = byShort.get(arg[1]!);
      if (name === undefined) throw new InvalidInputError(`unknown option ${arg}`);
    } else {
      positionals.push(arg);
      continue;
    }
    const s = spec[name];
    if (!s) throw new InvalidInputError(`unknown option --${name}`);
    if (s.type === 'boolean') {
      if (inline !== undefined && inline !== 'true' && inline !== 'false') {
        throw new InvalidInputError(`option --${name} takes no value (or =true/=false)`);
      }
      flags[name] = inline === undefined ? true : inline === 'true';
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw new InvalidInputError(`option --${name} needs a value`);
      value = next;
      i++;
    }
    if (s.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new InvalidInputError(`option --${name} needs a number, got '${value}'`);
      flags[name] = n;
    } else {
      flags[name] = value;
    }
  }
  return { flags, positionals };
}
