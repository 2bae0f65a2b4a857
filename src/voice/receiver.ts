/**
 * `VoiceReceiver`: per-user audio from egress, through one adaptive jitter buffer per user, on a
 * single playout tick (5 ms by default) owned by the receiver (the buffers have no timers, STYLE.md).
 *
 * ```
 *  VoiceSubscriber / DuplexSession ──frame(packet, arrivalMs)──► AdaptiveJitterBuffer.push
 *                                                                        │
 *  receiver tick (absolute 5 ms schedule on the injected Clock) ──► pop(now) per user
 *        │                                                               │
 *        ├─ mode 'opus': slots (packet | conceal(+fec) | silence) ─► UserAudioStream (async iterable)
 *        └─ mode 'pcm' : decode, PLC / FEC, fade, time-stretch, 20 ms PCM frames ─► UserAudioStream
 * ```
 * @remarks One gateway session per bot identity per room (docs/platform.md §A6): the platform kicks an
 * older session of the same identity, and a kicked subscribe socket goes silent. To receive
 * several users of the same room, give each subscription its own bot identity
 * (`subscribe(userId, { rest: otherBot })`); when two live subscriptions in one room share a REST
 * client the receiver emits a `warning`, because they replace each other. Users in different
 * rooms, or per-call duplex sessions attached with {@link VoiceReceiver.attach}, work concurrently.
 * @packageDocumentation
 */
import { fadeOut } from '../codec/pcm.js';
import { OpusDecoder } from '../codec/opus-decoder.js';
import { accelerate, expand } from '../codec/time-stretch.js';
import { ClosedError, InvalidInputError } from '../errors.js';
import {
  AdaptiveJitterBuffer,
  type JitterBufferOptions,
  type JitterMetrics,
  type JitterOutput,
  type StretchRequest,
} from '../jitter/index.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type SubscribeApi, type SubscriberTimeouts, VoiceSubscriber } from './subscriber.js';

/** Anything that emits raw egress frames: a {@link VoiceSubscriber} or a duplex session. */
export interface FrameSourceLike {
  on(event: 'frame', listener: (packet: Uint8Array, arrivalMs: number) => void): unknown;
  off(event: 'frame', listener: (packet: Uint8Array, arrivalMs: number) => void): unknown;
  /** Closed with the stream when the receiver owns the source. */
  close?(): Promise<void> | void;
}

/** One playout slot of a user's audio in `opus` mode. */
export type ReceivedOpusFrame =
  | Exclude<JitterOutput, { kind: 'none' }>
  | { kind: 'silence'; samples: number; durationMs: number; atMs: number; reason: 'absent' };

/** One PCM frame (20 ms by default) of a user's audio in `pcm` mode (48 kHz, interleaved s16). */
export interface ReceivedPcmFrame {
  pcm: Int16Array;
  /** Tick time at which the frame was produced. */
  atMs: number;
  /** Part of the frame came from concealment (PLC or FEC). */
  concealed: boolean;
  /** Part of the frame was time-stretched to follow the jitter buffer's target delay. */
  stretched: boolean;
}

/** Options of {@link VoiceReceiver.subscribe} / {@link VoiceReceiver.attach}. */
export interface UserStreamOptions {
  /** `opus`: packets with timing and concealment flags; `pcm`: decoded 20 ms frames. Default `opus`. */
  mode?: 'opus' | 'pcm';
  /** PCM channels (pcm mode). Default 1. */
  channels?: 1 | 2;
  /**
   * PCM frame length in ms (pcm mode): a multiple of 2.5 from 2.5 to 60. Default 20. Frames are
   * handed out as soon as they are complete, checked on every receiver tick, so a tick shorter
   * than the frame lets each user's frames follow that user's own packet timing.
   */
  frameMs?: number;
  /**
   * Jitter buffer options for this user. In `pcm` mode `timeStretch` defaults to true: the
   * stream decodes, so it can follow the target delay by time-stretching speech (a few ms at a
   * time) instead of dropping whole frames.
   */
  jitter?: JitterBufferOptions;
  /** Items held for a slow consumer before the oldest are dropped (counted). Default 500 (10 s). */
  maxQueuedItems?: number;
}

/** Events of a {@link UserAudioStream}. */
export type UserAudioStreamEvents = {
  /** Synchronous, during the receiver tick: every slot (opus mode semantics, both modes). */
  output: [slot: ReceivedOpusFrame];
  speakingStart: [];
  speakingStop: [];
  /** The source subscribed a new track: the buffer was reset. */
  reset: [];
  end: [];
};

