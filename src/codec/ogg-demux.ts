/**
 * Streaming, sans-IO demuxer for Ogg Opus (RFC 3533 pages, RFC 7845 mapping).
 *
 * ```
 * page: | "OggS" | ver | flags | granule(8) | serial(4) | seq(4) | crc(4) | nseg | lacing[nseg] | body |
 *         0        4     5       6            14          18       22       26     27
 * ```
 * A packet is a run of lacing values ending with one < 255 (RFC 3533 §5); a run that reaches the
 * end of the page continues on the next page of the same stream (flag 0x01). Each logical stream
 * starts with a BOS page (0x02) holding OpusHead, then OpusTags, then audio (RFC 7845 §3); a
 * stream ends with an EOS page (0x04), after which a new BOS starts a chained stream.
 *
 * Memory is bounded: the demuxer buffers at most one page (≤ 65 307 bytes) beyond the current
 * chunk, plus one partial packet capped by `maxPacketBytes`.
 * @packageDocumentation
 */
import { ContainerError, InvalidInputError } from '../errors.js';
import { oggPageCrc } from './ogg-crc.js';
import { opusPacketSamples } from './opus-packet.js';

/** The Opus identification header (RFC 7845 §5.1). */
export interface OpusHead {
  /** Encapsulation version; only major version 0 (0–15) is understood. */
  version: number;
  /** Output channel count (≥ 1). */
  channels: number;
  /** Samples at 48 kHz to discard from the start of the decoded output. */
  preSkip: number;
  /** Sample rate of the original input (informational only; Opus always decodes at 48 kHz here). */
  inputSampleRate: number;
  /** Output gain in Q7.8 dB as stored (apply `10^(outputGain / (20 * 256))`). */
  outputGain: number;
  /** Channel mapping family (0 = mono/stereo, 1 = Vorbis order, 255 = undefined). */
  mappingFamily: number;
  /** Opus streams per packet (1 for family 0). */
  streamCount: number;
  /** Of which coupled (stereo) streams. */
  coupledCount: number;
  /** Output channel → decoded channel index (identity for family 0). */
  channelMapping: number[];
}

/**
 * Events produced by the Ogg and WebM demuxers.
 * - `head`: a stream's OpusHead (Ogg BOS packet or WebM CodecPrivate).
 * - `tags`: the OpusTags comment header (Ogg only).
 * - `packet`: one Opus packet; `granule` is the page's granule position on the last packet that
 *   completes on an Ogg page (undefined otherwise and for WebM); `samples` is its duration at
 *   48 kHz from the TOC (0 when the TOC is unreadable); `timestampMs` is the WebM block time.
 * - `eos`: the stream ended (Ogg EOS page, end of a WebM segment).
 * `serial` is the Ogg stream serial number, or the WebM track number.
 */
export type OpusDemuxEvent =
  | { type: 'head'; head: OpusHead; serial: number }
  | { type: 'tags'; vendor: string; comments: string[]; serial: number }
  | {
      type: 'packet';
      packet: Uint8Array;
      granule: bigint | undefined;
      serial: number;
      samples: number;
      timestampMs?: number;
    }
  | { type: 'eos'; serial: number };

/** Events of {@link OggOpusDemuxer} (same shape as the WebM demuxer's). */
export type OggDemuxEvent = OpusDemuxEvent;

/** Options of {@link OggOpusDemuxer}. */
export interface OggDemuxOptions {
  /** Largest packet (headers included) accepted before failing; bounds memory. Default 1 MiB. */
  maxPacketBytes?: number;
}

const DEFAULT_MAX_PACKET = 1 << 20;
const textDecoder = new TextDecoder('utf-8');

