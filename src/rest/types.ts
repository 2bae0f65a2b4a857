/**
 * Request and response types of the 37 Bot API routes, written by hand from the manifest with the
 * server's corrections applied (spec Appendix A; the list lives in `corrections.ts`):
 * enums are integers, IChannels `channelType` is a string out but an integer in, message ids and
 * masks are `bigint`, GetMe has exactly four fields, UnsubscribeTrack needs a `spaceId`.
 *
 * Type-only module: implementation files import from here, never from each other's types.
 * @packageDocumentation
 */
import type {
  ButtonVariant,
  ChannelType,
  ChannelTypeName,
  CommandOptionType,
  ControlType,
  EntityType,
  ModalComponentType,
  TextInputStyle,
} from './enums.js';

/** A GUID in the dashed 36-character form (the only form the server accepts in JSON bodies). */
export type Guid = string;

/** Options accepted by every REST call. */
export interface CallOptions {
  /** Aborts the call (and any rate-limit wait or retry sleep); rejects with `AbortError`. */
  signal?: AbortSignal | undefined;
  /**
   * Deadline of the whole call in ms: the wait for a client-side rate-limit permit, every attempt and
   * retry backoff (default: none for the call, the client's per-attempt `timeoutMs`, 15 s, for each
   * attempt). Rejects with `TimeoutError`; with `RateLimitError` at once when the limiter already
   * knows its next permit comes later than the deadline. A retry whose backoff would end past the
   * deadline is not made: the last attempt's error surfaces instead.
   */
  timeoutMs?: number | undefined;
}

// ---------------------------------------------------------------- shared shapes

/** `{deleted:true}` acknowledgement. */
export interface DeletedResponse {
  deleted: boolean;
}

/** Space summary from IBotSelf/GetSpaces. */
export interface BotSpace {
  spaceId: Guid;
  name: string;
  description: string | null;
}

/** Space details from ISpaces/Get. */
export interface BotSpaceDetail extends BotSpace {
  isCommunity: boolean;
}

/** A member of a space. */
export interface BotMember {
  userId: Guid;
  spaceId: Guid;
  username: string;
  displayName: string;
  archetypeIds: Guid[];
}

/** A channel as IChannels returns it: `channelType` is a PascalCase string here (docs/platform.md §R1.2). */
export interface BotChannel {
  channelId: Guid;
  spaceId: Guid;
  name: string;
  description: string | null;
  channelType: ChannelTypeName;
  groupId: Guid | null;
}

/** OKLCH colour of a button. */
export interface OklchColor {
  l: number;
  c: number;
  h: number;
}

/** Option of a string select. */
export interface SelectOption {
  label: string;
  value: string;
  description?: string | null;
  default?: boolean | null;
}

/** A message control (button or select), integer `type`/`variant` (docs/platform.md §R4.6). */
export interface BotControl {
  type: ControlType;
  id?: string | null;
  variant?: ButtonVariant | null;
  label?: string | null;
  url?: string | null;
  colour?: OklchColor | null;
  disabled?: boolean | null;
  labelLocalizations?: Record<string, string> | null;
  customId?: string | null;
  placeholder?: string | null;
  minValues?: number | null;
  maxValues?: number | null;
  options?: SelectOption[] | null;
  requiredArchetypeId?: Guid | null;
}

/** One row of controls. */
export interface ControlRow {
  controls: BotControl[];
}

/** A message entity in a request: integer `type` plus per-type fields (docs/platform.md §R4.6). */
export interface MessageEntityInput {
  type: EntityType;
  offset: number;
  length: number;
  version?: number;
  userId?: Guid;
  archetypeId?: Guid;
  email?: string;
  hashtag?: string;
  quotedUserId?: Guid;
  colour?: number;
  domain?: string;
  path?: string;
  numerator?: number;
  denominator?: number;
  callerId?: Guid;
  callId?: Guid;
  durationSeconds?: number;
  inviterId?: Guid;
  fileId?: string;
  fileName?: string;
  fileSize?: number;
  contentType?: string;
  width?: number;
  height?: number;
  thumbHash?: string;
  downloadUrl?: string;
}

/** A message entity as REST History returns it (raw internal object, docs/platform.md §R4.6). */
export interface MessageEntityRecord extends MessageEntityInput {
  unionKey?: string;
  unionIndex?: number;
  [extra: string]: unknown;
}

/** A reaction summary. `userIds` previews at most 3 users; `count` is the real total. */
export interface Reaction {
  emoji: string;
  count: number;
  userIds: Guid[];
}

/** A message from IMessages/History. */
export interface MessageDto {
  messageId: bigint;
  channelId: Guid;
  spaceId: Guid;
  text: string;
  creatorId: Guid;
  createdAt: string;
  replyTo: bigint | null;
  entities: MessageEntityRecord[];
  controls: ControlRow[] | null;
  reactions: Reaction[] | null;
}

/** A choice of a command option. */
export interface CommandChoice {
  name: string;
  value: string | number | boolean;
}

