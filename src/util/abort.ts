/**
 * Deadlines and cancellation helpers shared by every waiting state.
 * @packageDocumentation
 */
import { AbortError, TimeoutError } from '../errors.js';
import { type Clock, systemClock } from './clock.js';

/** Options accepted by every call that can wait. */
export interface WaitOptions {
  /** Aborts the wait; the promise rejects with an {@link AbortError} whose `cause` is the signal's reason. */
  signal?: AbortSignal | undefined;
  /** Deadline in milliseconds; past it the promise rejects with a {@link TimeoutError}. */
  timeoutMs?: number | undefined;
}

/** Throws an {@link AbortError} if `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'the operation'): void {
  if (signal?.aborted) throw new AbortError(`${what} was aborted`, { cause: signal.reason });
}

/**
 * Races `promise` against an AbortSignal and a deadline. Cleans up its listeners and timer
 * whichever way it settles. `onCancel` runs when the signal or deadline wins.
 */
export function withDeadline<T>(
  promise: Promise<T>,
  what: string,
  options: WaitOptions & { clock?: Clock; onCancel?: (err: Error) => void } = {},
): Promise<T> {
  const { signal, timeoutMs, clock = systemClock, onCancel } = options;
  if (!signal && (timeoutMs === undefined || !Number.isFinite(timeoutMs))) return promise;
  return new Promise<T>((resolve, reject) => {
    let timer: unknown;
    const cleanup = () => {
      if (timer !== undefined) clock.clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      cleanup();
      try {
        onCancel?.(err);
      } finally {
        reject(err);
      }
    };
    const onAbort = () => fail(new AbortError(`${what} was aborted`, { cause: signal?.reason }));
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
      timer = clock.setTimeout(() => fail(new TimeoutError(what, timeoutMs)), timeoutMs);
    }
    promise.then(
      (v) => {
        cleanup();
        resolve(v);
      },
      (e) => {
        cleanup();
        reject(e);
      },
    );
  });
}

/** Sleeps `ms` on `clock`, rejecting with {@link AbortError} if `signal` fires first. */
export function sleep(ms: number, options: { signal?: AbortSignal | undefined; clock?: Clock } = {}): Promise<void> {
  const { signal, clock = systemClock } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError('sleep was aborted', { cause: signal.reason }));
      return;
    }
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(new AbortError('sleep was aborted', { cause: signal?.reason }));
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Exponential backoff with full jitter: `min(cap, base * 2^attempt) * random`.
 * `random` is injectable for deterministic tests.
 */
export function backoffDelay(
  attempt: number,
  baseMs = 250,
  capMs = 10_000,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.round(ceiling * (0.5 + random() / 2));
}
