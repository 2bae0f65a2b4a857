/**
 * TOC-only Opus packet timing (RFC 6716 §3.1), kept inside the jitter folder so the buffer stays a
 * leaf with no dependency on the full packet parser: the buffer needs a packet's duration and its
 * stream shape, nothing else, and must never throw on the tiny or odd packets egress carries (§A5.1).
 * @packageDocumentation
 */

/** Samples per frame at 48 kHz for each TOC config (RFC 6716 §3.1, Table 2). */
const FRAME_SAMPLES: readonly number[] = [
  // SILK NB, MB, WB: 10, 20, 40, 60 ms
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
  // Hybrid SWB, FB: 10, 20 ms
  480, 960, 480, 960,
  // CELT NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/**
 * Duration of an Opus packet in 48 kHz samples, from its TOC byte (and the frame-count byte for
 * code 3). Returns `undefined` for an empty packet or a code 3 packet without its count byte or
 * longer than 120 ms. A 1-byte packet (TOC only, a DTX/PLC marker) counts as one frame.
 */
export function tocSamples(packet: Uint8Array): number | undefined {
  if (packet.length === 0) return undefined;
  const toc = packet[0]!;
  const frame = FRAME_SAMPLES[toc >> 3]!;
  const code = toc & 0x03;
  if (code === 0) return frame;
  if (code === 1 || code === 2) return frame * 2;
  if (packet.length < 2) return undefined;
  const count = packet[1]! & 0x3f;
  if (count === 0 || frame * count > 5760) return undefined;
  return frame * count;
}

/** The part of a TOC byte that identifies a stream's shape: config and stereo bit (RFC 6716 §3.1). */
export function tocShape(packet: Uint8Array): number {
  return packet.length === 0 ? -1 : packet[0]! & 0xfc;
}

/** True for the ≤ 2-byte packets a DTX sender emits during silence (docs/platform.md §A3.3, §A5.2). */
export function isDtxSized(packet: Uint8Array): boolean {
  return packet.length <= 2;
}
