/**
 * An undici {@link Dispatcher} that answers in memory, so a real `RestClient` (rate limiter,
 * deadlines, abort wiring, JSON parsing: the whole dispatch core) runs without sockets and
 * without real timers. Each request goes to `route`; the answer is delivered through undici's
 * request-handler callbacks one promise turn later.
 * @packageDocumentation
 */
import { Dispatcher } from 'undici';

/** What a route returns: a status and a JSON-serialisable body. */
export interface FakeAnswer {
  status: number;
  body: unknown;
}

/** A request as the route sees it. */
export interface FakeRequest {
  method: string;
  path: string;
  body: unknown;
}

type LegacyHandler = {
  onConnect?(abort: (err?: Error) => void, context?: object): void;
  onHeaders?(status: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean | undefined;
  onData?(chunk: Buffer): boolean | undefined;
  onComplete?(trailers: Buffer[]): void;
  onError?(err: Error): void;
};

/** In-memory dispatcher; `requests` counts what it served. */
export class FakeDispatcher extends Dispatcher {
  requests = 0;
  constructor(readonly route: (req: FakeRequest) => Promise<FakeAnswer>) {
    super();
  }

  override dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const h = handler as unknown as LegacyHandler;
    this.requests++;
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      h.onError?.(err);
    };
    h.onConnect?.((err) => fail(err ?? new Error('aborted')), {});
    if (done) return true;
    const raw = typeof opts.body === 'string' ? opts.body : Buffer.isBuffer(opts.body) ? opts.body.toString() : '';
    const req: FakeRequest = { method: opts.method, path: opts.path, body: raw ? JSON.parse(raw) : undefined };
    this.route(req).then(
      (answer) => {
        if (done) return;
        done = true;
        const text = Buffer.from(JSON.stringify(answer.body));
        h.onHeaders?.(
          answer.status,
          [
            Buffer.from('content-type'),
            Buffer.from('application/json; charset=utf-8'),
            Buffer.from('content-length'),
            Buffer.from(String(text.length)),
          ],
          () => undefined,
          answer.status < 400 ? 'OK' : 'Error',
        );
        h.onData?.(text);
        h.onComplete?.([]);
      },
      (err: Error) => fail(err),
    );
    return true;
  }

  override async close(): Promise<void> {}
  override async destroy(): Promise<void> {}
}
