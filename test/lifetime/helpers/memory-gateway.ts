/**
 * The emulator's audio-gateway session logic ({@link AudioSession}: status sequence, validation,
 * keepalive, media watchdog, rooms, identity kicks) behind an in-memory WebSocket pair, on one
 * fake clock shared with the library. No TCP, no real timer: a test file replaces the `ws`
 * package with {@link MemoryWebSocket} (`vi.mock('ws', …)`), so the pacer's main-thread
 * `SocketLink` talks to {@link MemoryGateway.current} instead of the network.
 *
 * Token checks are the emulator's own (`verifyLiveKitToken`, docs/platform.md §A1.4/§A1.5) against a wall clock
 * derived from the fake clock, so an expired token is refused with 403 as the gateway would.
 * Every message hop is a microtask; {@link MemoryGateway.runFor} advances the clock timer by
 * timer and lets every continuation run in between, and waits for the (WebCrypto) token work
 * the gateway and the tests start ({@link MemoryGateway.track}).
 * @packageDocumentation
 */
import { createHmac } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { verifyLiveKitToken } from '../../../src/emulator/audio/tokens.js';
import { RoomRegistry } from '../../../src/emulator/audio/rooms.js';
import { AudioSession, type SessionContext } from '../../../src/emulator/audio/session.js';
import {
  type AudioEndpoint,
  DEFAULT_GATEWAY_TIMINGS,
  type GatewayTimings,
  type PublishedFrame,
  type SessionCloseReason,
} from '../../../src/emulator/audio/types.js';
import { parseAudioQuery } from '../../../src/emulator/audio/validate.js';
import { TestClock } from '../../rest/stub.js';

const API_KEY = 'APImemory';
const API_SECRET = 'memory-gateway-secret-memory-gateway-secret';
/** Unix ms at fake time 0. */
export const WALL0 = Date.UTC(2026, 11, 4, 12, 0, 0);

/** A closed gateway session, as the tests read it. */
export interface ClosedSession {
  sessionId: string;
  endpoint: AudioEndpoint;
  identity: string;
  reason: SessionCloseReason;
  lastError: string | undefined;
  atMs: number;
}

