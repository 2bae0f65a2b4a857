/**
 * The media plane on real threads: AudioPlayer → media worker (lane) → pacer thread → the
 * emulator's gateway. Nothing here asserts a duration: waits are bounded only against hangs,
 * and the stretch late policy keeps every frame whatever the machine's load.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { demuxOggOpus } from '../../src/codec/ogg-demux.js';
import { Emulator } from '../../src/emulator/index.js';
import { MediaWorkerError } from '../../src/errors.js';
import { FramePacer } from '../../src/pacing/pacer.js';
import { RestClient } from '../../src/rest/index.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { MediaWorkerPool } from '../../src/voice/media/pool.js';
import { AudioPlayer, type FrameSink } from '../../src/voice/player.js';
import { makeOggOpus } from '../helpers/fixtures.js';
import { until } from '../helpers/until.js';

const HANG = { timeoutMs: 20_000, intervalMs: 10 };

async function packetsOf(path: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  async function* once(b: Uint8Array) {
    yield b;
  }
  for await (const ev of demuxOggOpus(once(readFileSync(path)))) if (ev.type === 'packet') out.push(ev.packet);
  return out;
}

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

describe('media worker against the emulator', () => {
  let emu: Emulator;
  let rest: RestClient;
  beforeAll(async () => {
    emu = await Emulator.start({ port: 0, audioPort: 0 });
    rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
  });
  afterAll(async () => {
    await emu.close();
  });

  it('an Ogg file plays from the media worker: every packet of the file on the wire once, in order, untouched', async () => {
    const file = await makeOggOpus({ durationS: 2, frequency: 330 });
    const expected = await packetsOf(file);
    const conn = new VoiceConnection({
      rest,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      trackName: 'media-worker',
      pacer: { latePolicy: 'stretch' },
    });
    await conn.ready({ timeoutMs: 20_000 });
    expect(conn.pacer.mode).toBe('worker');
    const player = new AudioPlayer(conn);
    const track = player.play(file);
    const result = await player.waitForPlayout(track, { timeoutMs: 30_000 });
    expect(result).toEqual({ status: 'finished', frames: expected.length });
    const m = await conn.pacer.refreshMetrics();
    expect(m.framesSkipped).toBe(0);
    await until(
      () => emu.gateway.published({ identity: emu.bot.userId }).length >= m.framesSent,
      'the gateway to receive every frame sent',
      HANG,
    );
    const wire = emu.gateway.published({ identity: emu.bot.userId }).map((f) => f.data);
    const start = wire.findIndex((d) => same(d, expected[0]!));
    expect(start).toBeGreaterThanOrEqual(0);
    const played = wire.slice(start, start + expected.length);
    expect(played.every((d, i) => same(d, expected[i]!))).toBe(true);
    expect(conn.stats.invalidFrames).toBe(0);
    await player.close();
    await conn.close();
  });
});

/** A sink over a worker-mode pacer with no socket: it consumes a frame per slot in real time. */
function pacerSink(pacer: FramePacer): FrameSink {
  return {
    channels: 1,
    frameDurationMs: 20,
    get queuedFrames() {
      return pacer.queueDepth;
    },
    sendFrame: (f, o) => pacer.enqueue(f, o ?? {}),
    clearQueued: () => pacer.clear(),
    markQuiet: () => pacer.markQuiet(),
    producerLink: () => pacer.producerLink(),
    close: async () => undefined,
  };
}

describe('media worker crash', () => {
  it('a crashed worker ends its playing track with a MediaWorkerError (no hang), restarts, and the next track plays', async () => {
    const pool = new MediaWorkerPool({ size: 1 });
    const pacer = new FramePacer({ frameDurationMs: 20, mode: 'worker' });
    pacer.setFiller(Uint8Array.from([0xf8, 0xff, 0xfe]));
    pacer.start();
    const player = new AudioPlayer(pacerSink(pacer), { mediaPool: pool });
    const errors: Error[] = [];
    player.on('error', (e) => errors.push(e));
    const long = await makeOggOpus({ durationS: 20 });
    const short = await makeOggOpus({ durationS: 0.5, frequency: 550 });
    const first = player.play(long);
    await until(() => (player.position?.ms ?? 0) > 0, 'the first position report', HANG);
    pool.crashForTest();
    await expect(first.playout).rejects.toBeInstanceOf(MediaWorkerError);
    expect(errors[0]).toBeInstanceOf(MediaWorkerError);
    expect(pool.restarts).toBe(1);
    const second = player.play(short);
    const r = await player.waitForPlayout(second, { timeoutMs: 30_000 });
    expect(r).toEqual({ status: 'finished', frames: (await packetsOf(short)).length });
    await player.close();
    await pacer.close();
    await pool.close();
  });

  it('a worker with no lane left ends after idleMs (no thread or descriptors kept by an idle bot)', async () => {
    const pool = new MediaWorkerPool({ size: 1, idleMs: 50 });
    const pacer = new FramePacer({ frameDurationMs: 20, mode: 'worker' });
    pacer.start();
    const player = new AudioPlayer(pacerSink(pacer), { mediaPool: pool });
    const short = await makeOggOpus({ durationS: 0.5, frequency: 550 });
    await player.waitForPlayout(player.play(short), { timeoutMs: 30_000 });
    expect(pool.threads).toBe(1);
    await player.close();
    await until(() => pool.threads === 0, 'the idle media worker to end', HANG);
    expect(pool.restarts).toBe(0);
    await pacer.close();
    await pool.close();
  });

  it('a held pool keeps its first worker with no lane past idleMs; released, it ends after idleMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const pool = new MediaWorkerPool({ size: 1, idleMs: 50 });
    try {
      const release = pool.hold();
      expect(pool.threads).toBe(1);
      vi.advanceTimersByTime(60_000);
      expect(pool.threads).toBe(1);
      release();
      release(); // idempotent
      vi.advanceTimersByTime(49);
      expect(pool.threads).toBe(1);
      vi.advanceTimersByTime(1);
      expect(pool.threads).toBe(0);
    } finally {
      vi.useRealTimers();
      await pool.close();
    }
  });

  it('tracks queued behind the crashed one are not lost: they play on the new worker', async () => {
    const pool = new MediaWorkerPool({ size: 1 });
    const pacer = new FramePacer({ frameDurationMs: 20, mode: 'worker' });
    pacer.start();
    const player = new AudioPlayer(pacerSink(pacer), { mediaPool: pool, lookaheadMs: 200 });
    player.on('error', () => undefined);
    const long = await makeOggOpus({ durationS: 20 });
    const short = await makeOggOpus({ durationS: 0.5, frequency: 550 });
    const first = player.play(long);
    const queued = player.play(short);
    await until(() => (player.position?.ms ?? 0) > 0, 'the first position report', HANG);
    pool.crashForTest();
    await expect(first.playout).rejects.toBeInstanceOf(MediaWorkerError);
    const r = await player.waitForPlayout(queued, { timeoutMs: 30_000 });
    expect(r).toEqual({ status: 'finished', frames: (await packetsOf(short)).length });
    await player.close();
    await pacer.close();
    await pool.close();
  });
});
