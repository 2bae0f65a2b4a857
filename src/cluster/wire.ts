/**
 * What travels over NATS and sits in KV, and the parsers that check it. Every parser takes
 * bytes and returns a typed value or throws a {@link ClusterError} with reason `bad-message`:
 * a malformed message is logged and ignored by its receiver, never fatal. Nothing here carries
 * a bot token.
 * @packageDocumentation
 */
import { ClusterError } from './errors.js';

/** Largest message any parser accepts (a hostile publisher cannot make a receiver buffer more). */
export const MAX_MESSAGE_BYTES = 256 * 1024;

/** One queued or playing track. `input` is a path or URL every worker can open. */
export interface TrackRef {
  id: string;
  input: string;
  title: string;
}

/** The desired state of one space, kept in the state bucket and written by the lease holder. */
export interface SpaceState {
  v: 1;
  spaceId: string;
  channelId: string;
  /** False once stopped: no worker claims an inactive space. */
  active: boolean;
  /** The track playing, and how far it had played when last reported. */
  current?: { track: TrackRef; positionMs: number; reportedAtMs: number } | undefined;
  queue: TrackRef[];
  /** Linear gain (1 = as is). */
  volume: number;
  paused: boolean;
  /** Worker that wrote this state last. */
  holder?: string | undefined;
  /** Bumped at every claim: tells a resumed session from the one before. */
  epoch: number;
}

/** The value of a lease key. */
export interface LeaseValue {
  holder: string;
  /** Holder's wall clock when written (information only: expiry is the server's TTL). */
  atMs: number;
}

/** A command addressed to a space (`argon.<bot>.cmd.<space>`). */
export type ClusterCommand =
  | { op: 'play'; input: string; title?: string | undefined; channelId?: string | undefined }
  | { op: 'skip' }
  | { op: 'stop' }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'queue' }
  | { op: 'volume'; volume: number };

/** What the holder answers. */
export type CommandReply =
  | { ok: true; workerId: string; message: string; state: SpaceState }
  | { ok: false; workerId?: string | undefined; reason: string; message: string };

/** Per-space part of a worker heartbeat. */
export interface SpaceStatus {
  spaceId: string;
  status: 'starting' | 'playing' | 'paused' | 'idle';
  title?: string | undefined;
  positionMs?: number | undefined;
  /** Frames the connection accepted since this worker took the space. */
  framesSent: number;
}

/** A worker heartbeat (`argon.<bot>.status.<worker>`). */
export interface WorkerStatus {
  v: 1;
  workerId: string;
  atMs: number;
  load: number;
  maxStreams: number;
  cpuPct: number;
  draining: boolean;
  spaces: SpaceStatus[];
}

/** The router's cursor in the state bucket. */
export interface RouterCursor {
  v: 1;
  routerId: string;
  /** Last event id published, per partition (`<spaceHex>` or `direct`). */
  partitions: Record<string, string>;
  lastEventId?: string | undefined;
  atMs: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Encodes a message as UTF-8 JSON. */
export function encode(value: unknown): Uint8Array {
  return enc.encode(JSON.stringify(value));
}

function bad(what: string, why: string): never {
  throw new ClusterError('bad-message', `malformed ${what}: ${why}`);
}

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.length > MAX_MESSAGE_BYTES) bad(what, `${bytes.length} bytes (limit ${MAX_MESSAGE_BYTES})`);
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(bytes));
  } catch (err) {
    throw new ClusterError('bad-message', `malformed ${what}: not UTF-8 JSON`, { cause: err });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(what, 'not a JSON object');
  return v as Record<string, unknown>;
}

const isStr = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 4096;
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

function track(x: unknown, what: string): TrackRef {
  if (typeof x !== 'object' || x === null) bad(what, 'track is not an object');
  const t = x as Record<string, unknown>;
  if (!isStr(t.id) || !isStr(t.input) || typeof t.title !== 'string') bad(what, 'track needs id, input, title');
  return { id: t.id, input: t.input, title: t.title };
}

/** Parses a space state. @throws ClusterError (`bad-message`). */
export function parseSpaceState(bytes: Uint8Array): SpaceState {
  const o = parseJson(bytes, 'space state');
  if (o.v !== 1) bad('space state', `version ${String(o.v)}`);
  if (!isStr(o.spaceId) || !isStr(o.channelId)) bad('space state', 'spaceId and channelId required');
  if (typeof o.active !== 'boolean' || typeof o.paused !== 'boolean') bad('space state', 'active/paused not boolean');
  if (!isNum(o.volume) || o.volume < 0 || o.volume > 2) bad('space state', 'volume outside 0..2');
  if (!isNum(o.epoch)) bad('space state', 'epoch missing');
  if (!Array.isArray(o.queue) || o.queue.length > 1000) bad('space state', 'queue not an array of ≤ 1000');
  let current: SpaceState['current'];
  if (o.current !== undefined && o.current !== null) {
    const c = o.current as Record<string, unknown>;
    if (typeof c !== 'object' || !isNum(c.positionMs) || c.positionMs < 0 || !isNum(c.reportedAtMs))
      bad('space state', 'current needs positionMs ≥ 0 and reportedAtMs');
    current = { track: track(c.track, 'space state'), positionMs: c.positionMs, reportedAtMs: c.reportedAtMs };
  }
  return {
    v: 1,
    spaceId: o.spaceId,
    channelId: o.channelId,
    active: o.active,
    current,
    queue: o.queue.map((t) => track(t, 'space state')),
    volume: o.volume,
    paused: o.paused,
    holder: isStr(o.holder) ? o.holder : undefined,
    epoch: o.epoch,
  };
}

