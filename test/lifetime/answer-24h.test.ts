/**
 * Issue 13 (3): a 24 h simulated run of the answer bot, wired as `argon-voice answer` wires it
 * (a RestClient, an EventStream with the Calls intent, `answerCalls` with the echo flow and the
 * same manager listeners), with a call every minute: 1 440 calls. Nothing may be left behind:
 * gateway sessions, rooms, calls, pending timers on the fake clock, listeners on the event
 * stream, the REST client and the call manager are counted before and after.
 *
 * The real code path runs from the SSE parser to the duplex socket: fakes sit only at the
 * boundaries (ICalls Accept/Reject and the IEvents stream body replace the REST client's HTTP;
 * the duplex socket is an in-memory pair into the emulator's gateway session logic, where a
 * simulated caller speaks). Everything, including the caller, runs on one fake clock.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { answerCalls } from '../../src/calls/answer-bot.js';
import type { Call, CallEndReason } from '../../src/calls/call-manager.js';
import type { DuplexCallSession } from '../../src/calls/duplex-adapter.js';
import type { EchoProgress, EchoResult } from '../../src/calls/echo.js';
import { parsePolicySpec } from '../../src/calls/policy.js';
import { SimulatedParticipant } from '../../src/emulator/audio/participants.js';
import { registeredSecretCount } from '../../src/errors.js';
import { EventStream } from '../../src/events/event-stream.js';
import { intents } from '../../src/events/intents.js';
import { RestClient } from '../../src/rest/client.js';
import type { RawEventStreamResponse } from '../../src/rest/types.js';
import { TOKEN } from '../rest/stub.js';
import { FakeDispatcher } from './helpers/fake-dispatcher.js';
import { numbered, numberedSource } from './helpers/frames.js';
import { MemoryGateway } from './helpers/memory-gateway.js';

vi.mock('ws', async (importOriginal) => {
  const orig = await importOriginal<typeof import('ws')>();
  const { MemoryWebSocket } = await import('./helpers/memory-gateway.js');
  return { ...orig, default: MemoryWebSocket, WebSocket: MemoryWebSocket };
});

const BOT_ID = '0d0d0d0d-1111-4222-8333-444444444444';
const MINUTE = 60_000;
const CALLER_FRAMES = Array.from({ length: 30 }, (_, i) => numbered(i));

type Variant = 'normal' | 'caller-hangs-up' | 'socket-drop';
const variantOf = (i: number): Variant => (i % 10 === 3 ? 'caller-hangs-up' : i % 10 === 7 ? 'socket-drop' : 'normal');

interface PlatformCall {
  callId: string;
  callerId: string;
  room: string;
  variant: Variant;
  state: 'ringing' | 'accepted';
  caller: SimulatedParticipant | undefined;
  timers: Set<unknown>;
}

/**
 * The platform side: ICalls Accept/Reject (call tokens minted on the fake timeline, 1 h TTL), the
 * IEvents SSE stream (ready, then heartbeats every 30 s idle and the call events, rest-sse.md §5),
 * and a simulated caller per accepted call that speaks into the call room.
 */
class FakePlatform {
  readonly calls = new Map<string, PlatformCall>();
  sseConnects = 0;
  accepts = 0;
  rejects: string[] = [];
  #seq = 0;
  #conn: { push(text: string): void; end(): void } | undefined;
  #heartbeat: unknown;

  constructor(readonly gw: MemoryGateway) {}

