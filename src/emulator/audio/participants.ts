/**
 * Simulated people in a room, the audio half: they publish tracks, speak Opus frames (a list,
 * a generated sine, or a callback) through the seeded impairment model, mute with the SFU's
 * silence tail, and listen to what bots publish (capture with arrival times, export as Ogg).
 *
 * Realtime speaking runs an absolute schedule (frame i is due at start + i × frameDurationMs,
 * no drift); virtual speaking computes arrivals from the model and delivers them in one go,
 * in arrival order, so tests never wait on wall-clock time.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import type { Clock } from '../../util/clock.js';
import { TypedEmitter } from '../../util/emitter.js';
import { OggOpusMuxer } from '../../codec/ogg-mux.js';
import { ImpairmentStream, type ImpairmentStats, sortByArrival } from './impairment.js';
import type { RemovalReason, Room, RoomMember, RoomSubscriber, RoomTrack } from './rooms.js';
import type { ImpairedFrame, ImpairmentOptions, TrackSource } from './types.js';

/** The silence frame the SFU injects after a mute: `f8 ff fe` zero-padded to 80 bytes (§A5.3). */
export function sfuSilenceFrame(): Uint8Array {
  const f = new Uint8Array(80);
  f.set([0xf8, 0xff, 0xfe]);
  return f;
}

/** Samples (48 kHz) in an Opus packet, from its TOC (and count byte for code 3). */
export function tocPacketSamples(p: Uint8Array): number {
  const toc = p[0] ?? 0;
  const config = toc >> 3;
  const frame =
    config < 12
      ? [480, 960, 1920, 2880][config % 4]!
      : config < 16
        ? [480, 960][config % 2]!
        : [120, 240, 480, 960][config % 4]!;
  const code = toc & 3;
  const count = code === 0 ? 1 : code === 3 ? (p[1] ?? 0) & 0x3f : 2;
  return frame * count;
}

/** What a simulated speaker says. */
export type SpeakSource =
  | Uint8Array[]
  | { sine: number; durationMs: number; channels?: 1 | 2; amplitude?: number }
  | ((i: number) => Uint8Array | undefined);

/** Options of {@link SimulatedParticipant.speak}. */
export interface SpeakOptions {
  /** Network model between this person and the gateway. */
  impairment?: ImpairmentOptions;
  /** Seed of the impairment model (default 1). */
  seed?: number;
  /** Frame duration of the schedule and of generated audio. Default 20. */
  frameDurationMs?: number;
  /** WebRTC DTX: silent frames (≤ 3 bytes) become a tiny packet about every 400 ms. */
  dtx?: boolean;
  /** Timer-driven real time (default) or virtual time (deliver every arrival at once, in order). */
  realtime?: boolean;
  /** Track to speak on (published on demand). Default microphone. */
  source?: TrackSource;
  /** Upper bound on frames taken from a callback source. Default 90 000 (30 min of 20 ms). */
  maxFrames?: number;
}

/** A running `speak()`. */
export interface SpeakHandle {
  /** Settles when every frame was sent and delivered (or after {@link SpeakHandle.stop}). */
  readonly done: Promise<void>;
  /** Stops sending; in-flight deliveries are dropped. */
  stop(): void;
  /** Frames put on the network (before loss), excluding frames produced while muted. */
  readonly framesSent: number;
  /** Every delivery the model produced, with its arrival time (virtual origin 0 when not realtime). */
  readonly deliveries: readonly ImpairedFrame[];
  /** What the impairment model did. */
  readonly stats: Readonly<ImpairmentStats>;
}

/** A frame a simulated listener heard. */
export interface CapturedFrame {
  data: Uint8Array;
  /** Clock time (`performance.now()` by default) when it was forwarded. */
  arrivalMs: number;
  identity: string;
  trackSid: string;
  source: TrackSource;
}

/** Events of {@link Listener}. */
export type ListenerEvents = {
  frame: [frame: CapturedFrame];
  subscribed: [track: RoomTrack];
};

/**
 * Captures what other members (bots) publish in the room, with arrival times. Created by
 * {@link SimulatedParticipant.listen}; stops when closed or when its participant leaves.
 */
export class Listener extends TypedEmitter<ListenerEvents> implements RoomSubscriber {
  /** Every captured frame, in arrival order. */
  readonly frames: CapturedFrame[] = [];
  readonly identity: string;
  readonly targetIdentity: string | undefined;
  readonly source: TrackSource | undefined;
  readonly #clock: Clock;
  readonly #room: Room;

