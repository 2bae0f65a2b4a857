/**
 * A voice worker: claims spaces through KV leases, runs their voice sessions, answers their
 * commands, persists each queue and position, and gives a space up at once when its lease is
 * lost (fencing).
 *
 * ```
 * state bucket (space.<id>: active) ──watch──► candidates ──(wait load × placementStep)──► Lease.claim
 *      ▲                                                                                    │
 *      └── update(state, rev) every positionEveryMs ◄── SpaceSession ◄── subscribe cmd.<id> ◄┘
 * lease lost ─► session.destroy() + unsubscribe          drain() ─► stop, write position, release
 * ```
 * State: `idle → running → draining → closed`.
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import type { KvEntry, KvWatchEntry } from '@nats-io/kv';
import type { Status, Subscription } from '@nats-io/transport-node';
import { ClosedError } from '../errors.js';
import { PacerThread } from '../pacing/pacer.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { MediaWorkerPool } from '../voice/media/pool.js';
import { ClusterError } from './errors.js';
import { isRevisionConflict, Lease } from './lease.js';
import {
  answerAlive,
  type ClusterStores,
  defaultProbeAfterMs,
  type NatsConnection,
  openStores,
  probeAlive,
} from './nats.js';
import {
  PlaybackSession,
  type PlaybackSessionOptions,
  type SpaceSession,
  type SpaceSessionContext,
} from './playback.js';
import { RecordingSession, type RecordingSessionOptions } from './recording.js';
import {
  type ClusterCommand,
  type CommandReply,
  encode,
  parseCommand,
  parseLease,
  parseSpaceState,
  parseWorkerStatus,
  type SpaceState,
  type WorkerStatus,
} from './wire.js';

/** Options of {@link VoiceWorker}. */
export interface VoiceWorkerOptions {
  /** A connected NATS client (not closed by the worker). */
  nats: NatsConnection;
  /** The bot's id (names subjects and buckets; never the token). */
  botId: string;
  /** Unique id of this worker (default `<host>-<pid>-<random>`). */
  workerId?: string | undefined;
  /** Lease TTL for a new lease bucket, ms (default 3000; an existing bucket keeps its own). */
  leaseTtlMs?: number | undefined;
  /** Most spaces held at once (default 8), `extraLoad` included. */
  maxStreams?: number | undefined;
  /**
   * Other load of this process counted like held spaces, against `maxStreams` and in the load
   * peers compare (e.g. `() => callWorker.calls.length` when calls run in the same process).
   * Read at every placement pass and heartbeat; a value that is not a finite number >= 0 counts as 0.
   */
  extraLoad?: (() => number) | undefined;
  /** No new space while this process uses more CPU than this (percent of one core; default none). */
  maxCpuPct?: number | undefined;
  /**
   * Placement step (default 200 ms): a worker that is not the least loaded waits two lease TTLs plus
   * this per space above the least loaded before claiming a free space (the least loaded claims
   * at once), so spaces spread evenly and a stalled worker is still covered.
   */
  placementStepMs?: number | undefined;
  /** How often each held space's queue and position are written to KV (default 250 ms). */
  positionEveryMs?: number | undefined;
  /** Heartbeat period on `argon.<bot>.status.<worker>` (default 1000 ms). */
  heartbeatMs?: number | undefined;
  /** Placement scan period (default 50 ms). */
  tickMs?: number | undefined;
  /**
   * Fast takeover (default: the lease's renew period + max(100 ms, TTL/10)): when a space's lease
   * has not been renewed for this long, its holder is probed on `argon.<bot>.alive.<holder>`; if
   * the server answers "no responders" (the holder's connection is gone: the process died), the
   * lease is deleted revision-checked and claimed at once instead of after its TTL. A holder that
   * is alive but slow still answers (or times out), and keeps its lease. `false` turns it off.
   */
  probeAfterMs?: number | false | undefined;
  /**
   * Keep the pacer thread and a media thread running while the worker runs, so taking spaces
   * over does not boot threads on the critical path (default: true with the default session,
   * false with a custom `createSession`).
   */
  warm?: boolean | undefined;
  /** The default session's options (REST client for StreamToken, gateway URL ...). */
  playback?: PlaybackSessionOptions | undefined;
  /**
   * Options of recording units' sessions (the bot identities that subscribe, one per recorded
   * user). Without them a recording unit this worker takes stops with an `error` in its state.
   */
  recording?: RecordingSessionOptions | undefined;
  /**
   * Builds the session of a claimed space (default: {@link RecordingSession} with `recording`
   * for `kind: 'recording'`, else {@link PlaybackSession} with `playback`).
   */
  createSession?: ((ctx: SpaceSessionContext) => SpaceSession) | undefined;
  clock?: Clock | undefined;
  log?: ((line: string) => void) | undefined;
}

