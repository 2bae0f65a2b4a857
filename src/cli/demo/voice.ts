/**
 * The simulated user's "voice": a seeded, speech-like signal in talk spurts, encoded live to
 * mono 20 ms Opus with in-band FEC, and 3-byte silence packets between spurts (which the
 * emulator's DTX model turns into a tiny packet about every 400 ms, as WebRTC clients do).
 *
 * ```
 *  spurt 0.8–2.4 s              pause 0.3–1.2 s        spurt …
 *  [voiced, f0 glide + syllables][f8 ff fe · · · · ·][………
 * ```
 * The signal is a glottal-like harmonic series (f0 95–190 Hz with vibrato) shaped by two moving
 * formant bands and a ~4 Hz syllable envelope: close enough to speech for Opus to pick its
 * SILK/hybrid modes, without shipping a recording. In-band FEC is on, as browsers send it (note:
 * ffmpeg's built-in Opus decoder rejects packets carrying LBRR frames; libopus decodes them).
 * @packageDocumentation
 */
import { OpusEncoder } from '../../codec/opus-encoder.js';
import { silencePacket } from '../../codec/silence.js';
import { mulberry32 } from '../../emulator/index.js';

/** Options of {@link DemoVoice}. */
export interface DemoVoiceOptions {
  /** Seed of the spurt lengths, pitch and formant paths. */
  seed: number;
  /** Total length (ms); `next()` returns undefined after it. */
  durationMs: number;
}

const FRAME = 960; // 20 ms at 48 kHz

interface Spurt {
  startFrame: number;
  endFrame: number;
  f0: number;
  glide: number;
  formant1: number;
  formant2: number;
}

/** A frame source for `SimulatedParticipant.speak()`: `(i) => frame i` (encoded on demand). */
export class DemoVoice {
  readonly #spurts: Spurt[] = [];
  readonly #totalFrames: number;
  #encoder: OpusEncoder | undefined;
  #phase = 0;
  #closed = false;
  /** Frames of speech encoded so far. */
  speechFrames = 0;
  /** Silence frames handed out so far. */
  silenceFrames = 0;

  constructor(options: DemoVoiceOptions) {
    this.#totalFrames = Math.max(0, Math.ceil(options.durationMs / 20));
    const rnd = mulberry32(options.seed >>> 0 || 1);
    let frame = 10; // a short pause first, so the stream starts with silence then speech
    while (frame < this.#totalFrames) {
      const len = Math.round((800 + rnd() * 1600) / 20);
      this.#spurts.push({
        startFrame: frame,
        endFrame: frame + len,
        f0: 95 + rnd() * 95,
        glide: (rnd() - 0.5) * 40,
        formant1: 500 + rnd() * 300,
        formant2: 1200 + rnd() * 900,
      });
      frame += len + Math.round((300 + rnd() * 900) / 20);
    }
  }

  /** Frames in the whole piece. */
  get totalFrames(): number {
    return this.#totalFrames;
  }

  /** Frame `i` (speech or a 3-byte silence packet), or undefined past the end or after close. */
  next(i: number): Uint8Array | undefined {
    if (this.#closed || i >= this.#totalFrames) return undefined;
    const spurt = this.#spurts.find((s) => i >= s.startFrame && i < s.endFrame);
    if (!spurt) {
      this.silenceFrames++;
      this.#phase = 0;
      return silencePacket(1, 20);
    }
    this.#encoder ??= new OpusEncoder({
      channels: 1,
      frameDurationMs: 20,
      bitrate: 32_000,
      signal: 'voice',
      fec: true,
      expectedLossPct: 5,
    });
    this.speechFrames++;
    return this.#encoder.encode(this.#synth(spurt, i));
  }

  #synth(s: Spurt, i: number): Int16Array {
    const pcm = new Int16Array(FRAME);
    const spurtLen = (s.endFrame - s.startFrame) * FRAME;
    const first = (i - s.startFrame) * FRAME; // sample index inside the spurt
    // Formants drift like changing vowels; slow enough to hold for one 20 ms frame.
    const tMid = (first + FRAME / 2) / 48_000;
    const f1 = s.formant1 * (1 + 0.25 * Math.sin(2 * Math.PI * 1.7 * tMid));
    const f2 = s.formant2 * (1 + 0.2 * Math.sin(2 * Math.PI * 1.1 * tMid + 1));
    const f0Mid = s.f0 + s.glide * ((first + FRAME / 2) / spurtLen);
    const gains: number[] = [];
    for (let h = 1; h <= 24 && f0Mid * h <= 7000; h++) {
      const fh = f0Mid * h;
      gains.push((0.25 + Math.exp(-(((fh - f1) / 180) ** 2)) + 0.6 * Math.exp(-(((fh - f2) / 260) ** 2))) / h);
    }
    for (let k = 0; k < FRAME; k++) {
      const n = first + k;
      const t = n / 48_000;
      const f0 = s.f0 + s.glide * (n / spurtLen) + 3 * Math.sin(2 * Math.PI * 5.5 * t);
      this.#phase += (2 * Math.PI * f0) / 48_000;
      let v = 0;
      for (let h = 0; h < gains.length; h++) v += gains[h]! * Math.sin((h + 1) * this.#phase);
      // Syllables (~4 Hz) and a 30 ms fade at both ends of the spurt.
      const syll = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4.2 * t) ** 2;
      const edge = Math.min(1, n / 1440, (spurtLen - n) / 1440);
      pcm[k] = Math.max(-32768, Math.min(32767, Math.round(v * syll * edge * 9000)));
    }
    // Harmonics are integer multiples of the phase, so wrapping it keeps every one continuous.
    this.#phase %= 2 * Math.PI;
    return pcm;
  }

  /** Releases the encoder; later `next()` calls return undefined. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#encoder?.close();
    this.#encoder = undefined;
  }
}
