/**
 * Sample: a music bot with /play, /skip, /queue, /volume and /stop.
 *
 * Against the real platform (`ARGON_TOKEN` set) it registers its commands and plays until
 * Ctrl-C. Against the embedded emulator (the default) it also plays the people: a DJ runs the
 * commands with three generated tracks (an Ogg Opus file that passes through untouched and two
 * WAV files that are decoded, turned down and crossfaded) while a listener in the voice channel
 * hears the bot.
 *
 * ```sh
 * node --import tsx samples/music-bot/index.ts          # or, after npm run build:
 * node dist/samples/music-bot/index.js
 * ```
 * @packageDocumentation
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silencePacket } from '../../src/codec/silence.js';
import { sleep } from '../../src/util/abort.js';
import { writeToneOgg, writeToneWav } from '../shared/audio.js';
import { isMain, runCli } from '../shared/cli.js';
import { connectCluster } from '../shared/cluster.js';
import type { CommandExchange } from '../shared/commands.js';
import { connectPlatform, type SampleOptions, type SamplePlatform } from '../shared/platform.js';
import { untilAborted, waitUntil } from '../shared/wait.js';
import { MusicBot, type MusicBotOptions, type TrackReport } from './music-bot.js';

export { MUSIC_COMMANDS, MusicBot, type MusicBotOptions, type TrackReport } from './music-bot.js';

/** Options of {@link run}. */
export interface MusicBotRunOptions extends SampleOptions {
  /** Crossfade between decoded tracks, ms (default 1000). */
  crossfadeMs?: number;
  /** Publish stereo (default mono). */
  stereo?: boolean;
  /** Emulator demo: length of each generated track, ms (default 2000). */
  demoTrackMs?: number;
  /**
   * Pacer options on top of the platform's (tests that compare every packet pass a late policy
   * that never drops one; the default `skip` drops a frame whose slot passed).
   */
  pacer?: MusicBotOptions['pacer'];
}

/** What the simulated people saw and heard in an emulator run. */
export interface MusicDemoReport {
  /** Packets of the generated Ogg Opus track, in file order (passthrough sends exactly these). */
  introPackets: Uint8Array[];
  /** Every frame the simulated listener received from the bot, in order. */
  heard: Uint8Array[];
  /** Frames heard that are not the connection's silence filler. */
  audioFrames: number;
  /** Frames heard when /stop was answered. */
  heardAtStop: number;
  /** Frames heard after /stop was answered (0: the bot went quiet). */
  heardAfterStop: number;
}

/** Result of {@link run}. */
export interface MusicBotRunResult {
  mode: 'emulator' | 'platform';
  /** Every command answered, with its reply. */
  transcript: CommandExchange[];
  /** Every track played. */
  tracks: TrackReport[];
  demo?: MusicDemoReport;
}

/**
 * Runs the music bot: the scripted demo against the emulator, or until `signal` aborts on the
 * real platform.
 * @throws what connecting throws (HttpError, TimeoutError ...); TimeoutError when a demo step stalls.
 */
export async function run(options: MusicBotRunOptions = {}): Promise<MusicBotRunResult> {
  const log = options.log ?? (() => {});
  const platform = await connectPlatform(options);
  // With ARGON_NATS_URL set the queue plays on the cluster's workers (docs/guides/scaling.md).
  const cluster = await connectCluster(platform, options).catch(async (err) => {
    await platform.close();
    throw err;
  });
  const music = new MusicBot({
    bot: platform.bot,
    spaceId: platform.spaceId,
    voiceChannelId: platform.voiceChannelId,
    crossfadeMs: options.crossfadeMs ?? 1000,
    stereo: options.stereo ?? false,
    pacer: { ...platform.pacer, ...options.pacer },
    ...(cluster ? { player: (channelId: string) => cluster.player(platform.spaceId, channelId) } : {}),
    log,
  });
  try {
    await music.start({ signal: options.signal });
    let demo: MusicDemoReport | undefined;
    if (platform.emulator) {
      demo = await runDemo(platform, music, options);
    } else {
      log('music-bot: ready; use /play <file|url> in the space (Ctrl-C to stop)');
      await untilAborted(options.signal);
    }
    return {
      mode: platform.mode,
      transcript: [...music.router.transcript],
      tracks: music.tracks,
      ...(demo ? { demo } : {}),
    };
  } finally {
    await music.close();
    await cluster?.close();
    await platform.close();
  }
}

