import diagnosticsChannel from 'node:diagnostics_channel';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { PACER_CHANNEL, type PacerMetrics } from '../../src/pacing/metrics.js';
import { FramePacer, PacerThread } from '../../src/pacing/pacer.js';
import type { SocketEvent } from '../../src/pacing/pacer-core.js';
import { ManualClock } from '../../src/util/clock.js';
import { until } from '../helpers/until.js';

const frame = (i: number) => Uint8Array.from([0xf8, i & 0xff, (i >> 8) & 0xff]);

describe('FramePacer (main-thread mode, manual clock)', () => {
  it('sends queued frames one per slot, in order, and the producer runs exactly queueFrames ahead', async () => {
    const clock = new ManualClock(0);
    const pacer = new FramePacer({ frameDurationMs: 20, clock, queueFrames: 3 });
    expect(pacer.mode).toBe('main');
    const sent: { i: number; at: number }[] = [];
    pacer.attachSink((f) => {
      sent.push({ i: f[1]! | (f[2]! << 8), at: clock.now() });
    });
    let produced = 0;
    const producer = (async () => {
      for (let i = 0; i < 20; i++) {
        await pacer.enqueue(frame(i));
        produced++;
      }
    })();
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect(produced).toBe(3);
    expect(sent).toHaveLength(0); // nothing before start()
    pacer.start();
    for (let k = 0; k < 30; k++) {
      clock.advance(20);
      await new Promise((r) => setImmediate(r));
    }
    await producer;
    expect(sent.map((s) => s.i)).toEqual([...Array(20).keys()]);
    sent.forEach((s, k) => expect(s.at).toBe(k * 20));
    const m = pacer.metrics;
    expect(m.framesSent).toBe(20);
    expect(m.spacingP50Ms).toBe(20);
    expect(m.spacingMaxMs).toBe(20);
    expect(m.underruns).toBeGreaterThan(0); // the producer stopped after 20 frames
    await pacer.close();
    await pacer.close();
    await expect(pacer.enqueue(frame(0))).rejects.toMatchObject({ code: 'ARGON_VOICE_CLOSED' });
  });

  it('fills empty slots with the filler and sends a pre-roll of filler before queued audio', () => {
    const clock = new ManualClock(0);
    const pacer = new FramePacer({ frameDurationMs: 20, clock, queueFrames: 5 });
    const sent: number[] = [];
    pacer.attachSink((f) => {
      sent.push(f[1]!);
    });
    const silence = Uint8Array.from([0xf8, 0xff, 0xfe]);
    pacer.setFiller(silence);
    pacer.tryEnqueue(frame(1));
    pacer.tryEnqueue(frame(2));
    pacer.start(3);
    clock.advance(20 * 7);
    expect(sent).toEqual([0xff, 0xff, 0xff, 1, 2, 0xff, 0xff, 0xff]);
    const m = pacer.metrics;
    expect(m.fillerFrames).toBe(3);
    expect(m.underruns).toBe(3);
    void pacer.close();
  });

  it('skip policy under a stalled driver drops late frames instead of bursting', () => {
    const manual = new ManualClock(0);
    // A stall: perceived time jumps by 100 ms while no timer could run.
    let stall = 0;
    const clock = {
      now: () => manual.now() + stall,
      setTimeout: (fn: () => void, ms: number) => manual.setTimeout(fn, ms),
      clearTimeout: (h: unknown) => manual.clearTimeout(h),
    };
    const pacer = new FramePacer({ frameDurationMs: 20, clock, queueFrames: 10, latePolicy: 'skip' });
    const at: number[] = [];
    pacer.attachSink(() => {
      at.push(clock.now());
    });
    for (let i = 0; i < 10; i++) pacer.tryEnqueue(frame(i));
    pacer.start();
    manual.advance(40);
    stall = 100;
    manual.advance(100);
    expect(at.length + pacer.metrics.framesSkipped).toBeLessThanOrEqual(10);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(10);
    expect(pacer.metrics.framesSkipped).toBeGreaterThan(0);
    void pacer.close();
  });

  it('counts a frame the sink refuses as a network drop, not as sent', async () => {
    const clock = new ManualClock(0);
    const pacer = new FramePacer({ frameDurationMs: 20, clock, queueFrames: 4 });
    pacer.attachSink(() => false);
    pacer.tryEnqueue(frame(1));
    pacer.start();
    clock.advance(1);
    expect(pacer.metrics.networkDrops).toBe(1);
    expect(pacer.metrics.framesSent).toBe(0);
    await pacer.close();
  });
});

