import { describe, expect, it } from 'vitest';
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { tracePacket, tracePacketIndex } from '../../src/jitter/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { TypedEmitter } from '../../src/util/emitter.js';
import { InvalidInputError } from '../../src/errors.js';
import { type ReceivedOpusFrame, type ReceivedPcmFrame, VoiceReceiver } from '../../src/voice/receiver.js';
import type { SubscribeApi } from '../../src/voice/subscriber.js';

class FakeSource extends TypedEmitter<{
  frame: [Uint8Array, number];
  subscribed: [{ trackSid: string; sessionId: string }];
}> {
  closed = 0;
  constructor(readonly clock: ManualClock) {
    super();
  }
  send(p: Uint8Array): void {
    this.emit('frame', p, this.clock.now());
  }
  newTrack(): void {
    this.emit('subscribed', { trackSid: 'TR_2', sessionId: 'AWS_x' });
  }
  close(): void {
    this.closed++;
  }
}

function sine(freq: number, frame: number, samples: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++)
    out[i] = Math.round(12000 * Math.sin((2 * Math.PI * freq * (frame * samples + i)) / 48000));
  return out;
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('VoiceReceiver', () => {
  it('receives many users at once, each in arrival order with its own buffer; streams end on close', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const a = new FakeSource(clock);
    const b = new FakeSource(clock);
    const sa = rx.attach('a', a, { mode: 'opus' });
    const sb = rx.attach('b', b, { mode: 'opus' });
    const ra = drain(sa);
    const rb = drain(sb);
    for (let k = 0; k < 50; k++) {
      a.send(tracePacket(k));
      if (k % 2 === 0) b.send(tracePacket(500 + k));
      clock.advance(20);
    }
    clock.advance(500);
    await rx.close();
    const itemsA = (await ra) as ReceivedOpusFrame[];
    const itemsB = (await rb) as ReceivedOpusFrame[];
    const idx = (items: ReceivedOpusFrame[]) =>
      items.filter((i) => i.kind === 'packet').map((i) => (i.kind === 'packet' ? tracePacketIndex(i.packet) : -1));
    // In arrival order; only a few frames dropped while converging from the 80 ms start.
    expect(idx(itemsA)).toEqual([...idx(itemsA)].sort((x, y) => x! - y!));
    expect(idx(itemsA).length).toBeGreaterThanOrEqual(46);
    expect(sa.metrics.droppedFrames).toBe(50 - idx(itemsA).length);
    expect(idx(itemsB).length).toBe(25);
    // b sends every other frame: the gaps are concealed (flagged), never silently skipped.
    expect(itemsB.filter((i) => i.kind === 'conceal').length).toBeGreaterThanOrEqual(20);
    // Before the first packet the user is "absent": silence slots keep the cadence.
    expect(itemsA[0]!.kind).toBe('silence');
    expect(sa.ended && sb.ended).toBe(true);
    expect(a.closed).toBe(0); // attached sources belong to the caller
  });

  it('PCM mode: steady 20 ms frames, decoded audio, loss concealed, speaking events', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const src = new FakeSource(clock);
    const events: string[] = [];
    rx.on('speakingStart', (u) => events.push(`start:${u}`));
    rx.on('speakingStop', (u) => events.push(`stop:${u}`));
    const s = rx.attach('u', src, { mode: 'pcm', channels: 1 });
    const got = drain(s);
    const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    const ticksBefore = 10;
    clock.advance(ticksBefore * 20);
    for (let k = 0; k < 100; k++) {
      const packet = enc.encode(sine(440, k, 960));
      if (k !== 50) src.send(packet); // one loss
      clock.advance(20);
    }
    src.send(Uint8Array.of(0xf8)); // DTX: the speaker stops
    clock.advance(1000);
    enc.close();
    await s.close();
    const frames = (await got) as ReceivedPcmFrame[];
    // Exactly one 960-sample frame per tick (steady cadence), minus at most one still buffered.
    const ticks = ticksBefore + 100 + 50;
    expect(frames.length).toBeGreaterThanOrEqual(ticks - 2);
    expect(frames.length).toBeLessThanOrEqual(ticks);
    for (const f of frames) expect(f.pcm.length).toBe(960);
    expect(frames.some((f) => f.concealed)).toBe(true);
    // The decoded tone is there: energy in the middle of the talk spurt.
    const mid = frames.slice(ticksBefore + 20, ticksBefore + 40);
    const rms = Math.sqrt(mid.reduce((a, f) => a + f.pcm.reduce((x, v) => x + v * v, 0), 0) / (mid.length * 960));
    expect(rms).toBeGreaterThan(4000);
    expect(events).toEqual(['start:u', 'stop:u']);
    expect(s.metrics.concealedMs).toBeGreaterThanOrEqual(20);
    await rx.close();
  });

  it('PCM mode follows the target by time-stretching speech: continuous audio, no dropped frame', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock }); // 5 ms tick by default
    expect(rx.tickMs).toBe(5);
    const src = new FakeSource(clock);
    const s = rx.attach('u', src, { mode: 'pcm', channels: 1 });
    const got = drain(s);
    const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    // Packets arrive on a steady 20 ms path: the 80 ms start delay is far above the few ms this
    // clean path needs, so the buffer comes down, and with a decoder it does so by accelerating.
    for (let k = 0; k < 150; k++) {
      src.send(enc.encode(sine(400, k, 960)));
      for (let t = 0; t < 4; t++) clock.advance(5);
    }
    enc.close();
    await s.close();
    const frames = (await got) as ReceivedPcmFrame[];
    for (const f of frames) expect(f.pcm.length).toBe(960);
    expect(s.metrics.acceleratedMs).toBeGreaterThan(20);
    expect(s.metrics.droppedFrames).toBeLessThanOrEqual(1);
    expect(frames.some((f) => f.stretched)).toBe(true);
    // Every sample is accounted for: 3 s of cadence, at most one frame still accumulating.
    expect(frames.length).toBeGreaterThanOrEqual(149);
    expect(frames.length).toBeLessThanOrEqual(150);
    // The stretched tone stays continuous: between the first and the last 100 ms of speech no
    // step is much larger than the tone's own largest step (400 Hz at amplitude 12000: ~628).
    const speech = frames.map((f) => f.pcm).filter((p) => p.some((v) => Math.abs(v) > 3000));
    let maxStep = 0;
    for (let i = 5; i < speech.length - 5; i++) {
      const cur = speech[i]!;
      const prev = speech[i - 1]!;
      maxStep = Math.max(maxStep, Math.abs(cur[0]! - prev[prev.length - 1]!));
      for (let n = 1; n < cur.length; n++) maxStep = Math.max(maxStep, Math.abs(cur[n]! - cur[n - 1]!));
    }
    expect(speech.length).toBeGreaterThan(100);
    expect(maxStep).toBeLessThan(1000);
    // The delay came down to a few ms above the clean path's need.
    expect(s.metrics.currentDelayMs).toBeLessThanOrEqual(s.metrics.targetDelayMs + 5);
    await rx.close();
  });

  it('PCM mode stretches stereo speech too: both channels, whole frames, nothing lost', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const src = new FakeSource(clock);
    const s = rx.attach('u', src, { mode: 'pcm', channels: 2 });
    const got = drain(s);
    const enc = new OpusEncoder({ channels: 2, frameDurationMs: 20 });
    for (let k = 0; k < 100; k++) {
      const mono = sine(330, k, 960);
      const pcm = new Int16Array(1920);
      for (let i = 0; i < 960; i++) {
        pcm[2 * i] = mono[i]!;
        pcm[2 * i + 1] = mono[i]! >> 1; // right = left / 2
      }
      src.send(enc.encode(pcm));
      for (let t = 0; t < 4; t++) clock.advance(5);
    }
    enc.close();
    await s.close();
    const frames = (await got) as ReceivedPcmFrame[];
    for (const f of frames) expect(f.pcm.length).toBe(1920);
    expect(s.metrics.acceleratedMs).toBeGreaterThan(20);
    expect(frames.length).toBeGreaterThanOrEqual(99);
    // The two channels were spliced together: the right one still follows the left at half level.
    let err = 0;
    let energy = 0;
    for (const f of frames) {
      for (let i = 0; i < f.pcm.length; i += 2) {
        err += Math.abs(f.pcm[i + 1]! - f.pcm[i]! / 2);
        energy += Math.abs(f.pcm[i]!);
      }
    }
    expect(energy).toBeGreaterThan(0);
    expect(err / energy).toBeLessThan(0.1);
    await rx.close();
  });

  it('opus mode never asks for stretching; frameMs sets the PCM frame; bad frameMs/tickMs are refused', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const a = new FakeSource(clock);
    const b = new FakeSource(clock);
    const so = rx.attach('o', a, { mode: 'opus' });
    const sp = rx.attach('p', b, { mode: 'pcm', frameMs: 10 });
    const ro = drain(so);
    const rp = drain(sp);
    const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
    for (let k = 0; k < 60; k++) {
      const pkt = enc.encode(sine(300, k, 960));
      a.send(pkt);
      b.send(pkt);
      clock.advance(20);
    }
    enc.close();
    await rx.close();
    const opus = (await ro) as ReceivedOpusFrame[];
    expect(opus.some((o) => o.kind === 'packet' && o.stretch)).toBe(false);
    expect(so.metrics.stretchRequests).toBe(0);
    const pcm = (await rp) as ReceivedPcmFrame[];
    expect(pcm.length).toBeGreaterThan(100);
    for (const f of pcm) expect(f.pcm.length).toBe(480);
    expect(() => rx.attach('x', a, { mode: 'pcm', frameMs: 7 })).toThrow(/closed|frameMs/);
    const rx2 = new VoiceReceiver({ clock });
    expect(() => rx2.attach('x', a, { mode: 'pcm', frameMs: 7 })).toThrow(/frameMs/);
    expect(() => new VoiceReceiver({ clock, tickMs: 0 })).toThrow(/tickMs/);
    await rx2.close();
  });

  it('resets the user buffer when the source subscribes a new track', () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const src = new FakeSource(clock);
    const s = rx.attach('u', src);
    let resets = 0;
    s.on('reset', () => resets++);
    for (let k = 0; k < 10; k++) {
      src.send(tracePacket(k));
      clock.advance(20);
    }
    src.newTrack();
    expect(resets).toBe(1);
    expect(s.jitter.started).toBe(false);
    expect(s.metrics.resets).toBe(1);
    void rx.close();
  });

  it('rejects a second stream for the same user and any use after close', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock });
    const src = new FakeSource(clock);
    rx.attach('u', src);
    expect(() => rx.attach('u', src)).toThrow(/already receiving/);
    expect(() => rx.subscribe('v')).toThrow(/REST client/);
    await rx.close();
    await rx.close();
    expect(() => rx.attach('w', src)).toThrow(/closed/);
    expect(clock.pendingTimers).toBe(0);
  });
});

