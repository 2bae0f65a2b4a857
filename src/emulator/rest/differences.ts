/**
 * The one place listing where the emulator (following the server, docs/platform.md Part R) deliberately
 * differs from the published manifest. The conformance test reads this list: every manifest
 * route must match except for the entries here.
 * @packageDocumentation
 */

/** One manifest-vs-server difference. */
export interface ServerDifference {
  /** `Interface/Method` (manifest path without the slash) or `*` for all routes. */
  route: string;
  /**
   * `error-never-emitted`: the manifest lists `code` but the server never answers it
   * (other status or not enforced); `response-shape`: the response is not the manifest DTO;
   * `extra-error`: the server answers an error the manifest does not list.
   */
  kind: 'error-never-emitted' | 'response-shape' | 'extra-error';
  /** Error code concerned (for the error kinds). */
  code?: string;
  /** What the server does instead, with the spec section. */
  note: string;
}

/** Every difference the emulator reproduces on purpose. */
export const SERVER_DIFFERENCES: readonly ServerDifference[] = Object.freeze([
  {
    route: 'IEvents/Stream',
    kind: 'response-shape',
    note: 'SSE stream with bare payloads, not a BotSseEvent envelope (docs/platform.md §R5.3)',
  },
  {
    route: 'IEvents/Stream',
    kind: 'error-never-emitted',
    code: 'missing_intents',
    note: 'never emitted (docs/platform.md §R2.5, §R5.1)',
  },
  {
    route: 'IInteractions/Modal',
    kind: 'error-never-emitted',
    code: 'validation_error',
    note: 'invalid modal → 500 empty (docs/platform.md §R2.3, §R8.1)',
  },
  {
    route: 'IInteractions/EditMessage',
    kind: 'error-never-emitted',
    code: 'message_not_found',
    note: 'unknown/foreign message → 500 empty (docs/platform.md §R2.3)',
  },
  {
    route: 'IInteractions/Reply',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.4)',
  },
  {
    route: 'IMessages/Send',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.4)',
  },
  {
    route: 'IMessages/History',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.4)',
  },
  {
    route: 'IMembers/Kick',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.4)',
  },
  {
    route: 'IReactions/Add',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.5)',
  },
  {
    route: 'ISpaces/Get',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.5)',
  },
  {
    route: 'ISpaces/ListMembers',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.5)',
  },
  {
    route: 'ISpaces/GetMember',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check; unknown member → 500 (docs/platform.md §R2.5)',
  },
  {
    route: 'ITyping/Start',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.5)',
  },
  {
    route: 'ITyping/Stop',
    kind: 'error-never-emitted',
    code: 'not_a_member',
    note: 'no membership check (docs/platform.md §R2.5)',
  },
  {
    route: 'ICalls/Accept',
    kind: 'error-never-emitted',
    code: 'accept_failed',
    note: 'only on an answer race, which the in-process emulator cannot produce (docs/platform.md §R6.2)',
  },
  {
    route: 'IReactions/List',
    kind: 'response-shape',
    note: 'always 404 message_not_found (docs/platform.md §R8.4 bug): the success shape is never produced',
  },
  {
    route: 'IChannels/Create',
    kind: 'extra-error',
    code: 'missing_space_id',
    note: 'membership filter (docs/platform.md §R2.4)',
  },
  {
    route: 'IVoice/StreamToken',
    kind: 'extra-error',
    code: 'missing_space_id',
    note: 'membership filter (docs/platform.md §R2.4)',
  },
  {
    route: 'IVoiceEgress/UnsubscribeTrack',
    kind: 'extra-error',
    code: 'missing_space_id',
    note: 'no spaceId in the body: needs ?spaceId= (docs/platform.md §R2.4)',
  },
  {
    route: 'IArchetypes/ListMembers',
    kind: 'extra-error',
    code: 'not_found',
    note: 'undocumented 404 (docs/platform.md §R2.5)',
  },
  {
    route: 'ITyping/Start',
    kind: 'extra-error',
    code: 'invalid_kind',
    note: 'unknown kind → 400 (docs/platform.md §R8.4)',
  },
  {
    route: '*',
    kind: 'extra-error',
    code: 'rate_limited',
    note: '429 from the limiter on every route (docs/platform.md §R3)',
  },
  {
    route: '*',
    kind: 'response-shape',
    note: 'enums are integers on the wire although the manifest shows camelCase strings (docs/platform.md §R4.4); IChannels channelType is a PascalCase string',
  },
  {
    route: '*',
    kind: 'extra-error',
    code: '413',
    note: 'bodies above 1 MiB → 413 empty (emulator limit; Kestrel’s is 30 MB)',
  },
]);

/** Error codes the manifest lists for `route` that the emulator never answers. */
export function neverEmitted(route: string): Set<string> {
  return new Set(
    SERVER_DIFFERENCES.filter((d) => d.route === route && d.kind === 'error-never-emitted').map((d) => d.code!),
  );
}

/** True when `route`'s success body is not the manifest DTO. */
export function shapeExempt(route: string): boolean {
  return SERVER_DIFFERENCES.some((d) => d.route === route && d.kind === 'response-shape');
}
