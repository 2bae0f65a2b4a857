/**
 * `MediaLane`: one player's media plane, as it runs on a media worker thread. It reads each
 * track's source into a deep lookahead, renders frames (gain, crossfade, Opus encode, gateway
 * check) just before the pacer needs them, and feeds the pacer stream directly, so a stalled
 * main thread neither empties the pacer queue nor delays a control by more than a frame.
 *
 * ```
 *  tracks:  [ A: units ▮▮▮▮▮▮▮▮ (source still reading) ] [ B: units ▮▮▮ (prefetched) ]
 *                        │ lookahead ≤ lookaheadFrames units in all
 *                        ▼ feed: render one unit (gain · encode · isGatewaySafe) per credit
 *  pacer:   pushed − consumed ≤ capacity (4)  ──►  wire
 *  inPacer: the units posted and not yet consumed; a flush (pause, skip, seek, stop, volume)
 *           clears the pacer queue and takes the unsent ones back, so nothing is lost or
 *           repeated, and a control is heard within a frame instead of after the lookahead.
 * ```
 * The lane has no timers and no thread of its own: the worker (or a test) gives it a
 * {@link LanePacer} and a clock. Units are kept unrendered (PCM before gain, or the file's own
 * Opus packet), so a volume change re-renders what was taken back.
 * @packageDocumentation
 */
import { OpusDecoder } from '../../codec/opus-decoder.js';
import { OpusEncoder, type OpusFrameDuration } from '../../codec/opus-encoder.js';
import { isGatewaySafe } from '../../codec/opus-packet.js';
import { applyGain, applyRamp, monoToStereo, stereoToMono } from '../../codec/pcm.js';
import { silencePacket } from '../../codec/silence.js';
import { AbortError, ArgonVoiceError, InvalidInputError } from '../../errors.js';
import type { createAudioSource } from '../sources/create-source.js';
import type { AudioSource } from '../sources/types.js';
import type { LaneOptions, LaneStats, LaneTrackSpec, MediaReply, WireError } from './protocol.js';

/** The pacer stream as a lane sees it (worker: a port plus shared counters; tests: a fake). */
export interface LanePacer {
  /** Bound of the pacer queue. */
  readonly capacity: number;
  /** Frames the pacer has consumed (sent, skipped or cleared), ever. */
  consumed(): number;
  /** Frames posted and not yet consumed. */
  inFlight(): number;
  /** Posts one frame (the lane never posts more than `capacity` in flight). */
  post(frame: Uint8Array): void;
  /** Clears the pacer queue: resolves with how many frames were dropped and the consumed count after. */
  clear(): Promise<{ n: number; consumed: number }>;
  /** Marks intended silence from here (see `PacerStream.quiet`). */
  quiet(): void;
  /** Resolves when `consumed()` moves past `seen`, or after `ms` (a deadline: never waits longer). */
  waitConsumed(seen: number, ms: number): Promise<void>;
}

/** What a lane needs from its thread. */
export interface LaneDeps {
  pacer: LanePacer;
  /** Source factory (the worker passes `createAudioSource`). */
  createSource: typeof createAudioSource;
  /** Events to the main thread. */
  emit: (reply: MediaReply) => void;
}

type Unit = { kind: 'opus'; data: Uint8Array } | { kind: 'pcm'; data: Int16Array };

interface LaneTrack {
  spec: LaneTrackSpec;
  abort: AbortController;
  source: AudioSource | undefined;
  it: AsyncIterator<Uint8Array | Int16Array> | undefined;
  /** Opening or reading right now. */
  busy: boolean;
  /** Bumped by a seek: a read that started before it is thrown away. */
  gen: number;
  units: Unit[];
  sourceDone: boolean;
  format: 'opus' | 'pcm' | undefined;
  fed: number;
  played: number;
  /** Position of frame 0 of this reading (the seek point). */
  offsetMs: number;
  started: boolean;
  lastPositionFrame: number;
}

const POSITION_EVERY_FRAMES = 25;
/** Frames read ahead before a track's first frame goes to the pacer (and after the lookahead ran dry). */
const START_FRAMES = 2;

/**
 * The worker-side media plane of one player. Controls are synchronous to call; what they change
 * at the pacer happens on the lane's own loops.
 */
