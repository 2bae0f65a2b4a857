/**
 * Call sessions on cluster workers. Calls are direct events (no space, docs/platform.md §R5.6),
 * so the router publishes them on `argon.<bot>.events._.callIncoming` / `._.callEnded`, and the
 * {@link CallWorker}s share them out:
 *
 * ```
 * JetStream ARGON_EVENTS_<bot>
 *   events._.callIncoming ─► durable pull consumer argon_calls_<bot> (explicit ack, ack_wait 5 s)
 *        │ one delivery at a time, to one worker
 *        ├─ older than the ring (45 s) / malformed ─► ack / term, dropped
 *        ├─ no room (maxCalls, load()) ──────────► nak(250 ms): another worker gets it
 *        └─ Lease.claim(call.<callId>) ─ taken by someone ─► ack, dropped (exactly once)
 *              └─ ok ─► ack ─► CallManager (policy ─► Accept ─► duplex ─► echo / onCall) ─► release
 *   events._.callEnded ───► ordered consumer per worker (DeliverPolicy.New) ─► ends its call if held
 * KV argon_<bot>_leases call.> ─watch─► a lease not renewed for 1.25 TTL and not released (its
 *        worker died mid-call) ─► Lease.claim ─► ICalls Reject (hang-up, §R6.2) ─► release
 * argon.<bot>.call.<callId> (request/reply): { op: 'answer' | 'reject' } for a worker in manual mode
 * ```
 * Nothing here writes the call token (Accept's answer) to NATS: it lives only in the worker's
 * duplex session, as for a single-process bot.
 *
 * State: `idle → running → draining → closed`.
 * @packageDocumentation
 */
import { hostname } from 'node:os';
import { AckPolicy, type Consumer, DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { KvWatchEntry } from '@nats-io/kv';
import { nanos, type Subscription } from '@nats-io/transport-node';
import { type AnswerCallsOptions, answerCalls } from '../calls/answer-bot.js';
import type { Call, CallEndReason, CallEventSource, CallManager, CallsApi } from '../calls/call-manager.js';
import type { DuplexCallSession } from '../calls/duplex-adapter.js';
import { acceptAll } from '../calls/policy.js';
import { ClosedError, InvalidInputError, TimeoutError } from '../errors.js';
import { sleep, type WaitOptions } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { ClusterError } from './errors.js';
import { Lease } from './lease.js';
import {
  answerAlive,
  type ClusterStores,
  defaultProbeAfterMs,
  ensureEventStream,
  isNoResponders,
  type NatsConnection,
  openStores,
  probeAlive,
} from './nats.js';
import { clusterNames, nameToken } from './names.js';
import { bad, encode, parseJson, parseLease } from './wire.js';

// ---------------------------------------------------------------------------------------------
// Names

/** Subject, consumer and lease names of a bot's cluster calls. */
export interface CallNames {
  /** Subject the router publishes `callIncoming` on (`argon.<bot>.events._.callIncoming`). */
  readonly incoming: string;
  /** Subject the router publishes `callEnded` on (`argon.<bot>.events._.callEnded`). */
  readonly ended: string;
  /** Durable pull consumer the workers share (`argon_calls_<bot>`). */
  readonly consumer: string;
  /** Lease key of a call in the leases bucket (`call.<callId>`). */
  lease(callId: string): string;
  /** Watch filter of every call lease (`call.>`). */
  readonly leaseAll: string;
  /** Command subject of a call held ringing by a manual worker (`argon.<bot>.call.<callId>`). */
  command(callId: string): string;
}

/** Builds the call names of `botId` (from `clusterNames(botId).botKey`). */
export function callNames(botId: string): CallNames {
  const b = clusterNames(botId).botKey;
  return {
    incoming: `argon.${b}.events._.callIncoming`,
    ended: `argon.${b}.events._.callEnded`,
    consumer: `argon_calls_${b}`,
    lease: (callId) => `call.${nameToken(callId)}`,
    leaseAll: 'call.>',
    command: (callId) => `argon.${b}.call.${nameToken(callId)}`,
  };
}

// ---------------------------------------------------------------------------------------------
// Wire

/** A routed `callIncoming` (the router's `{ id, type, data }` envelope, §R5.6 payload). */
export interface RoutedCallIncoming {
  /** Platform event id (`direct_<seq>`), when it had one. */
  id: string | undefined;
  callId: string;
  fromUserId: string;
  fromLocale: string | null;
}

/** A routed `callEnded`. */
export interface RoutedCallEnded {
  id: string | undefined;
  callId: string;
}

/** A command to the worker holding a ringing call (manual mode). */
export interface CallCommand {
  op: 'answer' | 'reject';
  callId: string;
  /** Reject reason (sent to ICalls Reject, which shows it nowhere, §R6.2). */
  reason?: string | undefined;
}

/** The holder's answer to a {@link CallCommand}. */
export type CallCommandReply =
  | { ok: true; workerId: string; callId: string; status: 'connected' | 'rejected' }
  | { ok: false; workerId?: string | undefined; reason: string; message: string };

const isId = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 256;

function envelope(bytes: Uint8Array, type: string): { id: string | undefined; data: Record<string, unknown> } {
  const o = parseJson(bytes, type);
  if (o.type !== type) bad(type, `type ${JSON.stringify(o.type)?.slice(0, 40)}, expected ${type}`);
  if (o.id !== undefined && o.id !== null && typeof o.id !== 'string') bad(type, 'id not a string');
  const d = o.data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) bad(type, 'data not an object');
  return { id: typeof o.id === 'string' ? o.id : undefined, data: d as Record<string, unknown> };
}

