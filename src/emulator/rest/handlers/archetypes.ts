/**
 * IArchetypes v1 (List, Get, ListMembers) behind the membership filter. `permissions` is null
 * unless the bot has ManageArchetype.
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { type ArchetypeRecord, Entitlement } from '../state.js';
import { errorA, type RouteDef } from '../types.js';

/** IArchetypes routes. */
export function archetypesRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'IArchetypes', version: 1, membership: true, input: 'query' } as const;
  const dto = (a: ArchetypeRecord, botUserId: string) => {
    const me = core.state.spaces.get(a.spaceId)?.members.get(botUserId);
    const canSee = me !== undefined && (me.entitlements & Entitlement.ManageArchetype) !== 0n;
    return {
      archetypeId: a.archetypeId,
      spaceId: a.spaceId,
      name: a.name,
      colour: a.colour,
      isMentionable: a.isMentionable,
      isDefault: a.isDefault,
      permissions: canSee ? a.permissions : null,
    };
  };
  const find = (spaceId: string, id: string) => {
    const a = core.state.archetypes.get(id);
    if (!a || a.spaceId !== spaceId) throw errorA(404, 'not_found', 'Archetype not found.');
    return a;
  };
  return [
    {
      ...base,
      method: 'GET',
      name: 'List',
      handle: ({ query, bot, filter }) => {
        const spaceId = query.guid('spaceId');
        filter();
        return {
          status: 200,
          json: {
            archetypes: [...core.state.archetypes.values()]
              .filter((a) => a.spaceId === spaceId)
              .map((a) => dto(a, bot.userId)),
          },
        };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'Get',
      handle: ({ query, bot, filter }) => {
        const spaceId = query.guid('spaceId');
        const archetypeId = query.guid('archetypeId');
        filter();
        return { status: 200, json: dto(find(spaceId, archetypeId), bot.userId) };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'ListMembers',
      handle: ({ query, filter }) => {
        const spaceId = query.guid('spaceId');
        const archetypeId = query.guid('archetypeId');
        filter();
        const a = find(spaceId, archetypeId);
        const space = core.state.spaces.get(spaceId);
        const members = [...(space?.members.values() ?? [])]
          .filter((m) => m.archetypeIds.includes(a.archetypeId))
          .map((m) => {
            const u = core.user(m.userId);
            return { userId: u.userId, username: u.username, displayName: u.displayName };
          });
        return { status: 200, json: { archetypeId: a.archetypeId, members } };
      },
    },
  ];
}
