/**
 * The SSE side of the emulator (docs/platform.md §R5): per-space and per-bot-direct event logs, durable
 * per-(bot, space) cursors (implicit resume), one logical session per bot shared by all its
 * connections, the 500 ms / 50-event delivery loop, idle-only heartbeats and the exact wire format.
 *
 * ```
 *  publishSpace ─► space log [seq 1..n] ─┐
 *  publishDirect ─► direct log (per bot) ─┴─► BotSession cursors ─► each connection's tick pulls
 *                                            (shared: two connections split the events)
 * ```
 * @packageDocumentation
 */
import type { ServerResponse } from 'node:http';
import type { Clock } from '../../util/clock.js';
import { stringifyJson } from './json.js';
import { guidHex, type WorldState } from './state.js';
import { ARGON_EPOCH_MS, type EmulatorTimings } from './timings.js';

/** Intent bit per event type; `0n` = always delivered (§R5.2). */
export const EVENT_INTENTS: Readonly<Record<string, bigint>> = {
  ready: 0n,
  heartbeat: 0n,
  resumed: 0n,
  messageCreate: 1n,
  messageEdit: 1n,
  memberJoin: 2n,
  memberLeave: 2n,
  memberUpdate: 2n,
  channelCreate: 4n,
  channelDelete: 4n,
  reactionAdd: 8n,
  reactionRemove: 8n,
  typingStart: 16n,
  typingStop: 16n,
  presenceUpdate: 32n,
  commandInteraction: 64n,
  archetypeCreate: 512n,
  archetypeUpdate: 512n,
  voiceJoin: 2048n,
  voiceLeave: 2048n,
  callIncoming: 4096n,
  callEnded: 4096n,
  controlInteraction: 8192n,
  selectInteraction: 8192n,
  modalSubmit: 8192n,
  botInstallingToSpace: 0n,
  botUninstallingFromSpace: 0n,
  botEntitlementsUpdated: 0n,
};

/** Unread bytes an SSE connection may buffer before the emulator drops it. */
export const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** AllNonPrivileged: the intents used when the query has none. */
export const DEFAULT_INTENTS = 12253n;

/** Formats one SSE event exactly as the server does (§R5.3). */
export function formatSseEvent(event: string, data: unknown, id: string): string {
  return `event: ${event}\ndata: ${stringifyJson(data)}\nid: ${id}\n\n`;
}

interface StoredEvent {
  seq: number;
  type: string;
  payload: unknown;
  at: number;
}

class EventLog {
  readonly events: StoredEvent[] = [];
  lastSeq = 0;
  constructor(readonly maxCount: number) {}
  push(type: string, payload: unknown, at: number, maxAgeMs: number): void {
    this.events.push({ seq: ++this.lastSeq, type, payload, at });
    this.prune(at, maxAgeMs);
  }
  prune(now: number, maxAgeMs: number): void {
    let drop = 0;
    while (
      drop < this.events.length &&
      (this.events[drop]!.at < now - maxAgeMs || this.events.length - drop > this.maxCount)
    )
      drop++;
    if (drop > 0) this.events.splice(0, drop);
  }
}

class SseConnection {
  timer: unknown;
  lastWriteAt: number;
  stalled = false;
  closed = false;
  constructor(
    readonly res: ServerResponse,
    readonly session: BotSession,
    now: number,
    readonly release: () => void,
  ) {
    this.lastWriteAt = now;
  }
}

class BotSession {
  readonly connections = new Set<SseConnection>();
  intents = DEFAULT_INTENTS;
  /** False while a zombie: delivery stopped until the next connect (§R5.5). */
  active = false;
  /** spaceId → last acknowledged seq (durable consumer). */
  readonly cursors = new Map<string, number>();
  directCursor: number | undefined;
  /** Clock ms when the last connection closed (consumer idle expiry). */
  idleSince: number | undefined;
  constructor(
    readonly botId: string,
    readonly userId: string,
  ) {}
}

/** The SSE hub: event logs, bot sessions and connections. */
export class SseHub {
  readonly #clock: Clock;
  readonly #timings: EmulatorTimings;
  readonly #state: WorldState;
  readonly #spaceLogs = new Map<string, EventLog>();
  readonly #directLogs = new Map<string, EventLog>();
  readonly #sessions = new Map<string, BotSession>();