/** Parses a routed `callIncoming`. @throws ClusterError (`bad-message`). */
export function parseCallIncoming(bytes: Uint8Array): RoutedCallIncoming {
  const { id, data } = envelope(bytes, 'callIncoming');
  if (!isId(data.callId) || !isId(data.fromUserId)) bad('callIncoming', 'callId and fromUserId required');
  const loc = data.fromLocale;
  if (loc !== null && loc !== undefined && (typeof loc !== 'string' || loc.length > 64))
    bad('callIncoming', 'fromLocale not a short string or null');
  return { id, callId: data.callId, fromUserId: data.fromUserId, fromLocale: loc ?? null };
}

/** Parses a routed `callEnded`. @throws ClusterError (`bad-message`). */
export function parseCallEnded(bytes: Uint8Array): RoutedCallEnded {
  const { id, data } = envelope(bytes, 'callEnded');
  if (!isId(data.callId)) bad('callEnded', 'callId required');
  return { id, callId: data.callId };
}

/** Parses a call command. @throws ClusterError (`bad-message`). */
export function parseCallCommand(bytes: Uint8Array): CallCommand {
  const o = parseJson(bytes, 'call command');
  if (o.op !== 'answer' && o.op !== 'reject')
    bad('call command', `unknown op ${JSON.stringify(o.op)?.slice(0, 40)}; expected answer or reject`);
  if (!isId(o.callId)) bad('call command', 'callId required');
  if (o.reason !== undefined && (typeof o.reason !== 'string' || o.reason.length > 512))
    bad('call command', 'reason not a short string');
  return { op: o.op, callId: o.callId, reason: o.reason as string | undefined };
}

/** Parses a call command reply. @throws ClusterError (`bad-message`). */
export function parseCallReply(bytes: Uint8Array): CallCommandReply {
  const o = parseJson(bytes, 'call reply');
  if (o.ok === true) {
    if (!isId(o.workerId) || !isId(o.callId)) bad('call reply', 'workerId and callId required');
    if (o.status !== 'connected' && o.status !== 'rejected') bad('call reply', 'status must be connected or rejected');
    return { ok: true, workerId: o.workerId, callId: o.callId, status: o.status };
  }
  if (o.ok === false) {
    if (!isId(o.reason) || typeof o.message !== 'string') bad('call reply', 'reason and message required');
    return { ok: false, workerId: isId(o.workerId) ? o.workerId : undefined, reason: o.reason, message: o.message };
  }
  return bad('call reply', 'ok must be a boolean');
}

// ---------------------------------------------------------------------------------------------
// Worker

/** How the calls on a worker are answered: everything `answerCalls` takes but the wiring. */
export type CallAnswerOptions = Omit<AnswerCallsOptions, 'bot' | 'rest' | 'events' | 'signal' | 'clock'>;

/** Options of {@link CallWorker}. */
export interface CallWorkerOptions {
  /** A connected NATS client (not closed by the worker). */
  nats: NatsConnection;
  /** The bot's id (names subjects and buckets; never the token). */
  botId: string;
  /** ICalls (the REST client's `calls`): Accept, Reject. */
  calls: CallsApi;
  /** Unique id of this worker (default `<host>-<pid>-<random>`; share it with the VoiceWorker). */
  workerId?: string | undefined;
  /** Lease TTL when the leases bucket is new, ms (default 3000; an existing bucket keeps its own). */
  leaseTtlMs?: number | undefined;
  /** Most calls held at once (default 4). */
  maxCalls?: number | undefined;
  /**
   * Other load counted against `maxCalls` (e.g. `() => voiceWorker.spaces.length`), read each
   * time a call arrives. A worker with `calls + load() >= maxCalls` leaves the call to others.
   */
  load?: (() => number) | undefined;
  /** Policy, greeting, echo, `onCall`, duplex and deadlines of each call (see `answerCalls`). */
  answer?: CallAnswerOptions | undefined;
  /**
   * Manual mode: a call this worker takes keeps ringing (lease held) until a `{ op: 'answer' }`
   * or `{ op: 'reject' }` request arrives on `argon.<bot>.call.<callId>` ({@link ClusterCallClient});
   * `answer.policy` is not consulted.
   */
  manual?: boolean | undefined;
  /** How long the platform rings a call, ms (default 45 000, §R6.1): older calls are dropped. */
  ringMs?: number | undefined;
  /** JetStream ack wait of the shared consumer when it is created, ms (default 5000). */
  ackWaitMs?: number | undefined;
  /** Redelivery delay of a call this worker has no room for, ms (default 250). */
  nakDelayMs?: number | undefined;
  clock?: Clock | undefined;
  log?: ((line: string) => void) | undefined;
}

