/**
 * A small typed event emitter over Node's EventEmitter.
 *
 * Listener exceptions are contained: a throwing user listener is reported on `process`'s
 * `warning` channel and never corrupts the emitter's owner (STYLE.md, "Errors").
 * @packageDocumentation
 */
import { EventEmitter } from 'node:events';
import { redactSecrets } from '../errors.js';

/** Maps event names to listener argument tuples. */
export type EventMap = { [event: string]: unknown[] };

/** An EventEmitter whose `on`/`once`/`off`/`emit` are typed by an {@link EventMap}. */
export class TypedEmitter<E extends EventMap> {
  readonly #ee = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#ee.setMaxListeners(100);
  }

  /** Adds a listener. */
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#ee.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Adds a one-time listener. */
  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#ee.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Removes a listener. */
  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.#ee.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Number of listeners for `event`. */
  listenerCount<K extends keyof E & string>(event: K): number {
    return this.#ee.listenerCount(event);
  }

  /** Removes all listeners (of one event, or of all). */
  removeAllListeners<K extends keyof E & string>(event?: K): this {
    if (event === undefined) this.#ee.removeAllListeners();
    else this.#ee.removeAllListeners(event);
    return this;
  }

  /**
   * Emits `event`. Each listener runs in isolation: one that throws does not stop the others
   * and does not propagate into the emitter's owner. Returns whether anyone listened.
   *
   * `error` is special: with no listener it is dropped (the owner records the reason in its
   * state instead), never thrown as Node's EventEmitter would.
   */
  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): boolean {
    const listeners = this.#ee.rawListeners(event) as Array<(...a: unknown[]) => void>;
    if (listeners.length === 0) return false;
    for (const l of listeners) {
      try {
        // rawListeners returns once-wrappers, which remove themselves when called.
        l.apply(this, args);
      } catch (err) {
        process.emitWarning(
          redactSecrets(`argon-voice: a '${event}' listener threw: ${(err as Error)?.message ?? String(err)}`),
          {
            code: 'ARGON_VOICE_LISTENER_THREW',
          },
        );
      }
    }
    return true;
  }
}