/** State of a {@link VoiceWorker}. */
export type VoiceWorkerState =
  | { status: 'idle' }
  | { status: 'running'; stores: ClusterStores }
  | { status: 'draining'; stores: ClusterStores }
  | { status: 'closed'; reason?: Error | undefined };

/** Events of a {@link VoiceWorker}. */
export type VoiceWorkerEvents = {
  stateChange: [oldState: VoiceWorkerState, newState: VoiceWorkerState];
  /** This worker took a space (`resumedAtMs`: where its current track restarted). */
  claimed: [spaceId: string, info: { epoch: number; resumedAtMs: number | undefined }];
  /** This worker gave a space up (`lost`: the lease could not be kept; the session was stopped). */
  released: [spaceId: string, why: 'lost' | 'stopped' | 'drained' | 'failed' | 'closed'];
  /** A liveness probe of another worker answered (`alive`) or found its connection gone. */
  probed: [workerId: string, alive: boolean];
  /** A non-fatal fault (malformed message, KV error). */
  error: [error: Error];
};

/** Holds the pacer thread and a media thread for as long as the worker runs. */
function warmThreads(): Array<() => void> {
  return [PacerThread.shared().hold(), MediaWorkerPool.shared().hold()];
}

interface Held {
  spaceId: string;
  lease: Lease;
  session: SpaceSession;
  sub: Subscription;
  stateRev: number;
  state: SpaceState;
  persistTimer: unknown;
  dirty: boolean;
  writing: boolean;
}

interface Known {
  state: SpaceState;
  /** Local time the lease was last seen written, undefined: not seen / deleted. */
  leaseSeenMs: number | undefined;
  leaseHolder: string | undefined;
  /** Revision of the lease as last seen (for a revision-checked takeover). */
  leaseRev: number | undefined;
  /** Set when the holder was found dead: delete this lease revision, then claim. */
  takeoverRev: number | undefined;
  /** Local time since which the space looks free. */
  freeSinceMs: number | undefined;
  nextTryMs: number;
}

/**
 * A voice worker of a bot's cluster. `start()` it; `drain()` hands its spaces over; `close()`
 * drains too. `abandon()` stops at once without releasing anything (what a crash leaves).
 */
export class VoiceWorker extends TypedEmitter<VoiceWorkerEvents> {
  readonly workerId: string;
  readonly #o: VoiceWorkerOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  #state: VoiceWorkerState = { status: 'idle' };
  readonly #known = new Map<string, Known>();
  readonly #held = new Map<string, Held>();
  readonly #claiming = new Set<string>();
  #watches: Array<{ stop(): void }> = [];
  /** Other workers' last heartbeats (load, when heard), for placement. */
  readonly #peers = new Map<string, { load: number; max: number; draining: boolean; heardMs: number }>();
  #statusSub: Subscription | undefined;
  #tick: unknown;
  #beat: unknown;
  #cpu = { usage: process.cpuUsage(), atMs: 0, pct: 0 };
  /** Holders whose connection the server no longer has (probe answered "no responders"), and when. */
  readonly #deadHolders = new Map<string, number>();
  /** Holders with a liveness probe in flight, and when each was last probed. */
  readonly #probedAt = new Map<string, number>();
  #aliveSub: Subscription | undefined;
  #connStatus: (AsyncIterable<Status> & { stop?: () => void }) | undefined;
  #unwarm: Array<() => void> = [];

