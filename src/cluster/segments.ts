/**
 * Lining up the segments of a recording unit: one Ogg Opus file per user where each segment sits
 * at its `startedAtMs` offset from the first one, and the time between segments (the failover
 * silence) is filled with valid Opus silence packets. Packets are copied unchanged, never
 * re-encoded.
 *
 * ```
 *  t0 = segment 1 startedAtMs                     segment 2 startedAtMs
 *  │                                               │
 *  [lead-in][seg 1 packets ············][silence··][seg 2 packets ········]   joined.ogg
 *            ▲ each segment's own pre-skip          ▲ placed at round((start − t0) × 48 kHz) to
 *              packets are dropped; the joined        2.5 ms; a segment that starts before the
 *              file has one 2.5 ms lead-in that       previous one ended (clock skew between
 *              its pre-skip removes                   workers) loses its overlapping packets
 * ```
 * {@link OggSegmentJoiner} is the sans-IO core (bytes in, pages out); {@link joinSegments} runs it
 * over a recording's files. The manifest helpers read and write `segments.json`, which a
 * recording session writes into `outDir` at each segment start so the files can be joined
 * without NATS.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OggOpusDemuxer } from '../codec/ogg-demux.js';
import { OggOpusMuxer } from '../codec/ogg-mux.js';
import { silencePacket } from '../codec/silence.js';
import { ContainerError, InvalidInputError } from '../errors.js';
import { throwIfAborted } from '../util/abort.js';
import { ClusterError } from './errors.js';
import { checkRecordingState, type RecordingSegment, type RecordingState, type SpaceState } from './wire.js';
import { concatBytes as concat } from '../util/bytes.js';

/** Samples of the silence packet a joined file starts with, and its pre-skip (RFC 7845 §4.2). */
const LEAD_IN_SAMPLES = 120;
/** Placement unit: the shortest Opus frame (2.5 ms), so every position is reachable with silence packets. */
const UNIT_SAMPLES = 120;
/** Silence packets used for filling, longest first ([samples, ms]). */
const FILL: ReadonlyArray<[number, number]> = [
  [2880, 60],
  [960, 20],
  [480, 10],
  [240, 5],
  [120, 2.5],
];

/** Options of {@link OggSegmentJoiner}. */
export interface SegmentJoinerOptions {
  /** Channels of the joined file; every segment must have as many. Default 1 (what recorders write). */
  channels?: 1 | 2 | undefined;
  /** `KEY=value` comments of the joined file's OpusTags. */
  comments?: string[] | undefined;
  /** Ogg serial number of the joined stream (default random). */
  serial?: number | undefined;
}

/** Where one segment landed in a joined file. */
export interface JoinedSegment {
  /** Sample (48 kHz, after the joined file's pre-skip) at which the segment was placed. */
  startSample: number;
  /** Samples of the segment written. */
  samples: number;
  /** Samples of the segment dropped because they overlapped the segment before. */
  overlapSamples: number;
  /**
   * The segment's file ended inside a page or was damaged after its headers (its writer was
   * killed mid-write): what came before was joined.
   */
  truncated: boolean;
  /** The segment had no file for this user: its time (to `endedAtMs`, when known) is silence. */
  missing: boolean;
}

interface OpenSegment {
  startSample: number;
  demux: OggOpusDemuxer;
  /** Samples of the segment's own pre-skip still to drop. */
  preSkipLeft: number;
  preSkip: number;
  /** Position in the segment after its pre-skip (samples). */
  local: number;
  written: number;
  overlap: number;
  lastGranule: bigint | undefined;
  seenHead: boolean;
  /** The file was damaged after its headers: the rest of it is ignored. */
  broken: boolean;
}

/**
 * Joins segments into one Ogg Opus stream, sans-IO. For each segment call
 * {@link OggSegmentJoiner.beginSegment} with its start, feed its file's bytes to
 * {@link OggSegmentJoiner.write} (any chunking), then {@link OggSegmentJoiner.endSegment};
 * {@link OggSegmentJoiner.end} finishes the stream. Every method returns the page bytes it
 * completed, to be appended to the output in order.
 */
