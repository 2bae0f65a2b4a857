/**
 * SSE protocol tests (docs/platform.md §R5): exact wire format read as raw bytes, ready payload,
 * intents filtering, the 500 ms / 50-event delivery loop, idle-only heartbeats, implicit resume,
 * the shared-session zombie, stream faults and call presence — all on a ManualClock.
 */
import { type ClientRequest, type IncomingMessage, request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/util/clock.js';
import { ARGON_EPOCH_MS, Emulator, parseJson } from '../../src/emulator/index.js';
import { until } from '../helpers/until.js';

interface SseEvent {
  event: string;
  data: string;
  id: string;
}

interface SseClient {
  status: number;
  headers: IncomingMessage['headers'];
  chunks: Buffer[];
  ended: boolean;
  text(): string;
  events(): SseEvent[];
  close(): void;
}

/** Strict parser: each block must be exactly `event:`, `data:`, `id:` lines in that order. */
function parseStrict(text: string): SseEvent[] {
  const out: SseEvent[] = [];
  const blocks = text.split('\n\n');
  const tail = blocks.pop();
  expect(tail).toBe('');
  for (const b of blocks) {
    const m = /^event: ([A-Za-z]+)\ndata: ([^\n]*)\nid: ([^\n]+)$/.exec(b);
    expect(m, `bad block ${JSON.stringify(b)}`).not.toBeNull();
    out.push({ event: m![1]!, data: m![2]!, id: m![3]! });
  }
  return out;
}

/** Incremental line parser (what a client does with arbitrary chunk boundaries). */
function parseIncremental(chunks: Iterable<Uint8Array>): SseEvent[] {
  const dec = new TextDecoder();
  let buf = '';
  const out: SseEvent[] = [];
  let cur: Partial<SseEvent> = {};
  for (const c of chunks) {
    buf += dec.decode(c, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === '') {
        out.push(cur as SseEvent);
        cur = {};
      } else {
        const i = line.indexOf(': ');
        (cur as Record<string, string>)[line.slice(0, i)] = line.slice(i + 2);
      }
    }
  }
  return out;
}

function connect(base: string, path: string, token?: string): Promise<SseClient> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token) headers.authorization = `Bot ${token}`;
    const req: ClientRequest = request(
      { host: u.hostname, port: u.port, method: 'GET', path, headers, agent: false },
      (res) => {
        const c: SseClient = {
          status: res.statusCode ?? 0,
          headers: res.headers,
          chunks: [],
          ended: false,
          text: () => Buffer.concat(c.chunks).toString('utf8'),
          events: () => (c.status === 200 ? parseStrict(c.text()) : []),
          close: () => req.destroy(),
        };
        res.on('data', (d: Buffer) => c.chunks.push(d));
        res.on('end', () => (c.ended = true));
        res.on('error', () => (c.ended = true));
        res.on('close', () => (c.ended = true));
        resolve(c);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Lets pending socket I/O settle (a few event-loop turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 1));
}

const STREAM = '/api/bot/IEvents/v1/Stream';
let clock: ManualClock;
let emu: Emulator;
const open: SseClient[] = [];

async function stream(query = '', token = emu.bot.token): Promise<SseClient> {
  const c = await connect(emu.apiUrl, `${STREAM}${query}`, token);
  open.push(c);
  if (c.status === 200) await until(() => c.text().includes('id: ready\n\n'), 'ready');
  return c;
}

const names = (c: SseClient) => c.events().map((e) => e.event);

beforeEach(async () => {
  clock = new ManualClock(1_000);
  emu = await Emulator.start({ port: 0, audio: false, clock });
});
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await emu.close();
});

