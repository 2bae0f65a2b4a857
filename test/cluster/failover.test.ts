/**
 * Failover of a playing queue against a real nats-server and the emulator: two worker
 * processes; the one playing is killed with SIGKILL; the other resumes the track at the
 * position last written to KV, and audio flows again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';
import { Emulator } from '../../src/emulator/index.js';
import { makeOggOpus } from '../helpers/fixtures.js';
import { type CliChild, type NatsServer, spawnCli, startNats, until } from './helpers.js';

describe('cluster failover (nats-server + emulator + worker processes)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  let nc: NatsConnection;
  const children: CliChild[] = [];

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, audioPort: 0 });
    nc = await connectNats(nats.url);
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill9()));
    await nc?.close();
    await emu?.close();
    await nats?.close();
  });

  // Generous: the holder (a child process with real playback) must never lose its lease just
  // because a loaded machine starved its renewals; the failover is driven by kill -9, and only
  // waits this long for the dead holder's key to expire.
  const TTL = 5000;
  const env = () => ({ ARGON_NATS_URL: nats.url, ARGON_TOKEN: emu.bot.token, ARGON_API_URL: emu.apiUrl });

  it('resumes a playing queue on another worker after kill -9, from the last reported position', async () => {
    const track = await makeOggOpus({ durationS: 120 });
    const w1 = spawnCli(['worker', '--id', 'w1', '--lease-ttl', String(TTL)], env());
    const w2 = spawnCli(['worker', '--id', 'w2', '--lease-ttl', String(TTL)], env());
    children.push(w1, w2);
    await w1.waitFor((e) => e.event === 'started', 'w1 to start');
    await w2.waitFor((e) => e.event === 'started', 'w2 to start');

    const client = new ClusterClient({ nats: nc, botId: emu.bot.botId, leaseTtlMs: TTL });
    const { spaceId, voiceChannelId } = emu.demo;
    await client.command(
      spaceId,
      { op: 'play', input: track, title: 'long tone' },
      { channelId: voiceChannelId, timeoutMs: 30_000 },
    );

    // Let it play a while, so the position is well past zero.
    const playing = await until(async () => {
      const s = await client.spaceState(spaceId);
      return s?.current && s.current.positionMs >= 2000 && s.holder ? s : undefined;
    }, 'the track to have played 2 s');
    const holder = playing.holder === 'w1' ? w1 : w2;
    const other = holder === w1 ? w2 : w1;
    const otherId = holder === w1 ? 'w2' : 'w1';
    expect(other.events.some((e) => e.event === 'claimed')).toBe(false);

    await holder.kill9();
    const lastReported = (await client.spaceState(spaceId))!.current!.positionMs;
    const framesBefore = emu.gateway.published({ identity: emu.bot.userId }).length;

    const claimed = await other.waitFor(
      (e) => e.event === 'claimed' && e.spaceId === spaceId,
      `${otherId} to take the space over`,
    );
    // Where the dead worker's last write left it: the one read right after the kill (≥ 2 s in), or
    // a later one that was already on its way to the server when the process died; never zero.
    expect(claimed.resumedAtMs).toBeGreaterThanOrEqual(lastReported);
    expect(lastReported).toBeGreaterThanOrEqual(2000);
    expect(claimed.epoch).toBe(playing.epoch + 1);

    // Audio flows again from the new worker, and its position moves on from where it resumed.
    await until(
      () => (emu.gateway.published({ identity: emu.bot.userId }).length >= framesBefore + 50 ? true : undefined),
      'audio from the new worker',
    );
    const resumed = await until(async () => {
      const s = await client.spaceState(spaceId);
      return s?.holder === otherId && s.current && s.current.positionMs > lastReported + 500 ? s : undefined;
    }, 'the new worker to report a position past the resume point');
    expect(resumed.current!.track.title).toBe('long tone');

    // Commands now reach the new holder.
    const q = await client.command(spaceId, { op: 'queue' });
    expect(q.workerId).toBe(otherId);
    const stop = await client.command(spaceId, { op: 'stop' });
    expect(stop.state.active).toBe(false);
    await expect(client.command(spaceId, { op: 'skip' }, { timeoutMs: 5000 })).rejects.toMatchObject({
      code: 'ARGON_VOICE_CLUSTER',
      reason: 'no-holder',
    });
  }, 90_000);
});
