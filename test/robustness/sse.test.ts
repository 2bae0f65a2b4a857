/**
 * Hostile SSE server: garbage, oversized, non-UTF-8 and half-written events become typed `error`
 * events (ProtocolError), never a crash; a silent or dead stream is detected by the watchdog or the
 * connect deadline (short, configurable) and reconnected as documented; a fatal 4xx closes.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ArgonVoiceError,
  ClosedError,
  HttpError,
  ProtocolError,
  TimeoutError,
  TransportError,
} from '../../src/errors.js';
import { Bot } from '../../src/bot.js';
import { EventStream } from '../../src/events/event-stream.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { ManualClock } from '../../src/util/clock.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { type HostileServer, reply, startHostileHttp } from './helpers/hostile-http.js';
import { resourceCounts, settle, settleTo } from './helpers/resources.js';
import { expectErrorClean, TOKEN } from './helpers/token.js';

const READY = 'event: ready\ndata: {"intents":12253,"spaces":[]}\nid: ready\n\n';

function sseHead(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache,no-store' });
  res.flushHeaders();
}

let srv: HostileServer;
let rest: RestClient;
let stream: EventStream | undefined;
let trap: CrashTrap;
let errors: Error[];
let reconnects: Array<{ reason: Error; attempt: number }>;

function open(extra: Partial<ConstructorParameters<typeof EventStream>[0]> = {}): EventStream {
  const s = new EventStream({
    rest,
    zombieTimeoutMs: false,
    heartbeatTimeoutMs: 5_000,
    connectTimeoutMs: 5_000,
    reconnectBaseMs: 10,
    reconnectCapMs: 20,
    random: () => 0,
    ...extra,
  });
  s.on('error', (e) => errors.push(e));
  s.on('reconnect', (info) => reconnects.push(info));
  stream = s;
  return s;
}

/** Resolves when `cond()` holds, checked on each event of the stream (no wall clock). */
function when(s: EventStream, cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) {
        s.off('error', check);
        s.off('stateChange', check);
        s.off('unknownEvent', check);
        s.off('ready', check);
        resolve();
      }
    };
    s.on('error', check);
    s.on('stateChange', check);
    s.on('unknownEvent', check);
    s.on('ready', check);
    check();
  });
}

beforeEach(async () => {
  trap = trapCrashes();
  errors = [];
  reconnects = [];
  srv = await startHostileHttp((_q, res) => reply(res, 500, ''));
  rest = new RestClient({ token: TOKEN, baseUrl: srv.url, retries: 0, limiter: new RateLimiter({ limits: {} }) });
});

afterEach(async () => {
  await stream?.close();
  stream = undefined;
  await rest.close();
  await srv.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
  for (const e of errors) {
    expect(e).toBeInstanceOf(ArgonVoiceError);
    expectErrorClean(e);
  }
});

