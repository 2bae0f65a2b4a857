import { describe, expect, it } from 'vitest';
import { LeaseTimeline } from '../../src/cluster/lease-timeline.js';

describe('LeaseTimeline (sans-IO renew/fence schedule)', () => {
  it('renews every ttl/3 counted from when the renew was sent, and stays valid while renewals succeed', () => {
    const t = new LeaseTimeline({ ttlMs: 3000 });
    t.granted(0, 1);
    expect(t.next(999)).toEqual({ action: 'wait', untilMs: 1000 });
    expect(t.next(1000)).toEqual({ action: 'renew', sentAtMs: 1000 });
    // In flight: the next deadline is the fence (sent 0 + 3000 − 750).
    expect(t.next(1200)).toEqual({ action: 'wait', untilMs: 2250 });
    t.renewed(1000, 2);
    expect(t.state).toMatchObject({ status: 'held', revision: 2, validUntilMs: 3250, renewDueMs: 2000 });
    expect(t.isValid(3249)).toBe(true);
  });

  it('fences before the server can expire the key when renewals keep failing', () => {
    const t = new LeaseTimeline({ ttlMs: 2000, fenceMarginMs: 400 });
    t.granted(100, 1);
    const serverExpiry = 100 + 2000; // the server stored it no earlier than it was sent
    let now = 100;
    let fencedAt: number | undefined;
    while (fencedAt === undefined && now < 5000) {
      const a = t.next(now);
      if (a.action === 'renew') t.renewFailed(now, false);
      if (a.action === 'fence') fencedAt = now;
      now += 10;
    }
    expect(fencedAt).toBeDefined();
    expect(fencedAt!).toBeLessThanOrEqual(serverExpiry - 400);
    expect(t.state).toEqual({ status: 'lost', why: 'expired' });
    expect(t.next(now)).toEqual({ action: 'none' });
  });

  it('retries a failed renew after ttl/10, not in a busy loop', () => {
    const t = new LeaseTimeline({ ttlMs: 3000 });
    t.granted(0, 1);
    expect(t.next(1000).action).toBe('renew');
    expect(t.renewFailed(1100, false)).toBe(false);
    expect(t.next(1200)).toEqual({ action: 'wait', untilMs: 1400 });
    expect(t.next(1400).action).toBe('renew');
  });

  it('is lost at once on a revision conflict (someone else wrote the key)', () => {
    const t = new LeaseTimeline({ ttlMs: 3000 });
    t.granted(0, 1);
    t.next(1000);
    expect(t.renewFailed(1010, true)).toBe(true);
    expect(t.isValid(1010)).toBe(false);
    // A renew reply arriving after the loss does not bring it back.
    t.renewed(1000, 2);
    expect(t.state.status).toBe('lost');
  });

  it('rejects a schedule that cannot renew before it fences', () => {
    expect(() => new LeaseTimeline({ ttlMs: 1000, renewEveryMs: 800, fenceMarginMs: 300 })).toThrow(/renewEveryMs/);
    expect(() => new LeaseTimeline({ ttlMs: 0 })).toThrow(/ttlMs/);
  });
});
