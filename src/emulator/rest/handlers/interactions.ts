/**
 * IInteractions v1 (Reply, EditMessage, Ack, Defer, Modal) — §R8.1. Ack/Defer peek, Modal
 * consumes the interaction before validating (an invalid modal → 500 and the id is gone).
 * @packageDocumentation
 */
import { BindError, JsonReader } from '../binding.js';
import { isoTime, type RestCore, readControls } from '../core.js';
import { errorB, type RouteDef, serverError } from '../types.js';
import { sendFromBody } from './messages.js';

/** Modal definitions by modalInteractionId (what `emu.submitModal` needs). */
export type ModalStore = Map<string, { customIds: string[] }>;

interface BoundModal {
  customId: string | null;
  title: string | null;
  comps: Array<{ type: number; customId: string | null; label: string | null; r: JsonReader }> | null;
}

/** Binding stage: JSON types and `required` members (→ 400 before the handler runs). */
function bindModal(modal: JsonReader | null): BoundModal | null {
  if (!modal) return null;
  const customId = modal.str('customId', { required: true });
  const title = modal.str('title', { required: true });
  if (!modal.has('components')) throw new BindError('$.modal.components: required');
  const comps = modal.arr('components', (c, p) => {
    const r = JsonReader.of(c, p);
    return {
      type: r.enumValue('type', 0, { required: true }),
      customId: r.str('customId', { required: true }),
      label: r.str('label', { required: true }),
      r,
    };
  });
  return { customId, title, comps };
}

/** Handler stage: rule violations (→ 500, §R2.3). */
function validateModal(m: BoundModal | null): string[] {
  if (!m || m.comps === null) throw serverError();
  const { customId, title, comps } = m;
  if (!customId || customId.length > 100 || !title || title.length > 45) throw serverError();
  if (comps.length < 1 || comps.length > 5) throw serverError();
  const ids = new Set<string>();
  for (const c of comps) {
    if (!c.customId || c.customId.length > 100 || ids.has(c.customId) || !c.label || c.label.length > 45)
      throw serverError();
    ids.add(c.customId);
    if (c.type < 0 || c.type > 5) throw serverError();
    if (c.type === 0) {
      const style = c.r.enumOrNull('style');
      if (style === null || style < 0 || style > 1) throw serverError();
      const min = c.r.int32OrNull('minLength');
      const max = c.r.int32OrNull('maxLength');
      if ((min !== null && (min < 0 || min > 4000)) || (max !== null && (max < 1 || max > 4000))) throw serverError();
    }
    if (c.type === 1) {
      const opts = c.r.raw('options');
      if (!Array.isArray(opts) || opts.length < 1 || opts.length > 25) throw serverError();
    }
  }
  return [...ids];
}

/** IInteractions routes. */
export function interactionsRoutes(core: RestCore, modals: ModalStore): RouteDef[] {
  const base = { iface: 'IInteractions', version: 1, membership: false, input: 'json' } as const;
  const peek = (id: string) => {
    const rec = core.peekInteraction(id);
    if (!rec || rec.kind === 'modal') throw errorB(404, 'interaction_not_found');
    return rec;
  };
  return [
    {
      ...base,
      method: 'POST',
      name: 'Reply',
      handle: ({ body, bot }) => sendFromBody(core, body, bot.userId),
    },
    {
      ...base,
      method: 'PATCH',
      name: 'EditMessage',
      handle: ({ body, bot }) => {
        const channelId = body.guid('channelId');
        const messageId = body.int64('messageId');
        const text = body.str('text');
        const hasControls = body.raw('controls') !== undefined && body.raw('controls') !== null;
        const controls = readControls(body);
        const m = core.state.messages.get(messageId);
        if (!m || m.deleted || m.channelId !== channelId || m.creatorId !== bot.userId) throw serverError();
        if (text !== null) m.text = text;
        if (hasControls)
          m.controls = controls !== null && Array.isArray(controls) && controls.length === 0 ? null : controls;
        core.hub.publishSpace(m.spaceId, 'messageEdit', {
          spaceId: m.spaceId,
          channelId,
          messageId,
          text: m.text,
          updatedAt: isoTime(core.state.wallNow(), '+00:00'),
        });
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Ack',
      handle: ({ body }) => {
        peek(body.guid('interactionId'));
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Defer',
      handle: ({ body }) => {
        peek(body.guid('interactionId'));
        return { status: 200 };
      },
    },
    {
      ...base,
      method: 'POST',
      name: 'Modal',
      handle: ({ body }) => {
        const id = body.guid('interactionId');
        const bound = bindModal(body.obj('modal'));
        const rec = peek(id);
        // Consumed before validation (§R8.1).
        core.state.interactions.delete(id);
        const customIds = validateModal(bound);
        const modalInteractionId = core.newInteraction('modal', rec.spaceId, rec.channelId, rec.userId);
        modals.set(modalInteractionId, { customIds });
        return { status: 200, json: { modalInteractionId } };
      },
    },
  ];
}
