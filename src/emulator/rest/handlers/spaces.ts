/**
 * ISpaces v1 (Get, ListMembers, GetMember). No membership filter (§R2.4); GetMember of a
 * non-member → 500 (§R2.5).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import type { MemberRecord } from '../state.js';
import { type RouteDef, serverError } from '../types.js';

/** ISpaces routes. */
export function spacesRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'ISpaces', version: 1, membership: false, input: 'query' } as const;
  const member = (spaceId: string, m: MemberRecord) => {
    const u = core.user(m.userId);
    return {
      userId: m.userId,
      spaceId,
      username: u.username,
      displayName: u.displayName,
      archetypeIds: m.archetypeIds,
    };
  };
  const space = (id: string) => {
    const s = core.state.spaces.get(id);
    if (!s) throw serverError();
    return s;
  };
  return [
    {
      ...base,
      method: 'GET',
      name: 'Get',
      handle: ({ query }) => {
        const s = space(query.guid('spaceId'));
        return {
          status: 200,
          json: { spaceId: s.spaceId, name: s.name, description: s.description, isCommunity: s.isCommunity },
        };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'ListMembers',
      handle: ({ query }) => {
        const s = space(query.guid('spaceId'));
        return { status: 200, json: { members: [...s.members.values()].map((m) => member(s.spaceId, m)) } };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'GetMember',
      handle: ({ query }) => {
        const spaceId = query.guid('spaceId');
        const userId = query.guid('userId');
        const m = space(spaceId).members.get(userId);
        if (!m) throw serverError();
        return { status: 200, json: member(spaceId, m) };
      },
    },
  ];
}
