import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { OpusDecoder } from '../../src/codec/opus-decoder.js';
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { Emulator } from '../../src/emulator/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { VoiceReceiver } from '../../src/voice/receiver.js';
import type { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { until } from '../helpers/until.js';
import { chirp, findMarks, matchMarks, percentile, run, type TimedPcm } from '../../samples/latency-bench/index.js';

/** Splits a signal into 20 ms frames stamped every 20 ms from `t0`. */
function framesOf(signal: Int16Array, t0: number): TimedPcm[] {
  const out: TimedPcm[] = [];
  for (let o = 0; o < signal.length; o += 960)
    out.push({ pcm: signal.subarray(o, o + 960), atMs: t0 + (o / 960) * 20 });
  return out;
}

describe('latency-bench marks', () => {
  it('locates each chirp to the sample, and pairs peaks with the marks before them', () => {
    const mark = chirp();
    const signal = new Int16Array(48_000);
    const at = [4_000, 17_123, 40_321];
    for (const p of at) signal.set(mark, p);
    const peaks = findMarks(framesOf(signal, 1000), mark);
    // Exactly the sample where each chirp starts (ear time = frame time + offset / 48 kHz).
    expect(peaks.map((p) => Math.round((p.earMs - 1000) * 48))).toEqual(at);
    for (const p of peaks) expect(p.score).toBeGreaterThan(0.999);
    const marks = matchMarks([1000, 1300, 1800, 1900], peaks);
    expect(marks.map((m) => (m.latencyMs === undefined ? undefined : Math.round(m.latencyMs * 48)))).toEqual([
      4000,
      17_123 - 300 * 48,
      40_321 - 800 * 48, // heard at 1840 ms: the latest mark before it is the one at 1800 ms
      undefined, // nothing after 1900 ms
    ]);
  });

  it('still finds the chirp after Opus coding, shifted by the codec delay only', () => {
    const mark = chirp();
    const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    const dec = new OpusDecoder({ channels: 1 });
    const decoded: Int16Array[] = [];
    for (let i = 0; i < 25; i++) {
      const pcm = new Int16Array(960);
      if (i === 10) pcm.set(mark);
      decoded.push(dec.decode(enc.encode(pcm)));
    }
    enc.close();
    dec.close();
    const peaks = findMarks(
      decoded.map((pcm, i) => ({ pcm, atMs: i * 20 })),
      mark,
    );
    expect(peaks).toHaveLength(1);
    // libopus at 48 kHz delays its output by 312 samples (6.5 ms): the mark shows up there.
    expect(peaks[0]!.earMs).toBeCloseTo(200 + 312 / 48, 0);
  });

  it('computes nearest-rank percentiles', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([5, 1, 3, 2, 4], 99)).toBe(5);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

/** Polls every 2 ms with a generous budget against hangs (no timing assertion). */
const POLL = { intervalMs: 2, timeoutMs: 10_000 };

describe('latency-bench sample', () => {
  // One manual clock for the emulator (gateway arrival times, join delay) and the sample (the
  // mouth's frame timing, the publisher's pacer, the listener's arrival times and playout).
  const clock = new ManualClock(0);
  let emu: Emulator;
  beforeAll(async () => {
    emu = await Emulator.start({ port: 0, clock });
  });
  afterAll(async () => {
    await emu.close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('hears every mark it published, through the gateway, with a second identity', async () => {
    // The listener's subscriber, handed to the receiver by the sample.
    const ears: VoiceSubscriber[] = [];
    const attach = VoiceReceiver.prototype.attach;
    vi.spyOn(VoiceReceiver.prototype, 'attach').mockImplementation(function (this: VoiceReceiver, ...a) {
      ears.push(a[1] as VoiceSubscriber);
      return attach.apply(this, a);
    });
    let finished = false;
    const running = run({ emulator: emu, env: {}, durationMs: 2000, intervalMs: 500, leadInMs: 600, clock }).finally(
      () => (finished = true),
    );
    const live = (endpoint: 'connect' | 'subscribe') =>
      emu.gateway.sessions().filter((s) => s.endpoint === endpoint && s.state !== 'closed');
    const publisher = () => VoiceConnection.get(emu.demo.spaceId, emu.demo.voiceChannelId);
    // Time stays put until both sessions are joining, and after their join delay until the
    // publisher is ready and the listener subscribed: the pacer starts at the same instant every run.
    await until(
      () =>
        finished ||
        (live('connect').length === 1 &&
          live('subscribe').length === 1 &&
          publisher()?.state.status === 'waiting-ready'),
      'both sessions joining, the publisher waiting for ready',
      POLL,
    );
    clock.advance(emu.gateway.timings.joinDelayMs);
    await until(
      () => finished || (publisher()?.state.status === 'ready' && ears[0]?.state.status === 'subscribed'),
      'the publisher ready and the listener subscribed',
      POLL,
    );
    /** Every frame the pacer wrote reached the gateway, and every frame the gateway wrote reached the listener. */
    const settled = () => {
      const conn = publisher();
      const ear = ears[0]!;
      const [pub] = live('connect');
      const [sub] = live('subscribe');
      const published = conn?.state.status !== 'ready' || !pub || conn.pacer.metrics.framesSent === pub.framesIn;
      return published && (!sub || ear.framesReceived === sub.framesOut);
    };
    // Then time moves 1 ms at a time, only once what the last step set off has run (the mouth's
    // next frame, the listener's playout: promise continuations) and every written frame arrived:
    // each frame reaches the gateway and the listener at its modelled time however busy the
    // machine is, so no frame is ever late for the jitter buffer and the measurement is the same
    // on every run.
    for (let ms = 0; ms < 600_000 && !finished; ms++) {
      clock.advance(1);
      await new Promise<void>((r) => setImmediate(r));
      await until(() => finished || settled(), 'the written frames received', POLL);
    }
    const r = await running;
    expect(r.sent).toBe(4);
    expect(r.detected, JSON.stringify({ marks: r.marks, jitter: r.jitter })).toBe(r.sent);
    expect(r.identities.listener).not.toBe(r.identities.publisher);
    for (const m of r.marks) {
      expect(Number.isFinite(m.latencyMs)).toBe(true);
      expect(m.latencyMs!).toBeGreaterThan(0);
      expect(m.score!).toBeGreaterThan(0.9);
    }
    expect(Number.isFinite(r.p50Ms) && Number.isFinite(r.p99Ms)).toBe(true);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
    // The emulator's capture splits the path: mouth → gateway is part of mouth → ear.
    expect(r.toGateway!.p50Ms).toBeLessThan(r.p50Ms);
    // The publisher's frames really went through the gateway.
    expect(emu.gateway.published({ identity: r.identities.publisher }).length).toBeGreaterThan(100);
  });
});
