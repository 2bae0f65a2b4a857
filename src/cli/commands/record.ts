/**
 * `argon-voice record`: record users of a voice channel into aligned per-user Ogg Opus files
 * (and optionally a WAV mix), until `--duration` or Ctrl-C.
 *
 * ```
 * resolvePlatform ─► VoiceReceiver (SubscribeTrack + /audio/subscribe per user) ─► Recorder ─► DIR/<user>.ogg
 *        │              one bot identity per user: 1st ARGON_TOKEN, n+1-th            DIR/mix.wav
 *        │              the n-th of ARGON_EXTRA_TOKENS (emulator: a new bot each)
 *        └─ no ARGON_TOKEN: embedded emulator; without --user, a simulated speaker behind a mild impairment
 * SIGINT/SIGTERM ─► recorder.stop() (pad, EOS, close) ─► receiver.close() (UnsubscribeTrack) ─► exit 0
 * ```
 * @packageDocumentation
 */
import { mkdirSync } from 'node:fs';
import { InvalidInputError } from '../../errors.js';
import { VoiceReceiver } from '../../voice/receiver.js';
import { RECORDING_JITTER, Recorder } from '../../voice/recorder.js';
import type { SubscribeApi } from '../../voice/subscriber.js';
import { systemClock } from '../../util/clock.js';
import { parseFlags, resolvePlatform, takeRepeated } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';
import { startProgress } from '../progress.js';

const HELP = [
  'Usage: argon-voice record [--space ID] [--channel ID] --user ID [--user ID ...] --out DIR [--duration S]',
  '',
  'Records each user into DIR/<userId>.ogg (Opus packets copied unchanged, all tracks on one',
  'session clock: silence, DTX, losses and absence are filled, so the files line up). Runs until',
  '--duration seconds passed or Ctrl-C; on SIGINT/SIGTERM it unsubscribes and leaves every file',
  'valid and complete. Files are flushed at least every second (valid after a crash up to then).',
  '',
  'Options:',
  "  --space ID        space (default ARGON_SPACE_ID, else the bot's first space)",
  '  --channel ID      voice channel (default ARGON_CHANNEL_ID, else the first voice channel)',
  '  --user ID         a user to record; repeat for more, one bot identity each (required with',
  '                    ARGON_TOKEN; see ARGON_EXTRA_TOKENS below)',
  '  --out DIR         output directory (created if missing)',
  '  --duration S      stop after S seconds (default: until Ctrl-C)',
  '  --mix             also write the decoded mix of every track (DIR/mix.wav or DIR/mix.ogg)',
  '  --mix-format F    wav (default) or ogg (re-encoded Opus)',
  '  --mix-channels N  1 or 2 (default 2)',
  "  --gateway URL     audio gateway base (default ARGON_AUDIO_URL, else IVoice StreamToken's ingressUrl)",
  '',
  'Environment: ARGON_TOKEN, ARGON_API_URL, ARGON_SPACE_ID, ARGON_CHANNEL_ID, ARGON_AUDIO_URL,',
  'ARGON_EXTRA_TOKENS.',
  '',
  'The gateway keeps one session per bot identity per room (docs/platform.md §A6), so each --user needs',
  'its own bot identity: the first user is received as ARGON_TOKEN, user n+1 as the n-th token of',
  'ARGON_EXTRA_TOKENS (comma-separated tokens of other bots that are members of the space). With',
  "too few tokens the users left over share ARGON_TOKEN's identity and replace each other's",
  'subscription; a warning names them and the recording goes on.',
  'Without ARGON_TOKEN it runs against an embedded emulator, which creates one bot identity per',
  'extra --user; without --user a simulated speaker talks (a 440 Hz tone over a network with',
  'jitter and 2 % loss), so it works out of the box.',
].join('\n');

