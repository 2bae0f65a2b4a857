import { describe, expect, it } from 'vitest';
import {
  acceptAfter,
  acceptAll,
  allOf,
  allowList,
  byLocale,
  type CallPolicy,
  custom,
  decideCall,
  denyList,
  type IncomingCall,
  maxConcurrent,
  parsePolicySpec,
  rejectAll,
} from '../../src/calls/policy.js';
import { InvalidInputError } from '../../src/errors.js';
import { ManualClock } from '../../src/util/clock.js';

const call = (over: Partial<IncomingCall> = {}): IncomingCall => ({
  callId: 'c1',
  fromUserId: 'AAAAAAAA-0000-0000-0000-000000000001',
  fromLocale: 'en',
  ...over,
});
const ctx = (activeCalls = 0) => ({ activeCalls, signal: new AbortController().signal });

describe('call policies', () => {
  it('accept/reject all', async () => {
    expect(await acceptAll()(call(), ctx())).toEqual({ action: 'accept' });
    expect(await rejectAll('closed')(call(), ctx())).toEqual({ action: 'reject', reason: 'closed' });
  });

  it('allow and deny lists compare ids case-insensitively', async () => {
    const id = 'aaaaaaaa-0000-0000-0000-000000000001';
    expect((await allowList([id])(call(), ctx())).action).toBe('accept');
    expect((await allowList(['someone-else'])(call(), ctx())).action).toBe('reject');
    expect((await denyList([id])(call(), ctx())).action).toBe('reject');
    expect((await denyList(['someone-else'])(call(), ctx())).action).toBe('accept');
  });

  it('locale policy matches the primary subtag and handles unknown locales', async () => {
    const p = byLocale(['en', 'ru']);
    expect((await p(call({ fromLocale: 'en-US' }), ctx())).action).toBe('accept');
    expect((await p(call({ fromLocale: 'ja' }), ctx())).action).toBe('reject');
    expect((await p(call({ fromLocale: null }), ctx())).action).toBe('accept');
    expect((await byLocale(['en'], { allowUnknown: false })(call({ fromLocale: null }), ctx())).action).toBe('reject');
  });

  it('max concurrent rejects once the limit is reached', async () => {
    const p = maxConcurrent(3, 'busy');
    expect((await p(call(), ctx(2))).action).toBe('accept');
    expect(await p(call(), ctx(3))).toEqual({ action: 'reject', reason: 'busy' });
    expect(() => maxConcurrent(0)).toThrow(InvalidInputError);
  });

  it('allOf(): first rejection wins, accept delay is the longest', async () => {
    const p = allOf(acceptAfter(500), acceptAfter(1500), acceptAll());
    expect(await p(call(), ctx())).toEqual({ action: 'accept', delayMs: 1500 });
    const q = allOf(acceptAfter(500), denyList([call().fromUserId], 'nope'), rejectAll('never reached'));
    expect(await q(call(), ctx())).toEqual({ action: 'reject', reason: 'nope' });
  });
});

describe('decideCall', () => {
  it('rejects with policy-timeout when the predicate outlives the deadline, and aborts it', async () => {
    const clock = new ManualClock();
    let sawAbort = false;
    const slow: CallPolicy = custom(
      (_c, c) =>
        new Promise<boolean>((resolve) => {
          c.signal.addEventListener('abort', () => {
            sawAbort = true;
          });
          clock.setTimeout(() => resolve(true), 20_000);
        }),
    );
    const p = decideCall(slow, call(), 0, { deadlineMs: 5_000, clock });
    clock.advance(5_000);
    expect(await p).toEqual({ action: 'reject', reason: 'policy-timeout' });
    expect(sawAbort).toBe(true);
  });

  it('a fast predicate wins and leaves no timer behind', async () => {
    const clock = new ManualClock();
    const d = await decideCall(
      custom(async () => true),
      call(),
      0,
      { deadlineMs: 5_000, clock },
    );
    expect(d).toEqual({ action: 'accept' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('a throwing policy or an invalid answer becomes a rejection with the reason', async () => {
    const boom: CallPolicy = () => {
      throw new Error('db down');
    };
    expect(await decideCall(boom, call(), 0)).toEqual({ action: 'reject', reason: 'policy-error: db down' });
    const bad = (() => ({ action: 'maybe' })) as unknown as CallPolicy;
    const d = await decideCall(bad, call(), 0);
    expect(d.action).toBe('reject');
    expect(d.action === 'reject' && d.reason).toMatch(/^policy-error: a policy returned/);
  });

  it('an outer abort (call ended while deciding) rejects with aborted', async () => {
    const ac = new AbortController();
    const clock = new ManualClock();
    const never: CallPolicy = () => new Promise(() => {});
    const p = decideCall(never, call(), 0, { signal: ac.signal, clock, deadlineMs: 10_000 });
    ac.abort();
    expect(await p).toEqual({ action: 'reject', reason: 'aborted' });
  });

  it('clamps an accept delay to stay inside the 45 s ring', async () => {
    expect(await decideCall(acceptAfter(60_000), call(), 0)).toEqual({ action: 'accept', delayMs: 40_000 });
  });
});

describe('parsePolicySpec', () => {
  it('parses and composes parts', async () => {
    const id = call().fromUserId;
    expect((await parsePolicySpec('accept')(call(), ctx())).action).toBe('accept');
    expect((await parsePolicySpec('reject')(call(), ctx())).action).toBe('reject');
    expect((await parsePolicySpec(`allow-list:${id}`)(call(), ctx())).action).toBe('accept');
    expect((await parsePolicySpec('allow-list:x,y')(call(), ctx())).action).toBe('reject');
    expect((await parsePolicySpec('max:3')(call(), ctx(3))).action).toBe('reject');
    expect(await parsePolicySpec('locale:en+delay:1200')(call(), ctx())).toEqual({ action: 'accept', delayMs: 1200 });
    expect((await parsePolicySpec('locale:ru+delay:1200')(call(), ctx())).action).toBe('reject');
  });

  it('names the valid parts when one is unknown or malformed', () => {
    expect(() => parsePolicySpec('sometimes')).toThrow(/unknown --policy part 'sometimes'.*allow-list/);
    expect(() => parsePolicySpec('max:zero')).toThrow(InvalidInputError);
    expect(() => parsePolicySpec('allow-list:')).toThrow(/needs user ids/);
    expect(() => parsePolicySpec('')).toThrow(/empty/);
  });
});
