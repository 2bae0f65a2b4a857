/**
 * ITyping v1 (Start with kind, Stop) — §R8.4.
 * @packageDocumentation
 */
import type { RestCore } from '../core.js';
import { errorA, type RouteDef } from '../types.js';

const KINDS = ['typing', 'thinking', 'uploading', 'searching'];

/** ITyping routes. */
export function typingRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'ITyping', version: 1, membership: false, input: 'json' } as const;
  const channel = (id: string) => core.state.channels.get(id);
  return [
    {
      ...base,
      method: 'POST',
      name: 'Start',
      handle: ({ body, bot }) => {
        const channelId = body.guid('channelId');
        const kindRaw = body.str('kind');
        let kind: string | null = null;
        if (kindRaw !== null && kindRaw !== '') {
          if (!KINDS.includes(kindRaw.toLowerCase())) {
            throw errorA(400, 'invalid_kind', `Invalid typing kind. Allowed: ${KINDS.join(', ')}.`);
          }
          kind = kindRaw.toUpperCase();
        }
        const ch = channel(channelId);
        if (ch) core.typingStart(ch.spaceId, channelId, bot.userId, kind);
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Stop',
      handle: ({ body, bot }) => {
        const ch = channel(body.guid('channelId'));
        if (ch) core.typingStop(ch.spaceId, ch.channelId, bot.userId);
        return { status: 200 };
      },
    },
  ];
}
