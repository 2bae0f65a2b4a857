/**
 * A player for one space of the cluster with the shape of {@link AudioPlayer} (`play`, `skip`,
 * `stop`, `pause`, `resume`, `volume`, `queue`, `state`, `playing`/`idle` events), so code written
 * for the local player can drive a space that plays on whichever worker holds it.
 *
 * ```
 * play(input) ─► Track (pending, local) ─► cmd.<space> {op:'play'} (serialized) ─► holder's queue
 * status.<worker> heartbeats for this space ─► current title changed? ─► previous playout resolves,
 *                                                                         'playing'(next track)
 * ```
 * The mirror follows the holder's heartbeats, which go out at every track change (and every
 * second), so `playing` and `idle` come one NATS hop late. Tracks are matched by title in queue
 * order; a track no heartbeat showed is resolved `finished` when a later one starts.
 * @packageDocumentation
 */
import { ClosedError, InvalidInputError } from '../errors.js';
import { TypedEmitter } from '../util/emitter.js';
import type { AudioPlayerEvents, AudioPlayerState, PlayoutResult, Track } from '../voice/player.js';
import type { ClusterClient } from './client.js';
import { clusterNames } from './names.js';
import type { NatsConnection } from './nats.js';
import { type ClusterCommand, parseWorkerStatus } from './wire.js';

/** Options of {@link ClusterPlayer}. */
export interface ClusterPlayerOptions {
  nats: NatsConnection;
  client: ClusterClient;
  botId: string;
  spaceId: string;
  /** Voice channel to start the space in. */
  channelId: string;
  /** Initial volume (sent with the first command). */
  volume?: number | undefined;
  /** Deadline of each command (default 20 s). */
  commandTimeoutMs?: number | undefined;
}

interface Entry extends Track {
  resolve(r: PlayoutResult): void;
}

/** A remote, AudioPlayer-shaped player for one space of the cluster. */
export class ClusterPlayer extends TypedEmitter<AudioPlayerEvents> {
  readonly #o: ClusterPlayerOptions;
  readonly #sub: { unsubscribe(): void };
  #state: AudioPlayerState = { status: 'idle', sinceMs: performance.now() };
  #current: Entry | undefined;
  readonly #queue: Entry[] = [];
  #ids = 0;
  #volume: number;
  #chain: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** After stop(): heartbeats still showing the old track are ignored until the next play(). */
  #stopped = false;

