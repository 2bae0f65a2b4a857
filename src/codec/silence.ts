/**
 * Silence frames for filler (session start, idle periods; docs/platform.md §A4.2–4.3) and DTX
 * detection (§A3.3).
 *
 * Every packet here is a CELT fullband packet whose frames are the two bytes `ff fe`. CELT reads
 * the silence flag as its first range-coded symbol (RFC 6716 §4.3, Table 56, "silence" with
 * probability 1/32768); `ff fe` decodes that flag as 1, so the decoder outputs digital zero and
 * skips the rest of the frame. CELT only has 2.5/5/10/20 ms frames (§3.1), so 40 and 60 ms are
 * code-3 CBR packets (§3.2.5) of two and three 20 ms silent frames.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

// CELT FB configs (RFC 6716 §3.1 Table 2): 28 = 2.5 ms, 29 = 5 ms, 30 = 10 ms, 31 = 20 ms.
const CELT_FB_CONFIG: Readonly<Record<number, number>> = { 2.5: 28, 5: 29, 10: 30, 20: 31 };

/** Frame durations for which {@link silencePacket} has a packet. */
export const SILENCE_FRAME_DURATIONS: readonly number[] = [2.5, 5, 10, 20, 40, 60];

const SILENT_CELT_FRAME = [0xff, 0xfe] as const;

function build(channels: 1 | 2, frameDurationMs: number): Uint8Array {
  const stereo = channels === 2 ? 0x04 : 0;
  const config = CELT_FB_CONFIG[frameDurationMs];
  if (config !== undefined) return Uint8Array.of((config << 3) | stereo, ...SILENT_CELT_FRAME);
  // Code 3, CBR, no padding: |v=0|p=0|M| then M equal frames.
  const m = frameDurationMs / 20;
  const out = [(31 << 3) | stereo | 3, m];
  for (let i = 0; i < m; i++) out.push(...SILENT_CELT_FRAME);
  return Uint8Array.from(out);
}

const cache = new Map<string, Uint8Array>();

/**
 * A valid Opus packet of exactly `frameDurationMs` that decodes to digital silence.
 *
 * @param channels - 1 or 2; sets the TOC stereo flag so a stereo decoder stays in stereo.
 * @param frameDurationMs - 2.5, 5, 10, 20, 40 or 60.
 * @returns a fresh copy (3 bytes, or 6/8 bytes for 40/60 ms), safe for the caller to keep.
 * @remarks Always ≥ 3 bytes: the gateway kills sessions on 1-byte frames and receivers drop
 *   ≤ 2-byte frames as DTX (docs/platform.md §A3.3), so filler must be larger than that.
 * @throws {@link InvalidInputError} for another channel count or duration.
 */
export function silencePacket(channels: 1 | 2, frameDurationMs: number): Uint8Array {
  if (channels !== 1 && channels !== 2)
    throw new InvalidInputError(`silencePacket: channels must be 1 or 2, got ${channels}`);
  if (!SILENCE_FRAME_DURATIONS.includes(frameDurationMs)) {
    throw new InvalidInputError(
      `silencePacket: frame duration ${frameDurationMs} ms is not one of ${SILENCE_FRAME_DURATIONS.join(', ')}`,
    );
  }
  const key = `${channels}:${frameDurationMs}`;
  let p = cache.get(key);
  if (!p) {
    p = build(channels, frameDurationMs);
    cache.set(key, p);
  }
  return p.slice();
}

/**
 * True for a DTX / "no data" packet: ≤ 2 bytes (a bare TOC or TOC + one byte, RFC 6716 §3.2.1).
 * The gateway rejects 0–1 byte frames and echo-bot drops every frame of ≤ 2 bytes
 * (docs/platform.md §A3.3, §A5.1), so such packets are never re-published or recorded as audio.
 */
export function isDtxPacket(packet: Uint8Array): boolean {
  return packet.length <= 2;
}
