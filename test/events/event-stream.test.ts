import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError, ProtocolError, TimeoutError } from '../../src/errors.js';
import { DuplicateEventStreamError, EventStream, type EventStreamOptions } from '../../src/events/event-stream.js';
import { Intents } from '../../src/events/intents.js';
import type { ArgonEvent, MessageCreateEvent } from '../../src/events/types.js';
import { RestClient } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { json, type SeenRequest, type Stub, startStub, TestClock, TOKEN } from '../rest/stub.js';
import { until } from '../helpers/until.js';

const BIG = 2n ** 60n + 1n;
const SPACE = '11111111-2222-3333-4444-555555555555';
const READY = `event: ready\ndata: {"intents":12253,"spaces":[{"spaceId":"${SPACE}","grantedEntitlements":${2n ** 56n + 1n},"pendingApproval":false}]}\nid: ready\n\n`;
const msg = (id: string, messageId: bigint, text = 'hi') =>
  `event: messageCreate\ndata: {"spaceId":"${SPACE}","channelId":"c","message":{"messageId":${messageId},"replyId":null,"channelId":"c","spaceId":"${SPACE}","text":"${text}","entities":[],"timeSent":"2026-01-01T00:00:00Z","sender":{"userId":"u","username":"u","displayName":"U","avatarUrl":null,"flags":0,"locale":"en"},"controls":null,"reactions":null}}\nid: ${id}\n\n`;
const HEARTBEAT = 'event: heartbeat\ndata: {"timestamp":1000}\nid: 0\n\n';

interface Conn {
  req: SeenRequest;
  res: ServerResponse;
  write(text: string): void;
}

let stub: Stub | undefined;
let rest: RestClient | undefined;
let stream: EventStream | undefined;
afterEach(async () => {
  await stream?.close();
  await rest?.close();
  await stub?.close();
  stream = rest = stub = undefined;
});

async function setup(opts: Partial<EventStreamOptions> = {}, onConnect?: (c: Conn, n: number) => boolean) {
  const conns: Conn[] = [];
  const clock = new TestClock(0);
  stub = await startStub((req, res) => {
    if (req.path.endsWith('/IEvents/v1/Stream')) {
      const c: Conn = { req, res, write: (t) => res.write(t) };
      if (onConnect && !onConnect(c, conns.length)) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache,no-store' });
      res.flushHeaders();
      conns.push(c);
      return;
    }
    if (req.path.endsWith('/IMessages/v1/Send')) return json(res, 200, `{"messageId":${BIG}}`);
    json(res, 404, '');
  });
  rest = new RestClient({ token: TOKEN, baseUrl: stub.url, clock });
  stream = new EventStream({ rest, clock, random: () => 0, ...opts });
  return { conns, clock, stream, rest };
}

/** Advances fake time through backoff sleeps until connection `n` (1-based) is open. */
async function waitConn(conns: Conn[], clock: TestClock, s: EventStream, n: number) {
  for (let i = 0; i < 2000 && conns.length < n; i++) {
    if (s.state.status === 'reconnecting') clock.advanceToNext();
    await new Promise((r) => setTimeout(r, 2));
  }
  expect(conns.length).toBe(n);
  await until(() => s.state.status === 'open', 'open state');
}

