/**
 * Loudness measurement per ITU-R BS.1770-4 / EBU R128 (integrated loudness with K-weighting,
 * 400 ms blocks and the −70 LUFS / −10 LU gates), a 4× oversampled true-peak estimate, and a
 * streaming normaliser for PCM sources.
 *
 * @remarks
 * Two normalisation paths exist and the sources pick one:
 * - Sources that already run ffmpeg (`ffmpegSource`) add ffmpeg's `loudnorm=I=-16:TP=-1:LRA=11`
 *   filter: it is a dynamic, look-ahead normaliser with a true-peak limiter, costs nothing on our
 *   event loop, and handles live URLs.
 * - Sources that decode in process (PCM/TTS, re-encoded Ogg/WebM) use {@link LoudnessNormalizer}:
 *   it measures the first few seconds, then applies one static gain ({@link normalizationGain}),
 *   which keeps the dynamics of the material untouched. Its look-ahead is bounded (default 3 s).
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

/** Biquad coefficients (a0 normalised to 1). */
export interface Biquad {
  b0: number;
  b1: number;
  b2: number;
  a1: number;
  a2: number;
}

/**
 * The two K-weighting stages of BS.1770 (a high shelf modelling the head, then an RLB high-pass)
 * for any sample rate, from the analog prototype via the bilinear transform. At 48 kHz they match
 * the coefficient table printed in BS.1770-4 to about 1e-8.
 */
export function kWeightingFilters(sampleRate: number): [Biquad, Biquad] {
  // Stage 1: shelf, +4 dB above ~1.7 kHz.
  let f0 = 1681.974450955533;
  const gainDb = 3.999843853973347;
  let q = 0.7071752369554196;
  let k = Math.tan((Math.PI * f0) / sampleRate);
  const vh = 10 ** (gainDb / 20);
  const vb = vh ** 0.4996667741545416;
  let a0 = 1 + k / q + k * k;
  const shelf: Biquad = {
    b0: (vh + (vb * k) / q + k * k) / a0,
    b1: (2 * (k * k - vh)) / a0,
    b2: (vh - (vb * k) / q + k * k) / a0,
    a1: (2 * (k * k - 1)) / a0,
    a2: (1 - k / q + k * k) / a0,
  };
  // Stage 2: second-order high-pass at ~38 Hz (the "RLB" curve).
  f0 = 38.13547087602444;
  q = 0.5003270373238773;
  k = Math.tan((Math.PI * f0) / sampleRate);
  a0 = 1 + k / q + k * k;
  const highpass: Biquad = {
    b0: 1,
    b1: -2,
    b2: 1,
    a1: (2 * (k * k - 1)) / a0,
    a2: (1 - k / q + k * k) / a0,
  };
  return [shelf, highpass];
}

/** Result of a loudness measurement. */
export interface LoudnessResult {
  /** Gated integrated loudness in LUFS; `-Infinity` when every block is below the absolute gate (silence). */
  integratedLufs: number;
  /** True-peak estimate in dBTP (4× oversampled); `-Infinity` for digital silence. */
  truePeakDb: number;
  /** Sample-peak in dBFS. */
  samplePeakDb: number;
  /** Seconds of audio measured. */
  durationSec: number;
}

/** Options of {@link LoudnessMeter}. */
export interface LoudnessMeterOptions {
  /** Sample rate in Hz (default 48000). */
  sampleRate?: number;
  /** Interleaved channel count. Both channels get weight 1.0 (L/R in BS.1770). */
  channels: 1 | 2;
}

// 4× oversampling interpolator for the true-peak estimate: 4 phases × 12 taps of a
// Kaiser-like windowed sinc (BS.1770-4 Annex 2 suggests a 48-tap, 4-phase FIR of this kind).
const TP_PHASES = 4;
const TP_TAPS = 12;
const TP_TABLE = (() => {
  const t = new Float64Array(TP_PHASES * TP_TAPS);
  const half = TP_TAPS / 2;
  for (let p = 0; p < TP_PHASES; p++) {
    for (let k = 0; k < TP_TAPS; k++) {
      const x = p / TP_PHASES - (k - half + 1);
      const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / half) + 0.08 * Math.cos((2 * Math.PI * x) / half);
      t[p * TP_TAPS + k] = sinc * (Math.abs(x) >= half ? 0 : w);
    }
  }
  return t;
})();

/**
 * Streaming BS.1770 meter: push interleaved PCM in any chunk size, read the integrated loudness
 * and true peak at any time.
 *
 * @remarks
 * Energy is accumulated per 100 ms sub-block; a 400 ms gating block is four consecutive
 * sub-blocks (75 % overlap, as BS.1770-4 specifies). Memory grows by one number per 100 ms
 * (36 000 numbers for an hour), which is why the normaliser only measures a bounded prefix.
 */
