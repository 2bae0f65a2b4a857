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

/**
 * One segment of a recording unit: what one holder recorded, from the moment it took the unit
 * until it stopped or died. Files of one segment line up with each other (one session clock);
 * segments line up with each other through `startedAtMs` (the holders' wall clocks).
 */
export interface RecordingSegment {
  /** 1 for the first segment, then one more than the segment before (a skipped number is a
   * holder that died before it could write its segment here; its folder is left alone). */
  index: number;
  /** Worker that recorded it. */
  workerId: string;
  /** Wall clock (epoch ms, the worker's) of the segment's time zero: decoded sample 0 of every file. */
  startedAtMs: number;
  /**
   * Wall clock end of the audio written so far (updated at each flush, about every second; exact
   * after a clean stop). Absent until the first flush. After a crash the files may end up to one
   * flush later than this (they are valid up to their last flushed page).
   */
  endedAtMs?: number | undefined;
  /** File of each user, relative to the recording's `outDir`. */
  files: Record<string, string>;
}

/** What a recording unit records and what it has recorded so far (see {@link SpaceState.recording}). */
export interface RecordingState {
  /** The platform space of the room recorded (the unit's own id is {@link SpaceState.spaceId}). */
  spaceId: string;
  /** The voice channel recorded. */
  channelId: string;
  /** Users recorded, one Ogg Opus file each (and one bot identity each: docs/platform.md §A6). */
  users: string[];
  /** Directory every worker can write (shared storage); segments go to `<outDir>/seg-<index>/`. */
  outDir: string;
  /** Segments in index order. */
  segments: RecordingSegment[];
  /** Why the recording stopped on its own (it cannot run on this cluster); set with `active: false`. */
  error?: string | undefined;
}

/** Most users in one recording unit (each needs its own bot identity). */
export const MAX_RECORDING_USERS = 32;
/** Most segments kept in one recording unit's state (a state must stay under {@link MAX_MESSAGE_BYTES}). */
export const MAX_RECORDING_SEGMENTS = 500;

/**
 * The desired state of one unit (a space's playback queue, or a recording of one room), kept in
 * the state bucket under `space.<id>` and written by the lease holder.
 */
export interface SpaceState {
  v: 1;
  /** The unit's id: the platform space id for playback, `rec-<space>-<channel>` for a recording. */
  spaceId: string;
  channelId: string;
  /** What runs for this unit: absent (older states) means playback. */
  kind?: 'playback' | 'recording' | undefined;
  /** A recording unit's job and segments (present exactly when `kind` is `'recording'`). */
  recording?: RecordingState | undefined;
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

/**
 * Starts a recording unit (see {@link ClusterClient.record}). It is handled by whoever creates the
 * unit: the client writes it into the unit's state as {@link RecordingState}, and the worker that
 * takes the unit records. It is not sent to a holder (a holder answers it as an unknown op).
 */
export interface RecordCommand {
  op: 'record';
  /** The platform space of the room (the unit id is derived from it and `channelId`). */
  spaceId: string;
  channelId: string;
  users: string[];
  outDir: string;
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

/** Throws ClusterError `bad-message`: "malformed <what>: <why>". */
export function bad(what: string, why: string): never {
  throw new ClusterError('bad-message', `malformed ${what}: ${why}`);
}

/**
 * Parses a message that must be a UTF-8 JSON object of at most {@link MAX_MESSAGE_BYTES}.
 * @throws ClusterError `bad-message`, naming `what`.
 */
export function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
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

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x);

function users(x: unknown, what: string): string[] {
  if (!Array.isArray(x) || x.length === 0 || x.length > MAX_RECORDING_USERS)
    bad(what, `users must be an array of 1..${MAX_RECORDING_USERS} ids`);
  if (!x.every(isStr)) bad(what, 'users must be non-empty strings');
  if (new Set(x).size !== x.length) bad(what, 'users must not repeat');
  return [...x];
}

function segment(x: unknown, what: string, userIds: readonly string[]): RecordingSegment {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(what, 'segment is not an object');
  const g = x as Record<string, unknown>;
  if (!isInt(g.index) || g.index < 1) bad(what, 'segment index must be an integer ≥ 1');
  if (!isStr(g.workerId) || !isNum(g.startedAtMs) || g.startedAtMs < 0)
    bad(what, 'segment needs workerId and startedAtMs ≥ 0');
  if (g.endedAtMs !== undefined && g.endedAtMs !== null && (!isNum(g.endedAtMs) || g.endedAtMs < g.startedAtMs))
    bad(what, 'segment endedAtMs before its startedAtMs');
  const f = g.files;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) bad(what, 'segment files not an object');
  const files: Record<string, string> = {};
  for (const [u, path] of Object.entries(f)) {
    if (!userIds.includes(u)) bad(what, `segment file of ${JSON.stringify(u).slice(0, 40)}, who is not recorded`);
    if (!isStr(path) || path.startsWith('/') || path.split(/[\\/]/).includes('..'))
      bad(what, 'segment file must be a path inside outDir');
    files[u] = path;
  }
  return {
    index: g.index,
    workerId: g.workerId,
    startedAtMs: g.startedAtMs,
    endedAtMs: isNum(g.endedAtMs) ? g.endedAtMs : undefined,
    files,
  };
}

