/**
 * `EventStream`: the IEvents/v1/Stream SSE connection as an async iterable and a typed emitter,
 * with a heartbeat watchdog, reconnection, zombie detection and de-duplication.
 *
 * ```
 *   idle ──start()──► connecting ──headers──► open ──stream ends / watchdog / zombie / reconnect()──┐
 *                        ▲   │ fatal 4xx (401, 400…)                                               │
 *                        │   └──────────────────────────────► closed ◄── close() (from any state)  │
 *                        └──────────── reconnecting (backoff + jitter, IEvents 5/min) ◄────────────┘
 * ```
 *
 * Server facts this relies on (docs/platform.md §R5.4–5.5): `ready` comes first; heartbeats are sent only after
 * 30 s without a batch, so silence for ~60 s means the connection is dead; resume is implicit (events
 * published while disconnected arrive first, ≤ 5 min); delivery is at-most-once but a replay may
 * repeat ids, hence the bounded de-duplication; all connections of one bot share one server session
 * (a second stream splits events and closing either stops delivery for both), hence the one-stream-
 * per-bot guard and zombie detection.
 * @packageDocumentation
 */
import {
  AbortError,
  ArgonVoiceError,
  ClosedError,
  HttpError,
  InvalidInputError,
  ProtocolError,
  RateLimitError,
  TimeoutError,
  TransportError,
} from '../errors.js';
import { RestClient } from '../rest/client.js';
import { parseJson } from '../rest/json.js';
import { type RouteDef, route } from '../rest/routes.js';
import type { RawEventStreamResponse } from '../rest/types.js';
import { backoffDelay, sleep, type WaitOptions, withDeadline } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { EVENT_INTENT, Intents } from './intents.js';
import { SseParser, type SseItem } from './sse-parser.js';
import type { ArgonEvent, ArgonEventName, ArgonEventPayloads, ReadyEvent, UnknownEvent } from './types.js';

/** Options of an {@link EventStream}. Give `rest`, or `token` (+ `baseUrl`). */
export interface EventStreamOptions {
  /** A RestClient to connect through (shares its rate limiter; not closed by the stream). */
  rest?: RestClient | undefined;
  /** Bot token, when no `rest` is given (the stream then owns and closes its client). */
  token?: string | undefined;
  /** API base when no `rest` is given (see `RestClientOptions.baseUrl`). */
  baseUrl?: string | undefined;
  /** Intent mask (default `Intents.AllNonPrivileged`, 12253). */
  intents?: number | undefined;
  /** Time source for the watchdog, zombie timer and backoff. */
  clock?: Clock | undefined;
  /** Jitter source in [0,1). */
  random?: (() => number) | undefined;
  /** Silence (no bytes at all) after which the connection is declared dead (default 60 000 ms; the server heartbeats after 30 s idle). */
  heartbeatTimeoutMs?: number | undefined;
  /**
   * Zombie detection: after activity is expected ({@link EventStream.expectActivity}, called
   * automatically after this bot's own Send/Reply/reaction/typing calls through `rest` when the
   * matching intent is on), reconnect if no event other than heartbeats arrives within this many ms.
   * `false` disables it. Default 20 000 ms.
   */
  zombieTimeoutMs?: number | false | undefined;
  /** Reconnect backoff: base and cap in ms (default 1 000 / 30 000). */
  reconnectBaseMs?: number | undefined;
  /** @see reconnectBaseMs */
  reconnectCapMs?: number | undefined;
  /** Deadline for the response headers of one connection attempt (default 15 000 ms). */
  connectTimeoutMs?: number | undefined;
  /** Largest SSE event accepted (default 1 MiB). */
  maxEventBytes?: number | undefined;
  /** How many recent event ids are remembered for de-duplication (default 4 096). */
  dedupeSize?: number | undefined;
  /** Events buffered for the async iterator; beyond it the oldest are dropped and counted (default 1 024). */
  maxBufferedEvents?: number | undefined;
  /** Closes the stream when it fires. */
  signal?: AbortSignal | undefined;
}

/** Lifecycle state of an {@link EventStream}. */
export type EventStreamState =
  | { status: 'idle' }
  | { status: 'connecting'; attempt: number }
  | { status: 'open'; since: number; ready: ReadyEvent | undefined }
  | { status: 'reconnecting'; attempt: number; delayMs: number; reason: Error }
  | { status: 'closed'; reason: Error | undefined };

