/**
 * `VoiceSubscriber`: receive one user's audio through the gateway's `/audio/subscribe`
 * (IVoiceEgress SubscribeTrack, docs/platform.md §A1.4, §A2, §A5; §R7.2).
 *
 * ```
 *                 ┌──────────── drop (1006), error, silent too long, deadline ──────────────┐
 *                 ▼                                                                          │
 *  requesting-token ──► connecting ──► waiting ──► subscribed ──► target-left ──┐            │
 *   (tokenMs)           (connectMs,   (waitingMs)  (inactivityMs)  (server       │            │
 *                        firstStatusMs)      └──────────┘ ▲         drops socket)│            │
 *        ▲                                                └── new track (reset)  │            │
 *        └───────────────────────────── reconnecting (backoff) ◄─────────────────┴────────────┘
 *  any state ── close() / fatal (400, attempts exhausted) ──► closed (UnsubscribeTrack sent)
 * ```
 *
 * - The token comes from SubscribeTrack; its `wsUrl` is the SFU, so the gateway base is the
 *   configured `gatewayUrl` or StreamToken's `ingressUrl` (§A1.4). A fresh token per connect (§A6).
 * - Status messages are read by `status ?? type` (§A2.1); unknown kinds are ignored (§A8a.1).
 * - Subscribe never sends `ready`; `waiting` comes first when the target is absent (§A2.2). On
 *   `target_left` the server drops the socket; the subscriber reconnects at once to wait for the
 *   target again, and a new `subscribed` means a new track (listeners reset their buffers, §A5.2).
 * - Frames are emitted with their arrival time on the injected clock, in arrival order, drained
 *   promptly (§A5.1: a 10 s write stall kills egress).
 * - A subscribe socket can go silent forever after a room disconnect (§A2.3, §A8a.13): `waiting`
 *   and `subscribed` both have deadlines (`waitingMs`, `inactivityMs`) after which it reconnects.
 * - `close()` sends UnsubscribeTrack with the `spaceId` the server's filter needs (docs/platform.md §R2.4).
 * @packageDocumentation
 */
import WebSocket from 'ws';
import {
  AbortError,
  ArgonVoiceError,
  ClosedError,
  InvalidInputError,
  ProtocolError,
  TimeoutError,
  TransportError,
  registerSecret,
} from '../errors.js';
import { backoffDelay, type WaitOptions, withDeadline } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { waitForStatus } from '../util/state.js';
import { buildAudioUrl } from './gateway-url.js';

/** The slice of the REST client a subscriber needs (structural, so tests can fake it). */
export interface SubscribeApi {
  voiceEgress: {
    subscribeTrack(
      body: { spaceId: string; channelId: string; userId: string },
      options?: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    ): Promise<{ token: string; wsUrl?: string; roomName?: string; trackId: string }>;
    unsubscribeTrack(
      body: { trackId: string; spaceId: string },
      options?: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    ): Promise<unknown>;
  };
  voice?: {
    streamToken(
      body: { spaceId: string; channelId: string },
      options?: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
    ): Promise<{ ingressUrl: string }>;
  };
}

/** Deadlines of the subscriber's waiting states (ms). */
export interface SubscriberTimeouts {
  /** SubscribeTrack (and StreamToken for the gateway base). Default 10 000. */
  tokenMs?: number;
  /** WebSocket upgrade. Default 10 000. */
  connectMs?: number;
  /** From open to the first status message (`waiting` or `subscribed`). Default 10 000. */
  firstStatusMs?: number;
  /** In `waiting` before reconnecting with a fresh token (guards silent sockets). Default 300 000. */
  waitingMs?: number;
  /** In `subscribed` without a frame before reconnecting (DTX still sends ~every 400 ms). Default 60 000. */
  inactivityMs?: number;
  /** UnsubscribeTrack on close. Default 5 000. */
  unsubscribeMs?: number;
}

