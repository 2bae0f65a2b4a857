/**
 * Connecting to NATS and creating the buckets and stream a bot's cluster uses.
 * @packageDocumentation
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection, nanos, RequestError, type Subscription } from '@nats-io/transport-node';
import { TransportError } from '../errors.js';
import { type ClusterNames, clusterNames } from './names.js';

export type { NatsConnection } from '@nats-io/transport-node';

/** Default lease lifetime (KV bucket TTL), ms. */
export const DEFAULT_LEASE_TTL_MS = 3000;

/**
 * Connects to `servers` (comma-separated `nats://host:port` list, e.g. `ARGON_NATS_URL`),
 * reconnecting forever in the background once connected.
 * @throws TransportError when no server answers within `timeoutMs` (default 5 s).
 */
export async function connectNats(
  servers: string,
  options: { name?: string | undefined; timeoutMs?: number | undefined } = {},
): Promise<NatsConnection> {
  try {
    return await connect({
      servers: servers.split(',').map((s) => s.trim()),
      name: options.name,
      timeout: options.timeoutMs ?? 5000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
  } catch (err) {
    throw new TransportError(`could not connect to NATS at ${servers}: ${(err as Error).message}`, { cause: err });
  }
}

/** The KV buckets of a bot's cluster. */
export interface ClusterStores {
  names: ClusterNames;
  /** Leases: bucket TTL = lease TTL. */
  leases: KV;
  /** Desired state and cursors: no TTL. */
  state: KV;
  /** The TTL the lease bucket really has (an existing bucket keeps the TTL it was made with). */
  leaseTtlMs: number;
}

/**
 * Opens (creating when missing) the lease and state buckets of `botId`.
 * @throws what JetStream throws (JetStream not enabled on the server ...).
 */
export async function openStores(
  nc: NatsConnection,
  botId: string,
  options: { leaseTtlMs?: number | undefined } = {},
): Promise<ClusterStores> {
  const names = clusterNames(botId);
  const kvm = new Kvm(nc);
  const ttl = options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const leases = await kvm.create(names.leasesBucket, { ttl, history: 1 });
  const state = await kvm.create(names.stateBucket, { history: 1 });
  const st = await leases.status();
  return { names, leases, state, leaseTtlMs: st.ttl > 0 ? st.ttl : ttl };
}

/**
 * Creates (or keeps) the JetStream stream the router publishes events into: every subject under
 * `argon.<bot>.events.>`, kept 10 minutes, with a 2-minute duplicate window keyed on the event id.
 */
export async function ensureEventStream(nc: NatsConnection, names: ClusterNames): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const config = {
    name: names.eventsStream,
    subjects: [names.eventsAll],
    max_age: nanos(10 * 60_000),
    duplicate_window: nanos(2 * 60_000),
    max_msgs_per_subject: 10_000,
  };
  try {
    await jsm.streams.info(names.eventsStream);
  } catch {
    await jsm.streams.add(config);
  }
}

/**
 * How long a lease may go without a renewal before its holder is probed: the renew period
 * (TTL/3) plus max(100 ms, TTL/10), so a renewal merely late on the wire is not taken for death.
 */
export function defaultProbeAfterMs(leaseTtlMs: number): number {
  return leaseTtlMs / 3 + Math.max(100, leaseTtlMs / 10);
}

/**
 * Answers probes on `subject` (a worker's `argon.<bot>.alive.<worker>`) for as long as `nc`
 * lives; unsubscribe the result to stop.
 */
export function answerAlive(nc: NatsConnection, subject: string): Subscription {
  return nc.subscribe(subject, {
    callback: (_err, msg) => {
      if (msg.reply) msg.respond();
    },
  });
}

/**
 * Probes a worker's alive subject: `gone` only when the server answers "no responders" (no
 * connection of that worker subscribes any more); `alive` when it answered; `unknown` on a timeout
 * or any other error, which proves nothing (a slow worker).
 */
export async function probeAlive(nc: NatsConnection, subject: string): Promise<'alive' | 'gone' | 'unknown'> {
  try {
    await nc.request(subject, undefined, { timeout: 500 });
    return 'alive';
  } catch (err) {
    return isNoResponders(err) ? 'gone' : 'unknown';
  }
}

/** True when a NATS request failed because nobody subscribes to the subject. */
export function isNoResponders(err: unknown): boolean {
  if (err instanceof RequestError) return err.isNoResponders();
  const name = (err as { name?: string } | undefined)?.name ?? '';
  return name === 'NoRespondersError' || /no responders/i.test(String((err as Error)?.message ?? ''));
}
