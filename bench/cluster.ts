/**
 * The voice-worker cluster under failure: a real `nats-server` (JetStream, temp dir, free port),
 * the emulator in this process, two routers and three workers as child processes (the same
 * `argon-voice router` / `argon-voice worker` commands users run).
 *
 * Usage: `npx tsx bench/cluster.ts [--quick] [--json]`. About 3 minutes (1 with --quick).
 *
 * Measures:
 * - placement: 9 spaces started at once, spaces per worker (goal: balanced within ±1);
 * - worker failover: SIGKILL of the worker holding most spaces, then the time until each of its
 *   spaces has audio (a non-silence frame from a new session) at the gateway again; 20 kills
 *   (5 with --quick), the killed worker restarted after each (goal ≤ 3 s p99 with a 1.5 s lease);
 * - drain: SIGTERM of the busiest worker (3 times, 1 with --quick), then per space the gap between
 *   the last frame of its old session and the first audio frame of the new one (goal: within the
 *   failover bound);
 * - router failover: messages sent every 20 ms while the leading router is SIGKILLed; how many
 *   reach JetStream (the platform replays what no stream took; an event the dead router had
 *   fetched but not published is lost, at-most-once: counted);
 * - overhead per routed event: message sent → seen by a JetStream consumer in this process,
 *   against the baseline measured in the same run: message sent → seen on a direct SSE stream of a
 *   second bot in the same space (p50/p99, and the router's own receive → publish-ack time).
 * @packageDocumentation
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.argv.includes('--child')) {
  // This file doubles as the entry of the router/worker child processes (works from .ts and .js).
  const { main } = await import('../src/cli/main.js');
  const args = process.argv.slice(process.argv.indexOf('--child') + 1);
  process.exit(await main(args));
}

const { ClusterClient } = await import('../src/cluster/client.js');
const { routedEvents } = await import('../src/cluster/events.js');
const { connectNats } = await import('../src/cluster/nats.js');
const { parseWorkerStatus } = await import('../src/cluster/wire.js');
const { clusterNames } = await import('../src/cluster/names.js');
const { Emulator } = await import('../src/emulator/index.js');
const { EventStream } = await import('../src/events/event-stream.js');
const { summarize } = await import('../src/util/stats.js');
const { writeToneOgg } = await import('../samples/shared/audio.js');

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const KILLS = quick ? 5 : 20;
const SPACES = 9;
const LEASE_TTL_MS = 1500;
const log = (s: string) => process.stderr.write(`${s}\n`);

const { requireNatsServer, startNats } = await import('./lib/nats-server.js');
try {
  requireNatsServer();
} catch (err) {
  console.error(`bench/cluster: ${(err as Error).message}`);
  process.exit(1);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(check: () => T | undefined | Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

// ── nats-server, emulator ──
const nats = await startNats();
const natsUrl = nats.url;
const nc = await connectNats(natsUrl);
// IVoice StreamToken allows 20 calls a minute per bot (docs/platform.md §R3): every failover of
// a space costs one, so 20 kills of ~3 spaces would wait on the platform's limit rather than on the
// cluster. A 3 s window (6 × 500 ms) here, mirrored by the workers' client-side limiter.
const emu = await Emulator.start({ port: 0, audioPort: 0, timings: { sseBatchMs: 20, rateSegmentMs: 500 } });
const botId = emu.bot.botId;
const names = clusterNames(botId);
const env = { ...process.env, ARGON_NATS_URL: natsUrl, ARGON_TOKEN: emu.bot.token, ARGON_API_URL: emu.apiUrl };

const children = new Set<ChildProcess>();
const linesOf: Array<Array<Record<string, unknown>>> = [];
const allLines = {
  *[Symbol.iterator]() {
    for (const l of linesOf) yield* l;
  },
};
const self = fileURLToPath(import.meta.url);
function child(args: string[]): { proc: ChildProcess; lines: Array<Record<string, unknown>> } {
  const proc = spawn(process.execPath, [...process.execArgv, self, '--child', ...args], {
    env,
    stdio: ['ignore', 'pipe', process.env.ARGON_BENCH_CHILD_LOG ? 'pipe' : 'ignore'],
  });
  if (process.env.ARGON_BENCH_CHILD_LOG) {
    proc.stderr?.on('data', (d: Buffer) =>
      appendFileSync(process.env.ARGON_BENCH_CHILD_LOG!, `[${args[2] ?? args[0]}] ${d.toString()}`),
    );
  }
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const lines: Array<Record<string, unknown>> = [];
  linesOf.push(lines);
  let buf = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      try {
        lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      } catch {
        /* not a JSON line */
      }
      buf = buf.slice(i + 1);
    }
  });
  return { proc, lines };
}
const kill9 = async (p: ChildProcess) => {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const done = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await done;
};

