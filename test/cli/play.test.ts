import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { command } from '../../src/cli/commands/play.js';
import { parseFlags, resolvePlatform } from '../../src/cli/context.js';
import { Emulator } from '../../src/emulator/index.js';
import type { CliIo } from '../../src/cli/main.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { makeMp3, makeOggOpus } from '../helpers/fixtures.js';

function captureIo(env: NodeJS.ProcessEnv = {}): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c) => (o += c));
  stderr.on('data', (c) => (e += c));
  return { stdout, stderr, env, signal: new AbortController().signal, out: () => o, err: () => e };
}

function countOggPackets(path: string): number {
  const d = new OggOpusDemuxer();
  const evs = [...d.write(readFileSync(path)), ...d.end()];
  return evs.filter((x) => x.type === 'packet').length;
}

describe('parseFlags', () => {
  it('parses values, booleans, negations, numbers and positionals', () => {
    const spec = {
      'frame-ms': { type: 'number' as const, default: 20 },
      stereo: { type: 'boolean' as const },
      space: { type: 'string' as const, short: 's' },
    };
    const r = parseFlags(['a.ogg', '--frame-ms=40', '--stereo', '-s', 'S1', '--', '--not-a-flag'], spec);
    expect(r.flags).toEqual({ 'frame-ms': 40, stereo: true, space: 'S1' });
    expect(r.positionals).toEqual(['a.ogg', '--not-a-flag']);
    expect(parseFlags(['--no-stereo'], spec).flags.stereo).toBe(false);
    expect(() => parseFlags(['--frame-ms', 'x'], spec)).toThrow(/number/);
    expect(() => parseFlags(['--bogus'], spec)).toThrow(/unknown option/);
    expect(() => parseFlags(['--space'], spec)).toThrow(/needs a value/);
  });
});

describe('argon-voice play (embedded emulator)', () => {
  it('plays an Ogg Opus file out: exit 0, every frame sent and heard by the simulated listener', async () => {
    const file = await makeOggOpus({ durationS: 1 });
    const expected = countOggPackets(file);
    const io = captureIo();
    // stretch: a late slot waits instead of being skipped, so "every frame sent" cannot depend on
    // how long a busy machine starves the pacer thread (burst, the default, skips past 200 ms).
    const code = await command.run([file, '--late-policy', 'stretch'], io);
    expect(io.err()).not.toMatch(/argon-voice play:/);
    expect(code).toBe(0);
    const stats = JSON.parse(io.out().trim().split('\n').at(-1)!) as Record<string, number>;
    expect(stats.frames).toBe(expected);
    expect(stats.invalidReplaced).toBe(0);
    // Pre-roll silence + the file's frames reached the listener, nothing skipped.
    expect(stats.listenerFrames).toBeGreaterThanOrEqual(expected);
    expect(stats.skipped).toBe(0);
  });

  it('transcodes an mp3 through ffmpeg with --volume and --stereo', async () => {
    const file = await makeMp3({ durationS: 0.5 });
    const io = captureIo();
    const code = await command.run([file, '--volume', '0.5', '--stereo', '--late-policy', 'stretch'], io);
    expect(code).toBe(0);
    const stats = JSON.parse(io.out().trim().split('\n').at(-1)!) as Record<string, number>;
    expect(stats.frames).toBeGreaterThanOrEqual(25);
    expect(stats.frames).toBeLessThanOrEqual(27);
  });

  it('exits non-zero with a clear message for a missing file and for bad flags', async () => {
    const io = captureIo();
    expect(await command.run(['/nonexistent/file.ogg'], io)).toBe(1);
    expect(io.err()).toMatch(/argon-voice play: .*nonexistent/);
    await expect(command.run(['x.ogg', '--frame-ms', '25'], captureIo())).rejects.toThrow(/frame-ms/);
    await expect(command.run([], captureIo())).rejects.toThrow(/needs a file/);
  });
});

describe('resolvePlatform', () => {
  it("with ARGON_TOKEN uses ARGON_API_URL and finds the bot's first space and its first voice channel", async () => {
    const emu = await Emulator.start({ port: 0, audio: false });
    try {
      const io = captureIo({ ARGON_TOKEN: emu.bot.token, ARGON_API_URL: emu.apiUrl });
      const ctx = await resolvePlatform(io);
      expect(ctx.emulator).toBeUndefined();
      expect(ctx.apiUrl).toBe(emu.apiUrl);
      expect(ctx.spaceId).toBe(emu.demo.spaceId);
      expect(ctx.channelId).toBe(emu.demo.voiceChannelId);
      await ctx.close();
      await ctx.close();
      const io2 = captureIo({
        ARGON_TOKEN: emu.bot.token,
        ARGON_API_URL: emu.apiUrl,
        ARGON_SPACE_ID: 'S-env',
        ARGON_CHANNEL_ID: 'C-env',
      });
      const fromEnv = await resolvePlatform(io2);
      expect([fromEnv.spaceId, fromEnv.channelId]).toEqual(['S-env', 'C-env']);
      await fromEnv.close();
      const fromFlags = await resolvePlatform(io2, { space: 'S-flag', channel: 'C-flag' });
      expect([fromFlags.spaceId, fromFlags.channelId]).toEqual(['S-flag', 'C-flag']);
      await fromFlags.close();
    } finally {
      await emu.close();
    }
  });

  it('without ARGON_TOKEN starts an embedded emulator and stops it on close()', async () => {
    const ctx = await resolvePlatform(captureIo());
    expect(ctx.emulator).toBeDefined();
    expect(ctx.spaceId).toBe(ctx.emulator!.demo.spaceId);
    expect(ctx.channelId).toBe(ctx.emulator!.demo.voiceChannelId);
    const me = await ctx.rest.botSelf.getMe();
    expect(me.userId).toBe(ctx.emulator!.bot.userId);
    await ctx.close();
    await expect(ctx.rest.botSelf.getMe({ timeoutMs: 2000 })).rejects.toBeDefined();
  });
});
