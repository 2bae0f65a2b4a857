/**
 * Sample: the platform's echo-bot (docs/platform.md §A7), rebuilt on argon-voice. It answers calls by
 * policy, greets the caller, records them for a few seconds, plays the recording back and
 * hangs up.
 *
 * Against the real platform (`ARGON_TOKEN` of a verified bot) it answers until Ctrl-C. Against
 * the embedded emulator (the default) it also plays the caller: alice calls the bot, listens,
 * and speaks a tone while the bot records; the run ends when that call ends, and the summary
 * says whether alice heard her own packets back.
 *
 * ```sh
 * node --import tsx samples/call-answerer/index.ts          # or, after npm run build:
 * node dist/samples/call-answerer/index.js
 * ```
 * @packageDocumentation
 */
import { answerCalls } from '../../src/calls/answer-bot.js';
import type { CallEndReason } from '../../src/calls/call-manager.js';
import type { EchoResult } from '../../src/calls/echo.js';
import { type CallPolicy, maxConcurrent, parsePolicySpec } from '../../src/calls/policy.js';
import { Intents } from '../../src/events/intents.js';
import { isMain, runCli } from '../shared/cli.js';
import { connectPlatform, type SampleOptions } from '../shared/platform.js';
import { untilAborted } from '../shared/wait.js';

/** Options of {@link run}. */
export interface CallAnswererOptions extends SampleOptions {
  /** Which calls to take (default: at most 4 at once). A `--policy` string also works. */
  policy?: CallPolicy | string;
  /** Greeting file or URL (default: eSpeak NG speech if installed, else a chime). */
  greeting?: string;
  /** Use the chime even when a TTS engine is installed. */
  noTts?: boolean;
  /** Seconds to record each caller (default 4). */
  recordSeconds?: number;
}

/** One answered (or rejected) call. */
export interface CallReport {
  callId: string;
  callerId: string;
  /** How it ended. */
  ended: CallEndReason;
  /** What the echo flow did, when it ran to the end. */
  echo?: EchoResult;
}

/** What the simulated caller experienced (emulator runs). */
export interface CallerReport {
  /** Frames alice heard from the bot. */
  heardFrames: number;
  /** Frames alice spoke while the bot recorded. */
  spokenFrames: number;
  /** Alice's own packets came back, in order, byte for byte. */
  heardHerselfBack: boolean;
}

/** Result of {@link run}. */
export interface CallAnswererResult {
  mode: 'emulator' | 'platform';
  calls: CallReport[];
  caller?: CallerReport;
}

/**
 * Runs the call answerer: one scripted call against the emulator, or until `signal` aborts on
 * the real platform. On the way out it hangs up every live call.
 * @throws what connecting throws (HttpError, TimeoutError ...).
 */
