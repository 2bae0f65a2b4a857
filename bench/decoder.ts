/**
 * Decoder micro-benchmark: cost per 20 ms frame of decode, packet-loss concealment (PLC) and FEC
 * decode, for argon-voice's native addon against `@discordjs/opus` (the baseline: what a bot uses
 * today) and opusscript (WebAssembly), all in the same run on the same packets.
 *
 * Usage: `npx tsx bench/decoder.ts [--json] [--quick]`. Runs in a few seconds (`--quick`: one pass).
 *
 * Every call is timed on its own (process.hrtime.bigint, ~30-50 ns overhead, small next to a
 * 10-50 µs decode), so the table shows p50/p99 per frame, not just a mean. Ratios are p50 of the
 * row over p50 of the `@discordjs/opus` row of the same operation (below 1 = faster).
 *
 * Rows:
 * - `decode`: one packet to PCM. Addon: `OpusDecoder.decodeInto` (caller buffer, no allocation).
 *   Baseline: `OpusEncoder.decode(Buffer)` (returns a new Buffer). opusscript: `decode(Buffer)`.
 * - `plc 20ms`: one lost 20 ms frame, after a decoded one. Addon: `concealInto(960)`. The libraries
 *   can only conceal their fixed block (`decode(empty)`: 120 ms / 60 ms of PLC for one lost frame);
 *   `OpusDecoder` over them serves 20 ms slices of that block (`fallback` rows).
 * - `fec 20ms`: rebuild the lost frame from the next packet's FEC. Only the addon can; the
 *   fallbacks conceal instead (their `fec` rows time that).
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { OpusDecoder } from '../src/codec/opus-decoder.js';
import { loadNative, nativeLoadError } from '../src/codec/native.js';
import { summarize } from '../src/util/stats.js';

const require = createRequire(import.meta.url);
interface DiscordOpus {
  encode(b: Buffer): Buffer;
  decode(b: Buffer): Buffer;
  setBitrate(b: number): void;
  applyEncoderCTL(ctl: number, v: number): void;
}
const { OpusEncoder: Discord } = require('@discordjs/opus') as {
  OpusEncoder: new (rate: number, channels: number) => DiscordOpus;
};
type Script = { decode(b: Buffer): Buffer; delete(): void };
const OpusScript = require('opusscript') as new (rate: number, ch: number, app: number) => Script;

const FRAME = 960;
const FRAMES = 500; // 10 s of audio per scenario
const ROUNDS = process.argv.includes('--quick') ? 1 : 4; // passes over the stream per measurement

/** Voice-like stereo-or-mono signal: pitch pulses through a resonator, syllable envelope. */
function signal(channels: number, frames: number): Buffer {
  const n = frames * FRAME;
  const b = Buffer.alloc(n * channels * 2);
  let phase = 0;
  let y1 = 0;
  let y2 = 0;
  const r = Math.exp((-Math.PI * 90) / 48000);
  const a1 = 2 * r * Math.cos((2 * Math.PI * 900) / 48000);
  const a2 = -r * r;
  let seed = 1;
  for (let i = 0; i < n; i++) {
    const t = i / 48000;
    phase += (130 + 25 * Math.sin(2 * Math.PI * 1.1 * t)) / 48000;
    seed = (seed * 1103515245 + 12345) >>> 0;
    let x = ((seed >>> 16) / 65536 - 0.5) * 0.05;
    if (phase >= 1) {
      phase -= 1;
      x += 1;
    }
    const y = x + a1 * y1 + a2 * y2;
    y2 = y1;
    y1 = y;
    const v = Math.max(-32768, Math.min(32767, Math.round(y * 900 * (0.55 + 0.45 * Math.sin(2 * Math.PI * 2.5 * t)))));
    for (let c = 0; c < channels; c++) b.writeInt16LE(c === 0 ? v : v >> 1, (i * channels + c) * 2);
  }
  return b;
}

function encode(channels: number, bitrate: number, fec: boolean): Buffer[] {
  const enc = new Discord(48000, channels);
  enc.setBitrate(bitrate);
  if (fec) {
    enc.applyEncoderCTL(4024, 3001); // OPUS_SET_SIGNAL(VOICE)
    enc.applyEncoderCTL(4012, 1); // OPUS_SET_INBAND_FEC
    enc.applyEncoderCTL(4014, 10); // OPUS_SET_PACKET_LOSS_PERC
  }
  const pcm = signal(channels, FRAMES);
  const step = FRAME * channels * 2;
  const out: Buffer[] = [];
  for (let off = 0; off < pcm.length; off += step) out.push(enc.encode(pcm.subarray(off, off + step)));
  return out;
}

/** Times `fn(i)` once per call for i in 0..count, after a warm-up pass; ns per call. */
function time(count: number, fn: (i: number) => void, untimed?: (i: number) => void): Float64Array {
  for (let i = 0; i < Math.min(count, 200); i++) {
    untimed?.(i);
    fn(i);
  }
  const ns = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    untimed?.(i);
    const t0 = process.hrtime.bigint();
    fn(i);
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return ns;
}

interface Row {
  scenario: string;
  op: 'decode' | 'plc 20ms' | 'fec 20ms';
  impl: string;
  p50Ns: number;
  p99Ns: number;
  meanNs: number;
  calls: number;
  ratioP50: number;
  note?: string;
}