/**
 * One user's received audio: an async iterable of {@link ReceivedOpusFrame} or
 * {@link ReceivedPcmFrame}; it ends when the stream or its receiver closes.
 */
export class UserAudioStream<T extends ReceivedOpusFrame | ReceivedPcmFrame = ReceivedOpusFrame | ReceivedPcmFrame>
  extends TypedEmitter<UserAudioStreamEvents>
  implements AsyncIterable<T>
{
  readonly userId: string;
  readonly mode: 'opus' | 'pcm';
  readonly channels: 1 | 2;
  /** The jitter buffer (its `metrics` are live). */
  readonly jitter: AdaptiveJitterBuffer;
  /** The source this stream reads. */
  readonly source: FrameSourceLike;
  #queue: T[] = [];
  #waiters: Array<(r: IteratorResult<T>) => void> = [];
  #ended = false;
  #closing: Promise<void> | undefined;
  #speaking = false;
  #quietMs = 0;
  #decoder: OpusDecoder | undefined;
  #pcmAcc: Int16Array[] = [];
  #pcmAccSamples = 0;
  #pcmConcealed = false;
  #pcmStretched = false;
  #emittedSamples = 0;
  #firstTickMs: number | undefined;
  readonly #frameSamples: number;
  readonly #maxQueued: number;
  readonly #ownsSource: boolean;
  readonly #onFrame: (packet: Uint8Array, arrivalMs: number) => void;
  readonly #onSubscribed: () => void;
  readonly #onClosed: () => void;
  /** Items dropped because the consumer did not keep up. */
  droppedItems = 0;

  /** @internal Created by {@link VoiceReceiver}. */
  constructor(
    userId: string,
    source: FrameSourceLike,
    options: UserStreamOptions,
    ownsSource: boolean,
    onClosed: () => void,
  ) {
    super();
    this.userId = userId;
    this.source = source;
    this.mode = options.mode ?? 'opus';
    this.channels = options.channels ?? 1;
    const frameMs = options.frameMs ?? 20;
    if (!(frameMs >= 2.5 && frameMs <= 60 && Number.isInteger(frameMs / 2.5))) {
      throw new InvalidInputError(`frameMs must be a multiple of 2.5 from 2.5 to 60, got ${frameMs}`);
    }
    this.#frameSamples = frameMs * 48;
    this.jitter = new AdaptiveJitterBuffer({ timeStretch: this.mode === 'pcm', ...options.jitter });
    this.#maxQueued = options.maxQueuedItems ?? 500;
    this.#ownsSource = ownsSource;
    this.#onClosed = onClosed;
    this.#onFrame = (packet, arrivalMs) => {
      if (!this.#ended) this.jitter.push(packet, arrivalMs);
    };
    this.#onSubscribed = () => {
      this.jitter.reset();
      this.#decoder?.reset();
      this.emit('reset');
    };
    source.on('frame', this.#onFrame);
    (source as unknown as VoiceSubscriber).on?.('subscribed', this.#onSubscribed);
    if (this.mode === 'pcm') this.#decoder = new OpusDecoder({ channels: this.channels });
  }

  /** Jitter metrics of this user. */
  get metrics(): JitterMetrics {
    return this.jitter.metrics;
  }

  /** Whether the user is speaking (a non-DTX packet played within the last 200 ms). */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** True once the stream ended (closed by its owner). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * @internal Plays out everything still buffered, on a virtual clock running from `nowMs` in
   * `tickMs` steps (at most `maxMs`). A recorder calls this at stop so that audio which arrived
   * but had not reached its playout time yet is written, not lost.
   */
  drain(nowMs: number, tickMs: number, maxMs = 15_000): void {
    let t = nowMs;
    while (!this.#ended && this.jitter.bufferedMs > 0 && t - nowMs < maxMs) {
      t += tickMs;
      this.tick(t, tickMs);
    }
  }

  /** @internal One playout tick. */
  tick(nowMs: number, tickMs: number): void {
    if (this.#ended) return;
    this.#firstTickMs ??= nowMs - tickMs;
    let produced = false;
    for (;;) {
      const out = this.jitter.pop(nowMs);
      if (out.kind === 'none') break;
      produced = true;
      this.#slot(out);
    }
    if (!produced && !this.jitter.started) {
      // Before the first packet (or after a reset): the user is absent; keep the cadence.
      this.#slot({
        kind: 'silence',
        samples: Math.round(tickMs * 48),
        durationMs: tickMs,
        atMs: nowMs,
        reason: 'absent',
      });
    }
    if (this.mode === 'pcm') this.#flushPcm(nowMs);
  }

  #slot(slot: ReceivedOpusFrame): void {
    this.emit('output', slot);
    // Speaking detection.
    if (slot.kind === 'packet' && !slot.dtx) {
      this.#quietMs = 0;
      if (!this.#speaking) {
        this.#speaking = true;
        this.emit('speakingStart');
      }
    } else if (slot.kind !== 'conceal' || slot.fadeOut) {
      this.#quietMs += slot.durationMs;
      if (this.#speaking && this.#quietMs >= 200) {
        this.#speaking = false;
        this.emit('speakingStop');
      }
    }
    if (this.mode === 'opus') {
      this.#enqueue(slot as T);
      return;
    }
    const dec = this.#decoder!;
    const ch = this.channels;
    let pcm: Int16Array;
    try {
      if (slot.kind === 'packet') {
        pcm = slot.dtx ? new Int16Array(slot.samples * ch) : dec.decode(slot.packet);
        if (slot.stretch && !slot.dtx) pcm = this.#stretch(pcm, slot.stretch);
      } else if (slot.kind === 'conceal') {
        const n = slot.samples - (slot.samples % 120);
        pcm = n > 0 ? (slot.fec ? dec.decodeFec(slot.fec, n) : dec.conceal(n)) : new Int16Array(0);
        if (slot.fadeOut) fadeOut(pcm, ch);
        this.#pcmConcealed = true;
      } else {
        pcm = new Int16Array(slot.samples * ch);
      }
    } catch {
      // A corrupt packet: its time still passes, as silence.
      pcm = new Int16Array(slot.samples * ch);
    }
    this.#pcmAcc.push(pcm);
    this.#pcmAccSamples += pcm.length / ch;
  }

  /** Time-stretches decoded speech as the jitter buffer asked, and tells it what was done. */
  #stretch(pcm: Int16Array, req: StretchRequest): Int16Array {
    const ch = this.channels;
    const r =
      req.mode === 'accelerate'
        ? accelerate(pcm, ch, req.maxSamples, req.minSamples)
        : expand(pcm, ch, req.maxSamples, req.minSamples);
    this.jitter.stretched(r.deltaSamples);
    if (r.deltaSamples !== 0) this.#pcmStretched = true;
    return r.pcm;
  }

  /** Emits whole PCM frames as soon as they are complete; pads when the source is behind the clock. */
  #flushPcm(nowMs: number): void {
    const ch = this.channels;
    const frame = this.#frameSamples;
    // Everything up to the end of this tick is due; more than a frame missing is a gap to pad.
    const due = Math.floor((nowMs - (this.#firstTickMs ?? nowMs)) * 48);
    if (this.#emittedSamples + this.#pcmAccSamples < due - frame) {
      const pad = due - frame - (this.#emittedSamples + this.#pcmAccSamples);
      this.#pcmAcc.push(new Int16Array(pad * ch));
      this.#pcmAccSamples += pad;
    }
    while (this.#pcmAccSamples >= frame) {
      const out = new Int16Array(frame * ch);
      let filled = 0;
      while (filled < out.length) {
        const head = this.#pcmAcc[0]!;
        const take = Math.min(head.length, out.length - filled);
        out.set(head.subarray(0, take), filled);
        filled += take;
        if (take === head.length) this.#pcmAcc.shift();
        else this.#pcmAcc[0] = head.subarray(take);
      }
      this.#pcmAccSamples -= frame;
      this.#emittedSamples += frame;
      this.#enqueue({ pcm: out, atMs: nowMs, concealed: this.#pcmConcealed, stretched: this.#pcmStretched } as T);
      this.#pcmConcealed = false;
      this.#pcmStretched = false;
    }
  }

  #enqueue(item: T): void {
    const w = this.#waiters.shift();
    if (w) {
      w({ value: item, done: false });
      return;
    }
    this.#queue.push(item);
    if (this.#queue.length > this.#maxQueued) {
      this.#queue.shift();
      this.droppedItems++;
    }
  }

  /** Ends the stream (queued items can still be read), detaches and closes an owned source. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#ended = true;
      this.source.off('frame', this.#onFrame);
      (this.source as unknown as VoiceSubscriber).off?.('subscribed', this.#onSubscribed);
      if (this.#speaking) {
        this.#speaking = false;
        this.emit('speakingStop');
      }
      for (const w of this.#waiters.splice(0)) w({ value: undefined, done: true });
      this.#decoder?.close();
      this.#onClosed();
      this.emit('end');
      if (this.#ownsSource) await this.source.close?.();
    })();
    return this.#closing;
  }

  /** Reads items until the stream ends. Breaking out of the loop does not close the stream. */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.#queue.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.#waiters.push(resolve));
      },
      return: () => Promise.resolve({ value: undefined, done: true }),
    };
  }
}