  #sse(event: string, data: unknown): void {
    const id = event === 'heartbeat' ? '' : `id: ${++this.#seq}\n`;
    this.#conn?.push(`${id}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #armHeartbeat(): void {
    if (this.#heartbeat !== undefined) this.gw.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = this.gw.clock.setTimeout(() => {
      this.#heartbeat = undefined;
      if (!this.#conn) return;
      this.#sse('heartbeat', { timestamp: Math.round(this.gw.wallClockMs() - 1735689600000) });
      this.#armHeartbeat();
    }, 30_000);
  }

  /** `rest.events.stream`: one SSE connection whose body the platform writes. */
  readonly stream = async (): Promise<RawEventStreamResponse> => {
    this.sseConnects++;
    const queue: Uint8Array[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    const enc = new TextEncoder();
    const conn = {
      push: (text: string) => {
        queue.push(enc.encode(text));
        wake?.();
      },
      end: () => {
        ended = true;
        wake?.();
      },
    };
    const body = (async function* () {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = undefined;
      }
    })();
    this.#conn = conn;
    this.#sse('ready', { intents: intents('AllNonPrivileged', 'Calls'), spaces: [] });
    this.#armHeartbeat();
    return {
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream' },
      body,
      close: () => {
        conn.end();
        if (this.#conn === conn) this.#conn = undefined;
      },
    };
  };

  /** Someone calls the bot: `callIncoming`, then 45 s of ringing (rest-sse.md §6.1). */
  placeCall(i: number): PlatformCall {
    const hex = (n: number) => n.toString(16).padStart(12, '0');
    const callId = `c0000000-0000-4000-8000-${hex(i)}`;
    const call: PlatformCall = {
      callId,
      callerId: `a0000000-0000-4000-8000-${hex(i % 7)}`,
      room: `call_${'0'.repeat(20)}${hex(i)}`,
      variant: variantOf(i),
      state: 'ringing',
      caller: undefined,
      timers: new Set(),
    };
    this.calls.set(callId, call);
    this.#later(call, () => this.#end(call), 45_000);
    this.#sse('callIncoming', { callId, fromUserId: call.callerId, fromLocale: 'en' });
    return call;
  }

  #later(call: PlatformCall, fn: () => void, ms: number): void {
    const h = this.gw.clock.setTimeout(() => {
      call.timers.delete(h);
      fn();
    }, ms);
    call.timers.add(h);
  }

  /** Ends a call on the platform: the caller leaves, `callEnded` goes out (also after the bot's own Reject). */
  #end(call: PlatformCall): void {
    if (!this.calls.delete(call.callId)) return;
    for (const h of call.timers) this.gw.clock.clearTimeout(h);
    call.timers.clear();
    call.caller?.leave();
    this.#sse('callEnded', { callId: call.callId });
  }

  /** `rest.calls.accept`. */
  readonly accept = async (body: { callId: string }) => {
    const call = this.calls.get(body.callId);
    if (call?.state !== 'ringing') throw new Error(`call ${body.callId} is not ringing`);
    call.state = 'accepted';
    for (const h of call.timers) this.gw.clock.clearTimeout(h);
    call.timers.clear();
    this.accepts++;
    const token = await this.gw.mint(BOT_ID, call.room, 3600);
    // The caller is in the call room; they speak when the bot records (see speakNow).
    const caller = new SimulatedParticipant({
      room: this.gw.rooms.get(call.room),
      identity: call.callerId,
      name: 'caller',
      clock: this.gw.clock,
      muteSilenceMs: 1000,
      onGone: () => this.gw.rooms.gc(call.room),
    });
    call.caller = caller;
    caller.publishTrack();
    if (call.variant === 'caller-hangs-up') this.#later(call, () => this.#end(call), 700);
    if (call.variant === 'socket-drop')
      this.#later(
        call,
        () => {
          for (const s of this.gw.sessions.values()) if (s.room === call.room && s.identity === BOT_ID) s.drop();
        },
        500,
      );
    return { token, roomName: call.room, callerId: call.callerId, audioBaseUrl: 'ws://memory.invalid:12880' };
  };

  /** The caller speaks 0.6 s (as the `answer` demo's caller does once the echo records). */
  speakNow(callId: string): void {
    this.calls.get(callId)?.caller?.speak(CALLER_FRAMES);
  }

  /** `rest.calls.reject` (the bot's hang-up too). */
  readonly reject = async (body: { callId: string; reason?: string }) => {
    this.rejects.push(body.reason ?? '');
    const call = this.calls.get(body.callId);
    if (call) this.#end(call);
    return { rejected: true };
  };

  close(): void {
    if (this.#heartbeat !== undefined) this.gw.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const c of [...this.calls.values()]) this.#end(c);
    this.#conn?.end();
  }
}

