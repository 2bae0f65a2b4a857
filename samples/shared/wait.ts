/**
 * Small waiting helpers of the samples: until a signal aborts, until a condition holds.
 * @packageDocumentation
 */
import { AbortError, TimeoutError } from '../../src/errors.js';

/** Resolves when `signal` aborts (never, without one). */
export function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/**
 * Resolves when `predicate()` holds, re-checking whenever `check` calls its `wake` (it returns
 * its own unsubscribe). Rejects with a TimeoutError after `timeoutMs` (default 30 s), or an
 * AbortError when `signal` aborts.
 */
export function waitUntil(
  check: (wake: () => void) => () => void,
  predicate: () => boolean,
  what: string,
  options: { timeoutMs?: number; signal?: AbortSignal | undefined } = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (predicate()) return resolve();
    let unsubscribe: (() => void) | undefined;
    let done = false;
    const timeoutMs = options.timeoutMs ?? 30_000;
    const timer = setTimeout(() => finish(new TimeoutError(`waiting for ${what}`, timeoutMs)), timeoutMs);
    const onAbort = (): void => finish(new AbortError(`aborted while waiting for ${what}`));
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe?.();
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const off = check(() => {
      if (predicate()) finish();
    });
    // `check` may have woken us synchronously: then release at once.
    if (done) off();
    else unsubscribe = off;
  });
}