  constructor(options: VoiceWorkerOptions) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  }

  /** Current state. */
  get state(): VoiceWorkerState {
    return this.#state;
  }

  /** Spaces held now. */
  get spaces(): string[] {
    return [...this.#held.keys()];
  }

  /** The session of a held space (tests, metrics). */
  session(spaceId: string): SpaceSession | undefined {
    return this.#held.get(spaceId)?.session;
  }

  #setState(next: VoiceWorkerState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  #fault(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.#log(`worker ${this.workerId}: ${e.message}`);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /**
   * Opens the buckets, starts watching spaces and leases, and begins claiming.
   * @throws ClosedError after close(); what JetStream throws (no JetStream on the server ...).
   */
  async start(): Promise<void> {
    if (this.#state.status === 'closed') throw new ClosedError('the worker is closed');
    if (this.#state.status !== 'idle') return;
    const stores = await openStores(this.#o.nats, this.#o.botId, { leaseTtlMs: this.#o.leaseTtlMs });
    this.#setState({ status: 'running', stores });
    const stateWatch = await stores.state.watch({ key: 'space.>' });
    const leaseWatch = await stores.leases.watch({ key: 'space.>' });
    this.#watches = [stateWatch, leaseWatch];
    void this.#consume(stateWatch, (e) => this.#onState(e));
    void this.#consume(leaseWatch, (e) => this.#onLease(e));
    this.#statusSub = this.#o.nats.subscribe(stores.names.statusAll, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const st = parseWorkerStatus(msg.data);
          if (st.workerId === this.workerId) return;
          const now = this.#clock.now();
          const known = this.#peers.get(st.workerId);
          const wasLive = known !== undefined && now - known.heardMs <= this.#freshMs;
          this.#peers.set(st.workerId, {
            load: st.load,
            max: st.maxStreams,
            draining: st.draining,
            heardMs: now,
          });
          // A worker we did not know (just started, or back after a stall) learns of us at once
          // rather than at our next periodic heartbeat: until it has heard every live peer it
          // would take itself for the least loaded and claim every free space.
          if (!wasLive) this.#heartbeat();
        } catch (e) {
          this.#fault(e);
        }
      },
    });
    // Answered for as long as this connection lives: peers probe it before taking a space early.
    this.#aliveSub = answerAlive(this.#o.nats, stores.names.alive(this.workerId));
    const status = this.#o.nats.status();
    this.#connStatus = status;
    void this.#watchConnection(status);
    void this.#o.nats.closed().then(() => this.#fenceAll('closed'));
    if (this.#o.warm ?? this.#o.createSession === undefined) this.#unwarm = warmThreads();
    this.#cpu.atMs = this.#clock.now();
    const tick = () => {
      this.#tick = this.#clock.setTimeout(tick, this.#o.tickMs ?? 50);
      this.#place();
    };
    tick();
    const beat = () => {
      this.#beat = this.#clock.setTimeout(beat, this.#o.heartbeatMs ?? 1000);
      this.#heartbeat();
    };
    beat();
  }

  /**
   * Fences every held space when the NATS connection drops: peers may take them over as soon as
   * the server reports this connection gone (fast takeover), so no session may outlive it.
   */
  async #watchConnection(status: AsyncIterable<Status>): Promise<void> {
    try {
      for await (const s of status) if (s.type === 'disconnect') this.#fenceAll('lost');
    } catch (err) {
      if (this.#state.status !== 'closed') this.#fault(err);
    }
  }

  #fenceAll(what: string): void {
    const held = [...this.#held.values()];
    if (held.length === 0 || this.#state.status === 'closed') return;
    this.#log(`worker ${this.workerId}: NATS connection ${what}; stopping ${held.length} session(s)`);
    for (const h of held) this.#drop(h, 'lost');
  }

  async #consume(it: AsyncIterable<KvWatchEntry>, fn: (e: KvWatchEntry) => void): Promise<void> {
    try {
      for await (const e of it) {
        try {
          fn(e);
        } catch (err) {
          this.#fault(err);
        }
      }
    } catch (err) {
      if (this.#state.status !== 'closed') this.#fault(err);
    }
  }

  #spaceIdOf(key: string): string {
    return key.slice('space.'.length);
  }

  #onState(e: KvWatchEntry): void {
    const key = this.#spaceIdOf(e.key);
    if (e.operation !== 'PUT') {
      this.#known.delete(key);
      return;
    }
    const state = parseSpaceState(e.value);
    const k = this.#known.get(key);
    if (!state.active) {
      this.#known.delete(key);
      return;
    }
    if (k) k.state = state;
    else {
      const now = this.#clock.now();
      this.#known.set(key, {
        state,
        leaseSeenMs: undefined,
        leaseHolder: undefined,
        leaseRev: undefined,
        takeoverRev: undefined,
        freeSinceMs: now,
        nextTryMs: now,
      });
    }
  }

  #onLease(e: KvWatchEntry): void {
    const key = this.#spaceIdOf(e.key);
    const k = this.#known.get(key);
    const now = this.#clock.now();
    if (e.operation !== 'PUT') {
      if (k) {
        k.leaseSeenMs = undefined;
        k.leaseHolder = undefined;
        k.leaseRev = undefined;
        k.takeoverRev = undefined;
        k.freeSinceMs = now;
      }
      return;
    }
    const v = parseLease(e.value);
    if (k) {
      k.leaseSeenMs = now;
      k.leaseHolder = v.holder;
      k.leaseRev = e.revision;
      k.takeoverRev = undefined;
      k.freeSinceMs = undefined;
    } else {
      // A lease on a space whose state we have not seen yet: remember it for when it arrives.
      this.#pendingLeases.set(key, { seenMs: now, holder: v.holder, rev: e.revision });
    }
  }

  readonly #pendingLeases = new Map<string, { seenMs: number; holder: string; rev: number }>();

  /**
   * Spaces held plus claims in flight: what placement compares against its peers' loads. (The
   * heartbeat publishes only the spaces held: a claim in flight may still fail, and a peer that
   * counted it would think this worker busier than it is and take one space too many.)
   */
  get load(): number {
    return this.#held.size + this.#claiming.size + this.#extraLoad();
  }

  #extraLoad(): number {
    let n = 0;
    try {
      n = this.#o.extraLoad?.() ?? 0;
    } catch (err) {
      this.#fault(err);
    }
    return Number.isFinite(n) && n > 0 ? n : 0;
  }

  /** A peer counts as live while heard within three heartbeats (and until one of its leases expires). */
  get #freshMs(): number {
    return (this.#o.heartbeatMs ?? 1000) * 3;
  }

  /**
   * Ids of the other workers this one hears as live (heartbeat within three periods), draining
   * ones included. Placement only spreads spaces over workers that know each other.
   */
  get peers(): string[] {
    const now = this.#clock.now();
    return [...this.#peers].filter(([, p]) => now - p.heardMs <= this.#freshMs).map(([id]) => id);
  }

  #cpuPct(): number {
    const now = this.#clock.now();
    const dt = now - this.#cpu.atMs;
    if (dt >= 1000) {
      const u = process.cpuUsage(this.#cpu.usage);
      this.#cpu = { usage: process.cpuUsage(), atMs: now, pct: ((u.user + u.system) / 1000 / dt) * 100 };
    }
    return this.#cpu.pct;
  }

  #place(): void {
    const st = this.#state;
    if (st.status !== 'running') return;
    const now = this.#clock.now();
    const ttl = st.stores.leaseTtlMs;
    const max = this.#o.maxStreams ?? 8;
    const step = this.#o.placementStepMs ?? 200;
    for (const [spaceId, k] of this.#known) {
      if (this.#held.has(spaceId) || this.#claiming.has(spaceId)) continue;
      const pending = this.#pendingLeases.get(spaceId);
      if (pending) {
        this.#pendingLeases.delete(spaceId);
        k.leaseSeenMs = pending.seenMs;
        k.leaseHolder = pending.holder;
        k.leaseRev = pending.rev;
        k.freeSinceMs = undefined;
      }
      // Renewals arrive every ttl/3: silence for a whole TTL means the server has expired it.
      if (k.leaseSeenMs !== undefined && now - k.leaseSeenMs > ttl) {
        // Its holder stopped renewing: it is gone (or cut off), so it no longer counts as a live,
        // lightly loaded peer that the others should leave free spaces to.
        if (k.leaseHolder !== undefined) this.#peers.delete(k.leaseHolder);
        k.leaseSeenMs = undefined;
        k.takeoverRev = undefined;
        k.freeSinceMs = now;
      }
      if (k.leaseSeenMs !== undefined && k.takeoverRev === undefined) this.#checkHolder(k, now);
      if ((k.leaseSeenMs !== undefined && k.takeoverRev === undefined) || k.freeSinceMs === undefined) continue;
      if (this.load >= max) return;
      if (this.#o.maxCpuPct !== undefined && this.#cpuPct() > this.#o.maxCpuPct) return;
      if (now < k.nextTryMs || now < k.freeSinceMs + this.#placementDelay(now, step, ttl)) continue;
      k.nextTryMs = now + ttl / 15; // a claim tried just before the server expired the key: try again soon
      void this.#claim(spaceId, st.stores);
    }
  }

  /**
   * A lease overdue for renewal: probe its holder; once the server says the holder's connection
   * is gone, the space counts as free (claimed by deleting that lease revision first).
   */
  #checkHolder(k: Known, now: number): void {
    const after = this.#probeAfterMs;
    const holder = k.leaseHolder;
    if (after === undefined || holder === undefined || holder === this.workerId || k.leaseRev === undefined) return;
    if (now - k.leaseSeenMs! <= after) return;
    const deadAt = this.#deadHolders.get(holder);
    if (deadAt !== undefined && deadAt >= k.leaseSeenMs!) {
      // Gone: no longer a live, lightly loaded peer the others should leave free spaces to.
      this.#peers.delete(holder);
      k.takeoverRev = k.leaseRev;
      k.freeSinceMs = deadAt;
      return;
    }
    const last = this.#probedAt.get(holder);
    if (last !== undefined && now - last < after / 2) return;
    this.#probedAt.set(holder, now);
    void this.#probe(holder);
  }

  /** Renew period + max(100 ms, TTL/10), or undefined when fast takeover is off. */
  get #probeAfterMs(): number | undefined {
    const st = this.#state;
    if (this.#o.probeAfterMs === false || (st.status !== 'running' && st.status !== 'draining')) return undefined;
    const ttl = st.stores.leaseTtlMs;
    return this.#o.probeAfterMs ?? defaultProbeAfterMs(ttl);
  }

  async #probe(holder: string): Promise<void> {
    const st = this.#state;
    if (st.status !== 'running') return;
    const sentAt = this.#clock.now();
    const found = await probeAlive(this.#o.nats, st.stores.names.alive(holder));
    if (found === 'unknown') return; // a timeout proves nothing: wait for the TTL
    if (found === 'alive') {
      this.#deadHolders.delete(holder);
      this.emit('probed', holder, true);
      return;
    }
    this.#deadHolders.set(holder, sentAt);
    this.#log(`worker ${this.workerId}: ${holder} is gone (its NATS connection closed); taking its spaces over`);
    this.emit('probed', holder, false);
  }

  /**
   * How long after a space became free this worker may claim it. The least loaded live worker
   * (by the heartbeats every worker publishes at each claim and release) claims at once, ties in
   * id order 50 ms apart; every other worker waits two lease TTLs plus `placementStepMs` per space
   * it holds above the least loaded, so it only steps in when the least loaded does not (full,
   * stalled or gone). Loads stay within one of each other.
   */
  #placementDelay(now: number, step: number, ttlMs: number): number {
    // Peers' loads are spaces they hold (never an in-flight claim that may fail), so a stale load
    // is at most an underestimate and only makes this worker wait longer, never claim more: with
    // every live worker known, held counts stay within one of each other.
    const fresh = this.#freshMs;
    let least = this.load;
    let ahead = 0;
    for (const [id, p] of this.#peers) {
      if (now - p.heardMs > fresh || p.draining || p.load >= p.max) continue;
      if (p.load < least) {
        least = p.load;
        ahead = 0;
      }
      if (p.load === least && p.load === this.load && id < this.workerId) ahead++;
    }
    return this.load > least ? 2 * ttlMs + (this.load - least) * step : ahead * 50;
  }

  async #claim(spaceId: string, stores: ClusterStores): Promise<void> {
    this.#claiming.add(spaceId);
    const names = stores.names;
    let lease: Lease | undefined;
    try {
      const k = this.#known.get(spaceId);
      if (k?.takeoverRev !== undefined) {
        // The holder is gone but its key has not expired: delete exactly the revision it last
        // wrote (fails if it renewed since, or someone else took over first), then claim.
        const rev = k.takeoverRev;
        k.takeoverRev = undefined;
        await stores.leases.delete(names.spaceLease(spaceId), { previousSeq: rev }).catch((err: unknown) => {
          if (!isRevisionConflict(err)) throw err;
        });
      }
      lease = await Lease.claim({
        kv: stores.leases,
        key: names.spaceLease(spaceId),
        holder: this.workerId,
        ttlMs: stores.leaseTtlMs,
        clock: this.#clock,
      });
      if (!lease) return;
      if (this.#state.status !== 'running') {
        await lease.release();
        return;
      }
      // Take the state as it is now, and stamp it ours (revision-checked).
      const entry: KvEntry | null = await stores.state.get(names.spaceState(spaceId));
      if (entry?.operation !== 'PUT') {
        await lease.release();
        return;
      }
      const prev = parseSpaceState(entry.value);
      if (!prev.active) {
        await lease.release();
        return;
      }
      const state: SpaceState = { ...prev, holder: this.workerId, epoch: prev.epoch + 1 };
      const rev = await stores.state.update(names.spaceState(spaceId), encode(state), entry.revision);
      if (!lease.valid) return;
      const session = (
        this.#o.createSession ??
        ((ctx) =>
          ctx.state.kind === 'recording'
            ? new RecordingSession(ctx, this.#o.recording)
            : new PlaybackSession(ctx, this.#requirePlayback()))
      )({
        state,
        workerId: this.workerId,
        log: this.#log,
        clock: this.#clock,
      });
      const sub = this.#o.nats.subscribe(names.cmd(spaceId), {
        callback: (err, msg) => {
          if (err) return this.#fault(err);
          void this.#onCommand(spaceId, msg.data).then(
            (reply) => msg.respond(encode(reply)),
            (e: Error) =>
              msg.respond(encode({ ok: false, workerId: this.workerId, reason: 'failed', message: e.message })),
          );
        },
      });
      const held: Held = {
        spaceId,
        lease,
        session,
        sub,
        stateRev: rev,
        state,
        persistTimer: undefined,
        dirty: false,
        writing: false,
      };
      this.#held.set(spaceId, held);
      lease.on('lost', (why) => {
        this.#log(`worker ${this.workerId}: lease on ${spaceId} lost (${why}); stopping its session`);
        this.#drop(held, 'lost');
      });
      lease.on('renewError', (e) => this.#fault(e));
      session.on('change', () => {
        held.dirty = true;
        // Track changes go out at once, so followers (ClusterPlayer) see every track start.
        this.#heartbeat();
      });
      session.on('failed', (e) => {
        this.#fault(new ClusterError('lease-lost', `${spaceId}: voice session failed: ${e.message}`, { cause: e }));
        void this.#giveUp(held, 'failed');
      });
      const schedulePersist = () => {
        held.persistTimer = this.#clock.setTimeout(() => {
          void this.#persist(held).finally(() => {
            if (this.#held.get(spaceId) === held) schedulePersist();
          });
        }, this.#o.positionEveryMs ?? 250);
      };
      schedulePersist();
      this.#log(
        `worker ${this.workerId}: took space ${spaceId} (epoch ${state.epoch}${state.current ? `, ${state.current.track.title} at ${Math.round(state.current.positionMs)} ms` : ''})`,
      );
      this.emit('claimed', spaceId, { epoch: state.epoch, resumedAtMs: state.current?.positionMs });
    } catch (err) {
      if (lease && !this.#held.has(spaceId)) await lease.release();
      if (!isRevisionConflict(err)) this.#fault(err);
    } finally {
      this.#claiming.delete(spaceId);
      this.#heartbeat();
    }
  }

  #requirePlayback(): PlaybackSessionOptions {
    if (!this.#o.playback)
      throw new ClusterError('not-running', 'VoiceWorker needs playback options (rest) or createSession');
    return this.#o.playback;
  }

  /** Writes the held space's queue and position (revision-checked; a conflict means we lost it). */
  async #persist(held: Held, final = false): Promise<void> {
    const st = this.#state;
    if (st.status === 'idle' || st.status === 'closed' || held.writing) return;
    if (!held.lease.valid) return;
    held.writing = true;
    try {
      const snap = held.session.snapshot(Date.now());
      const next: SpaceState = held.state.active
        ? { ...held.state, ...snap, holder: this.workerId }
        : { ...held.state, current: undefined, queue: [], holder: this.workerId };
      if (!final && !held.dirty && JSON.stringify(next.current) === JSON.stringify(held.state.current)) return;
      held.dirty = false;
      const rev = await st.stores.state.update(st.stores.names.spaceState(held.spaceId), encode(next), held.stateRev);
      held.stateRev = rev;
      held.state = next;
    } catch (err) {
      if (isRevisionConflict(err) && this.#held.get(held.spaceId) === held) {
        this.#fault(
          new ClusterError('lease-lost', `${held.spaceId}: its state was written by someone else`, { cause: err }),
        );
        this.#drop(held, 'lost');
      } else this.#fault(err);
    } finally {
      held.writing = false;
    }
  }

  /** Stops a held space's session at once and forgets it (no KV writes). */
  #drop(held: Held, why: 'lost' | 'stopped' | 'drained' | 'failed' | 'closed'): void {
    if (this.#held.get(held.spaceId) !== held) return;
    this.#held.delete(held.spaceId);
    if (held.persistTimer !== undefined) this.#clock.clearTimeout(held.persistTimer);
    held.session.destroy();
    held.sub.unsubscribe();
    if (why === 'lost') held.lease.abandon();
    this.#heartbeat();
    const k = this.#known.get(held.spaceId);
    if (k) k.nextTryMs = this.#clock.now() + (this.#o.placementStepMs ?? 200);
    this.emit('released', held.spaceId, why);
  }

  /** Writes the final position, stops the session, releases the lease. */
  async #giveUp(held: Held, why: 'stopped' | 'drained' | 'failed' | 'closed', deactivate = false): Promise<void> {
    if (this.#held.get(held.spaceId) !== held) return;
    // Unsubscribe first: from here on a command finds the next holder or nobody.
    held.sub.unsubscribe();
    if (held.persistTimer !== undefined) this.#clock.clearTimeout(held.persistTimer);
    // Stop the audio before the final write, so the written position is where it stopped.
    held.session.destroy();
    await this.#waitWrite(held);
    if (deactivate) held.state = { ...held.state, active: false };
    await this.#persist(held, true);
    this.#held.delete(held.spaceId);
    await held.lease.release();
    this.#heartbeat();
    this.emit('released', held.spaceId, why);
  }

  async #waitWrite(held: Held): Promise<void> {
    for (let i = 0; held.writing && i < 100; i++) await new Promise((r) => setTimeout(r, 10));
  }

  async #onCommand(spaceId: string, data: Uint8Array): Promise<CommandReply> {
    let cmd: ClusterCommand;
    try {
      cmd = parseCommand(data);
    } catch (err) {
      return { ok: false, workerId: this.workerId, reason: 'bad-message', message: (err as Error).message };
    }
    const held = this.#held.get(spaceId);
    if (!held?.lease.valid) {
      return {
        ok: false,
        workerId: this.workerId,
        reason: 'no-holder',
        message: `this worker no longer holds ${spaceId}`,
      };
    }
    if (cmd.op === 'stop') {
      await this.#giveUp(held, 'stopped', true);
      return { ok: true, workerId: this.workerId, message: 'Stopped; left the voice channel', state: held.state };
    }
    const message = held.session.command(cmd);
    held.dirty = true;
    await this.#persist(held);
    const snap = held.session.snapshot(Date.now());
    return { ok: true, workerId: this.workerId, message, state: { ...held.state, ...snap } };
  }

  #heartbeat(): void {
    const st = this.#state;
    if (st.status !== 'running' && st.status !== 'draining') return;
    // Forget probe results about workers long gone (worker ids are new at every start).
    const old = this.#clock.now() - 20 * st.stores.leaseTtlMs;
    for (const m of [this.#deadHolders, this.#probedAt]) for (const [id, at] of m) if (at < old) m.delete(id);
    const status: WorkerStatus = {
      v: 1,
      workerId: this.workerId,
      atMs: Date.now(),
      // Held (and extra) only: see `load`.
      load: this.#held.size + this.#extraLoad(),
      maxStreams: this.#o.maxStreams ?? 8,
      cpuPct: Math.round(this.#cpuPct() * 10) / 10,
      draining: st.status === 'draining',
      spaces: [...this.#held.values()].map((h) => h.session.status()),
    };
    try {
      this.#o.nats.publish(st.stores.names.status(this.workerId), encode(status));
    } catch (err) {
      this.#fault(err);
    }
  }

  /**
   * Stops claiming, then for each held space stops its session, writes its final position and
   * releases its lease, so other workers take over at once. Idempotent.
   */
  async drain(): Promise<void> {
    const st = this.#state;
    if (st.status !== 'running') return;
    this.#setState({ status: 'draining', stores: st.stores });
    await Promise.all([...this.#held.values()].map((h) => this.#giveUp(h, 'drained')));
  }

  #stopTimers(): void {
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    if (this.#beat !== undefined) this.#clock.clearTimeout(this.#beat);
    this.#tick = this.#beat = undefined;
    for (const w of this.#watches) w.stop();
    this.#watches = [];
    this.#statusSub?.unsubscribe();
    this.#statusSub = undefined;
    this.#aliveSub?.unsubscribe();
    this.#aliveSub = undefined;
    this.#connStatus?.stop?.();
    this.#connStatus = undefined;
    for (const release of this.#unwarm) release();
    this.#unwarm = [];
  }

  /** Drains, then stops. Idempotent. */
  async close(): Promise<void> {
    if (this.#state.status === 'closed') return;
    await this.drain();
    this.#stopTimers();
    this.#setState({ status: 'closed' });
  }

  /**
   * Stops everything at once without releasing a lease or writing a position: what `kill -9`
   * leaves behind, for tests and benchmarks. Idempotent.
   */
  abandon(): void {
    if (this.#state.status === 'closed') return;
    this.#stopTimers();
    for (const h of [...this.#held.values()]) {
      this.#held.delete(h.spaceId);
      if (h.persistTimer !== undefined) this.#clock.clearTimeout(h.persistTimer);
      h.lease.abandon();
      h.session.destroy();
      h.sub.unsubscribe();
    }
    this.#setState({ status: 'closed' });
  }
}
