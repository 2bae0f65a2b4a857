/**
 * The emulated platform's shared core: world state, SSE hub, rate limiter, faults, calls and the
 * DTO builders used by both the REST handlers and the {@link Emulator} control API.
 * @packageDocumentation
 */
import type { Clock } from '../../util/clock.js';
import { BindError, JsonReader } from './binding.js';
import { RestFaults } from './faults.js';
import { isJsonObject, type JsonValue } from './json.js';
import { RateLimiter } from './rate-limit.js';
import { SseHub, userDto } from './sse.js';
import { type ChannelRecord, guidHex, type MessageRecord, newGuid, type UserRecord, WorldState } from './state.js';
import type { EmulatorTimings } from './timings.js';
import { type AudioPort, serverError } from './types.js';

/** A call between a user and a bot (§R6.1). */
export interface CallRecord {
  callId: string;
  callerId: string;
  botId: string;
  botUserId: string;
  room: string;
  locale: string | null;
  state: 'ringing' | 'accepted' | 'ended';
  ringTimer: unknown;
  /** Called once when the bot accepts. */
  onAccepted: () => void;
  /** Called once when the call ends, with the reason. */
  onEnded: (reason: 'rejected' | 'hangup' | 'timeout' | 'closed') => void;
}

const ENTITY_NAMES = [
  'Hashtag',
  'Mention',
  'MentionEveryone',
  'MentionRole',
  'Email',
  'Url',
  'Monospace',
  'Quote',
  'Spoiler',
  'Strikethrough',
  'Bold',
  'Italic',
  'Underline',
  'Fraction',
  'Ordinal',
  'Capitalized',
  'SystemCallStarted',
  'SystemCallEnded',
  'SystemCallTimeout',
  'SystemUserJoined',
  'Attachment',
];
const SSE_ENTITY_KEYS = [
  'userId',
  'archetypeId',
  'email',
  'hashtag',
  'quotedUserId',
  'colour',
  'domain',
  'path',
  'numerator',
  'denominator',
  'callerId',
  'callId',
  'durationSeconds',
  'inviterId',
  'fileName',
  'fileSize',
  'contentType',
  'width',
  'height',
  'thumbHash',
];

/** ISO-8601 with the fraction trimmed; `+00:00` (REST DateTimeOffset) or `Z` (SSE DateTime) suffix (§R4.5). */
export function isoTime(ms: number, suffix: '+00:00' | 'Z'): string {
  const iso = new Date(ms).toISOString(); // 2026-04-26T09:36:45.120Z
  const [base, frac = ''] = iso.slice(0, -1).split('.');
  const f = frac.replace(/0+$/, '');
  return `${base}${f ? `.${f}` : ''}${suffix}`;
}

/** The REST/SSE core shared by the HTTP server and the emulator control API. */
export class RestCore {
  readonly clock: Clock;
  readonly timings: EmulatorTimings;
  readonly state: WorldState;
  readonly hub: SseHub;
  readonly limiter: RateLimiter;
  readonly faults = new RestFaults();
  readonly calls = new Map<string, CallRecord>();
  audio: AudioPort;
  /** Fake LiveKit SFU URL returned by IVoiceEgress/SubscribeTrack (§R7.2: not the ingress). */
  sfuUrl = 'https://sfu.emulator.invalid';
  /** Called by IMembers/Kick after its checks pass (the emulator disconnects the user's audio). */
  onKick: ((spaceId: string, channelId: string, userId: string) => void) | undefined;
  readonly #typingTimers = new Map<string, unknown>();
  readonly #sleeps = new Set<{ handle: unknown; resolve: () => void }>();

  constructor(opts: { clock: Clock; timings: EmulatorTimings; audio: AudioPort }) {
    this.clock = opts.clock;
    this.timings = opts.timings;
    // Wall time follows the injected clock so ManualClock also moves timestamps and message ids.
    const base = Date.now() - opts.clock.now();
    this.state = new WorldState(() => base + opts.clock.now());
    this.hub = new SseHub(opts.clock, opts.timings, this.state);
    this.limiter = new RateLimiter(opts.clock, opts.timings.rateSegmentMs);
    this.audio = opts.audio;
  }

  /** The user or a 500 (a grain would throw). */
  user(userId: string): UserRecord {
    const u = this.state.users.get(userId);
    if (!u) throw serverError();
    return u;
  }

