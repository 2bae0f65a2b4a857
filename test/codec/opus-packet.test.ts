import { describe, expect, it } from 'vitest';
import {
  assertGatewaySafe,
  GATEWAY_MAX_PACKET_BYTES,
  isGatewaySafe,
  opusPacketSamples,
  parseOpusPacket,
  tryParseOpusPacket,
} from '../../src/codec/opus-packet.js';
import { OpusPacketError, type OpusPacketRule } from '../../src/errors.js';
import { prng } from '../helpers/fixtures.js';

/** RFC 6716 §3.1 Table 2, written out by hand as an independent oracle. */
const TABLE2: Array<[number, number, string, string, number]> = [
  // [first config, last config, mode, bandwidth, ms per frame for config%N index 0..]
  [0, 3, 'silk', 'nb', 10],
  [4, 7, 'silk', 'mb', 10],
  [8, 11, 'silk', 'wb', 10],
  [12, 13, 'hybrid', 'swb', 10],
  [14, 15, 'hybrid', 'fb', 10],
  [16, 19, 'celt', 'nb', 2.5],
  [20, 23, 'celt', 'wb', 2.5],
  [24, 27, 'celt', 'swb', 2.5],
  [28, 31, 'celt', 'fb', 2.5],
];
const SILK_MS = [10, 20, 40, 60];
const CELT_MS = [2.5, 5, 10, 20];

function toc(config: number, stereo: boolean, code: number): number {
  return (config << 3) | (stereo ? 4 : 0) | code;
}

/** RFC 6716 §3.2.1 frame length encoding. */
function lenField(n: number): number[] {
  if (n < 252) return [n];
  const first = 252 + (n & 3);
  return [first, (n - first) / 4];
}

function expectRule(packet: number[] | Uint8Array, rule: OpusPacketRule): void {
  const p = packet instanceof Uint8Array ? packet : Uint8Array.from(packet);
  try {
    parseOpusPacket(p);
  } catch (err) {
    expect(err).toBeInstanceOf(OpusPacketError);
    expect((err as OpusPacketError).rule).toBe(rule);
    expect((err as OpusPacketError).code).toBe('ARGON_VOICE_INVALID_PACKET');
    expect(tryParseOpusPacket(p)).toBeUndefined();
    return;
  }
  throw new Error(`expected rule ${rule}`);
}

describe('parseOpusPacket: TOC (RFC 6716 §3.1)', () => {
  it('maps every config to mode, bandwidth and frame duration', () => {
    for (const [lo, hi, mode, bw] of TABLE2) {
      for (let c = lo; c <= hi; c++) {
        for (const stereo of [false, true]) {
          const info = parseOpusPacket(Uint8Array.of(toc(c, stereo, 0), 1, 2, 3));
          const ms = mode === 'silk' ? SILK_MS[c % 4] : mode === 'hybrid' ? [10, 20][c % 2] : CELT_MS[c % 4];
          expect(info).toMatchObject({
            config: c,
            mode,
            bandwidth: bw,
            stereo,
            code: 0,
            frameCount: 1,
            durationMs: ms,
          });
          expect(info.frameSamples).toBe((ms as number) * 48);
          expect(info.frameSizes).toEqual([3]);
        }
      }
    }
  });
});

