import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { percentile } from '../src/util/stats.js';
import { AudioPlayer } from '../src/voice/player.js';
import { createAudioSource } from '../src/voice/sources/create-source.js';
import {
  connectArgon,
  connectRaw,
  FRAME,
  type Gateway,
  sleep,
  spin,
  startGateway,
  table,
  timing,
} from './lib/gateway.js';
import { makeToneFiles } from './lib/tones.js';

type Impl = 'worker' | 'main' | 'baseline';
const IMPL_NAME: Record<Impl, string> = {
  worker: 'argon-voice (media worker)',
  main: 'argon-voice (main-thread media)',
  baseline: 'baseline (@discordjs/voice scheme)',
};

/** What one stream's content and timing say about what a listener hears. */
export interface HeardStats {
  audibleFrames: number;
  /** Silence frames between the first and last audible frame, as runs. */
  dropouts: number;
  /** Audio time those silence frames inserted. */
  droppedMs: number;
  /** A 60 ms playout buffer: frames that came after their playout time, as runs. */
  listenerDropouts: number;
  /** Time the listener's playout stood still waiting for late frames. */
  listenerStallMs: number;
}

/**
 * Content and listener statistics of one stream (`silent[i]`: frame i was the silence filler).
 * The listener starts playing `bufferMs` after the first audible frame arrived and plays one
 * frame per 20 ms; a frame later than its slot stalls playout by its lateness.
 */
export function heard(arrivals: number[], silent: boolean[], bufferMs = 60): HeardStats {
  const first = silent.indexOf(false);
  const last = silent.lastIndexOf(false);
  if (first < 0) return { audibleFrames: 0, dropouts: 0, droppedMs: 0, listenerDropouts: 0, listenerStallMs: 0 };
  let dropouts = 0;
  let droppedFrames = 0;
  for (let i = first; i <= last; i++) {
    if (!silent[i]) continue;
    droppedFrames++;
    if (!silent[i - 1]) dropouts++;
  }
  let anchor = arrivals[first]! + bufferMs;
  let listenerDropouts = 0;
  let listenerStallMs = 0;
  let wasLate = false;
  for (let i = first; i <= last; i++) {
    const due = anchor + (i - first) * FRAME;
    const late = arrivals[i]! - due;
    if (late > 0.5) {
      listenerStallMs += late;
      anchor += late;
      if (!wasLate) listenerDropouts++;
      wasLate = true;
    } else {
      wasLate = false;
    }
  }
  return {
    audibleFrames: last - first + 1 - droppedFrames,
    dropouts,
    droppedMs: droppedFrames * FRAME,
    listenerDropouts,
    listenerStallMs,
  };
}

interface Playing {
  /** Resolves when the whole file is out (or failed). */
  done: Promise<void>;
  /** Pacer counters at the end (argon-voice only). */
  pacer(): Promise<{ dropouts: number; droppedMs: number; latenessP99Ms: number } | undefined>;
  close(): Promise<void>;
}

/** argon-voice: VoiceConnection (worker pacer) + AudioPlayer with the media plane chosen by `media`. */
async function argonPlay(gw: Gateway, room: string, file: string, media: 'auto' | 'main'): Promise<Playing> {
  const conn = await connectArgon(gw, room, { pacer: { latePolicy: 'burst' } });
  const player = new AudioPlayer(conn, { media });
  const track = player.play(file);
  return {
    done: track.playout.then(() => undefined),
    pacer: async () => {
      const m = await conn.pacer.refreshMetrics();
      return { dropouts: m.dropouts, droppedMs: m.droppedMs, latenessP99Ms: m.latenessP99Ms };
    },
    async close() {
      await player.close();
      await conn.close();
    },
  };
}

/**
 * The baseline: everything on the main thread, as @discordjs/voice's AudioPlayer does it: a
 * source read into a small buffer, a `setTimeout` cycle on an absolute 20 ms deadline that sends
 * the next frame from the main thread (late cycles send back to back to catch up).
 */
