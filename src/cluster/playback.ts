/**
 * The voice session a worker runs for a space it holds: a {@link VoiceConnection} and an
 * {@link AudioPlayer} playing the space's queue, started where the previous holder left off.
 *
 * ```
 * SpaceState { current: track @ positionMs, queue } ─► play(current, seekMs = positionMs), play(queue...)
 * position = seek of the current track + time it has been playing on a ready connection
 * ```
 * The position is counted on the session's clock while the player plays and the connection is
 * ready (the pacer sends one frame per slot then), so it does not depend on where the player
 * prepares its frames (main thread or a media worker).
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type StreamTokenApi, VoiceConnection, type VoiceConnectionOptions } from '../voice/connection.js';
import { AudioPlayer, type AudioPlayerOptions, type Track } from '../voice/player.js';
import type { ClusterCommand, SpaceState, SpaceStatus, TrackRef } from './wire.js';

/** Events of a {@link SpaceSession}. */
export type SpaceSessionEvents = {
  /** The current track or the queue changed (persist soon). */
  change: [];
  /** The voice connection closed for good; the worker gives the space up. */
  failed: [error: Error];
};

/** What a worker runs for a space it holds. */
export interface SpaceSession extends TypedEmitter<SpaceSessionEvents> {
  /** What to persist: current track with its position, queue, volume, paused. */
  snapshot(nowWallMs: number): Pick<SpaceState, 'current' | 'queue' | 'volume' | 'paused'>;
  /** What to report in heartbeats. */
  status(): SpaceStatus;
  /** Applies a command (not `stop`: the worker handles that); resolves with a reply line. */
  command(cmd: Exclude<ClusterCommand, { op: 'stop' }>): string;
  /** Stops at once: drops the socket (fencing). Idempotent. */
  destroy(): void;
  /** Stops cleanly. Idempotent. */
  close(): Promise<void>;
}

/** What a session factory gets. */
export interface SpaceSessionContext {
  state: SpaceState;
  workerId: string;
  log: (line: string) => void;
  clock?: Clock | undefined;
}

/** Options of {@link PlaybackSession}. */
export interface PlaybackSessionOptions {
  /** REST client of the bot (IVoice StreamToken). */
  rest: StreamTokenApi;
  /** Gateway base replacing StreamToken's ingressUrl. */
  gatewayUrl?: string | undefined;
  /** More connection options (pacer, reconnect, timeouts). */
  connection?: Partial<Omit<VoiceConnectionOptions, 'spaceId' | 'channelId' | 'rest'>> | undefined;
  /** More player options (crossfade, createSource). */
  player?: Omit<AudioPlayerOptions, 'volume'> | undefined;
}

/** The default {@link SpaceSession}: a queue played through an AudioPlayer. */
export class PlaybackSession extends TypedEmitter<SpaceSessionEvents> implements SpaceSession {
  readonly spaceId: string;
  readonly connection: VoiceConnection;
  readonly player: AudioPlayer;
  readonly #refs = new Map<Track, TrackRef & { seekMs: number }>();
  readonly #log: (line: string) => void;
  readonly #clock: Clock;
  #current: (TrackRef & { seekMs: number }) | undefined;
  /** Playing time of the current track before `#since`, and when the running stretch began. */
  #playedMs = 0;
  #since: number | undefined;
  #closed = false;

