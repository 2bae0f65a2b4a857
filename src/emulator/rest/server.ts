/**
 * The REST + SSE HTTP server (node:http) of the emulator.
 * @packageDocumentation
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RestCore } from './core.js';
import type { ModalStore } from './handlers/interactions.js';
import { handleRequest } from './pipeline.js';
import { buildRoutes, Router } from './router.js';

/** A listening REST/SSE server bound to a {@link RestCore}. */
export class RestServer {
  readonly router: Router;
  readonly modals: ModalStore = new Map();
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #url = '';
  #closing: Promise<void> | undefined;

  private constructor(core: RestCore) {
    this.router = new Router(buildRoutes(core, this.modals));
    this.#server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      void handleRequest(core, this.router, req, res);
    });
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => this.#sockets.delete(s));
    });
    this.#server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Starts listening on `host:port` (port 0 = ephemeral). */
  static async start(core: RestCore, opts: { port?: number; host?: string } = {}): Promise<RestServer> {
    const s = new RestServer(core);
    const host = opts.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      s.#server.once('error', reject);
      s.#server.listen(opts.port ?? 0, host, () => {
        s.#server.off('error', reject);
        resolve();
      });
    });
    const addr = s.#server.address() as AddressInfo;
    s.#url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`;
    return s;
  }

  /** `http://127.0.0.1:PORT`. */
  get url(): string {
    return this.#url;
  }

  /** Stops listening and destroys every open socket. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
      this.#server.closeAllConnections?.();
    });
    return this.#closing;
  }
}
