/**
 * Issue 13, a long life with drops: a VoiceConnection that the gateway drops again and again
 * must come back every time and keep nothing per reconnect on its long-lived
 * objects (no listener left on the session's abort signal, no pending timer, no registered
 * secret), on one fake clock against the emulator's gateway session logic.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registeredSecretCount } from '../../src/errors.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { MemoryGateway } from './helpers/memory-gateway.js';

vi.mock('ws', async (importOriginal) => {
  const orig = await importOriginal<typeof import('ws')>();
  const { MemoryWebSocket } = await import('./helpers/memory-gateway.js');
  return { ...orig, default: MemoryWebSocket, WebSocket: MemoryWebSocket };
});

const IDENTITY = '0e0e0e0e-1111-4222-8333-444444444444';
const SPACE = 'space-3';
const CHANNEL = 'voice-3';
const ROOM = `${SPACE}/${CHANNEL}`;

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('a connection dropped again and again (fake clock)', () => {
  it('24 drops, one a minute: every reconnect succeeds with a fresh token and leaves no listener, timer or secret behind', async () => {
    // No audio and no filler (and so no media watchdog): only the lifecycle is under test.
    const gw = MemoryGateway.install({ timings: { mediaWatchdogMs: 0 } });
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const c = new VoiceConnection({
      spaceId: SPACE,
      channelId: CHANNEL,
      tokenProvider: async () => ({
        token: await gw.mint(IDENTITY, ROOM, 7200),
        ingressUrl: 'ws://memory.invalid:12880',
      }),
      clock: gw.clock,
      wallClockMs: gw.wallClockMs,
      pingIntervalMs: 0,
      keepalive: false,
      prerollMs: 0,
      reconnect: { baseMs: 100, capMs: 200, random: () => 0.5 },
    });
    cleanup = async () => {
      process.off('warning', onWarning);
      const closing = c.close();
      await gw.runFor(3000);
      await closing;
      gw.close();
    };
    const reasons: string[] = [];
    c.on('token', (t) => reasons.push(t.reason));
    await gw.runUntil(() => c.state.status === 'ready', 'ready', 10_000);
    await gw.runFor(1000);
    const before = { timers: gw.clock.pendingTimers, secrets: registeredSecretCount() };
    const sessions = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const id = (c.state as { sessionId: string }).sessionId;
      sessions.add(id);
      gw.sessions.get(id)!.drop();
      await gw.runUntil(
        () => c.state.status === 'ready' && (c.state as { sessionId: string }).sessionId !== id,
        `reconnect ${i + 1}`,
        10_000,
      );
      await gw.runFor(60_000);
    }
    expect(sessions.size).toBe(24);
    expect(reasons.filter((r) => r === 'reconnect')).toHaveLength(24);
    expect(gw.refusals).toEqual([]);
    expect(gw.closedSessions.map((s) => s.reason)).toEqual(Array(24).fill('fault'));
    // Nothing accumulates per reconnect (Node warns once a signal holds more than 10 listeners).
    expect(warnings.filter((w) => /MaxListeners|memory leak/i.test(w))).toEqual([]);
    expect({ timers: gw.clock.pendingTimers, secrets: registeredSecretCount() }).toEqual(before);
  }, 30_000);
});
