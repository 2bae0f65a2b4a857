import { afterEach, describe, expect, it } from 'vitest';
import {
  AbortError,
  ClosedError,
  HttpError,
  InvalidInputError,
  RateLimitError,
  TimeoutError,
  TransportError,
} from '../../src/errors.js';
import { RestClient } from '../../src/rest/client.js';
import { normalizeBaseUrl } from '../../src/rest/dispatch.js';
import { ChannelType } from '../../src/rest/enums.js';
import { json, type Stub, type StubHandler, startStub, TestClock, TOKEN } from './stub.js';
import { until } from '../helpers/until.js';

const G = '11111111-2222-3333-4444-555555555555';
const BIG = 2n ** 60n + 1n;

let stub: Stub | undefined;
let client: RestClient | undefined;
afterEach(async () => {
  await client?.close();
  await stub?.close();
  client = undefined;
  stub = undefined;
});

async function setup(handler: StubHandler, opts: Partial<ConstructorParameters<typeof RestClient>[0]> = {}) {
  stub = await startStub(handler);
  client = new RestClient({ token: TOKEN, baseUrl: stub.url, ...opts });
  return { stub, client };
}

/** Drives fake time while the client sleeps (backoff/limiter), never while a request is on the wire. */
async function drive<T>(clock: TestClock, c: RestClient, p: Promise<T>): Promise<T> {
  let settled = false;
  const out = p.finally(() => {
    settled = true;
  });
  out.catch(() => undefined);
  while (!settled) {
    await until(() => settled || c.core.limiter.inFlight === 0, 'idle client');
    await new Promise((r) => setTimeout(r, 2));
    if (!settled && c.core.limiter.inFlight === 0) clock.advanceToNext();
  }
  return out;
}

describe('RestClient basics', () => {
  it('sends Bot auth, user agent, a fresh x-request-id per call, and parses big ids exactly', async () => {
    const { stub, client } = await setup((_req, res) => json(res, 200, `{"messageId":${BIG}}`));
    const a = await client.messages.send({ channelId: G, text: 'hi' });
    await client.messages.send({ channelId: G, text: 'hi' });
    expect(a.messageId).toBe(BIG);
    const [r1, r2] = stub.requests;
    expect(r1!.headers.authorization).toBe(`Bot ${TOKEN}`);
    expect(r1!.headers['user-agent']).toMatch(/argon-voice/);
    expect(r1!.headers['content-type']).toBe('application/json');
    expect(r1!.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r1!.headers['x-request-id']).not.toBe(r2!.headers['x-request-id']);
    expect(r1!.path).toBe('/IMessages/v1/Send');
  });

  it('always supplies a unique random int64 randomId (as a string) unless the caller passes one', async () => {
    const { stub, client } = await setup((_req, res) => json(res, 200, { messageId: 1 }));
    await client.messages.send({ channelId: G, text: 'a' });
    await client.interactions.reply({ channelId: G, text: 'b' });
    await client.messages.send({ channelId: G, text: 'c', randomId: BIG, replyTo: BIG });
    const bodies = stub.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>);
    expect(bodies[0]!.randomId).toMatch(/^[1-9]\d*$/);
    expect(bodies[1]!.randomId).toMatch(/^[1-9]\d*$/);
    expect(bodies[0]!.randomId).not.toBe(bodies[1]!.randomId);
    expect(BigInt(bodies[0]!.randomId as string) < 2n ** 63n).toBe(true);
    expect(bodies[2]).toMatchObject({ randomId: BIG.toString(), replyTo: BIG.toString() });
  });

  it('accepts a base URL with or without /api/bot and trailing slashes', async () => {
    const { stub } = await setup((_req, res) =>
      json(res, 200, { botId: G, userId: G, username: 'u', displayName: 'd' }),
    );
    const c2 = new RestClient({ token: TOKEN, baseUrl: `${stub.url}/api/bot/` });
    try {
      await c2.botSelf.getMe();
      await client!.botSelf.getMe();
    } finally {
      await c2.close();
    }
    expect(stub.requests.map((r) => r.path)).toEqual(['/api/bot/IBotSelf/v1/GetMe', '/IBotSelf/v1/GetMe']);
    expect(normalizeBaseUrl('https://gateway.argon.zone/')).toBe('https://gateway.argon.zone');
    expect(() => normalizeBaseUrl('ftp://x')).toThrow(InvalidInputError);
  });

  it('does not parse JSON on empty-200 routes (even if a body sneaks in) and resolves undefined', async () => {
    const { client } = await setup((_req, res) => {
      res.writeHead(200, { 'content-length': '3' });
      res.end('???');
    });
    await expect(client.interactions.ack({ interactionId: G })).resolves.toBeUndefined();
    await expect(client.typing.start({ channelId: G, kind: 'thinking' })).resolves.toBeUndefined();
    await expect(client.reactions.remove({ channelId: G, messageId: BIG, emoji: 'x' })).resolves.toBeUndefined();
  });

  it('sends IChannels/Create channelType as an integer and reads the string form back', async () => {
    const { stub, client } = await setup((_req, res) =>
      json(res, 200, { channelId: G, spaceId: G, name: 'v', description: null, channelType: 'Voice', groupId: null }),
    );
    const ch = await client.channels.create({ spaceId: G, name: 'v', channelType: ChannelType.Voice });
    expect(JSON.parse(stub.requests[0]!.body).channelType).toBe(1);
    expect(ch.channelType).toBe('Voice');
  });

  it('sends Kick as POST with query and no body, History with bigint from', async () => {
    const { stub, client } = await setup((req, res) =>
      json(res, 200, req.path.endsWith('Kick') ? { kicked: true } : { messages: [] }),
    );
    await client.members.kick({ spaceId: G, channelId: G, userId: G });
    await client.messages.history({ channelId: G, from: BIG, limit: 10 });
    expect(stub.requests[0]!.method).toBe('POST');
    expect(stub.requests[0]!.body).toBe('');
    expect(stub.requests[0]!.query.get('userId')).toBe(G);
    expect(stub.requests[1]!.query.get('from')).toBe(BIG.toString());
  });
});

