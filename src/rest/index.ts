/**
 * REST layer of the Argon Bot API: `RestClient` (37 routes), the dispatch core, the client-side
 * rate limiter, bigint-exact JSON, integer enums, the route table and the server corrections.
 * @packageDocumentation
 */
export { newRandomId, RestClient, type RestClientOptions } from './client.js';
export { CORRECTIONS, type Correction, type CorrectionKind, requestFieldCorrections } from './corrections.js';
export {
  DEFAULT_BASE_URL,
  DispatchCore,
  type DispatchCoreOptions,
  type DispatchStats,
  normalizeBaseUrl,
} from './dispatch.js';
export {
  ActivityKind,
  ButtonVariant,
  ChannelMemberState,
  ChannelType,
  type ChannelTypeName,
  CommandOptionType,
  ControlType,
  Entitlement,
  EntityType,
  ModalComponentType,
  TextInputStyle,
  UserFlags,
  UserStatus,
} from './enums.js';
export { BIGINT_KEYS, parseJson, stringifyJson } from './json.js';
export { type Permit, RateLimiter, type RateLimiterOptions, type RateLimiterStats } from './rate-limiter.js';
export {
  type HttpMethod,
  type InterfaceName,
  MAX_CONCURRENT_REQUESTS,
  RATE_LIMITS,
  ROUTES,
  type RouteDef,
  type RouteInput,
  route,
  routeName,
} from './routes.js';
export type * from './types.js';
