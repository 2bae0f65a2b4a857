/**
 * Streaming, sans-IO WebM/Matroska demuxer for the Opus audio track, with its own small EBML
 * reader (RFC 8794 for EBML, RFC 9559 for Matroska).
 *
 * ```
 * element: | ID (1–4 byte VINT, marker kept) | size (1–8 byte VINT, all ones = unknown) | data |
 * EBML header ─ Segment ─┬─ Info (TimecodeScale)
 *                        ├─ Tracks ─ TrackEntry (TrackNumber, CodecID "A_OPUS", CodecPrivate = OpusHead)
 *                        └─ Cluster* (Timecode, SimpleBlock | BlockGroup ─ Block)
 * ```
 * Live writers (browsers' MediaRecorder, ffmpeg to a pipe) leave Segment and Cluster sizes
 * unknown; such an element ends where an element that cannot be its child begins (RFC 8794 §6.2).
 * Elements the demuxer does not need (Cues, video blocks, attachments) are skipped without being
 * buffered, so memory stays bounded by `maxElementBytes`.
 * @packageDocumentation
 */
import { ContainerError, InvalidInputError } from '../errors.js';
import { ByteQueue, type OpusDemuxEvent, type OpusHead, parseOpusHead } from './ogg-demux.js';
import { opusPacketSamples } from './opus-packet.js';

/** Events of {@link WebmOpusDemuxer}: the Ogg demuxer's shape, `serial` = track number. */
export type WebmDemuxEvent = OpusDemuxEvent;

/** Options of {@link WebmOpusDemuxer}. */
export interface WebmDemuxOptions {
  /** Largest element the demuxer buffers (blocks, CodecPrivate). Default 1 MiB. */
  maxElementBytes?: number;
}

// Element IDs (RFC 9559 §5.1), with their VINT marker bits as they appear on the wire.
const ID = {
  EBML: 0x1a45dfa3,
  DocType: 0x4282,
  Segment: 0x18538067,
  Info: 0x1549a966,
  TimecodeScale: 0x2ad7b1,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  TrackNumber: 0xd7,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  Audio: 0xe1,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timecode: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
} as const;

const MASTERS = new Set<number>([ID.Segment, ID.Info, ID.Tracks, ID.TrackEntry, ID.Audio, ID.Cluster, ID.BlockGroup]);
const LEAVES_READ = new Set<number>([
  ID.EBML,
  ID.TimecodeScale,
  ID.TrackNumber,
  ID.CodecID,
  ID.CodecPrivate,
  ID.CodecDelay,
  ID.Channels,
  ID.Timecode,
]);
// Children a Cluster may have (RFC 9559 §5.1.3); anything else ends an unknown-size Cluster.
const CLUSTER_CHILDREN = new Set<number>([0xe7, 0x5854, 0xa7, 0xab, 0xa3, 0xa0, 0xaf, 0xec, 0xbf]);

interface Open {
  id: number;
  /** Absolute end offset; Infinity for unknown size. */
  end: number;
  start: number;
}

interface TrackInfo {
  number: number;
  codecId: string;
  codecPrivate: Uint8Array | undefined;
  codecDelayNs: number;
  channels: number;
  start: number;
}

const textDecoder = new TextDecoder('utf-8');

function uint(b: Uint8Array, s: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 256 + (b[s + i] as number);
  return v;
}

/** Value of an `l`-byte VINT without its marker bit (which sits at bit 7·l of the integer). */
function vintValue(b: Uint8Array, s: number, l: number): number {
  return uint(b, s, l) - 2 ** (7 * l);
}

/** Length of a VINT from its first byte (RFC 8794 §4), 0 when more than 8. */
function vintLength(first: number): number {
  return first === 0 ? 0 : Math.clz32(first) - 23;
}

/**
 * Sans-IO WebM demuxer that extracts the first Opus (`A_OPUS`) track.
 *
 * @remarks Same error contract as {@link OggOpusDemuxer}: a {@link ContainerError} with the byte
 * offset, thrown after the events that preceded it in the same chunk were returned.
 */
export class WebmOpusDemuxer {
  private readonly q = new ByteQueue();
  private readonly maxElementBytes: number;
  private readonly stack: Open[] = [];
  private skip = 0;
  private failed: Error | undefined;
  private ended = false;
  private sawHeader = false;
  private track: TrackInfo | undefined;
  private opus: { number: number; head: OpusHead } | undefined;
  private codecsSeen: string[] = [];
  private timecodeScale = 1_000_000;
  private clusterTimecode = 0;

