/**
 * `FramePacer`: sends prepared frames at an absolute 20 ms (or other) cadence, off the main thread.
 *
 * ```
 *   main thread (producer)                      pacer thread (PacerThread worker)
 *   ─────────────────────                       ─────────────────────────────────
 *   source → validate → enqueue() ──postMessage──► PacerStream queue (3–5 frames)
 *            ▲ awaits room (Atomics.waitAsync)      │ FrameSchedule.next(now)
 *            └──────────── consumed[id] (SAB) ◄─────┤ sleep: setTimeout → Atomics.wait/native → spin
 *   events ◄──── socket events (ready, close) ──────┤ SocketLink: ws.send(frame)   (owns the socket)
 * ```
 * The timing loop and the socket writes share one thread that nothing else runs on, so a stall
 * of the main event loop (GC, a slow listener, a sync file read) delays the producer, which is
 * ahead by the queue depth, but never the sends: the issue measured a 100 ms main-thread stall
 * turning into a 120 ms gap plus a 15-frame burst with a main-thread scheduler.
 * `mode: 'main'` runs the same {@link PacerStream} on the event loop for environments without
 * workers, and for tests with a {@link ManualClock}.
 * @packageDocumentation
 */
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import WebSocket from 'ws';
import { nativeAddonPath } from '../codec/native.js';
import { AbortError, ClosedError, InvalidInputError, TimeoutError } from '../errors.js';
import { waitForChange } from '../util/atomics.js';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { SampleWindow } from '../util/stats.js';
import { emptyCounters, type PacerMetrics, type PacerRuntime, publishPacerMetrics } from './metrics.js';
import {
  PacerStream,
  type PacerStreamCounters,
  type SocketEvent,
  SocketLink,
  type SocketLinkOptions,
} from './pacer-core.js';
import {
  type PacerWorkerData,
  type PacerWorkerReply,
  type PacerWorkerRequest,
  pacerWorkerSource,
} from './pacer-worker-source.js';
import { FrameSchedule, type FrameScheduleOptions, type LatePolicy } from './schedule.js';

const MAX_STREAMS = 4096;

/** Options of {@link FramePacer}. */
export interface FramePacerOptions {
  /** Duration of every frame (integer ms on the gateway). */
  frameDurationMs: number;
  /** Late policy (default `'skip'`, right for live audio). */
  latePolicy?: LatePolicy;
  /** Frames prepared ahead (default 4; 3–5 keeps latency low and survives a 60–80 ms producer stall). */
  queueFrames?: number;
  /** Lateness above which a frame is handled by the policy (default half a frame). */
  maxLateMs?: number;
  /** `burst`: most late frames sent back to back (default 10). */
  maxBurst?: number;
  /** `'auto'` (default): worker thread, main thread if workers are unavailable. */
  mode?: 'auto' | 'worker' | 'main';
  /** Ask for SCHED_FIFO on the pacer thread through the native addon (default true; falls back quietly). */
  realtimePriority?: boolean;
  /** Clock of the main-thread mode (tests drive it with a ManualClock). Ignored in worker mode. */
  clock?: Clock;
  /** Thread to run on (default: the process-wide shared pacer thread). */
  thread?: PacerThread;
}

/** Options of {@link FramePacer.connect}. */
export interface PacerSocketOptions {
  /** Full `ws://` URL (token included when it travels in the query). */
  url: string;
  /** Extra upgrade headers (e.g. `Authorization: Bearer`). */
  headers?: Record<string, string>;
  /** Upgrade deadline (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Client ping period for dead-socket detection (default 15 s; 0 disables). */
  pingIntervalMs?: number;
  /** Unanswered ping deadline (default 10 s). */
  pongTimeoutMs?: number;
  /**
   * Send-buffer bound (default 64 KiB, a few seconds of audio). When the network is slower than
   * real time and `bufferedAmount` is over it, due frames are dropped (counted as `networkDrops`)
   * instead of queued: the timeline is kept, so audio resumes in sync once the network catches up.
   */
  maxBufferedBytes?: number;
}

/**
 * @internal How a producer on another thread feeds a worker-mode pacer stream: post
 * {@link PacerWorkerRequest} `frame` messages for `streamId` on `port` after bumping
 * `pushed[streamId]` (Int32, Atomics), and keep `pushed − consumed ≤ capacity`.
 */
