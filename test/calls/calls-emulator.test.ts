/**
 * Calls end to end against the emulator (docs/platform.md §R6, §A2.2, §A5): simulated users
 * call the bot; policies accept or reject; audio flows both ways over `/audio/duplex`; calls end
 * from either side, on `target_left`, on socket loss, by ringing out, and on shutdown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptAfter,
  acceptAll,
  answerCalls,
  type Call,
  type CallsApi,
  type DuplexCallSession,
  maxConcurrent,
  parsePolicySpec,
  rejectAll,
  toneSource,
} from '../../src/calls/index.js';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { Emulator } from '../../src/emulator/index.js';
import { EventStream } from '../../src/events/event-stream.js';
import { Intents } from '../../src/events/intents.js';
import { RestClient } from '../../src/rest/client.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RATE_LIMITS } from '../../src/rest/routes.js';
import type { JitterMetrics } from '../../src/jitter/index.js';
import { ManualClock } from '../../src/util/clock.js';
import type { ReceivedOpusFrame } from '../../src/voice/receiver.js';
import { until } from '../helpers/until.js';

let emu: Emulator;

/**
 * Bound of every wait on real sockets: generous, only there to turn a hang into a message. No
 * outcome below depends on how fast the machine is.
 */
const WAIT = { timeoutMs: 20_000, intervalMs: 5 };

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 }, timings: { sseBatchMs: 20 } });
});
afterAll(async () => {
  await emu.close();
});

/** A fresh verified bot with its own REST client and event stream (one stream per bot). */
async function connectBot(on: Emulator = emu) {
  const bot = on.createBot({ verified: true });
  const rest = new RestClient({ token: bot.token, baseUrl: on.apiUrl });
  const events = new EventStream({ rest, intents: Intents.All });
  await events.start();
  const accepts: string[] = [];
  // Count Accept calls while passing them through.
  const calls: CallsApi = {
    accept: (body, o) => {
      accepts.push(body.callId);
      return rest.calls.accept(body, o);
    },
    reject: (body, o) => rest.calls.reject(body, o),
  };
  return {
    bot,
    /** What answerCalls takes. */
    wiring: { rest: { calls }, events },
    accepts,
    async close() {
      await events.close();
      await rest.close();
    },
  };
}

/** A handler that keeps the call open until it ends. */
const holdUntilEnded = (call: Call<DuplexCallSession>) =>
  new Promise<void>((resolve) => {
    if (call.signal.aborted) resolve();
    else call.signal.addEventListener('abort', () => resolve(), { once: true });
  });

/** Distinct, structurally valid 20 ms CELT mono frames (TOC 0xf8). */
function frame(i: number, len = 40): Uint8Array {
  const f = new Uint8Array(len);
  f[0] = 0xf8;
  for (let k = 1; k < len; k++) f[k] = (i * 31 + k * 7) & 0xff;
  return f;
}

function newUser(name: string): string {
  return emu.createUser({ username: `${name}-${Math.random().toString(36).slice(2, 8)}`, locale: 'en' }).userId;
}