/** Options of {@link VoiceReceiver}. */
export interface VoiceReceiverOptions {
  /**
   * Default REST client (bot identity) of {@link VoiceReceiver.subscribe}: SubscribeTrack /
   * UnsubscribeTrack, and StreamToken without `gatewayUrl`. Optional when every `subscribe` call
   * passes its own {@link SubscribeOptions.rest}.
   */
  rest?: SubscribeApi;
  /** Default space of {@link VoiceReceiver.subscribe}. */
  spaceId?: string;
  /** Default voice channel of {@link VoiceReceiver.subscribe}. */
  channelId?: string;
  /** Audio gateway base; default StreamToken's `ingressUrl`. */
  gatewayUrl?: string;
  /**
   * Playout tick (ms). Default 5. Each tick hands out every slot that is due, so a tick shorter
   * than a 20 ms frame lets playout follow each user's own packet timing instead of a shared
   * 20 ms grid (about half a frame less delay on average; see the jitter benchmark). PCM frames
   * keep their own length ({@link UserStreamOptions.frameMs}).
   */
  tickMs?: number;
  clock?: Clock;
  /** Subscriber deadlines. */
  timeouts?: SubscriberTimeouts;
  /** Subscriber attempts before giving up. Default 8. */
  maxAttempts?: number;
}

