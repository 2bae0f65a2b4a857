/**
 * One error hierarchy for the whole toolkit.
 *
 * Every error carries a stable string `code` (`ARGON_VOICE_…`) that callers can switch on,
 * and chains its origin through the standard `cause` option. Messages say what was wrong and
 * what to do; they never contain the bot token (see {@link redactSecrets}).
 *
 * ```
 * ArgonVoiceError
 *  ├─ InvalidInputError        bad argument, option, file or packet handed to the library
 *  │   ├─ OpusPacketError      a packet that breaks an RFC 6716 §3 rule (`rule` names it)
 *  │   └─ ContainerError       a malformed Ogg/WebM stream (`offset` is the byte position)
 *  ├─ HttpError                the platform answered a REST call with an error status
 *  │   └─ RateLimitError       429, with `retryAfterMs`
 *  ├─ TransportError           a socket or connection failed (reset, refused, 1006 ...)
 *  ├─ ProtocolError            the peer sent something the protocol does not allow
 *  ├─ TimeoutError             a waiting state passed its deadline
 *  ├─ AbortError               the caller's AbortSignal fired
 *  ├─ ClosedError              the object was closed or destroyed while the call waited
 *  ├─ DependencyError          a runtime dependency (ffmpeg, sox, libopus) is missing
 *  └─ MediaWorkerError         the media worker thread that rendered a track died
 * ```
 * @packageDocumentation
 */

/** Stable codes carried by every {@link ArgonVoiceError}. */
export type ArgonVoiceErrorCode =
  | 'ARGON_VOICE_INVALID_INPUT'
  | 'ARGON_VOICE_INVALID_PACKET'
  | 'ARGON_VOICE_CONTAINER'
  | 'ARGON_VOICE_HTTP'
  | 'ARGON_VOICE_RATE_LIMITED'
  | 'ARGON_VOICE_TRANSPORT'
  | 'ARGON_VOICE_PROTOCOL'
  | 'ARGON_VOICE_TIMEOUT'
  | 'ARGON_VOICE_ABORTED'
  | 'ARGON_VOICE_CLOSED'
  | 'ARGON_VOICE_DEPENDENCY'
  | 'ARGON_VOICE_IO'
  | 'ARGON_VOICE_MEDIA_WORKER'
  | 'ARGON_VOICE_CLUSTER';

/** Base class of every error thrown or emitted by argon-voice. */
export class ArgonVoiceError extends Error {
  /** Stable machine-readable code. */
  readonly code: ArgonVoiceErrorCode;

  constructor(code: ArgonVoiceErrorCode, message: string, options?: { cause?: unknown }) {
    super(redactSecrets(message), options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A bad argument, option, file or packet was handed to the library. */
export class InvalidInputError extends ArgonVoiceError {
  constructor(message: string, options?: { cause?: unknown; code?: ArgonVoiceErrorCode }) {
    super(options?.code ?? 'ARGON_VOICE_INVALID_INPUT', message, options);
  }
}

/** The rules of RFC 6716 §3 (plus the gateway's size limits) that a packet can break. */
export type OpusPacketRule =
  | 'empty'
  | 'too-short'
  | 'too-long'
  | 'code1-odd-length'
  | 'code2-length-field'
  | 'code3-count-missing'
  | 'code3-zero-frames'
  | 'code3-over-120ms'
  | 'code3-padding'
  | 'code3-cbr-length'
  | 'code3-vbr-lengths'
  | 'frame-too-large'
  | 'duration-mismatch';

/** An Opus packet breaks a rule of RFC 6716 §3 or of the gateway (`rule` names which). */
export class OpusPacketError extends InvalidInputError {
  readonly rule: OpusPacketRule;
  constructor(rule: OpusPacketRule, message: string) {
    super(`invalid Opus packet (${rule}): ${message}`, { code: 'ARGON_VOICE_INVALID_PACKET' });
    this.rule = rule;
  }
}

/** A container stream (Ogg, WebM) is malformed; `offset` is the byte position in the stream. */
export class ContainerError extends InvalidInputError {
  readonly offset: number;
  readonly container: 'ogg' | 'webm' | 'wav' | 'unknown';
  constructor(container: ContainerError['container'], offset: number, message: string, options?: { cause?: unknown }) {
    super(`${container} stream malformed at byte ${offset}: ${message}`, { ...options, code: 'ARGON_VOICE_CONTAINER' });
    this.offset = offset;
    this.container = container;
  }
}

/** Details of a failed REST call. */
export interface HttpErrorDetails {
  /** HTTP status code. */
  status: number;
  /** The platform's error code (`error` field of the body), when there was one. */
  errorCode?: string | undefined;
  /** The platform's message, when there was one (it may be null on the wire). */
  platformMessage?: string | undefined;
  /** `Interface/vN/Method` of the route. */
  route: string;
  /** HTTP method. */
  method: string;
  /** Request id (client-generated `x-request-id` or the server's), for support. */
  requestId?: string | undefined;
  /** Raw response body text (token redacted), truncated to 2 KiB. */
  body?: string | undefined;
}

/** The platform answered a REST call with a non-2xx status. */
export class HttpError extends ArgonVoiceError implements HttpErrorDetails {
  readonly status: number;
  readonly errorCode: string | undefined;
  readonly platformMessage: string | undefined;
  readonly route: string;
  readonly method: string;
  readonly requestId: string | undefined;
  readonly body: string | undefined;
  constructor(details: HttpErrorDetails, options?: { cause?: unknown; code?: ArgonVoiceErrorCode }) {
    const what = details.errorCode ? ` ${clip(details.errorCode, 100)}` : '';
    const msg = details.platformMessage ? `: ${clip(details.platformMessage, 500)}` : '';
    super(
      options?.code ?? 'ARGON_VOICE_HTTP',
      `${details.method} ${details.route} failed with HTTP ${details.status}${what}${msg}`,
      options,
    );
    this.status = details.status;
    // Everything kept from the server is redacted and bounded: a server may echo the token, and a
    // hostile one may send megabytes (both end up in logs through JSON.stringify(err)).
    this.errorCode = details.errorCode === undefined ? undefined : clip(redactSecrets(details.errorCode), 100);
    this.platformMessage =
      details.platformMessage === undefined ? undefined : clip(redactSecrets(details.platformMessage), 2048);
    this.route = details.route;
    this.method = details.method;
    this.requestId = details.requestId;
    this.body = details.body === undefined ? undefined : redactSecrets(details.body).slice(0, 2048);
  }
}

/** HTTP 429 from the platform (or the client-side limiter refusing to wait that long). */
export class RateLimitError extends HttpError {
  /** How long to wait before retrying, in milliseconds. */
  readonly retryAfterMs: number;
  constructor(details: HttpErrorDetails & { retryAfterMs: number }, options?: { cause?: unknown }) {
    super(details, { ...options, code: 'ARGON_VOICE_RATE_LIMITED' });
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** A socket or connection failed (reset, refused, dropped without a close frame ...). */
export class TransportError extends ArgonVoiceError {
  /** WebSocket close code when the failure was a close (1006 = dropped without a close frame). */
  readonly closeCode: number | undefined;
  /** HTTP status of a refused WebSocket upgrade. */
  readonly status: number | undefined;
  constructor(message: string, options?: { cause?: unknown; closeCode?: number; status?: number }) {
    super('ARGON_VOICE_TRANSPORT', message, options);
    this.closeCode = options?.closeCode;
    this.status = options?.status;
  }
}

/** The peer sent something the protocol does not allow (malformed JSON, SSE line, status ...). */
export class ProtocolError extends ArgonVoiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARGON_VOICE_PROTOCOL', message, options);
  }
}

/** A waiting state passed its deadline. */
export class TimeoutError extends ArgonVoiceError {
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super('ARGON_VOICE_TIMEOUT', `${message} (timed out after ${timeoutMs} ms)`, options);
    this.timeoutMs = timeoutMs;
  }
}

/** The caller's AbortSignal fired. `cause` is the signal's reason. */
export class AbortError extends ArgonVoiceError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ARGON_VOICE_ABORTED', message, options);
  }
}

