/**
 * Opus packet framing (RFC 6716 §3): the TOC byte, the four frame-count codes, and the
 * validity rules R1–R7 of §3.4, plus the stricter client-side checks the Argon audio gateway
 * needs (docs/platform.md §A3.2–3.5).
 *
 * ```
 *  0 1 2 3 4 5 6 7
 * +-+-+-+-+-+-+-+-+
 * | config  |s| c |   TOC byte (§3.1): config → mode/bandwidth/frame size, s = stereo, c = code
 * +-+-+-+-+-+-+-+-+
 * ```
 *
 * Two families of entry points:
 * - {@link parseOpusPacket} builds a full {@link OpusPacketInfo} (allocates `frameSizes`).
 * - {@link opusPacketSamples} and {@link isGatewaySafe} are the hot path used for every frame a
 *   session publishes or receives; they walk the same rules but allocate nothing.
 * @packageDocumentation
 */
import { OpusPacketError, type OpusPacketRule } from '../errors.js';

/** Everything the framing layer of an Opus packet says about it (RFC 6716 §3). */
export interface OpusPacketInfo {
  /** TOC config number 0–31 (§3.1, Table 2). */
  config: number;
  /** Coding mode selected by the config. */
  mode: 'silk' | 'hybrid' | 'celt';
  /** Audio bandwidth selected by the config. */
  bandwidth: 'nb' | 'mb' | 'wb' | 'swb' | 'fb';
  /** The TOC stereo flag `s`. */
  stereo: boolean;
  /** Frame-count code `c` (§3.2). */
  code: 0 | 1 | 2 | 3;
  /** Number of frames in the packet (1–48). */
  frameCount: number;
  /** Samples per frame at 48 kHz (120–2880). */
  frameSamples: number;
  /** Samples of the whole packet at 48 kHz. */
  samples: number;
  /** `samples / 48`: 2.5 … 120 ms. */
  durationMs: number;
  /** Byte length of each frame's compressed data, in order. */
  frameSizes: number[];
  /** Bytes of code-3 padding data at the end of the packet (not counting the length bytes). */
  paddingBytes: number;
}

/** Largest packet the gateway accepts (3 × 1275 bytes, docs/platform.md §A3.2 step 2). */
export const GATEWAY_MAX_PACKET_BYTES = 3825;

/** Largest compressed frame allowed by RFC 6716 §3.4 rule R2 (and the maximum length field). */
export const OPUS_MAX_FRAME_BYTES = 1275;

/** Largest packet duration RFC 6716 §3.4 rule R5 allows: 120 ms at 48 kHz. */
const MAX_PACKET_SAMPLES = 5760;

// Samples per frame at 48 kHz indexed by config (RFC 6716 §3.1, Table 2):
// SILK 0–11 at 10/20/40/60 ms, Hybrid 12–15 at 10/20 ms, CELT 16–31 at 2.5/5/10/20 ms.
const FRAME_SAMPLES: Uint16Array = (() => {
  const t = new Uint16Array(32);
  for (let c = 0; c < 32; c++) {
    if (c < 12) t[c] = [480, 960, 1920, 2880][c % 4] as number;
    else if (c < 16) t[c] = [480, 960][c % 2] as number;
    else t[c] = [120, 240, 480, 960][c % 4] as number;
  }
  return t;
})();

const BANDWIDTHS: readonly OpusPacketInfo['bandwidth'][] = (() => {
  const t: OpusPacketInfo['bandwidth'][] = [];
  for (let c = 0; c < 32; c++) {
    if (c < 4) t.push('nb');
    else if (c < 8) t.push('mb');
    else if (c < 12) t.push('wb');
    else if (c < 14) t.push('swb');
    else if (c < 16) t.push('fb');
    else t.push((['nb', 'wb', 'swb', 'fb'] as const)[(c - 16) >> 2] as OpusPacketInfo['bandwidth']);
  }
  return t;
})();

/** Samples per frame at 48 kHz for a TOC byte. */
export function tocFrameSamples(toc: number): number {
  return FRAME_SAMPLES[(toc >> 3) & 31] as number;
}

// Results of the last `scan` (module scratch, so the hot path allocates nothing).
let scanFrameCount = 0;
let scanPadding = 0;
let scanDetail = '';

/**
 * Walks the framing of `p` and checks RFC 6716 §3.4 rules R1–R7. Returns the broken rule, or
 * `undefined` when the packet is well-formed. When `sizes` is given the frame sizes are pushed
 * onto it. `scanDetail` holds a human explanation only on failure.
 */
