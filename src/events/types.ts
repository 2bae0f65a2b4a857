/**
 * The 28 SSE events as the server sends them (docs/platform.md §R5.6): camelCase names, bare payloads, integer
 * enums, message ids and entitlement masks as `bigint`, `fromLocale` on `callIncoming`, `locale` on
 * users, `spaces[]` on `ready`.
 *
 * Type-only module.
 * @packageDocumentation
 */
import type { ActivityKind, ChannelType, CommandOptionType, ControlType, UserStatus } from '../rest/enums.js';
import type { BotArchetype, Guid } from '../rest/types.js';

/** A user as events carry it. `avatarUrl` actually holds the avatar file id or null. */
export interface BotUser {
  userId: Guid;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  /** UserFlags bits. */
  flags: number;
  /** BCP-47 locale or null (Bot API 1.10; missing from the manifest). */
  locale: string | null;
}

/** Voice state of an interacting user (`state` is currently always 0). */
export interface BotVoiceState {
  channelId: Guid;
  joinedAt: string;
  state: number;
}

/** Flattened message entity of SSE messages: every key present, irrelevant ones null (§R4.6). */
export interface BotMessageEntity {
  type: number;
  offset: number;
  length: number;
  userId: Guid | null;
  archetypeId: Guid | null;
  email: string | null;
  hashtag: string | null;
  quotedUserId: Guid | null;
  colour: number | null;
  domain: string | null;
  path: string | null;
  numerator: number | null;
  denominator: number | null;
  callerId: Guid | null;
  callId: Guid | null;
  durationSeconds: number | null;
  inviterId: Guid | null;
  fileName: string | null;
  fileSize: number | null;
  contentType: string | null;
  width: number | null;
  height: number | null;
  thumbHash: string | null;
}

/** A message inside `messageCreate`. */
export interface BotMessage {
  messageId: bigint;
  replyId: bigint | null;
  channelId: Guid;
  spaceId: Guid;
  text: string;
  entities: BotMessageEntity[];
  timeSent: string;
  sender: BotUser;
  /** Always null in events. */
  controls: null;
  reactions: Array<{ emoji: string; count: number; userIds: Guid[] }> | null;
}