  /** @internal */
  constructor(room: Room, identity: string, clock: Clock, filter: { identity?: string; source?: TrackSource }) {
    super();
    this.#room = room;
    this.#clock = clock;
    this.identity = identity;
    this.targetIdentity = filter.identity;
    this.source = filter.source;
  }

  /** @internal */
  onSubscribed(track: RoomTrack): void {
    this.emit('subscribed', track);
  }

  /** @internal */
  onFrame(track: RoomTrack, data: Uint8Array): void {
    const f: CapturedFrame = {
      data,
      arrivalMs: this.#clock.now(),
      identity: track.identity,
      trackSid: track.sid,
      source: track.source,
    };
    this.frames.push(f);
    this.emit('frame', f);
  }

  /** @internal */
  onTargetLeft(): void {}

  /**
   * The captured frames (optionally of one identity) as an Ogg Opus file, via
   * `src/codec/ogg-mux.ts`. Frames of ≤ 2 bytes (DTX) are kept so the timeline stays intact.
   */
  toOgg(opts: { identity?: string; channels?: 1 | 2 } = {}): Uint8Array {
    const frames = this.frames.filter((f) => opts.identity === undefined || f.identity === opts.identity);
    const channels = opts.channels ?? (frames[0] && (frames[0].data[0]! & 0x04) !== 0 ? 2 : 1);
    const mux = new OggOpusMuxer({ channels });
    const parts: Uint8Array[] = [mux.headers()];
    for (const f of frames) parts.push(mux.write(f.data, tocPacketSamples(f.data)));
    parts.push(mux.end());
    return new Uint8Array(Buffer.concat(parts));
  }

  /** Stops capturing. */
  close(): void {
    this.#room.unsubscribe(this);
  }
}

/** @internal What a participant needs from the gateway. */
export interface ParticipantContext {
  room: Room;
  identity: string;
  name: string;
  clock: Clock;
  muteSilenceMs: number;
  onGone(p: SimulatedParticipant): void;
}

type OpusEncoderCtor = new (rate: number, channels: number) => { encode(pcm: Buffer): Buffer };
let encoderCtor: OpusEncoderCtor | undefined;
function opusEncoder(channels: 1 | 2): { encode(pcm: Buffer): Buffer } {
  encoderCtor ??= (createRequire(import.meta.url)('@discordjs/opus') as { OpusEncoder: OpusEncoderCtor }).OpusEncoder;
  return new encoderCtor(48_000, channels);
}

/** Frame i of a sine at `hz`, phase-continuous across frames, encoded to Opus. */
function sineFrames(src: { sine: number; durationMs: number; channels?: 1 | 2; amplitude?: number }, fd: number) {
  const channels = src.channels ?? 1;
  const total = Math.ceil(src.durationMs / fd);
  const spf = 48 * fd;
  const amp = (src.amplitude ?? 0.25) * 32_767;
  let enc: { encode(pcm: Buffer): Buffer } | undefined;
  return (i: number): Uint8Array | undefined => {
    if (i >= total) return undefined;
    enc ??= opusEncoder(channels);
    const pcm = new Int16Array(spf * channels);
    for (let k = 0; k < spf; k++) {
      const v = Math.round(amp * Math.sin((2 * Math.PI * src.sine * (i * spf + k)) / 48_000));
      for (let c = 0; c < channels; c++) pcm[k * channels + c] = v;
    }
    return new Uint8Array(enc.encode(Buffer.from(pcm.buffer)));
  };
}

/** Events of {@link SimulatedParticipant}. */
export type SimulatedParticipantEvents = {
  /** The person is gone: left by itself (`'left'`) or removed by the room. */
  left: [reason: 'left' | RemovalReason];
  /** A track was published (new `TR_` sid). */
  trackPublished: [sid: string, source: TrackSource];
};

/**
 * A simulated person (a browser/WebRTC client) in a room. Create with
 * `AudioGateway.joinSimulated(room, identity)`.
 */
export class SimulatedParticipant extends TypedEmitter<SimulatedParticipantEvents> implements RoomMember {
  readonly identity: string;
  readonly room: string;
  readonly name: string;
  readonly hidden = false;
  readonly #ctx: ParticipantContext;
  readonly #tracks = new Map<TrackSource, RoomTrack>();
  readonly #speaking = new Set<{ stop(): void }>();
  readonly #timers = new Set<unknown>();
  #present = true;
  #muted = false;

