/**
 * The emulated Argon audio gateway ("AudioWS", docs/platform.md Part A): a `node:http` server whose
 * upgrade path runs the §A1.5 checks in order and answers failures as plain text before any
 * handshake, then hands valid upgrades to a `ws` server (noServer) with the endpoint's read
 * limit. Sessions live in {@link AudioSession}; rooms and simulated people in `rooms.ts` and
 * `participants.ts`.
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { type Clock, systemClock } from '../../util/clock.js';
import { TypedEmitter } from '../../util/emitter.js';
import { GatewayFaults } from './faults.js';
import { SimulatedParticipant } from './participants.js';
import { RoomRegistry } from './rooms.js';
import { AudioSession, type SessionContext } from './session.js';
import { verifyLiveKitToken } from './tokens.js';
import {
  type AudioEndpoint,
  DEFAULT_GATEWAY_TIMINGS,
  type FaultTarget,
  type GatewaySessionInfo,
  type GatewayTimings,
  type PublishedFrame,
  type SessionCloseReason,
  type StatusKey,
} from './types.js';
import { parseAudioQuery, READ_LIMIT_BYTES } from './validate.js';

/** Options of {@link AudioGateway.start}. */
export interface AudioGatewayOptions {
  /** TCP port; 0 (default) picks a free one. The real gateway uses 12880. */
  port?: number;
  /** Bind address. Default `127.0.0.1`. */
  host?: string;
  /** LiveKit API key (the expected `iss`). */
  apiKey: string;
  /** LiveKit API secret (HS256 key). */
  apiSecret: string;
  /** JSON key of status messages: `status` (default, newest code) or legacy `type`. */
  statusKey?: StatusKey;
  /** Intervals (defaults are production values, {@link DEFAULT_GATEWAY_TIMINGS}). */
  timings?: Partial<GatewayTimings>;
  /** Clock for every timer and arrival time. Default {@link systemClock} (`performance.now()`). */
  clock?: Clock;
  /** Wall clock in Unix ms for JWT `exp`/`nbf` checks. Default `Date.now`. */
  wallClockMs?: () => number;
  /** Most published frames kept for {@link AudioGateway.published} (oldest dropped first). Default 500 000. */
  maxRecordedFrames?: number;
}

/** Events of {@link AudioGateway}. */
export type AudioGatewayEvents = {
  /** A session was upgraded (before it joins its room). */
  session: [info: GatewaySessionInfo];
  /** A bot's frame was accepted and forwarded. */
  frame: [frame: PublishedFrame];
  /** A session ended. */
  sessionClosed: [info: GatewaySessionInfo, reason: SessionCloseReason];
  /** An upgrade was answered with an HTTP error (status and body without `\n`). */
  upgradeRejected: [info: { path: string; status: number; body: string }];
};

const ENDPOINTS: Readonly<Record<string, AudioEndpoint>> = {
  '/audio/connect': 'connect',
  '/audio/subscribe': 'subscribe',
  '/audio/duplex': 'duplex',
};

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** A response target: a raw socket (upgrade requests) or a ServerResponse (plain requests). */
type Responder = { kind: 'socket'; socket: Socket } | { kind: 'res'; res: ServerResponse };

/**
 * The emulated audio gateway. Start it with {@link AudioGateway.start}, point bots at
 * {@link AudioGateway.url}, add simulated people with {@link AudioGateway.joinSimulated}, and
 * read what bots published with {@link AudioGateway.published}.
 *
 * @remarks Every rule cites docs/platform.md Part A; intervals come from {@link GatewayTimings} so tests
 * shrink them instead of measuring wall-clock durations.
 */
export class AudioGateway extends TypedEmitter<AudioGatewayEvents> {
  /** `ws://host:port` (a base: append `/audio/connect` etc.). */
  readonly url: string;
  /** Port actually bound. */
  readonly port: number;
  /** Fault switches. */
  readonly faults: GatewayFaults;
  /** Effective timings. */
  readonly timings: Readonly<GatewayTimings>;
  /** JSON key of status messages. */
  readonly statusKey: StatusKey;
  /** Clock used for timers and arrival times. */
  readonly clock: Clock;