describe('EventStream', () => {
  it('connects with Bot auth and intents, resolves start() with ready, delivers typed events to listeners and the iterator', async () => {
    const { conns, clock, stream } = await setup({ intents: Intents.Messages | Intents.Voice });
    const seen: MessageCreateEvent[] = [];
    stream.on('messageCreate', (data, ev) => {
      expect(ev.type).toBe('messageCreate');
      seen.push(data);
    });
    const ready = stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    const r = await ready;
    expect(r.spaces[0]!.grantedEntitlements).toBe(2n ** 56n + 1n);
    expect(conns[0]!.req.query.get('intents')).toBe(String(Intents.Messages | Intents.Voice));
    expect(conns[0]!.req.headers.authorization).toBe(`Bot ${TOKEN}`);
    expect(conns[0]!.req.headers.accept).toBe('text/event-stream');
    conns[0]!.write(msg(`${'ab'.repeat(16)}_1`, BIG));
    const it = stream[Symbol.asyncIterator]();
    const first = (await it.next()).value as ArgonEvent;
    expect(first.type).toBe('ready');
    const second = (await it.next()).value as ArgonEvent;
    expect(second.type).toBe('messageCreate');
    if (second.type === 'messageCreate') expect(second.data.message.messageId).toBe(BIG);
    expect(seen[0]!.message.messageId).toBe(BIG);
    expect(seen[0]!.message.sender.locale).toBe('en');
  });

  it('reconnects after the server drops the stream and keeps delivering; emits reconnect', async () => {
    const { conns, clock, stream } = await setup();
    const reasons: Error[] = [];
    stream.on('reconnect', ({ reason }) => reasons.push(reason));
    const texts: string[] = [];
    stream.on('messageCreate', (d) => texts.push(d.message.text));
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY + msg('s_1', 1n, 'one'));
    await until(() => texts.length === 1, 'first message');
    conns[0]!.res.end();
    await waitConn(conns, clock, stream, 2);
    conns[1]!.write(READY + msg('s_2', 2n, 'two'));
    await until(() => texts.length === 2, 'second message');
    expect(texts).toEqual(['one', 'two']);
    expect(stream.stats.reconnects).toBe(1);
    expect(reasons).toHaveLength(1);
  });

  it('reconnects after a reset (socket destroyed)', async () => {
    const { conns, clock, stream } = await setup();
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => stream.stats.events === 1, 'ready');
    conns[0]!.res.socket?.destroy();
    await waitConn(conns, clock, stream, 2);
    expect(stream.stats.connects).toBe(2);
  });

  it('watchdog: silence for heartbeatTimeoutMs (fake time) means dead → reconnect; heartbeats keep it alive', async () => {
    const { conns, clock, stream } = await setup({ heartbeatTimeoutMs: 60_000, zombieTimeoutMs: false });
    const errors: Error[] = [];
    stream.on('error', (e) => errors.push(e));
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => stream.stats.events === 1, 'ready');
    clock.advance(30_000);
    conns[0]!.write(HEARTBEAT); // the server heartbeats after 30 s idle
    await until(() => stream.stats.heartbeats === 1, 'heartbeat');
    clock.advance(59_999); // 89.999 s after ready, 59.999 s after the heartbeat: alive
    await new Promise((r) => setTimeout(r, 10));
    expect(stream.stats.watchdogReconnects).toBe(0);
    expect(conns).toHaveLength(1);
    clock.advance(1);
    await until(() => stream.state.status === 'reconnecting', 'reconnecting');
    expect(stream.stats.watchdogReconnects).toBe(1);
    expect(errors.some((e) => e instanceof TimeoutError)).toBe(true);
    await waitConn(conns, clock, stream, 2);
  });

  it('de-duplicates events replayed across a reconnect by id', async () => {
    const { conns, clock, stream } = await setup();
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY + msg('s_1', 1n) + msg('s_2', 2n));
    await until(() => stream.stats.events === 3, 'first batch');
    conns[0]!.res.end();
    await waitConn(conns, clock, stream, 2);
    conns[1]!.write(READY + msg('s_2', 2n) + msg('s_3', 3n));
    await until(() => stream.stats.events === 5, 'second batch');
    const ids: Array<string | undefined> = [];
    const it = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) ids.push(((await it.next()).value as ArgonEvent).id);
    expect(ids).toEqual(['ready', 's_1', 's_2', 'ready', 's_3']);
    expect(stream.stats.duplicates).toBe(1);
  });

  it('zombie: heartbeats but no expected events for zombieTimeoutMs → reconnect', async () => {
    const { conns, clock, stream } = await setup({ zombieTimeoutMs: 20_000 });
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => stream.stats.events === 1, 'ready');
    stream.expectActivity();
    clock.advance(10_000);
    conns[0]!.write(HEARTBEAT);
    await until(() => stream.stats.heartbeats === 1, 'heartbeat');
    clock.advance(9_999);
    await new Promise((r) => setTimeout(r, 10));
    expect(stream.stats.zombieReconnects).toBe(0);
    clock.advance(1);
    await until(() => stream.state.status === 'reconnecting', 'zombie reconnect');
    expect(stream.stats.zombieReconnects).toBe(1);
    await waitConn(conns, clock, stream, 2);
  });

  it('zombie: an event after an own Send clears the expectation (no reconnect)', async () => {
    const { conns, clock, stream, rest } = await setup({ zombieTimeoutMs: 20_000 });
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => stream.stats.events === 1, 'ready');
    await rest.messages.send({ channelId: 'c', text: 'echo me' }); // arms the expectation
    clock.advance(5_000);
    conns[0]!.write(msg('s_9', BIG, 'echo me'));
    await until(() => stream.stats.events === 2, 'echo');
    clock.advance(30_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(stream.stats.zombieReconnects).toBe(0);
    expect(conns).toHaveLength(1);
  });

  it('reconnect() drops the connection on demand', async () => {
    const { conns, clock, stream } = await setup();
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => stream.stats.events === 1, 'ready');
    stream.reconnect();
    await waitConn(conns, clock, stream, 2);
  });

  it('delivers malformed data as a ProtocolError error event and keeps streaming; unknown events go to unknownEvent', async () => {
    const { conns, clock, stream } = await setup();
    const errors: Error[] = [];
    const unknown: string[] = [];
    stream.on('error', (e) => errors.push(e));
    stream.on('unknownEvent', (e) => unknown.push(e.type));
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(
      `${READY}event: messageCreate\ndata: {not json\nid: s_1\n\nevent: futureThing\ndata: {}\nid: s_2\n\n${msg('s_3', 3n)}`,
    );
    await until(() => stream.stats.events === 2, 'events');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(unknown).toEqual(['futureThing']);
    expect(stream.state.status).toBe('open');
  });

  it('a 401 is fatal: start() rejects, the iterator throws, the stream is closed', async () => {
    const clock = new TestClock(0);
    stub = await startStub((_req, res) => json(res, 401, ''));
    rest = new RestClient({ token: TOKEN, baseUrl: stub.url, clock });
    stream = new EventStream({ rest, clock });
    const it = stream[Symbol.asyncIterator]();
    await expect(stream.start()).rejects.toBeInstanceOf(HttpError);
    await expect(it.next()).rejects.toBeInstanceOf(HttpError);
    expect(stream.state.status).toBe('closed');
    expect(stub.requests).toHaveLength(1);
  });

  it('guards against two streams for one bot in one process, until the first is closed', async () => {
    const { stream: first, rest } = await setup();
    expect(() => new EventStream({ rest })).toThrow(DuplicateEventStreamError);
    expect(() => new EventStream({ token: TOKEN, baseUrl: 'http://127.0.0.1:9' })).toThrow(DuplicateEventStreamError);
    await first.close();
    const second = new EventStream({ rest });
    expect(second.state.status).toBe('idle');
    await second.close();
  });

  it('close() is idempotent, ends for-await loops and frees the concurrency permit', async () => {
    const { conns, clock, stream, rest } = await setup();
    const got: string[] = [];
    const loop = (async () => {
      for await (const ev of stream) got.push(ev.type);
    })();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await until(() => got.length === 1, 'ready via iterator');
    expect(rest.core.limiter.inFlight).toBe(1); // the stream holds one of the 10
    await stream.close();
    await stream.close();
    await loop;
    expect(got).toEqual(['ready']);
    expect(stream.state.status).toBe('closed');
    await until(() => rest.core.limiter.inFlight === 0, 'permit released');
  });

  it('respects the IEvents 5 connects/min window across fast reconnects (sixth waits for fake time)', async () => {
    const at: number[] = [];
    const { conns, clock, stream } = await setup({}, () => {
      at.push(clock.now());
      return true;
    });
    void stream.start();
    for (let n = 1; n <= 6; n++) {
      for (let i = 0; i < 3000 && conns.length < n; i++) {
        // advance only through backoff sleeps and limiter waits, never over an in-flight connect
        if (stream.state.status === 'reconnecting' || stream.rest.core.limiter.waiting > 0) clock.advanceToNext();
        await new Promise((r) => setTimeout(r, 1));
      }
      expect(conns.length).toBe(n);
      conns[n - 1]!.write(READY);
      await until(() => stream.stats.events === n, `ready ${n}`);
      if (n < 6) conns[n - 1]!.res.end();
    }
    expect(at[4]! - at[0]!).toBeLessThan(60_000); // five went out quickly (backoff only)
    expect(at[5]! - at[0]!).toBeGreaterThanOrEqual(60_000); // the sixth waited for the window
    expect(stream.rest.stats.rateLimited).toBe(0);
  });

  it('shares one limiter between clients of the same token and clock (the server counts per bot)', async () => {
    const clock = new TestClock(0);
    const a = new RestClient({ token: TOKEN, baseUrl: 'http://127.0.0.1:9', clock });
    const b = new RestClient({ token: TOKEN, baseUrl: 'http://127.0.0.1:9', clock });
    const c = new RestClient({ token: `${TOKEN}x`, baseUrl: 'http://127.0.0.1:9', clock });
    expect(a.core.limiter).toBe(b.core.limiter);
    expect(a.core.limiter).not.toBe(c.core.limiter);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('leak: 20 start/close cycles release sockets, permits, timers and the one-stream guard', async () => {
    const clock = new TestClock(0);
    let open = 0;
    stub = await startStub((_req, res) => {
      open++;
      res.on('close', () => open--);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(READY);
    });
    // no window limits here: the cycle count, not the 5/min IEvents budget, is under test
    rest = new RestClient({ token: TOKEN, baseUrl: stub.url, clock, limiter: new RateLimiter({ clock, limits: {} }) });
    for (let i = 0; i < 20; i++) {
      const s = new EventStream({ rest, clock });
      await s.start();
      expect(rest.core.limiter.inFlight).toBe(1);
      await s.close();
      expect(s.state.status).toBe('closed');
      expect(rest.core.limiter.inFlight).toBe(0);
      expect(clock.pendingTimers).toBe(0);
    }
    await until(() => open === 0, 'server-side responses closed');
    expect(stub.requests).toHaveLength(20);
  });

  it('bounds the iterator buffer: oldest events are dropped and counted', async () => {
    const { conns, clock, stream } = await setup({ maxBufferedEvents: 3 });
    void stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY + msg('s_1', 1n) + msg('s_2', 2n) + msg('s_3', 3n) + msg('s_4', 4n));
    await until(() => stream.stats.events === 5, 'events');
    expect(stream.stats.dropped).toBe(2);
    const it = stream[Symbol.asyncIterator]();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(((await it.next()).value as ArgonEvent).id);
    expect(ids).toEqual(['s_2', 's_3', 's_4']);
  });

  it('close() while reconnecting stops the loop', async () => {
    const { conns, clock, stream } = await setup();
    void stream.start().catch(() => undefined);
    await waitConn(conns, clock, stream, 1);
    conns[0]!.res.end();
    await until(() => stream.state.status === 'reconnecting', 'reconnecting');
    await stream.close();
    clock.advance(120_000);
    await new Promise((r) => setTimeout(r, 10));
    expect(conns).toHaveLength(1);
  });
});

