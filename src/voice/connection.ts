/**
 * `VoiceConnection`: publish audio into a voice channel through the gateway's `/audio/connect`
 * (IVoice StreamToken, docs/platform.md §A1.4, §R7.1).
 *
 * ```
 *            ┌────────────────────────── drop (1006, pong timeout) ───────────────────────┐
 *            ▼                                                                             │
 *  requesting-token ──► connecting ──► waiting-ready ──► ready ───────────────────────────┤
 *        ▲    (token deadline) (upgrade deadline) (ready deadline)                          │
 *        └──────────────────────── reconnecting (backoff) ◄────────────────────────────────┘
 *  any state ── close() / fatal error (401/403/404, attempts exhausted) ──► closed
 * ```
 * The socket lives on the pacer thread ({@link FramePacer}); this class runs the state machine
 * on the main thread from the socket events the pacer reports. Frames are validated here
 * (the gateway silently kills the session for a bad one, §A3.2) and queued in the pacer, which
 * only starts its timeline after `ready` (§A8a.6), with a silence pre-roll (§A4.2). The pacer's
 * queue survives a reconnect, so a player resumes where it was.
 * @packageDocumentation
 */
import { performance } from 'node:perf_hooks';
import { isGatewaySafe } from '../codec/opus-packet.js';
import { silencePacket } from '../codec/silence.js';
import {
  AbortError,
  ArgonVoiceError,
  ClosedError,
  HttpError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
  TransportError,
  forgetSecret,
  registerSecret,
} from '../errors.js';
import type { FramePacerOptions, PacerMetrics } from '../pacing/index.js';
import type { PacerProducerLink } from '../pacing/pacer.js';
import { FramePacer, type SocketEvent } from '../pacing/index.js';
import { backoffDelay, type WaitOptions } from '../util/abort.js';
import { type Clock, MAX_TIMER_MS, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type StatefulLike, waitForStatus } from '../util/state.js';
import { type AudioUrlParams, buildAudioUrl } from './gateway-url.js';
import { MediaWorkerPool } from './media/pool.js';

/** What IVoice/StreamToken (or any provider) hands out. */
export interface StreamTokenGrant {
  /** LiveKit JWT (never logged). */
  token: string;
  /** Gateway base URL (`ws://host:12880`); `/audio/connect` is appended. */
  ingressUrl: string;
  /** `spaceId/channelId`. */
  roomName?: string;
}

/** Minimal slice of the REST client the connection uses. */
export interface StreamTokenApi {
  /** IVoice: `streamToken({ spaceId, channelId })`. */
  voice: {
    streamToken(
      args: { spaceId: string; channelId: string },
      options?: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    ): Promise<StreamTokenGrant>;
  };
}

/** State of a {@link VoiceConnection}. */
export type VoiceConnectionState =
  | { status: 'requesting-token'; attempt: number }
  | { status: 'connecting'; attempt: number }
  | { status: 'waiting-ready'; attempt: number }
  | { status: 'ready'; sessionId: string; attempt: number }
  | { status: 'reconnecting'; attempt: number; delayMs: number; reason: Error }
  | { status: 'closed'; reason?: Error | undefined };

/** Events of {@link VoiceConnection} (and of every {@link PublishSession}). */
export type VoiceConnectionEvents = PublishSessionEvents;

/** Events of a {@link PublishSession}. */
export type PublishSessionEvents = {
  /** Every state transition. */
  stateChange: [oldState: VoiceConnectionState, newState: VoiceConnectionState];
  /** A fault; only emitted when someone listens (the reason is also kept in the closed state). */
  error: [error: Error];
  /** A frame failed validation and was replaced with silence. */
  invalidFrame: [frame: Uint8Array, error: Error];
  /** A fresh token was obtained (initial, refresh or reconnect). */
  token: [info: { expiresAtMs: number; reason: 'initial' | 'refresh' | 'reconnect' }];
};

/** Options of {@link VoiceConnection}. */
export interface VoiceConnectionOptions extends PublishSessionOptions {
  /** Space of the voice channel. */
  spaceId: string;
  /** Voice channel. */
  channelId: string;
  /** REST client (its `voice.streamToken` is called); or give `tokenProvider`. */
  rest?: StreamTokenApi;
  /** Custom token source (wins over `rest`). */
  tokenProvider?: (options: { signal: AbortSignal }) => Promise<StreamTokenGrant>;
}