/** The `record` command. */
export const command: CliCommand = {
  summary: 'Record users of a voice channel into aligned Ogg Opus files',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values: userArgs, rest } = takeRepeated(argv, 'user');
    const { flags } = parseFlags(rest, {
      space: { type: 'string' },
      channel: { type: 'string' },
      out: { type: 'string' },
      duration: { type: 'number' },
      mix: { type: 'boolean', default: false },
      'mix-format': { type: 'string', default: 'wav' },
      'mix-channels': { type: 'number', default: 2 },
      gateway: { type: 'string' },
    });
    const out = flags.out as string | undefined;
    if (!out) throw new InvalidInputError('record needs --out DIR');
    const duration = flags.duration as number | undefined;
    if (duration !== undefined && !(duration > 0))
      throw new InvalidInputError('--duration must be a positive number of seconds');
    const mixChannels = flags['mix-channels'];
    if (mixChannels !== 1 && mixChannels !== 2) throw new InvalidInputError('--mix-channels must be 1 or 2');
    const mixFormat = flags['mix-format'];
    if (mixFormat !== 'wav' && mixFormat !== 'ogg') throw new InvalidInputError('--mix-format must be wav or ogg');
    if (io.env.ARGON_TOKEN && userArgs.length === 0) throw new InvalidInputError('record needs at least one --user ID');
    mkdirSync(out, { recursive: true });

    const ctx = await resolvePlatform(io, {
      space: flags.space as string | undefined,
      channel: flags.channel as string | undefined,
    });
    const cleanups: Array<() => void | Promise<void>> = [];
    // Real time unless a test steps one clock for the emulator and the command (CliIo.clock).
    const clock = io.clock ?? systemClock;
    try {
      const where = { spaceId: ctx.spaceId, channelId: ctx.channelId };
      const users = [...new Set(userArgs)];
      let gatewayUrl = (flags.gateway as string | undefined) || io.env.ARGON_AUDIO_URL || undefined;
      const emu = ctx.emulator;
      if (emu) {
        gatewayUrl ??= emu.audioUrl;
        if (users.length === 0) {
          // A simulated speaker so the command works out of the box.
          const { userId } = emu.createUser({ username: 'simulated-speaker' });
          const person = emu.joinVoice(userId, where);
          const ms = Math.ceil((duration ?? 3600) * 1000) + 1000;
          const speech = person.speak(
            { sine: 440, durationMs: ms, amplitude: 0.4 },
            {
              impairment: {
                jitter: { kind: 'normal', meanMs: 10, stdDevMs: 5 },
                loss: { kind: 'random', rate: 0.02 },
                fifo: true,
              },
              seed: 7,
            },
          );
          cleanups.push(() => speech.stop());
          users.push(userId);
          io.stderr.write(`emulator: simulated speaker ${userId} is talking (440 Hz, jitter, 2 % loss)\n`);
        }
      }
      // One bot identity per user (docs/platform.md §A6): a second subscribe session of the same
      // identity in the room would kick the first.
      const identities = new Map<string, { rest: SubscribeApi; label: string }>();
      const main = { rest: ctx.rest, label: emu ? `emulator bot ${emu.bot.userId}` : 'ARGON_TOKEN' };
      const sharing: string[] = [];
      users.forEach((u, i) => {
        const extra = i === 0 ? undefined : ctx.extraIdentity(`argon-voice-record-${i}`);
        if (i > 0 && !extra) sharing.push(u);
        identities.set(u, extra ?? main);
      });
      if (users.length > 1) {
        io.stderr.write(`identities: ${users.map((u) => `${u} as ${identities.get(u)!.label}`).join(', ')}\n`);
      }
      if (sharing.length > 0) {
        const own = users.length - sharing.length;
        io.stderr.write(
          `warning: ${users.length} users but only ${own} bot identit${own === 1 ? 'y' : 'ies'} (ARGON_TOKEN + ${own - 1} in ARGON_EXTRA_TOKENS): ${[users[0]!, ...sharing].join(', ')} share the ARGON_TOKEN identity in one room, so their subscriptions replace each other (docs/platform.md §A6); add ${sharing.length} more token${sharing.length === 1 ? '' : 's'} of bots in the space to ARGON_EXTRA_TOKENS (comma-separated)\n`,
        );
      }
      const receiver = new VoiceReceiver({ rest: ctx.rest, ...where, gatewayUrl, clock });
      receiver.on('warning', (m) => io.stderr.write(`warning: ${m}\n`));
      receiver.on('error', (e, u) => io.stderr.write(`${u}: ${e.message}\n`));
      const recorder = new Recorder({
        receiver,
        users,
        outDir: out,
        subscribe: (u) =>
          receiver.subscribe(u, { mode: 'opus', jitter: RECORDING_JITTER, rest: (identities.get(u) ?? main).rest }),
        mix: flags.mix ? { channels: mixChannels, format: mixFormat } : undefined,
      });
      recorder.on('error', (e, u) => io.stderr.write(`error: ${u ?? 'mix'}: ${e.message}\n`));
      for (const s of receiver.streams.values()) {
        const src = s.source as unknown as {
          on?: (e: 'stateChange', l: (o: { status: string }, n: { status: string }) => void) => void;
        };
        src.on?.('stateChange', (_o, n) => io.stderr.write(`${s.userId}: ${n.status}\n`));
      }
      io.stdout.write(`recording ${users.join(', ')} in ${where.spaceId}/${where.channelId} to ${out}\n`);

      // Run until --duration or the signal (SIGINT/SIGTERM abort io.signal).
      const recStart = clock.now();
      const progress = startProgress(io, () => {
        const per = [...receiver.streams.values()].map(
          (s) => `${s.userId.slice(0, 8)}: ${s.speaking ? 'speaking' : 'quiet'}`,
        );
        return `recording ${((clock.now() - recStart) / 1000).toFixed(1)} s${duration ? ` of ${duration} s` : ''} — ${per.join(', ')}`;
      });
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        const onAbort = () => {
          if (timer !== undefined) clock.clearTimeout(timer);
          resolve();
        };
        io.signal.addEventListener('abort', onAbort, { once: true });
        const timer =
          duration !== undefined
            ? clock.setTimeout(() => {
                io.signal.removeEventListener('abort', onAbort);
                resolve();
              }, duration * 1000)
            : undefined;
      });

      progress.stop();
      const summary = await recorder.stop();
      await receiver.close();
      let failed = false;
      for (const t of summary.tracks) {
        const secs = (t.samples / 48_000).toFixed(2);
        io.stdout.write(
          `${t.path}: ${secs} s, ${t.packets} packets received, ${t.fillPackets} filled${t.error ? `, FAILED: ${t.error.message}` : ''}\n`,
        );
        if (t.error) failed = true;
      }
      if (summary.mixPath) {
        io.stdout.write(`${summary.mixPath}: mix${summary.mixError ? `, FAILED: ${summary.mixError.message}` : ''}\n`);
        if (summary.mixError) failed = true;
      }
      io.stdout.write(`session: ${(summary.durationMs / 1000).toFixed(2)} s\n`);
      return failed ? 1 : 0;
    } finally {
      for (const c of cleanups) await c();
      await ctx.close();
    }
  },
};