/** Options of {@link VoiceReceiver.subscribe}. */
export interface SubscribeOptions extends UserStreamOptions {
  /**
   * REST client of the bot identity that holds this subscription; default the receiver's
   * {@link VoiceReceiverOptions.rest}.
   * @remarks The gateway keeps one session per bot identity per room (docs/platform.md §A6): a second
   * subscribe session of the same identity in the same room kicks the first, whose socket then
   * goes silent. To receive several users of one room at once, subscribe each through a client
   * authenticated as a different bot (another token) that is a member of the space.
   */
  rest?: SubscribeApi;
  /** Space of the voice channel; default {@link VoiceReceiverOptions.spaceId}. */
  spaceId?: string;
  /** Voice channel; default {@link VoiceReceiverOptions.channelId}. */
  channelId?: string;
}

/** Events of {@link VoiceReceiver}. */
export type VoiceReceiverEvents = {
  speakingStart: [userId: string];
  speakingStop: [userId: string];
  /** After every stream handled a tick (the recorder aligns on it). */
  tick: [nowMs: number];
  /**
   * A non-fatal problem worth knowing, e.g. two live subscriptions in one room through the same
   * REST client (bot identity), which replace each other (docs/platform.md §A6).
   */
  warning: [message: string];
  error: [error: Error, userId: string];
};

/**
 * Receives many users' audio at once, each with its own jitter buffer, on one playout tick.
 */
export class VoiceReceiver extends TypedEmitter<VoiceReceiverEvents> {
  readonly #o: VoiceReceiverOptions;
  readonly #clock: Clock;
  readonly #tickMs: number;
  readonly #streams = new Map<string, UserAudioStream>();
  /** The REST client (bot identity) and room of each subscriber this receiver created. */
  readonly #subscriptions = new WeakMap<FrameSourceLike, { rest: SubscribeApi; spaceId: string; channelId: string }>();
  #timer: unknown;
  #startMs = 0;
  #tickIndex = 0;
  #closed = false;

  constructor(options: VoiceReceiverOptions = {}) {
    super();
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    const tickMs = options.tickMs ?? 5;
    if (!(tickMs >= 1 && tickMs <= 60)) throw new InvalidInputError(`tickMs must be 1..60, got ${tickMs}`);
    this.#tickMs = tickMs;
  }

  /** Live streams by user id. */
  get streams(): ReadonlyMap<string, UserAudioStream> {
    return this.#streams;
  }

  /** Playout tick in ms (5 by default). */
  get tickMs(): number {
    return this.#tickMs;
  }

