/**
 * Call answer latency through the emulator: from the bot receiving `callIncoming` to the first
 * greeting frame arriving at the audio gateway (what the caller hears first), over N calls.
 *
 * Usage: `npx tsx bench/calls.ts [--quick] [--json]`. 50 calls per implementation (10 with
 * --quick); about 1 s per call.
 *
 * Two implementations answer alternately, one call at a time, on one emulator (default platform
 * timings: the gateway's 200 ms room join before `ready`):
 * - argon-voice: `answerCalls()` (policy → ICalls Accept → DuplexSession with its pacer thread →
 *   200 ms silence pre-roll → AudioPlayer plays the greeting).
 * - baseline (raw): the same Accept, then a bare `ws` socket on the §R6.3 duplex URL that sends
 *   the greeting's first frame the moment `ready` arrives (no pre-roll, no pacer, no validation)
 *   — the floor set by the platform itself.
 * The emulator's ICalls rate window is shortened (see below) so 50 calls fit in a minute.
 * The greeting is the same 200 ms tone for both (10 pre-encoded 20 ms frames). Rows give the
 * latency to the first frame of any kind and to the first greeting frame (> 3 bytes; silence
 * frames are 3 bytes), p50/p99/max, and the p50 ratio to the baseline. By design argon-voice
 * sends ~200 ms of silence first (so the first syllable is not clipped), which the "first frame"
 * column excludes.
 * @packageDocumentation
 */
import WebSocket from 'ws';
import { answerCalls, opusFramesSource, toneSource } from '../src/calls/index.js';
import { Emulator } from '../src/emulator/index.js';
import { EventStream } from '../src/events/event-stream.js';
import { Intents } from '../src/events/intents.js';
import { RestClient } from '../src/rest/client.js';
import { RateLimiter } from '../src/rest/rate-limiter.js';
import { summarize } from '../src/util/stats.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const CALLS = quick ? 10 : 50;

interface Sample {
  impl: 'argon-voice' | 'baseline (raw ws)';
  call: number;
  /** callIncoming → Accept answered. */
  acceptMs: number;
  /** callIncoming → first frame (any) at the gateway. */
  firstFrameMs: number;
  /** callIncoming → first greeting frame at the gateway. */
  firstGreetingMs: number;
}

// ICalls allows 20 requests a minute per bot (Accept + Reject = 2 per call); a 3 s rate window
// instead of 60 s lets one bot take calls back to back. SSE batches every 20 ms instead of
// 500 ms only shorten the wait before callIncoming, which is outside the measured interval.
const emu = await Emulator.start({ port: 0, audioPort: 0, timings: { sseBatchMs: 20, rateSegmentMs: 500 } });
const greeting: Uint8Array[] = [];
for await (const f of toneSource([[440, 200]])) greeting.push(f as Uint8Array);

async function connect() {
  const bot = emu.createBot({ verified: true });
  // The client-side limiter mirrors the shortened server window (6 × 500 ms).
  const rest = new RestClient({ token: bot.token, baseUrl: emu.apiUrl, limiter: new RateLimiter({ windowMs: 3000 }) });
  const events = new EventStream({ rest, intents: Intents.All });
  await events.start();
  return { bot, rest, events };
}

/** Times of interest for one call, keyed by callId. */
const incomingAt = new Map<string, number>();
const acceptedAt = new Map<string, number>();

// ── argon-voice ──
const ours = await connect();
ours.events.on('callIncoming', (ev) => incomingAt.set(ev.callId, performance.now()));
const manager = answerCalls({
  rest: {
    calls: {
      accept: async (b, o) => {
        const r = await ours.rest.calls.accept(b, o);
        acceptedAt.set(b.callId, performance.now());
        return r;
      },
      reject: (b, o) => ours.rest.calls.reject(b, o),
    },
  },
  events: ours.events,
  onCall: async (call) => {
    await call.session!.play(opusFramesSource(greeting), { signal: call.signal });
  },
});
manager.on('error', (e) => console.error(`argon-voice: ${e.message}`));

// ── baseline: bare ws ──
const raw = await connect();
raw.events.on('callIncoming', (ev) => {
  incomingAt.set(ev.callId, performance.now());
  void rawAnswer(ev.callId).catch((e: Error) => console.error(`baseline: ${e.message}`));
});

async function rawAnswer(callId: string): Promise<void> {
  const acc = await raw.rest.calls.accept({ callId });
  acceptedAt.set(callId, performance.now());
  const url = `${acc.audioBaseUrl}/audio/duplex?token=${acc.token}&target_identity=${acc.callerId}&target_track_source=microphone&stereo=false&frame_duration_ms=20`;
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d, binary) => {
      if (binary) return;
      const m = JSON.parse(String(d)) as { status?: string; type?: string };
      if ((m.status ?? m.type) !== 'ready') return;
      // Absolute schedule, no pre-roll: frame i at ready + 20 i ms.
      const t0 = performance.now();
      let i = 0;
      const tick = () => {
        while (i < greeting.length && t0 + i * 20 <= performance.now()) ws.send(greeting[i++]!);
        if (i < greeting.length) setTimeout(tick, t0 + i * 20 - performance.now());
        else setTimeout(resolve, 40);
      };
      tick();
    });
    ws.on('error', reject);
  });
  ws.close(1000);
  await raw.rest.calls.reject({ callId, reason: 'done' });
}