/** Listener map of an {@link EventStream}: every wire event plus lifecycle events. */
export type EventStreamEvents = {
  [K in ArgonEventName]: [data: ArgonEventPayloads[K], event: Extract<ArgonEvent, { type: K }>];
} & {
  /** A non-fatal fault (malformed SSE/JSON, dropped connection). Dropped when nobody listens. */
  error: [error: Error];
  stateChange: [oldState: EventStreamState, newState: EventStreamState];
  /** An event name this client does not know. */
  unknownEvent: [event: UnknownEvent];
  /** A reconnect is about to be scheduled, and why. */
  reconnect: [info: { reason: Error; attempt: number }];
};

/** Counters of an {@link EventStream}. */
export interface EventStreamStats {
  connects: number;
  reconnects: number;
  events: number;
  heartbeats: number;
  duplicates: number;
  dropped: number;
  protocolErrors: number;
  watchdogReconnects: number;
  zombieReconnects: number;
}

/** A second stream for a bot that already has an open one in this process. */
export class DuplicateEventStreamError extends InvalidInputError {
  constructor() {
    super(
      'an EventStream for this bot is already open in this process; close it first (two streams share one server session and split or lose events, docs/platform.md §R5.5)',
    );
  }
}

const openStreams = new Map<string, EventStream>();

const KNOWN_EVENTS: ReadonlySet<string> = new Set(Object.keys(EVENT_INTENT));

/** Own REST calls that the server echoes back as events, with the intent that carries the echo. */
const ECHOES: Readonly<Record<string, number>> = {
  'messages.send': Intents.Messages,
  'interactions.reply': Intents.Messages,
  'interactions.editMessage': Intents.Messages,
  'reactions.add': Intents.Reactions,
  'reactions.remove': Intents.Reactions,
  'typing.start': Intents.Typing,
};

/**
 * The SSE event stream of one bot.
 *
 * ```ts
 * const stream = new EventStream({ rest, intents: intents('Messages', 'Voice') });
 * stream.on('messageCreate', (data) => console.log(data.message.text));
 * for await (const ev of stream) if (ev.type === 'voiceJoin') console.log(ev.data.user.username);
 * await stream.close();
 * ```
 *
 * Listeners see every event from the moment they are attached. The async iterator reads a shared
 * bounded buffer that fills from `start()` on (several iterators split the events between them);
 * breaking out of a `for await` does not close the stream — call `close()`.
 * @throws {@link DuplicateEventStreamError} when another open stream exists for the same bot.
 */
export class EventStream extends TypedEmitter<EventStreamEvents> implements AsyncIterable<ArgonEvent> {
  readonly #rest: RestClient;
  readonly #ownsRest: boolean;
  readonly #botKey: string;
  readonly #intents: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #heartbeatTimeoutMs: number;
  readonly #zombieTimeoutMs: number | false;
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxEventBytes: number;
  readonly #dedupeSize: number;
  readonly #maxBuffered: number;
  readonly #closing = new AbortController();
  readonly #seen = new Set<string>();
  readonly #queue: ArgonEvent[] = [];
  readonly #pulls: Array<{ resolve: (r: IteratorResult<ArgonEvent>) => void; reject: (e: Error) => void }> = [];
  #state: EventStreamState = { status: 'idle' };
  #loop: Promise<void> | undefined;
  #raw: RawEventStreamResponse | undefined;
  #dropReason: Error | undefined;
  #lastDataAt = 0;
  #watchdog: unknown;
  #zombieTimer: unknown;
  #expecting = false;
  #readyWaiters: Array<{ resolve: (r: ReadyEvent) => void; reject: (e: Error) => void }> = [];
  #fatal: Error | undefined;
  #unsubscribe: (() => void) | undefined;
  #onSignal: (() => void) | undefined;
  readonly #signal: AbortSignal | undefined;
  /** Counters. */
  readonly stats: EventStreamStats = {
    connects: 0,
    reconnects: 0,
    events: 0,
    heartbeats: 0,
    duplicates: 0,
    dropped: 0,
    protocolErrors: 0,
    watchdogReconnects: 0,
    zombieReconnects: 0,
  };

