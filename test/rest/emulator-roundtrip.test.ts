/**
 * Integration: RestClient, EventStream and Bot against the in-process emulator (port 0), sharing one
 * fake clock with it so batching, backoff and zombie timers advance deterministically.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bot } from '../../src/bot.js';
import { Emulator } from '../../src/emulator/index.js';
import { HttpError } from '../../src/errors.js';
import { EventStream } from '../../src/events/event-stream.js';
import { Intents } from '../../src/events/intents.js';
import type { ArgonEvent, CallIncomingEvent, MessageCreateEvent } from '../../src/events/types.js';
import { RestClient } from '../../src/rest/client.js';
import { ChannelType } from '../../src/rest/enums.js';
import { TestClock } from './stub.js';

let emu: Emulator;
let clock: TestClock;
let rest: RestClient;
let stream: EventStream | undefined;

/**
 * Advances the shared fake clock in 100-ms steps, letting real sockets run, until `cond()` holds.
 * Time only moves while no REST request is on the wire (open SSE streams excepted; every client here
 * shares one limiter), so a slow machine can never push a request past its fake-time deadline.
 */
async function tickUntil(cond: () => boolean, what: string, maxMs = 120_000): Promise<void> {
  let advanced = 0;
  for (let polls = 0; polls < 20_000 && advanced <= maxMs; polls++) {
    if (cond()) return;
    const limiter = rest.core.limiter;
    if (limiter.inFlight <= limiter.streams) {
      clock.advance(100);
      advanced += 100;
    }
    await new Promise((r) => setTimeout(r, 3));
  }
  throw new Error(`gave up waiting for ${what}`);
}

beforeAll(async () => {
  clock = new TestClock(0);
  emu = await Emulator.start({ port: 0, audio: false, clock });
  rest = new RestClient({ token: emu.bot.token, baseUrl: `${emu.apiUrl}/api/bot`, clock, random: () => 0 });
});
afterEach(async () => {
  await stream?.close();
  stream = undefined;
  emu.faults.rest({ reset: true });
});
afterAll(async () => {
  await rest.close();
  await emu.close();
});

describe('REST against the emulator', () => {
  it('GetMe / GetSpaces / channels: the bot, the demo space, a Voice channel (string channelType)', async () => {
    const me = await rest.botSelf.getMe();
    expect(me).toEqual({
      botId: emu.bot.botId,
      userId: emu.bot.userId,
      username: expect.any(String),
      displayName: expect.any(String),
    });
    const { spaces } = await rest.botSelf.getSpaces();
    expect(spaces.map((s) => s.spaceId)).toContain(emu.demo.spaceId);
    const { channels } = await rest.channels.list({ spaceId: emu.demo.spaceId });
    expect(channels.find((c) => c.channelId === emu.demo.voiceChannelId)?.channelType).toBe('Voice');
    const created = await rest.channels.create({
      spaceId: emu.demo.spaceId,
      name: 'made',
      channelType: ChannelType.Voice,
    });
    expect(created.channelType).toBe('Voice');
  });

  it('Send returns an exact int64 id above 2^53 that History returns unchanged; randomId dedupes', async () => {
    const a = await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'one' });
    const b = await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'two' });
    expect(typeof a.messageId).toBe('bigint');
    expect(a.messageId > 2n ** 53n).toBe(true);
    expect(b.messageId).not.toBe(a.messageId); // a fresh randomId each time: not swallowed
    const again = await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'dup', randomId: 777n });
    const dup = await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'dup2', randomId: 777n });
    expect(dup.messageId).toBe(again.messageId);
    const { messages } = await rest.messages.history({ channelId: emu.demo.textChannelId, limit: 10 });
    const ids = messages.map((m) => m.messageId);
    expect(ids).toContain(a.messageId);
    expect(ids).toContain(b.messageId);
    const older = await rest.messages.history({ channelId: emu.demo.textChannelId, from: b.messageId, limit: 100 });
    expect(older.messages.every((m) => m.messageId < b.messageId)).toBe(true);
  });

  it('voice token, SubscribeTrack and UnsubscribeTrack (with the ?spaceId quirk), Ringing', async () => {
    const tok = await rest.voice.streamToken({ spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId });
    expect(tok.roomName).toBe(`${emu.demo.spaceId}/${emu.demo.voiceChannelId}`);
    const sub = await rest.voiceEgress.subscribeTrack({
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      userId: emu.demo.userIds[0],
    });
    await expect(
      rest.voiceEgress.unsubscribeTrack({ trackId: sub.trackId, spaceId: emu.demo.spaceId }),
    ).resolves.toEqual({ deleted: true });
    await expect(rest.calls.ringing()).resolves.toEqual({ calls: [] });
  });

  it('error variants: IReactions/List always 404 message_not_found; Ack on an unknown interaction (variant B)', async () => {
    const sent = await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'react' });
    const e1 = (await rest.reactions
      .list({ channelId: emu.demo.textChannelId, messageId: sent.messageId })
      .catch((e: unknown) => e)) as HttpError;
    expect(e1).toBeInstanceOf(HttpError);
    expect([e1.status, e1.errorCode]).toEqual([404, 'message_not_found']);
    const e2 = (await rest.interactions
      .ack({ interactionId: '00000000-0000-0000-0000-000000000001' })
      .catch((e: unknown) => e)) as HttpError;
    expect([e2.status, e2.errorCode, e2.platformMessage]).toEqual([404, 'interaction_not_found', undefined]);
    await rest.reactions.add({ channelId: emu.demo.textChannelId, messageId: sent.messageId, emoji: '👍' });
    const batch = await rest.reactions.batchGet({ channelId: emu.demo.textChannelId, messageIds: [sent.messageId] });
    expect(batch.messages[0]!.messageId).toBe(sent.messageId);
    expect(batch.messages[0]!.reactions[0]!.count).toBe(1);
  });

  it('injected 503 is retried on a safe route; injected 500 surfaces at once on an unsafe one', async () => {
    emu.faults.rest({ route: 'ISpaces/Get', status: 503, times: 1 });
    const p = rest.spaces.get({ spaceId: emu.demo.spaceId });
    let done = false;
    p.finally(() => (done = true)).catch(() => undefined);
    await tickUntil(() => done, 'retried Get');
    await expect(p).resolves.toMatchObject({ spaceId: emu.demo.spaceId });
    emu.faults.rest({ route: 'ICommands/Register', status: 500, times: 1 });
    await expect(rest.commands.register({ name: 'x', description: 'y' })).rejects.toMatchObject({ status: 500 });
  });
});

