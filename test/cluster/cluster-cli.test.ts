/**
 * `argon-voice cluster` against a real nats-server, the emulator and one worker process: the
 * player controls, a recording, status, and what it says for bad input and for a space nobody holds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../../src/cli/commands/cluster.js';
import type { CliIo } from '../../src/cli/types.js';
import { connectNats, openStores } from '../../src/cluster/nats.js';
import { Emulator } from '../../src/emulator/index.js';
import { makeOggOpus } from '../helpers/fixtures.js';
import { type CliChild, type NatsServer, spawnCli, startNats, until } from './helpers.js';

describe('argon-voice cluster (nats-server + emulator + a worker process)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  let worker: CliChild;
  let outDir: string;
  let env: Record<string, string>;
  /**
   * Added to the environment once the first play found the defaults through the platform: with
   * the bot, space and channel given, a command makes no REST call (the platform's rate limits
   * would otherwise pace the polling below).
   */
  let ids: Record<string, string> = {};

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 } });
    // A generous lease: no stall of this loaded machine may move the space mid-test.
    const nc = await connectNats(nats.url);
    await openStores(nc, emu.bot.botId, { leaseTtlMs: 10_000 });
    await nc.close();
    outDir = mkdtempSync(join(tmpdir(), 'argon-cluster-cli-'));
    const rec = emu.createBot({ username: 'rec-1' });
    emu.addMember(emu.demo.spaceId, rec.userId);
    env = { ARGON_NATS_URL: nats.url, ARGON_TOKEN: emu.bot.token, ARGON_API_URL: emu.apiUrl };
    worker = spawnCli(['worker', '--id', 'w1'], {
      ...env,
      ARGON_AUDIO_URL: emu.audioUrl,
      ARGON_EXTRA_TOKENS: rec.token,
    });
    await worker.waitFor((e) => e.event === 'started', 'the worker to start');
  }, 60_000);
  afterAll(async () => {
    await worker?.kill9();
    await emu?.close();
    await nats?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  /** Runs `argon-voice cluster ...args` in this process; resolves with its exit code and JSON line. */
  async function cluster(...args: string[]): Promise<{ code: number; out: Record<string, unknown>; text: string }> {
    const stdout = new PassThrough();
    let text = '';
    stdout.on('data', (c) => (text += c));
    const io: CliIo = {
      stdout,
      stderr: new PassThrough(),
      env: { ...env, ...ids },
      signal: new AbortController().signal,
    };
    const code = await command.run(ids.ARGON_SPACE_ID ? [...args, '--bot', emu.bot.botId] : args, io);
    const last = text.trim().split('\n').at(-1) ?? '{}';
    return { code, out: JSON.parse(last) as Record<string, unknown>, text };
  }

  it('plays, queues, turns down, skips and stops a space through the worker; a stopped space has no holder', async () => {
    const track = await makeOggOpus({ durationS: 6 });
    // No space or channel given: the bot's first space and its first voice channel.
    const played = await cluster('play', track, '--title', 'six seconds');
    expect(played.code).toBe(0);
    expect(played.out).toMatchObject({ event: 'play', workerId: 'w1', spaceId: emu.demo.spaceId });
    ids = { ARGON_SPACE_ID: emu.demo.spaceId, ARGON_CHANNEL_ID: emu.demo.voiceChannelId };
    await cluster('play', track, '--title', 'again');
    const q = await until(async () => {
      const r = await cluster('queue');
      return r.out.current ? r : undefined;
    }, 'the first track to play');
    expect(q.out).toMatchObject({ workerId: 'w1', current: { title: 'six seconds' }, queue: ['again'] });
    expect((await cluster('volume', '0.5')).out).toMatchObject({ volume: 0.5 });
    expect((await cluster('pause')).out).toMatchObject({ paused: true });
    expect((await cluster('resume')).out).toMatchObject({ paused: false });
    await cluster('skip');
    await until(async () => {
      const r = await cluster('queue');
      return (r.out.current as { title?: string } | null)?.title === 'again' ? true : undefined;
    }, 'the second track to play after skip');
    expect((await cluster('stop')).code).toBe(0);
    await expect(cluster('queue', '--timeout', '3000')).rejects.toMatchObject({ reason: 'no-holder' });
    // The token stays in the environment: nothing printed carries it.
    expect(played.text).not.toContain(emu.bot.token);
  }, 60_000);

  it('records a user on the worker (as its ARGON_EXTRA_TOKENS bot) and stops the recording', async () => {
    const { spaceId, voiceChannelId: channelId } = emu.demo;
    const user = emu.createUser({ username: 'speaker' });
    const talk = emu.joinVoice(user.userId, { spaceId, channelId }).speak({ sine: 440, durationMs: 30_000 });
    try {
      const started = await cluster('record', '--user', user.userId, '--out', outDir);
      expect(started.out).toMatchObject({ event: 'recording', workerId: 'w1', spaceId, channelId });
      expect((started.out.recording as { users: string[] }).users).toEqual([user.userId]);
      const stopped = await cluster('stop-recording');
      expect(stopped.out).toMatchObject({ event: 'recordingStopped', workerId: 'w1' });
      const segs = (stopped.out.recording as { segments: Array<{ index: number; workerId: string }> }).segments;
      expect(segs.map((s) => [s.index, s.workerId])).toEqual([[1, 'w1']]);
    } finally {
      talk.stop();
    }
  }, 60_000);

  it('lists the worker in status, and refuses bad input with a clear message before connecting', async () => {
    const s = await cluster('status', '--wait', '1500');
    expect(s.out.event).toBe('status');
    expect((s.out.workers as Array<{ workerId: string }>).map((w) => w.workerId)).toEqual(['w1']);
    await expect(cluster('volume', '3')).rejects.toThrow(/0 to 2/);
    await expect(cluster('bogus')).rejects.toThrow(/unknown cluster action 'bogus'/);
    await expect(cluster('play')).rejects.toThrow(/needs an INPUT/);
    await expect(cluster('record', '--out', outDir)).rejects.toThrow(/--user/);
    await expect(cluster('skip', 'extra')).rejects.toThrow(/unexpected argument 'extra'/);
    await expect(cluster('reject', 'no-such-call', '--timeout', '2000')).rejects.toMatchObject({ reason: 'no-holder' });
    const noNats = { ...env };
    delete (noNats as Record<string, string | undefined>).ARGON_NATS_URL;
    const io: CliIo = {
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      env: noNats,
      signal: new AbortController().signal,
    };
    await expect(command.run(['skip'], io)).rejects.toThrow(/ARGON_NATS_URL/);
    await expect(command.run(['skip'], { ...io, env: { ARGON_NATS_URL: nats.url } })).rejects.toThrow(
      /ARGON_TOKEN .* or --bot ID/,
    );
  }, 60_000);
});
