import { describe, expect, it } from 'vitest';
import { AbortError } from '../../src/errors.js';
import { RestClient } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { json, startStub, TestClock, TOKEN } from './stub.js';
import { until } from '../helpers/until.js';

/** The server's per-interface limiter (docs/platform.md §R3): 60 s window in 6 segments of 10 s, phased from its creation. */
class ServerWindow {
  available: number;
  readonly segments = [0, 0, 0, 0, 0, 0];
  current = 0;
  nextAdvance: number;
  constructor(
    readonly limit: number,
    createdAt: number,
  ) {
    this.available = limit;
    this.nextAdvance = createdAt + 10_000;
  }
  tryAcquire(now: number): boolean {
    while (now >= this.nextAdvance) {
      this.current = (this.current + 1) % 6;
      this.available += this.segments[this.current]!;
      this.segments[this.current] = 0;
      this.nextAdvance += 10_000;
    }
    if (this.available <= 0) return false;
    this.available--;
    this.segments[this.current]!++;
    return true;
  }
}

describe('RateLimiter (unit, ManualClock)', () => {
  it('grants the bucket limit, then waits until 60 s (+margin) after the first permits completed', async () => {
    const clock = new TestClock(0);
    const rl = new RateLimiter({ clock, limits: { IVoiceEgress: 10 }, marginMs: 250 });
    const permits = [];
    for (let i = 0; i < 10; i++) permits.push(await rl.acquire('IVoiceEgress'));
    for (const p of permits) p.release(); // completed at t=0 → back at 60 250
    let granted = false;
    const next = rl.acquire('IVoiceEgress').then((p) => {
      granted = true;
      return p;
    });
    expect(rl.nextPermitDelay('IVoiceEgress')).toBe(60_250);
    clock.advance(60_249);
    await Promise.resolve();
    expect(granted).toBe(false);
    clock.advance(1);
    (await next).release();
    expect(granted).toBe(true);
  });

  it('counts a permit from when its response arrived, not when it was sent', async () => {
    const clock = new TestClock(0);
    const rl = new RateLimiter({ clock, limits: { X: 1 }, marginMs: 0 });
    const p = await rl.acquire('X');
    clock.advance(5_000); // slow response
    p.release();
    expect(rl.nextPermitDelay('X')).toBe(60_000);
  });

  it('caps concurrency at 10 and leaves 9 for calls while a stream holds one', async () => {
    const clock = new TestClock(0);
    const rl = new RateLimiter({ clock });
    const stream = await rl.acquire('IEvents');
    stream.hold();
    expect(rl.streams).toBe(1);
    const held = [];
    for (let i = 0; i < 9; i++) held.push(await rl.acquire('IMessages'));
    expect(rl.inFlight).toBe(10);
    let tenth = false;
    const p = rl.acquire('IMessages').then((x) => {
      tenth = true;
      return x;
    });
    await Promise.resolve();
    expect(tenth).toBe(false);
    held[0]!.release();
    (await p).release();
    expect(tenth).toBe(true);
    stream.release();
    expect(rl.streams).toBe(0);
    expect(rl.inFlight).toBe(8); // held[1..8]
  });

  it('cancel() (a 429) gives the window permit back; penalize() blocks to the next-permit time or one segment', async () => {
    const clock = new TestClock(0);
    const rl = new RateLimiter({ clock, limits: { X: 2 }, marginMs: 0 });
    const a = await rl.acquire('X');
    a.cancel();
    expect(rl.available('X')).toBe(2);
    // limiter thinks permits are free → someone else uses the bot → wait one 10-s segment
    expect(rl.penalize('X')).toBe(10_000);
    expect(rl.available('X')).toBe(0);
    clock.advance(10_000);
    expect(rl.available('X')).toBe(2);
    const b = await rl.acquire('X');
    const c = await rl.acquire('X');
    b.release();
    c.release();
    expect(rl.penalize('X')).toBe(60_000); // its own next-permit time
  });

  it('rejects a waiting acquire with AbortError when its signal fires', async () => {
    const clock = new TestClock(0);
    const rl = new RateLimiter({ clock, limits: { X: 1 } });
    (await rl.acquire('X')).release();
    const ac = new AbortController();
    const p = rl.acquire('X', ac.signal);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(rl.waiting).toBe(0);
  });
});

describe('burst of 500 IMessages/Send against a stub with the server window', () => {
  it('never exceeds 120 per 60 s as the server counts, and never sees a 429', async () => {
    const clock = new TestClock(1_000_000);
    // the server's limiter phase is unknown to the client: created 3.7 s before the burst
    const server = new ServerWindow(120, clock.now() - 3_700);
    const arrivals: number[] = [];
    let rejected = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const stub = await startStub((_req, res) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      const now = clock.now();
      if (!server.tryAcquire(now)) {
        rejected++;
        concurrent--;
        res.setHeader('retry-after', '1');
        json(res, 429, { error: 'rate_limited', retry_after: 1, message: 'You are being rate limited.' });
        return;
      }
      arrivals.push(now);
      const id = (1n << 60n) + BigInt(arrivals.length);
      setImmediate(() => {
        concurrent--;
        json(res, 200, `{"messageId":${id}}`);
      });
    });
    const client = new RestClient({ token: TOKEN, baseUrl: stub.url, clock });
    try {
      let done = 0;
      const calls = Array.from({ length: 500 }, (_, i) =>
        client.messages.send({ channelId: '11111111-2222-3333-4444-555555555555', text: `m${i}` }).then((r) => {
          done++;
          return r.messageId;
        }),
      );
      while (done < 500) {
        // let in-flight requests finish on real sockets, then jump fake time to the next permit
        await until(() => client.core.limiter.inFlight === 0 || done === 500, 'in-flight requests');
        if (done < 500) {
          if (client.core.limiter.waiting > 0 && client.core.limiter.inFlight === 0) clock.advanceToNext();
          else await new Promise((r) => setTimeout(r, 1));
        }
      }
      const ids = await Promise.all(calls);
      expect(new Set(ids).size).toBe(500);
      expect(ids).toContain((1n << 60n) + 1n); // exact above 2^53
      expect(rejected).toBe(0);
      expect(client.stats.rateLimited).toBe(0);
      expect(arrivals).toHaveLength(500);
      expect(maxConcurrent).toBeLessThanOrEqual(10);
      // any 60-s window of arrivals holds at most 120 (stricter than the server's segmented count)
      for (let i = 120; i < arrivals.length; i++)
        expect(arrivals[i]! - arrivals[i - 120]!).toBeGreaterThanOrEqual(60_000);
      // and the burst used the budget: the first 120 went at once
      expect(arrivals[119]).toBe(arrivals[0]);
    } finally {
      await client.close();
      await stub.close();
    }
  });
});
