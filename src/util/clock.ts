/**
 * Time sources. Everything timed in argon-voice (pacer, jitter buffer, heartbeats, retries)
 * takes a {@link Clock} so tests can drive it with fake time instead of wall-clock tolerances.
 * @packageDocumentation
 */
import { performance } from 'node:perf_hooks';

/** A monotonic millisecond clock plus the timer functions driven by it. */
export interface Clock {
  /** Monotonic time in milliseconds (fractional). Never goes backwards. */
  now(): number;
  /** Schedules `fn` after `ms`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a handle returned by {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/** Longest delay Node's timers take (about 24.8 days); Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer longer than {@link MAX_TIMER_MS}: a chain of Node timers of at most that length, so
 * that a delay of months waits months instead of firing at once. `unref()`/`ref()` carry over to
 * every timer of the chain.
 */
class LongTimeout {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #left: number;
  #refed = true;
  readonly #fn: () => void;

  constructor(fn: () => void, ms: number) {
    this.#fn = fn;
    this.#left = ms;
    this.#arm();
  }

  #arm(): void {
    const step = Math.min(this.#left, MAX_TIMER_MS);
    this.#timer = setTimeout(() => {
      this.#left -= step;
      if (this.#left > 0) this.#arm();
      else {
        this.#timer = undefined;
        this.#fn();
      }
    }, step);
    if (!this.#refed) this.#timer.unref?.();
  }

  unref(): this {
    this.#refed = false;
    this.#timer?.unref?.();
    return this;
  }

  ref(): this {
    this.#refed = true;
    this.#timer?.ref?.();
    return this;
  }

  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The real clock: `performance.now()` and Node's timers (so vitest fake timers also drive it).
 * Delays longer than {@link MAX_TIMER_MS} are waited out in steps instead of firing at once.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => (ms > MAX_TIMER_MS ? new LongTimeout(fn, ms) : setTimeout(fn, ms)),
  clearTimeout: (handle) => {
    if (handle instanceof LongTimeout) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * A clock that only moves when told to. Timers fire in deadline order during {@link ManualClock.advance}.
 * Useful for sans-IO components (pacer schedule, jitter buffer, watchdogs) in unit tests.
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void; seq: number }>();

  constructor(startMs = 0) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), fn, seq: id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Number of timers still pending. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: { id: number; at: number; fn: () => void; seq: number } | undefined;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = { id, ...t };
      }
      if (!next) break;
      this.#timers.delete(next.id);
      this.#now = Math.max(this.#now, next.at);
      next.fn();
    }
    this.#now = target;
  }

  /** Sets the time (must not go backwards), firing due timers. */
  set(ms: number): void {
    if (ms < this.#now) throw new RangeError('ManualClock cannot go backwards');
    this.advance(ms - this.#now);
  }
}
