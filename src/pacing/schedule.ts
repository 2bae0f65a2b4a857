/**
 * The pacer's scheduling logic as a plain data structure (sans-IO): no timers, no clock of its
 * own. The caller owns time and asks "what now?" with {@link FrameSchedule.next}.
 *
 * Slot `k` is due at `originMs + k * frameDurationMs`, computed by multiplication from a fixed
 * origin, never by adding intervals, so the schedule cannot drift (docs/platform.md §A4.3, §A8a.5).
 *
 * ```
 *  origin                          now
 *    │ slot0 │ slot1 │ slot2 │ slot3 │ slot4 │
 *    ▼       ▼       ▼       ▼       ▼
 *    ●───────●───────●───────●───────○ ...      ● due, ○ future
 *                    └ late by more than maxLateMs?
 *                        skip    → drop its frame, keep the timeline
 *                        burst   → send anyway, back to back (≤ maxBurst)
 *                        stretch → move the origin: the timeline shifts by the lateness
 * ```
 *
 * This class must stay self-contained (no imports used at run time): its source text is also
 * shipped into the pacer worker thread (see `pacer-worker-source.ts`).
 * @packageDocumentation
 */

/** What to do when a frame's due time has passed by more than `maxLateMs`. */
export type LatePolicy = 'skip' | 'burst' | 'stretch';

/** Options of {@link FrameSchedule}. */
export interface FrameScheduleOptions {
  /** Duration of every frame, in milliseconds (integer on the gateway, §A1.2). */
  frameDurationMs: number;
  /** Late policy; `skip` suits live audio. */
  latePolicy: LatePolicy;
  /** A frame later than this is "late" and handled by the policy. Default: half a frame. */
  maxLateMs?: number;
  /** `burst` only: most late frames sent back to back; older ones are skipped. Default 10 (200 ms at 20 ms). */
  maxBurst?: number;
  /**
   * When nothing is queued at a due time: `true` asks the caller to send a filler (silence)
   * frame for the slot (the timeline is kept and never goes silent, §A4.3); `false` leaves a gap
   * (skip/burst consume the slot, stretch waits and shifts the timeline when data comes).
   */
  fill?: boolean;
}

/** Decision returned by {@link FrameSchedule.next}. The schedule has already advanced past it. */
export type ScheduleDecision =
  /** Nothing is due: call again at `dueMs` (in `waitMs`). */
  | { action: 'wait'; slot: number; dueMs: number; waitMs: number }
  /** Send the oldest queued frame now. `lateMs` ≥ 0 is how far past its due time. */
  | { action: 'send'; slot: number; dueMs: number; lateMs: number; late: boolean }
  /** Drop `count` queued frames (their slots passed); then call again. */
  | { action: 'skip'; slot: number; dueMs: number; lateMs: number; count: number }
  /** Nothing queued at the due time: send a filler frame now (only with `fill: true`). */
  | { action: 'fill'; slot: number; dueMs: number; lateMs: number }
  /** Nothing queued at the due time and no filler: the slot passes empty (`consumed`), or
   * (stretch) the timeline waits for data. Call again when a frame is queued or after `waitMs`. */
  | { action: 'underrun'; slot: number; dueMs: number; lateMs: number; consumed: boolean; waitMs: number };

/**
 * Absolute-deadline frame schedule with a late policy. Driven by `next(nowMs, queued)`.
 *
 * @remarks The origin only moves with `stretch` (by the measured lateness) or on {@link start};
 * with `skip` and `burst` the due time of slot k is always `origin + k·frame` exactly.
 */
export class FrameSchedule {
  /** Duration of every slot. */
  readonly frameDurationMs: number;
  /** Policy for frames later than {@link FrameSchedule.maxLateMs}. */
  readonly latePolicy: LatePolicy;
  /** Lateness beyond which the policy applies. */
  readonly maxLateMs: number;
  /** `burst`: most late frames sent back to back. */
  readonly maxBurst: number;
  /** Ask for a filler frame in empty slots (see {@link FrameScheduleOptions.fill}). */
  fill: boolean;
  #origin = 0;
  #slot = 0;
  #started = false;
  #starved = false;
  #shiftMs = 0;

  /** @throws RangeError for a non-positive frame duration or an unknown policy. */
  constructor(options: FrameScheduleOptions) {
    const f = options.frameDurationMs;
    if (!(f > 0) || !Number.isFinite(f)) throw new RangeError(`frameDurationMs must be > 0, got ${f}`);
    if (options.latePolicy !== 'skip' && options.latePolicy !== 'burst' && options.latePolicy !== 'stretch') {
      throw new RangeError(`latePolicy must be skip, burst or stretch, got ${String(options.latePolicy)}`);
    }
    this.frameDurationMs = f;
    this.latePolicy = options.latePolicy;
    this.maxLateMs = options.maxLateMs ?? f / 2;
    this.maxBurst = Math.max(1, Math.floor(options.maxBurst ?? 10));
    this.fill = options.fill ?? false;
  }

