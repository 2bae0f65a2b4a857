/**
 * PCM helpers: gain, mixing with a soft clipper, channel layout, sample format conversion,
 * fade ramps and a streaming resampler to 48 kHz.
 *
 * Everything works on interleaved typed arrays. Helpers that keep the length work in place;
 * helpers that change the length accept an optional output buffer so a hot path can avoid
 * allocating. No I/O, no timers.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

export { measureLoudness } from './loudness.js';

/** Interleaved PCM in either signed 16-bit or 32-bit float (nominal range −1..1). */
export type PcmArray = Int16Array | Float32Array;

const S16_MAX = 32767;
const S16_MIN = -32768;

function clampS16(v: number): number {
  // Int16Array stores ToInt16(v), which wraps 32768 to −32768; saturate instead.
  return Math.min(Math.max(v, S16_MIN), S16_MAX);
}

/**
 * Multiplies every sample by `gain`, in place. Int16 samples saturate at the type's range
 * instead of wrapping. A gain of exactly 1 returns at once.
 * @throws {@link InvalidInputError} when `gain` is negative or not finite.
 */
export function applyGain(samples: PcmArray, gain: number): void {
  if (!Number.isFinite(gain) || gain < 0) throw new InvalidInputError(`gain must be a finite number ≥ 0, got ${gain}`);
  if (gain === 1) return;
  const n = samples.length;
  if (samples instanceof Float32Array) {
    for (let i = 0; i < n; i++) samples[i] = samples[i]! * gain;
    return;
  }
  if (gain <= 1) {
    // Cannot overflow: skip the clamp. Math.round keeps the error symmetric around zero.
    for (let i = 0; i < n; i++) samples[i] = Math.round(samples[i]! * gain);
    return;
  }
  for (let i = 0; i < n; i++) samples[i] = clampS16(Math.round(samples[i]! * gain));
}

/** Options of {@link mixInto}. */
export interface MixOptions {
  /**
   * Apply a soft clipper (default true): linear up to the knee, then a tanh curve that approaches
   * full scale asymptotically. When false, the sum is hard-clipped. Either way there is no wraparound.
   */
  softClip?: boolean;
  /** Knee of the soft clipper as a fraction of full scale (default 0.8). */
  knee?: number;
  /** Per-input linear gains (default 1 each). */
  gains?: readonly number[];
}

/**
 * Soft-clips one sample of nominal range −1..1: identity below `knee`, then
 * `knee + (1 − knee)·tanh((|x| − knee)/(1 − knee))`, which has slope 1 at the knee (no audible
 * kink) and never exceeds 1.
 */
export function softClipSample(x: number, knee = 0.8): number {
  const a = x < 0 ? -x : x;
  if (a <= knee) return x;
  const room = 1 - knee;
  const y = knee + room * Math.tanh((a - knee) / room);
  return x < 0 ? -y : y;
}

/**
 * Writes the sum of `inputs` into `out` (overwriting it), sample by sample, with a soft clipper.
 * Inputs shorter than `out` contribute silence past their end. `out` may also appear in `inputs`
 * (each sample is read before it is written), which turns this into "add to".
 * @throws {@link InvalidInputError} when the input types do not match `out`'s, or the knee is outside 0..1.
 */