/** The emulator script: a DJ runs the commands while a listener sits in the voice channel. */
async function runDemo(
  platform: SamplePlatform,
  music: MusicBot,
  options: MusicBotRunOptions,
): Promise<MusicDemoReport> {
  const emu = platform.emulator!;
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const trackMs = options.demoTrackMs ?? 2000;
  const where = { spaceId: platform.spaceId, channelId: platform.voiceChannelId };
  const textChannelId = platform.textChannelId!;
  const dir = mkdtempSync(join(tmpdir(), 'argon-music-bot-'));
  const [dj, listenerUser] = emu.demo.userIds;
  const djVoice = emu.joinVoice(dj, where);
  const listener = emu.joinVoice(listenerUser, where);
  const ear = listener.listen({ identity: platform.bot.me.userId });
  const silence = silencePacket(options.stereo ? 2 : 1, 20);
  const isFiller = (f: Uint8Array) => f.length === silence.length && f.every((b, i) => b === silence[i]);
  let audioFrames = 0;
  ear.on('frame', (f) => {
    if (!isFiller(f.data)) audioFrames++;
  });
  const hear = (n: number, what: string) =>
    waitUntil(
      (wake) => {
        ear.on('frame', wake);
        return () => ear.off('frame', wake);
      },
      () => audioFrames >= n,
      what,
      { signal, timeoutMs: 20_000 },
    );
  const send = (name: string, opts?: Record<string, string | number>) => {
    const { interactionId } = emu.runCommand(dj, {
      spaceId: platform.spaceId,
      channelId: textChannelId,
      name,
      ...(opts ? { options: opts } : {}),
    });
    return async () => {
      const x = await music.router.waitForReply(interactionId, { signal, timeoutMs: 20_000 });
      log(
        `alice: /${name}${opts ? ` ${Object.values(opts).join(' ')}` : ''}\nmusic-bot: ${x.reply.replace(/\n/g, '\n           ')}`,
      );
      return x;
    };
  };
  const command = (name: string, opts?: Record<string, string | number>) => send(name, opts)();
  try {
    const intro = join(dir, 'intro.opus');
    const middle = join(dir, 'middle.wav');
    const outro = join(dir, 'outro.wav');
    // The intro is long enough that /skip always cuts it, whatever the SSE delivery delay.
    const introPackets = writeToneOgg(intro, { hz: 440, durationMs: Math.max(10_000, trackMs * 5) });
    writeToneWav(middle, { hz: 554, durationMs: trackMs });
    // The outro, too, is long enough that /stop always cuts it.
    writeToneWav(outro, { hz: 659, durationMs: Math.max(10_000, trackMs * 5) });

    await command('play', { source: intro });
    await hear(10, 'the listener to hear the first track');
    // Typed quickly: these arrive together and are answered in order.
    const replies = [
      send('play', { source: middle }),
      send('play', { source: outro }),
      send('queue'),
      send('volume', { percent: 50 }),
    ];
    for (const reply of replies) await reply();
    await command('skip');
    // middle.wav plays at 50 % to its end and crossfades into outro.wav.
    await waitUntil(
      (wake) => {
        music.on('playing', wake);
        return () => music.off('playing', wake);
      },
      () => music.tracks.length >= 3,
      'the third track to start',
      { signal, timeoutMs: 20_000 + trackMs },
    );
    await hear(audioFrames + 10, 'the listener to hear the third track');
    await command('stop');
    const heardAtStop = ear.frames.length;
    // The bot has left the channel: nothing more may arrive.
    await sleep(300, { signal });
    const heardAfterStop = ear.frames.length - heardAtStop;
    log(`listener: heard ${ear.frames.length} frames (${audioFrames} of music), ${heardAfterStop} after /stop`);
    return { introPackets, heard: ear.frames.map((f) => f.data), audioFrames, heardAtStop, heardAfterStop };
  } finally {
    ear.close();
    listener.leave();
    djVoice.leave();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  void runCli(
    'music-bot',
    ({ signal, log }) => run({ signal, log }),
    (r) =>
      r.tracks.map(
        (t) =>
          `track ${t.title}: ${t.passthrough ? 'passthrough' : 'transcoded'}, ${t.result ? `${t.result.status}, ${t.result.frames} frames` : (t.error ?? 'no result')}`,
      ),
  );
}
