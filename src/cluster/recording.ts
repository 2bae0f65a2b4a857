/**
 * The session a worker runs for a recording unit it holds: a {@link VoiceReceiver} and a
 * {@link Recorder} for the unit's users, writing one segment of aligned Ogg Opus files.
 *
 * ```
 * state.recording { users, outDir, segments[1..k] }
 *   ─► seg-<k+1>/<user>.ogg  (one bot identity per user: docs/platform.md §A6)
 *   ─► segment { index k+1, workerId, startedAtMs = wall clock of the recorder's time zero }
 *        appended to the state through snapshot(); <outDir>/segments.json rewritten
 * kill -9 / lease lost ─► files valid up to the last flush ─► next holder: segment k+2, and so on
 * ```
 * Segments line up through `startedAtMs`; {@link joinSegments} joins them per user with the
 * failover gap filled with silence.
 * @packageDocumentation
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Clock, systemClock } from '../util/clock.js';
import { TypedEmitter } from '../util/emitter.js';
import { type VoiceReceiverOptions, VoiceReceiver } from '../voice/receiver.js';
import { RECORDING_JITTER, Recorder } from '../voice/recorder.js';
import type { SubscribeApi } from '../voice/subscriber.js';
import { ClusterError } from './errors.js';
import type { SpaceSession, SpaceSessionContext, SpaceSessionEvents } from './playback.js';
import { writeRecordingManifest, writeSegmentInfo } from './segments.js';
import {
  type ClusterCommand,
  MAX_RECORDING_SEGMENTS,
  type RecordingSegment,
  type RecordingState,
  type SpaceState,
  type SpaceStatus,
} from './wire.js';

/** Options of {@link RecordingSession} (the worker's `recording` option). */
export interface RecordingSessionOptions {
  /**
   * REST clients of the bot identities that subscribe: user `i` of a recording is received as
   * `identities[i]`. A recording of more users than identities does not start (its unit is
   * stopped with an `error`).
   * @remarks One session per bot identity per room (docs/platform.md §A6): an identity that
   * publishes in a room (the bot playing there) cannot also subscribe there, so use other bots
   * (members of the space) here, not the playing bot. Every worker needs the same identities, so
   * that any of them can take a recording over.
   */
  identities: readonly SubscribeApi[];
  /** Audio gateway base (default StreamToken's `ingressUrl`). */
  gatewayUrl?: string | undefined;
  /** Longest time between flushes of the files (default 1000 ms): what a kill -9 can lose. */
  flushIntervalMs?: number | undefined;
  /** fsync after each flush (survives power loss, not only kill -9). Default false. */
  fsync?: boolean | undefined;
  /** More receiver options (tick, subscriber deadlines and attempts). */
  receiver?: Pick<VoiceReceiverOptions, 'tickMs' | 'timeouts' | 'maxAttempts'> | undefined;
  /** Wall clock in epoch ms (default `Date.now`): the time base of `startedAtMs`. */
  wallClock?: (() => number) | undefined;
}

/** File name (relative to `outDir`) of `userId`'s track in segment `index`. */
export function segmentFile(index: number, userId: string): string {
  return `seg-${index}/${userId.replace(/[^A-Za-z0-9_-]/g, '_')}.ogg`;
}

/** What a recording session adds to the worker's snapshot. */
export type RecordingSnapshot = Pick<SpaceState, 'current' | 'queue' | 'volume' | 'paused'> & {
  recording: RecordingState;
  /** False once the recording cannot run here at all (see {@link RecordingState.error}). */
  active?: false;
};

/**
 * Records a recording unit's users into a new segment. Created by the worker's default session
 * factory for a state with `kind: 'recording'`.
 * @remarks `destroy()` (fencing, `stop`, drain) finishes every file synchronously (EOS, closed)
 * and closes the sockets at once; a kill -9 leaves each file valid up to its last flush. A
 * recording that cannot run (no identities or too few, `outDir` cannot be created) emits
 * `failed` and its snapshot marks the unit inactive with an `error`, so no other worker retries
 * it in a loop.
 */
export class RecordingSession extends TypedEmitter<SpaceSessionEvents> implements SpaceSession {
  /** The unit id (`rec-<space>-<channel>`). */
  readonly unitId: string;
  /** This session's segment (undefined when the recording could not start). */
  readonly segment: RecordingSegment | undefined;
  readonly #state: SpaceState;
  readonly #log: (line: string) => void;
  readonly #clock: Clock;
  readonly #wall: () => number;
  readonly #receiver: VoiceReceiver | undefined;
  readonly #recorder: Recorder | undefined;
  #recording: RecordingState;
  #error: string | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #writes: Promise<unknown> = Promise.resolve();