export class LoudnessMeter {
  readonly sampleRate: number;
  readonly channels: 1 | 2;
  readonly #filters: [Biquad, Biquad];
  // Filter state per channel: [s1 x1, x2, y1, y2, s2 x1, x2, y1, y2].
  readonly #state: Float64Array;
  readonly #subLen: number;
  #subPos = 0;
  #subEnergy: Float64Array; // per channel, current sub-block
  readonly #subBlocks: number[] = []; // sum over channels of mean square per sub-block
  #samplePeak = 0;
  #truePeak = 0;
  readonly #tpHist: Float64Array; // last TP_TAPS samples per channel
  #frames = 0;

  constructor(options: LoudnessMeterOptions) {
    const sampleRate = options.sampleRate ?? 48000;
    if (!Number.isFinite(sampleRate) || sampleRate < 8000)
      throw new InvalidInputError(`LoudnessMeter: bad sample rate ${sampleRate}`);
    if (options.channels !== 1 && options.channels !== 2)
      throw new InvalidInputError(`LoudnessMeter: channels must be 1 or 2`);
    this.sampleRate = sampleRate;
    this.channels = options.channels;
    this.#filters = kWeightingFilters(sampleRate);
    this.#state = new Float64Array(8 * options.channels);
    this.#subLen = Math.round(sampleRate / 10);
    this.#subEnergy = new Float64Array(options.channels);
    this.#tpHist = new Float64Array(TP_TAPS * options.channels);
  }

  /** Seconds of audio pushed so far. */
  get durationSec(): number {
    return this.#frames / this.sampleRate;
  }

