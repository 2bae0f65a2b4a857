import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { connect as netConnect } from 'node:net';
import { SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { ManualClock } from '../../src/util/clock.js';
import {
  AudioGateway,
  type GatewayTimings,
  mintLiveKitToken,
  type SessionCloseReason,
  verifyLiveKitToken,
} from '../../src/emulator/audio/index.js';

const API_KEY = 'APItestkey';
const API_SECRET = 'test-secret-that-is-long-enough-for-hs256';
const ROOM = 'space-1/voice-1';
const FAST: Partial<GatewayTimings> = {
  joinDelayMs: 5,
  pingIntervalMs: 60_000,
  pongWaitMs: 120_000,
  mediaWatchdogMs: 0,
};

type Ev =
  | { kind: 'text'; json: Record<string, unknown> }
  | { kind: 'binary'; data: Uint8Array }
  | { kind: 'close'; code: number; reason: string };

/** A plain `ws` client that records everything in order. */
class Client {
  readonly events: Ev[] = [];
  pings = 0;
  readonly #waiters: Array<() => void> = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d, bin) => {
      if (bin) this.#push({ kind: 'binary', data: new Uint8Array(d as Buffer) });
      else this.#push({ kind: 'text', json: JSON.parse(String(d)) });
    });
    ws.on('ping', () => {
      this.pings++;
      this.#poke();
    });
    ws.on('close', (code, reason) => this.#push({ kind: 'close', code, reason: reason.toString() }));
    ws.on('error', () => undefined);
  }
  #push(e: Ev): void {
    this.events.push(e);
    this.#poke();
  }
  #poke(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
  /** Resolves when `pred` holds (re-checked on every event and ping, and every few ms for gateway state). */
  async until(pred: () => boolean): Promise<void> {
    while (!pred()) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 5);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  texts(): Record<string, unknown>[] {
    return this.events.flatMap((e) => (e.kind === 'text' ? [e.json] : []));
  }
  binaries(): Uint8Array[] {
    return this.events.flatMap((e) => (e.kind === 'binary' ? [e.data] : []));
  }
  statuses(key = 'status'): unknown[] {
    return this.texts().map((t) => t[key]);
  }
  get closed(): Extract<Ev, { kind: 'close' }> | undefined {
    return this.events.find((e): e is Extract<Ev, { kind: 'close' }> => e.kind === 'close');
  }
  async waitStatus(s: string, key = 'status'): Promise<Record<string, unknown>> {
    await this.until(() => this.texts().some((t) => t[key] === s) || this.closed !== undefined);
    const t = this.texts().find((x) => x[key] === s);
    if (!t) throw new Error(`closed before ${s}: ${JSON.stringify(this.events)}`);
    return t;
  }
  async waitClose(): Promise<Extract<Ev, { kind: 'close' }>> {
    await this.until(() => this.closed !== undefined);
    return this.closed!;
  }
  send(data: Uint8Array | string): void {
    this.ws.send(data);
  }
}

let gw: AudioGateway;
const clients: Client[] = [];

async function start(
  opts: {
    statusKey?: 'status' | 'type';
    timings?: Partial<GatewayTimings>;
    wallClockMs?: () => number;
    clock?: ManualClock;
  } = {},
) {
  const { timings, ...rest } = opts;
  gw = await AudioGateway.start({ apiKey: API_KEY, apiSecret: API_SECRET, ...rest, timings: { ...FAST, ...timings } });
  return gw;
}

function token(identity: string, extra: { room?: string; ttlSeconds?: number; nowSeconds?: number } = {}) {
  return mintLiveKitToken({
    apiKey: API_KEY,
    apiSecret: API_SECRET,
    identity,
    room: extra.room ?? ROOM,
    ttlSeconds: extra.ttlSeconds ?? 7200,
    ...(extra.nowSeconds !== undefined ? { nowSeconds: extra.nowSeconds } : {}),
  });
}

async function open(
  endpoint: 'connect' | 'subscribe' | 'duplex',
  identity: string,
  query: Record<string, string> = {},
  opts: { autoPong?: boolean; room?: string } = {},
): Promise<Client> {
  const t = await token(identity, opts.room ? { room: opts.room } : {});
  const qs = new URLSearchParams({ token: t, ...query });
  const ws = new WebSocket(`${gw.url}/audio/${endpoint}?${qs}`, { autoPong: opts.autoPong ?? true });
  const c = new Client(ws);
  clients.push(c);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return c;
}

/** A raw HTTP request with WebSocket upgrade headers: resolves with status, headers and body, or 101. */
function rawUpgrade(
  path: string,
  headers: Record<string, string> = {},
  opts: { method?: string; upgrade?: boolean } = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(gw.url.replace('ws:', 'http:'));
  const h: Record<string, string> =
    opts.upgrade === false
      ? { ...headers }
      : {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          ...headers,
        };
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: h });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', headers: res.headers });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
  });
}

const frame = (n: number, fill = 0x11): Uint8Array => {
  const f = new Uint8Array(n).fill(fill);
  if (n > 0) f[0] = 0x78;
  return f;
};

beforeEach(() => {
  clients.length = 0;
});

afterEach(async () => {
  for (const c of clients) c.ws.terminate();
  await gw?.close();
});

