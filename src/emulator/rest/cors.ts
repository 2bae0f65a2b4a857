/**
 * CORS as the server configures it (docs/platform.md §R3 "Browser clients", pipeline step 3): only Argon
 * origins and localhost are allowed; `Retry-After` is not exposed.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const ALLOWED =
  /^(?:https?:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d+)?|https:\/\/(?:[a-z0-9-]+\.)*argon\.gl|https:\/\/(?:[a-z0-9-]+\.)*argon\.zone)$/i;

/** True when `origin` may call the API from a browser. */
export function isAllowedOrigin(origin: string | undefined): origin is string {
  return origin !== undefined && ALLOWED.test(origin);
}

/**
 * Handles a preflight (`OPTIONS` + `Access-Control-Request-Method`) for a known path and answers
 * 204; returns false when the request is not a preflight.
 */
export function handlePreflight(req: IncomingMessage, res: ServerResponse, methods: readonly string[]): boolean {
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) return false;
  const origin = req.headers.origin;
  const headers: Record<string, string> = { 'Content-Length': '0' };
  const wanted = String(req.headers['access-control-request-method']).toUpperCase();
  if (isAllowedOrigin(origin) && methods.includes(wanted)) {
    headers['Access-Control-Allow-Origin'] = origin;
    headers['Access-Control-Allow-Methods'] = wanted;
    const reqHeaders = req.headers['access-control-request-headers'];
    if (reqHeaders) headers['Access-Control-Allow-Headers'] = String(reqHeaders);
    headers.Vary = 'Origin';
  }
  res.writeHead(204, headers);
  res.end();
  return true;
}

/** Adds the actual-request CORS headers for an allowed origin. */
export function applyCors(req: IncomingMessage, res: ServerResponse): void {
  const origin = req.headers.origin;
  if (!isAllowedOrigin(origin)) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
}