export interface PacerProducerLink {
  /** Port into the pacer thread (transfer it to the producer's thread). */
  port: MessagePort;
  /** The stream's id on the pacer thread. */
  streamId: number;
  /** Int32 counters per stream id: frames consumed by the pacer. */
  consumed: SharedArrayBuffer;
  /** Int32 counters per stream id: frames posted by any producer. */
  pushed: SharedArrayBuffer;
  /** The stream's queue bound. */
  capacity: number;
  /** Duration of every frame. */
  frameDurationMs: number;
}

/** Events of {@link FramePacer}. */
export type FramePacerEvents = {
  /** Something happened on the pacer-owned socket. */
  socket: [event: SocketEvent];
  /** A metrics snapshot arrived from the pacer thread. */
  metrics: [metrics: PacerMetrics];
};

interface ThreadClient {
  onSocket(ev: SocketEvent): void;
  onMetrics(snap: PacerStreamCounters, req?: number): void;
  onThreadError(err: Error): void;
}

/**
 * One worker thread that paces any number of streams (and owns their sockets). Reference
 * counted: the worker starts with the first stream and exits with the last one.
 */
export class PacerThread {
  static #shared: PacerThread | undefined;
  /** The process-wide thread used by default. */
  static shared(): PacerThread {
    PacerThread.#shared ??= new PacerThread();
    return PacerThread.#shared;
  }

  #worker: Worker | undefined;
  #consumed = new Int32Array(new SharedArrayBuffer(4 * MAX_STREAMS));
  #pushed = new Int32Array(new SharedArrayBuffer(4 * MAX_STREAMS));
  #free: number[] = [];
  #nextId = 1;
  #holds = 0;
  #clients = new Map<number, ThreadClient>();
  #runtime: PacerRuntime = { mode: 'worker', clock: 'atomics', realtime: false };
  #hello: Promise<PacerRuntime> | undefined;
  #helloResolve: ((r: PacerRuntime) => void) | undefined;
  readonly #realtime: boolean;
  readonly #metricsIntervalMs: number;

  /** A thread of its own (most callers use {@link PacerThread.shared}); the worker starts with the first stream. */
  constructor(options: { realtimePriority?: boolean; metricsIntervalMs?: number } = {}) {
    this.#realtime = options.realtimePriority ?? true;
    this.#metricsIntervalMs = options.metricsIntervalMs ?? 1000;
  }

  /** What the thread reported about its clock and priority (after the first stream started it). */
  get runtime(): PacerRuntime {
    return this.#runtime;
  }

  /** Resolves when the worker has said hello (its clock and priority). */
  ready(): Promise<PacerRuntime> {
    this.#ensure();
    return this.#hello!;
  }

  /** Number of streams on this thread. */
  get streams(): number {
    return this.#clients.size;
  }

  /** True while the thread runs (from its first stream or {@link hold} until it retires). */
  get running(): boolean {
    return this.#worker !== undefined;
  }

