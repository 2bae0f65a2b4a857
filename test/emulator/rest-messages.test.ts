/**
 * Messages, reactions, commands, interactions and typing (docs/platform.md §R4.3, §R8): int64-exact ids
 * through Send → History → SSE, randomId dedup, History paging, interaction TTL / peek / consume.
 */
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { Emulator } from '../../src/emulator/index.js';
import { type RawResponse, rawHttp } from './helpers/raw-http.js';
import { until } from '../helpers/until.js';

let clock: ManualClock;
let emu: Emulator;

function http(method: string, path: string, body?: unknown, token = emu.bot.token): Promise<RawResponse> {
  return rawHttp(emu.apiUrl, method, path, body, token);
}

beforeEach(async () => {
  clock = new ManualClock(0);
  emu = await Emulator.start({ port: 0, audio: false, clock });
});
afterEach(async () => {
  await emu.close();
});

const send = (text: string, randomId: string | number | bigint, extra: Record<string, unknown> = {}) =>
  http('POST', '/api/bot/IMessages/v1/Send', {
    channelId: emu.demo.textChannelId,
    text,
    randomId: String(randomId),
    ...extra,
  });

describe('int64 exactness (§R4.3)', () => {
  it('a messageId above 2^53 round-trips exactly through Send → History → SSE', async () => {
    const u = new URL(emu.apiUrl);
    const chunks: Buffer[] = [];
    const sse = request(
      {
        host: u.hostname,
        port: u.port,
        path: '/api/bot/IEvents/v1/Stream?intents=1',
        headers: { authorization: `Bot ${emu.bot.token}` },
        agent: false,
      },
      (res) => res.on('data', (c: Buffer) => chunks.push(c)),
    );
    sse.on('error', () => undefined);
    sse.end();
    await until(() => Buffer.concat(chunks).toString().includes('id: ready'), 'ready');
    const r = await send('big', '1');
    const id = r.json.messageId as bigint;
    expect(typeof id).toBe('bigint');
    expect(id > 2n ** 53n).toBe(true);
    expect(r.text).toBe(`{"messageId":${id}}`);
    // Passing the id back as a number literal and as a string both work.
    const h = await http('GET', `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}`);
    expect(h.text).toContain(`"messageId":${id},`);
    expect(h.json.messages[0].messageId).toBe(id);
    const add = await http(
      'POST',
      '/api/bot/IReactions/v1/Add',
      `{"channelId":"${emu.demo.textChannelId}","messageId":${id},"emoji":"👍"}`,
    );
    expect(add.status).toBe(200);
    const batch = await http('POST', '/api/bot/IReactions/v1/BatchGet', {
      channelId: emu.demo.textChannelId,
      messageIds: [String(id)],
    });
    expect(batch.text).toBe(
      `{"messages":[{"messageId":${id},"reactions":[{"emoji":"👍","count":1,"userIds":["${emu.bot.userId}"]}]}]}`,
    );
    clock.advance(500);
    await until(() => Buffer.concat(chunks).toString().includes('messageCreate'), 'messageCreate');
    expect(Buffer.concat(chunks).toString()).toContain(`"message":{"messageId":${id},"replyId":null,`);
    sse.destroy();
  });

  it('permission masks above 2^53 are exact JSON numbers', async () => {
    const r = await http('GET', `/api/bot/IArchetypes/v1/List?spaceId=${emu.demo.spaceId}`);
    const p = r.json.archetypes[0].permissions as bigint;
    expect(p & (1n << 56n)).toBe(1n << 56n);
    expect(r.text).toContain(`"permissions":${p}}`);
  });
});

