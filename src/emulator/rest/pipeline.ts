/**
 * The request pipeline, in the server's order (docs/platform.md §R1.6):
 *
 * ```
 * path-token rewrite → routing (404/405) → CORS (preflight 204) → auth (401) → [fault: forced status] →
 * rate limiter: concurrency, then interface window (429) → [fault: delay] → binding (400/415) →
 * membership filter (400/403, called by the handler once its inputs are bound) → handler → 500
 * ```
 * Every failure answers like ASP.NET Core does; nothing a client sends can crash the process.
 * @packageDocumentation
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BindError, JsonReader, QueryReader, parseAnyGuid } from './binding.js';
import type { RestCore } from './core.js';
import { applyCors, handlePreflight } from './cors.js';
import { JsonSyntaxError, parseJson, stringifyJson, type JsonValue } from './json.js';
import { rewritePathToken } from './path-token.js';
import type { Router } from './router.js';
import { ApiError, type RouteContext, type RouteDef } from './types.js';
import type { BotRecord } from './state.js';

/** Bodies above this are answered 413 (empty) without parsing. */
export const MAX_BODY_BYTES = 1024 * 1024;

const RATE_LIMITED_BODY = '{"error":"rate_limited","retry_after":1,"message":"You are being rate limited."}';

function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : stringifyJson(body);
  const buf = Buffer.from(text, 'utf8');
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(buf.length),
  });
  res.end(buf);
}

/** Writes the limiter's exact 429 (§R3). */
export function sendRateLimited(res: ServerResponse): void {
  sendJson(res, 429, RATE_LIMITED_BODY, { 'Retry-After': '1', 'X-RateLimit-Remaining': '0' });
}

function readBody(req: IncomingMessage): Promise<{ tooLarge: boolean; text: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve({ tooLarge, text: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), bytes }));
    req.on('error', reject);
  });
}

function isJsonContentType(ct: string | undefined): boolean {
  if (!ct) return false;
  const mt = ct.split(';')[0]!.trim().toLowerCase();
  return mt === 'application/json' || (mt.startsWith('application/') && mt.endsWith('+json'));
}

/** Authenticates `Authorization: Bot <token>` (§R1.4). */
export function authenticate(core: RestCore, header: string | undefined): BotRecord | undefined {
  if (!header) return undefined;
  const m = /^bot (.*)$/is.exec(header);
  if (!m) return undefined;
  const token = m[1]!.trim();
  if (!/^[0-9a-fA-F]{32}:[A-Za-z0-9_-]+$/.test(token)) return undefined;
  const bot = core.state.botsByToken.get(token);
  if (!bot || bot.restricted) return undefined;
  return bot;
}

/** Handles one HTTP request end to end. Never throws. */
export async function handleRequest(
  core: RestCore,
  router: Router,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  let release: (() => void) | undefined;
  let streaming = false;
  try {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const search = q < 0 ? '' : rawUrl.slice(q + 1);
    // 1. path token
    const pt = rewritePathToken(rawPath);
    if (pt.token !== undefined) req.headers.authorization = `Bot ${pt.token}`;
    // 2. routing
    const match = router.match(pt.path);
    const method = (req.method ?? 'GET').toUpperCase();
    if (match.kind === 'metadata') {
      if (method !== 'GET') return sendEmpty(res, 405, { Allow: 'GET' });
      return sendJson(res, 200, router.metadata());
    }
    if (match.kind === 'not-found') return sendEmpty(res, 404);
    // 3. CORS (preflights are answered here, before auth)
    if (handlePreflight(req, res, [...match.methods.keys()])) return;
    const route = match.methods.get(method as RouteDef['method']);
    if (!route) return sendEmpty(res, 405, { Allow: [...match.methods.keys()].join(', ') });
    applyCors(req, res);
    // 4. authentication
    const bot = authenticate(core, req.headers.authorization);
    if (!bot) return sendEmpty(res, 401);
    // fault injection (emulator only)
    const fault = core.faults.take(route.iface, route.name);
    if (fault?.status !== undefined) {
      if (fault.delayMs > 0) await core.sleep(fault.delayMs);
      if (fault.status === 429) return sendRateLimited(res);
      return sendEmpty(res, fault.status);
    }
    // 5. rate limiter
    const permit = core.limiter.acquire(bot.botId, route.iface);
    if (!permit.ok) return sendRateLimited(res);
    release = permit.release;
    // A delay fault models a slow handler: it holds its permits while it waits.
    if (fault && fault.delayMs > 0) await core.sleep(fault.delayMs);
    // 6. binding
    let params: URLSearchParams;
    try {
      params = new URLSearchParams(search);
    } catch {
      params = new URLSearchParams();
    }
    const query = new QueryReader(params);
    let rawBody: JsonValue | undefined;
    let body = new JsonReader(Object.create(null) as Record<string, JsonValue>);
    if (route.input === 'json') {
      if (!isJsonContentType(req.headers['content-type'])) {
        req.resume();
        return sendEmpty(res, 415);
      }
      const { tooLarge, text } = await readBody(req);
      if (tooLarge) return sendEmpty(res, 413);
      if (text.trim() === '') return sendEmpty(res, 400);
      try {
        rawBody = parseJson(text);
      } catch (e) {
        if (e instanceof JsonSyntaxError) return sendEmpty(res, 400);
        throw e;
      }
      body = JsonReader.of(rawBody);
    } else {
      const { tooLarge } = await readBody(req);
      if (tooLarge) return sendEmpty(res, 413);
    }
    // 7. membership filter (invoked by the handler after binding)
    const filter = (): void => {
      if (!route.membership) return;
      const q = query.raw('spaceId');
      let spaceId = q === undefined ? undefined : parseAnyGuid(q);
      if (spaceId === undefined && rawBody !== undefined && body.has('spaceId')) spaceId = body.guid('spaceId');
      if (spaceId === undefined && route.input === 'json' && bodyDeclaresSpaceId(route)) spaceId = body.guid('spaceId');
      if (spaceId === undefined)
        throw new ApiError(400, { error: 'missing_space_id', message: 'spaceId is required.' });
      if (!core.state.isMember(spaceId, bot.userId)) {
        throw new ApiError(403, { error: 'not_a_member', message: 'Bot is not a member of this space.' });
      }
    };
    const ctx: RouteContext = { bot, query, body, rawBody, req, res, filter, release: permit.release };
    // 8. handler
    const result = await route.handle(ctx);
    if ('stream' in result) {
      streaming = true;
      return;
    }
    if (result.json === undefined) return sendEmpty(res, result.status);
    return sendJson(res, result.status, result.json);
  } catch (e) {
    if (e instanceof ApiError) {
      if (e.body === undefined) return sendEmpty(res, e.status);
      return sendJson(res, e.status, e.body);
    }
    if (e instanceof BindError) return sendEmpty(res, e.status);
    return sendEmpty(res, 500);
  } finally {
    if (release && !streaming) {
      const r = release;
      if (res.writableFinished || res.destroyed) r();
      else res.once('close', r);
    }
  }
}

// Routes whose request DTO has a GUID SpaceId member (§R2.4): a missing one binds to the zero GUID.
const BODY_SPACE_ID = new Set(['IChannels/Create', 'IVoice/StreamToken', 'IVoiceEgress/SubscribeTrack']);
function bodyDeclaresSpaceId(route: RouteDef): boolean {
  return BODY_SPACE_ID.has(`${route.iface}/${route.name}`);
}