const samples: Sample[] = [];
const callers = Array.from(
  { length: CALLS },
  (_, i) => emu.createUser({ username: `bench-caller-${i}`, locale: 'en' }).userId,
);

async function oneCall(impl: Sample['impl'], botUserId: string, i: number): Promise<void> {
  const sim = emu.placeCall({ fromUserId: callers[i]!, toBotUserId: botUserId });
  const ended = await sim.ended;
  if (ended !== 'hangup') throw new Error(`${impl} call ${i} ended ${ended}`);
  const t0 = incomingAt.get(sim.callId);
  const frames = emu.gateway.published({ room: sim.roomName, identity: botUserId });
  const first = frames[0];
  const firstGreeting = frames.find((f) => f.data.length > 3);
  if (t0 === undefined || !first || !firstGreeting) throw new Error(`${impl} call ${i}: nothing measured`);
  samples.push({
    impl,
    call: i,
    acceptMs: (acceptedAt.get(sim.callId) ?? Number.NaN) - t0,
    firstFrameMs: first.arrivalMs - t0,
    firstGreetingMs: firstGreeting.arrivalMs - t0,
  });
  emu.gateway.clearPublished();
}

try {
  for (let i = 0; i < CALLS; i++) {
    await oneCall('argon-voice', ours.bot.userId, i);
    await oneCall('baseline (raw ws)', raw.bot.userId, i);
  }
} finally {
  await manager.close();
  await ours.events.close();
  await raw.events.close();
  await ours.rest.close();
  await raw.rest.close();
  await emu.close();
}

const round = (x: number) => Math.round(x * 10) / 10;
const impls: Sample['impl'][] = ['baseline (raw ws)', 'argon-voice'];
const stat = (impl: Sample['impl'], k: 'acceptMs' | 'firstFrameMs' | 'firstGreetingMs') =>
  summarize(samples.filter((s) => s.impl === impl).map((s) => s[k]));
const base = stat('baseline (raw ws)', 'firstGreetingMs');
const rows = impls.map((impl) => {
  const g = stat(impl, 'firstGreetingMs');
  const f = stat(impl, 'firstFrameMs');
  const a = stat(impl, 'acceptMs');
  return {
    impl,
    calls: g.count,
    acceptP50Ms: round(a.p50),
    firstFrameP50Ms: round(f.p50),
    firstFrameP99Ms: round(f.p99),
    greetingP50Ms: round(g.p50),
    greetingP99Ms: round(g.p99),
    greetingMaxMs: round(g.max),
    ratioP50: round((g.p50 / base.p50) * 100) / 100,
  };
});

const charts = [
  {
    kind: 'scatter' as const,
    title: 'Answer latency per call: callIncoming → first greeting frame at the gateway',
    xLabel: 'call #',
    yLabel: 'ms',
    series: impls.map((impl) => ({
      name: impl,
      points: samples.filter((s) => s.impl === impl).map((s) => [s.call, round(s.firstGreetingMs)] as [number, number]),
    })),
  },
  {
    kind: 'bar' as const,
    title: 'Median latency by stage (ms after callIncoming)',
    xLabel: 'stage',
    yLabel: 'ms',
    categories: ['Accept answered', 'first frame', 'first greeting frame'],
    series: impls.map((impl) => ({
      name: impl,
      points: [
        [0, round(stat(impl, 'acceptMs').p50)],
        [1, round(stat(impl, 'firstFrameMs').p50)],
        [2, round(stat(impl, 'firstGreetingMs').p50)],
      ] as Array<[number, number]>,
    })),
  },
];

const result = {
  bench: 'calls',
  what: 'callIncoming received by the bot → first greeting frame at the emulated gateway',
  callsPerImpl: CALLS,
  gatewayJoinDelayMs: 200,
  prerollMs: 200,
  rows,
  charts,
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(
    `Call answer latency over ${CALLS} calls per implementation (ms after callIncoming; ratio = greeting p50 / baseline p50)`,
  );
  console.table(
    rows.map((r) => ({
      impl: r.impl,
      calls: r.calls,
      'Accept p50': r.acceptP50Ms,
      'first frame p50': r.firstFrameP50Ms,
      'first frame p99': r.firstFrameP99Ms,
      'greeting p50': r.greetingP50Ms,
      'greeting p99': r.greetingP99Ms,
      'greeting max': r.greetingMaxMs,
      ratio: `${r.ratioP50.toFixed(2)}x`,
    })),
  );
  console.log(JSON.stringify({ bench: 'calls', rows }));
}