function bench(scenario: string, channels: 1 | 2, packets: Buffer[]): Row[] {
  const total = packets.length * ROUNDS;
  const pkt = (i: number) => packets[i % packets.length]!;
  const out = new Int16Array(5760 * channels);
  const frameOut = new Int16Array(FRAME * channels);
  const rows: Omit<Row, 'ratioP50'>[] = [];
  const add = (op: Row['op'], impl: string, ns: Float64Array, note?: string) => {
    const s = summarize(ns);
    rows.push({
      scenario,
      op,
      impl,
      p50Ns: s.p50,
      p99Ns: s.p99,
      meanNs: s.mean,
      calls: s.count,
      ...(note ? { note } : {}),
    });
  };
  const empty = Buffer.alloc(0);
  const hasAddon = loadNative() !== undefined;

  // decode
  {
    const d = new Discord(48000, channels);
    add(
      'decode',
      '@discordjs/opus',
      time(total, (i) => d.decode(pkt(i))),
    );
    const s = new OpusScript(48000, channels, 2049);
    add(
      'decode',
      'opusscript',
      time(total, (i) => s.decode(pkt(i))),
    );
    s.delete();
    if (hasAddon) {
      const n = new OpusDecoder({ channels, backend: 'native' });
      add(
        'decode',
        'native addon',
        time(total, (i) => n.decodeInto(pkt(i), out)),
      );
      n.close();
    }
  }
  // PLC: a decoded frame (untimed), then one lost 20 ms frame (timed).
  {
    const d = new Discord(48000, channels);
    add(
      'plc 20ms',
      '@discordjs/opus',
      time(
        total,
        () => d.decode(empty),
        (i) => d.decode(pkt(i)),
      ),
      'decode(empty): 120 ms of PLC per lost frame',
    );
    const f = new OpusDecoder({ channels, backend: 'discordjs' });
    add(
      'plc 20ms',
      'fallback (discordjs)',
      time(
        total,
        () => f.concealInto(frameOut),
        (i) => f.decodeInto(pkt(i), out),
      ),
      'OpusDecoder over @discordjs/opus: 20 ms slice of a 120 ms PLC',
    );
    const s = new OpusScript(48000, channels, 2049);
    add(
      'plc 20ms',
      'opusscript',
      time(
        total,
        () => s.decode(empty),
        (i) => s.decode(pkt(i)),
      ),
      'decode(empty): 60 ms of PLC',
    );
    s.delete();
    if (hasAddon) {
      const n = new OpusDecoder({ channels, backend: 'native' });
      add(
        'plc 20ms',
        'native addon',
        time(
          total,
          () => n.concealInto(frameOut),
          (i) => n.decodeInto(pkt(i), out),
        ),
        'exactly 20 ms',
      );
      n.close();
    }
  }
  // FEC: frame i lost, rebuilt from packet i+1 (timed), then packet i+1 decoded (untimed).
  {
    const f = new OpusDecoder({ channels, backend: 'discordjs' });
    add(
      'fec 20ms',
      '@discordjs/opus',
      time(
        total,
        (i) => f.decodeFecInto(pkt(i + 1), frameOut),
        (i) => f.decodeInto(pkt(i), out),
      ),
      'cannot decode FEC: conceals (OpusDecoder fallback)',
    );
    if (hasAddon) {
      const n = new OpusDecoder({ channels, backend: 'native' });
      add(
        'fec 20ms',
        'native addon',
        time(
          total,
          (i) => n.decodeFecInto(pkt(i + 1), frameOut),
          (i) => n.decodeInto(pkt(i), out),
        ),
        'decode_fec=1 from the next packet',
      );
      n.close();
    }
  }
  return rows.map((r) => {
    const base = rows.find((b) => b.op === r.op && b.impl === '@discordjs/opus');
    return { ...r, ratioP50: base ? r.p50Ns / base.p50Ns : Number.NaN };
  });
}

function main(): void {
  const json = process.argv.includes('--json');
  const started = process.hrtime.bigint();
  const rows = [
    ...bench('voice mono 24 kb/s FEC', 1, encode(1, 24_000, true)),
    ...bench('stereo 96 kb/s (CELT: no FEC data)', 2, encode(2, 96_000, false)),
  ];
  const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
  const addon = loadNative();
  if (json) {
    console.log(
      JSON.stringify(
        {
          bench: 'decoder',
          node: process.version,
          libopus: addon?.libopusVersion(),
          addonError: nativeLoadError(),
          framesPerScenario: FRAMES * ROUNDS,
          elapsedMs,
          rows,
        },
        null,
        2,
      ),
    );
    return;
  }
  const us = (ns: number) => (ns / 1000).toFixed(2);
  console.log(
    `decoder bench: ${FRAMES * ROUNDS} calls per row, node ${process.version}, ${addon?.libopusVersion() ?? `no addon: ${nativeLoadError()}`}`,
  );
  console.log('ratio = p50 / p50 of @discordjs/opus for the same operation (lower is faster)\n');
  const header = ['scenario', 'op', 'impl', 'p50 µs', 'p99 µs', 'mean µs', 'ratio', 'note'];
  const table = rows.map((r) => [
    r.scenario,
    r.op,
    r.impl,
    us(r.p50Ns),
    us(r.p99Ns),
    us(r.meanNs),
    Number.isNaN(r.ratioP50) ? '-' : `${r.ratioP50.toFixed(2)}x`,
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i >= 3 && i <= 6 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
  console.log(`\n(${(elapsedMs / 1000).toFixed(1)} s)`);
}

main();
