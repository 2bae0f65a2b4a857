/**
 * `argon-voice answer`: holds the event stream and answers calls, by default with the echo
 * flow (greet, record the caller, play it back, hang up; docs/platform.md §A7), until Ctrl-C or
 * `--duration`. Then it hangs up the live calls and exits 0.
 *
 * ```
 * resolvePlatform(needCallsVerified) ─► EventStream (Calls intent) ─► answerCalls(policy, echo)
 *   (no ARGON_TOKEN: embedded emulator + a simulated caller who calls once, speaks, and listens)
 * ```
 * @packageDocumentation
 */
import { answerCalls } from '../../calls/answer-bot.js';
import type { Call } from '../../calls/call-manager.js';
import type { DuplexCallSession } from '../../calls/duplex-adapter.js';
import type { EchoProgress } from '../../calls/echo.js';
import { parsePolicySpec } from '../../calls/policy.js';
import type { SimulatedCall } from '../../emulator/index.js';
import { InvalidInputError, redactSecrets } from '../../errors.js';
import { EventStream } from '../../events/event-stream.js';
import { intents } from '../../events/intents.js';
import { withDeadline } from '../../util/abort.js';
import { parseFlags, resolvePlatform } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';
import { describeError } from '../errors.js';

const HELP = `Usage: argon-voice answer [options]

Answers incoming calls (ICalls, verified bots only) and runs the echo flow on each: a greeting,
a beep, N seconds of recording, the recording played back, then the bot hangs up. Runs until
Ctrl-C or --duration, then hangs up the calls still live and exits 0.

Options:
  --policy SPEC         which calls to accept; parts joined with '+', all must accept:
                        accept, reject, allow-list:ID,ID, deny-list:ID,ID, locale:en,ru,
                        max:N (concurrent calls), delay:MS (ring before answering). Default accept
  --greeting FILE       greeting file or URL (default: spoken by eSpeak NG when the optional
                        espeak-ng package is installed, else a chime)
  --no-tts              use the chime instead of speech when there is no --greeting
  --record-seconds N    how long to record the caller (default 5)
  --duration S          stop after S seconds (default: run until Ctrl-C)
  --gateway URL         audio gateway base overriding the audioBaseUrl of Accept (or ARGON_AUDIO_URL)
  --no-demo-call        with the embedded emulator: do not place the simulated call

Environment: ARGON_API_URL, ARGON_TOKEN (a verified bot).
Without ARGON_TOKEN an embedded emulator runs, and a simulated user calls the bot once after
start so something visible happens: the command prints what the caller heard.
Exit status: 0 after Ctrl-C or --duration, 1 on a failure to start (reason on stderr).`;

