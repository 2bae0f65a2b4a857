/**
 * Hostile audio gateway: malformed status messages, stray binary frames, abnormal close codes and
 * stalled upgrades give typed errors or documented states on VoiceConnection (/audio/connect) and
 * VoiceSubscriber (/audio/subscribe); nothing crashes; after close() no timer or socket is left.
 */
import { EventEmitter } from 'node:events';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ArgonVoiceError, ClosedError, TimeoutError, TransportError } from '../../src/errors.js';
import { PacerThread } from '../../src/pacing/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { VoiceConnection, type VoiceConnectionState } from '../../src/voice/connection.js';
import { DuplexSession } from '../../src/voice/duplex.js';
import { VoiceReceiver } from '../../src/voice/receiver.js';
import { VoiceSubscriber, type VoiceSubscriberState } from '../../src/voice/subscriber.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { hostilePackets, prng, randomBytes } from './helpers/fuzz.js';
import { type HostileGateway, rawFrame, startHostileGateway } from './helpers/hostile-gateway.js';
import { resourceCounts, settleTo } from './helpers/resources.js';
import { expectErrorClean, JWT } from './helpers/token.js';

const READY = JSON.stringify({ status: 'ready', session_id: 'AWS_robustness1' });

let gw: HostileGateway;
let trap: CrashTrap;
let seq = 0;
const conns: Array<VoiceConnection | DuplexSession> = [];
const subs: VoiceSubscriber[] = [];

/** A REST stub whose StreamToken hands out the hostile gateway as `ingressUrl`. */
function restStub() {
  return {
    voice: {
      streamToken: async () => ({ token: JWT, ingressUrl: gw.url, roomName: 'space/channel' }),
    },
    voiceEgress: {
      subscribeTrack: async () => ({ token: JWT, wsUrl: 'wss://sfu.invalid', roomName: 'r', trackId: 'r:user-1' }),
      unsubscribeTrack: async () => ({ deleted: true }),
    },
  };
}

function connect(extra: Partial<ConstructorParameters<typeof VoiceConnection>[0]> = {}): VoiceConnection {
  seq++;
  const c = new VoiceConnection({
    rest: restStub(),
    spaceId: `space-${seq}`,
    channelId: `channel-${seq}`,
    reconnect: false,
    pingIntervalMs: 0,
    keepalive: false,
    prerollMs: 0,
    timeouts: { tokenMs: 5_000, connectMs: 5_000, readyMs: 5_000 },
    // A pacer thread per connection: the shared one delivers a closed stream's late socket events
    // to the next stream that reuses its id (pinned separately below), which would make these
    // tests fail for the wrong reason.
    pacer: { thread: new PacerThread({ realtimePriority: false }) },
    ...extra,
  });
  conns.push(c);
  return c;
}

function subscribe(extra: Partial<ConstructorParameters<typeof VoiceSubscriber>[0]> = {}): VoiceSubscriber {
  const s = new VoiceSubscriber({
    rest: restStub(),
    spaceId: 'space',
    channelId: 'channel',
    userId: 'user-1',
    maxAttempts: 0,
    timeouts: { tokenMs: 5_000, connectMs: 5_000, firstStatusMs: 5_000, unsubscribeMs: 1_000 },
    backoff: { baseMs: 5, capMs: 10 },
    random: () => 0,
    ...extra,
  });
  subs.push(s);
  return s;
}

/** Resolves with the closed state (VoiceConnection exposes waitFor; closed is terminal). */
function closedState(
  c: VoiceConnection | VoiceSubscriber | DuplexSession,
): Promise<{ status: 'closed'; reason?: Error | undefined }> {
  return new Promise((resolve) => {
    const check = () => {
      const st = c.state as VoiceConnectionState | VoiceSubscriberState;
      if (st.status === 'closed') {
        (c as VoiceConnection).off('stateChange', check);
        resolve(st);
      }
    };
    (c as VoiceConnection).on('stateChange', check);
    check();
  });
}

/** Sends `msgs` as text, then `ready`, on each connection. */
function textThenReady(msgs: Array<string | Buffer>, binary = false) {
  return {
    kind: 'ws' as const,
    onConnection: (ws: WebSocket) => {
      for (const m of msgs) ws.send(m, { binary });
      ws.send(READY);
    },
  };
}

