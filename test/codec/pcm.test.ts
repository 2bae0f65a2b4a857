import { describe, expect, it } from 'vitest';
import {
  applyGain,
  applyRamp,
  f32ToS16,
  fadeIn,
  fadeOut,
  mixInto,
  monoToStereo,
  Resampler,
  s16ToF32,
  softClipSample,
  stereoToMono,
} from '../../src/codec/pcm.js';
import { InvalidInputError } from '../../src/errors.js';

function tone(rate: number, hz: number, seconds: number, amp = 0.5): Int16Array {
  const n = Math.round(rate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * 32767 * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

/** Normalised correlation of `a` with an ideal sine of `hz` at 48 kHz, over [from, to). */
function sineCorrelation(a: Int16Array, hz: number, from: number, to: number, stride = 1, offset = 0): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = from; i < to; i++) {
    const x = a[i * stride + offset]!;
    const y = Math.sin((2 * Math.PI * hz * i) / 48000);
    xy += x * y;
    xx += x * x;
    yy += y * y;
  }
  return xy / Math.sqrt(xx * yy);
}

describe('applyGain', () => {
  it('saturates instead of wrapping and leaves gain 1 untouched', () => {
    const s = Int16Array.from([1000, -1000, 30000, -30000]);
    applyGain(s, 2);
    expect([...s]).toEqual([2000, -2000, 32767, -32768]);
    const t = Int16Array.from([5, -7]);
    applyGain(t, 1);
    expect([...t]).toEqual([5, -7]);
    const f = Float32Array.from([0.5, -0.25]);
    applyGain(f, 0.5);
    expect([...f]).toEqual([0.25, -0.125]);
  });
  it('rejects negative or non-finite gains with a typed error', () => {
    expect(() => applyGain(new Int16Array(2), -1)).toThrow(InvalidInputError);
    expect(() => applyGain(new Int16Array(2), Number.NaN)).toThrow(InvalidInputError);
  });
});

describe('mixInto', () => {
  it('sums quiet inputs exactly (below the knee the clipper is the identity)', () => {
    const out = new Int16Array(3);
    mixInto(out, [Int16Array.from([100, -200, 300]), Int16Array.from([1, 2])]);
    expect([...out]).toEqual([101, -198, 300]);
  });
  it('never wraps around and stays monotonic above the knee', () => {
    const levels = [20000, 25000, 30000, 32767];
    const results: number[] = [];
    for (const l of levels) {
      const out = new Int16Array(2);
      mixInto(out, [Int16Array.from([l, -l]), Int16Array.from([l, -l]), Int16Array.from([l, -l])]);
      expect(out[0]).toBeGreaterThan(0);
      expect(out[1]).toBeLessThan(0);
      expect(Math.abs(out[0]! + out[1]!)).toBeLessThanOrEqual(1);
      results.push(out[0]!);
    }
    for (let i = 1; i < results.length; i++) expect(results[i]!).toBeGreaterThanOrEqual(results[i - 1]!);
    expect(results.at(-1)!).toBeLessThanOrEqual(32767);
  });
  it('hard-clips when softClip is off, and accepts out as one of the inputs', () => {
    const out = Int16Array.from([30000, 10]);
    mixInto(out, [out, Int16Array.from([30000, 5])], { softClip: false });
    expect([...out]).toEqual([32767, 15]);
  });
  it('soft clipper has unit slope at the knee and is bounded by 1', () => {
    const k = 0.8;
    const d = 1e-6;
    expect((softClipSample(k + d, k) - softClipSample(k, k)) / d).toBeCloseTo(1, 3);
    expect(softClipSample(100, k)).toBeLessThanOrEqual(1);
    expect(softClipSample(-100, k)).toBeGreaterThanOrEqual(-1);
  });
  it('rejects mixed sample types', () => {
    expect(() => mixInto(new Int16Array(2), [new Float32Array(2) as unknown as Int16Array])).toThrow(InvalidInputError);
  });
});

describe('channel and format conversion', () => {
  it('mono ↔ stereo', () => {
    const st = monoToStereo(Int16Array.from([1, -2, 3]));
    expect([...st]).toEqual([1, 1, -2, -2, 3, 3]);
    expect([...stereoToMono(Int16Array.from([10, 20, -10, -21]))]).toEqual([15, -16]);
    expect(() => stereoToMono(new Int16Array(3))).toThrow(InvalidInputError);
    const buf = new Int16Array(6);
    buf.set([4, 5, 6]);
    monoToStereo(buf.subarray(0, 3), buf);
    expect([...buf]).toEqual([4, 4, 5, 5, 6, 6]);
  });
  it('s16 ↔ f32 round-trips and saturates', () => {
    const s = Int16Array.from([-32768, -1, 0, 1, 32767]);
    expect([...f32ToS16(s16ToF32(s))]).toEqual([...s]);
    expect([...f32ToS16(Float32Array.from([2, -2, Number.NaN]))]).toEqual([32767, -32768, 0]);
  });
});

