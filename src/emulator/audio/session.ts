/**
 * One gateway WebSocket session: the §A2.2 status sequence per endpoint, the §A3 read path (text
 * ignored, lax validation, kill by TCP drop), RTP stamping (§A4.1), egress (§A5), keepalive and
 * the connect media watchdog (§A4.4, §A6), and the per-socket faults.
 *
 * ```
 *            join delay              (connect/duplex)          invalid frame, pong timeout,
 *  upgrade ─────────────► joining ──► publish ─► ready ──────► watchdog, kick ──► closed (TCP drop)
 *     │                      │ (subscribe) waiting|subscribed        client Close(code) ─► echo ─► closed
 *     └─ read deadline = now + pongWait, moved only by pongs
 * ```
 * @packageDocumentation
 */
import { randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Clock } from '../../util/clock.js';
import type { DropOptions, FaultableSession } from './faults.js';
import {
  type RemovalReason,
  type Room,
  type RoomMember,
  type RoomSubscriber,
  type RoomTrack,
  shortGuid,
} from './rooms.js';
import type {
  AudioEndpoint,
  AudioSessionParams,
  GatewaySessionInfo,
  GatewaySessionState,
  GatewayTimings,
  PublishedFrame,
  SessionCloseReason,
  StatusKey,
} from './types.js';
import { gatewayFrameError } from './validate.js';

/** What a session needs from its gateway. @internal */
export interface SessionContext {
  readonly clock: Clock;
  readonly timings: GatewayTimings;
  readonly statusKey: StatusKey;
  room(name: string): Room;
  dropAfterReadyMs(): number;
  takeJoinFailure(endpoint: AudioEndpoint, identity: string): string | undefined;
  onUp(session: AudioSession): void;
  onFrame(frame: PublishedFrame): void;
  onClosed(session: AudioSession, reason: SessionCloseReason): void;
}

/** `error` message prefixes per endpoint (§A2.1). */
export const ERROR_PREFIX: Readonly<Record<AudioEndpoint, string>> = Object.freeze({
  connect: 'failed to create session: ',
  subscribe: 'failed to create subscriber: ',
  duplex: 'failed to create duplex session: ',
});

/** One audio WebSocket session. @internal (exposed to users as {@link GatewaySessionInfo}). */
export class AudioSession implements FaultableSession, RoomMember, RoomSubscriber {
  readonly sessionId = shortGuid('AWS_');
  readonly endpoint: AudioEndpoint;
  readonly identity: string;
  readonly name: string;
  readonly room: string;
  readonly params: AudioSessionParams;
  readonly hidden: boolean;
  readonly targetIdentity: string | undefined;
  readonly source: AudioSessionParams['targetTrackSource'];
  readonly connectedAtMs: number;
  /** The last Go error string a kill was logged with (e.g. `empty opus frame`). */
  lastError: string | undefined;
  closeReason: SessionCloseReason | undefined;

  #state: GatewaySessionState = 'joining';
  #inRoom = false;
  #up = false;
  readonly #ctx: SessionContext;
  readonly #ws: WebSocket;
  #roomRef: Room | undefined;
  #track: RoomTrack | undefined;
  #readyAtMs = 0;
  #pending: Uint8Array[] = [];
  #stalledUntil = 0;
  #writeQueue: Array<{ data: string | Uint8Array; binary: boolean }> = [];
  #timers = new Set<unknown>();
  #readDeadline: unknown;
  #pingTimer: unknown;
  #bytesSinceTick = 0;
  #dropAfter: { remaining: number; opts: DropOptions } | undefined;
  #writeBroken = false;
  #writeWatch: unknown;
  readonly #raw: Duplex | undefined;
  // RTP state (§A4.1): random base in [2^31, 2^31 + 2^30), random starting sequence number.
  readonly #rtpBase = 2 ** 31 + randomInt(2 ** 30);
  readonly #seqBase = randomInt(65_536);
  #rtpCount = 0;
  #stats = { framesIn: 0, bytesIn: 0, framesDiscarded: 0, framesOut: 0, pongs: 0 };

