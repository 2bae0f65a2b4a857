/**
 * Soak: long-run reliability of a bot that publishes and receives many streams at once, against
 * the emulator running in a **child process** (so its memory, sockets and timers are not counted
 * as the bot's).
 *
 * Usage: `node --import tsx bench/soak.ts [--json] [--quick] [--minutes N] [--publish N] [--listen N] [--media auto|main]`
 * (or `argon-voice bench soak --minutes N`). Default 10 minutes; `--quick` 1 minute.
 *
 * The bot process runs 50 publishing streams (one `VoiceConnection` + `AudioPlayer` per voice
 * channel, each looping a 10 s Ogg Opus tone made here: demux and passthrough, a new track every
 * 10 s) and 10 listening streams (`VoiceReceiver.subscribe` in `pcm` mode, decoded and consumed,
 * on 10 simulated speakers talking in other channels), plus one SSE `EventStream`.
 *
 * Measured:
 * - RSS and V8 heap (`process.memoryUsage()`) every 10 s (every duration/30 for runs under 5 min);
 *   least-squares growth after a warm-up of the first 20 % of the run: per hour, over the fitted
 *   window, and as % of the post-warm-up mean. Goal: RSS growth over the window within ±5 %.
 * - File descriptors (`/proc/self/fd`), socket fds (readlink `socket:[…]`), active handles by type
 *   (`process.getActiveResourcesInfo()`: timers, TCP wraps, …) and `process` listeners, before any
 *   connection is made (modules loaded, codec warmed up, emulator child up) and after everything
 *   was closed. Anything higher at the end is reported as a leak.
 * - Listeners on the run's emitters (connections, pacers, players, receiver, streams,
 *   subscribers, event stream), sampled with memory: growth during the run is a per-track leak.
 * - Per-stream health: frames sent, late/skipped frames, underruns, filler frames, network drops,
 *   reconnects (publish); frames received and played, concealment, late losses, reconnects (listen).
 * @packageDocumentation
 */
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { toneSource } from '../src/calls/index.js';
import { OggOpusMuxer } from '../src/codec/ogg-mux.js';
import { InvalidInputError } from '../src/errors.js';
import { EventStream } from '../src/events/event-stream.js';
import { Intents } from '../src/events/intents.js';
import { RestClient } from '../src/rest/client.js';
import { RateLimiter } from '../src/rest/rate-limiter.js';
import { VoiceConnection } from '../src/voice/connection.js';
import { AudioPlayer } from '../src/voice/player.js';
import { type UserAudioStream, VoiceReceiver } from '../src/voice/receiver.js';
import type { VoiceSubscriber } from '../src/voice/subscriber.js';
import {
  compareResources,
  countByName,
  type GrowthFigures,
  growthAfterWarmup,
  type ResourceSnapshot,
  withinGrowthGoal,
} from './soak-stats.js';

/** The emulator's rate window is shortened to 6 × 500 ms so 60 sessions start in seconds. */
const RATE_SEGMENT_MS = 500;
const TONE_MS = 10_000;
const RSS_GOAL_PCT = 5;

interface World {
  t: 'up';
  apiUrl: string;
  audioUrl: string;
  token: string;
  spaceId: string;
  publish: string[];
  listen: Array<{ channelId: string; userId: string }>;
}

/** Opus frames of a tone, in memory. */
async function toneFrames(hz: number, ms: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of toneSource([[hz, ms]])) frames.push(f as Uint8Array);
  return frames;
}

