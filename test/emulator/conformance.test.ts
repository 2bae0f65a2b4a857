/**
 * Conformance against the published manifest (the project's copy in contract/, loaded by
 * test/helpers/contract.ts): every route answers on its method and path (wrong method → 405 with
 * Allow), succeeds with the manifest's response field names, and produces each listed error
 * status/code — except the deliberate server differences listed in src/emulator/rest/differences.ts.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator, parseJson, stringifyJson } from '../../src/emulator/index.js';
import { neverEmitted, SERVER_DIFFERENCES, shapeExempt } from '../../src/emulator/rest/differences.js';
import { type ManifestProp as ShapeProp, manifest } from '../helpers/contract.js';

interface Req {
  query?: string;
  body?: unknown;
  token?: string;
}
interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

let emu: Emulator;

function http(method: string, path: string, req: Req = {}): Promise<Res> {
  const u = new URL(emu.apiUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bot ${req.token ?? emu.bot.token}` };
    const text = req.body === undefined ? undefined : stringifyJson(req.body);
    if (text !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(text));
    }
    const r = request(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: `${path}${req.query ? `?${req.query}` : ''}`,
        headers,
        agent: false,
      },
      (res) => {
        if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: '' });
          r.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    r.on('error', reject);
    r.end(text);
  });
}

type Scenario = () => Req | Promise<Req>;
interface RouteCases {
  ok: Scenario;
  errors: Record<string, Scenario>;
}

let cases: Record<string, RouteCases>;

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 } });
  const { spaceId, textChannelId, voiceChannelId } = emu.demo;
  const [alice, bob] = emu.demo.userIds;
  const outside = emu.createSpace({ name: 'outside', members: [alice] }).spaceId;
  const unverified = emu.createBot({ verified: false });
  emu.addMember(spaceId, unverified.userId);
  const noReactBot = emu.createBot();
  emu.addMember(spaceId, noReactBot.userId);
  emu.core.state.spaces.get(spaceId)!.members.get(noReactBot.userId)!.entitlements &= ~(1n << 8n);
  const everyone = [...emu.core.state.archetypes.values()].find((a) => a.spaceId === spaceId)!.archetypeId;
  const rnd = () => crypto.randomUUID();
  let nextRandom = 1000n;
  const botMessage = async (): Promise<bigint> => {
    const r = await http('POST', '/api/bot/IMessages/v1/Send', {
      body: { channelId: textChannelId, text: 'fixture', randomId: String(nextRandom++) },
    });
    return (parseJson(r.text) as { messageId: bigint }).messageId;
  };
  const register = async (name: string, token?: string, scope: string | null = spaceId): Promise<string> => {
    const r = await http('POST', '/api/bot/ICommands/v1/Register', {
      token,
      body: {
        name,
        description: 'd',
        spaceId: scope,
        options: [{ name: 'o', description: 'opt', type: 0, required: false }],
      },
    });
    return (parseJson(r.text) as { commandId: string }).commandId;
  };
  await register('fixture');
  let n = 0;
  const interaction = () => emu.runCommand(alice, { spaceId, channelId: textChannelId, name: 'fixture' }).interactionId;
  const vs = { spaceId, channelId: voiceChannelId };
  cases = {
    'IArchetypes/Get': {
      ok: () => ({ query: `spaceId=${spaceId}&archetypeId=${everyone}` }),
      errors: {
        not_a_member: () => ({ query: `spaceId=${outside}&archetypeId=${everyone}` }),
        not_found: () => ({ query: `spaceId=${spaceId}&archetypeId=${rnd()}` }),
      },
    },
    'IArchetypes/List': {
      ok: () => ({ query: `spaceId=${spaceId}` }),
      errors: { not_a_member: () => ({ query: `spaceId=${outside}` }) },
    },
    'IArchetypes/ListMembers': {
      ok: () => ({ query: `spaceId=${spaceId}&archetypeId=${everyone}` }),
      errors: { not_a_member: () => ({ query: `spaceId=${outside}&archetypeId=${everyone}` }) },
    },
    'IBotSelf/GetMe': { ok: () => ({}), errors: {} },
    'IBotSelf/GetSpaces': { ok: () => ({}), errors: {} },
    'ICalls/Accept': {
      ok: () => ({ body: { callId: emu.placeCall({ fromUserId: alice }).callId } }),
      errors: {
        not_ringing: () => {
          const c = emu.placeCall({ fromUserId: alice });
          c.hangUp();
          return { body: { callId: c.callId } };
        },
        not_callee: () => ({ body: { callId: rnd() } }),
        not_verified: () => ({
          token: unverified.token,
          body: { callId: emu.placeCall({ fromUserId: alice, toBotUserId: unverified.userId }).callId },
        }),
      },
    },
    'ICalls/Reject': {
      ok: () => ({ body: { callId: emu.placeCall({ fromUserId: alice }).callId, reason: 'busy' } }),
      errors: {
        not_callee: () => ({ body: { callId: rnd() } }),
        not_verified: () => ({ token: unverified.token, body: { callId: rnd() } }),
      },
    },
    'ICalls/Ringing': { ok: () => ({}), errors: { not_verified: () => ({ token: unverified.token }) } },
    'IChannels/Create': {
      ok: () => ({ body: { spaceId, name: `c${n++}`, description: null, channelType: 1 } }),
      errors: { not_a_member: () => ({ body: { spaceId: outside, name: 'x', description: null, channelType: 0 } }) },
    },
    'IChannels/Delete': {
      ok: () => ({
        query: `spaceId=${spaceId}&channelId=${emu.createChannel({ spaceId, name: 'tmp', type: 'text' }).channelId}`,
      }),
      errors: { not_a_member: () => ({ query: `spaceId=${outside}&channelId=${rnd()}` }) },
    },
    'IChannels/List': {
      ok: () => ({ query: `spaceId=${spaceId}` }),
      errors: { not_a_member: () => ({ query: `spaceId=${outside}` }) },
    },
    'ICommands/Delete': {
      ok: async () => ({ query: `commandId=${await register(`del${n++}`)}` }),
      errors: { not_found: () => ({ query: `commandId=${rnd()}` }) },
    },
    'ICommands/List': { ok: () => ({}), errors: {} },
    'ICommands/ListForSpace': { ok: () => ({ query: `spaceId=${spaceId}` }), errors: {} },
    'ICommands/Register': {
      ok: () => ({ body: { name: `reg${n++}`, description: 'ok', options: [] } }),
      errors: {
        command_limit: async () => {
          const b = emu.createBot();
          for (let i = 0; i < 50; i++) await register(`c${i}`, b.token, null);
          return { token: b.token, body: { name: 'one-too-many', description: 'x' } };
        },
        invalid_description: () => ({ body: { name: 'x', description: 'd'.repeat(101) } }),
        invalid_name: () => ({ body: { name: '   ', description: 'x' } }),
      },
    },
    'ICommands/Update': {
      ok: async () => ({ body: { commandId: await register(`upd${n++}`), description: 'new' } }),
      errors: { not_found: () => ({ body: { commandId: rnd() } }) },
    },
    'IEvents/Stream': { ok: () => ({ query: 'intents=12253' }), errors: {} },
    'IInteractions/Ack': {
      ok: () => ({ body: { interactionId: interaction() } }),
      errors: { interaction_not_found: () => ({ body: { interactionId: rnd() } }) },
    },
    'IInteractions/Defer': {
      ok: () => ({ body: { interactionId: interaction() } }),
      errors: { interaction_not_found: () => ({ body: { interactionId: rnd() } }) },
    },
    'IInteractions/EditMessage': {
      ok: async () => ({ body: { channelId: textChannelId, messageId: String(await botMessage()), text: 'edited' } }),
      errors: {},
    },
    'IInteractions/Modal': {
      ok: () => ({
        body: {
          interactionId: interaction(),
          modal: { customId: 'm', title: 'T', components: [{ type: 0, customId: 'a', label: 'A', style: 1 }] },
        },
      }),
      errors: {
        interaction_not_found: () => ({
          body: { interactionId: rnd(), modal: { customId: 'm', title: 'T', components: [] } },
        }),
      },
    },
    'IInteractions/Reply': {
      ok: () => ({ body: { channelId: textChannelId, text: 'reply', randomId: String(nextRandom++) } }),
      errors: {},
    },
    'IMembers/Kick': {
      ok: () => {
        emu.joinVoice(bob, vs);
        return { query: `spaceId=${spaceId}&channelId=${voiceChannelId}&userId=${bob}` };
      },
      errors: { kick_failed: () => ({ query: `spaceId=${spaceId}&channelId=${textChannelId}&userId=${bob}` }) },
    },
    'IMessages/History': {
      ok: async () => {
        await botMessage();
        return { query: `channelId=${textChannelId}` };
      },
      errors: {},
    },
    'IMessages/Send': {
      ok: () => ({ body: { channelId: textChannelId, text: 'hi', randomId: String(nextRandom++) } }),
      errors: {},
    },
    'IReactions/Add': {
      ok: async () => ({ body: { channelId: textChannelId, messageId: String(await botMessage()), emoji: '🎉' } }),
      errors: {
        insufficient_permissions: async () => ({
          token: noReactBot.token,
          body: { channelId: textChannelId, messageId: String(await botMessage()), emoji: 'a' },
        }),
        message_not_found: () => ({ body: { channelId: textChannelId, messageId: '1', emoji: 'a' } }),
        already_reacted: async () => {
          const id = String(await botMessage());
          await http('POST', '/api/bot/IReactions/v1/Add', {
            body: { channelId: textChannelId, messageId: id, emoji: 'a' },
          });
          return { body: { channelId: textChannelId, messageId: id, emoji: 'a' } };
        },
        reaction_limit_reached: async () => {
          const id = await botMessage();
          const m = emu.core.state.messages.get(id)!;
          for (let i = 0; i < 20; i++) m.reactions.set(`e${i}`, [alice]);
          return { body: { channelId: textChannelId, messageId: String(id), emoji: 'new' } };
        },
      },
    },
    'IReactions/BatchGet': {
      ok: async () => ({ body: { channelId: textChannelId, messageIds: [String(await botMessage())] } }),
      errors: {},
    },
    'IReactions/List': {
      ok: () => ({ query: `channelId=${textChannelId}&messageId=1` }),
      errors: { message_not_found: () => ({ query: `channelId=${textChannelId}&messageId=1` }) },
    },
    'IReactions/Remove': {
      ok: async () => {
        const id = String(await botMessage());
        await http('POST', '/api/bot/IReactions/v1/Add', {
          body: { channelId: textChannelId, messageId: id, emoji: 'r' },
        });
        return { body: { channelId: textChannelId, messageId: id, emoji: 'r' } };
      },
      errors: {
        message_not_found: () => ({ body: { channelId: textChannelId, messageId: '1', emoji: 'r' } }),
        reaction_not_found: async () => ({
          body: { channelId: textChannelId, messageId: String(await botMessage()), emoji: 'r' },
        }),
      },
    },
    'ISpaces/Get': { ok: () => ({ query: `spaceId=${spaceId}` }), errors: {} },
    'ISpaces/GetMember': { ok: () => ({ query: `spaceId=${spaceId}&userId=${alice}` }), errors: {} },
    'ISpaces/ListMembers': { ok: () => ({ query: `spaceId=${spaceId}` }), errors: {} },
    'ITyping/Start': { ok: () => ({ body: { channelId: textChannelId, kind: 'typing' } }), errors: {} },
    'ITyping/Stop': { ok: () => ({ body: { channelId: textChannelId } }), errors: {} },
    'IVoice/StreamToken': {
      ok: () => ({ body: vs }),
      errors: {
        not_voice_channel: () => ({ body: { spaceId, channelId: textChannelId } }),
        not_a_member: () => ({ body: { spaceId: outside, channelId: voiceChannelId } }),
        channel_not_found: () => ({ body: { spaceId, channelId: rnd() } }),
      },
    },
    'IVoiceEgress/SubscribeTrack': {
      ok: () => ({ body: { ...vs, userId: alice } }),
      errors: {
        not_voice_channel: () => ({ body: { spaceId, channelId: textChannelId, userId: alice } }),
        not_a_member: () => ({ body: { spaceId: outside, channelId: voiceChannelId, userId: alice } }),
        not_verified: () => ({ token: unverified.token, body: { ...vs, userId: alice } }),
        channel_not_found: () => ({ body: { spaceId, channelId: rnd(), userId: alice } }),
      },
    },
    'IVoiceEgress/UnsubscribeTrack': {
      ok: () => ({ query: `spaceId=${spaceId}`, body: { trackId: `${spaceId}/${voiceChannelId}:${alice}` } }),
      errors: {
        not_verified: () => ({ token: unverified.token, query: `spaceId=${spaceId}`, body: { trackId: 'x' } }),
      },
    },
  };
});
afterAll(async () => {
  await emu.close();
});

const routes = manifest.interfaces.flatMap((i) =>
  i.routes.map((r) => ({ iface: i.name, version: i.version, key: `${i.name}${r.path}`, ...r })),
);

function checkShape(value: unknown, shape: ShapeProp[], where: string): void {
  expect(value, where).toBeTypeOf('object');
  expect(Object.keys(value as object).sort(), where).toEqual(shape.map((p) => p.name).sort());
  for (const p of shape) {
    const v = (value as Record<string, unknown>)[p.name];
    if (p.isArray && p.properties && Array.isArray(v) && v.length > 0 && typeof v[0] === 'object' && v[0] !== null) {
      expect(Object.keys(v[0] as object).sort(), `${where}.${p.name}[0]`).toEqual(
        p.properties.map((q) => q.name).sort(),
      );
    }
  }
}

describe('manifest conformance', () => {
  it('the manifest has 14 interfaces and 37 routes, and every route has a scenario', () => {
    expect(manifest.interfaces).toHaveLength(14);
    expect(routes).toHaveLength(37);
    expect(Object.keys(cases).sort()).toEqual(routes.map((r) => r.key).sort());
  });

  it('every difference refers to a manifest route', () => {
    const keys = new Set(routes.map((r) => r.key));
    for (const d of SERVER_DIFFERENCES) if (d.route !== '*') expect(keys.has(d.route), d.route).toBe(true);
  });

  for (const route of routes) {
    const path = `/api/bot/${route.iface}/v${route.version}${route.path}`;
    it(`${route.method} ${path}`, async () => {
      emu.faults.rest({ reset: true });
      const c = cases[route.key]!;
      // Method: the other methods are 405 with Allow naming the manifest's.
      const wrong = route.method === 'GET' ? 'POST' : 'GET';
      const w = await http(wrong, path);
      expect(w.status).toBe(405);
      expect(String(w.headers.allow).split(', ')).toContain(route.method);
      // Success and field names.
      const ok = await http(route.method, path, await c.ok());
      if (route.key === 'IEvents/Stream') {
        expect(ok.status).toBe(200);
        expect(ok.headers['content-type']).toBe('text/event-stream');
      } else if (route.key === 'IReactions/List') {
        expect(ok.status).toBe(404);
      } else {
        expect(ok.status, ok.text).toBe(200);
        if (route.responseTypeName === null) expect(ok.text).toBe('');
        else if (!shapeExempt(route.key)) checkShape(parseJson(ok.text), route.responseTypeShape ?? [], route.key);
      }
      // Every listed error, except the documented differences.
      const skip = neverEmitted(route.key);
      for (const e of route.errors ?? []) {
        if (skip.has(e.code)) continue;
        const scenario = c.errors[e.code];
        expect(scenario, `${route.key} ${e.code} has a scenario or a listed difference`).toBeDefined();
        emu.faults.rest({ reset: true });
        const r = await http(route.method, path, await scenario!());
        expect(r.status, `${route.key} ${e.code}: ${r.text}`).toBe(e.status);
        expect((parseJson(r.text) as { error: string }).error).toBe(e.code);
      }
    });
  }
});
