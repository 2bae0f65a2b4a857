/**
 * IReactions v1 (Add, Remove, List, BatchGet) — §R8.4. Every error is body variant B;
 * List always answers 404 (server bug).
 * @packageDocumentation
 */
import { BindError, toInt64 } from '../binding.js';
import type { RestCore } from '../core.js';
import { Entitlement } from '../state.js';
import { errorB, type RouteDef, serverError } from '../types.js';

/** IReactions routes. */
export function reactionsRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'IReactions', version: 1, membership: false } as const;
  const message = (channelId: string, messageId: bigint) => {
    const m = core.state.messages.get(messageId);
    if (!m || m.deleted || m.channelId !== channelId) throw errorB(404, 'message_not_found');
    return m;
  };
  return [
    {
      ...base,
      method: 'POST',
      name: 'Add',
      input: 'json',
      handle: ({ body, bot }) => {
        const channelId = body.guid('channelId');
        const messageId = body.int64('messageId');
        const emoji = body.str('emoji') ?? '';
        const ch = core.state.channels.get(channelId);
        if (ch && ch.type !== 0) throw serverError();
        const me = ch ? core.state.spaces.get(ch.spaceId)?.members.get(bot.userId) : undefined;
        if (ch && (!me || (me.entitlements & Entitlement.AddReactions) === 0n))
          throw errorB(403, 'insufficient_permissions');
        const m = message(channelId, messageId);
        const users = m.reactions.get(emoji) ?? [];
        if (users.includes(bot.userId)) throw errorB(409, 'already_reacted');
        if (!m.reactions.has(emoji) && [...m.reactions.values()].filter((u) => u.length > 0).length >= 20)
          throw errorB(422, 'reaction_limit_reached');
        users.push(bot.userId);
        m.reactions.set(emoji, users);
        core.hub.publishSpace(m.spaceId, 'reactionAdd', {
          spaceId: m.spaceId,
          channelId,
          messageId,
          userId: bot.userId,
          emoji,
        });
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'DELETE',
      name: 'Remove',
      input: 'json',
      handle: ({ body, bot }) => {
        const channelId = body.guid('channelId');
        const messageId = body.int64('messageId');
        const emoji = body.str('emoji') ?? '';
        const m = message(channelId, messageId);
        const users = m.reactions.get(emoji);
        const idx = users?.indexOf(bot.userId) ?? -1;
        if (!users || idx < 0) throw errorB(404, 'reaction_not_found');
        users.splice(idx, 1);
        if (users.length === 0) m.reactions.delete(emoji);
        core.hub.publishSpace(m.spaceId, 'reactionRemove', {
          spaceId: m.spaceId,
          channelId,
          messageId,
          userId: bot.userId,
          emoji,
        });
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'List',
      input: 'query',
      handle: ({ query }) => {
        query.guid('channelId');
        if (query.int64OrNull('messageId') === null) throw new BindError('messageId required');
        // The server queries messages older than the id and then looks for the id itself: never found (§R8.4).
        throw errorB(404, 'message_not_found');
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'BatchGet',
      input: 'json',
      handle: ({ body }) => {
        const channelId = body.guid('channelId');
        const ids = body.arr('messageIds', (v, p) => toInt64(v, p)) ?? [];
        const messages = ids.slice(0, 50).flatMap((id) => {
          const m = core.state.messages.get(id);
          if (!m || m.deleted || m.channelId !== channelId) return [];
          return [{ messageId: id, reactions: core.reactionDtos(m) }];
        });
        return { status: 200, json: { messages } };
      },
    },
  ];
}
