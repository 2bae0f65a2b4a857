/**
 * `AudioPlayer`: plays a queue of tracks into a frame sink (a {@link VoiceConnection} or a
 * `DuplexSession`).
 *
 * Two media paths, chosen per track:
 * ```
 *  prerecorded input (path, URL, bytes) and a sink with a worker-mode pacer:
 *    play() ─controls─► media worker: source ─► lookahead (≈1 s) ─► gain · crossfade · encode ─► pacer thread ─► wire
 *                       (the main thread only sends controls and hears events: a stalled event loop
 *                        delays neither the reading nor the encoding nor the sends)
 *
 *  a ready AudioSource (live: microphone, streaming TTS, a user's PCM stream), or a sink without one:
 *    queue ─► track source ─► (PCM: gain · crossfade · channel fit · Opus encode) ─► sink.sendFrame()
 *                             (Opus passthrough: untouched)                           │ waits for room:
 *                                                                                     ▼ ≤ queueFrames ahead
 *                                                                                 pacer thread ─► wire
 * ```
 * Idle: nothing is sent; the connection's filler keeps the session alive. On the main-thread
 * path `sendFrame` blocks while the pacer queue is full, so the player runs exactly the queue
 * depth ahead of the wire (live audio stays low-latency), and a reconnect (the pacer stops, its
 * queue stays) simply pauses the loop: the track resumes where it was.
 * @packageDocumentation
 */
import { OpusEncoder, type OpusFrameDuration } from '../codec/opus-encoder.js';
import { applyGain, applyRamp, monoToStereo, stereoToMono } from '../codec/pcm.js';
import { AbortError, ArgonVoiceError, ClosedError, InvalidInputError, type MediaWorkerError } from '../errors.js';
import type { PacerProducerLink } from '../pacing/pacer.js';
import type { WaitOptions } from '../util/abort.js';
import { withDeadline } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type MediaLaneHandle, MediaWorkerPool } from './media/pool.js';
import type { MediaReply, WireError } from './media/protocol.js';
import { createAudioSource } from './sources/create-source.js';
import type { AudioSource, ByteInput, NormalizeOption } from './sources/types.js';

/** Where the player's frames go: a voice connection or a duplex session. */
export interface FrameSink {
  /** Channels of the published track. */
  readonly channels: 1 | 2;
  /** Duration of every frame. */
  readonly frameDurationMs: number;
  /** Frames queued in the pacer and not yet on the wire. */
  readonly queuedFrames: number;
  /** Validates and queues a frame, waiting for room. */
  sendFrame(frame: Uint8Array, options?: WaitOptions): Promise<void>;
  /** Drops the frames queued in the pacer (stop, seek). */
  clearQueued?(): void;
  /** Records the time one frame took to prepare (metrics). */
  recordPrepareTime?(ms: number): void;
  /** Closes the sink (idle disconnect). */
  close(): Promise<void>;
  /**
   * Marks intended silence (the queue ended, a pause) so the pacer does not count what follows
   * as a dropout.
   */
  markQuiet?(): void;
  /**
   * A direct feed into the sink's pacer for a media worker; undefined when the sink has none
   * (then every track is rendered on the main thread).
   */
  producerLink?(): PacerProducerLink | undefined;
  /** A frame the media worker replaced with silence because the gateway would have rejected it. */
  reportInvalidFrame?(frame: Uint8Array, message: string): void;
}

/** What {@link AudioPlayer.play} accepts: a ready source, or an input for `createAudioSource`. */
export type PlayInput = AudioSource | string | ByteInput;

/** Options of one {@link AudioPlayer.play} call. */
export interface PlayOptions {
  /** Shown in events. Default: the input's path, or `'track'`. */
  title?: string;
  /** Start this far into the input (inputs only, not ready sources). */
  seekMs?: number;
  /** Loudness normalisation (EBU R128, −16 LUFS / −1 dBTP by default); transcodes the input. */
  normalize?: NormalizeOption;
}

