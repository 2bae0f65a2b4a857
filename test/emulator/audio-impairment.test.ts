import { describe, expect, it } from 'vitest';
import {
  gatewayFrameError,
  impair,
  ImpairmentStream,
  mulberry32,
  parseAudioQuery,
  sortByArrival,
} from '../../src/emulator/audio/index.js';
import type { ImpairmentInput } from '../../src/emulator/audio/index.js';

const speech = (n: number, fd = 20): ImpairmentInput[] =>
  Array.from({ length: n }, (_, i) => ({
    data: Uint8Array.of(0x78, i & 0xff, (i >> 8) & 0xff, 1, 2, 3),
    sendMs: i * fd,
  }));

describe('impairment model', () => {
  it('is a perfect network with no options: same frames, same order, arrival = send', () => {
    const input = speech(50);
    const out = impair(input, {}, 7);
    expect(out.map((f) => f.arriveMs)).toEqual(input.map((f) => f.sendMs));
    expect(out.map((f) => f.data)).toEqual(input.map((f) => f.data));
  });

  it('repeats exactly for a seed and differs for another seed', () => {
    const opts = {
      jitter: { kind: 'normal' as const, meanMs: 10, stdDevMs: 15 },
      loss: { kind: 'random' as const, rate: 0.05 },
      reorder: { rate: 0.02 },
      duplicate: { rate: 0.02 },
    };
    const a = impair(speech(500), opts, 42);
    const b = impair(speech(500), opts, 42);
    const c = impair(speech(500), opts, 43);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('the streaming form produces the same deliveries as the pure function', () => {
    const opts = {
      jitter: { kind: 'pareto' as const, scaleMs: 5, shape: 1.5, capMs: 500 },
      loss: { kind: 'random' as const, rate: 0.1 },
    };
    const s = new ImpairmentStream(opts, 9);
    const streamed = sortByArrival(speech(300).flatMap((f) => s.push(f)));
    expect(streamed).toEqual(impair(speech(300), opts, 9));
  });

  it('random loss rate stays within a 5-sigma binomial bound (seeded run)', () => {
    const n = 20_000;
    const p = 0.1;
    const s = new ImpairmentStream({ loss: { kind: 'random', rate: p } }, 1234);
    let delivered = 0;
    for (const f of speech(n)) delivered += s.push(f).length;
    const lost = n - delivered;
    expect(s.stats.lost).toBe(lost);
    const sigma = Math.sqrt(n * p * (1 - p));
    expect(Math.abs(lost - n * p)).toBeLessThan(5 * sigma);
  });

  it('Gilbert-Elliott loss is bursty: mean loss run ≈ 1/pBadToGood, rate ≈ stationary', () => {
    const n = 20_000;
    const o = { kind: 'gilbert' as const, pGoodToBad: 0.03, pBadToGood: 0.3 };
    const s = new ImpairmentStream({ loss: o }, 99);
    const lostFlags = speech(n).map((f) => s.push(f).length === 0);
    const runs: number[] = [];
    let run = 0;
    for (const l of lostFlags) {
      if (l) run++;
      else if (run > 0) {
        runs.push(run);
        run = 0;
      }
    }
    const meanRun = runs.reduce((a, b) => a + b, 0) / runs.length;
    expect(meanRun).toBeGreaterThan(2.5); // 1/0.3 = 3.33; random loss at this rate gives ≈ 1.1
    const stationary = o.pGoodToBad / (o.pGoodToBad + o.pBadToGood);
    const rate = lostFlags.filter(Boolean).length / n;
    expect(Math.abs(rate - stationary)).toBeLessThan(0.03);
  });

  it('normal jitter delays but never advances frames, and reorders when the spread exceeds a frame', () => {
    const input = speech(2000);
    const out = impair(input, { jitter: { kind: 'normal', meanMs: 30, stdDevMs: 20 } }, 5);
    expect(out).toHaveLength(2000);
    for (const f of out) expect(f.arriveMs).toBeGreaterThanOrEqual(input[f.index]!.sendMs);
    const inversions = out.filter((f, i) => i > 0 && f.index < out[i - 1]!.index).length;
    expect(inversions).toBeGreaterThan(0);
    const meanDelay = out.reduce((a, f) => a + f.arriveMs - input[f.index]!.sendMs, 0) / out.length;
    expect(Math.abs(meanDelay - 30)).toBeLessThan(3);
  });

  it('fifo clamps arrivals to be non-decreasing (jitter without reordering)', () => {
    const out = impair(speech(1000), { jitter: { kind: 'normal', meanMs: 30, stdDevMs: 40 }, fifo: true }, 5);
    for (let i = 1; i < out.length; i++) {
      expect(out[i]!.arriveMs).toBeGreaterThanOrEqual(out[i - 1]!.arriveMs);
      expect(out[i]!.index).toBeGreaterThan(out[i - 1]!.index);
    }
  });

  it('pareto jitter is heavy-tailed and respects the cap', () => {
    const input = speech(5000);
    const out = impair(input, { jitter: { kind: 'pareto', scaleMs: 4, shape: 1.2, capMs: 300 } }, 77);
    const d = out.map((f) => f.arriveMs - input[f.index]!.sendMs).sort((a, b) => a - b);
    const p50 = d[Math.floor(d.length / 2)]!;
    const p99 = d[Math.floor(d.length * 0.99)]!;
    expect(p99).toBeGreaterThan(10 * p50);
    expect(d[d.length - 1]!).toBeLessThanOrEqual(300);
  });

  it('duplicates carry the same bytes and are flagged', () => {
    const out = impair(speech(1000), { duplicate: { rate: 0.1, delayMs: 5 } }, 3);
    const dups = out.filter((f) => f.duplicate);
    expect(dups.length).toBe(out.length - 1000);
    expect(dups.length).toBeGreaterThan(50);
    for (const d of dups) {
      const orig = out.find((f) => f.index === d.index && !f.duplicate)!;
      expect(d.data).toEqual(orig.data);
      expect(d.arriveMs).toBe(orig.arriveMs + 5);
    }
  });

  it('a stall holds frames then releases them as one in-order burst at its end', () => {
    const out = impair(speech(20), { baseDelayMs: 1, stall: { atMs: [100], durationMs: 90 } }, 1);
    // frames sent at 100..180 arrive (1 ms later) inside [100, 190): all released at 190
    const held = out.filter((f) => f.arriveMs === 190).map((f) => f.index);
    expect(held).toEqual([5, 6, 7, 8, 9]);
    expect(out.map((f) => f.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const ps = new ImpairmentStream({ stall: { everyMs: 500, offsetMs: 200, durationMs: 100 } }, 1);
    const periodic = speech(100).flatMap((f) => ps.push(f));
    // windows [200,300) [700,800) [1200,1300) [1700,1800): 5 frames each, released at the window end
    expect(ps.stats.stalled).toBe(20);
    const late = periodic.filter((f) => f.arriveMs !== f.index * 20);
    expect(late.map((f) => f.arriveMs)).toEqual([
      300, 300, 300, 300, 300, 800, 800, 800, 800, 800, 1300, 1300, 1300, 1300, 1300, 1800, 1800, 1800, 1800, 1800,
    ]);
  });

  it('DTX turns a silent run into one tiny packet about every 400 ms; speech passes untouched', () => {
    const frames: ImpairmentInput[] = [];
    for (let i = 0; i < 150; i++) {
      const silent = i >= 10 && i < 110; // 2 s of silence from 200 ms
      frames.push({ data: silent ? Uint8Array.of(0xf8, 0xff, 0xfe) : Uint8Array.of(0x78, 1, 2, 3, 4), sendMs: i * 20 });
    }
    const s = new ImpairmentStream({ dtx: {} }, 1);
    const out = frames.flatMap((f) => s.push(f));
    const dtx = out.filter((f) => f.dtx);
    expect(dtx.map((f) => f.arriveMs)).toEqual([200, 600, 1000, 1400, 1800]);
    for (const f of dtx) expect(f.data).toEqual(Uint8Array.of(0xf8));
    expect(out.filter((f) => !f.dtx)).toHaveLength(50);
    expect(s.stats.dtxSuppressed).toBe(95);
  });

  it('mulberry32 is deterministic and uniform-ish', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    const mean = xs.reduce((p, x) => p + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('gateway frame validation (§A3.2, deliberately lax)', () => {
  it('rejects only empty, >3825 and <2 byte messages, with the Go error strings', () => {
    expect(gatewayFrameError(new Uint8Array(0))).toBe('empty opus frame');
    expect(gatewayFrameError(new Uint8Array(1))).toBe('opus frame too small for declared structure');
    expect(gatewayFrameError(Uint8Array.of(0xfc))).toBe('opus frame too small for declared structure');
    expect(gatewayFrameError(new Uint8Array(3826))).toBe('opus frame exceeds maximum size');
    expect(gatewayFrameError(new Uint8Array(2))).toBeUndefined();
    expect(gatewayFrameError(new Uint8Array(3825))).toBeUndefined();
    // structurally broken Opus (code 3, zero frames; code 1 odd length) still passes
    expect(gatewayFrameError(Uint8Array.of(0x7b, 0x00))).toBeUndefined();
    expect(gatewayFrameError(Uint8Array.of(0x79, 1, 2, 3))).toBeUndefined();
  });
});

describe('query parsing (§A1.2)', () => {
  const q = (s: string) => new URLSearchParams(s);
  it('parses stereo, channels and frame_duration_ms like Go', () => {
    expect(parseAudioQuery('connect', q('stereo=true')).stereo).toBe(true);
    expect(parseAudioQuery('connect', q('stereo=True')).stereo).toBe(false);
    expect(parseAudioQuery('connect', q('stereo=1')).stereo).toBe(false);
    expect(parseAudioQuery('connect', q('channels=2')).stereo).toBe(true);
    expect(parseAudioQuery('connect', q('channels=02')).stereo).toBe(false);
    expect(parseAudioQuery('connect', q('frame_duration_ms=40')).frameDurationMs).toBe(40);
    expect(parseAudioQuery('connect', q('frame_duration_ms=2.5')).frameDurationMs).toBe(20);
    expect(parseAudioQuery('connect', q('frame_duration_ms=%2B60')).frameDurationMs).toBe(60);
    // '+' in a query decodes to a space, which Atoi rejects
    expect(parseAudioQuery('connect', q('frame_duration_ms=+60')).frameDurationMs).toBe(20);
    expect(parseAudioQuery('connect', q('frame_duration_ms=0')).frameDurationMs).toBe(20);
    expect(parseAudioQuery('connect', q('frame_duration_ms=abc')).frameDurationMs).toBe(20);
    expect(parseAudioQuery('connect', q('')).frameDurationMs).toBe(20);
  });
  it('defaults track name and source, and treats unknown target sources as any', () => {
    const p = parseAudioQuery(
      'duplex',
      q('track_name=&track_source=camera&target_identity=u&target_track_source=bogus&token=secret'),
    );
    expect(p.trackName).toBe('audio');
    expect(p.trackSource).toBe('microphone');
    expect(p.targetTrackSource).toBeUndefined();
    expect(p.targetIdentity).toBe('u');
    expect(p.raw['token']).toBe('<redacted>');
    expect(
      parseAudioQuery('duplex', q('track_source=screen_share_audio&target_track_source=microphone&target_identity=u')),
    ).toMatchObject({
      trackSource: 'screen_share_audio',
      targetTrackSource: 'microphone',
    });
    expect(parseAudioQuery('subscribe', q('stereo=true&frame_duration_ms=60&target_identity=x')).frameDurationMs).toBe(
      20,
    );
  });
});
