/**
 * What runs on the pacer thread: one {@link PacerStream} per paced stream (bounded queue of
 * ready frames + {@link FrameSchedule} + counters) and one {@link SocketLink} per WebSocket.
 *
 * Both classes are self-contained on purpose (dependencies come in through constructor
 * arguments, never module imports): their source text is shipped into the worker thread
 * (`pacer-worker-source.ts`), and the same classes run on the main thread in `mode: 'main'`.
 * @packageDocumentation
 */
import type { FrameSchedule, ScheduleDecision } from './schedule.js';

/** Counters and percentiles of one stream, as measured on the pacer thread. */
export interface PacerStreamCounters {
  /** Frames written to the socket (filler frames included). */
  framesSent: number;
  /** Frames sent later than `maxLateMs` after their due time. */
  framesLate: number;
  /** Frames dropped because their slot had passed (skip policy, or burst beyond `maxBurst`). */
  framesSkipped: number;
  /** Due times at which no frame was ready. */
  underruns: number;
  /** Filler (silence) frames sent in place of missing ones. */
  fillerFrames: number;
  /** Frames dropped because the socket's send buffer was over `maxBufferedBytes`. */
  networkDrops: number;
  /** Frames waiting in the queue. */
  queueDepth: number;
  /** Send-spacing percentiles (ms between consecutive sends) over the last 1024 sends. */
  spacingP50Ms: number;
  /** p99 of the send spacing. */
  spacingP99Ms: number;
  /** Largest send spacing. */
  spacingMaxMs: number;
  /** Lateness (ms after the due time) percentiles over the last 1024 sends. */
  latenessP50Ms: number;
  /** p99 of the lateness. */
  latenessP99Ms: number;
  /** Largest lateness. */
  latenessMaxMs: number;
  /** Total timeline shift applied by `stretch`. */
  timelineShiftMs: number;
  /**
   * Dropouts: runs of empty slots (silence filler or a gap) *inside* the audio, i.e. between two
   * real frames with no {@link PacerStream.quiet} mark, pause, stop or seek in between. What a
   * listener hears as a stutter; the wire can look perfect while this counts.
   */
  dropouts: number;
  /** Milliseconds of audio time those dropouts inserted (empty slots × frame duration). */
  droppedMs: number;
}

/** Sends one frame; returns false when the frame could not be written (buffer full, socket closed). */
export type FrameSend = (frame: Uint8Array) => boolean;

/** Options of {@link PacerStream}. */
export interface PacerStreamOptions {
  /** Most frames queued ahead. */
  capacity: number;
}

/**
 * A bounded queue of prepared frames driven by a {@link FrameSchedule}.
 *
 * ```
 *  main thread ─push()─► [ f3 | f4 | f5 |    ]  capacity 4 ─run(now)─► send(f3) at its due time
 * ```
 */
export class PacerStream {
  /** Most frames queued (a media worker deepens it for prerecorded audio: see `PacerWorkerRequest` `capacity`). */
  capacity: number;
  /** The schedule that decides each send. */
  readonly schedule: FrameSchedule;
  running = false;
  /** Frames consumed (sent, skipped, dropped or cleared); the producer's credit counter. */
  consumed = 0;
  #queue: Uint8Array[] = [];
  #sent = 0;
  #late = 0;
  #skipped = 0;
  #underruns = 0;
  #filled = 0;
  #netDrops = 0;
  #lastSend = Number.NaN;
  #spacing = new Float64Array(1024);
  #lateness = new Float64Array(1024);
  #nSpacing = 0;
  #nLateness = 0;
  // Dropout accounting (see quiet()): frames ever pushed, that count at the last quiet mark, and
  // the empty slots seen since the queue last ran dry while audio was flowing.
  #pushedTotal = 0;
  #quietMark = 0;
  #pendingSlots = 0;
  #dryAtMs = Number.NaN;
  #dropouts = 0;
  #droppedMs = 0;

  /** Wraps `schedule` with a queue of `options.capacity` frames. */
  constructor(schedule: FrameSchedule, options: PacerStreamOptions) {
    this.schedule = schedule;
    this.capacity = Math.max(1, Math.floor(options.capacity));
  }

  #filler: Uint8Array | undefined;

  /** Frame sent at a due time when the queue is empty (silence keepalive); undefined leaves gaps. */
  get filler(): Uint8Array | undefined {
    return this.#filler;
  }