/** A slash-command option (integer `type`). */
export interface CommandOption {
  name: string;
  description: string;
  type: CommandOptionType;
  required?: boolean;
  choices?: CommandChoice[] | null;
  subOptions?: CommandOption[] | null;
}

/** A registered command. */
export interface BotCommand {
  commandId: Guid;
  name: string;
  description: string;
  spaceId: Guid | null;
  defaultPermission: boolean;
  options: CommandOption[] | null;
}

/** An archetype (role); `permissions` is a bigint mask, null unless the bot has ManageArchetype. */
export interface BotArchetype {
  archetypeId: Guid;
  spaceId: Guid;
  name: string;
  colour: number;
  isMentionable: boolean;
  isDefault: boolean;
  permissions: bigint | null;
}

/** A modal component (integer `type`/`style`). */
export interface ModalComponent {
  type: ModalComponentType;
  customId: string;
  label: string;
  style?: TextInputStyle;
  placeholder?: string;
  value?: string;
  minLength?: number;
  maxLength?: number;
  required?: boolean;
  description?: string;
  default?: boolean;
  minValues?: number;
  maxValues?: number;
  options?: SelectOption[];
}

/** A modal definition. */
export interface ModalDefinition {
  customId: string;
  title: string;
  components: ModalComponent[];
}

// ---------------------------------------------------------------- IBotSelf

/** IBotSelf/GetMe: exactly these four fields (docs also list avatarUrl/email; the server does not send them). */
export interface GetMeResponse {
  botId: Guid;
  userId: Guid;
  username: string;
  displayName: string;
}
/** IBotSelf/GetSpaces. */
export interface GetSpacesResponse {
  spaces: BotSpace[];
}

// ---------------------------------------------------------------- ISpaces

/** `{ spaceId }` query. */
export interface SpaceQuery {
  spaceId: Guid;
}
/** ISpaces/GetMember query. */
export interface GetMemberQuery {
  spaceId: Guid;
  userId: Guid;
}
/** ISpaces/ListMembers. */
export interface MemberListResponse {
  members: BotMember[];
}

// ---------------------------------------------------------------- IChannels

/** IChannels/List. */
export interface ChannelListResponse {
  channels: BotChannel[];
}
/** IChannels/Create body: `channelType` is an integer here (Text 0, Voice 1, Announcement 2). */
export interface CreateChannelRequest {
  spaceId: Guid;
  name: string;
  description?: string | null;
  channelType: ChannelType;
  groupId?: Guid | null;
}
/** IChannels/Delete query. */
export interface DeleteChannelQuery {
  spaceId: Guid;
  channelId: Guid;
}

// ---------------------------------------------------------------- IMessages / IInteractions.Reply

/** IMessages/Send and IInteractions/Reply body. `randomId` is generated for you when omitted. */
export interface SendMessageRequest {
  channelId: Guid;
  text: string;
  /** Dedup key (2 min per channel, docs/platform.md §R8.3). Default: a fresh crypto-random int64. */
  randomId?: bigint;
  replyTo?: bigint | null;
  entities?: MessageEntityInput[] | null;
  controls?: ControlRow[] | null;
}
/** `{ messageId }` of a sent message. */
export interface SendMessageResponse {
  messageId: bigint;
}
/** IMessages/History query: `from` is an exclusive upper bound; `limit` is clamped to 1–100. */
export interface HistoryQuery {
  channelId: Guid;
  from?: bigint;
  limit?: number;
}
/** IMessages/History (newest first). */
export interface HistoryResponse {
  messages: MessageDto[];
}

// ---------------------------------------------------------------- IMembers

/** IMembers/Kick query (POST without a body). */
export interface KickQuery {
  spaceId: Guid;
  channelId: Guid;
  userId: Guid;
}
/** IMembers/Kick. */
export interface KickResponse {
  kicked: boolean;
}

// ---------------------------------------------------------------- ICommands

/** ICommands/Register body (`spaceId` null or absent = global). */
export interface RegisterCommandRequest {
  name: string;
  description: string;
  spaceId?: Guid | null;
  options?: CommandOption[] | null;
  defaultPermission?: boolean | null;
}
/** ICommands/Register. */
export interface CommandRegisteredResponse {
  commandId: Guid;
  name: string;
  spaceId: Guid | null;
}
/** ICommands/Update body: only provided fields are replaced. */
export interface UpdateCommandRequest {
  commandId: Guid;
  description?: string | null;
  options?: CommandOption[] | null;
  defaultPermission?: boolean | null;
}
/** ICommands/Delete query. */
export interface CommandQuery {
  commandId: Guid;
}
/** ICommands/List, ListForSpace. */
export interface CommandListResponse {
  commands: BotCommand[];
}

// ---------------------------------------------------------------- IInteractions

