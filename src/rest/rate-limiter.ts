/**
 * Client-side mirror of the server's two rate-limit layers (docs/platform.md §R3), so that a well-behaved bot
 * never sees a 429:
 *
 * 1. Global concurrency: at most 10 requests in flight per bot. An open SSE stream holds one permit
 *    for its whole life, which leaves 9 for REST calls while it is open.
 * 2. Per-interface sliding window: 60 s in six 10-s segments. The server returns a permit when the
 *    window advances past the segment it was counted in, i.e. 50–60 s after use, in 10-s steps,
 *    with the segment clock phased from when *its* limiter was created (unknown to us) and checked
 *    every ~100 ms.
 *
 * The client cannot see the server's segment phase, so it assumes the worst case for each permit:
 *
 * ```
 *   send ──► server counts it (somewhere in here) ──► response arrives (t_done)
 *                                                      │
 *   permit usable again at  t_done + 60 s + margin ◄───┘   (server: ≤ t_counted + 60 s + ~100 ms)
 * ```
 *
 * Because the server counted the request no later than the response arrived, a permit reused at
 * `t_done + 60 s + margin` is always back on the server. The per-permit bookkeeping (one release
 * time per permit, ≤ 120 per bucket) keeps throughput at the full limit without segment guessing.
 *
 * No timers run unless someone waits; time comes from an injected {@link Clock}.
 * @packageDocumentation
 */
import { AbortError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import { MAX_CONCURRENT_REQUESTS, RATE_LIMITS } from './routes.js';

/** Options of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Time source (default: the system clock). */
  clock?: Clock;
  /** Requests per window per bucket; unknown buckets are unlimited. Default: {@link RATE_LIMITS}. */
  limits?: Readonly<Record<string, number>>;
  /** Window length (default 60 000 ms). */
  windowMs?: number;
  /** Safety added to every release time, covering the server's ~100 ms segment check (default 250 ms). */
  marginMs?: number;
  /** Global in-flight cap (default 10). */
  maxConcurrent?: number;
  /** Back-off after an unexpected 429 when the limiter itself sees free permits (default one segment, 10 000 ms). */
  segmentMs?: number;
}

/** A granted permit. Exactly one of `release()` or `cancel()` should be called; both are idempotent. */
export interface Permit {
  /** Marks the request as counted by the server no later than now (starts its 60-s clock). */
  counted(): void;
  /**
   * Marks the permit as held by a long-lived stream (SSE): counted now, and reported by
   * {@link RateLimiter.streams} until released.
   */
  hold(): void;
  /** Ends the request: counts it (if not yet) and frees the concurrency slot. */
  release(): void;
  /** The server refused the request without counting it (429): frees both slots. */
  cancel(): void;
}

interface Bucket {
  readonly limit: number;
  /** Permits handed out whose release time is not known yet (in flight). */
  held: number;
  /** Times at which used permits come back. */
  releases: number[];
  /** After an unexpected 429: no grants before this time. */
  blockedUntil: number;
}

interface Waiter {
  bucket: string;
  resolve: (p: Permit) => void;
  reject: (e: Error) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/** Counters exposed for tests and metrics. */
export interface RateLimiterStats {
  /** Permits granted since creation. */
  granted: number;
  /** Grants that had to wait for a permit. */
  waited: number;
  /** 429s reported through {@link RateLimiter.penalize}. */
  penalties: number;
}

/** Per-bucket sliding-window + global concurrency limiter. See the module comment. */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #limits: Readonly<Record<string, number>>;
  readonly #windowMs: number;
  readonly #marginMs: number;
  readonly #segmentMs: number;
  readonly #maxConcurrent: number;
  readonly #buckets = new Map<string, Bucket>();
  readonly #waiters: Waiter[] = [];
  #active = 0;
  #streams = 0;
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  /** Counters. */
  readonly stats: RateLimiterStats = { granted: 0, waited: 0, penalties: 0 };

  constructor(options: RateLimiterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#limits = options.limits ?? RATE_LIMITS;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#marginMs = options.marginMs ?? 250;
    this.#segmentMs = options.segmentMs ?? 10_000;
    this.#maxConcurrent = options.maxConcurrent ?? MAX_CONCURRENT_REQUESTS;
  }

  /** Requests in flight (streams included). */
  get inFlight(): number {
    return this.#active;
  }

