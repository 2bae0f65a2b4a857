/**
 * IChannels v1 (List, Create, Delete) behind the membership filter. Permission failures reuse
 * `not_a_member` with a different message (§R2.5).
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { Entitlement } from '../state.js';
import { errorA, type RouteDef, serverError } from '../types.js';
import { BindError } from '../binding.js';

/** IChannels routes. */
export function channelsRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'IChannels', version: 1, membership: true } as const;
  const requireManage = (spaceId: string, userId: string) => {
    const m = core.state.spaces.get(spaceId)?.members.get(userId);
    if (!m || (m.entitlements & Entitlement.ManageChannels) === 0n) {
      throw errorA(403, 'not_a_member', 'Bot does not have ManageChannels permission.');
    }
  };
  return [
    {
      ...base,
      method: 'GET',
      name: 'List',
      input: 'query',
      handle: ({ query, filter }) => {
        const spaceId = query.guid('spaceId');
        filter();
        const channels = [...core.state.channels.values()]
          .filter((c) => c.spaceId === spaceId)
          .map((c) => core.channelDto(c));
        return { status: 200, json: { channels } };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Create',
      input: 'json',
      handle: ({ body, bot, filter }) => {
        const spaceId = body.guid('spaceId');
        const name = body.str('name');
        const description = body.str('description');
        const type = body.enumValue('channelType');
        const groupId = body.guidOrNull('groupId');
        if (type < 0 || type > 2) throw new BindError('channelType out of range');
        filter();
        requireManage(spaceId, bot.userId);
        if (!name?.trim()) throw serverError();
        const c = core.state.addChannel({ spaceId, name, type: type as 0 | 1 | 2, description, groupId });
        core.hub.publishSpace(spaceId, 'channelCreate', {
          spaceId,
          channel: { channelId: c.channelId, spaceId, type: c.type, name: c.name, description: c.description },
        });
        return { status: 200, json: core.channelDto(c) };
      },
    },
    {
      ...base,
      method: 'DELETE',
      name: 'Delete',
      input: 'query',
      handle: ({ query, bot, filter }) => {
        const spaceId = query.guid('spaceId');
        const channelId = query.guid('channelId');
        filter();
        requireManage(spaceId, bot.userId);
        const c = core.state.channels.get(channelId);
        if (!c || c.spaceId !== spaceId) throw serverError();
        core.state.channels.delete(channelId);
        core.hub.publishSpace(spaceId, 'channelDelete', { spaceId, channelId });
        return { status: 200, json: { deleted: true } };
      },
    },
  ];
}