describe('SSE against the emulator', () => {
  it('delivers a user message as messageCreate with a bigint id and sender locale', async () => {
    stream = new EventStream({ rest, clock, random: () => 0, intents: Intents.AllNonPrivileged });
    const got: MessageCreateEvent[] = [];
    stream.on('messageCreate', (d) => got.push(d));
    const ready = stream.start();
    await tickUntil(() => stream!.state.status === 'open' && stream!.stats.events > 0, 'ready');
    expect((await ready).spaces.map((s) => s.spaceId)).toContain(emu.demo.spaceId);
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'from alice');
    await tickUntil(() => got.some((m) => m.message.text === 'from alice'), 'messageCreate');
    const m = got.find((x) => x.message.text === 'from alice')!;
    expect(typeof m.message.messageId).toBe('bigint');
    expect(m.message.sender.locale).toBe('en');
  });

  it("reconnects after faults.sse('drop') and keeps receiving", async () => {
    stream = new EventStream({ rest, clock, random: () => 0 });
    const texts: string[] = [];
    stream.on('messageCreate', (d) => texts.push(d.message.text));
    void stream.start();
    await tickUntil(() => stream!.stats.events > 0, 'ready');
    emu.faults.sse('drop');
    await tickUntil(() => stream!.stats.connects === 2 && stream!.state.status === 'open', 'reconnect');
    emu.sendMessage(emu.demo.userIds[1], emu.demo.textChannelId, 'after drop');
    await tickUntil(() => texts.includes('after drop'), 'message after drop');
  });

  it("detects faults.sse('zombie') after an own Send (heartbeats, no events) and reconnects", async () => {
    stream = new EventStream({ rest, clock, random: () => 0, zombieTimeoutMs: 20_000 });
    const texts: string[] = [];
    stream.on('messageCreate', (d) => texts.push(d.message.text));
    void stream.start();
    await tickUntil(() => stream!.stats.events > 0, 'ready');
    emu.faults.sse('zombie');
    await rest.messages.send({ channelId: emu.demo.textChannelId, text: 'into the void' });
    await tickUntil(() => stream!.stats.zombieReconnects === 1, 'zombie detection');
    await tickUntil(() => stream!.state.status === 'open', 'reopened');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'after zombie');
    await tickUntil(() => texts.includes('after zombie'), 'message after zombie');
  });

  it('callIncoming carries fromLocale; Accept answers with a call room', async () => {
    stream = new EventStream({ rest, clock, random: () => 0, intents: Intents.Calls });
    const calls: CallIncomingEvent[] = [];
    stream.on('callIncoming', (d) => calls.push(d));
    void stream.start();
    await tickUntil(() => stream!.stats.events > 0, 'ready');
    const call = emu.placeCall({ fromUserId: emu.demo.userIds[0] });
    await tickUntil(() => calls.length === 1, 'callIncoming');
    expect(calls[0]).toEqual({ callId: call.callId, fromUserId: emu.demo.userIds[0], fromLocale: 'en' });
    const acc = await rest.calls.accept({ callId: call.callId });
    expect(acc.roomName).toBe(call.roomName);
    expect(acc.callerId).toBe(emu.demo.userIds[0]);
    await expect(rest.calls.reject({ callId: call.callId })).resolves.toEqual({ rejected: true });
  });
});

describe('Bot against the emulator', () => {
  it('connects, finds the voice channel, hears messages through bot.on and the iterator', async () => {
    // Shares the rate limiter with `rest` (same token and clock): the IEvents 5/min window used by
    // the SSE tests above may make it wait, so fake time keeps moving while it connects.
    let bot: Bot | undefined;
    const connecting = Bot.connect({
      token: emu.bot.token,
      baseUrl: emu.apiUrl,
      clock,
      rest: { clock, random: () => 0 },
    }).then((b) => (bot = b));
    await tickUntil(() => bot !== undefined, 'Bot.connect');
    await connecting;
    if (!bot) throw new Error('unreachable');
    try {
      expect(bot.me.userId).toBe(emu.bot.userId);
      expect((await bot.firstVoiceChannel())?.channelId).toBe(emu.demo.voiceChannelId);
      const heard: string[] = [];
      bot.on('messageCreate', (d) => heard.push(d.message.text));
      emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'hi bot');
      await tickUntil(() => heard.includes('hi bot'), 'bot.on');
      const it = bot.events[Symbol.asyncIterator]();
      let ev: ArgonEvent | undefined;
      do ev = (await it.next()).value as ArgonEvent;
      while (ev && !(ev.type === 'messageCreate' && ev.data.message.text === 'hi bot'));
      expect(ev?.type).toBe('messageCreate');
    } finally {
      await bot.close();
    }
  });
});