/** Options of {@link VoiceSubscriber}. */
export interface VoiceSubscriberOptions {
  /** REST client (or anything with `voiceEgress` and, without `gatewayUrl`, `voice.streamToken`). */
  rest: SubscribeApi;
  spaceId: string;
  channelId: string;
  /** Whose audio to receive (`target_identity`). */
  userId: string;
  /** Audio gateway base (`ws://host:12880`); default: StreamToken's `ingressUrl`. */
  gatewayUrl?: string | undefined;
  /** Track source filter; always sent explicitly (§A8a.11). Default `microphone`. */
  targetTrackSource?: 'microphone' | 'screen_share_audio';
  timeouts?: SubscriberTimeouts;
  /** Consecutive failed attempts before giving up (closing with the last error). Default 8. */
  maxAttempts?: number;
  /** Backoff base and cap (ms). Default 250 / 10 000. */
  backoff?: { baseMs?: number; capMs?: number };
  /** Delay before re-subscribing after `target_left` (ms). Default 250. */
  rejoinDelayMs?: number;
  clock?: Clock;
  /** Randomness of the backoff jitter (tests). */
  random?: () => number;
}

/** State of a {@link VoiceSubscriber}. */
export type VoiceSubscriberState =
  | { status: 'requesting-token'; attempt: number }
  | { status: 'connecting'; attempt: number }
  | { status: 'waiting'; sessionId: string; attempt: number }
  | { status: 'subscribed'; sessionId: string; trackSid: string; attempt: number }
  | { status: 'target-left'; sessionId: string }
  | { status: 'reconnecting'; attempt: number; delayMs: number; reason: Error }
  | { status: 'closed'; reason?: Error | undefined };

/** Events of {@link VoiceSubscriber}. */
export type VoiceSubscriberEvents = {
  stateChange: [oldState: VoiceSubscriberState, newState: VoiceSubscriberState];
  /** One raw Opus packet as received, with its arrival time on the subscriber's clock. */
  frame: [packet: Uint8Array, arrivalMs: number];
  /** A (new) track was subscribed: reset any jitter buffer (§A5.2). */
  subscribed: [info: { trackSid: string; sessionId: string }];
  /** The target left the room; the subscriber waits for it to come back. */
  targetLeft: [info: { sessionId: string }];
  /** A fault (also kept in the `reconnecting`/`closed` state); only emitted when listened to. */
  error: [error: Error];
};

type SocketOutcome = { kind: 'dropped'; error: Error } | { kind: 'target-left' } | { kind: 'closing' };

/**
 * Receives one user's raw Opus egress. Starts connecting on construction; emits `frame` events.
 * @example
 * ```ts
 * const sub = new VoiceSubscriber({ rest, spaceId, channelId, userId });
 * sub.on('frame', (packet, arrivalMs) => jitter.push(packet, arrivalMs));
 * await sub.waitFor('subscribed', { timeoutMs: 30_000 });
 * await sub.close();
 * ```
 */
export class VoiceSubscriber extends TypedEmitter<VoiceSubscriberEvents> {
  /** The user whose audio this receives (`target_identity`). */
  readonly userId: string;
  /** Space of the voice channel (also sent as `?spaceId=` with UnsubscribeTrack). */
  readonly spaceId: string;
  /** The voice channel. */
  readonly channelId: string;
  readonly #o: VoiceSubscriberOptions;
  readonly #clock: Clock;
  readonly #t: Required<SubscriberTimeouts>;
  readonly #ctl = new AbortController();
  #state: VoiceSubscriberState = { status: 'requesting-token', attempt: 0 };
  #ws: WebSocket | undefined;
  /** Sockets on their way out (Close sent, waiting for the peer or the grace timer). */
  readonly #socketsClosing = new Set<Promise<void>>();
  #trackId: string | undefined;
  #gatewayBase: string | undefined;
  #closing: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #framesReceived = 0;