/** Polls `cond` once per 1 ms timer turn, at most `turns` times (bounded in turns, not asserted as a duration). */
async function untilTurns(cond: () => boolean, turns = 2000): Promise<boolean> {
  for (let i = 0; i < turns; i++) {
    if (cond()) return true;
    await new Promise<void>((r) => setTimeout(r, 1));
  }
  return cond();
}

/** True once every server-side socket of `g` closed, i.e. the client closed its end. */
function clientLetGo(g: HostileGateway): Promise<boolean> {
  return untilTurns(() => g.sockets.size === 0);
}

beforeEach(async () => {
  trap = trapCrashes();
  gw = await startHostileGateway({ kind: 'ws', onConnection: (ws) => ws.send(READY) });
});

afterEach(async () => {
  for (const c of conns.splice(0)) await c.close();
  for (const s of subs.splice(0)) await s.close();
  await gw.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

describe('VoiceConnection (/audio/connect) against a hostile gateway', () => {
  it('text that is not JSON, JSON without status/type, JSON null/array/number and unknown statuses are ignored; ready still counts', async () => {
    gw.mode(
      textThenReady([
        'hello there',
        '{"status":',
        'null',
        '[]',
        '42',
        '"ready"',
        '{"session_id":"AWS_x"}',
        '{"status":"subscribed","track_sid":"TR_1"}',
        '{"status":"quantum","session_id":"AWS_y"}',
        '{"status":{"nested":true}}',
        `{"status":"waiting","padding":"${'x'.repeat(60_000)}"}`,
      ]),
    );
    const c = connect();
    await c.ready({ timeoutMs: 10_000 });
    expect(c.state).toMatchObject({ status: 'ready', sessionId: 'AWS_robustness1' });
  });

  it('the legacy `type` key works and a binary frame on /audio/connect is ignored', async () => {
    gw.mode(textThenReady([Buffer.from([1, 2, 3]), Buffer.alloc(0), Buffer.alloc(70_000)], true));
    const c = connect();
    await c.ready({ timeoutMs: 10_000 });
    expect(c.state.status).toBe('ready');
  });

  it('an `error` status → closed with a TransportError carrying the gateway message', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send(JSON.stringify({ status: 'error', message: 'failed to create session: could not join room' }));
        ws.terminate();
      },
    });
    const c = connect();
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(TransportError);
    expect(st.reason!.message).toMatch(/could not join room/);
    expectErrorClean(st.reason);
  });

  it('an `error` status whose message is not a string still gives a TransportError', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send('{"status":"error","message":{"deep":[1,2,3]}}');
      },
    });
    const c = connect();
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(ArgonVoiceError);
  });

  for (const [code, how] of [
    [1006, 'drops the TCP connection'],
    [1009, 'sends Close 1009'],
    [1002, 'sends Close 1002'],
  ] as const) {
    it(`a gateway that ${how} after ready → closed with TransportError closeCode ${code}`, async () => {
      gw.mode({
        kind: 'ws',
        onConnection: (ws) => {
          ws.send(READY);
          setImmediate(() => (code === 1006 ? ws.terminate() : ws.close(code)));
        },
      });
      const c = connect();
      const st = await closedState(c);
      expect(st.reason).toBeInstanceOf(TransportError);
      expect((st.reason as TransportError).closeCode).toBe(code);
    });
  }

  it('a frame with a reserved opcode from the gateway (protocol violation) → closed with a TransportError', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send(READY);
        // Reaching the raw socket is the point of this test: ws never sends an invalid frame itself.
        setImmediate(() => (ws as unknown as { _socket: Socket })._socket.write(rawFrame(0x3)));
      },
    });
    const c = connect();
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(TransportError);
    expect([1002, 1006]).toContain((st.reason as TransportError).closeCode);
  });

  it('a gateway that never sends ready → TimeoutError at readyMs, closed', async () => {
    gw.mode({ kind: 'ws', onConnection: () => undefined });
    const c = connect({ timeouts: { readyMs: 100 } });
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(TimeoutError);
    expect((st.reason as TimeoutError).timeoutMs).toBe(100);
  });

  it('a gateway that never answers the upgrade → closed at the connect deadline with a typed error', async () => {
    gw.mode({ kind: 'no-answer' });
    const c = connect({ timeouts: { connectMs: 100 } });
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(ArgonVoiceError);
    expect(['ARGON_VOICE_TIMEOUT', 'ARGON_VOICE_TRANSPORT']).toContain((st.reason as ArgonVoiceError).code);
  });

  it('a gateway that answers 101 and then stalls → TimeoutError at readyMs; after close() the client let go of the socket', async () => {
    gw.mode({ kind: 'stall-after-101' });
    const c = connect({ timeouts: { readyMs: 100 } });
    const st = await closedState(c);
    expect(st.reason).toBeInstanceOf(TimeoutError);
    await c.close();
    await c.close();
    expect(await clientLetGo(gw), 'the gateway still holds a TCP connection from the closed client').toBe(true);
  });

  it('close() after ready on a gateway that stops answering (no Close echo) is bounded and lets go of the socket', async () => {
    gw.mode({ kind: 'stall-after-101', first: rawFrame(0x1, Buffer.from(READY)) });
    const c = connect();
    await c.ready({ timeoutMs: 10_000 });
    await c.close();
    await c.close();
    expect(c.state.status).toBe('closed');
    expect(await clientLetGo(gw), 'the gateway still holds a TCP connection from the closed client').toBe(true);
  });

  it('close() while waiting for ready → closed, waiters get ClosedError, close() twice is harmless', async () => {
    gw.mode({ kind: 'ws', onConnection: () => undefined });
    const c = connect();
    await c.waitFor('waiting-ready', { timeoutMs: 10_000 });
    const waiting = c.ready().then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await Promise.all([c.close(), c.close()]);
    expect(await waiting).toBeInstanceOf(ClosedError);
    expect(c.state.status).toBe('closed');
    await expect(c.sendFrame(Uint8Array.from([0xf8, 0xff, 0xfe]))).rejects.toBeInstanceOf(ClosedError);
  });

  it('an upgrade refused with an HTML 401 page → fatal TransportError with status 401, token not shown', async () => {
    const refuse = createServer((_q, res) =>
      res.writeHead(401, { 'content-type': 'text/html' }).end(`<h1>401</h1>${JWT}`),
    );
    refuse.on('upgrade', (_q, socket) => {
      socket.end(
        `HTTP/1.1 401 Unauthorized\r\nContent-Type: text/html\r\nContent-Length: ${13 + JWT.length}\r\n\r\n<h1>401</h1>${JWT}`,
      );
    });
    await new Promise<void>((r) => refuse.listen(0, '127.0.0.1', r));
    try {
      const addr = refuse.address() as { port: number };
      const c = connect({ gatewayUrl: `ws://127.0.0.1:${addr.port}` });
      const st = await closedState(c);
      expect(st.reason).toBeInstanceOf(TransportError);
      expect((st.reason as TransportError).status).toBe(401);
      expectErrorClean(st.reason);
    } finally {
      refuse.closeAllConnections();
      await new Promise<void>((r) => refuse.close(() => r()));
    }
  });
});