function scan(p: Uint8Array, sizes: number[] | undefined): OpusPacketRule | undefined {
  const len = p.length;
  // R1: at least one byte (the TOC).
  if (len < 1) return fail('empty', 'a packet needs at least the TOC byte');
  const toc = p[0] as number;
  const code = toc & 3;
  const fs = FRAME_SAMPLES[toc >> 3] as number;
  scanPadding = 0;
  switch (code) {
    case 0: {
      // §3.2.2: one frame filling the rest of the packet; R2 bounds it.
      const n = len - 1;
      if (n > OPUS_MAX_FRAME_BYTES) return fail('frame-too-large', `frame of ${n} bytes > 1275`);
      scanFrameCount = 1;
      sizes?.push(n);
      return undefined;
    }
    case 1: {
      // §3.2.3 / R3: two equal frames, so N-1 must be even.
      const n = len - 1;
      if (n & 1) return fail('code1-odd-length', `code 1 payload of ${n} bytes cannot split into two equal frames`);
      if (n >> 1 > OPUS_MAX_FRAME_BYTES) return fail('frame-too-large', `frames of ${n >> 1} bytes > 1275`);
      scanFrameCount = 2;
      sizes?.push(n >> 1, n >> 1);
      return undefined;
    }
    case 2: {
      // §3.2.4 / R4: a 1- or 2-byte length (§3.2.1) for the first frame, which must fit.
      if (len < 2) return fail('code2-length-field', 'missing the first frame length');
      let pos = 1;
      let n1 = p[pos++] as number;
      if (n1 >= 252) {
        if (pos >= len) return fail('code2-length-field', 'missing the second byte of the first frame length');
        n1 += 4 * (p[pos++] as number);
      }
      const rest = len - pos;
      if (n1 > rest) return fail('code2-length-field', `first frame of ${n1} bytes exceeds the ${rest} bytes left`);
      const n2 = rest - n1;
      if (n2 > OPUS_MAX_FRAME_BYTES) return fail('frame-too-large', `second frame of ${n2} bytes > 1275`);
      scanFrameCount = 2;
      sizes?.push(n1, n2);
      return undefined;
    }
    default: {
      // §3.2.5: frame count byte |v|p|   M   |.
      if (len < 2) return fail('code3-count-missing', 'code 3 needs a frame count byte');
      const cb = p[1] as number;
      const m = cb & 0x3f;
      // R5: at least one frame and at most 120 ms of audio.
      if (m === 0) return fail('code3-zero-frames', 'frame count M is 0');
      if (m * fs > MAX_PACKET_SAMPLES) return fail('code3-over-120ms', `${m} frames of ${fs / 48} ms exceed 120 ms`);
      let pos = 2;
      let padding = 0;
      if (cb & 0x40) {
        // R6/R7: padding length is a run of bytes; 255 adds 254 and continues (§3.2.5).
        for (;;) {
          if (pos >= len) return fail('code3-padding', 'padding length runs past the end of the packet');
          const v = p[pos++] as number;
          padding += v === 255 ? 254 : v;
          if (v !== 255) break;
        }
      }
      const end = len - padding;
      if (end < pos) return fail('code3-padding', `${padding} padding bytes exceed the packet`);
      scanPadding = padding;
      scanFrameCount = m;
      if (cb & 0x80) {
        // VBR (R7): M-1 length fields, then the frames; the last frame takes what is left.
        let total = 0;
        for (let i = 0; i < m - 1; i++) {
          if (pos >= end) return fail('code3-vbr-lengths', `length field ${i + 1} of ${m - 1} is missing`);
          let n = p[pos++] as number;
          if (n >= 252) {
            if (pos >= end) return fail('code3-vbr-lengths', `length field ${i + 1} is cut short`);
            n += 4 * (p[pos++] as number);
          }
          total += n;
          sizes?.push(n);
        }
        const left = end - pos;
        if (total > left)
          return fail('code3-vbr-lengths', `frame lengths sum to ${total} bytes but only ${left} remain`);
        const last = left - total;
        if (last > OPUS_MAX_FRAME_BYTES) return fail('frame-too-large', `last frame of ${last} bytes > 1275`);
        sizes?.push(last);
      } else {
        // CBR (R6): the remaining bytes divide evenly among the M frames.
        const left = end - pos;
        if (left % m !== 0) return fail('code3-cbr-length', `${left} bytes do not divide into ${m} equal frames`);
        const n = left / m;
        if (n > OPUS_MAX_FRAME_BYTES) return fail('frame-too-large', `CBR frames of ${n} bytes > 1275`);
        if (sizes) for (let i = 0; i < m; i++) sizes.push(n);
      }
      return undefined;
    }
  }
}

function fail(rule: OpusPacketRule, detail: string): OpusPacketRule {
  scanDetail = detail;
  return rule;
}

function modeOf(config: number): OpusPacketInfo['mode'] {
  return config < 12 ? 'silk' : config < 16 ? 'hybrid' : 'celt';
}

/**
 * Parses the framing of one Opus packet (RFC 6716 §3) and checks every rule of §3.4.
 *
 * @param packet - one complete Opus packet (no container framing).
 * @returns the packet's configuration, frame layout and duration.
 * @throws {@link OpusPacketError} with `rule` naming the first rule the packet breaks.
 */
