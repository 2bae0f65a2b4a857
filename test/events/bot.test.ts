import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpError } from '../../src/errors.js';
import { Bot } from '../../src/bot.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { json, type Stub, startStub, TOKEN } from '../rest/stub.js';
import { until } from '../helpers/until.js';

const S1 = '11111111-1111-1111-1111-111111111111';
const S2 = '22222222-2222-2222-2222-222222222222';

let stub: Stub | undefined;
let bot: Bot | undefined;
afterEach(async () => {
  await bot?.close();
  await stub?.close();
  bot = stub = undefined;
});

async function botStub(status = 200, streamStatus = 200) {
  stub = await startStub((req, res) => {
    if (status !== 200) return json(res, status, '');
    const p = req.path.replace(/^\/api\/bot/, '');
    if (p === '/IBotSelf/v1/GetMe')
      return json(res, 200, { botId: 'b', userId: 'u', username: 'bot', displayName: 'Bot' });
    if (p === '/IBotSelf/v1/GetSpaces')
      return json(res, 200, {
        spaces: [
          { spaceId: S1, name: 'one', description: null },
          { spaceId: S2, name: 'two', description: 'x' },
        ],
      });
    if (p === '/IChannels/v1/List') {
      const sid = req.query.get('spaceId');
      return json(res, 200, {
        channels: [
          {
            channelId: `${sid}-text`,
            spaceId: sid,
            name: 'general',
            description: null,
            channelType: 'Text',
            groupId: null,
          },
          {
            channelId: `${sid}-voice`,
            spaceId: sid,
            name: 'lounge',
            description: null,
            channelType: 'Voice',
            groupId: null,
          },
        ],
      });
    }
    if (p === '/IEvents/v1/Stream') {
      if (streamStatus !== 200) return json(res, streamStatus, '');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `event: ready\ndata: {"intents":${req.query.get('intents')},"spaces":[{"spaceId":"${S1}","grantedEntitlements":1,"pendingApproval":false}]}\nid: ready\n\n`,
      );
      return;
    }
    json(res, 404, '');
  });
  return stub;
}

describe('Bot', () => {
  it('connects: GetMe, GetSpaces, event stream ready; firstVoiceChannel picks channelType Voice', async () => {
    const s = await botStub();
    bot = await Bot.connect({ token: TOKEN, baseUrl: `${s.url}/api/bot`, intents: 2049 });
    expect(bot.me.username).toBe('bot');
    expect(bot.spaces.map((x) => x.spaceId)).toEqual([S1, S2]);
    expect(bot.ready.intents).toBe(2049);
    expect(bot.ready.spaces[0]!.grantedEntitlements).toBe(1n);
    expect(bot.events.state.status).toBe('open');
    expect((await bot.firstVoiceChannel())?.channelId).toBe(`${S1}-voice`);
    expect((await bot.firstVoiceChannel(S2))?.channelId).toBe(`${S2}-voice`);
    let calls = 0;
    bot.on('messageCreate', () => calls++);
    expect(bot.events.listenerCount('messageCreate')).toBe(1);
    await bot.close();
    await bot.close();
    expect(bot.events.state.status).toBe('closed');
  });

  it('fails fast with HttpError on a bad token and leaves nothing open', async () => {
    const s = await botStub(401);
    await expect(Bot.connect({ token: TOKEN, baseUrl: s.url })).rejects.toBeInstanceOf(HttpError);
  });

  it('closes the half-open stream when ready fails, so the one-stream guard does not block a retry', async () => {
    const s = await botStub(200, 403);
    const e1 = await Bot.connect({ token: TOKEN, baseUrl: s.url }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(HttpError);
    expect((e1 as HttpError).status).toBe(403);
    const e2 = await Bot.connect({ token: TOKEN, baseUrl: s.url }).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(HttpError); // not DuplicateEventStreamError
  });

  it('bug: close() removes the abort listener from a long-lived connect signal', async () => {
    const s = await botStub();
    const ac = new AbortController();
    for (let i = 0; i < 3; i++) {
      const b = await Bot.connect({
        token: TOKEN,
        baseUrl: s.url,
        signal: ac.signal,
        zombieTimeoutMs: false,
        rest: { limiter: new RateLimiter({ limits: {} }) },
      });
      expect(getEventListeners(ac.signal, 'abort').length).toBeGreaterThan(0);
      await b.close();
      await b.close();
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    }
  });

  it('the connect signal still closes a connected bot', async () => {
    const s = await botStub();
    const ac = new AbortController();
    bot = await Bot.connect({
      token: TOKEN,
      baseUrl: s.url,
      signal: ac.signal,
      zombieTimeoutMs: false,
      rest: { limiter: new RateLimiter({ limits: {} }) },
    });
    ac.abort();
    const b = bot;
    await until(() => b.rest.core.closed, 'the bot closed by its signal');
    expect(bot.events.state.status).toBe('closed');
    expect(bot.rest.core.closed).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
