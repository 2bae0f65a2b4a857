/**
 * Sans-IO Ogg Opus muxer (RFC 3533 pages, RFC 7845 mapping): Opus packets in, page bytes out.
 *
 * ```
 * headers(): [BOS page: OpusHead] [page(s): OpusTags]          granule 0 (RFC 7845 §3)
 * write():   packets collect until maxPageDurationMs of audio or 255 lacing values, then a page
 * end():     the remaining packets on a final page flagged EOS
 * ```
 * Granule positions follow RFC 7845 §4: the granule of a page is the number of 48 kHz samples
 * decoded from all packets completed up to and including that page. Those samples include the
 * pre-skip (the encoder's look-ahead, §4.2), so PCM position = granule − preSkip, exactly like
 * libopusenc and ffmpeg write it. `end({ pcmSamples })` can lower the last granule to
 * `preSkip + pcmSamples` to trim encoder padding at the end (§4.5).
 *
 * A page is emitted as soon as it holds `maxPageDurationMs` of audio, so a process that dies
 * leaves a file that is valid up to its last emitted page.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';
import { oggPageCrc } from './ogg-crc.js';
import { opusPacketSamples } from './opus-packet.js';
import { concatBytes as concat } from '../util/bytes.js';

/** Options of {@link OggOpusMuxer}. */
export interface OggOpusMuxerOptions {
  /** 1 or 2 (channel mapping family 0). */
  channels: 1 | 2;
  /** Samples at 48 kHz the decoder drops at the start. Default 312 (libopus at 48 kHz). */
  preSkip?: number;
  /** Informational input rate stored in OpusHead. Default 48000. */
  inputSampleRate?: number;
  /** Output gain in Q7.8 dB stored in OpusHead. Default 0. */
  outputGain?: number;
  /** Stream serial number. Default: random. */
  serial?: number;
  /** Vendor string of OpusTags. Default `argon-voice`. */
  vendor?: string;
  /** `KEY=value` user comments of OpusTags. */
  comments?: string[];
  /** Longest audio a page may collect before it is emitted. Default 1000 ms. */
  maxPageDurationMs?: number;
}

const textEncoder = new TextEncoder();

interface Pending {
  data: Uint8Array;
  samples: number;
}

/**
 * Writes Ogg Opus pages. Every method returns the bytes of the pages it completed (possibly
 * empty); the caller appends them to a file or stream in order.
 *
 * @example
 * ```ts
 * const mux = new OggOpusMuxer({ channels: 2 });
 * out.write(mux.headers());
 * for (const packet of packets) out.write(mux.write(packet));
 * out.write(mux.end());
 * ```
 */
export class OggOpusMuxer {
  /** Stream serial number in every page. */
  readonly serial: number;
  /** Pre-skip written to OpusHead. */
  readonly preSkip: number;
  private readonly channels: 1 | 2;
  private readonly inputSampleRate: number;
  private readonly outputGain: number;
  private readonly vendor: string;
  private readonly comments: string[];
  private readonly maxPageSamples: number;
  private seq = 0;
  private headersDone = false;
  private ended = false;
  private granulePos = 0n;
  private pending: Pending[] = [];
  /** Bytes of `pending[0]` already written on earlier pages (a packet spanning pages). */
  private headOffset = 0;
  private pendingLaces = 0;
  private pendingSamples = 0;

  constructor(options: OggOpusMuxerOptions) {
    if (options.channels !== 1 && options.channels !== 2) {
      throw new InvalidInputError(`OggOpusMuxer: channels must be 1 or 2, got ${String(options.channels)}`);
    }
    const preSkip = options.preSkip ?? 312;
    if (!Number.isInteger(preSkip) || preSkip < 0 || preSkip > 0xffff) {
      throw new InvalidInputError(`OggOpusMuxer: preSkip must be an integer in 0..65535, got ${preSkip}`);
    }
    const maxMs = options.maxPageDurationMs ?? 1000;
    if (!(maxMs > 0)) throw new InvalidInputError(`OggOpusMuxer: maxPageDurationMs must be > 0, got ${maxMs}`);
    this.channels = options.channels;
    this.preSkip = preSkip;
    this.inputSampleRate = options.inputSampleRate ?? 48000;
    this.outputGain = options.outputGain ?? 0;
    this.serial = (options.serial ?? Math.floor(Math.random() * 0x100000000)) >>> 0;
    this.vendor = options.vendor ?? 'argon-voice';
    this.comments = options.comments ?? [];
    this.maxPageSamples = Math.round(maxMs * 48);
  }

