/**
 * Sans-IO adaptive jitter buffer for header-less egress (docs/platform.md §A5): each packet is one raw Opus
 * packet in gateway arrival order, with no sequence number and no timestamp.
 *
 * ```
 *  push(packet, arrivalMs)                              pop(nowMs)  (caller's playout tick)
 *        │                                                   ▲
 *        ▼                                                   │
 *  ┌────────────┐  virtual ts  ┌──────────────────────────────┴───┐
 *  │ TOC timing │────────────► │ queue (arrival order, bounded)   │──► packet | conceal(+fec) | silence
 *  │ DTX, gaps  │  rel. delay  │ [gap][pkt][pkt][dtx] …           │     + stretch request / drop / hold
 *  └────────────┘──► histogram ─► target delay ──► level control ─┘
 * ```
 *
 * Timing model. The sender's media clock is rebuilt from TOC durations: packet *i* gets a virtual
 * timestamp `ts(i) = ts(i-1) + dur(i-1)`, re-anchored to its arrival after a DTX packet, the first
 * packet and a sender restart (those gaps are silence, not loss). `arrival - ts` minus its recent
 * minimum (a 2 s window of media time, raised when a persistent step shows) is the packet's
 * relative delay, which feeds a forgetting {@link DelayHistogram} (a sample half a frame or more
 * above the floor waits ten packets, to tell a late packet from a timeline that moved); the
 * target delay minimises `delay + lateLossCostMs · late-loss %`.
 *
 * Loss is inferred two ways: when the network has been quiet (small spread) and a packet arrives
 * about a whole number of frames late, those frames were lost and a gap is queued in front of it
 * (so the decoder can use the packet's in-band FEC for the last missing frame); otherwise loss
 * shows as an underrun, concealed by PLC for the exact slot. Concealment runs are capped
 * (`concealCapMs`), then fade to silence. During silence (after DTX) the buffer stretches or
 * compresses freely by holding or dropping silence. During speech, with `timeStretch`, it asks the
 * consumer to time-stretch decoded PCM by a few ms (accelerate or expand, NetEq-style), and only
 * drops whole frames when far above target; without it (Opus passthrough), it drops whole frames,
 * at most one every few slots, when the delay is above target by more than a frame.
 *
 * @remarks NetEq (WebRTC) is the conceptual reference; no code is taken from it. No timers inside:
 * the caller owns time and calls {@link AdaptiveJitterBuffer.pop} on its own tick, looping while it
 * returns something other than `none` to catch up after a late tick.
 * @packageDocumentation
 */
import { DelayHistogram, type DelayHistogramOptions } from './delay-histogram.js';
import { type JitterMetrics, newJitterMetrics } from './metrics.js';
import { isDtxSized, tocSamples, tocShape } from './toc.js';

/** Options of {@link AdaptiveJitterBuffer}. */
export interface JitterBufferOptions {
  /** Duration of a slot before the first packet tells the real one (ms). Default 20. */
  clockRateMs?: number;
  /** Conservative delay used until `warmupPackets` arrived (ms). Default 80. */
  initialDelayMs?: number;
  /** Lower bound of the target delay (ms). Default 0. */
  minDelayMs?: number;
  /** Upper bound of the target delay (ms). Default 400. */
  maxDelayMs?: number;
  /** Delay (ms) considered worth one percentage point of late loss. Default 20 (NetEq's value). */
  lateLossCostMs?: number;
  /** Packets observed before the histogram drives the target. Default 25. */
  warmupPackets?: number;
  /** Longest concealment run before fading to silence (ms). Default 100. */
  concealCapMs?: number;
  /** Hard cap on buffered media (ms); the oldest packets are dropped beyond it. Default 600. */
  maxBufferedMs?: number;
  /** An arrival gap this long without a DTX packet before it is a sender restart (ms). Default 1500. */
  restartGapMs?: number;
  /** Media-time window of the relative-delay reference (ms). Default 2000. */
  referenceWindowMs?: number;
  /** Minimum slots between two frame drops during speech. Default 3. */
  minSlotsBetweenDrops?: number;
  /**
   * Drop speech frames to bring the delay down (default true). Recorders set false: the delay
   * then only shrinks in silence, and no received frame is ever discarded except over the cap.
   */
  dropSpeechFrames?: boolean;
  /**
   * Follow the target during speech by time-stretching instead of dropping whole frames (default
   * false). When set, a played packet may carry a {@link StretchRequest}: the consumer decodes it,
   * shortens or lengthens the PCM by up to `maxSamples` (one or more pitch periods, see
   * `accelerate`/`expand` in `codec/time-stretch`) and reports what it did with
   * {@link AdaptiveJitterBuffer.stretched}. Only a PCM consumer can do that; Opus passthrough
   * (recorders, `opus` mode) leaves it off.
   */
  timeStretch?: boolean;
  /** Smallest delay error (ms) worth a time-stretch during speech. Default 3. */
  stretchThresholdMs?: number;
  /** Options of the underlying histogram. */
  histogram?: DelayHistogramOptions;
}