export async function run(options: CallAnswererOptions = {}): Promise<CallAnswererResult> {
  const log = options.log ?? (() => {});
  const recordSeconds = options.recordSeconds ?? 4;
  const platform = await connectPlatform({ ...options, intents: Intents.AllNonPrivileged | Intents.Calls });
  const reports = new Map<string, CallReport>();
  const echoes = new Map<string, EchoResult>();
  const recording = new Map<string, () => void>();
  const policy =
    typeof options.policy === 'string' ? parsePolicySpec(options.policy) : (options.policy ?? maxConcurrent(4));
  const calls = answerCalls({
    bot: platform.bot,
    policy,
    recordSeconds,
    ...(options.greeting ? { greeting: options.greeting } : {}),
    duplex: {
      pacer: platform.pacer,
      ...(platform.mode === 'platform' && platform.audioUrl ? { gatewayUrl: platform.audioUrl } : {}),
    },
    echo: {
      ...(options.noTts ? { tts: false as const } : {}),
      onProgress: (p, call) => {
        if (p.phase === 'greeting') log(`call ${call.callId}: greeting (${p.kind})`);
        if (p.phase === 'recording') {
          log(`call ${call.callId}: recording ${p.durationMs / 1000} s`);
          recording.get(call.callId)?.();
        }
        if (p.phase === 'playback') log(`call ${call.callId}: playing back ${p.frames} frames`);
        if (p.phase === 'done') echoes.set(call.callId, p.result);
      },
    },
    signal: options.signal,
  });
  calls.on('call', (call) => log(`call ${call.callId} from ${call.callerId} (${call.locale ?? 'no locale'})`));
  calls.on('rejected', (call, reason) => log(`call ${call.callId}: rejected (${reason})`));
  calls.on('error', (err, call) => log(`warning${call ? ` (call ${call.callId})` : ''}: ${err.message}`));
  const ended = new Map<string, () => void>();
  calls.on('ended', (call, reason) => {
    log(`call ${call.callId}: ended (${reason})`);
    const echo = echoes.get(call.callId);
    reports.set(call.callId, {
      callId: call.callId,
      callerId: call.callerId,
      ended: reason,
      ...(echo ? { echo } : {}),
    });
    ended.get(call.callId)?.();
  });

  try {
    const emu = platform.emulator;
    if (!emu) {
      log(`answering calls as ${platform.bot.me.username}; Ctrl-C to stop`);
      await untilAborted(options.signal);
      return { mode: 'platform', calls: [...reports.values()] };
    }
    // The emulator demo: alice calls, listens, and speaks while the bot records.
    const alice = emu.demo.userIds[0];
    const sim = emu.placeCall({ fromUserId: alice, toBotUserId: platform.bot.me.userId });
    const botDone = new Promise<void>((resolve) => ended.set(sim.callId, resolve));
    const recordingStarted = new Promise<void>((resolve) => recording.set(sim.callId, resolve));
    log(`emulator: alice calls the bot (call ${sim.callId})`);
    await Promise.race([sim.accepted, untilAborted(options.signal)]);
    let caller: CallerReport | undefined;
    if (sim.state === 'accepted') {
      const ear = sim.caller.listen({ identity: platform.bot.me.userId });
      const spoken: Uint8Array[] = [];
      await Promise.race([recordingStarted, sim.ended, untilAborted(options.signal)]);
      if (sim.state === 'accepted' && !options.signal?.aborted) {
        const speaking = sim.caller.speak({ sine: 330, durationMs: recordSeconds * 1000 - 200 });
        // The tone's packets, as the bot will receive them (no network impairment configured).
        void speaking.done.then(() => spoken.push(...speaking.deliveries.map((d) => d.data)));
        await Promise.race([speaking.done, untilAborted(options.signal)]);
      }
      await Promise.race([sim.ended, untilAborted(options.signal)]);
      ear.close();
      const heard = ear.frames.map((f) => Buffer.from(f.data).toString('hex'));
      const said = spoken.map((f) => Buffer.from(f).toString('hex'));
      const at = said.length ? heard.indexOf(said[0]!) : -1;
      caller = {
        heardFrames: heard.length,
        spokenFrames: said.length,
        heardHerselfBack: at >= 0 && said.every((h, i) => heard[at + i] === h),
      };
      log(
        `emulator: alice heard ${caller.heardFrames} frames; her own ${caller.spokenFrames} frames came back: ${caller.heardHerselfBack ? 'yes' : 'no'}`,
      );
    }
    await Promise.race([botDone, untilAborted(options.signal)]);
    return { mode: 'emulator', calls: [...reports.values()], ...(caller ? { caller } : {}) };
  } finally {
    await calls.close();
    await platform.close();
  }
}

if (isMain(import.meta.url)) {
  void runCli(
    'call-answerer',
    ({ signal, log }) => run({ signal, log, policy: process.env.ARGON_CALL_POLICY || undefined }),
    (r) =>
      r.calls.map(
        (c) =>
          `call ${c.callId}: ${c.ended}${c.echo ? `, greeting ${c.echo.greeting} (${c.echo.greetingFrames} frames), recorded ${c.echo.recordedFrames}, played back ${c.echo.playedFrames}` : ''}`,
      ),
  );
}
