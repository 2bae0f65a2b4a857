/**
 * Auto-answering calls: the `CallManager` listens for `callIncoming`, asks a policy, accepts or
 * rejects through ICalls, opens the duplex audio session, and owns every `Call` until it ends.
 *
 * Call lifecycle (one state union, deadlines on every waiting state):
 * ```
 *   ringing ──policy accept──► accepting ──Accept ok──► connecting ──session ready──► connected
 *      │                          │                         │                           │
 *      └─ policy reject ─┐        └─ accept failed ─┐       └─ connect timeout ─┐       │
 *                        ▼                          ▼                           ▼       ▼
 *                                            ended (reason)  ◄── callEnded / hangUp / target left / socket lost / shutdown
 * ```
 * The platform rings for 45 s and sends `callEnded` for every end, including the bot's own
 * Reject (docs/platform.md §R6.1–6.2); `Reject` doubles as hang-up. Accept failures (call already
 * ended, not the callee, token errors) end only that call; the manager keeps serving others.
 * @packageDocumentation
 */
import { ArgonVoiceError, ClosedError, HttpError, TimeoutError } from '../errors.js';
import { sleep, type WaitOptions, withDeadline } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { waitForStatus } from '../util/state.js';
import { acceptAll, type CallPolicy, decideCall, type IncomingCall } from './policy.js';

/** What ICalls/Accept returns (docs/platform.md §R6.2). */
export interface CallAcceptance {
  token: string;
  roomName: string;
  callerId: string;
  /** Audio gateway base URL (no path); the session appends `/audio/duplex`. */
  audioBaseUrl: string;
}

/** The slice of the REST client the manager needs (`rest.calls`). */
export interface CallsApi {
  accept(body: { callId: string }, options?: WaitOptions): Promise<CallAcceptance>;
  reject(body: { callId: string; reason?: string }, options?: WaitOptions): Promise<unknown>;
}

/** Where `callIncoming` / `callEnded` come from (an EventStream or Bot). */
export interface CallEventSource {
  on(
    event: 'callIncoming',
    listener: (ev: { callId: string; fromUserId: string; fromLocale: string | null }) => void,
  ): unknown;
  on(event: 'callEnded', listener: (ev: { callId: string }) => void): unknown;
  off(
    event: 'callIncoming',
    listener: (ev: { callId: string; fromUserId: string; fromLocale: string | null }) => void,
  ): unknown;
  off(event: 'callEnded', listener: (ev: { callId: string }) => void): unknown;
}

/** Events a call's audio session reports to its call. */
export type CallSessionEvents = {
  /** The caller left the room (`target_left`); on duplex the socket stays open. */
  targetLeft: [];
  /** The session closed (socket lost or closed); `error` says why when it was not asked for. */
  closed: [error?: Error];
};

/** The audio session of a call (a duplex session: publish + receive the caller). */
export interface CallSession {
  /** Resolves once the session can publish (`ready`), honouring the deadline/signal. */
  ready(options?: WaitOptions): Promise<void>;
  on<K extends keyof CallSessionEvents>(event: K, listener: (...args: CallSessionEvents[K]) => void): unknown;
  off<K extends keyof CallSessionEvents>(event: K, listener: (...args: CallSessionEvents[K]) => void): unknown;
  /** Closes the session (idempotent). */
  close(): Promise<void>;
}

/** Why a call ended. */
export type CallEndReason =
  | 'rejected'
  | 'hung-up'
  | 'remote-ended'
  | 'target-left'
  | 'socket-lost'
  | 'accept-failed'
  | 'connect-timeout'
  | 'shutdown';

/** A call's state. */
export type CallState<S extends CallSession = CallSession> =
  | { status: 'ringing'; since: number }
  | { status: 'accepting'; since: number }
  | { status: 'connecting'; since: number; acceptance: CallAcceptance }
  | { status: 'connected'; since: number; acceptance: CallAcceptance; session: S }
  | { status: 'ended'; since: number; reason: CallEndReason; detail?: string; error?: Error };

/** Events of a {@link Call}. */
export type CallEvents<S extends CallSession> = {
  stateChange: [oldState: CallState<S>, newState: CallState<S>];
  connected: [session: S];
  ended: [reason: CallEndReason, detail?: string];
};