  /** Granule position after the packets written so far (decoded samples incl. pre-skip). */
  get granule(): bigint {
    return this.granulePos + BigInt(this.pendingSamples);
  }

  /**
   * The OpusHead (BOS) page and the OpusTags page(s). Must come first in the file; `write`
   * emits them itself if this was not called.
   *
   * @throws {@link InvalidInputError} when the headers were already produced.
   */
  headers(): Uint8Array {
    if (this.headersDone) throw new InvalidInputError('OggOpusMuxer: headers() was already called');
    if (this.ended) throw new InvalidInputError('OggOpusMuxer: already ended');
    this.headersDone = true;
    // RFC 7845 §5.1 (family 0).
    const head = new Uint8Array(19);
    head.set(textEncoder.encode('OpusHead'), 0);
    const dv = new DataView(head.buffer);
    head[8] = 1;
    head[9] = this.channels;
    dv.setUint16(10, this.preSkip, true);
    dv.setUint32(12, this.inputSampleRate >>> 0, true);
    dv.setInt16(16, this.outputGain, true);
    head[18] = 0;
    const pages: Uint8Array[] = [this.page(0x02, 0n, [head])];
    // RFC 7845 §5.2; the tags packet starts on its own page and its pages carry granule 0.
    const parts = [textEncoder.encode(this.vendor), ...this.comments.map((c) => textEncoder.encode(c))];
    let size = 8 + 4 + 4;
    for (const p of parts) size += 4 + p.length;
    const tags = new Uint8Array(size);
    const tv = new DataView(tags.buffer);
    tags.set(textEncoder.encode('OpusTags'), 0);
    let o = 8;
    parts.forEach((p, i) => {
      tv.setUint32(o, p.length, true);
      tags.set(p, o + 4);
      o += 4 + p.length;
      if (i === 0) {
        tv.setUint32(o, this.comments.length, true);
        o += 4;
      }
    });
    pages.push(...this.pagesFor(tags, 0n));
    return concat(pages);
  }

