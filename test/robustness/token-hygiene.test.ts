/**
 * Token hygiene end to end: a bot whose platform misbehaves and echoes credentials back (in error
 * bodies, SSE lines, gateway messages) fails in every layer, and the user logs each error the way
 * users do (`console.error(err)`). Nothing written to stdout/stderr, no process warning and no
 * thrown or emitted error shows the bot token or the LiveKit JWT.
 */
import type { ServerResponse } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Bot } from '../../src/bot.js';
import { ArgonVoiceError, HttpError } from '../../src/errors.js';
import { EventStream } from '../../src/events/event-stream.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { PacerThread } from '../../src/pacing/index.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { type Capture, captureOutput } from './helpers/capture.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { type HostileGateway, startHostileGateway } from './helpers/hostile-gateway.js';
import { type HostileServer, reply, startHostileHttp } from './helpers/hostile-http.js';
import { settle } from './helpers/resources.js';
import { expectErrorClean, expectNoSecret, JWT, TOKEN } from './helpers/token.js';

let srv: HostileServer;
let gw: HostileGateway;
let cap: Capture;
let trap: CrashTrap;
const caught: unknown[] = [];

/** What a user does with an error: keep it and log it. */
function logError(where: string, err: unknown): void {
  caught.push(err);
  console.error(`[${where}]`, err);
}

beforeEach(async () => {
  caught.length = 0;
  trap = trapCrashes();
  srv = await startHostileHttp((_q, res) => reply(res, 404, ''));
  gw = await startHostileGateway({ kind: 'ws', onConnection: () => undefined });
  cap = captureOutput();
});