  constructor(options: VoiceSubscriberOptions) {
    super();
    if (!options.userId) throw new InvalidInputError('VoiceSubscriber needs a userId (target_identity)');
    if (!options.spaceId || !options.channelId)
      throw new InvalidInputError('VoiceSubscriber needs spaceId and channelId');
    this.#o = options;
    this.userId = options.userId;
    this.spaceId = options.spaceId;
    this.channelId = options.channelId;
    this.#clock = options.clock ?? systemClock;
    this.#gatewayBase = options.gatewayUrl;
    const t = options.timeouts ?? {};
    this.#t = {
      tokenMs: t.tokenMs ?? 10_000,
      connectMs: t.connectMs ?? 10_000,
      firstStatusMs: t.firstStatusMs ?? 10_000,
      waitingMs: t.waitingMs ?? 300_000,
      inactivityMs: t.inactivityMs ?? 60_000,
      unsubscribeMs: t.unsubscribeMs ?? 5_000,
    };
    void this.#run();
  }

  /** Current state. */
  get state(): VoiceSubscriberState {
    return this.#state;
  }

  /** Frames received since construction. */
  get framesReceived(): number {
    return this.#framesReceived;
  }

  /** The synthetic track id from SubscribeTrack (`<room>:<userId>`), once known. */
  get trackId(): string | undefined {
    return this.#trackId;
  }

  /**
   * Resolves when the state reaches `status`.
   * @throws TimeoutError, AbortError, or ClosedError when it closes first.
   */
  waitFor<K extends VoiceSubscriberState['status']>(
    status: K,
    options: WaitOptions = {},
  ): Promise<Extract<VoiceSubscriberState, { status: K }>> {
    return waitForStatus<VoiceSubscriberState, K>(this, status, {
      ...options,
      clock: this.#clock,
      what: `subscriber of ${this.userId}`,
    });
  }

  /**
   * Unsubscribes (UnsubscribeTrack with the space id in the query), closes the socket and moves
   * to `closed`. Idempotent; never throws (an UnsubscribeTrack failure is emitted as `error`).
   */
  close(): Promise<void> {
    this.#closing ??= this.#close(undefined);
    return this.#closing;
  }

  /** Same as {@link VoiceSubscriber.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #setState(next: VoiceSubscriberState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  #fail(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    const signal = this.#ctl.signal;
    while (!signal.aborted) {
      let outcome: SocketOutcome;
      try {
        outcome = await this.#attempt(attempt);
      } catch (err) {
        outcome = { kind: 'dropped', error: asError(err) };
      }
      if (signal.aborted || outcome.kind === 'closing') break;
      if (outcome.kind === 'target-left') {
        attempt = 0;
        await this.#pause(this.#o.rejoinDelayMs ?? 250);
        continue;
      }
      const error = outcome.error;
      if (isFatal(error)) {
        void this.#closeWith(error);
        return;
      }
      // A socket that got as far as `subscribed` resets the attempt counter in #attempt.
      attempt = this.#attemptCounter + 1;
      this.#attemptCounter = attempt;
      if (attempt > (this.#o.maxAttempts ?? 8)) {
        void this.#closeWith(error);
        return;
      }
      const b = this.#o.backoff ?? {};
      const delayMs = backoffDelay(attempt - 1, b.baseMs ?? 250, b.capMs ?? 10_000, this.#o.random);
      this.#fail(error);
      this.#setState({ status: 'reconnecting', attempt, delayMs, reason: error });
      await this.#pause(delayMs);
    }
  }

  #attemptCounter = 0;

  async #pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const h = this.#clock.setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        this.#clock.clearTimeout(h);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  async #attempt(attempt: number): Promise<SocketOutcome> {
    const signal = this.#ctl.signal;
    this.#setState({ status: 'requesting-token', attempt });
    const grant = await withDeadline(
      this.#o.rest.voiceEgress.subscribeTrack(
        { spaceId: this.spaceId, channelId: this.channelId, userId: this.userId },
        { signal, timeoutMs: this.#t.tokenMs },
      ),
      'SubscribeTrack',
      { signal, timeoutMs: this.#t.tokenMs, clock: this.#clock },
    );
    // A malformed grant (null, no token) is the platform's fault: a typed ProtocolError, not a TypeError.
    if (!grant || typeof grant !== 'object' || typeof grant.token !== 'string' || grant.token === '') {
      throw new ProtocolError('SubscribeTrack answered without a token; cannot open /audio/subscribe');
    }
    registerSecret(grant.token);
    this.#trackId = typeof grant.trackId === 'string' ? grant.trackId : undefined;
    if (!this.#gatewayBase) {
      const voice = this.#o.rest.voice;
      if (!voice) {
        throw new InvalidInputError(
          'VoiceSubscriber needs gatewayUrl or a REST client with voice.streamToken (ingressUrl)',
        );
      }
      const st = await withDeadline(
        voice.streamToken({ spaceId: this.spaceId, channelId: this.channelId }, { signal, timeoutMs: this.#t.tokenMs }),
        'StreamToken (gateway base)',
        { signal, timeoutMs: this.#t.tokenMs, clock: this.#clock },
      );
      this.#gatewayBase = st.ingressUrl;
    }
    if (signal.aborted) return { kind: 'closing' };
    const url = buildAudioUrl(this.#gatewayBase, 'subscribe', {
      token: grant.token,
      targetIdentity: this.userId,
      targetTrackSource: this.#o.targetTrackSource ?? 'microphone',
    });
    this.#setState({ status: 'connecting', attempt });
    return await this.#socket(url, attempt);
  }

  /** Runs one socket to its end. */
  #socket(url: string, attempt: number): Promise<SocketOutcome> {
    return new Promise<SocketOutcome>((resolve) => {
      const clock = this.#clock;
      // No subprotocol, no compression (§A1.1).
      const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: this.#t.connectMs });
      ws.binaryType = 'nodebuffer';
      this.#ws = ws;
      let done = false;
      let timer: unknown;
      let sessionId = '';
      let targetLeft = false;
      const arm = (ms: number, what: string) => {
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = clock.setTimeout(() => finish({ kind: 'dropped', error: new TimeoutError(what, ms) }), ms);
      };
      const finish = (o: SocketOutcome) => {
        if (done) return;
        done = true;
        if (timer !== undefined) clock.clearTimeout(timer);
        this.#ctl.signal.removeEventListener('abort', onAbort);
        ws.removeAllListeners('message');
        const gone = closeSocket(ws);
        this.#socketsClosing.add(gone);
        void gone.then(() => this.#socketsClosing.delete(gone));
        if (this.#ws === ws) this.#ws = undefined;
        resolve(o);
      };
      const onAbort = () => finish({ kind: 'closing' });
      this.#ctl.signal.addEventListener('abort', onAbort, { once: true });
      arm(this.#t.connectMs, 'opening the subscribe socket');
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 512) body += c;
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          finish({
            kind: 'dropped',
            error: new TransportError(
              `the audio gateway refused /audio/subscribe with HTTP ${status}: ${body.trim()}`,
              {
                status,
              },
            ),
          });
        });
        res.on('error', () =>
          finish({ kind: 'dropped', error: new TransportError(`upgrade refused with HTTP ${status(res)}`) }),
        );
      });
      ws.on('open', () => arm(this.#t.firstStatusMs, 'waiting for the first status message'));
      ws.on('error', (err) =>
        finish({
          kind: 'dropped',
          error: new TransportError(`subscribe socket error: ${err.message}`, { cause: err }),
        }),
      );
      ws.on('close', (code) => {
        if (targetLeft) finish({ kind: 'target-left' });
        else
          finish({
            kind: 'dropped',
            error: new TransportError(`subscribe socket closed (${code})`, { closeCode: code }),
          });
      });
      ws.on('message', (data, isBinary) => {
        if (done) return;
        const arrivalMs = clock.now();
        if (isBinary) {
          const buf = data as Buffer;
          const packet = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
          this.#framesReceived++;
          if (this.#state.status === 'subscribed') arm(this.#t.inactivityMs, 'subscribed without frames');
          this.emit('frame', packet, arrivalMs);
          return;
        }
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(String(data)) as Record<string, unknown>;
        } catch (err) {
          this.#fail(new ProtocolError('the audio gateway sent a text message that is not JSON', { cause: err }));
          return;
        }
        // `null`, numbers, arrays: JSON, but not a status message (docs/platform.md §A2.1); ignore them.
        if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return;
        const kind = (msg.status ?? msg.type) as unknown;
        if (typeof msg.session_id === 'string') sessionId = msg.session_id;
        switch (kind) {
          case 'waiting':
            arm(this.#t.waitingMs, 'waiting for the target to publish');
            this.#setState({ status: 'waiting', sessionId, attempt });
            break;
          case 'subscribed': {
            const trackSid = typeof msg.track_sid === 'string' ? msg.track_sid : '';
            this.#attemptCounter = 0;
            arm(this.#t.inactivityMs, 'subscribed without frames');
            this.#setState({ status: 'subscribed', sessionId, trackSid, attempt });
            this.emit('subscribed', { trackSid, sessionId });
            break;
          }
          case 'target_left':
            targetLeft = true;
            this.#setState({ status: 'target-left', sessionId });
            this.emit('targetLeft', { sessionId });
            // The server drops the socket right after (§A2.2); don't wait for it.
            finish({ kind: 'target-left' });
            break;
          case 'error':
            finish({ kind: 'dropped', error: new ProtocolError(`audio gateway error: ${String(msg.message ?? '')}`) });
            break;
          default:
            // `ready` (duplex builds) and unknown kinds are ignored (§A8a.1).
            break;
        }
      });
    });
  }

  async #closeWith(reason: Error): Promise<void> {
    this.#closing ??= this.#close(reason);
    await this.#closing;
  }

  async #close(reason: Error | undefined): Promise<void> {
    this.#ctl.abort(new ClosedError('subscriber closed'));
    this.#wake?.();
    const ws = this.#ws;
    if (ws) await closeSocket(ws);
    await Promise.all([...this.#socketsClosing]);
    if (reason) this.#fail(reason);
    const trackId = this.#trackId;
    if (trackId) {
      try {
        await withDeadline(
          this.#o.rest.voiceEgress.unsubscribeTrack(
            { trackId, spaceId: this.spaceId },
            { timeoutMs: this.#t.unsubscribeMs },
          ),
          'UnsubscribeTrack',
          { timeoutMs: this.#t.unsubscribeMs, clock: this.#clock },
        );
      } catch (err) {
        this.#fail(asError(err));
      }
    }
    this.#setState({ status: 'closed', reason });
  }
}

function status(res: { statusCode?: number | undefined }): number {
  return res.statusCode ?? 0;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Errors that no reconnect can fix: bad input, 400 on upgrade, 401/403/404 from REST. */
function isFatal(err: Error): boolean {
  if (err instanceof AbortError || err instanceof ClosedError) return true;
  if (err instanceof InvalidInputError) return true;
  if (err instanceof TransportError && err.status === 400) return true;
  if (err instanceof ArgonVoiceError && err.code === 'ARGON_VOICE_HTTP') {
    const s = (err as unknown as { status?: number }).status ?? 0;
    return s === 400 || s === 401 || s === 403 || s === 404;
  }
  return false;
}

/**
 * Closes a socket we own: a Close(1000) first, then, if the peer has not answered within
 * `graceMs` (a stalled gateway; `ws` would otherwise hold the TCP connection for 30 s), drops it.
 * Resolves once the socket is gone. Real timers on purpose: this bounds a real socket.
 */
export function closeSocket(ws: WebSocket, graceMs = 1000): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), graceMs);
    timer.unref?.();
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.on('error', () => undefined);
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    else if (ws.readyState !== WebSocket.CLOSING) ws.terminate();
  });
}
