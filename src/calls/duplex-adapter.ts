/**
 * The audio of one call: a duplex session (`/audio/duplex`, docs/platform.md §R6.3) adapted to the
 * {@link CallSession} the {@link CallManager} drives, plus what a call handler needs:
 * `play()` into the publish path and `record()` / `callerAudio()` from the receive path.
 *
 * ```
 *                 ┌──────────── DuplexCallSession (call.session) ─────────────┐
 *  play(src) ──►  │ AudioPlayer ──► duplex.sendFrame ──► pacer ──► socket ──►  │ ──► caller hears
 *                 │   (after ready: 200 ms silence pre-roll, then silence filler │
 *                 │    whenever nothing plays: the first syllable is not clipped)│
 *  caller speaks ►│ socket ──frame(packet, arrivalMs)──┬─► CallRecording (raw) │
 *                 │                                    └─► VoiceReceiver        │
 *                 │                                        (jitter buffer) ──►  │ callerAudio()
 *                 └─────────────────────────────────────────────────────────────┘
 * ```
 * On duplex, `subscribed` and audio can come before `ready`, `waiting` never comes, and
 * `target_left` leaves the socket open (docs/platform.md §A2.2, §A5.3): the adapter turns
 * `target_left` into the session's `targetLeft` event (the manager hangs the call up) and a
 * socket loss into `closed`. Caller frames that arrive before a recording or `callerAudio()`
 * starts are only seen by `frame` listeners.
 * @packageDocumentation
 */
import { writeFile } from 'node:fs/promises';
import { OggOpusMuxer } from '../codec/ogg-mux.js';
import { OpusDecoder } from '../codec/opus-decoder.js';
import { isGatewaySafe, tryParseOpusPacket } from '../codec/opus-packet.js';
import { isDtxPacket, silencePacket } from '../codec/silence.js';
import { ClosedError, InvalidInputError, IoError } from '../errors.js';
import type { WaitOptions } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import {
  AudioPlayer,
  type AudioPlayerOptions,
  type PlayInput,
  type PlayOptions,
  type PlayoutResult,
} from '../voice/player.js';
import { type UserAudioStream, type UserStreamOptions, VoiceReceiver } from '../voice/receiver.js';
import type { VoiceConnectionState } from '../voice/connection.js';
import type { DuplexSession } from '../voice/duplex.js';
import { BufferedSource } from '../voice/sources/base.js';
import type { AudioSource } from '../voice/sources/types.js';
import type { CallSession, CallSessionEvents } from './call-manager.js';

/** Frames kept by a recording unless told otherwise: 10 min of 20 ms frames. */
const DEFAULT_MAX_RECORDED_FRAMES = 30_000;

// ───────────────────────────── recording ─────────────────────────────

/** Options of {@link DuplexCallSession.record}. */
export interface CallRecordOptions {
  /** Stop after this long (on the session's clock). Default: until `stop()`, the signal, or the call's end. */
  durationMs?: number;
  /** Keep ≤ 2-byte DTX frames (default false: dropped like echo-bot does, docs/platform.md §A5.2, §A7). */
  keepDtx?: boolean;
  /** Also write the recording as an Ogg Opus file at this path when it ends. */
  file?: string;
  /** Bound on kept frames; later frames are counted in `droppedOverLimit`. Default 30 000 (10 min). */
  maxFrames?: number;
  /** Ends the recording early (it resolves normally with reason `aborted`). */
  signal?: AbortSignal;
}

/** Why a recording ended. */
export type RecordingEndReason = 'duration' | 'stopped' | 'aborted' | 'closed';

/** What a finished {@link CallRecording} holds. */
export interface RecordingResult {
  /** The caller's Opus frames, in arrival order, copied. */
  frames: Uint8Array[];
  /** Sum of the frames' TOC durations, ms (DTX gaps removed when DTX was dropped). */
  audioMs: number;
  /** DTX frames (≤ 2 bytes) left out. */
  droppedDtx: number;
  /** Frames left out because `maxFrames` was reached. */
  droppedOverLimit: number;
  reason: RecordingEndReason;
  /** Path of the Ogg file written, when `file` was given. */
  file?: string;
}

/**
 * The caller's audio as received (raw Opus frames in arrival order, no jitter buffer: what
 * echo-bot records), from {@link DuplexCallSession.record}. Ends after `durationMs`, on
 * `stop()`, on the signal, or when the session closes.
 */