export class MediaLane {
  readonly id: number;
  readonly #o: LaneOptions;
  readonly #d: LaneDeps;
  readonly #silence: Uint8Array;
  #tracks: LaneTrack[] = [];
  #inPacer: Array<{ track: LaneTrack; unit: Unit; mixed?: Unit | undefined }> = [];
  #acked = 0;
  #buffered = 0;
  #paused = false;
  #flushing: Promise<void> | undefined;
  #closed = false;
  #quiet = true;
  #starved = false;
  #idleSent = true;
  #volume: number;
  #encoder: OpusEncoder | undefined;
  #decoder: OpusDecoder | undefined;
  #wakeFill: (() => void) | undefined;
  #wakeFeed: (() => void) | undefined;
  #stats: LaneStats = { lookahead: 0, framesFed: 0, invalidFrames: 0, lookaheadStarved: 0 };
  readonly #loops: Promise<void>;

  /** Starts the lane's fill and feed loops; it is idle until {@link play}. */
  constructor(id: number, options: LaneOptions, deps: LaneDeps) {
    this.id = id;
    this.#o = options;
    this.#d = deps;
    this.#volume = options.volume;
    this.#silence = silencePacket(options.channels, options.frameDurationMs);
    this.#loops = Promise.all([this.#fillLoop(), this.#feedLoop()]).then(() => undefined);
  }

  /** Counters. */
  get stats(): LaneStats {
    return { ...this.#stats, lookahead: this.#buffered };
  }

  /** Tracks held (playing, prefetched or waiting). */
  get tracks(): number {
    return this.#tracks.length;
  }

  /** Queues a track after the ones held. */
  play(spec: LaneTrackSpec): void {
    if (this.#closed) return;
    this.#tracks.push({
      spec,
      abort: new AbortController(),
      source: undefined,
      it: undefined,
      busy: false,
      gen: 0,
      units: [],
      sourceDone: false,
      format: undefined,
      fed: 0,
      played: 0,
      offsetMs: spec.seekMs ?? 0,
      started: false,
      lastPositionFrame: 0,
    });
    this.#idleSent = false;
    this.#kick();
  }