// ─────────────────────────── child: the emulator ───────────────────────────
async function child(): Promise<void> {
  const { Emulator } = await import('../src/emulator/index.js');
  const nPublish = Number(process.env.SOAK_PUBLISH);
  const nListen = Number(process.env.SOAK_LISTEN);
  const maxFrames = Number(process.env.SOAK_MAX_FRAMES);
  const emu = await Emulator.start({ port: 0, audioPort: 0, timings: { rateSegmentMs: RATE_SEGMENT_MS } });
  const spaceId = emu.demo.spaceId;
  const publish = Array.from(
    { length: nPublish },
    (_, i) => emu.createChannel({ spaceId, name: `soak-publish-${i}`, type: 'voice' }).channelId,
  );
  const speech = await toneFrames(330, 1000);
  const speakers: Array<{ stop(): void }> = [];
  const listen = Array.from({ length: nListen }, (_, i) => {
    const { channelId } = emu.createChannel({ spaceId, name: `soak-listen-${i}`, type: 'voice' });
    const { userId } = emu.createUser({ username: `soak-speaker-${i}` });
    emu.addMember(spaceId, userId);
    const p = emu.joinVoice(userId, { spaceId, channelId });
    speakers.push(p.speak((k) => speech[k % speech.length], { maxFrames }));
    return { channelId, userId };
  });
  // The gateway records every published frame for tests; keep that bounded.
  const clear = setInterval(() => emu.gateway.clearPublished(), 10_000);
  const close = async () => {
    clearInterval(clear);
    for (const s of speakers) s.stop();
    await emu.close();
    process.exit(0);
  };
  process.on('message', (m: { t: string }) => {
    if (m.t === 'close') void close();
    if (m.t === 'stats') process.send!({ t: 'stats', sessions: emu.gateway.sessions().length });
  });
  process.on('disconnect', () => void close());
  process.send!({
    t: 'up',
    apiUrl: emu.apiUrl,
    audioUrl: emu.audioUrl,
    token: emu.bot.token,
    spaceId,
    publish,
    listen,
  } satisfies World);
}

// ─────────────────────────── parent: the bot ───────────────────────────
function numberArg(args: string[], name: string, def: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!(v > 0)) throw new InvalidInputError(`${name} needs a positive number, got '${args[i + 1] ?? ''}'`);
  return v;
}

const MB = 2 ** 20;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Counts of fds, of socket fds and of fds by kind of this process (Linux `/proc`; zeros elsewhere). */
function fdCounts(): { fds: number; socketFds: number; fdKinds: Record<string, number> } {
  if (!existsSync('/proc/self/fd')) return { fds: 0, socketFds: 0, fdKinds: {} };
  const fds = readdirSync('/proc/self/fd');
  const kinds: string[] = [];
  for (const fd of fds) {
    try {
      // socket:[123] and pipe:[456] by kind; anon_inode:[eventfd] and paths as they are.
      kinds.push(readlinkSync(`/proc/self/fd/${fd}`).replace(/^(socket|pipe):\[\d+\]$/, '$1'));
    } catch {
      // the fd of the directory listing itself is gone by now
    }
  }
  const fdKinds = countByName(kinds);
  return { fds: fds.length, socketFds: fdKinds.socket ?? 0, fdKinds };
}

/** The commit the run measured, and how many files under src/ differed from it (a shared tree). */
function sourceTree(): string {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const head = git('rev-parse', '--short', 'HEAD').trim();
    const dirty = git('--no-optional-locks', 'status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
    return dirty ? `${head} + ${dirty} uncommitted file(s) under src/` : head;
  } catch {
    return 'unknown (no git)';
  }
}

function processListeners(): number {
  return process.eventNames().reduce((n, e) => n + process.listenerCount(e), 0);
}

function snapshot(): ResourceSnapshot {
  return {
    ...fdCounts(),
    // Timers are always listed, even at zero.
    resources: { Timeout: 0, ...countByName(process.getActiveResourcesInfo()) },
    listeners: { process: processListeners() },
  };
}

function childRssMb(pid: number | undefined): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? round(Number(m[1]) / 1024, 1) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

type Counted = { listenerCount(event: string): number };
const listenersOn = (o: unknown, events: readonly string[]) =>
  events.reduce((n, e) => n + (o as Counted).listenerCount(e), 0);

interface PublishStream {
  i: number;
  channelId: string;
  connection: VoiceConnection;
  player: AudioPlayer;
  tracksFinished: number;
  trackErrors: number;
  reconnects: number;
  errors: number;
  lastError?: string;
}