  constructor(ctx: SpaceSessionContext, options: PlaybackSessionOptions) {
    super();
    const s = ctx.state;
    this.spaceId = s.spaceId;
    this.#log = ctx.log;
    this.#clock = ctx.clock ?? systemClock;
    this.connection = new VoiceConnection({
      ...options.connection,
      rest: options.rest,
      spaceId: s.spaceId,
      channelId: s.channelId,
      ...(options.gatewayUrl ? { gatewayUrl: options.gatewayUrl } : {}),
    });
    this.connection.on('error', () => undefined); // kept in the closed state
    const t0 = this.#clock.now();
    this.connection.on('stateChange', (_o, n) => {
      this.#log(`${s.spaceId}: voice ${n.status} after ${Math.round(this.#clock.now() - t0)} ms`);
      this.#account();
      if (n.status === 'closed' && !this.#closed) {
        this.emit('failed', n.reason ?? new InvalidInputError('the voice connection closed'));
      }
    });
    this.player = new AudioPlayer(this.connection, { ...options.player, volume: s.volume });
    this.player.on('stateChange', () => this.#account());
    this.player.on('playing', (t) => {
      this.#log(`${s.spaceId}: playing ${t.title} after ${Math.round(this.#clock.now() - t0)} ms`);
      this.#current = this.#refs.get(t);
      this.#playedMs = 0;
      this.#since = undefined;
      this.#account();
      this.emit('change');
    });
    this.player.on('idle', () => {
      this.#current = undefined;
      this.emit('change');
    });
    this.player.on('error', (err, t) => this.#log(`${s.spaceId}: could not play ${t.title}: ${err.message}`));
    if (s.current) this.#enqueue(s.current.track, s.current.positionMs);
    for (const t of s.queue) this.#enqueue(t, 0);
    if (s.paused) this.player.pause();
  }

  #enqueue(ref: TrackRef, seekMs: number): void {
    const track = this.player.play(ref.input, { title: ref.title, ...(seekMs > 0 ? { seekMs } : {}) });
    this.#refs.set(track, { ...ref, seekMs });
    track.playout.then(
      () => this.#refs.delete(track),
      () => this.#refs.delete(track),
    );
  }

  /** Starts or ends a running stretch when the player or the connection changes state. */
  #account(): void {
    const now = this.#clock.now();
    const running = this.connection.state.status === 'ready' && this.player.state.status === 'playing';
    if (this.#since !== undefined && !running) {
      this.#playedMs += now - this.#since;
      this.#since = undefined;
    } else if (this.#since === undefined && running) {
      this.#since = now;
    }
  }

  /** Position of the current track in ms, or undefined when nothing plays. */
  positionMs(): number | undefined {
    const cur = this.#current;
    if (!cur) return undefined;
    const run = this.#since === undefined ? 0 : this.#clock.now() - this.#since;
    return Math.round(cur.seekMs + this.#playedMs + run);
  }

  snapshot(nowWallMs: number): Pick<SpaceState, 'current' | 'queue' | 'volume' | 'paused'> {
    const cur = this.#current;
    const queue = this.player.queue
      .map((t) => this.#refs.get(t))
      .filter((r): r is TrackRef & { seekMs: number } => !!r);
    return {
      current: cur
        ? {
            track: { id: cur.id, input: cur.input, title: cur.title },
            positionMs: this.positionMs() ?? 0,
            reportedAtMs: nowWallMs,
          }
        : undefined,
      queue: queue.map((r) => ({ id: r.id, input: r.input, title: r.title })),
      volume: this.player.volume,
      paused: this.player.state.status === 'paused',
    };
  }

  status(): SpaceStatus {
    const st = this.player.state.status;
    const ready = this.connection.state.status === 'ready';
    return {
      spaceId: this.spaceId,
      status: !ready ? 'starting' : st === 'playing' ? 'playing' : st === 'paused' ? 'paused' : 'idle',
      title: this.#current?.title,
      positionMs: this.positionMs(),
      framesSent: this.connection.metrics.framesSent ?? 0,
    };
  }

  command(cmd: Exclude<ClusterCommand, { op: 'stop' }>): string {
    switch (cmd.op) {
      case 'play': {
        const busy = this.#current !== undefined || this.player.queue.length > 0;
        this.#enqueue({ id: randomUUID(), input: cmd.input, title: cmd.title ?? cmd.input }, 0);
        this.emit('change');
        return busy
          ? `Queued ${cmd.title ?? cmd.input} (#${this.player.queue.length})`
          : `Playing ${cmd.title ?? cmd.input}`;
      }
      case 'skip': {
        const cur = this.#current;
        if (!cur || !this.player.skip()) return 'Nothing is playing';
        return `Skipped ${cur.title}`;
      }
      case 'pause':
        return this.player.pause() ? 'Paused' : 'Nothing is playing';
      case 'resume':
        return this.player.resume() ? 'Resumed' : 'Not paused';
      case 'volume':
        this.player.volume = cmd.volume;
        this.emit('change');
        return `Volume ${Math.round(cmd.volume * 100)} %`;
      case 'queue': {
        const q = this.player.queue.map((t) => t.title);
        return [
          this.#current ? `Now playing: ${this.#current.title}` : 'Nothing is playing',
          ...q.map((t, i) => `${i + 1}. ${t}`),
        ].join('\n');
      }
    }
  }

  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Socket first: the gateway must stop hearing this worker before the lease can pass on.
    this.connection.destroy();
    void this.player.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.player.close().catch(() => undefined);
    await this.connection.close();
  }
}
