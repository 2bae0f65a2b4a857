/**
 * A hostile audio gateway: an http server on 127.0.0.1:0 with a `ws` WebSocketServer whose
 * behaviour each test scripts per connection, plus raw-upgrade modes (never answer the upgrade,
 * answer 101 and then stall) that a WebSocketServer cannot produce.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export type GatewayMode =
  | { kind: 'ws'; onConnection: (ws: WebSocket, req: IncomingMessage, n: number) => void }
  /** Accept the TCP connection and the upgrade request, never answer. */
  | { kind: 'no-answer' }
  /**
   * Answer `101 Switching Protocols` correctly, write `first` (raw frames, e.g. a `ready`), then
   * never send anything again, not even a Close echo (reads are discarded).
   */
  | { kind: 'stall-after-101'; first?: Buffer };

export interface HostileGateway {
  /** `ws://127.0.0.1:PORT` */
  readonly url: string;
  /** Upgrade requests seen (path + query, headers). */
  readonly upgrades: Array<{ url: string; headers: IncomingMessage['headers'] }>;
  /** Live server-side sockets (raw TCP), for the tests that must see the client go away. */
  readonly sockets: Set<Socket>;
  mode(m: GatewayMode): void;
  close(): Promise<void>;
}

export async function startHostileGateway(initial: GatewayMode): Promise<HostileGateway> {
  let mode = initial;
  let n = 0;
  const sockets = new Set<Socket>();
  const upgrades: HostileGateway['upgrades'] = [];
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: true });
  const server: Server = createServer((_req, res) => {
    res.writeHead(426).end();
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    upgrades.push({ url: req.url ?? '', headers: req.headers });
    socket.on('error', () => undefined);
    // http.Server sockets allow half-open: when the client ends its side, drop ours too, so that
    // `sockets` empties exactly when the client let go.
    socket.on('end', () => socket.destroy());
    const m = mode;
    const i = ++n;
    if (m.kind === 'no-answer') return;
    if (m.kind === 'stall-after-101') {
      const key = String(req.headers['sec-websocket-key'] ?? '');
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      if (m.first) socket.write(m.first);
      // Read and discard everything (the client's Close frame included): answer nothing, ever.
      socket.on('data', () => undefined);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => undefined);
      m.onConnection(ws, req, i);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closing: Promise<void> | undefined;
  return {
    url: `ws://127.0.0.1:${port}`,
    upgrades,
    sockets,
    mode(next) {
      mode = next;
    },
    close() {
      closing ??= (async () => {
        for (const c of wss.clients) c.terminate();
        for (const s of sockets) s.destroy();
        await new Promise<void>((r) => wss.close(() => r()));
        await new Promise<void>((r) => server.close(() => r()));
      })();
      return closing;
    },
  };
}

/** A WebSocket frame the server writes raw: FIN + `opcode`, unmasked, short payload. */
export function rawFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([Buffer.from([0x80 | opcode, payload.length]), payload]);
}