export function mixInto<T extends PcmArray>(out: T, inputs: readonly T[], options: MixOptions = {}): T {
  const soft = options.softClip !== false;
  const knee = options.knee ?? 0.8;
  if (!(knee > 0 && knee < 1)) throw new InvalidInputError(`knee must be in (0, 1), got ${knee}`);
  const isF32 = out instanceof Float32Array;
  for (const input of inputs) {
    if (input instanceof Float32Array !== isF32)
      throw new InvalidInputError('mixInto: inputs must have the same sample type as out');
  }
  const gains = options.gains;
  const n = out.length;
  const scale = isF32 ? 1 : S16_MAX;
  const kneeAbs = knee * scale;
  const room = (1 - knee) * scale;
  // Accumulate input by input (tight loops without per-sample bounds checks), then clip once.
  if (mixScratch.length < n) mixScratch = new Float64Array(n);
  const acc = mixScratch;
  acc.fill(0, 0, n);
  for (let k = 0; k < inputs.length; k++) {
    const input = inputs[k]!;
    const g = gains?.[k] ?? 1;
    const len = Math.min(n, input.length);
    if (g === 1) for (let i = 0; i < len; i++) acc[i] = acc[i]! + input[i]!;
    else for (let i = 0; i < len; i++) acc[i] = acc[i]! + input[i]! * g;
  }
  for (let i = 0; i < n; i++) {
    const sum = acc[i]!;
    let y: number;
    if (soft) {
      const a = sum < 0 ? -sum : sum;
      if (a <= kneeAbs) y = sum;
      else {
        const c = kneeAbs + room * Math.tanh((a - kneeAbs) / room);
        y = sum < 0 ? -c : c;
      }
    } else {
      y = Math.min(Math.max(sum, -scale), scale);
    }
    out[i] = isF32 ? y : clampS16(Math.round(y));
  }
  return out;
}

/** Reused accumulator of {@link mixInto} (grows to the largest frame seen; never shrinks). */
let mixScratch = new Float64Array(0);

function checkOut<T extends PcmArray>(out: T | undefined, length: number, make: (n: number) => T, what: string): T {
  if (out === undefined) return make(length);
  if (out.length < length)
    throw new InvalidInputError(`${what}: output buffer holds ${out.length} samples, needs ${length}`);
  return out;
}

/**
 * Duplicates a mono signal into interleaved stereo (L = R).
 * @param out optional destination (length ≥ 2 × mono.length) to avoid an allocation. It may be a
 *   buffer whose first half is `mono` itself (the loop runs backwards so nothing is overwritten early).
 */
export function monoToStereo<T extends PcmArray>(mono: T, out?: T): T {
  const n = mono.length;
  const dst = checkOut(out, n * 2, (len) => new (mono.constructor as new (n: number) => T)(len), 'monoToStereo');
  // Walk backwards so that a caller passing a larger buffer that starts with the mono data still works.
  for (let i = n - 1; i >= 0; i--) {
    const v = mono[i]!;
    dst[2 * i] = v;
    dst[2 * i + 1] = v;
  }
  return dst;
}

/**
 * Averages interleaved stereo into mono. `out` may be the input itself (in-place downmix; the
 * first half then holds the result).
 * @throws {@link InvalidInputError} for an odd-length input.
 */
export function stereoToMono<T extends PcmArray>(stereo: T, out?: T): T {
  if (stereo.length % 2 !== 0) throw new InvalidInputError(`stereoToMono: odd sample count ${stereo.length}`);
  const n = stereo.length / 2;
  const dst = checkOut(out, n, (len) => new (stereo.constructor as new (n: number) => T)(len), 'stereoToMono');
  const isF32 = dst instanceof Float32Array;
  for (let i = 0; i < n; i++) {
    const v = (stereo[2 * i]! + stereo[2 * i + 1]!) / 2;
    // Int16: average of two int16 values always fits; round half away from zero via Math.round on |v|.
    dst[i] = isF32 ? v : v < 0 ? -Math.round(-v) : Math.round(v);
  }
  return dst;
}

/** Converts s16 to float (divides by 32768, so −32768 maps to exactly −1). */
export function s16ToF32(src: Int16Array, out?: Float32Array): Float32Array {
  const dst = checkOut(out, src.length, (n) => new Float32Array(n), 's16ToF32');
  for (let i = 0; i < src.length; i++) dst[i] = src[i]! / 32768;
  return dst;
}

/** Converts float to s16 with rounding and saturation (values beyond ±1 clip, NaN becomes 0). */
export function f32ToS16(src: Float32Array, out?: Int16Array): Int16Array {
  const dst = checkOut(out, src.length, (n) => new Int16Array(n), 'f32ToS16');
  for (let i = 0; i < src.length; i++) {
    const v = src[i]! * 32768;
    dst[i] = Number.isNaN(v) ? 0 : clampS16(Math.round(v));
  }
  return dst;
}

