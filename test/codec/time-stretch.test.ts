// Pitch-synchronous accelerate/expand of one 48 kHz s16 frame: length change, lag choice,
// continuity at the splice, stereo, degenerate frames and argument errors. No timing assertions.
import { describe, expect, it } from 'vitest';
import { accelerate, expand, type StretchResult } from '../../src/codec/time-stretch.js';
import { seededRandom } from '../../src/util/random.js';

const FRAME = 960; // 20 ms at 48 kHz
const FS = 48000;

function sine(samples: number, hz: number, amp = 10000, phase = 0.3): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * i) / FS + phase));
  return out;
}

/** A 200 Hz (240-sample period) harmonic sum with decaying partials and seeded phases. */
function voiceLike(samples: number, seed: number): Int16Array {
  const rnd = seededRandom(seed);
  const phases = Array.from({ length: 8 }, () => rnd() * 2 * Math.PI);
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    let v = 0;
    for (let h = 1; h <= 8; h++) v += (6000 / h) * Math.sin((2 * Math.PI * 200 * h * i) / FS + phases[h - 1]!);
    out[i] = Math.round(v);
  }
  return out;
}

function noise(samples: number, seed: number, amp = 32767): Int16Array {
  const rnd = seededRandom(seed);
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) out[i] = Math.round((rnd() * 2 - 1) * amp);
  return out;
}

function interleave(left: Int16Array, right: Int16Array): Int16Array {
  const out = new Int16Array(left.length * 2);
  for (let i = 0; i < left.length; i++) {
    out[2 * i] = left[i]!;
    out[2 * i + 1] = right[i]!;
  }
  return out;
}

function channel(pcm: Int16Array, channels: number, c: number): Int16Array {
  const out = new Int16Array(pcm.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = pcm[i * channels + c]!;
  return out;
}

function maxStep(x: Int16Array): number {
  let m = 0;
  for (let i = 1; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - x[i - 1]!));
  return m;
}

