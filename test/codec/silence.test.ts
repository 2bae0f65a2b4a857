import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isGatewaySafe, parseOpusPacket } from '../../src/codec/opus-packet.js';
import { isDtxPacket, SILENCE_FRAME_DURATIONS, silencePacket } from '../../src/codec/silence.js';
import { InvalidInputError } from '../../src/errors.js';

const require = createRequire(import.meta.url);
type Decoder = { decode(b: Buffer): Buffer; encode(b: Buffer): Buffer };
const { OpusEncoder } = require('@discordjs/opus') as { OpusEncoder: new (rate: number, ch: number) => Decoder };

function pcm(buf: Buffer): Int16Array {
  return new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
}

describe('silencePacket', () => {
  for (const channels of [1, 2] as const) {
    for (const ms of SILENCE_FRAME_DURATIONS) {
      it(`${channels} ch ${ms} ms: valid, ≥ 3 bytes, gateway-safe, decodes to silence of the right length`, () => {
        const p = silencePacket(channels, ms);
        expect(p.length).toBeGreaterThanOrEqual(3);
        expect(isDtxPacket(p)).toBe(false);
        const info = parseOpusPacket(p);
        expect(info.durationMs).toBe(ms);
        expect(info.stereo).toBe(channels === 2);
        expect(isGatewaySafe(p, ms)).toBe(true);
        const dec = new OpusEncoder(48000, channels);
        // Prime the decoder with loud audio first: silence must still come out as silence.
        const loud = Buffer.alloc(960 * 2 * channels);
        for (let i = 0; i < 960 * channels; i++) loud.writeInt16LE(Math.round(12000 * Math.sin(i / 5)), i * 2);
        dec.decode(dec.encode(loud));
        let out = pcm(dec.decode(Buffer.from(p)));
        expect(out.length).toBe(ms * 48 * channels);
        // A few frames later the CELT overlap from the loud frame is gone: exact digital zero.
        for (let i = 0; i < 3; i++) out = pcm(dec.decode(Buffer.from(p)));
        expect(Math.max(...out.map(Math.abs))).toBe(0);
      });
    }
  }

  it('returns copies the caller may modify', () => {
    const a = silencePacket(1, 20);
    a[1] = 0;
    expect(Array.from(silencePacket(1, 20))).toEqual([0xf8, 0xff, 0xfe]);
  });

  it('rejects durations and channel counts a session cannot use', () => {
    expect(() => silencePacket(1, 30)).toThrow(InvalidInputError);
    expect(() => silencePacket(3 as 1, 20)).toThrow(InvalidInputError);
  });
});

describe('isDtxPacket', () => {
  it('is true for ≤ 2 bytes only', () => {
    expect(isDtxPacket(new Uint8Array(0))).toBe(true);
    expect(isDtxPacket(Uint8Array.of(0xfc))).toBe(true);
    expect(isDtxPacket(Uint8Array.of(0xdc, 0))).toBe(true);
    expect(isDtxPacket(Uint8Array.of(0xf8, 0xff, 0xfe))).toBe(false);
  });
});