/** Parses a lease value. @throws ClusterError (`bad-message`). */
export function parseLease(bytes: Uint8Array): LeaseValue {
  const o = parseJson(bytes, 'lease');
  if (!isStr(o.holder) || !isNum(o.atMs)) bad('lease', 'holder and atMs required');
  return { holder: o.holder, atMs: o.atMs };
}

/** Parses a command. @throws ClusterError (`bad-message`). */
export function parseCommand(bytes: Uint8Array): ClusterCommand {
  const o = parseJson(bytes, 'command');
  switch (o.op) {
    case 'play':
      if (!isStr(o.input)) bad('command', 'play needs input');
      if (o.title !== undefined && typeof o.title !== 'string') bad('command', 'title not a string');
      if (o.channelId !== undefined && !isStr(o.channelId)) bad('command', 'channelId not a string');
      return { op: 'play', input: o.input, title: o.title as string | undefined, channelId: o.channelId as string };
    case 'volume':
      if (!isNum(o.volume) || o.volume < 0 || o.volume > 2) bad('command', 'volume must be 0..2');
      return { op: 'volume', volume: o.volume };
    case 'skip':
    case 'stop':
    case 'pause':
    case 'resume':
    case 'queue':
      return { op: o.op };
    default:
      return bad('command', `unknown op ${JSON.stringify(o.op)?.slice(0, 40)}`);
  }
}

/** Parses a command reply. @throws ClusterError (`bad-message`). */
export function parseReply(bytes: Uint8Array): CommandReply {
  const o = parseJson(bytes, 'command reply');
  if (o.ok === true) {
    if (!isStr(o.workerId) || typeof o.message !== 'string') bad('command reply', 'workerId and message required');
    return { ok: true, workerId: o.workerId, message: o.message, state: parseSpaceState(encode(o.state)) };
  }
  if (o.ok === false) {
    if (!isStr(o.reason) || typeof o.message !== 'string') bad('command reply', 'reason and message required');
    return { ok: false, workerId: isStr(o.workerId) ? o.workerId : undefined, reason: o.reason, message: o.message };
  }
  return bad('command reply', 'ok must be a boolean');
}

/** Parses a worker heartbeat. @throws ClusterError (`bad-message`). */
export function parseWorkerStatus(bytes: Uint8Array): WorkerStatus {
  const o = parseJson(bytes, 'worker status');
  if (o.v !== 1 || !isStr(o.workerId) || !isNum(o.atMs) || !isNum(o.load) || !isNum(o.maxStreams))
    bad('worker status', 'v, workerId, atMs, load, maxStreams required');
  if (!Array.isArray(o.spaces)) bad('worker status', 'spaces not an array');
  const spaces: SpaceStatus[] = o.spaces.map((x) => {
    const s = x as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || !isStr(s.spaceId) || !isNum(s.framesSent))
      bad('worker status', 'space needs spaceId and framesSent');
    const status = s.status;
    if (status !== 'starting' && status !== 'playing' && status !== 'paused' && status !== 'idle')
      bad('worker status', 'bad space status');
    return {
      spaceId: s.spaceId,
      status,
      title: typeof s.title === 'string' ? s.title : undefined,
      positionMs: isNum(s.positionMs) ? s.positionMs : undefined,
      framesSent: s.framesSent,
    };
  });
  return {
    v: 1,
    workerId: o.workerId,
    atMs: o.atMs,
    load: o.load,
    maxStreams: o.maxStreams,
    cpuPct: isNum(o.cpuPct) ? o.cpuPct : 0,
    draining: o.draining === true,
    spaces,
  };
}

/** Parses the router cursor. @throws ClusterError (`bad-message`). */
export function parseRouterCursor(bytes: Uint8Array): RouterCursor {
  const o = parseJson(bytes, 'router cursor');
  if (o.v !== 1 || !isStr(o.routerId) || !isNum(o.atMs)) bad('router cursor', 'v, routerId, atMs required');
  const p = o.partitions;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) bad('router cursor', 'partitions not an object');
  const partitions: Record<string, string> = {};
  for (const [k, v] of Object.entries(p)) if (isStr(v)) partitions[k] = v;
  return {
    v: 1,
    routerId: o.routerId,
    partitions,
    lastEventId: isStr(o.lastEventId) ? o.lastEventId : undefined,
    atMs: o.atMs,
  };
}