describe('malformed token grants (a StreamToken/SubscribeTrack body of the wrong shape)', () => {
  const shapes: Array<[string, unknown]> = [
    ['null', null],
    ['{}', {}],
    ['token is a number', { token: 5, ingressUrl: 'ws://127.0.0.1:9' }],
    ['ingressUrl is ftp', { token: JWT, ingressUrl: 'ftp://127.0.0.1:9' }],
    ['ingressUrl is not a URL', { token: JWT, ingressUrl: 'not a url' }],
  ];
  for (const [name, body] of shapes) {
    it(`VoiceConnection: StreamToken answers ${name} → closed with a typed error`, async () => {
      const c = connect({ rest: { voice: { streamToken: async () => body as never } } });
      const st = await closedState(c);
      expect(st.reason, String(st.reason)).toBeInstanceOf(ArgonVoiceError);
      expectErrorClean(st.reason);
    });
  }
  it('bug: SubscribeTrack answering null closes the subscriber with a plain TypeError, not an ArgonVoiceError', async () => {
    // src/voice/subscriber.ts #attempt(): `registerSecret(grant.token)` on a null grant throws a
    // TypeError, which #run() keeps as the close reason (asError) instead of a ProtocolError.
    const s = subscribe({
      gatewayUrl: gw.url,
      rest: { voiceEgress: { subscribeTrack: async () => null as never, unsubscribeTrack: async () => ({}) } },
    });
    const st = await closedState(s);
    expect(st.reason, String(st.reason)).toBeInstanceOf(ArgonVoiceError);
  });
  for (const [name, body] of shapes.slice(1, 3)) {
    it(`VoiceSubscriber: SubscribeTrack answers ${name} → closed with a typed error`, async () => {
      const s = subscribe({
        timeouts: { firstStatusMs: 100 },
        gatewayUrl: gw.url,
        rest: {
          voiceEgress: { subscribeTrack: async () => body as never, unsubscribeTrack: async () => ({}) },
        },
      });
      const st = await closedState(s);
      expect(st.reason, String(st.reason)).toBeInstanceOf(ArgonVoiceError);
    });
  }
});

