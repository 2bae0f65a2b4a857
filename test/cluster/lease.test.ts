/**
 * Lease on a stand-in KV and a manual clock: what happens to a renewal still in flight when the
 * holder releases, fences or abandons (a crash) the lease.
 */
import type { KV } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { Lease } from '../../src/cluster/lease.js';
import { ManualClock } from '../../src/util/clock.js';

/** A KV whose `update` answers only when the test says so; every delete is recorded. */
function stubKv() {
  const deletes: Array<{ key: string; previousSeq: number | undefined }> = [];
  const updates: Array<{ resolve: (rev: number) => void; reject: (e: Error) => void }> = [];
  let rev = 0;
  const kv = {
    create: async () => ++rev,
    update: (_k: string, _v: Uint8Array, _prev: number) =>
      new Promise<number>((resolve, reject) => updates.push({ resolve: () => resolve(++rev), reject })),
    delete: async (key: string, o?: { previousSeq?: number }) => {
      deletes.push({ key, previousSeq: o?.previousSeq });
    },
  };
  return { kv: kv as unknown as KV, deletes, updates, rev: () => rev };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('Lease and a renewal in flight', () => {
  it('renews every TTL/3 while the renewals succeed', async () => {
    const clock = new ManualClock(0);
    const s = stubKv();
    const lease = (await Lease.claim({ kv: s.kv, key: 'space.a', holder: 'w1', ttlMs: 3000, clock }))!;
    expect(lease.revision).toBe(1);
    clock.advance(999);
    expect(s.updates).toHaveLength(0);
    clock.advance(1);
    expect(s.updates).toHaveLength(1);
    s.updates[0]!.resolve(0);
    await flush();
    expect(lease.revision).toBe(2);
    expect(lease.valid).toBe(true);
    await lease.release();
    expect(s.deletes).toEqual([{ key: 'space.a', previousSeq: 2 }]);
  });

  it('after abandon() (a crash) a renewal that lands later leaves the key to expire', async () => {
    const clock = new ManualClock(0);
    const s = stubKv();
    const lease = (await Lease.claim({ kv: s.kv, key: 'space.a', holder: 'w1', ttlMs: 3000, clock }))!;
    clock.advance(1000);
    expect(s.updates).toHaveLength(1);
    lease.abandon();
    s.updates[0]!.resolve(0);
    await flush();
    expect(s.deletes).toEqual([]);
    expect(lease.valid).toBe(false);
    // Nothing more is scheduled.
    clock.advance(10_000);
    expect(s.updates).toHaveLength(1);
  });

  it('after release() a renewal that lands later is handed back (revision-checked delete)', async () => {
    const clock = new ManualClock(0);
    const s = stubKv();
    const lease = (await Lease.claim({ kv: s.kv, key: 'space.a', holder: 'w1', ttlMs: 3000, clock }))!;
    clock.advance(1000);
    await lease.release();
    // The release deleted revision 1; the renewal in flight writes revision 2, which is deleted too.
    s.updates[0]!.resolve(0);
    await flush();
    expect(s.deletes).toEqual([
      { key: 'space.a', previousSeq: 1 },
      { key: 'space.a', previousSeq: 2 },
    ]);
  });

  it('fences (lost: expired) when no renewal lands before the validity ends, and hands back a late one', async () => {
    const clock = new ManualClock(0);
    const s = stubKv();
    const lease = (await Lease.claim({ kv: s.kv, key: 'space.a', holder: 'w1', ttlMs: 3000, clock }))!;
    const lost: string[] = [];
    lease.on('lost', (why) => lost.push(why));
    // Valid until TTL − TTL/4 = 2250 ms after the claim was sent.
    clock.advance(2249);
    expect(lost).toEqual([]);
    clock.advance(1);
    expect(lost).toEqual(['expired']);
    for (const u of s.updates) u.resolve(0);
    await flush();
    expect(s.deletes.map((d) => d.previousSeq)).toEqual(s.updates.map((_, i) => i + 2));
  });
});
