/**
 * The marked signal of the latency bench and its detector. Pure functions: PCM in, numbers out.
 *
 * ```
 *  sent:      ▁▁▁▁▁▁▁▁/\/\/▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁/\/\/▁▁▁▁▁▁▁▁   a 10 ms chirp every interval,
 *             ^mouth k                          ^mouth k+1       digital silence in between
 *  received:  ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁/\/\/▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁/\/\/▁▁
 *                                ^ear k = peak of the normalised cross-correlation with the chirp
 *  latency k = ear k − mouth k   (a peak belongs to the latest mark sent before it, so latencies
 *                                 must stay below the interval)
 * ```
 * @packageDocumentation
 */

/** Samples per second of everything here. */
export const SAMPLE_RATE = 48_000;

/**
 * The mark: a Hann-windowed linear chirp (500 Hz → 4 kHz). A chirp has a sharp, unambiguous
 * autocorrelation peak and survives Opus coding well, so the peak locates it to a fraction of a ms.
 */
export function chirp(options: { durationMs?: number; amplitude?: number } = {}): Int16Array {
  const n = Math.round(((options.durationMs ?? 10) * SAMPLE_RATE) / 1000);
  const amp = (options.amplitude ?? 0.5) * 32_767;
  const f0 = 500;
  const f1 = 4000;
  const T = n / SAMPLE_RATE;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / SAMPLE_RATE;
    const phase = 2 * Math.PI * (f0 * t + ((f1 - f0) * t * t) / (2 * T));
    const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (n - 1));
    out[i] = Math.round(amp * w * Math.sin(phase));
  }
  return out;
}

/** A stretch of received PCM whose first sample played at `atMs`. */
export interface TimedPcm {
  pcm: Int16Array;
  atMs: number;
}

/** A detected mark. */
export interface MarkPeak {
  /** Ear time of the mark's first sample (ms, the receiver's clock). */
  earMs: number;
  /** Normalised cross-correlation at the peak (1 = identical shape). */
  score: number;
}

/**
 * Finds every occurrence of `template` in a received stream of consecutive PCM frames: positions
 * where the normalised cross-correlation is a local maximum above `threshold`, at least
 * `minSpacingMs` apart. Windows with (near) digital silence are skipped, which makes the scan
 * cheap for a sparse signal.
 */
export function findMarks(
  frames: readonly TimedPcm[],
  template: Int16Array,
  options: { threshold?: number; minSpacingMs?: number } = {},
): MarkPeak[] {
  const threshold = options.threshold ?? 0.5;
  const spacing = Math.round(((options.minSpacingMs ?? 100) * SAMPLE_RATE) / 1000);
  const total = frames.reduce((a, f) => a + f.pcm.length, 0);
  const x = new Float64Array(total);
  const start: number[] = [];
  let o = 0;
  for (const f of frames) {
    start.push(o);
    x.set(f.pcm, o);
    o += f.pcm.length;
  }
  const L = template.length;
  let tNorm = 0;
  for (const v of template) tNorm += v * v;
  tNorm = Math.sqrt(tNorm);
  if (total < L || tNorm === 0) return [];
  // Sliding window energy; positions whose window is (nearly) silent cannot hold the mark.
  const minEnergy = (tNorm * tNorm) / 1000;
  let energy = 0;
  for (let i = 0; i < L; i++) energy += x[i]! * x[i]!;
  const scores = new Float64Array(total - L + 1);
  for (let p = 0; p + L <= total; p++) {
    if (p > 0) energy += x[p + L - 1]! * x[p + L - 1]! - x[p - 1]! * x[p - 1]!;
    if (energy < minEnergy) continue;
    let dot = 0;
    for (let k = 0; k < L; k++) dot += x[p + k]! * template[k]!;
    scores[p] = dot / (tNorm * Math.sqrt(energy));
  }
  // Peaks: the best score of each cluster of above-threshold positions, clusters ≥ spacing apart.
  const peaks: Array<{ p: number; score: number }> = [];
  for (let p = 0; p < scores.length; p++) {
    const s = scores[p]!;
    if (s < threshold) continue;
    const last = peaks[peaks.length - 1];
    if (last && p - last.p < spacing) {
      if (s > last.score) {
        last.p = p;
        last.score = s;
      }
    } else {
      peaks.push({ p, score: s });
    }
  }
  return peaks.map(({ p, score }) => {
    // Ear time: the frame holding sample p, plus p's offset inside it.
    let lo = 0;
    let hi = start.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (start[mid]! <= p) lo = mid;
      else hi = mid - 1;
    }
    return { earMs: frames[lo]!.atMs + ((p - start[lo]!) * 1000) / SAMPLE_RATE, score };
  });
}

/** One mark's measurement. */
export interface MarkResult {
  index: number;
  /** When the mark's first sample was "spoken" (ms, same clock as `earMs`). */
  mouthMs: number;
  /** When it was heard; undefined when it was not detected. */
  earMs?: number;
  latencyMs?: number;
  score?: number;
}

/**
 * Pairs peaks with marks: a peak belongs to the latest mark whose mouth time precedes it (the
 * best-scoring peak wins when a mark has several).
 */
export function matchMarks(mouthMs: readonly number[], peaks: readonly MarkPeak[]): MarkResult[] {
  const out: MarkResult[] = mouthMs.map((m, index) => ({ index, mouthMs: m }));
  for (const peak of peaks) {
    let k = -1;
    for (let i = 0; i < mouthMs.length; i++) if (mouthMs[i]! <= peak.earMs) k = i;
    if (k < 0) continue;
    const r = out[k]!;
    if (r.score === undefined || peak.score > r.score) {
      r.earMs = peak.earMs;
      r.score = peak.score;
      r.latencyMs = peak.earMs - r.mouthMs;
    }
  }
  return out;
}

/** Nearest-rank percentile (p in 0..100) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}