describe('FramePacer (worker mode, real socket)', () => {
  let wss: WebSocketServer | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
    wss = undefined;
  });

  it('owns the socket on the pacer thread: in-order frames, count matches, nothing before start, clean close', async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((r) => wss!.once('listening', r));
    const received: number[] = [];
    let startedAt = Number.POSITIVE_INFINITY;
    let earlyFrames = 0;
    wss.on('connection', (ws) => {
      ws.on('message', (data: Buffer, isBinary) => {
        if (!isBinary) return;
        if (performance.now() < startedAt) earlyFrames++;
        received.push(data[1]! | (data[2]! << 8));
      });
    });
    const thread = new PacerThread({ realtimePriority: false, metricsIntervalMs: 100 });
    const pacer = new FramePacer({ frameDurationMs: 20, thread, queueFrames: 4, latePolicy: 'burst', maxBurst: 1000 });
    expect(pacer.mode).toBe('worker');
    const events: SocketEvent['type'][] = [];
    const opened = new Promise<void>((resolve) => {
      pacer.on('socket', (ev) => {
        events.push(ev.type);
        if (ev.type === 'open') resolve();
      });
    });
    const seen: PacerMetrics[] = [];
    const sub = (m: unknown) => seen.push(m as PacerMetrics);
    diagnosticsChannel.subscribe(PACER_CHANNEL, sub);
    pacer.connect({ url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` });
    await opened;
    const N = 25;
    const producer = (async () => {
      for (let i = 0; i < N; i++) await pacer.enqueue(frame(i), { timeoutMs: 5000 });
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(pacer.queueDepth).toBe(4);
    startedAt = performance.now();
    pacer.start();
    await producer;
    await until(() => received.length >= N, 'every frame received', { intervalMs: 20, timeoutMs: 10_000 });
    expect(earlyFrames).toBe(0);
    expect(received).toEqual([...Array(N).keys()]);
    // A generous fallback: the thread's own answer (fresh counters, also published on the
    // channel) must win, not a stale snapshot handed out because a busy thread answered late.
    const m = await pacer.refreshMetrics({ timeoutMs: 30_000 });
    expect(m.framesSent).toBe(N);
    expect(m.mode).toBe('worker');
    expect(['native', 'atomics']).toContain(m.clock);
    expect(seen.length).toBeGreaterThan(0);
    diagnosticsChannel.unsubscribe(PACER_CHANNEL, sub);
    const closed = new Promise<void>((resolve) => pacer.on('socket', (ev) => ev.type === 'close' && resolve()));
    pacer.disconnect(1000);
    await closed;
    await pacer.close();
    expect(thread.streams).toBe(0);
    expect(events[0]).toBe('open');
    expect(events.at(-1)).toBe('close');
  });

  it('a held thread starts before any stream and outlives its last one; released, it retires', async () => {
    const thread = new PacerThread({ realtimePriority: false });
    expect(thread.running).toBe(false);
    const release = thread.hold();
    expect(thread.running).toBe(true);
    expect((await thread.ready()).mode).toBe('worker');
    const pacer = new FramePacer({ frameDurationMs: 20, thread });
    expect(thread.streams).toBe(1);
    await pacer.close();
    expect(thread.streams).toBe(0);
    expect(thread.running).toBe(true);
    release();
    expect(thread.running).toBe(false);
    release(); // idempotent: a second release must not let a later hold's thread go
    const again = thread.hold();
    const other = new FramePacer({ frameDurationMs: 20, thread });
    await other.close();
    expect(thread.running).toBe(true);
    again();
    expect(thread.running).toBe(false);
  });

  it('regression: enqueueing a Buffer view never detaches the producer buffer (Buffer.slice shares memory)', async () => {
    const thread = new PacerThread({ realtimePriority: false });
    const pacer = new FramePacer({ frameDurationMs: 20, thread, queueFrames: 4 });
    const file = Buffer.alloc(64, 0xf8);
    for (let i = 0; i < 4; i++) await pacer.enqueue(file.subarray(i * 8, i * 8 + 8), { timeoutMs: 2000 });
    expect(file.length).toBe(64);
    expect(file.buffer.byteLength).toBeGreaterThanOrEqual(64);
    expect(file[63]).toBe(0xf8);
    await pacer.close();
  });
});