  constructor(options: ClusterPlayerOptions) {
    super();
    this.#o = options;
    this.#volume = options.volume ?? 1;
    const names = clusterNames(options.botId);
    this.#sub = options.nats.subscribe(names.statusAll, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const st = parseWorkerStatus(msg.data);
          const mine = st.spaces.find((s) => s.spaceId === options.spaceId);
          if (mine) this.#observe(mine.status, mine.title);
        } catch {
          /* a malformed heartbeat is ignored */
        }
      },
    });
  }

  /** Current state (as last reported by the holder). */
  get state(): AudioPlayerState {
    return this.#state;
  }

  /** Tracks queued through this player and not started yet. */
  get queue(): readonly Track[] {
    return this.#queue;
  }

  get volume(): number {
    return this.#volume;
  }

  set volume(v: number) {
    if (!(v >= 0 && v <= 2)) throw new InvalidInputError(`volume must be 0..2, got ${v}`);
    this.#volume = v;
    this.#send({ op: 'volume', volume: v });
  }

  #setState(next: AudioPlayerState): void {
    const old = this.#state;
    if (old.status === 'closed') return;
    this.#state = next;
    this.emit('stateChange', old, next);
  }

  #observe(status: string, title: string | undefined): void {
    if (this.#closed || this.#stopped) return;
    // `starting`: the holder's connection is not ready yet, but the track is its current one.
    if ((status === 'playing' || status === 'paused' || status === 'starting') && title !== undefined) {
      if (this.#current?.title !== title) {
        this.#current?.resolve({ status: 'finished', frames: 0 });
        const i = this.#queue.findIndex((t) => t.title === title);
        // Tracks queued before it that no heartbeat showed playing (short ones) are over too.
        for (const t of i > 0 ? this.#queue.splice(0, i) : []) t.resolve({ status: 'finished', frames: 0 });
        const next = i >= 0 ? this.#queue.splice(0, 1)[0]! : this.#adopt(title);
        this.#current = next;
        this.#setState({ status: 'playing', track: next });
        this.emit('playing', next);
      }
      if (status === 'paused' && this.#state.status === 'playing')
        this.#setState({ status: 'paused', track: this.#current! });
      if (status === 'playing' && this.#state.status === 'paused')
        this.#setState({ status: 'playing', track: this.#current! });
    } else if (status === 'idle' && this.#current) {
      this.#current.resolve({ status: 'finished', frames: 0 });
      this.#current = undefined;
      this.#setState({ status: 'idle', sinceMs: performance.now() });
      this.emit('idle');
    }
  }

  /** A track the holder plays that was not queued through this player (another client's). */
  #adopt(title: string): Entry {
    return this.#entry(title);
  }

  #entry(title: string): Entry {
    let resolve!: (r: PlayoutResult) => void;
    const playout = new Promise<PlayoutResult>((r) => {
      resolve = r;
    });
    return { id: ++this.#ids, title, playout, resolve };
  }

  #send(cmd: ClusterCommand): Promise<unknown> {
    const run = () =>
      this.#o.client.command(this.#o.spaceId, cmd, {
        channelId: this.#o.channelId,
        timeoutMs: this.#o.commandTimeoutMs ?? 20_000,
      });
    const p = this.#chain.then(run, run);
    this.#chain = p.catch(() => undefined);
    return p;
  }

  /**
   * Queues `input` (a path or URL every worker can open) on the space; resolves at once with the
   * track. A command that fails emits `error` with the track.
   * @throws ClosedError after close(); InvalidInputError for a non-string input.
   */
  play(input: string, options: { title?: string } = {}): Track {
    if (this.#closed) throw new ClosedError('the cluster player is closed');
    if (typeof input !== 'string' || !input) throw new InvalidInputError('a cluster player plays paths or URLs');
    const entry = this.#entry(options.title ?? input);
    this.#stopped = false;
    this.#queue.push(entry);
    if (this.#volume !== 1 && this.#ids === 1)
      void this.#send({ op: 'volume', volume: this.#volume }).catch(() => undefined);
    this.#send({ op: 'play', input, title: entry.title }).catch((e: Error) => {
      const i = this.#queue.indexOf(entry);
      if (i >= 0) this.#queue.splice(i, 1);
      entry.resolve({ status: 'stopped', frames: 0 });
      if (this.listenerCount('error') > 0) this.emit('error', e, entry);
    });
    return entry;
  }

  /** Skips the current track on the holder. */
  skip(): boolean {
    if (!this.#current) return false;
    this.#current.resolve({ status: 'stopped', frames: 0 });
    void this.#send({ op: 'skip' }).catch(() => undefined);
    return true;
  }

  pause(): boolean {
    if (this.#state.status !== 'playing') return false;
    void this.#send({ op: 'pause' }).catch(() => undefined);
    return true;
  }

  resume(): boolean {
    if (this.#state.status !== 'paused') return false;
    void this.#send({ op: 'resume' }).catch(() => undefined);
    return true;
  }

  /** Stops the space: the holder leaves the channel and the space becomes inactive. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#queue.splice(0)) t.resolve({ status: 'stopped', frames: 0 });
    this.#current?.resolve({ status: 'stopped', frames: 0 });
    this.#current = undefined;
    await this.#send({ op: 'stop' }).catch(() => undefined);
  }

  /** Stops the space and stops following it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stop();
    this.#closed = true;
    this.#sub.unsubscribe();
    this.#setState({ status: 'closed' });
  }
}
