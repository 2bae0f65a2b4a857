/**
 * LiveKit access tokens (HS256) as Argon issues them (docs/platform.md §R6–7, §A1.4), and
 * the gateway's own check of them, in the exact order and with the exact bodies of §A1.5.
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';

/** The `video` grant of a LiveKit token (only `room` matters to the gateway, §A1.4). */
export interface VideoGrant {
  room?: string;
  roomJoin?: boolean;
  roomCreate?: boolean;
  canPublish?: boolean;
  canSubscribe?: boolean;
  canPublishData?: boolean;
  canUpdateOwnMetadata?: boolean;
  canSubscribeMetrics?: boolean;
  destinationRoom?: string;
  hidden?: boolean;
  [extra: string]: unknown;
}

/** Options of {@link mintLiveKitToken}. */
export interface MintTokenOptions {
  apiKey: string;
  apiSecret: string;
  /** JWT `sub` (and `jti`): the participant identity. */
  identity: string;
  /** JWT `name`; defaults to the identity (Argon sets both to the user GUID). */
  name?: string;
  /** `video.room` (and `destinationRoom`). */
  room: string;
  /** Lifetime: StreamToken/SubscribeTrack 7200, call tokens 3600. */
  ttlSeconds: number;
  /** Issue time in Unix seconds (default now); lets tests mint expired or future tokens. */
  nowSeconds?: number;
  /** Extra or overriding grants. */
  grants?: Partial<VideoGrant>;
  /** Participant metadata claim. */
  metadata?: string;
}

/**
 * Mints an HS256 LiveKit access token with the claim shape Argon's server issues: `iss` = API
 * key, `sub` = identity, `name`, `nbf`, `exp`, `jti`, and a `video` grant with roomJoin,
 * roomCreate, canPublish, canSubscribe, canPublishData, canUpdateOwnMetadata,
 * canSubscribeMetrics, room and destinationRoom (docs/platform.md §R7.1).
 */
export async function mintLiveKitToken(opts: MintTokenOptions): Promise<string> {
  const now = Math.floor(opts.nowSeconds ?? Date.now() / 1000);
  const video: VideoGrant = {
    room: opts.room,
    roomJoin: true,
    roomCreate: true,
    canPublish: true,
    canSubscribe: true,
    canPublishData: true,
    canUpdateOwnMetadata: true,
    canSubscribeMetrics: true,
    destinationRoom: opts.room,
    ...opts.grants,
  };
  const payload: Record<string, unknown> = { name: opts.name ?? opts.identity, video };
  if (opts.metadata !== undefined) payload['metadata'] = opts.metadata;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(opts.apiKey)
    .setSubject(opts.identity)
    .setJti(opts.identity || randomBytes(8).toString('hex'))
    .setNotBefore(now)
    .setExpirationTime(now + opts.ttlSeconds)
    .sign(new TextEncoder().encode(opts.apiSecret));
}

/** A token that passed every gateway check. */
export interface VerifiedToken {
  ok: true;
  identity: string;
  name: string;
  room: string;
  /** Unix seconds, when present. */
  exp: number | undefined;
  claims: Record<string, unknown>;
}

/** A token that failed a gateway check: the HTTP status and body (without the trailing `\n`). */
export interface RejectedToken {
  ok: false;
  status: 401 | 403;
  body:
    | 'invalid token format'
    | 'invalid API key'
    | 'token verification failed'
    | 'token must include room grant'
    | 'token must include identity';
}

/** Options of {@link verifyLiveKitToken}. */
export interface VerifyTokenOptions {
  apiKey: string;
  apiSecret: string;
  /** Leeway on `exp`/`nbf` in seconds (go-jose default: 60). */
  leewaySeconds?: number;
  /** Current time in Unix seconds (default now). */
  nowSeconds?: number;
}

/**
 * Checks a token exactly as the gateway does (§A1.4), in order: parseable JWS (401
 * `invalid token format`), `iss` = API key (403 `invalid API key`), HS256 signature and
 * `exp`/`nbf` with ~60 s leeway (403 `token verification failed`), non-empty `video.room`
 * (403 `token must include room grant`), non-empty identity = `sub` falling back to `jti`
 * (403 `token must include identity`). Never throws.
 */
export async function verifyLiveKitToken(
  token: string,
  opts: VerifyTokenOptions,
): Promise<VerifiedToken | RejectedToken> {
  let unverified: Record<string, unknown>;
  try {
    const header = decodeProtectedHeader(token);
    // go-jose's ParseSigned is called with the HS256 algorithm list: anything else does not parse.
    if (header.alg !== 'HS256' || token.split('.').length !== 3) throw new Error('alg');
    unverified = decodeJwt(token) as Record<string, unknown>;
  } catch {
    return { ok: false, status: 401, body: 'invalid token format' };
  }
  if (unverified['iss'] !== opts.apiKey) return { ok: false, status: 403, body: 'invalid API key' };
  let claims: Record<string, unknown>;
  try {
    const nowSeconds = opts.nowSeconds ?? Date.now() / 1000;
    const res = await jwtVerify(token, new TextEncoder().encode(opts.apiSecret), {
      algorithms: ['HS256'],
      clockTolerance: opts.leewaySeconds ?? 60,
      currentDate: new Date(nowSeconds * 1000),
    });
    claims = res.payload as Record<string, unknown>;
  } catch {
    return { ok: false, status: 403, body: 'token verification failed' };
  }
  const video = claims['video'];
  const room = video && typeof video === 'object' ? (video as VideoGrant).room : undefined;
  if (typeof room !== 'string' || room === '') return { ok: false, status: 403, body: 'token must include room grant' };
  const sub = typeof claims['sub'] === 'string' ? claims['sub'] : '';
  const identity = sub !== '' ? sub : typeof claims['jti'] === 'string' ? claims['jti'] : '';
  if (identity === '') return { ok: false, status: 403, body: 'token must include identity' };
  return {
    ok: true,
    identity,
    name: typeof claims['name'] === 'string' ? claims['name'] : '',
    room,
    exp: typeof claims['exp'] === 'number' ? claims['exp'] : undefined,
    claims,
  };
}
