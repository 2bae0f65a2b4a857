/**
 * `Recorder`: one Ogg Opus file per user, written without re-encoding, all on one session clock,
 * plus an optional decoded mix (WAV, or re-encoded Ogg Opus) of the whole session.
 *
 * ```
 *  session start ─────────────────────────────────────────────────────────────► stop
 *  alice.ogg  [silence···][pkt pkt pkt][sil][pkt pkt]·DTX·(silence)·[pkt]···[sil]   every track has
 *  bob.ogg    [silence·········(absent)·········][pkt pkt pkt* pkt pkt]···[sil]       the same length
 *                  ▲ a packet goes at its place on the sender's timeline (media position + the
 *                    jitter buffer's reference, read 260 ms after playout); the gap before it is
 *                    filled; * = a lost frame, filled by repeating the packet before it.
 * ```
 * - Packets are copied unchanged; DTX (≤ 2 bytes) is not written but its time is (docs/platform.md §A5.2).
 * - Silence, DTX, absence and long losses become valid silence packets (2.5–20 ms, to align
 *   exactly); a loss of up to 60 ms inside speech repeats the last packet (a silence frame there
 *   makes decoders ramp up again). Granule positions are exact sums of what was written (RFC 7845
 *   §4); each track starts with a 2.5 ms silence packet its 120-sample pre-skip removes.
 *   The mix, decoded from the same timeline, gets PLC (or in-band FEC) audio for lost frames.
 * - Crash-safe: completed pages are written as they form and the muxer is flushed at least every
 *   `flushIntervalMs` (1 s); after kill -9 each file is valid up to its last flushed page.
 * - A write error (disk full ...) fails only that file: it is reported as an {@link IoError}
 *   (`error` event and the track's `error`) and every other file keeps going.
 * @packageDocumentation
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { OggOpusMuxer } from '../codec/ogg-mux.js';
import { OpusDecoder } from '../codec/opus-decoder.js';
import { OpusEncoder } from '../codec/opus-encoder.js';
import { mixInto } from '../codec/pcm.js';
import { silencePacket } from '../codec/silence.js';
import { InvalidInputError, IoError } from '../errors.js';
import { TypedEmitter } from '../util/emitter.js';
import type { ReceivedOpusFrame, UserAudioStream, VoiceReceiver } from './receiver.js';

/** Options of {@link Recorder}. */
export interface RecorderOptions {
  /** The receiver whose tick is the session clock (and which subscribes the users). */
  receiver: VoiceReceiver;
  /** Users to record. */
  users: readonly string[];
  /** Output directory (must exist). */
  outDir: string;
  /** Channels declared in each user's Ogg (OpusHead). Default 1. */
  channels?: 1 | 2;
  /** File name of a user's track (relative to `outDir`, or absolute). Default `<userId>.ogg`. */
  fileName?: (userId: string) => string;
  /**
   * Decoded mix of the whole session: WAV (48 kHz s16, default) or Ogg Opus (re-encoded, 20 ms
   * frames). File name default `mix.wav` / `mix.ogg`. Default none.
   */
  mix?: { channels: 1 | 2; format?: 'wav' | 'ogg'; fileName?: string; bitrate?: number } | undefined;
  /** Longest time between flushes of buffered pages (ms). Default 1000. */
  flushIntervalMs?: number;
  /**
   * How each user's stream is obtained (opus mode). Default
   * `receiver.subscribe(userId, { mode: 'opus', jitter: RECORDING_JITTER })`.
   */
  subscribe?: (userId: string) => UserAudioStream;
  /** fsync after each flush (slower, survives power loss, not only kill -9). Default false. */
  fsync?: boolean;
}

/** What was recorded for one user. */
export interface RecordedTrack {
  userId: string;
  path: string;
  /** Samples (48 kHz, per channel) written, excluding pre-skip. */
  samples: number;
  /** Received packets written unchanged. */
  packets: number;
  /** Silence packets written to fill silence, DTX, loss and absence. */
  fillPackets: number;
  /** The write error that stopped this file, if any. */
  error?: IoError;
}

/** Summary returned by {@link Recorder.stop}. */
export interface RecordingSummary {
  /** Session length on the receiver's clock (ms). */
  durationMs: number;
  tracks: RecordedTrack[];
  /** Path of the mix, when one was requested. */
  mixPath?: string;
  /** The mix's write error, if any. */
  mixError?: IoError;
}

