/** The shared polling wait: real timers, fake timers, and the give-up message. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { until } from './until.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('until', () => {
  it('resolves at once when the condition already holds', async () => {
    let polls = 0;
    await until(() => ++polls > 0, 'a true condition');
    expect(polls).toBe(1);
  });

  it('lets real timers run between polls', async () => {
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 5);
    await until(() => fired, 'the timer');
    expect(fired).toBe(true);
  });

  it('names what it waited for when the budget is spent, after ⌊timeout / interval⌋ + 1 polls', async () => {
    let polls = 0;
    const never = () => {
      polls++;
      return false;
    };
    await expect(until(never, 'the impossible', { timeoutMs: 20, intervalMs: 5 })).rejects.toThrow(
      'until: gave up after 20 ms waiting for the impossible',
    );
    expect(polls).toBe(5);
  });

  it('advances vitest fake timers instead of waiting on them', async () => {
    vi.useFakeTimers();
    let fired = false;
    setTimeout(() => {
      fired = true;
    }, 60_000);
    await until(() => fired, 'the fake timer', { timeoutMs: 60_000, intervalMs: 1000 });
    expect(fired).toBe(true);
  });
});