describe('EventStream: known events whose data is not a JSON object (regression)', () => {
  it('a ready with data null does not resolve start(); it is a ProtocolError and the real ready wins', async () => {
    const { conns, clock, stream } = await setup({ zombieTimeoutMs: false });
    const errors: Error[] = [];
    stream.on('error', (e) => errors.push(e));
    const ready = stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write('event: ready\ndata: null\nid: ready\n\n');
    conns[0]!.write(READY);
    const r = await ready;
    expect(r).toMatchObject({ intents: 12253 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ProtocolError);
    expect(errors[0]!.message).toMatch(/'ready' has data that is not a JSON object \(null\)/);
    expect(stream.stats.protocolErrors).toBe(1);
  });

  it('a messageCreate with array or scalar data is dropped without taking its id from the de-duplication', async () => {
    const { conns, clock, stream } = await setup({ zombieTimeoutMs: false });
    const errors: Error[] = [];
    const seen: unknown[] = [];
    stream.on('error', (e) => errors.push(e));
    stream.on('messageCreate', (data) => seen.push(data));
    const ready = stream.start();
    await waitConn(conns, clock, stream, 1);
    conns[0]!.write(READY);
    await ready;
    const id = `${'cd'.repeat(16)}_7`;
    conns[0]!.write(`event: messageCreate\ndata: [1,2]\nid: ${id}\n\n`);
    conns[0]!.write(`event: messageCreate\ndata: 42\nid: ${id}\n\n`);
    conns[0]!.write(msg(id, BIG));
    await until(() => seen.length === 1, 'the valid event');
    expect(errors.map((e) => e.constructor.name)).toEqual(['ProtocolError', 'ProtocolError']);
    expect(stream.stats.duplicates).toBe(0);
  });
});

describe('EventStream.start() deadline', () => {
  it('a server that never sends ready: start() rejects at its deadline, the stream keeps trying until close()', async () => {
    const { conns, clock, stream: s } = await setup({}, () => true);
    const started = s.start({ timeoutMs: 5_000 });
    await until(() => conns.length === 1, 'connected');
    clock.advance(4_999);
    let settled = false;
    started.catch(() => undefined).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(started).rejects.toBeInstanceOf(TimeoutError);
    expect(s.state.status).not.toBe('closed');
    // A later ready still reaches a new start() call.
    const again = s.start({ timeoutMs: 5_000 });
    conns[0]!.write(READY);
    await expect(again).resolves.toMatchObject({ intents: 12253 });
  });

  it('an aborted signal ends only the wait', async () => {
    const { stream: s } = await setup({}, () => true);
    const ac = new AbortController();
    const started = s.start({ signal: ac.signal });
    ac.abort();
    await expect(started).rejects.toMatchObject({ code: 'ARGON_VOICE_ABORTED' });
  });
});
