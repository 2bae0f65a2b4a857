/**
 * `argon-voice worker` records with the bot identities of ARGON_EXTRA_TOKENS: two worker
 * processes, a recording of two simulated speakers, kill -9 of the process recording, segment 2
 * on the other process, and every file readable up to where its writer got.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';
import { recordingUnitId } from '../../src/cluster/wire.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { Emulator } from '../../src/emulator/index.js';
import { type CliChild, type NatsServer, spawnCli, startNats, until } from './helpers.js';

/** Opus packets in an Ogg file (a killed writer's file is read up to its last complete page). */
function packets(path: string): number {
  const d = new OggOpusDemuxer();
  return [...d.write(readFileSync(path)), ...d.end()].filter((e) => e.type === 'packet').length;
}

describe('argon-voice worker records as ARGON_EXTRA_TOKENS (nats-server + emulator + worker processes)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  let nc: NatsConnection;
  let outDir: string;
  const children: CliChild[] = [];
  const stops: Array<() => unknown> = [];

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 } });
    nc = await connectNats(nats.url);
    outDir = mkdtempSync(join(tmpdir(), 'argon-rec-cli-'));
  });
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill9()));
    for (const s of stops) await s();
    await nc?.close();
    await emu?.close();
    await nats?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('records on one worker process, continues on the other after kill -9, stops cleanly', async () => {
    const TTL = 3000;
    const { spaceId, voiceChannelId: channelId } = emu.demo;
    const speakers: string[] = [];
    for (const [name, hz] of [
      ['ann', 330],
      ['ben', 550],
    ] as const) {
      const { userId } = emu.createUser({ username: name });
      const talk = emu
        .joinVoice(userId, { spaceId, channelId })
        .speak({ sine: hz, durationMs: 60_000, amplitude: 0.3 }, { seed: hz });
      stops.push(() => talk.stop());
      speakers.push(userId);
    }
    const bots = [emu.createBot({ username: 'rec-a' }), emu.createBot({ username: 'rec-b' })];
    for (const b of bots) emu.addMember(spaceId, b.userId);
    const env = {
      ARGON_NATS_URL: nats.url,
      ARGON_TOKEN: emu.bot.token,
      ARGON_API_URL: emu.apiUrl,
      ARGON_AUDIO_URL: emu.audioUrl,
      ARGON_EXTRA_TOKENS: bots.map((b) => b.token).join(','),
    };
    const w1 = spawnCli(['worker', '--id', 'w1', '--lease-ttl', String(TTL)], env);
    const w2 = spawnCli(['worker', '--id', 'w2', '--lease-ttl', String(TTL)], env);
    children.push(w1, w2);
    await w1.waitFor((e) => e.event === 'started', 'w1 to start');
    await w2.waitFor((e) => e.event === 'started', 'w2 to start');

    const client = new ClusterClient({ nats: nc, botId: emu.bot.botId, leaseTtlMs: TTL });
    const unit = recordingUnitId(spaceId, channelId);
    const started = await client.record(spaceId, channelId, speakers, outDir, { timeoutMs: 20_000 });
    const holder = started.workerId === 'w1' ? w1 : w2;
    const other = holder === w1 ? w2 : w1;
    const otherId = started.workerId === 'w1' ? 'w2' : 'w1';
    await until(async () => {
      const s = (await client.recordingState(spaceId, channelId))?.recording?.segments[0];
      return s?.endedAtMs !== undefined && s.endedAtMs - s.startedAtMs >= 1500 ? true : undefined;
    }, 'segment 1 to hold 1.5 s');

    await holder.kill9();
    await other.waitFor((e) => e.event === 'claimed' && e.spaceId === unit, `${otherId} to take the recording`);
    await until(async () => {
      const s = (await client.recordingState(spaceId, channelId))?.recording?.segments;
      return s?.length === 2 && s[1]!.endedAtMs !== undefined && s[1]!.endedAtMs - s[1]!.startedAtMs >= 1000
        ? true
        : undefined;
    }, 'segment 2 to hold 1 s');
    const stopped = await client.stopRecording(spaceId, channelId);
    expect(stopped.workerId).toBe(otherId);
    const segments = stopped.state.recording!.segments;
    expect(segments.map((s) => [s.index, s.workerId])).toEqual([
      [1, started.workerId],
      [2, otherId],
    ]);
    // Each speaker is in both segments: received as the extra identities, not as the playing bot.
    for (const seg of segments) {
      for (const u of speakers) expect(packets(join(outDir, seg.files[u]!))).toBeGreaterThan(40);
    }
    // The tokens stay in the processes' environment.
    const printed = JSON.stringify(other.events) + other.stderr();
    for (const t of [emu.bot.token, ...bots.map((b) => b.token)]) expect(printed).not.toContain(t);
  }, 60_000);
});
