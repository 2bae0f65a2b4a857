/**
 * Sample: a text-to-speech bot. Messages posted in a text channel are spoken in a voice channel.
 *
 * The default engine is eSpeak NG compiled to WebAssembly (`espeak-ng` from npm: no system
 * packages, no model download); `ARGON_TTS_ENGINE=openai` uses a cloud engine instead, and any
 * {@link TtsEngine} can be passed to {@link run}. Against the embedded emulator (no `ARGON_TOKEN`)
 * a simulated user posts a few messages while a simulated listener sits in the voice channel.
 *
 * ```sh
 * node --import tsx samples/tts-bot/index.ts          # or, after npm run build:
 * node dist/samples/tts-bot/index.js
 * ```
 * @packageDocumentation
 */
import { silencePacket } from '../../src/codec/silence.js';
import { InvalidInputError } from '../../src/errors.js';
import type { TtsEngine } from '../../src/tts/types.js';
import { isMain, runCli } from '../shared/cli.js';
import { connectPlatform, type SampleOptions, type SamplePlatform } from '../shared/platform.js';
import { untilAborted, waitUntil } from '../shared/wait.js';
import { engineFromEnv } from './engines.js';
import { TtsBot, type TtsBotOptions, type Utterance } from './tts-bot.js';

export { EspeakTtsEngine, engineFromEnv, OpenAiTtsEngine, type OpenAiTtsOptions } from './engines.js';
export { TtsBot, type TtsBotOptions, type Utterance } from './tts-bot.js';

/** The messages the simulated user posts in an emulator run. */
export const DEMO_MESSAGES: readonly string[] = [
  'Hello from the Argon voice text to speech sample.',
  'Every message in this channel is spoken in the voice channel.',
];

/** Options of {@link run}. */
export interface TtsBotRunOptions extends SampleOptions {
  /** The engine (default: {@link engineFromEnv}, i.e. eSpeak NG unless `ARGON_TTS_ENGINE` says otherwise). */
  engine?: TtsEngine;
  /** Emulator demo: what the simulated user posts (default {@link DEMO_MESSAGES}). */
  demoMessages?: readonly string[];
  /**
   * Pacer options on top of the platform's (tests that count every frame pass a late policy that
   * never drops one; the default `skip` drops a frame whose slot passed, right for live speech).
   */
  pacer?: TtsBotOptions['pacer'];
}

/** What the simulated listener heard in an emulator run. */
export interface TtsDemoReport {
  /** Frames received from the bot. */
  framesHeard: number;
  /** Frames received that are not the connection's silence filler. */
  speechFrames: number;
}

/** Result of {@link run}. */
export interface TtsBotRunResult {
  mode: 'emulator' | 'platform';
  engine: string;
  utterances: Utterance[];
  demo?: TtsDemoReport;
}

/**
 * Runs the TTS bot: the scripted demo against the emulator, or until `signal` aborts on the
 * real platform.
 * @throws InvalidInputError when the space has no text channel; what connecting throws.
 */
export async function run(options: TtsBotRunOptions = {}): Promise<TtsBotRunResult> {
  const log = options.log ?? (() => {});
  const engine = options.engine ?? engineFromEnv(options.env ?? process.env);
  const platform = await connectPlatform(options);
  let tts: TtsBot | undefined;
  try {
    if (!platform.textChannelId)
      throw new InvalidInputError(
        `space ${platform.spaceId} has no text channel: create one, or set ARGON_TEXT_CHANNEL_ID`,
      );
    // The simulated listener joins before the bot, so it hears everything from the first frame.
    const demoListener = platform.emulator ? joinListener(platform) : undefined;
    tts = new TtsBot({
      bot: platform.bot,
      spaceId: platform.spaceId,
      voiceChannelId: platform.voiceChannelId,
      textChannelId: platform.textChannelId,
      engine,
      pacer: { ...platform.pacer, ...options.pacer },
      log,
    });
    let demo: TtsDemoReport | undefined;
    try {
      await tts.start({ signal: options.signal });
      if (platform.emulator) {
        const emu = platform.emulator;
        const [author] = emu.demo.userIds;
        for (const text of options.demoMessages ?? DEMO_MESSAGES) {
          emu.sendMessage(author, platform.textChannelId, text);
          log(`alice (#general): ${text}`);
        }
        const want = (options.demoMessages ?? DEMO_MESSAGES).length;
        // Wait for the messages to arrive (SSE), then for their speech to play out.
        const bot = tts;
        await waitUntil(
          (wake) => {
            bot.on('utterance', wake);
            return () => bot.off('utterance', wake);
          },
          () => bot.utterances.length >= want,
          'the demo messages to arrive',
          { signal: options.signal, timeoutMs: 20_000 },
        );
        await tts.idle();
        // The last frames are on the wire now; the filler that follows them arrives after them
        // (one socket, in order), so three filler frames mean everything spoken was heard.
        await demoListener!.heardMore(3, { signal: options.signal });
        demo = demoListener!.report();
        log(`listener: heard ${demo.framesHeard} frames, ${demo.speechFrames} of speech`);
      } else {
        log('tts-bot: ready; post messages in the text channel (Ctrl-C to stop)');
        await untilAborted(options.signal); // then close() cuts any speech in progress
      }
    } finally {
      demoListener?.close();
    }
    return { mode: platform.mode, engine: engine.name, utterances: tts.utterances, ...(demo ? { demo } : {}) };
  } finally {
    await tts?.close();
    await platform.close();
  }
}

interface DemoListener {
  report(): TtsDemoReport;
  /** Resolves once `n` more frames arrived. */
  heardMore(n: number, options: { signal?: AbortSignal | undefined }): Promise<void>;
  close(): void;
}

function joinListener(platform: SamplePlatform): DemoListener {
  const emu = platform.emulator!;
  const [, listenerUser] = emu.demo.userIds;
  const person = emu.joinVoice(listenerUser, { spaceId: platform.spaceId, channelId: platform.voiceChannelId });
  const ear = person.listen({ identity: platform.bot.me.userId });
  const filler = silencePacket(1, 20);
  return {
    report: () => ({
      framesHeard: ear.frames.length,
      speechFrames: ear.frames.filter(
        (f) => !(f.data.length === filler.length && f.data.every((b, i) => b === filler[i])),
      ).length,
    }),
    heardMore: (n, { signal }) => {
      const want = ear.frames.length + n;
      return waitUntil(
        (wake) => {
          ear.on('frame', wake);
          return () => ear.off('frame', wake);
        },
        () => ear.frames.length >= want,
        'the listener to hear the end of the speech',
        { signal, timeoutMs: 10_000 },
      );
    },
    close: () => {
      ear.close();
      person.leave();
    },
  };
}

if (isMain(import.meta.url)) {
  void runCli(
    'tts-bot',
    ({ signal, log }) => run({ signal, log }),
    (r) =>
      r.utterances.map(
        (u) =>
          `${u.status}: "${u.text}" ${u.durationMs !== undefined ? `${(u.durationMs / 1000).toFixed(2)} s` : ''}${u.frames !== undefined ? `, ${u.frames} frames` : ''}${u.error ? ` (${u.error})` : ''}`,
      ),
  );
}
