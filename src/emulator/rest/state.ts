/**
 * In-memory world of the emulated platform: users, bots, spaces, channels, members, archetypes,
 * messages, reactions, commands, interactions, voice rooms and calls. Pure data plus id minting;
 * no sockets and no timers (expiry is checked against the injected clock on access).
 * @packageDocumentation
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { JsonValue } from './json.js';

/** Integer channel types on the wire (§R4.4). */
export const ChannelType = { Text: 0, Voice: 1, Announcement: 2 } as const;
/** PascalCase names used by IChannels responses. */
export const CHANNEL_TYPE_NAMES = ['Text', 'Voice', 'Announcement'] as const;

/** Every entitlement bit up to ManageMessages (2^56): what emulated bots are granted by default. */
export const ALL_ENTITLEMENTS = (1n << 57n) - 1n;
/** Entitlement bits the emulator checks (§R4.3). */
export const Entitlement = {
  AddReactions: 1n << 8n,
  KickMember: 1n << 44n,
  ManageChannels: 1n << 50n,
  ManageArchetype: 1n << 51n,
  ManageMessages: 1n << 56n,
} as const;

/** A platform user (bots have one too). */
export interface UserRecord {
  userId: string;
  username: string;
  displayName: string;
  avatarUrl: string | null;
  /** UserFlag bits: BOT 1, VERIFIED 4. */
  flags: number;
  locale: string | null;
}

/** A bot application. */
export interface BotRecord {
  botId: string;
  userId: string;
  token: string;
  verified: boolean;
  restricted: boolean;
}

/** Membership of a user in a space. */
export interface MemberRecord {
  userId: string;
  archetypeIds: string[];
  /** Granted entitlements (meaningful for bots; reported in `ready`). */
  entitlements: bigint;
  /** Entitlements the bot asks for; more than granted → `botEntitlementsUpdated` on every connect (§R5.4). */
  requiredEntitlements: bigint;
}

/** A space (server). */
export interface SpaceRecord {
  spaceId: string;
  name: string;
  description: string | null;
  isCommunity: boolean;
  members: Map<string, MemberRecord>;
}

/** A channel. */
export interface ChannelRecord {
  channelId: string;
  spaceId: string;
  name: string;
  description: string | null;
  type: 0 | 1 | 2;
  groupId: string | null;
}

/** An archetype (role). */
export interface ArchetypeRecord {
  archetypeId: string;
  spaceId: string;
  name: string;
  colour: number;
  isMentionable: boolean;
  isDefault: boolean;
  permissions: bigint;
}

/** A stored message. */
export interface MessageRecord {
  messageId: bigint;
  channelId: string;
  spaceId: string;
  text: string;
  creatorId: string;
  /** Wall-clock Unix ms. */
  createdAt: number;
  replyTo: bigint | null;
  entities: JsonValue[];
  controls: JsonValue | null;
  /** emoji → user ids in reaction order. */
  reactions: Map<string, string[]>;
  deleted: boolean;
}

/** A registered slash command. */
export interface CommandRecord {
  commandId: string;
  botId: string;
  name: string;
  description: string;
  spaceId: string | null;
  defaultPermission: boolean;
  options: JsonValue[];
}

/** A live interaction id (60 s TTL, §R8.1). */
export interface InteractionRecord {
  interactionId: string;
  kind: 'command' | 'control' | 'select' | 'modal';
  /** Clock ms after which the id is gone. */
  expiresAt: number;
  spaceId: string;
  channelId: string;
  userId: string;
}

/** Reverses .NET's GUID byte layout into the 32-hex token prefix (§R1.4). */
export function tokenPrefixForGuid(guid: string): string {
  const h = guid.replace(/-/g, '');
  const bytes = Buffer.from(h, 'hex');
  // .NET layout: first three groups little-endian.
  const dotnet = Buffer.concat([
    Buffer.from(bytes.subarray(0, 4)).reverse(),
    Buffer.from(bytes.subarray(4, 6)).reverse(),
    Buffer.from(bytes.subarray(6, 8)).reverse(),
    bytes.subarray(8),
  ]);
  return Buffer.from(dotnet).reverse().toString('hex').toUpperCase();
}

/** Mints a bot token `<32 HEX>:<43-char base64url>` for an AppId. */
export function mintBotToken(botId: string): string {
  return `${tokenPrefixForGuid(botId)}:${randomBytes(32).toString('base64url')}`;
}

/** A fresh lowercase dashed GUID. */
export function newGuid(): string {
  return randomUUID();
}

/** GUID as 32 lowercase hex (SSE ids, call rooms). */
export function guidHex(guid: string): string {
  return guid.replace(/-/g, '').toLowerCase();
}

/**
 * The world. Holds records only; the REST handlers and the {@link Emulator} mutate it.
 * `wallNow` gives Unix ms for timestamps and message ids.
 */
export class WorldState {
  /** userId → user (bots included). */
  readonly users = new Map<string, UserRecord>();
  /** botId → bot. */
  readonly bots = new Map<string, BotRecord>();
  /** token → bot (auth lookup). */
  readonly botsByToken = new Map<string, BotRecord>();
  /** bot userId → bot. */
  readonly botsByUserId = new Map<string, BotRecord>();
  /** spaceId → space. */
  readonly spaces = new Map<string, SpaceRecord>();
  /** channelId → channel. */
  readonly channels = new Map<string, ChannelRecord>();
  /** archetypeId → archetype. */
  readonly archetypes = new Map<string, ArchetypeRecord>();
  /** messageId → message. */
  readonly messages = new Map<bigint, MessageRecord>();
  /** channelId → messages in insertion (= id) order. */
  readonly channelMessages = new Map<string, MessageRecord[]>();
  /** commandId → command. */
  readonly commands = new Map<string, CommandRecord>();
  /** interactionId → live interaction (expiry checked on access). */
  readonly interactions = new Map<string, InteractionRecord>();
  /** `${spaceId}|${channelId}|${randomId}` → { messageId, expiresAt }. */
  readonly randomIds = new Map<string, { messageId: bigint; expiresAt: number }>();
  /** userId → { spaceId, channelId, joinedAt } for users in a voice channel. */
  readonly voiceStates = new Map<string, { spaceId: string; channelId: string; joinedAt: number }>();

