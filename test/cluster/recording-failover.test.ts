/**
 * A recording on the cluster against a real nats-server and the emulator: two in-process workers
 * (each with two extra bot identities, one per recorded user: docs/platform.md §A6), two
 * simulated speakers. The worker recording is abandoned (what kill -9 leaves: no lease release,
 * no final write); the other one continues into segment 2, and the joined files line up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';
import { joinSegments, readRecordingManifest } from '../../src/cluster/segments.js';
import { recordingUnitId } from '../../src/cluster/wire.js';
import { VoiceWorker } from '../../src/cluster/worker.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { silencePacket } from '../../src/codec/silence.js';
import { Emulator, type SpeakHandle } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/client.js';
import { type NatsServer, startNats, until } from './helpers.js';

const SILENCE = [2.5, 5, 10, 20, 40, 60].map((ms) => Buffer.from(silencePacket(1, ms)));

/** Channels, samples after pre-skip, EOS, and packets carrying audio (not the codec's silence fill). */
function oggInfo(path: string) {
  const d = new OggOpusDemuxer();
  const ev = [...d.write(readFileSync(path)), ...d.end()];
  const head = ev.find((e) => e.type === 'head');
  const packets = ev.filter((e) => e.type === 'packet');
  const preSkip = head?.type === 'head' ? head.head.preSkip : 0;
  return {
    channels: head?.type === 'head' ? head.head.channels : 0,
    samples: packets.reduce((n, p) => n + p.samples, 0) - preSkip,
    eos: ev.some((e) => e.type === 'eos'),
    audioPackets: packets.filter((p) => !SILENCE.some((s) => s.equals(p.packet))).length,
  };
}

