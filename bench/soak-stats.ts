/**
 * Pure figures of the soak suite (`bench/soak.ts`): the least-squares growth of a memory series
 * after a warm-up, and the comparison of process resources (file descriptors, sockets, timers,
 * listeners) at the start and at the end of a run. No I/O here, so the unit tests can feed fixed
 * inputs.
 * @packageDocumentation
 */
import { InvalidInputError } from '../src/errors.js';

/** A fitted line `y = intercept + slope · x`. */
export interface LinearFit {
  slope: number;
  intercept: number;
  /**
   * Standard error of the slope (NaN with two points). It assumes independent residuals; memory
   * samples follow GC cycles and are not independent, so read it as a lower bound.
   */
  slopeStdErr: number;
  /** Points used. */
  n: number;
}

/**
 * Ordinary least-squares fit of `y` on `x`.
 * @throws InvalidInputError for fewer than two points, a non-finite value, or when every `x` is equal.
 */
export function leastSquares(points: ReadonlyArray<readonly [x: number, y: number]>): LinearFit {
  const n = points.length;
  if (n < 2) throw new InvalidInputError(`leastSquares needs at least 2 points, got ${n}`);
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) throw new InvalidInputError('leastSquares: non-finite point');
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) * (x - mx);
    sxy += (x - mx) * (y - my);
  }
  if (sxx === 0) throw new InvalidInputError('leastSquares: every x is equal');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let ssr = 0;
  for (const [x, y] of points) ssr += (y - intercept - slope * x) ** 2;
  const slopeStdErr = n > 2 ? Math.sqrt(ssr / (n - 2) / sxx) : Number.NaN;
  return { slope, intercept, slopeStdErr, n };
}

/** Growth of one series after the warm-up. */
export interface GrowthFigures {
  /** Samples after the warm-up (those fitted). */
  samples: number;
  /** First and last time fitted, s. */
  fromS: number;
  toS: number;
  /** Mean of the fitted samples (unit of the series). */
  mean: number;
  /** Fitted slope, per hour. */
  perHour: number;
  /** Fitted growth over the fitted window (slope × (toS − fromS)). */
  overWindow: number;
  /** {@link overWindow} as % of {@link mean}: the figure the ±5 % goal applies to. */
  overWindowPct: number;
  /**
   * Half-width of the ≈95 % interval of {@link overWindowPct} (1.96 standard errors of the slope):
   * when it is wider than the goal, the run was too short to resolve the goal.
   */
  overWindowPctCi95: number;
  /** {@link perHour} as % of {@link mean} (an extrapolation when the window is shorter than 1 h). */
  perHourPct: number;
  /** The fitted line. */
  fit: LinearFit;
}

/**
 * Least-squares growth of `series` over the samples taken at or after `warmupS`.
 * @param series `[tS, value]` pairs in time order.
 * @throws InvalidInputError when fewer than three samples are left after the warm-up.
 */
export function growthAfterWarmup(
  series: ReadonlyArray<readonly [tS: number, value: number]>,
  warmupS: number,
): GrowthFigures {
  const kept = series.filter(([t]) => t >= warmupS);
  if (kept.length < 3) {
    throw new InvalidInputError(
      `growthAfterWarmup needs at least 3 samples after a ${warmupS} s warm-up, got ${kept.length}`,
    );
  }
  const fit = leastSquares(kept);
  const fromS = kept[0]![0];
  const toS = kept[kept.length - 1]![0];
  const mean = kept.reduce((s, [, v]) => s + v, 0) / kept.length;
  const perHour = fit.slope * 3600;
  const overWindow = fit.slope * (toS - fromS);
  return {
    samples: kept.length,
    fromS,
    toS,
    mean,
    perHour,
    overWindow,
    overWindowPct: mean === 0 ? 0 : (overWindow / mean) * 100,
    overWindowPctCi95: mean === 0 ? 0 : ((1.96 * fit.slopeStdErr * (toS - fromS)) / Math.abs(mean)) * 100,
    perHourPct: mean === 0 ? 0 : (perHour / mean) * 100,
    fit,
  };
}

/** Whether a growth stays within `±limitPct` % of the mean over the fitted window. */
export function withinGrowthGoal(g: Pick<GrowthFigures, 'overWindowPct'>, limitPct = 5): boolean {
  return Math.abs(g.overWindowPct) <= limitPct;
}

/** Counts of process resources at one moment; every key is compared start against end. */
export interface ResourceSnapshot {
  /** Entries of `/proc/self/fd`. */
  fds: number;
  /** Of those, sockets (`readlink` gives `socket:[inode]`). */
  socketFds: number;
  /** The fds by kind of target (`socket`, `pipe`, `anon_inode:[eventfd]`, a path, …), when known. */
  fdKinds?: Record<string, number>;
  /** `process.getActiveResourcesInfo()` counted by type (`Timeout`, `TCPSocketWrap`, …). */
  resources: Record<string, number>;
  /** Listener counts on long-lived emitters, by a name the caller chooses. */
  listeners: Record<string, number>;
}

/** One compared figure. */
export interface ResourceRow {
  what: string;
  start: number;
  end: number;
  delta: number;
}

/** Result of {@link compareResources}. */
export interface ResourceComparison {
  /** Every figure, start against end (resource types and listener names present on either side). */
  rows: ResourceRow[];
  /** The figures that grew: what the run left behind. */
  grown: ResourceRow[];
  /** True when anything grew. */
  leak: boolean;
}

/**
 * Compares two snapshots. A figure that is higher at the end is a leak (something opened during
 * the run was not released); a lower one is reported but is no leak.
 */
export function compareResources(start: ResourceSnapshot, end: ResourceSnapshot): ResourceComparison {
  const rows: ResourceRow[] = [];
  const keys = (a: Record<string, number>, b: Record<string, number>) =>
    [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const add = (what: string, a: number, b: number) => rows.push({ what, start: a, end: b, delta: b - a });
  add('fds', start.fds, end.fds);
  add('socket fds', start.socketFds, end.socketFds);
  for (const k of keys(start.fdKinds ?? {}, end.fdKinds ?? {}))
    add(`fds: ${k}`, start.fdKinds?.[k] ?? 0, end.fdKinds?.[k] ?? 0);
  for (const k of keys(start.resources, end.resources))
    add(`active ${k}`, start.resources[k] ?? 0, end.resources[k] ?? 0);
  for (const k of keys(start.listeners, end.listeners))
    add(`listeners ${k}`, start.listeners[k] ?? 0, end.listeners[k] ?? 0);
  const grown = rows.filter((r) => r.delta > 0);
  return { rows, grown, leak: grown.length > 0 };
}

/** Counts `names` (e.g. `process.getActiveResourcesInfo()`) by value. */
export function countByName(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}
