/**
 * Call sessions on cluster workers: the wire parsers byte for byte, then against a real
 * nats-server, the emulator and an in-process EventRouter (the Calls intent): exactly one worker
 * answers a call, `callEnded` reaches it, a worker killed mid-call has its call hung up by another
 * worker, a full worker hands calls back, malformed messages are ignored, manual answering.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Call } from '../../src/calls/call-manager.js';
import type { CallsApi, DuplexCallSession } from '../../src/calls/index.js';
import { toneSource } from '../../src/calls/index.js';
import {
  CallWorker,
  type CallWorkerOptions,
  ClusterCallClient,
  callNames,
  parseCallCommand,
  parseCallEnded,
  parseCallIncoming,
  parseCallReply,
} from '../../src/cluster/calls.js';
import { ClusterError } from '../../src/cluster/errors.js';
import { connectNats, type NatsConnection, openStores } from '../../src/cluster/nats.js';
import { EventRouter } from '../../src/cluster/router.js';
import { encode } from '../../src/cluster/wire.js';
import { Emulator, type SimulatedCall } from '../../src/emulator/index.js';
import { InvalidInputError } from '../../src/errors.js';
import { EventStream } from '../../src/events/event-stream.js';
import { Intents } from '../../src/events/intents.js';
import { RestClient } from '../../src/rest/client.js';
import { type CliChild, type NatsServer, spawnCli, startNats, until } from './helpers.js';

const bytes = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** Expects `fn` to throw a ClusterError with reason bad-message. */
function expectBad(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ClusterError);
  expect((thrown as ClusterError).reason).toBe('bad-message');
  expect((thrown as ClusterError).code).toBe('ARGON_VOICE_CLUSTER');
}

describe('call wire parsers', () => {
  const callId = '0f0e0d0c-0b0a-0908-0706-050403020100';

  it('names are derived from the bot key', () => {
    const n = callNames('bot.with*odd>chars');
    expect(n.incoming).toBe('argon.bot_with_odd_chars.events._.callIncoming');
    expect(n.ended).toBe('argon.bot_with_odd_chars.events._.callEnded');
    expect(n.consumer).toBe('argon_calls_bot_with_odd_chars');
    expect(n.lease(callId)).toBe(`call.${callId}`);
    expect(n.command(callId)).toBe(`argon.bot_with_odd_chars.call.${callId}`);
    expect(n.lease('a.b>c')).toBe('call.a_b_c');
  });

  it('parses a routed callIncoming and rejects malformed ones', () => {
    const ok = { id: 'direct_7', type: 'callIncoming', data: { callId, fromUserId: 'u1', fromLocale: 'en' } };
    expect(parseCallIncoming(bytes(ok))).toEqual({ id: 'direct_7', callId, fromUserId: 'u1', fromLocale: 'en' });
    expect(parseCallIncoming(bytes({ ...ok, id: undefined, data: { ...ok.data, fromLocale: null } }))).toEqual({
      id: undefined,
      callId,
      fromUserId: 'u1',
      fromLocale: null,
    });
    expectBad(() => parseCallIncoming(bytes('not json')));
    expectBad(() => parseCallIncoming(new Uint8Array([0xff, 0xfe, 0x7b])));
    expectBad(() => parseCallIncoming(bytes([ok])));
    expectBad(() => parseCallIncoming(bytes({ ...ok, type: 'callEnded' })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, data: null })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, data: { fromUserId: 'u1' } })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, data: { callId, fromUserId: 5 } })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, data: { ...ok.data, fromLocale: 3 } })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, data: { ...ok.data, callId: 'x'.repeat(300) } })));
    expectBad(() => parseCallIncoming(bytes({ ...ok, id: 12 })));
    expectBad(() => parseCallIncoming(new Uint8Array(256 * 1024 + 1)));
  });

  it('a CallWorker needs maxCalls >= 1', () => {
    const o = { nats: {} as NatsConnection, botId: 'b', calls: {} as CallsApi };
    expect(() => new CallWorker({ ...o, maxCalls: 0 })).toThrow(InvalidInputError);
    expect(() => new CallWorker({ ...o, maxCalls: 1.5 })).toThrow(/maxCalls/);
    expect(new CallWorker({ ...o, workerId: 'w' }).state.status).toBe('idle');
  });

  it('parses a routed callEnded', () => {
    expect(parseCallEnded(bytes({ id: 'direct_8', type: 'callEnded', data: { callId } }))).toEqual({
      id: 'direct_8',
      callId,
    });
    expectBad(() => parseCallEnded(bytes({ type: 'callEnded', data: {} })));
    expectBad(() => parseCallEnded(bytes({ type: 'callIncoming', data: { callId } })));
  });

  it('parses call commands and replies', () => {
    expect(parseCallCommand(bytes({ op: 'answer', callId }))).toEqual({ op: 'answer', callId, reason: undefined });
    expect(parseCallCommand(bytes({ op: 'reject', callId, reason: 'busy' }))).toEqual({
      op: 'reject',
      callId,
      reason: 'busy',
    });
    expectBad(() => parseCallCommand(bytes({ op: 'hangup', callId })));
    expectBad(() => parseCallCommand(bytes({ op: 'answer' })));
    expectBad(() => parseCallCommand(bytes({ op: 'reject', callId, reason: 7 })));
    const ok = { ok: true, workerId: 'w1', callId, status: 'connected' };
    expect(parseCallReply(bytes(ok))).toEqual(ok);
    expect(parseCallReply(bytes({ ok: false, reason: 'ended', message: 'gone' }))).toEqual({
      ok: false,
      workerId: undefined,
      reason: 'ended',
      message: 'gone',
    });
    expectBad(() => parseCallReply(bytes({ ...ok, status: 'ringing' })));
    expectBad(() => parseCallReply(bytes({ ok: 'yes' })));
    expectBad(() => parseCallReply(bytes({ ok: false, message: 'x' })));
  });
});