  constructor(clock: Clock, timings: EmulatorTimings, state: WorldState) {
    this.#clock = clock;
    this.#timings = timings;
    this.#state = state;
  }

  #spaceLog(spaceId: string): EventLog {
    let l = this.#spaceLogs.get(spaceId);
    if (!l) this.#spaceLogs.set(spaceId, (l = new EventLog(5000)));
    return l;
  }

  #directLog(botId: string): EventLog {
    let l = this.#directLogs.get(botId);
    if (!l) this.#directLogs.set(botId, (l = new EventLog(1000)));
    return l;
  }

  /** Publishes a space-scoped event; it reaches every bot in the space (§R5.6). */
  publishSpace(spaceId: string, type: string, payload: unknown): void {
    this.#spaceLog(spaceId).push(type, payload, this.#clock.now(), this.#timings.replayMs);
  }

  /** Publishes a bot-direct event (calls, bot lifecycle). */
  publishDirect(botId: string, type: string, payload: unknown): void {
    this.#directLog(botId).push(type, payload, this.#clock.now(), this.#timings.replayMs);
  }

  /** True while the bot has at least one open stream (call presence, §R6.1). */
  isConnected(botId: string): boolean {
    return (this.#sessions.get(botId)?.connections.size ?? 0) > 0;
  }

  /** Open stream count for a bot. */
  connectionCount(botId: string): number {
    return this.#sessions.get(botId)?.connections.size ?? 0;
  }

  /**
   * Starts a stream on `res` (headers, `ready`, delivery loop). `release` returns the
   * concurrency permit when the stream ends.
   */
  connect(bot: { botId: string; userId: string }, intents: bigint, res: ServerResponse, release: () => void): void {
    const now = this.#clock.now();
    let s = this.#sessions.get(bot.botId);
    if (!s) this.#sessions.set(bot.botId, (s = new BotSession(bot.botId, bot.userId)));
    if (s.connections.size === 0 && s.idleSince !== undefined && now - s.idleSince >= this.#timings.consumerIdleMs) {
      s.cursors.clear();
      s.directCursor = undefined;
    }
    // One logical session per bot: a connect re-initialises it (intents replaced, delivery on).
    s.intents = intents;
    s.active = true;
    s.idleSince = undefined;
    this.#ensureCursors(s);
    const conn = new SseConnection(res, s, now, release);
    s.connections.add(conn);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache,no-store',
      Pragma: 'no-cache',
      'Content-Encoding': 'identity',
    });
    res.socket?.setNoDelay(true);
    const spaces = this.#state.spacesOf(bot.userId).map((sp) => ({
      spaceId: sp.spaceId,
      grantedEntitlements: sp.members.get(bot.userId)?.entitlements ?? 0n,
      pendingApproval: false,
    }));
    res.write(formatSseEvent('ready', { intents, spaces }, 'ready'));
    const onClose = (): void => this.#onClose(conn);
    res.on('close', onClose);
    res.socket?.on('error', () => undefined);
    // The client may already be gone (its 'close' fired before we listened).
    if (!res.socket || res.socket.destroyed) {
      this.#onClose(conn);
      return;
    }
    for (const sp of this.#state.spacesOf(bot.userId)) {
      this.#presence(sp.spaceId, bot.userId, 1);
      const m = sp.members.get(bot.userId);
      if (m && (m.requiredEntitlements & ~m.entitlements) !== 0n) {
        this.publishDirect(bot.botId, 'botEntitlementsUpdated', {
          spaceId: sp.spaceId,
          requiredEntitlements: m.requiredEntitlements,
          grantedEntitlements: m.entitlements,
        });
      }
    }
    this.#schedule(conn);
  }

  #presence(spaceId: string, userId: string, status: number): void {
    const u = this.#state.users.get(userId);
    if (!u) return;
    this.publishSpace(spaceId, 'presenceUpdate', { spaceId, user: userDto(u), presence: { status, activity: null } });
  }

  #ensureCursors(s: BotSession): void {
    for (const sp of this.#state.spacesOf(s.userId)) {
      if (!s.cursors.has(sp.spaceId)) s.cursors.set(sp.spaceId, this.#spaceLog(sp.spaceId).lastSeq);
    }
    if (s.directCursor === undefined) s.directCursor = this.#directLog(s.botId).lastSeq;
  }

  #schedule(conn: SseConnection): void {
    if (conn.closed) return;
    conn.timer = this.#clock.setTimeout(() => this.#tick(conn), this.#timings.sseBatchMs);
  }

  #tick(conn: SseConnection): void {
    if (conn.closed) return;
    const now = this.#clock.now();
    const s = conn.session;
    if (!conn.stalled) {
      let out = '';
      if (s.active) {
        this.#ensureCursors(s);
        let budget = this.#timings.sseBatchSize;
        const take = (log: EventLog, cursor: number, idFor: (seq: number) => string): number => {
          for (const e of log.events) {
            if (budget <= 0) break;
            if (e.seq <= cursor) continue;
            cursor = e.seq; // at-most-once: acknowledged when fetched
            budget--;
            if (e.at < now - this.#timings.replayMs) continue;
            const bit = EVENT_INTENTS[e.type] ?? 0n;
            if (bit !== 0n && (s.intents & bit) === 0n) continue;
            out += formatSseEvent(e.type, e.payload, idFor(e.seq));
          }
          return cursor;
        };
        for (const [spaceId, cursor] of s.cursors) {
          if (!this.#state.isMember(spaceId, s.userId)) continue;
          const hex = guidHex(spaceId);
          s.cursors.set(
            spaceId,
            take(this.#spaceLog(spaceId), cursor, (seq) => `${hex}_${seq}`),
          );
        }
        s.directCursor = take(this.#directLog(s.botId), s.directCursor ?? 0, (seq) => `direct_${seq}`);
      }
      if (conn.res.writableLength > MAX_BUFFERED_BYTES) {
        // Drop policy: a client that stopped reading is disconnected rather than buffered forever.
        conn.res.destroy();
        return;
      }
      if (out) {
        conn.res.write(out);
        conn.lastWriteAt = now;
      } else if (now - conn.lastWriteAt >= this.#timings.heartbeatMs) {
        const cursor = [...s.cursors].filter(([, seq]) => seq > 0).map(([sp, seq]) => `${guidHex(sp)}:${seq}`);
        const wall = this.#state.wallNow();
        conn.res.write(
          formatSseEvent(
            'heartbeat',
            { timestamp: Math.floor(wall) - ARGON_EPOCH_MS },
            cursor.length ? cursor.join(',') : '0',
          ),
        );
        conn.lastWriteAt = now;
      }
    }
    this.#schedule(conn);
  }

  #onClose(conn: SseConnection): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#clock.clearTimeout(conn.timer);
    conn.release();
    const s = conn.session;
    s.connections.delete(conn);
    // Any close stops delivery for every connection of the bot until the next connect (§R5.5).
    s.active = false;
    if (s.connections.size === 0) {
      s.idleSince = this.#clock.now();
      for (const sp of this.#state.spacesOf(s.userId)) this.#presence(sp.spaceId, s.userId, 0);
    }
  }

  /**
   * Fault injection (§ emulator control API): `drop` destroys the sockets, `stall` stops writing
   * (events stay queued, no heartbeats), `zombie` stops delivery but keeps heartbeats.
   */
  fault(kind: 'drop' | 'stall' | 'zombie', botId?: string): void {
    for (const s of this.#sessions.values()) {
      if (botId !== undefined && s.botId !== botId) continue;
      if (kind === 'zombie') s.active = false;
      for (const c of [...s.connections]) {
        if (kind === 'drop') c.res.destroy();
        else if (kind === 'stall') c.stalled = true;
      }
    }
  }

  /** Ends every stream and clears every timer. */
  closeAll(): void {
    for (const s of this.#sessions.values()) {
      for (const c of [...s.connections]) {
        this.#onClose(c);
        c.res.destroy();
      }
    }
  }
}

/** BotUserV1 (§R5.6). */
export function userDto(u: {
  userId: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  flags: number;
  locale: string | null;
}): Record<string, unknown> {
  return {
    userId: u.userId,
    username: u.username,
    displayName: u.displayName,
    avatarUrl: u.avatarUrl,
    flags: u.flags,
    locale: u.locale,
  };
}
