/**
 * The route table and ASP.NET-style matching: case-insensitive literal segments, optional
 * `/api/bot` prefix (§R1.1), tolerated trailing slash, 404 for unknown paths and 405 (with `Allow`)
 * for a known path with the wrong method (§R1.2).
 * @packageDocumentation
 */
import type { RestCore } from './core.js';
import { archetypesRoutes } from './handlers/archetypes.js';
import { botSelfRoutes } from './handlers/bot-self.js';
import { callsRoutes } from './handlers/calls.js';
import { channelsRoutes } from './handlers/channels.js';
import { commandsRoutes } from './handlers/commands.js';
import { eventsRoutes } from './handlers/events.js';
import { interactionsRoutes, type ModalStore } from './handlers/interactions.js';
import { membersRoutes } from './handlers/members.js';
import { messagesRoutes } from './handlers/messages.js';
import { reactionsRoutes } from './handlers/reactions.js';
import { spacesRoutes } from './handlers/spaces.js';
import { typingRoutes } from './handlers/typing.js';
import { voiceRoutes } from './handlers/voice.js';
import type { HttpMethod, RouteDef } from './types.js';

/** What a path resolves to. */
export type RouteMatch =
  | { kind: 'not-found' }
  | { kind: 'metadata' }
  | { kind: 'route'; methods: ReadonlyMap<HttpMethod, RouteDef> };

const ROUTE_PATH = /^(?:\/api\/bot)?\/([^/]+)\/([^/]+)\/([^/]+)\/?$/i;
const METADATA_PATH = /^\/api\/bot\/?$/i;

/** All 37 routes of the 14 interfaces. */
export function buildRoutes(core: RestCore, modals: ModalStore): RouteDef[] {
  return [
    ...archetypesRoutes(core),
    ...botSelfRoutes(core),
    ...callsRoutes(core),
    ...channelsRoutes(core),
    ...commandsRoutes(core),
    ...eventsRoutes(core),
    ...interactionsRoutes(core, modals),
    ...membersRoutes(core),
    ...messagesRoutes(core),
    ...reactionsRoutes(core),
    ...spacesRoutes(core),
    ...typingRoutes(core),
    ...voiceRoutes(core),
  ];
}

/** Path → route lookup. */
export class Router {
  readonly routes: readonly RouteDef[];
  readonly #byPath = new Map<string, Map<HttpMethod, RouteDef>>();

  constructor(routes: RouteDef[]) {
    this.routes = routes;
    for (const r of routes) {
      const key = `${r.iface}/v${r.version}/${r.name}`.toLowerCase();
      let m = this.#byPath.get(key);
      if (!m) this.#byPath.set(key, (m = new Map()));
      m.set(r.method, r);
    }
  }

  /** Resolves a (token-free) path. */
  match(path: string): RouteMatch {
    if (METADATA_PATH.test(path)) return { kind: 'metadata' };
    const m = ROUTE_PATH.exec(path);
    if (!m) return { kind: 'not-found' };
    const methods = this.#byPath.get(`${m[1]}/${m[2]}/${m[3]}`.toLowerCase());
    return methods ? { kind: 'route', methods } : { kind: 'not-found' };
  }

  /** The anonymous `GET /api/bot/` document (§R1.5). */
  metadata(): unknown {
    const seen = new Map<string, number>();
    for (const r of this.routes) seen.set(r.iface, r.version);
    return {
      interfaces: [...seen].map(([name, version]) => ({
        name,
        latestVersion: version,
        versions: [{ version, isDeprecated: false, sunsetDate: null, url: `/api/bot/${name}/v${version}` }],
      })),
    };
  }
}