export class CallRecording {
  readonly #frames: Uint8Array[] = [];
  readonly #opts: CallRecordOptions;
  readonly #clock: Clock;
  readonly #max: number;
  #audioMs = 0;
  #droppedDtx = 0;
  #droppedOverLimit = 0;
  #timer: unknown;
  #finished = false;
  readonly #onAbort = () => this.#finish('aborted');
  readonly #detach: (rec: CallRecording) => void;
  #resolve!: (r: RecordingResult) => void;
  #reject!: (e: Error) => void;
  /** Settles once the recording ended (and its file, if any, was written). @throws IoError when the file cannot be written. */
  readonly done: Promise<RecordingResult>;

  /** @internal created by {@link DuplexCallSession.record}. */
  constructor(options: CallRecordOptions, clock: Clock, detach: (rec: CallRecording) => void) {
    if (options.durationMs !== undefined && !(options.durationMs >= 0))
      throw new InvalidInputError(`record: durationMs must be ≥ 0, got ${options.durationMs}`);
    const max = options.maxFrames ?? DEFAULT_MAX_RECORDED_FRAMES;
    if (!Number.isInteger(max) || max < 1)
      throw new InvalidInputError(`record: maxFrames must be an integer ≥ 1, got ${max}`);
    this.#opts = options;
    this.#clock = clock;
    this.#max = max;
    this.#detach = detach;
    this.done = new Promise<RecordingResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.done.catch(() => undefined);
    if (options.signal?.aborted) {
      queueMicrotask(() => this.#finish('aborted'));
      return;
    }
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
    if (options.durationMs !== undefined) {
      this.#timer = clock.setTimeout(() => this.#finish('duration'), options.durationMs);
    }
  }

  /** Frames kept so far (live view; do not modify). */
  get frames(): readonly Uint8Array[] {
    return this.#frames;
  }

  /** True until the recording ended. */
  get recording(): boolean {
    return !this.#finished;
  }

  /** @internal one received frame. */
  push(packet: Uint8Array): void {
    if (this.#finished) return;
    if (isDtxPacket(packet) && !this.#opts.keepDtx) {
      this.#droppedDtx++;
      return;
    }
    if (this.#frames.length >= this.#max) {
      this.#droppedOverLimit++;
      return;
    }
    this.#frames.push(packet.slice());
    this.#audioMs += (tryParseOpusPacket(packet)?.samples ?? 0) / 48;
  }

  /** Ends the recording now. Idempotent; resolves like {@link CallRecording.done}. */
  stop(): Promise<RecordingResult> {
    this.#finish('stopped');
    return this.done;
  }

  /** @internal the session closed. */
  end(reason: RecordingEndReason): void {
    this.#finish(reason);
  }

  #finish(reason: RecordingEndReason): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#opts.signal?.removeEventListener('abort', this.#onAbort);
    this.#detach(this);
    const result: RecordingResult = {
      frames: this.#frames,
      audioMs: this.#audioMs,
      droppedDtx: this.#droppedDtx,
      droppedOverLimit: this.#droppedOverLimit,
      reason,
    };
    const file = this.#opts.file;
    if (!file) {
      this.#resolve(result);
      return;
    }
    writeFile(file, this.toOgg()).then(
      () => this.#resolve({ ...result, file }),
      (err: unknown) =>
        this.#reject(new IoError(`writing the call recording to ${file} failed`, { cause: err, path: file })),
    );
  }

  /** The frames so far as an Ogg Opus file (mono unless the first frame says stereo). */
  toOgg(): Uint8Array {
    const channels = this.#frames[0] && (this.#frames[0][0]! & 0x04) !== 0 ? 2 : 1;
    const mux = new OggOpusMuxer({ channels, comments: ['ENCODER=argon-voice call recording'] });
    const parts: Uint8Array[] = [mux.headers()];
    for (const f of this.#frames) {
      const info = tryParseOpusPacket(f);
      if (info) parts.push(mux.write(f, info.samples));
    }
    parts.push(mux.end());
    return Buffer.concat(parts);
  }

  /**
   * The frames so far decoded to 48 kHz interleaved s16 PCM (`channels`, default mono);
   * undecodable frames become silence of their TOC duration.
   * @throws DependencyError when no Opus decoder can load.
   */
  toPcm(channels: 1 | 2 = 1): Int16Array {
    const dec = new OpusDecoder({ channels });
    try {
      const parts: Int16Array[] = [];
      let total = 0;
      for (const f of this.#frames) {
        let pcm: Int16Array;
        try {
          pcm = dec.decode(f);
        } catch {
          pcm = new Int16Array(((tryParseOpusPacket(f)?.samples ?? 0) * channels) | 0);
        }
        parts.push(pcm);
        total += pcm.length;
      }
      const out = new Int16Array(total);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    } finally {
      dec.close();
    }
  }

  /** The frames so far as a source to play back (see {@link opusFramesSource}). */
  toSource(options: { frameDurationMs?: number; channels?: 1 | 2 } = {}): AudioSource {
    return opusFramesSource(this.#frames.slice(), options);
  }
}

/**
 * Plays a list of Opus frames as an {@link AudioSource}. A frame the gateway would refuse on a
 * `frameDurationMs` session (bad structure, other duration, DTX size) is replaced with silence
 * of that duration, as echo-bot does with `f8 ff fe` (docs/platform.md §A7, §A8a.3), so the timeline
 * stays intact and the session survives.
 * @throws InvalidInputError for a frame duration with no silence frame.
 */
export function opusFramesSource(
  frames: readonly Uint8Array[],
  options: { frameDurationMs?: number; channels?: 1 | 2 } = {},
): AudioSource {
  const frameDurationMs = options.frameDurationMs ?? 20;
  const channels = options.channels ?? 1;
  const silence = silencePacket(channels, frameDurationMs);
  return new BufferedSource(
    { kind: 'ogg', format: 'opus', channels, frameDurationMs, passthrough: true },
    async (ctx) => {
      for (const f of frames) {
        if (ctx.signal.aborted) return;
        if (isGatewaySafe(f, frameDurationMs)) await ctx.push(f);
        else {
          ctx.stats.invalidDropped++;
          await ctx.push(silence);
        }
      }
    },
    {},
  );
}

// ───────────────────────────── the call session ─────────────────────────────

/** Options of {@link DuplexCallSession}. */
export interface DuplexCallSessionOptions {
  callId: string;
  /** The caller's user id (the duplex target). */
  callerId: string;
  /** Options of the call's {@link AudioPlayer}. */
  player?: AudioPlayerOptions;
  /** Clock for recordings and the receiver's playout tick. */
  clock?: Clock;
}

/** Events of {@link DuplexCallSession}. */
export type DuplexCallSessionEvents = CallSessionEvents & {
  /** A frame from the caller, as it arrived (DTX included). */
  frame: [packet: Uint8Array, arrivalMs: number];
  /** The caller (re)published a matching track (`subscribed`, possibly before `ready`). */
  subscribed: [trackSid: string];
};

/**
 * The audio session of one call, exposed as `call.session` once the call is connected:
 * `play()` to the caller, `record()` / `callerAudio()` from the caller, `close()`.
 *
 * @remarks The silence pre-roll lives in the duplex session (`prerollMs`, sent after `ready`
 * before any queued audio; the pacer's filler keeps sending silence while nothing plays), so
 * the caller's jitter buffer and decoder are running when the greeting's first frame arrives.
 *
 * @example
 * ```ts
 * answerCalls({ bot, onCall: async (call) => {
 *   const s = call.session!;
 *   await s.play('hello.ogg', { signal: call.signal });
 *   const rec = await s.record({ durationMs: 5000, file: 'caller.ogg' }).done;
 *   await s.play(opusFramesSource(rec.frames), { signal: call.signal });
 * } });
 * ```
 */
export class DuplexCallSession extends TypedEmitter<DuplexCallSessionEvents> implements CallSession {
  readonly callId: string;
  readonly callerId: string;
  /** The underlying duplex session (owned: closing this session closes it). */
  readonly duplex: DuplexSession;
  readonly #opts: DuplexCallSessionOptions;
  readonly #clock: Clock;
  readonly #recordings = new Set<CallRecording>();
  #player: AudioPlayer | undefined;
  #receiver: VoiceReceiver | undefined;
  #closing: Promise<void> | undefined;
  #closed = false;
  /** Frames received from the caller (DTX included). */
  framesReceived = 0;
  readonly #onFrame = (packet: Uint8Array, arrivalMs: number) => {
    this.framesReceived++;
    for (const r of this.#recordings) r.push(packet);
    this.emit('frame', packet, arrivalMs);
  };
  readonly #onTargetLeft = () => this.emit('targetLeft');
  readonly #onSubscribed = (info: { trackSid: string }) => this.emit('subscribed', info.trackSid);
  readonly #onState = (_old: VoiceConnectionState, next: VoiceConnectionState) => {
    if (next.status === 'closed') void this.#shutdown(next.reason);
  };

  /** Wraps `duplex`; the session owns it from now on. */
  constructor(duplex: DuplexSession, options: DuplexCallSessionOptions) {
    super();
    this.duplex = duplex;
    this.callId = options.callId;
    this.callerId = options.callerId;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    duplex.on('frame', this.#onFrame);
    duplex.on('targetLeft', this.#onTargetLeft);
    duplex.on('subscribed', this.#onSubscribed);
    duplex.on('stateChange', this.#onState);
    if (duplex.state.status === 'closed') void this.#shutdown(duplex.state.reason);
  }

  /** Channels of the published track. */
  get channels(): 1 | 2 {
    return this.duplex.channels;
  }

  /** Duration of every published frame, ms. */
  get frameDurationMs(): number {
    return this.duplex.frameDurationMs;
  }

  /** True once closed (asked for, or the socket was lost). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Resolves once the duplex session is `ready`. @throws TimeoutError, AbortError, ClosedError. */
  ready(options: WaitOptions = {}): Promise<void> {
    return this.duplex.ready(options);
  }

  /**
   * The call's player (created on first use): queues, pause/resume, volume. {@link play} is the
   * one-call shortcut.
   * @throws ClosedError once the session is closed.
   */
  get player(): AudioPlayer {
    if (this.#closed) throw new ClosedError(`the audio session of call ${this.callId} is closed`);
    this.#player ??= new AudioPlayer(this.duplex, { clock: this.#clock, ...this.#opts.player });
    return this.#player;
  }

  /**
   * Plays `input` (an {@link AudioSource}, a path, URL or bytes) to the caller and resolves when
   * it has been played out (`stopped` when the session closed first).
   * @throws ClosedError once closed; AbortError / TimeoutError from `options`; the source's error.
   */
  async play(input: PlayInput, options: PlayOptions & WaitOptions = {}): Promise<PlayoutResult> {
    const { signal, timeoutMs, ...playOptions } = options;
    const player = this.player;
    const track = player.play(input, playOptions);
    return player.waitForPlayout(track, { signal, timeoutMs });
  }

  /**
   * Records the caller: raw Opus frames in arrival order (DTX dropped unless `keepDtx`),
   * optionally written to an Ogg file when it ends. Several recordings may run at once.
   * @throws ClosedError once closed; InvalidInputError for bad options.
   */
  record(options: CallRecordOptions = {}): CallRecording {
    if (this.#closed) throw new ClosedError(`the audio session of call ${this.callId} is closed`);
    const rec = new CallRecording(options, this.#clock, (r) => this.#recordings.delete(r));
    if (rec.recording) this.#recordings.add(rec);
    return rec;
  }

  /**
   * The caller's audio through an adaptive jitter buffer on the receiver's 5 ms playout tick
   * (`VoiceReceiver.attach`; the buffer resets on each `subscribed`): Opus slots with
   * concealment, or decoded 20 ms PCM frames with `mode: 'pcm'` (time-stretched to follow the
   * target delay). Calling it again returns the same stream;
   * it ends when the session closes.
   * @throws ClosedError once closed.
   */
  callerAudio(options: UserStreamOptions = {}): UserAudioStream {
    if (this.#closed) throw new ClosedError(`the audio session of call ${this.callId} is closed`);
    this.#receiver ??= new VoiceReceiver({ clock: this.#clock });
    return this.#receiver.streams.get(this.callerId) ?? this.#receiver.attach(this.callerId, this.duplex, options);
  }

  #shutdown(error?: Error): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      this.duplex.off('frame', this.#onFrame);
      this.duplex.off('targetLeft', this.#onTargetLeft);
      this.duplex.off('subscribed', this.#onSubscribed);
      this.duplex.off('stateChange', this.#onState);
      for (const r of [...this.#recordings]) r.end('closed');
      await Promise.allSettled([this.#player?.close(), this.#receiver?.close()]);
      await this.duplex.close().catch(() => undefined);
      this.emit('closed', error);
    })();
    return this.#closing;
  }

  /** Ends recordings, stops playback, closes the receiver and the duplex socket (Close 1000). Idempotent. */
  close(): Promise<void> {
    return this.#shutdown();
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
