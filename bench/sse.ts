/**
 * SSE parse throughput: `SseParser` (bytes in, events out) against a naive baseline that decodes to
 * a string, splits on "\n\n" and then on "\n" — at 1, 8, 64 and 256-byte chunks, in the same run.
 *
 *   node --import tsx bench/sse.ts [--json] [--events N]
 */
import { performance } from 'node:perf_hooks';
import { SseParser } from '../src/events/sse-parser.js';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const nIdx = args.indexOf('--events');
const EVENTS = nIdx >= 0 ? Number(args[nIdx + 1]) : 20_000;

function makeWire(n: number): Uint8Array {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 50 === 49) {
      parts.push(`event: heartbeat\ndata: {"timestamp":${1000 + i}}\nid: 0\n\n`);
      continue;
    }
    const id = 1152921504606846977n + BigInt(i);
    parts.push(
      `event: messageCreate\ndata: {"spaceId":"3f2a0000-0000-0000-0000-00000000009c","channelId":"c0000000-0000-0000-0000-000000000001","message":{"messageId":${id},"replyId":null,"text":"message number ${i} with some text ✓","entities":[],"timeSent":"2026-04-26T09:36:45.123Z","sender":{"userId":"u","username":"user","displayName":"User","avatarUrl":null,"flags":0,"locale":"en"},"controls":null,"reactions":null}}\nid: 3f2a00000000000000000000000009c_${i}\n\n`,
    );
  }
  return new TextEncoder().encode(parts.join(''));
}

function chunk(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Baseline: what a quick hand-rolled client does (LF only, no limits, no error reporting). */
function naive(chunks: Uint8Array[]): number {
  const dec = new TextDecoder();
  let buf = '';
  let count = 0;
  for (const c of chunks) {
    buf += dec.decode(c, { stream: true });
    let idx = buf.indexOf('\n\n');
    while (idx !== -1) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      let data = '';
      for (const line of block.split('\n')) if (line.startsWith('data: ')) data += line.slice(6);
      if (data) count++;
      idx = buf.indexOf('\n\n');
    }
  }
  return count;
}

function parser(chunks: Uint8Array[]): number {
  const p = new SseParser();
  let count = 0;
  for (const c of chunks) count += p.push(c).length;
  return count;
}

function measure(fn: (c: Uint8Array[]) => number, chunks: Uint8Array[], bytes: number) {
  fn(chunks); // warm-up
  const runs: number[] = [];
  let events = 0;
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    events = fn(chunks);
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  const ms = runs[2]!;
  return { events, ms, mbPerS: bytes / 1e6 / (ms / 1000), eventsPerS: events / (ms / 1000) };
}

const wire = makeWire(EVENTS);
const rows = [];
for (const size of [1, 8, 64, 256]) {
  const chunks = chunk(wire, size);
  const base = measure(naive, chunks, wire.length);
  const ours = measure(parser, chunks, wire.length);
  if (base.events !== ours.events) throw new Error(`event count mismatch: ${base.events} vs ${ours.events}`);
  rows.push({
    chunkBytes: size,
    events: ours.events,
    parserMBs: +ours.mbPerS.toFixed(1),
    naiveMBs: +base.mbPerS.toFixed(1),
    parserEventsPerS: Math.round(ours.eventsPerS),
    naiveEventsPerS: Math.round(base.eventsPerS),
    ratio: +(ours.mbPerS / base.mbPerS).toFixed(2),
  });
}
if (asJson) console.log(JSON.stringify({ bench: 'sse', bytes: wire.length, rows }, null, 2));
else {
  console.log(
    `SSE parse, ${EVENTS} events, ${(wire.length / 1e6).toFixed(1)} MB (ratio = SseParser / naive split, > 1 is faster)`,
  );
  console.table(rows);
}
