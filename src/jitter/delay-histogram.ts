/**
 * A forgetting histogram of relative arrival delay, and the delay-versus-late-loss trade-off that
 * turns it into a target delay.
 *
 * ```
 *  mass ▲
 *       │█
 *       │██
 *       │███▄
 *       │█████▄▂ _ _            ▂        ← a spike long ago, decaying by `forget` per sample
 *       └──────────────────────────────► relative delay (bucketMs per bin)
 *             ▲ target = argmin_D  D + costMsPerPct · 100 · P(delay > D)
 * ```
 *
 * @remarks Every sample enters with weight 1 and its weight decays by the forget factor per later
 * sample; bins hold the normalised weights, so the total mass stays 1 and old observations fade geometrically (the same idea
 * as NetEq's delay histogram; this is an independent implementation). The forget factor starts low
 * and ramps up to its steady value, so the first seconds converge quickly from the conservative
 * start instead of being dominated by the initial guess.
 * @packageDocumentation
 */

/** Options of {@link DelayHistogram}. */
export interface DelayHistogramOptions {
  /** Width of one bin in ms. Default 5. */
  bucketMs?: number;
  /** Largest delay represented; larger samples land in the last bin. Default 1000. */
  maxDelayMs?: number;
  /** Steady-state forget factor per sample (0..1). Default 0.998 (≈ 10 s of 20 ms packets). */
  forget?: number;
  /** Forget factor for the very first sample; ramps towards `forget`. Default 0.9. */
  startForget?: number;
}

/** A forgetting histogram of relative delays in milliseconds. */
export class DelayHistogram {
  readonly bucketMs: number;
  readonly #bins: Float64Array;
  readonly #forget: number;
  readonly #startForget: number;
  #currentForget: number;
  #samples = 0;
  #total = 0;

  constructor(options: DelayHistogramOptions = {}) {
    this.bucketMs = options.bucketMs ?? 5;
    const maxDelay = options.maxDelayMs ?? 1000;
    if (!(this.bucketMs > 0) || !(maxDelay > this.bucketMs)) throw new RangeError('DelayHistogram: bad bucket/max');
    this.#bins = new Float64Array(Math.ceil(maxDelay / this.bucketMs) + 1);
    this.#forget = options.forget ?? 0.998;
    this.#startForget = Math.min(this.#forget, options.startForget ?? 0.9);
    this.#currentForget = this.#startForget;
  }

  /** Number of samples added since construction or {@link DelayHistogram.reset}. */
  get samples(): number {
    return this.#samples;
  }

  /** Adds one relative delay (ms, negative values count as 0). */
  add(delayMs: number): void {
    const bins = this.#bins;
    const f = this.#currentForget;
    const idx = Math.min(bins.length - 1, Math.max(0, Math.floor(delayMs / this.bucketMs)));
    // Unnormalised weights plus their running total: every sample enters with weight 1 and
    // decays by `f` per later sample, so probabilities are exact from the first sample on.
    const total = this.#total * f + 1;
    const keep = (this.#total * f) / total;
    for (let i = 0; i < bins.length; i++) bins[i]! *= keep;
    bins[idx]! += 1 / total;
    this.#total = total;
    this.#samples++;
    // Ramp: move 2 % of the remaining way towards the steady factor per sample (≈ 1 s of packets to get close).
    this.#currentForget += (this.#forget - this.#currentForget) * 0.02;
  }

  /** Probability mass strictly above a delay of `delayMs` (bins whose lower edge is ≥ delayMs). */
  tail(delayMs: number): number {
    const bins = this.#bins;
    let mass = 0;
    for (let i = bins.length - 1; i >= 0; i--) {
      if (i * this.bucketMs < delayMs) break;
      mass += bins[i]!;
    }
    return mass;
  }

  /** The smallest delay (upper bin edge, ms) at or below which a fraction `q` of the mass lies. */
  quantile(q: number): number {
    const bins = this.#bins;
    let acc = 0;
    for (let i = 0; i < bins.length; i++) {
      acc += bins[i]!;
      if (acc >= q - 1e-12) return (i + 1) * this.bucketMs;
    }
    return bins.length * this.bucketMs;
  }

  /**
   * The delay that minimises `D + costMsPerPct · 100 · P(delay > D)` over bin edges, never above
   * the `maxQuantile` quantile. With `costMsPerPct = 20` one percentage point of late loss is
   * worth 20 ms of added delay.
   */
  optimalDelay(costMsPerPct: number, maxQuantile = 0.999): number {
    const bins = this.#bins;
    const limit = this.quantile(maxQuantile);
    // Walk upper edges from the top down, accumulating the tail.
    let tail = 0;
    let best = limit;
    let bestCost = Number.POSITIVE_INFINITY;
    const costs: number[] = new Array(bins.length);
    for (let i = bins.length - 1; i >= 0; i--) {
      // Delay D = (i + 1) · bucket covers bins 0..i; the tail is bins above i.
      costs[i] = (i + 1) * this.bucketMs + costMsPerPct * 100 * tail;
      tail += bins[i]!;
    }
    // The cost of D = 0 (no bin covered).
    if (costMsPerPct * 100 * tail < bestCost) {
      bestCost = costMsPerPct * 100 * tail;
      best = 0;
    }
    for (let i = 0; i < bins.length; i++) {
      const d = (i + 1) * this.bucketMs;
      if (d > limit) break;
      if (costs[i]! < bestCost - 1e-9) {
        bestCost = costs[i]!;
        best = d;
      }
    }
    return best;
  }

  /** Forgets everything (the next sample starts a fresh, fast-converging histogram). */
  reset(): void {
    this.#bins.fill(0);
    this.#samples = 0;
    this.#total = 0;
    this.#currentForget = this.#startForget;
  }
}