  /** True once {@link start} ran. */
  get started(): boolean {
    return this.#started;
  }

  /** Index of the next slot to fill. */
  get slot(): number {
    return this.#slot;
  }

  /** Due time of the next slot. */
  get dueMs(): number {
    return this.#origin + this.#slot * this.frameDurationMs;
  }

  /** Origin of the timeline (moves only with `stretch` or {@link start}). */
  get originMs(): number {
    return this.#origin;
  }

  /** Total milliseconds the timeline was shifted by `stretch`. */
  get shiftedMs(): number {
    return this.#shiftMs;
  }

  /** Starts (or restarts) the timeline: slot 0 is due at `nowMs`. */
  start(nowMs: number): void {
    this.#origin = nowMs;
    this.#slot = 0;
    this.#started = true;
    this.#starved = false;
  }

  /**
   * Decides what to do at `nowMs` with `queued` frames ready, and advances the schedule as if
   * the caller obeys. Call repeatedly until it answers `wait` (or `underrun`).
   * @throws RangeError before {@link start}.
   */
  next(nowMs: number, queued: number): ScheduleDecision {
    if (!this.#started) throw new RangeError('FrameSchedule.next() before start()');
    const f = this.frameDurationMs;
    let due = this.#origin + this.#slot * f;
    if (nowMs < due) return { action: 'wait', slot: this.#slot, dueMs: due, waitMs: due - nowMs };
    let lateMs = nowMs - due;

    if (queued <= 0) {
      if (this.fill) {
        // A filler keeps the cadence; fillers for slots long gone are pointless.
        if (lateMs > this.maxLateMs) {
          if (this.latePolicy === 'stretch') {
            this.#shift(lateMs);
            due = nowMs;
            lateMs = 0;
          } else {
            const jump =
              this.latePolicy === 'skip'
                ? Math.floor((lateMs - this.maxLateMs) / f) + 1
                : Math.max(0, Math.floor(lateMs / f) + 1 - this.maxBurst);
            this.#slot += jump;
            due = this.#origin + this.#slot * f;
            if (nowMs < due) return { action: 'wait', slot: this.#slot, dueMs: due, waitMs: due - nowMs };
            lateMs = nowMs - due;
          }
        }
        return { action: 'fill', slot: this.#slot++, dueMs: due, lateMs };
      }
      if (this.latePolicy === 'stretch') {
        this.#starved = true;
        return { action: 'underrun', slot: this.#slot, dueMs: due, lateMs, consumed: false, waitMs: f };
      }
      const slot = this.#slot++;
      return {
        action: 'underrun',
        slot,
        dueMs: due,
        lateMs,
        consumed: true,
        waitMs: this.#origin + this.#slot * f - nowMs,
      };
    }

    if (lateMs <= this.maxLateMs) {
      this.#starved = false;
      return { action: 'send', slot: this.#slot++, dueMs: due, lateMs, late: false };
    }
    switch (this.latePolicy) {
      case 'skip': {
        // Every slot whose due time is more than maxLateMs ago is gone: drop a frame per slot.
        const missed = Math.floor((lateMs - this.maxLateMs) / f) + 1;
        const count = Math.min(missed, queued);
        const slot = this.#slot;
        this.#slot += missed;
        return { action: 'skip', slot, dueMs: due, lateMs, count };
      }
      case 'burst': {
        const behind = Math.floor(lateMs / f) + 1; // slots due now or earlier, this one included
        if (behind > this.maxBurst) {
          const drop = behind - this.maxBurst;
          const slot = this.#slot;
          this.#slot += drop;
          return { action: 'skip', slot, dueMs: due, lateMs, count: Math.min(drop, queued) };
        }
        return { action: 'send', slot: this.#slot++, dueMs: due, lateMs, late: true };
      }
      default: {
        const wasStarved = this.#starved;
        this.#starved = false;
        this.#shift(lateMs);
        // A frame that ends an underrun is not "late": the timeline simply resumes with it.
        return { action: 'send', slot: this.#slot++, dueMs: nowMs, lateMs, late: !wasStarved };
      }
    }
  }

  #shift(ms: number): void {
    this.#origin += ms;
    this.#shiftMs += ms;
  }
}