describe('messages (§R8.3)', () => {
  it('randomId dedup per (space, channel, randomId) for 2 minutes returns the original id', async () => {
    const a = await send('first', 42);
    const b = await send('different text', 42);
    expect(b.json.messageId).toBe(a.json.messageId);
    const c = await send('no randomId', 0);
    const d = await http('POST', '/api/bot/IMessages/v1/Send', {
      channelId: emu.demo.textChannelId,
      text: 'also none',
    });
    expect(d.json.messageId).toBe(c.json.messageId);
    clock.advance(119_999);
    expect((await send('still deduped', 42)).json.messageId).toBe(a.json.messageId);
    clock.advance(1);
    const e = await send('fresh', 42);
    expect(e.json.messageId).not.toBe(a.json.messageId);
    const h = await http('GET', `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}`);
    expect(h.json.messages.map((m: { text: string }) => m.text)).toEqual(['fresh', 'no randomId', 'first']);
  });

  it('History is newest first, `from` is exclusive, limit clamped to 1–100', async () => {
    const ids: bigint[] = [];
    for (let i = 0; i < 105; i++) ids.push((await send(`m${i}`, i + 1)).json.messageId);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    const path = `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}`;
    expect((await http('GET', path)).json.messages).toHaveLength(50);
    expect((await http('GET', `${path}&limit=1000`)).json.messages).toHaveLength(100);
    const one = (await http('GET', `${path}&limit=-5`)).json.messages;
    expect(one.map((m: { messageId: bigint }) => m.messageId)).toEqual([ids[104]]);
    const page = (await http('GET', `${path}&limit=3&from=${ids[50]}`)).json.messages;
    expect(page.map((m: { messageId: bigint }) => m.messageId)).toEqual([ids[49], ids[48], ids[47]]);
    const m = (await http('GET', `${path}&limit=1`)).json.messages[0];
    expect(Object.keys(m)).toEqual([
      'messageId',
      'channelId',
      'spaceId',
      'text',
      'creatorId',
      'createdAt',
      'replyTo',
      'entities',
      'controls',
      'reactions',
    ]);
    expect(m.createdAt).toMatch(/\+00:00$/);
  });

  it('Send into a voice channel is a 500 with an empty body', async () => {
    const r = await http('POST', '/api/bot/IMessages/v1/Send', {
      channelId: emu.demo.voiceChannelId,
      text: 'x',
      randomId: '5',
    });
    expect([r.status, r.text]).toEqual([500, '']);
  });

  it('entities are stored with unionKey/unionIndex for History', async () => {
    await send('bold', 9, { entities: [{ type: 10, offset: 0, length: 4, version: 1 }] });
    const h = await http('GET', `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}&limit=1`);
    expect(h.json.messages[0].entities).toEqual([
      { type: 10, offset: 0, length: 4, version: 1, unionKey: 'MessageEntityBold', unionIndex: 10 },
    ]);
  });
});

describe('reactions (§R8.4)', () => {
  it('Add/Remove with variant B errors; List always 404', async () => {
    const id = (await send('react', 1)).json.messageId as bigint;
    const body = { channelId: emu.demo.textChannelId, messageId: String(id), emoji: 'x' };
    expect((await http('POST', '/api/bot/IReactions/v1/Add', body)).status).toBe(200);
    const again = await http('POST', '/api/bot/IReactions/v1/Add', body);
    expect([again.status, again.text]).toEqual([409, '{"error":"already_reacted"}']);
    expect((await http('DELETE', '/api/bot/IReactions/v1/Remove', body)).status).toBe(200);
    const gone = await http('DELETE', '/api/bot/IReactions/v1/Remove', body);
    expect([gone.status, gone.text]).toEqual([404, '{"error":"reaction_not_found"}']);
    const nf = await http('POST', '/api/bot/IReactions/v1/Add', { ...body, messageId: '1' });
    expect([nf.status, nf.text]).toEqual([404, '{"error":"message_not_found"}']);
    const list = await http('GET', `/api/bot/IReactions/v1/List?channelId=${emu.demo.textChannelId}&messageId=${id}`);
    expect([list.status, list.text]).toEqual([404, '{"error":"message_not_found"}']);
  });
});