// Worker heartbeats: who holds what.
const holders = new Map<string, { spaces: string[]; atMs: number }>();
nc.subscribe(names.statusAll, {
  callback: (_e, m) => {
    try {
      const s = parseWorkerStatus(m.data);
      holders.set(s.workerId, { spaces: s.spaces.map((x) => x.spaceId), atMs: performance.now() });
    } catch {
      /* ignored */
    }
  },
});

try {
  // ── routers and workers ──
  const r1 = child(['router', '--id', 'r1', '--lease-ttl', String(LEASE_TTL_MS)]);
  await until(() => r1.lines.find((l) => l.event === 'leading'), 'r1 to lead');
  let r2 = child(['router', '--id', 'r2', '--lease-ttl', String(LEASE_TTL_MS)]);
  await until(() => r2.lines.find((l) => l.event === 'standby'), 'r2 to stand by');
  const workers = new Map<string, ChildProcess>();
  const startWorker = async (id: string) => {
    const w = child([
      'worker',
      '--id',
      id,
      '--lease-ttl',
      String(LEASE_TTL_MS),
      '--placement-step',
      '300',
      '--rate-window',
      '3000',
    ]);
    workers.set(id, w.proc);
    await until(() => w.lines.find((l) => l.event === 'started'), `${id} to start`);
  };
  await Promise.all(['w1', 'w2', 'w3'].map(startWorker));

  // ── placement ──
  log('cluster: encoding the track ...');
  const dir = mkdtempSync(join(tmpdir(), 'argon-bench-cluster-'));
  const track = join(dir, 'tone.opus');
  writeToneOgg(track, { hz: 440, durationMs: quick ? 180_000 : 400_000 });
  const client = new ClusterClient({ nats: nc, botId, leaseTtlMs: LEASE_TTL_MS });
  const spaces: Array<{ spaceId: string; channelId: string; room: string }> = [];
  for (let i = 0; i < SPACES; i++) {
    const { spaceId } = emu.createSpace({ name: `bench-${i}`, members: [emu.bot.userId] });
    const { channelId } = emu.createChannel({ spaceId, name: 'voice', type: 'voice' });
    spaces.push({ spaceId, channelId, room: `${spaceId}/${channelId}` });
  }
  await Promise.all(
    spaces.map((s) =>
      client.command(s.spaceId, { op: 'play', input: track }, { channelId: s.channelId, timeoutMs: 60_000 }),
    ),
  );
  const heldNow = () => {
    const fresh = [...holders.entries()].filter(([id, h]) => workers.has(id) && performance.now() - h.atMs < 2500);
    return new Map(fresh.map(([id, h]) => [id, h.spaces]));
  };
  await until(() => {
    const n = [...heldNow().values()].reduce((a, s) => a + s.length, 0);
    return n === SPACES ? true : undefined;
  }, 'every space held');
  await sleep(1200);
  const perWorker = Object.fromEntries([...heldNow()].map(([id, s]) => [id, s.length]));
  const counts = Object.values(perWorker);
  const placement = { spaces: SPACES, workers: 3, perWorker, spread: Math.max(...counts) - Math.min(...counts) };
  log(`cluster: placement ${JSON.stringify(perWorker)}`);

  // ── worker failover ──
  const recoveries: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const held = heldNow();
    const [victim, victimSpaces] = [...held].sort((a, b) => b[1].length - a[1].length)[0]!;
    const rooms = spaces.filter((s) => victimSpaces.includes(s.spaceId)).map((s) => s.room);
    const oldSessions = new Set(emu.gateway.published().map((f) => f.sessionId));
    emu.gateway.clearPublished();
    const t0 = performance.now();
    const wall0 = Date.now();
    await kill9(workers.get(victim)!);
    workers.delete(victim);
    const back = await until(
      () => {
        const firsts = rooms.map((room) =>
          emu.gateway
            .published({ room })
            .find((f) => f.arrivalMs > t0 && f.data.length > 3 && !oldSessions.has(f.sessionId)),
        );
        return firsts.every((f) => f) ? firsts.map((f) => f!.arrivalMs - t0) : undefined;
      },
      `audio back after killing ${victim}`,
      30_000,
    );
    recoveries.push(...back);
    const claims = [...allLines]
      .filter((l) => l.event === 'claimed' && typeof l.at === 'number' && (l.at as number) >= wall0)
      .map((l) => `${l.worker}:${(l.at as number) - wall0}`);
    log(`  claims after kill: ${claims.join(' ')}`);
    log(
      `cluster: kill ${k + 1}/${KILLS} of ${victim} (${rooms.length} spaces): audio back after ${back.map((x) => Math.round(x)).join(', ')} ms`,
    );
    await startWorker(victim);
    await until(() => {
      const n = [...heldNow().values()].reduce((a, s) => a + s.length, 0);
      return n === SPACES ? true : undefined;
    }, 'every space held again');
  }
  const failover = { kills: KILLS, leaseTtlMs: LEASE_TTL_MS, spacesMoved: recoveries.length, ...summarize(recoveries) };

  // ── drain: SIGTERM of the busiest worker; the gap each of its spaces hears ──
  const drainGaps: number[] = [];
  for (let d = 0; d < (quick ? 1 : 3); d++) {
    const [victim, victimSpaces] = [...heldNow()].sort((a, b) => b[1].length - a[1].length)[0]!;
    const rooms = spaces.filter((s) => victimSpaces.includes(s.spaceId)).map((s) => s.room);
    emu.gateway.clearPublished();
    const t0 = performance.now();
    const oldSessions = await until(() => {
      const ids = rooms.map((room) => [room, emu.gateway.published({ room })[0]?.sessionId] as const);
      return ids.every(([, id]) => id) ? new Map(ids) : undefined;
    }, 'frames before the drain');
    const proc = workers.get(victim)!;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const gaps = await until(
      () => {
        const out: number[] = [];
        for (const room of rooms) {
          const frames = emu.gateway.published({ room }).filter((f) => f.arrivalMs > t0);
          const old = oldSessions.get(room);
          const lastOld = frames.filter((f) => f.sessionId === old).at(-1);
          const firstNew = frames.find((f) => f.sessionId !== old && f.data.length > 3);
          if (!lastOld || !firstNew) return undefined;
          out.push(firstNew.arrivalMs - lastOld.arrivalMs);
        }
        return out;
      },
      `audio back after draining ${victim}`,
      30_000,
    );
    await exited;
    workers.delete(victim);
    drainGaps.push(...gaps);
    log(
      `cluster: drain ${d + 1} of ${victim} (${rooms.length} spaces): gap ${gaps.map((x) => Math.round(x)).join(', ')} ms`,
    );
    await startWorker(victim);
    await until(() => {
      const n = [...heldNow().values()].reduce((a, s) => a + s.length, 0);
      return n === SPACES ? true : undefined;
    }, 'every space held after the drain');
  }
  const drain = { drains: quick ? 1 : 3, spacesMoved: drainGaps.length, ...summarize(drainGaps) };

  // ── routed events vs a direct stream (baseline), and router failover ──
  // A second bot in a space with the routed bot: its own direct SSE stream is the baseline.
  const other = emu.createBot({ verified: true });
  const [user] = emu.demo.userIds;
  const { spaceId: evSpace } = emu.createSpace({
    name: 'bench-events',
    members: [emu.bot.userId, other.userId, user!],
  });
  const { channelId: evText } = emu.createChannel({ spaceId: evSpace, name: 'text', type: 'text' });
  const demo = { spaceId: evSpace, textChannelId: evText };
  const baseStream = new EventStream({ token: other.token, baseUrl: emu.apiUrl });
  await baseStream.start();
  const sentAt = new Map<string, number>();
  const directAt = new Map<string, number>();
  const routedAt = new Map<string, number>();
  const textOf = (data: unknown) => {
    const t = (data as { message?: { text?: unknown } } | undefined)?.message?.text;
    return typeof t === 'string' ? t : undefined;
  };
  baseStream.on('messageCreate', (d) => {
    const t = textOf(d);
    if (t?.startsWith('bench-')) directAt.set(t, performance.now());
  });
  const abort = new AbortController();
  const consuming = (async () => {
    for await (const ev of routedEvents(nc, botId, { spaceId: demo.spaceId, signal: abort.signal })) {
      const t = textOf(ev.data);
      if (t?.startsWith('bench-')) routedAt.set(t, (routedAt.get(t) ?? 0) > 0 ? -1 : performance.now());
    }
  })().catch(() => undefined);
  const send = (tag: string) => {
    sentAt.set(tag, performance.now());
    emu.sendMessage(user!, demo.textChannelId, tag);
  };
  const N = quick ? 100 : 300;
  for (let i = 0; i < N; i++) {
    send(`bench-steady-${i}`);
    await sleep(20);
  }
  await until(() => (routedAt.has(`bench-steady-${N - 1}`) ? true : undefined), 'steady messages routed');
  await sleep(500);
  const lat = (m: Map<string, number>, prefix: string) =>
    [...m]
      .filter(([k, v]) => k.startsWith(prefix) && v > 0)
      .map(([k, v]) => v - sentAt.get(k)!)
      .filter((x) => x >= 0);
  const routedLat = summarize(lat(routedAt, 'bench-steady-'));
  const directLat = summarize(lat(directAt, 'bench-steady-'));

  // Router failover: kill the leader in the middle of a stream of messages.
  const leaderIsR1 = r1.proc.exitCode === null;
  const F = quick ? 150 : 400;
  for (let i = 0; i < F; i++) {
    if (i === Math.floor(F / 3)) await kill9(leaderIsR1 ? r1.proc : r2.proc);
    send(`bench-fail-${i}`);
    await sleep(20);
  }
  await until(() => r2.lines.find((l) => l.event === 'leading'), 'r2 to lead');
  await sleep(3000);
  const failTags = [...sentAt.keys()].filter((k) => k.startsWith('bench-fail-'));
  const lost = failTags.filter((t) => !routedAt.has(t)).length;
  const doubled = failTags.filter((t) => routedAt.get(t) === -1).length;
  const directLost = failTags.filter((t) => !directAt.has(t)).length;
  // Router's own receive → publish-ack time (from r2's stats on a clean stop).
  r2.proc.kill('SIGTERM');
  const stats = await until(() => r2.lines.find((l) => l.event === 'stats'), 'router stats', 15_000);
  r2 = { proc: r2.proc, lines: r2.lines };
  abort.abort();
  await consuming;
  await baseStream.close();
  rmSync(dir, { recursive: true, force: true });

  const result = {
    bench: 'cluster',
    what: 'router + 3 workers (child processes) + nats-server + emulator',
    placement,
    failover,
    drain,
    routerFailover: { messages: F, lost, doubled, directStreamLost: directLost },
    routedEvent: {
      messages: N,
      routedP50Ms: routedLat.p50,
      routedP99Ms: routedLat.p99,
      directP50Ms: directLat.p50,
      directP99Ms: directLat.p99,
      overheadP50Ms: routedLat.p50 - directLat.p50,
      overheadP99Ms: routedLat.p99 - directLat.p99,
      routerPublishP50Ms: stats.p50Ms,
      routerPublishP99Ms: stats.p99Ms,
    },
  };
  if (json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`placement: ${JSON.stringify(perWorker)} (spread ${placement.spread})`);
    console.log(
      `worker failover (${KILLS} kills, ${recoveries.length} spaces moved, lease ${LEASE_TTL_MS} ms): audio back p50 ${Math.round(failover.p50)} ms, p99 ${Math.round(failover.p99)} ms, max ${Math.round(failover.max)} ms`,
    );
    console.log(
      `drain (${drain.drains} SIGTERMs, ${drain.spacesMoved} spaces moved): gap p50 ${Math.round(drain.p50)} ms, max ${Math.round(drain.max)} ms`,
    );
    console.log(
      `router failover: ${F} messages, ${lost} lost, ${doubled} doubled (direct stream of another bot: ${directLost} lost)`,
    );
    console.table([result.routedEvent]);
  }
} finally {
  await Promise.all([...children].map(kill9));
  await nc.close().catch(() => undefined);
  await emu.close();
  await nats.close();
}