/** ready. */
export interface ReadyEvent {
  /** Echo of the requested mask. */
  intents: number;
  spaces: Array<{ spaceId: Guid; grantedEntitlements: bigint; pendingApproval: boolean }>;
}
/** heartbeat: `timestamp` is ms since the Argon epoch 2025-01-01Z (Unix ms = value + 1735689600000). */
export interface HeartbeatEvent {
  timestamp: number;
}
/** resumed (defined, never sent by the server). */
export interface ResumedEvent {
  replayedCount: number;
}
/** messageCreate. */
export interface MessageCreateEvent {
  spaceId: Guid;
  channelId: Guid;
  message: BotMessage;
}
/** messageEdit. */
export interface MessageEditEvent {
  spaceId: Guid;
  channelId: Guid;
  messageId: bigint;
  text: string;
  updatedAt: string;
}
/** memberJoin / memberUpdate. */
export interface MemberEvent {
  spaceId: Guid;
  user: BotUser;
}
/** memberLeave. */
export interface MemberLeaveEvent {
  spaceId: Guid;
  userId: Guid;
}
/** channelCreate (`type` is an integer here). */
export interface ChannelCreateEvent {
  spaceId: Guid;
  channel: { channelId: Guid; spaceId: Guid; type: ChannelType; name: string; description: string | null };
}
/** channelDelete. */
export interface ChannelDeleteEvent {
  spaceId: Guid;
  channelId: Guid;
}
/** presenceUpdate. */
export interface PresenceUpdateEvent {
  spaceId: Guid;
  user: BotUser;
  presence: {
    status: UserStatus;
    activity: { kind: ActivityKind; startTimestampSeconds: number; titleName: string } | null;
  };
}
/** voiceJoin / voiceLeave. */
export interface VoiceStateEvent {
  spaceId: Guid;
  channelId: Guid;
  user: BotUser;
}
/** callIncoming (direct). */
export interface CallIncomingEvent {
  callId: Guid;
  fromUserId: Guid;
  /** BCP-47 primary tag (`en`, `ru`, …) or null (Bot API 1.10; missing from the manifest). */
  fromLocale: string | null;
}
/** callEnded (direct). */
export interface CallEndedEvent {
  callId: Guid;
}
/** commandInteraction. Option `value`: Integer → number (bigint beyond 2^53), Number → number, Boolean → boolean, else string. */
export interface CommandInteractionEvent {
  interactionId: Guid;
  spaceId: Guid;
  channelId: Guid;
  commandId: Guid;
  commandName: string;
  user: BotUser;
  options: Array<{ name: string; type: CommandOptionType; value: string | number | bigint | boolean | null }>;
  voiceState: BotVoiceState | null;
}
/** botInstallingToSpace / botUninstallingFromSpace (direct). */
export interface BotSpaceEvent {
  spaceId: Guid;
}
/** botEntitlementsUpdated (direct). */
export interface BotEntitlementsUpdatedEvent {
  spaceId: Guid;
  requiredEntitlements: bigint;
  grantedEntitlements: bigint;
}
/** controlInteraction. */
export interface ControlInteractionEvent {
  interactionId: Guid;
  controlType: ControlType;
  messageId: bigint;
  channelId: Guid;
  spaceId: Guid;
  user: BotUser;
  controlId: string;
  voiceState: BotVoiceState | null;
}
/** selectInteraction. */
export interface SelectInteractionEvent {
  interactionId: Guid;
  controlType: ControlType;
  customId: string;
  messageId: bigint;
  channelId: Guid;
  spaceId: Guid;
  user: BotUser;
  values: string[];
  voiceState: BotVoiceState | null;
}
/** modalSubmit: `customId` is the `modalInteractionId` returned by IInteractions/Modal. */
export interface ModalSubmitEvent {
  interactionId: Guid;
  customId: string;
  channelId: Guid;
  spaceId: Guid;
  user: BotUser;
  values: Array<{ customId: string; values: string[] }>;
  voiceState: BotVoiceState | null;
}
/** typingStart. */
export interface TypingStartEvent {
  spaceId: Guid;
  channelId: Guid;
  userId: Guid;
  kind: 'TYPING' | 'THINKING' | 'UPLOADING' | 'SEARCHING' | null;
}
/** typingStop. */
export interface TypingStopEvent {
  spaceId: Guid;
  channelId: Guid;
  userId: Guid;
}
/** archetypeCreate / archetypeUpdate (`permissions` always null here). */
export interface ArchetypeEvent {
  spaceId: Guid;
  archetype: BotArchetype;
}
/** reactionAdd / reactionRemove. */
export interface ReactionEvent {
  spaceId: Guid;
  channelId: Guid;
  messageId: bigint;
  userId: Guid;
  emoji: string;
}

/** Wire event name → payload, all 28. */
export interface ArgonEventPayloads {
  ready: ReadyEvent;
  heartbeat: HeartbeatEvent;
  resumed: ResumedEvent;
  messageCreate: MessageCreateEvent;
  messageEdit: MessageEditEvent;
  memberJoin: MemberEvent;
  memberLeave: MemberLeaveEvent;
  memberUpdate: MemberEvent;
  channelCreate: ChannelCreateEvent;
  channelDelete: ChannelDeleteEvent;
  presenceUpdate: PresenceUpdateEvent;
  voiceJoin: VoiceStateEvent;
  voiceLeave: VoiceStateEvent;
  callIncoming: CallIncomingEvent;
  callEnded: CallEndedEvent;
  commandInteraction: CommandInteractionEvent;
  botInstallingToSpace: BotSpaceEvent;
  botUninstallingFromSpace: BotSpaceEvent;
  botEntitlementsUpdated: BotEntitlementsUpdatedEvent;
  controlInteraction: ControlInteractionEvent;
  selectInteraction: SelectInteractionEvent;
  modalSubmit: ModalSubmitEvent;
  typingStart: TypingStartEvent;
  typingStop: TypingStopEvent;
  archetypeCreate: ArchetypeEvent;
  archetypeUpdate: ArchetypeEvent;
  reactionAdd: ReactionEvent;
  reactionRemove: ReactionEvent;
}

/** A wire event name. */
export type ArgonEventName = keyof ArgonEventPayloads;

/** One received event: what `for await (const ev of stream)` yields (narrow on `type`). */
export type ArgonEvent = {
  [K in ArgonEventName]: { type: K; id: string | undefined; data: ArgonEventPayloads[K] };
}[ArgonEventName];

/** An event whose name this client does not know (a newer server). */
export interface UnknownEvent {
  type: string;
  id: string | undefined;
  data: unknown;
}
