/**
 * REST call overhead: `RestClient` (limiter, auth, request id, timeout, bigint-exact JSON) against a
 * raw `undici.request` + `JSON.parse` to the same local node:http stub, in the same run.
 * The client gets a limiter with no buckets so the bench measures overhead, not the 15/min window.
 *
 *   node --import tsx bench/rest.ts [--json] [--calls N] [--concurrency C] [--emulator]
 *
 * `--emulator` runs both against the in-process emulator instead (History of its demo text channel);
 * the emulator runs on a manual clock that jumps 60 s every 100 calls so its IMessages window
 * (120/min) never answers 429 — the bench measures overhead, not rate limits.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { RestClient } from '../src/rest/client.js';
import { RateLimiter } from '../src/rest/rate-limiter.js';
import { ManualClock } from '../src/util/clock.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const arg = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const CALLS = arg('--calls', 3000);
const CONCURRENCY = arg('--concurrency', 8);
const USE_EMULATOR = args.includes('--emulator');
const TOKEN = '0A1B2C3D4E5F60718293A4B5C6D7E8F9:abcdefghijklmnopqrstuvwxyz0123456789_-ABCDE';

const history = JSON.stringify({
  messages: Array.from({ length: 20 }, (_, i) => ({
    messageId: `${1152921504606846977n + BigInt(i)}`,
    channelId: 'c',
    spaceId: 's',
    text: `message ${i}`,
    creatorId: 'u',
    createdAt: '2026-04-26T09:36:45.123456+00:00',
    replyTo: null,
    entities: [],
    controls: null,
    reactions: null,
  })),
}).replace(/"messageId":"(\d+)"/g, '"messageId":$1');

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(history),
    });
    res.end(history);
  });
});
let base: string;
let token = TOKEN;
let channelId = 'c';
let closeTarget: () => Promise<void>;
let onCall = () => {};
if (USE_EMULATOR) {
  const { Emulator } = await import('../src/emulator/index.js');
  const clock = new ManualClock(0);
  const emu = await Emulator.start({ port: 0, audio: false, clock });
  base = emu.apiUrl;
  token = emu.bot.token;
  channelId = emu.demo.textChannelId;
  const seed = new RestClient({ token, baseUrl: base, clock });
  for (let i = 0; i < 20; i++) await seed.messages.send({ channelId, text: `seed ${i}` });
  await seed.close();
  let calls = 0;
  onCall = () => {
    if (++calls % 100 === 0) clock.advance(60_000);
  };
  closeTarget = () => emu.close();
} else {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  closeTarget = () => new Promise<void>((r) => server.close(() => r()));
}

async function run(label: string, call: () => Promise<unknown>) {
  for (let i = 0; i < 200; i++) {
    onCall();
    await call(); // warm-up
  }
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < CALLS) {
        onCall();
        const s = performance.now();
        await call();
        lat.push(performance.now() - s);
      }
    }),
  );
  const total = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return {
    label,
    callsPerS: Math.round(CALLS / (total / 1000)),
    p50Ms: +lat[Math.floor(lat.length * 0.5)]!.toFixed(3),
    p99Ms: +lat[Math.floor(lat.length * 0.99)]!.toFixed(3),
  };
}

const agent = new Agent({ connections: 16 });
const raw = await run('raw undici + JSON.parse', async () => {
  const res = await request(`${base}/IMessages/v1/History?channelId=${channelId}&limit=20`, {
    dispatcher: agent,
    headers: { authorization: `Bot ${token}` },
  });
  if (res.statusCode !== 200) throw new Error(`raw request failed with ${res.statusCode}`);
  return JSON.parse(await res.body.text());
});
const client = new RestClient({ token, baseUrl: base, limiter: new RateLimiter({ limits: {} }) });
const ours = await run('RestClient.messages.history', () => client.messages.history({ channelId, limit: 20 }));

const rows = [raw, ours];
const overhead = {
  p50OverheadMs: +(ours.p50Ms - raw.p50Ms).toFixed(3),
  throughputRatio: +(ours.callsPerS / raw.callsPerS).toFixed(2),
};
if (asJson)
  console.log(
    JSON.stringify(
      {
        bench: 'rest',
        target: USE_EMULATOR ? 'emulator' : 'stub',
        calls: CALLS,
        concurrency: CONCURRENCY,
        rows,
        ...overhead,
      },
      null,
      2,
    ),
  );
else {
  console.log(
    `REST overhead, ${CALLS} History calls (20 messages, ids > 2^53), concurrency ${CONCURRENCY}, ${USE_EMULATOR ? 'emulator' : 'local stub'}`,
  );
  console.table(rows);
  console.log(`RestClient/raw throughput ratio ${overhead.throughputRatio}, p50 overhead ${overhead.p50OverheadMs} ms`);
}
await client.close();
await agent.close();
await closeTarget();