describe('EventStream against a hostile SSE server', () => {
  it('garbage lines, NUL bytes and HTML before ready → ProtocolError events; ready still arrives', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write('this is not a field\n\0\0\0\n<html><body>oops</body></html>\n\n');
      res.write(READY);
    });
    const s = open();
    const ready = await s.start();
    expect(ready.intents).toBe(12253);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.every((e) => e instanceof ProtocolError)).toBe(true);
    expect(s.stats.protocolErrors).toBe(errors.length);
    expect(s.state.status).toBe('open');
  });

  it('a 5 MiB data line → one ProtocolError (maxEventBytes), the event is dropped, the next one parses', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      res.write(`event: messageCreate\ndata: {"text":"${'A'.repeat(5 << 20)}"}\nid: s_1\n\n`);
      res.write('event: somethingNew\ndata: {"after":true}\nid: s_2\n\n');
    });
    const s = open();
    const seen: string[] = [];
    s.on('messageCreate', () => seen.push('messageCreate'));
    s.on('unknownEvent', (e) => seen.push(e.type));
    await s.start();
    await when(s, () => seen.includes('somethingNew'));
    expect(seen).toEqual(['somethingNew']);
    expect(errors.filter((e) => e instanceof ProtocolError && /maxEventBytes/.test(e.message))).toHaveLength(1);
  });

  it('invalid UTF-8 in a line → ProtocolError; the line is ignored', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      res.write(
        Buffer.concat([Buffer.from('event: x1\ndata: '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('\n\n')]),
      );
      res.write('event: x2\ndata: {}\n\n');
    });
    const s = open();
    const unknown: string[] = [];
    s.on('unknownEvent', (e) => unknown.push(e.type));
    await s.start();
    await when(s, () => unknown.includes('x2'));
    expect(errors.some((e) => e instanceof ProtocolError && /UTF-8/.test(e.message))).toBe(true);
  });

  it('unknown event names → unknownEvent with the parsed data, no error', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      res.write('event: quantumEntanglement\ndata: {"qubits":[1,2]}\nid: s_9\n\n');
    });
    const s = open();
    const unknown: Array<{ type: string; data: unknown }> = [];
    s.on('unknownEvent', (e) => unknown.push(e));
    await s.start();
    await when(s, () => unknown.length === 1);
    expect(unknown[0]).toMatchObject({ type: 'quantumEntanglement', data: { qubits: [1, 2] } });
    expect(errors).toEqual([]);
  });

  it('data: with invalid JSON or a raw NUL → ProtocolError; the event is not delivered', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      res.write('event: messageCreate\ndata: {"message": {"text": "hi"\nid: s_1\n\n');
      res.write('event: messageCreate\ndata: {"message":"\0"}\nid: s_2\n\n');
      res.write('event: voiceJoin\ndata: undefined\nid: s_3\n\n');
      res.write('event: marker\ndata: 1\n\n');
    });
    const s = open();
    let delivered = 0;
    s.on('messageCreate', () => delivered++);
    s.on('voiceJoin', () => delivered++);
    const markers: string[] = [];
    s.on('unknownEvent', (e) => markers.push(e.type));
    await s.start();
    await when(s, () => markers.includes('marker'));
    expect(delivered).toBe(0);
    const bad = errors.filter((e) => e instanceof ProtocolError && /malformed JSON/.test(e.message));
    expect(bad).toHaveLength(3);
  });

  it('a stream that ends mid-event → the partial event is discarded, reconnect with a TransportError', async () => {
    srv.handle((_q, res, { n }) => {
      sseHead(res);
      res.write(READY);
      if (n === 1) res.end('event: messageCreate\ndata: {"message":{"text":"half');
      else res.write('event: afterReconnect\ndata: {}\n\n');
    });
    const s = open();
    let partial = 0;
    s.on('messageCreate', () => partial++);
    const unknown: string[] = [];
    s.on('unknownEvent', (e) => unknown.push(e.type));
    await s.start();
    await when(s, () => unknown.includes('afterReconnect'));
    expect(partial).toBe(0);
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]!.reason).toBeInstanceOf(TransportError);
    expect(s.stats.connects).toBe(2);
  });

  it('a stream that sends headers and then nothing → watchdog TimeoutError, reconnect; start() settles on close()', async () => {
    srv.handle((_q, res) => sseHead(res));
    const s = open({ heartbeatTimeoutMs: 80 });
    const started = s.start().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await when(s, () => reconnects.length >= 2);
    expect(reconnects[0]!.reason).toBeInstanceOf(TimeoutError);
    expect(s.stats.watchdogReconnects).toBeGreaterThanOrEqual(2);
    await s.close();
    expect(await started).toBeInstanceOf(ClosedError);
    expect(s.state.status).toBe('closed');
  });

  it('watchdog on an injected clock: 59 999 ms of silence keeps the stream, 60 000 ms reconnects with a TimeoutError', async () => {
    const clock = new ManualClock(0);
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
    });
    const r = new RestClient({
      token: TOKEN,
      baseUrl: srv.url,
      retries: 0,
      clock,
      limiter: new RateLimiter({ limits: {}, clock }),
    });
    try {
      const s = open({ rest: r, clock, heartbeatTimeoutMs: 60_000 });
      await s.start();
      clock.advance(59_999);
      await settle();
      expect(reconnects).toEqual([]);
      expect(s.state.status).toBe('open');
      clock.advance(1);
      await when(s, () => reconnects.length === 1);
      expect(reconnects[0]!.reason).toBeInstanceOf(TimeoutError);
      expect(s.stats.watchdogReconnects).toBe(1);
      // Backoff with random() = 0: half of reconnectBaseMs (10) on the same clock.
      await when(s, () => s.state.status === 'reconnecting');
      clock.advance(5);
      await when(s, () => s.state.status === 'open' && s.state.ready !== undefined);
      expect(s.stats.connects).toBe(2);
      await s.close();
    } finally {
      await r.close();
    }
  });

  it('a server that never sends headers → connect deadline (TimeoutError), reconnect', async () => {
    srv.handle(() => undefined);
    const s = open({ connectTimeoutMs: 80 });
    void s.start().catch(() => undefined);
    await when(s, () => reconnects.length >= 1);
    expect(reconnects[0]!.reason).toBeInstanceOf(TimeoutError);
    expect(errors[0]).toBeInstanceOf(TimeoutError);
  });

  it('a connection reset mid-stream → TransportError, reconnect', async () => {
    srv.handle((_q, res, { n, socket }) => {
      sseHead(res);
      res.write(READY);
      if (n === 1) setImmediate(() => socket.resetAndDestroy());
      else res.write('event: back\ndata: {}\n\n');
    });
    const s = open();
    const unknown: string[] = [];
    s.on('unknownEvent', (e) => unknown.push(e.type));
    await s.start();
    await when(s, () => unknown.includes('back'));
    expect(reconnects[0]!.reason).toBeInstanceOf(TransportError);
  });

  it('a 200 text/html page instead of an event stream → ProtocolErrors and reconnects, never ready, no crash', async () => {
    srv.handle((_q, res) =>
      reply(res, 200, '<!doctype html>\n<html>\n<body>Please sign in</body>\n</html>\n', {
        'content-type': 'text/html',
      }),
    );
    const s = open();
    const started = s.start().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await when(s, () => reconnects.length >= 2);
    expect(errors.some((e) => e instanceof ProtocolError)).toBe(true);
    await s.close();
    expect(await started).toBeInstanceOf(ClosedError);
  });

  it('401 → fatal: start() rejects with HttpError 401, the stream closes, no reconnect', async () => {
    srv.handle((_q, res) => reply(res, 401, '{"error":"unauthorized","message":"Invalid bot token."}'));
    const s = open();
    const err = await s.start().then(
      () => expect.fail('start() resolved'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(401);
    expectErrorClean(err);
    expect(s.state.status).toBe('closed');
    expect(reconnects).toEqual([]);
    await s.close();
    await s.close();
  });

  it('bug: a ready event whose data is JSON null resolves start() with null instead of a ProtocolError', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write('event: ready\ndata: null\nid: ready\n\n');
      res.write(READY);
    });
    const s = open();
    const ready = await s.start();
    // start() is typed Promise<ReadyEvent>: a null payload is a malformed server message (§R5.4).
    expect(ready, 'start() resolved with a non-object ready payload').toBeTypeOf('object');
    expect(ready).not.toBeNull();
    expect(errors.some((e) => e instanceof ProtocolError)).toBe(true);
  });

  it('a flood of 3 000 events with nobody reading: the iterator buffer stays bounded, drops are counted', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      let body = '';
      for (let i = 0; i < 3000; i++) body += `event: typingStart\ndata: {"n":${i}}\nid: s_${i}\n\n`;
      res.write(`${body}event: tail\ndata: {}\n\n`);
    });
    const s = open({ maxBufferedEvents: 100 });
    const unknown: string[] = [];
    s.on('unknownEvent', (e) => unknown.push(e.type));
    await s.start();
    await when(s, () => unknown.includes('tail'));
    // ready + 3000 events were buffered for the iterator: at most 100 kept.
    expect(s.stats.dropped).toBe(3001 - 100);
    const first = await s[Symbol.asyncIterator]().next();
    expect(first.done).toBe(false);
  });

  it('Bot.connect against an event stream that never sends ready → TimeoutError at timeoutMs, nothing left open', async () => {
    srv.handle((req, res) => {
      const url = req.url ?? '';
      if (url.includes('GetMe')) return reply(res, 200, '{"botId":"b","userId":"u","username":"x"}');
      if (url.includes('GetSpaces')) return reply(res, 200, '{"spaces":[]}');
      sseHead(res); // and then silence
    });
    const before = resourceCounts();
    const err = await Bot.connect({
      token: TOKEN,
      baseUrl: srv.url,
      timeoutMs: 150,
      zombieTimeoutMs: false,
      rest: { limiter: new RateLimiter({ limits: {} }), retries: 0 },
    }).then(
      () => expect.fail('Bot.connect resolved'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expectErrorClean(err);
    const left = await settleTo(before);
    // The hostile server may keep its own idle keep-alive sockets; the client must hold no timer.
    expect(left.Timeout ?? 0, JSON.stringify(left)).toBe(0);
  });

  it('a listener that throws does not stop the stream', async () => {
    srv.handle((_q, res) => {
      sseHead(res);
      res.write(READY);
      res.write('event: typingStart\ndata: {}\nid: s_1\n\nevent: tail\ndata: {}\n\n');
    });
    const s = open();
    s.on('typingStart', () => {
      throw new Error('user bug');
    });
    const unknown: string[] = [];
    s.on('unknownEvent', (e) => unknown.push(e.type));
    await s.start();
    await when(s, () => unknown.includes('tail'));
    expect(s.state.status).toBe('open');
    await settle(); // process.emitWarning delivers on the next tick
    expect(trap.warnings.some((w) => /listener threw/.test(w.message))).toBe(true);
  });
});
