/**
 * Test helpers: a tiny node:http stub server, a ManualClock that knows its next deadline, and a
 * seeded PRNG. The polling wait for real socket I/O is `until` in ../helpers/until.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/util/clock.js';
import { seededRandom as seeded } from '../../src/util/random.js';

/** One request as the stub saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Handler: write the response (or leave it hanging). */
export type StubHandler = (req: SeenRequest, res: ServerResponse, raw: IncomingMessage) => void | Promise<void>;

/** A running stub. */
export interface Stub {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a stub HTTP server on 127.0.0.1:0. */
export async function startStub(handler: StubHandler): Promise<Stub> {
  const requests: SeenRequest[] = [];
  const server = createServer((raw, res) => {
    const chunks: Buffer[] = [];
    raw.on('data', (c: Buffer) => chunks.push(c));
    raw.on('end', () => {
      const u = new URL(raw.url ?? '/', 'http://stub');
      const seen: SeenRequest = {
        method: raw.method ?? 'GET',
        path: u.pathname,
        query: u.searchParams,
        headers: raw.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(seen);
      Promise.resolve(handler(seen, res, raw)).catch((err) => {
        res.statusCode = 599;
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON response. */
export function json(res: ServerResponse, status: number, body: unknown | string): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** A ManualClock that can jump to its next timer. */
export class TestClock extends ManualClock {
  readonly #due = new Map<unknown, number>();

  override setTimeout(fn: () => void, ms: number): unknown {
    const handle: unknown = super.setTimeout(() => {
      this.#due.delete(handle);
      fn();
    }, ms);
    this.#due.set(handle, this.now() + Math.max(0, ms));
    return handle;
  }

  override clearTimeout(handle: unknown): void {
    this.#due.delete(handle);
    super.clearTimeout(handle);
  }

  /** Time of the earliest pending timer, or undefined. */
  nextAt(): number | undefined {
    let min: number | undefined;
    for (const at of this.#due.values()) if (min === undefined || at < min) min = at;
    return min;
  }

  /** Advances to the earliest pending timer (firing it); false when none is pending. */
  advanceToNext(): boolean {
    const at = this.nextAt();
    if (at === undefined) return false;
    this.advance(Math.max(0, at - this.now()));
    return true;
  }
}

/** A token of the server's shape (32 hex : 43 base64url). */
export const TOKEN = '0A1B2C3D4E5F60718293A4B5C6D7E8F9:abcdefghijklmnopqrstuvwxyz0123456789_-ABCDE';

/** The library's seeded PRNG (mulberry32), under this helper's name. */
export { seeded };