  constructor(ctx: SpaceSessionContext, options: RecordingSessionOptions | undefined) {
    super();
    const s = ctx.state;
    this.unitId = s.spaceId;
    this.#state = s;
    this.#log = ctx.log;
    this.#clock = ctx.clock ?? systemClock;
    this.#wall = options?.wallClock ?? Date.now;
    const rec = s.recording;
    this.#recording = rec ?? { spaceId: s.spaceId, channelId: s.channelId, users: [], outDir: '', segments: [] };
    if (s.kind !== 'recording' || !rec) {
      this.#fail(`${s.spaceId} is not a recording unit`);
      return;
    }
    const ids = options?.identities ?? [];
    if (ids.length < rec.users.length) {
      this.#fail(
        `recording ${rec.users.length} user(s) needs as many bot identities (docs/platform.md §A6); worker ${ctx.workerId} has ${ids.length} (give every worker more, e.g. ARGON_EXTRA_TOKENS)`,
      );
      return;
    }
    if (rec.segments.length >= MAX_RECORDING_SEGMENTS) {
      this.#fail(`${s.spaceId} has ${rec.segments.length} segments, the most one recording keeps: start a new one`);
      return;
    }
    // One more than the last segment; a folder already there belongs to a holder that died
    // before its segment reached the state: leave it alone.
    let index = (rec.segments.at(-1)?.index ?? 0) + 1;
    while (existsSync(join(rec.outDir, `seg-${index}`))) index++;
    const segDir = join(rec.outDir, `seg-${index}`);
    try {
      mkdirSync(segDir, { recursive: true });
    } catch (err) {
      this.#fail(`cannot create ${segDir} on worker ${ctx.workerId}: ${(err as Error).message}`);
      return;
    }
    const receiver = new VoiceReceiver({
      ...options?.receiver,
      spaceId: rec.spaceId,
      channelId: rec.channelId,
      clock: this.#clock,
      ...(options?.gatewayUrl ? { gatewayUrl: options.gatewayUrl } : {}),
    });
    receiver.on('warning', (m) => this.#log(`${this.unitId}: ${m}`));
    receiver.on('error', (e, u) => this.#log(`${this.unitId}: ${u}: ${e.message}`));
    let recorder: Recorder;
    try {
      recorder = new Recorder({
        receiver,
        users: rec.users,
        outDir: rec.outDir,
        fileName: (u) => segmentFile(index, u),
        subscribe: (u) =>
          receiver.subscribe(u, { mode: 'opus', jitter: RECORDING_JITTER, rest: ids[rec.users.indexOf(u)] }),
        ...(options?.flushIntervalMs !== undefined ? { flushIntervalMs: options.flushIntervalMs } : {}),
        ...(options?.fsync !== undefined ? { fsync: options.fsync } : {}),
      });
    } catch (err) {
      void receiver.close();
      this.#fail(`cannot start recording ${rec.users.join(', ')}: ${(err as Error).message}`);
      return;
    }
    this.#receiver = receiver;
    this.#recorder = recorder;
    // The recorder's time zero (sample 0 of every file after pre-skip) on the wall clock.
    const startedAtMs = Math.round(this.#wall() - (this.#clock.now() - recorder.startMs));
    const files: Record<string, string> = {};
    for (const u of rec.users) files[u] = segmentFile(index, u);
    this.segment = { index, workerId: ctx.workerId, startedAtMs, files };
    this.#recording = { ...rec, segments: [...rec.segments, this.segment] };
    recorder.on('error', (e, u) => this.#log(`${this.unitId}: ${u ?? 'mix'}: ${e.message}`));
    recorder.on('flush', () => {
      this.#updateEnd();
      this.emit('change');
    });
    this.#log(`${this.unitId}: recording ${rec.users.join(', ')} into ${segDir} (segment ${index})`);
    // The new segment must reach the state soon (the worker persists on change): a later holder
    // numbers and aligns its own segment after it.
    setImmediate(() => {
      if (!this.#closed) this.emit('change');
    });
    this.#write(() => writeRecordingManifest(this.unitId, this.#recording));
    this.#write(() => this.#writeSegmentInfo());
  }

  /** Gives up for good: the unit is stopped with `message` (see the class remarks). */
  #fail(message: string): void {
    this.#error = message;
    this.#closed = true;
    this.#recording = { ...this.#recording, error: message };
    this.#log(`${this.unitId}: ${message}`);
    // After the worker attached its listeners (it does so right after creating the session).
    setImmediate(() => this.emit('failed', new ClusterError('rejected', message)));
  }

  #write(fn: () => Promise<unknown>): void {
    this.#writes = this.#writes.then(fn).catch((err: Error) => this.#log(`${this.unitId}: ${err.message}`));
  }

  /** `seg-<index>/segment.json`: this segment alone (see {@link writeSegmentInfo}). */
  async #writeSegmentInfo(): Promise<void> {
    const seg = this.#recording.segments.find((g) => g.index === this.segment?.index);
    if (seg) await writeSegmentInfo(this.unitId, this.#recording.outDir, seg);
  }

  /** Moves this segment's `endedAtMs` to the end of what the files hold now. */
  #updateEnd(): void {
    const seg = this.segment;
    const rec = this.#recorder;
    if (!seg || !rec) return;
    const samples = Math.max(0, ...rec.tracks.map((t) => t.samples));
    if (samples === 0) return;
    const ended: RecordingSegment = { ...seg, endedAtMs: seg.startedAtMs + Math.round(samples / 48) };
    const segments = this.#recording.segments.map((g) => (g.index === seg.index ? ended : g));
    this.#recording = { ...this.#recording, segments };
  }

  /** The recording's state as this session sees it (its segment included). */
  get recording(): RecordingState {
    return this.#recording;
  }

  snapshot(_nowWallMs: number): RecordingSnapshot {
    const s = this.#state;
    return {
      current: undefined,
      queue: [],
      volume: s.volume,
      paused: false,
      recording: this.#recording,
      ...(this.#error !== undefined ? { active: false as const } : {}),
    };
  }

  /**
   * Heartbeat entry: `playing` while recording (title `recording …`), `positionMs` the audio
   * written in this segment, `framesSent` the packets received in it.
   */
  status(): SpaceStatus {
    const tracks = this.#recorder?.tracks ?? [];
    const samples = Math.max(0, ...tracks.map((t) => t.samples));
    return {
      spaceId: this.unitId,
      status: this.#closed ? 'idle' : 'playing',
      title: this.segment
        ? `recording ${this.#recording.users.length} user(s), segment ${this.segment.index}`
        : `recording stopped: ${this.#error ?? 'closed'}`,
      positionMs: Math.round(samples / 48),
      framesSent: tracks.reduce((n, t) => n + t.packets, 0),
    };
  }

  /**
   * `queue` answers what is being recorded; everything else is for playback units.
   * @throws ClusterError (`rejected`) for any other command.
   */
  command(cmd: Exclude<ClusterCommand, { op: 'stop' }>): string {
    if (cmd.op !== 'queue') {
      throw new ClusterError('rejected', `${this.unitId} is a recording: it takes stop and queue, not ${cmd.op}`);
    }
    const seg = this.segment;
    if (!seg) return `Not recording: ${this.#error ?? 'closed'}`;
    return [
      `Recording ${this.#recording.users.join(', ')} into ${this.#recording.outDir}`,
      `Segment ${seg.index} since ${new Date(seg.startedAtMs).toISOString()} (${this.#recording.segments.length} in all)`,
    ].join('\n');
  }

  /** Finishes the files now (synchronously) and drops the sockets; returns the rest of the teardown. */
  #finish(): Promise<void> {
    const recorder = this.#recorder;
    const receiver = this.#receiver;
    // Recorder.stop() pads, writes the EOS pages and closes the files before its first await,
    // then unsubscribes; the receiver's close stops the tick and any subscriber left.
    const stopped = recorder?.stop().then(
      () => undefined,
      () => undefined,
    );
    this.#updateEnd();
    const closed = receiver?.close().catch(() => undefined);
    this.#write(() => this.#writeSegmentInfo());
    return Promise.all([stopped, closed, this.#writes]).then(() => undefined);
  }

  /** Stops at once (fencing): files finished as they are, sockets closed. Idempotent. */
  destroy(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = this.#finish();
  }

  /** Stops cleanly: waits for the unsubscribes and the manifest writes. Idempotent. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#closing = this.#finish();
    }
    await this.#closing;
    await this.#writes;
  }
}
