import { describe, expect, it } from 'vitest';
import { FrameSchedule, type LatePolicy, type ScheduleDecision } from '../../src/pacing/schedule.js';
import { ManualClock } from '../../src/util/clock.js';

/** Drives a schedule with an infinite supply of frames; returns what was sent at which time. */
function drive(
  s: FrameSchedule,
  clock: ManualClock,
  untilMs: number,
  opts: {
    queued?: () => number;
    oversleep?: (i: number) => number;
    onDecision?: (d: ScheduleDecision, now: number) => void;
  } = {},
) {
  const sends: { slot: number; at: number; due: number }[] = [];
  let skipped = 0;
  let fills = 0;
  let underruns = 0;
  let i = 0;
  while (clock.now() < untilMs) {
    const d = s.next(clock.now(), opts.queued ? opts.queued() : 5);
    opts.onDecision?.(d, clock.now());
    if (d.action === 'wait') clock.advance(d.waitMs + (opts.oversleep ? opts.oversleep(i++) : 0));
    else if (d.action === 'send') sends.push({ slot: d.slot, at: clock.now(), due: d.dueMs });
    else if (d.action === 'skip') skipped += d.count;
    else if (d.action === 'fill') fills++;
    else {
      underruns++;
      clock.advance(d.waitMs);
    }
  }
  return { sends, skipped, fills, underruns };
}

