/**
 * Micro benchmark of the Opus packet layer and the Ogg demuxer.
 *
 * - Packet parsing: `parseOpusPacket`, `opusPacketSamples` and `isGatewaySafe` against a naive
 *   baseline that copies each packet into a new Buffer and reads its TOC (what code that
 *   "just wraps the bytes" costs), over real libopus packets plus code 1/2/3 packets.
 * - Ogg demux throughput in MB/s when the input arrives in 1, 64 and 4096-byte chunks, against
 *   a baseline that only copies the same chunks into one buffer.
 *
 * Each measurement runs in batches; the table shows the median (p50) and p99 of the per-batch
 * cost and the ratio to the baseline measured in the same run.
 *
 * Usage: `npx tsx bench/codec-parse.ts [--json] [--quick]`
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { OggOpusDemuxer } from '../src/codec/ogg-demux.js';
import { OggOpusMuxer } from '../src/codec/ogg-mux.js';
import { isGatewaySafe, opusPacketSamples, parseOpusPacket } from '../src/codec/opus-packet.js';

const json = process.argv.includes('--json');
const quick = process.argv.includes('--quick');
const require = createRequire(import.meta.url);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Runs `fn` in `batches` batches and returns per-batch milliseconds, sorted. */
function measure(batches: number, fn: () => void): number[] {
  for (let i = 0; i < Math.max(3, batches / 10); i++) fn(); // warm up the JIT
  const times: number[] = [];
  for (let i = 0; i < batches; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

// --- corpus: real libopus packets (20 ms, stereo) plus other frame codes ---
function corpus(): Uint8Array[] {
  const { OpusEncoder } = require('@discordjs/opus') as {
    OpusEncoder: new (r: number, c: number) => { encode(b: Buffer): Buffer };
  };
  const enc = new OpusEncoder(48000, 2);
  const out: Uint8Array[] = [];
  const pcm = Buffer.alloc(960 * 4);
  for (let f = 0; f < 250; f++) {
    for (let i = 0; i < 960; i++) {
      const v = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (f * 960 + i)) / 48000));
      pcm.writeInt16LE(v, i * 4);
      pcm.writeInt16LE(v, i * 4 + 2);
    }
    out.push(new Uint8Array(enc.encode(pcm)));
  }
  const body = (n: number): number[] => new Array<number>(n).fill(7);
  out.push(Uint8Array.from([0xf9, ...body(120)])); // code 1
  out.push(Uint8Array.from([0xfa, 40, ...body(100)])); // code 2
  out.push(Uint8Array.from([0xfb, 0x80 | 0x40 | 3, 10, 30, 40, ...body(120), ...body(10)])); // code 3 VBR + padding
  out.push(Uint8Array.from([0xfb, 3, ...body(90)])); // code 3 CBR
  return out;
}

const packets = corpus();
const rounds = quick ? 20 : 200;
// Each batch walks the corpus PASSES times so a batch lasts well above the timer resolution.
const PASSES = 40;
const per = packets.length * PASSES;
let sink = 0;

function passes(f: (p: Uint8Array) => number): void {
  for (let k = 0; k < PASSES; k++) for (const p of packets) sink += f(p);
}

const packetRows: Array<{ name: string; fn: () => void }> = [
  {
    name: 'baseline: Buffer.from(copy) + TOC',
    fn: () => {
      for (let k = 0; k < PASSES; k++) {
        for (const p of packets) {
          const b = Buffer.from(p);
          sink += (b[0] as number) >> 3;
        }
      }
    },
  },
  { name: 'parseOpusPacket', fn: () => passes((p) => parseOpusPacket(p).samples) },
  { name: 'opusPacketSamples', fn: () => passes(opusPacketSamples) },
  { name: 'isGatewaySafe', fn: () => passes((p) => (isGatewaySafe(p, 20) ? 1 : 0)) },
];

const results: Record<string, unknown>[] = [];
let baselineNs = 0;
for (const row of packetRows) {
  const t = measure(rounds, row.fn);
  const p50 = (percentile(t, 50) * 1e6) / per;
  const p99 = (percentile(t, 99) * 1e6) / per;
  if (!baselineNs) baselineNs = p50;
  results.push({
    group: 'packet',
    name: row.name,
    p50NsPerPacket: +p50.toFixed(1),
    p99NsPerPacket: +p99.toFixed(1),
    mPacketsPerS: +(1e3 / p50).toFixed(2),
    vsBaseline: +(p50 / baselineNs).toFixed(2),
  });
}

// --- Ogg demux throughput ---
function oggFile(bytes: number): Uint8Array {
  const mux = new OggOpusMuxer({ channels: 2, serial: 1 });
  const parts: Uint8Array[] = [mux.headers()];
  let n = 0;
  for (let i = 0; n < bytes; i++) {
    const page = mux.write(packets[i % 250] as Uint8Array);
    parts.push(page);
    n += page.length;
  }
  parts.push(mux.end());
  return Uint8Array.from(Buffer.concat(parts));
}

function split(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < bytes.length; o += size) out.push(bytes.subarray(o, o + size));
  return out;
}

for (const size of [1, 64, 4096]) {
  // 1-byte chunks cost a call per byte: use a smaller file so the run stays short.
  const file = oggFile(size === 1 ? (quick ? 64_000 : 256_000) : quick ? 512_000 : 2_000_000);
  const chunks = split(file, size);
  const batches = quick ? 5 : size === 1 ? 15 : 30;
  const copy = measure(batches, () => {
    const all = new Uint8Array(file.length);
    let o = 0;
    for (const c of chunks) {
      all.set(c, o);
      o += c.length;
    }
    sink += all[0] as number;
  });
  const demux = measure(batches, () => {
    const d = new OggOpusDemuxer();
    for (const c of chunks) sink += d.write(c).length;
    d.end();
  });
  const mb = file.length / 1e6;
  const baseMBs = mb / (percentile(copy, 50) / 1e3);
  const p50MBs = mb / (percentile(demux, 50) / 1e3);
  const p99MBs = mb / (percentile(demux, 99) / 1e3);
  results.push({
    group: 'ogg-demux',
    name: `OggOpusDemuxer, ${size}-byte chunks`,
    fileBytes: file.length,
    p50MBs: +p50MBs.toFixed(1),
    p99MBs: +p99MBs.toFixed(1),
    baselineCopyMBs: +baseMBs.toFixed(1),
    vsBaseline: +(p50MBs / baseMBs).toFixed(3),
  });
}

if (json) {
  console.log(JSON.stringify({ bench: 'codec-parse', node: process.version, packets: per, results }, null, 2));
} else {
  console.log(`codec-parse (${per} packets per parse batch, node ${process.version})\n`);
  console.table(results.filter((r) => r.group === 'packet').map(({ group, ...r }) => r));
  console.table(results.filter((r) => r.group === 'ogg-demux').map(({ group, ...r }) => r));
  console.log('\nvsBaseline: packet rows = time ratio (lower is faster); ogg rows = throughput ratio to a plain copy.');
  console.log(JSON.stringify(results));
}
if (sink === 42) console.log('');
