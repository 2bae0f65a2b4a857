/**
 * BotPathTokenMiddleware (docs/platform.md §R1.3): runs before routing and moves a token found in the
 * path into `Authorization: Bot <token>`, overwriting any header the client sent.
 * @packageDocumentation
 */

const SERVER_FORM = /^\/api\/bot\/([0-9a-fA-F]{32}(?::|%3A|%3a)[A-Za-z0-9_-]{20,200})(\/.*)$/;
// The production gateway form `/<token>/I…` (docs glossary); the emulator accepts both.
const GATEWAY_FORM = /^\/([0-9a-fA-F]{32}(?::|%3A|%3a)[A-Za-z0-9_-]{20,200})(\/.*)$/;

/** Result of {@link rewritePathToken}. */
export interface PathTokenResult {
  /** Path to route (token removed when one was found). */
  path: string;
  /** The unescaped token, when the path carried one. */
  token?: string;
}

/** Extracts a path token from a raw (undecoded) path, if it matches the server's regex. */
export function rewritePathToken(rawPath: string): PathTokenResult {
  let m = SERVER_FORM.exec(rawPath);
  if (m) return { path: `/api/bot${m[2]}`, token: decodeURIComponent(m[1]!) };
  m = GATEWAY_FORM.exec(rawPath);
  if (m) return { path: m[2]!, token: decodeURIComponent(m[1]!) };
  return { path: rawPath };
}