describe('routes and upgrade failures (§A1.1, §A1.5)', () => {
  it('answers any other path with Go’s 404 text', async () => {
    await start();
    for (const path of ['/', '/audio', '/audio/connect/', '/audio/publish?token=x']) {
      const r = await rawUpgrade(path);
      expect(r.status).toBe(404);
      expect(r.body).toBe('404 page not found\n');
      expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('runs the JWT checks in order with the exact bodies', async () => {
    await start();
    const secret = new TextEncoder().encode(API_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, key = secret) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const wrongKey = new TextEncoder().encode('another-secret-another-secret-xx');
    const cases: Array<[string | undefined, number, string]> = [
      [undefined, 401, 'missing authorization token'],
      ['not-a-jwt', 401, 'invalid token format'],
      ['a.b.c', 401, 'invalid token format'],
      // wrong issuer AND wrong signature: the issuer check comes first
      [await sign({ iss: 'other', sub: 'u', video: { room: ROOM } }, wrongKey), 403, 'invalid API key'],
      [await sign({ iss: API_KEY, sub: 'u', video: { room: ROOM } }, wrongKey), 403, 'token verification failed'],
      // expired beyond the 60 s leeway AND no room: verification comes first
      [await sign({ iss: API_KEY, sub: 'u', exp: now - 120 }), 403, 'token verification failed'],
      [await sign({ iss: API_KEY, sub: 'u', nbf: now + 120, video: { room: ROOM } }), 403, 'token verification failed'],
      [await sign({ iss: API_KEY, sub: 'u', video: {} }), 403, 'token must include room grant'],
      [await sign({ iss: API_KEY, sub: 'u' }), 403, 'token must include room grant'],
      [await sign({ iss: API_KEY, video: { room: ROOM } }), 403, 'token must include identity'],
    ];
    for (const [tok, status, body] of cases) {
      const r = await rawUpgrade(`/audio/connect${tok === undefined ? '' : `?token=${tok}`}`);
      expect({ status: r.status, body: r.body }).toEqual({ status, body: `${body}\n` });
    }
    // within the leeway: expired 30 s ago, still accepted; identity from jti when sub is empty
    const ok = await rawUpgrade(
      `/audio/connect?token=${await sign({ iss: API_KEY, sub: 'u', exp: now - 30, video: { room: ROOM } })}`,
    );
    expect(ok.status).toBe(101);
    const viaJti = await rawUpgrade(
      `/audio/connect?token=${await sign({ iss: API_KEY, jti: 'j', video: { room: ROOM } })}`,
    );
    expect(viaJti.status).toBe(101);
    // target_identity comes after the token checks
    const t = await token('u2');
    expect(await rawUpgrade(`/audio/subscribe?token=${t}`)).toMatchObject({
      status: 400,
      body: 'missing target_identity parameter\n',
    });
    expect(await rawUpgrade(`/audio/duplex?token=${t}&target_identity=`)).toMatchObject({
      status: 400,
      body: 'missing target_identity parameter\n',
    });
    expect((await rawUpgrade(`/audio/connect?token=${t}`)).status).toBe(101);
  });

  it('takes the token from Authorization: Bearer first, then ?token=', async () => {
    await start();
    const t = await token('u');
    expect((await rawUpgrade('/audio/connect?token=garbage', { Authorization: `Bearer ${t}` })).status).toBe(101);
    expect((await rawUpgrade('/audio/connect?token=garbage', { Authorization: `bEaReR ${t}` })).status).toBe(101);
    expect((await rawUpgrade(`/audio/connect?token=${t}`, { Authorization: 'Bot xyz' })).status).toBe(101);
    expect(await rawUpgrade(`/audio/connect?token=${t}`, { Authorization: 'Bearer garbage' })).toMatchObject({
      status: 401,
      body: 'invalid token format\n',
    });
  });

  it('answers non-upgrade requests like gorilla, after the token checks', async () => {
    await start();
    const t = await token('u');
    expect(await rawUpgrade('/audio/connect', {}, { upgrade: false })).toMatchObject({
      status: 401,
      body: 'missing authorization token\n',
    });
    const plain = await rawUpgrade(`/audio/connect?token=${t}`, {}, { upgrade: false });
    expect(plain).toMatchObject({ status: 400, body: 'Bad Request\n' });
    expect(plain.headers['sec-websocket-version']).toBe('13');
    const post = await rawUpgrade(`/audio/connect?token=${t}`, {}, { method: 'POST' });
    expect(post).toMatchObject({ status: 405, body: 'Method Not Allowed\n' });
    expect(post.headers['sec-websocket-version']).toBe('13');
    expect(await rawUpgrade(`/audio/connect?token=${t}`, { 'Sec-WebSocket-Version': '8' })).toMatchObject({
      status: 400,
      body: 'Bad Request\n',
    });
  });

  it('applies the session cap with per-endpoint text, the capacity switch and refused upgrades', async () => {
    await start();
    gw.faults.maxSessions = 1;
    const a = await open('connect', 'a');
    await a.waitStatus('ready');
    const t = await token('b');
    expect(await rawUpgrade(`/audio/connect?token=${t}`)).toMatchObject({
      status: 503,
      body: 'max audio WS sessions reached\n',
    });
    expect(await rawUpgrade(`/audio/subscribe?token=${t}&target_identity=a`)).toMatchObject({
      status: 503,
      body: 'max audio WS sessions reached\n',
    });
    expect(await rawUpgrade(`/audio/duplex?token=${t}&target_identity=a`)).toMatchObject({
      status: 503,
      body: 'max audio sessions reached\n',
    });
    // cap comes after target_identity
    expect(await rawUpgrade(`/audio/duplex?token=${t}`)).toMatchObject({ status: 400 });
    gw.faults.maxSessions = 0;
    gw.faults.atCapacity = true;
    expect(await rawUpgrade(`/audio/connect?token=${t}`)).toMatchObject({ status: 503, body: 'server at capacity\n' });
    gw.faults.atCapacity = false;
    gw.faults.refuseUpgrade({ status: 502, body: 'bad gateway', times: 1 });
    expect(await rawUpgrade(`/audio/connect?token=${t}`)).toMatchObject({ status: 502, body: 'bad gateway\n' });
    expect((await rawUpgrade(`/audio/connect?token=${t}`)).status).toBe(101);
  });

  it('survives garbage bytes, a huge header and an invalid token storm', async () => {
    await start();
    const u = new URL(gw.url.replace('ws:', 'http:'));
    await new Promise<void>((resolve) => {
      const s = netConnect(Number(u.port), u.hostname, () => {
        s.write(randomBytes(4096));
        s.end();
      });
      s.resume();
      s.on('error', () => resolve());
      s.on('close', () => resolve());
    });
    const big = await rawUpgrade('/audio/connect', { 'X-Big': 'a'.repeat(20_000) }).catch(() => ({ status: -1 }));
    expect(big.status).not.toBe(101);
    for (let i = 0; i < 20; i++) await rawUpgrade(`/audio/duplex?token=${randomBytes(40).toString('base64url')}.x.y`);
    const c = await open('connect', 'after');
    expect((await c.waitStatus('ready')).session_id).toMatch(/^AWS_[0-9A-Za-z]{12}$/);
  });
});

describe('status messages (§A2)', () => {
  it('connect: only ready, with exactly status and session_id', async () => {
    await start();
    const c = await open('connect', 'bot');
    const ready = await c.waitStatus('ready');
    expect(Object.keys(ready)).toEqual(['status', 'session_id']);
    expect(ready.session_id).toMatch(/^AWS_[0-9A-Za-z]{12}$/);
    expect(gw.sessions()).toMatchObject([
      { endpoint: 'connect', identity: 'bot', room: ROOM, state: 'ready', sessionId: ready.session_id },
    ]);
  });

  it('legacy mode uses the `type` key', async () => {
    await start({ statusKey: 'type' });
    const c = await open('connect', 'bot');
    const ready = await c.waitStatus('ready', 'type');
    expect(Object.keys(ready)).toEqual(['type', 'session_id']);
    const s = await open('subscribe', 'listener', { target_identity: 'nobody' });
    expect(Object.keys(await s.waitStatus('waiting', 'type'))).toEqual(['type', 'session_id', 'participant_identity']);
  });

  it('an injected join failure sends error with the endpoint prefix, then drops TCP', async () => {
    await start();
    gw.faults.failJoin({ message: 'publish failed: boom' });
    const c = await open('connect', 'bot');
    expect((await c.waitClose()).code).toBe(1006);
    expect(c.texts()).toEqual([{ status: 'error', message: 'failed to create session: publish failed: boom' }]);
    gw.faults.failJoin({ endpoint: 'duplex' });
    const d = await open('duplex', 'bot2', { target_identity: 'x' });
    await d.waitClose();
    expect(d.texts()).toEqual([
      { status: 'error', message: 'failed to create duplex session: could not join room: simulated failure' },
    ]);
    gw.faults.failJoin({});
    const s = await open('subscribe', 'bot3', { target_identity: 'x' });
    await s.waitClose();
    expect(s.texts()).toEqual([
      { status: 'error', message: 'failed to create subscriber: could not join room: simulated failure' },
    ]);
  });

  it('subscribe: waiting → subscribed → byte-equal frames → target_left → drop, never ready', async () => {
    await start();
    const s = await open('subscribe', 'bot', { target_identity: 'alice', target_track_source: 'microphone' });
    const waiting = await s.waitStatus('waiting');
    expect(waiting).toEqual({ status: 'waiting', session_id: waiting.session_id, participant_identity: 'alice' });
    const alice = gw.joinSimulated(ROOM, 'alice');
    const frames = Array.from({ length: 30 }, (_, i) => Uint8Array.of(0x78, i, ...randomBytes(40)));
    const h = alice.speak(frames, { realtime: false });
    await h.done;
    await s.until(() => s.binaries().length === 30);
    expect(s.binaries()).toEqual(frames);
    const sub = s.texts()[1]!;
    expect(sub).toEqual({
      status: 'subscribed',
      session_id: waiting.session_id,
      track_sid: alice.trackSid(),
      participant_identity: 'alice',
    });
    expect(sub.track_sid).toMatch(/^TR_[0-9A-Za-z]{12}$/);
    alice.leave();
    const close = await s.waitClose();
    expect(close.code).toBe(1006);
    expect(s.statuses()).toEqual(['waiting', 'subscribed', 'target_left']);
    expect(s.texts()[2]).toEqual({
      status: 'target_left',
      session_id: waiting.session_id,
      participant_identity: 'alice',
    });
  });

  it('subscribe: waiting also when the target is present without a track; subscribed at once when it has one', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const s1 = await open('subscribe', 'bot1', { target_identity: 'alice' });
    await s1.waitStatus('waiting');
    alice.publishTrack();
    await s1.waitStatus('subscribed');
    const s2 = await open('subscribe', 'bot2', { target_identity: 'alice' });
    await s2.waitStatus('subscribed');
    expect(s2.statuses()).toEqual(['subscribed']);
    expect(s1.statuses()).toEqual(['waiting', 'subscribed']);
  });

  it('duplex: subscribed precedes ready, never waiting; target_left keeps it open; rejoin gives a new track sid', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const firstSid = alice.publishTrack();
    const d = await open('duplex', 'bot', { target_identity: 'alice', target_track_source: 'microphone' });
    await d.waitStatus('ready');
    expect(d.statuses()).toEqual(['subscribed', 'ready']);
    expect(d.texts()[0]!.track_sid).toBe(firstSid);
    alice.leave();
    await d.waitStatus('target_left');
    // still open and still publishing
    d.send(frame(50));
    await d.until(() => gw.published({ identity: 'bot' }).length === 1);
    expect(d.closed).toBeUndefined();
    const alice2 = gw.joinSimulated(ROOM, 'alice');
    const frames = [Uint8Array.of(0xf8, 1, 2), Uint8Array.of(0xf8, 3, 4)];
    await alice2.speak(frames, { realtime: false }).done;
    await d.until(() => d.binaries().length === 2);
    expect(d.binaries()).toEqual(frames);
    expect(d.statuses()).toEqual(['subscribed', 'ready', 'target_left', 'subscribed']);
    const newSid = d.texts()[3]!.track_sid;
    expect(newSid).toMatch(/^TR_/);
    expect(newSid).not.toBe(firstSid);
    // republish without leaving → another subscribed with another sid
    alice2.unpublish();
    alice2.publishTrack();
    await d.until(() => d.statuses().length === 5);
    expect(d.texts()[4]!.track_sid).not.toBe(newSid);
    expect(d.closed).toBeUndefined();
  });

  it('duplex with the target absent sends only ready, then subscribed on arrival', async () => {
    await start();
    const d = await open('duplex', 'bot', { target_identity: 'carol' });
    await d.waitStatus('ready');
    const carol = gw.joinSimulated(ROOM, 'carol');
    carol.publishTrack();
    await d.waitStatus('subscribed');
    expect(d.statuses()).toEqual(['ready', 'subscribed']);
  });

  it('target_track_source filters by source; empty means every audio track, interleaved', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const mic = await open('subscribe', 'm', { target_identity: 'alice', target_track_source: 'microphone' });
    const any = await open('subscribe', 'a', { target_identity: 'alice' });
    await mic.waitStatus('waiting');
    await any.waitStatus('waiting');
    await alice.speak([Uint8Array.of(0x78, 1)], { realtime: false }).done;
    await alice.speak([Uint8Array.of(0x7c, 2)], { realtime: false, source: 'screen_share_audio' }).done;
    await any.until(() => any.binaries().length === 2);
    expect(any.binaries()).toEqual([Uint8Array.of(0x78, 1), Uint8Array.of(0x7c, 2)]);
    expect(any.statuses()).toEqual(['waiting', 'subscribed', 'subscribed']);
    await mic.until(() => mic.binaries().length === 1);
    expect(mic.statuses()).toEqual(['waiting', 'subscribed']);
    expect(mic.binaries()).toEqual([Uint8Array.of(0x78, 1)]);
  });
});