describe('parseOpusPacket: frame codes (RFC 6716 §3.2)', () => {
  it('code 0: one frame, up to 1275 bytes, TOC-only is a 0-byte (DTX) frame', () => {
    expect(parseOpusPacket(Uint8Array.of(0xf8)).frameSizes).toEqual([0]);
    expect(parseOpusPacket(new Uint8Array(1276).fill(0xf8, 0, 1)).frameSizes).toEqual([1275]);
    expectRule(new Uint8Array(1277), 'frame-too-large');
  });

  it('code 1: two equal frames; odd payload is rejected (R3)', () => {
    const info = parseOpusPacket(Uint8Array.of(toc(31, false, 1), 1, 2, 3, 4));
    expect(info).toMatchObject({ code: 1, frameCount: 2, samples: 1920, frameSizes: [2, 2] });
    expectRule([toc(31, false, 1), 1, 2, 3], 'code1-odd-length');
    expect(parseOpusPacket(new Uint8Array(1 + 2550).fill(toc(1, false, 1), 0, 1)).frameSizes).toEqual([1275, 1275]);
    expectRule(new Uint8Array(1 + 2552).fill(toc(1, false, 1), 0, 1), 'frame-too-large');
  });

  it('code 2: 1- and 2-byte first-frame lengths (§3.2.1, R4)', () => {
    const one = parseOpusPacket(Uint8Array.of(toc(16, false, 2), 2, 9, 9, 7, 7, 7));
    expect(one.frameSizes).toEqual([2, 3]);
    for (const n of [251, 252, 255, 256, 300, 1275]) {
      const p = Uint8Array.from([toc(31, true, 2), ...lenField(n), ...new Array(n + 10).fill(5)]);
      expect(parseOpusPacket(p).frameSizes).toEqual([n, 10]);
    }
    expectRule([toc(31, false, 2)], 'code2-length-field');
    expectRule([toc(31, false, 2), 253], 'code2-length-field');
    expectRule([toc(31, false, 2), 5, 1, 2], 'code2-length-field');
    expectRule(Uint8Array.from([toc(31, false, 2), 0, ...new Array(1276).fill(1)]), 'frame-too-large');
  });

  it('code 3 CBR: M frames, remaining bytes must divide by M (R6)', () => {
    const p = Uint8Array.of(toc(31, false, 3), 3, 1, 1, 2, 2, 3, 3);
    expect(parseOpusPacket(p)).toMatchObject({ frameCount: 3, frameSizes: [2, 2, 2], samples: 2880, paddingBytes: 0 });
    expectRule([toc(31, false, 3), 3, 1, 1, 2, 2, 3], 'code3-cbr-length');
    expectRule([toc(31, false, 3)], 'code3-count-missing');
    expectRule([toc(31, false, 3), 0], 'code3-zero-frames');
  });

  it('code 3 VBR: M-1 length fields that must fit (R7)', () => {
    const p = Uint8Array.from([toc(20, false, 3), 0x80 | 3, 1, ...lenField(300), 9, ...new Array(300).fill(8), 7, 7]);
    expect(parseOpusPacket(p).frameSizes).toEqual([1, 300, 2]);
    expectRule([toc(20, false, 3), 0x80 | 3, 1], 'code3-vbr-lengths');
    expectRule([toc(20, false, 3), 0x80 | 2, 5, 1, 2], 'code3-vbr-lengths');
    expectRule([toc(20, false, 3), 0x80 | 2, 253], 'code3-vbr-lengths');
  });

  it('code 3 padding: 255 adds 254 and continues; padding must fit', () => {
    // Padding 254 + 254 + 2 = 510 bytes, then one CBR frame of 4 bytes.
    const pad = 510;
    const p = Uint8Array.from([toc(31, false, 3), 0x40 | 1, 255, 255, 2, 1, 2, 3, 4, ...new Array(pad).fill(0)]);
    const info = parseOpusPacket(p);
    expect(info.paddingBytes).toBe(pad);
    expect(info.frameSizes).toEqual([4]);
    expect(parseOpusPacket(Uint8Array.of(toc(31, false, 3), 0x40 | 1, 0, 1, 2)).paddingBytes).toBe(0);
    expectRule([toc(31, false, 3), 0x40 | 1, 255], 'code3-padding');
    expectRule([toc(31, false, 3), 0x40 | 1, 5, 1, 2], 'code3-padding');
  });

  it('enforces the 120 ms packet limit (R5)', () => {
    expect(parseOpusPacket(Uint8Array.of(toc(3, false, 3), 2, 1, 1)).durationMs).toBe(120);
    expectRule([toc(3, false, 3), 3, 1, 1, 1], 'code3-over-120ms');
    expect(parseOpusPacket(Uint8Array.of(toc(16, false, 3), 48)).durationMs).toBe(120);
    expectRule([toc(16, false, 3), 49], 'code3-over-120ms');
    expectRule([], 'empty');
  });
});

describe('opusPacketSamples', () => {
  it('reads the duration from the TOC and count byte only', () => {
    expect(opusPacketSamples(Uint8Array.of(0xf8))).toBe(960);
    expect(opusPacketSamples(Uint8Array.of(toc(16, false, 1)))).toBe(240); // lengths unchecked
    expect(opusPacketSamples(Uint8Array.of(toc(2, true, 3), 0xc0 | 2))).toBe(3840);
    for (const [p, rule] of [
      [[], 'empty'],
      [[toc(1, false, 3)], 'code3-count-missing'],
      [[toc(1, false, 3), 0x80], 'code3-zero-frames'],
      [[toc(3, false, 3), 3], 'code3-over-120ms'],
    ] as const) {
      expect(() => opusPacketSamples(Uint8Array.from(p))).toThrow(expect.objectContaining({ rule }));
    }
  });
});

