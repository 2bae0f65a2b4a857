/**
 * The whole platform in one process: the REST + SSE server ({@link RestServer} over a
 * {@link RestCore}) composed with the audio gateway ({@link AudioGateway}), plus the control API
 * tests and samples drive it with (docs/architecture.md, "src/emulator/").
 *
 * ```
 *  Emulator ──► RestServer (node:http) ──► pipeline ──► handlers ──► RestCore (state, SSE hub, limiter)
 *      └──────► AudioGateway (ws)  ◄── joinVoice / placeCall / StreamToken tokens
 * ```
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';
import {
  type AudioFaultSpec,
  AudioGateway,
  DEFAULT_GATEWAY_TIMINGS,
  type GatewayTimings,
  mintLiveKitToken,
  type SimulatedParticipant,
} from './audio/index.js';
import { type CallRecord, isoTime, RestCore } from './rest/core.js';
import type { RestFaultOptions } from './rest/faults.js';
import { userDto } from './rest/sse.js';
import { newGuid } from './rest/state.js';
import { RestServer } from './rest/server.js';
import { DEFAULT_TIMINGS, type EmulatorTimings } from './rest/timings.js';
import type { AudioPort } from './rest/types.js';

/** Options of {@link Emulator.start}. */
export interface EmulatorOptions {
  /** REST/SSE port (0 = ephemeral, the default). */
  port?: number;
  /** Audio gateway port (0 = ephemeral, the default). */
  audioPort?: number;
  /** Bind address for both servers. Default `127.0.0.1`. */
  host?: string;
  /** Clock for every emulator timer (SSE batches, heartbeats, rings, TTLs, rate windows) and the gateway's. */
  clock?: Clock;
  /**
   * Overrides of the REST/SSE timings ({@link DEFAULT_TIMINGS}); audio gateway keys
   * (`joinDelayMs`, `pingIntervalMs`, …) given here are forwarded to the gateway too.
   */
  timings?: Partial<EmulatorTimings & GatewayTimings>;
  /** Overrides of the audio gateway's timings. */
  audioTimings?: Partial<GatewayTimings>;
  /** Audio status messages use the legacy `type` key instead of `status`. */
  legacyStatusKey?: boolean;
  /** Start the audio gateway (default true). With false, tokens are still minted and `audioUrl` is a placeholder. */
  audio?: boolean;
  /** LiveKit API key/secret shared by the token minting and the gateway (random by default). */
  livekit?: { apiKey: string; apiSecret: string };
}

/** Credentials of an emulated bot. */
export interface EmulatorBot {
  token: string;
  botId: string;
  userId: string;
  verified: boolean;
}

/** The seeded demo world. */
export interface DemoWorld {
  spaceId: string;
  textChannelId: string;
  voiceChannelId: string;
  /** Two seeded human users (`alice`, locale `en`; `bob`, locale `ru`). */
  userIds: [string, string];
}

/** A simulated user calling a bot (§R6). */
export interface SimulatedCall {
  readonly callId: string;
  /** `call_<32 hex>`. */
  readonly roomName: string;
  readonly state: 'ringing' | 'accepted' | 'ended';
  /**
   * The caller in the audio room, available once the bot accepted.
   * @throws InvalidInputError before acceptance or when the emulator runs without audio.
   */
  readonly caller: SimulatedParticipant;
  /** Resolves when the bot accepts; rejects if the call ends first. */
  readonly accepted: Promise<void>;
  /** Resolves with the end reason: `'rejected' | 'hangup' | 'timeout' | 'closed'`. */
  readonly ended: Promise<string>;
  /** The caller hangs up (callEnded to the bot, the caller leaves the room). */
  hangUp(): void;
}

/** Fault injection switches of the emulator. */
export interface EmulatorFaults {
  /** REST: forced status / delay per route, or `reset`. */
  rest(opts: RestFaultOptions): void;
  /** SSE: `drop` closes the streams, `stall` stops writing, `zombie` stops events but keeps heartbeats. */
  sse(kind: 'drop' | 'stall' | 'zombie', opts?: { botId?: string }): void;
  /** Audio: forwarded to the gateway's `faults.inject`. @throws InvalidInputError without audio. */
  audio(spec: AudioFaultSpec): void;
}

