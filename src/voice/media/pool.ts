/**
 * `MediaWorkerPool`: the media worker threads shared by every player in the process (default
 * one per core beyond the first, at most 4, at least 1). A player gets a lane on the least
 * loaded worker; the lane reads, decodes, mixes and encodes its tracks there and feeds the pacer
 * thread directly (see `protocol.ts` for the picture).
 *
 * Ownership: the pool owns the workers; a {@link MediaLaneHandle} owns its lane (and the pacer
 * port transferred into it) and is closed by its player. A worker that dies ends every lane it
 * held with a {@link MediaWorkerError} (the players report it on the tracks and go on) and is
 * started again at once, so the next track plays on a fresh thread.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { MediaWorkerError } from '../../errors.js';
import type { LaneLink, LaneOptions, LaneTrackSpec, MediaReply, MediaRequest } from './protocol.js';

/** What a lane's owner hears from it. */
export interface LaneClient {
  /** An event of the lane (started, position, ended, error, idle, invalid, closed). */
  onReply(reply: MediaReply): void;
  /** The worker holding the lane died; the lane is gone. */
  onCrash(error: MediaWorkerError): void;
}

interface Slot {
  worker: Worker | undefined;
  lanes: Map<number, LaneClient>;
  exiting: boolean;
  /** Ends the worker after it held no lane for {@link MediaWorkerPoolOptions.idleMs}. */
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Builds a media worker. From `dist/` the compiled entry loads directly; from TypeScript
 * sources (tests, `tsx`) a two-line bootstrap registers tsx's loader in the thread first.
 */
function spawnMediaWorker(): Worker {
  const here = import.meta.url;
  const name = 'argon-voice-media';
  if (!here.endsWith('.ts')) {
    return new Worker(new URL('./media-worker.js', here), { workerData: { argonVoiceMedia: true }, name });
  }
  const require = createRequire(here);
  const tsxRoot = require.resolve('tsx/package.json').replace(/package\.json$/, '');
  const tsxApi = pathToFileURL(join(tsxRoot, 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./media-worker.ts', here).href;
  const boot = `(async () => {
    const { workerData } = require('node:worker_threads');
    const api = await import(workerData.tsxApi);
    api.register();
    await import(workerData.entry);
  })().catch((e) => setImmediate(() => { throw e; }));`;
  return new Worker(boot, { eval: true, workerData: { argonVoiceMedia: true, tsxApi, entry }, name });
}

/** Options of {@link MediaWorkerPool}. */
export interface MediaWorkerPoolOptions {
  /** Worker threads (default: cores − 1, clamped to 1…4). */
  size?: number;
  /**
   * A worker that holds no lane for this long is ended (default 5000 ms), so an idle bot keeps no
   * thread (and its file descriptors) around; the next track starts a new one.
   */
  idleMs?: number;
}

/**
 * The media worker threads of the process. Most code uses {@link MediaWorkerPool.shared}.
 */
export class MediaWorkerPool {
  static #shared: MediaWorkerPool | undefined;
  /** The process-wide pool. */
  static shared(): MediaWorkerPool {
    MediaWorkerPool.#shared ??= new MediaWorkerPool();
    return MediaWorkerPool.#shared;
  }

  /** Number of worker threads the pool runs at most. */
  readonly size: number;
  readonly #slots: Slot[];
  readonly #idleMs: number;
  #nextLane = 1;
  #closed = false;
  #restarts = 0;
  #holds = 0;

  /** A pool of `size` workers, started on demand. */
  constructor(options: MediaWorkerPoolOptions = {}) {
    this.size = Math.max(1, Math.floor(options.size ?? Math.min(4, Math.max(1, availableParallelism() - 1))));
    this.#idleMs = Math.max(0, options.idleMs ?? 5000);
    this.#slots = Array.from({ length: this.size }, () => ({
      worker: undefined,
      lanes: new Map(),
      exiting: false,
      idleTimer: undefined,
    }));
  }

  /** Workers that died and were started again. */
  get restarts(): number {
    return this.#restarts;
  }

  /** Worker threads running now. */
  get threads(): number {
    return this.#slots.filter((s) => s.worker !== undefined).length;
  }

  /** Lanes open on each worker. */
  get load(): number[] {
    return this.#slots.map((s) => s.lanes.size);
  }