  constructor(
    ctx: SessionContext,
    ws: WebSocket,
    endpoint: AudioEndpoint,
    params: AudioSessionParams,
    token: { identity: string; name: string; room: string },
    raw?: Duplex,
  ) {
    this.#ctx = ctx;
    this.#ws = ws;
    this.#raw = raw;
    this.endpoint = endpoint;
    this.params = params;
    this.identity = token.identity;
    this.name = token.name;
    this.room = token.room;
    this.hidden = endpoint === 'subscribe';
    this.targetIdentity = endpoint === 'connect' ? undefined : params.targetIdentity;
    this.source = params.targetTrackSource;
    this.connectedAtMs = ctx.clock.now();
    this.#wire();
    this.#armReadDeadline();
    // Newest code: duplex pings start at transport creation, connect/subscribe once up (§A6).
    if (endpoint === 'duplex') this.#startPings();
    if (endpoint === 'connect' && ctx.timings.mediaWatchdogMs > 0) this.#armWatchdog();
    this.#later(() => this.#join(), ctx.timings.joinDelayMs);
  }

  /** Session state. */
  get state(): GatewaySessionState {
    return this.#state;
  }

  /** A snapshot for {@link AudioGateway.sessions}. */
  info(): GatewaySessionInfo {
    return {
      sessionId: this.sessionId,
      endpoint: this.endpoint,
      identity: this.identity,
      name: this.name,
      room: this.room,
      params: this.params,
      query: this.params.raw,
      state: this.#state,
      inRoom: this.#inRoom,
      trackSid: this.#track?.sid,
      connectedAtMs: this.connectedAtMs,
      writeBroken: this.#writeBroken,
      ...this.#stats,
    };
  }

  // ── timers ────────────────────────────────────────────────────────────────────────────