/**
 * Asks the consumer to time-stretch one decoded packet (see {@link JitterBufferOptions.timeStretch}):
 * `accelerate` removes, `expand` repeats, between `minSamples` and `maxSamples` samples per channel.
 */
export interface StretchRequest {
  mode: 'accelerate' | 'expand';
  /** Most samples (48 kHz, per channel) to remove or add. */
  maxSamples: number;
  /** Fewest samples worth doing (a 2.5 ms pitch period). */
  minSamples: number;
}

/** Why a slot holds silence. */
export type SilenceReason = 'dtx' | 'hold' | 'faded';

/** One slot of playout returned by {@link AdaptiveJitterBuffer.pop}. */
export type JitterOutput =
  | {
      kind: 'packet';
      /** The Opus packet to decode or record, unchanged. */
      packet: Uint8Array;
      /** Duration in 48 kHz samples (from the TOC). */
      samples: number;
      /** Duration in ms. */
      durationMs: number;
      /** Slot start on the caller's clock. */
      atMs: number;
      /** When the packet arrived. */
      arrivalMs: number;
      /**
       * The packet's place on the sender's timeline, on the caller's clock: when it would have
       * arrived over the fastest recent path (never after `arrivalMs`). Unlike the arrival time it
       * does not move with network jitter, so a recorder that places audio by it keeps a late
       * packet where it belongs instead of shifting what follows.
       */
      timelineMs: number;
      /**
       * The packet's position on the sender's media timeline (ms; the origin is arbitrary and
       * moves at a sender restart or `reset()`). `mediaMs + referenceMs` read later gives
       * `timelineMs` with a reference that has seen more packets (see {@link AdaptiveJitterBuffer.referenceMs}).
       */
      mediaMs: number;
      /** True for a ≤ 2-byte DTX packet (decode as comfort noise, do not record). */
      dtx: boolean;
      /** True when the previous slot was concealment (a decoder may smooth the join). */
      afterConceal: boolean;
      /** The next queued packet, if any (for look-ahead users). */
      fecNext?: Uint8Array;
      /**
       * Time-stretch this packet's PCM (only with `timeStretch`), then report the change with
       * {@link AdaptiveJitterBuffer.stretched}. Ignoring it is safe: the delay then stays put.
       */
      stretch?: StretchRequest;
    }
  | {
      kind: 'conceal';
      /** Exact number of 48 kHz samples to conceal. */
      samples: number;
      durationMs: number;
      atMs: number;
      /** `loss`: inferred loss in front of a queued packet; `underrun`: nothing to play. */
      reason: 'loss' | 'underrun';
      /** The packet after the missing one, when queued: decode its in-band FEC for this slot. */
      fec?: Uint8Array;
      /** True on the last concealed slot before the cap: fade this slot out to silence. */
      fadeOut: boolean;
    }
  | { kind: 'silence'; samples: number; durationMs: number; atMs: number; reason: SilenceReason }
  | { kind: 'none' };

interface PacketEntry {
  kind: 'packet';
  packet: Uint8Array;
  samples: number;
  durationMs: number;
  arrivalMs: number;
  ts: number;
  dtx: boolean;
}
interface GapEntry {
  kind: 'gap';
  samples: number;
  durationMs: number;
  ts: number;
}
type Entry = PacketEntry | GapEntry;

