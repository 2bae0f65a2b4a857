/**
 * Time-scale modification of one decoded 48 kHz interleaved s16 frame, the way NetEq's
 * "accelerate" and "preemptive expand" work: find the pitch period (or a multiple of it) and
 * remove or repeat that many samples with a linear crossfade, so a jitter buffer can move its
 * delay by a few milliseconds during speech without dropping or inserting a whole frame.
 *
 * The lag search runs on a mono mixdown: a coarse pass on a 4:1 decimated copy, then a ±4 sample
 * refinement at full rate. Scratch buffers are module-level and reused, so a call allocates only
 * its output array. Pure and synchronous; no timers.
 * @packageDocumentation
 */

/** What {@link accelerate} and {@link expand} return. */
export interface StretchResult {
  /** The new PCM (a new array; the input is not modified). */
  pcm: Int16Array;
  /** Samples per channel added (> 0, expand) or removed (< 0, accelerate); 0 when nothing was done. */
  deltaSamples: number;
  /** Normalised correlation (−1..1) at the chosen lag; low values mean an unvoiced/noisy frame. */
  correlation: number;
}

/** Shortest lag considered by default: 2.5 ms at 48 kHz (a 400 Hz pitch). */
const DEFAULT_MIN_LAG = 120;
/** Longest lag ever used: 15 ms at 48 kHz. */
const MAX_LAG = 720;
/** Decimation factor of the coarse search. */
const DECIMATION = 4;
/** Full-rate refinement, ± samples around a coarse candidate. */
const REFINE = 4;
/** A larger lag is preferred when its correlation is at most this much below the best. */
const PREFER_MARGIN = 0.05;
/** Below this RMS (about −70 dBFS) the frame counts as silent and any lag will do. */
const SILENCE_RMS = 10;
/** Lag ranges this narrow are searched at full rate directly. */
const FULL_SEARCH_SPAN = 16;

let mono = new Float32Array(0);
let decimated = new Float32Array(0);
const curve = new Float32Array(Math.max(MAX_LAG / DECIMATION, FULL_SEARCH_SPAN) + 2);

/** The splice chosen for one frame. */
interface Plan {
  lag: number;
  start: number;
  correlation: number;
}

/** Where the two compared segments begin for lag `lag` in a signal of `n` samples (centred). */
function segmentStart(n: number, lag: number): number {
  return (n - 2 * lag) >> 1;
}

/** Normalised correlation of x[s..s+lag) with x[s+lag..s+2lag); 0 when either segment is silent. */
function correlate(x: Float32Array, s: number, lag: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = s, j = s + lag, end = s + lag; i < end; i++, j++) {
    const a = x[i]!;
    const b = x[j]!;
    ab += a * b;
    aa += a * a;
    bb += b * b;
  }
  const energy = aa * bb;
  return energy > 0 ? ab / Math.sqrt(energy) : 0;
}

/**
 * Picks from `curve[0..count)`: the best index (ties go to the larger lag) and the largest local
 * maximum after it whose value is within {@link PREFER_MARGIN} of the best (else the best again).
 */
function pick(count: number): { best: number; preferred: number } {
  let best = 0;
  for (let i = 1; i < count; i++) if (curve[i]! >= curve[best]!) best = i;
  const floor = curve[best]! - PREFER_MARGIN;
  let preferred = best;
  for (let i = count - 1; i > best; i--) {
    const v = curve[i]!;
    if (v >= floor && v >= curve[i - 1]! && (i === count - 1 || v >= curve[i + 1]!)) {
      preferred = i;
      break;
    }
  }
  return { best, preferred };
}

/** Best full-rate lag within ±{@link REFINE} of `centre`, clamped to [lo, hi]; ties go to the larger lag. */
function refine(x: Float32Array, n: number, centre: number, lo: number, hi: number): Plan {
  const from = Math.max(lo, centre - REFINE);
  const to = Math.min(hi, centre + REFINE);
  let lag = from;
  let correlation = Number.NEGATIVE_INFINITY;
  for (let l = from; l <= to; l++) {
    const c = correlate(x, segmentStart(n, l), l);
    if (c >= correlation) {
      correlation = c;
      lag = l;
    }
  }
  return { lag, start: segmentStart(n, lag), correlation };
}

