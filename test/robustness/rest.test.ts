/**
 * Hostile REST server: every malformed answer makes a RestClient call reject with a typed
 * ArgonVoiceError (class and code asserted), never crashes the process, and never shows the token.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArgonVoiceError, HttpError, ProtocolError, TimeoutError, TransportError } from '../../src/errors.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { type HostileServer, reply, startHostileHttp } from './helpers/hostile-http.js';
import { expectErrorClean, TOKEN } from './helpers/token.js';

let srv: HostileServer;
let rest: RestClient;
let trap: CrashTrap;

function client(extra: Partial<ConstructorParameters<typeof RestClient>[0]> = {}): RestClient {
  // Own limiter with no buckets: the shared per-token limiter would make later tests wait for a window.
  return new RestClient({
    token: TOKEN,
    baseUrl: srv.url,
    retries: 0,
    timeoutMs: 2_000,
    limiter: new RateLimiter({ limits: {} }),
    ...extra,
  });
}

/** Runs `call`, expects a rejection with `Cls`/`code`, checks token hygiene, returns the error. */
async function rejectsTyped<E extends ArgonVoiceError>(
  call: Promise<unknown>,
  Cls: abstract new (...a: never[]) => E,
  code: string,
): Promise<E> {
  const settled = await call.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (settled.ok) {
    expect.fail(
      `expected a ${Cls.name}, the call resolved with ${JSON.stringify(settled.value, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x))}`,
    );
  }
  const err = settled.error;
  expect(err, `got ${String(err)}`).toBeInstanceOf(ArgonVoiceError);
  expect(err, `got ${String(err)}`).toBeInstanceOf(Cls);
  expect((err as ArgonVoiceError).code).toBe(code);
  expect((err as Error).message.length).toBeGreaterThan(10);
  expectErrorClean(err);
  return err as E;
}

beforeEach(async () => {
  trap = trapCrashes();
  srv = await startHostileHttp((_q, res) => reply(res, 200, '{}'));
  rest = client();
});

