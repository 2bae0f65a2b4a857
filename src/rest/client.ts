/**
 * `RestClient`: one property per Bot API interface, one method per route (37), all built on the
 * route table and the dispatch core.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { DispatchCore, type DispatchCoreOptions, type DispatchStats } from './dispatch.js';
import { type RouteDef, route } from './routes.js';
import type * as T from './types.js';

/** Options of a {@link RestClient}. */
/**
 * Options of {@link RestClient}: the same as the dispatch core's, which does the work
 * (see {@link DispatchCoreOptions} for each field).
 */
export type RestClientOptions = DispatchCoreOptions;

type O = T.CallOptions;

/** A fresh crypto-random positive int64 for `randomId` (never 0, docs/platform.md §R8.3). */
export function newRandomId(): bigint {
  for (;;) {
    const v = BigInt.asUintN(63, randomBytes(8).readBigUInt64BE());
    if (v !== 0n) return v;
  }
}

/**
 * Client for the Argon Bot API.
 *
 * ```ts
 * const rest = new RestClient({ token: process.env.ARGON_TOKEN! });
 * const me = await rest.botSelf.getMe();
 * await rest.messages.send({ channelId, text: 'hi' });
 * await rest.close();
 * ```
 */
export class RestClient {
  /** The dispatch core (limiter, stats, base URL). */
  readonly core: DispatchCore;

  /** IBotSelf v1 (15/min). */
  readonly botSelf: {
    /** GET IBotSelf/v1/GetMe. */
    getMe(options?: O): Promise<T.GetMeResponse>;
    /** GET IBotSelf/v1/GetSpaces. */
    getSpaces(options?: O): Promise<T.GetSpacesResponse>;
  };

  /** ISpaces v1 (30/min). */
  readonly spaces: {
    /** GET ISpaces/v1/Get?spaceId. */
    get(query: T.SpaceQuery, options?: O): Promise<T.BotSpaceDetail>;
    /** GET ISpaces/v1/ListMembers?spaceId. */
    listMembers(query: T.SpaceQuery, options?: O): Promise<T.MemberListResponse>;
    /** GET ISpaces/v1/GetMember?spaceId&userId (unknown user → 500 on the server). */
    getMember(query: T.GetMemberQuery, options?: O): Promise<T.BotMember>;
  };

  /** IChannels v1 (60/min, membership filter). */
  readonly channels: {
    /** GET IChannels/v1/List?spaceId. */
    list(query: T.SpaceQuery, options?: O): Promise<T.ChannelListResponse>;
    /** POST IChannels/v1/Create (integer `channelType`). Not retried. */
    create(body: T.CreateChannelRequest, options?: O): Promise<T.BotChannel>;
    /** DELETE IChannels/v1/Delete?spaceId&channelId. Not retried. */
    delete(query: T.DeleteChannelQuery, options?: O): Promise<T.DeletedResponse>;
  };

  /** IMessages v1 (120/min). */
  readonly messages: {
    /** POST IMessages/v1/Send; supplies a random `randomId` unless given, which makes retries safe. */
    send(body: T.SendMessageRequest, options?: O): Promise<T.SendMessageResponse>;
    /** GET IMessages/v1/History?channelId&from&limit (newest first, `from` exclusive). */
    history(query: T.HistoryQuery, options?: O): Promise<T.HistoryResponse>;
  };

  /** IMembers v1 (30/min). */
  readonly members: {
    /** POST IMembers/v1/Kick?spaceId&channelId&userId (query, no body). Not retried. */
    kick(query: T.KickQuery, options?: O): Promise<T.KickResponse>;
  };

  /** ICommands v1 (60/min). */
  readonly commands: {
    /** POST ICommands/v1/Register. Not retried (a duplicate name answers 500). */
    register(body: T.RegisterCommandRequest, options?: O): Promise<T.CommandRegisteredResponse>;
    /** PATCH ICommands/v1/Update. */
    update(body: T.UpdateCommandRequest, options?: O): Promise<T.BotCommand>;
    /** DELETE ICommands/v1/Delete?commandId. Not retried. */
    delete(query: T.CommandQuery, options?: O): Promise<T.DeletedResponse>;
    /** GET ICommands/v1/List. */
    list(options?: O): Promise<T.CommandListResponse>;
    /** GET ICommands/v1/ListForSpace?spaceId (global ∪ that space). */
    listForSpace(query: T.SpaceQuery, options?: O): Promise<T.CommandListResponse>;
  };

