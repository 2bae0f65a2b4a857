/**
 * ICommands v1 (Register, Update, Delete, List, ListForSpace) — §R8.2.
 * @packageDocumentation
 */
import { BindError, JsonReader } from '../binding.js';
import type { RestCore } from '../core.js';
import { isJsonObject, type JsonValue } from '../json.js';
import { type CommandRecord, newGuid } from '../state.js';
import { errorA, type RouteDef, serverError } from '../types.js';

/** Reads command options recursively; `name`, `description`, `type` are required (§R4.4). */
function readOptions(v: JsonValue, path: string): JsonValue {
  if (!isJsonObject(v)) throw new BindError(`${path}: expected an object`);
  const r = new JsonReader(v, path);
  const name = r.str('name', { required: true });
  const description = r.str('description', { required: true });
  const type = r.enumValue('type', 0, { required: true });
  const required = r.boolOrNull('required') ?? false;
  const choices =
    r.arr('choices', (c, cp) => {
      const cr = JsonReader.of(c, cp);
      return { name: cr.str('name'), value: cr.raw('value') ?? null } as JsonValue;
    }) ?? null;
  const subOptions = r.arr('subOptions', readOptions) ?? null;
  return { name, description, type, required, choices, subOptions } as JsonValue;
}

/** BotCommand DTO. */
export function commandDto(c: CommandRecord): Record<string, unknown> {
  return {
    commandId: c.commandId,
    name: c.name,
    description: c.description,
    spaceId: c.spaceId,
    defaultPermission: c.defaultPermission,
    options: c.options,
  };
}

/** ICommands routes. */
export function commandsRoutes(core: RestCore): RouteDef[] {
  const base = { iface: 'ICommands', version: 1, membership: false } as const;
  const mine = (botId: string) => [...core.state.commands.values()].filter((c) => c.botId === botId);
  const sorted = (l: CommandRecord[]) =>
    l.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(commandDto);
  const owned = (botId: string, id: string) => {
    const c = core.state.commands.get(id);
    if (!c || c.botId !== botId) throw errorA(404, 'not_found', null);
    return c;
  };
  return [
    {
      ...base,
      method: 'POST',
      name: 'Register',
      input: 'json',
      handle: ({ body, bot }) => {
        const name = body.str('name');
        const description = body.str('description');
        const spaceId = body.guidOrNull('spaceId');
        const options = body.arr('options', readOptions) ?? [];
        const defaultPermission = body.boolOrNull('defaultPermission') ?? true;
        if (!name?.trim() || name.length > 32) throw errorA(400, 'invalid_name', 'Name must be 1-32 characters');
        if (description !== null && description.length > 100)
          throw errorA(400, 'invalid_description', 'Description must be max 100 characters');
        const scope = mine(bot.botId).filter((c) => c.spaceId === spaceId);
        if (scope.length >= 50) throw errorA(400, 'command_limit', 'Maximum 50 commands per scope');
        if (description === null) throw serverError();
        const lower = name.toLowerCase();
        if (spaceId !== null && scope.some((c) => c.name === lower)) throw serverError();
        const c: CommandRecord = {
          commandId: newGuid(),
          botId: bot.botId,
          name: lower,
          description,
          spaceId,
          defaultPermission,
          options,
        };
        core.state.commands.set(c.commandId, c);
        return { status: 200, json: { commandId: c.commandId, name: c.name, spaceId: c.spaceId } };
      },
    },
    {
      ...base,
      method: 'PATCH',
      name: 'Update',
      input: 'json',
      handle: ({ body, bot }) => {
        const id = body.guid('commandId');
        const description = body.str('description');
        const options = body.arr('options', readOptions);
        const dp = body.boolOrNull('defaultPermission');
        const c = owned(bot.botId, id);
        if (description !== null) {
          if (description.length > 100)
            throw errorA(400, 'invalid_description', 'Description must be max 100 characters');
          c.description = description;
        }
        if (options !== null) c.options = options;
        if (dp !== null) c.defaultPermission = dp;
        return { status: 200, json: commandDto(c) };
      },
    },
    {
      ...base,
      method: 'DELETE',
      name: 'Delete',
      input: 'query',
      handle: ({ query, bot }) => {
        const c = owned(bot.botId, query.guid('commandId'));
        core.state.commands.delete(c.commandId);
        return { status: 200, json: { deleted: true } };
      },
    },
    {
      ...base,
      method: 'GET',
      name: 'List',
      input: 'none',
      handle: ({ bot }) => ({ status: 200, json: { commands: sorted(mine(bot.botId)) } }),
    },
    {
      ...base,
      method: 'GET',
      name: 'ListForSpace',
      input: 'query',
      handle: ({ query, bot }) => {
        const spaceId = query.guid('spaceId');
        return {
          status: 200,
          json: { commands: sorted(mine(bot.botId).filter((c) => c.spaceId === null || c.spaceId === spaceId)) },
        };
      },
    },
  ];
}