afterEach(async () => {
  await rest.close();
  await srv.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

describe('RestClient against a hostile server: malformed 2xx bodies', () => {
  it('malformed JSON in a 200 → ProtocolError', async () => {
    srv.handle((_q, res) => reply(res, 200, '{"botId": "abc", "username": '));
    const err = await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
    expect(err.message).toMatch(/JSON/i);
  });

  it('malformed JSON on the exact (bigint) parser path → ProtocolError', async () => {
    srv.handle((_q, res) => reply(res, 200, '{"messageId": 1152921504606846977, "x": [1, 2,'));
    await rejectsTyped(
      rest.messages.send({ channelId: 'c', text: 'hi' } as never),
      ProtocolError,
      'ARGON_VOICE_PROTOCOL',
    );
  });

  it('a 200 text/plain body → ProtocolError', async () => {
    srv.handle((_q, res) => reply(res, 200, 'OK', { 'content-type': 'text/plain' }));
    await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
  });

  it('a 200 HTML page (captive portal) → ProtocolError', async () => {
    srv.handle((_q, res) =>
      reply(res, 200, '<!doctype html><html><body><h1>Sign in to the Wi-Fi</h1></body></html>', {
        'content-type': 'text/html',
      }),
    );
    await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
  });

  it('a 200 of 8 MiB of garbage → ProtocolError with a short message', async () => {
    srv.handle((_q, res) => reply(res, 200, Buffer.alloc(8 << 20, 0x78)));
    const err = await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
    expect(err.message.length).toBeLessThan(4096);
  });

  it('NUL bytes and invalid UTF-8 in a 200 → ProtocolError', async () => {
    srv.handle((_q, res) => reply(res, 200, Buffer.from([0x7b, 0x00, 0xff, 0xfe, 0x22, 0x7d])));
    await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
  });

  it('bug: a 200 nested 100 000 deep with a 16-digit id overflows the stack (RangeError) instead of a ProtocolError', async () => {
    // The 16-digit run sends the text to the recursive exact parser (src/rest/json.ts ExactParser#value).
    const deep = `{"messageId": 1152921504606846977, "x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    srv.handle((_q, res) => reply(res, 200, deep));
    await rejectsTyped(
      rest.messages.send({ channelId: 'c', text: 'hi' } as never),
      ProtocolError,
      'ARGON_VOICE_PROTOCOL',
    );
  });

  it('bug: a 200 whose body is an Argon error object resolves as if it were the answer', async () => {
    // No success body of the Bot API has a top-level `error` string (docs/platform.md §R2.1–2.2).
    srv.handle((_q, res) => reply(res, 200, '{"error":"internal_error","message":"grain failed"}'));
    const err = await rest.botSelf.getMe().then(
      (v) => expect.fail(`resolved with ${JSON.stringify(v)}`),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ArgonVoiceError);
    expect(['ARGON_VOICE_PROTOCOL', 'ARGON_VOICE_HTTP']).toContain((err as ArgonVoiceError).code);
    expectErrorClean(err);
  });

  it('bug: an empty 200 on a route that returns JSON resolves with undefined', async () => {
    // GetMe is not an "empty 200" route (docs/platform.md §R2.1); undefined would crash the caller later.
    srv.handle((_q, res) => reply(res, 200, ''));
    await rejectsTyped(rest.botSelf.getMe(), ProtocolError, 'ARGON_VOICE_PROTOCOL');
  });

  /** send() must resolve with a bigint id or reject with a ProtocolError; never a number. */
  async function sendWithBody(body: string): Promise<void> {
    srv.handle((_q, res) => reply(res, 200, body));
    const r = await rest.messages.send({ channelId: 'c', text: 'hi' } as never).then(
      (value) => ({ value, error: undefined }),
      (error: unknown) => ({ value: undefined, error }),
    );
    if (r.error !== undefined) {
      expect(r.error, body).toBeInstanceOf(ProtocolError);
      expectErrorClean(r.error);
    } else {
      // Message ids are bigint everywhere (architecture.md, docs/platform.md §R4.3).
      expect(typeof (r.value as { messageId: unknown }).messageId, `messageId from ${body}`).toBe('bigint');
    }
  }

  it('bug: a message id sent as a float (1.5, 1e400) resolves as a JS number instead of a bigint or a ProtocolError', async () => {
    await sendWithBody('{"messageId": 1.5}');
    await sendWithBody('{"messageId": 1e400}');
  });

  it('bug: a 19-digit message id written with a fraction (…977.0) resolves as a rounded JS number', async () => {
    await sendWithBody('{"messageId": 1152921504606846977.0}');
  });

  it('integral ids in any spelling come back exact', async () => {
    await sendWithBody('{"messageId": 1152921504606846977}');
    await sendWithBody('{"messageId": 7}');
  });
});

describe('RestClient against a hostile server: error statuses', () => {
  it('an HTML 502 page → HttpError with status, no error code, body kept and bounded', async () => {
    // A proxy error page that echoes the request headers, Authorization included.
    const page = `<html><head><title>502 Bad Gateway</title></head><body><pre>Authorization: Bot ${TOKEN}</pre>${'<p>nginx</p>'.repeat(2000)}</body></html>`;
    srv.handle((_q, res) => reply(res, 502, page, { 'content-type': 'text/html' }));
    const err = await rejectsTyped(rest.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
    expect(err.status).toBe(502);
    expect(err.errorCode).toBeUndefined();
    expect(err.body!.length).toBeLessThanOrEqual(2048);
  });

  it('a 400 with an empty body (framework error) → HttpError 400', async () => {
    srv.handle((_q, res) => reply(res, 400, '', {}));
    const err = await rejectsTyped(rest.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
    expect(err.status).toBe(400);
  });

  it('a 404 whose body is malformed JSON → HttpError 404 (no parse error escapes)', async () => {
    srv.handle((_q, res) => reply(res, 404, '{"error": "not_found", '));
    const err = await rejectsTyped(rest.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
    expect(err.status).toBe(404);
  });

  it('an error body of JSON null / array / number → HttpError', async () => {
    for (const body of ['null', '[1,2]', '42', '"error"']) {
      srv.handle((_q, res) => reply(res, 403, body));
      const err = await rejectsTyped(rest.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
      expect(err.status).toBe(403);
    }
  });

  it('bug: an error body with a 4 MiB `message` makes a 4 MiB error message', async () => {
    const body = JSON.stringify({ error: 'validation_error', message: 'x'.repeat(4 << 20) });
    srv.handle((_q, res) => reply(res, 400, body));
    const err = await rejectsTyped(rest.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
    // HttpError.body is cut to 2 KiB; the message built from platformMessage must be bounded too.
    expect(err.message.length).toBeLessThan(4096);
  });

  it('a 5xx on a retried route is retried, then HttpError', async () => {
    const r = client({ retries: 2, random: () => 0 });
    try {
      srv.handle((_q, res) => reply(res, 503, 'upstream unavailable', { 'content-type': 'text/plain' }));
      const before = srv.requests.length;
      const err = await rejectsTyped(r.botSelf.getMe(), HttpError, 'ARGON_VOICE_HTTP');
      expect(err.status).toBe(503);
      expect(srv.requests.length - before).toBe(3);
    } finally {
      await r.close();
    }
  });
});

describe('RestClient against a hostile server: broken transport', () => {
  it('a body shorter than its Content-Length (truncated) → TransportError', async () => {
    srv.handle((_q, res, { socket }) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"botId":"');
      setImmediate(() => socket.destroy());
    });
    await rejectsTyped(rest.botSelf.getMe(), TransportError, 'ARGON_VOICE_TRANSPORT');
  });

  it('a connection reset (RST) mid-body → TransportError', async () => {
    srv.handle((_q, res, { socket }) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write('{"botId":"abc",');
      setImmediate(() => socket.resetAndDestroy());
    });
    await rejectsTyped(rest.botSelf.getMe(), TransportError, 'ARGON_VOICE_TRANSPORT');
  });

  it('a reset before any response byte → TransportError', async () => {
    srv.handle((_q, _res, { socket }) => socket.resetAndDestroy());
    await rejectsTyped(rest.botSelf.getMe(), TransportError, 'ARGON_VOICE_TRANSPORT');
  });

  it('garbage instead of an HTTP status line → TransportError', async () => {
    srv.handle((_q, _res, { socket }) => {
      socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n');
    });
    await rejectsTyped(rest.botSelf.getMe(), TransportError, 'ARGON_VOICE_TRANSPORT');
  });

  it('headers that never come → TimeoutError at the per-attempt deadline, then nothing is pending', async () => {
    srv.handle(() => undefined); // accept, never answer
    const err = await rejectsTyped(rest.botSelf.getMe({ timeoutMs: 150 }), TimeoutError, 'ARGON_VOICE_TIMEOUT');
    expect(err.timeoutMs).toBe(150);
  });

  it('a body that stalls after the headers → TimeoutError (the deadline covers the body too)', async () => {
    srv.handle((_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 50 });
      res.write('{"botId":');
    });
    await rejectsTyped(rest.botSelf.getMe({ timeoutMs: 150 }), TimeoutError, 'ARGON_VOICE_TIMEOUT');
  });

  it('a refused connection → TransportError', async () => {
    const url = srv.url;
    await srv.close();
    const r = client({ baseUrl: url });
    try {
      await rejectsTyped(r.botSelf.getMe(), TransportError, 'ARGON_VOICE_TRANSPORT');
    } finally {
      await r.close();
    }
  });

  it('50 concurrent calls against a server that resets every connection → 50 typed rejections, nothing unhandled', async () => {
    srv.handle((_q, _res, { socket }) => socket.resetAndDestroy());
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => rest.messages.history({ channelId: 'c' } as never)),
    );
    for (const r of results) {
      expect(r.status).toBe('rejected');
      const e = (r as PromiseRejectedResult).reason;
      expect(e).toBeInstanceOf(ArgonVoiceError);
      expectErrorClean(e);
    }
  });

  it('close() while calls wait on a silent server → every pending call rejects with ClosedError', async () => {
    srv.handle(() => undefined);
    const pending = Array.from({ length: 5 }, () =>
      rest.botSelf.getMe().then(
        () => 'resolved',
        (e: unknown) => e,
      ),
    );
    await new Promise<void>((r) => setImmediate(r));
    await rest.close();
    for (const e of await Promise.all(pending)) {
      expect(e).toBeInstanceOf(ArgonVoiceError);
      expect((e as ArgonVoiceError).code).toBe('ARGON_VOICE_CLOSED');
    }
  });

  it('calls after close() → ClosedError; close() twice is harmless', async () => {
    await rest.close();
    await rest.close();
    await rejectsTyped(rest.botSelf.getMe(), ArgonVoiceError, 'ARGON_VOICE_CLOSED');
  });
});