  /** IInteractions v1 (120/min). */
  readonly interactions: {
    /** POST IInteractions/v1/Reply (a channel send; random `randomId` unless given). */
    reply(body: T.SendMessageRequest, options?: O): Promise<T.SendMessageResponse>;
    /** PATCH IInteractions/v1/EditMessage (empty 200). */
    editMessage(body: T.EditMessageRequest, options?: O): Promise<void>;
    /** POST IInteractions/v1/Ack (empty 200; within 60 s). */
    ack(body: T.InteractionRequest, options?: O): Promise<void>;
    /** POST IInteractions/v1/Defer (empty 200; within 60 s). */
    defer(body: T.InteractionRequest, options?: O): Promise<void>;
    /** POST IInteractions/v1/Modal (consumes the interaction). Not retried. */
    modal(body: T.ModalRequest, options?: O): Promise<T.ModalResponse>;
  };

  /** IReactions v1 (60/min). */
  readonly reactions: {
    /** POST IReactions/v1/Add (empty 200). Not retried (409 on repeat). */
    add(body: T.ReactionRequest, options?: O): Promise<void>;
    /** DELETE IReactions/v1/Remove with a JSON body (empty 200). Not retried. */
    remove(body: T.ReactionRequest, options?: O): Promise<void>;
    /** GET IReactions/v1/List?channelId&messageId — always 404 on the server today; prefer batchGet. */
    list(query: T.ListReactionsQuery, options?: O): Promise<T.ListReactionsResponse>;
    /** POST IReactions/v1/BatchGet (≤ 50 ids read). */
    batchGet(body: T.BatchGetReactionsRequest, options?: O): Promise<T.BatchGetReactionsResponse>;
  };

  /** ITyping v1 (60/min). */
  readonly typing: {
    /** POST ITyping/v1/Start (empty 200; auto-stops after 8 s). */
    start(body: T.TypingStartRequest, options?: O): Promise<void>;
    /** POST ITyping/v1/Stop (empty 200). */
    stop(body: T.TypingStopRequest, options?: O): Promise<void>;
  };

  /** IArchetypes v1 (30/min, membership filter). */
  readonly archetypes: {
    /** GET IArchetypes/v1/List?spaceId. */
    list(query: T.SpaceQuery, options?: O): Promise<T.ArchetypeListResponse>;
    /** GET IArchetypes/v1/Get?spaceId&archetypeId. */
    get(query: T.ArchetypeQuery, options?: O): Promise<T.BotArchetype>;
    /** GET IArchetypes/v1/ListMembers?spaceId&archetypeId. */
    listMembers(query: T.ArchetypeQuery, options?: O): Promise<T.ArchetypeMembersResponse>;
  };

  /** IVoice v1 (20/min, membership filter). */
  readonly voice: {
    /** POST IVoice/v1/StreamToken → LiveKit token (2 h) + AudioWS ingress. */
    streamToken(body: T.StreamTokenRequest, options?: O): Promise<T.StreamTokenResponse>;
  };

  /**
   * IVoiceEgress v20260401 (10/min, membership filter).
   * @beta Draft interface: may change without notice.
   */
  readonly voiceEgress: {
    /** POST IVoiceEgress/v20260401/SubscribeTrack. @beta */
    subscribeTrack(body: T.SubscribeTrackRequest, options?: O): Promise<T.SubscribeTrackResponse>;
    /**
     * DELETE IVoiceEgress/v20260401/UnsubscribeTrack: JSON body `{trackId}` plus `?spaceId=` (the
     * server's membership filter needs it, docs/platform.md §R2.4). @beta
     */
    unsubscribeTrack(body: T.UnsubscribeTrackRequest, options?: O): Promise<T.DeletedResponse>;
  };