type PlayState = 'idle' | 'speech' | 'conceal' | 'dtx' | 'silence' | 'faded';

const RECENT = 10;
const SILENCE_GRAIN_MS = 5;
/** Shortest stretch worth asking for: one 2.5 ms pitch period (400 Hz) at 48 kHz. */
const MIN_STRETCH_SAMPLES = 120;

/**
 * Adaptive jitter buffer for header-less Opus egress. Sans-IO: `push(packet, arrivalMs)` and
 * `pop(nowMs)`; every number in {@link AdaptiveJitterBuffer.metrics} is updated as it goes.
 */
export class AdaptiveJitterBuffer {
  /** Live counters and delays; a plain object, read it whenever. */
  readonly metrics: JitterMetrics = newJitterMetrics();

  readonly #o: Required<Omit<JitterBufferOptions, 'histogram'>>;
  readonly #hist: DelayHistogram;
  #queue: Entry[] = [];
  #bufferedMs = 0;

  // Timeline (sender side).
  #prevTs = 0;
  #prevDur = 0;
  #prevDtx = false;
  #havePrev = false;
  #lastArrival = Number.NaN;
  #lastShape = -1;
  #ref: Array<{ ts: number; e: number }> = []; // monotonic deque: increasing e
  #recent: Array<{ ts: number; e: number }> = [];
  #pendingSamples: Array<{ e: number; due: number }> = [];
  #learned = 0;

  // Playout side.
  #started = false;
  #playAt = 0;
  #state: PlayState = 'idle';
  #slotMs: number;
  #concealRunMs = 0;
  #concealCreditMs = 0;
  #slotsSinceDrop = 1_000;
  #jitterMs = 0;
  #steadyPackets = 0;
  #prevE = Number.NaN;
  #pendingStretch: StretchRequest | undefined;
  #lastInference: { ts: number; gapMs: number; packetsAgo: number; arrivalMs: number } | undefined;
  #target: number;