describe('FrameSchedule', () => {
  it('sends one frame per slot at exact absolute due times', () => {
    const clock = new ManualClock(1000);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip' });
    s.start(clock.now());
    const { sends } = drive(s, clock, 1000 + 20 * 50);
    expect(sends).toHaveLength(50);
    sends.forEach((x, k) => {
      expect(x.slot).toBe(k);
      expect(x.due).toBe(1000 + 20 * k);
      expect(x.at).toBe(x.due);
    });
  });

  it('does not drift over 10 virtual hours with a sleeper that always oversleeps', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip' });
    s.start(0);
    let sent = 0;
    let lastDue = -1;
    const hours = 10 * 3600 * 1000;
    // Oversleep by 0.1..3.7 ms each time (deterministic pattern); never by more than maxLateMs.
    let k = 0;
    while (clock.now() < hours) {
      const d = s.next(clock.now(), 3);
      if (d.action === 'wait') clock.advance(d.waitMs + 0.1 + ((k++ * 7) % 37) / 10);
      else if (d.action === 'send') {
        sent++;
        lastDue = d.dueMs;
      } else throw new Error(`unexpected ${d.action}`);
    }
    const expected = Math.floor(clock.now() / 20) + (clock.now() % 20 === 0 ? 0 : 1);
    expect(Math.abs(sent - expected)).toBeLessThanOrEqual(1);
    expect(lastDue).toBe((sent - 1) * 20); // drift = 0 frames: the k-th send is due at exactly k·20 ms
    expect(s.shiftedMs).toBe(0);
  });

  it('skip: a 100 ms stall drops the late slots and keeps the timeline', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip' });
    s.start(0);
    const stallAt = 200;
    const { sends, skipped } = drive(s, clock, 600, {
      oversleep: () => (clock.now() >= stallAt - 20 && clock.now() < stallAt ? 100 : 0),
    });
    // Every send happens within maxLateMs of its slot, on the original grid.
    for (const x of sends) {
      expect(x.due % 20).toBe(0);
      expect(x.at - x.due).toBeLessThanOrEqual(10);
    }
    // No burst: consecutive sends are never closer than 10 ms.
    for (let i = 1; i < sends.length; i++) expect(sends[i]!.at - sends[i - 1]!.at).toBeGreaterThanOrEqual(10);
    expect(skipped).toBe(5);
    expect(sends.length + skipped).toBe(600 / 20);
  });

  it('burst: sends the backlog back to back after a stall, then returns to the grid', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'burst' });
    s.start(0);
    const { sends, skipped } = drive(s, clock, 600, {
      oversleep: () => (clock.now() === 180 ? 100 : 0),
    });
    expect(skipped).toBe(0);
    expect(sends).toHaveLength(30);
    const burst = sends.filter((x) => x.at === 300);
    expect(burst.map((x) => x.slot)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(sends.at(-1)!.due).toBe(580);
  });

  it('burst: caps the catch-up at maxBurst and skips the rest', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'burst', maxBurst: 3 });
    s.start(0);
    clock.advance(200); // slots 0..10 due
    const first = s.next(clock.now(), 50);
    expect(first).toMatchObject({ action: 'skip', count: 8 });
    const kinds = [s.next(200, 42), s.next(200, 41), s.next(200, 40), s.next(200, 39)].map((d) => d.action);
    expect(kinds).toEqual(['send', 'send', 'send', 'wait']);
  });

  it('stretch: shifts the timeline by the lateness and never skips or bursts', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'stretch' });
    s.start(0);
    const { sends, skipped } = drive(s, clock, 600, {
      oversleep: () => (clock.now() === 180 ? 100 : 0),
    });
    expect(skipped).toBe(0);
    for (let i = 1; i < sends.length; i++) expect(sends[i]!.at - sends[i - 1]!.at).toBeGreaterThanOrEqual(20);
    expect(s.shiftedMs).toBe(100);
    expect(sends.map((x) => x.slot)).toEqual(sends.map((_, k) => k));
  });

  it.each<LatePolicy>(['skip', 'burst'])(
    '%s: an underrun without filler consumes the slot (gap, timeline kept)',
    (policy) => {
      const clock = new ManualClock(0);
      const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: policy });
      s.start(0);
      expect(s.next(0, 1).action).toBe('send');
      clock.advance(20);
      const d = s.next(20, 0);
      expect(d).toMatchObject({ action: 'underrun', slot: 1, consumed: true, waitMs: 20 });
      clock.advance(5);
      expect(s.next(25, 1)).toMatchObject({ action: 'wait', slot: 2, dueMs: 40 });
    },
  );

  it('stretch: an underrun waits for data and resumes the timeline from it (not counted late)', () => {
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'stretch' });
    s.start(0);
    s.next(0, 1);
    expect(s.next(20, 0)).toMatchObject({ action: 'underrun', consumed: false });
    const d = s.next(57, 1);
    expect(d).toMatchObject({ action: 'send', slot: 1, dueMs: 57, late: false });
    expect(s.next(60, 1)).toMatchObject({ action: 'wait', dueMs: 77 });
  });

  it('fill: empty slots ask for a filler frame and keep the cadence', () => {
    const clock = new ManualClock(0);
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip', fill: true });
    s.start(0);
    let real = 3;
    const decisions: string[] = [];
    drive(s, clock, 200, {
      queued: () => real,
      onDecision: (d) => {
        if (d.action === 'send') real--;
        if (d.action !== 'wait') decisions.push(d.action);
      },
    });
    expect(decisions).toEqual(['send', 'send', 'send', 'fill', 'fill', 'fill', 'fill', 'fill', 'fill', 'fill']);
  });

  it('fill + skip after a long stall does not send fillers for slots long gone', () => {
    const s = new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip', fill: true });
    s.start(0);
    const d = s.next(1000, 0);
    expect(d).toMatchObject({ action: 'fill', slot: 50, lateMs: 0 });
    expect(s.next(1000, 0).action).toBe('wait');
  });

  it('rejects bad options and next() before start()', () => {
    expect(() => new FrameSchedule({ frameDurationMs: 0, latePolicy: 'skip' })).toThrow(RangeError);
    expect(() => new FrameSchedule({ frameDurationMs: 20, latePolicy: 'nope' as LatePolicy })).toThrow(RangeError);
    expect(() => new FrameSchedule({ frameDurationMs: 20, latePolicy: 'skip' }).next(0, 1)).toThrow(RangeError);
  });
});