/**
 * Checks a recording unit's state (the `recording` field of a {@link SpaceState}, or a
 * `segments.json` manifest). Segments must have increasing indexes and start times.
 * @throws ClusterError (`bad-message`).
 */
export function checkRecordingState(x: unknown, what = 'recording state'): RecordingState {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) bad(what, 'recording is not an object');
  const r = x as Record<string, unknown>;
  if (!isStr(r.spaceId) || !isStr(r.channelId) || !isStr(r.outDir))
    bad(what, 'recording needs spaceId, channelId, outDir');
  const userIds = users(r.users, what);
  if (!Array.isArray(r.segments) || r.segments.length > MAX_RECORDING_SEGMENTS)
    bad(what, `segments not an array of ≤ ${MAX_RECORDING_SEGMENTS}`);
  const segments = r.segments.map((g) => segment(g, what, userIds));
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.index <= segments[i - 1]!.index) bad(what, 'segment indexes must increase');
    if (segments[i]!.startedAtMs < segments[i - 1]!.startedAtMs) bad(what, 'segment start times must not decrease');
  }
  if (r.error !== undefined && r.error !== null && typeof r.error !== 'string') bad(what, 'error not a string');
  return {
    spaceId: r.spaceId,
    channelId: r.channelId,
    users: userIds,
    outDir: r.outDir,
    segments,
    ...(typeof r.error === 'string' ? { error: r.error } : {}),
  };
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
  if (o.kind !== undefined && o.kind !== null && o.kind !== 'playback' && o.kind !== 'recording')
    bad('space state', `unknown kind ${JSON.stringify(o.kind)?.slice(0, 40)}`);
  const hasRecording = o.recording !== undefined && o.recording !== null;
  if ((o.kind === 'recording') !== hasRecording)
    bad('space state', 'recording is present exactly when kind is recording');
  const recording = hasRecording ? checkRecordingState(o.recording, 'space state') : undefined;
  return {
    v: 1,
    spaceId: o.spaceId,
    channelId: o.channelId,
    ...(recording
      ? { kind: 'recording' as const, recording }
      : o.kind === 'playback'
        ? { kind: 'playback' as const }
        : {}),
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

/**
 * Id of the recording unit of one room: `rec-<spaceId>-<channelId>`. It is used wherever a worker
 * uses a space id (lease and state key `space.<id>`, command subject `argon.<bot>.cmd.<id>`), so a
 * recording gets its own lease, placement and failover, and one room has at most one recording.
 */
export function recordingUnitId(spaceId: string, channelId: string): string {
  if (!isStr(spaceId) || !isStr(channelId)) bad('recording unit', 'spaceId and channelId required');
  return `rec-${spaceId}-${channelId}`;
}

/**
 * Parses a record command (`{ op: 'record', spaceId, channelId, users, outDir }`).
 * @throws ClusterError (`bad-message`).
 */
export function parseRecordCommand(bytes: Uint8Array): RecordCommand {
  const o = parseJson(bytes, 'record command');
  if (o.op !== 'record') bad('record command', 'op must be record');
  if (!isStr(o.spaceId) || !isStr(o.channelId) || !isStr(o.outDir))
    bad('record command', 'spaceId, channelId and outDir required');
  return {
    op: 'record',
    spaceId: o.spaceId,
    channelId: o.channelId,
    users: users(o.users, 'record command'),
    outDir: o.outDir,
  };
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
