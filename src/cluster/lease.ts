/**
 * A lease on one key of a JetStream KV bucket whose TTL is the lease's lifetime: created with a
 * revision-checked `create`, renewed with a revision-checked `update`, expired by the server when
 * its holder stops renewing, released with a revision-checked `delete`. The schedule (renew,
 * fence) is the sans-IO {@link LeaseTimeline}; this class only runs it on a clock.
 * @packageDocumentation
 */
import type { KV } from '@nats-io/kv';
import { TimeoutError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { LeaseTimeline, type LeaseTimingOptions } from './lease-timeline.js';
import { encode } from './wire.js';

/** Events of a {@link Lease}. */
export type LeaseEvents = {
  /** The lease is lost (could not renew before its validity ended, or the key changed). Once. */
  lost: [why: 'expired' | 'conflict'];
  /** A renew failed without losing the lease yet (it is retried). */
  renewError: [error: Error];
};

/** True when a KV error means "the key is not at the revision you expected" (or exists already). */
export function isRevisionConflict(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /wrong last sequence|key exists|10071/i.test(msg);
}

/** Options of {@link Lease.claim}. */
export interface LeaseClaimOptions extends LeaseTimingOptions {
  kv: KV;
  key: string;
  holder: string;
  clock?: Clock | undefined;
}

/**
 * A held lease. Obtain one with {@link Lease.claim}; it renews itself until {@link Lease.release}
 * or until it is lost (`lost` event: stop the guarded work at once).
 */
export class Lease extends TypedEmitter<LeaseEvents> {
  readonly key: string;
  readonly holder: string;
  readonly #kv: KV;
  readonly #clock: Clock;
  readonly #t: LeaseTimeline;
  #timer: unknown;
  #done = false;
  #abandoned = false;

  private constructor(o: LeaseClaimOptions, timeline: LeaseTimeline) {
    super();
    this.key = o.key;
    this.holder = o.holder;
    this.#kv = o.kv;
    this.#clock = o.clock ?? systemClock;
    this.#t = timeline;
  }

  /**
   * Tries to take the key. Resolves with the lease, or undefined when someone else holds it.
   * @throws what the KV call throws other than a revision conflict (connection closed ...).
   */
  static async claim(o: LeaseClaimOptions): Promise<Lease | undefined> {
    const clock = o.clock ?? systemClock;
    const timeline = new LeaseTimeline(o);
    const sentAt = clock.now();
    let revision: number;
    try {
      revision = await o.kv.create(o.key, encode({ holder: o.holder, atMs: Date.now() }));
    } catch (err) {
      if (isRevisionConflict(err)) return undefined;
      throw err;
    }
    const lease = new Lease(o, timeline);
    timeline.granted(sentAt, revision);
    if (!timeline.isValid(clock.now())) {
      // The reply came so late that the lease may already be gone: treat as not taken.
      void o.kv.delete(o.key, { previousSeq: revision }).catch(() => undefined);
      return undefined;
    }
    lease.#schedule();
    return lease;
  }

  /** True while held and within its validity. */
  get valid(): boolean {
    return !this.#done && this.#t.isValid(this.#clock.now());
  }

  /** Revision of the key as last written by this holder. */
  get revision(): number | undefined {
    const s = this.#t.state;
    return s.status === 'held' ? s.revision : undefined;
  }

  #schedule(): void {
    if (this.#done) return;
    const now = this.#clock.now();
    const a = this.#t.next(now);
    if (a.action === 'fence') {
      this.#lose('expired');
      return;
    }
    if (a.action === 'renew') {
      void this.#renew(a.sentAtMs);
      this.#schedule();
      return;
    }
    if (a.action === 'wait') {
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#timer = this.#clock.setTimeout(
        () => {
          this.#timer = undefined;
          this.#schedule();
        },
        Math.max(1, a.untilMs - now),
      );
    }
  }

  async #renew(sentAtMs: number): Promise<void> {
    const s = this.#t.state;
    if (s.status !== 'held') return;
    const budget = s.validUntilMs - sentAtMs;
    try {
      const rev = await this.#kv.update(
        this.key,
        encode({ holder: this.holder, atMs: Date.now() }),
        s.revision,
        Math.max(1, Math.floor(budget)),
      );
      if (this.#done) {
        // Renewed after we had fenced or released: hand the key back rather than block others for
        // a TTL. Not after abandon(), which stands for a crash: the key then expires as it would.
        if (!this.#abandoned) void this.#kv.delete(this.key, { previousSeq: rev }).catch(() => undefined);
        return;
      }
      this.#t.renewed(sentAtMs, rev);
    } catch (err) {
      if (this.#done) return;
      const conflict = isRevisionConflict(err);
      if (this.#t.renewFailed(this.#clock.now(), conflict)) {
        this.#lose('conflict');
        return;
      }
      this.emit(
        'renewError',
        err instanceof Error ? err : new TimeoutError(`renewing lease ${this.key}`, Math.floor(budget)),
      );
    }
    this.#schedule();
  }

  #lose(why: 'expired' | 'conflict'): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.emit('lost', why);
  }

  /**
   * Stops renewing and deletes the key if it is still ours (revision-checked), so the next
   * holder need not wait for the TTL. Idempotent; never throws.
   */
  async release(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const rev = this.revision;
    this.#t.released();
    if (rev !== undefined) await this.#kv.delete(this.key, { previousSeq: rev }).catch(() => undefined);
  }

  /** Stops renewing without deleting (the key expires after its TTL), as a crash would. Idempotent. */
  abandon(): void {
    if (this.#done) return;
    this.#done = true;
    this.#abandoned = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#t.released();
  }
}