/** Options shared by the publishing sessions ({@link VoiceConnection}, `DuplexSession`). */
export interface PublishSessionOptions {
  /** Stereo track (default mono). */
  stereo?: boolean;
  /** Frame duration in integer ms (default 20); every frame must last exactly this long (§A3.4). */
  frameDurationMs?: number;
  /** `track_name` (default the gateway's `audio`). */
  trackName?: string;
  /** `track_source`. */
  trackSource?: 'microphone' | 'screen_share_audio';
  /** Participant `metadata`. */
  metadata?: string;
  /**
   * Gateway base replacing the `ingressUrl` of StreamToken (as echo-bot replaces scheme and host
   * with its configured ingress URL, docs/platform.md §A7), e.g. when the API hands out an internal address.
   */
  gatewayUrl?: string;
  /** Where the token travels: `Authorization: Bearer` header (default) or `?token=` (§A1.3). */
  tokenIn?: 'header' | 'query';
  /** Deadlines of the waiting states (ms): token 10 s, upgrade 10 s, ready 20 s. */
  timeouts?: { tokenMs?: number; connectMs?: number; readyMs?: number };
  /** Reconnect policy after a drop (default 6 attempts, 250 ms base, 10 s cap); false: close instead. */
  reconnect?: false | { maxAttempts?: number; baseMs?: number; capMs?: number; random?: () => number };
  /**
   * Refresh the token this long before it expires (default 10 min; StreamToken TTL is 2 h, §A6).
   * A token that lives no longer than that is refreshed half-way through its life instead (rather
   * than re-requested every second). The refresh only replaces the token kept for the next reconnect:
   * the gateway checks a token at upgrade only (§A1.4), so the open socket is left alone.
   */
  refreshBeforeMs?: number;
  /** Silence sent after `ready` before queued audio (default 160 ms, §A4.2). */
  prerollMs?: number;
  /** Send silence in empty slots so the media watchdog never fires (default true, §A4.4). */
  keepalive?: boolean;
  /** Client ping period and deadline for dead-socket detection (defaults 15 s / 10 s). */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Send-buffer bound; see {@link PacerSocketOptions.maxBufferedBytes}. */
  maxBufferedBytes?: number;
  /** Pacer options (late policy, queue depth, mode). */
  pacer?: Omit<FramePacerOptions, 'frameDurationMs'>;
  /**
   * Clock for deadlines, the refresh timer and the reconnect backoff (tests). A clock other than
   * {@link systemClock} is also handed to the pacer (unless `pacer.clock` is given), which then
   * runs in main-thread mode on it, so one fake clock drives the whole session.
   */
  clock?: Clock;
  /**
   * Wall clock in Unix ms (default `Date.now`), read only to turn the token's `exp` into a
   * remaining lifetime at the moment it is received; every later comparison uses `clock`. Tests
   * that mint tokens on a fake timeline pass that timeline here.
   */
  wallClockMs?: () => number;
}

/** Upgrade statuses that no retry can fix (§A1.5): bad token, not allowed, bad request. */
const FATAL_UPGRADE = new Set([400, 401, 403, 404]);

/** Reads `exp` from a JWT without verifying it; undefined when it has none. */
function jwtExpiryMs(token: string): number | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { exp?: number };
    return typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

const active = new Map<string, PublishSession>();

/** A token and the gateway base it is for. */
export interface GatewayGrant {
  /** JWT for the upgrade (never logged). */
  token: string;
  /** Gateway base URL (`ws://host:12880`). */
  baseUrl: string;
}

/**
 * The state machine, validation, pacing and reconnects shared by `/audio/connect`
 * ({@link VoiceConnection}) and `/audio/duplex` (`DuplexSession`). Subclasses say where the
 * token comes from and which query parameters the endpoint takes.
 *
 * @remarks One session per room key per process: LiveKit kicks an older session with the same
 * identity (§A6), so two sessions would kick each other forever. The constructor refuses a second one.
 */