  /** BotVoiceStateV1 of a user, or null. */
  voiceState(userId: string): Record<string, unknown> | null {
    const v = this.state.voiceStates.get(userId);
    return v ? { channelId: v.channelId, joinedAt: isoTime(v.joinedAt, '+00:00'), state: 0 } : null;
  }

  /** BotChannel (REST). */
  channelDto(c: ChannelRecord): Record<string, unknown> {
    return {
      channelId: c.channelId,
      spaceId: c.spaceId,
      name: c.name,
      description: c.description,
      channelType: ['Text', 'Voice', 'Announcement'][c.type],
      groupId: c.groupId,
    };
  }

  /** ReactionDto list of a message, or [] (REST). */
  reactionDtos(m: MessageRecord): Array<Record<string, unknown>> {
    return [...m.reactions]
      .filter(([, ids]) => ids.length > 0)
      .map(([emoji, ids]) => ({ emoji, count: ids.length, userIds: ids.slice(0, 3) }));
  }

  /** MessageDto (REST History, §R4.6). */
  restMessageDto(m: MessageRecord): Record<string, unknown> {
    return {
      messageId: m.messageId,
      channelId: m.channelId,
      spaceId: m.spaceId,
      text: m.text,
      creatorId: m.creatorId,
      createdAt: isoTime(m.createdAt, '+00:00'),
      replyTo: m.replyTo,
      entities: m.entities.map((e) => {
        const o = e as Record<string, JsonValue>;
        const t = Number(o.type);
        return { ...o, unionKey: `MessageEntity${ENTITY_NAMES[t] ?? 'Unknown'}`, unionIndex: t };
      }),
      controls: m.controls,
      reactions: this.reactionDtos(m),
    };
  }

  /** BotMessageV1 (SSE, §R5.6). */
  sseMessageDto(m: MessageRecord): Record<string, unknown> {
    const reactions = this.reactionDtos(m);
    return {
      messageId: m.messageId,
      replyId: m.replyTo,
      channelId: m.channelId,
      spaceId: m.spaceId,
      text: m.text,
      entities: m.entities.map((e) => {
        const o = e as Record<string, JsonValue>;
        const flat: Record<string, unknown> = { type: o.type, offset: o.offset ?? 0, length: o.length ?? 0 };
        for (const k of SSE_ENTITY_KEYS) flat[k] = o[k] ?? null;
        return flat;
      }),
      timeSent: isoTime(m.createdAt, 'Z'),
      sender: userDto(this.user(m.creatorId)),
      controls: null,
      reactions: reactions.length ? reactions : null,
    };
  }

  /**
   * Validates and stores a message, with randomId dedup (§R8.3), and publishes `messageCreate`.
   * Used by IMessages/Send, IInteractions/Reply and `emu.sendMessage`.
   * @throws ApiError 500 for a non-text channel or invalid entities/controls (server behaviour).
   */
  postMessage(opts: {
    senderId: string;
    channelId: string;
    text: string;
    randomId: bigint;
    replyTo: bigint | null;
    entities: JsonValue[];
    controls: JsonValue | null;
  }): bigint {
    const ch = this.state.channels.get(opts.channelId);
    if (ch?.type !== 0) throw serverError();
    const key = `${ch.spaceId}|${ch.channelId}|${opts.randomId}`;
    const now = this.clock.now();
    const prev = this.state.randomIds.get(key);
    if (prev && prev.expiresAt > now) return prev.messageId;
    const m = this.state.insertMessage({
      channelId: ch.channelId,
      spaceId: ch.spaceId,
      text: opts.text,
      creatorId: opts.senderId,
      replyTo: opts.replyTo,
      entities: opts.entities,
      controls: opts.controls,
    });
    this.state.randomIds.set(key, { messageId: m.messageId, expiresAt: now + this.timings.randomIdDedupMs });
    if (this.state.randomIds.size > 10_000) {
      for (const [k, v] of this.state.randomIds) if (v.expiresAt <= now) this.state.randomIds.delete(k);
    }
    this.hub.publishSpace(ch.spaceId, 'messageCreate', {
      spaceId: ch.spaceId,
      channelId: ch.channelId,
      message: this.sseMessageDto(m),
    });
    return m.messageId;
  }