  /**
   * Adds one Opus packet.
   *
   * @param packet - one Opus packet (copied; the caller may reuse its buffer).
   * @param samples - its duration at 48 kHz; read from the TOC when omitted.
   * @returns the pages this packet completed (empty most of the time).
   * @throws {@link OpusPacketError} when `samples` is omitted and the TOC is unreadable;
   *   {@link InvalidInputError} after `end()`.
   */
  write(packet: Uint8Array, samples?: number): Uint8Array {
    if (this.ended) throw new InvalidInputError('OggOpusMuxer: write() after end()');
    const n = samples ?? opusPacketSamples(packet);
    if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`OggOpusMuxer: bad sample count ${n}`);
    const out: Uint8Array[] = [];
    if (!this.headersDone) out.push(this.headers());
    this.pending.push({ data: packet.slice(), samples: n });
    this.pendingLaces += Math.floor(packet.length / 255) + 1;
    this.pendingSamples += n;
    // RFC 3533 §6: at most 255 lacing values per page.
    while (this.pendingLaces >= 255) out.push(this.emitPage(0, undefined));
    if (this.pendingSamples >= this.maxPageSamples) out.push(...this.drain(0, undefined));
    return concat(out);
  }

  /** Emits every pending packet now (e.g. before a pause), so the file is complete so far. */
  flush(): Uint8Array {
    if (this.ended) return new Uint8Array(0);
    const out: Uint8Array[] = [];
    if (!this.headersDone) out.push(this.headers());
    out.push(...this.drain(0, undefined));
    return concat(out);
  }

  /**
   * Emits the remaining packets and the end-of-stream page. Idempotent: later calls return nothing.
   *
   * @param options.pcmSamples - when known, the real PCM length (samples at 48 kHz after
   *   pre-skip); the last granule becomes `preSkip + pcmSamples` so players trim the encoder's
   *   end padding (RFC 7845 §4.5). Must not exceed the samples written. Ignored when every
   *   packet was already flushed (a granule may not go backwards).
   */
  end(options: { pcmSamples?: number } = {}): Uint8Array {
    if (this.ended) return new Uint8Array(0);
    const out: Uint8Array[] = [];
    if (!this.headersDone) out.push(this.headers());
    let last: bigint | undefined;
    if (options.pcmSamples !== undefined) {
      const g = BigInt(this.preSkip) + BigInt(Math.max(0, Math.floor(options.pcmSamples)));
      if (g > this.granule) {
        throw new InvalidInputError(`OggOpusMuxer: pcmSamples ${options.pcmSamples} exceeds the samples written`);
      }
      last = g;
    }
    this.ended = true;
    if (this.pending.length === 0) {
      // An empty EOS page (no segments) still marks the end (RFC 3533 §6).
      out.push(this.page(0x04, this.granulePos, []));
    } else {
      out.push(...this.drain(0x04, last));
    }
    return concat(out);
  }

  private drain(lastFlags: number, lastGranule: bigint | undefined): Uint8Array[] {
    const pages: Uint8Array[] = [];
    while (this.pending.length > 0) {
      const final = this.pendingLaces <= 255;
      pages.push(this.emitPage(final ? lastFlags : 0, final ? lastGranule : undefined));
    }
    return pages;
  }

  /** Builds one page from the front of the pending queue (≤ 255 lacing values). */
  private emitPage(flags: number, granuleOverride: bigint | undefined): Uint8Array {
    const laces: number[] = [];
    const parts: Uint8Array[] = [];
    const continued = this.headOffset > 0;
    let completed = false;
    while (this.pending.length > 0 && laces.length < 255) {
      const p = this.pending[0] as Pending;
      const remaining = p.data.length - this.headOffset;
      const full = Math.floor(remaining / 255);
      const room = 255 - laces.length;
      if (full + 1 <= room) {
        // RFC 3533 §5: a packet ends with a lacing value < 255 (0 for exact multiples of 255).
        for (let i = 0; i < full; i++) laces.push(255);
        laces.push(remaining % 255);
        parts.push(p.data.subarray(this.headOffset));
        this.headOffset = 0;
        this.pending.shift();
        this.pendingLaces -= full + 1;
        this.pendingSamples -= p.samples;
        this.granulePos += BigInt(p.samples);
        completed = true;
      } else {
        // The packet continues on the next page.
        for (let i = 0; i < room; i++) laces.push(255);
        parts.push(p.data.subarray(this.headOffset, this.headOffset + room * 255));
        this.headOffset += room * 255;
        this.pendingLaces -= room;
      }
    }
    // RFC 3533 §6: -1 when no packet finishes on the page.
    const granule = granuleOverride ?? (completed ? this.granulePos : -1n);
    return this.page(flags | (continued ? 0x01 : 0), granule, parts, laces);
  }

  /** Pages for one packet written on its own (headers). */
  private pagesFor(packet: Uint8Array, granule: bigint): Uint8Array[] {
    const pages: Uint8Array[] = [];
    let off = 0;
    let continued = false;
    for (;;) {
      const remaining = packet.length - off;
      const full = Math.floor(remaining / 255);
      if (full + 1 <= 255) {
        const laces = new Array<number>(full).fill(255);
        laces.push(remaining % 255);
        pages.push(this.page(continued ? 0x01 : 0, granule, [packet.subarray(off)], laces));
        return pages;
      }
      const laces = new Array<number>(255).fill(255);
      pages.push(this.page(continued ? 0x01 : 0, -1n, [packet.subarray(off, off + 255 * 255)], laces));
      off += 255 * 255;
      continued = true;
    }
  }

  /** Serialises one page (RFC 3533 §6) and stamps its CRC. */
  private page(flags: number, granule: bigint, parts: Uint8Array[], lacesIn?: number[]): Uint8Array {
    let laces = lacesIn;
    if (!laces) {
      // Single small packet (OpusHead): lace it here.
      laces = [];
      for (const p of parts) {
        for (let i = 0; i < Math.floor(p.length / 255); i++) laces.push(255);
        laces.push(p.length % 255);
      }
    }
    let bodyLen = 0;
    for (const p of parts) bodyLen += p.length;
    const page = new Uint8Array(27 + laces.length + bodyLen);
    const dv = new DataView(page.buffer);
    page.set([0x4f, 0x67, 0x67, 0x53], 0);
    page[4] = 0;
    page[5] = flags;
    dv.setBigInt64(6, granule, true);
    dv.setUint32(14, this.serial, true);
    dv.setUint32(18, this.seq++, true);
    page[26] = laces.length;
    page.set(laces, 27);
    let o = 27 + laces.length;
    for (const p of parts) {
      page.set(p, o);
      o += p.length;
    }
    dv.setUint32(22, oggPageCrc(page), true);
    return page;
  }
}