/** IInteractions/EditMessage body: `controls: []` removes all controls; omitted leaves them. */
export interface EditMessageRequest {
  channelId: Guid;
  messageId: bigint;
  text?: string | null;
  controls?: ControlRow[] | null;
}
/** IInteractions/Ack, Defer body. */
export interface InteractionRequest {
  interactionId: Guid;
}
/** IInteractions/Modal body. */
export interface ModalRequest {
  interactionId: Guid;
  modal: ModalDefinition;
}
/** IInteractions/Modal: correlate the later `modalSubmit.customId` with this id. */
export interface ModalResponse {
  modalInteractionId: Guid;
}

// ---------------------------------------------------------------- IReactions

/** IReactions/Add, Remove body. */
export interface ReactionRequest {
  channelId: Guid;
  messageId: bigint;
  emoji: string;
}
/** IReactions/List query. */
export interface ListReactionsQuery {
  channelId: Guid;
  messageId: bigint;
}
/** IReactions/List (the server always answers 404 today, docs/platform.md §R8.4; use batchGet). */
export interface ListReactionsResponse {
  reactions: Reaction[];
}
/** IReactions/BatchGet body (the server reads at most 50 ids). */
export interface BatchGetReactionsRequest {
  channelId: Guid;
  messageIds: bigint[];
}
/** IReactions/BatchGet. */
export interface BatchGetReactionsResponse {
  messages: Array<{ messageId: bigint; reactions: Reaction[] }>;
}

// ---------------------------------------------------------------- ITyping

/** Typing kinds accepted by ITyping/Start (case-insensitive on the server). */
export type TypingKind = 'typing' | 'thinking' | 'uploading' | 'searching';
/** ITyping/Start body. */
export interface TypingStartRequest {
  channelId: Guid;
  kind?: TypingKind | null;
}
/** ITyping/Stop body. */
export interface TypingStopRequest {
  channelId: Guid;
}

// ---------------------------------------------------------------- IArchetypes

/** IArchetypes/Get, ListMembers query. */
export interface ArchetypeQuery {
  spaceId: Guid;
  archetypeId: Guid;
}
/** IArchetypes/List. */
export interface ArchetypeListResponse {
  archetypes: BotArchetype[];
}
/** IArchetypes/ListMembers. */
export interface ArchetypeMembersResponse {
  archetypeId: Guid;
  members: Array<{ userId: Guid; username: string; displayName: string }>;
}

// ---------------------------------------------------------------- IVoice / IVoiceEgress

/** IVoice/StreamToken body. */
export interface StreamTokenRequest {
  spaceId: Guid;
  channelId: Guid;
}
/** IVoice/StreamToken: LiveKit JWT (2 h), AudioWS ingress base, room `<spaceId>/<channelId>`. */
export interface StreamTokenResponse {
  token: string;
  ingressUrl: string;
  roomName: string;
}
/** IVoiceEgress/SubscribeTrack body. @beta */
export interface SubscribeTrackRequest {
  spaceId: Guid;
  channelId: Guid;
  userId: Guid;
}
/** IVoiceEgress/SubscribeTrack (`wsUrl` is the SFU URL, not the AudioWS ingress). @beta */
export interface SubscribeTrackResponse {
  token: string;
  wsUrl: string;
  roomName: string;
  trackId: string;
}
/**
 * IVoiceEgress/UnsubscribeTrack: `trackId` goes in the JSON body and `spaceId` in the query — the
 * membership filter only finds it there (docs/platform.md §R2.4); without it the server answers 400 missing_space_id. @beta
 */
export interface UnsubscribeTrackRequest {
  trackId: string;
  spaceId: Guid;
}

// ---------------------------------------------------------------- ICalls

/** ICalls/Accept body. @beta */
export interface AcceptCallRequest {
  callId: Guid;
}
/** ICalls/Accept: LiveKit token (1 h), room `call_<hex>`, caller id, AudioWS base. @beta */
export interface AcceptCallResponse {
  token: string;
  roomName: string;
  callerId: Guid;
  audioBaseUrl: string;
}
/** ICalls/Reject body (doubles as hang-up). @beta */
export interface RejectCallRequest {
  callId: Guid;
  reason?: string | null;
}
/** ICalls/Reject. @beta */
export interface RejectCallResponse {
  rejected: boolean;
}
/** ICalls/Ringing (always empty on the server today). @beta */
export interface RingingCallsResponse {
  calls: Array<{ callId: Guid; callerId: Guid }>;
}

// ---------------------------------------------------------------- IEvents

/** IEvents/Stream query. `lastEventId` is accepted and ignored by the server (docs/platform.md §R5.5). */
export interface EventsStreamQuery {
  /** Intent bitmask; absent means AllNonPrivileged (12253). */
  intents?: number;
}

/** The raw streaming response of IEvents/Stream, consumed by `EventStream`. */
export interface RawEventStreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /** Body bytes as they arrive. */
  body: AsyncIterable<Uint8Array>;
  /** Ends the stream and frees its concurrency permit; idempotent. */
  close(): void;
}
