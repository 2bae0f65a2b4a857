import { describe, expect, it } from 'vitest';
import {
  compareResources,
  countByName,
  growthAfterWarmup,
  leastSquares,
  type ResourceSnapshot,
  withinGrowthGoal,
} from '../../bench/soak-stats.js';
import { InvalidInputError } from '../../src/errors.js';

describe('soak figures: least squares', () => {
  it('recovers an exact line', () => {
    const fit = leastSquares([
      [0, 1],
      [1, 3],
      [2, 5],
      [3, 7],
    ]);
    expect(fit.slope).toBeCloseTo(2, 12);
    expect(fit.intercept).toBeCloseTo(1, 12);
    expect(fit.slopeStdErr).toBeCloseTo(0, 12);
    expect(fit.n).toBe(4);
  });

  it('fits noisy points by least squares (hand-computed)', () => {
    // x̄ = 1.5, ȳ = 2.5; Sxy = 2.25 − 0.25 − 0.25 + 2.25 = 4, Sxx = 5 → slope 0.8, intercept 1.3.
    const fit = leastSquares([
      [0, 1],
      [1, 3],
      [2, 2],
      [3, 4],
    ]);
    expect(fit.slope).toBeCloseTo(0.8, 12);
    expect(fit.intercept).toBeCloseTo(1.3, 12);
    // Residuals −0.3, 0.9, −0.9, 0.3: SSR 1.8; SE = √(1.8 / 2 / 5) = 0.3√2 ≈ 0.4243.
    expect(fit.slopeStdErr).toBeCloseTo(Math.sqrt(0.18), 12);
  });

  it('refuses too few points, equal x and non-finite values with a typed error', () => {
    expect(() => leastSquares([[0, 1]])).toThrow(InvalidInputError);
    expect(() =>
      leastSquares([
        [1, 1],
        [1, 2],
      ]),
    ).toThrow(InvalidInputError);
    expect(() =>
      leastSquares([
        [0, 1],
        [1, Number.NaN],
      ]),
    ).toThrow(InvalidInputError);
  });
});

describe('soak figures: growth after the warm-up', () => {
  // 10 min sampled every 10 s: a 40 MB ramp in the first 2 min (warm-up), then +0.01 MB/s.
  const series = Array.from({ length: 61 }, (_, i) => {
    const t = i * 10;
    return [t, t < 120 ? 100 + (t / 120) * 40 : 140 + (t - 120) * 0.01] as [number, number];
  });

  it('fits only the samples after the warm-up', () => {
    const g = growthAfterWarmup(series, 120);
    expect(g.samples).toBe(49);
    expect(g.fromS).toBe(120);
    expect(g.toS).toBe(600);
    expect(g.fit.slope).toBeCloseTo(0.01, 10);
    expect(g.perHour).toBeCloseTo(36, 8);
    expect(g.overWindow).toBeCloseTo(4.8, 8);
    expect(g.mean).toBeCloseTo(142.4, 8);
    expect(g.overWindowPct).toBeCloseTo((4.8 / 142.4) * 100, 8);
    expect(g.perHourPct).toBeCloseTo((36 / 142.4) * 100, 8);
    expect(g.overWindowPctCi95).toBeCloseTo(0, 8); // an exact line
    expect(withinGrowthGoal(g)).toBe(true); // 3.37 %
    expect(withinGrowthGoal(g, 3)).toBe(false);
  });

  it('gives a wider interval to a noisier series', () => {
    // The same ramp with a ±5 MB sawtooth (GC cycles) after the warm-up.
    const noisy = series.map(([t, v], i) => [t, t < 120 ? v : v + (i % 2 ? 5 : -5)] as [number, number]);
    const g = growthAfterWarmup(noisy, 120);
    expect(g.overWindowPctCi95).toBeGreaterThan(1);
    expect(Math.abs(g.overWindowPct - (4.8 / 142.4) * 100)).toBeLessThan(g.overWindowPctCi95);
  });

  it('counts a shrinking series against the goal by its magnitude', () => {
    const down = series.map(([t, v]) => [t, 300 - v] as [number, number]);
    const g = growthAfterWarmup(down, 120);
    expect(g.overWindowPct).toBeLessThan(0);
    expect(withinGrowthGoal({ overWindowPct: -5.01 })).toBe(false);
    expect(withinGrowthGoal({ overWindowPct: -4.99 })).toBe(true);
  });

  it('refuses a warm-up that leaves fewer than three samples', () => {
    expect(() => growthAfterWarmup(series, 590)).toThrow(InvalidInputError);
  });
});

describe('soak figures: resources at the start and the end', () => {
  const start: ResourceSnapshot = {
    fds: 28,
    socketFds: 5,
    resources: { Timeout: 0, PipeWrap: 3, ProcessWrap: 1 },
    listeners: { process: 6 },
  };

  it('reports no leak when every count is back', () => {
    const c = compareResources(start, structuredClone(start));
    expect(c.leak).toBe(false);
    expect(c.grown).toEqual([]);
    expect(c.rows.map((r) => r.what)).toEqual([
      'fds',
      'socket fds',
      'active PipeWrap',
      'active ProcessWrap',
      'active Timeout',
      'listeners process',
    ]);
  });

  it('reports what grew, including a resource type absent at the start', () => {
    const end: ResourceSnapshot = {
      fds: 30,
      socketFds: 6,
      resources: { Timeout: 1, PipeWrap: 3, ProcessWrap: 1, TCPSocketWrap: 1 },
      listeners: { process: 6 },
    };
    const c = compareResources(start, end);
    expect(c.leak).toBe(true);
    expect(c.grown).toEqual([
      { what: 'fds', start: 28, end: 30, delta: 2 },
      { what: 'socket fds', start: 5, end: 6, delta: 1 },
      { what: 'active TCPSocketWrap', start: 0, end: 1, delta: 1 },
      { what: 'active Timeout', start: 0, end: 1, delta: 1 },
    ]);
  });

  it('does not call a lower count a leak', () => {
    const c = compareResources(start, { ...start, fds: 27, listeners: { process: 5 } });
    expect(c.leak).toBe(false);
    expect(c.rows.find((r) => r.what === 'fds')?.delta).toBe(-1);
  });

  it('counts names', () => {
    expect(countByName(['Timeout', 'PipeWrap', 'Timeout'])).toEqual({ Timeout: 2, PipeWrap: 1 });
  });
});