  readonly #server: Server;
  readonly #wssLarge: WebSocketServer;
  readonly #wssSmall: WebSocketServer;
  readonly #opts: AudioGatewayOptions;
  readonly #rooms = new RoomRegistry();
  readonly #sessions = new Map<string, AudioSession>();
  readonly #sockets = new Set<WebSocket>();
  readonly #rawSockets = new Set<Socket>();
  readonly #participants = new Set<SimulatedParticipant>();
  #published: PublishedFrame[] = [];
  #closed: Promise<void> | undefined;
  readonly #ctx: SessionContext;

  private constructor(opts: AudioGatewayOptions, server: Server, port: number) {
    super();
    this.#opts = opts;
    this.#server = server;
    this.port = port;
    this.url = `ws://${opts.host ?? '127.0.0.1'}:${port}`;
    this.timings = Object.freeze({ ...DEFAULT_GATEWAY_TIMINGS, ...opts.timings });
    this.statusKey = opts.statusKey ?? 'status';
    this.clock = opts.clock ?? systemClock;
    this.faults = new GatewayFaults((t) => this.#resolve(t));
    const common = {
      noServer: true,
      perMessageDeflate: false,
      handleProtocols: () => false as const,
      clientTracking: false,
    };
    this.#wssLarge = new WebSocketServer({ ...common, maxPayload: READ_LIMIT_BYTES.connect });
    this.#wssSmall = new WebSocketServer({ ...common, maxPayload: READ_LIMIT_BYTES.subscribe });
    this.#ctx = {
      clock: this.clock,
      timings: this.timings,
      statusKey: this.statusKey,
      room: (name) => this.#rooms.get(name),
      dropAfterReadyMs: () => this.faults.dropAfterReadyMs ?? this.timings.dropAfterReadyMs,
      takeJoinFailure: (e, id) => this.faults.takeJoinFailure(e, id),
      onUp: (s) => this.faults.applyNext(s),
      onFrame: (f) => this.#record(f),
      onClosed: (s, reason) => {
        this.#sessions.delete(s.sessionId);
        this.#rooms.gc(s.room);
        this.emit('sessionClosed', s.info(), reason);
      },
    };
    server.on('request', (req, res) => void this.#handle(req, { kind: 'res', res }, undefined));
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#trackRaw(socket);
      void this.#handle(req, { kind: 'socket', socket }, head);
    });
    server.on('connection', (socket: Socket) => this.#trackRaw(socket));
  }

  /**
   * Starts a gateway listening on `host:port` (default `127.0.0.1:0`).
   * @throws the listen error (e.g. EADDRINUSE).
   */
  static async start(opts: AudioGatewayOptions): Promise<AudioGateway> {
    const server = createServer();
    // Go's ReadTimeout of 5 s bounds the upgrade request only (§A1.1).
    server.headersTimeout = 5_000;
    server.requestTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : (opts.port ?? 0);
    return new AudioGateway(opts, server, port);
  }

  #trackRaw(socket: Socket): void {
    if (this.#rawSockets.has(socket)) return;
    this.#rawSockets.add(socket);
    socket.once('close', () => this.#rawSockets.delete(socket));
    // A peer reset must never become an uncaught exception.
    socket.on('error', () => undefined);
  }

  #record(frame: PublishedFrame): void {
    this.#published.push(frame);
    const max = this.#opts.maxRecordedFrames ?? 500_000;
    if (this.#published.length > max) this.#published.splice(0, this.#published.length - max);
    this.emit('frame', frame);
  }

  #resolve(target: Exclude<FaultTarget, 'next'>): AudioSession[] {
    return [...this.#sessions.values()].filter((s) =>
      'sessionId' in target
        ? s.sessionId === target.sessionId
        : s.identity === target.identity && (target.room === undefined || s.room === target.room),
    );
  }

