/**
 * Issue 13 (1): a publish session that lives past the 2 h StreamToken TTL. The gateway checks a
 * token at upgrade only and never closes an open session when it expires (docs/platform.md §A1.4, §A6),
 * so the right behaviour is: refresh the token ahead of expiry (for a later reconnect), leave the
 * socket and the pacer alone (no handover, hence no gap), and reconnect with the fresh token when
 * the socket drops for another reason. Everything runs on one fake clock: the library's
 * VoiceConnection + AudioPlayer (main-thread pacer) against the emulator's gateway session logic
 * over an in-memory socket pair; the published frames are checked slot by slot.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registeredSecretCount } from '../../src/errors.js';
import { AudioPlayer } from '../../src/voice/player.js';
import type { VoiceConnection, VoiceConnectionState } from '../../src/voice/connection.js';
import { numberedSource } from './helpers/frames.js';
import { MemoryGateway } from './helpers/memory-gateway.js';
import { LifetimeSession, openMemoryConnection } from './helpers/session.js';
import { WireProbe } from './helpers/wire.js';

vi.mock('ws', async (importOriginal) => {
  const orig = await importOriginal<typeof import('ws')>();
  const { MemoryWebSocket } = await import('./helpers/memory-gateway.js');
  return { ...orig, default: MemoryWebSocket, WebSocket: MemoryWebSocket };
});

const IDENTITY = '0b0b0b0b-1111-4222-8333-444444444444';
const SPACE = 'space-1';
const CHANNEL = 'voice-1';
const HOUR = 3600_000;

const owned = new LifetimeSession();
afterEach(() => owned.cleanup());

/** A VoiceConnection whose StreamToken provider mints `ttlSeconds` tokens on the fake timeline. */
function open(
  g: MemoryGateway,
  ttlSeconds: number,
  extra: Partial<ConstructorParameters<typeof VoiceConnection>[0]> = {},
) {
  const issued: string[] = [];
  const c = openMemoryConnection(
    g,
    { identity: IDENTITY, spaceId: SPACE, channelId: CHANNEL, ttlSeconds, onIssued: (t) => issued.push(t) },
    { reconnect: { baseMs: 100, capMs: 200, random: () => 0.5 }, ...extra },
  );
  const tokens: Array<{ reason: string; atMs: number; expiresAtMs: number }> = [];
  c.on('token', (t) => tokens.push({ reason: t.reason, atMs: g.clock.now(), expiresAtMs: t.expiresAtMs }));
  const states: VoiceConnectionState[] = [];
  c.on('stateChange', (_o, n) => states.push(n));
  return { c, issued, tokens, states };
}

