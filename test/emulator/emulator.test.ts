/**
 * The Emulator composition and control API: demo world, voice join/leave events (simulated people
 * and bots connecting through the gateway), the CLI command, and a clean close with no handles left.
 */
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { command } from '../../src/cli/commands/emulator.js';
import { Emulator, parseJson, stringifyJson } from '../../src/emulator/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { until } from '../helpers/until.js';
import type { StreamTokenGrant } from '../../src/voice/connection.js';

/** POSTs `body` as the bot; resolves with the parsed JSON response, which the caller asserts is a `T`. */
function post<T>(emu: Emulator, path: string, body: unknown): Promise<T> {
  const u = new URL(emu.apiUrl);
  const text = stringifyJson(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: 'POST',
        path,
        agent: false,
        headers: {
          authorization: `Bot ${emu.bot.token}`,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(parseJson(Buffer.concat(chunks).toString('utf8')) as T));
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

function openStream(emu: Emulator, query: string): { text: () => string; close: () => void } {
  const u = new URL(emu.apiUrl);
  const chunks: Buffer[] = [];
  const req = request(
    {
      host: u.hostname,
      port: u.port,
      path: `/api/bot/IEvents/v1/Stream${query}`,
      headers: { authorization: `Bot ${emu.bot.token}` },
      agent: false,
    },
    (res) => res.on('data', (c: Buffer) => chunks.push(c)),
  );
  req.on('error', () => undefined);
  req.end();
  return { text: () => Buffer.concat(chunks).toString('utf8'), close: () => req.destroy() };
}

const countHandles = () => {
  const info = process.getActiveResourcesInfo();
  return {
    servers: info.filter((r) => r === 'TCPServerWrap').length,
    sockets: info.filter((r) => r === 'TCPSocketWrap').length,
    timers: info.filter((r) => r === 'Timeout').length,
  };
};

describe('Emulator', () => {
  it('seeds a demo world with a verified bot, a space with text and voice channels and two users', async () => {
    const emu = await Emulator.start({ audio: false });
    try {
      expect(emu.bot.token).toMatch(/^[0-9A-F]{32}:[A-Za-z0-9_-]{43}$/);
      expect(emu.bot.verified).toBe(true);
      expect(emu.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const st = emu.core.state;
      expect(st.channels.get(emu.demo.textChannelId)?.type).toBe(0);
      expect(st.channels.get(emu.demo.voiceChannelId)?.type).toBe(1);
      for (const id of [emu.bot.userId, ...emu.demo.userIds]) expect(st.isMember(emu.demo.spaceId, id)).toBe(true);
      expect(() => emu.gateway).toThrow(/audio: false/);
    } finally {
      await emu.close();
    }
  });

  it('joinVoice emits voiceJoin, leave emits voiceLeave; a bot publishing via StreamToken shows up too', async () => {
    const emu = await Emulator.start({ timings: { sseBatchMs: 10, joinDelayMs: 0 } });
    const s = openStream(emu, '?intents=2048');
    try {
      await until(() => s.text().includes('id: ready'), 'ready');
      const alice = emu.demo.userIds[0];
      const p = emu.joinVoice(alice, { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId });
      expect(emu.gateway.roomMembers(`${emu.demo.spaceId}/${emu.demo.voiceChannelId}`)).toContain(alice);
      await until(() => s.text().includes('event: voiceJoin'), 'voiceJoin');
      expect(s.text()).toContain(
        `data: {"spaceId":"${emu.demo.spaceId}","channelId":"${emu.demo.voiceChannelId}","user":{"userId":"${alice}","username":"alice"`,
      );
      p.leave();
      await until(() => s.text().includes('event: voiceLeave'), 'voiceLeave');
      const tok = await post<StreamTokenGrant>(emu, '/api/bot/IVoice/v1/StreamToken', {
        spaceId: emu.demo.spaceId,
        channelId: emu.demo.voiceChannelId,
      });
      const ws = new WebSocket(`${tok.ingressUrl}/audio/connect?token=${tok.token}&stereo=false&frame_duration_ms=20`);
      ws.on('error', () => undefined);
      await until(() => s.text().split('event: voiceJoin').length === 3, 'bot voiceJoin');
      expect(s.text()).toContain(`"user":{"userId":"${emu.bot.userId}"`);
      ws.close();
      await until(() => s.text().split('event: voiceLeave').length === 3, 'bot voiceLeave');
    } finally {
      s.close();
      await emu.close();
    }
  });

  it('close() is idempotent and leaves no servers, sockets or timers behind', async () => {
    // Let handles of earlier tests finish closing before taking the baseline.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    const before = countHandles();
    const emu = await Emulator.start({ timings: { sseBatchMs: 20 } });
    const s = openStream(emu, '');
    await until(() => s.text().includes('id: ready'), 'ready');
    emu.placeCall({ fromUserId: emu.demo.userIds[0] });
    const during = countHandles();
    expect(during.servers).toBe(before.servers + 2);
    expect(during.timers).toBeGreaterThan(before.timers);
    await Promise.all([emu.close(), emu.close()]);
    await emu.close();
    await until(() => {
      const now = countHandles();
      // A leak shows as more handles than the baseline; fewer is fine (the baseline may include a
      // socket of the previous test that was still closing).
      return now.servers <= before.servers && now.sockets <= before.sockets && now.timers <= before.timers;
    }, 'handles released');
    s.close();
  });

  it('a ManualClock drives every timer: nothing pending after close', async () => {
    const clock = new ManualClock();
    const emu = await Emulator.start({ clock, audio: false });
    const s = openStream(emu, '');
    await until(() => s.text().includes('id: ready'), 'ready');
    emu.placeCall({ fromUserId: emu.demo.userIds[0] });
    expect(clock.pendingTimers).toBeGreaterThanOrEqual(2);
    await emu.close();
    expect(clock.pendingTimers).toBe(0);
    s.close();
  });
});

describe('argon-voice emulator (CLI)', () => {
  it('prints the base URL, token line and demo ids, then closes cleanly on abort', async () => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (d: Buffer) => (out += d.toString()));
    const ac = new AbortController();
    const done = command.run(['--port', '0'], { stdout, stderr: new PassThrough(), env: {}, signal: ac.signal });
    await until(() => out.includes('voice channel:'), 'banner');
    const api = /^api: (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1];
    const token = /^token: (\S+)$/m.exec(out)?.[1];
    expect(api).toBeDefined();
    expect(token).toMatch(/^[0-9A-F]{32}:[A-Za-z0-9_-]{43}$/);
    expect(out).toMatch(/^space: [0-9a-f-]{36}$/m);
    expect(out).toMatch(/^voice channel: [0-9a-f-]{36}$/m);
    const me = await fetch(`${api}/IBotSelf/v1/GetMe`, {
      headers: { authorization: `Bot ${token}`, connection: 'close' },
    });
    expect(me.status).toBe(200);
    ac.abort();
    expect(await done).toBe(0);
    await expect(fetch(`${api}/IBotSelf/v1/GetMe`)).rejects.toThrow();
  });

  it('rejects a bad --port', async () => {
    await expect(
      command.run(['--port', 'x'], {
        stdout: new PassThrough(),
        stderr: new PassThrough(),
        env: {},
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow(/port/);
  });
});