async function baselinePlay(gw: Gateway, room: string, file: string): Promise<Playing> {
  const ws = await connectRaw(gw, room);
  const source = await createAudioSource(file, { format: 'opus', channels: 1, frameDurationMs: FRAME });
  const it = source[Symbol.asyncIterator]();
  const buffer: Uint8Array[] = [];
  let ended = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => {
    finish = r;
  });
  const fill = async () => {
    while (!ended && buffer.length < 5) {
      const r = await it.next();
      if (r.done) ended = true;
      else buffer.push(r.value as Uint8Array);
    }
  };
  await fill();
  let next = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cycle = () => {
    const f = buffer.shift();
    if (f) ws.send(f);
    else if (ended) {
      finish();
      return;
    }
    void fill();
    next += FRAME;
    timer = setTimeout(cycle, next - performance.now());
  };
  cycle();
  return {
    done,
    pacer: async () => undefined,
    async close() {
      clearTimeout(timer);
      await source.close();
      ws.close(1000);
      await new Promise((r) => ws.once('close', r));
    },
  };
}

async function bench1(gw: Gateway, files: { ogg: string; mp3: string }, quick: boolean) {
  const rows: Array<Record<string, unknown>> = [];
  const schedules = [
    { stallMs: 100, everyMs: 2000 },
    { stallMs: 300, everyMs: 3000 },
  ];
  const runs = quick ? 1 : 3;
  for (const s of schedules) {
    for (const [input, file] of [
      ['ogg', files.ogg],
      ['mp3', files.mp3],
    ] as const) {
      for (let run = 0; run < runs; run++) {
        // All three play at once, so they live through the very same stalls.
        const rooms = (['worker', 'main', 'baseline'] as Impl[]).map(
          (impl) => `m1-${s.stallMs}-${input}-${impl}-${run}`,
        );
        const plays = await Promise.all([
          argonPlay(gw, rooms[0]!, file, 'auto'),
          argonPlay(gw, rooms[1]!, file, 'main'),
          baselinePlay(gw, rooms[2]!, file),
        ]);
        const stalls = setInterval(() => spin(s.stallMs), s.everyMs);
        await Promise.all(plays.map((p) => p.done));
        clearInterval(stalls);
        const counters = await Promise.all(plays.map((p) => p.pacer()));
        for (const p of plays) await p.close();
        await sleep(200);
        const content = await gw.content(rooms);
        (['worker', 'main', 'baseline'] as Impl[]).forEach((impl, k) => {
          const c = content[rooms[k]!]!;
          const first = c.silent.indexOf(false);
          const last = c.silent.lastIndexOf(false);
          const t = timing(c.arrivals.slice(first, last + 1));
          const h = heard(c.arrivals, c.silent);
          rows.push({
            stall: `${s.stallMs} ms / ${s.everyMs / 1000} s`,
            input,
            run,
            impl: IMPL_NAME[impl],
            audible: h.audibleFrames,
            maxGapMs: t.maxGap,
            bursts: t.bursts,
            dropouts: h.dropouts,
            insertedSilenceMs: h.droppedMs,
            listenerDropouts: h.listenerDropouts,
            listenerStallMs: h.listenerStallMs,
            pacerDropouts: counters[k]?.dropouts ?? 'n/a',
            pacerDroppedMs: counters[k]?.droppedMs ?? 'n/a',
          });
        });
        process.stderr.write(`media: ${JSON.stringify(rows.slice(-3))}\n`);
      }
    }
  }
  return rows;
}

