/**
 * Leases, fencing, placement and drain against a real nats-server, with workers in this process
 * running stand-in sessions (no audio) so that holders can be checked at every instant: each
 * session registers itself while live, and a second live session for one space is a violation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { ClusterError } from '../../src/cluster/errors.js';
import { Lease } from '../../src/cluster/lease.js';
import { connectNats, type NatsConnection, openStores } from '../../src/cluster/nats.js';
import type { SpaceSession, SpaceSessionContext } from '../../src/cluster/playback.js';
import { parseLease, parseReply, type SpaceStatus } from '../../src/cluster/wire.js';
import { VoiceWorker } from '../../src/cluster/worker.js';
import { ManualClock } from '../../src/util/clock.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { type NatsServer, startNats, until } from './helpers.js';

/** Live stand-in sessions by space, and every overlap seen. */
class Registry {
  readonly live = new Map<string, string>();
  readonly violations: string[] = [];
  readonly started: Array<{ spaceId: string; workerId: string; resumedAt: number | undefined }> = [];
}

class StandInSession extends TypedEmitter<{ change: []; failed: [Error] }> implements SpaceSession {
  #closed = false;
  readonly #t0 = performance.now();
  constructor(
    readonly ctx: SpaceSessionContext,
    readonly reg: Registry,
  ) {
    super();
    const other = reg.live.get(ctx.state.spaceId);
    if (other) reg.violations.push(`${ctx.workerId} started ${ctx.state.spaceId} while ${other} was live`);
    reg.live.set(ctx.state.spaceId, ctx.workerId);
    reg.started.push({ spaceId: ctx.state.spaceId, workerId: ctx.workerId, resumedAt: ctx.state.current?.positionMs });
  }
  #pos(): number {
    return (this.ctx.state.current?.positionMs ?? 0) + Math.round(performance.now() - this.#t0);
  }
  snapshot() {
    const s = this.ctx.state;
    const track = s.current?.track ?? s.queue[0];
    return {
      current: track ? { track, positionMs: this.#pos(), reportedAtMs: Date.now() } : undefined,
      queue: s.current ? s.queue : s.queue.slice(1),
      volume: s.volume,
      paused: false,
    };
  }
  status(): SpaceStatus {
    return { spaceId: this.ctx.state.spaceId, status: 'playing', positionMs: this.#pos(), framesSent: 0 };
  }
  command(): string {
    return 'ok';
  }
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.reg.live.get(this.ctx.state.spaceId) === this.ctx.workerId) this.reg.live.delete(this.ctx.state.spaceId);
  }
  async close(): Promise<void> {
    this.destroy();
  }
}

