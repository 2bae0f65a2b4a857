/**
 * Sans-IO timing of one lease: when to renew it, and when the holder must consider it lost and
 * stop what it guards (fencing). No timers inside: the caller passes the time of every step.
 *
 * ```
 *  sent renew ──► ok(sentAtMs) ─┬─ renewDue = sentAt + renewEvery ──► renew ...
 *                               └─ validUntil = sentAt + ttl − margin ──► fence (stop sessions)
 *  server: the key expires at (when the server stored it) + ttl  ≥  sentAt + ttl
 * ```
 * Validity counts from when the renew was *sent*, not when the reply came: the server stored it
 * later than that, so its expiry is later than ours by at least `margin`. A holder that cannot
 * renew therefore stops its sessions before any other process can claim the key, and two
 * processes never both believe they hold it.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

/** Timing of a lease. */
export interface LeaseTimingOptions {
  /** Lease lifetime on the server (the KV bucket's TTL), ms. */
  ttlMs: number;
  /** Renew this long after the last successful renew was sent (default ttl / 3). */
  renewEveryMs?: number | undefined;
  /** Stop guarded work this long before the server would expire the key (default ttl / 4). */
  fenceMarginMs?: number | undefined;
}

/** State of a {@link LeaseTimeline}. */
export type LeaseTimelineState =
  | { status: 'free' }
  | { status: 'held'; revision: number; validUntilMs: number; renewDueMs: number; renewSentAtMs: number | undefined }
  | { status: 'lost'; why: 'expired' | 'conflict' | 'released' };

/** What the holder should do now. */
export type LeaseAction =
  | { action: 'renew'; sentAtMs: number }
  | { action: 'fence' }
  | { action: 'wait'; untilMs: number }
  | { action: 'none' };

/** The renew/fence schedule of one lease, driven by the caller's clock. */
export class LeaseTimeline {
  readonly ttlMs: number;
  readonly renewEveryMs: number;
  readonly fenceMarginMs: number;
  #state: LeaseTimelineState = { status: 'free' };

  /** @throws InvalidInputError for a non-positive TTL or a schedule that cannot renew in time. */
  constructor(options: LeaseTimingOptions) {
    const { ttlMs } = options;
    if (!(ttlMs > 0)) throw new InvalidInputError(`lease ttlMs must be > 0, got ${ttlMs}`);
    this.ttlMs = ttlMs;
    this.renewEveryMs = options.renewEveryMs ?? ttlMs / 3;
    this.fenceMarginMs = options.fenceMarginMs ?? ttlMs / 4;
    if (!(this.renewEveryMs > 0) || !(this.fenceMarginMs >= 0) || this.renewEveryMs >= ttlMs - this.fenceMarginMs)
      throw new InvalidInputError('lease renewEveryMs must be > 0 and below ttlMs − fenceMarginMs');
  }

  /** Current state. */
  get state(): LeaseTimelineState {
    return this.#state;
  }

  /** True while held and not past its validity at `nowMs`. */
  isValid(nowMs: number): boolean {
    return this.#state.status === 'held' && nowMs < this.#state.validUntilMs;
  }

  /** A claim (create) sent at `sentAtMs` succeeded with `revision`. */
  granted(sentAtMs: number, revision: number): void {
    this.#state = {
      status: 'held',
      revision,
      validUntilMs: sentAtMs + this.ttlMs - this.fenceMarginMs,
      renewDueMs: sentAtMs + this.renewEveryMs,
      renewSentAtMs: undefined,
    };
  }

  /** What to do at `nowMs`; `renew` marks the renew as in flight until {@link renewed} / {@link renewFailed}. */
  next(nowMs: number): LeaseAction {
    const s = this.#state;
    if (s.status !== 'held') return { action: 'none' };
    if (nowMs >= s.validUntilMs) {
      this.#state = { status: 'lost', why: 'expired' };
      return { action: 'fence' };
    }
    if (s.renewSentAtMs === undefined && nowMs >= s.renewDueMs) {
      s.renewSentAtMs = nowMs;
      return { action: 'renew', sentAtMs: nowMs };
    }
    // While a renew is in flight the next deadline is the fence; otherwise the renew.
    return { action: 'wait', untilMs: s.renewSentAtMs === undefined ? s.renewDueMs : s.validUntilMs };
  }

  /** The renew sent at `sentAtMs` succeeded with `revision`. Ignored once lost. */
  renewed(sentAtMs: number, revision: number): void {
    const s = this.#state;
    if (s.status !== 'held') return;
    this.granted(sentAtMs, revision);
  }

  /**
   * A renew failed. `conflict`: the key changed under us (another holder, or it was deleted):
   * lost at once. Otherwise (timeout, connection) the renew is tried again `ttl / 10` after
   * `nowMs`, and the validity stays as it was.
   * @returns true when the lease is now lost (fence).
   */
  renewFailed(nowMs: number, conflict: boolean): boolean {
    const s = this.#state;
    if (s.status !== 'held') return s.status === 'lost';
    if (conflict) {
      this.#state = { status: 'lost', why: 'conflict' };
      return true;
    }
    s.renewSentAtMs = undefined;
    s.renewDueMs = Math.min(nowMs + this.ttlMs / 10, s.validUntilMs);
    return false;
  }

  /** The holder let go. */
  released(): void {
    this.#state = { status: 'lost', why: 'released' };
  }
}