  /** @internal */
  constructor(ctx: ParticipantContext) {
    super();
    this.#ctx = ctx;
    this.identity = ctx.identity;
    this.room = ctx.room.name;
    this.name = ctx.name;
    ctx.room.join(this);
  }

  /** Whether the person is still in the room. */
  get present(): boolean {
    return this.#present;
  }

  /** Whether the microphone is muted. */
  get muted(): boolean {
    return this.#muted;
  }

  /** Current track sid of a source, if published. */
  trackSid(source: TrackSource = 'microphone'): string | undefined {
    return this.#tracks.get(source)?.sid;
  }

  /**
   * Publishes an audio track (a new `TR_` sid; matching bot subscriptions get `subscribed`).
   * Returns the existing sid when that source is already published.
   */
  publishTrack(opts: { source?: TrackSource; name?: string } = {}): string {
    const source = opts.source ?? 'microphone';
    const existing = this.#tracks.get(source);
    if (existing && this.#ctx.room.isPublished(existing)) return existing.sid;
    if (!this.#present) throw new Error(`simulated participant ${this.identity} has left`);
    const t = this.#ctx.room.publish(this.identity, source, opts.name ?? (source === 'microphone' ? 'mic' : 'screen'));
    this.#tracks.set(source, t);
    this.emit('trackPublished', t.sid, source);
    return t.sid;
  }

  /** Unpublishes a track; subscribers are told nothing (§A5.3). */
  unpublish(source: TrackSource = 'microphone'): void {
    const t = this.#tracks.get(source);
    if (!t) return;
    this.#tracks.delete(source);
    this.#ctx.room.unpublish(t.sid);
  }

  /**
   * Mutes: frames stop. With `silenceTail` (default true) the SFU first injects about
   * `muteSilenceMs` of 80-byte `f8 ff fe` silence frames every 20 ms on the microphone track.
   */
  mute(opts: { silenceTail?: boolean } = {}): void {
    if (this.#muted) return;
    this.#muted = true;
    const track = this.#tracks.get('microphone');
    if (!track || opts.silenceTail === false) return;
    const count = Math.round(this.#ctx.muteSilenceMs / 20);
    const start = this.#ctx.clock.now();
    let i = 0;
    const tick = (): void => {
      while (i < count && start + i * 20 <= this.#ctx.clock.now()) {
        i++;
        this.#ctx.room.forward(track, sfuSilenceFrame());
      }
      if (i < count && this.#present) this.#later(tick, start + i * 20 - this.#ctx.clock.now());
    };
    tick();
  }

  /** Unmutes: frames resume on the same track, no message (§A5.3). */
  unmute(): void {
    this.#muted = false;
  }

  #later(fn: () => void, ms: number): unknown {
    const h = this.#ctx.clock.setTimeout(
      () => {
        this.#timers.delete(h);
        fn();
      },
      Math.max(0, ms),
    );
    this.#timers.add(h);
    return h;
  }

  #deliver(source: TrackSource, data: Uint8Array): void {
    const t = this.#tracks.get(source);
    if (t && this.#present) this.#ctx.room.forward(t, data);
  }

  /**
   * Speaks Opus frames on a track (published on demand) through the impairment model.
   * @throws Error when the person has left.
   */
  speak(source: SpeakSource, opts: SpeakOptions = {}): SpeakHandle {
    if (!this.#present) throw new Error(`simulated participant ${this.identity} has left`);
    const fd = opts.frameDurationMs ?? 20;
    const trackSource = opts.source ?? 'microphone';
    this.publishTrack({ source: trackSource });
    const next: (i: number) => Uint8Array | undefined = Array.isArray(source)
      ? (i) => source[i]
      : typeof source === 'function'
        ? source
        : sineFrames(source, fd);
    const maxFrames = opts.maxFrames ?? 90_000;
    const impairment: ImpairmentOptions = { ...opts.impairment };
    if (opts.dtx && !impairment.dtx) impairment.dtx = {};
    const stream = new ImpairmentStream(impairment, opts.seed ?? 1);
    const deliveries: ImpairedFrame[] = [];
    const clock = this.#ctx.clock;
    const pendingTimers = new Set<unknown>();
    let framesSent = 0;
    let stopped = false;
    let produced = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    let mainTimer: unknown;
    const settleIfDone = (): void => {
      if (stopped || (produced && pendingTimers.size === 0)) {
        this.#speaking.delete(ctl);
        resolveDone();
      }
    };
    const ctl = {
      stop: (): void => {
        if (stopped) return;
        stopped = true;
        if (mainTimer !== undefined) clock.clearTimeout(mainTimer);
        for (const h of pendingTimers) clock.clearTimeout(h);
        pendingTimers.clear();
        settleIfDone();
      },
    };
    this.#speaking.add(ctl);

    if (opts.realtime === false) {
      mainTimer = clock.setTimeout(() => {
        mainTimer = undefined;
        if (stopped) return;
        const all: ImpairedFrame[] = [];
        for (let i = 0; i < maxFrames; i++) {
          const data = next(i);
          if (!data) break;
          if (this.#muted) continue;
          framesSent++;
          all.push(...stream.push({ data, sendMs: i * fd }));
        }
        for (const d of sortByArrival(all)) {
          deliveries.push(d);
          this.#deliver(trackSource, d.data);
        }
        produced = true;
        settleIfDone();
      }, 0);
    } else {
      const start = clock.now();
      let i = 0;
      const tick = (): void => {
        mainTimer = undefined;
        const now = clock.now();
        while (!stopped) {
          const due = start + i * fd;
          if (due > now) {
            mainTimer = clock.setTimeout(tick, due - now);
            return;
          }
          const data = i < maxFrames ? next(i) : undefined;
          if (!data) {
            produced = true;
            settleIfDone();
            return;
          }
          i++;
          if (this.#muted) continue;
          framesSent++;
          for (const d of stream.push({ data, sendMs: due })) {
            deliveries.push(d);
            enqueue(d);
          }
          flush();
        }
      };
      // Deliveries wait in arrival order (stable: equal arrivals keep send order) behind one
      // timer, so a FIFO path stays FIFO: one timer per frame could fire out of order when two
      // arrivals fall in the same millisecond.
      const queue: ImpairedFrame[] = [];
      let queueTimer: unknown;
      const enqueue = (d: ImpairedFrame): void => {
        let at = queue.length;
        while (at > 0 && queue[at - 1]!.arriveMs > d.arriveMs) at--;
        queue.splice(at, 0, d);
      };
      const flush = (): void => {
        const now = clock.now();
        while (!stopped && queue.length && queue[0]!.arriveMs <= now) this.#deliver(trackSource, queue.shift()!.data);
        if (queueTimer !== undefined) {
          clock.clearTimeout(queueTimer);
          pendingTimers.delete(queueTimer);
          queueTimer = undefined;
        }
        if (!stopped && queue.length) {
          const h = clock.setTimeout(
            () => {
              pendingTimers.delete(h);
              queueTimer = undefined;
              flush();
              settleIfDone();
            },
            Math.max(0, queue[0]!.arriveMs - now),
          );
          queueTimer = h;
          pendingTimers.add(h);
        }
      };
      tick();
    }
    return {
      done,
      stop: ctl.stop,
      get framesSent() {
        return framesSent;
      },
      deliveries,
      stats: stream.stats,
    };
  }

  /**
   * Starts capturing what others (bots) publish in this room, optionally only one identity or
   * one source.
   */
  listen(filter: { identity?: string; source?: TrackSource } = {}): Listener {
    const l = new Listener(this.#ctx.room, this.identity, this.#ctx.clock, filter);
    for (const t of this.#ctx.room.subscribe(l)) l.onSubscribed(t);
    return l;
  }

  /** Leaves the room: bot subscribers targeting this identity get `target_left`. Idempotent. */
  leave(): void {
    if (!this.#present) return;
    this.#ctx.room.leave(this);
    this.#gone('left');
  }

  #gone(reason: 'left' | RemovalReason): void {
    this.#present = false;
    for (const s of [...this.#speaking]) s.stop();
    for (const h of this.#timers) this.#ctx.clock.clearTimeout(h);
    this.#timers.clear();
    this.#tracks.clear();
    this.#ctx.onGone(this);
    this.emit('left', reason);
  }

  /** @internal Removed by the room (kick, duplicate identity, room close). */
  onRemoved(reason: RemovalReason): void {
    if (this.#present) this.#gone(reason);
  }
}