  /** Registers an interaction id with the 60 s TTL (§R8.1). */
  newInteraction(
    kind: 'command' | 'control' | 'select' | 'modal',
    spaceId: string,
    channelId: string,
    userId: string,
  ): string {
    const id = newGuid();
    const now = this.clock.now();
    for (const [k, v] of this.state.interactions) if (v.expiresAt <= now) this.state.interactions.delete(k);
    this.state.interactions.set(id, {
      interactionId: id,
      kind,
      expiresAt: now + this.timings.interactionTtlMs,
      spaceId,
      channelId,
      userId,
    });
    return id;
  }

  /** A live interaction or undefined (expired ones are removed). */
  peekInteraction(id: string): { kind: string; spaceId: string; channelId: string; userId: string } | undefined {
    const rec = this.state.interactions.get(id);
    if (!rec) return undefined;
    if (rec.expiresAt <= this.clock.now()) {
      this.state.interactions.delete(id);
      return undefined;
    }
    return rec;
  }

  /** Typing start with the 8 s auto-stop (§R8.4). */
  typingStart(spaceId: string, channelId: string, userId: string, kind: string | null): void {
    const key = `${channelId}|${userId}`;
    const prev = this.#typingTimers.get(key);
    if (prev !== undefined) this.clock.clearTimeout(prev);
    this.hub.publishSpace(spaceId, 'typingStart', { spaceId, channelId, userId, kind });
    this.#typingTimers.set(
      key,
      this.clock.setTimeout(() => {
        this.#typingTimers.delete(key);
        this.hub.publishSpace(spaceId, 'typingStop', { spaceId, channelId, userId });
      }, this.timings.typingAutoStopMs),
    );
  }

  /** Typing stop (cancels the auto-stop). */
  typingStop(spaceId: string, channelId: string, userId: string): void {
    const key = `${channelId}|${userId}`;
    const prev = this.#typingTimers.get(key);
    if (prev !== undefined) this.clock.clearTimeout(prev);
    this.#typingTimers.delete(key);
    this.hub.publishSpace(spaceId, 'typingStop', { spaceId, channelId, userId });
  }

  /**
   * Starts ringing a bot (§R6.1): `callIncoming` only if the bot has an open stream, 45 s timeout.
   */
  startCall(opts: {
    callerId: string;
    botId: string;
    locale: string | null;
    onAccepted: () => void;
    onEnded: CallRecord['onEnded'];
  }): CallRecord {
    const bot = this.state.bots.get(opts.botId);
    if (!bot) throw new Error(`unknown bot ${opts.botId}`);
    const callId = newGuid();
    const call: CallRecord = {
      callId,
      callerId: opts.callerId,
      botId: bot.botId,
      botUserId: bot.userId,
      room: `call_${guidHex(callId)}`,
      locale: opts.locale,
      state: 'ringing',
      ringTimer: undefined,
      onAccepted: opts.onAccepted,
      onEnded: opts.onEnded,
    };
    this.calls.set(callId, call);
    if (this.hub.isConnected(bot.botId)) {
      this.hub.publishDirect(bot.botId, 'callIncoming', { callId, fromUserId: opts.callerId, fromLocale: opts.locale });
    }
    call.ringTimer = this.clock.setTimeout(() => {
      if (call.state === 'ringing') this.endCall(call, 'timeout');
    }, this.timings.ringTimeoutMs);
    return call;
  }

  /** Ends a call (any reason) and notifies the bot if it is connected. Idempotent. */
  endCall(call: CallRecord, reason: 'rejected' | 'hangup' | 'timeout' | 'closed'): void {
    if (call.state === 'ended') return;
    call.state = 'ended';
    this.clock.clearTimeout(call.ringTimer);
    if (reason !== 'closed' && this.hub.isConnected(call.botId))
      this.hub.publishDirect(call.botId, 'callEnded', { callId: call.callId });
    call.onEnded(reason);
  }

  /** Waits `ms` on the injected clock; pending waits are released by {@link RestCore.dispose}. */
  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = { handle: undefined as unknown, resolve };
      entry.handle = this.clock.setTimeout(() => {
        this.#sleeps.delete(entry);
        resolve();
      }, ms);
      this.#sleeps.add(entry);
    });
  }

  /** Cancels every timer owned by the core (calls, typing, fault delays) and ends every stream. */
  dispose(): void {
    for (const e of this.#sleeps) {
      this.clock.clearTimeout(e.handle);
      e.resolve();
    }
    this.#sleeps.clear();
    for (const c of this.calls.values()) this.endCall(c, 'closed');
    for (const t of this.#typingTimers.values()) this.clock.clearTimeout(t);
    this.#typingTimers.clear();
    this.hub.closeAll();
  }
}

