/**
 * What the publish-path benchmarks share: an emulated gateway in a **child process** (so a stall of
 * the benchmark's own event loop cannot distort the timestamps) that records when every frame of
 * every room arrived and whether it was the 3-byte silence filler, plus the timing statistics and
 * the table printer.
 *
 * Definitions: spacing = arrival(i) − arrival(i−1); lateness(i) = arrival(i) − (arrival(0) + i·20),
 * shifted so its minimum is 0 (the wire delay is constant on loopback); a burst = a spacing < 5 ms.
 * @packageDocumentation
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { setPriority } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Emulator } from '../../src/emulator/index.js';
import { mintLiveKitToken } from '../../src/emulator/audio/tokens.js';
import WebSocket from 'ws';
import { percentile } from '../../src/util/stats.js';
import { VoiceConnection, type VoiceConnectionOptions } from '../../src/voice/connection.js';

export const FRAME = 20;

/** The gateway child, seen from the benchmark. */
export interface Gateway {
  audioUrl: string;
  child: ChildProcess;
  token(room: string, identity?: string): Promise<string>;
  /** Arrival times (ms, wall clock) of every frame of each room. */
  frames(rooms: string[]): Promise<Record<string, number[]>>;
  /** Arrival times plus, per frame, whether it was the 3-byte silence filler. */
  content(rooms: string[]): Promise<Record<string, { arrivals: number[]; silent: boolean[] }>>;
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Forks the gateway child and waits until it listens. */
export async function startGateway(): Promise<Gateway> {
  const livekit = { apiKey: 'APIbench', apiSecret: randomBytes(32).toString('base64url') };
  const child = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: process.execArgv,
    env: { ...process.env, BENCH_LIVEKIT: JSON.stringify(livekit) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const request = <T>(msg: object, reply: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: { t: string }) => {
        if (m.t === reply) {
          child.off('message', on);
          resolve(m as T);
        }
      };
      child.on('message', on);
      if (Object.keys(msg).length) child.send(msg);
    });
  const up = await request<{ audioUrl: string }>({}, 'up');
  // The receive side is the measuring instrument: give it priority over this process and the
  // CPU hogs of benchmark 1 when the OS allows (quietly ignored otherwise).
  try {
    if (child.pid) setPriority(child.pid, -15);
  } catch {
    /* not permitted */
  }
  return {
    audioUrl: up.audioUrl,
    child,
    token: (room, identity = 'bench-bot') => mintLiveKitToken({ ...livekit, identity, room, ttlSeconds: 7200 }),
    frames: async (rooms) => {
      const r = (await request<{ rooms: Record<string, { arrivals: number[] }> }>({ t: 'frames', rooms }, 'frames'))
        .rooms;
      return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.arrivals]));
    },
    content: async (rooms) =>
      (
        await request<{ rooms: Record<string, { arrivals: number[]; silent: boolean[] }> }>(
          { t: 'frames', rooms },
          'frames',
        )
      ).rooms,
    clear: async () => {
      await request({ t: 'clear' }, 'cleared');
    },
    close: async () => {
      child.send({ t: 'exit' });
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/**
 * An argon-voice publishing session on `room`, ready: a token minted for the gateway child, no
 * pre-roll, no client ping (nothing but media on the wire), and `options` on top.
 */
export async function connectArgon(
  gw: Gateway,
  room: string,
  options: Partial<VoiceConnectionOptions> = {},
): Promise<VoiceConnection> {
  const token = await gw.token(room);
  const conn = new VoiceConnection({
    spaceId: 'bench',
    channelId: room,
    tokenProvider: async () => ({ token, ingressUrl: gw.audioUrl }),
    prerollMs: 0,
    pingIntervalMs: 0,
    ...options,
  });
  await conn.ready({ timeoutMs: 20_000 });
  return conn;
}

/** A bare `/audio/connect` socket on `room` from this thread, open and `ready` (the baselines' transport). */
export async function connectRaw(gw: Gateway, room: string): Promise<WebSocket> {
  const token = await gw.token(room);
  const ws = new WebSocket(`${gw.audioUrl}/audio/connect?stereo=false&frame_duration_ms=20`, {
    headers: { Authorization: `Bearer ${token}` },
    perMessageDeflate: false,
  });
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d, bin) => {
      if (!bin && /"ready"/.test(String(d))) resolve();
    });
    ws.on('error', reject);
  });
  return ws;
}