describe('wire format (§R5.3)', () => {
  it('sends the exact headers and ready first with {intents, spaces[]}', async () => {
    const c = await stream();
    expect(c.status).toBe(200);
    expect(c.headers['content-type']).toBe('text/event-stream');
    expect(c.headers['cache-control']).toBe('no-cache,no-store');
    expect(c.headers.pragma).toBe('no-cache');
    expect(c.headers['content-encoding']).toBe('identity');
    expect(c.text()).toBe(
      `event: ready\ndata: {"intents":12253,"spaces":[{"spaceId":"${emu.demo.spaceId}","grantedEntitlements":144115188075855871,"pendingApproval":false}]}\nid: ready\n\n`,
    );
  });

  it('bare payloads with space ids <spaceHex>_<seq>; byte-split chunks parse to the same events', async () => {
    const c = await stream('?intents=1');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'one');
    emu.sendMessage(emu.demo.userIds[1], emu.demo.textChannelId, 'two');
    clock.advance(500);
    await until(() => names(c).filter((n) => n === 'messageCreate').length === 2, 'two messages');
    const evs = c.events();
    const hex = emu.demo.spaceId.replace(/-/g, '');
    const msgs = evs.filter((e) => e.event === 'messageCreate');
    for (const e of msgs) expect(e.id).toMatch(new RegExp(`^${hex}_\\d+$`));
    expect(Number(msgs[1]!.id.split('_')[1])).toBeGreaterThan(Number(msgs[0]!.id.split('_')[1]));
    const payload = parseJson(msgs[0]!.data) as Record<string, unknown>;
    expect(Object.keys(payload)).toEqual(['spaceId', 'channelId', 'message']);
    expect(Object.keys(payload.message as object)).toEqual([
      'messageId',
      'replyId',
      'channelId',
      'spaceId',
      'text',
      'entities',
      'timeSent',
      'sender',
      'controls',
      'reactions',
    ]);
    expect((payload.message as { controls: unknown }).controls).toBeNull();
    expect((payload.message as { timeSent: string }).timeSent).toMatch(/Z$/);
    const raw = Buffer.concat(c.chunks);
    const whole = parseIncremental([raw]);
    for (const size of [1, 7, 64]) {
      const parts: Uint8Array[] = [];
      for (let i = 0; i < raw.length; i += size) parts.push(raw.subarray(i, i + size));
      expect(parseIncremental(parts)).toEqual(whole);
    }
    expect(whole).toEqual(evs);
  });

  it('non-numeric intents → 400 before the stream; any numeric value is accepted and echoed', async () => {
    const bad = await connect(emu.apiUrl, `${STREAM}?intents=abc`, emu.bot.token);
    expect(bad.status).toBe(400);
    const c = await stream('?intents=-1');
    expect(c.events()[0]!.data).toContain('"intents":-1');
  });
});

describe('delivery loop and intents (§R5.2, §R5.4)', () => {
  it('delivers only on the 500 ms tick, filters by intents, always delivers bot-lifecycle events', async () => {
    const c = await stream('?intents=0');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'filtered');
    const s = emu.createSpace({ name: 'new', members: [emu.bot.userId] });
    clock.advance(499);
    await settle();
    expect(names(c)).toEqual(['ready']);
    clock.advance(1);
    await until(() => names(c).length === 2, 'botInstallingToSpace');
    expect(c.events()[1]).toEqual({
      event: 'botInstallingToSpace',
      data: `{"spaceId":"${s.spaceId}"}`,
      id: 'direct_1',
    });
  });

  it('pulls at most 50 events per tick', async () => {
    const c = await stream('?intents=1');
    clock.advance(500);
    await settle();
    for (let i = 0; i < 120; i++) emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, `m${i}`);
    const count = () => names(c).filter((n) => n === 'messageCreate').length;
    clock.advance(500);
    await until(() => count() === 50, '50');
    clock.advance(500);
    await until(() => count() === 100, '100');
    clock.advance(500);
    await until(() => count() === 120, '120');
    await settle();
    expect(count()).toBe(120);
  });

  it('heartbeat only after 30 s idle, with Argon-epoch ms and a cursor id', async () => {
    const c = await stream();
    clock.advance(29_500);
    await settle();
    expect(names(c)).toEqual(['ready']);
    clock.advance(500);
    await until(() => names(c).includes('heartbeat'), 'heartbeat');
    const hb = c.events().find((e) => e.event === 'heartbeat')!;
    expect(hb.data).toBe(`{"timestamp":${Math.floor(emu.core.state.wallNow()) - ARGON_EPOCH_MS}}`);
    expect(hb.id).toMatch(new RegExp(`^${emu.demo.spaceId.replace(/-/g, '')}:\\d+$`));
  });

  it('a busy stream never heartbeats', async () => {
    const c = await stream('?intents=1');
    for (let t = 0; t < 9; t++) {
      emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, `tick${t}`);
      clock.advance(10_000);
      await until(() => names(c).filter((n) => n === 'messageCreate').length === t + 1, `message ${t}`);
    }
    expect(names(c)).not.toContain('heartbeat');
  });
});

