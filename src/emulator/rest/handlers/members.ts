/**
 * IMembers v1 (Kick: POST with query parameters, no body).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { Entitlement } from '../state.js';
import { errorA, type RouteDef } from '../types.js';

/** IMembers routes. */
export function membersRoutes(core: RestCore): RouteDef[] {
  return [
    {
      iface: 'IMembers',
      version: 1,
      membership: false,
      method: 'POST',
      name: 'Kick',
      input: 'query',
      handle: ({ query, bot }) => {
        const spaceId = query.guid('spaceId');
        const channelId = query.guid('channelId');
        const userId = query.guid('userId');
        const ch = core.state.channels.get(channelId);
        const me = core.state.spaces.get(spaceId)?.members.get(bot.userId);
        const vs = core.state.voiceStates.get(userId);
        if (
          ch?.type !== 1 ||
          ch.spaceId !== spaceId ||
          !me ||
          (me.entitlements & Entitlement.KickMember) === 0n ||
          vs?.channelId !== channelId
        ) {
          throw errorA(400, 'kick_failed', null);
        }
        core.onKick?.(spaceId, channelId, userId);
        return { status: 200, json: { kicked: true } };
      },
    },
  ];
}
