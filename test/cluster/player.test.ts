/**
 * ClusterPlayer (the AudioPlayer-shaped remote player) against a real nats-server, the emulator
 * and a worker running real playback sessions in this process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';
import { ClusterPlayer } from '../../src/cluster/player.js';
import { VoiceWorker } from '../../src/cluster/worker.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/client.js';
import type { Track } from '../../src/voice/player.js';
import { makeOggOpus } from '../helpers/fixtures.js';
import { type NatsServer, startNats, until } from './helpers.js';

describe('ClusterPlayer (nats-server + emulator + an in-process worker)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  let nc: NatsConnection;
  let rest: RestClient;
  let worker: VoiceWorker;

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, audioPort: 0 });
    nc = await connectNats(nats.url);
    rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
    worker = new VoiceWorker({
      nats: await connectNats(nats.url),
      botId: emu.bot.botId,
      workerId: 'w',
      // Not measured here: long enough that no stall can make the holder's lease lapse mid-track.
      leaseTtlMs: 10_000,
      heartbeatMs: 250,
      playback: { rest },
    });
    await worker.start();
  });
  afterAll(async () => {
    await worker?.close();
    await rest?.close();
    await nc?.close();
    await emu?.close();
    await nats?.close();
  });

  it('plays a queue on the holder and reports playing / finished / idle like the local player', async () => {
    const first = await makeOggOpus({ durationS: 3, frequency: 440 });
    const second = await makeOggOpus({ durationS: 3, frequency: 660 });
    const client = new ClusterClient({ nats: nc, botId: emu.bot.botId });
    const player = new ClusterPlayer({
      nats: nc,
      client,
      botId: emu.bot.botId,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
    });
    const started: string[] = [];
    player.on('playing', (t: Track) => started.push(t.title));
    let idle = 0;
    player.on('idle', () => idle++);
    const a = player.play(first, { title: 'first' });
    const b = player.play(second, { title: 'second' });
    expect(player.queue.map((t) => t.title)).toEqual(['first', 'second']);
    await expect(a.playout).resolves.toMatchObject({ status: 'finished' });
    await expect(b.playout).resolves.toMatchObject({ status: 'finished' });
    await until(() => (idle > 0 ? true : undefined), 'idle after the queue ran out');
    expect(started).toEqual(['first', 'second']);
    expect(player.state.status).toBe('idle');
    // The audio went out from the worker's session as the bot.
    expect(emu.gateway.published({ identity: emu.bot.userId }).filter((f) => f.data.length > 3).length).toBeGreaterThan(
      150,
    );
    await player.close();
    expect(player.state.status).toBe('closed');
    expect((await client.spaceState(emu.demo.spaceId))?.active).toBe(false);
    await until(() => (worker.spaces.length === 0 ? true : undefined), 'the worker to leave the space');
  }, 60_000);
});