function toBigInt(v: bigint | number | string, what: string): bigint {
  try {
    return BigInt(v);
  } catch {
    throw new InvalidInputError(`${what} must be an integer`);
  }
}

/**
 * The in-process Argon platform. Start with {@link Emulator.start}; point a RestClient at
 * {@link Emulator.apiUrl} with {@link Emulator.bot}'s token.
 */
export class Emulator {
  /** `http://127.0.0.1:PORT` (serves `/api/bot/I…/vN/M` and the unprefixed form). */
  readonly apiUrl: string;
  /** `ws://127.0.0.1:PORT2`, handed out as `ingressUrl` / `audioBaseUrl`. */
  readonly audioUrl: string;
  /** The default bot: verified, member of the demo space. */
  readonly bot: EmulatorBot;
  /** The seeded demo world. */
  readonly demo: DemoWorld;
  /** The LiveKit credentials tokens are signed with. */
  readonly livekit: { apiKey: string; apiSecret: string };
  /** Fault injection. */
  readonly faults: EmulatorFaults;
  /** The REST/SSE core (state, SSE hub, limiter); for advanced tests. */
  readonly core: RestCore;

  readonly #server: RestServer;
  readonly #gateway: AudioGateway | undefined;
  #closing: Promise<void> | undefined;

  private constructor(
    core: RestCore,
    server: RestServer,
    gateway: AudioGateway | undefined,
    livekit: { apiKey: string; apiSecret: string },
    audioUrl: string,
  ) {
    this.core = core;
    this.#server = server;
    this.#gateway = gateway;
    this.livekit = livekit;
    this.apiUrl = server.url;
    this.audioUrl = audioUrl;
    const st = core.state;
    // Seed the demo world.
    const bot = st.addBot({ username: 'emulator-bot', verified: true });
    const alice = st.addUser({ username: 'alice', displayName: 'Alice', locale: 'en' });
    const bob = st.addUser({ username: 'bob', displayName: 'Bob', locale: 'ru' });
    const space = st.addSpace({
      name: 'Demo Space',
      description: 'Seeded by the argon-voice emulator',
      members: [bot.userId, alice.userId, bob.userId],
    });
    const text = st.addChannel({ spaceId: space.spaceId, name: 'general', type: 0 });
    const voice = st.addChannel({ spaceId: space.spaceId, name: 'voice', type: 1 });
    this.bot = { token: bot.token, botId: bot.botId, userId: bot.userId, verified: bot.verified };
    this.demo = {
      spaceId: space.spaceId,
      textChannelId: text.channelId,
      voiceChannelId: voice.channelId,
      userIds: [alice.userId, bob.userId],
    };
    this.faults = {
      rest: (opts) => {
        if (core.faults.apply(opts)) core.limiter.resetWindows();
      },
      sse: (kind, opts) => core.hub.fault(kind, opts?.botId),
      audio: (spec) => this.gateway.faults.inject(spec),
    };
    core.onKick = (spaceId, channelId, userId) => {
      this.#gateway?.kickIdentity(`${spaceId}/${channelId}`, userId);
      this.#voiceLeft(userId, spaceId, channelId);
    };
    // Bots that join a voice room through the gateway show up in voiceJoin/voiceLeave too.
    gateway?.on('session', (info) => {
      const m = /^([0-9a-f-]{36})\/([0-9a-f-]{36})$/.exec(info.room);
      if (!m || info.endpoint === 'subscribe' || !st.users.has(info.identity)) return;
      this.#voiceJoined(info.identity, m[1]!, m[2]!);
    });
    gateway?.on('sessionClosed', (info) => {
      const m = /^([0-9a-f-]{36})\/([0-9a-f-]{36})$/.exec(info.room);
      if (!m || info.endpoint === 'subscribe') return;
      this.#voiceLeft(info.identity, m[1]!, m[2]!);
    });
  }

