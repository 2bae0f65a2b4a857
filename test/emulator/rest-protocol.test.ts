/**
 * Raw-HTTP protocol tests of the emulator's REST side: routing, auth and pipeline order,
 * path tokens, error body variants, the membership filter, bad input, and the docs' own
 * curl-style request forms (docs/platform.md §R1–§R4).
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator, parseJson, stringifyJson } from '../../src/emulator/index.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function http(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; headers?: Record<string, string>; body?: string | Buffer; json?: unknown } = {},
): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bot ${opts.token}`;
    let body = opts.body;
    if (opts.json !== undefined) {
      body = stringifyJson(opts.json);
      headers['content-type'] ??= 'application/json';
    }
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
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

let emu: Emulator;
let token: string;
beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audio: false });
  token = emu.bot.token;
});
afterAll(async () => {
  await emu.close();
});

describe('routing and auth order (§R1.2, §R1.6)', () => {
  it('unknown path is 404 with an empty body, before auth', async () => {
    for (const p of ['/api/bot/IBotSelf/v2/GetMe', '/api/bot/ICalls/v1/Accept', '/api/bot/INope/v1/X', '/nothing']) {
      const r = await http(emu.apiUrl, 'GET', p);
      expect(r.status, p).toBe(404);
      expect(r.text).toBe('');
    }
  });

  it('wrong method is 405 with Allow and an empty body, before auth', async () => {
    const r = await http(emu.apiUrl, 'POST', '/api/bot/IBotSelf/v1/GetMe');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET');
    expect(r.text).toBe('');
    const d = await http(emu.apiUrl, 'GET', '/api/bot/IReactions/v1/Remove');
    expect(d.status).toBe(405);
    expect(d.headers.allow).toBe('DELETE');
  });

  it('every auth failure is 401 with an empty body and no WWW-Authenticate', async () => {
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: `Bearer ${token}` },
      { authorization: 'Bot ' },
      { authorization: 'Bot not-a-token' },
      { authorization: `Bot ${token.slice(0, -2)}xx` },
      { authorization: `Bot ${'A'.repeat(32)}:${'b'.repeat(43)}` },
    ];
    for (const headers of cases) {
      const r = await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/GetMe', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.text).toBe('');
      expect(r.headers['www-authenticate']).toBeUndefined();
    }
  });

  it('restricted bots are 401', async () => {
    const b = emu.createBot({ username: 'restricted' });
    emu.core.state.bots.get(b.botId)!.restricted = true;
    expect((await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/GetMe', { token: b.token })).status).toBe(401);
  });

  it('the Bot scheme is case-insensitive and the token trimmed', async () => {
    const r = await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/GetMe', {
      headers: { authorization: `bOT   ${token}  ` },
    });
    expect(r.status).toBe(200);
  });

  it('literal segments are case-insensitive, trailing slash tolerated, prefix optional', async () => {
    for (const p of ['/API/BOT/ibotself/V1/getme/', '/IBotSelf/v1/GetMe', '/ibotself/v1/GETME/']) {
      const r = await http(emu.apiUrl, 'GET', p, { token });
      expect(r.status, p).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(Object.keys(parseJson(r.text) as object)).toEqual(['botId', 'userId', 'username', 'displayName']);
    }
  });

  it('draft interfaces route only under their date-number version', async () => {
    const r = await http(emu.apiUrl, 'GET', '/api/bot/ICalls/v20260401/Ringing', { token });
    expect(r.status).toBe(200);
    expect(r.text).toBe('{"calls":[]}');
  });

  it('anonymous metadata endpoint lists the 14 interfaces', async () => {
    const r = await http(emu.apiUrl, 'GET', '/api/bot/');
    expect(r.status).toBe(200);
    const doc = parseJson(r.text) as { interfaces: Array<{ name: string; latestVersion: number }> };
    expect(doc.interfaces).toHaveLength(14);
    expect(doc.interfaces.find((i) => i.name === 'IVoiceEgress')?.latestVersion).toBe(20260401);
  });
});

describe('CORS (§R1.6 step 3)', () => {
  it('answers preflights for allowed origins before auth and tags actual responses', async () => {
    const pre = await http(emu.apiUrl, 'OPTIONS', '/api/bot/IEvents/v1/Stream', {
      headers: {
        origin: 'http://localhost:5173',
        'access-control-request-method': 'GET',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe('http://localhost:5173');
    expect(pre.headers['access-control-allow-headers']).toBe('authorization');
    const evil = await http(emu.apiUrl, 'OPTIONS', '/api/bot/IEvents/v1/Stream', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(evil.headers['access-control-allow-origin']).toBeUndefined();
    const ok = await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/GetMe', {
      token,
      headers: { origin: 'https://app.argon.gl' },
    });
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.argon.gl');
    expect(ok.headers['access-control-expose-headers']).toBeUndefined();
  });
});

describe('path token (§R1.3)', () => {
  it('accepts /api/bot/<token>/… and /<token>/…, with %3A, overriding the header', async () => {
    const esc = token.replace(':', '%3A');
    for (const p of [
      `/api/bot/${token}/IBotSelf/v1/GetMe`,
      `/${token}/IBotSelf/v1/GetMe`,
      `/api/bot/${esc}/IBotSelf/v1/GetMe`,
    ]) {
      const r = await http(emu.apiUrl, 'GET', p, { headers: { authorization: 'Bot garbage' } });
      expect(r.status, p).toBe(200);
    }
  });

  it('a token not fitting the regex is not rewritten (404); a regex-shaped wrong one is 401', async () => {
    const padded = `${token}=`;
    expect((await http(emu.apiUrl, 'GET', `/api/bot/${padded}/IBotSelf/v1/GetMe`)).status).toBe(404);
    const short = `${token.slice(0, 33)}abc`;
    expect((await http(emu.apiUrl, 'GET', `/api/bot/${short}/IBotSelf/v1/GetMe`)).status).toBe(404);
    const wrong = `${'0'.repeat(32)}:${'x'.repeat(43)}`;
    const r = await http(emu.apiUrl, 'GET', `/api/bot/${wrong}/IBotSelf/v1/GetMe`, { token });
    expect(r.status).toBe(401);
  });
});

describe('bad input never crashes (§R2.3)', () => {
  const send = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    http(emu.apiUrl, 'POST', '/api/bot/IMessages/v1/Send', { token, body, headers });

  it('malformed JSON, wrong types, non-dashed GUIDs, missing body → 400 empty', async () => {
    const ch = emu.demo.textChannelId;
    const bodies = [
      '{',
      '{"channelId":',
      'nul',
      '[1,2]',
      '"text"',
      `{"channelId":"${ch}","text":5}`,
      `{"channelId":"${ch}","text":"x","randomId":1.5}`,
      `{"channelId":"${ch}","text":"x","randomId":"12a"}`,
      `{"channelId":"${ch}","text":"x","randomId":99999999999999999999}`,
      `{"channelId":"${ch.replace(/-/g, '')}","text":"x"}`,
      `{"channelId":"{${ch}}","text":"x"}`,
      `{"channelId":"${ch}","text":"x","entities":[{"offset":0}]}`,
      `{"channelId":"${ch}","text":"x","entities":[{"type":21,"offset":0,"length":1}]}`,
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      '',
    ];
    for (const b of bodies) {
      const r = await send(b);
      expect(r.status, b.slice(0, 60)).toBe(400);
      expect(r.text).toBe('');
    }
  });

  it('JSON route without a JSON content type → 415 empty; huge body → 413 empty', async () => {
    const r = await send('{}', { 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.text).toBe('');
    const big = Buffer.alloc(1024 * 1024 + 10, 0x20);
    const h = await send(big);
    expect(h.status).toBe(413);
    const after = await http(emu.apiUrl, 'GET', '/api/bot/IBotSelf/v1/GetMe', { token });
    expect(after.status).toBe(200);
  });

  it('missing/unparsable query parameters → 400 empty; any .NET GUID form accepted in the query', async () => {
    expect((await http(emu.apiUrl, 'GET', '/api/bot/ISpaces/v1/Get', { token })).status).toBe(400);
    expect(
      (
        await http(emu.apiUrl, 'GET', `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}&limit=abc`, {
          token,
        })
      ).status,
    ).toBe(400);
    const n = emu.demo.spaceId.replace(/-/g, '').toUpperCase();
    for (const form of [n, `{${emu.demo.spaceId}}`, `(${emu.demo.spaceId})`]) {
      const r = await http(emu.apiUrl, 'GET', `/api/bot/ISpaces/v1/Get?SPACEID=${encodeURIComponent(form)}`, { token });
      expect(r.status, form).toBe(200);
    }
  });

  it('enums are integers: a string channelType is a 400', async () => {
    const path = '/api/bot/IChannels/v1/Create';
    const s = await http(emu.apiUrl, 'POST', path, {
      token,
      json: { spaceId: emu.demo.spaceId, name: 'x', channelType: 'voice' },
    });
    expect(s.status).toBe(400);
    const n = await http(emu.apiUrl, 'POST', path, {
      token,
      json: { spaceId: emu.demo.spaceId, name: 'enum-ok', channelType: 1 },
    });
    expect(n.status).toBe(200);
    expect((parseJson(n.text) as { channelType: string }).channelType).toBe('Voice');
  });

  it('an entity type given as a string is a 500 with an empty body (server bug reproduced)', async () => {
    const r = await send(
      `{"channelId":"${emu.demo.textChannelId}","text":"x","randomId":"77","entities":[{"type":"bold","offset":0,"length":1}]}`,
    );
    expect(r.status).toBe(500);
    expect(r.text).toBe('');
  });
});

describe('error bodies and the membership filter (§R2.2, §R2.4, §R2.5)', () => {
  it('variant A with null message, variant B without message, variant C from the filter', async () => {
    const a = await http(emu.apiUrl, 'DELETE', `/api/bot/ICommands/v1/Delete?commandId=${crypto.randomUUID()}`, {
      token,
    });
    expect(a.status).toBe(404);
    expect(a.text).toBe('{"error":"not_found","message":null}');
    const b = await http(emu.apiUrl, 'POST', '/api/bot/IInteractions/v1/Ack', {
      token,
      json: { interactionId: crypto.randomUUID() },
    });
    expect(b.status).toBe(404);
    expect(b.text).toBe('{"error":"interaction_not_found"}');
    const c = await http(emu.apiUrl, 'GET', `/api/bot/IChannels/v1/List?spaceId=${crypto.randomUUID()}`, { token });
    expect(c.status).toBe(403);
    expect(c.text).toBe('{"error":"not_a_member","message":"Bot is not a member of this space."}');
  });

  it('UnsubscribeTrack: 400 missing_space_id unless ?spaceId=, then 200', async () => {
    const path = '/api/bot/IVoiceEgress/v20260401/UnsubscribeTrack';
    const no = await http(emu.apiUrl, 'DELETE', path, { token, json: { trackId: 'x' } });
    expect(no.status).toBe(400);
    expect(no.text).toBe('{"error":"missing_space_id","message":"spaceId is required."}');
    const yes = await http(emu.apiUrl, 'DELETE', `${path}?spaceId=${emu.demo.spaceId}`, {
      token,
      json: { trackId: 'x' },
    });
    expect(yes.status).toBe(200);
    expect(yes.text).toBe('{"deleted":true}');
  });

  it('a missing body spaceId binds to the zero GUID → 403; the query spaceId overrides the body one', async () => {
    const path = '/api/bot/IVoice/v1/StreamToken';
    const missing = await http(emu.apiUrl, 'POST', path, { token, json: { channelId: emu.demo.voiceChannelId } });
    expect(missing.status).toBe(403);
    const override = await http(emu.apiUrl, 'POST', `${path}?spaceId=${crypto.randomUUID()}`, {
      token,
      json: { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId },
    });
    expect(override.status).toBe(403);
  });

  it('binding errors come before the membership filter', async () => {
    const r = await http(emu.apiUrl, 'POST', '/api/bot/IChannels/v1/Create', {
      token,
      json: { spaceId: crypto.randomUUID(), name: 5 },
    });
    expect(r.status).toBe(400);
  });

  it('StreamToken: channel_not_found then not_voice_channel; IChannels permission failure reuses not_a_member', async () => {
    const path = '/api/bot/IVoice/v1/StreamToken';
    const nf = await http(emu.apiUrl, 'POST', path, {
      token,
      json: { spaceId: emu.demo.spaceId, channelId: crypto.randomUUID() },
    });
    expect([nf.status, (parseJson(nf.text) as { error: string }).error]).toEqual([404, 'channel_not_found']);
    const nv = await http(emu.apiUrl, 'POST', path, {
      token,
      json: { spaceId: emu.demo.spaceId, channelId: emu.demo.textChannelId },
    });
    expect([nv.status, (parseJson(nv.text) as { error: string }).error]).toEqual([400, 'not_voice_channel']);
    emu.core.state.spaces.get(emu.demo.spaceId)!.members.get(emu.bot.userId)!.entitlements &= ~(1n << 50n);
    try {
      const c = await http(emu.apiUrl, 'POST', '/api/bot/IChannels/v1/Create', {
        token,
        json: { spaceId: emu.demo.spaceId, name: 'x', description: null, channelType: 0 },
      });
      expect(c.status).toBe(403);
      expect(c.text).toBe('{"error":"not_a_member","message":"Bot does not have ManageChannels permission."}');
    } finally {
      emu.core.state.spaces.get(emu.demo.spaceId)!.members.get(emu.bot.userId)!.entitlements |= 1n << 50n;
    }
  });

  it('empty-200 routes have Content-Length 0 and no content type', async () => {
    const r = await http(emu.apiUrl, 'POST', '/api/bot/ITyping/v1/Start', {
      token,
      json: { channelId: emu.demo.textChannelId, kind: 'Thinking' },
    });
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe('0');
    expect(r.headers['content-type']).toBeUndefined();
    const bad = await http(emu.apiUrl, 'POST', '/api/bot/ITyping/v1/Start', {
      token,
      json: { channelId: emu.demo.textChannelId, kind: 'dancing' },
    });
    expect(bad.status).toBe(400);
    expect((parseJson(bad.text) as { error: string }).error).toBe('invalid_kind');
  });
});

describe("the docs' curl-style request forms (§R1.1, §R4.3)", () => {
  it('unprefixed path, Bot header, int64 as strings and PascalCase member names behave as documented', async () => {
    const randomId = '9007199254740993123';
    const r = await http(emu.apiUrl, 'POST', '/IMessages/v1/Send', {
      token,
      headers: { 'content-type': 'application/json' },
      body: `{"ChannelId":"${emu.demo.textChannelId}","Text":"hello from curl","RandomId":"${randomId}","spaceId":"${emu.demo.spaceId}"}`,
    });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/^\{"messageId":\d{18,19}\}$/);
    const id = (parseJson(r.text) as { messageId: bigint }).messageId;
    expect(typeof id).toBe('bigint');
    const h = await http(emu.apiUrl, 'GET', `/IMessages/v1/History?channelId=${emu.demo.textChannelId}&limit=1`, {
      token,
    });
    const msgs = (parseJson(h.text) as { messages: Array<{ messageId: bigint; text: string }> }).messages;
    expect(msgs[0]?.messageId).toBe(id);
    expect(msgs[0]?.text).toBe('hello from curl');
  });
});