describe('recording failover (nats-server + emulator + two in-process workers)', () => {
  let nats: NatsServer;
  let emu: Emulator;
  let nc: NatsConnection;
  let outDir: string;
  const closers: Array<() => unknown> = [];

  beforeAll(async () => {
    nats = await startNats();
    emu = await Emulator.start({ port: 0, audioPort: 0 });
    nc = await connectNats(nats.url);
    outDir = mkdtempSync(join(tmpdir(), 'argon-rec-failover-'));
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c();
    await nc?.close();
    await emu?.close();
    await nats?.close();
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  const TTL = 3000;

  it('continues into segment 2 on the other worker after kill -9; segments line up and join to one file per user', async () => {
    const { spaceId, voiceChannelId: channelId } = emu.demo;
    const where = { spaceId, channelId };
    // Two people talking for the whole test.
    const speakers: string[] = [];
    for (const [name, hz] of [
      ['alice', 440],
      ['bob', 660],
    ] as const) {
      const { userId } = emu.createUser({ username: name });
      const talk: SpeakHandle = emu
        .joinVoice(userId, where)
        .speak({ sine: hz, durationMs: 60_000, amplitude: 0.3 }, { seed: hz });
      closers.push(() => talk.stop());
      speakers.push(userId);
    }
    // The recording identities: two more bots in the space (the same two on every worker).
    const bots = [emu.createBot({ username: 'rec-1' }), emu.createBot({ username: 'rec-2' })];
    for (const b of bots) emu.addMember(spaceId, b.userId);

    const workers = new Map<string, VoiceWorker>();
    const claims: Array<{ workerId: string; unit: string; atMs: number }> = [];
    for (const id of ['w1', 'w2']) {
      const conn = await connectNats(nats.url);
      const rests = [emu.bot, ...bots].map((b) => new RestClient({ token: b.token, baseUrl: emu.apiUrl }));
      const w = new VoiceWorker({
        nats: conn,
        botId: emu.bot.botId,
        workerId: id,
        leaseTtlMs: TTL,
        playback: { rest: rests[0]!, gatewayUrl: emu.audioUrl },
        recording: { identities: rests.slice(1), gatewayUrl: emu.audioUrl },
      });
      w.on('claimed', (unit) => claims.push({ workerId: id, unit, atMs: Date.now() }));
      closers.push(async () => {
        await w.close().catch(() => undefined);
        w.abandon();
        await conn.close();
        await Promise.all(rests.map((r) => r.close?.()));
      });
      await w.start();
      workers.set(id, w);
    }

    const client = new ClusterClient({ nats: nc, botId: emu.bot.botId, leaseTtlMs: TTL });
    const unit = recordingUnitId(spaceId, channelId);
    const started = await client.record(spaceId, channelId, speakers, outDir, { timeoutMs: 20_000 });
    const seg1 = started.state.recording!.segments[0]!;
    expect(started.state.kind).toBe('recording');
    expect(seg1).toMatchObject({ index: 1, workerId: started.workerId });
    const holderId = started.workerId;
    const otherId = holderId === 'w1' ? 'w2' : 'w1';
    const holder = workers.get(holderId)!;
    expect(holder.spaces).toEqual([unit]);
    expect(workers.get(otherId)!.spaces).toEqual([]);
    // The same job again is answered with the running recording; another job in the room is refused.
    expect((await client.record(spaceId, channelId, speakers, outDir)).state.recording!.segments).toHaveLength(1);
    await expect(client.record(spaceId, channelId, speakers.slice(0, 1), outDir)).rejects.toMatchObject({
      reason: 'rejected',
    });
    await expect(client.command(unit, { op: 'skip' })).rejects.toThrow(/takes stop and queue/);

    // Let it record: the holder's flushes move the persisted end of segment 1.
    const before = await until(async () => {
      const s = (await client.recordingState(spaceId, channelId))?.recording?.segments[0];
      return s?.endedAtMs !== undefined && s.endedAtMs - s.startedAtMs >= 2500 ? s : undefined;
    }, 'segment 1 to hold 2.5 s');

    const killedAtMs = Date.now();
    holder.abandon();

    const seg2 = await until(
      async () => {
        const s = (await client.recordingState(spaceId, channelId))?.recording?.segments;
        return s?.length === 2 && s[1]!.endedAtMs !== undefined && s[1]!.endedAtMs - s[1]!.startedAtMs >= 1500
          ? s[1]
          : undefined;
      },
      'segment 2 on the other worker to hold 1.5 s',
      TTL * 5,
    );
    const claimed = claims.find((c) => c.workerId === otherId && c.unit === unit);
    expect(claimed).toBeDefined();
    expect(seg2).toMatchObject({ index: 2, workerId: otherId });
    expect(seg2.startedAtMs).toBeGreaterThan(seg1.startedAtMs);

    const stopped = await client.stopRecording(spaceId, channelId);
    expect(stopped.workerId).toBe(otherId);
    expect(stopped.state.active).toBe(false);
    const segments = stopped.state.recording!.segments;
    expect(segments.map((s) => [s.index, s.workerId])).toEqual([
      [1, holderId],
      [2, otherId],
    ]);
    await expect(client.command(unit, { op: 'queue' }, { timeoutMs: 5000 })).rejects.toMatchObject({
      reason: 'no-holder',
    });

    // Every segment file is a complete Ogg Opus file with the speaker's audio in it.
    const info = new Map<string, ReturnType<typeof oggInfo>>();
    for (const seg of segments) {
      for (const u of speakers) {
        const i = oggInfo(join(outDir, seg.files[u]!));
        expect(i.channels).toBe(1);
        expect(i.eos).toBe(true);
        expect(i.audioPackets).toBeGreaterThan(25);
        info.set(`${seg.index}/${u}`, i);
      }
    }
    // A segment's files hold at least what its state said was written (kill -9: up to the last flush).
    const dur1 = info.get(`1/${speakers[0]}`)!.samples / 48;
    expect(dur1).toBeGreaterThanOrEqual(before.endedAtMs! - before.startedAtMs);

    // The gap between the segments is the failover: from the kill to the other worker's claim.
    const gapMs = seg2.startedAtMs - (seg1.startedAtMs + dur1);
    const failoverMs = claimed!.atMs - killedAtMs;
    expect(gapMs).toBeGreaterThan(0);
    expect(gapMs).toBeLessThan(TTL + 2000);
    expect(Math.abs(gapMs - failoverMs)).toBeLessThan(500);

    // segments.json (written by each segment's holder at its start) names both segments.
    // Each segment's own segment.json, written when it ended, gives its exact end.
    const dur2 = info.get(`2/${speakers[0]}`)!.samples / 48;
    const manifest = await until(async () => {
      const m = await readRecordingManifest(outDir);
      return m.segments[1]?.endedAtMs === seg2.startedAtMs + Math.round(dur2) ? m : undefined;
    }, 'seg-2/segment.json to hold the end of segment 2');
    expect(manifest.segments.map((s) => s.startedAtMs)).toEqual(segments.map((s) => s.startedAtMs));
    expect(manifest.segments[0]!.endedAtMs).toBe(seg1.startedAtMs + Math.round(dur1));

    // Joined: one file per user, duration = last start − first start + last duration (± one frame).
    for (const u of speakers) {
      const joined = await joinSegments(stopped.state, u, join(outDir, 'joined', `${u}.ogg`));
      const j = oggInfo(joined.path);
      expect(j.eos).toBe(true);
      expect(j.samples).toBe(joined.samples);
      const expected = (seg2.startedAtMs - seg1.startedAtMs) * 48 + info.get(`2/${u}`)!.samples;
      expect(Math.abs(j.samples - expected)).toBeLessThanOrEqual(960);
      expect(j.audioPackets).toBe(info.get(`1/${u}`)!.audioPackets + info.get(`2/${u}`)!.audioPackets);
    }
  }, 60_000);
});
