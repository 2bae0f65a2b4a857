/**
 * PCM helper micro-benchmark: per-frame cost of `applyGain`, `mixInto` (4 inputs, soft clip) and
 * the streaming `Resampler`, each against a naive loop measured in the same run.
 *
 * Usage: `npx tsx bench/pcm.ts [--json]`. Runs in a few seconds.
 *
 * Baselines:
 * - gain: `out[i] = Math.max(-32768, Math.min(32767, Math.round(x * g)))` on every sample.
 * - mix: `inputs.reduce` per sample into a float, then the same clamp (hard clip, no knee).
 * - resample: linear interpolation 24 kHz → 48 kHz (what a quick TTS hookup often does; it
 *   aliases badly, so the sinc resampler is expected to cost more — the row shows how much).
 * Rows report p50/p99 µs per 20 ms stereo frame (960 sample frames) and the p50 ratio to the
 * baseline of the same operation; "x realtime" is 20 ms over the p50.
 * @packageDocumentation
 */
import { applyGain, mixInto, Resampler } from '../src/codec/pcm.js';
import { summarize } from '../src/util/stats.js';

const json = process.argv.includes('--json');
const FRAME = 960 * 2;
const ITER = 4000;

function frame(seed: number): Int16Array {
  const f = new Int16Array(FRAME);
  let s = seed;
  for (let i = 0; i < FRAME; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    f[i] = ((s >>> 16) % 40000) - 20000;
  }
  return f;
}

function time(fn: () => void): number[] {
  for (let i = 0; i < 200; i++) fn(); // warm-up
  const t: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return t;
}

const src = frame(1);
const work = new Int16Array(FRAME);
const inputs = [frame(2), frame(3), frame(4), frame(5)];
const out = new Int16Array(FRAME);

function naiveGain(): void {
  work.set(src);
  for (let i = 0; i < FRAME; i++) work[i] = Math.max(-32768, Math.min(32767, Math.round(work[i]! * 1.5)));
}
function naiveMix(): void {
  for (let i = 0; i < FRAME; i++) {
    const s = inputs.reduce((a, x) => a + x[i]!, 0);
    out[i] = Math.max(-32768, Math.min(32767, s));
  }
}
const half = new Int16Array(FRAME / 2); // 20 ms of 24 kHz stereo
half.set(src.subarray(0, FRAME / 2));
let lastL = 0;
let lastR = 0;
function naiveResample(): Int16Array {
  const o = new Int16Array(FRAME);
  for (let i = 0; i < FRAME / 4; i++) {
    const l = half[2 * i]!;
    const r = half[2 * i + 1]!;
    o[4 * i] = (lastL + l) >> 1;
    o[4 * i + 1] = (lastR + r) >> 1;
    o[4 * i + 2] = l;
    o[4 * i + 3] = r;
    lastL = l;
    lastR = r;
  }
  return o;
}
const resampler = new Resampler({ inputRate: 24000, channels: 2 });

const pairs: [string, number[], number[]][] = [
  [
    'applyGain ×1.5',
    time(naiveGain),
    time(() => {
      work.set(src);
      applyGain(work, 1.5);
    }),
  ],
  ['mixInto 4 inputs', time(naiveMix), time(() => mixInto(out, inputs))],
  ['Resampler 24→48 kHz', time(naiveResample), time(() => resampler.process(half))],
];

const rows = pairs.flatMap(([name, base, ours]) => {
  const b = summarize(base);
  const o = summarize(ours);
  return [
    { op: name, impl: 'naive (baseline)', p50us: b.p50, p99us: b.p99, ratio: 1, xRealtime: 20000 / b.p50 },
    { op: name, impl: 'argon-voice', p50us: o.p50, p99us: o.p99, ratio: o.p50 / b.p50, xRealtime: 20000 / o.p50 },
  ];
});

if (json) console.log(JSON.stringify({ bench: 'pcm', frame: '20 ms stereo', iterations: ITER, rows }, null, 2));
else {
  console.log('PCM helpers, one 20 ms stereo frame per call (µs; ratio = p50 / naive p50)');
  console.table(
    rows.map((r) => ({
      op: r.op,
      impl: r.impl,
      'p50 µs': r.p50us.toFixed(2),
      'p99 µs': r.p99us.toFixed(2),
      ratio: `${r.ratio.toFixed(2)}x`,
      'x realtime': Math.round(r.xRealtime),
    })),
  );
  console.log(JSON.stringify({ bench: 'pcm', rows }));
}
