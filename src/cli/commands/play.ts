/**
 * `argon-voice play <file|url>`: plays one file or URL into a voice channel and exits when it
 * has been played out. The end-to-end check of the publish path:
 *
 * ```
 * resolvePlatform ─► VoiceConnection (StreamToken → /audio/connect, pacer thread) ◄─ AudioPlayer ◄─ createAudioSource
 *   (no ARGON_TOKEN: embedded emulator + a simulated listener that counts what it hears)
 * ```
 * @packageDocumentation
 */
import { InvalidInputError } from '../../errors.js';
import type { LatePolicy } from '../../pacing/schedule.js';
import { VoiceConnection } from '../../voice/connection.js';
import { AudioPlayer } from '../../voice/player.js';
import { parseFlags, resolvePlatform } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';
import { describeError } from '../errors.js';
import { startProgress } from '../progress.js';

const HELP = `Usage: argon-voice play <file|url> [options]

Plays a file or URL into a voice channel, paced in real time, and exits when it has been played out.

Options:
  --space ID           space (default ARGON_SPACE_ID, else the bot's first space)
  --channel ID         voice channel (default ARGON_CHANNEL_ID, else the space's first voice channel)
  --frame-ms N         frame duration in integer ms: 10, 20, 40 or 60 (default 20)
  --stereo             publish a stereo track (default mono)
  --volume X           linear gain (default 1; anything else transcodes Ogg/WebM Opus)
  --normalize          EBU R128 loudness normalisation to -16 LUFS / -1 dBTP (transcodes)
  --late-policy P      skip | burst | stretch (default burst: a file loses no frame; the
                       backlog after a stall is sent at once, at most 200 ms of it)
  --pacer MODE         worker | main (default worker)
  --media MODE         auto | main: where the file is read, decoded and encoded (default auto:
                       a media worker thread with a 1 s lookahead, so a blocked event loop
                       inserts no silence; main: the main thread, as before)
  --lookahead-ms N     media worker lookahead (default 1000)
  --gateway URL        audio gateway base overriding the ingressUrl of StreamToken (or ARGON_AUDIO_URL)
  --timeout S          give up after S seconds of waiting to connect (default 30)

Environment: ARGON_API_URL, ARGON_TOKEN, ARGON_SPACE_ID, ARGON_CHANNEL_ID.
Without ARGON_TOKEN the file is played into an embedded emulator, to a simulated listener.
Exit status: 0 when played out, 1 on any failure (with the reason on stderr).`;

