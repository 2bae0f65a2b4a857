/**
 * The route table: one row per Bot API route (37), and the per-interface rate limits.
 *
 * Every client method is built from a row here; the contract test checks the rows against the
 * published manifest. Retry policy per route (`retry`):
 * - `'safe'`: GETs; POSTs made idempotent by the server (Send/Reply dedupe on `randomId` for 2 min,
 *   docs/platform.md §R8.3; Ack/Defer only peek; StreamToken/SubscribeTrack mint a fresh token; BatchGet reads;
 *   Typing is a state; Reject of an ended call still answers `{rejected:true}`); PATCH routes that
 *   replace fields; UnsubscribeTrack (a pure acknowledgement).
 * - `'unsafe'`: a repeat would fail or duplicate: Create channel, Register command (duplicate → 500),
 *   Delete channel/command and Remove reaction (second try → misleading 404), Add reaction (409),
 *   Kick, Modal (consumes the interaction), Accept (second try → 400 not_ringing).
 * - `'never'`: IEvents/Stream — `EventStream` owns reconnection.
 *
 * A 429 is retried on every route: the limiter rejects before the handler runs (docs/platform.md §R1.6).
 * @packageDocumentation
 */

/** Interface names (they double as rate-limit buckets). */
export type InterfaceName =
  | 'IBotSelf'
  | 'ISpaces'
  | 'IChannels'
  | 'IMessages'
  | 'IMembers'
  | 'ICommands'
  | 'IInteractions'
  | 'IReactions'
  | 'ITyping'
  | 'IArchetypes'
  | 'IVoice'
  | 'IVoiceEgress'
  | 'ICalls'
  | 'IEvents';

/** HTTP methods used by the API. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Where a route's inputs go. */
export type RouteInput = 'none' | 'query' | 'body' | 'query+body';

/** One route of the Bot API. */
export interface RouteDef {
  /** Client method, `property.method` (e.g. `messages.send`). */
  readonly key: string;
  /** Interface name, the first URL segment (`IMessages`). */
  readonly iface: InterfaceName;
  /** Integer version as it appears in the URL (`20260401` for drafts). */
  readonly version: number;
  /** HTTP method. */
  readonly method: HttpMethod;
  /** `/Method` as in the manifest. */
  readonly path: string;
  /** Where the inputs travel (query string, JSON body, both, or none). */
  readonly input: RouteInput;
  /** Query parameter names (from the spec; the manifest does not describe query strings). */
  readonly query: readonly string[];
  /** JSON body member names the client sends (only these are serialised). */
  readonly body: readonly string[];
  /** Draft interface (ICalls, IVoiceEgress): may change without notice. */
  readonly draft: boolean;
  /** Rate-limit bucket (= interface). */
  readonly bucket: InterfaceName;
  /** The route answers 200 with an empty body: never parse JSON. */
  readonly empty: boolean;
  /** Retry policy for network errors and 5xx (see the module comment). */
  readonly retry: 'safe' | 'unsafe' | 'never';
}

/** Per-interface limits, requests per 60-s sliding window (server config, docs/platform.md §R3). */
export const RATE_LIMITS: Readonly<Record<InterfaceName, number>> = {
  IMessages: 120,
  IInteractions: 120,
  ICommands: 60,
  IChannels: 60,
  ITyping: 60,
  IReactions: 60,
  ISpaces: 30,
  IMembers: 30,
  IArchetypes: 30,
  IVoice: 20,
  ICalls: 20,
  IBotSelf: 15,
  IVoiceEgress: 10,
  IEvents: 5,
};

/** Global per-bot concurrency the server allows (an open SSE stream holds one). */
export const MAX_CONCURRENT_REQUESTS = 10;

const DRAFT_VERSION = 20260401;

function r(
  key: string,
  iface: InterfaceName,
  method: HttpMethod,
  path: string,
  query: readonly string[],
  body: readonly string[],
  retry: RouteDef['retry'],
  empty = false,
): RouteDef {
  const draft = iface === 'ICalls' || iface === 'IVoiceEgress';
  const input: RouteInput =
    query.length && body.length ? 'query+body' : query.length ? 'query' : body.length ? 'body' : 'none';
  return {
    key,
    iface,
    version: draft ? DRAFT_VERSION : 1,
    method,
    path,
    input,
    query,
    body,
    draft,
    bucket: iface,
    empty,
    retry,
  };
}

