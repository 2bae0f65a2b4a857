import { describe, expect, it } from 'vitest';
import {
  AdaptiveJitterBuffer,
  DelayHistogram,
  generateTrace,
  oracleDelay,
  runTrace,
  type Trace,
  type TraceRun,
  type TraceScenario,
  tocSamples,
  tracePacket,
} from '../../src/jitter/index.js';

interface Stats {
  run: TraceRun;
  jb: AdaptiveJitterBuffer;
  trace: Trace;
  meanDelay: number;
  p95Delay: number;
  lost: number;
  notPlayed: number;
  lateRate: number;
  speechSent: number;
}

function simulate(scenario: TraceScenario, seed: number, durationMs = 20_000): Stats {
  const trace = generateTrace(scenario, { seed, durationMs });
  const jb = new AdaptiveJitterBuffer();
  const run = runTrace(jb, trace);
  const send = new Map(trace.packets.map((p) => [p.index, p.sendMs]));
  const delays = run.played
    .filter((p) => p.index >= 0)
    .map((p) => p.atMs - (send.get(p.index)! + trace.minNetworkDelayMs))
    .sort((a, b) => a - b);
  const speechSent = trace.packets.filter((p) => !p.dtx).length;
  const lost = trace.packets.filter((p) => !p.dtx && p.arrivalMs === undefined).length;
  const notPlayed = speechSent - lost - run.played.filter((p) => p.index >= 0).length;
  return {
    run,
    jb,
    trace,
    meanDelay: delays.reduce((a, b) => a + b, 0) / delays.length,
    p95Delay: delays[Math.floor(delays.length * 0.95)]!,
    lost,
    notPlayed,
    lateRate: notPlayed / speechSent,
    speechSent,
  };
}

const SEEDS = [1, 2, 3];

