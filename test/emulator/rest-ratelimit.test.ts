/**
 * Rate limiting (docs/platform.md §R3): per-(bot, interface) sliding windows of 6×10 s with permits
 * returning 50–60 s after use, the 10-request concurrency limit (an SSE stream holds one), the
 * exact 429 response, and which responses count. Time is a ManualClock.
 */
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { Emulator } from '../../src/emulator/index.js';
import { until } from '../helpers/until.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function http(base: string, method: string, path: string, token?: string, body?: string): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bot ${token}`;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = request({ host: u.hostname, port: u.port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

const GET_ME = '/api/bot/IBotSelf/v1/GetMe';
let clock: ManualClock;
let emu: Emulator;

beforeEach(async () => {
  clock = new ManualClock(0);
  emu = await Emulator.start({ port: 0, audio: false, clock });
});
afterEach(async () => {
  await emu.close();
});

async function burst(n: number, path = GET_ME, token = emu.bot.token): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await http(emu.apiUrl, 'GET', path, token)).status);
  return out;
}

describe('sliding window (§R3)', () => {
  it('answers 429 after the interface limit with the exact headers and body, and no headers on success', async () => {
    const ok = await http(emu.apiUrl, 'GET', GET_ME, emu.bot.token);
    expect(ok.status).toBe(200);
    expect(Object.keys(ok.headers).filter((h) => /ratelimit|retry-after/i.test(h))).toEqual([]);
    expect(await burst(14)).toEqual(new Array(14).fill(200));
    const r = await http(emu.apiUrl, 'GET', GET_ME, emu.bot.token);
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['x-ratelimit-remaining']).toBe('0');
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(r.text).toBe('{"error":"rate_limited","retry_after":1,"message":"You are being rate limited."}');
    // Other interfaces and other bots are independent.
    expect(
      (await http(emu.apiUrl, 'GET', `/api/bot/ISpaces/v1/Get?spaceId=${emu.demo.spaceId}`, emu.bot.token)).status,
    ).toBe(200);
    const other = emu.createBot();
    expect((await http(emu.apiUrl, 'GET', GET_ME, other.token)).status).toBe(200);
  });

  it('returns permits 50–60 s after use, in 10-s steps', async () => {
    expect(await burst(5)).toEqual(new Array(5).fill(200)); // segment 0 (t=0)
    clock.set(10_000);
    expect(await burst(10)).toEqual(new Array(10).fill(200)); // segment 1 (t=10 s)
    clock.set(59_999);
    expect(await burst(1)).toEqual([429]);
    clock.set(60_000); // segment 0 comes round again: its 5 permits return
    expect(await burst(6)).toEqual([200, 200, 200, 200, 200, 429]);
    clock.set(69_999);
    expect(await burst(1)).toEqual([429]);
    clock.set(70_000);
    expect(await burst(11)).toEqual([...new Array(10).fill(200), 429]);
  });

  it('401, 404 and 405 do not count; 400 does', async () => {
    for (let i = 0; i < 20; i++) {
      expect((await http(emu.apiUrl, 'GET', GET_ME)).status).toBe(401);
      expect((await http(emu.apiUrl, 'POST', GET_ME, emu.bot.token)).status).toBe(405);
      expect((await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/Nope', emu.bot.token)).status).toBe(404);
    }
    expect(emu.core.limiter.remaining(emu.bot.botId, 'IBotSelf')).toBe(15);
    const spaces = '/api/bot/ISpaces/v1/Get';
    const statuses = await burst(31, spaces);
    expect(statuses.slice(0, 30)).toEqual(new Array(30).fill(400));
    expect(statuses[30]).toBe(429);
  });

  it('faults.rest({ reset: true }) forgets the windows', async () => {
    await burst(15);
    expect(await burst(1)).toEqual([429]);
    emu.faults.rest({ reset: true });
    expect(await burst(1)).toEqual([200]);
  });
});

describe('concurrency (§R3)', () => {
  it('10 in flight per bot, an SSE stream holds one; a concurrency rejection consumes no interface permit', async () => {
    const u = new URL(emu.apiUrl);
    const sse = request({
      host: u.hostname,
      port: u.port,
      path: '/api/bot/IEvents/v1/Stream',
      headers: { authorization: `Bot ${emu.bot.token}` },
      agent: false,
    });
    sse.on('error', () => undefined);
    sse.end();
    await until(() => emu.core.limiter.inFlight(emu.bot.botId) === 1, 'stream permit');
    emu.faults.rest({ route: 'ISpaces/Get', delayMs: 1_000 });
    const slow = Array.from({ length: 9 }, () =>
      http(emu.apiUrl, 'GET', `/api/bot/ISpaces/v1/Get?spaceId=${emu.demo.spaceId}`, emu.bot.token),
    );
    await until(() => emu.core.limiter.inFlight(emu.bot.botId) === 10, '10 in flight');
    const before = emu.core.limiter.remaining(emu.bot.botId, 'IBotSelf');
    const rejected = await http(emu.apiUrl, 'GET', GET_ME, emu.bot.token);
    expect(rejected.status).toBe(429);
    expect(rejected.text).toBe('{"error":"rate_limited","retry_after":1,"message":"You are being rate limited."}');
    expect(emu.core.limiter.remaining(emu.bot.botId, 'IBotSelf')).toBe(before);
    // Another bot is not affected.
    expect((await http(emu.apiUrl, 'GET', GET_ME, emu.createBot().token)).status).toBe(200);
    clock.advance(1_000);
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual(new Array(9).fill(200));
    await until(() => emu.core.limiter.inFlight(emu.bot.botId) === 1, 'permits back');
    expect((await http(emu.apiUrl, 'GET', GET_ME, emu.bot.token)).status).toBe(200);
    sse.destroy();
    await until(() => emu.core.limiter.inFlight(emu.bot.botId) === 0, 'stream permit back');
  });

  it('IEvents allows 5 connection attempts per minute', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const u = new URL(emu.apiUrl);
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: u.hostname,
            port: u.port,
            path: '/api/bot/IEvents/v1/Stream',
            headers: { authorization: `Bot ${emu.bot.token}` },
            agent: false,
          },
          (res) => {
            resolve(res.statusCode ?? 0);
            req.destroy();
          },
        );
        req.on('error', reject);
        req.end();
      });
      statuses.push(status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
