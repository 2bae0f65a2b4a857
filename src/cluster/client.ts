/**
 * Sending commands to the spaces of a bot's cluster: request/reply on `argon.<bot>.cmd.<space>`,
 * answered by the worker that holds the space's lease.
 * @packageDocumentation
 */
import { isAbsolute } from 'node:path';
import { ClosedError, InvalidInputError, TimeoutError } from '../errors.js';
import { sleep, throwIfAborted, type WaitOptions } from '../util/abort.js';
import { ClusterError } from './errors.js';
import { isRevisionConflict } from './lease.js';
import { type ClusterStores, isNoResponders, type NatsConnection, openStores } from './nats.js';
import {
  type ClusterCommand,
  type CommandReply,
  encode,
  parseRecordCommand,
  parseReply,
  parseSpaceState,
  type RecordCommand,
  recordingUnitId,
  type SpaceState,
} from './wire.js';

/** Options of {@link ClusterClient}. */
export interface ClusterClientOptions {
  nats: NatsConnection;
  botId: string;
  /** Lease TTL used if the client creates the buckets first (default 3000 ms). */
  leaseTtlMs?: number | undefined;
}

/** A successful command reply. */
export type CommandResult = Extract<CommandReply, { ok: true }>;

/**
 * Commands to a bot's spaces. A `play` to a space nobody holds activates it in the state bucket
 * (with `channelId`) and waits for a worker to take it.
 */
export class ClusterClient {
  readonly #o: ClusterClientOptions;
  #stores: Promise<ClusterStores> | undefined;
  #closed = false;

  constructor(options: ClusterClientOptions) {
    this.#o = options;
  }