/** Server half of a pair: the slice of `ws.WebSocket` {@link AudioSession} uses. */
class ServerSocket extends EventEmitter {
  bufferedAmount = 0;
  #gone = false;
  constructor(readonly peer: MemoryWebSocket) {
    super();
  }
  send(data: string | Uint8Array, opts: { binary?: boolean } = {}, cb?: (err?: Error) => void): void {
    if (this.#gone) return;
    const binary = opts.binary ?? typeof data !== 'string';
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    queueMicrotask(() => {
      this.peer.deliver(buf, binary);
      cb?.();
    });
  }
  ping(): void {
    if (this.#gone) return;
    // `ws` answers pings by itself (§A6): the pong comes back one hop later.
    queueMicrotask(() => {
      if (!this.#gone && this.peer.readyState === 1) this.emit('pong', Buffer.alloc(0));
    });
  }
  pause(): void {}
  resume(): void {}
  /** The gateway drops TCP (every kill, §A2.3): both halves see 1006. */
  terminate(): void {
    if (this.#gone) return;
    this.#gone = true;
    queueMicrotask(() => {
      this.emit('close', 1006, Buffer.alloc(0));
      this.peer.closed(1006);
    });
  }
  /** Close frame from the server (a fault): the client sees the code. */
  close(code = 1000): void {
    if (this.#gone) return;
    this.#gone = true;
    queueMicrotask(() => {
      this.emit('close', code, Buffer.alloc(0));
      this.peer.closed(code);
    });
  }
  /** The client went away (its Close echoed, or its TCP dropped). */
  peerClosed(code: number): void {
    if (this.#gone) return;
    this.#gone = true;
    this.emit('close', code, Buffer.alloc(0));
  }
}

/** Client half: the slice of `ws.WebSocket` the pacer's `SocketLink` uses. */
export class MemoryWebSocket extends EventEmitter {
  readyState = 0;
  bufferedAmount = 0;
  #server: ServerSocket | undefined;
  readonly url: string;

  constructor(url: string, opts: { headers?: Record<string, string> } = {}) {
    super();
    this.url = url;
    const gw = MemoryGateway.current;
    if (!gw) throw new Error('MemoryWebSocket: no MemoryGateway is installed');
    gw.track(gw.upgrade(this, url, opts.headers ?? {}));
  }

  /** @internal the gateway accepted the upgrade. */
  opened(server: ServerSocket): void {
    if (this.readyState !== 0) {
      server.peerClosed(1006);
      return;
    }
    this.#server = server;
    this.readyState = 1;
    this.emit('open');
  }

  /** @internal the gateway refused the upgrade with a plain HTTP answer (§A1.5). */
  refused(status: number, body: string): void {
    if (this.readyState !== 0) return;
    const res = new EventEmitter() as EventEmitter & { statusCode: number };
    res.statusCode = status;
    this.emit('unexpected-response', {}, res);
    queueMicrotask(() => {
      res.emit('data', Buffer.from(`${body}\n`));
      res.emit('end');
    });
  }

  /** @internal a message from the server. */
  deliver(buf: Buffer, binary: boolean): void {
    if (this.readyState === 1) this.emit('message', buf, binary);
  }

  /** @internal the connection is gone. */
  closed(code: number): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit('close', code, Buffer.alloc(0));
  }

  send(data: Uint8Array, _opts?: { binary?: boolean }, cb?: (err?: Error) => void): void {
    const server = this.#server;
    if (this.readyState !== 1 || !server) return;
    const buf = Buffer.from(data);
    queueMicrotask(() => {
      if (this.readyState === 1) server.emit('message', buf, true);
      cb?.();
    });
  }

  ping(): void {
    queueMicrotask(() => {
      if (this.readyState === 1) this.emit('pong', Buffer.alloc(0));
    });
  }

  /** Close(code): the gateway echoes it with an empty reason (§A2.3). */
  close(code = 1000): void {
    if (this.readyState >= 2) return;
    if (this.readyState === 0) {
      this.terminate();
      return;
    }
    this.readyState = 2;
    const server = this.#server;
    queueMicrotask(() => {
      server?.peerClosed(code);
      this.closed(code);
    });
  }

  terminate(): void {
    if (this.readyState === 3) return;
    const server = this.#server;
    this.readyState = 3;
    queueMicrotask(() => {
      server?.peerClosed(1006);
      this.emit('close', 1006, Buffer.alloc(0));
    });
  }
}

/** Options of {@link MemoryGateway}. */
export interface MemoryGatewayOptions {
  /** Gateway intervals (default: production values, {@link DEFAULT_GATEWAY_TIMINGS}). */
  timings?: Partial<GatewayTimings>;
  /** Receives every frame the gateway accepted (the tests keep only what they need). */
  onFrame?: (frame: PublishedFrame) => void;
  /**
   * Check tokens with a synchronous HS256 check (same order and outcomes for the tokens these
   * tests mint: signature, `exp`/`nbf` with 60 s leeway, room, identity) instead of the emulator's
   * WebCrypto `verifyLiveKitToken`, whose thread-pool round trip dominates a thousand-call run.
   */
  syncTokenCheck?: boolean;
}

const ENDPOINTS: Readonly<Record<string, AudioEndpoint>> = {
  '/audio/connect': 'connect',
  '/audio/subscribe': 'subscribe',
  '/audio/duplex': 'duplex',
};

/** The in-memory gateway of one test. Install it with {@link MemoryGateway.install}. */
export class MemoryGateway {
  /** The gateway new {@link MemoryWebSocket}s connect to. */
  static current: MemoryGateway | undefined;

  /** The one fake clock of the test (gateway timers, library timers, token times). */
  readonly clock = new TestClock(0);
  readonly rooms = new RoomRegistry();
  readonly timings: GatewayTimings;
  /** Live sessions by id. */
  readonly sessions = new Map<string, AudioSession>();
  /** Every session that ended, with why. */
  readonly closedSessions: ClosedSession[] = [];
  /** Upgrades refused (status, body). */
  readonly refusals: Array<{ status: number; body: string }> = [];
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #ctx: SessionContext;
  readonly #sync: boolean;

  private constructor(options: MemoryGatewayOptions) {
    this.#sync = options.syncTokenCheck ?? false;
    this.timings = { ...DEFAULT_GATEWAY_TIMINGS, ...options.timings };
    this.#ctx = {
      clock: this.clock,
      timings: this.timings,
      statusKey: 'status',
      room: (name) => this.rooms.get(name),
      dropAfterReadyMs: () => this.timings.dropAfterReadyMs,
      takeJoinFailure: () => undefined,
      onUp: () => undefined,
      onFrame: (f) => options.onFrame?.(f),
      onClosed: (s, reason) => {
        this.sessions.delete(s.sessionId);
        this.rooms.gc(s.room);
        this.closedSessions.push({
          sessionId: s.sessionId,
          endpoint: s.endpoint,
          identity: s.identity,
          reason,
          lastError: s.lastError,
          atMs: this.clock.now(),
        });
      },
    };
  }

  /** Creates the gateway and makes it the target of {@link MemoryWebSocket}. */
  static install(options: MemoryGatewayOptions = {}): MemoryGateway {
    const gw = new MemoryGateway(options);
    MemoryGateway.current = gw;
    return gw;
  }

  /** Unix ms on the fake timeline (JWT `exp`/`nbf`). */
  readonly wallClockMs = (): number => WALL0 + this.clock.now();

  /** Lets {@link flush} wait for `p` (work that is neither a timer nor a microtask chain). */
  track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    void p.then(
      () => this.#inflight.delete(p),
      () => this.#inflight.delete(p),
    );
    return p;
  }

  /**
   * A LiveKit token with the claims Argon issues (the shape of the emulator's `mintLiveKitToken`),
   * minted at the current fake time. Signed synchronously (node:crypto HMAC) rather than through
   * WebCrypto: a thousand calls would otherwise wait on the thread pool for each token.
   */
  async mint(identity: string, room: string, ttlSeconds: number): Promise<string> {
    const now = Math.floor(this.wallClockMs() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const video = {
      room,
      roomJoin: true,
      roomCreate: true,
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
      canUpdateOwnMetadata: true,
      canSubscribeMetrics: true,
      destinationRoom: room,
    };
    const claims = {
      name: identity,
      video,
      iss: API_KEY,
      sub: identity,
      jti: identity,
      nbf: now,
      exp: now + ttlSeconds,
    };
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${head}.${createHmac('sha256', API_SECRET).update(head).digest('base64url')}`;
  }

  /** @internal the §A1.5 checks that matter here, then a session on the server half. */
  async upgrade(client: MemoryWebSocket, url: string, headers: Record<string, string>): Promise<void> {
    // One hop: the client attaches its listeners before anything comes back.
    await Promise.resolve();
    const u = new URL(url);
    const endpoint = ENDPOINTS[u.pathname];
    const refuse = (status: number, body: string) => {
      this.refusals.push({ status, body });
      client.refused(status, body);
    };
    if (!endpoint) return refuse(404, '404 page not found');
    const auth = /^bearer (.*)$/i.exec(headers.Authorization ?? headers.authorization ?? '');
    const token = auth?.[1] ?? u.searchParams.get('token') ?? '';
    if (!token) return refuse(401, 'missing authorization token');
    const verified = this.#sync
      ? this.#checkSync(token)
      : await verifyLiveKitToken(token, {
          apiKey: API_KEY,
          apiSecret: API_SECRET,
          nowSeconds: this.wallClockMs() / 1000,
        });
    if (!verified.ok) return refuse(verified.status, verified.body);
    const params = parseAudioQuery(endpoint, u.searchParams);
    if (endpoint !== 'connect' && params.targetIdentity === '') return refuse(400, 'missing target_identity parameter');
    if (client.readyState !== 0) return;
    const server = new ServerSocket(client);
    const session = new AudioSession(this.#ctx, server as never, endpoint, params, verified);
    this.sessions.set(session.sessionId, session);
    client.opened(server);
  }

  #checkSync(
    token: string,
  ): { ok: true; identity: string; name: string; room: string } | { ok: false; status: 401 | 403; body: string } {
    const parts = token.split('.');
    let claims: { iss?: string; sub?: string; name?: string; nbf?: number; exp?: number; video?: { room?: string } };
    try {
      if (parts.length !== 3) throw new Error('parts');
      claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, status: 401, body: 'invalid token format' };
    }
    if (claims.iss !== API_KEY) return { ok: false, status: 403, body: 'invalid API key' };
    const sig = createHmac('sha256', API_SECRET).update(`${parts[0]}.${parts[1]}`).digest('base64url');
    const now = this.wallClockMs() / 1000;
    if (sig !== parts[2] || (claims.exp ?? 0) + 60 < now || (claims.nbf ?? 0) - 60 > now)
      return { ok: false, status: 403, body: 'token verification failed' };
    if (!claims.video?.room) return { ok: false, status: 403, body: 'token must include room grant' };
    if (!claims.sub) return { ok: false, status: 403, body: 'token must include identity' };
    return { ok: true, identity: claims.sub, name: claims.name ?? '', room: claims.video.room };
  }

  /** Runs every microtask and the tracked work until nothing is left. */
  async flush(): Promise<void> {
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (this.#inflight.size === 0) return;
      await Promise.allSettled([...this.#inflight]);
    }
  }

  /**
   * Advances the fake clock by `ms`, one timer at a time, letting everything that a timer set off
   * (socket hops, promise continuations, token work) finish before the next timer fires.
   * `each` runs after every step (a test's per-step probe).
   */
  async runFor(ms: number, each?: () => void): Promise<void> {
    const end = this.clock.now() + ms;
    for (;;) {
      await this.flush();
      each?.();
      const next = this.clock.nextAt();
      if (next === undefined || next > end) break;
      this.clock.advance(Math.max(0, next - this.clock.now()));
    }
    this.clock.advance(end - this.clock.now());
    await this.flush();
  }

  /** Runs until `cond` holds, timer by timer, for at most `maxMs` of fake time. */
  async runUntil(cond: () => boolean, what: string, maxMs = 60_000): Promise<void> {
    const end = this.clock.now() + maxMs;
    for (;;) {
      await this.flush();
      if (cond()) return;
      const next = this.clock.nextAt();
      if (next === undefined || next > end) throw new Error(`runUntil: ${what} did not happen within ${maxMs} ms`);
      this.clock.advance(Math.max(0, next - this.clock.now()));
    }
  }

  /** Uninstalls; the sessions still open are shut down (1006). */
  close(): void {
    for (const s of [...this.sessions.values()]) s.shutdown();
    if (MemoryGateway.current === this) MemoryGateway.current = undefined;
  }
}