/** The object was closed or destroyed while the call was waiting or after it. */
export class ClosedError extends ArgonVoiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARGON_VOICE_CLOSED', message, options);
  }
}

/** A runtime dependency (ffmpeg, sox/arecord, libopus) is missing or failed to load. */
export class DependencyError extends ArgonVoiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARGON_VOICE_DEPENDENCY', message, options);
  }
}

/** A file or stream write/read failed (disk full, permission ...). */
export class IoError extends ArgonVoiceError {
  readonly path: string | undefined;
  constructor(message: string, options?: { cause?: unknown; path?: string }) {
    super('ARGON_VOICE_IO', message, options);
    this.path = options?.path;
  }
}

/**
 * The media worker thread that was reading, decoding and encoding a track died (a crash in a
 * native codec, an out-of-memory kill). The tracks it held end with this error; the pool starts
 * a fresh worker for the next track.
 */
export class MediaWorkerError extends ArgonVoiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ARGON_VOICE_MEDIA_WORKER', message, options);
  }
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

const knownSecrets = new Set<string>();

/**
 * Registers a secret (a bot token, a LiveKit JWT) so that it is replaced by `[redacted]` in every
 * error message and log line this library produces. The REST client registers its token itself.
 */
export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 8) knownSecrets.add(secret);
}

/**
 * Forgets a secret registered with {@link registerSecret} once nothing uses it any more (a
 * replaced StreamToken, the token of an ended call), so a bot that runs for days does not keep
 * every token it ever held and scan them all for each message. A JWT stays redacted by its shape.
 */
export function forgetSecret(secret: string | undefined): void {
  if (secret) knownSecrets.delete(secret);
}

/** How many secrets are registered (leak checks in long-running tests and soaks). */
export function registeredSecretCount(): number {
  return knownSecrets.size;
}

// Bot tokens are `<32 hex>:<base64url secret>`; JWTs are three base64url parts.
const TOKEN_PATTERN = /\b[0-9a-fA-F]{32}(?::|%3[aA])[A-Za-z0-9_-]{8,200}/g;
const JWT_PATTERN = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g;

/**
 * Removes bot tokens and JWTs from a text: registered secrets, anything shaped like a bot token,
 * and anything shaped like a JWT.
 */
export function redactSecrets(text: string): string {
  let out = text;
  for (const s of knownSecrets) {
    if (out.includes(s)) out = out.split(s).join('[redacted]');
  }
  return out.replace(TOKEN_PATTERN, '[redacted]').replace(JWT_PATTERN, '[redacted]');
}

/** True when `err` is an {@link ArgonVoiceError} with the given code. */
export function isArgonVoiceError(err: unknown, code?: ArgonVoiceErrorCode): err is ArgonVoiceError {
  return err instanceof ArgonVoiceError && (code === undefined || err.code === code);
}