async function bench2(gw: Gateway, files: { ogg: string; mp3: string }, quick: boolean) {
  const rows: Array<Record<string, unknown>> = [];
  const n = quick ? 3 : 7;
  for (const [input, file] of [
    ['ogg', files.ogg],
    ['mp3', files.mp3],
  ] as const) {
    for (const media of ['auto', 'main'] as const) {
      const starts: number[] = [];
      const late: number[] = [];
      for (let k = 0; k < n; k++) {
        const room = `m2-${input}-${media}-${k}`;
        const conn = await connectArgon(gw, room, { keepalive: false });
        const player = new AudioPlayer(conn, { media });
        await sleep(300); // the media thread boots while connecting in real use
        const t0 = performance.timeOrigin + performance.now();
        const track = player.play(file);
        await (k === 0 ? track.playout : sleep(1500));
        const m = await conn.pacer.refreshMetrics();
        late.push(m.latenessP99Ms);
        player.stop();
        await track.playout.catch(() => undefined);
        await player.close();
        await conn.close();
        const c = (await gw.content([room]))[room]!;
        const first = c.silent.indexOf(false);
        if (first >= 0) starts.push(c.arrivals[first]! - t0);
      }
      rows.push({
        input,
        impl: media === 'auto' ? IMPL_NAME.worker : IMPL_NAME.main,
        firstAudibleP50Ms: percentile(starts, 50),
        firstAudibleMaxMs: Math.max(...starts),
        senderLatenessP99Ms: percentile(late, 50),
        runs: starts.length,
      });
    }
  }
  return rows;
}

async function bench3(gw: Gateway, files: { ogg: string }, quick: boolean) {
  const rows: Array<Record<string, unknown>> = [];
  const streams = quick ? 10 : 20;
  const seconds = quick ? 4 : 8;
  const elu: Record<string, number> = {};
  for (const media of ['auto', 'main'] as const) {
    const plays = await Promise.all(
      Array.from({ length: streams }, (_, i) => argonPlay(gw, `m3-${media}-${i}`, files.ogg, media)),
    );
    await sleep(1000);
    const a = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    await sleep(seconds * 1000);
    const u = performance.eventLoopUtilization(a);
    const cpu = process.cpuUsage(cpu0);
    for (const p of plays) await p.close();
    elu[media] = u.utilization / streams;
    rows.push({
      impl: media === 'auto' ? IMPL_NAME.worker : IMPL_NAME.main,
      streams,
      mainThreadUtilisation: u.utilization,
      perStreamPct: (u.utilization / streams) * 100,
      processCpuPctOfOneCore: ((cpu.user + cpu.system) / 1000 / (seconds * 1000)) * 100,
    });
  }
  rows.push({
    impl: 'ratio media worker / main-thread media (per stream)',
    streams,
    mainThreadUtilisation: Number.NaN,
    perStreamPct: elu.auto! / elu.main!,
    processCpuPctOfOneCore: Number.NaN,
  });
  await gw.clear();
  return rows;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const quick = process.argv.includes('--quick');
  const onlyArg = process.argv[process.argv.indexOf('--only') + 1];
  const only =
    process.argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',').map(Number)) : new Set([1, 2, 3]);
  const files = await makeToneFiles(quick ? 6 : 10);
  const gw = await startGateway();
  const results: Record<string, Array<Record<string, unknown>>> = {};
  try {
    if (only.has(1))
      results['1. main-thread stalls: wire, content and listener (goal: 0 dropouts, 0 bursts, max gap ≤ 35 ms)'] =
        await bench1(gw, files, quick);
    if (only.has(2))
      results[
        '2. start latency (first audible frame after play(); goals ≤ 50 ms Ogg, ≤ 300 ms mp3) and idle lateness'
      ] = await bench2(gw, files, quick);
    if (only.has(3)) results['3. main-thread cost per playing Ogg passthrough stream'] = await bench3(gw, files, quick);
  } finally {
    await gw.close();
    rmSync(files.dir, { recursive: true, force: true });
  }
  if (json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const [title, rows] of Object.entries(results)) process.stdout.write(`${table(title, rows)}\n`);
  process.exit(0);
}

if (process.argv[1]?.replace(/\.[jt]s$/, '') === new URL(import.meta.url).pathname.replace(/\.[jt]s$/, ''))
  await main();
