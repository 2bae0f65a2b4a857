/**
 * Sample: a per-user recorder. `/record start` records everyone in the voice channel, each to
 * an aligned Ogg Opus track, plus a mix; `/record stop` finishes the files.
 *
 * Against the embedded emulator (no `ARGON_TOKEN`) two simulated users speak — Alice over a clean
 * network, Bob half a second later over a lossy, jittery one — and Alice runs the commands.
 * On the real platform each user after the first needs another bot identity in the space
 * (`ARGON_EXTRA_TOKENS`), because the gateway keeps one session per identity per room.
 *
 * ```sh
 * node --import tsx samples/recorder/index.ts [out-dir]      # or, after npm run build:
 * node dist/samples/recorder/index.js [out-dir]
 * ```
 * @packageDocumentation
 */
import { resolve } from 'node:path';
import type { SpeakHandle } from '../../src/emulator/index.js';
import { InvalidInputError } from '../../src/errors.js';
import type { RecordingSummary } from '../../src/voice/recorder.js';
import { isMain, runCli } from '../shared/cli.js';
import type { CommandExchange } from '../shared/commands.js';
import { connectPlatform, type SampleOptions, type SamplePlatform } from '../shared/platform.js';
import { untilAborted, waitUntil } from '../shared/wait.js';
import { RecorderBot } from './recorder-bot.js';

export { RECORDER_COMMANDS, RecorderBot, type RecorderBotOptions, type ReceivingIdentity } from './recorder-bot.js';

/** Options of {@link run}. */
export interface RecorderRunOptions extends SampleOptions {
  /** Where recordings go (default `./recordings`); each session gets a sub-directory. */
  outDir?: string;
  /** Emulator demo: how long each simulated user speaks, ms (default 3000). */
  demoSpeakMs?: number;
}

/** Result of {@link run}. */
export interface RecorderRunResult {
  mode: 'emulator' | 'platform';
  transcript: CommandExchange[];
  recordings: RecordingSummary[];
  /** Emulator demo: the simulated users, in the order they were recorded. */
  speakers?: Array<{
    userId: string;
    name: string;
    impaired: boolean;
    startOffsetMs: number;
    /** Frames the person spoke. */
    framesSent: number;
    /** Distinct frames the network delivered to the gateway (the rest were lost). */
    framesDelivered: number;
  }>;
}

/**
 * Runs the recorder: the scripted demo against the emulator, or until `signal` aborts on the
 * real platform (a running recording is finished first).
 * @throws what connecting throws; TimeoutError when a demo step stalls.
 */
export async function run(options: RecorderRunOptions = {}): Promise<RecorderRunResult> {
  const log = options.log ?? (() => {});
  const outDir = resolve(options.outDir ?? 'recordings');
  const platform = await connectPlatform(options);
  const recorder = new RecorderBot({
    bot: platform.bot,
    spaceId: platform.spaceId,
    voiceChannelId: platform.voiceChannelId,
    outDir,
    gatewayUrl: platform.audioUrl,
    extraIdentity: async (n) => {
      const id = await platform.extraIdentity(`recorder-${n}`);
      return { rest: id.rest, label: `extra identity ${n}` };
    },
    log,
  });
  try {
    await recorder.start({ signal: options.signal });
    let speakers: RecorderRunResult['speakers'];
    if (platform.emulator) {
      speakers = await runDemo(platform, recorder, options);
    } else {
      log(`recorder: ready; /record start and /record stop in the space; files go to ${outDir} (Ctrl-C to stop)`);
      await untilAborted(options.signal);
    }
    return {
      mode: platform.mode,
      transcript: [...(recorder.router?.transcript ?? [])],
      recordings: [...recorder.recordings],
      ...(speakers ? { speakers } : {}),
    };
  } finally {
    await recorder.close();
    await platform.close();
  }
}