  /**
   * ICalls v20260401 (20/min, verified bots only).
   * @beta Draft interface: may change without notice.
   */
  readonly calls: {
    /** POST ICalls/v20260401/Accept (within the 45-s ring). Not retried (repeat → 400 not_ringing). @beta */
    accept(body: T.AcceptCallRequest, options?: O): Promise<T.AcceptCallResponse>;
    /** POST ICalls/v20260401/Reject (also hangs up an accepted call). @beta */
    reject(body: T.RejectCallRequest, options?: O): Promise<T.RejectCallResponse>;
    /** GET ICalls/v20260401/Ringing (always empty today). @beta */
    ringing(options?: O): Promise<T.RingingCallsResponse>;
  };

  /** IEvents v1 (5 connects/min). Use `EventStream` rather than this raw route. */
  readonly events: {
    /**
     * GET IEvents/v1/Stream?intents: resolves once the headers arrived with the raw, unbuffered
     * body. The stream holds one of the 10 concurrency permits until closed.
     */
    stream(query?: T.EventsStreamQuery, options?: O): Promise<T.RawEventStreamResponse>;
  };

  /** @throws InvalidInputError when the token is missing or the base URL is not http(s). */
  constructor(options: RestClientOptions) {
    const core = new DispatchCore(options);
    this.core = core;
    const q =
      <Q, R>(key: string) =>
      (query: Q, o?: O): Promise<R> =>
        core.call<R>(route(key), { query: query as Record<string, unknown> }, o);
    const n =
      <R>(key: string) =>
      (o?: O): Promise<R> =>
        core.call<R>(route(key), {}, o);
    const b =
      <B, R>(key: string) =>
      (body: B, o?: O): Promise<R> =>
        core.call<R>(route(key), { body: body as Record<string, unknown> }, o);
    const send =
      (key: string) =>
      (body: T.SendMessageRequest, o?: O): Promise<T.SendMessageResponse> =>
        core.call(route(key), { body: { ...body, randomId: body.randomId ?? newRandomId() } }, o);

    this.botSelf = { getMe: n('botSelf.getMe'), getSpaces: n('botSelf.getSpaces') };
    this.spaces = {
      get: q('spaces.get'),
      listMembers: q('spaces.listMembers'),
      getMember: q('spaces.getMember'),
    };
    this.channels = { list: q('channels.list'), create: b('channels.create'), delete: q('channels.delete') };
    this.messages = { send: send('messages.send'), history: q('messages.history') };
    this.members = { kick: q('members.kick') };
    this.commands = {
      register: b('commands.register'),
      update: b('commands.update'),
      delete: q('commands.delete'),
      list: n('commands.list'),
      listForSpace: q('commands.listForSpace'),
    };
    this.interactions = {
      reply: send('interactions.reply'),
      editMessage: b('interactions.editMessage'),
      ack: b('interactions.ack'),
      defer: b('interactions.defer'),
      modal: b('interactions.modal'),
    };
    this.reactions = {
      add: b('reactions.add'),
      remove: b('reactions.remove'),
      list: q('reactions.list'),
      batchGet: b('reactions.batchGet'),
    };
    this.typing = { start: b('typing.start'), stop: b('typing.stop') };
    this.archetypes = {
      list: q('archetypes.list'),
      get: q('archetypes.get'),
      listMembers: q('archetypes.listMembers'),
    };
    this.voice = { streamToken: b('voice.streamToken') };
    this.voiceEgress = {
      subscribeTrack: b('voiceEgress.subscribeTrack'),
      unsubscribeTrack: (body, o) => {
        const { spaceId, ...rest } = body;
        return core.call(route('voiceEgress.unsubscribeTrack'), { query: { spaceId }, body: rest }, o);
      },
    };
    this.calls = { accept: b('calls.accept'), reject: b('calls.reject'), ringing: n('calls.ringing') };
    this.events = {
      stream: (query = {}, o) => core.stream(route('events.stream'), query as Record<string, unknown>, o),
    };
  }

  /** Base URL in use (trailing slash removed). */
  get baseUrl(): string {
    return this.core.baseUrl;
  }

  /** Request counters. */
  get stats(): DispatchStats {
    return this.core.stats;
  }

  /** Called after each successful call with its route (used by `EventStream` zombie detection). */
  onSuccess(listener: (def: RouteDef) => void): () => void {
    return this.core.onSuccess(listener);
  }

  /** Closes open streams, rejects queued calls with `ClosedError`, closes the owned Agent. Idempotent. */
  close(): Promise<void> {
    return this.core.close();
  }

  /** Same as {@link RestClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
