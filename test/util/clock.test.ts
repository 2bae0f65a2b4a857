import { afterEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_MS, systemClock } from '../../src/util/clock.js';
import { withDeadline } from '../../src/util/abort.js';

const DAY = 86_400_000;

describe('systemClock and delays longer than a Node timer takes (~24.8 days)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('fires a 60-day timer after 60 days, not at once (Node fires such a delay after 1 ms)', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const h = systemClock.setTimeout(fn, 60 * DAY) as { unref?: () => unknown };
    expect(h.unref?.()).toBe(h);
    vi.advanceTimersByTime(1);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(60 * DAY - MAX_TIMER_MS - 2);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(100 * DAY);
    expect(fn).toHaveBeenCalledTimes(1);
  });

  it('cancels a long timer in any step of its chain', () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    const h = systemClock.setTimeout(fn, 90 * DAY);
    vi.advanceTimersByTime(40 * DAY);
    systemClock.clearTimeout(h);
    vi.advanceTimersByTime(100 * DAY);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps short timers as they are, and a 30-day deadline does not time out at once', async () => {
    vi.useFakeTimers();
    const fn = vi.fn();
    systemClock.setTimeout(fn, 20);
    vi.advanceTimersByTime(20);
    expect(fn).toHaveBeenCalledTimes(1);
    let settled = '';
    const p = withDeadline(new Promise<void>(() => undefined), 'a long wait', { timeoutMs: 30 * DAY }).catch(
      (e: Error) => {
        settled = e.name;
      },
    );
    await vi.advanceTimersByTimeAsync(DAY);
    expect(settled).toBe('');
    await vi.advanceTimersByTimeAsync(29 * DAY);
    await p;
    expect(settled).toBe('TimeoutError');
  });
});
