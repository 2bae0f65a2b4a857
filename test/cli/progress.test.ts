import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { startProgress, wantsLiveLine } from '../../src/cli/progress.js';

function tty(isTTY: boolean) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  s.isTTY = isTTY;
  s.columns = 30;
  let text = '';
  s.on('data', (b) => (text += b));
  return { s, text: () => text };
}

afterEach(() => vi.useRealTimers());

describe('live progress line', () => {
  it('is silent when stderr is not a TTY or CI is set', () => {
    expect(wantsLiveLine({ stderr: tty(false).s, env: {} })).toBe(false);
    expect(wantsLiveLine({ stderr: tty(true).s, env: { CI: 'true' } })).toBe(false);
    const t = tty(false);
    startProgress({ stderr: t.s, env: {} }, () => 'x').stop();
    expect(t.text()).toBe('');
  });

  it('redraws in place every interval, cuts to the terminal width, and clears on stop', () => {
    vi.useFakeTimers();
    const t = tty(true);
    let n = 0;
    const p = startProgress({ stderr: t.s, env: {} }, () => `tick ${++n} ${'y'.repeat(40)}`, 1000);
    vi.advanceTimersByTime(2000);
    p.stop();
    p.stop();
    const frames = t.text().split('\r\x1b[K');
    // first draw + 2 ticks + the final clear
    expect(frames.filter(Boolean)).toHaveLength(3);
    expect(frames[1]).toMatch(/^tick 1 y+…$/);
    expect(frames[1]!.length).toBe(29);
    expect(t.text().endsWith('\r\x1b[K')).toBe(true);
    vi.advanceTimersByTime(5000);
    expect(t.text().split('\r\x1b[K').filter(Boolean)).toHaveLength(3);
  });
});