describe('frames (§A3, §A4.1)', () => {
  it('kills on 0, 1 and 3826 bytes by dropping TCP with no message; accepts 2 and 3825', async () => {
    await start();
    const reasons: SessionCloseReason[] = [];
    gw.on('sessionClosed', (_i, r) => reasons.push(r));
    for (const n of [0, 1, 3826]) {
      const c = await open('connect', `k${n}`);
      await c.waitStatus('ready');
      c.send(frame(n));
      const close = await c.waitClose();
      expect(close).toEqual({ kind: 'close', code: 1006, reason: '' });
      expect(c.statuses()).toEqual(['ready']);
    }
    expect(reasons).toEqual(['invalid-frame', 'invalid-frame', 'invalid-frame']);
    const ok = await open('duplex', 'ok', { target_identity: 'x' });
    await ok.waitStatus('ready');
    ok.send(frame(2));
    ok.send('text is ignored');
    ok.send(frame(3825));
    await ok.until(() => gw.published({ identity: 'ok' }).length === 2);
    expect(gw.published({ identity: 'ok' }).map((f) => f.data.length)).toEqual([2, 3825]);
    expect(ok.closed).toBeUndefined();
  });

  it('read limits: 65,537 bytes → Close 1009 with empty reason (connect); 1,025 → 1009 on subscribe', async () => {
    await start();
    const c = await open('connect', 'big');
    await c.waitStatus('ready');
    c.send(new Uint8Array(65_537));
    expect(await c.waitClose()).toEqual({ kind: 'close', code: 1009, reason: '' });
    // a 65,536-byte text message is within the limit and ignored
    const t = await open('duplex', 'txt', { target_identity: 'x' });
    await t.waitStatus('ready');
    t.send('x'.repeat(65_536));
    t.send(frame(10));
    await t.until(() => gw.published({ identity: 'txt' }).length === 1);
    expect(t.closed).toBeUndefined();
    const s = await open('subscribe', 'sub', { target_identity: 'x' });
    await s.waitStatus('waiting');
    s.send(new Uint8Array(1_024)); // at the limit: read and discarded
    s.send(new Uint8Array(1_025));
    expect(await s.waitClose()).toEqual({ kind: 'close', code: 1009, reason: '' });
  });

  it('a WS protocol violation (unmasked client frame) gets Close 1002 and does not disturb others', async () => {
    await start();
    const reasons: SessionCloseReason[] = [];
    gw.on('sessionClosed', (_i, r) => reasons.push(r));
    const other = await open('connect', 'other');
    await other.waitStatus('ready');
    const t = await token('raw');
    const u = new URL(gw.url.replace('ws:', 'http:'));
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const req = request({
        host: u.hostname,
        port: u.port,
        path: `/audio/connect?token=${t}`,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        },
      });
      req.on('upgrade', (_res, socket) => {
        const chunks: Buffer[] = [];
        socket.on('data', (d: Buffer) => chunks.push(d));
        socket.on('close', () => resolve(Buffer.concat(chunks)));
        socket.on('error', () => undefined);
        socket.write(Buffer.from([0x82, 0x02, 0x78, 0x00])); // unmasked binary frame
      });
      req.on('error', reject);
      req.end();
    });
    // find the Close frame (opcode 8) among whatever was sent before it (ready may or may not precede)
    const at = reply.indexOf(0x88);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(reply.readUInt16BE(at + 2)).toBe(1002);
    expect(reasons).toEqual(['protocol-error']);
    other.send(frame(10));
    await other.until(() => gw.published({ identity: 'other' }).length === 1);
    expect(other.closed).toBeUndefined();
  });

  it('stamps RTP by frame_duration_ms × 48 from a base in [2^31, 2^31+2^30), regardless of arrival', async () => {
    await start();
    for (const [q, step] of [
      ['40', 1920],
      ['2.5', 960],
    ] as const) {
      const c = await open('connect', `rtp${q}`, { frame_duration_ms: q });
      await c.waitStatus('ready');
      for (let i = 0; i < 5; i++) c.send(frame(60, i));
      await c.until(() => gw.published({ identity: `rtp${q}` }).length === 5);
      // a gap, then more frames: the timestamp still advances by exactly one step
      c.send(frame(60));
      await c.until(() => gw.published({ identity: `rtp${q}` }).length === 6);
      const pub = gw.published({ identity: `rtp${q}` });
      expect(pub[0]!.rtpTimestamp).toBeGreaterThanOrEqual(2 ** 31);
      expect(pub[0]!.rtpTimestamp).toBeLessThan(2 ** 31 + 2 ** 30);
      for (let i = 1; i < pub.length; i++) {
        expect(pub[i]!.rtpTimestamp - pub[i - 1]!.rtpTimestamp).toBe(step);
        expect((pub[i]!.seq - pub[i - 1]!.seq + 65_536) % 65_536).toBe(1);
        expect(pub[i]!.arrivalMs).toBeGreaterThanOrEqual(pub[i - 1]!.arrivalMs);
      }
      expect(pub.every((f) => f.room === ROOM && f.trackSid.startsWith('TR_'))).toBe(true);
    }
  });

  it('frames sent before ready are handled once ready (and a bad one still kills)', async () => {
    await start({ timings: { joinDelayMs: 40 } });
    const c = await open('connect', 'early');
    c.send(frame(20, 1));
    c.send(frame(20, 2));
    await c.waitStatus('ready');
    await c.until(() => gw.published({ identity: 'early' }).length === 2);
    expect(gw.published({ identity: 'early' }).map((f) => f.data[1])).toEqual([1, 2]);
    const d = await open('connect', 'early-bad');
    d.send(frame(1));
    await d.waitClose();
    expect(d.statuses()).toEqual(['ready']);
  });

  it('unbound sender: frames in the first N ms after ready are accepted but discarded', async () => {
    await start({ timings: { dropAfterReadyMs: 60_000 } });
    const c = await open('connect', 'unbound');
    await c.waitStatus('ready');
    for (let i = 0; i < 3; i++) c.send(frame(30));
    await c.until(() => gw.sessions().find((s) => s.identity === 'unbound')!.framesDiscarded === 3);
    expect(gw.published({ identity: 'unbound' })).toHaveLength(0);
    expect(c.closed).toBeUndefined();
  });

  it('forwards a bot’s frames unchanged to simulated listeners and to other subscribers', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const heard = alice.listen();
    const other = await open('subscribe', 'spy', { target_identity: 'bot' });
    await other.waitStatus('waiting');
    const bot = await open('connect', 'bot');
    await bot.waitStatus('ready');
    await other.waitStatus('subscribed');
    const frames = Array.from({ length: 10 }, () => Uint8Array.from(randomBytes(80)));
    for (const f of frames) bot.send(f);
    await other.until(() => other.binaries().length === 10);
    expect(other.binaries()).toEqual(frames);
    expect(heard.frames.map((f) => f.data)).toEqual(frames);
    expect(heard.frames.every((f) => f.identity === 'bot')).toBe(true);
    expect(gw.published({ room: ROOM }).map((f) => f.data)).toEqual(frames);
  });
});