  #later(fn: () => void, ms: number): unknown {
    const h = this.#ctx.clock.setTimeout(() => {
      this.#timers.delete(h);
      if (this.#state !== 'closed') fn();
    }, ms);
    this.#timers.add(h);
    return h;
  }

  #cancel(h: unknown): void {
    if (h === undefined) return;
    this.#ctx.clock.clearTimeout(h);
    this.#timers.delete(h);
  }

  #armReadDeadline(): void {
    this.#cancel(this.#readDeadline);
    this.#readDeadline = this.#later(() => {
      this.lastError = 'read deadline exceeded (no pong)';
      this.#kill('pong-timeout');
    }, this.#ctx.timings.pongWaitMs);
  }

  #startPings(): void {
    if (this.#pingTimer !== undefined) return;
    const tick = (): void => {
      this.#pingTimer = this.#later(tick, this.#ctx.timings.pingIntervalMs);
      if (this.#ctx.clock.now() < this.#stalledUntil || this.#writeBroken) return;
      this.#watchWrites();
      try {
        this.#ws.ping();
      } catch {
        // socket already gone; the close handler tears down
      }
    };
    this.#pingTimer = this.#later(tick, this.#ctx.timings.pingIntervalMs);
  }

  #armWatchdog(): void {
    // §A4.4: a ticker from session creation; a window with zero accepted bytes kills the output.
    const tick = (): void => {
      if (this.#bytesSinceTick === 0) {
        this.lastError = 'media watchdog: no data';
        this.#kill('media-watchdog');
        return;
      }
      this.#bytesSinceTick = 0;
      this.#later(tick, this.#ctx.timings.mediaWatchdogMs);
    };
    this.#later(tick, this.#ctx.timings.mediaWatchdogMs);
  }

  // ── socket wiring ────────────────────────────────────────────────────────────────────

  #wire(): void {
    const ws = this.#ws;
    // gorilla echoes a client Close(code) with an EMPTY reason (§A2.3); ws would echo the reason.
    const close = ws.close.bind(ws);
    ws.close = ((code?: number) => close(code)) as WebSocket['close'];
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('pong', () => {
      this.#stats.pongs++;
      if (this.#state !== 'closed') this.#armReadDeadline();
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws already sent Close 1009 (empty reason) and ends the socket itself (§A3.1).
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this.lastError = 'read limit exceeded';
        this.#teardown('message-too-big');
      } else {
        // e.g. an unmasked client frame: ws sends Close 1002 with its reason, as gorilla does.
        this.lastError = err.message;
        this.#teardown('protocol-error');
      }
    });
    ws.on('close', (code) => this.#teardown(code === 1006 ? 'socket-closed' : 'client-close'));
  }

  #onMessage(raw: unknown, isBinary: boolean): void {
    if (this.#state === 'closed') return;
    if (!isBinary) return; // text messages are read and ignored (§A3.1)
    if (this.endpoint === 'subscribe') return; // subscribe discards everything
    const data = toBytes(raw);
    if (this.#state !== 'ready') {
      // Frames before `ready` wait in the socket and are handled once the read loop starts.
      this.#pending.push(data);
      return;
    }
    this.#handleFrame(data);
  }

  #handleFrame(data: Uint8Array): void {
    const err = gatewayFrameError(data);
    if (err !== undefined) {
      this.lastError = err;
      this.#kill('invalid-frame');
      return;
    }
    const now = this.#ctx.clock.now();
    this.#stats.framesIn++;
    this.#stats.bytesIn += data.length;
    this.#bytesSinceTick += data.length;
    if (now - this.#readyAtMs < this.#ctx.dropAfterReadyMs()) {
      // WriteSample on an unbound sender returns success and discards the sample (§A4.2).
      this.#stats.framesDiscarded++;
    } else {
      const n = this.#rtpCount++;
      const frame: PublishedFrame = {
        data,
        arrivalMs: now,
        sessionId: this.sessionId,
        identity: this.identity,
        room: this.room,
        rtpTimestamp: (this.#rtpBase + n * this.params.frameDurationMs * 48) % 2 ** 32,
        seq: (this.#seqBase + n) % 65_536,
        trackSid: this.#track?.sid ?? '',
      };
      this.#ctx.onFrame(frame);
      if (this.#track && this.#roomRef && this.#inRoom) this.#roomRef.forward(this.#track, data);
    }
    if (this.#dropAfter && --this.#dropAfter.remaining <= 0) {
      const opts = this.#dropAfter.opts;
      this.#dropAfter = undefined;
      this.drop({ ...opts, afterFrames: 0 });
    }
  }

  // ── writing ──────────────────────────────────────────────────────────────────────────

  /**
   * The 10 s write deadline, approximated: if bytes are still queued in the socket a whole
   * deadline after a write found the queue non-empty, the writer is considered failed and stops
   * for good (egress loop and pings), as gorilla's would.
   */
  #watchWrites(): void {
    if (this.#writeWatch !== undefined || this.#ws.bufferedAmount === 0) return;
    let drained = false;
    const onDrain = (): void => {
      drained = true;
    };
    this.#raw?.once('drain', onDrain);
    this.#writeWatch = this.#later(() => {
      this.#writeWatch = undefined;
      this.#raw?.off('drain', onDrain);
      if (!drained && this.#ws.bufferedAmount > 0) {
        this.#writeBroken = true;
        this.lastError = 'write deadline exceeded';
      }
    }, this.#ctx.timings.writeDeadlineMs);
  }

  #write(data: string | Uint8Array, binary: boolean): void {
    if (this.#state === 'closed' || this.#writeBroken) return;
    if (this.#ctx.clock.now() < this.#stalledUntil) {
      this.#writeQueue.push({ data, binary });
      return;
    }
    try {
      this.#ws.send(data, { binary });
    } catch {
      // the close handler tears down
    }
    this.#watchWrites();
  }

  #statusJson(kind: string, fields: StatusFields): string {
    // Go marshals in struct order and omits empty fields (§A2.1).
    const msg: Record<string, string> = { [this.#ctx.statusKey]: kind };
    for (const k of ['session_id', 'track_sid', 'participant_identity', 'message'] as const) {
      const v = fields[k];
      if (v) msg[k] = v;
    }
    return JSON.stringify(msg);
  }

  #status(kind: string, fields: StatusFields): void {
    this.#write(this.#statusJson(kind, fields), false);
  }

  /** Writes a last status message, then drops the TCP connection once it is flushed (§A2.3). */
  #statusThenKill(kind: string, fields: StatusFields, reason: SessionCloseReason): void {
    if (this.#state === 'closed') return;
    const json = this.#statusJson(kind, fields);
    this.#teardown(reason);
    const ws = this.#ws;
    try {
      ws.send(json, { binary: false }, () => ws.terminate());
    } catch {
      ws.terminate();
    }
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────

  #join(): void {
    const failure = this.#ctx.takeJoinFailure(this.endpoint, this.identity);
    if (failure !== undefined) {
      this.lastError = failure;
      this.#statusThenKill('error', { message: ERROR_PREFIX[this.endpoint] + failure }, 'join-failed');
      return;
    }
    const room = this.#ctx.room(this.room);
    this.#roomRef = room;
    room.join(this);
    this.#inRoom = true;
    if (this.endpoint !== 'subscribe') {
      this.#track = room.publish(this.identity, this.params.trackSource, this.params.trackName);
    }
    if (this.endpoint !== 'connect') {
      const tracks = room.subscribe(this);
      // duplex: subscription runs in parallel, so `subscribed` may precede `ready` (§A2.2).
      for (const t of tracks) this.onSubscribed(t);
      if (this.endpoint === 'subscribe' && tracks.length === 0) {
        this.#status('waiting', { session_id: this.sessionId, participant_identity: this.params.targetIdentity });
      }
    }
    if (this.#state === 'closed') return;
    this.#state = 'ready';
    this.#readyAtMs = this.#ctx.clock.now();
    if (this.endpoint !== 'subscribe') this.#status('ready', { session_id: this.sessionId });
    this.#startPings();
    this.#up = true;
    this.#ctx.onUp(this);
    const pending = this.#pending;
    this.#pending = [];
    for (const f of pending) {
      if (this.#state !== 'ready') break;
      this.#handleFrame(f);
    }
  }

  /** Drops the TCP connection without a Close frame (what the gateway does on every kill, §A2.3). */
  #kill(reason: SessionCloseReason): void {
    if (this.#state === 'closed') return;
    this.#teardown(reason);
    this.#ws.terminate();
  }

  #teardown(reason: SessionCloseReason): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.closeReason = reason;
    for (const h of this.#timers) this.#ctx.clock.clearTimeout(h);
    this.#timers.clear();
    this.#pending = [];
    this.#writeQueue = [];
    this.#leaveRoom();
    this.#ctx.onClosed(this, reason);
  }

  #leaveRoom(): void {
    if (this.#inRoom && this.#roomRef) {
      this.#inRoom = false;
      this.#roomRef.leave(this);
    }
  }

  /** Ends the session because the gateway shuts down. */
  shutdown(): void {
    this.#kill('server-shutdown');
  }

  // ── FaultableSession ─────────────────────────────────────────────────────────────────

  /** Drops the socket now (TCP drop → 1006), or with a Close frame, or after N more frames. */
  drop(opts: DropOptions = {}): void {
    if (this.#state === 'closed') return;
    if (opts.afterFrames !== undefined && opts.afterFrames > 0) {
      this.#dropAfter = { remaining: opts.afterFrames, opts };
      return;
    }
    if (opts.closeCode !== undefined) {
      this.#teardown('fault');
      try {
        this.#ws.close(opts.closeCode);
      } catch {
        this.#ws.terminate();
      }
      return;
    }
    this.#kill('fault');
  }

  /** Stops reading and writing for `ms`; queued writes then flush in order. */
  stall(ms: number): void {
    if (this.#state === 'closed' || ms <= 0) return;
    this.#stalledUntil = Math.max(this.#stalledUntil, this.#ctx.clock.now() + ms);
    this.#ws.pause();
    const release = (): void => {
      // Timers may fire a hair before the clock says so; a longer, later stall also lands here.
      const left = this.#stalledUntil - this.#ctx.clock.now();
      if (left > 0) {
        this.#later(release, left);
        return;
      }
      this.#ws.resume();
      const q = this.#writeQueue;
      this.#writeQueue = [];
      for (const w of q) this.#write(w.data, w.binary);
    };
    this.#later(release, ms);
  }

  /** Whether the session has sent its first status message. */
  get up(): boolean {
    return this.#up;
  }

  // ── RoomMember / RoomSubscriber ──────────────────────────────────────────────────────

  /** @internal The room removed this session (kick, duplicate identity, room close). */
  onRemoved(reason: RemovalReason): void {
    this.#inRoom = false;
    // A subscribe socket has no disconnect handler: it stays open and silent (§A2.3, §A5.3).
    if (this.endpoint === 'subscribe') return;
    this.lastError = `room disconnect: ${reason}`;
    this.#kill(reason === 'kicked' ? 'kicked' : reason);
  }

  /** @internal A matching track appeared. */
  onSubscribed(track: RoomTrack): void {
    this.#status('subscribed', {
      session_id: this.sessionId,
      track_sid: track.sid,
      participant_identity: this.params.targetIdentity,
    });
  }

  /** @internal Egress: the payload as one binary message, no header, no pacing (§A5.1). */
  onFrame(_track: RoomTrack, data: Uint8Array): void {
    this.#stats.framesOut++;
    this.#write(data, true);
  }

  /** @internal The target disconnected. */
  onTargetLeft(identity: string): void {
    const fields = { session_id: this.sessionId, participant_identity: identity };
    if (this.endpoint === 'subscribe') {
      this.lastError = 'target left';
      this.#statusThenKill('target_left', fields, 'target-left');
    } else {
      this.#status('target_left', fields);
    }
  }
}

interface StatusFields {
  session_id?: string;
  track_sid?: string;
  participant_identity?: string;
  message?: string;
}

function toBytes(raw: unknown): Uint8Array {
  if (raw instanceof Uint8Array) return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength).slice();
  if (Array.isArray(raw)) return new Uint8Array(Buffer.concat(raw as Buffer[]));
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw.slice(0));
  return new Uint8Array(0);
}