describe('policies over ICalls', () => {
  it('accept: the call is accepted, the duplex session connects to the caller, the bot hangs up when the handler returns', async () => {
    const b = await connectBot();
    const connected: string[] = [];
    let query: Record<string, string> | undefined;
    const manager = answerCalls({
      ...b.wiring,
      policy: acceptAll(),
      onCall: async (call) => {
        connected.push(call.callerId);
        const s = call.session!;
        expect(s.callerId).toBe(call.callerId);
        expect(s.duplex.state.status).toBe('ready');
        query = emu.gateway.sessions().find((x) => x.identity === b.bot.userId && x.endpoint === 'duplex')?.query;
      },
    });
    const alice = emu.demo.userIds[0];
    const sim = emu.placeCall({ fromUserId: alice, toBotUserId: b.bot.userId });
    await sim.accepted;
    expect(await sim.ended).toBe('hangup');
    expect(connected).toEqual([alice]);
    expect(b.accepts).toEqual([sim.callId]);
    // The duplex URL of docs/platform.md §R6.3: the caller's microphone, mono, 20 ms, the token in the query.
    expect(query).toMatchObject({
      target_identity: alice,
      target_track_source: 'microphone',
      stereo: 'false',
      frame_duration_ms: '20',
    });
    expect(Object.keys(query!)).toContain('token');
    await manager.close();
    await b.close();
  });

  it('reject: the call ends as rejected with the policy reason, and callEnded reaches the bot', async () => {
    const b = await connectBot();
    const manager = answerCalls({ ...b.wiring, policy: rejectAll('closed for lunch'), onCall: holdUntilEnded });
    const rejected: string[] = [];
    const ended: string[] = [];
    manager.on('rejected', (_c, reason) => rejected.push(reason));
    manager.on('ended', (_c, reason) => ended.push(reason));
    const callEnded: string[] = [];
    b.wiring.events.on('callEnded', (ev) => callEnded.push(ev.callId));
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[1], toBotUserId: b.bot.userId });
    expect(await sim.ended).toBe('rejected');
    await until(() => ended.length > 0, 'the call ended', WAIT);
    expect(ended).toEqual(['rejected']);
    expect(rejected).toEqual(['closed for lunch']);
    // The platform sends callEnded after the bot's own Reject too (docs/platform.md §R6.1).
    await until(() => callEnded.length > 0, 'callEnded', WAIT);
    expect(callEnded).toEqual([sim.callId]);
    expect(b.accepts).toEqual([]);
    expect(manager.activeCalls).toEqual([]);
    await manager.close();
    await b.close();
  });

  it('allow-list from a --policy spec accepts the listed caller and rejects another', async () => {
    const b = await connectBot();
    const [alice, bob] = emu.demo.userIds;
    const manager = answerCalls({
      ...b.wiring,
      policy: parsePolicySpec(`allow-list:${alice}`),
      onCall: async () => {},
    });
    const reasons: string[] = [];
    manager.on('rejected', (_c, r) => reasons.push(r));
    const fromBob = emu.placeCall({ fromUserId: bob, toBotUserId: b.bot.userId });
    expect(await fromBob.ended).toBe('rejected');
    const fromAlice = emu.placeCall({ fromUserId: alice, toBotUserId: b.bot.userId });
    await fromAlice.accepted;
    expect(await fromAlice.ended).toBe('hangup');
    expect(reasons).toEqual(['caller not on the allow list']);
    await manager.close();
    await b.close();
  });

  it('ten calls at once with a limit of three: three accepted, seven rejected as busy; shutdown hangs up the three', async () => {
    const b = await connectBot();
    const manager = answerCalls({ ...b.wiring, policy: maxConcurrent(3), onCall: holdUntilEnded });
    const reasons: string[] = [];
    manager.on('rejected', (_c, r) => reasons.push(r));
    const connected = new Set<string>();
    manager.on('call', (c) => c.on('connected', () => connected.add(c.callId)));
    const sims = Array.from({ length: 10 }, (_, i) =>
      emu.placeCall({ fromUserId: newUser(`caller${i}`), toBotUserId: b.bot.userId }),
    );
    const outcome = await Promise.all(
      sims.map((s) =>
        s.accepted.then(
          () => 'accepted',
          () => s.ended,
        ),
      ),
    );
    expect(outcome.filter((o) => o === 'accepted')).toHaveLength(3);
    expect(outcome.filter((o) => o === 'rejected')).toHaveLength(7);
    expect(reasons).toEqual(Array(7).fill('all lines are busy'));
    expect(new Set(b.accepts)).toEqual(new Set(sims.filter((_, i) => outcome[i] === 'accepted').map((s) => s.callId)));
    await until(() => connected.size === 3, 'three calls connected', WAIT);
    expect(manager.busyLines).toBe(3);
    // Process shutdown: every live call is hung up.
    await manager.close();
    const accepted = sims.filter((_, i) => outcome[i] === 'accepted');
    expect(await Promise.all(accepted.map((s) => s.ended))).toEqual(['hangup', 'hangup', 'hangup']);
    expect(manager.activeCalls).toEqual([]);
    // Every duplex socket of the bot is gone from the gateway.
    await until(
      () => emu.gateway.sessions().filter((x) => x.identity === b.bot.userId).length === 0,
      'every duplex socket of the bot closed',
      WAIT,
    );
    await b.close();
  });

  it('a call that rings out ends with callEnded before the delayed accept, and Accept is never sent', async () => {
    const short = await Emulator.start({ port: 0, audio: false, timings: { sseBatchMs: 20, ringTimeoutMs: 150 } });
    try {
      const b = await connectBot(short);
      // The bot's side runs on a clock that never moves: the 30 s accept delay cannot end before
      // the emulator's 150 ms ring timeout, however slow the machine is.
      const manager = answerCalls({
        ...b.wiring,
        policy: acceptAfter(30_000),
        onCall: holdUntilEnded,
        clock: new ManualClock(0),
      });
      const ended: string[] = [];
      manager.on('ended', (_c, r) => ended.push(r));
      const sim = short.placeCall({ fromUserId: short.demo.userIds[0], toBotUserId: b.bot.userId });
      expect(await sim.ended).toBe('timeout');
      await until(() => ended.length > 0, 'the call ended at the manager', WAIT);
      expect(ended).toEqual(['remote-ended']);
      expect(b.accepts).toEqual([]);
      await manager.close();
      await b.close();
    } finally {
      await short.close();
    }
  });
});

