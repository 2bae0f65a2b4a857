/**
 * Regressions: a 2xx body that is not the route's JSON answer (empty on a JSON route, an Argon
 * error object) resolved as if it were the answer. It is a ProtocolError now, and `onSuccess`
 * listeners (zombie detection) do not see the call.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ProtocolError } from '../../src/errors.js';
import { RestClient } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { json, type Stub, type StubHandler, startStub, TOKEN } from './stub.js';

let stub: Stub | undefined;
let client: RestClient | undefined;
afterEach(async () => {
  await client?.close();
  await stub?.close();
  client = undefined;
  stub = undefined;
});

async function setup(handler: StubHandler) {
  stub = await startStub(handler);
  client = new RestClient({ token: TOKEN, baseUrl: stub.url, retries: 0, limiter: new RateLimiter({ limits: {} }) });
  const seen: string[] = [];
  client.onSuccess((def) => seen.push(def.key));
  return { client, seen };
}

function empty200(res: ServerResponse): void {
  res.writeHead(200, { 'content-length': 0 });
  res.end();
}

describe('2xx bodies that are not the answer', () => {
  it('an empty 200 on a JSON route → ProtocolError naming the route', async () => {
    const { client, seen } = await setup((_q, res) => empty200(res));
    const err = await client.botSelf.getMe().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toMatch(/empty 2xx body .*GET IBotSelf\/v1\/GetMe/);
    expect(seen).toEqual([]);
  });

  it('an empty 200 on the "empty 200" routes (docs/platform.md §R2.1) still resolves undefined', async () => {
    const { client, seen } = await setup((_q, res) => empty200(res));
    await expect(client.interactions.ack({ interactionId: 'i' } as never)).resolves.toBeUndefined();
    await expect(client.typing.stop({ channelId: 'c' } as never)).resolves.toBeUndefined();
    expect(seen).toEqual(['interactions.ack', 'typing.stop']);
  });

  it.each([
    '{"error":"internal_error","message":"grain failed"}',
    '{"error":"kick_failed","message":null}',
    '{"error":"interaction_not_found"}',
  ])('an Argon error object in a 200 → ProtocolError with its code: %s', async (body) => {
    const { client, seen } = await setup((_q, res) => json(res, 200, body));
    const err = await client.botSelf.getMe().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as Error).message).toContain(`'${(JSON.parse(body) as { error: string }).error}'`);
    expect(seen).toEqual([]);
  });

  it('an `error` key that is not a top-level string is an ordinary answer', async () => {
    const { client } = await setup((_q, res) => json(res, 200, '{"spaces":[{"error":"x"}],"error":null}'));
    await expect(client.botSelf.getSpaces()).resolves.toEqual({ spaces: [{ error: 'x' }], error: null });
  });
});