function startsWith(b: Uint8Array, magic: string): boolean {
  if (b.length < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (b[i] !== magic.charCodeAt(i)) return false;
  return true;
}

function u16(b: Uint8Array, o: number): number {
  return (b[o] as number) | ((b[o + 1] as number) << 8);
}

function u32(b: Uint8Array, o: number): number {
  return (
    ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0
  );
}

/**
 * Parses an OpusHead packet (RFC 7845 §5.1).
 *
 * @param packet - the identification header, starting with `OpusHead`.
 * @param container - which container the header came from (for the error).
 * @param offset - byte offset of the header in the stream (for the error).
 * @throws {@link ContainerError} when the header is short, of an unknown major version, or has an
 *   inconsistent channel mapping.
 */
export function parseOpusHead(packet: Uint8Array, container: 'ogg' | 'webm' = 'ogg', offset = 0): OpusHead {
  const bad = (msg: string): ContainerError => new ContainerError(container, offset, `OpusHead: ${msg}`);
  if (!startsWith(packet, 'OpusHead')) throw bad('missing the "OpusHead" magic');
  if (packet.length < 19) throw bad(`${packet.length} bytes, needs at least 19`);
  const version = packet[8] as number;
  // §5.1: a major version (upper 4 bits) other than 0 is incompatible.
  if (version >> 4 !== 0) throw bad(`unsupported version ${version}`);
  const channels = packet[9] as number;
  if (channels === 0) throw bad('channel count is 0');
  const preSkip = u16(packet, 10);
  const inputSampleRate = u32(packet, 12);
  const outputGain = (u16(packet, 16) << 16) >> 16;
  const mappingFamily = packet[18] as number;
  if (mappingFamily === 0) {
    if (channels > 2) throw bad(`mapping family 0 allows 1 or 2 channels, got ${channels}`);
    return {
      version,
      channels,
      preSkip,
      inputSampleRate,
      outputGain,
      mappingFamily,
      streamCount: 1,
      coupledCount: channels - 1,
      channelMapping: channels === 2 ? [0, 1] : [0],
    };
  }
  // §5.1.1: families ≠ 0 carry stream count, coupled count and one mapping byte per channel.
  if (packet.length < 21 + channels) throw bad(`channel mapping table truncated (${packet.length} bytes)`);
  const streamCount = packet[19] as number;
  const coupledCount = packet[20] as number;
  if (streamCount === 0 || coupledCount > streamCount) throw bad(`bad stream counts ${streamCount}/${coupledCount}`);
  const channelMapping = Array.from(packet.subarray(21, 21 + channels));
  for (const m of channelMapping) {
    if (m !== 255 && m >= streamCount + coupledCount) throw bad(`channel mapping entry ${m} out of range`);
  }
  return {
    version,
    channels,
    preSkip,
    inputSampleRate,
    outputGain,
    mappingFamily,
    streamCount,
    coupledCount,
    channelMapping,
  };
}

/**
 * Parses an OpusTags packet (RFC 7845 §5.2).
 *
 * @throws {@link ContainerError} when a length field runs past the packet.
 */
export function parseOpusTags(packet: Uint8Array, offset = 0): { vendor: string; comments: string[] } {
  const bad = (msg: string): ContainerError => new ContainerError('ogg', offset, `OpusTags: ${msg}`);
  if (!startsWith(packet, 'OpusTags')) throw bad('missing the "OpusTags" magic');
  let pos = 8;
  const str = (): string => {
    if (pos + 4 > packet.length) throw bad('length field past the end');
    const n = u32(packet, pos);
    pos += 4;
    if (n > packet.length - pos) throw bad(`string of ${n} bytes past the end`);
    const s = textDecoder.decode(packet.subarray(pos, pos + n));
    pos += n;
    return s;
  };
  const vendor = str();
  if (pos + 4 > packet.length) throw bad('comment count missing');
  const count = u32(packet, pos);
  pos += 4;
  // Each comment needs at least its 4-byte length: reject absurd counts before looping.
  if (count > (packet.length - pos) / 4) throw bad(`comment count ${count} exceeds the packet`);
  const comments: string[] = [];
  for (let i = 0; i < count; i++) comments.push(str());
  return { vendor, comments };
}

/**
 * A byte FIFO for sans-IO parsers: appends chunks, exposes the unread bytes as one contiguous
 * view, and keeps the absolute stream offset of the first unread byte.
 * @internal
 */
export class ByteQueue {
  /** Backing store; unread bytes are `buf[start, end)`. */
  buf: Uint8Array = new Uint8Array(0);
  start = 0;
  end = 0;
  /** Absolute offset of `buf[start]` in the whole stream. */
  offset = 0;
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      // Zero-copy when nothing is pending: parse straight from the caller's chunk.
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    const len = this.length;
    const need = len + chunk.length;
    if (this.owned && this.end + chunk.length <= this.buf.length) {
      // Fits behind the unread bytes.
    } else if (this.owned && need <= this.buf.length) {
      this.buf.copyWithin(0, this.start, this.end);
      this.start = 0;
      this.end = len;
    } else {
      const next = new Uint8Array(Math.max(need * 2, 4096));
      next.set(this.buf.subarray(this.start, this.end), 0);
      this.buf = next;
      this.start = 0;
      this.end = len;
      this.owned = true;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }

  /**
   * Copies unread bytes that still live in the caller's chunk into our own buffer, so the
   * caller may reuse its buffer after `write()` returns (sockets and pools do).
   */
  retain(): void {
    if (this.owned || this.length === 0) return;
    const own = new Uint8Array(Math.max(this.length * 2, 4096));
    own.set(this.buf.subarray(this.start, this.end), 0);
    this.buf = own;
    this.end = this.length;
    this.start = 0;
    this.owned = true;
  }

  consume(n: number): void {
    this.start += n;
    this.offset += n;
    if (this.start >= this.end) {
      this.start = 0;
      this.end = 0;
      if (!this.owned) this.buf = new Uint8Array(0);
    }
  }
}

interface StreamState {
  phase: 'head' | 'tags' | 'audio';
  /** Pieces of a packet continued from earlier pages. */
  partial: Uint8Array[];
  partialBytes: number;
  /** Channel count from OpusHead (0 before it). */
  channels: number;
  /** Page sequence number expected next (RFC 3533 §6: detects lost pages). */
  nextSeq: number;
}

/** Logical streams open at once beyond which a file is rejected (bounds memory). */
const MAX_STREAMS = 32;

/**
 * Sans-IO Ogg Opus demuxer: feed bytes with {@link OggOpusDemuxer.write}, get events back.
 *
 * @remarks On malformed input `write`/`end` throw a {@link ContainerError} with the byte offset.
 * Events already parsed from the same chunk are returned first and the error is thrown by the
 * next call, so a consumer gets every valid packet before the fault. After an error or `end()`
 * the demuxer is finished and every call throws.
 */
export class OggOpusDemuxer {
  private readonly q = new ByteQueue();
  private readonly streams = new Map<number, StreamState>();
  private readonly maxPacketBytes: number;
  private failed: Error | undefined;
  private ended = false;
  private lost = 0;

  constructor(options: OggDemuxOptions = {}) {
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET;
  }

  /**
   * Gaps in page sequence numbers seen so far (pages lost in transit or cut out of a file).
   * Packets that straddled a gap are dropped; everything else is still delivered.
   */
  get lostPageGaps(): number {
    return this.lost;
  }

  /** Bytes consumed so far (offset of the next page). */
  get position(): number {
    return this.q.offset;
  }

  /**
   * Feeds the next bytes of the stream.
   *
   * @returns the events completed by these bytes (possibly none).
   * @throws {@link ContainerError} on malformed data (see the class remarks).
   */
  write(chunk: Uint8Array): OggDemuxEvent[] {
    this.checkUsable();
    const events: OggDemuxEvent[] = [];
    try {
      this.q.push(chunk);
      while (this.readPage(events)) {
        /* one page per iteration */
      }
      this.q.retain();
    } catch (err) {
      this.failed = err as Error;
      if (events.length > 0) return events;
      throw err;
    }
    return events;
  }

  /**
   * Signals the end of the input.
   *
   * @returns remaining events (none today; kept for symmetry with `write`).
   * @throws {@link ContainerError} when the input stops inside a page.
   * @remarks A stream without an EOS page (a recorder that was killed) is not an error: it is
   *   valid up to its last complete page, and no `eos` event is invented for it.
   */
  end(): OggDemuxEvent[] {
    this.checkUsable();
    this.ended = true;
    if (this.q.length > 0) {
      this.failed = new ContainerError(
        'ogg',
        this.q.offset,
        `truncated page: input ended ${this.q.length} bytes into it`,
      );
      throw this.failed;
    }
    return [];
  }

  private checkUsable(): void {
    if (this.failed) throw this.failed;
    if (this.ended) throw new InvalidInputError('OggOpusDemuxer: write() or end() after end()');
  }

  /** Parses one complete page from the queue; false when more bytes are needed. */
  private readPage(events: OggDemuxEvent[]): boolean {
    const q = this.q;
    const b = q.buf;
    const s = q.start;
    const avail = q.length;
    const at = q.offset;
    // RFC 3533 §6: capture pattern "OggS". Check what we have so garbage fails fast.
    for (let i = 0; i < 4 && i < avail; i++) {
      if (b[s + i] !== 'OggS'.charCodeAt(i)) throw new ContainerError('ogg', at, 'missing the "OggS" capture pattern');
    }
    if (avail < 27) return false;
    if (b[s + 4] !== 0) throw new ContainerError('ogg', at, `unsupported page version ${b[s + 4]}`);
    const nseg = b[s + 26] as number;
    if (avail < 27 + nseg) return false;
    let bodyLen = 0;
    for (let i = 0; i < nseg; i++) bodyLen += b[s + 27 + i] as number;
    const total = 27 + nseg + bodyLen;
    if (avail < total) return false;
    const stored = u32(b, s + 22);
    const crc = oggPageCrc(b, s, s + total);
    if (crc !== stored) {
      throw new ContainerError('ogg', at, `page CRC mismatch (stored ${hex(stored)}, computed ${hex(crc)})`);
    }
    this.handlePage(b, s, nseg, events, at);
    q.consume(total);
    return true;
  }

  private handlePage(b: Uint8Array, s: number, nseg: number, events: OggDemuxEvent[], at: number): void {
    const flags = b[s + 5] as number;
    const lo = u32(b, s + 6);
    const hi = u32(b, s + 10);
    // RFC 3533 §6: granule -1 means no packet finishes on this page.
    const granule =
      lo === 0xffffffff && hi === 0xffffffff ? undefined : BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
    const serial = u32(b, s + 14);
    const seq = u32(b, s + 18);
    let st = this.streams.get(serial);
    if (flags & 0x02) {
      // BOS: a new logical stream (a chained stream after an EOS, or a restart).
      if (!st && this.streams.size >= MAX_STREAMS) {
        throw new ContainerError('ogg', at, `more than ${MAX_STREAMS} logical streams open at once`);
      }
      st = { phase: 'head', partial: [], partialBytes: 0, channels: 0, nextSeq: seq };
      this.streams.set(serial, st);
    } else if (!st) {
      throw new ContainerError('ogg', at, `page of stream ${hex(serial)} before its BOS page`);
    }
    const continued = (flags & 0x01) !== 0;
    if (seq !== st.nextSeq) {
      // RFC 3533 §6: a sequence gap means lost pages; a packet spanning the gap is unusable.
      this.lost++;
      st.partial = [];
      st.partialBytes = 0;
    } else if (!continued && st.partialBytes > 0) {
      throw new ContainerError('ogg', at, 'a packet continues onto a page not flagged as a continuation');
    }
    st.nextSeq = (seq + 1) >>> 0;
    let dropFirst = continued && st.partial.length === 0;
    const completed: Uint8Array[] = [];
    let pos = s + 27 + nseg;
    let pktStart = pos;
    for (let i = 0; i < nseg; i++) {
      const lace = b[s + 27 + i] as number;
      pos += lace;
      if (st.partialBytes + (pos - pktStart) > this.maxPacketBytes) {
        throw new ContainerError('ogg', at, `packet larger than maxPacketBytes (${this.maxPacketBytes})`);
      }
      if (lace === 255) continue;
      if (dropFirst) {
        // RFC 3533 §5: a continued packet whose beginning we never saw is discarded.
        dropFirst = false;
      } else if (st.partial.length > 0) {
        const out = new Uint8Array(st.partialBytes + (pos - pktStart));
        let o = 0;
        for (const piece of st.partial) {
          out.set(piece, o);
          o += piece.length;
        }
        out.set(b.subarray(pktStart, pos), o);
        st.partial = [];
        st.partialBytes = 0;
        completed.push(out);
      } else {
        completed.push(b.slice(pktStart, pos));
      }
      pktStart = pos;
    }
    if (pos > pktStart) {
      if (!dropFirst) {
        st.partial.push(b.slice(pktStart, pos));
        st.partialBytes += pos - pktStart;
      }
    }
    for (let i = 0; i < completed.length; i++) {
      const packet = completed[i] as Uint8Array;
      this.handlePacket(st, serial, packet, i === completed.length - 1 ? granule : undefined, events, at);
    }
    if (flags & 0x04) {
      events.push({ type: 'eos', serial });
      this.streams.delete(serial);
    }
  }

  private handlePacket(
    st: StreamState,
    serial: number,
    packet: Uint8Array,
    granule: bigint | undefined,
    events: OggDemuxEvent[],
    at: number,
  ): void {
    if (st.phase === 'head') {
      if (!startsWith(packet, 'OpusHead')) {
        throw new ContainerError(
          'ogg',
          at,
          `stream ${hex(serial)} is not Opus (${describeCodec(packet)}); transcode it with ffmpeg`,
        );
      }
      const head = parseOpusHead(packet, 'ogg', at);
      st.channels = head.channels;
      st.phase = 'tags';
      events.push({ type: 'head', head, serial });
    } else if (st.phase === 'tags') {
      // RFC 7845 §3: the second packet must be the comment header.
      const { vendor, comments } = parseOpusTags(packet, at);
      st.phase = 'audio';
      events.push({ type: 'tags', vendor, comments, serial });
    } else {
      let samples = 0;
      try {
        samples = opusPacketSamples(packet);
      } catch {
        // A damaged TOC: keep the packet (the decoder conceals it) but it has no known duration.
      }
      events.push({ type: 'packet', packet, granule, serial, samples });
    }
  }
}

/** Names the codec of a non-Opus BOS packet for the error message (RFC 3533 streams). */
function describeCodec(packet: Uint8Array): string {
  if (startsWith(packet.subarray(1), 'vorbis')) return 'Vorbis';
  if (startsWith(packet.subarray(1), 'FLAC')) return 'FLAC';
  if (startsWith(packet.subarray(1), 'theora')) return 'Theora';
  if (startsWith(packet, 'Speex')) return 'Speex';
  return 'unknown codec';
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * Demuxes an Ogg Opus byte stream from any async iterable of chunks (a file stream, a fetch body).
 *
 * @throws {@link ContainerError} after yielding every event that preceded the fault.
 */
export async function* demuxOggOpus(
  source: AsyncIterable<Uint8Array>,
  options?: OggDemuxOptions,
): AsyncGenerator<OggDemuxEvent> {
  const demuxer = new OggOpusDemuxer(options);
  for await (const chunk of source) {
    yield* demuxer.write(chunk);
  }
  yield* demuxer.end();
}