describe('sessions, resume and faults (§R5.5)', () => {
  it('resumes events published while the bot was away, but not older than the replay window', async () => {
    const a = await stream('?intents=1');
    a.close();
    await until(() => emu.core.hub.connectionCount(emu.bot.botId) === 0, 'close');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'old');
    clock.advance(300_001);
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'while away');
    const b = await stream('?intents=1');
    clock.advance(500);
    await until(() => names(b).includes('messageCreate'), 'replay');
    await settle();
    const texts = b
      .events()
      .filter((e) => e.event === 'messageCreate')
      .map((e) => (parseJson(e.data) as { message: { text: string } }).message.text);
    expect(texts).toEqual(['while away']);
  });

  it('two connections split events; when one closes the survivor is a zombie until the next connect', async () => {
    const a = await stream('?intents=1');
    clock.advance(250);
    const b = await stream('?intents=1');
    const msgs = (c: SseClient) =>
      c
        .events()
        .filter((e) => e.event === 'messageCreate')
        .map((e) => (parseJson(e.data) as { message: { text: string } }).message.text);
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'm1');
    clock.advance(250); // t=500 after a's connect: a's tick
    await until(() => msgs(a).length === 1, 'a gets m1');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'm2');
    clock.advance(250); // b's tick
    await until(() => msgs(b).length === 1, 'b gets m2');
    expect(msgs(a)).toEqual(['m1']);
    expect(msgs(b)).toEqual(['m2']);
    b.close();
    await until(() => emu.core.hub.connectionCount(emu.bot.botId) === 1, 'b closed');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'm3');
    clock.advance(30_000);
    await until(() => names(a).includes('heartbeat'), 'zombie heartbeat');
    expect(msgs(a)).toEqual(['m1']);
    const c = await stream('?intents=1');
    clock.advance(500);
    await until(() => msgs(c).includes('m3') || msgs(a).includes('m3'), 'm3 after reconnect');
  });

  it("faults.sse('drop') ends the stream; 'zombie' keeps heartbeats only; 'stall' stops writing", async () => {
    const a = await stream('?intents=1');
    emu.faults.sse('drop');
    await until(() => a.ended, 'dropped');
    const b = await stream('?intents=1');
    emu.faults.sse('zombie');
    emu.sendMessage(emu.demo.userIds[0], emu.demo.textChannelId, 'lost to zombie');
    clock.advance(30_000);
    await until(() => names(b).includes('heartbeat'), 'heartbeat');
    expect(names(b)).not.toContain('messageCreate');
    const before = b.text().length;
    emu.faults.sse('stall');
    clock.advance(60_000);
    await settle();
    expect(b.text().length).toBe(before);
  });

  it('an open stream holds a concurrency permit until it closes', async () => {
    const a = await stream();
    expect(emu.core.limiter.inFlight(emu.bot.botId)).toBe(1);
    a.close();
    await until(() => emu.core.limiter.inFlight(emu.bot.botId) === 0, 'permit returned');
  });
});

describe('membership and entitlements (§R5.4, §R5.5)', () => {
  it('a space joined mid-session starts at new events; botEntitlementsUpdated on every connect while short', async () => {
    const c = await stream('?intents=1');
    const other = emu.createSpace({ name: 'later', members: [emu.demo.userIds[0]] }).spaceId;
    const ch = emu.createChannel({ spaceId: other, name: 'talk', type: 'text' }).channelId;
    emu.sendMessage(emu.demo.userIds[0], ch, 'before join');
    emu.addMember(other, emu.bot.userId);
    clock.advance(500);
    await until(() => names(c).includes('botInstallingToSpace'), 'install');
    emu.sendMessage(emu.demo.userIds[0], ch, 'after join');
    clock.advance(500);
    await until(() => names(c).includes('messageCreate'), 'message in new space');
    await settle();
    const texts = c
      .events()
      .filter((e) => e.event === 'messageCreate')
      .map((e) => (parseJson(e.data) as { message: { text: string } }).message.text);
    expect(texts).toEqual(['after join']);
    c.close();
    emu.setEntitlements(emu.bot.userId, emu.demo.spaceId, { granted: 1n, required: (1n << 56n) | 1n });
    for (let round = 1; round <= 2; round++) {
      const s = await stream('?intents=0');
      clock.advance(500);
      await until(() => names(s).includes('botEntitlementsUpdated'), `entitlements ${round}`);
      expect(s.events().find((e) => e.event === 'botEntitlementsUpdated')!.data).toBe(
        `{"spaceId":"${emu.demo.spaceId}","requiredEntitlements":72057594037927937,"grantedEntitlements":1}`,
      );
      s.close();
      await until(() => emu.core.hub.connectionCount(emu.bot.botId) === 0, 'closed');
    }
  });

  it('privileged intents are not enforced: an unverified bot asking for Calls gets callIncoming', async () => {
    const b = emu.createBot({ verified: false });
    const c = await stream('?intents=4096', b.token);
    emu.placeCall({ fromUserId: emu.demo.userIds[1], toBotUserId: b.userId });
    clock.advance(500);
    await until(() => names(c).includes('callIncoming'), 'callIncoming');
    expect(c.events().find((e) => e.event === 'callIncoming')!.data).toContain('"fromLocale":"ru"');
  });
});

describe('calls and presence (§R6.1)', () => {
  it('callIncoming only reaches a bot with an open stream; callEnded follows its own Reject and the ring timeout', async () => {
    const alice = emu.demo.userIds[0];
    const unheard = emu.placeCall({ fromUserId: alice });
    const c = await stream('?intents=4096');
    clock.advance(500);
    await settle();
    expect(names(c)).toEqual(['ready']);
    const call = emu.placeCall({ fromUserId: alice });
    clock.advance(500);
    await until(() => names(c).includes('callIncoming'), 'callIncoming');
    const ev = c.events().find((e) => e.event === 'callIncoming')!;
    expect(ev.data).toBe(`{"callId":"${call.callId}","fromUserId":"${alice}","fromLocale":"en"}`);
    expect(ev.id).toMatch(/^direct_\d+$/);
    clock.advance(45_000);
    expect(await unheard.ended).toBe('timeout');
    expect(await call.ended).toBe('timeout');
    await until(() => names(c).filter((n) => n === 'callEnded').length === 2, 'callEnded x2');
  });
});