/** Result of a track's {@link Track.playout}. */
export interface PlayoutResult {
  /** `finished`: every frame left the pacer; `stopped`: stop(), skip() or close() ended it. */
  status: 'finished' | 'stopped';
  /** Frames of this track queued for sending. */
  frames: number;
}

/** A queued or playing track. */
export interface Track {
  /** Sequence number within the player. */
  readonly id: number;
  /** Title shown in events. */
  readonly title: string;
  /** Settles when the track has been played out (or stopped); rejects when its source failed. */
  readonly playout: Promise<PlayoutResult>;
}

/** State of the player. */
export type AudioPlayerState =
  | { status: 'idle'; sinceMs: number }
  | { status: 'playing'; track: Track }
  | { status: 'paused'; track: Track }
  | { status: 'closed' };

/** Events of {@link AudioPlayer}. */
export type AudioPlayerEvents = {
  /** Every state transition. */
  stateChange: [oldState: AudioPlayerState, newState: AudioPlayerState];
  /** A track started. */
  playing: [track: Track];
  /** The queue ran empty. */
  idle: [];
  /** A track's source failed (the player moves on to the next track). */
  error: [error: Error, track: Track];
  /** The idle timeout closed the sink. */
  idleDisconnect: [];
};

/** Options of {@link AudioPlayer}. */
export interface AudioPlayerOptions {
  /** Linear gain for PCM sources (default 1; passthrough Opus is never touched). */
  volume?: number;
  /** Crossfade between consecutive PCM tracks, ms (default 0). */
  crossfadeMs?: number;
  /** Loudness normalisation for inputs that are transcoded anyway (default false). */
  normalize?: NormalizeOption;
  /**
   * While idle the connection's silence filler keeps the session alive; with this set the player
   * closes the sink after that many idle ms instead.
   */
  idleTimeoutMs?: number;
  /** Encoder bitrate for PCM sources. */
  bitrate?: number;
  /**
   * Source factory (default `createAudioSource`); injectable for tests. A custom factory runs on
   * the main thread, so with one every track renders on the main thread (as `media: 'main'`).
   */
  createSource?: (input: string | ByteInput, options: Parameters<typeof createAudioSource>[1]) => Promise<AudioSource>;
  /** Clock for the idle timer and prepare-time measurement. */
  clock?: Clock;
  /**
   * Where prerecorded tracks (a path, URL or bytes) are read, decoded and encoded:
   * `'auto'` (default) on a media worker thread when the sink offers a direct pacer feed
   * ({@link FrameSink.producerLink}), else on the main thread; `'main'` always on the main thread
   * (the pre-worker behaviour: a stalled event loop longer than the pacer queue inserts silence).
   * Ready sources (`AudioSource`: live audio, your own streams) always play from the main thread.
   */
  media?: 'auto' | 'main';
  /**
   * How much prerecorded audio the media worker prepares ahead of the pacer, in ms (default
   * 1000). Live sources keep the pacer's short queue. Controls do not wait for it: pause, skip,
   * stop, seek and volume take back what was queued and act within a frame.
   */
  lookaheadMs?: number;
  /** Media worker pool (default: the process-wide {@link MediaWorkerPool.shared}). */
  mediaPool?: MediaWorkerPool;
}

interface TrackEntry extends Track {
  input: PlayInput;
  options: PlayOptions;
  source: AudioSource | undefined;
  abort: AbortController;
  frames: number;
  resolve(r: PlayoutResult): void;
  reject(e: Error): void;
  seekTo: number | undefined;
  /** Handed to the media lane (and not ended yet). */
  onLane: boolean;
  /** The lane reported its first frame. */
  laneStarted: boolean;
  /** Settled: ended, failed or stopped. */
  done: boolean;
  /** Resolves once the track is {@link TrackEntry.done} (never rejects). */
  settled: Promise<void>;
  settle(): void;
  positionMs: number;
}

const isSource = (x: PlayInput): x is AudioSource =>
  typeof x === 'object' &&
  x !== null &&
  'info' in x &&
  typeof (x as AudioSource).close === 'function' &&
  Symbol.asyncIterator in x;

