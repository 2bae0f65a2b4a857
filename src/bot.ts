/**
 * `Bot`: a RestClient and an EventStream wired together — what samples and the CLI use.
 *
 * ```ts
 * const bot = await Bot.connect({ token, intents: intents('Messages', 'Voice', 'Calls') });
 * bot.on('messageCreate', (m) => console.log(m.message.text));
 * const voice = await bot.firstVoiceChannel();
 * await bot.close();
 * ```
 * @packageDocumentation
 */
import { AbortError, InvalidInputError } from './errors.js';
import { EventStream, type EventStreamEvents } from './events/event-stream.js';
import { Intents } from './events/intents.js';
import type { ReadyEvent } from './events/types.js';
import { RestClient, type RestClientOptions } from './rest/client.js';
import type { BotChannel, BotSpace, GetMeResponse, Guid } from './rest/types.js';
import { withDeadline } from './util/abort.js';
import type { Clock } from './util/clock.js';

/** Options of {@link Bot.connect}. */
export interface BotConnectOptions {
  /** Bot token (default `process.env.ARGON_TOKEN`). */
  token?: string | undefined;
  /** API base (default `process.env.ARGON_API_URL ?? 'https://gateway.argon.zone'`; with or without `/api/bot`). */
  baseUrl?: string | undefined;
  /** Intent mask (default AllNonPrivileged, 12253). */
  intents?: number | undefined;
  /** Aborts connecting; after connect, closes the bot when it fires. */
  signal?: AbortSignal | undefined;
  /** Deadline for GetMe + GetSpaces + the first `ready` (default 30 000 ms). */
  timeoutMs?: number | undefined;
  /** Extra RestClient options (clock, dispatcher, retries …). */
  rest?: Omit<RestClientOptions, 'token' | 'baseUrl'> | undefined;
  /** Time source shared by REST and events. */
  clock?: Clock | undefined;
  /** Heartbeat watchdog (default 60 000 ms). */
  heartbeatTimeoutMs?: number | undefined;
  /** Zombie detection (default 20 000 ms; false disables). */
  zombieTimeoutMs?: number | false | undefined;
}

/** A connected bot. Create with {@link Bot.connect}. */
export class Bot {
  /** The REST client. */
  readonly rest: RestClient;
  /** The event stream (already past `ready`). */
  readonly events: EventStream;
  /** IBotSelf/GetMe. */
  readonly me: GetMeResponse;
  /** IBotSelf/GetSpaces at connect time. */
  readonly spaces: BotSpace[];
  /** The first `ready` payload. */
  readonly ready: ReadyEvent;
  #closed = false;
  /** The connect signal and its listener, removed on close (a long-lived signal must not keep the bot). */
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;

  private constructor(rest: RestClient, events: EventStream, me: GetMeResponse, spaces: BotSpace[], ready: ReadyEvent) {
    this.rest = rest;
    this.events = events;
    this.me = me;
    this.spaces = spaces;
    this.ready = ready;
  }

  /**
   * Creates the REST client, reads GetMe and GetSpaces, opens the event stream and waits for `ready`.
   * @throws `InvalidInputError` (no token), `HttpError` (401 bad token …), `TimeoutError`, `AbortError`.
   */
  static async connect(options: BotConnectOptions = {}): Promise<Bot> {
    const token = options.token ?? process.env.ARGON_TOKEN;
    if (!token) throw new InvalidInputError('Bot.connect needs a token (option `token` or ARGON_TOKEN)');
    const rest = new RestClient({
      ...options.rest,
      token,
      baseUrl: options.baseUrl,
      clock: options.clock ?? options.rest?.clock,
    });
    let events: EventStream | undefined;
    try {
      const deadline = { signal: options.signal, timeoutMs: options.timeoutMs ?? 30_000, clock: options.clock };
      const [me, spaces] = await withDeadline(
        Promise.all([
          rest.botSelf.getMe({ signal: options.signal }),
          rest.botSelf.getSpaces({ signal: options.signal }),
        ]),
        'connecting the bot (GetMe/GetSpaces)',
        deadline,
      );
      events = new EventStream({
        rest,
        intents: options.intents ?? Intents.AllNonPrivileged,
        clock: options.clock ?? options.rest?.clock,
        random: options.rest?.random,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
        zombieTimeoutMs: options.zombieTimeoutMs,
        signal: options.signal,
      });
      const ready = await withDeadline(events.start(), 'waiting for the event stream to be ready', deadline);
      const bot = new Bot(rest, events, me, spaces.spaces, ready);
      if (options.signal) {
        // Fired between `ready` and here: a listener added now would never run.
        if (options.signal.aborted) {
          await bot.close();
          throw new AbortError('connecting the bot was aborted', { cause: options.signal.reason });
        }
        bot.#signal = options.signal;
        bot.#onAbort = () => void bot.close();
        options.signal.addEventListener('abort', bot.#onAbort, { once: true });
      }
      return bot;
    } catch (err) {
      await events?.close();
      await rest.close();
      throw err;
    }
  }

  /** Adds a typed event listener on {@link Bot.events}. */
  on<K extends keyof EventStreamEvents & string>(event: K, listener: (...args: EventStreamEvents[K]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  /** Adds a one-time typed event listener. */
  once<K extends keyof EventStreamEvents & string>(event: K, listener: (...args: EventStreamEvents[K]) => void): this {
    this.events.once(event, listener);
    return this;
  }

  /** Removes a listener. */
  off<K extends keyof EventStreamEvents & string>(event: K, listener: (...args: EventStreamEvents[K]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * The first voice channel (`channelType === 'Voice'`) of `spaceId`, or of the first space the bot
   * is in; `undefined` when there is none.
   */
  async firstVoiceChannel(spaceId?: Guid, options: { signal?: AbortSignal } = {}): Promise<BotChannel | undefined> {
    const space = spaceId ?? this.spaces[0]?.spaceId;
    if (!space) return undefined;
    const { channels } = await this.rest.channels.list({ spaceId: space }, options);
    return channels.find((c) => c.channelType === 'Voice');
  }

  /** Closes the event stream and the REST client. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#onAbort) this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = undefined;
    this.#onAbort = undefined;
    await this.events.close();
    await this.rest.close();
  }

  /** Same as {@link Bot.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
