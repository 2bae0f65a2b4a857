/**
 * The emulator's fault API against the real clients: forced REST statuses and delays, SSE
 * drop/stall/zombie, audio drops and refused upgrades. Each fault ends in a typed error or the
 * documented recovery (reconnect), never a crash, and nothing invalid is published meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { Emulator } from '../../src/emulator/index.js';
import { HttpError, ProtocolError, TimeoutError, TransportError } from '../../src/errors.js';
import { EventStream } from '../../src/events/event-stream.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { VoiceConnection, type VoiceConnectionState } from '../../src/voice/connection.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { expectErrorClean } from './helpers/token.js';

let emu: Emulator;
let trap: CrashTrap;
const closeReasons: string[] = [];

beforeAll(async () => {
  trap = trapCrashes();
  emu = await Emulator.start({
    port: 0,
    timings: { rateSegmentMs: 10, sseBatchMs: 20, heartbeatMs: 40 },
    audioTimings: { joinDelayMs: 5 },
  });
  emu.gateway.on('sessionClosed', (_i, reason) => closeReasons.push(reason));
});

afterAll(async () => {
  await emu.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

const client = (extra: Partial<ConstructorParameters<typeof RestClient>[0]> = {}) =>
  new RestClient({
    token: emu.bot.token,
    baseUrl: emu.apiUrl,
    // Mirrors the emulator's shortened windows (6 segments of 10 ms).
    limiter: new RateLimiter({ windowMs: 60, segmentMs: 10, marginMs: 5 }),
    random: () => 0,
    ...extra,
  });

/** Resolves once `pred(state)` holds for a VoiceConnection. */
function state(c: VoiceConnection, pred: (s: VoiceConnectionState) => boolean): Promise<VoiceConnectionState> {
  return new Promise((resolve) => {
    const check = () => {
      if (pred(c.state)) {
        c.off('stateChange', check);
        resolve(c.state);
      }
    };
    c.on('stateChange', check);
    check();
  });
}

describe('emulator faults', () => {
  it('REST: a forced 503 is retried then surfaces as HttpError 503; a delay past the per-attempt timeout is retried once, then a TimeoutError', async () => {
    const rest = client({ retries: 1 });
    try {
      emu.faults.rest({ route: 'IBotSelf/GetMe', status: 503, times: 2 });
      const e1 = await rest.botSelf.getMe().catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(HttpError);
      expect((e1 as HttpError).status).toBe(503);
      expectErrorClean(e1);
      // The client's timeoutMs bounds each attempt: both attempts (GetMe is safe to retry) are
      // held past it by the fault, for longer than the test may run (the emulator's close releases
      // the held handlers), so a late timer cannot see an answer.
      const slow = client({ retries: 1, timeoutMs: 100 });
      try {
        emu.faults.rest({ route: 'IBotSelf/GetMe', delayMs: 600_000, times: 2 });
        const before = slow.stats.attempts;
        const e2 = await slow.botSelf.getMe().catch((e: unknown) => e);
        expect(e2).toBeInstanceOf(TimeoutError);
        expect(slow.stats.attempts - before).toBe(2);
      } finally {
        await slow.close();
      }
      emu.faults.rest({ reset: true });
      await expect(rest.botSelf.getMe()).resolves.toBeDefined();
    } finally {
      emu.faults.rest({ reset: true });
      await rest.close();
    }
  });

  for (const kind of ['drop', 'stall', 'zombie'] as const) {
    it(`SSE ${kind}: detected (${kind === 'drop' ? 'stream end' : kind === 'stall' ? 'watchdog' : 'zombie timer'}) and reconnected to a fresh ready`, async () => {
      const rest = client();
      const s = new EventStream({
        rest,
        // The emulator heartbeats after 40 ms idle: only a stall (no bytes at all) trips this.
        // Only the stall case uses it; elsewhere it is out of reach, so a starved process that
        // reads a heartbeat late cannot make the watchdog beat the stream end or the zombie timer.
        heartbeatTimeoutMs: kind === 'stall' ? 300 : 600_000,
        zombieTimeoutMs: kind === 'zombie' ? 150 : false,
        reconnectBaseMs: 10,
        reconnectCapMs: 20,
        random: () => 0,
      });
      const reasons: Error[] = [];
      s.on('reconnect', ({ reason }) => reasons.push(reason));
      s.on('error', () => undefined);
      try {
        await s.start();
        const connects = s.stats.connects;
        emu.faults.sse(kind);
        if (kind === 'zombie') s.expectActivity();
        await new Promise<void>((resolve) => {
          const check = () => {
            if (s.stats.connects > connects && s.state.status === 'open' && s.state.ready) {
              s.off('stateChange', check);
              s.off('ready', check);
              resolve();
            }
          };
          s.on('stateChange', check);
          s.on('ready', check);
        });
        expect(reasons.length).toBeGreaterThanOrEqual(1);
        const expected = kind === 'drop' ? TransportError : kind === 'stall' ? TimeoutError : ProtocolError;
        expect(reasons[0]).toBeInstanceOf(expected);
      } finally {
        await s.close();
        await rest.close();
      }
    });
  }

  it('audio: drops without a Close frame after ready → the connection reconnects and every published frame stays safe', async () => {
    const rest = client();
    const c = new VoiceConnection({
      rest,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      pingIntervalMs: 0,
      reconnect: { maxAttempts: 3, baseMs: 5, capMs: 10, random: () => 0 },
    });
    try {
      await c.ready({ timeoutMs: 10_000 });
      for (let round = 0; round < 2; round++) {
        emu.faults.audio({ kind: 'drop-no-close', target: { identity: emu.bot.userId } });
        await state(c, (s) => s.status === 'reconnecting' || s.status === 'closed');
        const st = await state(c, (s) => s.status === 'ready' || s.status === 'closed');
        expect(st.status).toBe('ready');
        for (let i = 0; i < 5; i++) await c.sendFrame(Uint8Array.from([0xf8, 0xff, 0xfe]));
      }
      const frames = emu.gateway.published({ identity: emu.bot.userId });
      expect(frames.filter((f) => !isGatewaySafe(f.data, 20))).toEqual([]);
      expect(closeReasons).not.toContain('invalid-frame');
    } finally {
      await c.close();
      await rest.close();
    }
  });

  it('audio: an upgrade refused with 401 is fatal (closed, TransportError status 401), no retry storm', async () => {
    const rest = client();
    emu.faults.audio({ kind: 'refuse-upgrade', status: 401, body: 'invalid token', times: 5, endpoint: 'connect' });
    const c = new VoiceConnection({
      rest,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      pingIntervalMs: 0,
      reconnect: { maxAttempts: 3, baseMs: 5, capMs: 10, random: () => 0 },
    });
    try {
      const st = await state(c, (s) => s.status === 'closed');
      const reason = (st as { reason?: Error }).reason;
      expect(reason).toBeInstanceOf(TransportError);
      expect((reason as TransportError).status).toBe(401);
      expectErrorClean(reason);
    } finally {
      await c.close();
      await rest.close();
    }
  });
});