/** Events of {@link Recorder}. */
export type RecorderEvents = {
  /** A file failed (the rest of the session keeps going). */
  error: [error: IoError, userId: string | undefined];
  /** Pages were flushed to every file. */
  flush: [atMs: number];
};

/** A sink that writes synchronously to a file and turns failures into IoError once. */
class FileSink {
  readonly path: string;
  #fd: number | undefined;
  error: IoError | undefined;
  bytes = 0;
  constructor(path: string) {
    this.path = path;
    try {
      this.#fd = openSync(path, 'w');
    } catch (err) {
      this.error = new IoError(`cannot create ${path}: ${(err as Error).message}`, { cause: err, path });
    }
  }
  write(bytes: Uint8Array, position?: number): boolean {
    if (this.error || this.#fd === undefined || bytes.length === 0) return !this.error;
    try {
      let off = 0;
      while (off < bytes.length) {
        off += writeSync(this.#fd, bytes, off, bytes.length - off, position === undefined ? null : position + off);
      }
      if (position === undefined) this.bytes += bytes.length;
      return true;
    } catch (err) {
      this.error = new IoError(`writing ${this.path} failed: ${(err as Error).message}`, {
        cause: err,
        path: this.path,
      });
      return false;
    }
  }
  sync(): void {
    if (this.#fd !== undefined && !this.error) {
      try {
        fsyncSync(this.#fd);
      } catch (err) {
        this.error = new IoError(`fsync ${this.path} failed: ${(err as Error).message}`, {
          cause: err,
          path: this.path,
        });
      }
    }
  }
  close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch (err) {
      this.error ??= new IoError(`closing ${this.path} failed: ${(err as Error).message}`, {
        cause: err,
        path: this.path,
      });
    }
    this.#fd = undefined;
  }
}

interface OggMixState {
  enc: OpusEncoder;
  mux: OggOpusMuxer;
  pending: Int16Array[];
  pendingSamples: number;
  pcmSamples: number;
}

interface TrackState {
  info: RecordedTrack;
  stream: UserAudioStream;
  sink: FileSink;
  mux: OggOpusMuxer;
  reported: boolean;
  decoder: OpusDecoder | undefined;
  pcm: Int16Array[];
  pcmSamples: number;
  onOutput: (slot: ReceivedOpusFrame) => void;
  /** The last thing written was a received packet (a gap after it may be a loss). */
  lastWasSpeech: boolean;
  /** Played packets waiting {@link PLACE_HOLD_MS} before they are placed (see `#place`). */
  held: HeldPacket[];
  /** The last received packet written (repeated over a short loss). */
  lastPacket?: { packet: Uint8Array; samples: number };
}

interface HeldPacket {
  packet: Uint8Array;
  samples: number;
  /** Position on the sender's media timeline, and the timeline epoch it belongs to. */
  mediaMs: number;
  epoch: number;
  /** The jitter buffer's placement when it played the packet (the fallback). */
  timelineMs: number;
  arrivalMs: number;
  /** Receiver time when it was played. */
  playedMs: number;
}

/**
 * Jitter buffer settings for recording: never drop a received speech frame to cut delay, a large
 * cap (latency does not matter for a file, completeness does), and a delay floor of 100 ms.
 * The recorder places audio by each packet's place on the sender's timeline (`timelineMs`), so
 * neither the buffer's delay nor a late packet shifts the track.
 */
export const RECORDING_JITTER = {
  dropSpeechFrames: false,
  maxBufferedMs: 10_000,
  initialDelayMs: 100,
  minDelayMs: 100,
} as const;

/** Samples of the silence packet each track starts with, and its pre-skip (RFC 7845 §4.2). */
export const TRACK_LEAD_IN_SAMPLES = 120;
/** Slack behind a jitter buffer's delay before the tick pads a track (ms). */
const PAD_MARGIN_MS = 60;
/**
 * How long a played packet waits before it is placed on its track (ms). The jitter buffer tells a
 * late packet from a timeline that moved (a loss burst too long to infer) only ten packets later;
 * waiting that long places the audio after such a burst where it belongs instead of early.
 */
const PLACE_HOLD_MS = 260;
/**
 * A packet placed less than this past its track's end is written right after it (15 ms): the
 * reference moving with the path's jitter, not missing audio.
 */
const CONTIGUOUS_SLACK_SAMPLES = 720;
/** Longest loss inside speech filled by repeating the last packet in the file (60 ms). */
const REPEAT_MAX_SAMPLES = 60 * 48;
/** Longest gap between two speech packets treated as a loss (PLC in the mix, like the live concealment cap), not a pause. */
const LOSS_GAP_MAX_SAMPLES = 100 * 48;

const FILL_UNITS: ReadonlyArray<[number, number]> = [
  [960, 20],
  [480, 10],
  [240, 5],
  [120, 2.5],
];

/**
 * Records users' audio into aligned Ogg Opus files. Starts at construction; call
 * {@link Recorder.stop} to finish every file (EOS page, closed).
 */
export class Recorder extends TypedEmitter<RecorderEvents> {
  readonly #o: RecorderOptions;
  readonly #tracks = new Map<string, TrackState>();
  readonly #startMs: number;
  readonly #channels: 1 | 2;
  readonly #flushMs: number;
  #lastFlushMs: number;
  #stopping: Promise<RecordingSummary> | undefined;
  /** True while stop() plays out the jitter buffers (their output must still be written). */
  #draining = false;
  #mix:
    | {
        sink: FileSink;
        channels: 1 | 2;
        dataBytes: number;
        reported: boolean;
        ogg?: OggMixState;
      }
    | undefined;
  readonly #onTick: (now: number) => void;

  /**
   * @throws InvalidInputError without users or with duplicates.
   */
  constructor(options: RecorderOptions) {
    super();
    if (options.users.length === 0) throw new InvalidInputError('Recorder needs at least one user');
    if (new Set(options.users).size !== options.users.length)
      throw new InvalidInputError('Recorder: duplicate user ids');
    this.#o = options;
    this.#channels = options.channels ?? 1;
    this.#flushMs = options.flushIntervalMs ?? 1000;
    const receiver = options.receiver;
    this.#startMs = receiver.clock.now();
    this.#lastFlushMs = this.#startMs;
    if (options.mix) {
      const format = options.mix.format ?? 'wav';
      const name = options.mix.fileName ?? `mix.${format}`;
      const sink = new FileSink(isAbsolute(name) ? name : join(options.outDir, name));
      const ch = options.mix.channels;
      this.#mix = { sink, channels: ch, dataBytes: 0, reported: false };
      if (format === 'ogg') {
        const enc = new OpusEncoder({
          channels: ch,
          frameDurationMs: 20,
          bitrate: options.mix.bitrate ?? (ch === 2 ? 96_000 : 64_000),
        });
        const mux = new OggOpusMuxer({ channels: ch, comments: ['ARGON_MIX=1'] });
        this.#mix.ogg = { enc, mux, pending: [], pendingSamples: 0, pcmSamples: 0 };
        sink.write(mux.headers());
      } else {
        sink.write(wavHeader(ch, 0));
      }
    }
    const subscribe =
      options.subscribe ?? ((u: string) => receiver.subscribe(u, { mode: 'opus', jitter: RECORDING_JITTER }));
    for (const userId of options.users) {
      const name = options.fileName?.(userId) ?? `${safeName(userId)}.ogg`;
      const path = isAbsolute(name) ? name : join(options.outDir, name);
      const sink = new FileSink(path);
      // The packets come from a live stream, not from the start of an encoder, so no encoder
      // delay needs trimming. RFC 7845 §4.2 allows a pre-skip of 0, but opusinfo warns on anything
      // under 120: the file starts with one 2.5 ms silence packet that the pre-skip removes, so
      // the decoded length is still exactly the session's.
      const mux = new OggOpusMuxer({
        channels: this.#channels,
        preSkip: TRACK_LEAD_IN_SAMPLES,
        comments: [`ARGON_USER_ID=${userId}`],
      });
      sink.write(mux.headers());
      sink.write(mux.write(silencePacket(this.#channels, 2.5), TRACK_LEAD_IN_SAMPLES));
      const stream = subscribe(userId);
      const t: TrackState = {
        info: { userId, path, samples: 0, packets: 0, fillPackets: 0 },
        stream,
        sink,
        mux,
        reported: false,
        decoder: this.#mix ? new OpusDecoder({ channels: this.#mix.channels }) : undefined,
        pcm: [],
        pcmSamples: 0,
        onOutput: (slot) => this.#onSlot(t, slot),
        lastWasSpeech: false,
        held: [],
      };
      stream.on('output', t.onOutput);
      this.#tracks.set(userId, t);
      // A failure to create the file is reported on the first tick (listeners are attached by then).
    }
    this.#onTick = (now) => this.#tick(now);
    receiver.on('tick', this.#onTick);
  }

  /** Live per-user counters. */
  get tracks(): RecordedTrack[] {
    return [...this.#tracks.values()].map((t) => t.info);
  }

  /** Session start on the receiver's clock. */
  get startMs(): number {
    return this.#startMs;
  }

  #onSlot(t: TrackState, slot: ReceivedOpusFrame): void {
    if (this.#stopping && !this.#draining) return;
    // Concealment, silence and DTX are not written as they play: the time they stand for is filled
    // by padding up to the next packet's place (or by the tick), so a packet that comes after its
    // slot was concealed still lands at its own place instead of after the concealment.
    if (slot.kind !== 'packet' || slot.dtx) return;
    const jb = t.stream.jitter;
    t.held.push({
      packet: slot.packet,
      samples: slot.samples,
      mediaMs: slot.mediaMs,
      epoch: jb.timelineEpoch,
      timelineMs: slot.timelineMs,
      arrivalMs: slot.arrivalMs,
      playedMs: this.#o.receiver.clock.now(),
    });
  }

  /**
   * Writes the held packets played at or before `until` (all of them without it). Each goes at
   * its media position plus the jitter buffer's reference as it is now, which has seen the packets
   * after it; never after its arrival. After a sender restart the old media positions mean
   * nothing, so the placement from playout time is used.
   */
  #place(t: TrackState, until?: number): void {
    const jb = t.stream.jitter;
    const ref = jb.referenceMs;
    while (t.held.length && (until === undefined || t.held[0]!.playedMs <= until)) {
      const h = t.held.shift()!;
      const at =
        h.epoch === jb.timelineEpoch && ref !== undefined ? Math.min(h.arrivalMs, h.mediaMs + ref) : h.timelineMs;
      // A few ms past the end is the reference moving with the path's jitter, not missing audio:
      // keep speech contiguous (a few ms of silence inside it would be a dropout).
      const pos = this.#position(at);
      if (pos - t.info.samples >= CONTIGUOUS_SLACK_SAMPLES) this.#pad(t, pos, true, h.packet);
      this.#writePacket(t, h.packet, h.samples, false);
    }
  }

  /**
   * Sample position on the session timeline of a packet whose place on the sender's timeline is
   * `timelineMs` (the jitter buffer's estimate: when it would have arrived over the fastest recent
   * path). Egress has no timestamps (docs/platform.md §A5.1); this anchor does not move with network
   * jitter or with the jitter buffer's delay, so a late packet does not shift the rest of its talk
   * spurt. It is never after the packet's arrival, hence never after stop(), so draining the
   * buffers at stop keeps every track within the session.
   */
  #position(timelineMs: number): number {
    return Math.round((timelineMs - this.#startMs) * 48);
  }

  /**
   * Fills `t` up to sample position `target` (whole frames, or exactly when `exact`). With `next`
   * (the packet about to be written) right after speech, a gap is a loss: up to
   * {@link REPEAT_MAX_SAMPLES} of it repeat the last received packet (decoders carry on where a
   * silence frame would make them ramp up again over ~100 ms; nothing is re-encoded), the rest is
   * silence; the mix gets PLC for it, and the last 20 ms from `next`'s in-band FEC.
   */
  #pad(t: TrackState, target: number, exact: boolean, next?: Uint8Array): void {
    let gap = target - t.info.samples;
    if (gap <= 0) return;
    const dec = t.decoder;
    const speechGap = next !== undefined && t.lastWasSpeech;
    const mixLoss = dec !== undefined && speechGap && gap <= LOSS_GAP_MAX_SAMPLES;
    const fill = (packet: Uint8Array, samples: number) => {
      gap -= samples;
      t.lastWasSpeech = false;
      const fec = gap === 0 && samples === 960 ? next : undefined;
      this.#writePacket(
        t,
        packet,
        samples,
        true,
        mixLoss ? () => (fec ? dec.decodeFec(fec, samples) : dec.conceal(samples)) : undefined,
      );
    };
    const last = t.lastPacket;
    if (speechGap && last && gap <= REPEAT_MAX_SAMPLES + last.samples / 2) {
      // Whole repeats only, rounded: a few ms of silence inside speech would still be a dropout.
      // The track then ends up to half a frame off the estimate, which the next placement absorbs.
      for (let n = Math.round(gap / last.samples); n > 0; n--) fill(last.packet, last.samples);
      return;
    }
    for (const [samples, ms] of FILL_UNITS) {
      if (!exact && samples < 960) break;
      while (gap >= samples) fill(silencePacket(this.#channels, ms), samples);
    }
  }

  #writePacket(t: TrackState, packet: Uint8Array, samples: number, fill: boolean, mixPcm?: () => Int16Array): void {
    t.info.samples += samples;
    if (!fill) {
      t.lastWasSpeech = true;
      t.lastPacket = { packet, samples };
    }
    if (fill) t.info.fillPackets++;
    else t.info.packets++;
    t.sink.write(t.mux.write(packet, samples));
    this.#check(t);
    if (t.decoder) {
      let pcm: Int16Array;
      try {
        pcm = mixPcm ? mixPcm() : t.decoder.decode(packet);
      } catch {
        pcm = new Int16Array(samples * t.decoder.channels);
      }
      t.pcm.push(pcm);
      t.pcmSamples += pcm.length / t.decoder.channels;
    }
  }

  #check(t: TrackState): void {
    if (t.sink.error && !t.reported) {
      t.reported = true;
      t.info.error = t.sink.error;
      this.emit('error', t.sink.error, t.info.userId);
    }
  }

  #tick(now: number): void {
    if (this.#stopping) return;
    for (const t of this.#tracks.values()) {
      // Pad only up to what the jitter buffer can no longer hand out: audio still waiting in it
      // (up to its delay behind "now") must find its place free.
      const m = t.stream.jitter.metrics;
      this.#place(t, now - PLACE_HOLD_MS);
      const horizonMs = Math.max(m.targetDelayMs, m.currentDelayMs) + PLACE_HOLD_MS + PAD_MARGIN_MS;
      this.#pad(t, Math.floor((now - horizonMs - this.#startMs) * 48), false);
      this.#check(t);
    }
    this.#mixDown(false);
    if (now - this.#lastFlushMs >= this.#flushMs) this.#flush(now);
  }

  #flush(now: number): void {
    this.#lastFlushMs = now;
    for (const t of this.#tracks.values()) {
      t.sink.write(t.mux.flush());
      if (this.#o.fsync) t.sink.sync();
      this.#check(t);
    }
    const mix = this.#mix;
    if (mix?.ogg) {
      mix.sink.write(mix.ogg.mux.flush());
      if (this.#o.fsync) mix.sink.sync();
      this.#checkMix();
    } else if (mix) {
      // Keep the RIFF sizes current so a killed process leaves a WAV with the right length.
      mix.sink.write(wavHeader(mix.channels, mix.dataBytes).subarray(0, 44), 0);
      if (this.#o.fsync) mix.sink.sync();
      this.#checkMix();
    }
    this.emit('flush', now);
  }

  #checkMix(): void {
    const mix = this.#mix;
    if (mix?.sink.error && !mix.reported) {
      mix.reported = true;
      this.emit('error', mix.sink.error, undefined);
    }
  }

  /** Mixes what every track has decoded so far (all of it when `all`). */
  #mixDown(all: boolean): void {
    const mix = this.#mix;
    if (!mix) return;
    const tracks = [...this.#tracks.values()];
    let n = Math.min(...tracks.map((t) => t.pcmSamples));
    if (all) n = Math.max(...tracks.map((t) => t.pcmSamples));
    if (!(n > 0)) {
      // Nothing new, but the Ogg mix still needs its last frame and the encoder's look-ahead.
      if (all && mix.ogg) this.#encodeMix(mix.ogg, new Int16Array(0), true);
      return;
    }
    const ch = mix.channels;
    const inputs = tracks.map((t) => take(t, n, ch));
    const out = new Int16Array(n * ch);
    mixInto(out, inputs);
    if (mix.ogg) this.#encodeMix(mix.ogg, out, all);
    else {
      const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      if (mix.sink.write(bytes)) mix.dataBytes += bytes.length;
    }
    this.#checkMix();
  }

  /** Re-encodes the mix in 20 ms frames; at the end, pads the last frame and trims it by granule. */
  #encodeMix(ogg: OggMixState, pcm: Int16Array, final: boolean): void {
    const mix = this.#mix!;
    const ch = mix.channels;
    ogg.pending.push(pcm);
    ogg.pendingSamples += pcm.length / ch;
    ogg.pcmSamples += pcm.length / ch;
    if (final) {
      // Feed the encoder's look-ahead (the pre-skip) plus the rest of the last frame as silence,
      // so the last granule (pre-skip + PCM length) trims exactly to the mix's length.
      const need = ogg.pendingSamples + ogg.mux.preSkip;
      const pad = Math.ceil(need / 960) * 960 - ogg.pendingSamples;
      ogg.pending.push(new Int16Array(pad * ch));
      ogg.pendingSamples += pad;
    }
    while (ogg.pendingSamples >= 960) {
      const frame = new Int16Array(960 * ch);
      let filled = 0;
      while (filled < frame.length) {
        const head = ogg.pending[0]!;
        const k = Math.min(head.length, frame.length - filled);
        frame.set(head.subarray(0, k), filled);
        filled += k;
        if (k === head.length) ogg.pending.shift();
        else ogg.pending[0] = head.subarray(k);
      }
      ogg.pendingSamples -= 960;
      mix.sink.write(ogg.mux.write(ogg.enc.encode(frame), 960));
    }
  }

  /**
   * Stops recording: closes the users' streams (unsubscribing), pads every track to the stop time,
   * writes the EOS pages and closes the files. Idempotent; never throws for a write error (see
   * each track's `error`).
   */
  stop(): Promise<RecordingSummary> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as {@link Recorder.stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(): Promise<RecordingSummary> {
    const receiver = this.#o.receiver;
    receiver.off('tick', this.#onTick);
    const now = receiver.clock.now();
    // Nothing the user asked to record is lost: what arrived but was still waiting in a jitter
    // buffer is played out now (virtual time) and written before the tracks are closed.
    this.#draining = true;
    for (const t of this.#tracks.values()) {
      t.stream.drain(now, receiver.tickMs);
      this.#place(t);
    }
    this.#draining = false;
    const stopAt = this.#position(now);
    // Every track ends at the same sample: the stop time, or later if a jitter buffer handed a
    // track packets past it (two in one tick) — tracks are never trimmed, so the others are padded.
    // Positions are whole 2.5 ms units (120 samples), the smallest Opus frame.
    let end = stopAt - (stopAt % 120);
    for (const t of this.#tracks.values()) end = Math.max(end, Math.ceil(t.info.samples / 120) * 120);
    for (const t of this.#tracks.values()) {
      t.stream.off('output', t.onOutput);
      this.#pad(t, end, true);
    }
    this.#mixDown(true);
    for (const t of this.#tracks.values()) {
      t.sink.write(t.mux.end());
      if (this.#o.fsync) t.sink.sync();
      t.sink.close();
      this.#check(t);
      t.decoder?.close();
    }
    const mix = this.#mix;
    if (mix?.ogg) {
      // The pre-skip covers the encoder's look-ahead; the last granule trims the padding.
      mix.sink.write(mix.ogg.mux.end({ pcmSamples: mix.ogg.pcmSamples }));
      mix.ogg.enc.close();
      mix.sink.close();
      this.#checkMix();
    } else if (mix) {
      mix.sink.write(wavHeader(mix.channels, mix.dataBytes).subarray(0, 44), 0);
      mix.sink.close();
      this.#checkMix();
    }
    // Unsubscribe last: the files are complete even if this is slow or fails.
    await Promise.all([...this.#tracks.values()].map((t) => t.stream.close().catch(() => undefined)));
    const summary: RecordingSummary = { durationMs: now - this.#startMs, tracks: this.tracks };
    if (mix) {
      summary.mixPath = mix.sink.path;
      if (mix.sink.error) summary.mixError = mix.sink.error;
    }
    return summary;
  }
}

function take(t: TrackState, n: number, ch: number): Int16Array {
  const out = new Int16Array(n * ch);
  let filled = 0;
  while (filled < out.length && t.pcm.length) {
    const head = t.pcm[0]!;
    const k = Math.min(head.length, out.length - filled);
    out.set(head.subarray(0, k), filled);
    filled += k;
    if (k === head.length) t.pcm.shift();
    else t.pcm[0] = head.subarray(k);
  }
  t.pcmSamples = Math.max(0, t.pcmSamples - n);
  return out;
}

/** A canonical 44-byte PCM WAV header for 48 kHz s16 with `dataBytes` of data. */
export function wavHeader(channels: 1 | 2, dataBytes: number): Uint8Array {
  const b = new Uint8Array(44);
  const v = new DataView(b.buffer);
  const ascii = (o: number, s: string) => {
    for (let i = 0; i < s.length; i++) b[o + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, channels, true);
  v.setUint32(24, 48_000, true);
  v.setUint32(28, 48_000 * channels * 2, true);
  v.setUint16(32, channels * 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  return b;
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
