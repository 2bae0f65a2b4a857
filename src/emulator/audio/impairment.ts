/**
 * A seeded network model for simulated speakers: jitter (normal or heavy-tailed), loss (random
 * or Gilbert–Elliott bursts), reordering, duplication, stalls (hold, then release a burst) and
 * WebRTC-style DTX. Pure: the same frames, options and seed always give the same deliveries,
 * so a test run repeats exactly. No timers; callers schedule the returned arrival times.
 *
 * ```
 *  send:    0    20   40   60   80  100  120        (one frame per 20 ms)
 *  model:   ─ dtx? ─ loss? ─ delay = base + jitter (+ reorder hold) ─ stall window? ─ fifo? ─ dup?
 *  arrive:  12   31   ✗   140  140  140  131 …      (stall [50,140) released as one burst)
 * ```
 * @packageDocumentation
 */
import { seededRandom } from '../../util/random.js';
import type { ImpairedFrame, ImpairmentInput, ImpairmentOptions } from './types.js';

/** mulberry32, the seeded PRNG of the impairment model (the same generator as `seededRandom`). */
export const mulberry32: (seed: number) => () => number = seededRandom;

/** Counters of what the model did to a stream. */
export interface ImpairmentStats {
  /** Frames pushed in. */
  input: number;
  /** Frames lost by the loss model. */
  lost: number;
  /** Silent frames suppressed by DTX (not losses). */
  dtxSuppressed: number;
  /** DTX packets emitted in place of silent frames. */
  dtxPackets: number;
  /** Frames held back by the reorder model. */
  reordered: number;
  /** Extra copies emitted. */
  duplicated: number;
  /** Frames whose arrival was pushed to the end of a stall. */
  stalled: number;
}

const isTinySilence = (d: Uint8Array): boolean => d.length <= 3;

/**
 * The streaming form of the model: push frames in send order, get 0..2 deliveries each with an
 * absolute arrival time (possibly earlier than a previous frame's: sort or schedule them).
 * Random draws happen in a fixed order per frame whatever the outcome, so enabling one feature
 * does not reshuffle the decisions of another.
 */
export class ImpairmentStream {
  readonly stats: ImpairmentStats = {
    input: 0,
    lost: 0,
    dtxSuppressed: 0,
    dtxPackets: 0,
    reordered: 0,
    duplicated: 0,
    stalled: 0,
  };
  readonly #o: ImpairmentOptions;
  readonly #rng: () => number;
  #index = 0;
  #t0: number | undefined;
  #bad = false;
  #lastDtxMs = Number.NEGATIVE_INFINITY;
  #inSilence = false;
  #lastArrive = Number.NEGATIVE_INFINITY;

  /** @param seed any 32-bit integer; the same seed and options replay the same run. */
  constructor(options: ImpairmentOptions = {}, seed = 1) {
    this.#o = options;
    this.#rng = mulberry32(seed);
  }

  #normal(): number {
    // Box–Muller; 1 - u keeps log() away from 0.
    const u = 1 - this.#rng();
    const v = this.#rng();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  #jitter(): number {
    const j = this.#o.jitter;
    if (!j) return 0;
    if (j.kind === 'normal') return Math.max(0, (j.meanMs ?? 0) + j.stdDevMs * this.#normal());
    const u = 1 - this.#rng();
    const d = j.scaleMs * (u ** (-1 / j.shape) - 1);
    return Math.min(d, j.capMs ?? Number.POSITIVE_INFINITY);
  }

