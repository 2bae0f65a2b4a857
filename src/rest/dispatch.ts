/**
 * The dispatch core: one undici Agent plus the layers every call goes through.
 *
 * ```
 *  call ─► rate limiter (bucket + concurrency) ─► attempt: auth header, x-request-id, per-attempt
 *          ▲  waits ≤ maxRateLimitWaitMs               timeout, caller's AbortSignal ─► undici.request
 *          │  and ≤ the call's deadline                                  │
 *          ├── 429: cancel permit, wait for the limiter's own next-permit time (Retry-After is always 1)
 *          ├── network error / timeout / 5xx on a 'safe' route: backoff + jitter, retry
 *          ├── other 4xx (and anything on 'unsafe' routes): HttpError / TransportError at once
 *          └── 2xx: parse (bigint-exact); an empty body on a JSON route or an Argon error object
 *              (`{"error":…}`) in a 200 is a ProtocolError
 * ```
 *
 * Deadlines: the client's `timeoutMs` bounds each attempt. A per-call `timeoutMs` bounds the whole
 * call — permit waits, every attempt and retry backoff — so a call queued behind a full window
 * cannot wait silently past it. Without one, a permit wait is bounded only by `maxRateLimitWaitMs`.
 * @packageDocumentation
 */
import { createHash, randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { Agent, type Dispatcher, request } from 'undici';
import {
  AbortError,
  ArgonVoiceError,
  ClosedError,
  HttpError,
  InvalidInputError,
  ProtocolError,
  RateLimitError,
  registerSecret,
  TimeoutError,
  TransportError,
} from '../errors.js';
import { backoffDelay, sleep } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { parseJson, stringifyJson } from './json.js';
import { type Permit, RateLimiter } from './rate-limiter.js';
import { type RouteDef, routeName } from './routes.js';
import type { CallOptions, RawEventStreamResponse } from './types.js';

/** Production gateway (no `/api/bot` prefix). */
export const DEFAULT_BASE_URL = 'https://gateway.argon.zone';

/** Options of the dispatch core, and so of `RestClient`. */
export interface DispatchCoreOptions {
  /** Bot token `<32 hex>:<secret>`. Registered as a secret: it never appears in errors or logs. */
  token: string;
  /**
   * API base. Default `process.env.ARGON_API_URL ?? 'https://gateway.argon.zone'`. The public gateway
   * has no `/api/bot` prefix; a self-hosted server or the emulator may be given with or without it
   * (`http://127.0.0.1:PORT` or `http://127.0.0.1:PORT/api/bot`): routes are appended as
   * `/{Interface}/v{N}/{Method}` either way.
   */
  baseUrl?: string | undefined;
  /** User-Agent header. */
  userAgent?: string | undefined;
  /** Deadline of each HTTP attempt in ms (default 15 000). A per-call `timeoutMs` replaces it and bounds the whole call. */
  timeoutMs?: number | undefined;
  /** Retries after network errors, timeouts and 5xx on routes safe to retry (default 3). */
  retries?: number | undefined;
  /** 429s retried per call before a `RateLimitError` (default 5). */
  rateLimitRetries?: number | undefined;
  /**
   * Longest a call waits for a client-side rate-limit permit (bucket window and the 10-request
   * concurrency cap) before it rejects with a `RateLimitError` (`status` 429, `retryAfterMs` = when
   * the limiter expects the next permit; nothing was sent). A call fails at once when the limiter
   * already knows its next permit is further away. Default: no limit, so a burst queues and drains
   * at the full rate; a per-call `timeoutMs` bounds the wait in any case.
   */
  maxRateLimitWaitMs?: number | undefined;
  /** Time source for the limiter, timeouts and backoff (default: system clock). */
  clock?: Clock | undefined;
  /** Jitter source in [0,1) for backoff (default Math.random). `randomId`s always use crypto. */
  random?: (() => number) | undefined;
  /** undici Dispatcher to use instead of an owned Agent (not closed by `close()`). */
  dispatcher?: Dispatcher | undefined;
  /**
   * Rate limiter to use. Default: one shared by every client of the same token and clock in this
   * process (the server counts per bot, so they must share).
   */
  limiter?: RateLimiter | undefined;
}

/** Counters of a dispatch core. */
export interface DispatchStats {
  /** HTTP attempts sent. */
  attempts: number;
  /** Attempts retried after a network error, timeout or 5xx. */
  retries: number;
  /** 429 answers received (a well-behaved single client should see none). */
  rateLimited: number;
}

type Query = Readonly<Record<string, unknown>> | undefined;
type Body = Readonly<Record<string, unknown>> | undefined;

interface AttemptResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Normalises a base URL: trims trailing slashes. Both the gateway form (`https://gateway.argon.zone`)
 * and the server/emulator form (`http://host:port/api/bot`) work, because routes are appended as
 * `/{Interface}/v{N}/{Method}` and the emulator serves both prefixes (docs/platform.md §R1.1).
 * @throws {@link InvalidInputError} when it is not an http(s) URL.
 */
export function normalizeBaseUrl(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch (err) {
    throw new InvalidInputError(`baseUrl is not a URL: ${baseUrl}`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(`baseUrl must be http(s): ${baseUrl}`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function queryString(query: Query, names: readonly string[]): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const name of names) {
    const v = query[name];
    if (v === undefined || v === null) continue;
    params.append(name, typeof v === 'string' ? v : String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

function pick(body: Body, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!body) return out;
  for (const name of names) if (body[name] !== undefined) out[name] = body[name];
  return out;
}

function parseErrorBody(text: string): { errorCode?: string; platformMessage?: string } {
  if (!text) return {};
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (v === null || typeof v !== 'object') return {};
    const code = typeof v.error === 'string' ? v.error : typeof v.code === 'string' ? v.code : undefined;
    const message = typeof v.message === 'string' ? v.message : undefined;
    return {
      ...(code !== undefined ? { errorCode: code } : {}),
      ...(message !== undefined ? { platformMessage: message } : {}),
    };
  } catch {
    return {};
  }
}

/**
 * The Argon error object of a 2xx body, if it is one. No success body of the Bot API has a top-level
 * `error` string (docs/platform.md §R2.1–2.2), so one that does is an error answer with the wrong status.
 */
function errorObjectIn(value: unknown): { code: string; message: string | undefined } | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.error !== 'string') return undefined;
  return { code: v.error, message: typeof v.message === 'string' ? v.message : undefined };
}

function clipText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function isRetryableError(err: unknown): boolean {
  return err instanceof TransportError || err instanceof TimeoutError;
}

/** The undici-based request core shared by `RestClient` and `EventStream`. */
export class DispatchCore {
  readonly baseUrl: string;
  /** SHA-256 of the token (hex): identifies the bot without exposing the token. */
  readonly botKey: string;
  readonly limiter: RateLimiter;
  /** Counters. */
  readonly stats: DispatchStats = { attempts: 0, retries: 0, rateLimited: 0 };
  readonly #token: string;
  readonly #userAgent: string;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #rateLimitRetries: number;
  readonly #maxRateLimitWaitMs: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #streams = new Set<RawEventStreamResponse>();
  readonly #closing = new AbortController();
  readonly #successListeners = new Set<(def: RouteDef) => void>();
  #closed = false;

  constructor(options: DispatchCoreOptions) {
    if (!options.token || typeof options.token !== 'string') {
      throw new InvalidInputError('a bot token is required (RestClient({ token }) or ARGON_TOKEN)');
    }
    this.#token = options.token.trim();
    registerSecret(this.#token);
    this.botKey = createHash('sha256').update(this.#token).digest('hex');
    this.baseUrl = normalizeBaseUrl(options.baseUrl ?? process.env.ARGON_API_URL ?? DEFAULT_BASE_URL);
    this.#userAgent = options.userAgent ?? 'argon-voice (https://github.com/argon-voice, 0.1)';
    this.#timeoutMs = options.timeoutMs ?? 15_000;
    this.#retries = options.retries ?? 3;
    this.#rateLimitRetries = options.rateLimitRetries ?? 5;
    // Unbounded by default: a burst is meant to queue and drain at the full rate (500 Sends take ~4 min).
    this.#maxRateLimitWaitMs = options.maxRateLimitWaitMs ?? Number.POSITIVE_INFINITY;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#ownsDispatcher = options.dispatcher === undefined;
    this.#dispatcher = options.dispatcher ?? new Agent({ connections: 16, keepAliveTimeout: 30_000 });
    this.limiter = options.limiter ?? sharedLimiter(this.botKey, this.#clock);
    // Every queued or in-flight call listens for close(); hundreds may be queued by design.
    setMaxListeners(0, this.#closing.signal);
  }

  /** Streams (IEvents) currently open through this client; each holds a concurrency permit. */
  get openStreams(): number {
    return this.#streams.size;
  }

  /** True once {@link DispatchCore.close} ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Full URL of a route with its query string. */
  url(def: RouteDef, query?: Query): string {
    return `${this.baseUrl}/${def.iface}/v${def.version}${def.path}${queryString(query, def.query)}`;
  }

  /** Registers a listener called after every successful call; returns an unsubscribe function. */
  onSuccess(listener: (def: RouteDef) => void): () => void {
    this.#successListeners.add(listener);
    return () => this.#successListeners.delete(listener);
  }

  /**
   * Performs one route call with every layer; resolves with the parsed body (`undefined` for
   * empty-200 routes).
   * @throws {@link HttpError} (non-2xx), {@link RateLimitError} (429 after `rateLimitRetries`, or no
   *   client-side permit within `maxRateLimitWaitMs`), {@link ProtocolError} (a 2xx body that is not
   *   the route's JSON answer), {@link TransportError}, {@link TimeoutError}, {@link AbortError},
   *   {@link ClosedError}.
   */
  async call<T>(def: RouteDef, input: { query?: Query; body?: Body }, options: CallOptions = {}): Promise<T> {
    const url = this.url(def, input.query);
    const body = def.body.length > 0 ? stringifyJson(pick(input.body, def.body)) : undefined;
    const requestId = randomUUID();
    const { text } = await this.#run(def, url, body, requestId, options, false);
    const value = def.empty ? undefined : this.#parseSuccess(def, text ?? '', requestId);
    for (const l of this.#successListeners) {
      try {
        l(def);
      } catch {
        // a listener must not fail the call
      }
    }
    return value as T;
  }

  /**
   * Parses the 2xx body of a JSON route.
   * @throws {@link ProtocolError} when it is empty, malformed, or an Argon error object.
   */
  #parseSuccess(def: RouteDef, text: string, requestId: string): unknown {
    const where = `${def.method} ${routeName(def)}, request ${requestId}`;
    // Only the routes marked "empty 200" answer without a body (docs/platform.md §R2.1); an empty body elsewhere
    // would resolve with `undefined` and crash the caller later, far from the cause.
    if (text.length === 0) throw new ProtocolError(`empty 2xx body where a JSON answer was expected (${where})`);
    let value: unknown;
    try {
      value = parseJson(text);
    } catch (err) {
      (err as { message: string }).message += ` (${where})`;
      throw err;
    }
    const failure = errorObjectIn(value);
    if (failure) {
      const msg = failure.message === undefined ? '' : `: ${clipText(failure.message, 300)}`;
      throw new ProtocolError(
        `the server answered with a 2xx status but an error body '${clipText(failure.code, 100)}'${msg} (${where})`,
      );
    }
    return value;
  }

  /**
   * Opens a streaming GET (IEvents/Stream). The returned body is not buffered; the stream holds one
   * concurrency permit until it ends or `close()` is called.
   */
  async stream(def: RouteDef, query: Query, options: CallOptions = {}): Promise<RawEventStreamResponse> {
    const url = this.url(def, query);
    const { stream } = await this.#run(def, url, undefined, randomUUID(), options, true);
    return stream!;
  }

  /** Closes open streams, rejects waiters and closes the owned Agent. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new ClosedError('the REST client was closed'));
    for (const s of [...this.#streams]) s.close();
    if (this.#ownsDispatcher) await this.#dispatcher.close().catch(() => undefined);
  }

  async #run(
    def: RouteDef,
    url: string,
    body: string | undefined,
    requestId: string,
    options: CallOptions,
    streaming: boolean,
  ): Promise<{ text?: string; stream?: RawEventStreamResponse }> {
    const name = routeName(def);
    const signal = options.signal;
    // A per-call timeoutMs is a deadline for the whole call; the client's is per attempt.
    const callTimeoutMs =
      options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0
        ? options.timeoutMs
        : undefined;
    const deadline = callTimeoutMs === undefined ? undefined : this.#clock.now() + callTimeoutMs;
    const attemptTimeoutMs = options.timeoutMs ?? this.#timeoutMs;
    let attempt = 0;
    let limited = 0;
    for (;;) {
      if (this.#closed) throw new ClosedError(`${def.method} ${name}: the REST client is closed`);
      if (signal?.aborted) throw new AbortError(`${def.method} ${name} was aborted`, { cause: signal.reason });
      const permit = await this.#acquire(def, signal, deadline, callTimeoutMs);
      let res: AttemptResult | undefined;
      let stream: RawEventStreamResponse | undefined;
      try {
        this.stats.attempts++;
        // Within a call deadline an attempt gets what is left of it (but reports the call's timeoutMs).
        const timerMs = deadline === undefined ? attemptTimeoutMs : deadline - this.#clock.now();
        if (deadline !== undefined && !(timerMs > 0)) {
          throw new TimeoutError(`${def.method} ${name} (request ${requestId})`, callTimeoutMs!);
        }
        const out = await this.#attempt(
          def,
          url,
          body,
          requestId,
          signal,
          timerMs,
          attemptTimeoutMs,
          streaming,
          permit,
        );
        res = out.result;
        stream = out.stream;
      } catch (err) {
        permit.release();
        if (def.retry === 'safe' && isRetryableError(err) && attempt < this.#retries && !this.#closed) {
          await this.#backoff(attempt++, signal, deadline, err);
          continue;
        }
        throw err;
      }
      if (stream) return { stream };
      const r = res!;
      if (r.status === 429) {
        permit.cancel();
        this.stats.rateLimited++;
        const waitMs = this.limiter.penalize(def.bucket);
        // The limiter holds the next acquire until then (bounded by maxRateLimitWaitMs and the deadline).
        if (limited++ < this.#rateLimitRetries) continue;
        throw new RateLimitError({ ...this.#details(def, r, requestId), retryAfterMs: waitMs });
      }
      permit.release();
      if (r.status >= 200 && r.status < 300) return { text: r.text };
      if (r.status >= 500 && def.retry === 'safe' && attempt < this.#retries) {
        const err = new HttpError(this.#details(def, r, requestId));
        await this.#backoff(attempt++, signal, deadline, err);
        continue;
      }
      throw new HttpError(this.#details(def, r, requestId));
    }
  }

  /**
   * Waits for a rate-limit permit, at most `maxRateLimitWaitMs` and at most until the call's deadline.
   * Fails at once when the limiter already knows the next permit of the bucket is further away.
   * @throws {@link RateLimitError} (wait longer than `maxRateLimitWaitMs`), {@link TimeoutError}
   *   (the call's deadline passed first), {@link AbortError}, {@link ClosedError}.
   */
  async #acquire(
    def: RouteDef,
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    callTimeoutMs: number | undefined,
  ): Promise<Permit> {
    const name = routeName(def);
    const callLeft = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - this.#clock.now();
    const byDeadline = callLeft < this.#maxRateLimitWaitMs;
    const budget = Math.max(0, Math.min(callLeft, this.#maxRateLimitWaitMs));
    const known = this.limiter.nextPermitDelay(def.bucket);
    const limitError = (nextMs: number, waitedMs: number) => {
      const why = byDeadline
        ? `the call's timeoutMs (${callTimeoutMs} ms) leaves ${Math.round(budget)} ms`
        : `maxRateLimitWaitMs is ${this.#maxRateLimitWaitMs} ms`;
      const next = Number.isFinite(nextMs)
        ? `the next ${def.bucket} permit is due in ${Math.ceil(nextMs)} ms`
        : `all ${def.bucket} permits are in use`;
      return new RateLimitError({
        status: 429,
        route: name,
        method: def.method,
        platformMessage: `not sent: client-side rate limit (${def.bucket}, docs/platform.md §R3); ${next}, ${why}${waitedMs > 0 ? ` (waited ${Math.round(waitedMs)} ms)` : ''}`,
        retryAfterMs: Number.isFinite(nextMs) ? Math.ceil(nextMs) : this.#maxRateLimitWaitMs,
      });
    };
    // The limiter's own delay is a lower bound (waiters ahead only add to it): no point waiting it out.
    if (Number.isFinite(known) && known > budget) throw limitError(known, 0);
    const wait = linkedAbort(signal, this.#closing.signal);
    const started = this.#clock.now();
    let expired: Error | undefined;
    const timer = Number.isFinite(budget)
      ? this.#clock.setTimeout(() => {
          const waited = this.#clock.now() - started;
          expired = byDeadline
            ? new TimeoutError(
                `${def.method} ${name}: still waiting for a client-side rate-limit permit (${def.bucket}, ${this.limiter.waiting} waiting) when the call's deadline passed; the request was not sent`,
                callTimeoutMs!,
              )
            : limitError(this.limiter.nextPermitDelay(def.bucket), waited);
          wait.abort(expired);
        }, budget)
      : undefined;
    try {
      return await this.limiter.acquire(def.bucket, wait.signal);
    } catch (err) {
      if (this.#closed) throw new ClosedError(`${def.method} ${name}: the REST client was closed`, { cause: err });
      if (signal?.aborted) {
        throw new AbortError(`${def.method} ${name} was aborted while waiting for a rate-limit permit`, {
          cause: signal.reason,
        });
      }
      throw expired ?? err;
    } finally {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      wait.dispose();
    }
  }

  #details(def: RouteDef, r: AttemptResult, requestId: string) {
    return {
      status: r.status,
      ...parseErrorBody(r.text),
      route: routeName(def),
      method: def.method,
      requestId,
      body: r.text.length > 0 ? r.text : undefined,
    };
  }

  /**
   * Sleeps before retry `attempt + 1`. When the sleep would end past the call's deadline, throws
   * `lastError` instead (the real reason is more useful than a timeout that has not happened yet).
   */
  async #backoff(
    attempt: number,
    signal: AbortSignal | undefined,
    deadline: number | undefined,
    lastError: unknown,
  ): Promise<void> {
    const delay = backoffDelay(attempt, 250, 10_000, this.#random);
    if (deadline !== undefined && this.#clock.now() + delay >= deadline) throw lastError;
    this.stats.retries++;
    const wake = linkedAbort(signal, this.#closing.signal);
    try {
      await sleep(delay, { signal: wake.signal, clock: this.#clock });
    } catch (err) {
      if (this.#closed) throw new ClosedError('the REST client was closed during a retry backoff', { cause: err });
      throw new AbortError('the call was aborted during a retry backoff', { cause: signal?.reason });
    } finally {
      wake.dispose();
    }
  }

  async #attempt(
    def: RouteDef,
    url: string,
    body: string | undefined,
    requestId: string,
    signal: AbortSignal | undefined,
    timerMs: number,
    timeoutMs: number,
    streaming: boolean,
    permit: Permit,
  ): Promise<{ result?: AttemptResult; stream?: RawEventStreamResponse }> {
    const name = routeName(def);
    const ac = new AbortController();
    let timedOut = false;
    const onAbort = () => ac.abort(signal?.reason);
    const onClose = () => ac.abort(this.#closing.signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#closing.signal.addEventListener('abort', onClose, { once: true });
    // `timerMs` is when this attempt gives up; `timeoutMs` the deadline reported in the TimeoutError.
    const timer =
      Number.isFinite(timerMs) && timerMs > 0
        ? this.#clock.setTimeout(() => {
            timedOut = true;
            ac.abort(new TimeoutError(`${def.method} ${name} (request ${requestId})`, timeoutMs));
          }, timerMs)
        : undefined;
    const cleanup = () => {
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      this.#closing.signal.removeEventListener('abort', onClose);
    };
    const headers: Record<string, string> = {
      authorization: `Bot ${this.#token}`,
      'user-agent': this.#userAgent,
      'x-request-id': requestId,
      accept: streaming ? 'text/event-stream' : 'application/json',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (streaming) headers['cache-control'] = 'no-cache';
    let streamHandedOver = false;
    try {
      const res = await request(url, {
        dispatcher: this.#dispatcher,
        method: def.method,
        headers,
        body,
        signal: ac.signal,
      });
      const status = res.statusCode;
      if (streaming && status >= 200 && status < 300) {
        // Headers arrived: the server has counted the connection; the body has no deadline
        // (EventStream's watchdog owns liveness), but the caller's signal still ends it.
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        permit.hold();
        streamHandedOver = true;
        const stream = this.#wrapStream(res, ac, () => {
          cleanup();
          permit.release();
        });
        return { stream };
      }
      let text = '';
      if (def.empty && status >= 200 && status < 300) await res.body.dump();
      else text = await res.body.text();
      return { result: { status, headers: res.headers, text } };
    } catch (err) {
      if (err instanceof ArgonVoiceError) throw err;
      if (timedOut) throw new TimeoutError(`${def.method} ${name} (request ${requestId})`, timeoutMs, { cause: err });
      if (signal?.aborted) throw new AbortError(`${def.method} ${name} was aborted`, { cause: signal.reason });
      if (this.#closed) throw new ClosedError(`${def.method} ${name}: the REST client was closed`, { cause: err });
      const e = err as { code?: string; message?: string };
      const why = `${e.code ?? ''} ${e.message ?? String(err)}`.trim();
      throw new TransportError(`${def.method} ${name} failed (request ${requestId}): ${why}`, {
        cause: err,
      });
    } finally {
      if (!streamHandedOver) cleanup();
    }
  }

  #wrapStream(res: Dispatcher.ResponseData, ac: AbortController, onEnd: () => void): RawEventStreamResponse {
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      this.#streams.delete(raw);
      onEnd();
    };
    const source = res.body;
    const raw: RawEventStreamResponse = {
      statusCode: res.statusCode,
      headers: res.headers,
      body: (async function* () {
        try {
          for await (const chunk of source) yield chunk as Uint8Array;
        } finally {
          end();
        }
      })(),
      close: () => {
        if (!ac.signal.aborted) ac.abort(new ClosedError('event stream closed'));
        source.destroy();
        end();
      },
    };
    this.#streams.add(raw);
    return raw;
  }
}

/**
 * The server limits per bot, not per connection: clients of the same token (and clock) in one
 * process share one limiter, so a RestClient plus an EventStream with its own client still stay
 * under the 10-request concurrency and the per-interface windows together.
 */
const limiters = new WeakMap<Clock, Map<string, RateLimiter>>();
function sharedLimiter(botKey: string, clock: Clock): RateLimiter {
  let byBot = limiters.get(clock);
  if (!byBot) {
    byBot = new Map();
    limiters.set(clock, byBot);
  }
  let limiter = byBot.get(botKey);
  if (!limiter) {
    limiter = new RateLimiter({ clock });
    byBot.set(botKey, limiter);
  }
  return limiter;
}

/**
 * A controller that aborts when `a` or `b` does; `dispose()` removes its listeners. Used instead of
 * `AbortSignal.any`, whose dependants stay attached to a long-lived source signal until GC.
 */
function linkedAbort(
  a: AbortSignal | undefined,
  b: AbortSignal,
): { signal: AbortSignal; abort: (reason: unknown) => void; dispose: () => void } {
  const ac = new AbortController();
  const onA = () => ac.abort(a?.reason);
  const onB = () => ac.abort(b.reason);
  if (a?.aborted) onA();
  else a?.addEventListener('abort', onA, { once: true });
  if (b.aborted) onB();
  else b.addEventListener('abort', onB, { once: true });
  return {
    signal: ac.signal,
    abort: (reason) => ac.abort(reason),
    dispose: () => {
      a?.removeEventListener('abort', onA);
      b.removeEventListener('abort', onB);
    },
  };
}
