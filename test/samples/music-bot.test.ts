import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silencePacket } from '../../src/codec/silence.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/client.js';
import { MusicBot, run } from '../../samples/music-bot/index.js';
import { connectPlatform } from '../../samples/shared/platform.js';

let emu: Emulator;
beforeAll(async () => {
  // Faster SSE delivery than the platform's 500 ms batches: the script waits on replies, not on time.
  emu = await Emulator.start({ port: 0, timings: { sseBatchMs: 50 } });
});
afterAll(async () => {
  await emu.close();
});

describe('music-bot sample', () => {
  it('plays, queues, turns down, skips and stops for a simulated DJ and listener', async () => {
    const lines: string[] = [];
    // The intro's packets are compared one by one: a late pacer slot (a busy machine) must delay a
    // frame, never drop it.
    const r = await run({
      emulator: emu,
      env: {},
      demoTrackMs: 1000,
      crossfadeMs: 400,
      pacer: { latePolicy: 'burst', maxBurst: 1000 },
      log: (l) => lines.push(l),
    });
    expect(r.mode).toBe('emulator');
    const demo = r.demo!;

    // Every command was answered, in order.
    expect(r.transcript.map((x) => x.name)).toEqual(['play', 'play', 'play', 'queue', 'volume', 'skip', 'stop']);
    const reply = (name: string) => r.transcript.find((x) => x.name === name)!.reply;
    expect(r.transcript[0]!.reply).toBe('Playing intro.opus');
    expect(r.transcript[1]!.reply).toBe('Queued middle.wav (#1 in the queue)');
    expect(reply('queue')).toBe(['Now playing: intro.opus', 'Up next:', '1. middle.wav', '2. outro.wav'].join('\n'));
    expect(reply('volume')).toBe('Volume 50 % (from the next track: the current one is passed through untouched)');
    expect(reply('skip')).toBe('Skipped intro.opus; next: middle.wav');
    expect(reply('stop')).toMatch(/left the voice channel$/);

    // The replies really reached the text channel.
    const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
    const { messages } = await rest.messages.history({ channelId: emu.demo.textChannelId, limit: 20 });
    await rest.close();
    expect(messages.map((m) => m.text)).toContain(reply('queue'));

    // Three tracks: the Ogg file passed through, the WAV files decoded; the middle one ran to its end.
    expect(r.tracks.map((t) => [t.title, t.passthrough])).toEqual([
      ['intro.opus', true],
      ['middle.wav', false],
      ['outro.wav', false],
    ]);
    expect(r.tracks.map((t) => t.result?.status)).toEqual(['stopped', 'finished', 'stopped']);
    // Crossfade: the middle track's last 400 ms (20 frames) went out mixed into the outro's first frames.
    expect(r.tracks[1]!.result!.frames).toBe(1000 / 20 - 400 / 20);

    // The listener heard music; passthrough means the file's own packets, byte for byte.
    expect(demo.audioFrames).toBeGreaterThan(20);
    const filler = silencePacket(1, 20);
    const audio = demo.heard.filter((f) => !(f.length === filler.length && f.every((b, i) => b === filler[i])));
    expect(audio.length).toBe(demo.audioFrames);
    const first = audio.slice(0, 10).map((f) => Buffer.from(f).toString('hex'));
    expect(first).toEqual(demo.introPackets.slice(0, 10).map((f) => Buffer.from(f).toString('hex')));

    // /stop: the bot left, and nothing arrived afterwards.
    expect(demo.heardAtStop).toBe(demo.heard.length);
    expect(demo.heardAfterStop).toBe(0);
    expect(emu.gateway.sessions().filter((s) => s.identity === emu.bot.userId && s.state !== 'closed')).toEqual([]);
    expect(lines.some((l) => l.includes('Opus passthrough'))).toBe(true);
  });

  it('answers commands it cannot carry out with a reason', async () => {
    const platform = await connectPlatform({ emulator: emu, env: {} });
    const music = new MusicBot({
      bot: platform.bot,
      spaceId: platform.spaceId,
      voiceChannelId: platform.voiceChannelId,
      pacer: platform.pacer,
    });
    try {
      await music.start();
      const [user] = emu.demo.userIds;
      const ask = async (name: string, options?: Record<string, string | number>) => {
        const { interactionId } = emu.runCommand(user, {
          spaceId: platform.spaceId,
          channelId: emu.demo.textChannelId,
          name,
          ...(options ? { options } : {}),
        });
        return (await music.router.waitForReply(interactionId)).reply;
      };
      expect(await ask('play', { source: '/nonexistent/song.mp3' })).toBe(
        "Cannot play /nonexistent/song.mp3: no such file on the bot's host",
      );
      expect(await ask('skip')).toBe('Nothing is playing');
      expect(await ask('queue')).toBe('The queue is empty');
      expect(await ask('volume', { percent: 500 })).toBe('Volume must be 0–200 %');
      expect(await ask('stop')).toBe('Not in a voice channel');
      expect(music.connection).toBeUndefined();
    } finally {
      await music.close();
      await platform.close();
    }
  });
});