describe('cluster leases, fencing, placement and drain (real nats-server)', () => {
  let nats: NatsServer;
  const conns: NatsConnection[] = [];
  const workers: VoiceWorker[] = [];
  const connect = async () => {
    const nc = await connectNats(nats.url);
    conns.push(nc);
    return nc;
  };

  beforeAll(async () => {
    nats = await startNats();
  });
  afterAll(async () => {
    for (const w of workers) w.abandon();
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await nats?.close();
  });

  it('a lease is exclusive, outlives many TTLs while renewed, expires when abandoned, and is free at once when released', async () => {
    // The holder's schedule runs on a manual clock, so its renewals happen when the test says and
    // never late: the server's (real) TTL of 10 s is only a bound that no stall of this process
    // can reach between two renewals.
    const stores = await openStores(await connect(), 'lease-bot', { leaseTtlMs: 10_000 });
    expect(stores.leaseTtlMs).toBe(10_000);
    const clock = new ManualClock(1_000_000);
    const opts = { kv: stores.leases, key: 'k', ttlMs: stores.leaseTtlMs };
    const a = await Lease.claim({ ...opts, holder: 'a', clock });
    expect(a).toBeDefined();
    expect(await Lease.claim({ ...opts, holder: 'b' })).toBeUndefined();
    // Renewals keep it: five TTLs of the holder's time, one renewal (every ttl/3) at a time.
    for (let i = 0; i < 15; i++) {
      const rev = a!.revision!;
      clock.advance(stores.leaseTtlMs / 3);
      await until(() => (a!.revision! > rev ? true : undefined), `renewal ${i + 1}`);
      expect(a!.valid).toBe(true);
    }
    expect(await Lease.claim({ ...opts, holder: 'b' })).toBeUndefined();
    // Abandoned (a crash): the key stays; nobody can take it before the server expires it.
    a!.abandon();
    expect(await Lease.claim({ ...opts, holder: 'b' })).toBeUndefined();
    // Expiry, on a bucket with a short TTL: a holder that is gone (abandoned at once, so no renewal
    // can be late) loses the key to the next claimant.
    const short = await openStores(await connect(), 'lease-expiry-bot', { leaseTtlMs: 1000 });
    const sOpts = { kv: short.leases, key: 'k', ttlMs: short.leaseTtlMs };
    const gone = await Lease.claim({ ...sOpts, holder: 'a' });
    expect(gone).toBeDefined();
    gone!.abandon();
    const b = await until(
      async () => (await Lease.claim({ ...sOpts, holder: 'b' })) ?? undefined,
      'b to claim after expiry',
    );
    expect(b.holder).toBe('b');
    // Released: free at once (on the long-TTL bucket too, where waiting for expiry would take 10 s).
    await b.release();
    const c = await Lease.claim({ ...sOpts, holder: 'c' });
    expect(c).toBeDefined();
    await c!.release();
    const d = await Lease.claim({ ...opts, key: 'k2', holder: 'd' });
    await d!.release();
    const e = await Lease.claim({ ...opts, key: 'k2', holder: 'e' });
    expect(e?.holder).toBe('e');
    await e!.release();
  });

  it('spreads spaces across workers, fences a cut-off worker before anyone else starts its spaces, and drains without a TTL wait', async () => {
    const reg = new Registry();
    const botId = 'placement-bot';
    const ncs = new Map<string, NatsConnection>();
    const mk = async (id: string, maxStreams = 8) => {
      const nc = await connect();
      ncs.set(id, nc);
      const w = new VoiceWorker({
        nats: nc,
        botId,
        workerId: id,
        // Fence margin ttl/4 = 500 ms between a cut-off worker stopping and the key expiring.
        leaseTtlMs: 2000,
        maxStreams,
        placementStepMs: 300,
        createSession: (ctx) => new StandInSession(ctx, reg),
      });
      workers.push(w);
      await w.start();
      return w;
    };
    const [a, b, c] = [await mk('a'), await mk('b'), await mk('c')];
    // Placement spreads spaces over the workers that know each other: offer spaces only once each
    // has heard the other two (a worker answers a peer it did not know with a heartbeat at once).
    // Otherwise the last one started, having heard nobody yet, would rightly take all six.
    await until(
      () => ([a, b, c].every((w) => w.peers.length === 2) ? true : undefined),
      'every worker to have heard the other two',
    );
    const client = new ClusterClient({ nats: await connect(), botId, leaseTtlMs: 2000 });
    const spaces = ['s1', 's2', 's3', 's4', 's5', 's6'];
    await Promise.all(
      spaces.map((s) => client.command(s, { op: 'play', input: `/music/${s}.opus` }, { channelId: `${s}-voice` })),
    );
    await until(() => (a.spaces.length + b.spaces.length + c.spaces.length === 6 ? true : undefined), 'all six held');
    const counts = [a, b, c].map((w) => w.spaces.length);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);

    // Cut a off from NATS (its process lives on, its sessions too, until it fences itself). First
    // let a write a position of each of its spaces, so that a resume from it can be checked.
    const aSpaces = a.spaces;
    expect(aSpaces.length).toBeGreaterThan(0);
    await until(async () => {
      for (const s of aSpaces) {
        const st = await client.spaceState(s);
        if (!(st?.holder === 'a' && (st.current?.positionMs ?? 0) > 0)) return undefined;
      }
      return true;
    }, "a position of each of a's spaces written by a");
    const lost: string[] = [];
    a.on('released', (s, why) => why === 'lost' && lost.push(s));
    await ncs.get('a')!.close();
    await until(() => (lost.length === aSpaces.length ? true : undefined), 'a to fence every space');
    await until(
      () => (aSpaces.every((s) => b.spaces.includes(s) || c.spaces.includes(s)) ? true : undefined),
      "a's spaces on b and c",
    );
    expect(reg.violations).toEqual([]);
    expect(b.spaces.length + c.spaces.length).toBe(6);
    // The new holders resumed from a position a had written (not from zero).
    for (const s of aSpaces) {
      const start = reg.started.filter((x) => x.spaceId === s).at(-1)!;
      expect(start.workerId).not.toBe('a');
      expect(start.resumedAt).toBeGreaterThan(0);
    }

    // Drain b: its spaces go to c (the only running worker), and its leases are deleted rather than
    // left to expire, so c does not wait a TTL for them.
    const bSpaces = b.spaces;
    const stores = await openStores(await connect(), botId);
    const releasedAt = new Map<string, number>();
    b.on('released', (s) => releasedAt.set(s, Date.now()));
    await b.drain();
    for (const s of bSpaces) {
      const e = await stores.leases.get(stores.names.spaceLease(s));
      // Released, not left to expire: either deleted (DEL marker) or already re-taken by c (whose
      // claim may still be starting its session, so the key is the evidence, not c.spaces).
      const holder = e?.operation === 'PUT' ? parseLease(e.value).holder : undefined;
      expect(holder).not.toBe('b');
      expect(e?.operation === 'DEL' || e?.operation === 'PURGE' || holder === 'c').toBe(true);
    }
    await until(() => (bSpaces.every((s) => c.spaces.includes(s)) ? true : undefined), "b's spaces on c");
    expect(reg.violations).toEqual([]);
    for (const s of bSpaces) expect(reg.started.filter((x) => x.spaceId === s).at(-1)!.workerId).toBe('c');
    await b.close();
    expect(b.state.status).toBe('closed');
  }, 90_000);

  it("takes a dead worker's space over long before its lease expires, and never a live but stalled worker's", async () => {
    const reg = new Registry();
    const botId = 'takeover-bot';
    // A 20 s lease: a takeover within the waits below can only be the fast path (probe, then a
    // revision-checked delete), never the server's expiry.
    const TTL = 20_000;
    // The holder runs on a manual clock that the test only moves to let it claim: afterwards it
    // never renews, like a process whose event loop is stuck, yet its NATS connection answers.
    const hClock = new ManualClock(5_000_000);
    const h = new VoiceWorker({
      nats: await connect(),
      botId,
      workerId: 'h',
      leaseTtlMs: TTL,
      clock: hClock,
      createSession: (ctx) => new StandInSession(ctx, reg),
    });
    workers.push(h);
    await h.start();
    const client = new ClusterClient({ nats: await connect(), botId, leaseTtlMs: TTL });
    const play = client.command('t1', { op: 'play', input: '/a.opus' }, { channelId: 'v', timeoutMs: 20_000 });
    await until(() => {
      hClock.advance(50);
      return h.spaces.includes('t1') ? true : undefined;
    }, 'h to take t1');
    expect((await play).workerId).toBe('h');

    const o = new VoiceWorker({
      nats: await connect(),
      botId,
      workerId: 'o',
      leaseTtlMs: TTL,
      probeAfterMs: 300,
      createSession: (ctx) => new StandInSession(ctx, reg),
    });
    workers.push(o);
    const probes: Array<[string, boolean]> = [];
    o.on('probed', (id, alive) => probes.push([id, alive]));
    await o.start();
    // h's renewal is overdue for o, so o probes h: h's connection answers, and o leaves t1 alone.
    await until(() => (probes.length >= 2 ? true : undefined), 'o to probe the stalled holder twice');
    expect(probes.slice(0, 2)).toEqual([
      ['h', true],
      ['h', true],
    ]);
    expect(o.spaces).toEqual([]);
    expect(reg.live.get('t1')).toBe('h');

    // h dies (what kill -9 leaves: no release, the lease key stays until its TTL): its connection
    // no longer answers, so o deletes the revision h wrote last and takes t1 at once.
    const claimed = new Promise<number>((r) => o.on('claimed', (_s, info) => r(info.epoch)));
    h.abandon();
    await until(
      () => (o.spaces.includes('t1') ? true : undefined),
      "o to take t1 over before h's lease expires",
      15_000,
    );
    expect(probes.at(-1)).toEqual(['h', false]);
    expect(await claimed).toBe(2);
    expect(reg.violations).toEqual([]);
    expect(reg.started.filter((x) => x.spaceId === 't1').map((x) => x.workerId)).toEqual(['h', 'o']);
    expect((await client.command('t1', { op: 'queue' })).workerId).toBe('o');
  }, 60_000);

  it('takes no space above maxStreams; a queued space waits for a worker with room', async () => {
    const reg = new Registry();
    const botId = 'capacity-bot';
    const w = new VoiceWorker({
      nats: await connect(),
      botId,
      workerId: 'small',
      // Not measured here: long enough that no stall of this process can make x1's lease lapse.
      leaseTtlMs: 10_000,
      maxStreams: 1,
      createSession: (ctx) => new StandInSession(ctx, reg),
    });
    workers.push(w);
    await w.start();
    const client = new ClusterClient({ nats: await connect(), botId });
    await client.command('x1', { op: 'play', input: '/a.opus' }, { channelId: 'v' });
    await expect(
      client.command('x2', { op: 'play', input: '/b.opus' }, { channelId: 'v', timeoutMs: 2000 }),
    ).rejects.toMatchObject({ code: 'ARGON_VOICE_TIMEOUT' });
    expect(w.spaces).toEqual(['x1']);
    // Stopping x1 frees the slot: x2, still active in KV, is taken.
    await client.command('x1', { op: 'stop' });
    await until(() => (w.spaces.includes('x2') ? true : undefined), 'x2 taken once there is room');
    expect(w.spaces).toEqual(['x2']);
  }, 60_000);

  it('counts extraLoad (calls run by the same process) against maxStreams and in its load', async () => {
    const reg = new Registry();
    const botId = 'extra-load-bot';
    let calls = 2;
    const w = new VoiceWorker({
      nats: await connect(),
      botId,
      workerId: 'busy',
      leaseTtlMs: 10_000,
      maxStreams: 2,
      extraLoad: () => calls,
      createSession: (ctx) => new StandInSession(ctx, reg),
    });
    workers.push(w);
    await w.start();
    expect(w.load).toBe(2);
    const client = new ClusterClient({ nats: await connect(), botId });
    await expect(
      client.command('y1', { op: 'play', input: '/a.opus' }, { channelId: 'v', timeoutMs: 1500 }),
    ).rejects.toMatchObject({ code: 'ARGON_VOICE_TIMEOUT' });
    expect(w.spaces).toEqual([]);
    // A call ends: the space, still active in KV, is taken.
    calls = 1;
    await until(() => (w.spaces.includes('y1') ? true : undefined), 'y1 taken once a call ended');
    expect(w.load).toBe(2);
  }, 60_000);

  it('ignores malformed messages and values: commands get a bad-message reply, the worker keeps serving', async () => {
    const reg = new Registry();
    const botId = 'garbage-bot';
    const faults: Error[] = [];
    const wnc = await connect();
    const w = new VoiceWorker({
      nats: wnc,
      botId,
      workerId: 'g',
      leaseTtlMs: 10_000,
      createSession: (ctx) => new StandInSession(ctx, reg),
    });
    w.on('error', (e) => faults.push(e));
    workers.push(w);
    await w.start();
    // The worker's subscriptions are on the server before anything is published to them.
    await wnc.flush();
    const nc = await connect();
    const stores = await openStores(nc, botId);
    const names = stores.names;
    // Garbage everywhere a worker reads.
    await stores.state.put(names.spaceState('bad'), new TextEncoder().encode('{"v":1,"spaceId":'));
    await stores.leases.put(names.spaceLease('bad2'), new Uint8Array([0xff, 0x00]));
    nc.publish(names.status('someone'), new TextEncoder().encode('not json'));
    await until(() => (faults.length >= 3 ? true : undefined), 'the three faults to be reported');
    expect(faults.every((e) => e instanceof ClusterError && e.reason === 'bad-message')).toBe(true);
    // Still working: it takes a space and answers a malformed command with a typed reply.
    const client = new ClusterClient({ nats: nc, botId });
    await client.command('ok', { op: 'play', input: '/a.opus' }, { channelId: 'v' });
    const reply = parseReply((await nc.request(names.cmd('ok'), new TextEncoder().encode('{"op":"rm -rf"}'))).data);
    expect(reply).toMatchObject({ ok: false, reason: 'bad-message' });
    expect((await client.command('ok', { op: 'queue' })).workerId).toBe('g');
    expect(w.spaces).toEqual(['ok']);
  }, 60_000);
});