describe('VoiceConnection on the main-thread pacer', () => {
  it('after close() against a gateway that never sends ready, no timer and no socket of the connection is left', async () => {
    const before = resourceCounts();
    gw.mode({ kind: 'ws', onConnection: () => undefined });
    const c = connect({ pacer: { mode: 'main' }, pingIntervalMs: 5_000 });
    await c.waitFor('waiting-ready', { timeoutMs: 10_000 });
    await c.close();
    await c.close();
    const left = await settleTo(before);
    expect(left, 'resources still active after close()').toEqual({});
  });
});

describe('DuplexSession (/audio/duplex) against a hostile gateway', () => {
  function duplex(extra: Partial<ConstructorParameters<typeof DuplexSession>[0]> = {}): DuplexSession {
    const d = new DuplexSession({
      grantProvider: async () => ({ token: JWT, audioBaseUrl: gw.url, callerId: 'caller-1' }),
      reconnect: false,
      pingIntervalMs: 0,
      keepalive: false,
      prerollMs: 0,
      pacer: { thread: new PacerThread({ realtimePriority: false }) },
      ...extra,
    });
    conns.push(d);
    return d;
  }

  it('frames and malformed status messages before ready, odd field types, target_left: no crash, stays ready', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send(Buffer.alloc(0), { binary: true });
        ws.send(Buffer.alloc(60_000, 0xfc), { binary: true });
        ws.send(Buffer.from([0xf8, 0xff, 0xfe]), { binary: true });
        for (const t of [
          'null',
          'nope',
          '{"status":"subscribed","track_sid":7,"participant_identity":null}',
          '{"type":"target_left"}',
          '[]',
        ])
          ws.send(t);
        ws.send(READY);
        ws.send('{"status":"target_left","participant_identity":"caller-1"}');
        ws.send(Buffer.from([0xf8, 0xff, 0xfe]), { binary: true });
      },
    });
    const d = duplex();
    const subscribed: Array<{ trackSid: string; participantIdentity: string }> = [];
    d.on('subscribed', (i) => subscribed.push(i));
    let frames = 0;
    let lastSize = -1;
    const gotLast = new Promise<void>((resolve) =>
      d.on('frame', (p) => {
        frames++;
        lastSize = p.length;
        if (frames >= 3 && d.state.status === 'ready' && p.length === 3) resolve();
      }),
    );
    await d.ready({ timeoutMs: 10_000 });
    await gotLast;
    expect(d.state.status).toBe('ready');
    expect(lastSize).toBe(3);
    expect(subscribed).toEqual([{ trackSid: '', participantIdentity: '' }]);
  });

  it('a drop (1006) after ready with reconnect off → closed with a TransportError', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send(READY);
        setImmediate(() => ws.terminate());
      },
    });
    const d = duplex();
    const st = await closedState(d);
    expect(st.reason).toBeInstanceOf(TransportError);
    expect((st.reason as TransportError).closeCode).toBe(1006);
  });

  it('a grant without callerId → closed with a typed error, no socket opened', async () => {
    const d = duplex({ grantProvider: async () => ({ token: JWT, audioBaseUrl: gw.url, callerId: '' }) });
    const st = await closedState(d);
    expect(st.reason).toBeInstanceOf(ArgonVoiceError);
    expect(gw.upgrades).toHaveLength(0);
  });
});