/** One call, owned by a {@link CallManager}. */
export class Call<S extends CallSession = CallSession> extends TypedEmitter<CallEvents<S>> {
  readonly callId: string;
  readonly callerId: string;
  readonly locale: string | null;
  #state: CallState<S>;
  readonly #hangUp: (call: Call<S>, reason: string) => Promise<void>;
  readonly #clock: Clock;
  /** Aborted when the call ends; pass it to work done for this call. */
  readonly #ended = new AbortController();

  /** @internal created by the manager */
  constructor(info: IncomingCall, clock: Clock, hangUp: (call: Call<S>, reason: string) => Promise<void>) {
    super();
    this.callId = info.callId;
    this.callerId = info.fromUserId;
    this.locale = info.fromLocale;
    this.#clock = clock;
    this.#hangUp = hangUp;
    this.#state = { status: 'ringing', since: clock.now() };
  }

  /** Current state. */
  get state(): CallState<S> {
    return this.#state;
  }

  /** Aborted when the call ends: hand it to playback and recording for this call. */
  get signal(): AbortSignal {
    return this.#ended.signal;
  }

  /** The live audio session, when connected. */
  get session(): S | undefined {
    return this.#state.status === 'connected' ? this.#state.session : undefined;
  }

  /** @internal the manager's only way to move the state; releases what the old state owned. */
  setState(next: CallState<S>): void {
    const old = this.#state;
    if (old.status === 'ended') return;
    this.#state = next;
    if (old.status === 'connected' && next.status === 'ended') {
      void old.session.close().catch(() => {});
    }
    this.emit('stateChange', old, next);
    if (next.status === 'connected') this.emit('connected', next.session);
    if (next.status === 'ended') {
      this.#ended.abort(new ClosedError(`call ${this.callId} ended (${next.reason})`));
      this.emit('ended', next.reason, next.detail);
    }
  }

