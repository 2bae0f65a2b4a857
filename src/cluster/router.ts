/**
 * The event router: the one process that consumes the bot's SSE stream (a second stream would
 * split and starve it, docs/platform.md §R5.5) and republishes every event into JetStream,
 * partitioned by space. One router leads at a time through a KV lease; standbys take over when
 * the leader's lease expires.
 *
 * ```
 * standby ──Lease.claim(router) ok──► leading: cursor ◄─ KV; open SSE ─► for each event:
 *    ▲                                  seq ≤ cursor[partition]? skip (replayed) : js.publish(msgID = event id)
 *    └──── lease lost: close SSE at once (fence) ◄────────┘             cursor ─► KV every cursorEveryMs
 * ```
 * Resumption: the platform ignores Last-Event-ID and resumes implicitly from a per-(bot, space)
 * cursor on the server (§R5.5), so a new leader just connects; events replayed that the old
 * leader had already published are dropped by the cursor kept in KV and by JetStream's duplicate
 * window (the event id is the message id). Delivery stays at-most-once: an event the dead leader
 * had fetched but not yet published is lost (the platform acknowledged it when fetched).
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { ClosedError } from '../errors.js';
import type { ArgonEvent } from '../events/types.js';
import { sleep } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { isRevisionConflict, Lease } from './lease.js';
import { type ClusterStores, ensureEventStream, type NatsConnection, openStores } from './nats.js';
import { encode, parseRouterCursor, type RouterCursor } from './wire.js';

/** What the router needs of an event stream ({@link EventStream} fits). */
export interface RoutableEventStream extends AsyncIterable<ArgonEvent> {
  close(): Promise<void>;
}

/** Options of {@link EventRouter}. */
export interface EventRouterOptions {
  nats: NatsConnection;
  botId: string;
  /** Opens the bot's event stream when this router becomes leader (closed when it stops leading). */
  openEvents: () => RoutableEventStream;
  routerId?: string | undefined;
  /** Lease TTL when the cluster is new, ms (default 3000). */
  leaseTtlMs?: number | undefined;
  /** How often the cursor is written to KV while leading (default 200 ms). */
  cursorEveryMs?: number | undefined;
  clock?: Clock | undefined;
  log?: ((line: string) => void) | undefined;
}

/** State of an {@link EventRouter}. */
export type EventRouterState =
  | { status: 'idle' }
  | { status: 'standby' }
  | { status: 'leading'; since: number; resumedFrom: RouterCursor | undefined }
  | { status: 'closed' };

/** Events of an {@link EventRouter}. */
export type EventRouterEvents = {
  stateChange: [oldState: EventRouterState, newState: EventRouterState];
  /** An event was published (after JetStream acknowledged it). */
  routed: [event: ArgonEvent, subject: string];
  error: [error: Error];
};

/** Counters of an {@link EventRouter}. */
export interface EventRouterStats {
  published: number;
  /** Replayed events dropped because the cursor (or JetStream's duplicate window) had them. */
  duplicates: number;
  /** Times this router became leader. */
  terms: number;
  /** Receive-to-acknowledged publish time of recent events, ms (last 4096). */
  publishMs: number[];
}

/** Partition and sequence of an event id (`<spaceHex>_<seq>`, `direct_<seq>`); undefined for others. */
export function eventCursor(id: string | undefined): { partition: string; seq: number } | undefined {
  if (!id) return undefined;
  const i = id.lastIndexOf('_');
  if (i <= 0) return undefined;
  const seq = Number(id.slice(i + 1));
  return Number.isSafeInteger(seq) ? { partition: id.slice(0, i), seq } : undefined;
}

/** The space an event belongs to (its payload's `spaceId`), if any. */
export function eventSpaceId(ev: { data: unknown }): string | undefined {
  const d = ev.data as { spaceId?: unknown } | null | undefined;
  return d && typeof d === 'object' && typeof d.spaceId === 'string' && d.spaceId ? d.spaceId : undefined;
}

/** JSON with bigints (message ids, permission masks) as decimal strings. */
export function encodeEvent(ev: ArgonEvent): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ id: ev.id, type: ev.type, data: ev.data }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
  );
}

/**
 * The leader-elected event router of a bot. `start()` joins the election; `close()` stops
 * leading (releasing the lease) or standing by. `abandon()` stops at once without releasing.
 */
export class EventRouter extends TypedEmitter<EventRouterEvents> {
  readonly routerId: string;
  readonly stats: EventRouterStats = { published: 0, duplicates: 0, terms: 0, publishMs: [] };
  readonly #o: EventRouterOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  #state: EventRouterState = { status: 'idle' };
  #life = new AbortController();
  #loop: Promise<void> | undefined;
  #lease: Lease | undefined;
  #events: RoutableEventStream | undefined;