  constructor(options: WebmDemuxOptions = {}) {
    this.maxElementBytes = options.maxElementBytes ?? 1 << 20;
  }

  /**
   * Feeds the next bytes.
   *
   * @returns the events these bytes completed.
   * @throws {@link ContainerError} on malformed data.
   */
  write(chunk: Uint8Array): WebmDemuxEvent[] {
    this.checkUsable();
    const events: WebmDemuxEvent[] = [];
    try {
      this.q.push(chunk);
      this.pump(events);
      this.q.retain();
    } catch (err) {
      this.failed = err as Error;
      if (events.length > 0) return events;
      throw err;
    }
    return events;
  }

  /**
   * Signals the end of input; closes unknown-size elements (a live recording simply stops).
   *
   * @throws {@link ContainerError} when the input stops inside an element.
   */
  end(): WebmDemuxEvent[] {
    this.checkUsable();
    this.ended = true;
    const at = this.q.offset;
    const events: WebmDemuxEvent[] = [];
    try {
      if (this.skip > 0 || this.q.length > 0) {
        throw new ContainerError(
          'webm',
          at,
          `truncated: input ended inside an element (${this.skip || this.q.length} bytes pending)`,
        );
      }
      while (this.stack.length > 0) {
        const top = this.stack[this.stack.length - 1] as Open;
        if (top.end !== Infinity && top.end > at) {
          throw new ContainerError('webm', at, `truncated: element ${hexId(top.id)} needs ${top.end - at} more bytes`);
        }
        this.close(this.stack.pop() as Open, events);
      }
    } catch (err) {
      this.failed = err as Error;
      throw err;
    }
    return events;
  }

  private checkUsable(): void {
    if (this.failed) throw this.failed;
    if (this.ended) throw new InvalidInputError('WebmOpusDemuxer: write() or end() after end()');
  }