/** State of a {@link CallWorker}. */
export type CallWorkerState =
  | { status: 'idle' }
  | { status: 'running'; stores: ClusterStores }
  | { status: 'draining'; stores: ClusterStores }
  | { status: 'closed'; reason?: Error | undefined };

/**
 * Why a call held by a worker ended: the {@link CallEndReason}s of the call manager, or
 * `rang-out` (manual mode: no answer before the ring ended), `lease-lost` (this worker could not
 * keep the call's lease and hung up, since another worker would).
 */
export type CallWorkerEndReason = CallEndReason | 'rang-out' | 'lease-lost';

/** Events of a {@link CallWorker}. */
export type CallWorkerEvents = {
  stateChange: [oldState: CallWorkerState, newState: CallWorkerState];
  /** This worker took a call (lease claimed, message acknowledged): it rings here now. */
  taken: [callId: string, info: { callerId: string; locale: string | null; manual: boolean }];
  /** This worker accepted a call and its audio is connected. */
  answered: [callId: string, info: { callerId: string }];
  /** A call this worker held ended (lease released). */
  ended: [callId: string, reason: CallWorkerEndReason];
  /** A call arrived while this worker had no room; it was handed back (nak) for another worker. */
  deferred: [callId: string, info: { deliveries: number }];
  /**
   * The worker holding a call died and this worker hung the call up with ICalls Reject, so the
   * caller is not left in a silent call. `detectedBy`: `probe` (the server answered "no
   * responders" on the holder's `argon.<bot>.alive.<worker>` once its lease was overdue), or
   * `expiry` (the lease expired without a release).
   */
  orphanEnded: [callId: string, info: { deadHolder: string; detectedBy: 'probe' | 'expiry' }];
  /** A non-fatal fault: a malformed message (`ClusterError` `bad-message`), a KV or REST error. */
  error: [error: Error];
};

interface HeldCall {
  callId: string;
  callerId: string;
  locale: string | null;
  lease: Lease;
  /** Manual mode, not answered yet. */
  ringing: boolean;
  sub: Subscription | undefined;
  ringTimer: unknown;
  /** Given to the call manager. */
  managed: boolean;
}

interface WatchedLease {
  holder: string;
  /** Revision of the holder's last write: what a takeover deletes (revision-checked). */
  rev: number;
  seenMs: number;
  nextTryMs: number;
  /** When its holder was last probed. */
  probedMs?: number | undefined;
  /** The probe found the holder's connection gone: take the call over without waiting for expiry. */
  dead?: boolean | undefined;
}

/** The `CallEventSource` the worker feeds its call manager from JetStream. */
class ClusterCallSource
  extends TypedEmitter<{
    callIncoming: [ev: { callId: string; fromUserId: string; fromLocale: string | null }];
    callEnded: [ev: { callId: string }];
  }>
  implements CallEventSource
{
  push(ev: { callId: string; fromUserId: string; fromLocale: string | null }): void {
    this.emit('callIncoming', ev);
  }
  end(callId: string): void {
    this.emit('callEnded', { callId });
  }
}

/** How many ended call ids a worker remembers (to drop late redeliveries of their callIncoming). */
const RECENT_ENDED = 1024;

/**
 * Answers the bot's calls on a cluster worker: exactly one worker takes each call (a shared
 * JetStream work-queue consumer plus a `call.<callId>` lease), runs it through the same
 * {@link CallManager} / policy / duplex / echo machinery as `answerCalls`, ends it on
 * `callEnded`, and hangs up (ICalls Reject) the calls of a worker that died mid-call.
 *
 * `start()` it next to a `VoiceWorker`; `drain()` stops taking calls; `close()` also hangs up the
 * calls still live (the callers are told) and releases their leases. `abandon()` stops at once
 * without acknowledging, rejecting or releasing anything (what `kill -9` leaves).
 *
 * @remarks A call's audio socket lives in the process that accepted it and cannot move: when that
 * process dies the call is ended (Reject doubles as hang-up, docs/platform.md §R6.2) by another
 * worker once the call's lease expires, rather than left silent. A worker that dies while a call
 * still rings, before acknowledging it, leaves it to JetStream's redelivery (the call rings for
 * 45 s, §R6.1).
 */