describe('a publish session past the 2 h StreamToken TTL (fake clock)', () => {
  it('refreshes the token 10 min ahead of expiry and keeps every 20 ms slot filled with the next frame; a later drop reconnects with the fresh token', async () => {
    const probe = new WireProbe(IDENTITY);
    owned.gw = MemoryGateway.install({ onFrame: probe.onFrame });
    const g = owned.gw;
    const { c, issued, tokens, states } = open(g, 7200);
    owned.conn = c;
    await g.runUntil(() => c.state.status === 'ready', 'ready', 10_000);
    const sessionId = (c.state as { sessionId: string }).sessionId;
    const secrets = registeredSecretCount();
    // 2 h 10 min of audio: frame n must be the n-th frame after the first, one per 20 ms slot.
    const FRAMES = (2 * HOUR + 10 * 60_000) / 20;
    const player = (owned.player = new AudioPlayer(c, { clock: g.clock }));
    player.play(numberedSource(FRAMES), { title: 'long' });
    const t0 = g.clock.now();
    await g.runFor(2 * HOUR + 5 * 60_000);

    // One refresh, 10 min before the first token's expiry, and no other token traffic.
    expect(tokens.map((t) => t.reason)).toEqual(['initial', 'refresh']);
    const refreshLead = tokens[0]!.expiresAtMs - (g.wallClockMs() - g.clock.now() + tokens[1]!.atMs);
    expect(refreshLead).toBeGreaterThanOrEqual(10 * 60_000 - 1000);
    expect(refreshLead).toBeLessThanOrEqual(10 * 60_000);
    expect(tokens[1]!.expiresAtMs).toBeGreaterThan(tokens[0]!.expiresAtMs);
    // The replaced token left the redaction registry.
    expect(registeredSecretCount()).toBe(secrets);
    // Past the first token's expiry (and its 1 min leeway), still the same socket: no handover.
    expect(g.wallClockMs()).toBeGreaterThan(tokens[0]!.expiresAtMs + 60_000);
    expect(g.closedSessions).toEqual([]);
    expect(states.map((s) => s.status)).toEqual(['requesting-token', 'connecting', 'waiting-ready', 'ready']);
    expect(c.state).toMatchObject({ status: 'ready', sessionId, attempt: 0 });
    expect(probe.sessions).toEqual([sessionId]);
    // Frame level: every slot carried the next frame; no silence was slipped into the audio.
    expect(probe.slotBreaks).toEqual([]);
    expect(probe.seqBreaks).toEqual([]);
    expect(probe.silenceInAudio).toBe(0);
    const slots = (g.clock.now() - t0) / 20;
    expect(probe.audio).toBeGreaterThanOrEqual(slots - 20);
    expect(probe.lastSeq).toBe(probe.audio - 1);
    expect(c.pacer.metrics).toMatchObject({ framesSkipped: 0, networkDrops: 0 });

    // Now the gateway drops the socket (TCP drop, 1006) for a reason unrelated to the token.
    g.sessions.get(sessionId)!.drop();
    await g.runUntil(() => probe.lastSeq === FRAMES - 1, 'the rest of the track after the reconnect', 10 * 60_000);
    // The reconnect asked for a fresh token (§A6) and the gateway accepted it...
    expect(tokens.map((t) => t.reason)).toEqual(['initial', 'refresh', 'reconnect']);
    expect(g.refusals).toEqual([]);
    expect(probe.sessions).toHaveLength(2);
    expect(g.closedSessions.map((s) => s.reason)).toEqual(['fault']);
    // ...whereas the first one is long expired: reusing it would have been refused with 403.
    const firstExp = JSON.parse(Buffer.from(issued[0]!.split('.')[1]!, 'base64url').toString()).exp as number;
    expect(firstExp * 1000 + 60_000).toBeLessThan(g.wallClockMs());
    // The queued audio went on where it was: in order, nothing repeated; at most the frames in
    // flight at the drop (the pacer queue) are lost.
    expect(probe.seqBreaks.length).toBeLessThanOrEqual(1);
    expect(probe.audio).toBeGreaterThanOrEqual(FRAMES - c.pacer.queueFrames - 1);
  }, 60_000);

  it('a token shorter-lived than refreshBeforeMs is refreshed at half-life, not in a loop', async () => {
    owned.gw = MemoryGateway.install();
    const g = owned.gw;
    // 5 min tokens with the default 10 min lead: refresh every 150 s.
    const { c, tokens, issued } = open(g, 300);
    owned.conn = c;
    await g.runUntil(() => c.state.status === 'ready', 'ready', 10_000);
    const secrets = registeredSecretCount();
    await g.runFor(30 * 60_000);
    const refreshes = tokens.filter((t) => t.reason === 'refresh');
    // One registered token at a time, however many refreshes.
    expect(issued.length).toBe(refreshes.length + 1);
    expect(registeredSecretCount()).toBe(secrets);
    expect(refreshes.length).toBeGreaterThanOrEqual(11);
    expect(refreshes.length).toBeLessThanOrEqual(12);
    for (let i = 1; i < refreshes.length; i++) {
      const gap = refreshes[i]!.atMs - refreshes[i - 1]!.atMs;
      expect(gap).toBeGreaterThanOrEqual(149_000);
      expect(gap).toBeLessThanOrEqual(150_000);
    }
    expect(g.closedSessions).toEqual([]);
  }, 30_000);
});