describe('keepalive, watchdog, identity, close (§A4.4, §A6, §A2.3)', () => {
  it('drops a client that never pongs (even while streaming) and keeps one that does', async () => {
    // A manual clock: a ping goes out only when the test advances time, and time moves on only once
    // the answering client's pong was counted, so neither deadline can be passed by a slow machine.
    const clock = new ManualClock(0);
    await start({ clock, timings: { pingIntervalMs: 20, pongWaitMs: 100 } });
    const reasons: Array<[string, SessionCloseReason]> = [];
    gw.on('sessionClosed', (i, r) => reasons.push([i.identity, r]));
    const mute = await open('duplex', 'nopong', { target_identity: 'x' }, { autoPong: false });
    const good = await open('duplex', 'pong', { target_identity: 'x' });
    const info = (identity: string) => gw.sessions().find((s) => s.identity === identity);
    await good.until(() => gw.sessions().length === 2);
    clock.advance(5); // join delay; both read deadlines were armed at 0 (+100), pings run every 20 from 0
    await mute.waitStatus('ready');
    await good.waitStatus('ready');
    const published = () => gw.published({ identity: 'nopong' }).length;
    // t = 25, 45, 65, 85: four pings the mute client leaves unanswered while it keeps streaming
    for (let i = 1; i <= 4; i++) {
      mute.send(frame(40));
      await mute.until(() => published() === i);
      clock.advance(20);
      await good.until(() => info('pong')!.pongs === i);
      await mute.until(() => mute.pings === i);
    }
    expect(reasons).toEqual([]);
    mute.send(frame(40));
    await mute.until(() => published() === 5);
    clock.advance(20); // t = 105: the mute client's read deadline (0 + 100) passed; frames never moved it
    expect(reasons).toEqual([['nopong', 'pong-timeout']]);
    expect((await mute.waitClose()).code).toBe(1006);
    expect(mute.pings).toBe(4);
    // the answering client outlives twenty more pings, i.e. four more pong deadlines
    await good.until(() => info('pong')!.pongs === 5);
    for (let i = 6; i <= 25; i++) {
      clock.advance(20);
      await good.until(() => info('pong')!.pongs === i);
    }
    expect(reasons).toEqual([['nopong', 'pong-timeout']]);
    expect(info('pong')!.state).toBe('ready');
    expect(good.closed).toBeUndefined();
  });

  it('connect media watchdog drops a silent session; duplex has none', async () => {
    // Watchdog windows end only when the test advances the manual clock, each after the busy
    // session's frame for that window was accepted: which session is silent is decided by the test.
    const clock = new ManualClock(0);
    await start({ clock, timings: { mediaWatchdogMs: 100, pingIntervalMs: 20 } });
    const reasons: Array<[string, SessionCloseReason]> = [];
    gw.on('sessionClosed', (i, r) => reasons.push([i.identity, r]));
    const busy = await open('connect', 'busy');
    const idle = await open('connect', 'idle');
    const duplex = await open('duplex', 'dpx', { target_identity: 'x' });
    await busy.until(() => gw.sessions().length === 3);
    clock.advance(5); // join delay; the watchdog windows end at 100, 200, … (armed at session creation)
    await Promise.all([busy.waitStatus('ready'), idle.waitStatus('ready'), duplex.waitStatus('ready')]);
    const accepted = () => gw.published({ identity: 'busy' }).length;
    busy.send(frame(30));
    await busy.until(() => accepted() === 1);
    clock.advance(95); // t = 100: the first window ends
    expect(reasons).toEqual([['idle', 'media-watchdog']]);
    expect((await idle.waitClose()).code).toBe(1006);
    expect(idle.statuses()).toEqual(['ready']);
    // three more windows with one frame each keep busy alive; the duplex session never sends and stays
    for (let w = 2; w <= 4; w++) {
      busy.send(frame(30));
      await busy.until(() => accepted() === w);
      clock.advance(100);
    }
    expect(reasons).toEqual([['idle', 'media-watchdog']]);
    expect(gw.sessions().map((s) => [s.identity, s.state])).toEqual([
      ['busy', 'ready'],
      ['dpx', 'ready'],
    ]);
    await duplex.until(() => duplex.pings >= 20); // the duplex session's pings went out meanwhile
    expect(duplex.closed).toBeUndefined();
    // a window without a frame drops busy too
    clock.advance(100);
    expect(reasons).toEqual([
      ['idle', 'media-watchdog'],
      ['busy', 'media-watchdog'],
    ]);
    expect((await busy.waitClose()).code).toBe(1006);
  });

  it('a new session with the same identity kicks the old: connect/duplex drop, subscribe goes silent', async () => {
    await start();
    const first = await open('connect', 'bot');
    await first.waitStatus('ready');
    const second = await open('duplex', 'bot', { target_identity: 'alice' });
    await second.waitStatus('ready');
    expect((await first.waitClose()).code).toBe(1006);

    const alice = gw.joinSimulated(ROOM, 'alice');
    const sub = await open('subscribe', 'ears', { target_identity: 'alice' });
    await sub.waitStatus('waiting');
    const kicker = await open('connect', 'ears');
    await kicker.waitStatus('ready');
    await alice.speak([Uint8Array.of(0x78, 1), Uint8Array.of(0x78, 2)], { realtime: false }).done;
    await second.until(() => second.binaries().length === 2); // the live duplex hears alice…
    expect(sub.binaries()).toEqual([]); // …the kicked subscribe socket hears nothing
    expect(sub.statuses()).toEqual(['waiting']);
    expect(sub.closed).toBeUndefined();
    expect(sub.ws.readyState).toBe(WebSocket.OPEN);
    expect(gw.sessions().find((s) => s.endpoint === 'subscribe')).toMatchObject({ inRoom: false, state: 'ready' });
  });

  it('a client that stops reading passes the write deadline: writes stop, then the pong deadline ends it', async () => {
    // A manual clock orders the two deadlines by construction: the client never got a ping, so its
    // read deadline is 0 + pongWaitMs = 10 000, and the write deadline (100 after a ping finds bytes
    // stuck) is checked while the test advances through the first 2 000 ms only.
    const clock = new ManualClock(0);
    await start({ clock, timings: { writeDeadlineMs: 100, pingIntervalMs: 20, pongWaitMs: 10_000 } });
    const closed: Array<[boolean, SessionCloseReason]> = [];
    gw.on('sessionClosed', (info, r) => closed.push([info.writeBroken, r]));
    const alice = gw.joinSimulated(ROOM, 'alice');
    alice.publishTrack();
    const s = await open('subscribe', 'slow', { target_identity: 'alice' });
    await s.until(() => gw.sessions().length === 1);
    clock.advance(5); // join delay
    await s.waitStatus('subscribed');
    (s.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const info = () => gw.sessions()[0]!;
    const big = Array.from({ length: 500 }, () => new Uint8Array(60_000).fill(0x78));
    const speaking = alice.speak(big, { realtime: false });
    clock.advance(0); // 30 MB forwarded at once: far more than the socket buffers of a paused reader hold
    await speaking.done;
    expect(info().framesOut).toBe(500);
    // One ping interval at a time, with a loop turn for socket events in between: a ping re-arms
    // the write watch while bytes are stuck, and a watch that saw no drain breaks the writer.
    for (let t = 0; t < 2_000 && !info().writeBroken; t += 20) {
      clock.advance(20);
      await new Promise<void>((r) => setImmediate(r));
    }
    expect(info()).toMatchObject({ writeBroken: true, state: 'ready', pongs: 0 });
    expect(closed).toEqual([]);
    expect(clock.now()).toBeLessThan(10_000);
    clock.advance(10_000 - clock.now()); // the read deadline: no pong ever came
    expect(closed).toEqual([[true, 'pong-timeout']]);
  });

  it('echoes a client Close(code) with an empty reason', async () => {
    await start();
    const c = await open('connect', 'bye');
    await c.waitStatus('ready');
    c.ws.close(4001, 'see you');
    expect(await c.waitClose()).toEqual({ kind: 'close', code: 4001, reason: '' });
  });

  it('never expires a connected session by token TTL', async () => {
    let wall = Date.now();
    await start({ wallClockMs: () => wall });
    const t = await mintLiveKitToken({
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      identity: 'ttl',
      room: ROOM,
      ttlSeconds: 10,
      nowSeconds: wall / 1000,
    });
    const ws = new WebSocket(`${gw.url}/audio/connect?token=${t}`);
    const c = new Client(ws);
    clients.push(c);
    await c.waitStatus('ready');
    wall += 3_600_000;
    c.send(frame(30));
    await c.until(() => gw.published({ identity: 'ttl' }).length === 1);
    expect(c.closed).toBeUndefined();
    // a new upgrade with the same token is now refused
    expect(await rawUpgrade(`/audio/connect?token=${t}`)).toMatchObject({
      status: 403,
      body: 'token verification failed\n',
    });
  });

  it('kickIdentity and closeRoom: connect/duplex drop, subscribe stays open and silent', async () => {
    await start();
    const c = await open('connect', 'k1');
    await c.waitStatus('ready');
    gw.kickIdentity(ROOM, 'k1');
    expect((await c.waitClose()).code).toBe(1006);
    const alice = gw.joinSimulated(ROOM, 'alice');
    alice.publishTrack();
    const d = await open('duplex', 'd1', { target_identity: 'alice' });
    const s = await open('subscribe', 's1', { target_identity: 'alice' });
    await d.waitStatus('ready');
    await s.waitStatus('subscribed');
    gw.closeRoom(ROOM);
    expect((await d.waitClose()).code).toBe(1006);
    expect(alice.present).toBe(false);
    expect(s.closed).toBeUndefined();
    expect(s.statuses()).toEqual(['subscribed']);
    expect(gw.roomMembers(ROOM)).toEqual([]);
  });
});

describe('faults', () => {
  it('drops the next session without a Close frame, or by identity with one', async () => {
    await start();
    gw.faults.drop('next');
    const a = await open('connect', 'a');
    expect((await a.waitClose()).code).toBe(1006);
    expect(a.statuses()).toEqual(['ready']);
    const b = await open('connect', 'b');
    await b.waitStatus('ready');
    expect(gw.faults.drop({ identity: 'b' }, { closeCode: 4000 })).toBe(1);
    expect((await b.waitClose()).code).toBe(4000);
    const c = await open('connect', 'c');
    await c.waitStatus('ready');
    gw.faults.inject({ kind: 'drop-no-close', target: { sessionId: gw.sessions()[0]!.sessionId }, afterFrames: 3 });
    for (let i = 0; i < 5; i++) c.send(frame(30));
    expect((await c.waitClose()).code).toBe(1006);
    expect(gw.published({ identity: 'c' })).toHaveLength(3);
  });

  it('a stall holds egress and releases it in order', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const s = await open('subscribe', 'bot', { target_identity: 'alice' });
    await s.waitStatus('waiting');
    alice.publishTrack();
    await s.waitStatus('subscribed');
    gw.faults.stall({ identity: 'bot' }, 80);
    const frames = Array.from({ length: 5 }, (_, i) => Uint8Array.of(0x78, i));
    await alice.speak(frames, { realtime: false }).done;
    // nothing was written during the stall…
    expect(s.binaries()).toEqual([]);
    expect(gw.sessions()[0]!.framesOut).toBe(5);
    // …then everything arrives, in order
    await s.until(() => s.binaries().length === 5);
    expect(s.binaries()).toEqual(frames);
  });
});