  /** Concurrency permits held by open streams (part of {@link RateLimiter.inFlight}). */
  get streams(): number {
    return this.#streams;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Permits of `bucket` usable right now (ignoring concurrency). */
  available(bucket: string): number {
    const b = this.#bucket(bucket);
    if (!b) return Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    this.#prune(b, now);
    if (b.blockedUntil > now) return 0;
    return Math.max(0, b.limit - b.held - b.releases.length);
  }

  /** Milliseconds until `bucket` has a permit (0 when one is free now; Infinity when all are in flight). */
  nextPermitDelay(bucket: string): number {
    const b = this.#bucket(bucket);
    if (!b) return 0;
    const now = this.#clock.now();
    this.#prune(b, now);
    let at = now;
    if (b.held + b.releases.length >= b.limit) {
      if (b.releases.length === 0) return Number.POSITIVE_INFINITY;
      at = Math.min(...b.releases);
    }
    return Math.max(at, b.blockedUntil) - now;
  }

  /**
   * Waits for a permit of `bucket` and a concurrency slot (FIFO per bucket).
   * @throws {@link AbortError} when `signal` fires while waiting.
   */
  acquire(bucket: string, signal?: AbortSignal): Promise<Permit> {
    if (signal?.aborted)
      return Promise.reject(new AbortError('waiting for a rate-limit permit was aborted', { cause: signal.reason }));
    return new Promise<Permit>((resolve, reject) => {
      const w: Waiter = { bucket, resolve, reject, signal, onAbort: undefined };
      if (signal) {
        w.onAbort = () => {
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(new AbortError('waiting for a rate-limit permit was aborted', { cause: signal.reason }));
          this.#pump();
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.#waiters.push(w);
      this.#pump();
      if (this.#waiters.includes(w)) this.stats.waited++;
    });
  }

  /**
   * Records an unexpected 429 on `bucket` (another process uses the same bot, or the server's phase
   * differed): no grants until the limiter's own next-permit time, or one segment when it thinks
   * permits are free. Retry-After is always 1 on this server and is ignored. Returns the delay in ms.
   */
  penalize(bucket: string): number {
    this.stats.penalties++;
    const b = this.#bucket(bucket);
    const now = this.#clock.now();
    let delay = this.nextPermitDelay(bucket);
    if (!(delay > 0) || !Number.isFinite(delay)) delay = this.#segmentMs;
    if (b) b.blockedUntil = Math.max(b.blockedUntil, now + delay);
    this.#pump();
    return delay;
  }

  /** Rejects every waiter with `err` (used by `RestClient.close()`). */
  rejectAll(err: Error): void {
    for (const w of this.#waiters.splice(0)) {
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      w.reject(err);
    }
    this.#clearTimer();
  }

  #bucket(name: string): Bucket | undefined {
    let b = this.#buckets.get(name);
    if (!b) {
      const limit = this.#limits[name];
      if (limit === undefined) return undefined;
      b = { limit, held: 0, releases: [], blockedUntil: 0 };
      this.#buckets.set(name, b);
    }
    return b;
  }

  #prune(b: Bucket, now: number): void {
    if (b.releases.length === 0) return;
    let j = 0;
    for (let i = 0; i < b.releases.length; i++) {
      const t = b.releases[i]!;
      if (t > now) b.releases[j++] = t;
    }
    b.releases.length = j;
  }

  #pump(): void {
    const now = this.#clock.now();
    let wake = Number.POSITIVE_INFINITY;
    const blocked = new Set<string>();
    for (let i = 0; i < this.#waiters.length && this.#active < this.#maxConcurrent; ) {
      const w = this.#waiters[i]!;
      if (blocked.has(w.bucket)) {
        i++;
        continue;
      }
      const b = this.#bucket(w.bucket);
      if (b) {
        this.#prune(b, now);
        const free = b.limit - b.held - b.releases.length;
        if (free <= 0 || b.blockedUntil > now) {
          blocked.add(w.bucket);
          const d = this.nextPermitDelay(w.bucket);
          if (Number.isFinite(d)) wake = Math.min(wake, now + d);
          i++;
          continue;
        }
        b.held++;
      }
      this.#waiters.splice(i, 1);
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort);
      this.#active++;
      this.stats.granted++;
      w.resolve(this.#permit(b));
    }
    this.#schedule(wake);
  }

  #permit(b: Bucket | undefined): Permit {
    let counted = false;
    let done = false;
    let held = false;
    const count = () => {
      if (counted) return;
      counted = true;
      if (b) {
        b.held--;
        b.releases.push(this.#clock.now() + this.#windowMs + this.#marginMs);
      }
    };
    return {
      counted: count,
      hold: () => {
        if (done || held) return;
        count();
        held = true;
        this.#streams++;
      },
      release: () => {
        if (done) return;
        count();
        done = true;
        if (held) this.#streams--;
        this.#active--;
        this.#pump();
      },
      cancel: () => {
        if (done) return;
        if (!counted && b) b.held--;
        if (held) this.#streams--;
        counted = true;
        done = true;
        this.#active--;
        this.#pump();
      },
    };
  }

  #schedule(at: number): void {
    if (at === this.#timerAt) return;
    this.#clearTimer();
    if (!Number.isFinite(at)) return;
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#pump();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
  }
}