/**
 * Multiplies an interleaved buffer by a linear ramp from `startGain` (first sample frame) to
 * `endGain` (last sample frame), in place. Building block of fades and crossfades: a crossfade is
 * `applyRamp(a, ch, 1, 0)`, `applyRamp(b, ch, 0, 1)`, `mixInto(out, [a, b])`.
 * @param curve `'linear'` (constant amplitude sum, right for correlated signals) or `'equal-power'`
 *   (sin/cos law, constant power, right for uncorrelated signals such as two different songs).
 */
export function applyRamp(
  samples: PcmArray,
  channels: 1 | 2,
  startGain: number,
  endGain: number,
  curve: 'linear' | 'equal-power' = 'linear',
): void {
  if (!Number.isFinite(startGain) || !Number.isFinite(endGain) || startGain < 0 || endGain < 0) {
    throw new InvalidInputError(`ramp gains must be finite and ≥ 0, got ${startGain} → ${endGain}`);
  }
  const frames = Math.floor(samples.length / channels);
  if (frames === 0) return;
  const isF32 = samples instanceof Float32Array;
  const denom = frames > 1 ? frames - 1 : 1;
  for (let f = 0; f < frames; f++) {
    let t = f / denom;
    if (curve === 'equal-power') {
      // Map t through sin so the ramp follows √ of a linear power ramp.
      t = Math.sin((t * Math.PI) / 2);
    }
    const g = startGain + (endGain - startGain) * t;
    for (let c = 0; c < channels; c++) {
      const i = f * channels + c;
      const v = samples[i]! * g;
      samples[i] = isF32 ? v : clampS16(Math.round(v));
    }
  }
}

/** Fades in place from silence to full level over the whole buffer. */
export function fadeIn(samples: PcmArray, channels: 1 | 2, curve: 'linear' | 'equal-power' = 'linear'): void {
  applyRamp(samples, channels, 0, 1, curve);
}

/**
 * Fades in place from full level to silence over the whole buffer. With `'equal-power'` the
 * curve is the mirror of {@link fadeIn}'s, so the two overlap at constant power.
 */