describe('ramps', () => {
  it('fade in/out are linear from 0 to 1 per sample frame (stereo)', () => {
    const s = new Int16Array(10).fill(1000);
    fadeIn(s, 2);
    expect([...s]).toEqual([0, 0, 250, 250, 500, 500, 750, 750, 1000, 1000]);
    const t = new Int16Array(5).fill(1000);
    fadeOut(t, 1);
    expect([...t]).toEqual([1000, 750, 500, 250, 0]);
  });
  it('equal-power in and out sum to constant power', () => {
    const a = new Float32Array(101).fill(1);
    const b = new Float32Array(101).fill(1);
    fadeIn(a, 1, 'equal-power');
    fadeOut(b, 1, 'equal-power');
    for (let i = 0; i < 101; i++) expect(a[i]! ** 2 + b[i]! ** 2).toBeCloseTo(1, 5);
  });
  it('applyRamp validates gains', () => {
    expect(() => applyRamp(new Int16Array(4), 1, -1, 1)).toThrow(InvalidInputError);
  });
});

describe('Resampler', () => {
  for (const rate of [8000, 16000, 22050, 24000, 32000, 44100]) {
    it(`${rate} Hz → 48 kHz: exact length, 1 kHz tone survives (corr > 0.99)`, () => {
      const input = tone(rate, 1000, 0.5);
      const r = new Resampler({ inputRate: rate, channels: 1 });
      const parts = [r.process(input), r.flush()];
      const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      expect(out.length).toBe(Resampler.outputLength(input.length, rate));
      expect(out.length).toBe(24000);
      // Skip the edges, where the input starts and ends abruptly.
      expect(sineCorrelation(out, 1000, 480, out.length - 480)).toBeGreaterThan(0.99);
    });
  }
  it('streaming in odd chunk sizes gives the same output as one call (stereo)', () => {
    const mono = tone(22050, 700, 0.3);
    const st = monoToStereo(mono);
    for (let i = 1; i < st.length; i += 2) st[i] = -st[i]!;
    const whole = new Resampler({ inputRate: 22050, channels: 2 });
    const a = [...whole.process(st), ...whole.flush()];
    const chunked = new Resampler({ inputRate: 22050, channels: 2 });
    const b: number[] = [];
    let pos = 0;
    const sizes = [2, 14, 6, 1000, 2, 502, 4096];
    let k = 0;
    while (pos < st.length) {
      const n = Math.min(sizes[k++ % sizes.length]!, st.length - pos);
      b.push(...chunked.process(st.subarray(pos, pos + n)));
      pos += n;
    }
    b.push(...chunked.flush());
    expect(b).toEqual(a);
    // Right channel is the negated left channel (within rounding).
    for (let i = 0; i < a.length; i += 2) expect(Math.abs(a[i]! + a[i + 1]!)).toBeLessThanOrEqual(1);
  });
  it('48 kHz input passes through; bad arguments are typed errors', () => {
    const r = new Resampler({ inputRate: 48000, channels: 1 });
    expect([...r.process(Int16Array.from([1, 2, 3]))]).toEqual([1, 2, 3]);
    expect(r.flush().length).toBe(0);
    expect(() => new Resampler({ inputRate: 0, channels: 1 })).toThrow(InvalidInputError);
    expect(() => new Resampler({ inputRate: 16000, channels: 3 as 1 })).toThrow(InvalidInputError);
    const s = new Resampler({ inputRate: 16000, channels: 2 });
    expect(() => s.process(new Int16Array(3))).toThrow(InvalidInputError);
    s.flush();
    expect(() => s.process(new Int16Array(2))).toThrow(InvalidInputError);
  });
  it('downsampling 96 kHz → 48 kHz rejects content above the new Nyquist', () => {
    const hi = tone(96000, 30000, 0.2, 0.5);
    const r = new Resampler({ inputRate: 96000, channels: 1 });
    const out = [...r.process(hi), ...r.flush()];
    let peak = 0;
    for (let i = 200; i < out.length - 200; i++) peak = Math.max(peak, Math.abs(out[i]!));
    expect(peak).toBeLessThan(0.01 * 16384);
  });
});
