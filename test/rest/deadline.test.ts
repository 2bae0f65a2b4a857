/**
 * Regression: a call's `timeoutMs` covered each HTTP attempt but not the wait for a client-side
 * rate-limit permit, so a call queued behind a full window waited silently past it. Now the per-call
 * `timeoutMs` bounds the whole call (permit wait, attempts, backoff) and `maxRateLimitWaitMs` bounds
 * any permit wait. Driven by a ManualClock limiter: no wall-clock tolerance.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, RateLimitError, TimeoutError } from '../../src/errors.js';
import { RestClient, type RestClientOptions } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { json, type Stub, type StubHandler, startStub, TestClock, TOKEN } from './stub.js';
import { until } from '../helpers/until.js';

const ME = { botId: 'b', userId: 'u', username: 'x', displayName: 'x' };
// windowMs 60 000 + marginMs 250: when a used IBotSelf permit comes back.
const PERMIT_BACK_MS = 60_250;

let stub: Stub | undefined;
let client: RestClient | undefined;
afterEach(async () => {
  await client?.close();
  await stub?.close();
  client = undefined;
  stub = undefined;
});

async function setup(
  handler: StubHandler,
  limiter: { limits?: Record<string, number>; maxConcurrent?: number },
  opts: Partial<RestClientOptions> = {},
) {
  const clock = new TestClock(0);
  stub = await startStub(handler);
  const rl = new RateLimiter({ clock, ...limiter });
  client = new RestClient({ token: TOKEN, baseUrl: stub.url, clock, limiter: rl, retries: 0, ...opts });
  return { clock, stub, client, limiter: rl };
}

/** Settles `p` into a value or the error, without an unhandled rejection in between. */
function settle<T>(p: Promise<T>): Promise<T | unknown> {
  return p.catch((e: unknown) => e);
}

describe('per-call timeoutMs covers the rate-limit permit wait', () => {
  it('rejects at once with RateLimitError when the window frees only after the deadline (nothing sent)', async () => {
    const { stub, client } = await setup((_q, res) => json(res, 200, ME), { limits: { IBotSelf: 1 } });
    await client.botSelf.getMe();
    const err = await settle(client.botSelf.getMe({ timeoutMs: 5_000 }));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(PERMIT_BACK_MS);
    expect((err as RateLimitError).status).toBe(429);
    expect((err as Error).message).toMatch(/not sent: client-side rate limit \(IBotSelf/);
    expect((err as Error).message).toMatch(/timeoutMs \(5000 ms\)/);
    expect(stub.requests).toHaveLength(1);
    expect(client.core.limiter.waiting).toBe(0);
  });

  it('a wait of unknown length (concurrency cap) ends with TimeoutError at the call deadline', async () => {
    let n = 0;
    const { clock, stub, client, limiter } = await setup(
      (_q, res) => {
        if (++n > 1) json(res, 200, ME); // the first request hangs and holds the only slot
      },
      { limits: {}, maxConcurrent: 1 },
    );
    const signal = new AbortController().signal;
    const first = settle(client.botSelf.getMe());
    await until(() => stub.requests.length === 1, 'first request');
    const second = settle(client.botSelf.getMe({ timeoutMs: 5_000, signal }));
    await until(() => limiter.waiting === 1, 'second call queued');
    clock.advance(4_999);
    await new Promise((r) => setImmediate(r));
    expect(limiter.waiting).toBe(1);
    clock.advance(1);
    const err = await second;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(5_000);
    expect((err as Error).message).toMatch(/rate-limit permit .*not sent/);
    expect(limiter.waiting).toBe(0);
    expect(stub.requests).toHaveLength(1);
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await client.close();
    expect(await first).toBeInstanceOf(ClosedError);
  });

  it('a permit that frees within the deadline is waited for; the attempt gets what is left', async () => {
    let n = 0;
    const { clock, stub, client } = await setup(
      (_q, res) => {
        if (++n === 1) json(res, 200, ME); // the second request hangs
      },
      { limits: { IBotSelf: 1 } },
    );
    await client.botSelf.getMe();
    const p = settle(client.botSelf.getMe({ timeoutMs: 90_000 }));
    await until(() => client.core.limiter.waiting === 1, 'queued');
    clock.advance(PERMIT_BACK_MS);
    await until(() => stub.requests.length === 2, 'second request sent after the window');
    // 90 000 − 60 250 = 29 750 ms left for the attempt, not a fresh 90 000.
    clock.advance(29_749);
    await new Promise((r) => setImmediate(r));
    clock.advance(1);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(90_000);
  });

  it('does not retry past the deadline: the last error surfaces', async () => {
    const { clock, stub, client } = await setup(() => undefined, { limits: {} }, { retries: 3 });
    const p = settle(client.botSelf.getMe({ timeoutMs: 1_000 }));
    await until(() => stub.requests.length === 1, 'request');
    clock.advance(1_000);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(1_000);
    expect(stub.requests).toHaveLength(1);
    expect(client.stats.retries).toBe(0);
  });
});

describe('maxRateLimitWaitMs', () => {
  it('fails at once with RateLimitError when the known wait is longer', async () => {
    const { stub, client } = await setup(
      (_q, res) => json(res, 200, ME),
      { limits: { IBotSelf: 1 } },
      { maxRateLimitWaitMs: 10_000 },
    );
    await client.botSelf.getMe();
    const err = await settle(client.botSelf.getMe());
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(PERMIT_BACK_MS);
    expect((err as Error).message).toMatch(/maxRateLimitWaitMs is 10000 ms/);
    expect(stub.requests).toHaveLength(1);
  });

  it('bounds a wait of unknown length with RateLimitError', async () => {
    let n = 0;
    const { clock, client, limiter, stub } = await setup(
      (_q, res) => {
        if (++n > 1) json(res, 200, ME);
      },
      { limits: {}, maxConcurrent: 1 },
      { maxRateLimitWaitMs: 10_000 },
    );
    const first = settle(client.botSelf.getMe());
    await until(() => stub.requests.length === 1, 'first request');
    const second = settle(client.botSelf.getMe());
    await until(() => limiter.waiting === 1, 'queued');
    clock.advance(10_000);
    const err = await second;
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as Error).message).toMatch(/waited 10000 ms/);
    expect(limiter.waiting).toBe(0);
    await client.close();
    expect(await first).toBeInstanceOf(ClosedError);
  });

  it('is unbounded by default: a queued call waits for the window and succeeds', async () => {
    const { clock, stub, client } = await setup((_q, res) => json(res, 200, ME), { limits: { IBotSelf: 1 } });
    await client.botSelf.getMe();
    const p = client.botSelf.getMe();
    await until(() => client.core.limiter.waiting === 1, 'queued');
    clock.advance(PERMIT_BACK_MS);
    await expect(p).resolves.toEqual(ME);
    expect(stub.requests).toHaveLength(2);
  });
});