async function runDemo(
  platform: SamplePlatform,
  recorder: RecorderBot,
  options: RecorderRunOptions,
): Promise<RecorderRunResult['speakers']> {
  const emu = platform.emulator!;
  const log = options.log ?? (() => {});
  const signal = options.signal;
  const speakMs = options.demoSpeakMs ?? 3000;
  const where = { spaceId: platform.spaceId, channelId: platform.voiceChannelId };
  const textChannelId = platform.textChannelId;
  if (!textChannelId) throw new InvalidInputError('the demo needs a text channel');
  const [alice, bob] = emu.demo.userIds;
  const people = [
    { userId: alice, name: 'alice', impaired: false, startOffsetMs: 0, hz: 440, p: emu.joinVoice(alice, where) },
    { userId: bob, name: 'bob', impaired: true, startOffsetMs: 500, hz: 660, p: emu.joinVoice(bob, where) },
  ];
  const handles: SpeakHandle[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    await waitUntil(
      (wake) => {
        recorder.on('presence', wake);
        return () => recorder.off('presence', wake);
      },
      () => people.every((x) => recorder.present.includes(x.userId)),
      'the bot to see both users join',
      { signal, timeoutMs: 20_000 },
    );
    const command = async (action: string) => {
      const { interactionId } = emu.runCommand(alice, {
        spaceId: platform.spaceId,
        channelId: textChannelId,
        name: 'record',
        options: { action },
      });
      const x = await recorder.router!.waitForReply(interactionId, { signal, timeoutMs: 20_000 });
      log(`alice: /record ${action}\nrecorder: ${x.reply.replace(/\n/g, '\n          ')}`);
      return x;
    };
    await command('start');
    // Microphones on, then everyone speaks once the subscriptions are in place, so the files hold
    // the whole speech.
    for (const x of people) x.p.publishTrack();
    await Promise.all(recorder.subscribers.map((s) => s.waitFor('subscribed', { signal, timeoutMs: 20_000 })));
    for (const x of people) {
      const start = () =>
        handles.push(
          x.p.speak(
            { sine: x.hz, durationMs: speakMs, amplitude: 0.3 },
            x.impaired
              ? {
                  impairment: {
                    jitter: { kind: 'normal', meanMs: 30, stdDevMs: 15 },
                    loss: { kind: 'random', rate: 0.05 },
                  },
                  seed: 7,
                }
              : {},
          ),
        );
      if (x.startOffsetMs === 0) start();
      else timers.push(setTimeout(() => x.p.present && start(), x.startOffsetMs));
    }
    await waitUntil(
      (wake) => {
        const t = setInterval(wake, 50);
        return () => clearInterval(t);
      },
      () => handles.length === people.length,
      'both users to start speaking',
      { signal, timeoutMs: 20_000 },
    );
    await Promise.all(handles.map((h) => h.done));
    // Alice says "stop" once the jitter buffers have handed everything to the recorder.
    await waitUntil(
      (wake) => {
        const t = setInterval(wake, 20);
        return () => clearInterval(t);
      },
      () => recorder.streams.every((s) => s.jitter.bufferedMs === 0),
      'the jitter buffers to drain',
      { signal, timeoutMs: 20_000 },
    );
    await command('stop');
    return people.map((x, i) => ({
      userId: x.userId,
      name: x.name,
      impaired: x.impaired,
      startOffsetMs: x.startOffsetMs,
      framesSent: handles[i]?.framesSent ?? 0,
      framesDelivered: new Set(handles[i]?.deliveries.filter((d) => !d.duplicate).map((d) => d.index)).size,
    }));
  } finally {
    for (const t of timers) clearTimeout(t);
    for (const h of handles) h.stop();
    for (const x of people) x.p.leave();
  }
}

if (isMain(import.meta.url)) {
  const outDir = process.argv[2];
  void runCli(
    'recorder',
    ({ signal, log }) => run({ signal, log, ...(outDir ? { outDir } : {}) }),
    (r) =>
      r.recordings.flatMap((s) => [
        ...s.tracks.map(
          (t) =>
            `${t.path}: ${(t.samples / 48_000).toFixed(2)} s, ${t.packets} packets received, ${t.fillPackets} filled${t.error ? `, FAILED: ${t.error.message}` : ''}`,
        ),
        ...(s.mixPath ? [`${s.mixPath}: mix`] : []),
      ]),
  );
}