describe('ICalls rate limit (20/min per bot)', () => {
  it('an Accept that cannot get a rate-limit permit in time fails fast (RateLimitError) instead of ringing out', async () => {
    const creds = emu.createBot({ verified: true });
    // A client-side window of one ICalls request: the second request must wait for a permit.
    // The bot's side (limiter, REST deadlines, manager) runs on a clock that never moves: the
    // 300 ms Accept deadline is a number the limiter compares with its window, never a timer
    // that a slow first Accept could lose to.
    const clock = new ManualClock(0);
    const rest = new RestClient({
      token: creds.token,
      baseUrl: emu.apiUrl,
      clock,
      limiter: new RateLimiter({ limits: { ...RATE_LIMITS, ICalls: 1 }, clock }),
    });
    const events = new EventStream({ rest, intents: Intents.All });
    await events.start();
    const manager = answerCalls({ rest, events, onCall: holdUntilEnded, deadlines: { acceptMs: 300 }, clock });
    const ended: string[] = [];
    const errors: Error[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    manager.on('error', (e) => errors.push(e));
    const first = emu.placeCall({ fromUserId: newUser('first'), toBotUserId: creds.userId });
    await first.accepted;
    const second = emu.placeCall({ fromUserId: newUser('second'), toBotUserId: creds.userId });
    await until(() => ended.length > 0, 'the second call ended', WAIT);
    expect(ended).toEqual(['accept-failed']);
    // The limiter knows the next ICalls permit is ~60 s away, past the 300 ms Accept deadline, so
    // the request is refused before it is sent rather than after waiting out the deadline.
    expect(errors.map((e) => e.name)).toEqual(['RateLimitError']);
    expect(second.state).toBe('ringing');
    second.hangUp();
    await manager.close();
    await events.close();
    await rest.close();
  });
});

describe('audio both ways over /audio/duplex', () => {
  it('the greeting reaches the caller: frames captured at the emulator and by the caller, all gateway-safe', async () => {
    const b = await connectBot();
    // The bot's side on a manual clock (its pacer then runs on the main thread, on that clock):
    // time moves one frame at a time, and only once every frame the pacer wrote was captured at
    // the emulator and by the caller, so no frame is ever late (dropped) or missing when the
    // call ends, however busy the machine is.
    const clock = new ManualClock(0);
    const played: number[] = [];
    let session: DuplexCallSession | undefined;
    let stepped!: () => void;
    const steppingDone = new Promise<void>((r) => (stepped = r));
    const manager = answerCalls({
      ...b.wiring,
      clock,
      onCall: async (call) => {
        session = call.session;
        const r = await call.session!.play(toneSource([[440, 300]]), { signal: call.signal });
        played.push(r.frames);
        // Hang up only once the test stopped the clock and saw every sent frame arrive.
        await steppingDone;
      },
    });
    const alice = emu.demo.userIds[0];
    const sim = emu.placeCall({ fromUserId: alice, toBotUserId: b.bot.userId });
    await sim.accepted;
    const heard = sim.caller.listen({ identity: b.bot.userId });
    await until(() => session !== undefined, 'the connected session', WAIT);
    expect(emu.gateway.sessions().find((x) => x.identity === b.bot.userId && x.endpoint === 'duplex')?.room).toBe(
      sim.roomName,
    );
    const published = () => emu.gateway.published({ identity: b.bot.userId, room: sim.roomName });
    const sent = () => session!.duplex.pacer.metrics.framesSent;
    const arrived = () => published().length === sent() && heard.frames.length === sent();
    for (let i = 0; i < 500 && played.length === 0; i++) {
      clock.advance(20);
      await until(arrived, `frame ${sent()} at the emulator and the caller`, WAIT);
    }
    stepped();
    expect(await sim.ended).toBe('hangup');
    expect(played).toEqual([15]);
    expect(published().length).toBe(sent());
    expect(published().length).toBeGreaterThanOrEqual(15);
    expect(published().every((f) => isGatewaySafe(f.data, 20))).toBe(true);
    // The caller heard the same packets the gateway accepted (pre-roll silence + the tone).
    expect(heard.frames.length).toBe(published().length);
    expect(heard.frames.filter((f) => f.data.length > 3).length).toBeGreaterThanOrEqual(15);
    await manager.close();
    await b.close();
  });

  it("the caller's speech reaches the bot: the recording holds every non-DTX frame in order; callerAudio plays them through the jitter buffer", async () => {
    const b = await connectBot();
    const spoken = Array.from({ length: 20 }, (_, i) => frame(i));
    let recorded: Uint8Array[] = [];
    let droppedDtx = -1;
    const jittered: Uint8Array[] = [];
    let metrics: JitterMetrics | undefined;
    let listening!: () => void;
    const handlerListening = new Promise<void>((r) => (listening = r));
    const manager = answerCalls({
      ...b.wiring,
      onCall: async (call) => {
        const s = call.session!;
        const stream = s.callerAudio();
        expect(s.callerAudio()).toBe(stream);
        const rec = s.record();
        listening();
        // Read playout slots until everything recorded has also left the jitter buffer.
        let packetSlots = 0;
        for await (const slot of stream as AsyncIterable<ReceivedOpusFrame>) {
          if (slot.kind === 'packet') packetSlots++;
          if (slot.kind === 'packet' && slot.packet.length > 2) jittered.push(slot.packet);
          const m = stream.metrics;
          if (rec.frames.length === spoken.length && m.bufferedMs === 0 && packetSlots === m.packetsPlayed) break;
        }
        metrics = { ...stream.metrics };
        const r = await rec.stop();
        recorded = r.frames;
        droppedDtx = r.droppedDtx;
      },
    });
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: b.bot.userId });
    await sim.accepted;
    await handlerListening;
    // Two DTX frames in the middle: dropped by the recording (docs/platform.md §A5.2), never re-published.
    const withDtx = [...spoken.slice(0, 10), new Uint8Array([0xf8, 0x00]), new Uint8Array([0xf8]), ...spoken.slice(10)];
    await sim.caller.speak(withDtx).done;
    expect(await sim.ended).toBe('hangup');
    const hex = (xs: Uint8Array[]) => xs.map((f) => Buffer.from(f).toString('hex'));
    // The raw path: every frame, in arrival order (= send order on one socket).
    expect(hex(recorded)).toEqual(hex(spoken));
    expect(droppedDtx).toBe(2);
    // The jittered path: the caller's packets in order, none invented; the buffer may drop a
    // late frame when the event loop stalls (2 shared cores), and then it counts it.
    const spokenHex = hex(spoken);
    let k = 0;
    for (const h of hex(jittered)) {
      k = spokenHex.indexOf(h, k);
      expect(k).toBeGreaterThanOrEqual(0);
      k++;
    }
    expect(jittered.length).toBeGreaterThan(0);
    const m = metrics!;
    expect(m.packetsReceived).toBe(withDtx.length);
    expect(jittered.length + m.lateDiscards + m.droppedFrames + m.overflowDrops).toBeGreaterThanOrEqual(spoken.length);
    await manager.close();
    await b.close();
  });
});

