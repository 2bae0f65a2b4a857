/**
 * The two rate-limit layers of docs/platform.md §R3, both keyed by bot (AppId):
 *
 * 1. a concurrency limiter: 10 in-flight requests per bot, queue 0 (an SSE stream holds a permit);
 * 2. a sliding window per (bot, interface): 60 s in 6 segments of 10 s, queue 0.
 *
 * ASP.NET's SlidingWindowRateLimiter, replayed lazily against the injected clock (no timers):
 * ```
 *  segment index:   0    1    2    3    4    5      (advances every segmentMs since creation)
 *  counts:        [ 3 ][ 0 ][ 1 ][ 0 ][ 0 ][ 2 ]
 *                                  ^ current
 *  advance: current = (current + 1) % 6; available += counts[current]; counts[current] = 0
 * ```
 * So a permit comes back 50–60 s after it was used, in 10-s steps.
 * @packageDocumentation
 */
import type { Clock } from '../../util/clock.js';

/** Per-interface limits per minute (server appsettings, §R3). */
export const INTERFACE_LIMITS: Readonly<Record<string, number>> = {
  IMessages: 120,
  IInteractions: 120,
  ICommands: 60,
  IChannels: 60,
  ITyping: 60,
  IReactions: 60,
  ISpaces: 30,
  IMembers: 30,
  IArchetypes: 30,
  IVoice: 20,
  ICalls: 20,
  IBotSelf: 15,
  IVoiceEgress: 10,
  IEvents: 5,
};

/** In-flight requests allowed per bot. */
export const CONCURRENCY_LIMIT = 10;
const SEGMENTS = 6;

class SlidingWindow {
  available: number;
  readonly counts = new Array<number>(SEGMENTS).fill(0);
  current = 0;
  steps = 0;
  constructor(
    readonly limit: number,
    readonly createdAt: number,
  ) {
    this.available = limit;
  }

  catchUp(now: number, segmentMs: number): void {
    const due = Math.floor((now - this.createdAt) / segmentMs);
    // More than a full window of steps: everything has come back.
    if (due - this.steps > SEGMENTS) {
      this.available = this.limit;
      this.counts.fill(0);
      this.current = (this.current + (due - this.steps)) % SEGMENTS;
      this.steps = due;
      return;
    }
    while (this.steps < due) {
      this.steps++;
      this.current = (this.current + 1) % SEGMENTS;
      this.available += this.counts[this.current] ?? 0;
      this.counts[this.current] = 0;
    }
  }
}

/** Outcome of {@link RateLimiter.acquire}: a release function, or a rejection. */
export type AcquireResult = { ok: true; release: () => void } | { ok: false; layer: 'concurrency' | 'window' };

/** Per-bot concurrency + per-(bot, interface) sliding windows. */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #segmentMs: number;
  readonly #windows = new Map<string, SlidingWindow>();
  readonly #inFlight = new Map<string, number>();

  constructor(clock: Clock, segmentMs: number) {
    this.#clock = clock;
    this.#segmentMs = segmentMs;
  }

  /**
   * Takes a concurrency permit, then an interface permit (a concurrency rejection does not
   * consume an interface permit). The caller must call `release` when the response ends.
   */
  acquire(botId: string, iface: string): AcquireResult {
    const inFlight = this.#inFlight.get(botId) ?? 0;
    if (inFlight >= CONCURRENCY_LIMIT) return { ok: false, layer: 'concurrency' };
    const limit = INTERFACE_LIMITS[iface];
    if (limit !== undefined) {
      const key = `${botId}|${iface}`;
      const now = this.#clock.now();
      let w = this.#windows.get(key);
      if (!w) this.#windows.set(key, (w = new SlidingWindow(limit, now)));
      w.catchUp(now, this.#segmentMs);
      if (w.available <= 0) return { ok: false, layer: 'window' };
      w.available--;
      w.counts[w.current] = (w.counts[w.current] ?? 0) + 1;
    }
    this.#inFlight.set(botId, inFlight + 1);
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        const n = (this.#inFlight.get(botId) ?? 1) - 1;
        if (n <= 0) this.#inFlight.delete(botId);
        else this.#inFlight.set(botId, n);
      },
    };
  }

  /** Remaining interface permits right now (for tests and diagnostics). */
  remaining(botId: string, iface: string): number {
    const w = this.#windows.get(`${botId}|${iface}`);
    if (!w) return INTERFACE_LIMITS[iface] ?? Number.POSITIVE_INFINITY;
    w.catchUp(this.#clock.now(), this.#segmentMs);
    return w.available;
  }

  /** In-flight requests of a bot (SSE streams included). */
  inFlight(botId: string): number {
    return this.#inFlight.get(botId) ?? 0;
  }

  /** Forgets every sliding window (in-flight permits are kept: they belong to live requests). */
  resetWindows(): void {
    this.#windows.clear();
  }
}