export abstract class PublishSession<E extends PublishSessionEvents = PublishSessionEvents> extends TypedEmitter<E> {
  /** Channels of the published track (`stereo=`). */
  readonly channels: 1 | 2;
  /** `frame_duration_ms` of the session; every frame must last exactly this long. */
  readonly frameDurationMs: number;
  /** The pacer that owns the socket; its metrics say how the frames left. */
  readonly pacer: FramePacer;
  readonly #opts: PublishSessionOptions;
  readonly #endpoint: 'connect' | 'duplex';
  readonly #clock: Clock;
  readonly #key: string;
  readonly #silence: Uint8Array;
  #state: VoiceConnectionState = { status: 'requesting-token', attempt: 0 };
  /** The token for the next upgrade; `expiresAt`/`receivedAt` are on {@link PublishSession.#clock}. */
  #grant: { token: string; ingressUrl: string; expiresAt: number; receivedAt: number } | undefined;
  #refreshTimer: unknown;
  #life = new AbortController();
  #socketWaiter: ((ev: SocketEvent) => void) | undefined;
  #socketOpen = false;
  #invalidFrames = 0;
  #framesAccepted = 0;
  #lastCloseFrameSent: Promise<void> | undefined;

  /**
   * Starts connecting at once (state `requesting-token`).
   * @throws InvalidInputError for bad options or when a session for `key` is already open.
   */
  protected constructor(endpoint: 'connect' | 'duplex', key: string, options: PublishSessionOptions) {
    super();
    const f = options.frameDurationMs ?? 20;
    if (!Number.isInteger(f) || f <= 0) {
      throw new InvalidInputError(
        `frameDurationMs must be a positive integer (the gateway parses it with Atoi), got ${f}`,
      );
    }
    this.#key = key;
    if (active.has(key)) {
      throw new InvalidInputError(
        `an audio session for ${key} is already open in this process; reuse it or close it first — two sessions with one identity kick each other`,
      );
    }
    this.#endpoint = endpoint;
    this.channels = options.stereo ? 2 : 1;
    this.frameDurationMs = f;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#silence = silencePacket(this.channels, f);
    // A fake clock given to the session drives the pacer too (main-thread mode), unless the
    // caller chose the pacer's clock itself.
    const pacerClock = options.clock && options.clock !== systemClock ? { clock: options.clock } : {};
    this.pacer = new FramePacer({ ...pacerClock, ...options.pacer, frameDurationMs: f });
    // A worker-mode pacer will be fed by a media worker (AudioPlayer): boot one while connecting.
    if (this.pacer.mode === 'worker') MediaWorkerPool.shared().warm();
    this.pacer.on('socket', (ev) => this.#onSocket(ev));
    active.set(key, this);
    queueMicrotask(() => void this.#run());
  }

  /** Fetches a token and the gateway base for the next upgrade. */
  protected abstract requestGrant(signal: AbortSignal): Promise<GatewayGrant>;

  /**
   * Whether a new token may be requested before expiry and on reconnect (StreamToken: yes, §A6 "get a
   * fresh token for every reconnect"; a call's Accept token is one-shot, so duplex reuses it).
   */
  protected canRenewToken(): boolean {
    return true;
  }

  /** Endpoint-specific query parameters (duplex: target identity). */
  protected extraUrlParams(): AudioUrlParams {
    return {};
  }

  /** A text message other than ready/error (duplex: subscribed, target_left). */
  protected onStatusMessage(_status: string, _body: Record<string, unknown>): void {}

  /** A binary message from the gateway (duplex: the target's audio). */
  protected onBinaryMessage(_data: Uint8Array, _arrivalMs: number): void {}

  /** Typed emit of the shared events from the generic base. */
  protected emitBase<K extends keyof PublishSessionEvents & string>(
    event: K,
    ...args: PublishSessionEvents[K]
  ): boolean {
    return (this.emit as unknown as (e: string, ...a: unknown[]) => boolean)(event, ...args);
  }

  #listeners(event: keyof PublishSessionEvents & string): number {
    return (this.listenerCount as unknown as (e: string) => number)(event);
  }

  /** Current state. */
  get state(): VoiceConnectionState {
    return this.#state;
  }

  /** Frames accepted for sending, and frames replaced with silence because they were invalid. */
  get stats(): { framesAccepted: number; invalidFrames: number } {
    // A media worker queues its frames in the pacer directly: count what the pacer was given.
    return {
      framesAccepted: Math.max(this.#framesAccepted, this.pacer.framesQueued),
      invalidFrames: this.#invalidFrames,
    };
  }

  /** Latest pacer metrics. */
  get metrics(): PacerMetrics {
    return this.pacer.metrics;
  }

  #setState(next: VoiceConnectionState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emitBase('stateChange', old, next);
  }

  /** Resolves once `ready` (immediately if it is). @throws TimeoutError, AbortError, ClosedError. */
  async ready(options: WaitOptions = {}): Promise<void> {
    await waitForStatus(this as unknown as StatefulLike<VoiceConnectionState>, 'ready', {
      ...options,
      what: 'audio session',
    });
  }

  /** Waits for a status. @throws TimeoutError, AbortError, ClosedError. */
  waitFor<K extends VoiceConnectionState['status']>(
    status: K,
    options: WaitOptions = {},
  ): Promise<Extract<VoiceConnectionState, { status: K }>> {
    return waitForStatus<VoiceConnectionState, K>(this as unknown as StatefulLike<VoiceConnectionState>, status, {
      ...options,
      what: 'audio session',
    });
  }

  /**
   * Validates `frame` and queues it in the pacer, waiting for room. An invalid frame (RFC 6716
   * structure, 2–3825 bytes, duration ≠ `frameDurationMs`) is replaced with silence of the same
   * duration and reported with `invalidFrame`: the gateway would kill the session silently
   * (§A3.2, §A8a.3) and a gap would mistime what follows.
   * Frames queued before `ready` wait in the pacer; nothing is sent before `ready`.
   * @throws ClosedError once closed, AbortError / TimeoutError from `options`.
   */
  async sendFrame(frame: Uint8Array, options: WaitOptions = {}): Promise<void> {
    if (this.#state.status === 'closed')
      throw new ClosedError('the audio session is closed', { cause: this.#state.reason });
    let out = frame;
    if (!isGatewaySafe(frame, this.frameDurationMs)) {
      this.#invalidFrames++;
      out = this.#silence;
      this.emitBase(
        'invalidFrame',
        frame,
        new InvalidInputError(`invalid frame of ${frame.length} bytes replaced with silence`),
      );
    }
    await this.pacer.enqueue(out, { signal: options.signal, timeoutMs: options.timeoutMs });
    this.#framesAccepted++;
  }

  /** Frames queued and not sent yet. */
  get queuedFrames(): number {
    return this.pacer.queueDepth;
  }

  /** Drops the frames queued in the pacer (a player's stop or seek). */
  clearQueued(): void {
    this.pacer.clear();
  }

  /** Records how long the producer took to prepare a frame (pacer metric `encodeP99Ms`). */
  recordPrepareTime(ms: number): void {
    this.pacer.recordPrepareTime(ms);
  }

  /** Marks intended silence (a player's queue ended or it paused): not counted as a dropout. */
  markQuiet(): void {
    this.pacer.markQuiet();
  }

  /**
   * A direct feed into this connection's pacer for a media worker (worker-mode pacer only), so
   * prerecorded audio is rendered and queued off the main thread. Undefined once closed.
   */
  producerLink(): PacerProducerLink | undefined {
    if (this.#state.status === 'closed') return undefined;
    return this.pacer.producerLink();
  }

  /** A frame a media worker replaced with silence (it would have killed the session): counted and reported as `invalidFrame`. */
  reportInvalidFrame(frame: Uint8Array, message: string): void {
    this.#invalidFrames++;
    this.emitBase(
      'invalidFrame',
      frame,
      new InvalidInputError(`invalid frame of ${frame.length} bytes replaced with silence: ${message}`),
    );
  }

  // ── state machine ──

  async #run(): Promise<void> {
    let attempt = 0;
    const rc = this.#opts.reconnect;
    const maxAttempts = rc === false ? 0 : (rc?.maxAttempts ?? 6);
    let everReady = false;
    for (;;) {
      if (this.#life.signal.aborted) return;
      try {
        await this.#attempt(attempt, everReady);
        everReady = true;
        attempt = 0;
        // ready: wait for the socket to end.
        const ev = await this.#nextSocket((e) => e.type === 'close');
        if (this.#life.signal.aborted) return;
        throw new TransportError(
          `the gateway dropped the session (close ${(ev as { code: number }).code}${(ev as { reason: string }).reason ? `: ${(ev as { reason: string }).reason}` : ''}); last frames sent: ${this.pacer.metrics.framesSent}`,
          { closeCode: (ev as { code: number }).code },
        );
      } catch (err) {
        if (this.#life.signal.aborted) return;
        this.pacer.stop();
        const error = err instanceof Error ? err : new Error(String(err));
        const fatal = this.#isFatal(error);
        if (fatal || attempt >= maxAttempts) {
          this.#fail(error);
          return;
        }
        const delayMs = backoffDelay(
          attempt,
          rc ? rc.baseMs : undefined,
          rc ? rc.capMs : undefined,
          rc ? rc.random : undefined,
        );
        attempt++;
        this.#setState({ status: 'reconnecting', attempt, delayMs, reason: error });
        try {
          // The abort listener goes away with the wait: the session's signal lives as long as the
          // session, and a listener per reconnect would pile up over a long life.
          await new Promise<void>((resolve, reject) => {
            const life = this.#life.signal;
            const onAbort = () => {
              this.#clock.clearTimeout(t);
              reject(new AbortError());
            };
            const t = this.#clock.setTimeout(() => {
              life.removeEventListener('abort', onAbort);
              resolve();
            }, delayMs);
            if (life.aborted) onAbort();
            else life.addEventListener('abort', onAbort, { once: true });
          });
        } catch {
          return;
        }
      }
    }
  }

  #isFatal(err: Error): boolean {
    if (err instanceof HttpError)
      return err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429;
    if (err instanceof TransportError && err.status !== undefined) return FATAL_UPGRADE.has(err.status);
    if (err instanceof InvalidInputError || err instanceof ProtocolError) return true;
    return false;
  }

  async #attempt(attempt: number, reconnecting: boolean): Promise<void> {
    const t = this.#opts.timeouts ?? {};
    // requesting-token
    this.#setState({ status: 'requesting-token', attempt });
    const refreshBefore = this.#opts.refreshBeforeMs ?? 10 * 60_000;
    const renew = this.canRenewToken();
    if (
      !this.#grant ||
      (renew && (this.#grant.expiresAt - this.#clock.now() < Math.min(refreshBefore, 60_000) || reconnecting))
    ) {
      // §A6: "Get a fresh token for every reconnect".
      await this.#fetchToken(reconnecting ? 'reconnect' : 'initial', t.tokenMs ?? 10_000);
    }
    const grant = this.#grant!;
    // connecting
    this.#setState({ status: 'connecting', attempt });
    const useQuery = this.#opts.tokenIn === 'query';
    const url = buildAudioUrl(this.#opts.gatewayUrl ?? grant.ingressUrl, this.#endpoint, {
      ...this.extraUrlParams(),
      token: useQuery ? grant.token : undefined,
      stereo: this.channels === 2,
      frameDurationMs: this.frameDurationMs,
      trackName: this.#opts.trackName,
      trackSource: this.#opts.trackSource,
      metadata: this.#opts.metadata,
    });
    // The wait for `ready` is armed in the same call as the `open` event is seen: a main-thread
    // pacer can report `open` and a `ready` that came in the same TCP read back to back, before
    // any continuation of `await opened` runs, and a `ready` with no waiter would be lost.
    let readied: Promise<SocketEvent> | undefined;
    const opened = this.#nextSocket(
      (e) => e.type === 'open' || e.type === 'close' || e.type === 'unexpected-response',
      t.connectMs ?? 10_000,
      'opening the audio socket',
      (e) => {
        if (e.type !== 'open') return;
        readied = this.#nextSocket(
          (r) => r.type === 'close' || (r.type === 'text' && ['ready', 'error'].includes(statusOf(r.text) ?? '')),
          t.readyMs ?? 20_000,
          "waiting for the gateway's ready",
        );
        readied.catch(() => undefined);
      },
    );
    this.#socketOpen = false;
    this.pacer.connect({
      url,
      headers: useQuery ? {} : { Authorization: `Bearer ${grant.token}` },
      handshakeTimeoutMs: t.connectMs ?? 10_000,
      pingIntervalMs: this.#opts.pingIntervalMs ?? 15_000,
      pongTimeoutMs: this.#opts.pongTimeoutMs ?? 10_000,
      maxBufferedBytes: this.#opts.maxBufferedBytes,
    });
    const first = await opened.catch((err) => {
      this.pacer.disconnect(1000, true);
      throw err;
    });
    if (first.type === 'unexpected-response') {
      throw new TransportError(`the gateway refused the upgrade with HTTP ${first.status}: ${first.body.trim()}`, {
        status: first.status,
      });
    }
    if (first.type === 'close')
      throw new TransportError(`the audio socket closed while connecting (${first.code})`, { closeCode: first.code });
    this.#socketOpen = true;
    // waiting-ready
    this.#setState({ status: 'waiting-ready', attempt });
    const msg = await readied!.catch((err) => {
      this.pacer.disconnect(1000, true);
      throw err;
    });
    if (msg.type === 'close')
      throw new TransportError(`the gateway dropped the socket before ready (${msg.code})`, { closeCode: msg.code });
    const body = JSON.parse((msg as { text: string }).text) as { session_id?: string; message?: string };
    if (statusOf((msg as { text: string }).text) === 'error') {
      this.pacer.disconnect(1000, true);
      throw new TransportError(`the gateway could not create the session: ${body.message ?? 'no message'}`);
    }
    // ready: filler + pre-roll, then the queued audio.
    const preroll = Math.round((this.#opts.prerollMs ?? 160) / this.frameDurationMs);
    const keepalive = this.#opts.keepalive ?? true;
    // The pre-roll is made of the filler, captured at start; without keepalive it is removed after.
    this.pacer.setFiller(keepalive || preroll > 0 ? this.#silence : undefined);
    this.pacer.start(preroll);
    if (!keepalive) this.pacer.setFiller(undefined);
    this.#setState({ status: 'ready', sessionId: body.session_id ?? '', attempt });
  }

  async #fetchToken(reason: 'initial' | 'refresh' | 'reconnect', timeoutMs: number): Promise<void> {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort(this.#life.signal.reason);
    this.#life.signal.addEventListener('abort', onAbort, { once: true });
    const timer = this.#clock.setTimeout(
      () => ctl.abort(new TimeoutError('requesting a stream token', timeoutMs)),
      timeoutMs,
    );
    try {
      const p = this.requestGrant(ctl.signal);
      const grant0 = await new Promise<GatewayGrant>((resolve, reject) => {
        p.then(resolve, reject);
        ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason), { once: true });
      });
      const grant = { token: grant0?.token, ingressUrl: grant0?.baseUrl };
      if (!grant?.token || !grant.ingressUrl)
        throw new ProtocolError('the token provider answered without token or gateway URL');
      registerSecret(grant.token);
      // `exp` is Unix time: turn it into a lifetime now, and keep the deadline on the session clock.
      const wallNow = (this.#opts.wallClockMs ?? Date.now)();
      const expiresAtMs = jwtExpiryMs(grant.token) ?? wallNow + 2 * 3600_000;
      const receivedAt = this.#clock.now();
      // The replaced token is never used again: drop it from the redaction registry.
      if (this.#grant && this.#grant.token !== grant.token) forgetSecret(this.#grant.token);
      this.#grant = {
        token: grant.token,
        ingressUrl: grant.ingressUrl,
        expiresAt: receivedAt + (expiresAtMs - wallNow),
        receivedAt,
      };
      this.emitBase('token', { expiresAtMs, reason });
      if (this.canRenewToken()) this.#scheduleRefresh();
    } catch (err) {
      if (err instanceof ArgonVoiceError) throw err;
      throw new TransportError('requesting a stream token failed', { cause: err });
    } finally {
      this.#clock.clearTimeout(timer);
      this.#life.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Keeps a valid token at hand for reconnects by refreshing it `refreshBeforeMs` before it
   * expires (half-way through its life when it lives no longer than that).
   *
   * @remarks No handover: the gateway checks the token at upgrade only and never closes an open
   * session when it expires (docs/platform.md §A1.4, §A6), so the socket, the pacer and its timeline are
   * untouched and the frame sequence has no gap. A make-before-break switch to a new socket is
   * not possible anyway: a second session of the same identity in the room kicks the first (§A6).
   * The fresh token is used only if the socket drops for another reason.
   */
  #scheduleRefresh(): void {
    if (this.#refreshTimer !== undefined) this.#clock.clearTimeout(this.#refreshTimer);
    const g = this.#grant!;
    const ttl = g.expiresAt - g.receivedAt;
    const lead = this.#opts.refreshBeforeMs ?? 10 * 60_000;
    const before = lead < ttl ? lead : ttl / 2;
    const inMs = Math.max(1000, g.expiresAt - before - this.#clock.now());
    if (inMs > MAX_TIMER_MS) {
      // A token that lives for months: a clock built on plain Node timers fires a longer delay at
      // once, which would refresh in a loop. Wait the longest delay a timer takes, then look again.
      this.#refreshTimer = this.#clock.setTimeout(() => {
        this.#refreshTimer = undefined;
        if (!this.#life.signal.aborted) this.#scheduleRefresh();
      }, MAX_TIMER_MS);
      (this.#refreshTimer as { unref?: () => void } | undefined)?.unref?.();
      return;
    }
    this.#refreshTimer = this.#clock.setTimeout(() => {
      this.#refreshTimer = undefined;
      if (this.#life.signal.aborted) return;
      this.#fetchToken('refresh', this.#opts.timeouts?.tokenMs ?? 10_000).catch((err) => {
        if (this.#listeners('error') > 0) this.emitBase('error', err as Error);
        // Try again later; the next reconnect fetches one anyway.
        if (!this.#life.signal.aborted)
          this.#refreshTimer = this.#clock.setTimeout(() => this.#scheduleRefresh(), 30_000);
      });
    }, inMs);
    (this.#refreshTimer as { unref?: () => void } | undefined)?.unref?.();
  }

  #onSocket(ev: SocketEvent): void {
    if (ev.type === 'close') this.#socketOpen = false;
    if (ev.type === 'binary') this.onBinaryMessage(ev.data, ev.arrivalMs - performance.timeOrigin);
    if (ev.type === 'text') {
      const kind = statusOf(ev.text);
      if (kind && kind !== 'ready' && kind !== 'error') {
        try {
          this.onStatusMessage(kind, JSON.parse(ev.text) as Record<string, unknown>);
        } catch {
          /* a malformed message is ignored (§A8a.1) */
        }
      }
    }
    const w = this.#socketWaiter;
    if (w) w(ev);
  }

  /**
   * Resolves with the next socket event matching `match`; rejects on deadline or close().
   * `onMatch` runs synchronously with the matching event, so it can arm the next wait before
   * the socket reports anything else.
   */
  #nextSocket(
    match: (e: SocketEvent) => boolean,
    timeoutMs?: number,
    what = 'waiting on the audio socket',
    onMatch?: (e: SocketEvent) => void,
  ): Promise<SocketEvent> {
    return new Promise<SocketEvent>((resolve, reject) => {
      let timer: unknown;
      const cleanup = () => {
        this.#socketWaiter = undefined;
        if (timer !== undefined) this.#clock.clearTimeout(timer);
        this.#life.signal.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        cleanup();
        reject(new ClosedError(`the voice connection was closed while ${what}`));
      };
      this.#socketWaiter = (e) => {
        if (!match(e)) return;
        cleanup();
        resolve(e);
        onMatch?.(e);
      };
      if (timeoutMs !== undefined)
        timer = this.#clock.setTimeout(() => {
          cleanup();
          reject(new TimeoutError(what, timeoutMs));
        }, timeoutMs);
      this.#life.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  #fail(reason: Error): void {
    if (this.#state.status === 'closed') return;
    if (this.#listeners('error') > 0) this.emitBase('error', reason);
    void this.#teardown(reason, true);
  }

  async #teardown(reason: Error | undefined, terminate: boolean): Promise<void> {
    this.#life.abort(reason ?? new ClosedError('closed'));
    if (this.#refreshTimer !== undefined) this.#clock.clearTimeout(this.#refreshTimer);
    this.#refreshTimer = undefined;
    forgetSecret(this.#grant?.token);
    if (active.get(this.#key) === this) active.delete(this.#key);
    this.pacer.stop();
    if (this.#socketOpen) {
      let timer: unknown;
      const closed = new Promise<void>((resolve) => {
        const onEv = (e: SocketEvent) => {
          if (e.type === 'close') {
            this.pacer.off('socket', onEv);
            resolve();
          }
        };
        this.pacer.on('socket', onEv);
        // Bounded: the pacer's socket reports its close within 2 s (it terminates a silent peer).
        timer = this.#clock.setTimeout(() => {
          this.pacer.off('socket', onEv);
          resolve();
        }, 2500);
        (timer as { unref?: () => void } | undefined)?.unref?.();
      });
      this.pacer.disconnect(1000, terminate);
      await closed;
      this.#clock.clearTimeout(timer);
    }
    await this.pacer.close();
    this.#setState({ status: 'closed', reason });
  }

  /**
   * Sends Close 1000, waits (≤ 2 s) for the gateway, releases the pacer thread. Frames still
   * queued are dropped (use the player's `waitForPlayout()` to drain first). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#state.status === 'closed') return;
    this.#lastCloseFrameSent ??= this.#teardown(undefined, false);
    await this.#lastCloseFrameSent;
  }

  /** Drops the socket at once (no close frame) and moves to `closed` with `reason`. Idempotent. */
  destroy(reason?: Error): void {
    if (this.#state.status === 'closed') return;
    this.#lastCloseFrameSent ??= this.#teardown(reason, true);
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * A publishing session in one voice channel (`/audio/connect` with an IVoice StreamToken), kept
 * alive across drops. One per (space, channel) per process.
 */
export class VoiceConnection extends PublishSession<VoiceConnectionEvents> {
  /** Space of the voice channel. */
  readonly spaceId: string;
  /** The voice channel. */
  readonly channelId: string;
  readonly #provider: (signal: AbortSignal) => Promise<StreamTokenGrant>;

  /**
   * Starts connecting at once (state `requesting-token`).
   * @throws InvalidInputError for bad options or when a connection to this channel is already open.
   */
  constructor(options: VoiceConnectionOptions) {
    if (!options.spaceId || !options.channelId)
      throw new InvalidInputError('VoiceConnection needs spaceId and channelId');
    if (!options.rest && !options.tokenProvider)
      throw new InvalidInputError('VoiceConnection needs rest or tokenProvider');
    super('connect', `${options.spaceId}/${options.channelId}`, options);
    this.spaceId = options.spaceId;
    this.channelId = options.channelId;
    const { rest, tokenProvider, spaceId, channelId } = options;
    this.#provider = tokenProvider
      ? (signal) => tokenProvider({ signal })
      : (signal) => rest!.voice.streamToken({ spaceId, channelId }, { signal });
  }

  /** The live connection to a channel in this process, if any. */
  static get(spaceId: string, channelId: string): VoiceConnection | undefined {
    const s = active.get(`${spaceId}/${channelId}`);
    return s instanceof VoiceConnection ? s : undefined;
  }

  protected override async requestGrant(signal: AbortSignal): Promise<GatewayGrant> {
    const g = await this.#provider(signal);
    return { token: g?.token, baseUrl: g?.ingressUrl };
  }
}

/** The kind of a gateway text message: `status`, or `type` in legacy builds (§A2.1, §A8a.1). */
export function statusOf(text: string): string | undefined {
  try {
    const m = JSON.parse(text) as { status?: unknown; type?: unknown };
    const k = m.status ?? m.type;
    return typeof k === 'string' ? k : undefined;
  } catch {
    return undefined;
  }
}