export function fadeOut(samples: PcmArray, channels: 1 | 2, curve: 'linear' | 'equal-power' = 'linear'): void {
  if (curve === 'linear') {
    applyRamp(samples, channels, 1, 0, 'linear');
    return;
  }
  const frames = Math.floor(samples.length / channels);
  const isF32 = samples instanceof Float32Array;
  const denom = frames > 1 ? frames - 1 : 1;
  for (let f = 0; f < frames; f++) {
    const g = Math.cos(((f / denom) * Math.PI) / 2);
    for (let c = 0; c < channels; c++) {
      const i = f * channels + c;
      const v = samples[i]! * g;
      samples[i] = isF32 ? v : Math.round(v);
    }
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Options of {@link Resampler}. */
export interface ResamplerOptions {
  /** Input rate in Hz (integer, 4000..192000). Typical: 8000, 16000, 22050, 24000, 32000, 44100. */
  inputRate: number;
  /** Output rate in Hz (default 48000). */
  outputRate?: number;
  /** Interleaved channel count (1 or 2). */
  channels: 1 | 2;
  /**
   * Zero crossings of the windowed sinc on each side (default 16). More taps give a sharper
   * anti-imaging filter at a proportional CPU cost.
   */
  halfTaps?: number;
}

/**
 * A streaming polyphase windowed-sinc resampler (interleaved s16 or float in, s16 out).
 *
 * @remarks
 * The ratio is reduced to L/M (e.g. 22.05 → 48 kHz is 320/147). Output sample n sits at input
 * time t = n·M/L = i + p/L; it is the dot product of the 2K input samples around i with the
 * precomputed phase p of a Blackman-windowed sinc (cutoff 0.9 × the lower Nyquist, every phase
 * normalised to unity DC gain). K samples of lookahead are held back between calls; {@link flush}
 * feeds zeros to release them, so the total output is exactly ⌈N·L/M⌉ samples per channel for N
 * input samples.
 *
 * ```
 *   history (K−1)      |  current i  |  lookahead (K)
 *   x[i−K+1] ... x[i−1]   x[i]          x[i+1] ... x[i+K]      · h_p[0..2K−1]
 * ```
 * Buffering is bounded by one input chunk plus 2K samples per channel.
 */
export class Resampler {
  /** Input rate in Hz. */
  readonly inputRate: number;
  /** Output rate in Hz. */
  readonly outputRate: number;
  /** Channel count. */
  readonly channels: 1 | 2;
  readonly #up: number;
  readonly #down: number;
  readonly #taps: number; // 2K
  readonly #half: number; // K
  readonly #table: Float32Array; // [phase][tap]
  readonly #passthrough: boolean;
  #buf: Float32Array; // interleaved, logical index 0 = x[#bufBase]
  #bufLen = 0; // sample frames in #buf
  #ti = 0; // integer input position of the next output, relative to #buf start
  #tp = 0; // phase 0..L−1
  #inputFrames = 0; // total input frames seen, relative to #buf start (for flush)
  #flushed = false;

  constructor(options: ResamplerOptions) {
    const { inputRate, channels } = options;
    const outputRate = options.outputRate ?? 48000;
    for (const [name, rate] of [
      ['inputRate', inputRate],
      ['outputRate', outputRate],
    ] as const) {
      if (!Number.isInteger(rate) || rate < 4000 || rate > 192000) {
        throw new InvalidInputError(`Resampler: ${name} must be an integer in 4000..192000 Hz, got ${rate}`);
      }
    }
    if (channels !== 1 && channels !== 2)
      throw new InvalidInputError(`Resampler: channels must be 1 or 2, got ${channels}`);
    this.inputRate = inputRate;
    this.outputRate = outputRate;
    this.channels = channels;
    const g = gcd(inputRate, outputRate);
    this.#up = outputRate / g;
    this.#down = inputRate / g;
    if (this.#up > 2048)
      throw new InvalidInputError(`Resampler: ratio ${outputRate}/${inputRate} needs too many phases (${this.#up})`);
    this.#passthrough = inputRate === outputRate;
    // Downsampling must low-pass at the output's Nyquist: widen the kernel by 1/ratio.
    const ratio = Math.min(1, this.#up / this.#down);
    const cutoff = 0.9 * ratio;
    const zc = options.halfTaps ?? 16;
    const half = Math.ceil(zc / ratio);
    this.#half = half;
    this.#taps = 2 * half;
    const L = this.#up;
    const table = new Float32Array(L * this.#taps);
    for (let p = 0; p < L; p++) {
      let sum = 0;
      for (let k = 0; k < this.#taps; k++) {
        // Tap k multiplies x[i + k − K + 1]; its distance from t is p/L − (k − K + 1).
        const x = p / L - (k - half + 1);
        const sx = cutoff * x;
        const sinc = sx === 0 ? 1 : Math.sin(Math.PI * sx) / (Math.PI * sx);
        const w =
          Math.abs(x) >= half
            ? 0
            : 0.42 + 0.5 * Math.cos((Math.PI * x) / half) + 0.08 * Math.cos((2 * Math.PI * x) / half);
        const v = sinc * w;
        table[p * this.#taps + k] = v;
        sum += v;
      }
      for (let k = 0; k < this.#taps; k++) table[p * this.#taps + k] = table[p * this.#taps + k]! / sum;
    }
    this.#table = table;
    this.#buf = new Float32Array(4096 * channels);
    // K−1 zeros of history so the first output is centred on x[0].
    this.#bufLen = half - 1;
    this.#ti = half - 1;
    this.#inputFrames = half - 1;
  }

  /** Output sample frames produced for `inputFrames` input frames over a whole stream. */
  static outputLength(inputFrames: number, inputRate: number, outputRate = 48000): number {
    const g = gcd(inputRate, outputRate);
    return Math.ceil((inputFrames * (outputRate / g)) / (inputRate / g));
  }

  /**
   * Feeds interleaved input and returns the output that is ready (possibly empty).
   * Float input is nominal −1..1; s16 input is converted exactly.
   * @throws {@link InvalidInputError} for a length that is not a multiple of `channels`, or after {@link flush}.
   */
  process(input: PcmArray): Int16Array {
    if (this.#flushed) throw new InvalidInputError('Resampler: process() after flush()');
    const ch = this.channels;
    if (input.length % ch !== 0)
      throw new InvalidInputError(`Resampler: ${input.length} samples is not a multiple of ${ch} channels`);
    if (this.#passthrough) {
      if (input instanceof Int16Array) return input.slice();
      return f32ToS16(input);
    }
    this.#append(input);
    return this.#run(this.#bufLen);
  }

  /** Releases the held-back tail (zero padded) and ends the stream. Idempotent: later calls return an empty array. */
  flush(): Int16Array {
    if (this.#flushed || this.#passthrough) {
      this.#flushed = true;
      return new Int16Array(0);
    }
    const end = this.#inputFrames;
    this.#append(new Float32Array(this.#half * this.channels));
    const out = this.#run(this.#bufLen, end);
    this.#flushed = true;
    return out;
  }

  #append(input: PcmArray): void {
    const ch = this.channels;
    const frames = input.length / ch;
    const need = (this.#bufLen + frames) * ch;
    if (need > this.#buf.length) {
      const next = new Float32Array(Math.max(need, this.#buf.length * 2));
      next.set(this.#buf.subarray(0, this.#bufLen * ch));
      this.#buf = next;
    }
    const off = this.#bufLen * ch;
    const buf = this.#buf;
    if (input instanceof Int16Array) {
      for (let i = 0; i < input.length; i++) buf[off + i] = input[i]! / 32768;
    } else {
      buf.set(input, off);
    }
    this.#bufLen += frames;
    this.#inputFrames += frames;
  }

  /** Produces outputs while the lookahead is available (and, when flushing, while t < end). */
  #run(available: number, end = Number.POSITIVE_INFINITY): Int16Array {
    const ch = this.channels;
    const K = this.#half;
    const taps = this.#taps;
    const L = this.#up;
    const M = this.#down;
    const table = this.#table;
    const buf = this.#buf;
    // Count outputs first so the result is allocated once.
    let count = 0;
    {
      let ti = this.#ti;
      let tp = this.#tp;
      while (ti + K < available && ti < end) {
        count++;
        tp += M;
        ti += Math.floor(tp / L);
        tp %= L;
      }
    }
    const out = new Int16Array(count * ch);
    let ti = this.#ti;
    let tp = this.#tp;
    for (let n = 0; n < count; n++) {
      const base = (ti - K + 1) * ch;
      const hOff = tp * taps;
      if (ch === 1) {
        let acc = 0;
        for (let k = 0; k < taps; k++) acc += buf[base + k]! * table[hOff + k]!;
        out[n] = clampS16(Math.round(acc * 32768));
      } else {
        let l = 0;
        let r = 0;
        for (let k = 0; k < taps; k++) {
          const h = table[hOff + k]!;
          l += buf[base + 2 * k]! * h;
          r += buf[base + 2 * k + 1]! * h;
        }
        out[2 * n] = clampS16(Math.round(l * 32768));
        out[2 * n + 1] = clampS16(Math.round(r * 32768));
      }
      tp += M;
      ti += Math.floor(tp / L);
      tp %= L;
    }
    // Drop input no future output can reach (everything before ti − K + 1).
    const drop = Math.max(0, ti - K + 1);
    if (drop > 0) {
      buf.copyWithin(0, drop * ch, this.#bufLen * ch);
      this.#bufLen -= drop;
      this.#inputFrames -= drop;
      ti -= drop;
    }
    this.#ti = ti;
    this.#tp = tp;
    return out;
  }
}