function peak(x: Int16Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

/** Distance from `lag` to the nearest non-zero multiple of `period`. */
function offMultiple(lag: number, period: number): number {
  const k = Math.max(1, Math.round(lag / period));
  return Math.abs(lag - k * period);
}

/** Length of the common prefix and of the common suffix of two arrays. */
function sharedEnds(a: Int16Array, b: Int16Array): { head: number; tail: number } {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length && tail < b.length && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { head, tail };
}

/** Runs `fn` and checks the input is untouched and the output is one fresh, exact-size array. */
function run(pcm: Int16Array, fn: (x: Int16Array) => StretchResult, channels = 1): StretchResult {
  const before = pcm.slice();
  const r = fn(pcm);
  expect(pcm).toEqual(before);
  expect(r.pcm).not.toBe(pcm);
  expect(r.pcm.buffer).not.toBe(pcm.buffer);
  expect(r.pcm.byteOffset).toBe(0);
  expect(r.pcm.buffer.byteLength).toBe(r.pcm.length * 2);
  expect(r.pcm.length).toBe(pcm.length + r.deltaSamples * channels);
  expect(r.correlation).toBeGreaterThanOrEqual(-1.000001);
  expect(r.correlation).toBeLessThanOrEqual(1.000001);
  return r;
}

describe('accelerate', () => {
  it.each([
    ['200 Hz sine', sine(FRAME, 200)],
    ['voice-like harmonic sum', voiceLike(FRAME, 7)],
  ])('removes whole 240-sample periods from a %s without a discontinuity', (_name, x) => {
    const r = run(x, (p) => accelerate(p, 1, 480));
    expect(r.deltaSamples).toBeLessThan(0);
    expect(-r.deltaSamples).toBeLessThanOrEqual(480);
    expect(offMultiple(-r.deltaSamples, 240)).toBeLessThanOrEqual(4);
    expect(r.pcm.length).toBe(FRAME + r.deltaSamples);
    expect(r.correlation).toBeGreaterThan(0.9);
    expect(maxStep(r.pcm)).toBeLessThanOrEqual(1.1 * maxStep(x) + 4);
    // The untouched head and tail of the frame survive exactly; only |delta| samples are crossfaded.
    const { head, tail } = sharedEnds(x, r.pcm);
    expect(head + tail).toBeGreaterThanOrEqual(r.pcm.length - -r.deltaSamples);
  });

  it('finds a period that is not a multiple of the decimation factor', () => {
    const x = sine(FRAME, FS / 274, 12000); // 274-sample period: between the coarse lags 272 and 276
    const r = run(x, (p) => accelerate(p, 1, 300));
    expect(r.deltaSamples).toBe(-274);
    expect(r.correlation).toBeGreaterThan(0.95);
    expect(maxStep(r.pcm)).toBeLessThanOrEqual(1.1 * maxStep(x) + 4);
  });

  it('prefers the largest multiple of the period that fits', () => {
    const x = sine(FRAME, 300); // 160-sample period: 160, 320 and 480 all match
    const r = run(x, (p) => accelerate(p, 1, 480));
    expect(Math.abs(-r.deltaSamples - 480)).toBeLessThanOrEqual(4);
    expect(r.correlation).toBeGreaterThan(0.99);
    // A gliding pitch (290 -> 310 Hz): one period correlates best, but three are within the margin.
    const glide = new Int16Array(FRAME);
    let phase = 0.3;
    for (let i = 0; i < FRAME; i++) {
      glide[i] = Math.round(10000 * Math.sin(phase));
      phase += (2 * Math.PI * (290 + (20 * i) / FRAME)) / FS;
    }
    const g = run(glide, (p) => expand(p, 1, 480));
    expect(g.deltaSamples).toBeGreaterThanOrEqual(320 - 8);
    expect(offMultiple(g.deltaSamples, 160)).toBeLessThanOrEqual(8);
    expect(g.correlation).toBeGreaterThan(0.95);
    expect(maxStep(g.pcm)).toBeLessThanOrEqual(1.1 * maxStep(glide) + 4);
  });

  it('stays within maxSamples below the period, and the crossfade bounds the step', () => {
    const x = sine(FRAME, 200);
    const r = run(x, (p) => accelerate(p, 1, 150));
    const lag = -r.deltaSamples;
    expect(lag).toBeGreaterThanOrEqual(120);
    expect(lag).toBeLessThanOrEqual(150);
    // Convex crossfade: step ≤ the input's own step + (fade slope × largest gap) + rounding.
    expect(maxStep(r.pcm)).toBeLessThanOrEqual(maxStep(x) + (2 * peak(x)) / (lag + 1) + 2);
  });

  it('honours minSamples and never exceeds 15 ms', () => {
    const x = sine(FRAME * 3, 200); // 60 ms
    const r = run(x, (p) => accelerate(p, 1, 5000));
    expect(-r.deltaSamples).toBeLessThanOrEqual(720);
    expect(offMultiple(-r.deltaSamples, 240)).toBeLessThanOrEqual(4);
    const m = run(sine(FRAME, 200), (p) => accelerate(p, 1, 480, 300));
    expect(-m.deltaSamples).toBeGreaterThanOrEqual(300);
    expect(-m.deltaSamples).toBeLessThanOrEqual(480);
  });
});

describe('expand', () => {
  it.each([
    ['200 Hz sine', sine(FRAME, 200)],
    ['voice-like harmonic sum', voiceLike(FRAME, 11)],
  ])('repeats whole 240-sample periods of a %s without a discontinuity', (_name, x) => {
    const r = run(x, (p) => expand(p, 1, 480));
    expect(r.deltaSamples).toBeGreaterThan(0);
    expect(r.deltaSamples).toBeLessThanOrEqual(480);
    expect(offMultiple(r.deltaSamples, 240)).toBeLessThanOrEqual(4);
    expect(r.pcm.length).toBe(FRAME + r.deltaSamples);
    expect(r.correlation).toBeGreaterThan(0.9);
    expect(maxStep(r.pcm)).toBeLessThanOrEqual(1.1 * maxStep(x) + 4);
    const { head, tail } = sharedEnds(x, r.pcm);
    expect(head + tail).toBeGreaterThanOrEqual(r.pcm.length - r.deltaSamples);
  });

  it('stays within maxSamples below the period, and the crossfade bounds the step', () => {
    const x = sine(FRAME, 200);
    const r = run(x, (p) => expand(p, 1, 150));
    expect(r.deltaSamples).toBeGreaterThanOrEqual(120);
    expect(r.deltaSamples).toBeLessThanOrEqual(150);
    expect(maxStep(r.pcm)).toBeLessThanOrEqual(maxStep(x) + (2 * peak(x)) / (r.deltaSamples + 1) + 2);
  });
});

describe('stereo', () => {
  it('splices identical channels identically', () => {
    const v = voiceLike(FRAME, 3);
    const x = interleave(v, v);
    for (const fn of [accelerate, expand]) {
      const r = run(x, (p) => fn(p, 2, 480), 2);
      expect(Math.abs(r.deltaSamples)).toBeGreaterThanOrEqual(120);
      expect(offMultiple(Math.abs(r.deltaSamples), 240)).toBeLessThanOrEqual(4);
      expect(channel(r.pcm, 2, 0)).toEqual(channel(r.pcm, 2, 1));
      expect(maxStep(channel(r.pcm, 2, 0))).toBeLessThanOrEqual(1.1 * maxStep(v) + 4);
    }
  });

  it('applies the same splice to both channels when they differ', () => {
    const left = sine(FRAME, 200, 16000);
    const right = new Int16Array(FRAME);
    for (let i = 0; i < FRAME; i++) right[i] = left[i]! >> 1;
    const x = interleave(left, right);
    for (const fn of [accelerate, expand]) {
      const r = run(x, (p) => fn(p, 2, 480), 2);
      expect(r.deltaSamples).not.toBe(0);
      const l = channel(r.pcm, 2, 0);
      const rr = channel(r.pcm, 2, 1);
      for (let i = 0; i < l.length; i++) expect(Math.abs(rr[i]! - l[i]! / 2)).toBeLessThanOrEqual(1.5);
    }
  });
});

describe('degenerate frames', () => {
  it('returns an unchanged copy for a 2.5 ms frame', () => {
    const x = sine(120, 200);
    for (const fn of [accelerate, expand]) {
      const r = run(x, (p) => fn(p, 1, 480));
      expect(r.deltaSamples).toBe(0);
      expect(r.pcm).toEqual(x);
    }
    const st = interleave(x, x);
    const r = run(st, (p) => accelerate(p, 2, 480), 2);
    expect(r.deltaSamples).toBe(0);
    expect(r.pcm).toEqual(st);
  });

  it('returns an unchanged copy when maxSamples is below minSamples', () => {
    const x = sine(FRAME, 200);
    expect(run(x, (p) => accelerate(p, 1, 100)).deltaSamples).toBe(0);
    expect(run(x, (p) => expand(p, 1, 0)).deltaSamples).toBe(0);
    expect(run(x, (p) => expand(p, 1, 480, 500)).deltaSamples).toBe(0);
  });

  it('uses the largest allowed lag on silence and near-silence', () => {
    const quiet = noise(FRAME, 5, 3);
    for (const x of [new Int16Array(FRAME), quiet]) {
      expect(run(x, (p) => accelerate(p, 1, 480)).deltaSamples).toBe(-480);
      expect(run(x, (p) => expand(p, 1, 300)).deltaSamples).toBe(300);
      expect(run(x, (p) => expand(p, 1, 5000)).deltaSamples).toBe(480); // frame/2 caps it
    }
    expect(run(new Int16Array(FRAME), (p) => accelerate(p, 1, 480)).pcm).toEqual(new Int16Array(FRAME - 480));
  });

  it('stretches full-scale white noise with a consistent length and bounded crossfade', () => {
    for (const seed of [1, 2, 3]) {
      const x = noise(FRAME, seed);
      x[10] = -32768;
      x[11] = 32767;
      for (const fn of [accelerate, expand]) {
        const r = run(x, (p) => fn(p, 1, 480));
        const lag = Math.abs(r.deltaSamples);
        expect(lag).toBeGreaterThanOrEqual(120);
        expect(lag).toBeLessThanOrEqual(480);
        expect(Math.abs(r.correlation)).toBeLessThan(0.5);
        const { head, tail } = sharedEnds(x, r.pcm);
        expect(head + tail).toBeGreaterThanOrEqual(r.pcm.length - lag);
        // Every crossfaded sample is a convex mix of two input samples: never outside the input's range.
        let lo = 0;
        let hi = 0;
        for (const v of x) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        for (const v of r.pcm) {
          expect(v).toBeGreaterThanOrEqual(lo);
          expect(v).toBeLessThanOrEqual(hi);
        }
      }
    }
  });
});

describe('cost and purity', () => {
  it('is deterministic and allocates exactly one exact-size output per call', () => {
    // A 120 ms stereo frame, the largest Opus frame, after a small one (the scratch buffers grow, then get reused).
    const small = run(sine(FRAME, 200), (p) => accelerate(p, 1, 480));
    const big = interleave(voiceLike(5760, 1), voiceLike(5760, 2));
    const a = run(big, (p) => accelerate(p, 2, 720), 2);
    const b = run(big, (p) => accelerate(p, 2, 720), 2);
    expect(b).toEqual(a);
    expect(a.pcm).not.toBe(b.pcm);
    expect(Math.abs(a.deltaSamples)).toBeLessThanOrEqual(720);
    expect(offMultiple(-a.deltaSamples, 240)).toBeLessThanOrEqual(4);
    expect(run(sine(FRAME, 200), (p) => accelerate(p, 1, 480))).toEqual(small);
  });
});

describe('errors', () => {
  it('throws RangeError for bad arguments', () => {
    const odd = new Int16Array(961);
    expect(() => accelerate(odd, 2, 480)).toThrow(RangeError);
    expect(() => expand(odd, 2, 480)).toThrow(RangeError);
    const x = sine(FRAME, 200);
    expect(() => accelerate(x, 1, -1)).toThrow(RangeError);
    expect(() => expand(x, 1, -1)).toThrow(RangeError);
    expect(() => accelerate(x, 1, Number.NaN)).toThrow(RangeError);
    expect(() => expand(x, 1, Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => accelerate(x, 3 as 1, 480)).toThrow(RangeError);
    expect(() => expand(x, 1, 480, -5)).toThrow(RangeError);
  });
});