export class OggSegmentJoiner {
  readonly #channels: 1 | 2;
  readonly #mux: OggOpusMuxer;
  #started = false;
  #ended = false;
  #t0: number | undefined;
  #lastStartMs = Number.NEGATIVE_INFINITY;
  /** Samples written after the lead-in. */
  #pos = 0;
  /** Samples to trim from the end (the last segment's own end trim, RFC 7845 §4.5). */
  #trim = 0;
  #seg: OpenSegment | undefined;
  readonly #done: JoinedSegment[] = [];

  /** @throws InvalidInputError for a channel count other than 1 or 2. */
  constructor(options: SegmentJoinerOptions = {}) {
    const ch = options.channels ?? 1;
    if (ch !== 1 && ch !== 2) throw new InvalidInputError(`OggSegmentJoiner: channels must be 1 or 2, got ${ch}`);
    this.#channels = ch;
    this.#mux = new OggOpusMuxer({
      channels: ch,
      preSkip: LEAD_IN_SAMPLES,
      comments: options.comments ?? [],
      ...(options.serial !== undefined ? { serial: options.serial } : {}),
    });
  }

  /** Samples (48 kHz, after pre-skip) of the joined stream so far. */
  get samples(): number {
    return this.#pos - (this.#seg ? 0 : this.#trim);
  }

  /** Segments finished so far, in order. */
  get segments(): readonly JoinedSegment[] {
    return this.#done;
  }

  #head(): Uint8Array[] {
    if (this.#started) return [];
    this.#started = true;
    return [this.#mux.headers(), this.#mux.write(silencePacket(this.#channels, 2.5), LEAD_IN_SAMPLES)];
  }

  /** Sample position of wall time `ms` (rounded to 2.5 ms). */
  #at(ms: number): number {
    return Math.round(((ms - (this.#t0 ?? ms)) * 48) / UNIT_SAMPLES) * UNIT_SAMPLES;
  }

  /** Silence up to `target` (whole 2.5 ms units; nothing when already there or past it). */
  #pad(target: number, out: Uint8Array[]): void {
    let gap = Math.floor((target - this.#pos) / UNIT_SAMPLES) * UNIT_SAMPLES;
    for (const [samples, ms] of FILL) {
      while (gap >= samples) {
        out.push(this.#mux.write(silencePacket(this.#channels, ms), samples));
        this.#pos += samples;
        gap -= samples;
      }
    }
  }

  #check(startedAtMs: number): void {
    if (this.#ended) throw new InvalidInputError('OggSegmentJoiner: already ended');
    if (this.#seg) throw new InvalidInputError('OggSegmentJoiner: the previous segment was not ended');
    if (!Number.isFinite(startedAtMs)) throw new InvalidInputError('OggSegmentJoiner: startedAtMs must be finite');
    if (startedAtMs < this.#lastStartMs)
      throw new InvalidInputError('OggSegmentJoiner: segments must come in start order');
    this.#lastStartMs = startedAtMs;
    this.#t0 ??= startedAtMs;
  }

  /**
   * Starts a segment whose time zero is `startedAtMs` (wall clock ms): fills the time since the
   * previous segment's end with silence.
   * @throws InvalidInputError when segments come out of order or the previous one was not ended.
   */
  beginSegment(startedAtMs: number): Uint8Array {
    this.#check(startedAtMs);
    const out = this.#head();
    const start = this.#at(startedAtMs);
    this.#trim = 0;
    this.#pad(start, out);
    this.#seg = {
      startSample: start,
      demux: new OggOpusDemuxer(),
      preSkipLeft: 0,
      preSkip: 0,
      local: 0,
      written: 0,
      overlap: 0,
      lastGranule: undefined,
      seenHead: false,
      broken: false,
    };
    return concat(out);
  }

  /**
   * Feeds bytes of the current segment's Ogg Opus file.
   * @throws ContainerError on malformed Ogg; InvalidInputError without a segment, for a chained
   *   file or a channel count other than the joiner's.
   */
  write(chunk: Uint8Array): Uint8Array {
    const seg = this.#seg;
    if (!seg) throw new InvalidInputError('OggSegmentJoiner: write() outside a segment');
    const out: Uint8Array[] = [];
    if (seg.broken) return new Uint8Array(0);
    let events: ReturnType<OggOpusDemuxer['write']>;
    try {
      events = seg.demux.write(chunk);
    } catch (err) {
      // Damage after the headers (a writer killed mid-page, a torn copy): the segment is valid up
      // to there, like a file without its EOS page. A file that is not Ogg Opus at all still fails.
      if (!(err instanceof ContainerError) || !seg.seenHead) throw err;
      seg.broken = true;
      return new Uint8Array(0);
    }
    for (const ev of events) {
      if (ev.type === 'head') {
        if (seg.seenHead) throw new InvalidInputError('OggSegmentJoiner: a segment file holds a chained stream');
        if (ev.head.channels !== this.#channels)
          throw new InvalidInputError(
            `OggSegmentJoiner: a segment has ${ev.head.channels} channels, the joined file ${this.#channels}`,
          );
        seg.seenHead = true;
        seg.preSkip = seg.preSkipLeft = ev.head.preSkip;
      } else if (ev.type === 'packet') {
        if (ev.granule !== undefined) seg.lastGranule = ev.granule;
        this.#packet(seg, ev.packet, ev.samples, out);
      }
    }
    return concat(out);
  }

  #packet(seg: OpenSegment, packet: Uint8Array, samples: number, out: Uint8Array[]): void {
    if (samples <= 0) return; // unreadable TOC: nothing a decoder could place
    if (seg.preSkipLeft > 0) {
      // The segment's own pre-skip (its lead-in): whole packets within it are dropped; a packet
      // that straddles it is kept (off by less than one packet, never re-encoded).
      const drop = samples <= seg.preSkipLeft;
      seg.preSkipLeft = drop ? seg.preSkipLeft - samples : 0;
      if (drop) return;
    }
    const at = seg.startSample + seg.local;
    seg.local += samples;
    if (at < this.#pos) {
      seg.overlap += samples;
      return;
    }
    this.#pad(at, out);
    out.push(this.#mux.write(packet, samples));
    this.#pos += samples;
    seg.written += samples;
  }

  /**
   * Ends the current segment. A file that stops inside a page (its writer was killed) is valid up
   * to its last complete page, which is what was written.
   * @throws InvalidInputError without a segment.
   */
  endSegment(): JoinedSegment {
    const seg = this.#seg;
    if (!seg) throw new InvalidInputError('OggSegmentJoiner: endSegment() outside a segment');
    let truncated = seg.broken;
    if (!truncated) {
      try {
        seg.demux.end();
      } catch (err) {
        if (!(err instanceof ContainerError)) throw err;
        truncated = true;
      }
    }
    this.#seg = undefined;
    // An end trim (last granule below the packets' sum) only matters if nothing comes after.
    if (seg.lastGranule !== undefined && seg.written > 0) {
      const decoded = Number(seg.lastGranule) - seg.preSkip;
      this.#trim = Math.max(0, Math.min(seg.written, seg.local - decoded));
    }
    const done: JoinedSegment = {
      startSample: seg.startSample,
      samples: seg.written,
      overlapSamples: seg.overlap,
      truncated,
      missing: false,
    };
    this.#done.push(done);
    return done;
  }

  /**
   * A segment without a file for this user: silence from `startedAtMs` to `endedAtMs` (when
   * known; otherwise the next segment's start fills the gap).
   * @throws InvalidInputError out of order or inside a segment.
   */
  missingSegment(startedAtMs: number, endedAtMs: number | undefined): { bytes: Uint8Array; segment: JoinedSegment } {
    this.#check(startedAtMs);
    const out = this.#head();
    const start = this.#at(startedAtMs);
    this.#trim = 0;
    this.#pad(start, out);
    const before = this.#pos;
    if (endedAtMs !== undefined && endedAtMs > startedAtMs) this.#pad(this.#at(endedAtMs), out);
    const segment: JoinedSegment = {
      startSample: start,
      samples: this.#pos - before,
      overlapSamples: Math.max(0, before - start),
      truncated: false,
      missing: true,
    };
    this.#done.push(segment);
    return { bytes: concat(out), segment };
  }

  /**
   * Finishes the stream (EOS page; the last granule trims the last segment's own end trim).
   * Idempotent. @throws InvalidInputError inside a segment.
   */
  end(): Uint8Array {
    if (this.#seg) throw new InvalidInputError('OggSegmentJoiner: end() inside a segment');
    if (this.#ended) return new Uint8Array(0);
    const out = this.#head();
    this.#ended = true;
    out.push(this.#mux.end({ pcmSamples: this.#pos - this.#trim }));
    return concat(out);
  }
}

/** Options of {@link joinSegments}. */
export interface JoinSegmentsOptions {
  /** Directory the segment paths are relative to (default the recording's `outDir`). */
  baseDir?: string | undefined;
  /** Channels of the files (default 1, what recording sessions write). */
  channels?: 1 | 2 | undefined;
  signal?: AbortSignal | undefined;
}

/** What {@link joinSegments} wrote. */
export interface JoinSegmentsResult {
  path: string;
  userId: string;
  /** Samples (48 kHz, after pre-skip) of the joined file. */
  samples: number;
  durationMs: number;
  /** Per segment of the recording, in order: where it landed. */
  segments: Array<JoinedSegment & { index: number }>;
}

/**
 * Writes one Ogg Opus file for `userId` at `outPath` with every segment of the recording placed at
 * its `startedAtMs` offset from the first segment, and the gaps between segments filled with
 * silence packets. The joined file's duration is the last segment's start minus the first's plus
 * the last segment's duration (to 2.5 ms).
 * @param recording - a recording unit's state (or its `recording` field, or a `segments.json`
 *   manifest read with {@link readRecordingManifest}).
 * @throws InvalidInputError when `userId` is not recorded, there is no segment, or a file has other
 *   channels; ClusterError (`bad-message`) for a malformed state; ContainerError for a corrupt
 *   segment file; what the file system throws; AbortError.
 * @remarks Segments line up through the workers' wall clocks, so keep them synchronised (NTP);
 *   a skew shows as a longer or shorter gap, or as overlap dropped from the later segment.
 */
export async function joinSegments(
  recording: RecordingState | SpaceState,
  userId: string,
  outPath: string,
  options: JoinSegmentsOptions = {},
): Promise<JoinSegmentsResult> {
  const rec = 'segments' in recording ? checkRecordingState(recording) : recording.recording;
  if (!rec) throw new InvalidInputError(`${recording.spaceId} is not a recording unit`);
  if (!rec.users.includes(userId)) throw new InvalidInputError(`${userId} is not recorded in this recording`);
  if (rec.segments.length === 0) throw new InvalidInputError('the recording has no segment yet');
  const base = options.baseDir ?? rec.outDir;
  const joiner = new OggSegmentJoiner({
    channels: options.channels,
    comments: [`ARGON_USER_ID=${userId}`, `ARGON_SEGMENTS=${rec.segments.length}`],
  });
  await mkdir(dirname(outPath), { recursive: true });
  const tmp = `${outPath}.tmp-${randomBytes(4).toString('hex')}`;
  const out = await open(tmp, 'w');
  const segments: JoinSegmentsResult['segments'] = [];
  try {
    const buf = new Uint8Array(64 * 1024);
    for (const seg of rec.segments) {
      throwIfAborted(options.signal, 'joining segments');
      const rel = seg.files[userId];
      const file = rel === undefined ? undefined : await open(join(base, rel), 'r').catch(() => undefined);
      if (!file) {
        const m = joiner.missingSegment(seg.startedAtMs, seg.endedAtMs);
        await out.write(m.bytes);
        segments.push({ ...m.segment, index: seg.index });
        continue;
      }
      try {
        await out.write(joiner.beginSegment(seg.startedAtMs));
        for (;;) {
          const { bytesRead } = await file.read(buf, 0, buf.length, null);
          if (bytesRead === 0) break;
          const pages = joiner.write(buf.subarray(0, bytesRead));
          if (pages.length) await out.write(pages);
        }
        segments.push({ ...joiner.endSegment(), index: seg.index });
      } finally {
        await file.close();
      }
    }
    await out.write(joiner.end());
  } catch (err) {
    await out.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  await out.close();
  await rename(tmp, outPath);
  return { path: outPath, userId, samples: joiner.samples, durationMs: joiner.samples / 48, segments };
}

/** File name of the manifest a recording session writes into `outDir`. */
export const SEGMENTS_MANIFEST = 'segments.json';

/**
 * Writes `<outDir>/segments.json` (the recording's users and segments) atomically: a reader sees
 * the old or the new manifest, never a partial one.
 */
export async function writeRecordingManifest(unitId: string, recording: RecordingState): Promise<string> {
  const path = join(recording.outDir, SEGMENTS_MANIFEST);
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify({ v: 1, unitId, ...recording }, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}

/** File name of the record of one segment, in its own folder (`seg-<index>/segment.json`). */
export const SEGMENT_INFO = 'segment.json';

/**
 * Writes `<outDir>/seg-<index>/segment.json`: one segment alone, written only by the worker that
 * records it (at its start and when it ends), so it never races another holder's writes.
 */
export async function writeSegmentInfo(unitId: string, outDir: string, segment: RecordingSegment): Promise<string> {
  const dir = join(outDir, `seg-${segment.index}`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, SEGMENT_INFO);
  const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify({ v: 1, unitId, ...segment }, null, 2)}\n`);
  await rename(tmp, path);
  return path;
}

/**
 * Reads `<dir>/segments.json` and completes it with each `seg-<n>/segment.json`: a segment's
 * final `endedAtMs`, and a segment whose holder died before the next holder saw it (it is in no
 * later manifest, but its folder and files are there). The returned `outDir` is `dir` (where
 * the manifest was found), so a recording copied elsewhere joins from its new place.
 * @throws ClusterError (`bad-message`) for a malformed manifest; what the file system throws.
 *   Malformed or unreadable `segment.json` files are ignored.
 */
export async function readRecordingManifest(dir: string): Promise<RecordingState> {
  const text = await readFile(join(dir, SEGMENTS_MANIFEST), 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ClusterError('bad-message', `malformed ${SEGMENTS_MANIFEST} in ${dir}: not JSON`, { cause: err });
  }
  const rec = { ...checkRecordingState(value, SEGMENTS_MANIFEST), outDir: dir };
  const byIndex = new Map(rec.segments.map((g) => [g.index, g]));
  const folders = (await readdir(dir, { withFileTypes: true })).filter(
    (e) => e.isDirectory() && /^seg-[1-9][0-9]*$/.test(e.name),
  );
  for (const f of folders) {
    let seg: RecordingSegment | undefined;
    try {
      const one = JSON.parse(await readFile(join(dir, f.name, SEGMENT_INFO), 'utf8')) as unknown;
      seg = checkRecordingState({ ...rec, segments: [one] }, SEGMENT_INFO).segments[0];
    } catch {
      continue;
    }
    if (!seg || f.name !== `seg-${seg.index}`) continue;
    const known = byIndex.get(seg.index);
    if (!known) byIndex.set(seg.index, seg);
    else if (known.workerId === seg.workerId && known.startedAtMs === seg.startedAtMs && seg.endedAtMs !== undefined)
      byIndex.set(seg.index, { ...known, endedAtMs: Math.max(seg.endedAtMs, known.endedAtMs ?? 0) });
  }
  const segments = [...byIndex.values()].sort((x, y) => x.index - y.index);
  // Same checks as the state's (indexes and start times in order).
  return checkRecordingState({ ...rec, segments }, SEGMENTS_MANIFEST);
}