export class CallWorker extends TypedEmitter<CallWorkerEvents> {
  /** This worker's id (the lease holder name). */
  readonly workerId: string;
  /** The names it uses. */
  readonly names: CallNames;
  readonly #o: CallWorkerOptions;
  readonly #clock: Clock;
  readonly #log: (line: string) => void;
  #state: CallWorkerState = { status: 'idle' };
  readonly #held = new Map<string, HeldCall>();
  #claiming = 0;
  readonly #recentEnded = new Set<string>();
  readonly #watched = new Map<string, WatchedLease>();
  readonly #orphaning = new Set<string>();
  readonly #source = new ClusterCallSource();
  #manager: CallManager<DuplexCallSession> | undefined;
  #life = new AbortController();
  #pulling: Promise<void> | undefined;
  #stops: Array<() => unknown> = [];
  #tick: unknown;
  #abandoned = false;
  #starting: Promise<void> | undefined;

  /** @throws InvalidInputError for a `maxCalls` that is not an integer >= 1. */
  constructor(options: CallWorkerOptions) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    this.names = callNames(options.botId);
    const max = options.maxCalls ?? 4;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidInputError(`CallWorker needs maxCalls >= 1 (an integer), got ${max}`);
  }

  /** Current state. */
  get state(): CallWorkerState {
    return this.#state;
  }

  /** Ids of the calls this worker holds (ringing, connecting or connected). */
  get calls(): string[] {
    return [...this.#held.keys()];
  }

  /** The call manager's `Call` of a held call, once it is being answered (tests, metrics). */
  call(callId: string): Call<DuplexCallSession> | undefined {
    return this.#manager?.activeCalls.find((c) => c.callId === callId);
  }

  /** Calls held plus the one being claimed plus `load()`: what `maxCalls` bounds. */
  get load(): number {
    let extra = 0;
    try {
      extra = this.#o.load?.() ?? 0;
    } catch (err) {
      this.#fault(err);
    }
    return this.#held.size + this.#claiming + extra;
  }

  #setState(next: CallWorkerState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  #fault(err: unknown): void {
    if (this.#abandoned) return;
    const e = err instanceof Error ? err : new Error(String(err));
    this.#log(`call worker ${this.workerId}: ${e.message}`);
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }

  /**
   * Opens the buckets, the event stream and the shared consumer, then starts taking calls,
   * following `callEnded` and watching call leases.
   * @throws ClosedError after close(); what JetStream throws (no JetStream on the server ...).
   */
  start(): Promise<void> {
    if (this.#state.status === 'closed') return Promise.reject(new ClosedError('the call worker is closed'));
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const nc = this.#o.nats;
    let stores: ClusterStores;
    let consumer: Consumer;
    try {
      stores = await openStores(nc, this.#o.botId, { leaseTtlMs: this.#o.leaseTtlMs });
      await ensureEventStream(nc, stores.names);
      consumer = await this.#sharedConsumer(stores);
      if (this.#state.status !== 'idle') throw new ClosedError('the call worker was closed while starting');
      this.#manager = this.#createManager();
      this.#setState({ status: 'running', stores });
      await this.#followEnded(stores);
      // Answered for as long as this connection lives: peers probe it before hanging up its calls.
      const alive = answerAlive(nc, stores.names.alive(this.workerId));
      this.#stops.push(() => alive.unsubscribe());
      const watch = await stores.leases.watch({ key: this.names.leaseAll });
      this.#stops.push(() => watch.stop());
      this.#consumeLeases(watch);
    } catch (err) {
      // Nothing half-started is left behind: no consumer loop, no watch, no manager.
      this.#stopAll();
      void this.#manager?.close().catch(() => undefined);
      this.#setState({ status: 'closed', reason: err instanceof Error ? err : new Error(String(err)) });
      throw err;
    }
    const every = Math.max(50, Math.floor(stores.leaseTtlMs / 6));
    const tick = () => {
      this.#tick = this.#clock.setTimeout(tick, every);
      this.#scanOrphans(stores);
    };
    tick();
    this.#pulling = this.#pull(consumer, stores);
    this.#log(`call worker ${this.workerId}: taking calls (max ${this.#o.maxCalls ?? 4})`);
  }

  #consumeLeases(watch: AsyncIterable<KvWatchEntry>): void {
    void (async () => {
      try {
        for await (const e of watch) this.#onLease(e);
      } catch (err) {
        if (this.#state.status !== 'closed') this.#fault(err);
      }
    })();
  }

  /** Creates (or binds to) the durable work-queue consumer every worker shares. */
  async #sharedConsumer(stores: ClusterStores): Promise<Consumer> {
    const jsm = await jetstreamManager(this.#o.nats);
    const stream = stores.names.eventsStream;
    const name = this.names.consumer;
    try {
      await jsm.consumers.info(stream, name);
    } catch {
      try {
        await jsm.consumers.add(stream, {
          durable_name: name,
          filter_subject: this.names.incoming,
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(this.#o.ackWaitMs ?? 5000),
          // Everything kept (10 min): calls older than the ring are acknowledged and dropped.
          deliver_policy: DeliverPolicy.All,
          max_deliver: -1,
        });
      } catch (err) {
        // Another worker created it at the same moment.
        await jsm.consumers.info(stream, name).catch(() => {
          throw err;
        });
      }
    }
    return jetstream(this.#o.nats).consumers.get(stream, name);
  }

  #createManager(): CallManager<DuplexCallSession> {
    const o = this.#o;
    const real = o.calls;
    // After abandon() this process is "dead": nothing may reach the platform any more.
    const gated: CallsApi = {
      accept: (body, opts) =>
        this.#abandoned ? Promise.reject(new ClosedError('the call worker was abandoned')) : real.accept(body, opts),
      reject: (body, opts) =>
        this.#abandoned ? Promise.reject(new ClosedError('the call worker was abandoned')) : real.reject(body, opts),
    };
    const answer = o.answer ?? {};
    const manager = answerCalls({
      ...answer,
      rest: { calls: gated },
      events: this.#source,
      // Manual mode decides through commands before the call reaches the manager.
      ...(o.manual ? { policy: acceptAll() } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
    });
    manager.on('call', (call) => {
      call.once('connected', () => {
        if (!this.#abandoned) this.emit('answered', call.callId, { callerId: call.callerId });
      });
    });
    manager.on('ended', (call, reason) => void this.#finish(call.callId, reason));
    manager.on('error', (err) => this.#fault(err));
    return manager;
  }

  async #followEnded(stores: ClusterStores): Promise<void> {
    const consumer = await jetstream(this.#o.nats).consumers.get(stores.names.eventsStream, {
      filter_subjects: this.names.ended,
      deliver_policy: DeliverPolicy.New,
    });
    const messages = await consumer.consume();
    this.#stops.push(() => messages.close());
    void (async () => {
      try {
        for await (const m of messages) {
          if (this.#abandoned) break;
          let ev: RoutedCallEnded;
          try {
            ev = parseCallEnded(m.data);
          } catch (err) {
            this.#fault(err);
            continue;
          }
          this.#remember(ev.callId);
          const held = this.#held.get(ev.callId);
          if (!held) continue;
          if (held.managed) this.#source.end(ev.callId);
          else void this.#finish(ev.callId, 'remote-ended');
        }
      } catch (err) {
        if (this.#state.status !== 'closed') this.#fault(err);
      }
    })();
  }

  #remember(callId: string): void {
    this.#recentEnded.add(callId);
    if (this.#recentEnded.size > RECENT_ENDED) {
      const first = this.#recentEnded.values().next().value;
      if (first !== undefined) this.#recentEnded.delete(first);
    }
  }

  /** One pull at a time: a call is taken (or handed back) before the next is fetched. */
  async #pull(consumer: Consumer, stores: ClusterStores): Promise<void> {
    const signal = this.#life.signal;
    const nakDelay = this.#o.nakDelayMs ?? 250;
    while (!signal.aborted && this.#state.status === 'running') {
      let m: JsMsg | null;
      try {
        m = await consumer.next({ expires: 1000 });
      } catch (err) {
        if (signal.aborted) return;
        this.#fault(err);
        await sleep(500, { signal }).catch(() => undefined);
        continue;
      }
      if (!m) continue;
      // A dead process acknowledges nothing: JetStream redelivers after ack_wait.
      if (this.#abandoned) return;
      if (this.#state.status !== 'running') {
        m.nak();
        return;
      }
      let outcome: 'taken' | 'deferred' | 'dropped';
      try {
        outcome = await this.#onIncoming(m, stores);
      } catch (err) {
        this.#fault(err);
        continue;
      }
      // Handed back for lack of room: stay away for a moment, so that a worker with room, whose
      // pull is always pending, is the one waiting when JetStream redelivers it.
      if (outcome === 'deferred') await sleep(2 * nakDelay, { signal }).catch(() => undefined);
    }
  }

  async #onIncoming(m: JsMsg, stores: ClusterStores): Promise<'taken' | 'deferred' | 'dropped'> {
    let ev: RoutedCallIncoming;
    try {
      ev = parseCallIncoming(m.data);
    } catch (err) {
      this.#fault(err);
      m.term();
      return 'dropped';
    }
    const ringMs = this.#o.ringMs ?? 45_000;
    const ageMs = Date.now() - Number(m.timestampNanos / 1_000_000n);
    if (ageMs > ringMs) {
      this.#log(`call worker ${this.workerId}: call ${ev.callId} arrived after ${Math.round(ageMs)} ms; dropped`);
      m.ack();
      return 'dropped';
    }
    if (this.#recentEnded.has(ev.callId) || this.#held.has(ev.callId)) {
      m.ack();
      return 'dropped';
    }
    if (this.load >= (this.#o.maxCalls ?? 4)) {
      m.nak(this.#o.nakDelayMs ?? 250);
      this.emit('deferred', ev.callId, { deliveries: m.info.deliveryCount });
      return 'deferred';
    }
    this.#claiming++;
    let lease: Lease | undefined;
    try {
      lease = await Lease.claim({
        kv: stores.leases,
        key: this.names.lease(ev.callId),
        holder: this.workerId,
        ttlMs: stores.leaseTtlMs,
        clock: this.#clock,
      });
    } catch (err) {
      this.#claiming--;
      this.#fault(err);
      m.nak(this.#o.nakDelayMs ?? 250);
      return 'deferred';
    }
    this.#claiming--;
    if (!lease) {
      // Another worker holds it (answering it, or hanging up after its holder died).
      m.ack();
      return 'dropped';
    }
    if (this.#abandoned) return 'dropped';
    if (this.#state.status !== 'running') {
      await lease.release();
      m.nak();
      return 'dropped';
    }
    // From here this worker owns the call; a redelivery of this message finds the lease taken.
    m.ack();
    const held: HeldCall = {
      callId: ev.callId,
      callerId: ev.fromUserId,
      locale: ev.fromLocale,
      lease,
      ringing: this.#o.manual === true,
      sub: undefined,
      ringTimer: undefined,
      managed: false,
    };
    this.#held.set(ev.callId, held);
    lease.on('renewError', (e) => this.#fault(e));
    lease.on('lost', (why) => this.#onLeaseLost(held, why));
    this.emit('taken', ev.callId, { callerId: ev.fromUserId, locale: ev.fromLocale, manual: held.ringing });
    if (held.ringing) this.#holdRinging(held, ev, Math.max(0, ringMs - ageMs));
    else this.#manage(held, ev);
    return 'taken';
  }

  #manage(held: HeldCall, ev: RoutedCallIncoming): void {
    held.managed = true;
    held.ringing = false;
    this.#source.push({ callId: ev.callId, fromUserId: ev.fromUserId, fromLocale: ev.fromLocale });
  }

  #onLeaseLost(held: HeldCall, why: string): void {
    if (this.#held.get(held.callId) !== held || this.#abandoned) return;
    this.#fault(
      new ClusterError('lease-lost', `call ${held.callId}: lease lost (${why}); hanging up, as another worker would`),
    );
    const call = this.call(held.callId);
    if (call) void call.hangUp('lease lost');
    else {
      void this.#o.calls
        .reject({ callId: held.callId, reason: 'lease lost' }, { timeoutMs: 10_000 })
        .catch((e) => this.#fault(e));
      void this.#finish(held.callId, 'lease-lost');
    }
  }

  /** Manual mode: keeps the call ringing until a command (or the end of the ring). */
  #holdRinging(held: HeldCall, ev: RoutedCallIncoming, leftMs: number): void {
    held.ringTimer = this.#clock.setTimeout(() => {
      held.ringTimer = undefined;
      // The platform has ended it (callEnded may have been lost: delivery is at most once, §R5.5).
      if (held.ringing) void this.#finish(held.callId, 'rang-out');
    }, leftMs + 2000);
    held.sub = this.#o.nats.subscribe(this.names.command(held.callId), {
      callback: (err, msg) => {
        if (err) return this.#fault(err);
        void this.#onCommand(held, ev, msg.data).then(
          (reply) => msg.respond(encode(reply)),
          (e: Error) =>
            msg.respond(encode({ ok: false, workerId: this.workerId, reason: 'failed', message: e.message })),
        );
      },
    });
  }

  async #onCommand(held: HeldCall, ev: RoutedCallIncoming, data: Uint8Array): Promise<CallCommandReply> {
    let cmd: CallCommand;
    try {
      cmd = parseCallCommand(data);
    } catch (err) {
      this.#fault(err);
      return { ok: false, workerId: this.workerId, reason: 'bad-message', message: (err as Error).message };
    }
    if (cmd.callId !== held.callId)
      return {
        ok: false,
        workerId: this.workerId,
        reason: 'bad-message',
        message: 'callId does not match the subject',
      };
    if (this.#held.get(held.callId) !== held || !held.ringing)
      return {
        ok: false,
        workerId: this.workerId,
        reason: 'not-ringing',
        message: `call ${held.callId} is not ringing here`,
      };
    held.ringing = false;
    if (held.ringTimer !== undefined) this.#clock.clearTimeout(held.ringTimer);
    held.ringTimer = undefined;
    if (cmd.op === 'reject') {
      try {
        await this.#o.calls.reject({ callId: held.callId, reason: cmd.reason ?? 'rejected' }, { timeoutMs: 10_000 });
      } finally {
        await this.#finish(held.callId, 'rejected');
      }
      return { ok: true, workerId: this.workerId, callId: held.callId, status: 'rejected' };
    }
    this.#manage(held, ev);
    const call = this.call(held.callId);
    if (!call) return { ok: false, workerId: this.workerId, reason: 'ended', message: `call ${held.callId} ended` };
    try {
      await call.waitFor('connected', { timeoutMs: 60_000 });
      return { ok: true, workerId: this.workerId, callId: held.callId, status: 'connected' };
    } catch {
      const s = call.state;
      const why = s.status === 'ended' ? `${s.reason}${s.detail ? `: ${s.detail}` : ''}` : s.status;
      return { ok: false, workerId: this.workerId, reason: 'ended', message: `call ${held.callId} ended (${why})` };
    }
  }

  /** Forgets a held call and releases its lease (a no-op after abandon()). */
  async #finish(callId: string, reason: CallWorkerEndReason): Promise<void> {
    const held = this.#held.get(callId);
    if (!held) return;
    this.#held.delete(callId);
    this.#remember(callId);
    held.sub?.unsubscribe();
    if (held.ringTimer !== undefined) this.#clock.clearTimeout(held.ringTimer);
    if (this.#abandoned) return;
    await held.lease.release();
    this.emit('ended', callId, reason);
  }

  // --- dead workers' calls --------------------------------------------------------------------

  #onLease(e: KvWatchEntry): void {
    if (this.#abandoned) return;
    if (e.operation !== 'PUT') {
      // Released (DEL) or purged: the call ended normally.
      this.#watched.delete(e.key);
      return;
    }
    let holder: string;
    try {
      holder = parseLease(e.value).holder;
    } catch (err) {
      this.#fault(err);
      return;
    }
    const now = this.#clock.now();
    this.#watched.set(e.key, { holder, rev: e.revision, seenMs: now, nextTryMs: now });
  }

  #scanOrphans(stores: ClusterStores): void {
    const st = this.#state.status;
    if (st !== 'running' && st !== 'draining') return;
    const now = this.#clock.now();
    const ttl = stores.leaseTtlMs;
    // As VoiceWorker: a lease not renewed for the renew period plus a margin gets its holder probed.
    const probeAfter = defaultProbeAfterMs(ttl);
    for (const [key, w] of this.#watched) {
      if (w.holder === this.workerId || this.#orphaning.has(key)) continue;
      const overdue = now - w.seenMs;
      if (!w.dead && overdue > probeAfter && (w.probedMs === undefined || now - w.probedMs >= probeAfter / 2)) {
        w.probedMs = now;
        void this.#probe(key, w, stores);
      }
      // Renewals come every TTL/3; silence for 1.25 TTL means the server has expired the key,
      // which a release (a DEL the watch shows) would not leave: the holder died.
      if (!(w.dead || overdue > ttl * 1.25) || now < w.nextTryMs) continue;
      w.nextTryMs = now + ttl / 6;
      void this.#hangUpOrphan(key, w, stores);
    }
  }

  /** Asks the holder of an overdue call lease whether its connection still lives. */
  async #probe(key: string, w: WatchedLease, stores: ClusterStores): Promise<void> {
    // Alive, or a timeout (a slow holder, which proves nothing): its lease runs its course.
    if ((await probeAlive(this.#o.nats, stores.names.alive(w.holder))) !== 'gone') return;
    if (this.#watched.get(key) !== w) return;
    w.dead = true;
    if (!this.#orphaning.has(key)) {
      w.nextTryMs = this.#clock.now() + stores.leaseTtlMs / 6;
      void this.#hangUpOrphan(key, w, stores);
    }
  }

  async #hangUpOrphan(key: string, w: WatchedLease, stores: ClusterStores): Promise<void> {
    this.#orphaning.add(key);
    try {
      // Exactly one worker hangs up: the one that takes the lease. It also proves the key is gone
      // (a live holder whose renewals reach us late still has it, and the create fails). A holder
      // the probe found dead has its last revision deleted first; the delete fails if it renewed.
      const detectedBy = w.dead ? 'probe' : 'expiry';
      if (w.dead) await stores.leases.delete(key, { previousSeq: w.rev }).catch(() => undefined);
      const lease = await Lease.claim({
        kv: stores.leases,
        key,
        holder: this.workerId,
        ttlMs: stores.leaseTtlMs,
        clock: this.#clock,
      });
      if (!lease) return;
      if (this.#watched.get(key) === w) this.#watched.delete(key);
      const callId = key.slice('call.'.length);
      try {
        await this.#o.calls.reject({ callId, reason: 'worker lost' }, { timeoutMs: 10_000 });
      } catch (err) {
        // Let the key expire: this worker or another tries again.
        lease.abandon();
        this.#fault(err);
        return;
      }
      this.#remember(callId);
      await lease.release();
      this.#log(`call worker ${this.workerId}: ${w.holder} died holding call ${callId}; hung it up`);
      if (!this.#abandoned) this.emit('orphanEnded', callId, { deadHolder: w.holder, detectedBy });
    } catch (err) {
      this.#fault(err);
    } finally {
      this.#orphaning.delete(key);
    }
  }

  // --- lifecycle ------------------------------------------------------------------------------

  /**
   * Stops taking calls (a call delivered meanwhile goes back to JetStream for another worker),
   * then waits up to `graceMs` (default 0) for the live calls to end on their own. Idempotent.
   */
  async drain(options: { graceMs?: number | undefined } = {}): Promise<void> {
    const st = this.#state;
    if (st.status !== 'running') return;
    this.#setState({ status: 'draining', stores: st.stores });
    await this.#pulling?.catch(() => undefined);
    const deadline = this.#clock.now() + (options.graceMs ?? 0);
    while (this.#held.size > 0 && this.#clock.now() < deadline) await sleep(50, { clock: this.#clock });
  }

  #stopAll(): void {
    this.#life.abort();
    if (this.#tick !== undefined) this.#clock.clearTimeout(this.#tick);
    this.#tick = undefined;
    for (const stop of this.#stops) {
      try {
        void Promise.resolve(stop()).catch(() => undefined);
      } catch {}
    }
    this.#stops = [];
  }

  /**
   * Drains, then hangs up every call still live (ICalls Reject: the callers are told) and
   * releases their leases. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state.status === 'closed') return;
    if (this.#state.status === 'idle') {
      // Not started, or still starting (#start sees the state and gives up).
      this.#setState({ status: 'closed' });
      await this.#starting?.catch(() => undefined);
      return;
    }
    this.#life.abort();
    await this.drain();
    // Ringing manual calls are not in the manager: reject them here.
    await Promise.all(
      [...this.#held.values()]
        .filter((h) => !h.managed)
        .map(async (h) => {
          await this.#o.calls
            .reject({ callId: h.callId, reason: 'bot shutting down' }, { timeoutMs: 10_000 })
            .catch((e) => this.#fault(e));
          await this.#finish(h.callId, 'shutdown');
        }),
    );
    await this.#manager?.close();
    await Promise.all([...this.#held.keys()].map((id) => this.#finish(id, 'shutdown')));
    this.#stopAll();
    this.#setState({ status: 'closed' });
  }

  /**
   * Stops at once without acknowledging, rejecting or releasing anything: what `kill -9` leaves
   * (the calls' audio sockets close, their leases expire, a call not yet acknowledged is
   * redelivered). For tests and benchmarks. Idempotent.
   */
  abandon(): void {
    if (this.#state.status === 'closed') return;
    this.#abandoned = true;
    for (const h of this.#held.values()) {
      h.lease.abandon();
      h.sub?.unsubscribe();
      if (h.ringTimer !== undefined) this.#clock.clearTimeout(h.ringTimer);
    }
    this.#stopAll();
    // Closes the audio sockets; its Rejects fail at the gate (#createManager).
    void this.#manager?.close().catch(() => undefined);
    this.#held.clear();
    this.#setState({ status: 'closed' });
  }

  /** `await using worker = new CallWorker(...)` closes it on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Client

/** Options of {@link ClusterCallClient}. */
export interface ClusterCallClientOptions {
  nats: NatsConnection;
  botId: string;
}

/**
 * Answers or rejects calls held ringing by workers in manual mode, by request/reply on
 * `argon.<bot>.call.<callId>` to whichever worker took the call (see the worker's `taken` event or
 * the routed `callIncoming`).
 */
export class ClusterCallClient {
  readonly #o: ClusterCallClientOptions;
  readonly #names: CallNames;

  /** A client over `options.nats` (not closed by the client) for `options.botId`'s calls. */
  constructor(options: ClusterCallClientOptions) {
    this.#o = options;
    this.#names = callNames(options.botId);
  }

  /**
   * Answers a ringing call; resolves once its audio is connected. Default deadline 30 s.
   * @throws ClusterError `no-holder` (no worker holds the call ringing: not taken yet, already
   *   answered or ended), `rejected` (the worker could not connect it), `bad-message`; TimeoutError.
   */
  answer(callId: string, options: WaitOptions = {}): Promise<Extract<CallCommandReply, { ok: true }>> {
    return this.#send({ op: 'answer', callId }, options.timeoutMs ?? 30_000);
  }

  /**
   * Rejects a ringing call (the caller is told). Default deadline 10 s.
   * @throws as {@link ClusterCallClient.answer}.
   */
  reject(
    callId: string,
    options: WaitOptions & { reason?: string | undefined } = {},
  ): Promise<Extract<CallCommandReply, { ok: true }>> {
    return this.#send({ op: 'reject', callId, reason: options.reason }, options.timeoutMs ?? 10_000);
  }

  async #send(cmd: CallCommand, timeoutMs: number): Promise<Extract<CallCommandReply, { ok: true }>> {
    let data: Uint8Array;
    try {
      const msg = await this.#o.nats.request(this.#names.command(cmd.callId), encode(cmd), { timeout: timeoutMs });
      data = msg.data;
    } catch (err) {
      if (isNoResponders(err))
        throw new ClusterError('no-holder', `no worker holds call ${cmd.callId} ringing`, { cause: err });
      if (/timeout/i.test(String((err as Error)?.message)))
        throw new TimeoutError(`waiting for the worker holding call ${cmd.callId} to ${cmd.op} it`, timeoutMs);
      throw err;
    }
    const reply = parseCallReply(data);
    if (reply.ok) return reply;
    throw new ClusterError(
      reply.reason === 'not-ringing' ? 'no-holder' : 'rejected',
      `${cmd.op} of call ${cmd.callId}: ${reply.message}`,
    );
  }
}
