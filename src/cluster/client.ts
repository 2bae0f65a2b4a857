/**
 * Sending commands to the spaces of a bot's cluster: request/reply on `argon.<bot>.cmd.<space>`,
 * answered by the worker that holds the space's lease.
 * @packageDocumentation
 */
import { ClosedError, InvalidInputError, TimeoutError } from '../errors.js';
import { sleep, throwIfAborted, type WaitOptions } from '../util/abort.js';
import { ClusterError } from './errors.js';
import { isRevisionConflict } from './lease.js';
import { type ClusterStores, isNoResponders, type NatsConnection, openStores } from './nats.js';
import {
  type ClusterCommand,
  type CommandReply,
  encode,
  parseReply,
  parseSpaceState,
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

  async #isActive(s: ClusterStores, spaceId: string): Promise<boolean> {
    const e = await s.state.get(s.names.spaceState(spaceId));
    return !!e && e.operation === 'PUT' && parseSpaceState(e.value).active;
  }

  /** Marks the space active with `cmd`'s track queued; false when it already was active. */
  async #activate(
    s: ClusterStores,
    spaceId: string,
    channelId: string | undefined,
    cmd: Extract<ClusterCommand, { op: 'play' }>,
  ): Promise<boolean> {
    const key = s.names.spaceState(spaceId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const e = await s.state.get(key);
      const prev = e && e.operation === 'PUT' ? parseSpaceState(e.value) : undefined;
      if (prev?.active) return false;
      const ch = channelId ?? prev?.channelId;
      if (!ch) throw new InvalidInputError(`space ${spaceId} is not playing: play needs a channelId to start it`);
      const track = { id: globalThis.crypto.randomUUID(), input: cmd.input, title: cmd.title ?? cmd.input };
      const next: SpaceState = {
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

  /** Idempotent; does not close the NATS connection. */
  async close(): Promise<void> {
    this.#closed = true;
  }
}
