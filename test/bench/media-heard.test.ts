/**
 * The media bench's listener model (`heard` in bench/media.ts): what counts as a dropout in the
 * content and for a listener with a 60 ms playout buffer. Fixed inputs, no clock.
 */
import { describe, expect, it } from 'vitest';
import { heard } from '../../bench/media.js';

const at = (n: number, start = 1000) => Array.from({ length: n }, (_, i) => start + i * 20);

describe('bench/media heard()', () => {
  it('a clean stream: nothing dropped, nothing late', () => {
    const h = heard(at(50), Array(50).fill(false));
    expect(h).toEqual({ audibleFrames: 50, dropouts: 0, droppedMs: 0, listenerDropouts: 0, listenerStallMs: 0 });
  });

  it('silence before the first and after the last audible frame is not a dropout; inside it is', () => {
    const silent = Array(60).fill(false);
    for (const i of [0, 1, 2, 20, 21, 40, 57, 58, 59]) silent[i] = true;
    const h = heard(at(60), silent);
    expect(h.dropouts).toBe(2);
    expect(h.droppedMs).toBe(60);
    expect(h.audibleFrames).toBe(51);
  });

  it('a 100 ms gap then a burst: one listener dropout of the lateness beyond the 60 ms buffer', () => {
    const a = at(40);
    // Frames 20..24 held back by a 100 ms stall, then sent back to back.
    for (let i = 20; i < 25; i++) a[i] = a[19]! + 100 + (i - 20) * 0.1;
    const h = heard(a, Array(40).fill(false));
    expect(h.dropouts).toBe(0);
    expect(h.listenerDropouts).toBe(1);
    expect(h.listenerStallMs).toBeCloseTo(100 - 20 - 60, 5);
  });

  it('a stream with no audible frame', () => {
    expect(heard(at(5), Array(5).fill(true)).audibleFrames).toBe(0);
  });
});
