/**
 * Event-type contract: one sample per event, type-checked against `ArgonEventPayloads` (excess and
 * missing keys are compile errors), compared at run time with the manifest's payload shapes. Any
 * difference must be a listed correction (`src/rest/corrections.ts`).
 */
import { describe, expect, it } from 'vitest';
import type { ArgonEventPayloads, BotMessageEntity, BotUser, BotVoiceState } from '../../src/events/types.js';
import { CORRECTIONS } from '../../src/rest/corrections.js';
import type { BotArchetype } from '../../src/rest/types.js';
import { type ManifestProp as Prop, manifest } from '../helpers/contract.js';

const G = '11111111-2222-3333-4444-555555555555';
const user: BotUser = { userId: G, username: 'u', displayName: 'U', avatarUrl: null, flags: 0, locale: 'en' };
const voiceState: BotVoiceState = { channelId: G, joinedAt: '2026-01-01T00:00:00+00:00', state: 0 };
const entity: BotMessageEntity = {
  type: 10,
  offset: 0,
  length: 1,
  userId: null,
  archetypeId: null,
  email: null,
  hashtag: null,
  quotedUserId: null,
  colour: null,
  domain: null,
  path: null,
  numerator: null,
  denominator: null,
  callerId: null,
  callId: null,
  durationSeconds: null,
  inviterId: null,
  fileName: null,
  fileSize: null,
  contentType: null,
  width: null,
  height: null,
  thumbHash: null,
};
const archetype: BotArchetype = {
  archetypeId: G,
  spaceId: G,
  name: 'a',
  colour: 0,
  isMentionable: false,
  isDefault: false,
  permissions: null,
};
const reaction = { spaceId: G, channelId: G, messageId: 1n, userId: G, emoji: 'x' };

const samples: { [K in keyof ArgonEventPayloads]: ArgonEventPayloads[K] } = {
  ready: { intents: 1, spaces: [{ spaceId: G, grantedEntitlements: 1n, pendingApproval: false }] },
  heartbeat: { timestamp: 1 },
  resumed: { replayedCount: 0 },
  messageCreate: {
    spaceId: G,
    channelId: G,
    message: {
      messageId: 1n,
      replyId: null,
      channelId: G,
      spaceId: G,
      text: 't',
      entities: [entity],
      timeSent: '2026-01-01T00:00:00Z',
      sender: user,
      controls: null,
      reactions: [{ emoji: 'x', count: 1, userIds: [G] }],
    },
  },
  messageEdit: { spaceId: G, channelId: G, messageId: 1n, text: 't', updatedAt: 'x' },
  memberJoin: { spaceId: G, user },
  memberLeave: { spaceId: G, userId: G },
  memberUpdate: { spaceId: G, user },
  channelCreate: { spaceId: G, channel: { channelId: G, spaceId: G, type: 1, name: 'n', description: null } },
  channelDelete: { spaceId: G, channelId: G },
  presenceUpdate: {
    spaceId: G,
    user,
    presence: { status: 1, activity: { kind: 0, startTimestampSeconds: 1, titleName: 'g' } },
  },
  voiceJoin: { spaceId: G, channelId: G, user },
  voiceLeave: { spaceId: G, channelId: G, user },
  callIncoming: { callId: G, fromUserId: G, fromLocale: 'en' },
  callEnded: { callId: G },
  commandInteraction: {
    interactionId: G,
    spaceId: G,
    channelId: G,
    commandId: G,
    commandName: 'c',
    user,
    options: [{ name: 'o', type: 1, value: 5 }],
    voiceState,
  },
  botInstallingToSpace: { spaceId: G },
  botUninstallingFromSpace: { spaceId: G },
  botEntitlementsUpdated: { spaceId: G, requiredEntitlements: 1n << 56n, grantedEntitlements: 1n },
  controlInteraction: {
    interactionId: G,
    controlType: 0,
    messageId: 1n,
    channelId: G,
    spaceId: G,
    user,
    controlId: 'b',
    voiceState,
  },
  selectInteraction: {
    interactionId: G,
    controlType: 1,
    customId: 's',
    messageId: 1n,
    channelId: G,
    spaceId: G,
    user,
    values: ['v'],
    voiceState,
  },
  modalSubmit: {
    interactionId: G,
    customId: G,
    channelId: G,
    spaceId: G,
    user,
    values: [{ customId: 'f', values: ['x'] }],
    voiceState,
  },
  typingStart: { spaceId: G, channelId: G, userId: G, kind: 'TYPING' },
  typingStop: { spaceId: G, channelId: G, userId: G },
  archetypeCreate: { spaceId: G, archetype },
  archetypeUpdate: { spaceId: G, archetype },
  reactionAdd: reaction,
  reactionRemove: reaction,
};

const camel = (s: string) => s[0]!.toLowerCase() + s.slice(1);
const extraFor = (target: string) =>
  CORRECTIONS.filter((c) => c.target === target && c.kind === 'extra-response-field').map((c) => c.field!);

let compared = 0;
function compare(where: string, value: Record<string, unknown>, shape: Prop[], extra: string[]): void {
  compared++;
  expect(Object.keys(value).sort(), where).toEqual([...shape.map((p) => p.name), ...extra].sort());
  for (const p of shape) {
    if (!p.properties) continue;
    let v = value[p.name];
    if (p.isArray) v = Array.isArray(v) ? v[0] : undefined;
    if (v === null || v === undefined || typeof v !== 'object') continue;
    compare(`${where}.${p.name}`, v as Record<string, unknown>, p.properties, extraFor(p.type));
  }
}

describe('event payload types vs manifest', () => {
  it('covers exactly the 28 manifest events', () => {
    expect(Object.keys(samples).sort()).toEqual(manifest.events.map((e) => camel(e.name)).sort());
  });

  it('has the manifest payload keys (nested too), plus only the listed corrections', () => {
    for (const e of manifest.events) {
      const name = camel(e.name);
      compare(
        name,
        samples[name as keyof typeof samples] as unknown as Record<string, unknown>,
        e.payloadTypeShape,
        extraFor(name),
      );
    }
    // nested objects were compared too (users, messages, entities, voice states, archetypes …)
    expect(compared).toBeGreaterThanOrEqual(53);
  });
});
