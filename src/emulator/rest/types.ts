/**
 * Type-only contracts shared by the REST router, the handlers and the emulator core.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonReader, QueryReader } from './binding.js';
import type { JsonValue } from './json.js';
import type { BotRecord } from './state.js';

/** HTTP methods used by the Bot API. */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** What a handler answers: JSON (`json` set), an empty 200 (`json` undefined), or "I took over the response" (SSE). */
export type RouteResult = { status: number; json?: unknown } | { stream: true };

/** Everything a handler sees. */
export interface RouteContext {
  bot: BotRecord;
  query: QueryReader;
  /** The bound JSON body (JSON routes only). */
  body: JsonReader;
  /** The parsed body (JSON routes only). */
  rawBody: JsonValue | undefined;
  req: IncomingMessage;
  res: ServerResponse;
  /**
   * Runs the space-membership filter (§R2.4). Membership routes call it once their inputs are
   * bound, so binding errors (400) still come first as in the server's pipeline.
   */
  filter: () => void;
  /** Releases the concurrency permit; SSE keeps it until the stream ends. */
  release: () => void;
}

/** One route of the route table. */
export interface RouteDef {
  iface: string;
  version: number;
  method: HttpMethod;
  name: string;
  /** Where the inputs come from (§R4.1). */
  input: 'none' | 'query' | 'json';
  /** Space-membership filter applies (§R2.4). */
  membership: boolean;
  handle(ctx: RouteContext): RouteResult | Promise<RouteResult>;
}

/** A handler-raised HTTP error: `body` undefined → empty body. */
export class ApiError extends Error {
  readonly status: number;
  readonly body: unknown;
  constructor(status: number, body?: unknown) {
    super(`HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/** Variant A error (`{error, message}`, message may be null). */
export function errorA(status: number, error: string, message: string | null): ApiError {
  return new ApiError(status, { error, message });
}

/** Variant B error (`{error}` only). */
export function errorB(status: number, error: string): ApiError {
  return new ApiError(status, { error });
}

/** An unhandled server exception: 500 with an empty body (§R2.3). */
export function serverError(): ApiError {
  return new ApiError(500);
}

/** The LiveKit-token and ingress URL provider the REST side needs from the audio gateway. */
export interface AudioPort {
  /** Ingress base, e.g. `ws://127.0.0.1:PORT` (handed out as `ingressUrl` / `audioBaseUrl`). */
  readonly url: string;
  /** Mints a LiveKit JWT for `identity` in `room`. */
  mintToken(opts: { identity: string; name?: string; room: string; ttlSeconds: number }): Promise<string>;
}