  /** Feeds interleaved samples (s16, or float in −1..1). */
  push(samples: Int16Array | Float32Array): void {
    const ch = this.channels;
    if (samples.length % ch !== 0)
      throw new InvalidInputError(`LoudnessMeter: ${samples.length} samples is not a multiple of ${ch}`);
    const scale = samples instanceof Int16Array ? 1 / 32768 : 1;
    const [f1, f2] = this.#filters;
    const st = this.#state;
    const hist = this.#tpHist;
    const frames = samples.length / ch;
    for (let f = 0; f < frames; f++) {
      for (let c = 0; c < ch; c++) {
        const x = samples[f * ch + c]! * scale;
        const s = c * 8;
        // Direct form I, stage 1 then stage 2.
        const y1 = f1.b0 * x + f1.b1 * st[s]! + f1.b2 * st[s + 1]! - f1.a1 * st[s + 2]! - f1.a2 * st[s + 3]!;
        st[s + 1] = st[s]!;
        st[s] = x;
        st[s + 3] = st[s + 2]!;
        st[s + 2] = y1;
        const y2 = y1 - 2 * st[s + 4]! + st[s + 5]! - f2.a1 * st[s + 6]! - f2.a2 * st[s + 7]!;
        st[s + 5] = st[s + 4]!;
        st[s + 4] = y1;
        st[s + 7] = st[s + 6]!;
        st[s + 6] = y2;
        this.#subEnergy[c] = this.#subEnergy[c]! + y2 * y2;
        const a = x < 0 ? -x : x;
        if (a > this.#samplePeak) this.#samplePeak = a;
        // True peak: shift history, evaluate the 3 interpolated phases between samples.
        const h = c * TP_TAPS;
        hist.copyWithin(h, h + 1, h + TP_TAPS);
        hist[h + TP_TAPS - 1] = x;
        for (let p = 1; p < TP_PHASES; p++) {
          let acc = 0;
          for (let k = 0; k < TP_TAPS; k++) acc += hist[h + k]! * TP_TABLE[p * TP_TAPS + k]!;
          const aa = acc < 0 ? -acc : acc;
          if (aa > this.#truePeak) this.#truePeak = aa;
        }
      }
      if (++this.#subPos === this.#subLen) {
        let z = 0;
        for (let c = 0; c < ch; c++) {
          z += this.#subEnergy[c]! / this.#subLen;
          this.#subEnergy[c] = 0;
        }
        this.#subBlocks.push(z);
        this.#subPos = 0;
      }
    }
    this.#frames += frames;
  }

  /** Current measurement over everything pushed so far. */
  result(): LoudnessResult {
    const sub = this.#subBlocks;
    const blocks: number[] = [];
    for (let i = 0; i + 4 <= sub.length; i++) blocks.push((sub[i]! + sub[i + 1]! + sub[i + 2]! + sub[i + 3]!) / 4);
    const lufs = (z: number) => -0.691 + 10 * Math.log10(z);
    // Absolute gate −70 LUFS, then relative gate 10 LU under the mean of the survivors.
    const abs = blocks.filter((z) => lufs(z) > -70);
    let integrated = Number.NEGATIVE_INFINITY;
    if (abs.length > 0) {
      const relGate = lufs(abs.reduce((a, b) => a + b, 0) / abs.length) - 10;
      const rel = abs.filter((z) => lufs(z) > relGate);
      if (rel.length > 0) integrated = lufs(rel.reduce((a, b) => a + b, 0) / rel.length);
    }
    const tp = Math.max(this.#truePeak, this.#samplePeak);
    return {
      integratedLufs: integrated,
      truePeakDb: tp > 0 ? 20 * Math.log10(tp) : Number.NEGATIVE_INFINITY,
      samplePeakDb: this.#samplePeak > 0 ? 20 * Math.log10(this.#samplePeak) : Number.NEGATIVE_INFINITY,
      durationSec: this.durationSec,
    };
  }
}

/**
 * Measures a whole buffer of interleaved PCM.
 * @throws {@link InvalidInputError} for a bad channel count or length.
 */
export function measureLoudness(
  samples: Int16Array | Float32Array,
  options: { sampleRate?: number; channels: 1 | 2 },
): LoudnessResult {
  const meter = new LoudnessMeter(options);
  meter.push(samples);
  return meter.result();
}

/** Target of {@link normalizationGain}. */
export interface NormalizationTarget {
  /** Integrated loudness to reach (default −16 LUFS, the usual level for voice chat and podcasts). */
  targetLufs?: number;
  /** Ceiling for the true peak after the gain (default −1 dBTP). */
  truePeakLimitDb?: number;
  /** Largest boost allowed (default +20 dB), so near-silence is not turned into loud noise. */
  maxGainDb?: number;
}

/**
 * Linear gain that brings `measuredLufs` to the target without pushing the true peak over the
 * limit (the lower of the two gains wins). Silence (`-Infinity`) or a non-finite measurement gives 1.
 */
export function normalizationGain(
  measured: { measuredLufs: number; truePeakDb: number },
  target: NormalizationTarget = {},
): number {
  const targetLufs = target.targetLufs ?? -16;
  const limit = target.truePeakLimitDb ?? -1;
  const maxGainDb = target.maxGainDb ?? 20;
  if (!Number.isFinite(measured.measuredLufs)) return 1;
  let gainDb = Math.min(targetLufs - measured.measuredLufs, maxGainDb);
  if (Number.isFinite(measured.truePeakDb) && measured.truePeakDb + gainDb > limit)
    gainDb = limit - measured.truePeakDb;
  return 10 ** (gainDb / 20);
}

/** Options of {@link LoudnessNormalizer}. */
export interface LoudnessNormalizerOptions extends NormalizationTarget {
  /** Interleaved channels of the 48 kHz PCM frames. */
  channels: 1 | 2;
  /** Seconds measured before the gain is fixed (default 3). This is also the normaliser's look-ahead bound. */
  measureSeconds?: number;
  /** Sample rate (default 48000). */
  sampleRate?: number;
}

/**
 * Static-gain loudness normaliser for a stream of PCM frames.
 *
 * @remarks
 * Holds frames back until `measureSeconds` of audio were measured (or the stream ends), fixes one
 * gain with {@link normalizationGain}, then releases the held frames and every later frame with
 * that gain applied (saturating). Memory is bounded by `measureSeconds` of PCM (3 s of 48 kHz
 * stereo s16 = 576 KB). Frames passed to {@link push} are modified in place and returned.
 */
export class LoudnessNormalizer {
  readonly #meter: LoudnessMeter;
  readonly #target: NormalizationTarget;
  readonly #measureFrames: number;
  readonly #channels: number;
  #held: Int16Array[] = [];
  #heldFrames = 0;
  #gain: number | undefined;

  constructor(options: LoudnessNormalizerOptions) {
    const seconds = options.measureSeconds ?? 3;
    if (!(seconds > 0 && seconds <= 60))
      throw new InvalidInputError(`measureSeconds must be in (0, 60], got ${seconds}`);
    const sampleRate = options.sampleRate ?? 48000;
    this.#meter = new LoudnessMeter({ sampleRate, channels: options.channels });
    this.#target = options;
    this.#channels = options.channels;
    this.#measureFrames = Math.round(seconds * sampleRate);
  }

  /** The fixed linear gain, once measured. */
  get gain(): number | undefined {
    return this.#gain;
  }

  /** Feeds one PCM frame; returns the frames that are ready (none while still measuring). */
  push(frame: Int16Array): Int16Array[] {
    if (this.#gain !== undefined) {
      gainS16(frame, this.#gain);
      return [frame];
    }
    this.#meter.push(frame);
    this.#held.push(frame);
    this.#heldFrames += frame.length / this.#channels;
    if (this.#heldFrames >= this.#measureFrames) return this.#release();
    return [];
  }

  /** Ends the stream: releases whatever is still held (measured on what was seen). */
  flush(): Int16Array[] {
    if (this.#gain !== undefined) return [];
    return this.#release();
  }

  #release(): Int16Array[] {
    const r = this.#meter.result();
    this.#gain = normalizationGain({ measuredLufs: r.integratedLufs, truePeakDb: r.truePeakDb }, this.#target);
    const out = this.#held;
    this.#held = [];
    for (const f of out) gainS16(f, this.#gain);
    return out;
  }
}

function gainS16(frame: Int16Array, gain: number): void {
  if (gain === 1) return;
  for (let i = 0; i < frame.length; i++) {
    const v = Math.round(frame[i]! * gain);
    frame[i] = Math.min(Math.max(v, -32768), 32767);
  }
}
