import { describe, expect, it } from 'vitest';
import { OpusDecoder } from '../../src/codec/opus-decoder.js';
import { encoderBackend, type OpusFrameDuration, OpusEncoder } from '../../src/codec/opus-encoder.js';
import { isGatewaySafe, parseOpusPacket } from '../../src/codec/opus-packet.js';
import { ClosedError, InvalidInputError } from '../../src/errors.js';

function toneFrame(samples: number, channels: 1 | 2, hz: number, start: number): Int16Array {
  const out = new Int16Array(samples * channels);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(10000 * Math.sin((2 * Math.PI * hz * (start + i)) / 48000));
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

/** Best normalised cross-correlation of `decoded` (mono) with the tone over small lags (codec delay). */
function bestCorrelation(decoded: Int16Array, hz: number): number {
  let best = 0;
  for (let lag = 0; lag < 480; lag++) {
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let i = 4800; i < decoded.length; i++) {
      const x = decoded[i]!;
      const y = Math.sin((2 * Math.PI * hz * (i - lag)) / 48000);
      xy += x * y;
      xx += x * x;
      yy += y * y;
    }
    best = Math.max(best, xy / Math.sqrt(xx * yy));
  }
  return best;
}

describe('OpusEncoder', () => {
  it('loads the native backend here', () => {
    expect(encoderBackend()).toBe('native');
  });

  for (const backend of ['native', 'wasm'] as const) {
    it(`${backend}: encodes every frame duration into gateway-safe packets of that duration`, () => {
      for (const d of [2.5, 5, 10, 20, 40, 60] as OpusFrameDuration[]) {
        for (const channels of [1, 2] as const) {
          const enc = new OpusEncoder({ channels, frameDurationMs: d, backend });
          expect(enc.backend).toBe(backend);
          expect(enc.frameSamples).toBe(48 * d);
          for (let k = 0; k < 5; k++) {
            const p = enc.encode(toneFrame(enc.frameSamples, channels, 440, k * enc.frameSamples));
            const info = parseOpusPacket(p);
            expect(info.samples).toBe(enc.frameSamples);
            expect(info.stereo).toBe(channels === 2);
            if (d !== 2.5) expect(isGatewaySafe(p, d)).toBe(true);
            expect(p.length).toBeGreaterThanOrEqual(3);
          }
          enc.close();
        }
      }
    });

    it(`${backend}: a 1 kHz tone survives encode → decode (corr > 0.95)`, () => {
      const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20, bitrate: 64000, signal: 'music', backend });
      const dec = new OpusDecoder({ channels: 1 });
      const out = new Int16Array(960 * 50);
      for (let k = 0; k < 50; k++) out.set(dec.decode(enc.encode(toneFrame(960, 1, 1000, k * 960))), k * 960);
      enc.close();
      dec.close();
      expect(bestCorrelation(out, 1000)).toBeGreaterThan(0.95);
    });
  }

  it('never emits DTX-sized packets: digital silence and starved bitrates give ≥ 3-byte valid packets', () => {
    const enc = new OpusEncoder({ channels: 2, frameDurationMs: 20 });
    for (let k = 0; k < 100; k++) {
      const p = enc.encode(new Int16Array(1920));
      expect(p.length).toBeGreaterThanOrEqual(3);
      expect(isGatewaySafe(p, 20)).toBe(true);
    }
    enc.close();
    // At 2.5 ms and 6 kbit/s libopus returns 1-byte packets; they come back re-framed as code 3.
    const starved = new OpusEncoder({ channels: 1, frameDurationMs: 2.5, bitrate: 6000 });
    const dec = new OpusDecoder({ channels: 1 });
    for (let k = 0; k < 10; k++) {
      const p = starved.encode(toneFrame(120, 1, 440, k * 120));
      expect(p.length).toBeGreaterThanOrEqual(3);
      const info = parseOpusPacket(p);
      expect(info.samples).toBe(120);
      expect(dec.decode(p).length).toBe(120);
    }
    starved.close();
    dec.close();
  });

  it('applies bitrate, complexity, FEC and loss options (CBR-ish size tracks the bitrate)', () => {
    const sizes: number[] = [];
    for (const bitrate of [16000, 128000]) {
      const enc = new OpusEncoder({
        channels: 2,
        frameDurationMs: 20,
        bitrate,
        complexity: 5,
        fec: true,
        expectedLossPct: 10,
        signal: 'voice',
      });
      let total = 0;
      for (let k = 0; k < 50; k++) total += enc.encode(toneFrame(960, 2, 300 + k * 10, k * 960)).length;
      sizes.push(total / 50);
      enc.close();
    }
    expect(sizes[1]!).toBeGreaterThan(sizes[0]! * 3);
    expect(sizes[0]!).toBeLessThan((16000 / 8) * 0.02 * 1.5);
  });

  it('rejects wrong frame sizes, types and options with typed errors; close is idempotent', () => {
    const enc = new OpusEncoder({ channels: 2, frameDurationMs: 20 });
    expect(() => enc.encode(new Int16Array(960))).toThrow(InvalidInputError);
    expect(() => enc.encode(new Float32Array(1920) as unknown as Int16Array)).toThrow(InvalidInputError);
    enc.close();
    enc.close();
    expect(enc.closed).toBe(true);
    expect(() => enc.encode(new Int16Array(1920))).toThrow(ClosedError);
    expect(() => new OpusEncoder({ channels: 3 as 1, frameDurationMs: 20 })).toThrow(InvalidInputError);
    expect(() => new OpusEncoder({ channels: 1, frameDurationMs: 30 as 20 })).toThrow(InvalidInputError);
    expect(() => new OpusEncoder({ channels: 1, frameDurationMs: 20, bitrate: 10 })).toThrow(InvalidInputError);
    expect(() => new OpusEncoder({ channels: 1, frameDurationMs: 20, complexity: 11 })).toThrow(InvalidInputError);
    expect(() => new OpusEncoder({ channels: 1, frameDurationMs: 20, expectedLossPct: -1 })).toThrow(InvalidInputError);
  });

  it('a reused input buffer is re-read on every call (the cached Buffer view tracks its content)', () => {
    const reused = new Int16Array(960);
    const a = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    const b = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    for (let k = 0; k < 5; k++) {
      const f = toneFrame(960, 1, 300 + 200 * k, k * 960);
      reused.set(f);
      expect([...a.encode(reused)]).toEqual([...b.encode(f.slice())]);
    }
    a.close();
    b.close();
  });

  it('encodes from an Int16Array view at an offset without copying it first', () => {
    const backing = new Int16Array(1920 + 7);
    backing.set(toneFrame(960, 2, 440, 0), 7);
    const a = new OpusEncoder({ channels: 2, frameDurationMs: 20 });
    const b = new OpusEncoder({ channels: 2, frameDurationMs: 20 });
    expect([...a.encode(backing.subarray(7))]).toEqual([...b.encode(backing.slice(7))]);
    a.close();
    b.close();
  });
});
