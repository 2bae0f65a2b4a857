/**
 * Leak tests: connect/close cycles of every long-lived object, after which the process holds no
 * more sockets, timers, workers or child processes than before (counted per resource type, so the
 * runner's own handles do not matter), no listener is left on a caller's AbortSignal, and a
 * second close() is harmless.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Bot } from '../../src/bot.js';
import { Emulator } from '../../src/emulator/index.js';
import { EventStream } from '../../src/events/event-stream.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { type ResourceCounts, resourceCounts, settleTo } from './helpers/resources.js';

const CYCLES = 20;

let emu: Emulator;
let trap: CrashTrap;
let alice: { userId: string };

/** The process-level listener counts a library might add to and forget. */
function processListeners(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const ev of ['exit', 'beforeExit', 'SIGINT', 'SIGTERM', 'warning', 'uncaughtException', 'unhandledRejection']) {
    out[ev] = process.listenerCount(ev);
  }
  return out;
}

async function expectBackTo(before: ResourceCounts, listeners: Record<string, number>, what: string): Promise<void> {
  const left = await settleTo(before);
  expect(left, `${what}: resources still active after ${CYCLES} cycles`).toEqual({});
  expect(processListeners(), `${what}: process listeners`).toEqual(listeners);
}

beforeAll(async () => {
  trap = trapCrashes();
  // Short rate windows: the emulator enforces the real per-minute limits, which a loop would hit.
  emu = await Emulator.start({
    port: 0,
    timings: { rateSegmentMs: 10, sseBatchMs: 20 },
    audioTimings: { joinDelayMs: 5 },
  });
  alice = emu.createUser({ username: 'alice' });
});

afterAll(async () => {
  await emu.close();
  await emu.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

const where = () => ({ spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId });
/**
 * A client limiter mirroring the emulator's shortened windows (6 segments of 10 ms), so the loops
 * wait for a permit like a real client instead of collecting 429s.
 */
const mirroredLimiter = () => new RateLimiter({ windowMs: 60, segmentMs: 10, marginMs: 5 });

describe(`leaks over ${CYCLES} connect/close cycles`, () => {
  it('RestClient: create, call, close twice; the caller signal keeps no listener', async () => {
    const signal = new AbortController().signal;
    const cycle = async () => {
      const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl, limiter: mirroredLimiter() });
      await rest.botSelf.getMe({ signal });
      await rest.spaces.get({ spaceId: emu.demo.spaceId }, { signal });
      await rest.close();
      await rest.close();
    };
    await cycle(); // warm-up: lazy module state is not a leak
    const before = resourceCounts();
    const listeners = processListeners();
    for (let i = 0; i < CYCLES; i++) await cycle();
    await expectBackTo(before, listeners, 'RestClient');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });

  it('EventStream: start → ready, close twice; one long-lived signal keeps no listener', async () => {
    const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl, limiter: mirroredLimiter() });
    const signal = new AbortController().signal;
    const cycle = async () => {
      const s = new EventStream({ rest, signal, zombieTimeoutMs: false });
      await s.start();
      await s.close();
      await s.close();
      expect(s.state.status).toBe('closed');
    };
    try {
      await cycle();
      const before = resourceCounts();
      const listeners = processListeners();
      for (let i = 0; i < CYCLES; i++) await cycle();
      await expectBackTo(before, listeners, 'EventStream');
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      expect(rest.core.openStreams).toBe(0);
    } finally {
      await rest.close();
    }
  });

  it('bug: Bot.connect with a long-lived AbortSignal leaves one abort listener per bot after bot.close()', async () => {
    // src/bot.ts Bot.connect: `options.signal.addEventListener('abort', () => void bot.close(), { once: true })`
    // is never removed by close(), so each closed Bot stays reachable from the signal.
    const signal = new AbortController().signal;
    const cycle = async () => {
      const bot = await Bot.connect({
        token: emu.bot.token,
        baseUrl: emu.apiUrl,
        signal,
        zombieTimeoutMs: false,
        rest: { limiter: mirroredLimiter() },
      });
      await bot.close();
      await bot.close();
    };
    await cycle();
    const before = resourceCounts();
    const listeners = processListeners();
    const signalListeners = getEventListeners(signal, 'abort').length;
    for (let i = 0; i < CYCLES; i++) await cycle();
    await expectBackTo(before, listeners, 'Bot');
    expect(getEventListeners(signal, 'abort').length - signalListeners, 'abort listeners added by closed bots').toBe(0);
  });

  it('VoiceConnection: ready, close twice (pacer thread and its socket released)', async () => {
    const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl, limiter: mirroredLimiter() });
    const cycle = async () => {
      const c = new VoiceConnection({ rest, ...where(), pingIntervalMs: 0 });
      await c.ready({ timeoutMs: 10_000 });
      await c.sendFrame(Uint8Array.from([0xf8, 0xff, 0xfe]));
      await c.close();
      await c.close();
      expect(c.state.status).toBe('closed');
      expect(c.listenerCount('stateChange')).toBe(0);
    };
    try {
      await cycle();
      const before = resourceCounts();
      const listeners = processListeners();
      for (let i = 0; i < CYCLES; i++) await cycle();
      await expectBackTo(before, listeners, 'VoiceConnection');
      // The gateway notices the Close a moment later; bounded in loop turns, not asserted as a duration.
      const live = () => emu.gateway.sessions().filter((s) => s.identity === emu.bot.userId);
      for (let i = 0; i < 2000 && live().length > 0; i++) await new Promise<void>((r) => setTimeout(r, 1));
      expect(live().map((s) => s.state)).toEqual([]);
    } finally {
      await rest.close();
    }
  });

  it('VoiceSubscriber: waiting, close twice (socket closed, UnsubscribeTrack sent)', async () => {
    const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl, limiter: mirroredLimiter() });
    const cycle = async () => {
      const s = new VoiceSubscriber({ rest, ...where(), userId: alice.userId, gatewayUrl: emu.audioUrl });
      await s.waitFor('waiting', { timeoutMs: 10_000 });
      await s.close();
      await s.close();
      expect(s.state.status).toBe('closed');
    };
    try {
      await cycle();
      const before = resourceCounts();
      const listeners = processListeners();
      for (let i = 0; i < CYCLES; i++) await cycle();
      await expectBackTo(before, listeners, 'VoiceSubscriber');
    } finally {
      await rest.close();
    }
  });

  it('Emulator: start, one REST call, close twice', async () => {
    const cycle = async () => {
      const e = await Emulator.start({ port: 0 });
      const rest = new RestClient({ token: e.bot.token, baseUrl: e.apiUrl, limiter: mirroredLimiter() });
      await rest.botSelf.getMe();
      await rest.close();
      await e.close();
      await e.close();
    };
    await cycle();
    const before = resourceCounts();
    const listeners = processListeners();
    for (let i = 0; i < 10; i++) await cycle();
    await expectBackTo(before, listeners, 'Emulator');
  });
});