/** Throws `RangeError` for arguments no frame can satisfy. */
function validate(pcm: Int16Array, channels: number, maxSamples: number, minSamples: number): void {
  if (channels !== 1 && channels !== 2) throw new RangeError(`channels must be 1 or 2, got ${channels}`);
  if (pcm.length % channels !== 0) {
    throw new RangeError(`pcm length ${pcm.length} is not a multiple of channels (${channels})`);
  }
  if (!Number.isFinite(maxSamples) || maxSamples < 0) {
    throw new RangeError(`maxSamples must be a finite number >= 0, got ${maxSamples}`);
  }
  if (!Number.isFinite(minSamples) || minSamples < 0) {
    throw new RangeError(`minSamples must be a finite number >= 0, got ${minSamples}`);
  }
}

/** Chooses lag and splice point, or null when no lag fits the frame. */
function plan(pcm: Int16Array, channels: 1 | 2, maxSamples: number, minSamples: number): Plan | null {
  const n = pcm.length / channels;
  const lo = Math.max(1, Math.ceil(minSamples));
  const hi = Math.min(Math.floor(maxSamples), MAX_LAG, n >> 1);
  if (hi < lo) return null;

  if (mono.length < n) mono = new Float32Array(n);
  const x = mono;
  let energy = 0;
  if (channels === 1) {
    for (let i = 0; i < n; i++) {
      const v = pcm[i]!;
      x[i] = v;
      energy += v * v;
    }
  } else {
    for (let i = 0, k = 0; i < n; i++, k += 2) {
      const v = (pcm[k]! + pcm[k + 1]!) * 0.5;
      x[i] = v;
      energy += v * v;
    }
  }
  if (energy < SILENCE_RMS * SILENCE_RMS * n) return { lag: hi, start: segmentStart(n, hi), correlation: 0 };

  if (hi - lo <= FULL_SEARCH_SPAN) {
    const count = hi - lo + 1;
    for (let i = 0; i < count; i++) curve[i] = correlate(x, segmentStart(n, lo + i), lo + i);
    const lag = lo + pick(count).preferred;
    return { lag, start: segmentStart(n, lag), correlation: curve[lag - lo]! };
  }

  // Coarse pass on a boxcar-filtered 4:1 decimation.
  const nd = Math.floor(n / DECIMATION);
  if (decimated.length < nd) decimated = new Float32Array(nd);
  const d = decimated;
  for (let j = 0, i = 0; j < nd; j++, i += DECIMATION) d[j] = (x[i]! + x[i + 1]! + x[i + 2]! + x[i + 3]!) * 0.25;
  const ldLo = Math.max(1, Math.ceil(lo / DECIMATION));
  const ldHi = Math.floor(hi / DECIMATION);
  const count = ldHi - ldLo + 1;
  for (let i = 0; i < count; i++) curve[i] = correlate(d, segmentStart(nd, ldLo + i), ldLo + i);
  const { best, preferred } = pick(count);

  const bestPlan = refine(x, n, (ldLo + best) * DECIMATION, lo, hi);
  if (preferred === best) return bestPlan;
  const longer = refine(x, n, (ldLo + preferred) * DECIMATION, lo, hi);
  return longer.correlation >= bestPlan.correlation - PREFER_MARGIN ? longer : bestPlan;
}

/** Linear crossfade sample: `a` fading out, `b` fading in, weight `w` of `b`, clamped to int16. */
function mix(a: number, b: number, w: number): number {
  const v = Math.round(a + (b - a) * w);
  return Math.min(32767, Math.max(-32768, v));
}