/** The `answer` command. */
export const command: CliCommand = {
  summary: 'Answer calls with the echo flow (greet, record, play back) until Ctrl-C',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      policy: { type: 'string', default: 'accept' },
      greeting: { type: 'string' },
      tts: { type: 'boolean', default: true },
      'record-seconds': { type: 'number', default: 5 },
      duration: { type: 'number' },
      gateway: { type: 'string' },
      'demo-call': { type: 'boolean', default: true },
    });
    if (positionals.length) throw new InvalidInputError(`answer takes no arguments, got '${positionals.join(' ')}'`);
    const policy = parsePolicySpec(flags.policy as string);
    const recordSeconds = flags['record-seconds'] as number;
    if (!(recordSeconds > 0)) throw new InvalidInputError(`--record-seconds must be > 0, got ${recordSeconds}`);
    const duration = flags.duration as number | undefined;
    if (duration !== undefined && !(duration > 0))
      throw new InvalidInputError(`--duration must be > 0 seconds, got ${duration}`);
    const greeting = flags.greeting as string | undefined;
    const gateway = (flags.gateway as string | undefined) || io.env.ARGON_AUDIO_URL || undefined;
    const out = (line: string) => io.stdout.write(`${redactSecrets(line)}\n`);

    // Calls need no space or voice channel: placeholders skip resolvePlatform's lookups, which
    // would fail for a bot that is in no space (a calls-only bot is fine).
    const ctx = await resolvePlatform(io, { needCallsVerified: true, space: 'unused', channel: 'unused' });
    let events: EventStream | undefined;
    let manager: ReturnType<typeof answerCalls> | undefined;
    try {
      const me = await ctx.rest.botSelf.getMe({ signal: io.signal, timeoutMs: 15_000 });
      events = new EventStream({ rest: ctx.rest, intents: intents('AllNonPrivileged', 'Calls'), signal: io.signal });
      await withDeadline(events.start(), 'opening the event stream', { signal: io.signal, timeoutMs: 30_000 });
      const started = performance.now();
      const recordingStarted = new Map<string, () => void>();
      const since = () => `${((performance.now() - started) / 1000).toFixed(2)}s`;
      manager = answerCalls({
        rest: ctx.rest,
        events,
        policy,
        recordSeconds,
        ...(greeting ? { greeting } : {}),
        ...(gateway ? { duplex: { gatewayUrl: gateway } } : {}),
        echo: {
          ...(flags.tts ? {} : { tts: false as const }),
          onProgress: (p: EchoProgress, call: Call<DuplexCallSession>) => {
            out(`[${since()}] call ${call.callId}: ${describeProgress(p)}`);
            if (p.phase === 'recording') recordingStarted.get(call.callId)?.();
          },
        },
      });
      manager.on('call', (call) => {
        out(`[${since()}] call ${call.callId} from ${call.callerId} (locale ${call.locale ?? 'unknown'}): ringing`);
        call.on('connected', () => out(`[${since()}] call ${call.callId}: accepted, audio connected`));
      });
      manager.on('rejected', (call, reason) => out(`[${since()}] call ${call.callId}: rejected (${reason})`));
      manager.on('ended', (call, reason) => {
        const s = call.state;
        out(
          `[${since()}] call ${call.callId}: ended (${reason}${s.status === 'ended' && s.detail ? `: ${s.detail}` : ''})`,
        );
      });
      manager.on('error', (err, call) =>
        io.stderr.write(`${redactSecrets(`warning${call ? ` (call ${call.callId})` : ''}: ${err.message}`)}\n`),
      );
      out(
        `answering calls as ${me.username} (${me.userId}) with policy '${flags.policy as string}'${ctx.emulator ? ' on the embedded emulator' : ''}; ${
          duration ? `stopping after ${duration} s` : 'Ctrl-C to stop'
        }`,
      );

      const emu = ctx.emulator;
      let demo: Promise<void> | undefined;
      if (emu && flags['demo-call']) {
        const callerId = emu.demo.userIds[0];
        const sim = emu.placeCall({ fromUserId: callerId, toBotUserId: me.userId });
        out(`[${since()}] emulator: alice (${callerId}) calls the bot`);
        const recording = new Promise<void>((resolve) => recordingStarted.set(sim.callId, resolve));
        demo = simulateCaller(sim, me.userId, recordSeconds, recording, (line) =>
          out(`[${since()}] emulator: ${line}`),
        );
      }

      await new Promise<void>((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const done = () => {
          if (timer) clearTimeout(timer);
          io.signal.removeEventListener('abort', done);
          resolve();
        };
        if (io.signal.aborted) return done();
        io.signal.addEventListener('abort', done, { once: true });
        if (duration !== undefined) timer = setTimeout(done, duration * 1000);
      });
      const live = manager.activeCalls.length;
      out(`stopping${live ? `: hanging up ${live} live call${live === 1 ? '' : 's'}` : ''}`);
      await manager.close();
      await demo;
      return 0;
    } catch (err) {
      io.stderr.write(`argon-voice answer: ${describeError(err)}\n`);
      return 1;
    } finally {
      await manager?.close().catch(() => undefined);
      await events?.close().catch(() => undefined);
      await ctx.close().catch(() => undefined);
    }
  },
};

function describeProgress(p: EchoProgress): string {
  switch (p.phase) {
    case 'greeting':
      return `playing the greeting (${p.kind})`;
    case 'recording':
      return `recording the caller for ${p.durationMs / 1000} s`;
    case 'playback':
      return `playing back ${p.frames} recorded frames`;
    case 'done':
      return `echo done (greeting ${p.result.greetingFrames} frames, recorded ${p.result.recordedFrames}, dropped ${p.result.droppedDtx} DTX, played back ${p.result.playedFrames})`;
  }
}

/**
 * The emulator's simulated caller: once the bot answers, listens to what the bot publishes,
 * speaks a tone while the bot records (the echo plays those very packets back), and reports
 * what it heard when the call ends.
 */
async function simulateCaller(
  sim: SimulatedCall,
  botUserId: string,
  recordSeconds: number,
  recording: Promise<void>,
  log: (line: string) => void,
): Promise<void> {
  try {
    await sim.accepted;
  } catch {
    log(`the call was not answered (${await sim.ended})`);
    return;
  }
  const listener = sim.caller.listen({ identity: botUserId });
  const ended = sim.ended.then(() => 'ended' as const);
  let speaking: { stop(): void } | undefined;
  if ((await Promise.race([recording.then(() => 'recording' as const), ended])) === 'recording') {
    log(`alice speaks a 330 Hz tone for ${recordSeconds} s`);
    speaking = sim.caller.speak({ sine: 330, durationMs: Math.round(recordSeconds * 1000) });
  }
  const reason = await sim.ended;
  speaking?.stop();
  listener.close();
  const frames = listener.frames;
  const audible = frames.filter((f) => f.data.length > 3).length;
  log(
    `the call ended (${reason}); alice heard ${frames.length} frames from the bot (${((frames.length * 20) / 1000).toFixed(2)} s, ${audible} with sound)`,
  );
}
