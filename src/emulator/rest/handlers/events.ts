/**
 * IEvents v1 (Stream) — §R5. The response is taken over by the SSE hub, which keeps the
 * request's concurrency permit for the stream's lifetime (§R3).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { DEFAULT_INTENTS } from '../sse.js';
import type { RouteDef } from '../types.js';

/** IEvents routes. */
export function eventsRoutes(core: RestCore): RouteDef[] {
  return [
    {
      iface: 'IEvents',
      version: 1,
      membership: false,
      method: 'GET',
      name: 'Stream',
      input: 'query',
      handle: ({ query, bot, res, release }) => {
        const intents = query.int64OrNull('intents') ?? DEFAULT_INTENTS;
        query.raw('lastEventId'); // accepted, ignored (§R5.5)
        core.hub.connect(bot, intents, res, release);
        return { stream: true };
      },
    },
  ];
}