describe('simulated people', () => {
  it('speaks a sine in real time on an absolute schedule, encoded as 20 ms Opus', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const bob = gw.joinSimulated(ROOM, 'bob');
    const ears = bob.listen({ identity: 'alice' });
    const h = alice.speak({ sine: 440, durationMs: 200 }, { realtime: true });
    await h.done;
    expect(h.framesSent).toBe(10);
    expect(ears.frames).toHaveLength(10);
    for (const f of ears.frames) {
      expect(f.data.length).toBeGreaterThan(2);
      const config = f.data[0]! >> 3;
      // 20 ms frame: SILK 1/5/9, hybrid 13/15 or CELT 19/23/27/31
      expect([1, 5, 9, 13, 15, 19, 23, 27, 31]).toContain(config);
    }
    // arrivals never precede the schedule
    for (let i = 1; i < ears.frames.length; i++)
      expect(ears.frames[i]!.arrivalMs).toBeGreaterThanOrEqual(ears.frames[i - 1]!.arrivalMs);
  });

  it('virtual speaking delivers in model arrival order and repeats per seed', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const bob = gw.joinSimulated(ROOM, 'bob');
    const ears = bob.listen();
    const frames = Array.from({ length: 200 }, (_, i) => Uint8Array.of(0x78, i & 0xff, i >> 8));
    const impairment = {
      jitter: { kind: 'normal' as const, meanMs: 20, stdDevMs: 25 },
      loss: { kind: 'random' as const, rate: 0.1 },
    };
    const h1 = alice.speak(frames, { realtime: false, impairment, seed: 5 });
    await h1.done;
    expect(ears.frames.map((f) => f.data)).toEqual(h1.deliveries.map((d) => d.data));
    expect(h1.deliveries.length).toBe(200 - h1.stats.lost);
    const order = h1.deliveries.map((d) => d.index);
    expect(order).not.toEqual([...order].sort((a, b) => a - b)); // reordered
    const h2 = alice.speak(frames, { realtime: false, impairment, seed: 5 });
    await h2.done;
    expect(h2.deliveries).toEqual(h1.deliveries);
  });

  it('mute injects ~muteSilenceMs of 80-byte f8 ff fe frames then nothing; DTX sends tiny packets', async () => {
    await start({ timings: { muteSilenceMs: 100 } });
    const alice = gw.joinSimulated(ROOM, 'alice');
    const s = await open('subscribe', 'bot', { target_identity: 'alice' });
    alice.publishTrack();
    await s.waitStatus('subscribed');
    alice.mute();
    await s.until(() => s.binaries().length === 5);
    for (const f of s.binaries()) {
      expect(f.length).toBe(80);
      expect([...f.subarray(0, 3)]).toEqual([0xf8, 0xff, 0xfe]);
      expect(f.subarray(3).every((b) => b === 0)).toBe(true);
    }
    await alice.speak([Uint8Array.of(0x78, 9)], { realtime: false }).done; // muted: nothing
    alice.unmute();
    const silence = Array.from({ length: 50 }, () => Uint8Array.of(0xf8, 0xff, 0xfe));
    await alice.speak(silence, { realtime: false, dtx: true }).done; // 1 s of silence → 3 DTX packets
    await s.until(() => s.binaries().length === 8);
    expect(s.binaries().slice(5)).toEqual([Uint8Array.of(0xf8), Uint8Array.of(0xf8), Uint8Array.of(0xf8)]);
  });
});