  // ── HTTP / upgrade ───────────────────────────────────────────────────────────────────

  #reply(r: Responder, status: number, body: string, extraHeaders: Record<string, string> = {}, path = ''): void {
    const text = `${body}\n`;
    const headers: Record<string, string> = {
      'Content-Type': 'text/plain; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
      ...extraHeaders,
      'Content-Length': String(Buffer.byteLength(text)),
    };
    this.emit('upgradeRejected', { path, status, body });
    if (r.kind === 'res') {
      if (r.res.headersSent) return;
      r.res.writeHead(status, headers);
      r.res.end(text);
      return;
    }
    const s = r.socket;
    if (s.destroyed) return;
    let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    head += 'Connection: close\r\n\r\n';
    s.end(head + text);
  }

  async #handle(req: IncomingMessage, r: Responder, head: Buffer | undefined): Promise<void> {
    try {
      await this.#handleInner(req, r, head);
    } catch {
      // Bad input never crashes the gateway.
      if (r.kind === 'socket') r.socket.destroy();
      else if (!r.res.headersSent) this.#reply(r, 500, 'internal error');
    }
  }

  async #handleInner(req: IncomingMessage, r: Responder, head: Buffer | undefined): Promise<void> {
    if (this.#closed) {
      if (r.kind === 'socket') r.socket.destroy();
      else r.res.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://gateway.invalid');
    const endpoint = ENDPOINTS[url.pathname];
    if (!endpoint) return this.#reply(r, 404, '404 page not found', {}, url.pathname);
    const reply = (status: number, body: string, extra?: Record<string, string>): void =>
      this.#reply(r, status, body, extra, url.pathname);

    const refusal = this.faults.takeRefusal(endpoint);
    if (refusal) return reply(refusal.status, refusal.body);

    // §A1.3: `Authorization: Bearer <jwt>` (scheme case-insensitive) first, then ?token=.
    let token = '';
    const auth = req.headers.authorization;
    if (auth) {
      const m = /^(\S+) (.*)$/.exec(auth);
      if (m && m[1]!.toLowerCase() === 'bearer') token = m[2]!;
    }
    if (!token) token = url.searchParams.get('token') ?? '';
    // §A1.5, in order.
    if (!token) return reply(401, 'missing authorization token');
    const verified = await verifyLiveKitToken(token, {
      apiKey: this.#opts.apiKey,
      apiSecret: this.#opts.apiSecret,
      nowSeconds: (this.#opts.wallClockMs?.() ?? Date.now()) / 1000,
    });
    if (this.#closed) return void (r.kind === 'socket' ? r.socket.destroy() : r.res.destroy());
    if (!verified.ok) return reply(verified.status, verified.body);
    const params = parseAudioQuery(endpoint, url.searchParams);
    if (endpoint !== 'connect' && params.targetIdentity === '') return reply(400, 'missing target_identity parameter');
    const cap = this.faults.maxSessions;
    if (cap > 0) {
      // connect/duplex count every session; subscribe counts only connect + subscribe (§A1.5).
      const counted = [...this.#sessions.values()].filter(
        (s) => endpoint !== 'subscribe' || s.endpoint !== 'duplex',
      ).length;
      if (counted >= cap)
        return reply(503, endpoint === 'duplex' ? 'max audio sessions reached' : 'max audio WS sessions reached');
    }
    if (this.faults.atCapacity) return reply(503, 'server at capacity');

    // gorilla's Upgrade checks, in its order; failures carry `Sec-Websocket-Version: 13` (§A1.5 #10).
    const bad = (status: 400 | 405): void => reply(status, STATUS_TEXT[status]!, { 'Sec-Websocket-Version': '13' });
    const tokens = (h: string | string[] | undefined): string[] =>
      (Array.isArray(h) ? h.join(',') : (h ?? '')).split(',').map((t) => t.trim().toLowerCase());
    if (!tokens(req.headers.connection).includes('upgrade')) return bad(400);
    if (!tokens(req.headers.upgrade).includes('websocket')) return bad(400);
    if (req.method !== 'GET') return bad(405);
    if (!tokens(req.headers['sec-websocket-version']).includes('13')) return bad(400);
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || Buffer.from(key, 'base64').length !== 16) return bad(400);
    if (r.kind !== 'socket' || head === undefined) return bad(400);

    const wss = endpoint === 'subscribe' ? this.#wssSmall : this.#wssLarge;
    const raw = r.socket;
    wss.handleUpgrade(req, raw, head, (ws) => {
      if (this.#closed) {
        ws.terminate();
        return;
      }
      this.#sockets.add(ws);
      ws.once('close', () => this.#sockets.delete(ws));
      ws.on('error', () => undefined);
      const session = new AudioSession(this.#ctx, ws, endpoint, params, verified, raw);
      this.#sessions.set(session.sessionId, session);
      this.emit('session', session.info());
    });
  }

  // ── public API ───────────────────────────────────────────────────────────────────────

  /**
   * Adds a simulated person to `room` (visible, like a browser client). A live member with the
   * same identity is kicked (identity uniqueness, §A6).
   */
  joinSimulated(room: string, identity: string, opts: { name?: string } = {}): SimulatedParticipant {
    if (this.#closed) throw new Error('AudioGateway is closed');
    const p = new SimulatedParticipant({
      room: this.#rooms.get(room),
      identity,
      name: opts.name ?? identity,
      clock: this.clock,
      muteSilenceMs: this.timings.muteSilenceMs,
      onGone: (self) => {
        this.#participants.delete(self);
        this.#rooms.gc(room);
      },
    });
    this.#participants.add(p);
    return p;
  }

  /** Frames bots published, in arrival order, optionally filtered by room and identity. */
  published(filter: { room?: string; identity?: string; sessionId?: string } = {}): PublishedFrame[] {
    return this.#published.filter(
      (f) =>
        (filter.room === undefined || f.room === filter.room) &&
        (filter.identity === undefined || f.identity === filter.identity) &&
        (filter.sessionId === undefined || f.sessionId === filter.sessionId),
    );
  }

  /** Forgets recorded frames. */
  clearPublished(): void {
    this.#published = [];
  }

  /** Live sessions. */
  sessions(): GatewaySessionInfo[] {
    return [...this.#sessions.values()].map((s) => s.info());
  }

  /** Identities present in a room (sessions and simulated people). */
  roomMembers(room: string): string[] {
    return this.#rooms.find(room)?.identities() ?? [];
  }

  /**
   * Removes `identity` from `room` as the SFU would: connect/duplex sockets drop (1006), a
   * subscribe socket stays open and silent, a simulated person leaves; others get `target_left`.
   */
  kickIdentity(room: string, identity: string): void {
    this.#rooms.find(room)?.remove(identity, 'kicked');
    this.#rooms.gc(room);
  }

  /** Closes a room: everyone is disconnected at once (connect/duplex drop, subscribe goes silent). */
  closeRoom(room: string): void {
    this.#rooms.find(room)?.close();
    this.#rooms.gc(room);
  }

  /**
   * Stops the gateway: terminates every socket (1006), stops every simulated person, clears
   * every timer and closes the server. Idempotent; no open handles remain afterwards.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const p of [...this.#participants]) p.leave();
      for (const s of [...this.#sessions.values()]) s.shutdown();
      for (const ws of this.#sockets) ws.terminate();
      for (const s of this.#rawSockets) s.destroy();
      this.#wssLarge.close();
      this.#wssSmall.close();
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections();
      await closed;
      this.#sessions.clear();
      this.#sockets.clear();
      this.#rawSockets.clear();
    })();
    return this.#closed;
  }

  /** `await using gateway = await AudioGateway.start(...)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