  constructor(options: JitterBufferOptions = {}) {
    this.#o = {
      clockRateMs: options.clockRateMs ?? 20,
      initialDelayMs: options.initialDelayMs ?? 80,
      minDelayMs: options.minDelayMs ?? 0,
      maxDelayMs: options.maxDelayMs ?? 400,
      lateLossCostMs: options.lateLossCostMs ?? 20,
      warmupPackets: options.warmupPackets ?? 25,
      concealCapMs: options.concealCapMs ?? 100,
      maxBufferedMs: options.maxBufferedMs ?? 600,
      restartGapMs: options.restartGapMs ?? 1500,
      referenceWindowMs: options.referenceWindowMs ?? 2000,
      minSlotsBetweenDrops: options.minSlotsBetweenDrops ?? 3,
      dropSpeechFrames: options.dropSpeechFrames ?? true,
      timeStretch: options.timeStretch ?? false,
      stretchThresholdMs: options.stretchThresholdMs ?? 3,
    };
    // 2 ms bins: the target is a bin's upper edge, so coarser bins add half a bin of delay on average.
    this.#hist = new DelayHistogram({
      bucketMs: 2,
      maxDelayMs: Math.max(1000, this.#o.maxDelayMs * 2),
      ...options.histogram,
    });
    this.#slotMs = this.#o.clockRateMs;
    this.#target = this.#o.initialDelayMs;
    this.metrics.targetDelayMs = this.#target;
  }

  /** Current target delay in ms (relative to the fastest recent packet). */
  get targetDelayMs(): number {
    return this.#target;
  }

  /**
   * The current offset from the sender's media timeline to the caller's clock: arrival minus
   * media position of the fastest recent packets (undefined before the first packet). It rises
   * when the timeline moved (a loss burst too long to infer, a route change) once ten packets
   * confirm it, which is why a recorder that can wait reads it later than playout does.
   */
  get referenceMs(): number | undefined {
    return this.#refValue();
  }

  /** Times the media timeline was re-based (sender restarts plus `reset()` calls). */
  get timelineEpoch(): number {
    return this.metrics.restarts + this.metrics.resets;
  }

  /** Media held in the queue, in ms. */
  get bufferedMs(): number {
    return this.#bufferedMs;
  }

  /** Whether playout has started (the first packet waited out the initial delay). */
  get started(): boolean {
    return this.#started;
  }

  /**
   * Adds a packet that arrived at `arrivalMs` (caller's clock). Returns false when the packet
   * was rejected (empty or with an impossible TOC); it is counted in `metrics.invalidPackets`.
   */
  push(packet: Uint8Array, arrivalMs: number): boolean {
    const samples = tocSamples(packet);
    if (samples === undefined) {
      this.metrics.invalidPackets++;
      return false;
    }
    const m = this.metrics;
    m.packetsReceived++;
    const dur = samples / 48;
    const dtx = isDtxSized(packet);
    const shape = tocShape(packet);
    const expected = this.#prevTs + this.#prevDur;
    const restart =
      this.#havePrev &&
      !this.#prevDtx &&
      (arrivalMs - this.#lastArrival >= this.#o.restartGapMs ||
        (!dtx && shape !== this.#lastShape && !isDtxShape(this.#lastShape)));
    const reanchor = !this.#havePrev || this.#prevDtx || restart;
    let ts: number;
    let gapMs = 0;
    if (reanchor) {
      this.#lastInference = undefined;
      if (restart) {
        m.restarts++;
        this.#ref = [];
        this.#recent = [];
        this.#pendingSamples = [];
        this.#concealCreditMs = 0;
      }
      const ref = this.#refValue();
      ts = ref === undefined ? 0 : Math.max(expected, arrivalMs - ref);
    } else {
      ts = expected;
      const undo = this.#undoInference(arrivalMs - ts, dur);
      if (undo === 'undone') ts = this.#prevTs + this.#prevDur;
      else if (undo !== undefined) {
        // The slot of this late packet was already concealed. Live playout discards it (its slot
        // is gone; NetEq does the same); a recorder keeps it, played next without moving the timeline.
        this.#lastArrival = arrivalMs;
        if (this.#o.dropSpeechFrames) {
          m.lateDiscards++;
          return true;
        }
        this.#enqueue({ kind: 'packet', packet, samples, durationMs: dur, arrivalMs, ts: undo.ts, dtx });
        m.bufferedMs = this.#bufferedMs;
        return true;
      }
      gapMs = this.#inferLoss(arrivalMs - ts, dur);
      ts += gapMs;
      if (gapMs > 0) {
        this.#lastInference = { ts, gapMs, packetsAgo: 0, arrivalMs };
        m.inferredLosses += Math.round(gapMs / dur);
      } else if (this.#lastInference) {
        this.#lastInference.packetsAgo++;
        if (this.#lastInference.packetsAgo > 3) this.#lastInference = undefined;
      }
    }

    // Concealment already played for this stretch of time: either it covered the inferred loss,
    // or the packet it stood in for is this (late) one.
    let gapToQueue = gapMs;
    if (this.#concealCreditMs > 0) {
      const covered = Math.min(gapMs, this.#concealCreditMs);
      const lateMs = this.#concealCreditMs - covered;
      if (!reanchor && lateMs > 0) {
        m.lateLosses += Math.max(1, Math.round(lateMs / this.#slotMs));
        m.lateLossMs += lateMs;
      }
      gapToQueue = gapMs - covered;
      this.#concealCreditMs = 0;
    }
    if (gapToQueue > 0) {
      const frames = Math.round(gapToQueue / dur);
      for (let i = 0; i < frames; i++) {
        this.#enqueue({ kind: 'gap', samples, durationMs: dur, ts: ts - (frames - i) * dur });
      }
    }

    const e = arrivalMs - ts;
    if (reanchor) {
      this.#steadyPackets = 0;
    } else {
      this.#steadyPackets++;
      if (Number.isFinite(this.#prevE)) this.#jitterMs += (Math.abs(e - this.#prevE) - this.#jitterMs) / 16;
    }
    this.#prevE = e;
    this.#updateReference(ts, e, dur);
    if (!reanchor) {
      this.#learn(e, dur);
      if (this.#hist.samples >= this.#o.warmupPackets) {
        const t = this.#hist.optimalDelay(this.#o.lateLossCostMs);
        this.#target = Math.min(this.#o.maxDelayMs, Math.max(this.#o.minDelayMs, t));
        m.targetDelayMs = this.#target;
      }
    }

    this.#enqueue({ kind: 'packet', packet, samples, durationMs: dur, arrivalMs, ts, dtx });
    this.#prevTs = ts;
    this.#prevDur = dur;
    this.#prevDtx = dtx;
    this.#havePrev = true;
    this.#lastArrival = arrivalMs;
    this.#lastShape = dtx ? this.#lastShape : shape;

    // Hard cap: drop the oldest media (after a TCP burst, docs/platform.md §A5.2).
    while (this.#bufferedMs > this.#o.maxBufferedMs && this.#queue.length > 1) {
      const old = this.#dequeue()!;
      if (old.kind === 'packet' && !old.dtx) m.overflowDrops++;
    }
    m.bufferedMs = this.#bufferedMs;
    return true;
  }

  /**
   * Returns the playout of the next slot if it is due at `nowMs`, else `{ kind: 'none' }`. Call it
   * on every tick and loop while it returns something else, to catch up after a late tick.
   */
  pop(nowMs: number): JitterOutput {
    const m = this.metrics;
    if (!this.#started) {
      const head = this.#queue[0];
      if (!head) return { kind: 'none' };
      const ref = this.#refValue() ?? nowMs - head.ts;
      if (nowMs - (head.ts + ref) < this.#target) return { kind: 'none' };
      this.#started = true;
      this.#playAt = nowMs;
      this.#state = 'silence';
    }
    if (nowMs < this.#playAt) return { kind: 'none' };
    const at = this.#playAt;
    this.#slotsSinceDrop++;
    for (;;) {
      const head = this.#queue[0];
      if (!head) break;
      if (head.kind === 'gap') {
        this.#dequeue();
        const next = this.#queue[0];
        const fec = next?.kind === 'packet' && !next.dtx ? next.packet : undefined;
        if (fec) m.fecRecoveries++;
        return this.#conceal(at, head.samples, head.durationMs, 'loss', fec);
      }
      const ref = this.#refValue() ?? at - head.ts;
      const delay = at - (head.ts + ref);
      const excess = delay - this.#target;
      const silent = this.#state !== 'speech' && this.#state !== 'conceal';
      // Compress: drop a frame when even without it the next one is on target.
      const canDrop = head.dtx ? true : this.#queue.length >= 2;
      // With time-stretching, speech follows the target by accelerating; whole frames are only
      // dropped when far above it (a stall's backlog), where a few ms per frame would take too long.
      const dropAt = this.#o.timeStretch && !head.dtx ? Math.max(head.durationMs, 60) : head.durationMs;
      if (canDrop && excess >= dropAt) {
        const fast = excess > 100 + head.durationMs;
        const speechOk = this.#o.dropSpeechFrames && (fast || this.#slotsSinceDrop > this.#o.minSlotsBetweenDrops);
        if (head.dtx || speechOk) {
          this.#dequeue();
          if (!head.dtx) {
            m.droppedFrames++;
            this.#slotsSinceDrop = 0;
          }
          continue;
        }
      }
      // Stretch in silence: hold a talk spurt until it has waited the target delay.
      if (silent && excess < 0) {
        // Hold exactly the missing time (whole ms, at most a slot): the talk spurt then starts on
        // target instead of up to a slot late.
        const holdMs = Math.min(this.#slotMs, Math.max(1, Math.ceil(-excess)));
        m.silenceInsertedMs += holdMs;
        return this.#silence(at, 'hold', holdMs);
      }
      this.#dequeue();
      const afterConceal = this.#state === 'conceal' || this.#state === 'faded';
      const stretch = this.#stretchFor(head, at, excess, silent);
      this.#state = head.dtx ? 'dtx' : 'speech';
      this.#concealRunMs = 0;
      this.#slotMs = head.durationMs;
      this.#playAt = at + head.durationMs;
      m.packetsPlayed++;
      // A slot can start (on the playout timeline) before its packet arrived, when the tick that
      // hands it out comes after both: the packet was then late, and it plays on arrival.
      const played = Math.max(at, head.arrivalMs) - (head.ts + ref);
      m.currentDelayMs = played;
      m.bufferedMs = this.#bufferedMs;
      m.delayWindow.push(played);
      const next = this.#queue[0];
      const out: JitterOutput = {
        kind: 'packet',
        packet: head.packet,
        samples: head.samples,
        durationMs: head.durationMs,
        atMs: at,
        arrivalMs: head.arrivalMs,
        timelineMs: Math.min(head.arrivalMs, head.ts + ref),
        mediaMs: head.ts,
        dtx: head.dtx,
        afterConceal,
      };
      if (next?.kind === 'packet') out.fecNext = next.packet;
      if (stretch) out.stretch = stretch;
      this.#pendingStretch = stretch;
      return out;
    }
    // Nothing to play.
    if (this.#state === 'speech' || this.#state === 'conceal') {
      if (this.#state === 'speech') m.underruns++;
      this.#concealCreditMs += this.#slotMs;
      return this.#conceal(at, Math.round(this.#slotMs * 48), this.#slotMs, 'underrun', undefined);
    }
    if (this.#state === 'faded') {
      this.#concealCreditMs += this.#slotMs;
      return this.#silence(at, 'faded');
    }
    // In silence, hand out short slots: the next talk spurt then starts within 5 ms of its
    // target instead of up to a whole frame late.
    return this.#silence(at, 'dtx', Math.min(this.#slotMs, SILENCE_GRAIN_MS));
  }

  /**
   * Reports what the consumer did with the last packet's {@link StretchRequest}: `deltaSamples`
   * (48 kHz, per channel) added (> 0) or removed (< 0). The playout timeline moves by that much,
   * so the next slot starts earlier or later. Magnitudes beyond the request are clamped; a call
   * without a pending request, or in the opposite direction, is ignored.
   */
  stretched(deltaSamples: number): void {
    const req = this.#pendingStretch;
    if (!req || !Number.isFinite(deltaSamples) || deltaSamples === 0) return;
    if ((req.mode === 'accelerate') !== deltaSamples < 0) return; // the wrong way: not what was asked
    this.#pendingStretch = undefined;
    const ms = Math.min(Math.abs(deltaSamples), req.maxSamples) / 48;
    if (req.mode === 'accelerate') {
      this.#playAt -= ms;
      this.metrics.acceleratedMs += ms;
    } else {
      this.#playAt += ms;
      this.metrics.expandedMs += ms;
    }
  }

  /** Forgets every packet, the timeline and the playout state (on a new track or a reconnect). */
  reset(): void {
    this.#queue = [];
    this.#bufferedMs = 0;
    this.#havePrev = false;
    this.#prevDtx = false;
    this.#prevTs = 0;
    this.#prevDur = 0;
    this.#lastArrival = Number.NaN;
    this.#lastShape = -1;
    this.#ref = [];
    this.#recent = [];
    this.#pendingSamples = [];
    this.#jitterMs = 0;
    this.#steadyPackets = 0;
    this.#prevE = Number.NaN;
    this.#lastInference = undefined;
    this.#started = false;
    this.#state = 'idle';
    this.#concealRunMs = 0;
    this.#concealCreditMs = 0;
    this.#pendingStretch = undefined;
    this.#hist.reset();
    this.#target = this.#o.initialDelayMs;
    this.metrics.targetDelayMs = this.#target;
    this.metrics.bufferedMs = 0;
    this.metrics.resets++;
  }

  /** The stretch request for a speech packet about to play `excess` ms off target, if any. */
  #stretchFor(head: PacketEntry, at: number, excess: number, silent: boolean): StretchRequest | undefined {
    if (!this.#o.timeStretch || head.dtx || silent) return undefined;
    const threshold = Math.max(2.5, this.#o.stretchThresholdMs);
    if (Math.abs(excess) < threshold) return undefined;
    // Accelerate only out of audio that is really here: the timeline can overstate the delay
    // (a loss it could not infer), and shortening playout with nothing queued behind the packet
    // would only trade delay for underruns.
    // The cushion is how long the packet has already waited for its slot; packets behind it on
    // the same path are then early by about as much.
    const cushion = excess > 0 ? at - head.arrivalMs : Number.POSITIVE_INFINITY;
    // At most half the packet per stretch (the splice needs two periods inside the frame).
    const maxSamples = Math.floor(Math.min(Math.abs(excess), head.durationMs / 2, cushion) * 48);
    if (maxSamples < MIN_STRETCH_SAMPLES) return undefined;
    this.metrics.stretchRequests++;
    return { mode: excess > 0 ? 'accelerate' : 'expand', maxSamples, minSamples: MIN_STRETCH_SAMPLES };
  }

  #conceal(
    at: number,
    samples: number,
    durationMs: number,
    reason: 'loss' | 'underrun',
    fec: Uint8Array | undefined,
  ): JitterOutput {
    const m = this.metrics;
    this.#playAt = at + durationMs;
    if (this.#state === 'faded') {
      // Past the cap: a gap in front of a packet is still silence, but its time is kept.
      return this.#silence(at, 'faded', durationMs);
    }
    this.#concealRunMs += durationMs;
    const fadeOut = this.#concealRunMs >= this.#o.concealCapMs;
    this.#state = fadeOut ? 'faded' : 'conceal';
    m.concealedMs += durationMs;
    m.concealedSlots++;
    m.maxConcealRunMs = Math.max(m.maxConcealRunMs, this.#concealRunMs);
    const out: JitterOutput = { kind: 'conceal', samples, durationMs, atMs: at, reason, fadeOut };
    if (fec) out.fec = fec;
    return out;
  }

  #silence(at: number, reason: SilenceReason, durationMs = this.#slotMs): JitterOutput {
    this.#playAt = at + durationMs;
    if (reason !== 'hold' && this.#state !== 'faded') this.#state = 'silence';
    this.metrics.silenceMs += durationMs;
    return { kind: 'silence', samples: Math.round(durationMs * 48), durationMs, atMs: at, reason };
  }

  #enqueue(entry: Entry): void {
    this.#queue.push(entry);
    this.#bufferedMs += entry.durationMs;
  }

  #dequeue(): Entry | undefined {
    const e = this.#queue.shift();
    if (e) this.#bufferedMs -= e.durationMs;
    return e;
  }

  #refValue(): number | undefined {
    return this.#ref[0]?.e;
  }

  /**
   * Frames lost in front of a packet whose offset from the timeline is `e`: only after a few
   * steady packets and while the inter-arrival jitter (RFC 3550 §6.4.1 estimator) is small enough
   * that a whole-frame jump cannot be jitter. Measured against the floor of the last ~200 ms, so
   * an old floor or the histogram's tail cannot hide it.
   */
  #inferLoss(e: number, dur: number): number {
    if (this.#steadyPackets < 8 || this.#jitterMs > dur * 0.25) return 0;
    let floor = Number.POSITIVE_INFINITY;
    for (const r of this.#recent) floor = Math.min(floor, r.e);
    if (!Number.isFinite(floor)) return 0;
    const excess = e - floor - this.#jitterMs;
    const k = Math.round(excess / dur);
    if (k < 1 || k > 5 || Math.abs(excess - k * dur) > dur * 0.3) return 0;
    return k * dur;
  }

  /**
   * A packet arriving a frame *earlier* than the recent floor right after an inferred loss means the
   * inference was wrong: the "lost" packet was only late (overtaken or delayed by about a frame).
   * Moves the timeline back, drops the gap if it is still queued, and records the late packet's
   * real delay in the histogram so the target learns from it. Returns true when it undid one.
   */
  #undoInference(e: number, dur: number): 'undone' | { ts: number } | undefined {
    const li = this.#lastInference;
    if (!li) return undefined;
    let floor = Number.POSITIVE_INFINITY;
    for (const r of this.#recent) floor = Math.min(floor, r.e);
    if (!(e < floor - dur * 0.5)) return undefined;
    this.#lastInference = undefined;
    const g = li.gapMs;
    const m = this.metrics;
    const frames = Math.round(g / dur);
    m.inferredLosses -= frames;
    m.inferenceUndone += frames;
    // Teach the histogram the delay that playing without the gap needs: the packet that came
    // right after the gap, placed in the gap's first slot. (Whether that packet was overtaken by
    // this one or only delayed, egress cannot tell; either way this is the delay that plays both.
    // Using this packet's own arrival would add every packet that came in between, too.)
    const ref = this.#refValue();
    if (ref !== undefined) this.#hist.add(li.arrivalMs - (li.ts - g) - ref);
    const gaps = this.#queue.filter((q) => q.kind === 'gap' && q.ts >= li.ts - g - 1e-6 && q.ts < li.ts - 1e-6);
    if (gaps.length < frames) {
      // (Part of) the gap was already concealed: the concealment stood in for this late packet.
      m.lateLosses += frames;
      m.lateLossMs += g;
      for (const q of gaps) this.#removeEntry(q);
      return { ts: li.ts - g };
    }
    for (const q of gaps) this.#removeEntry(q);
    for (const q of this.#queue) if (q.ts >= li.ts - 1e-6) q.ts -= g;
    const shift = (list: Array<{ ts: number; e: number }>) => {
      for (const r of list) {
        if (r.ts >= li.ts - 1e-6) {
          r.ts -= g;
          r.e += g;
        }
      }
    };
    shift(this.#recent);
    const all = [...this.#ref];
    shift(all);
    this.#ref = [];
    for (const r of all.sort((a, b) => a.ts - b.ts)) {
      while (this.#ref.length && this.#ref[this.#ref.length - 1]!.e >= r.e) this.#ref.pop();
      this.#ref.push(r);
    }
    this.#prevTs -= g;
    return 'undone';
  }

  /**
   * Feeds the histogram. A packet at least half a frame above the floor is either late (a
   * spike) or the first of a timeline that moved (a loss the timing could not infer, a route
   * change); only the packets after it tell which. Such a sample waits {@link RECENT} packets
   * and is then measured against the floor of that moment, which a step will have raised:
   * a burst of uninferred losses then no longer inflates the target for the histogram's memory.
   */
  #learn(e: number, dur: number): void {
    const pending = this.#pendingSamples;
    const n = ++this.#learned;
    while (pending.length && pending[0]!.due <= n) {
      const ref = this.#refValue();
      const p = pending.shift()!;
      if (ref !== undefined) this.#hist.add(p.e - ref);
    }
    const ref = this.#refValue() ?? e;
    if (e - ref >= dur / 2) pending.push({ e, due: n + RECENT });
    else this.#hist.add(e - ref);
  }

  #removeEntry(entry: Entry): void {
    const i = this.#queue.indexOf(entry);
    if (i >= 0) {
      this.#queue.splice(i, 1);
      this.#bufferedMs -= entry.durationMs;
    }
  }

  /** Sliding minimum of `e` over the reference window, raised when a persistent step shows. */
  #updateReference(ts: number, e: number, dur: number): void {
    const ref = this.#ref;
    while (ref.length && ref[ref.length - 1]!.e >= e) ref.pop();
    ref.push({ ts, e });
    while (ref.length > 1 && ref[0]!.ts < ts - this.#o.referenceWindowMs) ref.shift();
    const recent = this.#recent;
    recent.push({ ts, e });
    if (recent.length > RECENT) recent.shift();
    if (recent.length === RECENT) {
      let min = Number.POSITIVE_INFINITY;
      for (const r of recent) min = Math.min(min, r.e);
      if (min - ref[0]!.e >= dur / 2 + 3 * this.#jitterMs) {
        // Every packet of the last ~200 ms is at least half a frame later than the old floor:
        // the floor moved (a loss the spread hid, or a route change). Rebuild from recent packets.
        this.#ref = [];
        for (const r of recent) {
          while (this.#ref.length && this.#ref[this.#ref.length - 1]!.e >= r.e) this.#ref.pop();
          this.#ref.push(r);
        }
        this.metrics.referenceSteps++;
      }
    }
  }
}

function isDtxShape(shape: number): boolean {
  return shape === -1;
}