  #lastMs = 0;
  #seq = 0;
  readonly #wallNow: () => number;

  constructor(wallNow: () => number) {
    this.#wallNow = wallNow;
  }

  /** Unix ms now (follows the injected clock). */
  wallNow(): number {
    return this.#wallNow();
  }

  /** A time-ordered int64 message id: `ms << 20 | seq` (§R4.3). Strictly increasing. */
  nextMessageId(): bigint {
    let ms = Math.floor(this.#wallNow());
    if (ms <= this.#lastMs) {
      ms = this.#lastMs;
      this.#seq++;
      if (this.#seq >= 1 << 20) {
        ms++;
        this.#seq = 0;
      }
    } else this.#seq = 0;
    this.#lastMs = ms;
    return (BigInt(ms) << 20n) | BigInt(this.#seq);
  }

  /** Adds a user. */
  addUser(opts: {
    username: string;
    displayName?: string;
    locale?: string | null;
    flags?: number;
    userId?: string;
  }): UserRecord {
    const u: UserRecord = {
      userId: opts.userId ?? newGuid(),
      username: opts.username,
      displayName: opts.displayName ?? opts.username,
      avatarUrl: null,
      flags: opts.flags ?? 0,
      locale: opts.locale ?? null,
    };
    this.users.set(u.userId, u);
    return u;
  }

  /** Adds a bot (and its user). */
  addBot(opts: { username?: string; verified?: boolean }): BotRecord {
    const verified = opts.verified ?? true;
    const user = this.addUser({ username: opts.username ?? 'emulator-bot', flags: 1 | (verified ? 4 : 0) });
    const botId = newGuid();
    const bot: BotRecord = { botId, userId: user.userId, token: mintBotToken(botId), verified, restricted: false };
    this.bots.set(botId, bot);
    this.botsByToken.set(bot.token, bot);
    this.botsByUserId.set(user.userId, bot);
    return bot;
  }

  /** Adds a space with members; every member gets the default archetype. */
  addSpace(opts: { name: string; description?: string | null; members?: string[] }): SpaceRecord {
    const space: SpaceRecord = {
      spaceId: newGuid(),
      name: opts.name,
      description: opts.description ?? null,
      isCommunity: false,
      members: new Map(),
    };
    this.spaces.set(space.spaceId, space);
    const everyone: ArchetypeRecord = {
      archetypeId: newGuid(),
      spaceId: space.spaceId,
      name: 'everyone',
      colour: 0,
      isMentionable: false,
      isDefault: true,
      permissions: (1n << 0n) | (1n << 1n) | (1n << 5n) | (1n << 8n) | (1n << 56n),
    };
    this.archetypes.set(everyone.archetypeId, everyone);
    for (const id of opts.members ?? []) this.addMember(space.spaceId, id);
    return space;
  }

  /** Adds a member to a space (idempotent). */
  addMember(spaceId: string, userId: string): MemberRecord {
    const space = this.spaces.get(spaceId);
    if (!space) throw new Error(`unknown space ${spaceId}`);
    let m = space.members.get(userId);
    if (!m) {
      const dflt = [...this.archetypes.values()].find((a) => a.spaceId === spaceId && a.isDefault);
      m = {
        userId,
        archetypeIds: dflt ? [dflt.archetypeId] : [],
        entitlements: ALL_ENTITLEMENTS,
        requiredEntitlements: 0n,
      };
      space.members.set(userId, m);
    }
    return m;
  }

  /** Adds a channel. */
  addChannel(opts: {
    spaceId: string;
    name: string;
    type: 0 | 1 | 2;
    description?: string | null;
    groupId?: string | null;
  }): ChannelRecord {
    const c: ChannelRecord = {
      channelId: newGuid(),
      spaceId: opts.spaceId,
      name: opts.name,
      description: opts.description ?? null,
      type: opts.type,
      groupId: opts.groupId ?? null,
    };
    this.channels.set(c.channelId, c);
    return c;
  }

  /** True when `userId` is a member of `spaceId`. */
  isMember(spaceId: string, userId: string): boolean {
    return this.spaces.get(spaceId)?.members.has(userId) ?? false;
  }

  /** Spaces the user belongs to, in creation order. */
  spacesOf(userId: string): SpaceRecord[] {
    return [...this.spaces.values()].filter((s) => s.members.has(userId));
  }

  /** Inserts a message. */
  insertMessage(m: Omit<MessageRecord, 'messageId' | 'createdAt' | 'reactions' | 'deleted'>): MessageRecord {
    const rec: MessageRecord = {
      ...m,
      messageId: this.nextMessageId(),
      createdAt: this.wallNow(),
      reactions: new Map(),
      deleted: false,
    };
    this.messages.set(rec.messageId, rec);
    let list = this.channelMessages.get(rec.channelId);
    if (!list) this.channelMessages.set(rec.channelId, (list = []));
    list.push(rec);
    return rec;
  }
}