describe('gateway safety (docs/platform.md §A3.2–§A3.5)', () => {
  const frame20 = Uint8Array.of(0xf8, 0xff, 0xfe);
  it('accepts a well-formed packet of the session duration', () => {
    expect(isGatewaySafe(frame20, 20)).toBe(true);
    expect(assertGatewaySafe(frame20, 20).durationMs).toBe(20);
    expect(isGatewaySafe(Uint8Array.of(0xf8, 0), 20)).toBe(true); // 2 bytes is the gateway minimum
  });
  it('rejects sizes the gateway kills the session for', () => {
    const cases: Array<[Uint8Array, OpusPacketRule]> = [
      [new Uint8Array(0), 'empty'],
      [Uint8Array.of(0xf8), 'too-short'],
      [new Uint8Array(GATEWAY_MAX_PACKET_BYTES + 1).fill(toc(31, false, 3), 0, 1), 'too-long'],
    ];
    for (const [p, rule] of cases) {
      expect(isGatewaySafe(p, 20)).toBe(false);
      expect(() => assertGatewaySafe(p, 20)).toThrow(expect.objectContaining({ rule }));
    }
  });
  it('rejects packets breaking RFC rules the gateway itself ignores', () => {
    const odd = Uint8Array.of(toc(31, false, 1), 1, 2, 3);
    expect(isGatewaySafe(odd, 40)).toBe(false);
    expect(() => assertGatewaySafe(odd, 40)).toThrow(expect.objectContaining({ rule: 'code1-odd-length' }));
  });
  it('rejects a duration that differs from frame_duration_ms', () => {
    expect(isGatewaySafe(frame20, 60)).toBe(false);
    expect(() => assertGatewaySafe(frame20, 10)).toThrow(expect.objectContaining({ rule: 'duration-mismatch' }));
    const threeFrames = Uint8Array.of(toc(31, false, 3), 3, 1, 1, 1);
    expect(isGatewaySafe(threeFrames, 60)).toBe(true);
    expect(isGatewaySafe(Uint8Array.of(toc(28, false, 0), 1, 2), 2.5)).toBe(true);
  });
});

/** Header bytes of an accepted packet, recomputed from its bytes (oracle for the fuzz test). */
function headerBytes(p: Uint8Array, code: number, sizes: number[]): number {
  if (code < 2) return 1;
  if (code === 2) return 1 + lenField(sizes[0] as number).length;
  let h = 2;
  if ((p[1] as number) & 0x40) {
    let i = 2;
    while (p[i] === 255) i++;
    h += i - 2 + 1;
  }
  if ((p[1] as number) & 0x80) for (const n of sizes.slice(0, -1)) h += lenField(n).length;
  return h;
}

describe('fuzz (seeded)', () => {
  it('random bytes: only OpusPacketError, and accepted packets account for every byte', () => {
    const rnd = prng(0xc0ffee);
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(rnd() ** 2 * 600);
      const p = new Uint8Array(len);
      for (let j = 0; j < len; j++) p[j] = Math.floor(rnd() * 256);
      // Bias the count byte toward small M so code 3 is often valid.
      if (len > 1 && (p[0] as number & 3) === 3 && rnd() < 0.7)
        p[1] = ((p[1] as number) & 0xc0) | (1 + Math.floor(rnd() * 4));
      let info: ReturnType<typeof parseOpusPacket> | undefined;
      try {
        info = parseOpusPacket(p);
      } catch (err) {
        expect(err).toBeInstanceOf(OpusPacketError);
        expect(tryParseOpusPacket(p)).toBeUndefined();
        continue;
      }
      accepted++;
      const sum = info.frameSizes.reduce((a, b) => a + b, 0);
      expect(sum + headerBytes(p, info.code, info.frameSizes) + info.paddingBytes).toBe(len);
      expect(info.frameSizes.length).toBe(info.frameCount);
      expect(Math.max(...info.frameSizes)).toBeLessThanOrEqual(1275);
      expect(info.samples).toBeLessThanOrEqual(5760);
      expect(opusPacketSamples(p)).toBe(info.samples);
      expect(isGatewaySafe(p, info.durationMs)).toBe(len >= 2 && len <= GATEWAY_MAX_PACKET_BYTES);
    }
    expect(accepted).toBeGreaterThan(3000);
  });

  it('constructed code-3 packets round-trip their frame sizes', () => {
    const rnd = prng(42);
    for (let i = 0; i < 3000; i++) {
      const config = Math.floor(rnd() * 32);
      const fs = parseOpusPacket(Uint8Array.of(config << 3)).frameSamples;
      const m = 1 + Math.floor(rnd() * Math.min(6, 5760 / fs));
      const vbr = rnd() < 0.5;
      const pad = rnd() < 0.5 ? Math.floor(rnd() * 700) : -1;
      const sizes = vbr
        ? Array.from({ length: m }, () => Math.floor(rnd() * 400))
        : new Array<number>(m).fill(Math.floor(rnd() * 300));
      const bytes = [toc(config, rnd() < 0.5, 3), (vbr ? 0x80 : 0) | (pad >= 0 ? 0x40 : 0) | m];
      if (pad >= 0) {
        let left = pad;
        while (left >= 255) {
          bytes.push(255);
          left -= 254;
        }
        bytes.push(left);
      }
      if (vbr) for (const n of sizes.slice(0, -1)) bytes.push(...lenField(n));
      for (const n of sizes) for (let k = 0; k < n; k++) bytes.push(k & 0xff);
      for (let k = 0; k < Math.max(pad, 0); k++) bytes.push(0);
      const info = parseOpusPacket(Uint8Array.from(bytes));
      expect(info.frameSizes).toEqual(sizes);
      expect(info.paddingBytes).toBe(Math.max(pad, 0));
      expect(info.samples).toBe(fs * m);
    }
  });
});
