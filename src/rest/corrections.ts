/**
 * Every place where this client follows the server rather than the published manifest, in one list
 * (docs/platform.md §RA). The hand-written types in `types.ts` and `../events/types.ts` apply these; the
 * contract test reads the manifest and accepts a difference only when it is listed here.
 * @packageDocumentation
 */

/** What kind of difference a correction describes. */
export type CorrectionKind =
  /** The client sends a member the manifest does not list (`where` says query or body). */
  | 'extra-request-field'
  /** The manifest lists a member the client does not send. */
  | 'omitted-request-field'
  /** The manifest's string enum is an integer on the wire. */
  | 'integer-enum'
  /** The wire type differs from the manifest's (e.g. int64 → bigint, string in one direction only). */
  | 'wire-type'
  /** A response/event member exists on the wire but not in the manifest. */
  | 'extra-response-field'
  /** A response/event shape differs from the docs (the manifest agrees with the server). */
  | 'shape'
  /** Transport-level behaviour (base path, event naming, envelopes, headers). */
  | 'transport';

/** One server-vs-manifest difference. */
export interface Correction {
  /** Route key (`voiceEgress.unsubscribeTrack`), event name (`callIncoming`), DTO name, or `*`. */
  readonly target: string;
  readonly kind: CorrectionKind;
  /** Member the correction is about, when there is one. */
  readonly field?: string;
  /** For request fields: where the member travels. */
  readonly where?: 'query' | 'body';
  /** What the server really does, and the spec paragraph. */
  readonly note: string;
}

/** The corrections, grouped by target. */
export const CORRECTIONS: readonly Correction[] = [
  // ---- requests
  {
    target: 'voiceEgress.unsubscribeTrack',
    kind: 'extra-request-field',
    field: 'spaceId',
    where: 'query',
    note: 'The membership filter needs a spaceId and the body has none: without ?spaceId= the server answers 400 missing_space_id (docs/platform.md §R2.4).',
  },
  {
    target: 'channels.create',
    kind: 'integer-enum',
    field: 'channelType',
    note: 'Request channelType is an integer (Text 0, Voice 1, Announcement 2), not "text"/"voice" (docs/platform.md §R1.2, §R4.4).',
  },
  {
    target: 'channels.list',
    kind: 'wire-type',
    field: 'channelType',
    note: 'Response channelType is a PascalCase string "Text"|"Voice"|"Announcement" (ToString of the enum) (docs/platform.md §R1.2).',
  },
  {
    target: 'channels.create',
    kind: 'wire-type',
    field: 'channelType',
    note: 'Response BotChannel.channelType is a PascalCase string, unlike the integer in the request (docs/platform.md §R1.2).',
  },
  {
    target: '*',
    kind: 'integer-enum',
    note: 'Every other enum (entity type, control type, button variant, command option type, modal component, text input style, user status, activity kind, flags, voice state) is an integer (docs/platform.md §R4.4).',
  },
  {
    target: '*',
    kind: 'wire-type',
    field: 'messageId',
    note: 'Message ids (messageId, replyTo, replyId, messageIds) and permission/entitlement masks are int64 numbers above 2^53: bigint in this client, sent as numeric strings (docs/platform.md §R4.3).',
  },
  {
    target: 'messages.send',
    kind: 'wire-type',
    field: 'randomId',
    note: 'Omitted randomId becomes 0 and a second such message within 2 min is swallowed; the client always sends a fresh crypto-random int64 (docs/platform.md §R8.3).',
  },
  {
    target: 'interactions.reply',
    kind: 'wire-type',
    field: 'randomId',
    note: 'Same randomId dedup as IMessages/Send (docs/platform.md §R8.1, §R8.3).',
  },
  {
    target: 'typing.start',
    kind: 'wire-type',
    field: 'kind',
    note: 'kind is a case-insensitive string typing|thinking|uploading|searching; events report it upper-case (docs/platform.md §R8.4).',
  },
  // ---- responses
  {
    target: 'botSelf.getMe',
    kind: 'shape',
    note: 'GetMe returns only botId, userId, username, displayName (docs add avatarUrl, email) (docs/platform.md §RA.3).',
  },
  {
    target: 'messages.history',
    kind: 'extra-response-field',
    field: 'entities',
    note: 'History entities are raw internal objects with version, unionKey, unionIndex, fileId, downloadUrl (docs/platform.md §R4.6).',
  },
  {
    target: 'archetypes.get',
    kind: 'wire-type',
    field: 'permissions',
    note: 'permissions is an int64 mask (bigint) or null.',
  },
  // ---- events
  {
    target: 'ready',
    kind: 'shape',
    field: 'spaces',
    note: 'ready carries spaces:[{spaceId,grantedEntitlements,pendingApproval}] (docs: spaceIds[]); grantedEntitlements is an integer mask (docs/platform.md §RA.4).',
  },
  {
    target: 'callIncoming',
    kind: 'extra-response-field',
    field: 'fromLocale',
    note: 'callIncoming has fromLocale (BCP-47 primary tag or null), added in Bot API 1.10 after the manifest (docs/platform.md §RA.13).',
  },
  {
    target: 'BotUserV1',
    kind: 'extra-response-field',
    field: 'locale',
    note: 'BotUserV1 has locale (string or null) (docs/platform.md §RA.13).',
  },
  {
    target: 'botEntitlementsUpdated',
    kind: 'wire-type',
    field: 'requiredEntitlements',
    note: 'requiredEntitlements/grantedEntitlements are uint64 masks (bigint), not string enums (docs/platform.md §R4.3).',
  },
  {
    target: 'messageCreate',
    kind: 'shape',
    field: 'message',
    note: 'Payload nests the message under `message`; message.controls is always null; reactions null when none (docs/platform.md §R5.6).',
  },
  {
    target: 'typingStart',
    kind: 'wire-type',
    field: 'kind',
    note: 'kind is "TYPING"|"THINKING"|"UPLOADING"|"SEARCHING"|null (docs/platform.md §R5.6).',
  },
  {
    target: 'resumed',
    kind: 'transport',
    note: 'Defined but never sent; Last-Event-ID is ignored; resume is implicit (≈5 min) (docs/platform.md §R5.5).',
  },
  // ---- transport
  {
    target: '*',
    kind: 'transport',
    note: 'SSE event names are camelCase and data is the bare payload, not the BotSseEvent envelope (docs/platform.md §R5.3).',
  },
  {
    target: '*',
    kind: 'transport',
    note: 'Base path: the server maps /api/bot/I…/vN/M, the public gateway /I…/vN/M; baseUrl may include /api/bot (docs/platform.md §R1.1).',
  },
  {
    target: '*',
    kind: 'transport',
    note: 'Error bodies: {error,message|null}, {error}, or none at all; Retry-After is always 1 (docs/platform.md §R2.2, §R3).',
  },
];

/**
 * Request members the client sends beyond the manifest's shape for `routeKey`, and those it omits.
 * Used by the contract test.
 */
export function requestFieldCorrections(routeKey: string): { extra: string[]; omitted: string[] } {
  const extra: string[] = [];
  const omitted: string[] = [];
  for (const c of CORRECTIONS) {
    if (c.target !== routeKey || !c.field) continue;
    if (c.kind === 'extra-request-field') extra.push(c.field);
    if (c.kind === 'omitted-request-field') omitted.push(c.field);
  }
  return { extra, omitted };
}
