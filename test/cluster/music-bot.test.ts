/**
 * The music-bot sample, unchanged in its script, on the cluster: with ARGON_NATS_URL set its
 * players are ClusterPlayers and the queue plays on a worker (here the one the sample starts in
 * its own process, since the emulator lives there too).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../samples/music-bot/index.js';
import { connectNats, openStores } from '../../src/cluster/nats.js';
import { Emulator } from '../../src/emulator/index.js';
import { type NatsServer, startNats } from './helpers.js';

describe('music-bot sample on the cluster (ARGON_NATS_URL)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, timings: { sseBatchMs: 50 } });
    // The sample's worker uses the default lease TTL (3 s); a bucket keeps the TTL it was created
    // with, so create it first with a generous one: no stall of this loaded process can make the
    // worker's lease lapse mid-queue (nothing here measures expiry).
    const nc = await connectNats(nats.url);
    await openStores(nc, emu.bot.botId, { leaseTtlMs: 10_000 });
    await nc.close();
  });
  afterAll(async () => {
    await emu?.close();
    await nats?.close();
  });

  it('plays, queues, skips and stops through a worker', async () => {
    const lines: string[] = [];
    const r = await run({
      emulator: emu,
      env: { ARGON_NATS_URL: nats.url },
      demoTrackMs: 2000,
      crossfadeMs: 400,
      log: (l) => lines.push(l),
    });
    expect(lines.some((l) => l.startsWith('cluster: '))).toBe(true);
    expect(r.transcript.map((x) => x.name)).toEqual(['play', 'play', 'play', 'queue', 'volume', 'skip', 'stop']);
    expect(r.transcript[0]!.reply).toBe('Playing intro.opus');
    expect(r.transcript.find((x) => x.name === 'stop')!.reply).toMatch(/left the voice channel$/);
    // The three tracks started in order on the worker; the first was skipped, the second ran out.
    expect(r.tracks.map((t) => t.title)).toEqual(['intro.opus', 'middle.wav', 'outro.wav']);
    expect(r.tracks[0]!.result?.status).toBe('stopped');
    expect(r.tracks[1]!.result?.status).toBe('finished');
    const demo = r.demo!;
    expect(demo.audioFrames).toBeGreaterThan(20);
    expect(demo.heardAfterStop).toBe(0);
    expect(emu.gateway.sessions().filter((s) => s.identity === emu.bot.userId && s.state !== 'closed')).toEqual([]);
  }, 90_000);
});
