/**
 * IMessages v1 (Send, History) and the Send body reader shared with IInteractions/Reply.
 * @packageDocumentation
 */
import type { JsonReader } from '../binding.js';
import { type RestCore, readControls, readEntities } from '../core.js';
import type { RouteDef } from '../types.js';

/** Reads a Send/Reply body and posts the message (randomId dedup, §R8.3). */
export function sendFromBody(core: RestCore, body: JsonReader, senderId: string): { status: number; json: unknown } {
  const channelId = body.guid('channelId');
  const text = body.str('text') ?? '';
  const randomId = body.int64('randomId');
  const replyTo = body.int64OrNull('replyTo');
  const entities = readEntities(body);
  const controls = readControls(body);
  const messageId = core.postMessage({ senderId, channelId, text, randomId, replyTo, entities, controls });
  return { status: 200, json: { messageId } };
}

/** IMessages routes. */
export function messagesRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'IMessages', version: 1, membership: false } as const;
  return [
    {
      ...base,
      method: 'POST',
      name: 'Send',
      input: 'json',
      handle: ({ body, bot }) => sendFromBody(core, body, bot.userId),
    },
    {
      ...base,
      method: 'GET',
      name: 'History',
      input: 'query',
      handle: ({ query }) => {
        const channelId = query.guid('channelId');
        const from = query.int64OrNull('from');
        const limit = Math.min(100, Math.max(1, query.int32OrNull('limit') ?? 50));
        const list = core.state.channelMessages.get(channelId) ?? [];
        const out: unknown[] = [];
        for (let i = list.length - 1; i >= 0 && out.length < limit; i--) {
          const m = list[i]!;
          if (m.deleted) continue;
          if (from !== null && m.messageId >= from) continue;
          out.push(core.restMessageDto(m));
        }
        return { status: 200, json: { messages: out } };
      },
    },
  ];
}