describe('how calls end', () => {
  it('the caller hangs up: the call ends once (target_left or callEnded, whichever comes first) and its duplex socket closes', async () => {
    const b = await connectBot();
    let session: DuplexCallSession | undefined;
    const manager = answerCalls({
      ...b.wiring,
      onCall: (call) => {
        session = call.session;
        return holdUntilEnded(call);
      },
    });
    const ended: string[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    const callEnded: string[] = [];
    b.wiring.events.on('callEnded', (ev) => callEnded.push(ev.callId));
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: b.bot.userId });
    await sim.accepted;
    await until(() => session !== undefined, 'the connected session', WAIT);
    sim.hangUp();
    expect(await sim.ended).toBe('hangup');
    // The emulator takes the caller out of the room at once (target_left on the socket) and
    // sends callEnded on the next SSE batch: either may end the call, but only once.
    await until(() => callEnded.length > 0, 'callEnded', WAIT);
    expect(callEnded).toEqual([sim.callId]);
    expect(ended).toHaveLength(1);
    expect(['remote-ended', 'target-left']).toContain(ended[0]);
    await until(() => session!.duplex.state.status === 'closed', 'the duplex socket closed', WAIT);
    expect(session!.closed).toBe(true);
    await manager.close();
    await b.close();
  });

  it('the bot hangs up with call.hangUp(): the platform ends the call', async () => {
    const b = await connectBot();
    const manager = answerCalls({
      ...b.wiring,
      onCall: async (call) => {
        await call.hangUp('bye');
        await call.hangUp('again'); // idempotent
      },
    });
    const ended: string[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: b.bot.userId });
    expect(await sim.ended).toBe('hangup');
    expect(ended).toEqual(['hung-up']);
    await manager.close();
    await b.close();
  });

  it('target_left (the caller leaves the room; the duplex socket stays open) hangs up the call', async () => {
    const b = await connectBot();
    let session: DuplexCallSession | undefined;
    const manager = answerCalls({
      ...b.wiring,
      onCall: (call) => {
        session = call.session;
        return holdUntilEnded(call);
      },
    });
    const ended: string[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: b.bot.userId });
    await sim.accepted;
    await until(() => session !== undefined, 'the connected session', WAIT);
    sim.caller.leave();
    expect(await sim.ended).toBe('hangup');
    expect(ended).toEqual(['target-left']);
    await until(() => session!.duplex.state.status === 'closed', 'the duplex socket closed', WAIT);
    await manager.close();
    await b.close();
  });

  it('socket loss (gateway drops the duplex socket, no reconnect) ends the call as socket-lost and hangs up', async () => {
    const b = await connectBot();
    let session: DuplexCallSession | undefined;
    const manager = answerCalls({
      ...b.wiring,
      duplex: { reconnect: false },
      onCall: (call) => {
        session = call.session;
        return holdUntilEnded(call);
      },
    });
    const ended: string[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    manager.on('error', () => {});
    const sim = emu.placeCall({ fromUserId: emu.demo.userIds[0], toBotUserId: b.bot.userId });
    await sim.accepted;
    await until(() => session !== undefined, 'the connected session', WAIT);
    emu.faults.audio({ kind: 'drop', target: { identity: b.bot.userId } });
    expect(await sim.ended).toBe('hangup');
    expect(ended).toEqual(['socket-lost']);
    expect(session!.closed).toBe(true);
    await manager.close();
    await b.close();
  });
});
