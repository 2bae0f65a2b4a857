/**
 * A node:http server on 127.0.0.1:0 whose every answer the test scripts: the "hostile REST/SSE
 * server". It tracks its sockets so `close()` never leaves one open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export type Handler = (req: IncomingMessage, res: ServerResponse, ctx: { socket: Socket; n: number }) => void;

export interface HostileServer {
  readonly url: string;
  readonly server: Server;
  /** Requests seen, in order (method and path with query). */
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  /** Replaces the handler. */
  handle(h: Handler): void;
  /** Destroys every socket and closes the listener. Idempotent. */
  close(): Promise<void>;
}

export async function startHostileHttp(handler: Handler): Promise<HostileServer> {
  let h = handler;
  const sockets = new Set<Socket>();
  const requests: HostileServer['requests'] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      h(req, res, { socket: req.socket, n: requests.length });
    } catch {
      req.socket.destroy();
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.once('close', () => sockets.delete(s));
  });
  server.on('clientError', (_e, s) => s.destroy());
  // Slow answers are a test case: never let the server's own timeouts answer for us.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    requests,
    handle(next) {
      h = next;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      return closing;
    },
  };
}

/** Answers with `status`, `headers` and `body` (Content-Length set unless given). */
export function reply(
  res: ServerResponse,
  status: number,
  body: string | Buffer = '',
  headers: Record<string, string | number> = { 'content-type': 'application/json; charset=utf-8' },
): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'content-length': buf.length, ...headers });
  res.end(buf);
}
