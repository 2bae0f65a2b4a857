/**
 * Gateway intents (docs/platform.md §R5.2): which event groups a stream receives. Lifecycle (`ready`,
 * `heartbeat`, `resumed`) and bot-lifecycle events (`botInstallingToSpace`,
 * `botUninstallingFromSpace`, `botEntitlementsUpdated`) are always delivered.
 *
 * Members, Presence and Calls are *privileged* in the docs; the server does not enforce that today
 * (an unverified bot asking for them gets the events), but a future server may.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

/** Intent bits by name. */
export const Intents = {
  Messages: 1,
  Members: 2,
  Channels: 4,
  Reactions: 8,
  Typing: 16,
  Presence: 32,
  Commands: 64,
  DirectMessages: 128,
  Moderation: 256,
  Archetypes: 512,
  SpaceUpdates: 1024,
  Voice: 2048,
  Calls: 4096,
  ControlInteractions: 8192,
  /** Every non-privileged intent (the server's default when `intents` is absent). */
  AllNonPrivileged: 12253,
  /** Members | Presence | Calls. */
  AllPrivileged: 4130,
  /** Every intent (what the reference echo-bot sends). */
  All: 16383,
} as const;

/** Name of one intent bit. */
export type IntentName = Exclude<keyof typeof Intents, 'AllNonPrivileged' | 'AllPrivileged' | 'All'>;

/** The privileged intents. */
export const PRIVILEGED_INTENTS: readonly IntentName[] = ['Members', 'Presence', 'Calls'];

/** Every single-bit intent name, in bit order. */
export const INTENT_NAMES: readonly IntentName[] = [
  'Messages',
  'Members',
  'Channels',
  'Reactions',
  'Typing',
  'Presence',
  'Commands',
  'DirectMessages',
  'Moderation',
  'Archetypes',
  'SpaceUpdates',
  'Voice',
  'Calls',
  'ControlInteractions',
];

/** True when `name` is privileged (Members, Presence, Calls). */
export function isPrivilegedIntent(name: IntentName): boolean {
  return PRIVILEGED_INTENTS.includes(name);
}

/**
 * Builds an intents mask from names and/or numbers.
 * @throws {@link InvalidInputError} for an unknown name or a number outside 0..16383.
 * @example intents('Messages', 'Voice', 'Calls') // 6145
 */
export function intents(...parts: Array<IntentName | 'AllNonPrivileged' | 'AllPrivileged' | 'All' | number>): number {
  let mask = 0;
  for (const p of parts) {
    if (typeof p === 'number') {
      if (!Number.isInteger(p) || p < 0 || p > Intents.All)
        throw new InvalidInputError(`intent mask out of range: ${p}`);
      mask |= p;
    } else {
      const v = (Intents as Record<string, number>)[p];
      if (v === undefined) throw new InvalidInputError(`unknown intent: ${String(p)}`);
      mask |= v;
    }
  }
  return mask;
}

/** A fluent builder, for code that adds intents conditionally. */
export class IntentsBuilder {
  #mask = 0;
  /** Adds intents. */
  add(...names: IntentName[]): this {
    this.#mask |= intents(...names);
    return this;
  }
  /** Removes intents. */
  remove(...names: IntentName[]): this {
    this.#mask &= ~intents(...names);
    return this;
  }
  /** True when any privileged intent is included. */
  get privileged(): boolean {
    return (this.#mask & Intents.AllPrivileged) !== 0;
  }
  /** The mask. */
  build(): number {
    return this.#mask;
  }
}

/** Names of the bits set in `mask` (unknown bits ignored). */
export function intentNames(mask: number): IntentName[] {
  return INTENT_NAMES.filter((n) => (mask & Intents[n]) !== 0);
}

/** Which intent delivers each event; `null` = always delivered. */
export const EVENT_INTENT = {
  ready: null,
  heartbeat: null,
  resumed: null,
  messageCreate: 'Messages',
  messageEdit: 'Messages',
  memberJoin: 'Members',
  memberLeave: 'Members',
  memberUpdate: 'Members',
  channelCreate: 'Channels',
  channelDelete: 'Channels',
  presenceUpdate: 'Presence',
  voiceJoin: 'Voice',
  voiceLeave: 'Voice',
  callIncoming: 'Calls',
  callEnded: 'Calls',
  commandInteraction: 'Commands',
  botInstallingToSpace: null,
  botUninstallingFromSpace: null,
  botEntitlementsUpdated: null,
  controlInteraction: 'ControlInteractions',
  selectInteraction: 'ControlInteractions',
  modalSubmit: 'ControlInteractions',
  typingStart: 'Typing',
  typingStop: 'Typing',
  archetypeCreate: 'Archetypes',
  archetypeUpdate: 'Archetypes',
  reactionAdd: 'Reactions',
  reactionRemove: 'Reactions',
} as const satisfies Record<string, IntentName | null>;