/** Validates request entities (§R4.6): integer `type` required (string → 500, missing → 400, Gif 21 → 400). */
export function readEntities(body: JsonReader): JsonValue[] {
  const list =
    body.arr('entities', (v, path) => {
      if (!isJsonObject(v)) throw new BindError(`${path}: expected an object`);
      const typeKey = Object.keys(v).find((k) => k.toLowerCase() === 'type');
      const t = typeKey === undefined ? undefined : v[typeKey];
      if (t === undefined || t === null) throw new BindError(`${path}.type: required`);
      if (typeof t === 'string') throw serverError();
      if (typeof t !== 'number' || !Number.isInteger(t)) throw new BindError(`${path}.type: expected an integer`);
      if (t < 0 || t > 20) throw new BindError(`${path}.type: unsupported entity type`);
      const out: Record<string, JsonValue> = { type: t };
      for (const [k, val] of Object.entries(v)) {
        const camel = k.charAt(0).toLowerCase() + k.slice(1);
        if (camel === 'type' || camel === 'downloadUrl') continue;
        out[camel] = val;
      }
      out.offset ??= 0;
      out.length ??= 0;
      out.version ??= 0;
      return out as JsonValue;
    }) ?? [];
  if (list.filter((e) => (e as Record<string, JsonValue>).type === 20).length > 10) throw serverError();
  return list;
}

const CONTROL_KEYS = [
  'type',
  'variant',
  'id',
  'label',
  'url',
  'colour',
  'disabled',
  'labelLocalizations',
  'customId',
  'placeholder',
  'minValues',
  'maxValues',
  'options',
  'requiredArchetypeId',
];

/** Validates controls (§R4.6): required members → 400, rule violations → 500. Returns normalised rows or null. */
export function readControls(body: JsonReader): JsonValue | null {
  const rows = body.arr('controls', (v, path) => {
    if (!isJsonObject(v)) throw new BindError(`${path}: expected an object`);
    const r = new JsonReader(v, path);
    const controls =
      r.arr('controls', (c, cp) => {
        if (!isJsonObject(c)) throw new BindError(`${cp}: expected an object`);
        const cr = new JsonReader(c, cp);
        const type = cr.enumValue('type', 0, { required: true });
        const out: Record<string, unknown> = {};
        for (const k of CONTROL_KEYS) out[k] = cr.raw(k) ?? null;
        out.type = type;
        if (type === 1) {
          cr.arr('options', (o, op) => {
            const or = new JsonReader(isJsonObject(o) ? o : {}, op);
            if (!isJsonObject(o)) throw new BindError(`${op}: expected an object`);
            or.str('label', { required: true });
            or.str('value', { required: true });
            return null;
          });
        }
        return { out, type, cr };
      }) ?? [];
    return controls;
  });
  if (rows === null) return null;
  if (rows.length > 5) throw serverError();
  const ids = new Set<string>();
  const outRows: JsonValue[] = [];
  for (const row of rows) {
    const buttons = row.filter((c) => c.type === 0).length;
    const selects = row.length - buttons;
    if (row.length === 0 || (selects > 0 && row.length !== 1) || buttons > 5) throw serverError();
    for (const c of row) {
      if (c.type < 0 || c.type > 4) throw serverError();
      if (c.type === 0) {
        const variant = c.cr.enumOrNull('variant');
        const label = c.cr.str('label');
        if (variant === null || label === null || label.length < 1 || label.length > 80) throw serverError();
        if (variant === 0) {
          const id = c.cr.str('id');
          if (!id || id.length > 100 || c.cr.str('url') !== null || ids.has(id)) throw serverError();
          ids.add(id);
        } else if (variant === 1) {
          const url = c.cr.str('url');
          if (!url || url.length > 512 || !/^https?:\/\//i.test(url) || c.cr.str('id') !== null) throw serverError();
        } else throw serverError();
      } else {
        const customId = c.cr.str('customId');
        if (!customId || customId.length > 100 || ids.has(customId)) throw serverError();
        ids.add(customId);
        const opts = c.cr.raw('options');
        if (c.type === 1 && (!Array.isArray(opts) || opts.length < 1 || opts.length > 25)) throw serverError();
        if (c.type !== 1 && opts !== undefined && opts !== null) throw serverError();
      }
    }
    outRows.push({ controls: row.map((c) => c.out) } as unknown as JsonValue);
  }
  return outRows;
}