/**
 * Shortens `pcm` by between `minSamples` and `maxSamples` samples per channel (one or more whole
 * pitch periods), crossfading the removed period into the next one.
 *
 * Lags searched: `minSamples` .. min(`maxSamples`, 720, frame length / 2). When that range is empty
 * (for example a 2.5 ms frame) the result is an unchanged copy with `deltaSamples` 0. Near-silent
 * frames use the largest allowed lag.
 * @param pcm - One decoded frame, 48 kHz interleaved s16; not modified.
 * @param channels - 1 (mono) or 2 (interleaved stereo; both channels get the same splice).
 * @param maxSamples - Most samples per channel to remove.
 * @param minSamples - Fewest samples per channel to remove (the shortest pitch period); default 120.
 * @returns The shortened copy; `deltaSamples` is ≤ 0.
 * @throws RangeError when `channels` is not 1 or 2, the length is not a multiple of `channels`, or
 *   `maxSamples`/`minSamples` is not a finite number ≥ 0.
 */
export function accelerate(
  pcm: Int16Array,
  channels: 1 | 2,
  maxSamples: number,
  minSamples = DEFAULT_MIN_LAG,
): StretchResult {
  validate(pcm, channels, maxSamples, minSamples);
  const p = plan(pcm, channels, maxSamples, minSamples);
  if (p === null) return { pcm: pcm.slice(), deltaSamples: 0, correlation: 0 };
  const { lag, start } = p;
  const n = pcm.length / channels;
  const out = new Int16Array((n - lag) * channels);
  out.set(pcm.subarray(0, start * channels), 0);
  const denom = lag + 1;
  for (let i = 0; i < lag; i++) {
    const w = (i + 1) / denom;
    const o = (start + i) * channels;
    const f = (start + lag + i) * channels;
    for (let c = 0; c < channels; c++) out[o + c] = mix(pcm[o + c]!, pcm[f + c]!, w);
  }
  out.set(pcm.subarray((start + 2 * lag) * channels), (start + lag) * channels);
  return { pcm: out, deltaSamples: -lag, correlation: p.correlation };
}

/**
 * Lengthens `pcm` by between `minSamples` and `maxSamples` samples per channel (one or more whole
 * pitch periods), repeating a period with a crossfade at the join.
 *
 * Lag range, short frames and silence are handled as in {@link accelerate}.
 * @param pcm - One decoded frame, 48 kHz interleaved s16; not modified.
 * @param channels - 1 (mono) or 2 (interleaved stereo; both channels get the same splice).
 * @param maxSamples - Most samples per channel to add.
 * @param minSamples - Fewest samples per channel to add (the shortest pitch period); default 120.
 * @returns The lengthened copy; `deltaSamples` is ≥ 0.
 * @throws RangeError when `channels` is not 1 or 2, the length is not a multiple of `channels`, or
 *   `maxSamples`/`minSamples` is not a finite number ≥ 0.
 */
export function expand(
  pcm: Int16Array,
  channels: 1 | 2,
  maxSamples: number,
  minSamples = DEFAULT_MIN_LAG,
): StretchResult {
  validate(pcm, channels, maxSamples, minSamples);
  const p = plan(pcm, channels, maxSamples, minSamples);
  if (p === null) return { pcm: pcm.slice(), deltaSamples: 0, correlation: 0 };
  const { lag, start } = p;
  const n = pcm.length / channels;
  const out = new Int16Array((n + lag) * channels);
  out.set(pcm.subarray(0, (start + lag) * channels), 0);
  const denom = lag + 1;
  for (let i = 0; i < lag; i++) {
    const w = (i + 1) / denom;
    const o = (start + lag + i) * channels;
    const f = (start + i) * channels;
    for (let c = 0; c < channels; c++) out[o + c] = mix(pcm[o + c]!, pcm[f + c]!, w);
  }
  out.set(pcm.subarray((start + lag) * channels), (start + 2 * lag) * channels);
  return { pcm: out, deltaSamples: lag, correlation: p.correlation };
}