  /** Starts the first worker now (a player calls this so its first track does not wait for a thread to boot). */
  warm(): void {
    if (!this.#closed) this.#ensure(this.#slots[0]!);
  }

  /**
   * Keeps the first worker running while the hold lasts, even with no lane (no idle end), so a
   * process that expects work at any moment (a cluster voice worker taking over spaces) does not
   * boot a thread on the critical path. The thread stays unreferenced while idle. Returns the
   * release function (idempotent).
   */
  hold(): () => void {
    if (this.#closed) return () => {};
    this.#holds++;
    const slot = this.#slots[0]!;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    this.#ensure(slot);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      if (this.#holds === 0 && slot.lanes.size === 0) this.#idle(slot);
    };
  }

  #ensure(slot: Slot): Worker {
    if (slot.worker) return slot.worker;
    const w = spawnMediaWorker();
    slot.worker = w;
    slot.exiting = false;
    w.on('message', (m: MediaReply) => {
      if (slot.worker !== w) return;
      slot.lanes.get(m.lane)?.onReply(m);
      if (m.t === 'closed') this.#release(slot, m.lane);
    });
    // 'error' (an uncaught exception in the thread) is followed by 'exit': both end the lanes once.
    let reason: Error | undefined;
    w.on('error', (err) => {
      reason = err;
    });
    w.on('exit', (code) => {
      if (slot.worker !== w) return;
      slot.worker = undefined;
      if (slot.exiting) return;
      const lanes = [...slot.lanes.values()];
      slot.lanes.clear();
      if (this.#closed) return;
      this.#restarts++;
      const err = new MediaWorkerError(
        `the media worker thread died (${reason ? reason.message : `exit code ${code}`}); its tracks were ended and a new worker was started`,
        { cause: reason },
      );
      for (const c of lanes) c.onCrash(err);
      this.#ensure(slot);
    });
    // After the listeners (adding a 'message' listener refs the worker again): a thread with no
    // lane must not keep the process alive.
    if (slot.lanes.size === 0) this.#idle(slot);
    return w;
  }

  #release(slot: Slot, lane: number): void {
    slot.lanes.delete(lane);
    if (slot.lanes.size === 0) this.#idle(slot);
  }

  /** No lane on `slot`: let the process exit past it, and end it after `idleMs`. */
  #idle(slot: Slot): void {
    const w = slot.worker;
    if (!w) return;
    w.unref();
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    if (this.#holds > 0 && slot === this.#slots[0]) return;
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.worker !== w || slot.lanes.size > 0) return;
      slot.exiting = true;
      slot.worker = undefined;
      void w.terminate();
    }, this.#idleMs);
    slot.idleTimer.unref();
  }

  /**
   * Opens a lane feeding `link`'s pacer stream on the least loaded worker.
   * @throws MediaWorkerError after {@link close}.
   */
  openLane(link: LaneLink, options: LaneOptions, client: LaneClient): MediaLaneHandle {
    if (this.#closed) throw new MediaWorkerError('the media worker pool is closed');
    let slot = this.#slots[0]!;
    for (const s of this.#slots) if (s.lanes.size < slot.lanes.size) slot = s;
    const w = this.#ensure(slot);
    const lane = this.#nextLane++;
    slot.lanes.set(lane, client);
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    w.ref();
    w.postMessage({ t: 'open', lane, link, options } satisfies MediaRequest, [link.port]);
    return new MediaLaneHandle(lane, (m) => {
      if (slot.worker === w && slot.lanes.has(lane)) w.postMessage(m);
    });
  }

  /** @internal Makes every worker that holds a lane throw an uncaught error (tests of crash handling). */
  crashForTest(): void {
    for (const s of this.#slots) if (s.lanes.size > 0) s.worker?.postMessage({ t: 'crash-for-test' });
  }

  /** Terminates every worker (their lanes end as crashed only if still open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#slots.map(async (s) => {
        const w = s.worker;
        s.exiting = true;
        s.worker = undefined;
        if (s.idleTimer) clearTimeout(s.idleTimer);
        s.idleTimer = undefined;
        const lanes = [...s.lanes.values()];
        s.lanes.clear();
        for (const c of lanes) c.onCrash(new MediaWorkerError('the media worker pool was closed'));
        if (w) await w.terminate();
      }),
    );
    if (MediaWorkerPool.#shared === this) MediaWorkerPool.#shared = undefined;
  }
}

/** The main thread's handle on one lane: controls go out, events come back through its {@link LaneClient}. */
export class MediaLaneHandle {
  /** Lane id (unique in its pool). */
  readonly id: number;
  readonly #send: (m: MediaRequest) => void;
  #closed = false;

  /** @internal */
  constructor(id: number, send: (m: MediaRequest) => void) {
    this.id = id;
    this.#send = send;
  }

  /** Queues a track in the lane. */
  play(track: LaneTrackSpec): void {
    if (!this.#closed) this.#send({ t: 'play', lane: this.id, track });
  }

  /** Sends a control. */
  control(t: 'pause' | 'resume' | 'skip' | 'stop'): void {
    if (!this.#closed) this.#send({ t, lane: this.id });
  }

  /** Restarts the current track at `ms`. */
  seek(ms: number): void {
    if (!this.#closed) this.#send({ t: 'seek', lane: this.id, ms });
  }

  /** New gain. */
  volume(volume: number): void {
    if (!this.#closed) this.#send({ t: 'volume', lane: this.id, volume });
  }

  /** Closes the lane (its tracks end `stopped`); the `closed` reply follows. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#send({ t: 'close', lane: this.id });
    this.#closed = true;
  }
}