describe('errors', () => {
  it.each([
    ['A', 404, { error: 'not_found', message: null }, 'not_found', undefined],
    [
      'A with message',
      400,
      { error: 'invalid_kind', message: 'Kind must be one of …' },
      'invalid_kind',
      'Kind must be one of …',
    ],
    ['B', 404, { error: 'interaction_not_found' }, 'interaction_not_found', undefined],
    [
      'C',
      403,
      { error: 'not_a_member', message: 'Bot is not a member of this space.' },
      'not_a_member',
      'Bot is not a member of this space.',
    ],
    ['docs code key', 400, { code: 'bad', message: 'x' }, 'bad', 'x'],
    ['empty body', 401, '', undefined, undefined],
    ['not JSON', 415, 'oops', undefined, undefined],
  ])('variant %s → HttpError at once with code/message/route/requestId', async (_n, status, body, code, message) => {
    const { stub, client } = await setup((_req, res) => json(res, status, body as object));
    const err = (await client.commands.list().catch((e: unknown) => e)) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect(err.status).toBe(status);
    expect(err.errorCode).toBe(code);
    expect(err.platformMessage).toBe(message);
    expect(err.route).toBe('ICommands/v1/List');
    expect(err.method).toBe('GET');
    expect(err.requestId).toBe(stub.requests[0]!.headers['x-request-id']);
    expect(stub.requests).toHaveLength(1); // 4xx: no retry
  });

  it('never puts the token in error messages or bodies', async () => {
    const { client } = await setup((req, res) =>
      json(res, 400, { error: 'bad', message: `token ${req.headers.authorization} rejected` }),
    );
    const err = (await client.botSelf.getMe().catch((e: unknown) => e)) as HttpError;
    expect(err.message).not.toContain(TOKEN);
    expect(err.body).not.toContain(TOKEN);
    expect(String(err.stack)).not.toContain(TOKEN);
    expect(err.message).toContain('[redacted]');
  });

  it('redacts a registered non-token-shaped secret too (registered at construction)', async () => {
    const odd = 'not-a-hex-token-but-secret-123';
    stub = await startStub((_req, res) => json(res, 400, { error: 'bad', message: `got ${odd}` }));
    client = new RestClient({ token: odd, baseUrl: stub.url });
    const err = (await client.botSelf.getMe().catch((e: unknown) => e)) as HttpError;
    expect(err.message).not.toContain(odd);
    expect(err.body).not.toContain(odd);
  });
});

