/**
 * IBotSelf v1 (GetMe, GetSpaces).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import type { RouteDef } from '../types.js';

/** IBotSelf routes. */
export function botSelfRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'IBotSelf', version: 1, membership: false } as const;
  return [
    {
      ...base,
      method: 'GET',
      name: 'GetMe',
      input: 'none',
      handle: ({ bot }) => {
        const u = core.user(bot.userId);
        return {
          status: 200,
          json: { botId: bot.botId, userId: bot.userId, username: u.username, displayName: u.displayName },
        };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'GetSpaces',
      input: 'none',
      handle: ({ bot }) => ({
        status: 200,
        json: {
          spaces: core.state
            .spacesOf(bot.userId)
            .map((s) => ({ spaceId: s.spaceId, name: s.name, description: s.description })),
        },
      }),
    },
  ];
}