/** The `play` command. */
export const command: CliCommand = {
  summary: 'Play a file or URL into a voice channel (paced, exits when played out)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { flags, positionals } = parseFlags(argv, {
      space: { type: 'string' },
      channel: { type: 'string' },
      'frame-ms': { type: 'number', default: 20 },
      stereo: { type: 'boolean', default: false },
      volume: { type: 'number', default: 1 },
      normalize: { type: 'boolean', default: false },
      'late-policy': { type: 'string', default: 'burst' },
      pacer: { type: 'string', default: 'worker' },
      media: { type: 'string', default: 'auto' },
      'lookahead-ms': { type: 'number', default: 1000 },
      gateway: { type: 'string' },
      timeout: { type: 'number', default: 30 },
    });
    const input = positionals[0];
    if (!input) throw new InvalidInputError('play needs a file or URL: argon-voice play <file|url>');
    if (positionals.length > 1) throw new InvalidInputError(`play takes one file or URL, got ${positionals.length}`);
    const frameMs = flags['frame-ms'] as number;
    if (![10, 20, 40, 60].includes(frameMs))
      throw new InvalidInputError(`--frame-ms must be 10, 20, 40 or 60, got ${frameMs}`);
    const volume = flags.volume as number;
    if (!(volume >= 0)) throw new InvalidInputError(`--volume must be ≥ 0, got ${volume}`);
    const latePolicy = flags['late-policy'] as LatePolicy;
    if (!['skip', 'burst', 'stretch'].includes(latePolicy))
      throw new InvalidInputError('--late-policy must be skip, burst or stretch');
    const pacerMode = flags.pacer as string;
    if (pacerMode !== 'worker' && pacerMode !== 'main') throw new InvalidInputError('--pacer must be worker or main');
    const timeoutMs = (flags.timeout as number) * 1000;
    const media = flags.media as string;
    if (media !== 'auto' && media !== 'main') throw new InvalidInputError('--media must be auto or main');
    const lookaheadMs = flags['lookahead-ms'] as number;
    if (!(lookaheadMs >= 20)) throw new InvalidInputError(`--lookahead-ms must be ≥ 20, got ${lookaheadMs}`);

    const ctx = await resolvePlatform(io, {
      space: flags.space as string | undefined,
      channel: flags.channel as string | undefined,
    });
    let conn: VoiceConnection | undefined;
    let player: AudioPlayer | undefined;
    try {
      const where = { spaceId: ctx.spaceId, channelId: ctx.channelId };
      let heard: (() => number) | undefined;
      const emu = ctx.emulator;
      if (emu) {
        const { userId } = emu.createUser({ username: 'simulated-listener' });
        const person = emu.joinVoice(userId, where);
        const listener = person.listen({ identity: emu.bot.userId });
        heard = () => listener.frames.length;
        io.stderr.write(`emulator: playing to a simulated listener in ${where.spaceId}/${where.channelId}\n`);
      }
      const gateway = (flags.gateway as string | undefined) || io.env.ARGON_AUDIO_URL || undefined;
      conn = new VoiceConnection({
        rest: ctx.rest,
        ...where,
        stereo: flags.stereo as boolean,
        frameDurationMs: frameMs,
        trackName: 'argon-voice play',
        pacer: { latePolicy, mode: pacerMode },
        ...(gateway ? { gatewayUrl: gateway } : {}),
      });
      conn.on('stateChange', (_o, n) => {
        if (n.status === 'reconnecting')
          io.stderr.write(`connection dropped (${n.reason.message}); reconnecting in ${n.delayMs} ms\n`);
      });
      conn.on('invalidFrame', (f) =>
        io.stderr.write(`warning: invalid ${f.length}-byte frame replaced with silence\n`),
      );
      await conn.ready({ timeoutMs, signal: io.signal });
      io.stderr.write(
        `connected (${conn.pacer.runtime.mode} pacer, ${conn.pacer.runtime.clock} clock); playing ${input}\n`,
      );

      player = new AudioPlayer(conn, {
        volume,
        media,
        lookaheadMs,
        ...(flags.normalize ? { normalize: true } : {}),
      });
      const track = player.play(input, { title: input });
      const closed = conn.waitFor('closed').then(
        () => {
          throw new Error('the voice connection closed before the audio was played out');
        },
        (e: unknown) => {
          throw e;
        },
      );
      const aborted = new Promise<never>((_r, reject) => {
        const onAbort = () =>
          reject(new Error(`interrupted (${String((io.signal.reason as Error)?.message ?? io.signal.reason)})`));
        if (io.signal.aborted) onAbort();
        else io.signal.addEventListener('abort', onAbort, { once: true });
      });
      closed.catch(() => undefined);
      aborted.catch(() => undefined);
      const startedAt = performance.now();
      const progress = startProgress(io, () => {
        const m = conn!.metrics;
        return `playing ${input}: ${((performance.now() - startedAt) / 1000).toFixed(1)} s, ${m.framesSent} frames sent, spacing p99 ${m.spacingP99Ms.toFixed(2)} ms, late ${m.framesLate}`;
      });
      const result = await Promise.race([track.playout, closed, aborted]).finally(() => progress.stop());
      if (result.status !== 'finished') throw new Error('playback was stopped before the end');
      const m = await conn.pacer.refreshMetrics();
      const seconds = (result.frames * frameMs) / 1000;
      const stats = {
        frames: result.frames,
        seconds,
        framesSent: m.framesSent,
        late: m.framesLate,
        skipped: m.framesSkipped,
        underruns: m.underruns,
        dropouts: m.dropouts,
        droppedMs: m.droppedMs,
        invalidReplaced: conn.stats.invalidFrames,
        spacingP50Ms: round(m.spacingP50Ms),
        spacingP99Ms: round(m.spacingP99Ms),
        spacingMaxMs: round(m.spacingMaxMs),
        pacer: `${m.mode}/${m.clock}${m.realtime ? '/realtime' : ''}`,
        media: conn.pacer.mode === 'worker' && media === 'auto' ? 'worker' : 'main',
        ...(heard ? { listenerFrames: heard() } : {}),
      };
      io.stdout.write(
        `played ${input}: ${result.frames} frames (${seconds.toFixed(2)} s), ${m.dropouts} dropouts (${round(m.droppedMs)} ms of inserted silence)\n${JSON.stringify(stats)}\n`,
      );
      return 0;
    } catch (err) {
      io.stderr.write(`argon-voice play: ${describeError(err)}\n`);
      return 1;
    } finally {
      await player?.close().catch(() => undefined);
      await conn?.close().catch(() => undefined);
      await ctx.close().catch(() => undefined);
    }
  },
};

function round(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 100) / 100 : x;
}
