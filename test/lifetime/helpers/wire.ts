/**
 * A frame-level probe of what the gateway accepted from one identity: slot spacing (every frame
 * exactly one frame duration after the previous one of the same session), the numbered sequence
 * (each audio frame the successor of the last), and silence frames found between two audio
 * frames (a gap papered over with filler). Keeps counters and the first few violations only, so
 * hours of frames cost no memory.
 * @packageDocumentation
 */
import type { PublishedFrame } from '../../../src/emulator/audio/types.js';
import { isSilence, seqOf } from './frames.js';

/** Counters and violations seen by a {@link WireProbe}. */
export class WireProbe {
  frames = 0;
  audio = 0;
  silence = 0;
  /** Audio frames whose number is not the successor of the previous one. */
  readonly seqBreaks: string[] = [];
  /** Consecutive frames of one session further apart than one frame (a missing slot) or closer. */
  readonly slotBreaks: string[] = [];
  /** Silence frames sent between two audio frames while `expectAudio()` was true. */
  silenceInAudio = 0;
  lastSeq = -1;
  /** Session ids in order of first frame. */
  readonly sessions: string[] = [];
  #lastAt = new Map<string, number>();
  /** Silence frames since the last audio frame (not yet known to be inside audio). */
  #pendingSilence = 0;

  constructor(
    readonly identity: string,
    readonly frameMs = 20,
  ) {}

  /** Silence since the last audio frame, forgiven (a pause): returns how many frames. */
  takeSilenceRun(): number {
    const n = this.#pendingSilence;
    this.#pendingSilence = 0;
    return n;
  }

  /** Feed every frame the gateway accepted. */
  readonly onFrame = (f: PublishedFrame): void => {
    if (f.identity !== this.identity) return;
    this.frames++;
    if (!this.sessions.includes(f.sessionId)) this.sessions.push(f.sessionId);
    const prev = this.#lastAt.get(f.sessionId);
    if (prev !== undefined && f.arrivalMs - prev !== this.frameMs && this.slotBreaks.length < 20)
      this.slotBreaks.push(`${f.sessionId}: ${f.arrivalMs - prev} ms between frames at ${f.arrivalMs}`);
    this.#lastAt.set(f.sessionId, f.arrivalMs);
    if (isSilence(f.data)) {
      this.silence++;
      this.#pendingSilence++;
      return;
    }
    const seq = seqOf(f.data);
    this.audio++;
    if (this.lastSeq >= 0 && seq !== this.lastSeq + 1 && this.seqBreaks.length < 20)
      this.seqBreaks.push(`frame ${seq} after ${this.lastSeq} at ${f.arrivalMs}`);
    if (this.lastSeq >= 0) this.silenceInAudio += this.#pendingSilence;
    this.#pendingSilence = 0;
    this.lastSeq = seq;
  };
}