  constructor(options: EventRouterOptions) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.routerId = options.routerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  }

  get state(): EventRouterState {
    return this.#state;
  }

  #setState(next: EventRouterState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  #fault(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.#log(`router ${this.routerId}: ${e.message}`);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /**
   * Creates the stream and buckets, then stands by or leads.
   * @throws ClosedError after close(); what JetStream throws.
   */
  async start(): Promise<void> {
    if (this.#state.status === 'closed') throw new ClosedError('the router is closed');
    if (this.#state.status !== 'idle') return;
    const stores = await openStores(this.#o.nats, this.#o.botId, { leaseTtlMs: this.#o.leaseTtlMs });
    await ensureEventStream(this.#o.nats, stores.names);
    this.#setState({ status: 'standby' });
    this.#loop = this.#run(stores, jetstream(this.#o.nats));
  }

  async #run(stores: ClusterStores, js: JetStreamClient): Promise<void> {
    const signal = this.#life.signal;
    while (!signal.aborted) {
      let lease: Lease | undefined;
      try {
        lease = await Lease.claim({
          kv: stores.leases,
          key: stores.names.routerLease,
          holder: this.routerId,
          ttlMs: stores.leaseTtlMs,
          clock: this.#clock,
        });
      } catch (err) {
        this.#fault(err);
      }
      if (!lease) {
        await sleep(stores.leaseTtlMs / 6, { signal }).catch(() => undefined);
        continue;
      }
      if (signal.aborted) {
        await lease.release();
        break;
      }
      try {
        await this.#lead(stores, js, lease);
      } catch (err) {
        this.#fault(err);
      }
      await lease.release();
      if (!signal.aborted) this.#setState({ status: 'standby' });
    }
  }

  async #readCursor(stores: ClusterStores): Promise<{ cursor: RouterCursor | undefined; revision: number }> {
    const e = await stores.state.get(stores.names.routerCursor);
    if (e?.operation !== 'PUT') return { cursor: undefined, revision: e?.revision ?? 0 };
    try {
      return { cursor: parseRouterCursor(e.value), revision: e.revision };
    } catch (err) {
      this.#fault(err);
      return { cursor: undefined, revision: e.revision };
    }
  }

  async #lead(stores: ClusterStores, js: JetStreamClient, lease: Lease): Promise<void> {
    this.#lease = lease;
    const names = stores.names;
    const { cursor: resumed } = await this.#readCursor(stores);
    const cursor: RouterCursor = {
      v: 1,
      routerId: this.routerId,
      partitions: { ...(resumed?.partitions ?? {}) },
      lastEventId: resumed?.lastEventId,
      atMs: Date.now(),
    };
    this.stats.terms++;
    const events = this.#o.openEvents();
    this.#events = events;
    // Fence: the moment the lease is lost, this process stops consuming the bot's stream.
    const onLost = (why: string) => {
      this.#log(`router ${this.routerId}: lease lost (${why}); closing the event stream`);
      void events.close();
    };
    lease.on('lost', onLost);
    this.#setState({ status: 'leading', since: this.#clock.now(), resumedFrom: resumed });
    this.#log(`router ${this.routerId}: leading (resumed after ${resumed?.lastEventId ?? 'nothing'})`);
    let dirty = false;
    let writing: Promise<void> | undefined;
    const writeCursor = async () => {
      if (!dirty || !lease.valid) return;
      dirty = false;
      cursor.atMs = Date.now();
      try {
        await stores.state.put(names.routerCursor, encode(cursor));
      } catch (err) {
        if (!isRevisionConflict(err)) this.#fault(err);
      }
    };
    const every = this.#o.cursorEveryMs ?? 200;
    let timer: unknown;
    const tick = () => {
      timer = this.#clock.setTimeout(() => {
        writing = writeCursor().finally(tick);
      }, every);
    };
    tick();
    try {
      for await (const ev of events) {
        const t0 = this.#clock.now();
        if (!lease.valid) break;
        const pos = eventCursor(ev.id);
        if (pos) {
          const last = eventCursor(cursor.partitions[pos.partition]);
          if (last && pos.seq <= last.seq) {
            this.stats.duplicates++;
            continue;
          }
        }
        const subject = names.event(eventSpaceId(ev), ev.type);
        try {
          const ack = await js.publish(subject, encodeEvent(ev), ev.id && pos ? { msgID: ev.id } : undefined);
          if (ack.duplicate) this.stats.duplicates++;
          else this.stats.published++;
        } catch (err) {
          this.#fault(err);
          continue;
        }
        if (pos && ev.id) {
          cursor.partitions[pos.partition] = ev.id;
          cursor.lastEventId = ev.id;
        }
        dirty = true;
        const ms = this.#clock.now() - t0;
        this.stats.publishMs.push(ms);
        if (this.stats.publishMs.length > 4096) this.stats.publishMs.splice(0, 1024);
        this.emit('routed', ev, subject);
      }
    } finally {
      lease.off('lost', onLost);
      if (timer !== undefined) this.#clock.clearTimeout(timer);
      await writing?.catch(() => undefined);
      await writeCursor();
      await events.close().catch(() => undefined);
      this.#events = undefined;
      this.#lease = undefined;
    }
  }

  /** Stops leading (cursor written, lease released) or standing by. Idempotent. */
  async close(): Promise<void> {
    if (this.#state.status === 'closed') return;
    this.#life.abort();
    await this.#events?.close().catch(() => undefined);
    await this.#loop?.catch(() => undefined);
    this.#setState({ status: 'closed' });
  }

  /**
   * Stops at once without writing the cursor or releasing the lease (what `kill -9` leaves; the
   * lease expires after its TTL). For tests and benchmarks. Idempotent.
   */
  abandon(): void {
    if (this.#state.status === 'closed') return;
    this.#life.abort();
    this.#lease?.abandon();
    void this.#events?.close().catch(() => undefined);
    this.#setState({ status: 'closed' });
  }
}