  /** Stops feeding and takes back what the pacer had not sent; the lookahead stays. */
  pause(): void {
    if (this.#closed || this.#paused) return;
    this.#paused = true;
    void this.#flush();
  }

  /** Feeds again after {@link pause}. */
  resume(): void {
    if (this.#closed || !this.#paused) return;
    this.#paused = false;
    this.#kick();
  }

  /** Ends the current track now (`stopped`); the next one (already prefetched) follows. */
  skip(): void {
    const cur = this.#tracks[0];
    if (this.#closed || !cur) return;
    void this.#flush(() => this.#drop(cur, 'stopped'));
  }

  /** Ends every track now. */
  stop(): void {
    if (this.#closed) return;
    void this.#flush(() => {
      for (const t of this.#tracks.slice()) this.#drop(t, 'stopped');
    });
  }

  /** Restarts the current track's input at `ms`. */
  seek(ms: number): void {
    const cur = this.#tracks[0];
    if (this.#closed || !cur) return;
    void this.#flush(() => {
      cur.gen++;
      this.#buffered -= cur.units.length;
      cur.units = [];
      const src = cur.source;
      cur.source = undefined;
      cur.it = undefined;
      cur.sourceDone = false;
      cur.offsetMs = ms;
      cur.spec = { ...cur.spec, seekMs: ms };
      cur.played = 0;
      cur.fed = 0;
      cur.lastPositionFrame = 0;
      if (src) void src.close().catch(() => undefined);
    });
  }

  /** New gain, heard from the next frame on: what the pacer held is taken back and rendered again. */
  setVolume(volume: number): void {
    if (this.#closed || !(volume >= 0) || !Number.isFinite(volume)) return;
    this.#volume = volume;
    if (this.#inPacer.length > 0) void this.#flush();
  }

  /** Ends every track, closes sources and codecs. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return this.#loops;
    for (const t of this.#tracks.slice()) this.#drop(t, 'stopped');
    this.#closed = true;
    this.#kick();
    await this.#loops.catch(() => undefined);
    this.#encoder?.close();
    this.#decoder?.close();
    this.#encoder = undefined;
    this.#decoder = undefined;
  }

  // ── loops ──

  #kick(): void {
    const f = this.#wakeFill;
    const g = this.#wakeFeed;
    this.#wakeFill = undefined;
    this.#wakeFeed = undefined;
    f?.();
    g?.();
  }

  #sleepFill(): Promise<void> {
    return new Promise((r) => {
      this.#wakeFill = r;
    });
  }

  /** Reads sources into the lookahead, track after track, up to `lookaheadFrames` units. */
  async #fillLoop(): Promise<void> {
    while (!this.#closed) {
      const t = this.#tracks.find((x) => !x.sourceDone);
      if (!t || this.#buffered >= this.#o.lookaheadFrames || t.busy) {
        await this.#sleepFill();
        continue;
      }
      const gen = t.gen;
      t.busy = true;
      try {
        if (!t.source) await this.#open(t, gen);
        if (t.gen !== gen || !t.it) continue;
        const r = await t.it.next();
        if (t.gen !== gen || t.abort.signal.aborted) continue;
        if (r.done) {
          t.sourceDone = true;
          const src = t.source;
          if (src) void src.close().catch(() => undefined);
        } else {
          t.units.push(this.#unit(r.value, t));
          this.#buffered++;
        }
      } catch (err) {
        if (t.gen === gen && !t.abort.signal.aborted && !this.#closed) this.#fail(t, err);
      } finally {
        t.busy = false;
      }
      const g = this.#wakeFeed;
      this.#wakeFeed = undefined;
      g?.();
    }
  }

  async #open(t: LaneTrack, gen: number): Promise<void> {
    const o = this.#o;
    const wantPcm = this.#volume !== 1 || o.crossfadeFrames > 0;
    const normalize = t.spec.normalize ?? o.normalize;
    const src = await this.#d.createSource(t.spec.input, {
      format: wantPcm ? 'pcm' : 'opus',
      frameDurationMs: o.frameDurationMs,
      channels: o.channels,
      ...(normalize ? { normalize } : {}),
      ...(t.spec.seekMs ? { seekMs: t.spec.seekMs } : {}),
      ...(o.bitrate ? { bitrate: o.bitrate } : {}),
      signal: t.abort.signal,
    });
    // Skipped, stopped or sought while it opened: this source reads the wrong thing (or nothing).
    if (t.abort.signal.aborted || this.#closed || t.gen !== gen) {
      await src.close().catch(() => undefined);
      return;
    }
    if (src.info.frameDurationMs !== o.frameDurationMs) {
      await src.close().catch(() => undefined);
      throw new InvalidInputError(
        `track '${t.spec.title}' has ${src.info.frameDurationMs} ms frames but the session uses ${o.frameDurationMs} ms`,
      );
    }
    t.source = src;
    t.format = src.info.format;
    t.it = src[Symbol.asyncIterator]();
  }

  #unit(v: Uint8Array | Int16Array, t: LaneTrack): Unit {
    if (t.format === 'opus') return { kind: 'opus', data: v as Uint8Array };
    let pcm = v as Int16Array;
    const ch = t.source?.info.channels ?? this.#o.channels;
    if (ch !== this.#o.channels) pcm = ch === 1 ? monoToStereo(pcm) : stereoToMono(pcm);
    return { kind: 'pcm', data: pcm };
  }

  /** Feeds rendered frames into the pacer while it has room; accounts what it consumed. */
  async #feedLoop(): Promise<void> {
    while (!this.#closed) {
      if (this.#flushing) {
        await this.#flushing;
        continue;
      }
      this.#account();
      if (this.#paused) {
        await new Promise<void>((r) => {
          this.#wakeFeed = r;
        });
        continue;
      }
      const room = this.#d.pacer.capacity - this.#d.pacer.inFlight();
      const pick = room > 0 ? this.#pick() : undefined;
      // The lookahead ran dry mid-track: the source is slower than real time (counted once a run).
      if (pick === 'wait-source' && this.#inPacer.length === 0 && !this.#starved) {
        this.#starved = true;
        this.#stats.lookaheadStarved++;
      }
      if (room > 0 && typeof pick === 'object') {
        this.#starved = false;
        this.#post(pick);
        continue;
      }
      if (this.#inPacer.length > 0 || room <= 0) {
        // Wait for the pacer to take a frame (deadline: two frames, then account again).
        const seen = this.#d.pacer.consumed();
        const fed = new Promise<void>((r) => {
          this.#wakeFeed = r;
        });
        await Promise.race([this.#d.pacer.waitConsumed(seen, this.#o.frameDurationMs * 2), fed]);
        this.#wakeFeed = undefined;
        continue;
      }
      this.#settle();
      await new Promise<void>((r) => {
        this.#wakeFeed = r;
      });
    }
  }

  /**
   * The next unit to feed: the head track's next unit, holding back the last `crossfadeFrames`
   * PCM units of a track until it is known whether a PCM track follows to fade into.
   */
  #pick(): { track: LaneTrack; unit: Unit; mixed?: Unit | undefined } | 'wait-source' | undefined {
    const t = this.#tracks[0];
    if (!t) return undefined;
    const fade = this.#o.crossfadeFrames;
    if (fade > 0 && t.format === 'pcm') {
      if (!t.sourceDone) {
        if (t.units.length <= fade) return 'wait-source';
        return this.#take(t);
      }
      const next = this.#tracks[1];
      if (t.units.length > fade) return this.#take(t);
      // The tail waits for the next track to open: PCM fades into it, anything else follows plainly.
      if (
        t.units.length > 0 &&
        next &&
        !next.sourceDone &&
        (!next.format || (next.format === 'pcm' && next.units.length === 0))
      )
        return 'wait-source';
      if (t.units.length > 0 && next && next.format === 'pcm' && next.units.length > 0) {
        // Frame k of the fade: t's tail ramps down while next's head ramps up.
        const k = fade - t.units.length;
        const a = t.units.shift()!;
        const b = next.units.shift()!;
        this.#buffered -= 2;
        const ch = this.#o.channels;
        const x = (a.data as Int16Array).slice();
        const y = (b.data as Int16Array).slice();
        applyRamp(x, ch, 1 - k / fade, 1 - (k + 1) / fade, 'equal-power');
        applyRamp(y, ch, k / fade, (k + 1) / fade, 'equal-power');
        for (let i = 0; i < y.length; i++) y[i] = Math.max(-32768, Math.min(32767, (x[i] ?? 0) + y[i]!));
        next.fed++;
        return { track: t, unit: { kind: 'pcm', data: y }, mixed: b };
      }
    }
    // Starting (or restarting after the source fell behind): wait for a few frames first, so a
    // source that is slow to get going does not stutter frame by frame.
    if (this.#inPacer.length === 0 && !t.sourceDone && t.units.length < Math.min(START_FRAMES, this.#o.lookaheadFrames))
      return 'wait-source';
    if (t.units.length > 0) return this.#take(t);
    return t.sourceDone ? undefined : 'wait-source';
  }

  #take(t: LaneTrack): { track: LaneTrack; unit: Unit } {
    this.#buffered--;
    return { track: t, unit: t.units.shift()! };
  }

  #post(p: { track: LaneTrack; unit: Unit; mixed?: Unit | undefined }): void {
    const frame = this.#render(p.unit);
    this.#d.pacer.post(frame);
    this.#inPacer.push(p);
    this.#stats.framesFed++;
    this.#quiet = false;
    p.track.fed++;
    if (!p.track.started) {
      p.track.started = true;
      this.#d.emit({ t: 'started', lane: this.id, track: p.track.spec.id });
    }
    const f = this.#wakeFill;
    this.#wakeFill = undefined;
    f?.();
  }

  /** Gain, encode and the gateway check (an invalid packet kills the session silently: never sent). */
  #render(unit: Unit): Uint8Array {
    let frame: Uint8Array;
    if (unit.kind === 'opus' && this.#volume === 1) {
      frame = unit.data;
    } else {
      let pcm: Int16Array;
      if (unit.kind === 'opus') {
        this.#decoder ??= new OpusDecoder({ channels: this.#o.channels });
        try {
          pcm = this.#decoder.decode(unit.data);
        } catch {
          pcm = new Int16Array((this.#o.frameDurationMs * 48 * this.#o.channels) | 0);
        }
      } else {
        pcm = this.#volume === 1 ? unit.data : unit.data.slice();
      }
      if (this.#volume !== 1) applyGain(pcm, this.#volume);
      this.#encoder ??= new OpusEncoder({
        channels: this.#o.channels,
        frameDurationMs: this.#o.frameDurationMs as OpusFrameDuration,
        ...(this.#o.bitrate ? { bitrate: this.#o.bitrate } : {}),
      });
      try {
        frame = this.#encoder.encode(pcm);
      } catch (err) {
        this.#invalid(new Uint8Array(0), err);
        return this.#silence;
      }
    }
    if (!isGatewaySafe(frame, this.#o.frameDurationMs)) {
      this.#invalid(frame, new InvalidInputError('the packet breaks a gateway rule'));
      return this.#silence;
    }
    return frame;
  }

  #invalid(frame: Uint8Array, err: unknown): void {
    this.#stats.invalidFrames++;
    const copy = frame.slice(0, 4096);
    this.#d.emit({ t: 'invalid', lane: this.id, frame: copy, message: String((err as Error)?.message ?? err) });
  }

  /** Moves what the pacer consumed since the last look from `inPacer` to the tracks' played counts. */
  #account(upTo?: number): void {
    if (this.#inPacer.length === 0) {
      this.#acked = upTo ?? this.#d.pacer.consumed();
      return;
    }
    const c = upTo ?? this.#d.pacer.consumed();
    let n = Math.min(c - this.#acked, this.#inPacer.length);
    this.#acked = c;
    while (n-- > 0) {
      const e = this.#inPacer.shift()!;
      e.track.played++;
      if (e.track.played - e.track.lastPositionFrame >= POSITION_EVERY_FRAMES) {
        e.track.lastPositionFrame = e.track.played;
        this.#d.emit({ t: 'position', lane: this.id, track: e.track.spec.id, ms: this.#positionMs(e.track) });
      }
    }
    this.#settle();
  }

  #positionMs(t: LaneTrack): number {
    return t.offsetMs + t.played * this.#o.frameDurationMs;
  }

  /** Ends tracks whose every frame left the pacer; reports idle once nothing is held. */
  #settle(): void {
    for (;;) {
      const t = this.#tracks[0];
      if (!t?.sourceDone || t.units.length > 0 || this.#inPacer.some((e) => e.track === t)) break;
      this.#tracks.shift();
      this.#d.emit({ t: 'ended', lane: this.id, track: t.spec.id, frames: t.fed, status: 'finished' });
    }
    if (this.#tracks.length === 0 && this.#inPacer.length === 0 && !this.#idleSent) {
      this.#idleSent = true;
      this.#d.emit({ t: 'idle', lane: this.id, stats: this.stats });
    }
    if (!this.#quiet && this.#tracks.length === 0) {
      // Nothing more to send: the silence after the last posted frame is intended.
      this.#quiet = true;
      this.#d.pacer.quiet();
    }
  }

  /** Clears the pacer queue, takes back the unsent units, then runs `then` (with the feed stopped). */
  #flush(then?: () => void): Promise<void> {
    const prev = this.#flushing ?? Promise.resolve();
    const run = prev.then(async () => {
      const r = await this.#d.pacer.clear();
      // Frames up to `consumed − n` left (sent or skipped); the last n of what was posted did not.
      this.#account(r.consumed - r.n);
      const back = this.#inPacer.splice(0);
      this.#acked = r.consumed;
      for (let i = back.length - 1; i >= 0; i--) {
        const e = back[i]!;
        if (e.mixed) {
          // A crossfade frame: give back the next track's half; the old track's tail is spent.
          const next = this.#tracks[this.#tracks.indexOf(e.track) + 1];
          if (next) {
            next.units.unshift(e.mixed);
            next.fed--;
            this.#buffered++;
          }
          e.track.fed--;
          continue;
        }
        e.track.units.unshift(e.unit);
        e.track.fed--;
        this.#buffered++;
      }
      this.#quiet = true;
      then?.();
    });
    const done = run.catch(() => undefined);
    this.#flushing = done;
    void done.then(() => {
      if (this.#flushing === done) this.#flushing = undefined;
      this.#settle();
      this.#kick();
    });
    return done;
  }

  /** Removes `t` now (skip, stop, close): closes its source, reports it ended. */
  #drop(t: LaneTrack, status: 'stopped'): void {
    const i = this.#tracks.indexOf(t);
    if (i < 0) return;
    this.#tracks.splice(i, 1);
    this.#buffered -= t.units.length;
    t.units = [];
    this.#inPacer = this.#inPacer.filter((e) => e.track !== t);
    t.abort.abort(new AbortError(status));
    const src = t.source;
    t.source = undefined;
    if (src) void src.close().catch(() => undefined);
    this.#d.emit({ t: 'ended', lane: this.id, track: t.spec.id, frames: t.fed, status });
  }

  /** A track's source failed: report it and go on with the next track. */
  #fail(t: LaneTrack, err: unknown): void {
    const i = this.#tracks.indexOf(t);
    if (i < 0) return;
    this.#tracks.splice(i, 1);
    this.#buffered -= t.units.length;
    t.units = [];
    t.abort.abort(err);
    const src = t.source;
    t.source = undefined;
    if (src) void src.close().catch(() => undefined);
    this.#d.emit({ t: 'error', lane: this.id, track: t.spec.id, frames: t.fed, error: toWireError(err) });
    this.#kick();
  }
}

/** Serialises an error for postMessage (the class is rebuilt on the main thread from `code`). */
export function toWireError(err: unknown): WireError {
  const e = err instanceof Error ? err : new Error(String(err));
  return { name: e.name, code: err instanceof ArgonVoiceError ? err.code : undefined, message: e.message };
}