  private pump(events: WebmDemuxEvent[]): void {
    const q = this.q;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, q.length);
        q.consume(n);
        this.skip -= n;
        if (this.skip > 0) return;
      }
      const pos = q.offset;
      while (this.stack.length > 0 && (this.stack[this.stack.length - 1] as Open).end <= pos) {
        this.close(this.stack.pop() as Open, events);
      }
      if (q.length === 0) return;
      const b = q.buf;
      const s = q.start;
      const first = b[s] as number;
      const idLen = vintLength(first);
      // RFC 8794 §5: element IDs are 1–4 bytes, and 0xFF alone is reserved.
      if (idLen === 0 || idLen > 4 || first === 0xff)
        throw new ContainerError('webm', pos, `invalid element ID byte 0x${first.toString(16)}`);
      if (q.length < idLen + 1) return;
      const id = uint(b, s, idLen);
      if (!this.sawHeader) {
        if (id !== ID.EBML) throw new ContainerError('webm', pos, 'not an EBML stream (missing the EBML header)');
      }
      const sizeFirst = b[s + idLen] as number;
      const sizeLen = vintLength(sizeFirst);
      if (sizeLen === 0) throw new ContainerError('webm', pos, 'invalid element size (VINT longer than 8 bytes)');
      if (q.length < idLen + sizeLen) return;
      let size = sizeFirst & (0xff >> sizeLen);
      let allOnes = size === 0xff >> sizeLen;
      for (let i = 1; i < sizeLen; i++) {
        const v = b[s + idLen + i] as number;
        if (v !== 0xff) allOnes = false;
        size = size * 256 + v;
      }
      const unknown = allOnes;
      const headerLen = idLen + sizeLen;
      const dataStart = pos + headerLen;
      // RFC 8794 §6.2: an unknown-size element ends at the first element that is not its child.
      while (this.stack.length > 0) {
        const top = this.stack[this.stack.length - 1] as Open;
        if (top.end !== Infinity || isChild(top.id, id)) break;
        this.close(this.stack.pop() as Open, events);
      }
      const parent = this.stack[this.stack.length - 1];
      if (unknown) {
        if (id !== ID.Segment && id !== ID.Cluster)
          throw new ContainerError('webm', pos, `element ${hexId(id)} has an unknown size`);
      } else {
        if (!Number.isSafeInteger(size)) throw new ContainerError('webm', pos, 'element size too large');
        if (parent && dataStart + size > parent.end) {
          throw new ContainerError(
            'webm',
            pos,
            `element ${hexId(id)} of ${size} bytes overruns its parent ${hexId(parent.id)}`,
          );
        }
      }
      if (id === ID.EBML && this.stack.length > 0)
        throw new ContainerError('webm', pos, 'EBML header inside a segment');
      if (MASTERS.has(id)) {
        this.open(id, pos, unknown ? Infinity : dataStart + size);
        q.consume(headerLen);
        continue;
      }
      if (id === ID.SimpleBlock || id === ID.Block) {
        // Peek at the track number so blocks of other tracks (video) are skipped unbuffered.
        if (q.length < headerLen + 1) return;
        const tl = vintLength(b[s + headerLen] as number);
        if (tl === 0 || tl > size) throw new ContainerError('webm', pos, 'invalid block track number');
        if (q.length < headerLen + tl) return;
        const trackNo = vintValue(b, s + headerLen, tl);
        if (!this.opus || trackNo !== this.opus.number) {
          q.consume(headerLen);
          this.skip = size;
          continue;
        }
      } else if (!LEAVES_READ.has(id)) {
        q.consume(headerLen);
        this.skip = size;
        continue;
      }
      if (size > this.maxElementBytes) {
        throw new ContainerError('webm', pos, `element ${hexId(id)} of ${size} bytes exceeds maxElementBytes`);
      }
      if (q.length < headerLen + size) return;
      this.leaf(id, b.subarray(s + headerLen, s + headerLen + size), pos, events);
      q.consume(headerLen + size);
    }
  }

  private open(id: number, pos: number, end: number): void {
    if (id === ID.Segment) {
      if (!this.sawHeader) throw new ContainerError('webm', pos, 'segment before the EBML header');
      this.opus = undefined;
      this.codecsSeen = [];
      this.timecodeScale = 1_000_000;
    } else if (id === ID.TrackEntry) {
      this.track = { number: 0, codecId: '', codecPrivate: undefined, codecDelayNs: 0, channels: 1, start: pos };
    } else if (id === ID.Cluster) {
      if (!this.opus) {
        const seen = this.codecsSeen.length > 0 ? this.codecsSeen.join(', ') : 'none';
        throw new ContainerError(
          'webm',
          pos,
          `no A_OPUS track before the first cluster (codecs: ${seen}); transcode it with ffmpeg`,
        );
      }
      this.clusterTimecode = 0;
    }
    this.stack.push({ id, end, start: pos });
  }

  private close(el: Open, events: WebmDemuxEvent[]): void {
    if (el.id === ID.TrackEntry && this.track) {
      const t = this.track;
      this.track = undefined;
      this.codecsSeen.push(t.codecId || '?');
      if (t.codecId === 'A_OPUS' && !this.opus) {
        // CodecPrivate holds the OpusHead (Matroska codec mapping for Opus); without it, build
        // one from the track's channel count and CodecDelay (the pre-skip in nanoseconds).
        const head: OpusHead = t.codecPrivate
          ? parseOpusHead(t.codecPrivate, 'webm', t.start)
          : {
              version: 1,
              channels: t.channels,
              preSkip: Math.round((t.codecDelayNs * 48000) / 1e9),
              inputSampleRate: 48000,
              outputGain: 0,
              mappingFamily: 0,
              streamCount: 1,
              coupledCount: t.channels > 1 ? 1 : 0,
              channelMapping: t.channels > 1 ? [0, 1] : [0],
            };
        this.opus = { number: t.number, head };
        events.push({ type: 'head', head, serial: t.number });
      }
    } else if (el.id === ID.Segment && this.opus) {
      events.push({ type: 'eos', serial: this.opus.number });
      this.opus = undefined;
    }
  }

  private leaf(id: number, d: Uint8Array, pos: number, events: WebmDemuxEvent[]): void {
    switch (id) {
      case ID.EBML: {
        // Walk the header's children for DocType (RFC 8794 §11.2.6).
        let p = 0;
        let docType = '';
        while (p < d.length) {
          const il = vintLength(d[p] as number);
          if (il === 0 || il > 4 || p + il >= d.length) break;
          const cid = uint(d, p, il);
          const sl = vintLength(d[p + il] as number);
          if (sl === 0 || p + il + sl > d.length) break;
          const sz = vintValue(d, p + il, sl);
          const ds = p + il + sl;
          if (ds + sz > d.length) break;
          if (cid === ID.DocType) docType = textDecoder.decode(d.subarray(ds, ds + sz)).replace(/\0+$/, '');
          p = ds + sz;
        }
        if (docType !== 'webm' && docType !== 'matroska') {
          throw new ContainerError('webm', pos, `EBML DocType "${docType}" is neither webm nor matroska`);
        }
        this.sawHeader = true;
        return;
      }
      case ID.TimecodeScale:
        this.timecodeScale = uint(d, 0, d.length) || 1_000_000;
        return;
      case ID.TrackNumber:
        if (this.track) this.track.number = uint(d, 0, d.length);
        return;
      case ID.CodecID:
        if (this.track) this.track.codecId = textDecoder.decode(d).replace(/\0+$/, '');
        return;
      case ID.CodecPrivate:
        if (this.track) this.track.codecPrivate = d.slice();
        return;
      case ID.CodecDelay:
        if (this.track) this.track.codecDelayNs = uint(d, 0, d.length);
        return;
      case ID.Channels:
        if (this.track) this.track.channels = uint(d, 0, d.length) || 1;
        return;
      case ID.Timecode:
        this.clusterTimecode = uint(d, 0, d.length);
        return;
      default:
        this.block(d, pos, events);
    }
  }

  /** A SimpleBlock or Block of the Opus track (RFC 9559 §10 block structure and lacing). */
  private block(d: Uint8Array, pos: number, events: WebmDemuxEvent[]): void {
    const opus = this.opus as { number: number };
    const bad = (msg: string): ContainerError => new ContainerError('webm', pos, `block: ${msg}`);
    const tl = vintLength(d[0] as number);
    let p = tl;
    if (p + 3 > d.length) throw bad('shorter than its header');
    const rel = ((((d[p] as number) << 8) | (d[p + 1] as number)) << 16) >> 16;
    const flags = d[p + 2] as number;
    p += 3;
    const timestampMs = ((this.clusterTimecode + rel) * this.timecodeScale) / 1e6;
    const lacing = (flags >> 1) & 3;
    const sizes: number[] = [];
    if (lacing === 0) {
      sizes.push(d.length - p);
    } else {
      if (p >= d.length) throw bad('missing the lace count');
      const count = (d[p++] as number) + 1;
      if (lacing === 2) {
        // Fixed-size lacing: equal frames.
        const rest = d.length - p;
        if (rest % count !== 0) throw bad(`${rest} bytes do not split into ${count} equal frames`);
        for (let i = 0; i < count; i++) sizes.push(rest / count);
      } else {
        let total = 0;
        let prev = 0;
        for (let i = 0; i < count - 1; i++) {
          let n = 0;
          if (lacing === 1) {
            // Xiph lacing: runs of 255 ended by a byte < 255.
            for (;;) {
              if (p >= d.length) throw bad('Xiph lace sizes run past the block');
              const v = d[p++] as number;
              n += v;
              if (v !== 255) break;
            }
          } else {
            // EBML lacing: first size unsigned, later ones signed differences.
            const l = vintLength(d[p] as number);
            if (l === 0 || p + l > d.length) throw bad('EBML lace size runs past the block');
            const raw = vintValue(d, p, l);
            p += l;
            n = i === 0 ? raw : prev + raw - (2 ** (7 * l - 1) - 1);
            if (n < 0) throw bad('negative EBML lace size');
          }
          prev = n;
          total += n;
          sizes.push(n);
        }
        if (total > d.length - p) throw bad('lace sizes exceed the block');
        sizes.push(d.length - p - total);
      }
    }
    for (const n of sizes) {
      const packet = d.slice(p, p + n);
      p += n;
      let samples = 0;
      try {
        samples = opusPacketSamples(packet);
      } catch {
        // Unreadable TOC: pass the packet on for concealment, duration unknown.
      }
      events.push({ type: 'packet', packet, granule: undefined, serial: opus.number, samples, timestampMs });
    }
  }
}

function isChild(parent: number, id: number): boolean {
  if (parent === ID.Cluster) return CLUSTER_CHILDREN.has(id);
  if (parent === ID.Segment) return id !== ID.Segment && id !== ID.EBML;
  return true;
}

function hexId(id: number): string {
  return `0x${id.toString(16).toUpperCase()}`;
}

/**
 * Demuxes a WebM Opus byte stream from an async iterable of chunks.
 *
 * @throws {@link ContainerError} after yielding every event that preceded the fault.
 */
export async function* demuxWebmOpus(
  source: AsyncIterable<Uint8Array>,
  options?: WebmDemuxOptions,
): AsyncGenerator<WebmDemuxEvent> {
  const demuxer = new WebmOpusDemuxer(options);
  for await (const chunk of source) yield* demuxer.write(chunk);
  yield* demuxer.end();
}