/** Receive-side timing of one stream. */
export interface TimingStats {
  frames: number;
  latenessP50: number;
  latenessP99: number;
  latenessMax: number;
  spacingP1: number;
  spacingP99: number;
  maxGap: number;
  bursts: number;
}

/** Timing of `arrivals` (ms), leaving out the first `skipFirst`. */
export function timing(arrivals: number[], skipFirst = 0): TimingStats {
  const a = arrivals.slice(skipFirst);
  const spacing: number[] = [];
  for (let i = 1; i < a.length; i++) spacing.push(a[i]! - a[i - 1]!);
  const late = a.map((t, i) => t - (a[0]! + i * FRAME));
  const min = Math.min(...late);
  const lateness = late.map((x) => x - min);
  return {
    frames: a.length,
    latenessP50: percentile(lateness, 50),
    latenessP99: percentile(lateness, 99),
    latenessMax: Math.max(...lateness),
    spacingP1: percentile(spacing, 1),
    spacingP99: percentile(spacing, 99),
    maxGap: Math.max(...spacing),
    bursts: spacing.filter((s) => s < 5).length,
  };
}

/** Waits `ms` on a real timer. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Blocks this thread for `ms` (a stall of the event loop). */
export const spin = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    /* a stall of the main thread */
  }
};

/** A plain-text table of `rows`. */
export function table(title: string, rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return `${title}\n  (no rows)\n`;
  const cols = Object.keys(rows[0]!);
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (vals: string[]) => `  ${vals.map((v, i) => v.padEnd(widths[i]!)).join('  ')}`;
  return (
    [
      title,
      line(cols),
      line(widths.map((w) => '-'.repeat(w))),
      ...rows.map((r) => line(cols.map((c) => fmt(r[c])))),
    ].join('\n') + '\n'
  );
}

async function childMain(): Promise<void> {
  const livekit = JSON.parse(process.env.BENCH_LIVEKIT!) as { apiKey: string; apiSecret: string };
  const emu = await Emulator.start({ port: 0, livekit, audioTimings: { joinDelayMs: 20, mediaWatchdogMs: 0 } });
  const arrivals = new Map<string, { arrivals: number[]; silent: boolean[] }>();
  emu.gateway.on('frame', (f) => {
    let a = arrivals.get(f.room);
    if (!a) arrivals.set(f.room, (a = { arrivals: [], silent: [] }));
    a.arrivals.push(performance.timeOrigin + f.arrivalMs);
    const d = f.data;
    a.silent.push(d.length === 3 && d[0] === 0xf8 && d[1] === 0xff && d[2] === 0xfe);
  });
  process.on('message', (m: { t: string; rooms?: string[] }) => {
    if (m.t === 'frames') {
      const out: Record<string, { arrivals: number[]; silent: boolean[] }> = {};
      for (const r of m.rooms ?? [...arrivals.keys()]) out[r] = arrivals.get(r) ?? { arrivals: [], silent: [] };
      process.send!({ t: 'frames', rooms: out });
    } else if (m.t === 'clear') {
      arrivals.clear();
      process.send!({ t: 'cleared' });
    } else if (m.t === 'exit') {
      void emu.close().then(() => process.exit(0));
    }
  });
  process.send!({ t: 'up', audioUrl: emu.audioUrl });
}

if (process.argv.includes('--child') && process.argv[1] === fileURLToPath(import.meta.url)) await childMain();