/**
 * Plays tracks one after another into a {@link FrameSink}.
 */
export class AudioPlayer extends TypedEmitter<AudioPlayerEvents> {
  readonly #sink: FrameSink;
  readonly #opts: AudioPlayerOptions;
  readonly #clock: Clock;
  #state: AudioPlayerState;
  #queue: TrackEntry[] = [];
  #current: TrackEntry | undefined;
  #volume: number;
  #ids = 0;
  #wake: (() => void) | undefined;
  #resume: (() => void) | undefined;
  #idleTimer: unknown;
  #encoder: OpusEncoder | undefined;
  #tail: Int16Array[] = [];
  #loop: Promise<void>;
  #lane: MediaLaneHandle | undefined;
  #laneTracks = new Map<number, TrackEntry>();

  /**
   * A player publishing into `sink`; idle until {@link AudioPlayer.play}.
   * @throws InvalidInputError for a negative volume.
   */
  constructor(sink: FrameSink, options: AudioPlayerOptions = {}) {
    super();
    this.#sink = sink;
    this.#opts = options;
    this.#clock = options.clock ?? systemClock;
    this.#volume = options.volume ?? 1;
    if (!(this.#volume >= 0) || !Number.isFinite(this.#volume))
      throw new InvalidInputError(`volume must be ≥ 0, got ${this.#volume}`);
    this.#state = { status: 'idle', sinceMs: this.#clock.now() };
    this.#armIdle();
    this.#loop = this.#run();
  }

  /** Current state. */
  get state(): AudioPlayerState {
    return this.#state;
  }

  /** Tracks waiting after the current one. */
  get queue(): readonly Track[] {
    return this.#queue;
  }

  /** Gain applied to PCM sources from the next frame on. */
  get volume(): number {
    return this.#volume;
  }

  set volume(v: number) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new InvalidInputError(`volume must be ≥ 0, got ${v}`);
    this.#volume = v;
    this.#lane?.volume(v);
  }

  /**
   * Where the current track is: ms into its input, as far as frames have left the pacer (media
   * worker tracks report every 500 ms; main-thread tracks count queued frames).
   */
  get position(): { track: Track; ms: number } | undefined {
    const t = this.#current;
    if (!t) return undefined;
    return { track: t, ms: t.onLane ? t.positionMs : (t.options.seekMs ?? 0) + t.frames * this.#sink.frameDurationMs };
  }

  #setState(next: AudioPlayerState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  /**
   * Queues a track. Inputs (path, URL, bytes) become sources when their turn comes; a ready
   * source plays as is. Resolves at once with the track; await `track.playout` for its end.
   * @throws ClosedError after close().
   */
  play(input: PlayInput, options: PlayOptions = {}): Track {
    if ((this.#state.status as string) === 'closed') throw new ClosedError('the player is closed');
    let resolve!: (r: PlayoutResult) => void;
    let reject!: (e: Error) => void;
    const playout = new Promise<PlayoutResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    playout.catch(() => undefined); // a failure is also reported through 'error'
    let settle!: () => void;
    const settled = new Promise<void>((r) => {
      settle = r;
    });
    const entry: TrackEntry = {
      id: ++this.#ids,
      title: options.title ?? (typeof input === 'string' ? input : 'track'),
      playout,
      input,
      options,
      source: isSource(input) ? input : undefined,
      abort: new AbortController(),
      frames: 0,
      resolve: (r) => {
        entry.done = true;
        resolve(r);
        settle();
      },
      reject: (e) => {
        entry.done = true;
        reject(e);
        settle();
      },
      seekTo: undefined,
      onLane: false,
      laneStarted: false,
      done: false,
      settled,
      settle,
      positionMs: options.seekMs ?? 0,
    };
    this.#queue.push(entry);
    this.#disarmIdle();
    if (this.#current?.onLane) this.#submitAhead();
    this.#wake?.();
    return entry;
  }

  /**
   * Waits until `track` (default: the current or last queued one) has been played out.
   * @throws TimeoutError, AbortError; the source's error when it failed.
   */
  waitForPlayout(track?: Track, options: WaitOptions = {}): Promise<PlayoutResult> {
    const t = track ?? this.#queue.at(-1) ?? this.#current;
    if (!t) return Promise.resolve({ status: 'finished', frames: 0 });
    return withDeadline(t.playout, `waiting for '${t.title}' to play out`, options);
  }

  /** Pauses: no new frames are queued (the connection sends silence meanwhile). */
  pause(): boolean {
    if (this.#state.status !== 'playing') return false;
    this.#setState({ status: 'paused', track: this.#state.track });
    if (this.#current?.onLane) this.#lane?.control('pause');
    else this.#sink.markQuiet?.();
    return true;
  }

  /** Resumes after {@link pause}. */
  resume(): boolean {
    if (this.#state.status !== 'paused') return false;
    this.#setState({ status: 'playing', track: this.#state.track });
    if (this.#current?.onLane) this.#lane?.control('resume');
    this.#resume?.();
    return true;
  }

  /** Ends the current track (its playout resolves `stopped`) and goes on with the queue. */
  skip(): boolean {
    const cur = this.#current;
    if (!cur) return false;
    cur.abort.abort(new AbortError('skipped'));
    if (cur.onLane) {
      if (this.#state.status === 'paused') this.#lane?.control('resume');
      this.#lane?.control('skip');
    } else this.#sink.clearQueued?.();
    this.#resume?.();
    return true;
  }

  /** Stops the current track and empties the queue. */
  stop(): void {
    let laneQueued = false;
    for (const t of this.#queue.splice(0)) {
      laneQueued ||= t.onLane;
      t.abort.abort(new AbortError('stopped'));
      t.resolve({ status: 'stopped', frames: 0 });
      if (t.source) void t.source.close();
    }
    this.#tail = [];
    // The lane holds those tracks too (prefetched): drop them all there.
    if (laneQueued) this.#lane?.control('stop');
    this.skip();
  }

  /**
   * Restarts the current track at `ms` (tracks created from an input only: the input is opened
   * again with `seekMs`).
   * @throws InvalidInputError when nothing plays or the track came from a ready source.
   */
  seek(ms: number): void {
    const cur = this.#current;
    if (!cur) throw new InvalidInputError('nothing is playing');
    if (isSource(cur.input)) throw new InvalidInputError('this track cannot seek: play() it from a path, URL or bytes');
    if (!(ms >= 0)) throw new InvalidInputError(`seek position must be ≥ 0, got ${ms}`);
    if (cur.onLane) {
      cur.positionMs = ms;
      this.#lane?.seek(ms);
      return;
    }
    cur.seekTo = ms;
    this.#sink.clearQueued?.();
    const src = cur.source;
    cur.source = undefined;
    if (src) void src.close();
  }

  #armIdle(): void {
    const ms = this.#opts.idleTimeoutMs;
    if (ms === undefined || this.#idleTimer !== undefined) return;
    this.#idleTimer = this.#clock.setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#state.status !== 'idle') return;
      this.emit('idleDisconnect');
      void this.#sink.close();
    }, ms);
  }

  #disarmIdle(): void {
    if (this.#idleTimer !== undefined) this.#clock.clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  async #open(t: TrackEntry): Promise<AudioSource> {
    if (t.source) return t.source;
    const wantPcm = this.#volume !== 1 || (this.#opts.crossfadeMs ?? 0) > 0;
    const normalize = t.options.normalize ?? this.#opts.normalize;
    const create = this.#opts.createSource ?? createAudioSource;
    t.source = await create(t.input as string | ByteInput, {
      format: wantPcm ? 'pcm' : 'opus',
      frameDurationMs: this.#sink.frameDurationMs,
      channels: this.#sink.channels,
      ...(normalize ? { normalize } : {}),
      ...((t.seekTo ?? t.options.seekMs) ? { seekMs: t.seekTo ?? t.options.seekMs } : {}),
      ...(this.#opts.bitrate ? { bitrate: this.#opts.bitrate } : {}),
      signal: t.abort.signal,
    });
    t.seekTo = undefined;
    return t.source;
  }

  async #run(): Promise<void> {
    for (;;) {
      if ((this.#state.status as string) === 'closed') return;
      const t = this.#queue.shift();
      if (!t) {
        await this.#flushTail();
        if (this.#state.status !== 'idle' && this.#state.status !== 'closed') {
          this.#sink.markQuiet?.();
          this.#setState({ status: 'idle', sinceMs: this.#clock.now() });
          this.emit('idle');
          this.#armIdle();
        }
        if (this.#queue.length === 0 && (this.#state.status as string) !== 'closed') {
          await new Promise<void>((r) => {
            this.#wake = r;
          });
        }
        this.#wake = undefined;
        continue;
      }
      if (t.done) continue; // stopped or failed while it waited in the lane
      this.#current = t;
      this.#setState({ status: 'playing', track: t });
      this.emit('playing', t);
      if (this.#laneFor(t)) {
        this.#submitAhead();
        await t.settled;
        this.#current = undefined;
        continue;
      }
      try {
        await this.#playTrack(t);
        if (t.abort.signal.aborted) {
          t.resolve({ status: 'stopped', frames: t.frames });
        } else {
          // Played out once the pacer's queue is empty: the track's last frame is on the wire.
          if (this.#queue.length === 0) await this.#flushTail();
          await this.#drain(t);
          t.resolve({ status: t.abort.signal.aborted ? 'stopped' : 'finished', frames: t.frames });
        }
      } catch (err) {
        const e = err instanceof Error ? err : new Error(String(err));
        if (t.abort.signal.aborted || (this.#state.status as string) === 'closed')
          t.resolve({ status: 'stopped', frames: t.frames });
        else {
          t.reject(e);
          if (this.listenerCount('error') > 0) this.emit('error', e, t);
        }
      } finally {
        await t.source?.close().catch(() => undefined);
        this.#current = undefined;
      }
    }
  }

  /** True when `t` plays on the media lane (opening the lane on first use). */
  #laneFor(t: TrackEntry): boolean {
    if (t.onLane) return true;
    // A custom source factory is a function of this thread: its tracks render here.
    if (this.#opts.media === 'main' || this.#opts.createSource || isSource(t.input)) return false;
    if (typeof t.input !== 'string' && !(t.input instanceof Uint8Array)) return false;
    return this.#ensureLane() !== undefined;
  }

  #ensureLane(): MediaLaneHandle | undefined {
    if (this.#lane) return this.#lane;
    const link = this.#sink.producerLink?.();
    if (!link) return undefined;
    const f = this.#sink.frameDurationMs;
    const pool = this.#opts.mediaPool ?? MediaWorkerPool.shared();
    this.#lane = pool.openLane(
      { ...link },
      {
        channels: this.#sink.channels,
        frameDurationMs: f,
        // The lookahead is split: half queued in the (real-time) pacer thread, half read ahead here.
        pacerFrames: Math.max(link.capacity, Math.floor((this.#opts.lookaheadMs ?? 1000) / f / 2)),
        lookaheadFrames: Math.max(1, Math.ceil((this.#opts.lookaheadMs ?? 1000) / f / 2)),
        volume: this.#volume,
        crossfadeFrames: Math.round((this.#opts.crossfadeMs ?? 0) / f),
        bitrate: this.#opts.bitrate,
        normalize: this.#opts.normalize,
      },
      { onReply: (m) => this.#onLaneReply(m), onCrash: (e) => this.#onLaneCrash(e) },
    );
    return this.#lane;
  }

  /** Hands the current track and the lane-playable tracks right after it to the lane (gapless). */
  #submitAhead(): void {
    const cur = this.#current;
    if (cur && !cur.onLane && !cur.done) this.#submit(cur);
    for (const t of this.#queue) {
      if (t.done) continue;
      if (!this.#laneFor(t)) break; // a main-thread track plays in between: the lane waits for it
      if (!t.onLane) this.#submit(t);
    }
  }

  #submit(t: TrackEntry): void {
    const lane = this.#ensureLane();
    if (!lane) return;
    t.onLane = true;
    this.#laneTracks.set(t.id, t);
    const normalize = t.options.normalize;
    lane.play({
      id: t.id,
      title: t.title,
      input: t.input as string | Uint8Array,
      ...(t.options.seekMs ? { seekMs: t.options.seekMs } : {}),
      ...(normalize ? { normalize } : {}),
    });
  }

  #onLaneReply(m: MediaReply): void {
    if (m.t === 'invalid') {
      this.#sink.reportInvalidFrame?.(m.frame, m.message);
      return;
    }
    if (m.t !== 'started' && m.t !== 'position' && m.t !== 'ended' && m.t !== 'error') return;
    const t = this.#laneTracks.get(m.track);
    if (!t) return;
    if (m.t === 'started') t.laneStarted = true;
    else if (m.t === 'position') t.positionMs = m.ms;
    else {
      this.#laneTracks.delete(m.track);
      t.frames = m.frames;
      if (m.t === 'ended') t.resolve({ status: m.status, frames: m.frames });
      else this.#failLaneTrack(t, laneError(m.error));
    }
  }

  /** The media worker died: tracks it was playing fail with the typed error; queued ones go to a new lane. */
  #onLaneCrash(err: MediaWorkerError): void {
    this.#lane = undefined;
    const tracks = [...this.#laneTracks.values()];
    this.#laneTracks.clear();
    for (const t of tracks) {
      if (t.laneStarted || t === this.#current) this.#failLaneTrack(t, err);
      else t.onLane = false;
    }
    if (this.#current?.onLane === false || this.#current?.done) this.#submitAhead();
  }

  #failLaneTrack(t: TrackEntry, err: Error): void {
    if (t.done) return;
    if (t.abort.signal.aborted || (this.#state.status as string) === 'closed') {
      t.resolve({ status: 'stopped', frames: t.frames });
      return;
    }
    t.reject(err);
    if (this.listenerCount('error') > 0) this.emit('error', err, t);
  }

  async #drain(t: TrackEntry): Promise<void> {
    while (this.#sink.queuedFrames > 0 && !t.abort.signal.aborted && this.#state.status !== 'closed') {
      // On the player's clock: a fake clock (tests) must drive the playout wait like everything else.
      await new Promise<void>((r) => this.#clock.setTimeout(r, this.#sink.frameDurationMs));
    }
  }

  async #gate(t: TrackEntry): Promise<void> {
    while (this.#state.status === 'paused' && !t.abort.signal.aborted) {
      await new Promise<void>((r) => {
        this.#resume = r;
        if (this.#state.status !== 'paused' || t.abort.signal.aborted) r();
      });
      this.#resume = undefined;
    }
  }

  async #playTrack(t: TrackEntry): Promise<void> {
    for (;;) {
      const source = await this.#open(t);
      const info = source.info;
      if (info.frameDurationMs !== this.#sink.frameDurationMs) {
        throw new InvalidInputError(
          `track '${t.title}' has ${info.frameDurationMs} ms frames but the session uses ${this.#sink.frameDurationMs} ms (§3.4)`,
        );
      }
      const fadeFrames = Math.round((this.#opts.crossfadeMs ?? 0) / this.#sink.frameDurationMs);
      let head = info.format === 'pcm' ? this.#tail.splice(0) : [];
      if (info.format !== 'pcm') await this.#flushTail();
      let fadeIndex = 0;
      const hold: Int16Array[] = [];
      const it = source[Symbol.asyncIterator]();
      let t0 = this.#clock.now();
      for (;;) {
        await this.#gate(t);
        if (t.abort.signal.aborted) return;
        let r: IteratorResult<Uint8Array | Int16Array>;
        try {
          r = await it.next();
        } catch (err) {
          if (t.seekTo !== undefined || t.abort.signal.aborted) break;
          throw err;
        }
        if (r.done) break;
        let out: Uint8Array;
        if (info.format === 'opus') {
          out = r.value as Uint8Array;
        } else {
          let pcm = this.#fitChannels(r.value as Int16Array, info.channels);
          if (this.#volume !== 1) {
            pcm = pcm === r.value ? pcm.slice() : pcm;
            applyGain(pcm, this.#volume);
          }
          if (head.length > 0) {
            pcm = this.#crossfade(head.shift()!, pcm, fadeIndex++, fadeFrames);
          }
          if (fadeFrames > 0) {
            hold.push(pcm);
            if (hold.length <= fadeFrames) continue;
            pcm = hold.shift()!;
          }
          out = this.#encode(pcm);
        }
        this.#sink.recordPrepareTime?.(this.#clock.now() - t0);
        await this.#sink.sendFrame(out, { signal: t.abort.signal });
        t.frames++;
        t0 = this.#clock.now();
      }
      if (t.seekTo !== undefined && !t.abort.signal.aborted) {
        head = [];
        continue; // reopen at the new position
      }
      // Keep the last frames for a crossfade into the next PCM track.
      this.#tail = hold;
      return;
    }
  }

  #fitChannels(pcm: Int16Array, channels: 1 | 2): Int16Array {
    if (channels === this.#sink.channels) return pcm;
    return channels === 1 ? monoToStereo(pcm) : stereoToMono(pcm);
  }

  /** Mixes frame `k` of a `n`-frame crossfade: the old track ramps down while the new one ramps up. */
  #crossfade(oldFrame: Int16Array, newFrame: Int16Array, k: number, n: number): Int16Array {
    const ch = this.#sink.channels;
    const a = oldFrame.slice();
    const b = newFrame.slice();
    applyRamp(a, ch, 1 - k / n, 1 - (k + 1) / n, 'equal-power');
    applyRamp(b, ch, k / n, (k + 1) / n, 'equal-power');
    const out = new Int16Array(b.length);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(-32768, Math.min(32767, (a[i] ?? 0) + b[i]!));
    return out;
  }

  #encode(pcm: Int16Array): Uint8Array {
    this.#encoder ??= new OpusEncoder({
      channels: this.#sink.channels,
      frameDurationMs: this.#sink.frameDurationMs as OpusFrameDuration,
      ...(this.#opts.bitrate ? { bitrate: this.#opts.bitrate } : {}),
    });
    return this.#encoder.encode(pcm);
  }

  /** Plays the crossfade tail of the previous track when nothing follows it. */
  async #flushTail(): Promise<void> {
    const tail = this.#tail.splice(0);
    for (const pcm of tail) {
      if ((this.#state.status as string) === 'closed') return;
      await this.#sink.sendFrame(this.#encode(pcm)).catch(() => undefined);
    }
  }

  /** Stops everything, closes sources, the media lane and the encoder. Does not close the sink. Idempotent. */
  async close(): Promise<void> {
    if ((this.#state.status as string) === 'closed') return;
    this.stop();
    this.#disarmIdle();
    this.#setState({ status: 'closed' });
    const lane = this.#lane;
    this.#lane = undefined;
    lane?.close();
    for (const t of this.#laneTracks.values()) t.resolve({ status: 'stopped', frames: t.frames });
    this.#laneTracks.clear();
    this.#wake?.();
    this.#resume?.();
    await this.#loop.catch(() => undefined);
    this.#encoder?.close();
    this.#encoder = undefined;
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Rebuilds a lane's error on this thread: the same code and message, as an {@link ArgonVoiceError} when it was one. */
function laneError(w: WireError): Error {
  if (
    w.code === 'ARGON_VOICE_INVALID_INPUT' ||
    w.code === 'ARGON_VOICE_CONTAINER' ||
    w.code === 'ARGON_VOICE_INVALID_PACKET'
  )
    return new InvalidInputError(w.message, { code: w.code });
  if (w.code) return new ArgonVoiceError(w.code as ArgonVoiceError['code'], w.message);
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