export function parseOpusPacket(packet: Uint8Array): OpusPacketInfo {
  const frameSizes: number[] = [];
  const rule = scan(packet, frameSizes);
  if (rule !== undefined) throw new OpusPacketError(rule, scanDetail);
  return buildInfo(packet, frameSizes);
}

/** Assembles the result of a successful `scan`. */
function buildInfo(packet: Uint8Array, frameSizes: number[]): OpusPacketInfo {
  const toc = packet[0] as number;
  const config = toc >> 3;
  const frameSamples = FRAME_SAMPLES[config] as number;
  const samples = frameSamples * scanFrameCount;
  return {
    config,
    mode: modeOf(config),
    bandwidth: BANDWIDTHS[config] as OpusPacketInfo['bandwidth'],
    stereo: (toc & 4) !== 0,
    code: (toc & 3) as OpusPacketInfo['code'],
    frameCount: scanFrameCount,
    frameSamples,
    samples,
    durationMs: samples / 48,
    frameSizes,
    paddingBytes: scanPadding,
  };
}

/**
 * Like {@link parseOpusPacket} but returns `undefined` instead of throwing.
 *
 * @param packet - one complete Opus packet.
 */
export function tryParseOpusPacket(packet: Uint8Array): OpusPacketInfo | undefined {
  const frameSizes: number[] = [];
  if (scan(packet, frameSizes) !== undefined) return undefined;
  return buildInfo(packet, frameSizes);
}

/**
 * Samples (at 48 kHz) in a packet, read from the TOC byte and, for code 3, the frame count byte
 * only. It does not check frame lengths; use {@link isGatewaySafe} for that.
 *
 * @remarks Allocates nothing unless it throws: this runs for every received frame (jitter
 *   buffer, recorder).
 * @throws {@link OpusPacketError} `empty`, `code3-count-missing`, `code3-zero-frames` or
 *   `code3-over-120ms` when the duration cannot be known or breaks RFC 6716 §3.4 R5.
 */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length < 1) throw new OpusPacketError('empty', 'a packet needs at least the TOC byte');
  const toc = packet[0] as number;
  const fs = FRAME_SAMPLES[toc >> 3] as number;
  const code = toc & 3;
  if (code === 0) return fs;
  if (code !== 3) return fs * 2;
  if (packet.length < 2) throw new OpusPacketError('code3-count-missing', 'code 3 needs a frame count byte');
  const m = (packet[1] as number) & 0x3f;
  if (m === 0) throw new OpusPacketError('code3-zero-frames', 'frame count M is 0');
  if (m * fs > MAX_PACKET_SAMPLES) {
    throw new OpusPacketError('code3-over-120ms', `${m} frames of ${fs / 48} ms exceed 120 ms`);
  }
  return fs * m;
}

/** Rule broken by `packet` for the gateway at `frameDurationMs`, or undefined. No allocation. */
function gatewayRule(packet: Uint8Array, frameDurationMs: number): OpusPacketRule | undefined {
  const len = packet.length;
  // docs/platform.md §A3.2: the gateway kills the session below 2 and above 3825 bytes.
  if (len === 0) return fail('empty', 'the gateway rejects empty frames');
  if (len < 2) return fail('too-short', `${len}-byte packet; the gateway needs at least 2 bytes`);
  if (len > GATEWAY_MAX_PACKET_BYTES) return fail('too-long', `${len} bytes > ${GATEWAY_MAX_PACKET_BYTES}`);
  const rule = scan(packet, undefined);
  if (rule !== undefined) return rule;
  // docs/platform.md §A3.4: the gateway times every message as frame_duration_ms, never the TOC.
  const samples = (FRAME_SAMPLES[(packet[0] as number) >> 3] as number) * scanFrameCount;
  if (samples !== frameDurationMs * 48) {
    return fail('duration-mismatch', `packet lasts ${samples / 48} ms but the session uses ${frameDurationMs} ms`);
  }
  return undefined;
}

/**
 * True when the gateway will accept `packet` on a session whose `frame_duration_ms` is
 * `frameDurationMs` and listeners will time it correctly: the full RFC 6716 §3 rules hold,
 * `2 ≤ length ≤ 3825` (docs/platform.md §A3.2), and the packet lasts exactly `frameDurationMs` (§A3.4).
 *
 * @remarks Allocates nothing when the packet is safe (only a rejection builds its reason);
 *   cheap enough for every published frame.
 */
export function isGatewaySafe(packet: Uint8Array, frameDurationMs: number): boolean {
  return gatewayRule(packet, frameDurationMs) === undefined;
}

/**
 * {@link isGatewaySafe} that explains itself: returns the parsed packet or throws.
 *
 * @throws {@link OpusPacketError} with the broken rule (`too-short`, `too-long`,
 *   `duration-mismatch` or an RFC 6716 rule).
 */
export function assertGatewaySafe(packet: Uint8Array, frameDurationMs: number): OpusPacketInfo {
  const rule = gatewayRule(packet, frameDurationMs);
  if (rule !== undefined) throw new OpusPacketError(rule, scanDetail);
  return parseOpusPacket(packet);
}
