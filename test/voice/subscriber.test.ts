import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { VoiceReceiver, type ReceivedOpusFrame } from '../../src/voice/receiver.js';
import { VoiceSubscriber, type VoiceSubscriberState } from '../../src/voice/subscriber.js';

let emu: Emulator | undefined;
let rest: RestClient | undefined;
afterEach(async () => {
  await (rest as unknown as { close?: () => Promise<void> })?.close?.();
  await emu?.close();
  emu = undefined;
  rest = undefined;
});

async function setup(opts: { legacyStatusKey?: boolean; clock?: ManualClock } = {}) {
  emu = await Emulator.start({ port: 0, ...opts });
  rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
  const user = emu.createUser({ username: 'alice' });
  const where = { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId };
  return { emu, rest, user, where };
}

/** Polls every 10 ms with a generous budget against hangs (no timing assertion). */
const POLL = { intervalMs: 10, timeoutMs: 10_000 };

function track(sub: VoiceSubscriber): string[] {
  const seen: string[] = [];
  sub.on('stateChange', (_o: VoiceSubscriberState, n: VoiceSubscriberState) => seen.push(n.status));
  return seen;
}

describe('VoiceSubscriber against the emulator', () => {
  it.each([false, true])('waits for the target, subscribes, receives frames (legacy type key: %s)', async (legacy) => {
    const { emu, rest, user, where } = await setup({ legacyStatusKey: legacy });
    const sub = new VoiceSubscriber({ rest, ...where, userId: user.userId, gatewayUrl: emu.audioUrl });
    const states = track(sub);
    await sub.waitFor('waiting', { timeoutMs: 10_000 });
    const frames: Uint8Array[] = [];
    sub.on('frame', (p) => frames.push(p));
    const p = emu.joinVoice(user.userId, where);
    const h = p.speak({ sine: 440, durationMs: 400 });
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    await h.done;
    await until(() => frames.length >= 20, '20 frames', POLL);
    expect(frames.length).toBe(20);
    for (const f of frames) expect(f.length).toBeGreaterThan(2);
    await sub.close();
    expect(sub.state.status).toBe('closed');
    expect(states).toEqual(expect.arrayContaining(['connecting', 'waiting', 'subscribed', 'closed']));
  });

  it('follows the target out and back in (target_left → waiting → subscribed)', async () => {
    const { emu, rest, user, where } = await setup();
    const p1 = emu.joinVoice(user.userId, where);
    p1.publishTrack({ source: 'microphone' });
    const sub = new VoiceSubscriber({ rest, ...where, userId: user.userId, rejoinDelayMs: 10 });
    let subscribedEvents = 0;
    let left = 0;
    sub.on('subscribed', () => subscribedEvents++);
    sub.on('targetLeft', () => left++);
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    p1.leave();
    await sub.waitFor('waiting', { timeoutMs: 10_000 });
    expect(left).toBe(1);
    const p2 = emu.joinVoice(user.userId, where);
    const frames: Uint8Array[] = [];
    sub.on('frame', (f) => frames.push(f));
    const h = p2.speak({ sine: 300, durationMs: 200 });
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    await h.done;
    await until(() => frames.length >= 10, '10 frames', POLL);
    expect(subscribedEvents).toBe(2);
    expect(frames.length).toBe(10);
    await sub.close();
    await sub.close(); // idempotent
  });

  it('reconnects after the gateway drops the socket', async () => {
    const { emu, rest, user, where } = await setup();
    const p = emu.joinVoice(user.userId, where);
    p.publishTrack({ source: 'microphone' });
    const sub = new VoiceSubscriber({
      rest,
      ...where,
      userId: user.userId,
      gatewayUrl: emu.audioUrl,
      backoff: { baseMs: 10, capMs: 20 },
    });
    const states = track(sub);
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    emu.faults.audio({ kind: 'drop', target: { identity: emu.bot.userId } });
    await sub.waitFor('reconnecting', { timeoutMs: 10_000 }).catch(() => undefined);
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    expect(states.filter((s) => s === 'subscribed').length).toBeGreaterThanOrEqual(2);
    await sub.close();
  });

  it('sends UnsubscribeTrack with the spaceId (the server filter needs it) on close', async () => {
    const { emu, rest, user, where } = await setup();
    const calls: unknown[] = [];
    const spy = {
      voiceEgress: {
        subscribeTrack: rest.voiceEgress.subscribeTrack.bind(rest.voiceEgress),
        unsubscribeTrack: async (body: { trackId: string; spaceId: string }, o?: { timeoutMs?: number }) => {
          calls.push(body);
          return rest.voiceEgress.unsubscribeTrack(body, o);
        },
      },
    };
    const sub = new VoiceSubscriber({ rest: spy, ...where, userId: user.userId, gatewayUrl: emu.audioUrl });
    const errors: Error[] = [];
    sub.on('error', (e) => errors.push(e));
    await sub.waitFor('waiting', { timeoutMs: 10_000 });
    await sub.close();
    expect(calls).toEqual([{ trackId: `${where.spaceId}/${where.channelId}:${user.userId}`, spaceId: where.spaceId }]);
    expect(errors).toEqual([]);
  });

  it('end to end through the receiver: an impaired speaker, every delivered frame played once, losses concealed', async () => {
    // One manual clock for the emulator (speaker schedule, impairment) and the receiver (arrival
    // times, playout): time moves 1 ms at a time, and only once every frame the gateway wrote has
    // reached the subscriber, so each frame arrives exactly at its modelled time however busy the
    // machine is, and the playout counts below are the same on every run.
    const clock = new ManualClock(0);
    const { emu, rest, user, where } = await setup({ clock });
    const rx = new VoiceReceiver({ rest, ...where, gatewayUrl: emu.audioUrl, clock });
    const stream = rx.subscribe(user.userId, { mode: 'opus' });
    const sub = stream.source as VoiceSubscriber;
    const slots: ReceivedOpusFrame[] = [];
    stream.on('output', (s) => slots.push(s));
    const session = () => emu.gateway.sessions().find((s) => s.endpoint === 'subscribe');
    await until(() => session()?.state === 'joining', 'a joining subscribe session', POLL);
    clock.advance(emu.gateway.timings.joinDelayMs);
    await sub.waitFor('waiting', { timeoutMs: 10_000 });
    const step = async (ms: number) => {
      clock.advance(ms);
      await until(() => sub.framesReceived === session()!.framesOut, 'the written frames received', POLL);
    };
    const p = emu.joinVoice(user.userId, where);
    const h = p.speak(
      { sine: 500, durationMs: 1500 },
      {
        impairment: {
          jitter: { kind: 'normal', meanMs: 8, stdDevMs: 4 },
          loss: { kind: 'random', rate: 0.08 },
          fifo: true,
        },
        seed: 3,
      },
    );
    let spoken = false;
    void h.done.then(() => (spoken = true));
    for (let t = 0; t < 10_000 && !spoken; t++) {
      await step(1);
      await Promise.resolve();
    }
    await h.done;
    const delivered = h.deliveries.length;
    const m0 = stream.metrics;
    expect(m0.packetsReceived).toBe(delivered);
    for (let t = 0; t < 500 && !(slots.some((s) => s.kind === 'silence') && m0.bufferedMs === 0); t++) await step(20);
    expect(slots.filter((s) => s.kind === 'silence').length).toBeGreaterThan(0);
    expect(m0.bufferedMs).toBe(0);
    await rx.close();
    const lost = h.framesSent - delivered;
    expect(h.framesSent).toBe(75);
    expect(lost).toBeGreaterThan(0);
    const m = stream.metrics;
    expect(m.packetsReceived).toBe(delivered);
    const played = slots.filter((s) => s.kind === 'packet').length;
    expect(played + m.droppedFrames + m.overflowDrops).toBe(delivered);
    // Losses are concealed (plus the capped tail after the speaker stops), except that a loss
    // while the buffer sits above its target is absorbed by the surplus (no timestamps say it
    // was a loss): that is how the conservative start converges, so allow some of those.
    const concealed = slots.filter((s) => s.kind === 'conceal').length;
    expect(concealed).toBeGreaterThanOrEqual(Math.floor(lost / 2));
    expect(concealed).toBeLessThanOrEqual(lost + m.droppedFrames + 6);
    expect(stream.ended).toBe(true);
    expect((stream.source as VoiceSubscriber).state.status).toBe('closed');
  });

  it('leak check: repeated subscribe/close cycles leave no gateway session and no listener behind', async () => {
    const { emu, rest, user, where } = await setup();
    for (let i = 0; i < 5; i++) {
      const sub = new VoiceSubscriber({ rest, ...where, userId: user.userId, gatewayUrl: emu.audioUrl });
      await sub.waitFor('waiting', { timeoutMs: 10_000 });
      expect(emu.gateway.sessions().length).toBe(1);
      await sub.close();
      expect(sub.listenerCount('stateChange')).toBe(0);
      await until(() => emu.gateway.sessions().length === 0, 'the gateway session closed', POLL);
    }
  });

  it('reconnects a subscribed socket that went silent (inactivity deadline, docs/platform.md §A8a.13)', async () => {
    const { emu, rest, user, where } = await setup();
    const p = emu.joinVoice(user.userId, where);
    // Speaks until stopped and stalls for longer than the test may run: the frames after the
    // resubscribe cannot run out, and only the subscriber's inactivity deadline can end the socket.
    const h = p.speak({ sine: 440, durationMs: 600_000 });
    const sub = new VoiceSubscriber({
      rest,
      ...where,
      userId: user.userId,
      gatewayUrl: emu.audioUrl,
      timeouts: { inactivityMs: 300 },
      backoff: { baseMs: 10, capMs: 20 },
    });
    const states = track(sub);
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    emu.faults.audio({ kind: 'stall', target: { identity: emu.bot.userId }, ms: 600_000 });
    const reconnecting = await sub.waitFor('reconnecting', { timeoutMs: 10_000 });
    expect(reconnecting.reason.name).toBe('TimeoutError');
    await sub.waitFor('subscribed', { timeoutMs: 10_000 });
    const before = sub.framesReceived;
    await until(() => sub.framesReceived > before + 5, 'frames after the resubscribe', POLL);
    expect(states.filter((x) => x === 'subscribed').length).toBeGreaterThanOrEqual(2);
    h.stop();
    await sub.close();
  });

  it('closes with the HttpError when SubscribeTrack refuses the request (no retry on 4xx)', async () => {
    const { rest, where } = await setup();
    const sub = new VoiceSubscriber({ rest, ...where, userId: 'not-a-guid', maxAttempts: 5 });
    const errors: Error[] = [];
    sub.on('error', (e) => errors.push(e));
    const closed = await sub.waitFor('closed', { timeoutMs: 10_000 });
    expect(closed.reason?.name).toBe('HttpError');
    expect(errors).toHaveLength(1);
  });

  it('gives up after maxAttempts when the gateway refuses the upgrade, with a TransportError carrying the status', async () => {
    const { emu, rest, user, where } = await setup();
    emu.faults.audio({ kind: 'refuse-upgrade', status: 503, times: 10 });
    const sub = new VoiceSubscriber({
      rest,
      ...where,
      userId: user.userId,
      gatewayUrl: emu.audioUrl,
      maxAttempts: 2,
      backoff: { baseMs: 1, capMs: 2 },
    });
    const states = track(sub);
    const closed = await sub.waitFor('closed', { timeoutMs: 10_000 });
    expect(closed.reason?.name).toBe('TransportError');
    expect((closed.reason as { status?: number }).status).toBe(503);
    expect(states.filter((s) => s === 'reconnecting')).toHaveLength(2);
  });
});
