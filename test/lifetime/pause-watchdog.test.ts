/**
 * Issue 13 (2): the `/audio/connect` media watchdog (a 60 s ticker from session creation; a
 * window with zero accepted bytes drops the session, so ≥ 120 s of nothing always kills it,
 * docs/platform.md §A4.4) must never fire while a player is paused. Silence frames are accepted bytes,
 * so the connection's filler (one `f8 ff fe` per empty 20 ms slot) keeps the session alive.
 * The library (VoiceConnection + AudioPlayer, main-thread pacer) runs against the emulator's
 * gateway session logic, watchdog included, on one fake clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { VoiceConnection } from '../../src/voice/connection.js';
import { AudioPlayer } from '../../src/voice/player.js';
import { numberedSource } from './helpers/frames.js';
import { MemoryGateway } from './helpers/memory-gateway.js';
import { LifetimeSession, openMemoryConnection } from './helpers/session.js';
import { WireProbe } from './helpers/wire.js';

vi.mock('ws', async (importOriginal) => {
  const orig = await importOriginal<typeof import('ws')>();
  const { MemoryWebSocket } = await import('./helpers/memory-gateway.js');
  return { ...orig, default: MemoryWebSocket, WebSocket: MemoryWebSocket };
});

const IDENTITY = '0c0c0c0c-1111-4222-8333-444444444444';
const SPACE = 'space-2';
const CHANNEL = 'voice-2';
const MINUTE = 60_000;

const owned = new LifetimeSession();
afterEach(() => owned.cleanup());

const open = (g: MemoryGateway, extra: Partial<ConstructorParameters<typeof VoiceConnection>[0]> = {}) =>
  openMemoryConnection(g, { identity: IDENTITY, spaceId: SPACE, channelId: CHANNEL, ttlSeconds: 7200 }, extra);

describe('the media watchdog while a player is paused (fake clock)', () => {
  it('a 10 min pause keeps the session alive with one silence frame per slot, and the track resumes at the next frame', async () => {
    const probe = new WireProbe(IDENTITY);
    owned.gw = MemoryGateway.install({ onFrame: probe.onFrame });
    const g = owned.gw;
    expect(g.timings.mediaWatchdogMs).toBe(60_000); // the production ticker
    const c = open(g);
    owned.conn = c;
    await g.runUntil(() => c.state.status === 'ready', 'ready', 10_000);
    const sessionId = (c.state as { sessionId: string }).sessionId;
    const session = g.sessions.get(sessionId)!;
    const player = (owned.player = new AudioPlayer(c, { clock: g.clock }));
    player.play(numberedSource(2000), { title: 'paused track' });
    await g.runFor(5000);
    const heardBeforePause = probe.lastSeq;
    expect(heardBeforePause).toBeGreaterThan(200);
    expect(player.pause()).toBe(true);
    // Frames already prepared in the pacer queue still play; then only the filler.
    await g.runFor(200);
    const lastBeforePause = probe.lastSeq;
    expect(lastBeforePause - heardBeforePause).toBeLessThanOrEqual(c.pacer.queueFrames + 1);
    const audioAtPause = probe.audio;
    const silenceAtPause = probe.silence;
    const bytesAtPause = session.info().bytesIn;
    await g.runFor(10 * MINUTE);
    // Nothing but silence went out during the pause, one frame in every 20 ms slot ...
    expect(probe.audio).toBe(audioAtPause);
    expect(probe.silence - silenceAtPause).toBe((10 * MINUTE) / 20);
    expect(probe.slotBreaks).toEqual([]);
    expect(session.info().bytesIn - bytesAtPause).toBe(3 * ((10 * MINUTE) / 20));
    // ... so the watchdog saw bytes in each of its ten windows: same session, no reconnect.
    expect(g.closedSessions).toEqual([]);
    expect(session.state).toBe('ready');
    expect(c.state).toMatchObject({ status: 'ready', sessionId, attempt: 0 });
    // Resume: the next frame is the one after the last heard, with no silence inside the audio.
    expect(player.resume()).toBe(true);
    await g.flush();
    probe.takeSilenceRun();
    await g.runFor(5000);
    expect(probe.seqBreaks).toEqual([]);
    expect(probe.silenceInAudio).toBe(0);
    expect(probe.lastSeq).toBeGreaterThan(lastBeforePause + 200);
    expect(probe.sessions).toEqual([sessionId]);
  }, 30_000);

  it('control: without the keepalive filler the same pause is killed by the watchdog within 120 s', async () => {
    const probe = new WireProbe(IDENTITY);
    let lastFrameAt = 0;
    owned.gw = MemoryGateway.install({
      onFrame: (f) => {
        probe.onFrame(f);
        lastFrameAt = f.arrivalMs;
      },
    });
    const g = owned.gw;
    const c = open(g, { keepalive: false, prerollMs: 0, reconnect: false });
    owned.conn = c;
    await g.runUntil(() => c.state.status === 'ready', 'ready', 10_000);
    const player = (owned.player = new AudioPlayer(c, { clock: g.clock }));
    player.play(numberedSource(2000), { title: 'paused track' });
    await g.runFor(5000);
    player.pause();
    await g.runUntil(() => c.state.status === 'closed', 'the session to be killed', 10 * MINUTE);
    expect(g.closedSessions).toHaveLength(1);
    expect(g.closedSessions[0]).toMatchObject({ reason: 'media-watchdog', lastError: 'media watchdog: no data' });
    const silentFor = g.closedSessions[0]!.atMs - lastFrameAt;
    expect(silentFor).toBeGreaterThanOrEqual(60_000);
    expect(silentFor).toBeLessThanOrEqual(120_000);
    expect((c.state as { reason?: Error }).reason).toMatchObject({ code: 'ARGON_VOICE_TRANSPORT' });
  }, 30_000);
});
