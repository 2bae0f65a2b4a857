import { describe, expect, it } from 'vitest';
import {
  kWeightingFilters,
  LoudnessMeter,
  LoudnessNormalizer,
  measureLoudness,
  normalizationGain,
} from '../../src/codec/loudness.js';
import { InvalidInputError } from '../../src/errors.js';

function sine(hz: number, seconds: number, amp: number, channels: 1 | 2 = 1, rate = 48000, phase = 0): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n * channels);
  for (let i = 0; i < n; i++) {
    const v = amp * Math.sin((2 * Math.PI * hz * i) / rate + phase);
    for (let c = 0; c < channels; c++) out[i * channels + c] = v;
  }
  return out;
}

describe('K-weighting', () => {
  it('matches the BS.1770-4 coefficient table at 48 kHz', () => {
    const [shelf, hp] = kWeightingFilters(48000);
    expect(shelf.b0).toBeCloseTo(1.53512485958697, 7);
    expect(shelf.b1).toBeCloseTo(-2.69169618940638, 7);
    expect(shelf.b2).toBeCloseTo(1.19839281085285, 7);
    expect(shelf.a1).toBeCloseTo(-1.69065929318241, 7);
    expect(shelf.a2).toBeCloseTo(0.73248077421585, 7);
    expect(hp.a1).toBeCloseTo(-1.99004745483398, 7);
    expect(hp.a2).toBeCloseTo(0.99007225036621, 7);
  });
});

describe('integrated loudness', () => {
  it('a full-scale 997 Hz sine on one channel measures −3.01 LUFS (±0.5)', () => {
    const r = measureLoudness(sine(997, 5, 1), { channels: 1 });
    expect(Math.abs(r.integratedLufs - -3.01)).toBeLessThan(0.5);
  });
  it('the same sine on both channels is +3 dB louder (≈ 0 LUFS)', () => {
    const r = measureLoudness(sine(997, 5, 1, 2), { channels: 2 });
    expect(Math.abs(r.integratedLufs - 0)).toBeLessThan(0.5);
  });
  it('a −20 dBFS sine measures ≈ −23 LUFS, also at 44.1 kHz and from s16 input', () => {
    const amp = 10 ** (-20 / 20);
    expect(Math.abs(measureLoudness(sine(997, 4, amp), { channels: 1 }).integratedLufs - -23.01)).toBeLessThan(0.5);
    expect(
      Math.abs(
        measureLoudness(sine(997, 4, amp, 1, 44100), { channels: 1, sampleRate: 44100 }).integratedLufs - -23.01,
      ),
    ).toBeLessThan(0.5);
    const f = sine(997, 4, amp);
    const s = Int16Array.from(f, (v) => Math.round(v * 32767));
    expect(Math.abs(measureLoudness(s, { channels: 1 }).integratedLufs - -23.01)).toBeLessThan(0.5);
  });
  it('the absolute gate ignores silence and the relative gate ignores a much quieter passage', () => {
    const loud = sine(997, 3, 0.1);
    const alone = measureLoudness(loud, { channels: 1 }).integratedLufs;
    const withSilence = new Float32Array(loud.length * 2);
    withSilence.set(loud);
    // Ungated, doubling the length with silence would read 3 dB lower; only the few 400 ms blocks
    // straddling the edge may pull it down a little.
    expect(Math.abs(measureLoudness(withSilence, { channels: 1 }).integratedLufs - alone)).toBeLessThan(0.3);
    const withQuiet = new Float32Array(loud.length * 2);
    withQuiet.set(loud);
    withQuiet.set(sine(997, 3, 0.001), loud.length); // 40 dB down: under the −10 LU relative gate
    expect(Math.abs(measureLoudness(withQuiet, { channels: 1 }).integratedLufs - alone)).toBeLessThan(0.3);
  });
  it('silence is −Infinity, and streaming in chunks equals one call', () => {
    expect(measureLoudness(new Float32Array(48000), { channels: 1 }).integratedLufs).toBe(Number.NEGATIVE_INFINITY);
    const s = sine(440, 2, 0.3, 2);
    const whole = measureLoudness(s, { channels: 2 });
    const m = new LoudnessMeter({ channels: 2 });
    for (let i = 0; i < s.length; i += 1234) m.push(s.subarray(i, Math.min(s.length, i + 1234)));
    expect(m.result().integratedLufs).toBeCloseTo(whole.integratedLufs, 9);
  });
  it('rejects a length that is not a multiple of the channel count', () => {
    expect(() => measureLoudness(new Float32Array(3), { channels: 2 })).toThrow(InvalidInputError);
  });
});