  #lose(): boolean {
    const l = this.#o.loss;
    if (!l) return false;
    if (l.kind === 'random') return this.#rng() < l.rate;
    const t = this.#rng();
    this.#bad = this.#bad ? !(t < l.pBadToGood) : t < l.pGoodToBad;
    return this.#rng() < (this.#bad ? (l.lossInBad ?? 1) : (l.lossInGood ?? 0));
  }

  #stallEnd(arrive: number, t0: number): number | undefined {
    const s = this.#o.stall;
    if (!s || s.durationMs <= 0) return undefined;
    let end: number | undefined;
    for (const at of s.atMs ?? []) {
      const start = t0 + at;
      if (arrive >= start && arrive < start + s.durationMs) end = Math.max(end ?? 0, start + s.durationMs);
    }
    if (s.everyMs !== undefined && s.everyMs > 0) {
      const rel = arrive - t0 - (s.offsetMs ?? 0);
      if (rel >= 0) {
        const start = Math.floor(rel / s.everyMs) * s.everyMs;
        if (rel - start < s.durationMs) end = Math.max(end ?? 0, t0 + (s.offsetMs ?? 0) + start + s.durationMs);
      }
    }
    return end;
  }

  /** Feeds the next frame (in send order) and returns its deliveries. */
  push(frame: ImpairmentInput): ImpairedFrame[] {
    const o = this.#o;
    const index = this.#index++;
    this.stats.input++;
    this.#t0 ??= frame.sendMs;
    // Fixed draw order per frame: loss, jitter, reorder, duplicate.
    const lost = this.#lose();
    const jitter = this.#jitter();
    const reorder = o.reorder ? this.#rng() < o.reorder.rate : false;
    const dup = o.duplicate ? this.#rng() < o.duplicate.rate : false;

    let data = frame.data;
    let dtx = false;
    if (o.dtx) {
      const silent = (o.dtx.isSilent ?? isTinySilence)(frame.data);
      if (silent) {
        const interval = o.dtx.intervalMs ?? 400;
        if (this.#inSilence && frame.sendMs - this.#lastDtxMs < interval) {
          this.stats.dtxSuppressed++;
          return [];
        }
        this.#inSilence = true;
        this.#lastDtxMs = frame.sendMs;
        // A TOC-only (code 0) packet, or TOC + one byte: what WebRTC's Opus DTX puts on the wire.
        const toc = (frame.data[0] ?? 0xf8) & 0xfc;
        data = o.dtx.packetBytes === 2 ? Uint8Array.of(toc, 0) : Uint8Array.of(toc);
        dtx = true;
        this.stats.dtxPackets++;
      } else {
        this.#inSilence = false;
      }
    }
    if (lost) {
      this.stats.lost++;
      return [];
    }
    let arrive = frame.sendMs + (o.baseDelayMs ?? 0) + jitter;
    if (reorder) {
      arrive += o.reorder?.delayMs ?? 40;
      this.stats.reordered++;
    }
    const end = this.#stallEnd(arrive, this.#t0);
    if (end !== undefined) {
      arrive = end;
      this.stats.stalled++;
    }
    if (o.fifo) arrive = Math.max(arrive, this.#lastArrive);
    this.#lastArrive = Math.max(this.#lastArrive, arrive);
    const out: ImpairedFrame[] = [{ data, arriveMs: arrive, index, duplicate: false, dtx }];
    if (dup) {
      this.stats.duplicated++;
      out.push({ data, arriveMs: arrive + (o.duplicate?.delayMs ?? 0), index, duplicate: true, dtx });
    }
    return out;
  }
}

/**
 * The model as a pure function: applies {@link ImpairmentOptions} to frames in send order and
 * returns the deliveries sorted by arrival (stable: equal arrivals keep send order, so a stall
 * releases its burst in order). Same inputs and seed → identical output.
 */
export function impair(frames: readonly ImpairmentInput[], options: ImpairmentOptions = {}, seed = 1): ImpairedFrame[] {
  const stream = new ImpairmentStream(options, seed);
  const out: ImpairedFrame[] = [];
  for (const f of frames) out.push(...stream.push(f));
  return sortByArrival(out);
}

/** Stable sort of deliveries by arrival time. */
export function sortByArrival(frames: ImpairedFrame[]): ImpairedFrame[] {
  return frames
    .map((f, i) => ({ f, i }))
    .sort((a, b) => a.f.arriveMs - b.f.arriveMs || a.i - b.i)
    .map((x) => x.f);
}