const STREAM_EVENTS = ['callIncoming', 'callEnded', 'ready', 'heartbeat', 'error', 'stateChange', 'reconnect'] as const;
const MANAGER_EVENTS = ['call', 'rejected', 'ended', 'error'] as const;

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('24 h of answer on a fake clock', () => {
  it('1 440 calls, one a minute, leave no session, timer or listener behind', async () => {
    const gw = MemoryGateway.install({ syncTokenCheck: true });
    const platform = new FakePlatform(gw);
    // ICalls go through the real dispatch core (rate limiter, deadlines, aborts) to an in-memory
    // platform; only the SSE body is handed over directly.
    const dispatcher = new FakeDispatcher(async (req) => {
      const body = req.body as { callId: string; reason?: string };
      if (req.method === 'POST' && req.path.endsWith('/ICalls/v20260401/Accept'))
        return { status: 200, body: await platform.accept(body) };
      if (req.method === 'POST' && req.path.endsWith('/ICalls/v20260401/Reject'))
        return { status: 200, body: await platform.reject(body) };
      return { status: 404, body: { error: 'not_found' } };
    });
    const rest = new RestClient({ token: TOKEN, baseUrl: 'http://api.invalid', clock: gw.clock, dispatcher });
    let restListeners = 0;
    const onSuccess = rest.core.onSuccess.bind(rest.core);
    rest.core.onSuccess = (l) => {
      restListeners++;
      const off = onSuccess(l);
      return () => {
        restListeners--;
        off();
      };
    };
    rest.events.stream = platform.stream;
    const stop = new AbortController();
    // Node warns when a long-lived emitter or signal collects more than 10 listeners.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);

    // ── as `answer` wires it (src/cli/commands/answer.ts), on the fake clock ──
    const events = new EventStream({
      rest,
      intents: intents('AllNonPrivileged', 'Calls'),
      signal: stop.signal,
      clock: gw.clock,
    });
    const started = events.start();
    await gw.flush();
    await started;
    const lines: string[] = [];
    const out = (line: string) => {
      if (lines.length < 50) lines.push(line);
    };
    const progress: Record<string, number> = {};
    const echoResults: EchoResult[] = [];
    const manager = answerCalls({
      rest,
      events,
      policy: parsePolicySpec('accept'),
      recordSeconds: 0.5,
      greeting: () => numberedSource(5),
      clock: gw.clock,
      echo: {
        onProgress: (p: EchoProgress, call: Call<DuplexCallSession>) => {
          progress[p.phase] = (progress[p.phase] ?? 0) + 1;
          if (p.phase === 'done') echoResults.push(p.result);
          if (p.phase === 'recording') platform.speakNow(call.callId);
          out(`call ${call.callId}: ${p.phase}`);
        },
      },
    });
    const endReasons: Record<string, number> = {};
    const errors: string[] = [];
    manager.on('call', (call) => {
      out(`call ${call.callId} from ${call.callerId}: ringing`);
      call.on('connected', () => out(`call ${call.callId}: connected`));
    });
    manager.on('rejected', (call, reason) => out(`call ${call.callId}: rejected (${reason})`));
    manager.on('ended', (_call, reason: CallEndReason) => {
      endReasons[reason] = (endReasons[reason] ?? 0) + 1;
    });
    manager.on('error', (err) => {
      if (errors.length < 20) errors.push(err.message);
    });
    cleanup = async () => {
      process.off('warning', onWarning);
      stop.abort();
      const closing = Promise.all([manager.close(), events.close()]);
      await gw.runFor(5000);
      await closing;
      platform.close();
      await rest.close();
      gw.close();
    };

    const snapshot = () => ({
      gatewaySessions: gw.sessions.size,
      rooms: gw.rooms.all().length,
      activeCalls: manager.activeCalls.length,
      platformCalls: platform.calls.size,
      pendingTimers: gw.clock.pendingTimers,
      streamListeners: STREAM_EVENTS.map((e) => events.listenerCount(e)),
      managerListeners: MANAGER_EVENTS.map((e) => manager.listenerCount(e)),
      restListeners,
      sseConnects: platform.sseConnects,
      // Call tokens registered for redaction are forgotten when their call ends.
      secrets: registeredSecretCount(),
    });
    await gw.runFor(MINUTE);
    const before = snapshot();
    expect(before).toMatchObject({ gatewaySessions: 0, rooms: 0, activeCalls: 0, sseConnects: 1 });

    // ── 24 h: a call at the start of every minute ──
    const CALLS = 24 * 60;
    let maxLive = 0;
    for (let i = 0; i < CALLS; i++) {
      platform.placeCall(i);
      await gw.runFor(MINUTE, () => {
        maxLive = Math.max(maxLive, gw.sessions.size);
      });
    }
    await gw.runFor(5 * MINUTE);
    const after = snapshot();

    // Every call was answered and ended, the way its caller behaved.
    expect(errors).toEqual([]);
    expect(platform.accepts).toBe(CALLS);
    expect(dispatcher.requests).toBe(2 * CALLS);
    const hangUps = Array.from({ length: CALLS }, (_, i) => variantOf(i)).filter((v) => v === 'caller-hangs-up').length;
    // A caller's hang-up reaches the bot as `target_left` on the socket or `callEnded` on the
    // stream, whichever comes first.
    const { 'hung-up': hungUp, 'remote-ended': remote = 0, 'target-left': left = 0, ...other } = endReasons;
    expect(other).toEqual({});
    expect(hungUp).toBe(CALLS - hangUps);
    expect(remote + left).toBe(hangUps);
    expect(progress.done).toBe(CALLS - hangUps);
    // The echo heard the caller and played it back, also across a dropped socket.
    const odd = echoResults.filter(
      (r) => r.greetingFrames !== 5 || r.recordedFrames < 20 || r.playedFrames !== r.recordedFrames,
    );
    expect(odd).toEqual([]);
    expect(maxLive).toBe(1);
    // Nothing left behind: the same counts as before the first call.
    expect(after).toEqual(before);
    expect(warnings.filter((w) => /MaxListeners|memory leak/i.test(w))).toEqual([]);
    expect(lines.length).toBeGreaterThan(0);
  }, 120_000);
});