describe('listening and people vs bots', () => {
  it('captures a bot’s frames with arrival times and exports them as Ogg Opus', async () => {
    await start();
    const alice = gw.joinSimulated(ROOM, 'alice');
    const ears = alice.listen({ identity: 'bot' });
    const bot = await open('connect', 'bot');
    await bot.waitStatus('ready');
    const frames = Array.from({ length: 60 }, (_, i) => Uint8Array.of(0xf8, i, ...randomBytes(30)));
    for (const f of frames) bot.send(f);
    await bot.until(() => ears.frames.length === 60);
    const ogg = ears.toOgg();
    expect(new TextDecoder().decode(ogg.subarray(0, 4))).toBe('OggS');
    const demux = new OggOpusDemuxer();
    const events = [...demux.write(ogg), ...demux.end()];
    const packets = events.flatMap((e) => (e.type === 'packet' ? [e.packet] : []));
    expect(packets).toEqual(frames);
    expect(events.find((e) => e.type === 'head')).toMatchObject({ head: { channels: 1 } });
    const pub = gw.published({ identity: 'bot' });
    expect(pub.map((f) => f.sessionId)).toEqual(Array(60).fill(gw.sessions()[0]!.sessionId));
  });

  it('a simulated person with a bot’s identity kicks the bot, and leaving emits left', async () => {
    await start();
    const c = await open('connect', 'alice');
    await c.waitStatus('ready');
    const alice = gw.joinSimulated(ROOM, 'alice');
    expect((await c.waitClose()).code).toBe(1006);
    const reasons: string[] = [];
    alice.on('left', (r) => reasons.push(r));
    const d = await open('duplex', 'alice', { target_identity: 'x' });
    await d.waitStatus('ready');
    expect(alice.present).toBe(false);
    expect(reasons).toEqual(['duplicate-identity']);
    expect(() => alice.speak([Uint8Array.of(1, 2)])).toThrow(/has left/);
  });
});