  /**
   * Starts the REST/SSE server and (unless `audio: false`) the audio gateway, and seeds the demo world.
   * @throws the listen error (e.g. EADDRINUSE).
   */
  static async start(opts: EmulatorOptions = {}): Promise<Emulator> {
    const clock = opts.clock ?? systemClock;
    const timings: EmulatorTimings = { ...DEFAULT_TIMINGS };
    const audioTimings: Partial<GatewayTimings> = {};
    for (const [k, v] of Object.entries(opts.timings ?? {})) {
      if (v === undefined) continue;
      if (k in DEFAULT_GATEWAY_TIMINGS) (audioTimings as Record<string, number>)[k] = v;
      else (timings as unknown as Record<string, number>)[k] = v;
    }
    Object.assign(audioTimings, opts.audioTimings);
    const livekit = opts.livekit ?? { apiKey: 'APIargonemulator', apiSecret: randomBytes(32).toString('base64url') };
    const host = opts.host ?? '127.0.0.1';
    let gateway: AudioGateway | undefined;
    // The port is filled in once the gateway is up; handlers read it lazily.
    const port: { url: string; mintToken: AudioPort['mintToken'] } = {
      url: `ws://${host}:0`,
      mintToken: async () => '',
    };
    const core = new RestCore({ clock, timings, audio: port });
    port.mintToken = (o) =>
      mintLiveKitToken({
        ...livekit,
        identity: o.identity,
        name: o.name ?? o.identity,
        room: o.room,
        ttlSeconds: o.ttlSeconds,
        nowSeconds: Math.floor(core.state.wallNow() / 1000),
      });
    if (opts.audio !== false) {
      gateway = await AudioGateway.start({
        port: opts.audioPort ?? 0,
        host,
        apiKey: livekit.apiKey,
        apiSecret: livekit.apiSecret,
        statusKey: opts.legacyStatusKey ? 'type' : 'status',
        clock,
        wallClockMs: () => core.state.wallNow(),
        timings: audioTimings,
      });
      port.url = gateway.url;
    }
    let server: RestServer;
    try {
      server = await RestServer.start(core, { port: opts.port ?? 0, host });
    } catch (e) {
      await gateway?.close();
      throw e;
    }
    return new Emulator(core, server, gateway, livekit, port.url);
  }

  /**
   * The audio gateway (published frames, sessions, faults, simulated people).
   * @throws InvalidInputError when started with `audio: false`.
   */
  get gateway(): AudioGateway {
    if (!this.#gateway) throw new InvalidInputError('the emulator was started with audio: false');
    return this.#gateway;
  }

  /** The clock every emulator timer runs on. */
  get clock(): Clock {
    return this.core.clock;
  }

  /** Adds a human user. */
  createUser(opts: { username: string; displayName?: string; locale?: string }): { userId: string } {
    const u = this.core.state.addUser({
      username: opts.username,
      displayName: opts.displayName ?? opts.username,
      locale: opts.locale ?? null,
    });
    return { userId: u.userId };
  }

  /** Adds a bot (verified by default) with a fresh token. */
  createBot(opts: { verified?: boolean; username?: string } = {}): EmulatorBot {
    const b = this.core.state.addBot({
      username: opts.username ?? `bot-${randomBytes(3).toString('hex')}`,
      verified: opts.verified ?? true,
    });
    return { token: b.token, botId: b.botId, userId: b.userId, verified: b.verified };
  }

  /** Creates a space with the given member user ids (bots get `botInstallingToSpace`). */
  createSpace(opts: { name: string; description?: string; members?: string[] }): { spaceId: string } {
    for (const id of opts.members ?? [])
      if (!this.core.state.users.has(id)) throw new InvalidInputError(`unknown user ${id}`);
    const s = this.core.state.addSpace({
      name: opts.name,
      description: opts.description ?? null,
      members: opts.members ?? [],
    });
    for (const id of opts.members ?? []) {
      const bot = this.core.state.botsByUserId.get(id);
      if (bot) this.core.hub.publishDirect(bot.botId, 'botInstallingToSpace', { spaceId: s.spaceId });
    }
    return { spaceId: s.spaceId };
  }

  /** Adds a member to a space (`memberJoin`; bots also get `botInstallingToSpace`). */
  addMember(spaceId: string, userId: string): void {
    const u = this.core.state.users.get(userId);
    if (!u || !this.core.state.spaces.has(spaceId)) throw new InvalidInputError('unknown space or user');
    this.core.state.addMember(spaceId, userId);
    this.core.hub.publishSpace(spaceId, 'memberJoin', { spaceId, user: userDto(u) });
    const bot = this.core.state.botsByUserId.get(userId);
    if (bot) this.core.hub.publishDirect(bot.botId, 'botInstallingToSpace', { spaceId });
  }

  /**
   * Sets a bot's granted and/or required entitlements in a space (bit masks, §R4.3). Required bits
   * beyond the granted ones make every SSE connect emit `botEntitlementsUpdated`.
   * @throws InvalidInputError when the user is not a member of the space.
   */
  setEntitlements(userId: string, spaceId: string, opts: { granted?: bigint; required?: bigint }): void {
    const m = this.core.state.spaces.get(spaceId)?.members.get(userId);
    if (!m) throw new InvalidInputError('not a member of that space');
    if (opts.granted !== undefined) m.entitlements = BigInt.asUintN(64, opts.granted);
    if (opts.required !== undefined) m.requiredEntitlements = BigInt.asUintN(64, opts.required);
  }

  /** Creates a text or voice channel (`channelCreate`). */
  createChannel(opts: {
    spaceId: string;
    name: string;
    type: 'text' | 'voice' | 'announcement';
    description?: string;
  }): { channelId: string } {
    if (!this.core.state.spaces.has(opts.spaceId)) throw new InvalidInputError(`unknown space ${opts.spaceId}`);
    const type = opts.type === 'voice' ? 1 : opts.type === 'announcement' ? 2 : 0;
    const c = this.core.state.addChannel({
      spaceId: opts.spaceId,
      name: opts.name,
      type,
      description: opts.description ?? null,
    });
    this.core.hub.publishSpace(opts.spaceId, 'channelCreate', {
      spaceId: opts.spaceId,
      channel: { channelId: c.channelId, spaceId: opts.spaceId, type, name: c.name, description: c.description },
    });
    return { channelId: c.channelId };
  }

  #voiceJoined(userId: string, spaceId: string, channelId: string): void {
    const u = this.core.state.users.get(userId);
    if (!u) return;
    const prev = this.core.state.voiceStates.get(userId);
    if (prev?.channelId === channelId) return;
    if (prev) this.#voiceLeft(userId, prev.spaceId, prev.channelId);
    this.core.state.voiceStates.set(userId, { spaceId, channelId, joinedAt: this.core.state.wallNow() });
    this.core.hub.publishSpace(spaceId, 'voiceJoin', { spaceId, channelId, user: userDto(u) });
  }

