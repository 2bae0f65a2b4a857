/**
 * The one polling wait of the test suite: lets real I/O (sockets, workers, timers) run until a
 * condition holds. It bounds a wait so a broken test fails with a message instead of hanging; it
 * never asserts a duration.
 *
 * Waits with other semantics stay next to their tests on purpose: ones that drive a project
 * `ManualClock`/`TestClock` between polls (`tickUntil`, `waitConn`, `drive`), ones woken by events
 * (`Client.until` in the audio-gateway tests), and ones that report instead of throwing
 * (`untilTurns`, `untilPublished`).
 * @packageDocumentation
 */
import { vi } from 'vitest';

/** Options of {@link until}. */
export interface UntilOptions {
  /**
   * Budget of the wait in ms (default 5000). It counts the pauses between polls, not wall-clock
   * time: `cond` is checked at most `⌊timeoutMs / intervalMs⌋ + 1` times, so a loaded machine,
   * where every timer fires late, gets more wall time, never less. Under fake timers it is fake time.
   */
  timeoutMs?: number;
  /** Pause between two polls in ms (default 2). */
  intervalMs?: number;
}

/**
 * Resolves as soon as `cond()` returns true: checks it at once, then after every pause of
 * `intervalMs`. With vitest fake timers installed (`vi.useFakeTimers()`), a pause advances the fake
 * clock by `intervalMs` (`vi.advanceTimersByTimeAsync`) instead of waiting on a real timer, which
 * would never fire.
 * @param cond polled condition; must be cheap and must not throw.
 * @param what what is awaited, for the error message (`'first request'`, `'open state'`).
 * @throws Error `until: gave up after <timeoutMs> ms waiting for <what>` once the budget is spent.
 */
export async function until(cond: () => boolean, what: string, options: UntilOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const intervalMs = options.intervalMs ?? 2;
  if (!(intervalMs > 0)) throw new RangeError(`until: intervalMs must be > 0, got ${intervalMs}`);
  for (let waited = 0; ; waited += intervalMs) {
    if (cond()) return;
    if (waited >= timeoutMs) throw new Error(`until: gave up after ${timeoutMs} ms waiting for ${what}`);
    if (vi.isFakeTimers()) await vi.advanceTimersByTimeAsync(intervalMs);
    else await new Promise<void>((r) => setTimeout(r, intervalMs));
  }
}