describe('retries, 429, timeouts, aborts', () => {
  it('retries 5xx with backoff on a safe route (GET) and succeeds', async () => {
    const clock = new TestClock(0);
    let n = 0;
    const { stub, client } = await setup(
      (_req, res) => (++n < 3 ? json(res, 503, '') : json(res, 200, { commands: [] })),
      {
        clock,
        random: () => 0.5,
      },
    );
    await expect(drive(clock, client, client.commands.list())).resolves.toEqual({ commands: [] });
    expect(stub.requests).toHaveLength(3);
    expect(client.stats.retries).toBe(2);
    expect(clock.now()).toBeGreaterThan(0); // backoff slept on the injected clock
  });

  it('surfaces the 5xx after `retries` attempts', async () => {
    const clock = new TestClock(0);
    const { stub, client } = await setup((_req, res) => json(res, 500, ''), { clock, retries: 2 });
    const err = await drive(clock, client, client.spaces.get({ spaceId: G })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(500);
    expect(stub.requests).toHaveLength(3);
  });

  it('does not retry 5xx on an unsafe route (Register)', async () => {
    const { stub, client } = await setup((_req, res) => json(res, 500, ''));
    await expect(client.commands.register({ name: 'x', description: 'y' })).rejects.toBeInstanceOf(HttpError);
    expect(stub.requests).toHaveLength(1);
  });

  it('retries Send after a connection reset (idempotent through randomId, same randomId reused)', async () => {
    const clock = new TestClock(0);
    let n = 0;
    const { stub, client } = await setup(
      (_req, res, raw) => {
        if (++n === 1) raw.socket.destroy();
        else json(res, 200, `{"messageId":${BIG}}`);
      },
      { clock },
    );
    const r = await drive(clock, client, client.messages.send({ channelId: G, text: 'x' }));
    expect(r.messageId).toBe(BIG);
    expect(stub.requests).toHaveLength(2);
    expect(JSON.parse(stub.requests[0]!.body).randomId).toBe(JSON.parse(stub.requests[1]!.body).randomId);
    expect(stub.requests[0]!.headers['x-request-id']).toBe(stub.requests[1]!.headers['x-request-id']);
  });

  it('surfaces a reset as TransportError at once on an unsafe route (Accept)', async () => {
    const { stub, client } = await setup((_req, _res, raw) => {
      raw.socket.destroy();
    });
    await expect(client.calls.accept({ callId: G })).rejects.toBeInstanceOf(TransportError);
    expect(stub.requests).toHaveLength(1);
  });

  it('honours 429 by waiting for the limiter (not Retry-After: 1) and then succeeds', async () => {
    const clock = new TestClock(0);
    let n = 0;
    const { stub, client } = await setup(
      (_req, res) => {
        if (++n === 1) {
          res.setHeader('retry-after', '1');
          json(res, 429, { error: 'rate_limited', retry_after: 1, message: 'You are being rate limited.' });
        } else json(res, 200, { spaces: [] });
      },
      { clock },
    );
    await expect(drive(clock, client, client.botSelf.getSpaces())).resolves.toEqual({ spaces: [] });
    expect(stub.requests).toHaveLength(2);
    expect(client.stats.rateLimited).toBe(1);
    expect(clock.now()).toBe(10_000); // one 10-s segment (the limiter had free permits), not 1 s
  });

  it('throws RateLimitError after rateLimitRetries 429s', async () => {
    const clock = new TestClock(0);
    const { stub, client } = await setup((_req, res) => json(res, 429, { error: 'rate_limited', retry_after: 1 }), {
      clock,
      rateLimitRetries: 2,
    });
    const err = await drive(clock, client, client.calls.accept({ callId: G })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBeGreaterThan(1000);
    expect(stub.requests).toHaveLength(3);
  });

  it('times out an attempt on the injected clock (TimeoutError) and retries safe routes', async () => {
    const clock = new TestClock(0);
    const { stub, client } = await setup(() => undefined /* never answers */, { clock, retries: 1, timeoutMs: 5_000 });
    const p = client.botSelf.getMe().catch((e: unknown) => e);
    await until(() => stub.requests.length === 1, 'first attempt');
    clock.advance(5_000);
    await until(() => client.core.limiter.inFlight === 0, 'attempt ended');
    clock.advanceToNext(); // backoff
    await until(() => stub.requests.length === 2, 'second attempt');
    clock.advance(5_000);
    const err = await p;
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).timeoutMs).toBe(5_000);
    expect((err as Error).message).toContain(String(stub.requests[1]!.headers['x-request-id']));
  });

  it('per-call timeoutMs overrides the default', async () => {
    const clock = new TestClock(0);
    const { stub, client } = await setup(() => undefined, { clock });
    const p = client.calls.accept({ callId: G }, { timeoutMs: 100 }).catch((e: unknown) => e);
    await until(() => stub.requests.length === 1, 'request');
    clock.advance(100);
    expect(await p).toBeInstanceOf(TimeoutError);
  });

  it('aborts with AbortError via the caller signal', async () => {
    const { stub, client } = await setup(() => undefined);
    const ac = new AbortController();
    const p = client.botSelf.getMe({ signal: ac.signal }).catch((e: unknown) => e);
    await until(() => stub.requests.length === 1, 'request');
    ac.abort(new Error('user'));
    expect(await p).toBeInstanceOf(AbortError);
    expect(client.core.limiter.inFlight).toBe(0);
  });

  it('close() rejects queued and later calls with ClosedError', async () => {
    const { client } = await setup(() => undefined);
    const p = client.botSelf.getMe().catch((e: unknown) => e);
    await client.close();
    expect(await p).toBeInstanceOf(ClosedError);
    await expect(client.botSelf.getMe()).rejects.toBeInstanceOf(ClosedError);
  });
});