  #voiceLeft(userId: string, spaceId: string, channelId: string): void {
    const vs = this.core.state.voiceStates.get(userId);
    const u = this.core.state.users.get(userId);
    if (!u || vs?.channelId !== channelId) return;
    this.core.state.voiceStates.delete(userId);
    this.core.hub.publishSpace(spaceId, 'voiceLeave', { spaceId, channelId, user: userDto(u) });
  }

  /**
   * Puts a user into a voice channel: joins the gateway room `<spaceId>/<channelId>` and emits
   * `voiceJoin`; `participant.leave()` emits `voiceLeave`.
   * @throws InvalidInputError for an unknown user or a channel that is not a voice channel of the space.
   */
  joinVoice(userId: string, where: { spaceId: string; channelId: string }): SimulatedParticipant {
    const u = this.core.state.users.get(userId);
    const ch = this.core.state.channels.get(where.channelId);
    if (!u) throw new InvalidInputError(`unknown user ${userId}`);
    if (!ch || ch.spaceId !== where.spaceId || ch.type !== 1)
      throw new InvalidInputError('not a voice channel of that space');
    const p = this.gateway.joinSimulated(`${where.spaceId}/${where.channelId}`, userId, { name: u.username });
    this.#voiceJoined(userId, where.spaceId, where.channelId);
    // Every way out (leave, kick by a duplicate identity, room closed) emits voiceLeave once.
    p.once('left', () => this.#voiceLeft(userId, where.spaceId, where.channelId));
    return p;
  }

  /**
   * A user calls a bot (default: the default bot). `callIncoming` reaches the bot only if it has
   * an open SSE stream; the call times out after 45 s of ringing.
   */
  placeCall(opts: { fromUserId: string; toBotUserId?: string; locale?: string | null }): SimulatedCall {
    const st = this.core.state;
    const caller = st.users.get(opts.fromUserId);
    if (!caller) throw new InvalidInputError(`unknown user ${opts.fromUserId}`);
    const bot = st.botsByUserId.get(opts.toBotUserId ?? this.bot.userId);
    if (!bot) throw new InvalidInputError(`unknown bot user ${opts.toBotUserId}`);
    let participant: SimulatedParticipant | undefined;
    let resolveAccepted!: () => void;
    let rejectAccepted!: (e: Error) => void;
    let resolveEnded!: (r: string) => void;
    const accepted = new Promise<void>((res, rej) => {
      resolveAccepted = res;
      rejectAccepted = rej;
    });
    accepted.catch(() => undefined);
    const ended = new Promise<string>((res) => (resolveEnded = res));
    const locale = opts.locale === undefined ? (caller.locale?.split('-')[0] ?? null) : opts.locale;
    let rec: CallRecord | undefined;
    rec = this.core.startCall({
      callerId: caller.userId,
      botId: bot.botId,
      locale,
      onAccepted: () => {
        if (this.#gateway && rec)
          participant = this.#gateway.joinSimulated(rec.room, caller.userId, { name: caller.username });
        resolveAccepted();
      },
      onEnded: (reason) => {
        participant?.leave();
        rejectAccepted(new InvalidInputError(`call ended before it was accepted (${reason})`));
        resolveEnded(reason);
      },
    });
    const call = rec;
    const core = this.core;
    return {
      callId: call.callId,
      roomName: call.room,
      get state() {
        return call.state;
      },
      get caller(): SimulatedParticipant {
        if (!participant) throw new InvalidInputError('the caller joins the audio room when the bot accepts');
        return participant;
      },
      accepted,
      ended,
      hangUp: () => core.endCall(call, 'hangup'),
    };
  }

  /** A user posts a text message (`messageCreate`). Returns the message id. */
  sendMessage(
    userId: string,
    channelId: string,
    text: string,
    opts: { randomId?: bigint; replyTo?: bigint } = {},
  ): bigint {
    if (!this.core.state.users.has(userId)) throw new InvalidInputError(`unknown user ${userId}`);
    const ch = this.core.state.channels.get(channelId);
    if (ch?.type !== 0) throw new InvalidInputError('not a text channel');
    return this.core.postMessage({
      senderId: userId,
      channelId,
      text,
      randomId: opts.randomId ?? BigInt.asIntN(64, randomBytes(8).readBigInt64BE()),
      replyTo: opts.replyTo ?? null,
      entities: [],
      controls: null,
    });
  }

  /**
   * A user runs a slash command (`commandInteraction` with a fresh 60-s interaction id).
   * Option values are typed from the command's schema (Integer → int64, Number → double, Boolean → bool).
   * @throws InvalidInputError when no command of that name is visible in the space.
   */
  runCommand(
    userId: string,
    opts: {
      spaceId: string;
      channelId: string;
      name: string;
      options?: Record<string, string | number | boolean | bigint>;
    },
  ): { interactionId: string; commandId: string } {
    const st = this.core.state;
    const u = st.users.get(userId);
    if (!u) throw new InvalidInputError(`unknown user ${userId}`);
    const name = opts.name.toLowerCase();
    const cmd = [...st.commands.values()].find(
      (c) =>
        c.name === name &&
        (c.spaceId === null || c.spaceId === opts.spaceId) &&
        st.isMember(opts.spaceId, st.bots.get(c.botId)?.userId ?? ''),
    );
    if (!cmd) throw new InvalidInputError(`no command '${opts.name}' in space ${opts.spaceId}`);
    const options = Object.entries(opts.options ?? {}).map(([k, v]) => {
      const schema = (cmd.options as Array<Record<string, unknown>>).find(
        (o) => String(o.name).toLowerCase() === k.toLowerCase(),
      );
      const type = typeof schema?.type === 'number' ? schema.type : 0;
      let value: unknown = String(v);
      if (type === 1 && /^-?\d+$/.test(String(v))) value = BigInt(String(v));
      else if (type === 6 && Number.isFinite(Number(v))) value = Number(v);
      else if (type === 2 && (String(v) === 'true' || String(v) === 'false')) value = String(v) === 'true';
      return { name: k, type, value };
    });
    const interactionId = this.core.newInteraction('command', opts.spaceId, opts.channelId, userId);
    this.core.hub.publishSpace(opts.spaceId, 'commandInteraction', {
      interactionId,
      spaceId: opts.spaceId,
      channelId: opts.channelId,
      commandId: cmd.commandId,
      commandName: cmd.name,
      user: userDto(u),
      options,
      voiceState: this.core.voiceState(userId),
    });
    return { interactionId, commandId: cmd.commandId };
  }

  /**
   * A user presses a button on a message (`controlInteraction`).
   * @throws InvalidInputError for an unknown user or message.
   */
  pressButton(
    userId: string,
    opts: { messageId: bigint | string | number; controlId: string },
  ): { interactionId: string } {
    const st = this.core.state;
    const u = st.users.get(userId);
    const m = st.messages.get(toBigInt(opts.messageId, 'messageId'));
    if (!u || !m) throw new InvalidInputError('unknown user or message');
    const interactionId = this.core.newInteraction('control', m.spaceId, m.channelId, userId);
    this.core.hub.publishSpace(m.spaceId, 'controlInteraction', {
      interactionId,
      controlType: 0,
      messageId: m.messageId,
      channelId: m.channelId,
      spaceId: m.spaceId,
      user: userDto(u),
      controlId: opts.controlId,
      voiceState: this.core.voiceState(userId),
    });
    return { interactionId };
  }

  /**
   * A user picks values in a select control of a message (`selectInteraction`).
   * @throws InvalidInputError for an unknown user or message.
   */
  selectOption(
    userId: string,
    opts: { messageId: bigint | string | number; customId: string; values: string[]; controlType?: 1 | 2 | 3 | 4 },
  ): { interactionId: string } {
    const st = this.core.state;
    const u = st.users.get(userId);
    const m = st.messages.get(toBigInt(opts.messageId, 'messageId'));
    if (!u || !m) throw new InvalidInputError('unknown user or message');
    const interactionId = this.core.newInteraction('select', m.spaceId, m.channelId, userId);
    this.core.hub.publishSpace(m.spaceId, 'selectInteraction', {
      interactionId,
      controlType: opts.controlType ?? 1,
      customId: opts.customId,
      messageId: m.messageId,
      channelId: m.channelId,
      spaceId: m.spaceId,
      user: userDto(u),
      values: opts.values,
      voiceState: this.core.voiceState(userId),
    });
    return { interactionId };
  }

  /** Removes a member from a space (`memberLeave`; bots also get `botUninstallingFromSpace`). */
  removeMember(spaceId: string, userId: string): void {
    const space = this.core.state.spaces.get(spaceId);
    if (!space?.members.delete(userId)) throw new InvalidInputError('not a member of that space');
    this.core.hub.publishSpace(spaceId, 'memberLeave', { spaceId, userId });
    const bot = this.core.state.botsByUserId.get(userId);
    if (bot) this.core.hub.publishDirect(bot.botId, 'botUninstallingFromSpace', { spaceId });
  }

  /**
   * A user submits a modal opened by IInteractions/Modal (`modalSubmit`, whose `customId` is the
   * `modalInteractionId`). `values` maps component customIds to their value.
   * @throws InvalidInputError when the modal interaction is unknown or expired.
   */
  submitModal(userId: string, modalInteractionId: string, values: Record<string, string>): void {
    const rec = this.core.peekInteraction(modalInteractionId);
    const u = this.core.state.users.get(userId);
    if (rec?.kind !== 'modal' || !u) throw new InvalidInputError('modal interaction unknown or expired');
    this.core.state.interactions.delete(modalInteractionId);
    this.core.hub.publishSpace(rec.spaceId, 'modalSubmit', {
      interactionId: newGuid(),
      customId: modalInteractionId,
      channelId: rec.channelId,
      spaceId: rec.spaceId,
      user: userDto(u),
      values: Object.entries(values).map(([customId, v]) => ({ customId, values: [v] })),
      voiceState: this.core.voiceState(userId),
    });
  }

  /** Wall-clock ISO time of the emulator (follows the injected clock). */
  nowIso(): string {
    return isoTime(this.core.state.wallNow(), 'Z');
  }

  /** Stops everything: SSE streams, calls, timers, both servers. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.core.dispose();
      await Promise.all([this.#server.close(), this.#gateway?.close()]);
    })();
    return this.#closing;
  }

  /** `await using emu = await Emulator.start()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