describe('injected clock', () => {
  it('runs the join delay and a realtime speaker on a ManualClock', async () => {
    const clock = new ManualClock(1_000);
    await start({ clock, timings: { joinDelayMs: 200 } });
    const c = await open('connect', 'bot');
    await c.until(() => gw.sessions().length === 1);
    expect(gw.sessions()[0]!.state).toBe('joining');
    clock.advance(199);
    expect(gw.sessions()[0]!.state).toBe('joining');
    clock.advance(1);
    await c.waitStatus('ready');

    const alice = gw.joinSimulated(ROOM, 'alice');
    const bob = gw.joinSimulated(ROOM, 'bob');
    const ears = bob.listen({ identity: 'alice' });
    const frames = Array.from({ length: 10 }, (_, i) => Uint8Array.of(0x78, i));
    const h = alice.speak(frames, { impairment: { baseDelayMs: 30, stall: { atMs: [100], durationMs: 60 } } });
    expect(ears.frames).toHaveLength(0);
    clock.advance(30); // frame 0 (sent at 0) arrives at 30
    expect(ears.frames.map((f) => f.data[1])).toEqual([0]);
    clock.advance(60); // now 90: frames sent at 20, 40, 60 have arrived
    expect(ears.frames.map((f) => f.data[1])).toEqual([0, 1, 2, 3]);
    clock.advance(69); // now 159: frames 4..6 (arrive 110..150) are held by the stall [100, 160)
    expect(ears.frames.map((f) => f.data[1])).toEqual([0, 1, 2, 3]);
    clock.advance(1); // stall ends: frames 4, 5, 6 in one burst
    expect(ears.frames.map((f) => f.data[1])).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(new Set(ears.frames.slice(4).map((f) => f.arrivalMs)).size).toBe(1);
    clock.advance(1_000);
    await h.done;
    expect(ears.frames.map((f) => f.data[1])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(h.framesSent).toBe(10);
  });

  it('stop() ends a speaker: done settles and nothing more is sent', async () => {
    const clock = new ManualClock(0);
    await start({ clock });
    const alice = gw.joinSimulated(ROOM, 'alice');
    const ears = gw.joinSimulated(ROOM, 'bob').listen();
    const h = alice.speak((i) => Uint8Array.of(0x78, i & 0xff));
    clock.advance(100);
    expect(h.framesSent).toBe(6); // at 0, 20, 40, 60, 80, 100
    h.stop();
    await h.done;
    clock.advance(1_000);
    expect(h.framesSent).toBe(6);
    expect(ears.frames).toHaveLength(6);
  });
});

describe('close()', () => {
  it('is idempotent, drops every socket and leaves no open handles', async () => {
    const kinds = () => process.getActiveResourcesInfo().filter((k) => k !== 'TTYWrap');
    const before = kinds();
    await start({ timings: { pingIntervalMs: 20, mediaWatchdogMs: 60_000 } });
    const a = await open('connect', 'a');
    const b = await open('duplex', 'b', { target_identity: 'c' });
    const s = await open('subscribe', 's', { target_identity: 'alice' });
    await a.waitStatus('ready');
    await b.waitStatus('ready');
    await s.waitStatus('waiting');
    const alice = gw.joinSimulated(ROOM, 'alice');
    const speaking = alice.speak({ sine: 300, durationMs: 10_000 });
    await Promise.all([gw.close(), gw.close()]);
    await gw.close();
    for (const c of [a, b, s]) expect((await c.waitClose()).code).toBe(1006);
    await speaking.done;
    expect(gw.sessions()).toEqual([]);
    const count = (xs: string[], k: string) => xs.filter((x) => x === k).length;
    const after = kinds();
    for (const k of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'])
      expect(count(after, k)).toBeLessThanOrEqual(count(before, k));
  });

  it('verifyLiveKitToken round-trips minted claims', async () => {
    const t = await mintLiveKitToken({
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      identity: 'id-1',
      name: 'Bot',
      room: 'call_abc',
      ttlSeconds: 3600,
    });
    const v = await verifyLiveKitToken(t, { apiKey: API_KEY, apiSecret: API_SECRET });
    expect(v).toMatchObject({ ok: true, identity: 'id-1', name: 'Bot', room: 'call_abc' });
    if (!v.ok) throw new Error('unreachable');
    expect(v.claims).toMatchObject({
      iss: API_KEY,
      sub: 'id-1',
      jti: 'id-1',
      video: { room: 'call_abc', roomJoin: true, canPublish: true, canSubscribe: true },
    });
    expect((v.claims['exp'] as number) - (v.claims['nbf'] as number)).toBe(3600);
  });
});