  /** Waits until the call reaches `status` (rejects with ClosedError if it ends first). */
  waitFor<K extends CallState<S>['status']>(
    status: K,
    options: WaitOptions = {},
  ): Promise<Extract<CallState<S>, { status: K }>> {
    if (status === 'ended' && this.#state.status === 'ended')
      return Promise.resolve(this.#state as Extract<CallState<S>, { status: K }>);
    if (status === 'ended') {
      return withDeadline(
        new Promise((resolve) =>
          this.once('ended', () => resolve(this.#state as Extract<CallState<S>, { status: K }>)),
        ),
        `waiting for call ${this.callId} to end`,
        { ...options, clock: this.#clock },
      );
    }
    return waitForStatus(this as never, status as never, {
      ...options,
      clock: this.#clock,
      what: `call ${this.callId}`,
      terminal: 'ended',
    }) as never;
  }

  /**
   * Hangs up (ICalls Reject doubles as hang-up). Idempotent; resolves once the call has ended.
   * Network errors of the Reject are reported through the manager's `error` event, not thrown:
   * the call ends locally either way.
   */
  async hangUp(reason = 'hung up'): Promise<void> {
    if (this.#state.status === 'ended') return;
    await this.#hangUp(this, reason);
  }
}

/** Options of {@link CallManager}. */
export interface CallManagerOptions<S extends CallSession> {
  /** ICalls (the REST client's `calls`). */
  calls: CallsApi;
  /** Source of `callIncoming` / `callEnded` (the bot's event stream). */
  events: CallEventSource;
  /** Opens the duplex session for an accepted call. */
  openSession: (call: Call<S>, acceptance: CallAcceptance, signal: AbortSignal) => Promise<S>;
  /** Decides each call (default: accept all). */
  policy?: CallPolicy;
  /**
   * Runs once per connected call (greet, record, play back ...). When it resolves the call is
   * hung up; when it throws, the error is reported and the call is hung up.
   */
  onCall?: (call: Call<S>) => Promise<void> | void;
  /** Deadlines in ms: policy decision (10 s), Accept request (10 s), session ready (15 s). */
  deadlines?: { decideMs?: number; acceptMs?: number; connectMs?: number };
  clock?: Clock;
}

/** Events of a {@link CallManager}. */
export type CallManagerEvents<S extends CallSession> = {
  /** A call arrived (state `ringing`). */
  call: [call: Call<S>];
  /** The policy rejected a call. */
  rejected: [call: Call<S>, reason: string];
  /** A call ended. */
  ended: [call: Call<S>, reason: CallEndReason];
  /** A non-fatal error: an Accept or Reject failed, a handler threw. The manager keeps going. */
  error: [error: Error, call?: Call<S>];
};

/**
 * Answers calls by policy and owns every call until it ends. `close()` hangs up every live call
 * (wire it to process shutdown: SIGINT/SIGTERM).
 */
export class CallManager<S extends CallSession = CallSession> extends TypedEmitter<CallManagerEvents<S>> {
  readonly #opts: Required<Omit<CallManagerOptions<S>, 'onCall' | 'deadlines'>> &
    Pick<CallManagerOptions<S>, 'onCall'> & { deadlines: { decideMs: number; acceptMs: number; connectMs: number } };
  readonly #calls = new Map<string, Call<S>>();
  #closed = false;
  readonly #onIncoming = (ev: { callId: string; fromUserId: string; fromLocale: string | null }) => {
    void this.#handleIncoming(ev);
  };
  readonly #onEnded = (ev: { callId: string }) => {
    const call = this.#calls.get(ev.callId);
    if (call) this.#end(call, 'remote-ended');
  };
  /** Serializes policy decisions (see #handleIncoming). */
  #decisionQueue: Promise<void> = Promise.resolve();
  /** Work in flight (decisions, accepts, handlers), awaited by close(). */
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(options: CallManagerOptions<S>) {
    super();
    this.#opts = {
      policy: acceptAll(),
      clock: systemClock,
      ...options,
      deadlines: { decideMs: 10_000, acceptMs: 10_000, connectMs: 15_000, ...options.deadlines },
    };
    this.#opts.events.on('callIncoming', this.#onIncoming);
    this.#opts.events.on('callEnded', this.#onEnded);
  }

  /** Calls not yet ended. */
  get activeCalls(): Call<S>[] {
    return [...this.#calls.values()];
  }

  /** Number of calls accepted or being accepted (what `maxConcurrent` counts). */
  get busyLines(): number {
    let n = 0;
    for (const c of this.#calls.values()) if (c.state.status !== 'ringing') n++;
    return n;
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p)).catch(() => {});
    return p;
  }

  async #handleIncoming(ev: { callId: string; fromUserId: string; fromLocale: string | null }): Promise<void> {
    if (this.#closed || this.#calls.has(ev.callId)) return;
    const { clock, deadlines } = this.#opts;
    const call: Call<S> = new Call<S>(ev, clock, (c, reason) => this.#hangUpCall(c, reason));
    this.#calls.set(call.callId, call);
    this.emit('call', call);
    const work = (async () => {
      // Decisions run one at a time: a policy such as maxConcurrent must see the lines taken by
      // the calls decided just before it, or ten simultaneous calls would all see zero busy lines.
      const turn = this.#decisionQueue.then(() =>
        decideCall(this.#opts.policy, ev, this.busyLines, {
          deadlineMs: deadlines.decideMs,
          signal: call.signal,
          clock,
        }),
      );
      this.#decisionQueue = turn.then(
        (d) => {
          // Take the line before the next decision runs.
          if (d.action === 'accept' && !ended(call)) call.setState({ status: 'accepting', since: clock.now() });
        },
        () => {},
      );
      const decision = await turn;
      await this.#decisionQueue;
      if (ended(call)) return;
      if (decision.action === 'reject') {
        this.emit('rejected', call, decision.reason);
        await this.#reject(call, decision.reason);
        this.#end(call, 'rejected', decision.reason);
        return;
      }
      if (decision.delayMs) {
        // The call ending while it rings aborts the wait; the check below then returns.
        await sleep(decision.delayMs, { signal: call.signal, clock }).catch(() => {});
        if (ended(call)) return;
      }
      let acceptance: CallAcceptance;
      try {
        acceptance = await this.#opts.calls.accept(
          { callId: call.callId },
          { timeoutMs: deadlines.acceptMs, signal: call.signal },
        );
      } catch (err) {
        if (ended(call)) return;
        this.emit('error', wrap(err, `accepting call ${call.callId} failed`), call);
        this.#end(call, 'accept-failed', describe(err), err as Error);
        return;
      }
      if (ended(call)) return;
      call.setState({ status: 'connecting', since: clock.now(), acceptance });
      let session: S | undefined;
      try {
        session = await withDeadline(
          (async () => {
            const s = await this.#opts.openSession(call, acceptance, call.signal);
            session = s;
            await s.ready({ signal: call.signal });
            return s;
          })(),
          `connecting the audio of call ${call.callId}`,
          { timeoutMs: deadlines.connectMs, signal: call.signal, clock },
        );
      } catch (err) {
        if (session) void session.close().catch(() => {});
        if (ended(call)) return;
        const reason: CallEndReason = err instanceof TimeoutError ? 'connect-timeout' : 'socket-lost';
        this.emit('error', wrap(err, `connecting call ${call.callId} failed`), call);
        await this.#reject(call, reason);
        this.#end(call, reason, describe(err), err as Error);
        return;
      }
      if (ended(call)) {
        void session.close().catch(() => {});
        return;
      }
      const s = session;
      s.on('targetLeft', () => void this.#hangUpCall(call, 'caller left', 'target-left'));
      s.on('closed', (error) => {
        if (!ended(call)) {
          void this.#reject(call, 'audio lost');
          this.#end(call, 'socket-lost', error?.message, error);
        }
      });
      call.setState({ status: 'connected', since: clock.now(), acceptance, session: s });
      if (this.#opts.onCall) {
        try {
          await this.#opts.onCall(call);
        } catch (err) {
          if (!ended(call)) this.emit('error', wrap(err, `the call handler of ${call.callId} threw`), call);
        }
        if (!ended(call)) await this.#hangUpCall(call, 'done');
      }
    })();
    await this.#track(work).catch((err) => {
      this.emit('error', wrap(err, `handling call ${call.callId} failed`), call);
      this.#end(call, 'socket-lost', describe(err), err as Error);
    });
  }

  async #reject(call: Call<S>, reason: string): Promise<void> {
    try {
      await this.#opts.calls.reject({ callId: call.callId, reason }, { timeoutMs: this.#opts.deadlines.acceptMs });
    } catch (err) {
      this.emit('error', wrap(err, `rejecting call ${call.callId} failed`), call);
    }
  }

  async #hangUpCall(call: Call<S>, reason: string, endReason: CallEndReason = 'hung-up'): Promise<void> {
    if (ended(call)) return;
    // End locally first so nothing else runs for this call, then tell the platform.
    this.#end(call, endReason, reason);
    await this.#track(this.#reject(call, reason));
  }

  #end(call: Call<S>, reason: CallEndReason, detail?: string, error?: Error): void {
    if (ended(call)) return;
    call.setState({
      status: 'ended',
      since: this.#opts.clock.now(),
      reason,
      ...(detail ? { detail } : {}),
      ...(error ? { error } : {}),
    });
    this.#calls.delete(call.callId);
    this.emit('ended', call, reason);
  }

  /**
   * Stops answering and hangs up every live call (Reject for each), then waits for in-flight
   * work. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#opts.events.off('callIncoming', this.#onIncoming);
      this.#opts.events.off('callEnded', this.#onEnded);
      const live = [...this.#calls.values()];
      await Promise.all(
        live.map(async (c) => {
          const session = c.session;
          this.#end(c, 'shutdown', 'bot shutting down');
          // Wait for the socket to be gone too, so shutdown is deterministic.
          await Promise.all([this.#reject(c, 'bot shutting down'), session?.close().catch(() => {})]);
        }),
      );
    }
    while (this.#inflight.size) await Promise.allSettled([...this.#inflight]);
  }

  /** `await using manager = new CallManager(...)` hangs up on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Reads the state afresh (a call can end during any await; TS would narrow a plain comparison). */
function ended(call: { readonly state: { status: string } }): boolean {
  return call.state.status === 'ended';
}

function describe(err: unknown): string {
  if (err instanceof HttpError) return err.errorCode ?? `HTTP ${err.status}`;
  return (err as Error)?.message ?? String(err);
}

function wrap(err: unknown, message: string): Error {
  return err instanceof ArgonVoiceError ? err : new ClosedError(`${message}: ${describe(err)}`, { cause: err });
}
