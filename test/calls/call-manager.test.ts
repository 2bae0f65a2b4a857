import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  type Call,
  type CallAcceptance,
  CallManager,
  type CallSession,
  type CallSessionEvents,
  type CallsApi,
} from '../../src/calls/call-manager.js';
import { acceptAfter, maxConcurrent, rejectAll } from '../../src/calls/policy.js';
import { HttpError } from '../../src/errors.js';
import { ManualClock } from '../../src/util/clock.js';

class FakeSession extends EventEmitter implements CallSession {
  closed = 0;
  readyNow = true;
  #readyWaiters: Array<() => void> = [];
  ready(): Promise<void> {
    return this.readyNow ? Promise.resolve() : new Promise((r) => this.#readyWaiters.push(r));
  }
  override on<K extends keyof CallSessionEvents>(e: K, l: (...a: CallSessionEvents[K]) => void): this {
    return super.on(e, l as (...a: unknown[]) => void);
  }
  override off<K extends keyof CallSessionEvents>(e: K, l: (...a: CallSessionEvents[K]) => void): this {
    return super.off(e, l as (...a: unknown[]) => void);
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

class FakeCalls implements CallsApi {
  accepted: string[] = [];
  rejected: Array<{ callId: string; reason?: string }> = [];
  acceptError: Error | undefined;
  async accept(body: { callId: string }): Promise<CallAcceptance> {
    if (this.acceptError) throw this.acceptError;
    this.accepted.push(body.callId);
    return { token: 'jwt', roomName: `call_${body.callId}`, callerId: `caller-${body.callId}`, audioBaseUrl: 'ws://x' };
  }
  async reject(body: { callId: string; reason?: string }): Promise<unknown> {
    this.rejected.push(body);
    return { rejected: true };
  }
}

/** Lets every pending promise chain settle (macrotask turns; the clock stays put). */
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
};

function setup(opts: Partial<ConstructorParameters<typeof CallManager<FakeSession>>[0]> = {}) {
  const events = new EventEmitter();
  const calls = new FakeCalls();
  const clock = new ManualClock();
  const sessions: FakeSession[] = [];
  const manager = new CallManager<FakeSession>({
    calls,
    events: events as never,
    clock,
    openSession: async () => {
      const s = new FakeSession();
      sessions.push(s);
      return s;
    },
    ...opts,
  });
  const ring = (callId: string, fromLocale: string | null = 'en') =>
    events.emit('callIncoming', { callId, fromUserId: `user-${callId}`, fromLocale });
  const end = (callId: string) => events.emit('callEnded', { callId });
  return { events, calls, clock, sessions, manager, ring, end };
}

afterEach(() => vi.restoreAllMocks());

describe('CallManager', () => {
  it('accepts, connects and walks the state machine in order', async () => {
    const { manager, ring, calls, sessions } = setup();
    const seen: string[] = [];
    manager.on('call', (c) => c.on('stateChange', (_o, n) => seen.push(n.status)));
    ring('a');
    await flush();
    expect(calls.accepted).toEqual(['a']);
    expect(seen).toEqual(['accepting', 'connecting', 'connected']);
    expect(manager.activeCalls[0]?.session).toBe(sessions[0]);
    await manager.close();
  });

  it('rejects by policy with the reason, and the call ends as rejected', async () => {
    const { manager, ring, calls } = setup({ policy: rejectAll('closed today') });
    const ended: string[] = [];
    manager.on('ended', (_c, r) => ended.push(r));
    ring('a');
    await flush();
    expect(calls.rejected).toEqual([{ callId: 'a', reason: 'closed today' }]);
    expect(ended).toEqual(['rejected']);
    expect(manager.activeCalls).toHaveLength(0);
  });

  it('ten calls at once with a limit of three: three connect, seven are rejected as busy', async () => {
    const { manager, ring, calls } = setup({ policy: maxConcurrent(3, 'busy') });
    for (let i = 0; i < 10; i++) ring(`c${i}`);
    await flush();
    expect(calls.accepted).toHaveLength(3);
    expect(calls.rejected.filter((r) => r.reason === 'busy')).toHaveLength(7);
    expect(manager.busyLines).toBe(3);
    await manager.close();
    expect(calls.rejected.filter((r) => r.reason === 'bot shutting down')).toHaveLength(3);
  });

  it('rings for the policy delay before accepting (driven by the injected clock)', async () => {
    const { manager, ring, calls, clock } = setup({ policy: acceptAfter(1500) });
    ring('a');
    await flush();
    expect(calls.accepted).toEqual([]);
    clock.advance(1499);
    await flush();
    expect(calls.accepted).toEqual([]);
    clock.advance(1);
    await flush();
    expect(calls.accepted).toEqual(['a']);
    await manager.close();
  });

  it('callEnded while ringing for the delay ends the call without accepting', async () => {
    const { manager, ring, end, calls, clock } = setup({ policy: acceptAfter(5000) });
    const reasons: string[] = [];
    manager.on('ended', (_c, r) => reasons.push(r));
    ring('a');
    await flush();
    end('a');
    clock.advance(5000);
    await flush();
    expect(calls.accepted).toEqual([]);
    expect(reasons).toEqual(['remote-ended']);
  });

  it('an Accept failure ends only that call, typed, and the manager keeps serving', async () => {
    const { manager, ring, calls } = setup();
    const errors: Error[] = [];
    manager.on('error', (e) => errors.push(e));
    calls.acceptError = new HttpError({
      status: 400,
      errorCode: 'not_ringing',
      route: 'ICalls/v20260401/Accept',
      method: 'POST',
    });
    let endedCall: Call<FakeSession> | undefined;
    manager.on('ended', (c) => {
      endedCall = c;
    });
    ring('a');
    await flush();
    expect(endedCall?.state).toMatchObject({ status: 'ended', reason: 'accept-failed', detail: 'not_ringing' });
    expect(errors[0]).toBeInstanceOf(HttpError);
    calls.acceptError = undefined;
    ring('b');
    await flush();
    expect(calls.accepted).toEqual(['b']);
    await manager.close();
  });

  it('a session that never becomes ready times out, is closed, and the call is rejected', async () => {
    const { manager, ring, calls, clock, sessions } = setup({ deadlines: { connectMs: 15_000 } });
    manager.on('error', () => {});
    manager.on('call', () => {});
    // Make the next session hang in connecting.
    const orig = FakeSession.prototype.ready;
    vi.spyOn(FakeSession.prototype, 'ready').mockImplementation(function (this: FakeSession) {
      this.readyNow = false;
      return orig.call(this);
    });
    const reasons: string[] = [];
    manager.on('ended', (_c, r) => reasons.push(r));
    ring('a');
    await flush();
    clock.advance(15_000);
    await flush();
    expect(reasons).toEqual(['connect-timeout']);
    expect(sessions[0]?.closed).toBe(1);
    expect(calls.rejected).toEqual([{ callId: 'a', reason: 'connect-timeout' }]);
  });

  it('target left or socket lost hang up and close the session', async () => {
    const { manager, ring, sessions, calls } = setup();
    const reasons: string[] = [];
    manager.on('ended', (_c, r) => reasons.push(r));
    ring('a');
    ring('b');
    await flush();
    sessions[0]!.emit('targetLeft');
    sessions[1]!.emit('closed', new Error('1006'));
    await flush();
    expect(reasons.sort()).toEqual(['socket-lost', 'target-left']);
    expect(sessions[0]!.closed).toBe(1);
    expect(calls.rejected.map((r) => r.callId).sort()).toEqual(['a', 'b']);
  });

  it('onCall runs per connected call and the call is hung up when it resolves; a throwing handler is reported', async () => {
    const handled: string[] = [];
    const { manager, ring, calls } = setup({
      onCall: async (call) => {
        handled.push(call.callId);
        if (call.callId === 'bad') throw new Error('greeting missing');
      },
    });
    const errors: string[] = [];
    manager.on('error', (e) => errors.push(e.message));
    ring('ok');
    ring('bad');
    await flush();
    expect(handled.sort()).toEqual(['bad', 'ok']);
    expect(calls.rejected.map((r) => r.reason).sort()).toEqual(['done', 'done']);
    expect(errors.join()).toMatch(/greeting missing/);
  });

  it('hangUp() is idempotent and close() is idempotent', async () => {
    const { manager, ring, calls } = setup();
    ring('a');
    await flush();
    const call = manager.activeCalls[0]!;
    await Promise.all([call.hangUp('bye'), call.hangUp('bye again')]);
    expect(calls.rejected).toEqual([{ callId: 'a', reason: 'bye' }]);
    expect(call.signal.aborted).toBe(true);
    await manager.close();
    await manager.close();
    ring('late');
    await flush();
    expect(calls.accepted).toEqual(['a']);
  });

  it('waitFor resolves on the status and rejects when the call ends first', async () => {
    const { manager, ring, end, clock } = setup({ policy: acceptAfter(1000) });
    let call: Call<FakeSession> | undefined;
    manager.on('call', (c) => {
      call ??= c;
    });
    ring('a');
    await flush();
    const connected = call!.waitFor('connected', { timeoutMs: 5000 });
    clock.advance(1000);
    await flush();
    await expect(connected).resolves.toMatchObject({ status: 'connected' });
    ring('b');
    await flush();
    const already = call!.waitFor('connected');
    const b = manager.activeCalls.find((c) => c.callId === 'b')!;
    const bConnected = b.waitFor('connected');
    end('b');
    await expect(bConnected).rejects.toMatchObject({ code: 'ARGON_VOICE_CLOSED' });
    await expect(already).resolves.toMatchObject({ status: 'connected' });
    await manager.close();
  });
});