/** Counts a worker's Accepts and Rejects while passing them through. */
function countingCalls(rest: RestClient) {
  const accepts: string[] = [];
  const rejects: string[] = [];
  const calls: CallsApi = {
    accept: (body, o) => {
      accepts.push(body.callId);
      return rest.calls.accept(body, o);
    },
    reject: (body, o) => {
      rejects.push(body.callId);
      return rest.calls.reject(body, o);
    },
  };
  return { calls, accepts, rejects };
}

/** Plays a long tone to the caller and keeps the call until it ends. */
async function toneUntilEnded(call: Call<DuplexCallSession>): Promise<void> {
  void call.session
    ?.play(toneSource([[440, 20_000]], { signal: call.signal }), { signal: call.signal })
    .catch(() => undefined);
  await new Promise<void>((resolve) => {
    if (call.signal.aborted) resolve();
    else call.signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

describe('cluster calls (nats-server + emulator + router)', () => {
  // Short, so that a dead worker's call is hung up quickly; the holders here are in this process
  // and only renew a few KV keys.
  const TTL = 4000;
  let nats: NatsServer;
  let emu: Emulator;
  let rest: RestClient;
  let router: EventRouter;
  const conns: NatsConnection[] = [];
  const workers: CallWorker[] = [];
  const children: CliChild[] = [];

  const connect = async () => {
    const nc = await connectNats(nats.url);
    conns.push(nc);
    return nc;
  };

  /** An in-process call worker with its own NATS connection and counted ICalls. */
  async function worker(id: string, extra: Partial<CallWorkerOptions> = {}) {
    const counted = countingCalls(rest);
    const nc = await connect();
    const errors: Error[] = [];
    const events: Array<{ event: string; callId: string; [k: string]: unknown }> = [];
    const w = new CallWorker({
      nats: nc,
      botId: emu.bot.botId,
      calls: counted.calls,
      workerId: id,
      leaseTtlMs: TTL,
      answer: { onCall: toneUntilEnded },
      ...extra,
    });
    workers.push(w);
    w.on('error', (e) => errors.push(e));
    w.on('taken', (callId) => events.push({ event: 'taken', callId }));
    w.on('answered', (callId) => events.push({ event: 'answered', callId }));
    w.on('ended', (callId, reason) => events.push({ event: 'ended', callId, reason }));
    w.on('deferred', (callId, i) => events.push({ event: 'deferred', callId, deliveries: i.deliveries }));
    w.on('orphanEnded', (callId, i) => events.push({ event: 'orphanEnded', callId, ...i }));
    await w.start();
    const has = (event: string, callId: string) => events.some((e) => e.event === event && e.callId === callId);
    return { w, nc, ...counted, errors, events, has };
  }

  const clusterKey = () => emu.bot.botId.replace(/[^A-Za-z0-9_-]/g, '_');
  const call = (): SimulatedCall => emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: emu.bot.userId });
  /** Two workers, one accepted call: which worker answered it, and the other one. */
  async function answeredByOneOfTwo(ids: [string, string]) {
    const a = await worker(ids[0]);
    const b = await worker(ids[1]);
    const sim = call();
    await sim.accepted;
    const holder = await until(
      () => (a.has('answered', sim.callId) ? a : b.has('answered', sim.callId) ? b : undefined),
      'a worker to report the call answered',
    );
    return { sim, holder, other: holder === a ? b : a };
  }

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({
      port: 0,
      audioPort: 0,
      audioTimings: { joinDelayMs: 0 },
      timings: { sseBatchMs: 20 },
    });
    rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
    router = new EventRouter({
      nats: await connect(),
      botId: emu.bot.botId,
      routerId: 'r1',
      leaseTtlMs: TTL,
      openEvents: () => new EventStream({ rest, intents: Intents.All }),
    });
    await router.start();
    await until(() => (router.state.status === 'leading' ? true : undefined), 'the router to lead');
    // The platform only sends callIncoming to a bot with an open stream (§R6.1).
    await until(() => (emu.core.hub.isConnected(emu.bot.botId) ? true : undefined), 'the router stream');
  }, 30_000);

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await Promise.all(children.splice(0).map((c) => c.kill9()));
  });

  afterAll(async () => {
    await router?.close();
    await Promise.all(conns.map((c) => c.close()));
    await rest?.close();
    await emu?.close();
    await nats?.close();
  });

  it('two workers, one call: exactly one accepts, audio flows on its duplex socket, callEnded ends it there', async () => {
    const { sim, holder, other } = await answeredByOneOfTwo(['wa', 'wb']);
    // Exactly once: one Accept in the whole cluster, from the worker that took the lease.
    expect(holder.accepts).toEqual([sim.callId]);
    expect(other.accepts).toEqual([]);
    expect(other.has('taken', sim.callId)).toBe(false);
    expect(holder.w.calls).toEqual([sim.callId]);

    // The caller hears the worker's tone on the call's duplex socket.
    const listener = sim.caller.listen({ identity: emu.bot.userId });
    await until(
      () => (listener.frames.filter((f) => f.data.length > 3).length >= 25 ? true : undefined),
      'the caller to hear the tone',
    );
    listener.close();

    // The caller hangs up: the holder ends the call (target_left on its socket, or callEnded,
    // whichever comes first) and releases the lease.
    sim.hangUp();
    await until(() => (holder.has('ended', sim.callId) ? true : undefined), 'the holder to end the call');
    expect(['target-left', 'remote-ended']).toContain(holder.events.find((e) => e.event === 'ended')?.reason);
    expect(holder.w.calls).toEqual([]);
    const stores = await openStores(conns[0]!, emu.bot.botId);
    await until(async () => {
      const e = await stores.leases.get(callNames(emu.bot.botId).lease(sim.callId));
      return e?.operation !== 'PUT' ? true : undefined;
    }, 'the call lease to be released');
    // A released lease is not a dead worker's: nobody hung the ended call up again.
    expect(other.events.some((e) => e.event === 'orphanEnded')).toBe(false);
    expect(other.rejects).toEqual([]);
    expect([...holder.errors, ...other.errors]).toEqual([]);
  }, 40_000);

  it('a worker killed mid-call: another worker hangs the call up with Reject within the lease TTL', async () => {
    const { sim, holder, other } = await answeredByOneOfTwo(['wk1', 'wk2']);
    const listener = sim.caller.listen({ identity: emu.bot.userId });
    await until(() => (listener.frames.length >= 10 ? true : undefined), 'audio from the holder');
    listener.close();

    // kill -9: no Reject, no release; the audio socket dies with it, and so does its NATS
    // connection (nothing it had in flight reaches the server afterwards).
    holder.w.abandon();
    await holder.nc.close();
    // The survivor sees the lease overdue, probes the holder, and hangs up (Reject doubles as hang-up).
    await until(() => (other.has('orphanEnded', sim.callId) ? true : undefined), 'the survivor to hang up', TTL + 4000);
    expect(await sim.ended).toBe('hangup');
    // Found dead by the probe (its NATS connection is gone), not by waiting for the lease to expire.
    expect(other.events.find((e) => e.event === 'orphanEnded')).toMatchObject({
      deadHolder: holder.w.workerId,
      detectedBy: 'probe',
    });
    expect(other.rejects).toEqual([sim.callId]);
    expect(holder.rejects).toEqual([]);
    // The survivor never answered it.
    expect(other.accepts).toEqual([]);
  }, 40_000);

  it('close() hangs up the calls it holds (the caller is told) and releases their leases: nobody hangs up twice', async () => {
    const { sim, holder, other } = await answeredByOneOfTwo(['wc1', 'wc2']);
    await holder.w.close();
    expect(holder.w.state.status).toBe('closed');
    expect(await sim.ended).toBe('hangup');
    expect(holder.events.find((e) => e.event === 'ended')?.reason).toBe('shutdown');
    expect(holder.rejects).toEqual([sim.callId]);
    const stores = await openStores(conns[0]!, emu.bot.botId);
    const lease = await stores.leases.get(callNames(emu.bot.botId).lease(sim.callId));
    expect(lease?.operation === 'PUT').toBe(false);
    // The survivor keeps taking calls, and did not take the released lease for a dead worker's.
    const sim2 = call();
    await until(() => (other.has('answered', sim2.callId) ? true : undefined), 'the survivor to answer the next call');
    expect(other.rejects).toEqual([]);
    expect(other.events.some((e) => e.event === 'orphanEnded')).toBe(false);
    sim2.hangUp();
    await until(() => (other.has('ended', sim2.callId) ? true : undefined), 'the second call to end');
  }, 40_000);

  it('a worker at capacity hands the call back (nak) and another worker answers it', async () => {
    const full = await worker('wfull', { maxCalls: 1, load: () => 1 });
    const sim = call();
    // Alone in the cluster, the full worker keeps getting the call and handing it back.
    await until(
      () =>
        full.events.filter((e) => e.event === 'deferred' && e.callId === sim.callId).length >= 2 ? true : undefined,
      'the full worker to defer the call twice',
    );
    expect(sim.state).toBe('ringing');
    const room = await worker('wroom');
    await sim.accepted;
    await until(() => (room.has('answered', sim.callId) ? true : undefined), 'the worker with room to answer');
    expect(room.accepts).toEqual([sim.callId]);
    expect(full.accepts).toEqual([]);
    expect(full.has('taken', sim.callId)).toBe(false);
    const deliveries = full.events.filter((e) => e.event === 'deferred').map((e) => e.deliveries as number);
    expect(deliveries[1]!).toBeGreaterThan(deliveries[0]!);
    sim.hangUp();
    await until(() => (room.has('ended', sim.callId) ? true : undefined), 'the call to end');
  }, 40_000);

  it('a worker that dies before acknowledging a ringing call: JetStream redelivers it and another worker answers', async () => {
    const names = callNames(emu.bot.botId);
    const stream = `ARGON_EVENTS_${clusterKey()}`;
    const sim = call();
    // The "worker" that dies: it pulls the call from the shared consumer and never acknowledges it.
    const dying = await jetstream(conns[0]!).consumers.get(stream, names.consumer);
    const m = await until(async () => (await dying.next({ expires: 1000 })) ?? undefined, 'the call in the consumer');
    expect(parseCallIncoming(m.data).callId).toBe(sim.callId);
    expect(m.info.deliveryCount).toBe(1);
    const w = await worker('wredeliver');
    // It comes back after the ack wait (5 s) while the call still rings (45 s), and is answered.
    await sim.accepted;
    await until(() => (w.has('answered', sim.callId) ? true : undefined), 'the redelivered call to be answered');
    expect(w.accepts).toEqual([sim.callId]);
    sim.hangUp();
    await until(() => (w.has('ended', sim.callId) ? true : undefined), 'the call to end');
  }, 40_000);

  it('a call older than the ring is acknowledged and dropped, never answered', async () => {
    const names = callNames(emu.bot.botId);
    const stream = `ARGON_EVENTS_${clusterKey()}`;
    const jsm = await jetstreamManager(conns[0]!);
    const sim = call();
    // Wait until the router has published it and it is older than the worker's (short) ring.
    const publishedAt = await until(async () => {
      const last = await jsm.streams.getMessage(stream, { last_by_subj: names.incoming }).catch(() => null);
      return last && parseCallIncoming(last.data).callId === sim.callId ? last.time.getTime() : undefined;
    }, 'the call in the stream');
    await until(() => (Date.now() - publishedAt > 300 ? true : undefined), 'the call to be 300 ms old');
    const w = await worker('wlate', { ringMs: 200 });
    await until(async () => {
      const info = await jsm.consumers.info(stream, names.consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0 ? true : undefined;
    }, 'the consumer to be empty');
    expect(w.accepts).toEqual([]);
    expect(w.events.filter((e) => e.callId === sim.callId)).toEqual([]);
    expect(sim.state).toBe('ringing');
    sim.hangUp();
  }, 40_000);

  it('a malformed message on the callIncoming subject is ignored with a bad-message fault; calls still work', async () => {
    const w = await worker('wbad');
    const nc = conns[0]!;
    const js = jetstream(nc);
    const names = callNames(emu.bot.botId);
    await js.publish(names.incoming, bytes('{not json'));
    await js.publish(names.incoming, encode({ id: 'direct_x', type: 'callIncoming', data: { fromUserId: 'u' } }));
    await until(() => (w.errors.length >= 2 ? true : undefined), 'two faults');
    for (const e of w.errors) {
      expect(e).toBeInstanceOf(ClusterError);
      expect((e as ClusterError).reason).toBe('bad-message');
    }
    expect(w.w.state.status).toBe('running');
    const sim = call();
    await sim.accepted;
    await until(() => (w.has('answered', sim.callId) ? true : undefined), 'the next call to be answered');
    // The malformed messages were terminated, not left for redelivery.
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(`ARGON_EVENTS_${clusterKey()}`, names.consumer);
    expect(info.num_ack_pending).toBe(0);
    expect(w.errors).toHaveLength(2);
    sim.hangUp();
    await until(() => (w.has('ended', sim.callId) ? true : undefined), 'the call to end');
  }, 40_000);

  it('manual mode: the call rings until answered (or rejected) through ClusterCallClient', async () => {
    const w = await worker('wman', { manual: true });
    const client = new ClusterCallClient({ nats: conns[0]!, botId: emu.bot.botId });
    const sim = call();
    await until(() => (w.has('taken', sim.callId) ? true : undefined), 'the worker to take the call');
    expect(sim.state).toBe('ringing');
    expect(w.accepts).toEqual([]);
    const reply = await client.answer(sim.callId);
    expect(reply).toMatchObject({ ok: true, workerId: 'wman', callId: sim.callId, status: 'connected' });
    await sim.accepted;
    expect(w.accepts).toEqual([sim.callId]);
    // Once answered it no longer rings: a second answer finds nobody holding it ringing.
    await expect(client.answer(sim.callId, { timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'no-holder' });
    sim.hangUp();
    await until(() => (w.has('ended', sim.callId) ? true : undefined), 'the call to end');

    const sim2 = call();
    await until(() => (w.has('taken', sim2.callId) ? true : undefined), 'the worker to take the second call');
    const r = await client.reject(sim2.callId);
    expect(r.status).toBe('rejected');
    expect(await sim2.ended).toBe('rejected');
    expect(w.accepts).toEqual([sim.callId]);

    // The caller gives up while it rings: callEnded reaches the worker, which lets the call go.
    const sim3 = call();
    await until(() => (w.has('taken', sim3.callId) ? true : undefined), 'the worker to take the third call');
    sim3.hangUp();
    await until(() => (w.has('ended', sim3.callId) ? true : undefined), 'callEnded to reach the worker');
    expect(w.events.find((e) => e.event === 'ended' && e.callId === sim3.callId)?.reason).toBe('remote-ended');
    expect(w.w.calls).toEqual([]);
    expect(w.accepts).toEqual([sim.callId]);
    await expect(client.reject('no-such-call', { timeoutMs: 5000 })).rejects.toMatchObject({ reason: 'no-holder' });
  }, 40_000);

  it('argon-voice worker --answer: kill -9 of the worker on a call, the other worker hangs it up', async () => {
    const env = { ARGON_NATS_URL: nats.url, ARGON_TOKEN: emu.bot.token, ARGON_API_URL: emu.apiUrl };
    // A long recording keeps the echo call open until the kill.
    const args = (id: string) => [
      'worker',
      '--answer',
      '--id',
      id,
      '--lease-ttl',
      String(TTL),
      '--no-tts',
      '--record-seconds',
      '60',
    ];
    const c1 = spawnCli(args('c1'), env);
    const c2 = spawnCli(args('c2'), env);
    children.push(c1, c2);
    await c1.waitFor((e) => e.event === 'started', 'c1 to start');
    await c2.waitFor((e) => e.event === 'started', 'c2 to start');
    const sim = call();
    await sim.accepted;
    const listener = sim.caller.listen({ identity: emu.bot.userId });
    const answered = await until(
      () => [...c1.events, ...c2.events].find((e) => e.event === 'answered' && e.callId === sim.callId),
      'a worker process to answer',
    );
    const holder = answered.worker === 'c1' ? c1 : c2;
    const other = holder === c1 ? c2 : c1;
    expect(other.events.some((e) => e.event === 'answered' || e.event === 'callTaken')).toBe(false);
    // The echo flow's chime reaches the caller.
    await until(
      () => (listener.frames.filter((f) => f.data.length > 3).length >= 10 ? true : undefined),
      'the caller to hear the greeting',
    );
    listener.close();
    await holder.kill9();
    const hungUp = await other.waitFor(
      (e) => e.event === 'callOrphanEnded' && e.callId === sim.callId,
      "the other worker to hang up the dead worker's call",
      TTL + 6000,
    );
    expect(hungUp).toMatchObject({ deadHolder: answered.worker, detectedBy: 'probe' });
    expect(await sim.ended).toBe('hangup');
    // The bot token never appears in what the workers print.
    expect(JSON.stringify(other.events) + other.stderr()).not.toContain(emu.bot.token);
  }, 50_000);
});