describe('commands and interactions (§R8.1, §R8.2)', () => {
  it('Register validates, lower-cases and lists; Update/Delete 404 with message null', async () => {
    const bad = await http('POST', '/api/bot/ICommands/v1/Register', { name: 'x'.repeat(33), description: 'd' });
    expect(bad.text).toBe('{"error":"invalid_name","message":"Name must be 1-32 characters"}');
    const noDesc = await http('POST', '/api/bot/ICommands/v1/Register', { name: 'ok' });
    expect([noDesc.status, noDesc.text]).toEqual([500, '']);
    const missingOptName = await http('POST', '/api/bot/ICommands/v1/Register', {
      name: 'ok',
      description: 'd',
      options: [{ description: 'x', type: 0 }],
    });
    expect(missingOptName.status).toBe(400);
    const r = await http('POST', '/api/bot/ICommands/v1/Register', {
      name: 'Ping!',
      description: 'pong',
      spaceId: emu.demo.spaceId,
      options: [{ name: 'n', description: 'count', type: 1, required: true }],
    });
    expect(r.status).toBe(200);
    expect(Object.keys(r.json)).toEqual(['commandId', 'name', 'spaceId']);
    expect(r.json.name).toBe('ping!');
    const dup = await http('POST', '/api/bot/ICommands/v1/Register', {
      name: 'PING!',
      description: 'again',
      spaceId: emu.demo.spaceId,
    });
    expect(dup.status).toBe(500);
    await http('POST', '/api/bot/ICommands/v1/Register', { name: 'alpha', description: 'global' });
    const list = await http('GET', `/api/bot/ICommands/v1/ListForSpace?spaceId=${emu.demo.spaceId}`);
    expect(list.json.commands.map((c: { name: string }) => c.name)).toEqual(['alpha', 'ping!']);
    const nf = await http('PATCH', '/api/bot/ICommands/v1/Update', {
      commandId: crypto.randomUUID(),
      description: 'x',
    });
    expect(nf.text).toBe('{"error":"not_found","message":null}');
    const upd = await http('PATCH', '/api/bot/ICommands/v1/Update', {
      commandId: r.json.commandId,
      description: 'PONG',
    });
    expect(upd.json.description).toBe('PONG');
    expect(Object.keys(upd.json)).toEqual([
      'commandId',
      'name',
      'description',
      'spaceId',
      'defaultPermission',
      'options',
    ]);
  });

  it('Ack/Defer peek for 60 s; Modal consumes before validating; runCommand types option values', async () => {
    await http('POST', '/api/bot/ICommands/v1/Register', {
      name: 'roll',
      description: 'dice',
      options: [{ name: 'sides', description: 's', type: 1, required: true }],
    });
    const alice = emu.demo.userIds[0];
    const { interactionId } = emu.runCommand(alice, {
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.textChannelId,
      name: 'roll',
      options: { sides: '9007199254740993' },
    });
    const ack = () => http('POST', '/api/bot/IInteractions/v1/Ack', { interactionId });
    expect((await ack()).status).toBe(200);
    expect((await http('POST', '/api/bot/IInteractions/v1/Defer', { interactionId })).status).toBe(200);
    expect((await ack()).status).toBe(200);
    clock.advance(59_999);
    expect((await ack()).status).toBe(200);
    clock.advance(1);
    expect((await ack()).text).toBe('{"error":"interaction_not_found"}');

    const second = emu.runCommand(alice, {
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.textChannelId,
      name: 'roll',
    }).interactionId;
    const missingRequired = await http('POST', '/api/bot/IInteractions/v1/Modal', {
      interactionId: second,
      modal: { title: 't', components: [] },
    });
    expect(missingRequired.status).toBe(400);
    expect((await http('POST', '/api/bot/IInteractions/v1/Ack', { interactionId: second })).status).toBe(200);
    const invalid = await http('POST', '/api/bot/IInteractions/v1/Modal', {
      interactionId: second,
      modal: { customId: 'm', title: 't', components: [] },
    });
    expect([invalid.status, invalid.text]).toEqual([500, '']);
    expect((await http('POST', '/api/bot/IInteractions/v1/Ack', { interactionId: second })).status).toBe(404);

    const third = emu.runCommand(alice, {
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.textChannelId,
      name: 'roll',
    }).interactionId;
    const modal = await http('POST', '/api/bot/IInteractions/v1/Modal', {
      interactionId: third,
      modal: { customId: 'm', title: 'Roll', components: [{ type: 0, customId: 'why', label: 'Why?', style: 0 }] },
    });
    expect(modal.status).toBe(200);
    expect(Object.keys(modal.json)).toEqual(['modalInteractionId']);
    expect((await http('POST', '/api/bot/IInteractions/v1/Ack', { interactionId: third })).status).toBe(404);
    expect(() => emu.submitModal(alice, modal.json.modalInteractionId, { why: 'fun' })).not.toThrow();
  });

  it('EditMessage edits own messages (empty 200) and is a 500 for a foreign one', async () => {
    const mine = (await send('mine', 3)).json.messageId as bigint;
    const theirs = emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'theirs');
    const ok = await http('PATCH', '/api/bot/IInteractions/v1/EditMessage', {
      channelId: emu.demo.textChannelId,
      messageId: String(mine),
      text: 'edited',
    });
    expect([ok.status, ok.text]).toEqual([200, '']);
    const no = await http('PATCH', '/api/bot/IInteractions/v1/EditMessage', {
      channelId: emu.demo.textChannelId,
      messageId: String(theirs),
      text: 'x',
    });
    expect([no.status, no.text]).toEqual([500, '']);
    const h = await http('GET', `/api/bot/IMessages/v1/History?channelId=${emu.demo.textChannelId}`);
    expect(h.json.messages.map((m: { text: string }) => m.text)).toEqual(['theirs', 'edited']);
  });

  it('controls: buttons are stored and pressButton raises a controlInteraction id that can be acked', async () => {
    const r = await send('with buttons', 11, {
      controls: [{ controls: [{ type: 0, variant: 0, id: 'yes', label: 'Yes' }] }],
    });
    expect(r.status).toBe(200);
    const bad = await send('bad', 12, { controls: [{ controls: [{ type: 0, variant: 0, label: 'no id' }] }] });
    expect(bad.status).toBe(500);
    const { interactionId } = emu.pressButton(emu.demo.userIds[0], { messageId: r.json.messageId, controlId: 'yes' });
    expect((await http('POST', '/api/bot/IInteractions/v1/Ack', { interactionId })).status).toBe(200);
  });
});
