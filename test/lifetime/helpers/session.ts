/**
 * What the lifetime tests own: a memory gateway, a VoiceConnection to it whose StreamTokens are
 * minted on the gateway's fake timeline, and a player; closed in order on the fake clock.
 */
import { VoiceConnection } from '../../../src/voice/connection.js';
import type { AudioPlayer } from '../../../src/voice/player.js';
import type { MemoryGateway } from './memory-gateway.js';

/** The gateway, connection and player of one test; `cleanup()` (for afterEach) closes them. */
export class LifetimeSession {
  gw: MemoryGateway | undefined;
  conn: VoiceConnection | undefined;
  player: AudioPlayer | undefined;

  /** Closes the player, then the connection (running the fake clock while it closes), then the gateway. */
  async cleanup(): Promise<void> {
    await this.player?.close();
    const c = this.conn;
    const g = this.gw;
    if (c && g) {
      const closing = c.close();
      await g.runFor(3000);
      await closing;
    }
    g?.close();
    this.gw = undefined;
    this.conn = undefined;
    this.player = undefined;
  }
}

/** Where the connection publishes and how its tokens are minted. */
export interface MemoryConnectionTarget {
  identity: string;
  spaceId: string;
  channelId: string;
  /** Lifetime of each minted StreamToken. */
  ttlSeconds: number;
  /** Called with each token handed out. */
  onIssued?: (token: string) => void;
}

/**
 * A VoiceConnection to `g` on its fake clock and wall clock (client pings off: the gateway's own
 * pings and read deadline, on the fake clock, keep the session honest).
 */
export function openMemoryConnection(
  g: MemoryGateway,
  t: MemoryConnectionTarget,
  extra: Partial<ConstructorParameters<typeof VoiceConnection>[0]> = {},
): VoiceConnection {
  const room = `${t.spaceId}/${t.channelId}`;
  return new VoiceConnection({
    spaceId: t.spaceId,
    channelId: t.channelId,
    tokenProvider: async () => {
      const token = await g.mint(t.identity, room, t.ttlSeconds);
      t.onIssued?.(token);
      return { token, ingressUrl: 'ws://memory.invalid:12880', roomName: room };
    },
    clock: g.clock,
    wallClockMs: g.wallClockMs,
    pingIntervalMs: 0,
    ...extra,
  });
}