afterEach(async () => {
  cap.stop();
  await gw.close();
  await srv.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

function sse(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write(body);
}

function expectEverythingClean(): void {
  expect(caught.length).toBeGreaterThan(0);
  for (const e of caught) expectErrorClean(e);
  cap.texts.forEach((t, i) => expectNoSecret(t, `captured output #${i}`));
  trap.warnings.forEach((w, i) => expectNoSecret(`${w.message}\n${w.stack}`, `process warning #${i}`));
}

describe('token hygiene', () => {
  it('a failing bot flow (REST, SSE, audio connect, audio subscribe) never shows a secret', async () => {
    const echo = `Authorization: Bot ${TOKEN}`;
    let streams = 0;
    let live: ServerResponse | undefined;
    srv.handle((req, res) => {
      const url = req.url ?? '';
      if (url.includes('/IBotSelf/v1/GetMe')) return reply(res, 200, '{"botId":"b","userId":"u","username":"robust"}');
      if (url.includes('/IBotSelf/v1/GetSpaces')) return reply(res, 200, '{"spaces":[]}');
      if (url.includes('/IEvents/v1/Stream')) {
        streams++;
        if (streams === 1) return reply(res, 502, `<html><pre>${echo}</pre></html>`, { 'content-type': 'text/html' });
        live = res;
        return sse(res, `${echo}\n\nevent: ready\ndata: {"intents":12253,"spaces":[]}\nid: ready\n\n`);
      }
      if (url.includes('/IMessages/v1/Send')) {
        // While the bot listens: malformed events that echo the token, then an HTML 500 echoing it.
        live?.write(
          `${echo}\n\nevent: messageCreate\ndata: Bot ${TOKEN} is not JSON\nid: s_1\n\n` +
            `event: messageCreate\ndata: {"token":"${TOKEN}"\nid: s_2\n\n`,
        );
      }
      if (url.includes('/IVoice/v1/StreamToken'))
        return reply(res, 200, JSON.stringify({ token: JWT, ingressUrl: gw.url }));
      if (url.includes('/IVoiceEgress/')) {
        if (url.includes('Subscribe'))
          return reply(res, 200, JSON.stringify({ token: JWT, trackId: 'r:u', roomName: 'r' }));
        return reply(res, 500, `<h1>500</h1><p>${echo}</p>`, { 'content-type': 'text/html' });
      }
      return reply(res, 500, `<h1>Internal error</h1><p>${echo}</p>`, { 'content-type': 'text/html' });
    });
    gw.mode({
      kind: 'ws',
      onConnection: (ws, req) => {
        const msg = `failed to create session: invalid token ${JWT} for ${TOKEN}`;
        if (req.url?.includes('/audio/subscribe')) ws.send(`{"status":"error","message":"${msg}"}`);
        else ws.send(JSON.stringify({ status: 'error', message: msg }));
        ws.terminate();
      },
    });

    const bot = await Bot.connect({
      token: TOKEN,
      baseUrl: srv.url,
      zombieTimeoutMs: false,
      timeoutMs: 10_000,
      rest: { limiter: new RateLimiter({ limits: {} }), retries: 0, random: () => 0 },
    });
    bot.on('error', (e) => logError('events', e));
    try {
      // REST: an HTML 500 echoing the Authorization header (and, meanwhile, malformed SSE events).
      await bot.rest.messages.send({ channelId: 'c', text: 'hi' } as never).catch((e: unknown) => logError('rest', e));
      for (let i = 0; i < 2000 && caught.length < 4; i++) await new Promise<void>((r) => setTimeout(r, 1));
      expect(caught.filter((e) => (e as ArgonVoiceError).code === 'ARGON_VOICE_PROTOCOL').length).toBe(3);
      // Audio connect: the gateway's error message carries the JWT and the bot token.
      const conn = new VoiceConnection({
        rest: bot.rest as never,
        spaceId: 's',
        channelId: 'c',
        reconnect: false,
        pingIntervalMs: 0,
        pacer: { thread: new PacerThread({ realtimePriority: false }) },
      });
      conn.on('error', (e) => logError('voice', e));
      await conn.ready({ timeoutMs: 10_000 }).catch((e: unknown) => logError('voice.ready', e));
      await conn.close();
      // Audio subscribe: the token travels in ?token=; the error status echoes it.
      const sub = new VoiceSubscriber({
        rest: bot.rest as never,
        spaceId: 's',
        channelId: 'c',
        userId: 'u2',
        maxAttempts: 0,
        timeouts: { unsubscribeMs: 2_000 },
      });
      sub.on('error', (e) => logError('subscriber', e));
      await sub.waitFor('subscribed', { timeoutMs: 10_000 }).catch((e: unknown) => logError('subscriber.wait', e));
      await sub.close();
    } finally {
      await bot.close();
    }
    await settle();
    expect(caught.some((e) => e instanceof HttpError)).toBe(true);
    expect(caught.every((e) => e instanceof ArgonVoiceError)).toBe(true);
    expectEverythingClean();
  });

  it('bug: HttpError.platformMessage keeps a token the server echoed (JSON.stringify(err), console.error(err))', async () => {
    // src/errors.ts HttpError constructor: the message is redacted (super → redactSecrets) but
    // `this.platformMessage = details.platformMessage` is stored raw.
    srv.handle((_q, res) =>
      reply(res, 401, JSON.stringify({ error: 'unauthorized', message: `Invalid bot token: Bot ${TOKEN}` })),
    );
    const rest = new RestClient({
      token: TOKEN,
      baseUrl: srv.url,
      retries: 0,
      limiter: new RateLimiter({ limits: {} }),
    });
    try {
      await rest.botSelf.getMe().catch((e: unknown) => logError('rest', e));
    } finally {
      await rest.close();
    }
    expect(caught[0]).toBeInstanceOf(HttpError);
    expectEverythingClean();
  });

  it('bug: the "listener threw" process warning prints the listener error unredacted', async () => {
    // src/util/emitter.ts TypedEmitter.emit(): process.emitWarning(`… listener threw: ${err.message}`)
    // does not pass the text through redactSecrets; Node prints warnings to stderr.
    srv.handle((_q, res) =>
      sse(res, 'event: ready\ndata: {"intents":1,"spaces":[]}\nid: ready\n\nevent: typingStart\ndata: {}\nid: s_1\n\n'),
    );
    const rest = new RestClient({
      token: TOKEN,
      baseUrl: srv.url,
      retries: 0,
      limiter: new RateLimiter({ limits: {} }),
    });
    const stream = new EventStream({ rest, zombieTimeoutMs: false });
    stream.on('typingStart', () => {
      // A user bug that puts the configured token into an error message.
      throw new Error(`handler failed while calling the API with Bot ${TOKEN}`);
    });
    try {
      await stream.start();
      for (let i = 0; i < 2000 && trap.warnings.length === 0; i++) await new Promise<void>((r) => setTimeout(r, 1));
    } finally {
      await stream.close();
      await rest.close();
    }
    caught.push(new Error('placeholder')); // the flow threw nothing itself
    expect(trap.warnings.length).toBeGreaterThan(0);
    expectEverythingClean();
  });
});