describe('VoiceReceiver fed hostile egress frames', () => {
  it('0-byte, 1-byte, 70 KB and random frames in pcm mode: no crash, invalid ones counted, playout continues', async () => {
    const clock = new ManualClock(0);
    const receiver = new VoiceReceiver({ clock });
    const source = new EventEmitter() as EventEmitter & { close(): Promise<void> };
    source.close = async () => undefined;
    const stream = receiver.attach('user-1', source as never, { mode: 'pcm' });
    const rand = prng(42);
    const frames = [...hostilePackets(rand)];
    for (let i = 0; i < 30; i++) frames.push(randomBytes(rand, 1 + Math.floor(rand() * 400)));
    const silence = Uint8Array.from([0xf8, 0xff, 0xfe]);
    let t = 0;
    for (const f of frames) {
      source.emit('frame', f, t);
      source.emit('frame', silence, t);
      t += 20;
      clock.advance(20);
    }
    for (let i = 0; i < 20; i++) clock.advance(20);
    const got: unknown[] = [];
    const it = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) {
      const r = await it.next();
      if (r.done) break;
      got.push(r.value);
    }
    expect(got.length).toBe(10);
    expect(stream.jitter.metrics.invalidPackets).toBeGreaterThan(0);
    await stream.close();
    await receiver.close();
    await receiver.close();
  });
});

describe('the shared pacer thread', () => {
  it('bug: a VoiceConnection opened right after another one closed gets the old socket\'s close (pacer stream id reused) and fails with "closed while connecting (1006)"', async () => {
    // src/pacing/pacer.ts PacerThread: remove(id) frees the id at once and the worker posts the removed
    // link's close (SocketLink.close(…, true) → #finish) after the id was handed to the next stream;
    // the 'sock' message is dispatched by id alone (this.#clients.get(m.id)), so the new stream gets it.
    const good = await startHostileGateway({ kind: 'ws', onConnection: (ws) => ws.send(READY) });
    try {
      for (let round = 0; round < 3; round++) {
        gw.mode({ kind: 'no-answer' });
        seq++;
        const old = new VoiceConnection({
          rest: restStub(),
          spaceId: `space-${seq}`,
          channelId: `channel-${seq}`,
          reconnect: false,
          pingIntervalMs: 0,
        });
        await old.waitFor('connecting', { timeoutMs: 10_000 });
        // the old socket must be mid-upgrade when it closes, or the round proves nothing
        expect(await untilTurns(() => gw.upgrades.length > round)).toBe(true);
        await old.close();
        seq++;
        const fresh = new VoiceConnection({
          tokenProvider: async () => ({ token: JWT, ingressUrl: good.url }),
          spaceId: `space-${seq}`,
          channelId: `channel-${seq}`,
          reconnect: false,
          pingIntervalMs: 0,
          keepalive: false,
        });
        conns.push(fresh);
        const outcome = await Promise.race([
          fresh.ready({ timeoutMs: 10_000 }).then(() => 'ready'),
          closedState(fresh).then((st) => `closed: ${st.reason?.message}`),
        ]);
        expect(outcome, `round ${round}`).toBe('ready');
        await fresh.close();
      }
    } finally {
      await good.close();
    }
  });
});