  set filler(frame: Uint8Array | undefined) {
    this.#filler = frame;
    this.schedule.fill = frame !== undefined;
  }

  /** Frames waiting. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Queues a frame; false (and nothing queued) when full. */
  push(frame: Uint8Array): boolean {
    if (this.#queue.length >= this.capacity) return false;
    this.#queue.push(frame);
    this.#pushedTotal++;
    return true;
  }

  /**
   * Marks the end of a run of audio on purpose (the queue ended, pause, stop): silence after the
   * frames pushed so far is intended and is not counted as a dropout. Frames pushed later start
   * a new run.
   *
   * ```
   *  frames ▮▮▮▮ · · ▮▮▮ quiet ▮▮ · · · · · (none)      · = empty slot (filler or gap)
   *              └┬┘          └── after quiet: intended
   *           dropout (2 slots), counted when the next real frame goes out
   * ```
   */
  quiet(): void {
    this.#quietMark = this.#pushedTotal;
    this.#pendingSlots = 0;
    this.#dryAtMs = Number.NaN;
  }

  /** Drops every queued frame; returns how many. A clear is a deliberate cut: it also marks {@link quiet}. */
  clear(): number {
    const n = this.#queue.length;
    this.#queue.length = 0;
    this.consumed += n;
    this.quiet();
    return n;
  }

  /** An empty slot: pending dropout time while audio was flowing (frames pushed since the quiet mark). */
  #dry(slots: number, nowMs: number): void {
    if (this.#pushedTotal <= this.#quietMark || this.preroll > 0) return;
    this.#pendingSlots += slots;
    if (Number.isNaN(this.#dryAtMs)) this.#dryAtMs = nowMs;
  }

  /** Filler frames still to send before the queue (pre-roll). */
  preroll = 0;
  #prerollFrame: Uint8Array | undefined;

  /**
   * Starts the timeline at `nowMs`; the first `prerollFrames` slots carry the filler (silence)
   * before any queued frame, so the first words are not lost while the gateway's sender binds
   * (docs/platform.md §A4.2).
   */
  start(nowMs: number, prerollFrames = 0): void {
    this.preroll = this.#filler ? Math.max(0, Math.floor(prerollFrames)) : 0;
    this.#prerollFrame = this.#filler;
    this.schedule.start(nowMs);
    this.running = true;
    this.#lastSend = Number.NaN;
  }

  /** Stops pacing; queued frames stay. */
  stop(): void {
    this.running = false;
  }

  /**
   * Carries out every decision due at `nowMs`. Returns the absolute time at which to call again,
   * or `Infinity` when stopped or waiting for data.
   */
  run(nowMs: number, send: FrameSend, now: () => number = () => nowMs): number {
    if (!this.running) return Number.POSITIVE_INFINITY;
    for (let guard = 0; guard < 100_000; guard++) {
      if (this.preroll > 0) {
        const p = this.schedule.next(nowMs, 1);
        if (p.action === 'wait') return p.dueMs;
        if (p.action === 'send') {
          this.preroll--;
          this.#emit(this.#prerollFrame!, send, now(), p.lateMs);
        } else if (p.action === 'skip') {
          this.preroll = Math.max(0, this.preroll - p.count);
        }
        continue;
      }
      const d: ScheduleDecision = this.schedule.next(nowMs, this.#queue.length);
      switch (d.action) {
        case 'wait':
          return d.dueMs;
        case 'send': {
          const frame = this.#queue.shift()!;
          this.consumed++;
          if (d.late) this.#late++;
          if (!Number.isNaN(this.#dryAtMs)) {
            // The run resumes: the silence since the queue ran dry was inside the audio. Without
            // filler or consumed slots (stretch waits), the time the timeline stood still counts.
            this.#dropouts++;
            const f = this.schedule.frameDurationMs;
            this.#droppedMs += this.#pendingSlots > 0 ? this.#pendingSlots * f : Math.max(f, nowMs - this.#dryAtMs);
            this.#pendingSlots = 0;
            this.#dryAtMs = Number.NaN;
          }
          this.#emit(frame, send, now(), d.lateMs);
          break;
        }
        case 'skip':
          for (let i = 0; i < d.count; i++) this.#queue.shift();
          this.consumed += d.count;
          this.#skipped += d.count;
          break;
        case 'fill':
          this.#underruns++;
          this.#dry(1, nowMs);
          if (this.#filler) {
            this.#filled++;
            this.#emit(this.#filler, send, now(), d.lateMs);
          }
          break;
        case 'underrun':
          this.#underruns++;
          this.#dry(d.consumed ? 1 : 0, nowMs);
          return d.consumed ? nowMs + d.waitMs : Number.POSITIVE_INFINITY;
      }
    }
    return nowMs;
  }

  #emit(frame: Uint8Array, send: FrameSend, at: number, lateMs: number): void {
    if (!send(frame)) {
      this.#netDrops++;
      return;
    }
    this.#sent++;
    if (!Number.isNaN(this.#lastSend)) this.#spacing[this.#nSpacing++ % 1024] = at - this.#lastSend;
    this.#lateness[this.#nLateness++ % 1024] = lateMs;
    this.#lastSend = at;
  }

  /** Snapshot of the counters. */
  snapshot(): PacerStreamCounters {
    const pct = (buf: Float64Array, n: number, p: number): number => {
      const m = Math.min(n, 1024);
      if (m === 0) return Number.NaN;
      const s = buf.slice(0, m).sort();
      const rank = (p / 100) * (m - 1);
      const lo = Math.floor(rank);
      const hi = Math.ceil(rank);
      return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
    };
    return {
      framesSent: this.#sent,
      framesLate: this.#late,
      framesSkipped: this.#skipped,
      underruns: this.#underruns,
      fillerFrames: this.#filled,
      networkDrops: this.#netDrops,
      queueDepth: this.#queue.length,
      spacingP50Ms: pct(this.#spacing, this.#nSpacing, 50),
      spacingP99Ms: pct(this.#spacing, this.#nSpacing, 99),
      spacingMaxMs: pct(this.#spacing, this.#nSpacing, 100),
      latenessP50Ms: pct(this.#lateness, this.#nLateness, 50),
      latenessP99Ms: pct(this.#lateness, this.#nLateness, 99),
      latenessMaxMs: pct(this.#lateness, this.#nLateness, 100),
      timelineShiftMs: this.schedule.shiftedMs,
      dropouts: this.#dropouts,
      droppedMs: this.#droppedMs,
    };
  }
}

/** Socket events a {@link SocketLink} reports. */
export type SocketEvent =
  | { type: 'open' }
  | { type: 'text'; text: string }
  | { type: 'binary'; data: Uint8Array; arrivalMs: number }
  | { type: 'unexpected-response'; status: number; body: string }
  | { type: 'error'; message: string }
  | { type: 'close'; code: number; reason: string };

/** Options of {@link SocketLink}. */
export interface SocketLinkOptions {
  /** Full `ws://` URL. */
  url: string;
  /** Upgrade headers (`Authorization: Bearer`). */
  headers?: Record<string, string>;
  /** Upgrade deadline. */
  handshakeTimeoutMs: number;
  /** Client ping period (dead-socket detection); 0 disables. */
  pingIntervalMs: number;
  /** A ping unanswered for this long terminates the socket (reported as close 1006). */
  pongTimeoutMs: number;
  /** Frames are dropped rather than queued when `bufferedAmount` exceeds this. */
  maxBufferedBytes: number;
}

/** Minimal slice of the `ws` WebSocket this link uses. */
interface WsLike {
  readyState: number;
  bufferedAmount: number;
  send(data: Uint8Array, opts: { binary: boolean }, cb?: (err?: Error) => void): void;
  ping(): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
  on(event: 'open' | 'pong', fn: () => void): void;
  on(event: 'message', fn: (data: unknown, isBinary: boolean) => void): void;
  on(event: 'unexpected-response', fn: (req: unknown, res: UpgradeResponseLike) => void): void;
  on(event: 'error', fn: (err: Error) => void): void;
  on(event: 'close', fn: (code: number, reason: Buffer) => void): void;
}

/** Minimal slice of the `http.IncomingMessage` of a refused upgrade (`unexpected-response`). */
interface UpgradeResponseLike {
  statusCode?: number | undefined;
  on(event: 'data', fn: (chunk: Buffer) => void): void;
  on(event: 'end' | 'error', fn: () => void): void;
}

/**
 * One WebSocket owned by the pacer thread. No subprotocol, no compression (docs/platform.md §A1.1);
 * the `ws` package answers server pings by itself (§A6); a client ping with a deadline detects a
 * dead socket. Reports exactly one `close` event.
 */
export class SocketLink {
  #ws: WsLike;
  #emit: (e: SocketEvent) => void;
  #opts: SocketLinkOptions;
  #pingTimer: ReturnType<typeof setInterval> | undefined;
  #pongDeadline: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #wallNow: () => number;

  /** Opens the socket at once; `emit` receives every {@link SocketEvent}. */
  constructor(
    WebSocketCtor: new (url: string, opts: object) => WsLike,
    options: SocketLinkOptions,
    emit: (e: SocketEvent) => void,
    wallNow: () => number,
  ) {
    this.#opts = options;
    this.#emit = emit;
    this.#wallNow = wallNow;
    const ws = new WebSocketCtor(options.url, {
      headers: options.headers ?? {},
      perMessageDeflate: false,
      handshakeTimeout: options.handshakeTimeoutMs,
      maxPayload: 1 << 20,
    });
    this.#ws = ws;
    ws.on('open', () => {
      this.#emit({ type: 'open' });
      if (options.pingIntervalMs > 0) {
        this.#pingTimer = setInterval(() => this.#ping(), options.pingIntervalMs);
      }
    });
    ws.on('message', (data: unknown, isBinary: boolean) => {
      const arrivalMs = this.#wallNow();
      const buf = Array.isArray(data)
        ? Buffer.concat(data as Buffer[])
        : data instanceof ArrayBuffer
          ? Buffer.from(data)
          : (data as Buffer);
      if (isBinary) this.#emit({ type: 'binary', data: new Uint8Array(buf), arrivalMs });
      else this.#emit({ type: 'text', text: buf.toString('utf8') });
    });
    ws.on('pong', () => {
      if (this.#pongDeadline !== undefined) clearTimeout(this.#pongDeadline);
      this.#pongDeadline = undefined;
    });
    ws.on('unexpected-response', (_req: unknown, res: UpgradeResponseLike) => {
      const chunks: Buffer[] = [];
      const status = Number(res.statusCode);
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () => {
        this.#emit({ type: 'unexpected-response', status, body: Buffer.concat(chunks).toString('utf8').slice(0, 512) });
        this.#finish(1006, `upgrade refused with HTTP ${status}`);
        try {
          this.#ws.terminate();
        } catch {
          /* already gone */
        }
      };
      res.on('end', done);
      res.on('error', done);
    });
    ws.on('error', (err: Error) => this.#emit({ type: 'error', message: String(err?.message ?? err) }));
    ws.on('close', (code: number, reason: Buffer) => this.#finish(code, reason ? reason.toString('utf8') : ''));
  }

  #ping(): void {
    if (this.#ws.readyState !== 1 || this.#pongDeadline !== undefined) return;
    try {
      this.#ws.ping();
    } catch {
      return;
    }
    this.#pongDeadline = setTimeout(() => {
      this.#emit({ type: 'error', message: `no pong within ${this.#opts.pongTimeoutMs} ms: the socket is dead` });
      this.#finish(1006, 'pong timeout');
      this.#ws.terminate();
    }, this.#opts.pongTimeoutMs);
  }

  #finish(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pingTimer !== undefined) clearInterval(this.#pingTimer);
    if (this.#pongDeadline !== undefined) clearTimeout(this.#pongDeadline);
    this.#emit({ type: 'close', code, reason });
  }

  /** Writes one binary frame unless the socket is not open or its buffer is over the limit. */
  send(frame: Uint8Array): boolean {
    const ws = this.#ws;
    if (this.#closed || ws.readyState !== 1) return false;
    // Last line of defence (docs/platform.md §A3.2): these sizes kill the session silently.
    if (frame.length < 2 || frame.length > 3825) return false;
    if (ws.bufferedAmount > this.#opts.maxBufferedBytes) return false;
    ws.send(frame, { binary: true });
    return true;
  }

  /** Current send-buffer size. */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Closes with `code` (1000 by default); `terminate` drops the TCP connection instead. */
  close(code = 1000, terminate = false): void {
    if (terminate || this.#ws.readyState === 0) {
      try {
        this.#ws.terminate();
      } catch {
        /* already gone */
      }
      this.#finish(1006, 'terminated by client');
      return;
    }
    try {
      this.#ws.close(code);
    } catch {
      this.#ws.terminate();
    }
    // The peer may never answer the close: force it down after 2 s (echo-bot waits the same).
    const t = setTimeout(() => {
      try {
        this.#ws.terminate();
      } catch {
        /* gone */
      }
      this.#finish(code, '');
    }, 2000);
    (t as { unref?: () => void }).unref?.();
  }
}