/** All 37 routes. */
export const ROUTES: readonly RouteDef[] = [
  r('botSelf.getMe', 'IBotSelf', 'GET', '/GetMe', [], [], 'safe'),
  r('botSelf.getSpaces', 'IBotSelf', 'GET', '/GetSpaces', [], [], 'safe'),
  r('spaces.get', 'ISpaces', 'GET', '/Get', ['spaceId'], [], 'safe'),
  r('spaces.listMembers', 'ISpaces', 'GET', '/ListMembers', ['spaceId'], [], 'safe'),
  r('spaces.getMember', 'ISpaces', 'GET', '/GetMember', ['spaceId', 'userId'], [], 'safe'),
  r('channels.list', 'IChannels', 'GET', '/List', ['spaceId'], [], 'safe'),
  r(
    'channels.create',
    'IChannels',
    'POST',
    '/Create',
    [],
    ['spaceId', 'name', 'description', 'channelType', 'groupId'],
    'unsafe',
  ),
  r('channels.delete', 'IChannels', 'DELETE', '/Delete', ['spaceId', 'channelId'], [], 'unsafe'),
  r(
    'messages.send',
    'IMessages',
    'POST',
    '/Send',
    [],
    ['channelId', 'text', 'randomId', 'replyTo', 'entities', 'controls'],
    'safe',
  ),
  r('messages.history', 'IMessages', 'GET', '/History', ['channelId', 'from', 'limit'], [], 'safe'),
  r('members.kick', 'IMembers', 'POST', '/Kick', ['spaceId', 'channelId', 'userId'], [], 'unsafe'),
  r(
    'commands.register',
    'ICommands',
    'POST',
    '/Register',
    [],
    ['name', 'description', 'spaceId', 'options', 'defaultPermission'],
    'unsafe',
  ),
  r(
    'commands.update',
    'ICommands',
    'PATCH',
    '/Update',
    [],
    ['commandId', 'description', 'options', 'defaultPermission'],
    'safe',
  ),
  r('commands.delete', 'ICommands', 'DELETE', '/Delete', ['commandId'], [], 'unsafe'),
  r('commands.list', 'ICommands', 'GET', '/List', [], [], 'safe'),
  r('commands.listForSpace', 'ICommands', 'GET', '/ListForSpace', ['spaceId'], [], 'safe'),
  r(
    'interactions.reply',
    'IInteractions',
    'POST',
    '/Reply',
    [],
    ['channelId', 'text', 'randomId', 'replyTo', 'entities', 'controls'],
    'safe',
  ),
  r(
    'interactions.editMessage',
    'IInteractions',
    'PATCH',
    '/EditMessage',
    [],
    ['channelId', 'messageId', 'text', 'controls'],
    'safe',
    true,
  ),
  r('interactions.ack', 'IInteractions', 'POST', '/Ack', [], ['interactionId'], 'safe', true),
  r('interactions.defer', 'IInteractions', 'POST', '/Defer', [], ['interactionId'], 'safe', true),
  r('interactions.modal', 'IInteractions', 'POST', '/Modal', [], ['interactionId', 'modal'], 'unsafe'),
  r('reactions.add', 'IReactions', 'POST', '/Add', [], ['channelId', 'messageId', 'emoji'], 'unsafe', true),
  r('reactions.remove', 'IReactions', 'DELETE', '/Remove', [], ['channelId', 'messageId', 'emoji'], 'unsafe', true),
  r('reactions.list', 'IReactions', 'GET', '/List', ['channelId', 'messageId'], [], 'safe'),
  r('reactions.batchGet', 'IReactions', 'POST', '/BatchGet', [], ['channelId', 'messageIds'], 'safe'),
  r('typing.start', 'ITyping', 'POST', '/Start', [], ['channelId', 'kind'], 'safe', true),
  r('typing.stop', 'ITyping', 'POST', '/Stop', [], ['channelId'], 'safe', true),
  r('archetypes.list', 'IArchetypes', 'GET', '/List', ['spaceId'], [], 'safe'),
  r('archetypes.get', 'IArchetypes', 'GET', '/Get', ['spaceId', 'archetypeId'], [], 'safe'),
  r('archetypes.listMembers', 'IArchetypes', 'GET', '/ListMembers', ['spaceId', 'archetypeId'], [], 'safe'),
  r('voice.streamToken', 'IVoice', 'POST', '/StreamToken', [], ['spaceId', 'channelId'], 'safe'),
  r(
    'voiceEgress.subscribeTrack',
    'IVoiceEgress',
    'POST',
    '/SubscribeTrack',
    [],
    ['spaceId', 'channelId', 'userId'],
    'safe',
  ),
  r('voiceEgress.unsubscribeTrack', 'IVoiceEgress', 'DELETE', '/UnsubscribeTrack', ['spaceId'], ['trackId'], 'safe'),
  r('calls.accept', 'ICalls', 'POST', '/Accept', [], ['callId'], 'unsafe'),
  r('calls.reject', 'ICalls', 'POST', '/Reject', [], ['callId', 'reason'], 'safe'),
  r('calls.ringing', 'ICalls', 'GET', '/Ringing', [], [], 'safe'),
  r('events.stream', 'IEvents', 'GET', '/Stream', ['intents'], [], 'never'),
];

const BY_KEY = new Map(ROUTES.map((route) => [route.key, route]));

/**
 * Looks a route up by its client method key.
 * @throws RangeError for an unknown key (a programming error).
 */
export function route(key: string): RouteDef {
  const found = BY_KEY.get(key);
  if (!found) throw new RangeError(`unknown route ${key}`);
  return found;
}

/** `Interface/vN/Method` — the route name used in errors and logs. */
export function routeName(def: RouteDef): string {
  return `${def.iface}/v${def.version}${def.path}`;
}