describe('AdaptiveJitterBuffer over seeded traces (fake clock)', () => {
  it.each(SEEDS)('clean (seed %i): ≤ 30 ms added, no concealment while the sender talks', (seed) => {
    const s = simulate('clean', seed);
    expect(s.meanDelay).toBeLessThanOrEqual(30);
    // Only the end of the trace (sender stops) is concealed, capped at 100 ms.
    const duringTalk = s.run.concealed.filter((c) => c.atMs < s.trace.durationMs);
    expect(duringTalk).toHaveLength(0);
    expect(s.jb.metrics.lateLosses).toBe(0);
    // Converging from the conservative 80 ms start costs at most a handful of dropped frames.
    expect(s.notPlayed).toBeLessThanOrEqual(5);
    expect(s.jb.metrics.targetDelayMs).toBeLessThanOrEqual(20);
  });

  it.each(SEEDS)(
    'jitter (seed %i): delay within 1.25x of the oracle at the same late loss, at most 2 percent late',
    (seed) => {
      const s = simulate('jitter', seed);
      expect(s.lateRate).toBeLessThanOrEqual(0.02);
      const oracle = oracleDelay(s.trace, s.lateRate);
      // The 20 ms playout grid adds up to one slot of quantisation on top of the oracle's exact timing.
      expect(s.meanDelay).toBeLessThanOrEqual(oracle * 1.25 + 10);
      expect(s.meanDelay).toBeGreaterThan(oracle * 0.6);
    },
  );

  it.each(SEEDS)('loss (seed %i): every lost frame is concealed once, none counted late', (seed) => {
    const s = simulate('loss', seed);
    const m = s.jb.metrics;
    const duringTalk = s.run.concealed.filter((c) => c.atMs < s.trace.durationMs).length;
    expect(duringTalk).toBeGreaterThanOrEqual(s.lost - 1);
    expect(duringTalk).toBeLessThanOrEqual(s.lost + 3);
    expect(m.inferredLosses).toBeGreaterThanOrEqual(Math.floor(s.lost * 0.9));
    expect(m.lateLosses).toBeLessThanOrEqual(2);
    expect(s.meanDelay).toBeLessThanOrEqual(30);
  });

  it.each(SEEDS)('burst loss (seed %i): concealment runs capped at 100 ms, then faded', (seed) => {
    const s = simulate('burst', seed);
    expect(s.run.maxConcealRunMs).toBeLessThanOrEqual(100);
    const concealedMs = s.run.concealed.reduce((a, c) => a + c.durationMs, 0);
    expect(concealedMs).toBeLessThanOrEqual(s.lost * 20 + 100);
    for (const c of s.run.concealed) if (c.fadeOut) expect(c.durationMs).toBe(20);
    expect(s.meanDelay).toBeLessThanOrEqual(30);
    expect(s.lateRate).toBeLessThanOrEqual(0.01);
  });

  it.each(SEEDS)('reorder (seed %i): overtaken packets are still played, target grows to cover them', (seed) => {
    const s = simulate('reorder', seed);
    expect(s.lateRate).toBeLessThanOrEqual(0.03);
    expect(s.jb.metrics.targetDelayMs).toBeGreaterThanOrEqual(15);
    expect(s.meanDelay).toBeLessThanOrEqual(oracleDelay(s.trace, s.lateRate) * 1.25 + 20);
  });

  it.each(SEEDS)('stall (seed %i): survives 300 ms stalls, bounded memory, converges back', (seed) => {
    const s = simulate('stall', seed);
    const m = s.jb.metrics;
    expect(s.run.maxConcealRunMs).toBeLessThanOrEqual(100);
    // The buffer never holds more than its cap, and is back near its floor after the spikes.
    expect(m.targetDelayMs).toBeLessThanOrEqual(30);
    expect(m.overflowDrops).toBe(0);
    expect(s.meanDelay).toBeLessThanOrEqual(40);
    // Each stall: 100 ms concealed then silence; the backlog is dropped, not played late.
    const stalls = Math.floor((s.trace.durationMs - 4000) / 4000) + 1;
    expect(m.underruns).toBeGreaterThanOrEqual(stalls);
    expect(m.underruns).toBeLessThanOrEqual(stalls + 2);
  });

  it.each(SEEDS)('DTX (seed %i): silence is not loss, no concealment storms', (seed) => {
    const s = simulate('dtx', seed);
    const duringTalk = s.run.concealed.filter((c) => c.atMs < s.trace.durationMs);
    expect(duringTalk.length).toBeLessThanOrEqual(1);
    expect(s.run.silenceMs).toBeGreaterThan(4000);
    expect(s.jb.metrics.lateLosses).toBeLessThanOrEqual(1);
    expect(s.meanDelay).toBeLessThanOrEqual(30);
    expect(s.lateRate).toBeLessThanOrEqual(0.01);
  });

  it.each(SEEDS)('sender restart (seed %i): detected, gap not counted as late loss, delay recovers', (seed) => {
    const s = simulate('restart', seed);
    const m = s.jb.metrics;
    expect(m.restarts).toBe(1);
    expect(m.lateLosses).toBe(0);
    expect(s.run.maxConcealRunMs).toBeLessThanOrEqual(100);
    // After the restart the path is 30 ms longer; the buffer adds little on top of that.
    const send = new Map(s.trace.packets.map((p) => [p.index, p]));
    const after = s.run.played.filter((p) => p.index >= 0 && send.get(p.index)!.sendMs > s.trace.durationMs / 2 + 3000);
    const meanAfter = after.reduce((a, p) => a + p.atMs - send.get(p.index)!.arrivalMs!, 0) / Math.max(1, after.length);
    expect(after.length).toBeGreaterThan(100);
    expect(meanAfter).toBeLessThanOrEqual(30);
  });
});