describe('true peak', () => {
  it('finds the inter-sample peak of a fs/4 sine sampled at ±45° (sample peak −3 dB, true peak 0 dB)', () => {
    const s = sine(12000, 1, 1, 1, 48000, Math.PI / 4);
    const r = measureLoudness(s, { channels: 1 });
    expect(r.samplePeakDb).toBeCloseTo(-3.01, 1);
    expect(Math.abs(r.truePeakDb - 0)).toBeLessThan(0.5);
  });
});

describe('normalizationGain', () => {
  it('reaches the target, limited by the true-peak ceiling and the max boost', () => {
    expect(20 * Math.log10(normalizationGain({ measuredLufs: -26, truePeakDb: -12 }))).toBeCloseTo(10, 6);
    // +10 dB would put the peak at +1 dBTP: limited to −1 dBTP → +8 dB.
    expect(20 * Math.log10(normalizationGain({ measuredLufs: -26, truePeakDb: -9 }))).toBeCloseTo(8, 6);
    expect(20 * Math.log10(normalizationGain({ measuredLufs: -10, truePeakDb: -1 }, { targetLufs: -16 }))).toBeCloseTo(
      -6,
      6,
    );
    expect(20 * Math.log10(normalizationGain({ measuredLufs: -60, truePeakDb: -50 }))).toBeCloseTo(20, 6);
    expect(normalizationGain({ measuredLufs: Number.NEGATIVE_INFINITY, truePeakDb: Number.NEGATIVE_INFINITY })).toBe(1);
  });
});

describe('LoudnessNormalizer', () => {
  it('holds frames for the measuring window, then brings a −30 LUFS tone to −16 LUFS', () => {
    const amp = 10 ** ((-30 + 3.01) / 20);
    const pcm = Int16Array.from(sine(997, 4, amp, 2), (v) => Math.round(v * 32767));
    const n = new LoudnessNormalizer({ channels: 2, measureSeconds: 1 });
    const out: Int16Array[] = [];
    let firstOutputAt = -1;
    for (let i = 0, f = 0; i < pcm.length; i += 1920, f++) {
      const ready = n.push(pcm.slice(i, i + 1920));
      if (ready.length && firstOutputAt < 0) firstOutputAt = f;
      out.push(...ready);
    }
    out.push(...n.flush());
    expect(firstOutputAt).toBe(49); // 50 frames of 20 ms = 1 s measured first
    expect(out.length).toBe(200);
    const joined = new Int16Array(pcm.length);
    out.forEach((f, i) => joined.set(f, i * 1920));
    expect(Math.abs(measureLoudness(joined, { channels: 2 }).integratedLufs - -16)).toBeLessThan(0.5);
  });
  it('flushes a stream shorter than the window with the gain measured on it', () => {
    const n = new LoudnessNormalizer({ channels: 1 });
    const f = Int16Array.from(sine(997, 0.5, 0.01), (v) => Math.round(v * 32767));
    expect(n.push(f)).toEqual([]);
    expect(n.flush().length).toBe(1);
    expect(n.gain).toBeGreaterThan(1);
    expect(() => new LoudnessNormalizer({ channels: 1, measureSeconds: 0 })).toThrow(InvalidInputError);
  });
});