  /** The receiver's clock (the time base of every `atMs` and `arrivalMs`). */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * Subscribes to `userId` through IVoiceEgress SubscribeTrack + `/audio/subscribe`, as the bot
   * identity of `options.rest` (default: the receiver's `rest`).
   * @remarks The gateway keeps one session per bot identity per room (docs/platform.md §A6), so two
   * users of the same room need two identities: pass another bot's REST client as
   * `options.rest`. A `warning` is emitted when another live subscription in the same room uses
   * the same REST client, because the two sessions would replace each other.
   * @example
   * ```ts
   * const rx = new VoiceReceiver({ rest: botA, spaceId, channelId });
   * const alice = rx.subscribe(aliceId);                  // as bot A
   * const bob = rx.subscribe(bobId, { rest: botB });      // as bot B, same room
   * ```
   * @throws InvalidInputError without a REST client (neither `options.rest` nor the receiver's),
   *   space or channel; ClosedError after close.
   */
  subscribe(userId: string, options: SubscribeOptions = {}): UserAudioStream {
    if (this.#closed) throw new ClosedError('VoiceReceiver is closed');
    // Before a subscriber exists: a rejected call must not leave a session behind.
    if (this.#streams.has(userId)) throw new InvalidInputError(`already receiving ${userId}`);
    const { rest: ownRest, spaceId: ownSpace, channelId: ownChannel, ...streamOptions } = options;
    const rest = ownRest ?? this.#o.rest;
    const spaceId = ownSpace ?? this.#o.spaceId;
    const channelId = ownChannel ?? this.#o.channelId;
    if (!rest || !spaceId || !channelId) {
      throw new InvalidInputError(
        "VoiceReceiver.subscribe needs a REST client (options.rest or the receiver's rest), a spaceId and a channelId",
      );
    }
    for (const s of this.#streams.values()) {
      const other = this.#subscriptions.get(s.source);
      if (other?.rest === rest && other.spaceId === spaceId && other.channelId === channelId) {
        this.emit(
          'warning',
          `subscribing to ${userId} and ${s.userId} in ${spaceId}/${channelId} with the same bot identity (REST client): the gateway keeps one session per identity per room (docs/platform.md §A6), so they replace each other; pass another bot's client as subscribe(userId, { rest })`,
        );
        break;
      }
    }
    const sub = new VoiceSubscriber({
      rest,
      spaceId,
      channelId,
      userId,
      gatewayUrl: this.#o.gatewayUrl,
      clock: this.#clock,
      timeouts: this.#o.timeouts,
      maxAttempts: this.#o.maxAttempts,
    });
    sub.on('error', (err) => this.emit('error', err, userId));
    sub.on('stateChange', (_o, n) => {
      if (n.status === 'closed') void this.#streams.get(userId)?.close();
    });
    this.#subscriptions.set(sub, { rest, spaceId, channelId });
    try {
      return this.#add(userId, sub, streamOptions, true);
    } catch (err) {
      // Invalid stream options (e.g. frameMs): do not leave the session running.
      void sub.close();
      throw err;
    }
  }

  /** Reads `userId`'s audio from an existing frame source (a duplex session of a call). */
  attach(userId: string, source: FrameSourceLike, options: UserStreamOptions = {}): UserAudioStream {
    if (this.#closed) throw new ClosedError('VoiceReceiver is closed');
    return this.#add(userId, source, options, false);
  }

  #add(userId: string, source: FrameSourceLike, options: UserStreamOptions, owns: boolean): UserAudioStream {
    if (this.#streams.has(userId)) throw new InvalidInputError(`already receiving ${userId}`);
    const stream = new UserAudioStream(userId, source, options, owns, () => {
      if (this.#streams.get(userId) === stream) this.#streams.delete(userId);
    });
    stream.on('speakingStart', () => this.emit('speakingStart', userId));
    stream.on('speakingStop', () => this.emit('speakingStop', userId));
    this.#streams.set(userId, stream);
    this.#ensureTicking();
    return stream;
  }

  #ensureTicking(): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#startMs = this.#clock.now();
    this.#tickIndex = 0;
    this.#schedule();
  }

  #schedule(): void {
    const due = this.#startMs + (this.#tickIndex + 1) * this.#tickMs;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.max(0, due - this.#clock.now()));
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#tickIndex++;
    const now = this.#clock.now();
    // After a long event-loop stall, skip missed ticks rather than bursting (the buffers catch up
    // on their own timeline; the PCM cadence pads).
    const behind = Math.floor((now - this.#startMs) / this.#tickMs) - this.#tickIndex;
    if (behind > 5) this.#tickIndex += behind;
    for (const s of [...this.#streams.values()]) s.tick(now, this.#tickMs);
    this.emit('tick', now);
    if (this.#streams.size > 0 || this.listenerCount('tick') > 0) this.#schedule();
  }

  /** Closes every stream (and the subscribers it owns: UnsubscribeTrack), stops the tick. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.all([...this.#streams.values()].map((s) => s.close()));
  }

  /** Same as {@link VoiceReceiver.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