/** Mean added delay (handed-out tick − earliest possible arrival) and late rate of one run. */
function handout(scenario: TraceScenario, seed: number, timeStretch: boolean, tickMs: number) {
  const trace = generateTrace(scenario, { seed, durationMs: 20_000 });
  const jb = new AdaptiveJitterBuffer({ timeStretch });
  const run = runTrace(jb, trace, { tickMs, tickPhaseMs: (seed * 3) % tickMs });
  const send = new Map(trace.packets.map((p) => [p.index, p.sendMs]));
  const played = run.played.filter((p) => p.index >= 0);
  const delays = played.map((p) => p.handedOutMs - (send.get(p.index)! + trace.minNetworkDelayMs));
  const received = trace.arrivals.filter((p) => !p.dtx).length;
  const late = (received - new Set(played.map((p) => p.index)).size) / received;
  const half = delays.slice(delays.length >> 1);
  return {
    jb,
    trace,
    run,
    late,
    meanDelay: delays.reduce((a, b) => a + b, 0) / delays.length,
    meanDelayLate: half.reduce((a, b) => a + b, 0) / half.length,
    oracle: oracleDelay(trace, late),
  };
}

describe('AdaptiveJitterBuffer time-stretching (fake clock)', () => {
  it.each(SEEDS)('clean (seed %i): converges from the 80 ms start by accelerating, not by dropping frames', (seed) => {
    const st = handout('clean', seed, true, 5);
    const fr = handout('clean', seed, false, 20);
    expect(st.jb.metrics.acceleratedMs).toBeGreaterThan(40);
    // Only the start (more than 60 ms over target) drops whole frames.
    expect(st.jb.metrics.droppedFrames).toBeLessThan(fr.jb.metrics.droppedFrames);
    expect(st.jb.metrics.droppedFrames).toBeLessThanOrEqual(2);
    // Steady state: within a few ms of the ~2 ms oracle, never above the whole-frame buffer.
    expect(st.meanDelayLate).toBeLessThanOrEqual(12);
    expect(st.meanDelayLate).toBeLessThanOrEqual(fr.meanDelayLate + 1);
  });

  it('clean, over the four phases of a 20 ms tick: about half a frame less delay than whole-frame playout', () => {
    let st = 0;
    let fr = 0;
    for (const seed of [1, 2, 3, 4]) {
      const trace = generateTrace('clean', { seed, durationMs: 20_000 });
      for (const [timeStretch, tickMs] of [
        [true, 5],
        [false, 20],
      ] as const) {
        const jb = new AdaptiveJitterBuffer({ timeStretch });
        const run = runTrace(jb, trace, { tickMs, tickPhaseMs: [0, 5, 10, 15][seed - 1]! % tickMs });
        const send = new Map(trace.packets.map((p) => [p.index, p.sendMs]));
        const d = run.played
          .filter((p) => p.index >= 0)
          .slice(500)
          .map((p) => p.handedOutMs - (send.get(p.index)! + trace.minNetworkDelayMs));
        const mean = d.reduce((a, b) => a + b, 0) / d.length / 4;
        if (timeStretch) st += mean;
        else fr += mean;
      }
    }
    expect(fr - st).toBeGreaterThanOrEqual(5);
  });

  it('reorder: ≤ 1.2 × the oracle delay at ≤ 1 % late loss (4 seeds, 5 ms tick)', () => {
    let delay = 0;
    let oracle = 0;
    let late = 0;
    for (const seed of [1, 2, 3, 4]) {
      const r = handout('reorder', seed, true, 5);
      delay += r.meanDelay / 4;
      oracle += r.oracle / 4;
      late += r.late / 4;
    }
    expect(late).toBeLessThanOrEqual(0.01);
    expect(delay / oracle).toBeLessThanOrEqual(1.2);
  });

  it.each(['jitter', 'burst', 'reorder', 'stall'] as const)(
    '%s: stretching loses fewer packets than whole-frame drops, and conceals no more',
    (scenario) => {
      let lateSt = 0;
      let lateFr = 0;
      let concSt = 0;
      let concFr = 0;
      for (const seed of SEEDS) {
        const st = handout(scenario, seed, true, 20);
        const fr = handout(scenario, seed, false, 20);
        lateSt += st.late;
        lateFr += fr.late;
        concSt += st.run.concealed.length;
        concFr += fr.run.concealed.length;
      }
      expect(lateSt).toBeLessThan(lateFr);
      expect(concSt).toBeLessThanOrEqual(concFr);
    },
  );

  it('currentDelayMs is never negative, in any scenario, tick or mode', () => {
    const bad: string[] = [];
    for (const scenario of ['clean', 'jitter', 'loss', 'burst', 'reorder', 'stall', 'dtx', 'restart'] as const) {
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        for (const [timeStretch, tickMs] of [
          [false, 20],
          [true, 20],
          [true, 5],
        ] as const) {
          const trace = generateTrace(scenario, { seed, durationMs: 12_000 });
          const jb = new AdaptiveJitterBuffer({ timeStretch });
          let min = Number.POSITIVE_INFINITY;
          runTrace(
            {
              push: (p, a) => jb.push(p, a),
              pop: (now) => {
                const o = jb.pop(now);
                if (o.kind === 'packet') min = Math.min(min, jb.metrics.currentDelayMs);
                return o;
              },
              stretched: (d) => jb.stretched(d),
            },
            trace,
            { tickMs, tickPhaseMs: seed % tickMs },
          );
          if (min < 0) bad.push(`${scenario}/${seed}/${timeStretch}/${tickMs}: ${min}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('asks for a stretch only of speech it can stretch, and moves the timeline by what was done', () => {
    const jb = new AdaptiveJitterBuffer({ timeStretch: true, initialDelayMs: 60, warmupPackets: 5 });
    const outs: Array<ReturnType<AdaptiveJitterBuffer['pop']>> = [];
    let request: { mode: string; maxSamples: number } | undefined;
    let i = 0;
    for (let now = 0; now < 2000; now += 5) {
      if (now % 20 === 0) jb.push(tracePacket(i++), now);
      for (let o = jb.pop(now); o.kind !== 'none'; o = jb.pop(now)) {
        outs.push(o);
        if (o.kind === 'packet' && o.stretch && !request) {
          request = o.stretch;
          // The first request: report a wrong sign (ignored), then the real thing, then a repeat.
          const atNext = o.atMs + o.durationMs;
          jb.stretched(o.stretch.mode === 'accelerate' ? 240 : -240);
          jb.stretched(o.stretch.mode === 'accelerate' ? -240 : 240);
          jb.stretched(o.stretch.mode === 'accelerate' ? -240 : 240);
          const next = jb.pop(1e9);
          expect(next.kind).toBe('packet');
          if (next.kind === 'packet') expect(next.atMs).toBe(atNext + (o.stretch.mode === 'accelerate' ? -5 : 5));
          outs.push(next);
        } else if (o.kind === 'packet' && o.stretch) {
          // Values beyond the request are clamped to it.
          jb.stretched(o.stretch.mode === 'accelerate' ? -1e6 : 1e6);
        }
      }
    }
    // The start is 60 ms, the clean target a few ms: it accelerates, never with less than 2.5 ms.
    expect(request?.mode).toBe('accelerate');
    expect(request!.maxSamples).toBeGreaterThanOrEqual(120);
    expect(request!.maxSamples).toBeLessThanOrEqual(480);
    expect(jb.metrics.acceleratedMs).toBeGreaterThanOrEqual(5);
    expect(jb.metrics.stretchRequests).toBeGreaterThanOrEqual(2);
    expect(jb.metrics.droppedFrames).toBe(0);
    expect(jb.metrics.currentDelayMs).toBeLessThanOrEqual(jb.targetDelayMs + 5);
    expect(outs.filter((o) => o.kind === 'conceal')).toHaveLength(0);
  });

  it('never stretches without the option, DTX packets or a packet that arrived after its slot', () => {
    const plain = new AdaptiveJitterBuffer({ initialDelayMs: 60, warmupPackets: 5 });
    for (let i = 0; i < 50; i++) plain.push(tracePacket(i), i * 20);
    for (let now = 0; now < 1200; now += 5) {
      for (let o = plain.pop(now); o.kind !== 'none'; o = plain.pop(now)) {
        expect(o.kind === 'packet' && o.stretch).toBeFalsy();
      }
    }
    // A packet handed out on a tick after it arrived late: no cushion, so no accelerate.
    const jb = new AdaptiveJitterBuffer({ timeStretch: true, initialDelayMs: 0, minDelayMs: 0, warmupPackets: 1 });
    jb.push(tracePacket(0), 0);
    expect(jb.pop(0).kind).toBe('packet');
    jb.push(tracePacket(1), 19.5);
    jb.push(tracePacket(2), 60); // 20 ms late: its slot (40) already began
    const outs = [jb.pop(20), jb.pop(40), jb.pop(60)];
    for (const o of outs) expect(o.kind === 'packet' && o.stretch?.mode === 'accelerate').toBeFalsy();
  });
});

describe('AdaptiveJitterBuffer unit behaviour', () => {
  it('waits the initial delay before starting, then plays in arrival order', () => {
    const jb = new AdaptiveJitterBuffer({ initialDelayMs: 60 });
    jb.push(tracePacket(0), 0);
    jb.push(tracePacket(1), 20);
    expect(jb.pop(0).kind).toBe('none');
    expect(jb.pop(40).kind).toBe('none');
    const out = jb.pop(60);
    expect(out.kind).toBe('packet');
    if (out.kind === 'packet') expect(out.packet[4]).toBe(0);
    expect(jb.pop(70).kind).toBe('none');
    const out2 = jb.pop(80);
    expect(out2.kind === 'packet' && out2.packet[4]).toBe(1);
  });

  it('conceals exactly one slot per missing 20 ms during speech, with the exact sample count', () => {
    const jb = new AdaptiveJitterBuffer({ initialDelayMs: 40 });
    for (let i = 0; i < 5; i++) jb.push(tracePacket(i), i * 20);
    const outs = [];
    for (let now = 40; now <= 240; now += 20) outs.push(jb.pop(now));
    const kinds = outs.map((o) => o.kind);
    expect(kinds.slice(0, 5)).toEqual(['packet', 'packet', 'packet', 'packet', 'packet']);
    expect(kinds.slice(5, 10)).toEqual(['conceal', 'conceal', 'conceal', 'conceal', 'conceal']);
    for (const o of outs.slice(5, 10)) if (o.kind === 'conceal') expect(o.samples).toBe(960);
    const last = outs[9]!;
    expect(last.kind === 'conceal' && last.fadeOut).toBe(true);
    expect(outs[10]!.kind).toBe('silence');
    expect(jb.metrics.concealedMs).toBe(100);
  });

  it('emits silence, not concealment, after a DTX packet', () => {
    const jb = new AdaptiveJitterBuffer({ initialDelayMs: 20 });
    jb.push(tracePacket(0), 0);
    jb.push(Uint8Array.of(0xf8), 20);
    const kinds: string[] = [];
    for (let now = 20; now <= 400; now += 20) kinds.push(jb.pop(now).kind);
    expect(kinds.slice(0, 2)).toEqual(['packet', 'packet']);
    expect(kinds.slice(2).every((k) => k === 'silence')).toBe(true);
    expect(jb.metrics.concealedMs).toBe(0);
  });

  it('hands the next packet for in-band FEC when it infers a loss in front of it', () => {
    const jb = new AdaptiveJitterBuffer({ initialDelayMs: 60 });
    let now = 0;
    let i = 0;
    const outs = [];
    for (; i < 40; i++, now += 20) {
      if (i !== 30) jb.push(tracePacket(i), now + 1);
      for (let o = jb.pop(now); o.kind !== 'none'; o = jb.pop(now)) outs.push(o);
    }
    for (let t = now; t < now + 200; t += 20) for (let o = jb.pop(t); o.kind !== 'none'; o = jb.pop(t)) outs.push(o);
    const conceal = outs.filter((o) => o.kind === 'conceal');
    expect(conceal).toHaveLength(1 + 5); // the lost frame, then the end of the stream (capped)
    const first = conceal[0]!;
    expect(first.kind === 'conceal' && first.reason).toBe('loss');
    expect(first.kind === 'conceal' && first.fec?.[4]).toBe(31);
    expect(jb.metrics.fecRecoveries).toBe(1);
    expect(jb.metrics.inferredLosses).toBe(1);
  });

  it('a loss burst too long to infer moves the timeline, and does not inflate the target', () => {
    const jb = new AdaptiveJitterBuffer({ timeStretch: true });
    let maxTarget = 0;
    let now = 0;
    for (let i = 0; i < 600; i++, now += 20) {
      // 8 frames (160 ms) lost in a row every 2 s: more than the timing can infer as loss.
      if (i % 100 < 92 || i < 100) jb.push(tracePacket(i), now + (i % 3));
      for (let o = jb.pop(now); o.kind !== 'none'; o = jb.pop(now)) {
        if (o.kind === 'packet' && o.stretch) jb.stretched(o.stretch.mode === 'accelerate' ? -120 : 120);
      }
      if (i > 100) maxTarget = Math.max(maxTarget, jb.targetDelayMs);
    }
    expect(jb.metrics.referenceSteps).toBeGreaterThanOrEqual(4);
    // The clean path needs a few ms; each burst used to add a 160 ms sample to the histogram.
    expect(maxTarget).toBeLessThanOrEqual(10);
  });

  it('keeps memory bounded under a burst far beyond the cap', () => {
    const jb = new AdaptiveJitterBuffer({ maxBufferedMs: 300 });
    for (let i = 0; i < 1000; i++) jb.push(tracePacket(i), 5);
    expect(jb.bufferedMs).toBeLessThanOrEqual(300);
    expect(jb.metrics.overflowDrops).toBe(1000 - 15);
  });

  it('rejects empty and impossible packets without throwing', () => {
    const jb = new AdaptiveJitterBuffer();
    expect(jb.push(new Uint8Array(0), 0)).toBe(false);
    expect(jb.push(Uint8Array.of(0x03), 0)).toBe(false); // code 3 without its count byte
    expect(jb.metrics.invalidPackets).toBe(2);
    expect(jb.pop(1000).kind).toBe('none');
  });

  it('reset() forgets packets and playout state', () => {
    const jb = new AdaptiveJitterBuffer({ initialDelayMs: 20 });
    jb.push(tracePacket(0), 0);
    expect(jb.pop(20).kind).toBe('packet');
    jb.reset();
    expect(jb.started).toBe(false);
    expect(jb.pop(1000).kind).toBe('none');
    expect(jb.metrics.resets).toBe(1);
  });
});

describe('DelayHistogram', () => {
  it('values one point of late loss at 20 ms of delay', () => {
    const h = new DelayHistogram({ bucketMs: 10, forget: 0.9999, startForget: 0.9999 });
    // 97 % of packets at 0–10 ms, 3 % at 200 ms: covering the 3 % costs 200 ms > 3 × 20 ms.
    for (let i = 0; i < 3000; i++) h.add(i % 100 < 3 ? 205 : 5);
    expect(h.optimalDelay(20)).toBe(10);
    // With 1 point worth 100 ms, covering the tail is worth it.
    expect(h.optimalDelay(100)).toBe(210);
    expect(h.quantile(0.5)).toBe(10);
  });

  it('forgets a spike', () => {
    const h = new DelayHistogram({ bucketMs: 5, forget: 0.99, startForget: 0.99 });
    for (let i = 0; i < 50; i++) h.add(150);
    expect(h.quantile(0.5)).toBe(155);
    for (let i = 0; i < 500; i++) h.add(2);
    expect(h.quantile(0.99)).toBe(5);
  });
});

describe('tocSamples', () => {
  it('reads RFC 6716 §3.1 durations', () => {
    expect(tocSamples(Uint8Array.of(0xf8))).toBe(960); // CELT FB 20 ms
    expect(tocSamples(Uint8Array.of(0x78, 0))).toBe(960); // Hybrid FB 20 ms
    expect(tocSamples(Uint8Array.of(0x11, 0))).toBe(1920 * 2); // SILK NB 40 ms, code 1
    expect(tocSamples(Uint8Array.of(0x1b, 0x02))).toBe(5760); // SILK 60 ms x 2
    expect(tocSamples(Uint8Array.of(0x1b, 0x03))).toBeUndefined(); // 180 ms
  });
});