/** A REST client that records SubscribeTrack calls and never answers them (until aborted). */
class FakeSubscribeApi implements SubscribeApi {
  readonly calls: Array<{ spaceId: string; channelId: string; userId: string }> = [];
  readonly voiceEgress: SubscribeApi['voiceEgress'] = {
    subscribeTrack: (body, options) => {
      this.calls.push(body);
      return new Promise((_, reject) => {
        options?.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
      });
    },
    unsubscribeTrack: async () => ({}),
  };
}

describe('VoiceReceiver.subscribe: one bot identity per subscription (docs/platform.md §A6)', () => {
  const where = { spaceId: 'S1', channelId: 'C1' };

  it('warns once when two live subscriptions in one room share a REST client', async () => {
    const clock = new ManualClock(0);
    const shared = new FakeSubscribeApi();
    const rx = new VoiceReceiver({ clock, rest: shared, ...where, gatewayUrl: 'ws://gateway.invalid' });
    const warnings: string[] = [];
    rx.on('warning', (m) => warnings.push(m));
    rx.subscribe('alice');
    expect(warnings).toHaveLength(0);
    rx.subscribe('bob');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/bob and alice in S1\/C1 with the same bot identity/);
    expect(warnings[0]).toMatch(/docs\/platform\.md §A6\b/);
    // Another room with the same client is fine.
    rx.subscribe('carol', { channelId: 'C2' });
    expect(warnings).toHaveLength(1);
    expect(shared.calls.map((c) => `${c.userId}@${c.channelId}`)).toEqual(['alice@C1', 'bob@C1', 'carol@C2']);
    await rx.close();
  });

  it('does not warn when each subscription has its own client, and each SubscribeTrack goes through its own', async () => {
    const clock = new ManualClock(0);
    const botA = new FakeSubscribeApi();
    const botB = new FakeSubscribeApi();
    const rx = new VoiceReceiver({ clock, rest: botA, ...where, gatewayUrl: 'ws://gateway.invalid' });
    const warnings: string[] = [];
    rx.on('warning', (m) => warnings.push(m));
    const alice = rx.subscribe('alice');
    const bob = rx.subscribe('bob', { rest: botB, mode: 'pcm' });
    expect(warnings).toEqual([]);
    expect(bob.mode).toBe('pcm');
    expect(botA.calls).toEqual([{ ...where, userId: 'alice' }]);
    expect(botB.calls).toEqual([{ ...where, userId: 'bob' }]);
    // A third subscription through botB in the same room does share an identity with bob.
    rx.subscribe('carol', { rest: botB });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/carol and bob/);
    // Once bob's subscription is gone, carol no longer shares botB with a live one.
    await bob.close();
    await rx.streams.get('carol')!.close();
    rx.subscribe('dave', { rest: botB });
    expect(warnings).toHaveLength(1);
    expect(alice.ended).toBe(false);
    await rx.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('needs a REST client from the subscription or the receiver (InvalidInputError)', async () => {
    const clock = new ManualClock(0);
    const rx = new VoiceReceiver({ clock, ...where, gatewayUrl: 'ws://gateway.invalid' });
    expect(() => rx.subscribe('alice')).toThrow(InvalidInputError);
    expect(() => rx.subscribe('alice')).toThrow(/REST client/);
    expect(rx.streams.size).toBe(0);
    // A per-subscription client is enough without a receiver-wide one.
    const own = new FakeSubscribeApi();
    rx.subscribe('alice', { rest: own });
    expect(own.calls).toEqual([{ ...where, userId: 'alice' }]);
    await rx.close();
  });
});
