/**
 * Encoder micro-benchmark: cost per 20 ms frame of `OpusEncoder.encode` (the wrapper) against a
 * raw `@discordjs/opus` `encode(Buffer)` call (the baseline), same settings, same PCM, same run.
 * The opusscript (WebAssembly) backend is timed as well for reference.
 *
 * Usage: `npx tsx bench/encoder.ts [--json]`. Runs in ~10 s.
 *
 * Each call is timed on its own (process.hrtime.bigint); rows report p50/p99 µs per frame and the
 * p50 ratio to the baseline row of the same channel count (goal for the wrapper: ≤ 1.10×). The
 * baseline and the wrapper alternate in rounds so that CPU frequency drift hits both equally.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { OpusEncoder } from '../src/codec/opus-encoder.js';
import { summarize } from '../src/util/stats.js';

const require = createRequire(import.meta.url);
interface DiscordOpus {
  encode(b: Buffer): Buffer;
  setBitrate(b: number): void;
  applyEncoderCTL(ctl: number, v: number): void;
}
const { OpusEncoder: Discord } = require('@discordjs/opus') as {
  OpusEncoder: new (rate: number, ch: number) => DiscordOpus;
};

const FRAME = 960;
const FRAMES = 250; // 5 s of audio per round
const ROUNDS = 6;
const json = process.argv.includes('--json');

function music(channels: number): Int16Array {
  const n = FRAMES * FRAME;
  const out = new Int16Array(n * channels);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    const noise = ((seed >>> 16) / 65536 - 0.5) * 800;
    const t = i / 48000;
    const v = 6000 * Math.sin(2 * Math.PI * 220 * t) + 3000 * Math.sin(2 * Math.PI * 660 * t + Math.sin(t * 3)) + noise;
    for (let c = 0; c < channels; c++) out[i * channels + c] = Math.round(c ? v * 0.8 : v);
  }
  return out;
}

interface Row {
  name: string;
  channels: number;
  p50us: number;
  p99us: number;
  meanUs: number;
  ratio: number;
}

function timeFrames(
  encode: (frame: Int16Array, buf: Buffer) => void,
  pcm: Int16Array,
  channels: number,
  into: number[],
): void {
  const len = FRAME * channels;
  for (let f = 0; f < FRAMES; f++) {
    const frame = pcm.subarray(f * len, (f + 1) * len);
    // The baseline needs a Buffer; building the view is part of what a caller of the raw binding pays.
    const t0 = process.hrtime.bigint();
    encode(frame, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    into.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
}

const rows: Row[] = [];
for (const channels of [1, 2] as const) {
  const pcm = music(channels);
  const raw = new Discord(48000, channels);
  raw.applyEncoderCTL(4016, 0); // DTX off, as the wrapper does
  raw.setBitrate(64000 * channels);
  const wrapped = new OpusEncoder({ channels, frameDurationMs: 20, bitrate: 64000 * channels });
  const wasm = new OpusEncoder({ channels, frameDurationMs: 20, bitrate: 64000 * channels, backend: 'wasm' });
  const times = { raw: [] as number[], wrapper: [] as number[], wasm: [] as number[] };
  // Warm-up round (JIT, libopus analysis state), not recorded.
  timeFrames((_, b) => raw.encode(b), pcm, channels, []);
  timeFrames((f) => wrapped.encode(f), pcm, channels, []);
  timeFrames((f) => wasm.encode(f), pcm, channels, []);
  for (let r = 0; r < ROUNDS; r++) {
    timeFrames((_, b) => raw.encode(b), pcm, channels, times.raw);
    timeFrames((f) => wrapped.encode(f), pcm, channels, times.wrapper);
    if (r < 2) timeFrames((f) => wasm.encode(f), pcm, channels, times.wasm);
  }
  wrapped.close();
  wasm.close();
  const base = summarize(times.raw);
  for (const [name, t] of [
    ['@discordjs/opus raw (baseline)', times.raw],
    ['OpusEncoder native', times.wrapper],
    ['OpusEncoder wasm', times.wasm],
  ] as const) {
    const s = summarize(t);
    rows.push({ name, channels, p50us: s.p50, p99us: s.p99, meanUs: s.mean, ratio: s.p50 / base.p50 });
  }
}

if (json) {
  console.log(JSON.stringify({ bench: 'encoder', frameMs: 20, framesPerRow: FRAMES * ROUNDS, rows }, null, 2));
} else {
  console.log('Opus encode, 20 ms frames, 64 kbit/s per channel (µs per frame; ratio = p50 / baseline p50)');
  console.table(
    rows.map((r) => ({
      encoder: r.name,
      ch: r.channels,
      'p50 µs': r.p50us.toFixed(1),
      'p99 µs': r.p99us.toFixed(1),
      'mean µs': r.meanUs.toFixed(1),
      ratio: `${r.ratio.toFixed(3)}x`,
    })),
  );
  const worst = Math.max(...rows.filter((r) => r.name === 'OpusEncoder native').map((r) => r.ratio));
  console.log(`wrapper overhead: worst p50 ratio ${worst.toFixed(3)}x (goal ≤ 1.10x)`);
  console.log(JSON.stringify({ bench: 'encoder', rows }));
}
