/**
 * Integer enums of the Argon Bot API (docs/platform.md §R4.4).
 *
 * The manifest renders every enum as a camelCase string union, but the server has no string-enum
 * converter: enums are integers in requests, responses and events. The two exceptions are the
 * IChannels response `channelType` (PascalCase string) and typing `kind` (upper-case string).
 * @packageDocumentation
 */

/** Channel type as an integer (IChannels/Create request, `channelCreate` event `type`). */
export const ChannelType = { Text: 0, Voice: 1, Announcement: 2 } as const;
/** @see {@link ChannelType} */
export type ChannelType = (typeof ChannelType)[keyof typeof ChannelType];

/** Channel type as the IChannels responses spell it (`ToString()` of the server enum). */
export type ChannelTypeName = keyof typeof ChannelType;

/** Message entity type (request `entities[].type`, §R4.6). Gif (21) is refused in requests. */
export const EntityType = {
  Hashtag: 0,
  Mention: 1,
  MentionEveryone: 2,
  MentionRole: 3,
  Email: 4,
  Url: 5,
  Monospace: 6,
  Quote: 7,
  Spoiler: 8,
  Strikethrough: 9,
  Bold: 10,
  Italic: 11,
  Underline: 12,
  Fraction: 13,
  Ordinal: 14,
  Capitalized: 15,
  SystemCallStarted: 16,
  SystemCallEnded: 17,
  SystemCallTimeout: 18,
  SystemUserJoined: 19,
  Attachment: 20,
  Gif: 21,
} as const;
/** @see {@link EntityType} */
export type EntityType = (typeof EntityType)[keyof typeof EntityType];

/** Message control type. */
export const ControlType = { Button: 0, StringSelect: 1, UserSelect: 2, ArchetypeSelect: 3, ChannelSelect: 4 } as const;
/** @see {@link ControlType} */
export type ControlType = (typeof ControlType)[keyof typeof ControlType];

/** Button variant. */
export const ButtonVariant = { Callback: 0, Link: 1 } as const;
/** @see {@link ButtonVariant} */
export type ButtonVariant = (typeof ButtonVariant)[keyof typeof ButtonVariant];

/** Modal text input style. */
export const TextInputStyle = { Short: 0, Paragraph: 1 } as const;
/** @see {@link TextInputStyle} */
export type TextInputStyle = (typeof TextInputStyle)[keyof typeof TextInputStyle];

/** Modal component type. */
export const ModalComponentType = {
  TextInput: 0,
  StringSelect: 1,
  UserSelect: 2,
  ArchetypeSelect: 3,
  ChannelSelect: 4,
  Checkbox: 5,
} as const;
/** @see {@link ModalComponentType} */
export type ModalComponentType = (typeof ModalComponentType)[keyof typeof ModalComponentType];

/** Slash-command option type. */
export const CommandOptionType = {
  String: 0,
  Integer: 1,
  Boolean: 2,
  User: 3,
  Channel: 4,
  Role: 5,
  Number: 6,
} as const;
/** @see {@link CommandOptionType} */
export type CommandOptionType = (typeof CommandOptionType)[keyof typeof CommandOptionType];

/** Presence status. */
export const UserStatus = {
  Offline: 0,
  Online: 1,
  Away: 2,
  InGame: 3,
  Listen: 4,
  TouchGrass: 5,
  DoNotDisturb: 6,
} as const;
/** @see {@link UserStatus} */
export type UserStatus = (typeof UserStatus)[keyof typeof UserStatus];

/** Presence activity kind. */
export const ActivityKind = { Game: 0, Software: 1, Streaming: 2, Listen: 3 } as const;
/** @see {@link ActivityKind} */
export type ActivityKind = (typeof ActivityKind)[keyof typeof ActivityKind];

/** User flag bits (`BotUserV1.flags`). */
export const UserFlags = { Bot: 1, System: 2, Verified: 4, Premium: 8, Banned: 16, Deleted: 32 } as const;

/** Voice state bits (`BotVoiceStateV1.state`). */
export const ChannelMemberState = {
  Muted: 2,
  MutedByServer: 4,
  MutedHeadphones: 8,
  MutedHeadphonesByServer: 16,
  Streaming: 32,
} as const;

/** Entitlement (permission) bits as bigint masks; the high ones exceed 2^53 (docs/platform.md §R4.3). */
export const Entitlement = {
  ViewChannel: 1n,
  ReadHistory: 2n,
  JoinToVoice: 4n,
  SendMessages: 32n,
  SendVoice: 64n,
  AttachFiles: 128n,
  AddReactions: 256n,
  AnyMentions: 512n,
  MentionEveryone: 1024n,
  UseCommands: 8192n,
  Connect: 1n << 20n,
  Speak: 1n << 21n,
  KickMember: 1n << 44n,
  ManageChannels: 1n << 50n,
  ManageArchetype: 1n << 51n,
  ManageBots: 1n << 52n,
  ManageEvents: 1n << 53n,
  ManageBehaviour: 1n << 54n,
  ManageServer: 1n << 55n,
  ManageMessages: 1n << 56n,
} as const;
