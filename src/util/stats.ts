/**
 * Small statistics helpers shared by metrics objects and benchmarks.
 * @packageDocumentation
 */

/** Percentile (0..100) of `values` by linear interpolation; NaN for an empty list. Does not mutate. */
export function percentile(values: ArrayLike<number>, p: number): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(values as ArrayLike<number>).sort();
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/** Summary of a sample: count, min, max, mean and the usual percentiles. */
export interface Summary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p1: number;
  p50: number;
  p90: number;
  p99: number;
}

/** Summarises `values`. */
export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return {
    count: n,
    min: n ? min : Number.NaN,
    max: n ? max : Number.NaN,
    mean: n ? sum / n : Number.NaN,
    p1: percentile(values, 1),
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
  };
}

/**
 * A fixed-capacity ring of the most recent samples, for rolling percentiles in metrics
 * without unbounded memory.
 *
 * ```
 *  capacity = 8, 11 samples pushed:   [ 8  9 10  3  4  5  6  7 ]
 *                                               ^ next write
 * ```
 */
export class SampleWindow {
  readonly #buf: Float64Array;
  #next = 0;
  #size = 0;

  constructor(capacity = 1024) {
    this.#buf = new Float64Array(capacity);
  }

  /** Records one sample, overwriting the oldest when full. */
  push(v: number): void {
    this.#buf[this.#next] = v;
    this.#next = (this.#next + 1) % this.#buf.length;
    if (this.#size < this.#buf.length) this.#size++;
  }

  /** Number of samples held. */
  get size(): number {
    return this.#size;
  }

  /** Percentile of the samples held. */
  percentile(p: number): number {
    return percentile(this.#buf.subarray(0, this.#size), p);
  }

  /** Largest sample held. */
  max(): number {
    let m = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.#size; i++) m = Math.max(m, this.#buf[i]!);
    return this.#size ? m : Number.NaN;
  }

  /** Forgets every sample. */
  clear(): void {
    this.#next = 0;
    this.#size = 0;
  }
}
