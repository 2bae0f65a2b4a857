/**
 * `argon-voice demo` (what `npm start` runs): the whole toolkit end to end, in one process,
 * against the embedded emulator, with no network and nothing but the npm ffmpeg.
 *
 * ```
 *  ffmpeg lavfi ─► demo-music.ogg ─► AudioPlayer ─► VoiceConnection (pacer thread) ─► /audio/connect ─┐
 *                                     music bot = the emulator's default bot                          │
 *  alice (simulated) ─► DemoVoice ─► seeded impairment (jitter, bursty loss, reorder, stall, DTX) ─►  ├─ room
 *                                                                                                     │
 *  recorder bot 1 ─► /audio/subscribe (target alice) ──────┬─► live VoiceReceiver (stats line) ◄──────┤
 *  recorder bot 2 ─► /audio/subscribe (target music bot) ──┴─► Recorder ─► recording-*.ogg + mix ◄────┘
 *  end (--seconds or Ctrl-C) ─► close everything ─► demo-report.html + demo-report.json
 * ```
 * @remarks The gateway keeps one session per bot identity per room (docs/platform.md §A6): a second
 * session of the same identity kicks the first. The music bot publishes on `/audio/connect`, so
 * each subscription (one per target) runs under its own extra bot identity; `/audio/duplex` is the
 * call path and is not used here.
 * @packageDocumentation
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { codecInfo } from '../../codec/codec-info.js';
import { AbortError, InvalidInputError, TimeoutError, redactSecrets, registerSecret } from '../../errors.js';
import { Emulator, type ImpairmentOptions } from '../../emulator/index.js';
import type { JitterMetrics } from '../../jitter/index.js';
import type { PacerMetrics } from '../../pacing/index.js';
import { RestClient } from '../../rest/index.js';
import { VoiceConnection } from '../../voice/connection.js';
import { AudioPlayer } from '../../voice/player.js';
import { type UserAudioStream, VoiceReceiver } from '../../voice/receiver.js';
import { RECORDING_JITTER, Recorder, type RecordingSummary } from '../../voice/recorder.js';
import { VoiceSubscriber, type VoiceSubscriberState } from '../../voice/subscriber.js';
import { parseFlags } from '../context.js';
import { generateDemoMusic } from '../demo/music.js';
import {
  buildDemoReport,
  type DemoResult,
  type DemoTimelinePoint,
  demoResultJson,
  histogram,
  longGaps,
  spacingSummary,
  spacings,
} from '../demo/report.js';
import { type DemoSnapshot, isInteractive, LiveStatsPrinter, terminalColumns } from '../demo/stats.js';
import { DemoVoice } from '../demo/voice.js';
import type { CliCommand, CliIo } from '../types.js';
import { renderReport } from '../report.js';

const HELP = `Usage: argon-voice demo [--seconds N] [--out DIR] [--seed N]

Runs the toolkit end to end against the embedded emulator (no network, no ARGON_TOKEN needed):
a music bot plays a generated stereo piece through the frame pacer, a simulated user speaks
through an impaired network (seeded jitter, bursty loss, reordering, a stall, DTX), and a
recorder receives both through adaptive jitter buffers. A live line shows the pacer's send
spacing and the jitter buffer's delay; at the end the recordings and a report are written.

Options:
  --seconds N   length of the run (default 20; Ctrl-C stops early and still writes every file)
  --out DIR     output directory (default ./argon-voice-demo)
  --seed N      seed of the simulated network and voice (default 1)

Writes into DIR: demo-music.ogg (the generated music), recording-alice.ogg and
recording-music-bot.ogg (per-user recordings, aligned), recording-mix.ogg (their mix),
demo-report.html (charts and tables) and demo-report.json (every figure).

It always runs on the embedded emulator (ARGON_TOKEN and ARGON_API_URL are not used).
Exit status: 0 when the run ended (at --seconds or by Ctrl-C) and every file was written;
130 when interrupted before the run started (while the music is generated); 1 on a failure.`;

/** The simulated user's network: a poor but usable mobile link. */
export const DEMO_IMPAIRMENT: ImpairmentOptions = {
  baseDelayMs: 30,
  jitter: { kind: 'pareto', scaleMs: 6, shape: 2.2, capMs: 250 },
  loss: { kind: 'gilbert', pGoodToBad: 0.015, pBadToGood: 0.35, lossInBad: 0.6 },
  reorder: { rate: 0.01, delayMs: 40 },
  stall: { durationMs: 350, everyMs: 9000, offsetMs: 5000 },
  dtx: { intervalMs: 400 },
};

