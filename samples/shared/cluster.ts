/**
 * The seam that puts a sample on the voice-worker cluster: with `ARGON_NATS_URL` set, players
 * are {@link ClusterPlayer}s whose spaces play on whichever worker holds them
 * (docs/guides/scaling.md); without it, nothing here runs and the sample plays in-process.
 *
 * ```
 * ARGON_NATS_URL unset ──► undefined: the sample uses its local VoiceConnection + AudioPlayer
 * ARGON_NATS_URL set ────► ClusterPlayer per space ─► NATS ─► `argon-voice worker` processes
 *   (emulator mode: the emulator lives in this process, so one worker runs here too)
 * ```
 * @packageDocumentation
 */
import { ClusterClient } from '../../src/cluster/client.js';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';
import { ClusterPlayer } from '../../src/cluster/player.js';
import { VoiceWorker } from '../../src/cluster/worker.js';
import type { SamplePlatform } from './platform.js';

/** Players on the cluster, for one sample run. */
export interface SampleCluster {
  /** A cluster-backed player for a space's voice channel. */
  player(spaceId: string, channelId: string): ClusterPlayer;
  /** Stops the embedded worker (if any) and disconnects. Idempotent. */
  close(): Promise<void>;
}

/**
 * Connects to `ARGON_NATS_URL` when it is set; undefined otherwise.
 * @throws TransportError when the NATS server does not answer.
 */
export async function connectCluster(
  platform: SamplePlatform,
  options: { env?: Record<string, string | undefined>; log?: (line: string) => void } = {},
): Promise<SampleCluster | undefined> {
  const url = (options.env ?? process.env).ARGON_NATS_URL;
  if (!url) return undefined;
  const log = options.log ?? (() => {});
  const nc: NatsConnection = await connectNats(url, { name: 'argon-voice sample' });
  const botId = platform.bot.me.botId;
  const client = new ClusterClient({ nats: nc, botId });
  let worker: VoiceWorker | undefined;
  if (platform.emulator) {
    worker = new VoiceWorker({
      nats: nc,
      botId,
      heartbeatMs: 250,
      playback: {
        rest: platform.bot.rest,
        gatewayUrl: platform.audioUrl,
        connection: { pacer: platform.pacer },
      },
      log,
    });
    await worker.start();
    log(`cluster: ${url}, worker ${worker.workerId} in this process (the emulator is in-process)`);
  } else {
    log(`cluster: ${url}; spaces play on the running 'argon-voice worker' processes`);
  }
  const players: ClusterPlayer[] = [];
  let closed = false;
  return {
    player(spaceId, channelId) {
      const p = new ClusterPlayer({ nats: nc, client, botId, spaceId, channelId });
      players.push(p);
      return p;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all(players.map((p) => p.close().catch(() => undefined)));
      await worker?.close();
      await nc.close().catch(() => undefined);
    },
  };
}