describe('VoiceSubscriber (/audio/subscribe) against a hostile gateway', () => {
  it('text that is not JSON → ProtocolError event; JSON without status and unknown statuses are ignored', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send('not json at all');
        ws.send('{"session_id":"AWS_1"}');
        ws.send('{"status":"quantum"}');
        ws.send('{"type":"waiting","session_id":"AWS_1"}');
      },
    });
    const s = subscribe();
    const errors: Error[] = [];
    s.on('error', (e) => errors.push(e));
    await s.waitFor('waiting', { timeoutMs: 10_000 });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ArgonVoiceError);
    expect((errors[0] as ArgonVoiceError).code).toBe('ARGON_VOICE_PROTOCOL');
  });

  it('bug: a text message `null` from the gateway throws inside the ws message handler (uncaught TypeError)', async () => {
    // src/voice/subscriber.ts: `JSON.parse('null')` is null, then `msg.status` throws.
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send('null');
        ws.send('{"status":"waiting","session_id":"AWS_1"}');
      },
    });
    const s = subscribe();
    await s.waitFor('waiting', { timeoutMs: 10_000 }).catch(() => undefined);
    expect(trap.uncaught, describeTrap(trap)).toEqual([]);
    expect(s.state.status).toBe('waiting');
  });

  it('an `error` status → ProtocolError, the subscriber reconnects and then closes when attempts run out', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => ws.send('{"status":"error","message":"failed to create subscriber: boom"}'),
    });
    const s = subscribe({ maxAttempts: 1 });
    const st = await closedState(s);
    expect(st.reason).toBeInstanceOf(ArgonVoiceError);
    expect(st.reason!.message).toMatch(/boom/);
    expect(gw.upgrades.length).toBe(2);
  });

  it('0-byte and 70 KB binary frames do not crash the subscriber; it stays subscribed', async () => {
    gw.mode({
      kind: 'ws',
      onConnection: (ws) => {
        ws.send('{"status":"subscribed","session_id":"AWS_1","track_sid":"TR_1"}');
        ws.send(Buffer.alloc(0), { binary: true });
        ws.send(Buffer.alloc(70 * 1024, 0xfc), { binary: true });
        ws.send(Buffer.from([0xf8, 0xff, 0xfe]), { binary: true });
      },
    });
    const s = subscribe();
    const sizes: number[] = [];
    await new Promise<void>((resolve) => {
      s.on('frame', (p) => {
        sizes.push(p.length);
        if (p.length === 3) resolve();
      });
    });
    expect(sizes.at(-1)).toBe(3);
    expect(s.state.status).toBe('subscribed');
  });

  for (const [code, how] of [
    [1006, 'drops the TCP connection'],
    [1009, 'sends Close 1009'],
    [1002, 'sends Close 1002'],
  ] as const) {
    it(`a gateway that ${how} → TransportError closeCode ${code}, closed after the last attempt`, async () => {
      gw.mode({
        kind: 'ws',
        onConnection: (ws) => {
          ws.send('{"status":"waiting","session_id":"AWS_1"}');
          setImmediate(() => (code === 1006 ? ws.terminate() : ws.close(code)));
        },
      });
      const s = subscribe();
      const st = await closedState(s);
      expect(st.reason).toBeInstanceOf(TransportError);
      expect((st.reason as TransportError).closeCode).toBe(code);
    });
  }

  it('a gateway that never sends a status → TimeoutError at firstStatusMs', async () => {
    gw.mode({ kind: 'ws', onConnection: () => undefined });
    const s = subscribe({ timeouts: { firstStatusMs: 100 } });
    const st = await closedState(s);
    expect(st.reason).toBeInstanceOf(TimeoutError);
  });

  it('a gateway that never answers the upgrade → TimeoutError at connectMs', async () => {
    gw.mode({ kind: 'no-answer' });
    const s = subscribe({ timeouts: { connectMs: 100 } });
    const st = await closedState(s);
    expect(st.reason).toBeInstanceOf(ArgonVoiceError);
  });

  it('bug: close() on a subscriber whose gateway stalls after 101 keeps the TCP connection open (ws 30 s close timeout)', async () => {
    // src/voice/subscriber.ts #socket finish()/#close(): ws.close(1000) then nothing; ws waits up to
    // 30 s for the peer's Close frame and close() resolves without bounding or terminating it.
    gw.mode({ kind: 'stall-after-101' });
    const s = subscribe({ timeouts: { firstStatusMs: 60_000 } });
    await s.waitFor('connecting', { timeoutMs: 10_000 });
    await untilTurns(() => gw.sockets.size > 0);
    // The upgrade response is on its way; give the client a chance to process it.
    await untilTurns(() => false, 50);
    await s.close();
    await s.close();
    expect(s.state.status).toBe('closed');
    expect(await clientLetGo(gw), 'the gateway still holds a TCP connection from the closed subscriber').toBe(true);
  });
});