  #open(): Promise<ClusterStores> {
    this.#stores ??= openStores(this.#o.nats, this.#o.botId, { leaseTtlMs: this.#o.leaseTtlMs });
    return this.#stores;
  }

  /** The state of a space as last persisted (undefined: never played). */
  async spaceState(spaceId: string): Promise<SpaceState | undefined> {
    const s = await this.#open();
    const e = await s.state.get(s.names.spaceState(spaceId));
    return e && e.operation === 'PUT' ? parseSpaceState(e.value) : undefined;
  }

  /**
   * Sends `cmd` to the holder of `spaceId`; for `play` (with a `channelId`) starts the space when
   * nobody holds it. Default deadline 15 s.
   * @throws ClusterError `no-holder` (nobody holds the space and the command cannot start it),
   *   `rejected` (the holder answered with an error), `bad-message`; TimeoutError; AbortError.
   */
  async command(
    spaceId: string,
    cmd: ClusterCommand,
    options: WaitOptions & { channelId?: string | undefined } = {},
  ): Promise<CommandResult> {
    if (this.#closed) throw new ClosedError('the cluster client is closed');
    const timeoutMs = options.timeoutMs ?? 15_000;
    const deadline = performance.now() + timeoutMs;
    const s = await this.#open();
    let activated = false;
    for (;;) {
      throwIfAborted(options.signal, 'the cluster command');
      const left = deadline - performance.now();
      if (left <= 0) throw new TimeoutError(`waiting for a worker to answer ${cmd.op} in space ${spaceId}`, timeoutMs);
      try {
        const msg = await this.#o.nats.request(s.names.cmd(spaceId), encode(cmd), { timeout: Math.min(left, 5000) });
        const reply = parseReply(msg.data);
        if (reply.ok) return reply;
        // A holder that was just fenced answers no-holder: the next one will take it.
        if (reply.reason !== 'no-holder')
          throw new ClusterError('rejected', `${cmd.op} in ${spaceId}: ${reply.message}`);
      } catch (err) {
        if (err instanceof ClusterError) throw err;
        if (!isNoResponders(err)) {
          if (/timeout/i.test((err as Error).message ?? '')) continue;
          throw err;
        }
        if (cmd.op === 'play' && !activated) {
          const channelId = cmd.channelId ?? options.channelId;
          const started = await this.#activate(s, spaceId, channelId, cmd);
          activated = true;
          if (started) {
            // The track is in the state the new holder starts from: wait for it, don't send it twice.
            cmd = { op: 'queue' };
          }
        } else if (cmd.op !== 'play' && !(await this.#isActive(s, spaceId))) {
          throw new ClusterError('no-holder', `no worker holds space ${spaceId} (it is not playing)`);
        }
      }
      await sleep(Math.min(100, Math.max(1, deadline - performance.now())), { signal: options.signal });
    }
  }

  /**
   * Starts recording `users` of a voice channel into `outDir` on whichever worker takes the
   * room's recording unit (`rec-<spaceId>-<channelId>`), and resolves with that worker's first
   * answer (its state holds the new segment). If the worker dies, another one continues into a
   * new segment whose `startedAtMs` lines it up; {@link joinSegments} joins them per user.
   * Calling it again for a room already recording the same users into the same `outDir` just
   * answers with the current state. Default deadline 15 s.
   * @param outDir - an absolute path every worker can write (shared storage).
   * @throws InvalidInputError for bad arguments (no users, duplicates, a relative `outDir`);
   *   ClusterError `rejected` (the room is already recording something else, or the recording
   *   cannot run on the workers: the message says why, e.g. too few bot identities), `no-holder`;
   *   TimeoutError; AbortError.
   */
  async record(
    spaceId: string,
    channelId: string,
    users: readonly string[],
    outDir: string,
    options: WaitOptions = {},
  ): Promise<CommandResult> {
    if (this.#closed) throw new ClosedError('the cluster client is closed');
    let cmd: RecordCommand;
    try {
      cmd = parseRecordCommand(encode({ op: 'record', spaceId, channelId, users, outDir }));
    } catch (err) {
      throw new InvalidInputError(`record: ${(err as Error).message}`, { cause: err });
    }
    if (!isAbsolute(outDir)) throw new InvalidInputError(`record: outDir must be an absolute path, got ${outDir}`);
    const unit = recordingUnitId(spaceId, channelId);
    const s = await this.#open();
    await this.#activateRecording(s, unit, cmd);
    try {
      return await this.command(unit, { op: 'queue' }, options);
    } catch (err) {
      if (err instanceof ClusterError && err.reason === 'no-holder') {
        const error = (await this.spaceState(unit))?.recording?.error;
        if (error) throw new ClusterError('rejected', `record in ${spaceId}/${channelId}: ${error}`, { cause: err });
      }
      throw err;
    }
  }

  /**
   * Stops the recording of a voice channel: its holder finishes the files of the last segment
   * (EOS, closed) and marks the unit inactive. Resolves with the final state (every segment).
   * @throws ClusterError `no-holder` (nothing is recording there), `rejected`; TimeoutError;
   *   AbortError.
   */
  stopRecording(spaceId: string, channelId: string, options: WaitOptions = {}): Promise<CommandResult> {
    return this.command(recordingUnitId(spaceId, channelId), { op: 'stop' }, options);
  }

  /** The state of a voice channel's recording unit as last persisted (undefined: never recorded). */
  recordingState(spaceId: string, channelId: string): Promise<SpaceState | undefined> {
    return this.spaceState(recordingUnitId(spaceId, channelId));
  }

  /** Marks a recording unit active with `cmd`'s job; false when it already was (the same job). */
  #activateRecording(s: ClusterStores, unit: string, cmd: RecordCommand): Promise<boolean> {
    return this.#writeActive(s, unit, (prev) => {
      if (prev?.active) {
        const r = prev.recording;
        const same =
          r !== undefined &&
          r.outDir === cmd.outDir &&
          r.users.length === cmd.users.length &&
          cmd.users.every((u) => r.users.includes(u));
        if (!same)
          throw new ClusterError(
            'rejected',
            `${unit} is already ${r ? `recording ${r.users.join(', ')} into ${r.outDir}` : 'active'}: stop it first`,
          );
        return undefined;
      }
      return {
        v: 1,
        spaceId: unit,
        channelId: cmd.channelId,
        kind: 'recording',
        recording: {
          spaceId: cmd.spaceId,
          channelId: cmd.channelId,
          users: cmd.users,
          outDir: cmd.outDir,
          segments: [],
        },
        active: true,
        current: undefined,
        queue: [],
        volume: 1,
        paused: false,
        holder: undefined,
        epoch: prev?.epoch ?? 0,
      };
    });
  }

  /**
   * Writes the state `build` makes of the unit's current one (revision-checked, retried on a
   * concurrent write up to 5 times). `build` returns undefined to leave it as it is.
   * @returns true when written; false when `build` declined or the retries ran out.
   */
  async #writeActive(
    s: ClusterStores,
    unit: string,
    build: (prev: SpaceState | undefined) => SpaceState | undefined,
  ): Promise<boolean> {
    const key = s.names.spaceState(unit);
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await s.state.get(key);
      const next = build(e && e.operation === 'PUT' ? parseSpaceState(e.value) : undefined);
      if (!next) return false;
      try {
        if (e) await s.state.update(key, encode(next), e.revision);
        else await s.state.create(key, encode(next));
        return true;
      } catch (err) {
        if (!isRevisionConflict(err)) throw err;
      }
    }
    return false;
  }

  async #isActive(s: ClusterStores, spaceId: string): Promise<boolean> {
    const e = await s.state.get(s.names.spaceState(spaceId));
    return !!e && e.operation === 'PUT' && parseSpaceState(e.value).active;
  }

  /** Marks the space active with `cmd`'s track queued; false when it already was active. */
  #activate(
    s: ClusterStores,
    spaceId: string,
    channelId: string | undefined,
    cmd: Extract<ClusterCommand, { op: 'play' }>,
  ): Promise<boolean> {
    return this.#writeActive(s, spaceId, (prev) => {
      if (prev?.active) return undefined;
      const ch = channelId ?? prev?.channelId;
      if (!ch) throw new InvalidInputError(`space ${spaceId} is not playing: play needs a channelId to start it`);
      const track = { id: globalThis.crypto.randomUUID(), input: cmd.input, title: cmd.title ?? cmd.input };
      return {
        v: 1,
        spaceId,
        channelId: ch,
        active: true,
        current: undefined,
        queue: [track],
        volume: prev?.volume ?? 1,
        paused: false,
        holder: undefined,
        epoch: prev?.epoch ?? 0,
      };
    });
  }

  /** Idempotent; does not close the NATS connection. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