const TOPOLOGY_NOTE =
  'Bot identities: the music bot publishes on /audio/connect; each subscription (/audio/subscribe) runs under its own ' +
  'recorder bot, because the gateway keeps one session per bot identity per room and a second one kicks the first ' +
  '(docs/platform.md §A6).';

/** Async cleanups run in reverse order; each runs once and never throws. */
class Cleanups {
  readonly #fns: Array<() => unknown> = [];
  push(fn: () => unknown): void {
    this.#fns.push(fn);
  }
  async run(): Promise<void> {
    while (this.#fns.length) {
      const fn = this.#fns.pop()!;
      try {
        await fn();
      } catch {
        // Best effort: the rest must still be released.
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((done) => {
    if (signal.aborted) return done();
    const onAbort = () => {
      clearTimeout(timer);
      done();
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        done();
      },
      Math.max(0, ms),
    );
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles with `promise`; when `signal` aborted, an {@link AbortError} from it counts as done (the
 * run just ends early). Other errors are rethrown.
 */
async function untilAborted(promise: Promise<unknown>, signal: AbortSignal): Promise<void> {
  try {
    await promise;
  } catch (err) {
    if (!signal.aborted) throw err;
  }
}

/** Waits until the subscriber is waiting for its target or subscribed. */
async function untilListening(sub: VoiceSubscriber, signal: AbortSignal, timeoutMs: number): Promise<void> {
  const ok = (s: VoiceSubscriberState) => s.status === 'waiting' || s.status === 'subscribed';
  if (ok(sub.state)) return;
  await new Promise<void>((done, fail) => {
    const finish = (err?: Error) => {
      clearTimeout(timer);
      sub.off('stateChange', onState);
      signal.removeEventListener('abort', onAbort);
      if (err) fail(err);
      else done();
    };
    const onState = (_o: VoiceSubscriberState, n: VoiceSubscriberState) => {
      if (ok(n)) finish();
      else if (n.status === 'closed') finish(n.reason ?? new Error(`subscriber of ${sub.userId} closed`));
    };
    const onAbort = () => finish(new AbortError('interrupted while subscribing'));
    const timer = setTimeout(
      () => finish(new TimeoutError(`subscriber of ${sub.userId} not listening after ${timeoutMs} ms`, timeoutMs)),
      timeoutMs,
    );
    sub.on('stateChange', onState);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const JITTER_FIELDS = [
  'currentDelayMs',
  'targetDelayMs',
  'bufferedMs',
  'packetsReceived',
  'packetsPlayed',
  'invalidPackets',
  'lateLosses',
  'lateDiscards',
  'lateLossMs',
  'inferredLosses',
  'inferenceUndone',
  'concealedMs',
  'concealedSlots',
  'maxConcealRunMs',
  'fecRecoveries',
  'underruns',
  'droppedFrames',
  'stretchRequests',
  'acceleratedMs',
  'expandedMs',
  'overflowDrops',
  'silenceInsertedMs',
  'silenceMs',
  'restarts',
  'resets',
] as const;

/** The numeric fields of jitter metrics (the delay window is left out). */
function jitterFigures(m: JitterMetrics | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!m) return out;
  for (const k of JITTER_FIELDS) {
    const v = (m as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}

function snapshot(elapsedS: number, p: PacerMetrics, live: UserAudioStream | undefined): DemoSnapshot {
  const j = live?.metrics;
  return {
    elapsedS,
    framesSent: p.framesSent,
    spacingP50Ms: p.spacingP50Ms,
    spacingP99Ms: p.spacingP99Ms,
    framesLate: p.framesLate,
    pacerMode: p.mode,
    pacerClock: p.clock,
    jitterCurrentMs: j?.currentDelayMs ?? Number.NaN,
    jitterTargetMs: j?.targetDelayMs ?? Number.NaN,
    lateLosses: j?.lateLosses ?? 0,
    concealedMs: j?.concealedMs ?? 0,
  };
}

/** Options parsed from the command line. */
interface DemoFlags {
  seconds: number;
  outDir: string;
  seed: number;
}

function parseDemoFlags(argv: string[]): DemoFlags {
  const { flags, positionals } = parseFlags(argv, {
    seconds: { type: 'number', default: 20 },
    out: { type: 'string', default: './argon-voice-demo' },
    seed: { type: 'number', default: 1 },
  });
  if (positionals.length) throw new InvalidInputError(`demo takes no arguments, got '${positionals[0]}'`);
  const seconds = flags.seconds as number;
  if (!(seconds > 0 && seconds <= 3600)) throw new InvalidInputError(`--seconds must be in (0, 3600], got ${seconds}`);
  const seed = flags.seed as number;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new InvalidInputError(`--seed must be an integer in 0..4294967295, got ${seed}`);
  const out = flags.out as string;
  if (!out) throw new InvalidInputError('--out needs a directory');
  return { seconds, outDir: resolve(out), seed };
}

async function runDemo(f: DemoFlags, argv: string[], io: CliIo): Promise<number> {
  const say = (line: string) => io.stdout.write(`${line}\n`);
  const warn = (line: string) => io.stderr.write(`demo: ${redactSecrets(line)}\n`);
  const startedAt = new Date().toISOString();
  const cleanups = new Cleanups();
  await mkdir(f.outDir, { recursive: true });
  const files = {
    music: join(f.outDir, 'demo-music.ogg'),
    user: join(f.outDir, 'recording-alice.ogg'),
    bot: join(f.outDir, 'recording-music-bot.ogg'),
    mix: join(f.outDir, 'recording-mix.ogg'),
    html: join(f.outDir, 'demo-report.html'),
    json: join(f.outDir, 'demo-report.json'),
  };
  say(`argon-voice demo: ${f.seconds} s, seed ${f.seed}, output in ${f.outDir}`);
  try {
    // ── music ──
    const musicS = Math.min(30, Math.max(6, Math.ceil(f.seconds) + 4));
    let music: Awaited<ReturnType<typeof generateDemoMusic>>;
    try {
      music = await generateDemoMusic({ path: files.music, durationS: musicS, signal: io.signal });
    } catch (err) {
      if (err instanceof AbortError) {
        await rm(files.music, { force: true }); // ffmpeg was killed mid-file
        say('interrupted before the run started: nothing was recorded');
        return 130;
      }
      throw err;
    }
    say(`music:     ${music.durationS} s stereo Ogg Opus made by ffmpeg (${music.ffmpeg.origin}) → ${music.path}`);

    // ── the platform ──
    const emu = await Emulator.start({ port: 0 });
    cleanups.push(() => emu.close());
    const where = { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId };
    const room = `${where.spaceId}/${where.channelId}`;
    const speakerId = emu.demo.userIds[0];
    const musicBot = emu.bot;
    const recUser = emu.createBot({ username: 'demo-recorder-alice' });
    const recMusic = emu.createBot({ username: 'demo-recorder-music' });
    emu.addMember(where.spaceId, recUser.userId);
    emu.addMember(where.spaceId, recMusic.userId);
    for (const b of [musicBot, recUser, recMusic]) registerSecret(b.token);
    const rest = {
      music: new RestClient({ token: musicBot.token, baseUrl: emu.apiUrl }),
      user: new RestClient({ token: recUser.token, baseUrl: emu.apiUrl }),
      bot: new RestClient({ token: recMusic.token, baseUrl: emu.apiUrl }),
    };
    for (const r of Object.values(rest)) cleanups.push(() => r.close());
    say(`emulator:  REST ${emu.apiUrl}  audio ${emu.audioUrl}`);
    say(`room:      space ${where.spaceId}, voice channel ${where.channelId}`);
    say(`music bot: ${musicBot.userId} publishes on /audio/connect (stereo, 20 ms frames, pacer thread)`);
    say(
      `user:      alice ${speakerId} speaks through jitter, bursty loss, reordering, a stall and DTX (seed ${f.seed})`,
    );
    say(`recorder:  bots ${recUser.userId} (→ alice) and ${recMusic.userId} (→ music bot) on /audio/subscribe;`);
    say(
      '           one bot identity per subscription: the gateway keeps one session per identity per room (docs/platform.md §A6)',
    );

    const alice = emu.joinVoice(speakerId, where);
    cleanups.push(() => alice.leave());

    // ── receive side: two subscriptions, a recorder and a live (low-latency) buffer ──
    const subUser = new VoiceSubscriber({ rest: rest.user, ...where, userId: speakerId, gatewayUrl: emu.audioUrl });
    const subBot = new VoiceSubscriber({ rest: rest.bot, ...where, userId: musicBot.userId, gatewayUrl: emu.audioUrl });
    cleanups.push(() => subUser.close());
    cleanups.push(() => subBot.close());
    for (const s of [subUser, subBot]) s.on('error', (e) => warn(`subscriber of ${s.userId}: ${e.message}`));
    const recReceiver = new VoiceReceiver();
    const liveReceiver = new VoiceReceiver();
    cleanups.push(() => recReceiver.close());
    cleanups.push(() => liveReceiver.close());
    // Ctrl-C during set-up ends the run before it starts; the files are still written.
    await untilAborted(
      Promise.all([untilListening(subUser, io.signal, 15_000), untilListening(subBot, io.signal, 15_000)]),
      io.signal,
    );
    const recorder = new Recorder({
      receiver: recReceiver,
      users: [speakerId, musicBot.userId],
      outDir: f.outDir,
      channels: 2,
      fileName: (u) => (u === speakerId ? files.user : files.bot),
      mix: { channels: 2, format: 'ogg', fileName: files.mix },
      subscribe: (u) =>
        recReceiver.attach(u, u === speakerId ? subUser : subBot, { mode: 'opus', jitter: RECORDING_JITTER }),
    });
    cleanups.push(() => recorder.stop());
    recorder.on('error', (e, u) => warn(`recording ${u ?? 'mix'}: ${e.message}`));
    // The live listener decodes, so its buffer follows the target by time-stretching speech.
    const live = liveReceiver.attach(speakerId, subUser, { mode: 'pcm', maxQueuedItems: 50 });
    let liveFrames = 0;
    const draining = (async () => {
      for await (const _frame of live) liveFrames++;
    })();

    // ── publish side: the music bot ──
    const conn = new VoiceConnection({
      rest: rest.music,
      ...where,
      stereo: true,
      frameDurationMs: 20,
      trackName: 'demo-music',
      gatewayUrl: emu.audioUrl,
    });
    cleanups.push(() => conn.close());
    conn.on('error', (e) => warn(`music bot connection: ${e.message}`));
    await untilAborted(conn.ready({ timeoutMs: 20_000, signal: io.signal }), io.signal);
    const player = new AudioPlayer(conn);
    cleanups.push(() => player.close());
    player.on('error', (e) => warn(`music: ${e.message}`));
    // The piece is at most 30 s: it starts again when it ends before the run does.
    let looping = !io.signal.aborted;
    player.on('idle', () => {
      if (looping) player.play(music.path, { title: 'demo music' });
    });
    if (looping) player.play(music.path, { title: 'demo music' });

    // ── the simulated user talks ──
    const voice = new DemoVoice({ seed: f.seed, durationMs: f.seconds * 1000 + 2000 });
    cleanups.push(() => voice.close());
    const speech = alice.speak((i) => voice.next(i), { impairment: DEMO_IMPAIRMENT, seed: f.seed });
    cleanups.push(() => speech.stop());

    // ── run ──
    const timeline: DemoTimelinePoint[] = [];
    const t0 = performance.now();
    let ticks = 0;
    // Every 100 ms, coarser for long runs so the chart keeps at most ~1500 points.
    const ticksPerSecond = 1000 / liveReceiver.tickMs;
    const tickEvery = Math.max(ticksPerSecond / 10, Math.ceil((f.seconds * ticksPerSecond) / 1500));
    const onTick = () => {
      if (++ticks % tickEvery !== 0) return;
      const m = live.metrics;
      const r = recReceiver.streams.get(speakerId)?.metrics;
      timeline.push({
        tS: Math.round(performance.now() - t0) / 1000,
        currentDelayMs: m.currentDelayMs,
        targetDelayMs: m.targetDelayMs,
        bufferedMs: m.bufferedMs,
        recordingDelayMs: r?.currentDelayMs,
        recordingBufferedMs: r?.bufferedMs,
      });
    };
    liveReceiver.on('tick', onTick);
    cleanups.push(() => liveReceiver.off('tick', onTick));
    const printer = new LiveStatsPrinter({
      out: io.stdout,
      tty: isInteractive(io.stdout, io.env),
      columns: terminalColumns(io.stdout),
    });
    say(`running for ${f.seconds} s (Ctrl-C stops early; every file is still written)`);
    let failure: string | undefined;
    for (let second = 1; ; second++) {
      const remaining = f.seconds * 1000 - (performance.now() - t0);
      if (remaining <= 0 || io.signal.aborted) break;
      await pause(Math.min(remaining, second * 1000 - (performance.now() - t0)), io.signal);
      if (conn.state.status === 'closed') {
        failure = `the music bot's connection closed: ${conn.state.reason?.message ?? 'no reason'}`;
        break;
      }
      const p = await conn.pacer.refreshMetrics({ timeoutMs: 500 });
      printer.update(snapshot((performance.now() - t0) / 1000, p, live));
    }
    printer.finish();
    const aborted = io.signal.aborted;
    const ranSeconds = (performance.now() - t0) / 1000;
    say(
      aborted
        ? `stopped after ${ranSeconds.toFixed(1)} s (interrupted); closing and writing files`
        : 'done; closing and writing files',
    );

    // ── stop: figures first, then close everything in order (the emulator last) ──
    looping = false;
    speech.stop();
    const pacer = await conn.pacer.refreshMetrics({ timeoutMs: 1000 });
    const jitterLive = jitterFigures(live.metrics);
    const jitterRec = jitterFigures(recReceiver.streams.get(speakerId)?.metrics);
    const summary: RecordingSummary = await recorder.stop();
    liveReceiver.off('tick', onTick);
    await liveReceiver.close();
    await draining;
    await recReceiver.close();
    await Promise.all([subUser.close(), subBot.close()]);
    await player.close();
    await conn.close();
    const arrivals = emu.gateway.published({ room, identity: musicBot.userId });
    const gaps = spacings(arrivals);
    alice.leave();
    voice.close();
    await cleanups.run();

    // ── report ──
    const roleOf = (u: string) => (u === speakerId ? 'alice (simulated user)' : 'music bot');
    const result: DemoResult = {
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `argon-voice demo ${argv.join(' ')}`.trim(),
      seed: f.seed,
      requestedSeconds: f.seconds,
      ranSeconds,
      aborted,
      emulator: { apiUrl: emu.apiUrl, audioUrl: emu.audioUrl, spaceId: where.spaceId, voiceChannelId: where.channelId },
      topology: {
        musicBotUserId: musicBot.userId,
        speakerUserId: speakerId,
        recorderBotUserIds: [recUser.userId, recMusic.userId],
        note: TOPOLOGY_NOTE,
      },
      music: {
        path: music.path,
        durationS: music.durationS,
        bytes: music.bytes,
        ffmpeg: `${music.ffmpeg.origin}: ${music.ffmpeg.version}`,
        framesQueued: conn.stats.framesAccepted,
      },
      musicBot: {
        framesSent: pacer.framesSent,
        framesLate: pacer.framesLate,
        framesSkipped: pacer.framesSkipped,
        underruns: pacer.underruns,
        dropouts: pacer.dropouts,
        droppedMs: pacer.droppedMs,
        fillerFrames: pacer.fillerFrames,
        networkDrops: pacer.networkDrops,
        spacingP50Ms: pacer.spacingP50Ms,
        spacingP99Ms: pacer.spacingP99Ms,
        spacingMaxMs: pacer.spacingMaxMs,
        latenessP99Ms: pacer.latenessP99Ms,
        pacerMode: pacer.mode,
        pacerClock: pacer.clock,
        realtime: pacer.realtime,
      },
      emulatorReceive: {
        frames: arrivals.length,
        spacing: spacingSummary(gaps),
        histogram: histogram(gaps),
        longGaps: longGaps(arrivals, 30),
      },
      speaker: {
        framesSent: speech.framesSent,
        speechFrames: voice.speechFrames,
        impairment: DEMO_IMPAIRMENT,
        impairmentStats: { ...speech.stats },
      },
      jitter: { live: { ...jitterLive, pcmFramesPlayed: liveFrames }, recording: jitterRec },
      timeline,
      recording: {
        durationMs: summary.durationMs,
        tracks: summary.tracks.map((t) => ({
          userId: t.userId,
          role: roleOf(t.userId),
          path: t.path,
          seconds: t.samples / 48_000,
          packets: t.packets,
          fillPackets: t.fillPackets,
          ...(t.error ? { error: t.error.message } : {}),
        })),
        mixPath: summary.mixPath,
        mixError: summary.mixError?.message,
      },
      codec: codecInfo(),
      files: {
        music: files.music,
        recordings: summary.tracks.map((t) => t.path),
        mix: summary.mixPath,
        html: files.html,
        json: files.json,
      },
    };
    await writeFile(files.json, demoResultJson(result));
    await writeFile(files.html, renderReport(buildDemoReport(result)));

    // ── where everything is ──
    const sp = result.emulatorReceive.spacing;
    say(
      `music bot: ${pacer.framesSent} frames sent, spacing at the emulator p50 ${sp.p50.toFixed(2)} / p99 ${sp.p99.toFixed(2)} ms, ` +
        `${pacer.framesLate} late (${pacer.mode} pacer, ${pacer.clock} clock)`,
    );
    say(
      `alice:     jitter buffer ${Math.round(jitterLive.currentDelayMs ?? 0)}/${Math.round(jitterLive.targetDelayMs ?? 0)} ms (current/target), ` +
        `${jitterLive.lateLosses ?? 0} late losses, ${Math.round(jitterLive.concealedMs ?? 0)} ms concealed, ` +
        `${Math.round(jitterLive.acceleratedMs ?? 0)}/${Math.round(jitterLive.expandedMs ?? 0)} ms time-stretched (accelerated/expanded)`,
    );
    say('files:');
    const rows: Array<[string, string]> = [[files.music, 'the music the bot played (generated)']];
    for (const t of result.recording.tracks) {
      rows.push([
        t.path,
        `recording of ${t.role}: ${t.seconds.toFixed(2)} s, ${t.packets} packets, ${t.fillPackets} filled${t.error ? `, FAILED: ${t.error}` : ''}`,
      ]);
    }
    if (summary.mixPath)
      rows.push([
        summary.mixPath,
        `mix of both recordings${summary.mixError ? `, FAILED: ${summary.mixError.message}` : ''}`,
      ]);
    rows.push([files.html, 'report: send-spacing histogram, jitter-buffer delay, metrics, codecs']);
    rows.push([files.json, 'every figure as JSON']);
    const width = Math.max(...rows.map(([p]) => p.length));
    for (const [p, what] of rows) say(`  ${p.padEnd(width)}  ${what}`);
    say(`open ${files.html} in a browser to see the charts`);
    say(
      "note: alice's packets are recorded unchanged and carry in-band FEC, as browsers send it; ffmpeg's built-in Opus " +
        `decoder cannot decode FEC (LBRR) frames, so play that file with a libopus player or 'ffmpeg -c:a libopus -i ${files.user} …'`,
    );
    if (failure) {
      warn(failure);
      return 1;
    }
    const writeFailed = summary.tracks.some((t) => t.error) || summary.mixError !== undefined;
    return writeFailed ? 1 : 0;
  } finally {
    await cleanups.run();
  }
}

/** The `demo` command (`npm start`). */
export const command: CliCommand = {
  summary: 'Run the end-to-end demo on the embedded emulator; writes recordings and a report',
  help: HELP,
  async run(argv, io) {
    return runDemo(parseDemoFlags(argv), argv, io);
  },
};