interface ListenStream {
  i: number;
  userId: string;
  stream: UserAudioStream;
  subscriber: VoiceSubscriber;
  framesOut: number;
  concealedFrames: number;
  reconnects: number;
  errors: number;
  consumed: Promise<void>;
}

interface Sample {
  tS: number;
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  fds: number;
  socketFds: number;
  timers: number;
  listeners: number;
  /** Sums over the publishing streams since the start of the run (latest pacer snapshots, ≤ 1 s old). */
  pubUnderruns: number;
  pubDropouts: number;
  emulatorRssMb: number;
}

async function parent(): Promise<void> {
  const args = process.argv.slice(2);
  const asJson = args.includes('--json');
  const quick = args.includes('--quick');
  const minutes = numberArg(args, '--minutes', quick ? 1 : 10);
  const nPublish = Math.round(numberArg(args, '--publish', 50));
  const nListen = Math.round(numberArg(args, '--listen', 10));
  // `--media main` plays on the main thread instead of the media worker pool (for comparison).
  const media = args.includes('--media') ? args[args.indexOf('--media') + 1] : 'auto';
  if (media !== 'auto' && media !== 'main') throw new InvalidInputError(`--media is auto or main, got '${media}'`);
  const durationMs = minutes * 60_000;
  const sampleMs = Math.min(10_000, Math.max(1000, Math.round(durationMs / 30)));
  const warmupS = (durationMs * 0.2) / 1000;
  const log = (s: string) => process.stderr.write(`soak: ${s}\n`);

  // Warm-up of module loading and the codec: the tone is encoded here, before the start snapshot.
  const mux = new OggOpusMuxer({ channels: 1 });
  const pages = [mux.headers()];
  for (const f of await toneFrames(440, TONE_MS)) pages.push(mux.write(f));
  pages.push(mux.end());
  const ogg = Buffer.concat(pages);

  const emulator: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: process.execArgv,
    env: {
      ...process.env,
      SOAK_PUBLISH: String(nPublish),
      SOAK_LISTEN: String(nListen),
      SOAK_MAX_FRAMES: String(Math.ceil(durationMs / 20) + 30_000),
    },
    // The child's stdout goes to our stderr: stdout carries only the results.
    stdio: ['ignore', 2, 2, 'ipc'],
  });
  const stopChild = () =>
    new Promise<void>((resolve) => {
      if (emulator.exitCode !== null || emulator.signalCode !== null) return resolve();
      const t = setTimeout(() => emulator.kill('SIGKILL'), 10_000);
      emulator.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      if (emulator.connected) emulator.send({ t: 'close' });
      else emulator.kill('SIGTERM');
    });
  try {
    const world = await new Promise<World>((resolve, reject) => {
      emulator.once('message', (m: World) => resolve(m));
      emulator.once('exit', (code) => reject(new Error(`the emulator child exited with ${code} before it was up`)));
    });
    await sleep(1000);
    const start = snapshot();
    const startMem = process.memoryUsage();
    log(`emulator up (pid ${emulator.pid}); start: ${start.fds} fds, ${start.socketFds} sockets`);

    // ── the bot ──
    const rest = new RestClient({
      token: world.token,
      baseUrl: world.apiUrl,
      limiter: new RateLimiter({ windowMs: 6 * RATE_SEGMENT_MS }),
    });
    const events = new EventStream({ rest, intents: Intents.All });
    let sseErrors = 0;
    events.on('error', () => sseErrors++);
    const connectStarted = performance.now();
    await events.start();
    let stopping = false;
    let running = false;

    const publish: PublishStream[] = world.publish.map((channelId, i) => {
      const connection = new VoiceConnection({ rest, spaceId: world.spaceId, channelId });
      const s: PublishStream = {
        i,
        channelId,
        connection,
        player: new AudioPlayer(connection, { media }),
        tracksFinished: 0,
        trackErrors: 0,
        reconnects: 0,
        errors: 0,
      };
      connection.on('stateChange', (_o, n) => {
        if (n.status === 'reconnecting' && running) s.reconnects++;
      });
      connection.on('error', (e) => {
        s.errors++;
        s.lastError = e.message;
      });
      return s;
    });
    const enqueue = (s: PublishStream) => {
      if (stopping) return;
      const track = s.player.play(ogg, { title: `soak ${s.i}` });
      track.playout.then(
        (r) => {
          if (r.status === 'finished') s.tracksFinished++;
          enqueue(s);
        },
        (e: Error) => {
          s.trackErrors++;
          s.lastError = e.message;
          enqueue(s);
        },
      );
    };

    const receiver = new VoiceReceiver({ rest, spaceId: world.spaceId, gatewayUrl: world.audioUrl });
    let receiverErrors = 0;
    receiver.on('error', () => receiverErrors++);
    const listen: ListenStream[] = world.listen.map(({ channelId, userId }, i) => {
      const stream = receiver.subscribe(userId, { channelId, mode: 'pcm' });
      const subscriber = stream.source as VoiceSubscriber;
      const l: ListenStream = {
        i,
        userId,
        stream,
        subscriber,
        framesOut: 0,
        concealedFrames: 0,
        reconnects: 0,
        errors: 0,
        consumed: Promise.resolve(),
      };
      subscriber.on('stateChange', (_o, n) => {
        if (n.status === 'reconnecting' && running) l.reconnects++;
      });
      subscriber.on('error', () => l.errors++);
      l.consumed = (async () => {
        for await (const f of stream) {
          l.framesOut++;
          if ('concealed' in f && f.concealed) l.concealedFrames++;
        }
      })();
      return l;
    });

    await Promise.all(publish.map((s) => s.connection.ready({ timeoutMs: 60_000 })));
    await Promise.all(listen.map((l) => l.subscriber.waitFor('subscribed', { timeoutMs: 60_000 })));
    const connectS = (performance.now() - connectStarted) / 1000;
    for (const s of publish) {
      enqueue(s);
      enqueue(s); // one track ahead, so the next one is open when the current one ends
    }
    log(`${publish.length} publishing + ${listen.length} listening streams up in ${connectS.toFixed(1)} s`);
    await sleep(2000); // the first tracks' start is not part of the run

    // ── the run ──
    const listenerCount = () =>
      publish.reduce(
        (n, s) =>
          n +
          listenersOn(s.connection, ['stateChange', 'error', 'invalidFrame', 'token']) +
          listenersOn(s.connection.pacer, ['socket', 'metrics']) +
          listenersOn(s.player, ['stateChange', 'playing', 'idle', 'error', 'idleDisconnect']),
        0,
      ) +
      listen.reduce(
        (n, l) =>
          n +
          listenersOn(l.stream, ['output', 'speakingStart', 'speakingStop', 'reset', 'end']) +
          listenersOn(l.subscriber, ['stateChange', 'frame', 'subscribed', 'targetLeft', 'error']),
        0,
      ) +
      listenersOn(receiver, ['speakingStart', 'speakingStop', 'tick', 'warning', 'error']) +
      listenersOn(events, ['stateChange', 'error', 'reconnect', 'unknownEvent']) +
      processListeners();

    // Health counters cover the measured run only: streams that were ready early sent keepalive
    // silence (counted as underruns) while the others connected.
    const refresh = (s: PublishStream) =>
      s.connection.pacer.refreshMetrics({ timeoutMs: 2000 }).catch(() => s.connection.metrics);
    const pubBase = await Promise.all(publish.map(refresh));
    const tracksBase = publish.map((s) => s.tracksFinished);
    const lisBase = listen.map((l) => ({
      framesReceived: l.subscriber.framesReceived,
      framesOut: l.framesOut,
      concealedFrames: l.concealedFrames,
      jitter: { ...l.stream.metrics },
      droppedItems: l.stream.droppedItems,
    }));
    running = true;
    const loadStart = loadavg();
    const t0 = performance.now();
    const samples: Sample[] = [];
    const sample = () => {
      const m = process.memoryUsage();
      const { fds, socketFds } = fdCounts();
      samples.push({
        tS: round((performance.now() - t0) / 1000, 1),
        rssMb: round(m.rss / MB),
        heapUsedMb: round(m.heapUsed / MB),
        heapTotalMb: round(m.heapTotal / MB),
        externalMb: round(m.external / MB),
        fds,
        socketFds,
        timers: process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
        listeners: listenerCount(),
        pubUnderruns: publish.reduce((n, s) => n + s.connection.metrics.underruns - pubBase[s.i]!.underruns, 0),
        pubDropouts: publish.reduce((n, s) => n + s.connection.metrics.dropouts - pubBase[s.i]!.dropouts, 0),
        emulatorRssMb: childRssMb(emulator.pid),
      });
    };
    sample();
    let lastLog = 0;
    const timer = setInterval(() => {
      sample();
      const s = samples[samples.length - 1]!;
      if (s.tS - lastLog >= 60) {
        lastLog = s.tS;
        log(`${(s.tS / 60).toFixed(1)} min: rss ${s.rssMb} MB, heap ${s.heapUsedMb} MB, ${s.fds} fds`);
      }
    }, sampleMs);
    await sleep(durationMs);
    clearInterval(timer);
    sample();
    running = false;

    // ── health, then close everything ──
    const pubRows = await Promise.all(
      publish.map(async (s) => {
        const m = await refresh(s);
        const b = pubBase[s.i]!;
        return {
          stream: s.i,
          framesSent: m.framesSent - b.framesSent,
          framesLate: m.framesLate - b.framesLate,
          framesSkipped: m.framesSkipped - b.framesSkipped,
          underruns: m.underruns - b.underruns,
          fillerFrames: m.fillerFrames - b.fillerFrames,
          networkDrops: m.networkDrops - b.networkDrops,
          dropouts: m.dropouts - b.dropouts,
          droppedMs: m.droppedMs - b.droppedMs,
          spacingP99Ms: round(m.spacingP99Ms),
          tracksFinished: s.tracksFinished - tracksBase[s.i]!,
          trackErrors: s.trackErrors,
          reconnects: s.reconnects,
          errors: s.errors,
          state: s.connection.state.status,
        };
      }),
    );
    const lisRows = listen.map((l) => {
      const j = l.stream.metrics;
      const b = lisBase[l.i]!;
      return {
        stream: l.i,
        framesReceived: l.subscriber.framesReceived - b.framesReceived,
        pcmFramesOut: l.framesOut - b.framesOut,
        concealedFrames: l.concealedFrames - b.concealedFrames,
        lateLosses: j.lateLosses - b.jitter.lateLosses,
        inferredLosses: j.inferredLosses - b.jitter.inferredLosses,
        underruns: j.underruns - b.jitter.underruns,
        droppedFrames: j.droppedFrames - b.jitter.droppedFrames,
        droppedItems: l.stream.droppedItems - b.droppedItems,
        reconnects: l.reconnects,
        errors: l.errors,
        state: l.subscriber.state.status,
      };
    });
    const emulatorSessions = await new Promise<number>((resolve) => {
      const t = setTimeout(() => resolve(Number.NaN), 2000);
      const on = (m: { t: string; sessions?: number }) => {
        if (m.t !== 'stats') return;
        clearTimeout(t);
        emulator.off('message', on);
        resolve(m.sessions ?? Number.NaN);
      };
      emulator.on('message', on);
      emulator.send({ t: 'stats' });
    });

    stopping = true;
    const closeStarted = performance.now();
    await Promise.all(publish.map((s) => s.player.close()));
    await Promise.all(publish.map((s) => s.connection.close()));
    await receiver.close();
    await Promise.all(listen.map((l) => l.consumed));
    await events.close();
    await rest.close();
    const closeS = (performance.now() - closeStarted) / 1000;

    // Sockets and the pacer thread need a moment to go: poll until the counts are back (10 s at most).
    let end = snapshot();
    const settleStarted = performance.now();
    while (compareResources(start, end).leak && performance.now() - settleStarted < 10_000) {
      await sleep(250);
      end = snapshot();
    }
    const settleS = (performance.now() - settleStarted) / 1000;
    const endMem = process.memoryUsage();
    const resources = compareResources(start, end);

    // ── figures ──
    const series = (k: 'rssMb' | 'heapUsedMb') => samples.map((s) => [s.tS, s[k]] as [number, number]);
    // RSS outside the V8 heap: native memory (codec state, sockets, buffers), without the GC sawtooth.
    const nonHeap = growthAfterWarmup(
      samples.map((s) => [s.tS, s.rssMb - s.heapTotalMb] as [number, number]),
      warmupS,
    );
    const memRow = (name: string, g: GrowthFigures, goal: boolean) => ({
      series: name,
      samples: g.samples,
      fromS: g.fromS,
      toS: g.toS,
      meanMb: round(g.mean),
      growthMbOverWindow: round(g.overWindow),
      growthPctOverWindow: round(g.overWindowPct),
      ci95Pct: round(g.overWindowPctCi95),
      growthMbPerHour: round(g.perHour),
      growthPctPerHour: round(g.perHourPct),
      goal: goal ? (withinGrowthGoal(g, RSS_GOAL_PCT) ? 'pass' : 'FAIL') : '-',
    });
    const rss = growthAfterWarmup(series('rssMb'), warmupS);
    const heap = growthAfterWarmup(series('heapUsedMb'), warmupS);
    const afterWarmup = samples.filter((s) => s.tS >= warmupS);
    const listenerGrowth = afterWarmup[afterWarmup.length - 1]!.listeners - afterWarmup[0]!.listeners;
    const sum = <T>(rows: T[], k: keyof T) => rows.reduce((n, r) => n + (Number(r[k]) || 0), 0);
    const expectedFrames = Math.round(durationMs / 20);
    const fitLine = (g: GrowthFigures) =>
      [g.fromS, g.toS].map((t) => [round(t / 60, 3), round(g.fit.intercept + g.fit.slope * t)] as [number, number]);

    const result = {
      bench: 'soak',
      summary: {
        minutes,
        publishStreams: publish.length,
        listenStreams: listen.length,
        media,
        sampleEveryS: sampleMs / 1000,
        warmupS: round(warmupS, 1),
        connectS: round(connectS, 1),
        closeS: round(closeS, 2),
        settleS: round(settleS, 2),
        rssGrowthPctAfterWarmup: round(rss.overWindowPct),
        rssGrowthCi95Pct: round(rss.overWindowPctCi95),
        rssGrowthMbPerHour: round(rss.perHour),
        rssGoal: `${withinGrowthGoal(rss, RSS_GOAL_PCT) ? 'pass' : 'FAIL'} (±${RSS_GOAL_PCT} % after warm-up)`,
        heapGrowthPctAfterWarmup: round(heap.overWindowPct),
        heapGrowthMbPerHour: round(heap.perHour),
        nonHeapRssGrowthPctAfterWarmup: round(nonHeap.overWindowPct),
        nonHeapRssGrowthMbPerHour: round(nonHeap.perHour),
        resourceLeak: resources.leak ? `yes: ${resources.grown.map((r) => `${r.what} +${r.delta}`).join(', ')}` : 'no',
        listenerGrowthDuringRun: listenerGrowth,
        rssStartMb: round(startMem.rss / MB),
        rssEndMb: round(endMem.rss / MB),
        heapUsedStartMb: round(startMem.heapUsed / MB),
        heapUsedEndMb: round(endMem.heapUsed / MB),
        publishFramesSent: sum(pubRows, 'framesSent'),
        publishFramesExpected: expectedFrames * publish.length,
        publishUnderruns: sum(pubRows, 'underruns'),
        publishLateFrames: sum(pubRows, 'framesLate'),
        publishSkippedFrames: sum(pubRows, 'framesSkipped'),
        publishNetworkDrops: sum(pubRows, 'networkDrops'),
        publishDropouts: sum(pubRows, 'dropouts'),
        publishDroppedMs: sum(pubRows, 'droppedMs'),
        publishTracksFinished: sum(pubRows, 'tracksFinished'),
        publishTrackErrors: sum(pubRows, 'trackErrors'),
        publishReconnects: sum(pubRows, 'reconnects'),
        listenFramesExpected: expectedFrames * listen.length,
        listenFramesReceived: sum(lisRows, 'framesReceived'),
        listenPcmFramesOut: sum(lisRows, 'pcmFramesOut'),
        listenConcealedFrames: sum(lisRows, 'concealedFrames'),
        listenLateLosses: sum(lisRows, 'lateLosses'),
        listenReconnects: sum(lisRows, 'reconnects'),
        sseReconnects: events.stats.reconnects,
        sseErrors,
        receiverErrors,
        emulatorSessionsAtEnd: emulatorSessions,
        emulatorRssEndMb: samples[samples.length - 1]!.emulatorRssMb,
        cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
        memoryGiB: round(totalmem() / 2 ** 30, 1),
        // Other processes on the machine: the 1/5/15-min load averages at the start and end of the run.
        loadAvgStart: loadStart.map((x) => x.toFixed(2)).join(' / '),
        loadAvgEnd: loadavg()
          .map((x) => x.toFixed(2))
          .join(' / '),
        node: process.version,
        source: sourceTree(),
      },
      memory: [memRow('rss', rss, true), memRow('heapUsed', heap, false), memRow('rss − heapTotal', nonHeap, false)],
      resources: resources.rows,
      publish: pubRows,
      listen: lisRows,
      samples,
      charts: [
        {
          kind: 'line' as const,
          title: `RSS and V8 heap of the bot process (${publish.length} publishing + ${listen.length} listening streams), with the least-squares line after the ${round(warmupS, 0)} s warm-up`,
          xLabel: 'minutes',
          yLabel: 'MB',
          series: [
            { name: 'RSS', points: samples.map((s) => [round(s.tS / 60, 3), s.rssMb] as [number, number]) },
            { name: 'RSS fit', points: fitLine(rss) },
            { name: 'heap used', points: samples.map((s) => [round(s.tS / 60, 3), s.heapUsedMb] as [number, number]) },
            { name: 'heap fit', points: fitLine(heap) },
            {
              name: 'RSS − V8 heap total',
              points: samples.map((s) => [round(s.tS / 60, 3), round(s.rssMb - s.heapTotalMb)] as [number, number]),
            },
          ],
        },
        {
          kind: 'line' as const,
          title: `publishing streams: underruns and dropouts since the start of the run (sum of ${publish.length} streams)`,
          xLabel: 'minutes',
          yLabel: 'count',
          series: (['pubUnderruns', 'pubDropouts'] as const).map((k) => ({
            name: k === 'pubUnderruns' ? 'underruns' : 'dropouts',
            points: samples.map((s) => [round(s.tS / 60, 3), s[k]] as [number, number]),
          })),
        },
        {
          kind: 'line' as const,
          title: 'open file descriptors, socket fds and active timers of the bot process',
          xLabel: 'minutes',
          yLabel: 'count',
          series: (['fds', 'socketFds', 'timers'] as const).map((k) => ({
            name: k,
            points: samples.map((s) => [round(s.tS / 60, 3), s[k]] as [number, number]),
          })),
        },
      ],
    };

    if (asJson) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`soak: ${minutes} min, ${publish.length} publishing + ${listen.length} listening streams`);
      console.table(result.summary);
      console.table(result.memory);
      console.table(result.resources);
    }
  } finally {
    await stopChild();
  }
}

if (process.argv.includes('--child')) await child();
else await parent();