  constructor(options: EventStreamOptions) {
    super();
    if (options.rest) {
      this.#rest = options.rest;
      this.#ownsRest = false;
    } else {
      const token = options.token ?? process.env.ARGON_TOKEN;
      if (!token) throw new InvalidInputError('EventStream needs `rest` or `token`');
      this.#rest = new RestClient({ token, baseUrl: options.baseUrl, clock: options.clock, random: options.random });
      this.#ownsRest = true;
    }
    this.#botKey = this.#rest.core.botKey;
    const existing = openStreams.get(this.#botKey);
    if (existing && existing.state.status !== 'closed') {
      if (this.#ownsRest) void this.#rest.close();
      throw new DuplicateEventStreamError();
    }
    openStreams.set(this.#botKey, this);
    this.#intents = options.intents ?? Intents.AllNonPrivileged;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 60_000;
    this.#zombieTimeoutMs = options.zombieTimeoutMs ?? 20_000;
    this.#baseMs = options.reconnectBaseMs ?? 1_000;
    this.#capMs = options.reconnectCapMs ?? 30_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.#maxEventBytes = options.maxEventBytes ?? 1024 * 1024;
    this.#dedupeSize = options.dedupeSize ?? 4096;
    this.#maxBuffered = options.maxBufferedEvents ?? 1024;
    this.#signal = options.signal;
    if (options.signal) {
      this.#onSignal = () => void this.close();
      if (options.signal.aborted) queueMicrotask(this.#onSignal);
      else options.signal.addEventListener('abort', this.#onSignal, { once: true });
    }
    if (this.#zombieTimeoutMs !== false) {
      this.#unsubscribe = this.#rest.onSuccess((def: RouteDef) => {
        const bit = ECHOES[def.key];
        if (bit !== undefined && (this.#intents & bit) !== 0) this.expectActivity();
      });
    }
  }

  /** Current lifecycle state. */
  get state(): EventStreamState {
    return this.#state;
  }

  /** The intent mask requested. */
  get intents(): number {
    return this.#intents;
  }

  /** The REST client used to connect. */
  get rest(): RestClient {
    return this.#rest;
  }

  /**
   * Starts connecting (idempotent) and resolves with the first `ready` payload.
   *
   * The wait has a deadline (`timeoutMs`, default 60 s) and honours `signal`; when either ends it,
   * only this wait is given up: the stream keeps connecting in the background until `close()`.
   * @throws {@link HttpError} on a fatal answer (401 bad token, 400 bad intents), {@link ClosedError}
   *   if the stream is closed first, {@link TimeoutError} / {@link AbortError} as above.
   */
  start(options: WaitOptions = {}): Promise<ReadyEvent> {
    if (this.#state.status === 'closed') {
      return Promise.reject(this.#fatal ?? new ClosedError('the event stream is closed'));
    }
    if (this.#state.status === 'open' && this.#state.ready) return Promise.resolve(this.#state.ready);
    let waiter: { resolve: (r: ReadyEvent) => void; reject: (e: Error) => void } | undefined;
    const p = new Promise<ReadyEvent>((resolve, reject) => {
      waiter = { resolve, reject };
      this.#readyWaiters.push(waiter);
    });
    this.#loop ??= this.#run();
    return withDeadline(p, "waiting for the event stream's ready event", {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? 60_000,
      clock: this.#clock,
      onCancel: () => {
        const i = waiter ? this.#readyWaiters.indexOf(waiter) : -1;
        if (i >= 0) this.#readyWaiters.splice(i, 1);
      },
    });
  }

  /** Drops the current connection and connects again (e.g. when the app suspects a zombie). */
  reconnect(reason: Error = new TransportError('reconnect requested')): void {
    if (this.#state.status !== 'open' && this.#state.status !== 'connecting') return;
    this.#drop(reason);
  }

  /**
   * Tells the stream that events should arrive soon (the bot just did something the server echoes).
   * If nothing but heartbeats arrives within `zombieTimeoutMs`, the stream reconnects: the server's
   * shared per-bot session can go silent while heartbeats continue (docs/platform.md §R5.5). Any other event
   * clears the expectation. Cheap to call often; no-op when zombie detection is off.
   */
  expectActivity(): void {
    if (this.#zombieTimeoutMs === false || this.#expecting || this.#state.status === 'closed') return;
    this.#expecting = true;
    const ms = this.#zombieTimeoutMs;
    this.#zombieTimer = this.#clock.setTimeout(() => {
      this.#zombieTimer = undefined;
      if (!this.#expecting) return;
      this.#expecting = false;
      if (this.#state.status === 'open') {
        this.stats.zombieReconnects++;
        this.#drop(
          new ProtocolError(`zombie event stream: no events for ${ms} ms while events were expected (only heartbeats)`),
        );
      }
    }, ms);
  }

  /** Closes the stream: ends the connection and every iterator. Idempotent. */
  async close(): Promise<void> {
    if (this.#state.status !== 'closed') this.#finish(undefined);
    await this.#loop?.catch(() => undefined);
    if (this.#ownsRest) await this.#rest.close();
  }

  /** Same as {@link EventStream.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Iterates events; starts the stream if needed. Ends on `close()`, throws on a fatal error. */
  [Symbol.asyncIterator](): AsyncIterator<ArgonEvent> {
    if (this.#state.status === 'idle') this.start().catch(() => undefined);
    return {
      next: () => {
        const ev = this.#queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (this.#state.status === 'closed') {
          if (this.#fatal) {
            const err = this.#fatal;
            return Promise.reject(err);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => this.#pulls.push({ resolve, reject }));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }

  // ------------------------------------------------------------------ internals

  #isClosed(): boolean {
    return this.#state.status === 'closed';
  }

  #setState(next: EventStreamState): void {
    const old = this.#state;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#state.status !== 'closed') {
      this.#setState({ status: 'connecting', attempt });
      let raw: RawEventStreamResponse;
      const conn = new AbortController();
      const onClose = () => conn.abort();
      this.#closing.signal.addEventListener('abort', onClose, { once: true });
      try {
        this.stats.connects++;
        raw = await this.#rest.events.stream(
          { intents: this.#intents },
          { signal: conn.signal, timeoutMs: this.#connectTimeoutMs },
        );
      } catch (err) {
        this.#closing.signal.removeEventListener('abort', onClose);
        if (this.#isClosed()) return;
        const e = err instanceof Error ? err : new TransportError(String(err));
        if (isFatal(e)) {
          this.#finish(e);
          return;
        }
        this.#report(e);
        attempt++;
        if (!(await this.#backoff(attempt, e))) return;
        continue;
      }
      this.#closing.signal.removeEventListener('abort', onClose);
      if (this.#isClosed()) {
        raw.close();
        return;
      }
      this.#raw = raw;
      this.#dropReason = undefined;
      this.#setState({ status: 'open', since: this.#clock.now(), ready: undefined });
      const parser = new SseParser({ maxEventBytes: this.#maxEventBytes });
      this.#lastDataAt = this.#clock.now();
      this.#armWatchdog(this.#heartbeatTimeoutMs);
      let reason: Error;
      let gotReady = false;
      try {
        for await (const chunk of raw.body) {
          this.#lastDataAt = this.#clock.now();
          for (const item of parser.push(chunk)) {
            if (this.#handle(item)) gotReady = true;
          }
          if (this.#dropReason || this.#state.status !== 'open') break;
        }
        reason = this.#dropReason ?? new TransportError('the server ended the event stream');
      } catch (err) {
        reason = this.#dropReason ?? (err instanceof Error ? err : new TransportError(String(err)));
        if (!(reason instanceof ArgonVoiceError)) {
          reason = new TransportError(`event stream failed: ${reason.message}`, { cause: reason });
        }
      } finally {
        this.#disarmWatchdog();
        this.#clearZombie();
        raw.close();
        this.#raw = undefined;
      }
      if (this.#isClosed()) return;
      if (gotReady) attempt = 0;
      this.#report(reason);
      attempt++;
      if (!(await this.#backoff(attempt, reason))) return;
    }
  }

  /** Sleeps before reconnect attempt `attempt` (≥ 1). Returns false when closed meanwhile. */
  async #backoff(attempt: number, reason: Error): Promise<boolean> {
    this.stats.reconnects++;
    let delayMs = backoffDelay(attempt - 1, this.#baseMs, this.#capMs, this.#random);
    // IEvents allows 5 connects a minute (docs/platform.md §R3). The connect deadline also bounds the wait for a
    // client-side permit, so reconnecting before the limiter has one would only fail again: wait
    // for it here, in 'reconnecting', where the delay is visible.
    const permitMs = this.#rest.core.limiter.nextPermitDelay(route('events.stream').bucket);
    if (Number.isFinite(permitMs)) delayMs = Math.max(delayMs, Math.ceil(permitMs));
    this.emit('reconnect', { reason, attempt });
    this.#setState({ status: 'reconnecting', attempt, delayMs, reason });
    try {
      await sleep(delayMs, { clock: this.#clock, signal: this.#closing.signal });
    } catch {
      return false;
    }
    return this.#state.status === 'reconnecting';
  }

  #report(err: Error): void {
    this.emit('error', err);
  }

  /** Handles one parser item; returns true for `ready`. */
  #handle(item: SseItem): boolean {
    if (item.type === 'error') {
      this.stats.protocolErrors++;
      this.#report(item.error);
      return false;
    }
    const name = item.event;
    let data: unknown;
    try {
      data = parseJson(item.data);
    } catch (err) {
      this.stats.protocolErrors++;
      this.#report(new ProtocolError(`event '${name}' has malformed JSON data`, { cause: err }));
      return false;
    }
    // Every known payload is a JSON object (docs/platform.md §R5.3, §R5.6); `null`, an array or a scalar would
    // reach typed listeners (and `start()`, for `ready`) as something they cannot read.
    if (KNOWN_EVENTS.has(name) && (data === null || typeof data !== 'object' || Array.isArray(data))) {
      this.stats.protocolErrors++;
      this.#report(
        new ProtocolError(
          `event '${name}' has data that is not a JSON object (${data === null ? 'null' : Array.isArray(data) ? 'array' : typeof data}); the event is dropped`,
        ),
      );
      return false;
    }
    if (name === 'heartbeat') {
      this.stats.heartbeats++;
    } else if (this.#expecting) {
      this.#clearZombie();
    }
    if (name !== 'ready' && name !== 'heartbeat' && item.id !== undefined) {
      if (this.#seen.has(item.id)) {
        // LRU: a hit refreshes the id, so an id replayed repeatedly stays remembered.
        this.#seen.delete(item.id);
        this.#seen.add(item.id);
        this.stats.duplicates++;
        return false;
      }
      this.#seen.add(item.id);
      if (this.#seen.size > this.#dedupeSize) {
        const oldest = this.#seen.values().next().value;
        if (oldest !== undefined) this.#seen.delete(oldest);
      }
    }
    if (!KNOWN_EVENTS.has(name)) {
      this.emit('unknownEvent', { type: name, id: item.id, data });
      return false;
    }
    const ev = { type: name, id: item.id, data } as ArgonEvent;
    this.stats.events++;
    let isReady = false;
    if (ev.type === 'ready' && this.#state.status === 'open') {
      isReady = true;
      this.#state = { ...this.#state, ready: ev.data };
      for (const w of this.#readyWaiters.splice(0)) w.resolve(ev.data);
    }
    (this.emit as (k: string, ...a: unknown[]) => boolean)(ev.type, ev.data, ev);
    this.#enqueue(ev);
    return isReady;
  }

  #enqueue(ev: ArgonEvent): void {
    const pull = this.#pulls.shift();
    if (pull) {
      pull.resolve({ value: ev, done: false });
      return;
    }
    this.#queue.push(ev);
    if (this.#queue.length > this.#maxBuffered) {
      this.#queue.shift();
      this.stats.dropped++;
    }
  }

  #drop(reason: Error): void {
    this.#dropReason ??= reason;
    this.#raw?.close();
  }

  #armWatchdog(ms: number): void {
    this.#watchdog = this.#clock.setTimeout(() => {
      this.#watchdog = undefined;
      if (this.#state.status !== 'open') return;
      const silent = this.#clock.now() - this.#lastDataAt;
      if (silent >= this.#heartbeatTimeoutMs) {
        this.stats.watchdogReconnects++;
        this.#drop(new TimeoutError('no data (not even a heartbeat) on the event stream', this.#heartbeatTimeoutMs));
      } else {
        this.#armWatchdog(this.#heartbeatTimeoutMs - silent);
      }
    }, ms);
  }

  #disarmWatchdog(): void {
    if (this.#watchdog !== undefined) this.#clock.clearTimeout(this.#watchdog);
    this.#watchdog = undefined;
  }

  #clearZombie(): void {
    this.#expecting = false;
    if (this.#zombieTimer !== undefined) this.#clock.clearTimeout(this.#zombieTimer);
    this.#zombieTimer = undefined;
  }

  #finish(fatal: Error | undefined): void {
    if (this.#state.status === 'closed') return;
    this.#fatal = fatal;
    this.#setState({ status: 'closed', reason: fatal });
    if (openStreams.get(this.#botKey) === this) openStreams.delete(this.#botKey);
    this.#closing.abort(new ClosedError('the event stream was closed'));
    this.#raw?.close();
    this.#disarmWatchdog();
    this.#clearZombie();
    this.#unsubscribe?.();
    if (this.#onSignal) this.#signal?.removeEventListener('abort', this.#onSignal);
    const readyErr = fatal ?? new ClosedError('the event stream was closed before ready');
    for (const w of this.#readyWaiters.splice(0)) w.reject(readyErr);
    if (fatal) this.#report(fatal);
    for (const p of this.#pulls.splice(0)) {
      if (fatal && this.#queue.length === 0) p.reject(fatal);
      else p.resolve({ value: undefined, done: true });
    }
  }
}

/** Connect failures that reconnecting cannot fix: bad token, bad request, unknown route, closed client. */
function isFatal(err: Error): boolean {
  if (err instanceof ClosedError || err instanceof AbortError) return true;
  if (err instanceof RateLimitError) return false;
  if (err instanceof HttpError) return err.status >= 400 && err.status < 500 && err.status !== 408;
  return false;
}
