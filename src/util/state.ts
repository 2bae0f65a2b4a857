/**
 * Helper for long-lived objects whose state is a discriminated union (STYLE.md, "Lifecycles"):
 * wait until the state reaches a status, with a deadline and an AbortSignal.
 * @packageDocumentation
 */
import { ClosedError } from '../errors.js';
import type { Clock } from './clock.js';
import { type WaitOptions, withDeadline } from './abort.js';

/** Minimal shape of an object with a `status`-tagged state and `stateChange` events. */
export interface StatefulLike<S extends { status: string }> {
  readonly state: S;
  on(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
  off(event: 'stateChange', listener: (oldState: S, newState: S) => void): unknown;
}

/**
 * Resolves with the state once `target.state.status === status`; rejects with {@link ClosedError}
 * if the object reaches its terminal status first (`closed`, or `options.terminal`).
 */
export function waitForStatus<S extends { status: string }, K extends S['status']>(
  target: StatefulLike<S>,
  status: K,
  options: WaitOptions & { clock?: Clock; what?: string; terminal?: string } = {},
): Promise<Extract<S, { status: K }>> {
  const terminal = options.terminal ?? 'closed';
  const current = target.state;
  if (current.status === status) return Promise.resolve(current as Extract<S, { status: K }>);
  let listener: ((o: S, n: S) => void) | undefined;
  const p = new Promise<Extract<S, { status: K }>>((resolve, reject) => {
    if (current.status === terminal) {
      reject(new ClosedError(`${options.what ?? 'object'} is closed; it will never become '${status}'`));
      return;
    }
    listener = (_o, n) => {
      if (n.status === status) {
        target.off('stateChange', listener!);
        resolve(n as Extract<S, { status: K }>);
      } else if (n.status === terminal) {
        target.off('stateChange', listener!);
        const reason = (n as unknown as { reason?: unknown }).reason;
        reject(new ClosedError(`${options.what ?? 'object'} closed before becoming '${status}'`, { cause: reason }));
      }
    };
    target.on('stateChange', listener);
  });
  return withDeadline(p, `waiting for ${options.what ?? 'object'} to become '${status}'`, {
    ...options,
    onCancel: () => listener && target.off('stateChange', listener),
  });
}