  #ensure(): Worker {
    if (this.#worker) return this.#worker;
    const require = createRequire(import.meta.url);
    let nativePath: string | undefined;
    try {
      nativePath = nativeAddonPath();
    } catch {
      nativePath = undefined;
    }
    const data: PacerWorkerData = {
      wsPath: require.resolve('ws'),
      nativePath,
      realtimePriority: this.#realtime,
      consumed: this.#consumed.buffer as SharedArrayBuffer,
      pushed: this.#pushed.buffer as SharedArrayBuffer,
      metricsIntervalMs: this.#metricsIntervalMs,
    };
    const w = new Worker(pacerWorkerSource(), { eval: true, workerData: data, name: 'argon-voice-pacer' });
    this.#hello = new Promise((r) => {
      this.#helloResolve = r;
    });
    w.on('message', (m: PacerWorkerReply) => {
      // A retired worker (its last stream removed, a new one started since) may still post the
      // late events of its old streams; their ids may already belong to the new worker's streams.
      if (this.#worker !== w) return;
      if (m.t === 'hello') {
        this.#runtime = { mode: 'worker', clock: m.clock, realtime: m.realtime, realtimeError: m.realtimeError };
        this.#helloResolve?.(this.#runtime);
      } else if (m.t === 'sock') {
        this.#clients.get(m.id)?.onSocket(m.ev);
      } else if (m.t === 'metrics') {
        this.#clients.get(m.id)?.onMetrics(m.snap, m.req);
      } else if (m.t === 'removed') {
        // Only now may the id serve another stream: the worker's messages arrive in order, so
        // every late 'sock' event of the removed stream has been dropped before this point.
        this.#free.push(m.id);
      }
    });
    w.on('error', (err) => {
      for (const c of this.#clients.values()) c.onThreadError(err);
    });
    w.on('exit', () => {
      if (this.#worker === w) this.#worker = undefined;
      this.#helloResolve?.(this.#runtime);
    });
    this.#worker = w;
    return w;
  }

  /** @internal Registers a stream; returns its id. */
  add(client: ThreadClient, schedule: FrameScheduleOptions, capacity: number): number {
    const w = this.#ensure();
    const id = this.#free.pop() ?? this.#nextId++;
    if (id >= MAX_STREAMS) throw new InvalidInputError(`a pacer thread holds at most ${MAX_STREAMS - 1} streams`);
    Atomics.store(this.#consumed, id, 0);
    Atomics.store(this.#pushed, id, 0);
    this.#clients.set(id, client);
    w.postMessage({ t: 'add', id, schedule, capacity } satisfies PacerWorkerRequest);
    return id;
  }

  /** @internal */
  post(msg: PacerWorkerRequest, transfer?: ArrayBuffer[]): void {
    if (this.#worker) {
      this.#worker.postMessage(msg, transfer as never);
      return;
    }
    // The worker died (its error was reported): a socket can no longer be opened on it.
    if (msg.t === 'connect') {
      const c = this.#clients.get(msg.id);
      queueMicrotask(() => {
        c?.onSocket({ type: 'error', message: 'the pacer thread is not running' });
        c?.onSocket({ type: 'close', code: 1006, reason: 'pacer thread not running' });
      });
    }
  }

  /** @internal Frames consumed by the worker for stream `id`. */
  consumed(id: number): number {
    return Atomics.load(this.#consumed, id);
  }

  /** @internal Frames posted to stream `id` by any producer (main thread or a media worker). */
  pushed(id: number): number {
    return Atomics.load(this.#pushed, id);
  }

  /** @internal Counts one frame posted to stream `id`. */
  bumpPushed(id: number): void {
    Atomics.add(this.#pushed, id, 1);
  }

  /**
   * @internal A new port into the pacer thread, for a producer on another thread (a media worker):
   * it speaks {@link PacerWorkerRequest} for the streams it feeds and receives `cleared` answers.
   * The caller transfers it and owns it; the thread closes its end when it exits.
   */
  openPort(): { port: MessagePort; counters: { consumed: SharedArrayBuffer; pushed: SharedArrayBuffer } } {
    const w = this.#ensure();
    const { port1, port2 } = new MessageChannel();
    w.postMessage({ t: 'port', port: port1 } satisfies PacerWorkerRequest, [port1]);
    return {
      port: port2,
      counters: {
        consumed: this.#consumed.buffer as SharedArrayBuffer,
        pushed: this.#pushed.buffer as SharedArrayBuffer,
      },
    };
  }

  /** @internal Waits (at most `ms`) for stream `id`'s consumed counter to move from `seen`. */
  waitConsumed(id: number, seen: number, ms: number): Promise<void> {
    return waitForChange(this.#consumed, id, seen, ms);
  }

  /**
   * Starts the thread now and keeps it running while the hold lasts, even with no stream, so a
   * process that expects streams at any moment (a cluster voice worker taking over spaces) does
   * not boot it on the critical path. Returns the release function (idempotent).
   */
  hold(): () => void {
    this.#holds++;
    this.#ensure();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#holds--;
      this.#retireIfIdle();
    };
  }

  /** @internal Removes a stream; the worker exits with the last one (unless held). */
  remove(id: number): void {
    if (!this.#clients.delete(id)) return;
    this.post({ t: 'remove', id });
    this.#retireIfIdle();
  }

  #retireIfIdle(): void {
    if (this.#clients.size === 0 && this.#holds === 0 && this.#worker) {
      const w = this.#worker;
      this.#worker = undefined;
      // A new worker starts from a clean slate: every id is free again.
      this.#free.length = 0;
      this.#nextId = 1;
      w.postMessage({ t: 'exit' } satisfies PacerWorkerRequest);
      // The worker exits on its own once its port closes; terminate() guarantees no open handle.
      setTimeout(() => void w.terminate(), 200).unref();
    }
  }
}

/**
 * Paces frames of one stream at an absolute cadence and sends them on a socket it owns
 * ({@link FramePacer.connect}) or, in main-thread mode, through a sink ({@link FramePacer.attachSink}).
 *
 * Producer contract: {@link enqueue} waits for room in the bounded queue, so a producer that
 * prepares frames in a loop runs exactly `queueFrames` frames ahead of the wire.
 */
export class FramePacer extends TypedEmitter<FramePacerEvents> {
  /** Duration of every frame. */
  readonly frameDurationMs: number;
  /** Late policy in force. */
  readonly latePolicy: LatePolicy;
  /** Bound of the prepared-frames queue. */
  readonly queueFrames: number;
  /** Where the pacer runs. */
  readonly mode: 'worker' | 'main';
  readonly #clock: Clock;
  readonly #thread: PacerThread | undefined;
  readonly #id: number;
  // main mode
  readonly #stream: PacerStream | undefined;
  #link: SocketLink | undefined;
  #sink: ((frame: Uint8Array) => boolean) | undefined;
  #timer: unknown;
  #waiters: Array<() => void> = [];
  #lastPublish = Number.NEGATIVE_INFINITY;
  // both (main mode counts here; worker mode in the thread's shared counters)
  #pushed = 0;
  #counters: PacerStreamCounters = emptyCounters();
  #prepare = new SampleWindow(512);
  #closed = false;
  #metricReqs = new Map<number, (m: PacerMetrics) => void>();
  #reqSeq = 0;

  /**
   * Creates the pacer on the shared pacer thread (or `options.thread`), or on the main thread
   * with `mode: 'main'`, a `clock`, or when no worker can be started.
   * @throws InvalidInputError / RangeError for bad options; with `mode: 'worker'`, the worker's error.
   */
  constructor(options: FramePacerOptions) {
    super();
    const f = options.frameDurationMs;
    if (!(f > 0)) throw new InvalidInputError(`frameDurationMs must be > 0, got ${f}`);
    this.frameDurationMs = f;
    this.latePolicy = options.latePolicy ?? 'skip';
    this.queueFrames = Math.max(1, Math.floor(options.queueFrames ?? 4));
    this.#clock = options.clock ?? systemClock;
    const scheduleOptions = {
      frameDurationMs: f,
      latePolicy: this.latePolicy,
      maxLateMs: options.maxLateMs,
      maxBurst: options.maxBurst,
    };
    // Validates the options on this thread so a mistake throws here, not in the worker.
    const schedule = new FrameSchedule(scheduleOptions);
    let mode: 'worker' | 'main' = options.mode === 'main' || options.clock ? 'main' : 'worker';
    let thread: PacerThread | undefined;
    let id = 0;
    if (mode === 'worker') {
      try {
        thread = options.thread ?? PacerThread.shared();
        id = thread.add(this.#client(), scheduleOptions, this.queueFrames);
      } catch (err) {
        if (options.mode === 'worker') throw err;
        mode = 'main';
        thread = undefined;
      }
    }
    this.mode = mode;
    this.#thread = thread;
    this.#id = id;
    this.#stream = mode === 'main' ? new PacerStream(schedule, { capacity: this.queueFrames }) : undefined;
  }

  #client(): ThreadClient {
    return {
      onSocket: (ev) => this.emit('socket', ev),
      onMetrics: (snap, req) => {
        this.#counters = snap;
        const m = this.metrics;
        publishPacerMetrics(m);
        this.emit('metrics', m);
        if (req !== undefined) {
          this.#metricReqs.get(req)?.(m);
          this.#metricReqs.delete(req);
        }
      },
      onThreadError: (err) => {
        this.emit('socket', { type: 'error', message: `pacer thread failed: ${err.message}` });
        this.emit('socket', { type: 'close', code: 1006, reason: 'pacer thread failed' });
      },
    };
  }

  /** Clock, priority and mode in force. */
  get runtime(): PacerRuntime {
    if (this.#thread) return this.#thread.runtime;
    return { mode: 'main', clock: 'timers', realtime: false };
  }

  /** Latest metrics (worker mode: as of the last snapshot, at most ~1 s old; see {@link refreshMetrics}). */
  get metrics(): PacerMetrics {
    const c = this.#stream ? this.#stream.snapshot() : this.#counters;
    return {
      ...c,
      ...this.runtime,
      queueDepth: this.queueDepth,
      frameDurationMs: this.frameDurationMs,
      latePolicy: this.latePolicy,
      queueCapacity: this.queueFrames,
      encodeP99Ms: this.#prepare.size ? this.#prepare.percentile(99) : Number.NaN,
      atMs: this.#clock.now(),
    };
  }

  /** Asks the pacer thread for fresh counters. */
  async refreshMetrics(options: { timeoutMs?: number } = {}): Promise<PacerMetrics> {
    if (!this.#thread || this.#closed) return this.metrics;
    const req = ++this.#reqSeq;
    const p = new Promise<PacerMetrics>((resolve) => this.#metricReqs.set(req, resolve));
    this.#thread.post({ t: 'metrics', id: this.#id, req });
    const timeout = options.timeoutMs ?? 1000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const fallback = new Promise<PacerMetrics>((r) => {
      timer = setTimeout(() => r(this.metrics), timeout);
    });
    try {
      return await Promise.race([p, fallback]);
    } finally {
      clearTimeout(timer);
      this.#metricReqs.delete(req);
    }
  }

  /** Frames ever queued on this stream, by any producer (this thread or a media worker). */
  get framesQueued(): number {
    if (this.#stream) return this.#pushed;
    return this.#thread!.pushed(this.#id);
  }

  /** Frames queued and not yet consumed by the pacer. */
  get queueDepth(): number {
    if (this.#stream) return this.#stream.depth;
    return Math.max(0, this.#thread!.pushed(this.#id) - this.#thread!.consumed(this.#id));
  }

  /** Records how long the producer took to prepare a frame (for `encodeP99Ms`). */
  recordPrepareTime(ms: number): void {
    this.#prepare.push(ms);
  }

  /**
   * Opens the socket the pacer writes to (on the pacer thread in worker mode). Socket events come
   * back as `socket` events; exactly one `close` ends each socket.
   * @throws ClosedError after close().
   */
  connect(options: PacerSocketOptions): void {
    this.#assertOpen();
    const link: SocketLinkOptions = {
      url: options.url,
      headers: options.headers ?? {},
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      pingIntervalMs: options.pingIntervalMs ?? 15_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      maxBufferedBytes: options.maxBufferedBytes ?? 64 * 1024,
    };
    if (this.#thread) {
      this.#thread.post({ t: 'connect', id: this.#id, link });
      return;
    }
    this.#link?.close(1000, true);
    this.#link = new SocketLink(
      WebSocket as never,
      link,
      (ev) => this.emit('socket', ev),
      () => performance.timeOrigin + performance.now(),
    );
    this.#sink = (f) => this.#link?.send(f) ?? false;
  }

  /** Closes the pacer's socket (`terminate`: drop TCP without a close frame). */
  disconnect(code = 1000, terminate = false): void {
    if (this.#thread) this.#thread.post({ t: 'disconnect', id: this.#id, code, terminate });
    else this.#link?.close(code, terminate);
  }

  /**
   * Main-thread mode only: send frames through `send` instead of a socket (tests, benchmarks).
   * `send` returns false when the frame could not be written.
   * @throws InvalidInputError in worker mode.
   */
  attachSink(send: ((frame: Uint8Array) => boolean) | ((frame: Uint8Array) => void)): void {
    if (!this.#stream)
      throw new InvalidInputError('attachSink() needs mode: "main"; worker mode sends on its own socket');
    this.#sink = (f) => send(f) !== false;
  }

  /** Frame sent in empty slots (silence keepalive); `undefined` leaves gaps instead. */
  setFiller(frame: Uint8Array | undefined): void {
    if (this.#closed) return;
    if (this.#stream) {
      this.#stream.filler = frame;
      this.#kick();
    } else {
      this.#thread!.post({ t: 'filler', id: this.#id, data: frame ? new Uint8Array(frame) : null });
    }
  }

  /**
   * Starts (or restarts) the timeline now. Frames queued before are sent from now on, after
   * `prerollFrames` filler frames (only when a filler is set).
   */
  start(prerollFrames = 0): void {
    this.#assertOpen();
    if (this.#stream) {
      this.#stream.start(this.#clock.now(), prerollFrames);
      this.#kick();
    } else {
      this.#thread!.post({ t: 'start', id: this.#id, preroll: prerollFrames });
    }
  }

  /** Stops sending; queued frames stay. */
  stop(): void {
    if (this.#stream) {
      this.#stream.stop();
      if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    } else if (!this.#closed) {
      this.#thread!.post({ t: 'stop', id: this.#id });
    }
  }

  /** Drops every queued frame (stop, seek, track change). */
  clear(): void {
    if (this.#stream) {
      this.#stream.clear();
      this.#wake();
    } else if (!this.#closed) {
      this.#thread!.post({ t: 'clear', id: this.#id });
    }
  }

  /**
   * Marks the end of a run of audio on purpose (the queue ended, pause): silence from here until
   * the next frame is not a dropout. See {@link PacerStream.quiet}.
   */
  markQuiet(): void {
    if (this.#closed) return;
    if (this.#stream) this.#stream.quiet();
    else this.#thread!.post({ t: 'quiet', id: this.#id });
  }

  /**
   * @internal Worker mode only: what a producer on another thread needs to feed this stream
   * directly (a port into the pacer thread, the stream id and the shared credit counters).
   * Undefined in main-thread mode or after close().
   */
  producerLink(): PacerProducerLink | undefined {
    if (!this.#thread || this.#closed) return undefined;
    const { port, counters } = this.#thread.openPort();
    return { port, streamId: this.#id, ...counters, capacity: this.queueFrames, frameDurationMs: this.frameDurationMs };
  }

  /** Queues `frame` if there is room; false otherwise. The frame is copied. */
  tryEnqueue(frame: Uint8Array): boolean {
    if (this.#closed || this.queueDepth >= this.queueFrames) return false;
    this.#push(frame);
    return true;
  }

  /**
   * Queues `frame`, waiting for room first (the pacer consumes one frame per slot).
   * @throws AbortError, TimeoutError, ClosedError.
   */
  async enqueue(
    frame: Uint8Array,
    options: { signal?: AbortSignal | undefined; timeoutMs?: number } = {},
  ): Promise<void> {
    const { signal, timeoutMs } = options;
    const deadline = timeoutMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + timeoutMs;
    for (;;) {
      this.#assertOpen();
      if (signal?.aborted) throw new AbortError('enqueue was aborted', { cause: signal.reason });
      if (this.queueDepth < this.queueFrames) {
        this.#push(frame);
        return;
      }
      const left = deadline - performance.now();
      if (left <= 0) throw new TimeoutError('waiting for room in the pacer queue', timeoutMs!);
      await this.#waitRoom(Math.min(left, 250), signal);
    }
  }

  #waitRoom(ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#thread) {
      const seen = this.#thread.consumed(this.#id);
      if (!signal) return this.#thread.waitConsumed(this.#id, seen, ms);
      return new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          resolve();
        };
        signal.addEventListener('abort', done, { once: true });
        this.#thread!.waitConsumed(this.#id, seen, ms).then(done, done);
      });
    }
    return new Promise<void>((resolve) => {
      let timer: unknown;
      const done = () => {
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve();
      };
      // With a real clock the timeout re-checks the loop; a manual clock relies on the wake-up.
      timer = this.#clock === systemClock ? this.#clock.setTimeout(done, ms) : undefined;
      signal?.addEventListener('abort', done, { once: true });
      this.#waiters.push(done);
    });
  }

  #push(frame: Uint8Array): void {
    if (this.#stream) {
      this.#pushed++;
      this.#stream.push(new Uint8Array(frame));
      if (this.#stream.depth === 1) this.#kick();
      return;
    }
    // A copy, never a view: Buffer.slice() shares memory, and transferring it would detach the producer's buffer.
    const copy = new Uint8Array(frame);
    this.#thread!.bumpPushed(this.#id);
    this.#thread!.post({ t: 'frame', id: this.#id, data: copy }, [copy.buffer as ArrayBuffer]);
  }

  // ── main-thread driver ──
  #kick(): void {
    if (!this.#stream?.running) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#tick();
  }

  #tick(): void {
    const s = this.#stream!;
    this.#timer = undefined;
    const now = this.#clock.now();
    const sink = this.#sink ?? (() => false);
    const next = s.run(now, sink, () => this.#clock.now());
    this.#wake();
    if (now - this.#lastPublish >= 1000) {
      this.#lastPublish = now;
      const m = this.metrics;
      publishPacerMetrics(m);
      if (this.listenerCount('metrics') > 0) this.emit('metrics', m);
    }
    if (next === Number.POSITIVE_INFINITY || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.max(0, next - this.#clock.now()));
  }

  #wake(): void {
    const ws = this.#waiters;
    this.#waiters = [];
    for (const w of ws) w();
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClosedError('the pacer is closed');
  }

  /** True once closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops pacing, closes the socket, releases the thread. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#wake();
    if (this.#thread) {
      this.#thread.remove(this.#id);
    } else {
      this.#link?.close(1000, true);
      this.#stream!.clear();
    }
    for (const r of this.#metricReqs.values()) r(this.metrics);
    this.#metricReqs.clear();
  }

  /** Same as {@link close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
