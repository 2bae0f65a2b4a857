/**
 * Subject and bucket names of one bot's cluster.
 *
 * ```
 * argon.<bot>.events.<space>.<type>   router → JetStream stream ARGON_EVENTS_<bot>  (space events)
 * argon.<bot>.events._.<type>         router → same stream                        (events without a space)
 * argon.<bot>.cmd.<space>             client → lease holder (request/reply)
 * argon.<bot>.status.<worker>         worker heartbeats (load, per-space position)
 * argon.<bot>.alive.<worker>          liveness probe (request/reply; "no responders" = its connection is gone)
 * KV argon_<bot>_leases               space.<space> and router: leases (bucket TTL = lease TTL)
 * KV argon_<bot>_state                space.<space>: desired state (queue, position); router.cursor
 * ```
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

/** Replaces what a subject token or a bucket name may not hold (`.`, `*`, `>`, whitespace ...). */
export function nameToken(id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidInputError('an id used in a NATS name is empty');
  return id.replace(/[^A-Za-z0-9_-]/g, '_');
}

/** Every subject and bucket name for one bot. */
export interface ClusterNames {
  readonly botKey: string;
  readonly leasesBucket: string;
  readonly stateBucket: string;
  readonly eventsStream: string;
  /** Subject filter of every routed event. */
  readonly eventsAll: string;
  /** Subject of an event (`spaceId` undefined: the global `_` partition). */
  event(spaceId: string | undefined, type: string): string;
  /** Filter of one space's events. */
  spaceEvents(spaceId: string): string;
  /** Command subject of a space. */
  cmd(spaceId: string): string;
  /** Status subject of a worker. */
  status(workerId: string): string;
  /** Filter of every worker's status. */
  readonly statusAll: string;
  /**
   * Liveness subject of a worker: it answers requests there for as long as its NATS connection
   * lives, so "no responders" means the server has dropped that connection (the process died).
   */
  alive(workerId: string): string;
  /** Lease key of a space. */
  spaceLease(spaceId: string): string;
  /** Lease key of the router. */
  readonly routerLease: string;
  /** State key of a space. */
  spaceState(spaceId: string): string;
  /** State key of the router's last event id per partition. */
  readonly routerCursor: string;
}

/** Builds the names for `botId` (any characters; unsafe ones become `_`). */
export function clusterNames(botId: string): ClusterNames {
  const b = nameToken(botId);
  const root = `argon.${b}`;
  return {
    botKey: b,
    leasesBucket: `argon_${b}_leases`,
    stateBucket: `argon_${b}_state`,
    eventsStream: `ARGON_EVENTS_${b}`,
    eventsAll: `${root}.events.>`,
    event: (spaceId, type) => `${root}.events.${spaceId ? nameToken(spaceId) : '_'}.${nameToken(type)}`,
    spaceEvents: (spaceId) => `${root}.events.${nameToken(spaceId)}.>`,
    cmd: (spaceId) => `${root}.cmd.${nameToken(spaceId)}`,
    status: (workerId) => `${root}.status.${nameToken(workerId)}`,
    statusAll: `${root}.status.*`,
    alive: (workerId) => `${root}.alive.${nameToken(workerId)}`,
    spaceLease: (spaceId) => `space.${nameToken(spaceId)}`,
    routerLease: 'router',
    spaceState: (spaceId) => `space.${nameToken(spaceId)}`,
    routerCursor: 'router.cursor',
  };
}
