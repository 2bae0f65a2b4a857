import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/index.js';
import { type Clock, ManualClock, systemClock } from '../../src/util/clock.js';
import { buildAudioUrl } from '../../src/voice/gateway-url.js';
import { VoiceConnection, type VoiceConnectionState } from '../../src/voice/connection.js';

/** A valid 20 ms mono Opus packet (CELT FB, code 0) carrying a sequence number. */
const audio = (i: number) => Uint8Array.from([0xf8, 0x01, (i >> 8) & 0xff, i & 0xff, 0x55]);
const seqOf = (d: Uint8Array) => (d[0] === 0xf8 && d[1] === 0x01 && d.length === 5 ? (d[2]! << 8) | d[3]! : -1);
const isSilence = (d: Uint8Array) => d.length === 3 && d[0] === 0xf8 && d[1] === 0xff && d[2] === 0xfe;

/** Polls every 10 ms (cheap on the pacer's timing), for up to 10 s. */
const POLL = { intervalMs: 10, timeoutMs: 10_000 };

describe('gateway URL', () => {
  it('appends the path to the base and encodes the session format (docs/platform.md §A1.2)', () => {
    const u = new URL(
      buildAudioUrl('ws://h:12880', 'connect', {
        stereo: true,
        frameDurationMs: 40,
        trackName: 'music',
        metadata: 'x y',
      }),
    );
    expect(u.pathname).toBe('/audio/connect');
    expect(u.searchParams.get('stereo')).toBe('true');
    expect(u.searchParams.get('frame_duration_ms')).toBe('40');
    expect(u.searchParams.get('track_name')).toBe('music');
    expect(u.searchParams.get('metadata')).toBe('x y');
    expect(u.searchParams.has('token')).toBe(false);
    const d = new URL(buildAudioUrl('http://h:1/base/', 'duplex', { targetIdentity: 'u1', token: 't' }));
    expect(d.protocol).toBe('ws:');
    expect(d.pathname).toBe('/base/audio/duplex');
    expect(d.searchParams.get('target_track_source')).toBe('microphone');
    expect(() => buildAudioUrl('ws://h', 'connect', { frameDurationMs: 2.5 })).toThrow(/integer/);
    expect(() => buildAudioUrl('ws://h', 'subscribe', {})).toThrow(/targetIdentity/);
  });
});

describe('VoiceConnection against the emulator', () => {
  let emu: Emulator;
  let rest: RestClient;
  const conns: VoiceConnection[] = [];
  beforeEach(async () => {
    emu = await Emulator.start({ port: 0, audioTimings: { joinDelayMs: 60 } });
    rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
  });
  afterEach(async () => {
    for (const c of conns.splice(0)) await c.close();
    await rest.close();
    await emu.close();
  });
  const open = (extra: Partial<ConstructorParameters<typeof VoiceConnection>[0]> = {}) => {
    const c = new VoiceConnection({
      rest,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      pingIntervalMs: 0,
      ...extra,
    });
    conns.push(c);
    return c;
  };
  const published = () => emu.gateway.published({ identity: emu.bot.userId });
  /**
   * A ready, silent connection whose token refresh runs on `clock` (the pacer keeps the real
   * one) and reads `wallClockMs`; `reasons` collects why each token was fetched.
   */
  const openForTokens = async (clock: Clock, wallClockMs: () => number) => {
    const c = open({ clock, wallClockMs, keepalive: false, prerollMs: 0, pacer: { clock: systemClock } });
    const reasons: string[] = [];
    c.on('token', (t) => reasons.push(t.reason));
    await c.ready({ timeoutMs: 5000 });
    return { c, reasons };
  };

  it('sends nothing before ready, then a silence pre-roll, then every frame in order', async () => {
    // Its own emulator on a manual clock: the join delay (so `ready`) passes only when the test
    // advances it, after it checked that nothing was sent while waiting for ready.
    const clock = new ManualClock(0);
    const held = await Emulator.start({ port: 0, clock, audioTimings: { joinDelayMs: 60 } });
    const heldRest = new RestClient({ token: held.bot.token, baseUrl: held.apiUrl });
    try {
      // burst with a 20 s cap: a CPU-starved test machine must not turn lateness into dropped frames
      // (the default cap, 10 frames, skips what is more than 200 ms late).
      const c = new VoiceConnection({
        rest: heldRest,
        spaceId: held.demo.spaceId,
        channelId: held.demo.voiceChannelId,
        pingIntervalMs: 0,
        prerollMs: 60,
        keepalive: false,
        pacer: { latePolicy: 'burst', maxBurst: 1000 },
      });
      conns.push(c);
      const heldPublished = () => held.gateway.published({ identity: held.bot.userId });
      const states: string[] = [];
      c.on('stateChange', (_o, n) => states.push(n.status));
      // Queue frames before the session exists.
      const N = 40;
      const producer = (async () => {
        for (let i = 0; i < N; i++) await c.sendFrame(audio(i), { timeoutMs: 10_000 });
      })();
      await c.waitFor('waiting-ready', { timeoutMs: 5000 });
      await until(() => c.queuedFrames === c.pacer.queueFrames, 'a full queue', POLL);
      const early = await c.pacer.refreshMetrics({ timeoutMs: 10_000 });
      expect(early.framesSent).toBe(0);
      expect(c.queuedFrames).toBe(c.pacer.queueFrames);
      expect(held.gateway.sessions()).toMatchObject([{ state: 'joining', framesIn: 0 }]);
      clock.advance(60);
      await c.ready({ timeoutMs: 5000 });
      await producer;
      await until(
        () => heldPublished().filter((f) => seqOf(f.data) >= 0).length === N,
        `all frames published: ${heldPublished()
          .map((f) => seqOf(f.data))
          .join(',')} m=${JSON.stringify(c.pacer.metrics)}`,
        POLL,
      );
      const frames = heldPublished();
      expect(frames.slice(0, 3).every((f) => isSilence(f.data))).toBe(true);
      expect(frames.slice(3).map((f) => seqOf(f.data))).toEqual([...Array(N).keys()]);
      expect(states.slice(0, 4)).toEqual(['requesting-token', 'connecting', 'waiting-ready', 'ready']);
      const session = held.gateway.sessions().find((s) => s.identity === held.bot.userId)!;
      expect(session.params.frameDurationMs).toBe(20);
      expect(session.params.stereo).toBe(false);
      await c.close();
      expect(c.state.status).toBe('closed');
      expect(c.pacer.closed).toBe(true);
    } finally {
      await heldRest.close();
      await held.close();
    }
  });

  it('never sends an invalid frame, even from a fuzzed source, and the session survives', async () => {
    const c = open({ prerollMs: 0, pacer: { latePolicy: 'burst', maxBurst: 1000 } });
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    let invalid = 0;
    let valid = 0;
    for (let i = 0; i < 120; i++) {
      let f: Uint8Array;
      const r = rnd();
      if (r < 0.4) f = audio(i);
      else if (r < 0.5) f = new Uint8Array(0);
      else if (r < 0.6) f = Uint8Array.from([0xf8]);
      else if (r < 0.7) f = new Uint8Array(4000).fill(0xf8);
      else if (r < 0.8)
        f = Uint8Array.from([0xfb, 0x01, 0x02]); // code 3 without a valid count
      else f = Uint8Array.from({ length: 1 + Math.floor(rnd() * 60) }, () => Math.floor(rnd() * 256));
      if (isGatewaySafe(f, 20)) valid++;
      else invalid++;
      await c.sendFrame(f, { timeoutMs: 10_000 });
    }
    await until(() => published().length >= 120, 'fuzzed frames published', POLL);
    expect(published().every((f) => isGatewaySafe(f.data, 20))).toBe(true);
    expect(c.stats.invalidFrames).toBe(invalid);
    expect(invalid).toBeGreaterThan(30);
    expect(valid).toBeGreaterThan(30);
    expect(c.state.status).toBe('ready');
  });

  it('reconnects with a new token after a drop without close frame and resumes where it was', async () => {
    const c = open({
      prerollMs: 0,
      keepalive: false,
      reconnect: { baseMs: 20, capMs: 50 },
      pacer: { latePolicy: 'burst', maxBurst: 1000 },
    });
    const tokens: string[] = [];
    c.on('token', (t) => tokens.push(t.reason));
    await c.ready({ timeoutMs: 5000 });
    const firstSession = (c.state as Extract<VoiceConnectionState, { status: 'ready' }>).sessionId;
    const seqs = () =>
      published()
        .map((f) => seqOf(f.data))
        .filter((s) => s >= 0);
    const N = 60;
    // The drop comes once frames 0..20 were accepted and nothing else is queued, and the rest is
    // queued only once the connection noticed it (its pacer is stopped): no frame can be in flight
    // at the drop, so the outcome is exact instead of "at most a few lost".
    for (let i = 0; i <= 20; i++) await c.sendFrame(audio(i), { timeoutMs: 15_000 });
    await until(() => seqs().length === 21, 'frames 0..20 accepted', POLL);
    emu.faults.audio({ kind: 'drop-no-close', target: { identity: emu.bot.userId } });
    await c.waitFor('reconnecting', { timeoutMs: 10_000 });
    for (let i = 21; i < N; i++) await c.sendFrame(audio(i), { timeoutMs: 15_000 });
    await until(() => seqs().length === N, 'frames after reconnect', POLL);
    expect(seqs()).toEqual([...Array(N).keys()]);
    const sessions = published()
      .filter((f) => seqOf(f.data) >= 0)
      .map((f) => f.sessionId);
    expect(new Set(sessions.slice(0, 21)).size).toBe(1);
    expect(new Set(sessions.slice(21)).size).toBe(1);
    expect(sessions[21]).not.toBe(sessions[0]);
    await c.waitFor('ready', { timeoutMs: 10_000 });
    expect((c.state as { sessionId: string }).sessionId).not.toBe(firstSession);
    expect(tokens).toEqual(['initial', 'reconnect']);
  });

  it('refreshes the token before it expires', async () => {
    // The refresh timer runs on an injected clock (the pacer keeps the real one): the test moves
    // time to just before and just after "10 min before expiry" instead of waiting for it. The wall
    // clock is read in whole seconds, like the token's `exp`, so the lifetime is a whole number of
    // seconds: 2 h, minus one per second boundary the token request crossed.
    const clock = new ManualClock(0);
    const { c, reasons } = await openForTokens(clock, () => Math.floor(Date.now() / 1000) * 1000);
    expect(reasons).toEqual(['initial']);
    // Default lead: 10 min. A token request slower than 60 s is not a case this test covers.
    clock.advance(2 * 3600_000 - 10 * 60_000 - 60_000);
    expect(reasons).toEqual(['initial']);
    clock.advance(60_000);
    await until(() => reasons.length === 2, 'token refresh', POLL);
    expect(reasons).toEqual(['initial', 'refresh']);
    expect(c.state.status).toBe('ready');
    // The new token's deadline is on the same session clock: its refresh is 2 h later again.
    clock.advance(2 * 3600_000 - 10 * 60_000 - 60_000);
    expect(reasons).toHaveLength(2);
  });

  it('waits out a token that lives longer than a timer can hold (~24.8 days) in steps, without refreshing', async () => {
    // A token that expires in 100 days (the connection's wall clock is set 100 days back). Node
    // fires a timer longer than 2^31-1 ms after 1 ms: asked for such a delay, the connection would
    // refresh in a loop. Every delay it asks of its clock is recorded.
    const delays: number[] = [];
    const clock: Clock = {
      now: () => systemClock.now(),
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return systemClock.setTimeout(fn, ms);
      },
      clearTimeout: (h) => systemClock.clearTimeout(h),
    };
    const { reasons } = await openForTokens(clock, () => Date.now() - 100 * 86_400_000);
    expect(Math.max(...delays)).toBe(2 ** 31 - 1);
    expect(reasons).toEqual(['initial']);
  });

  it('keeps an idle session alive with silence frames at the frame cadence', async () => {
    const c = open({ prerollMs: 0 });
    await c.ready({ timeoutMs: 5000 });
    await until(() => published().length >= 10, 'keepalive frames', POLL);
    expect(published().every((f) => isSilence(f.data))).toBe(true);
    expect(c.metrics.mode === 'worker' || c.metrics.mode === 'main').toBe(true);
  });

  it('closes for good on a refused upgrade (403) and retries a 503', async () => {
    emu.faults.audio({ kind: 'refuse-upgrade', status: 503, times: 1 });
    const ok = open({ reconnect: { baseMs: 10, capMs: 20 } });
    const seen: string[] = [];
    ok.on('stateChange', (_o, n) => seen.push(n.status));
    await ok.ready({ timeoutMs: 5000 });
    expect(seen).toContain('reconnecting');
    await ok.close();
    emu.faults.audio({ kind: 'refuse-upgrade', status: 403, body: 'token verification failed', times: 5 });
    const bad = new VoiceConnection({
      rest,
      spaceId: emu.demo.spaceId,
      channelId: emu.demo.voiceChannelId,
      pingIntervalMs: 0,
    });
    conns.push(bad);
    await expect(bad.ready({ timeoutMs: 5000 })).rejects.toMatchObject({ code: 'ARGON_VOICE_CLOSED' });
    const st = bad.state as Extract<VoiceConnectionState, { status: 'closed' }>;
    expect(st.reason).toMatchObject({ code: 'ARGON_VOICE_TRANSPORT', status: 403 });
    expect(String(st.reason?.message)).not.toMatch(/eyJ/);
  });

  it('allows one connection per channel in a process', async () => {
    const c = open();
    expect(() => open()).toThrow(/already open/);
    expect(VoiceConnection.get(emu.demo.spaceId, emu.demo.voiceChannelId)).toBe(c);
    await c.close();
    expect(VoiceConnection.get(emu.demo.spaceId, emu.demo.voiceChannelId)).toBeUndefined();
  });

  it('keepalive silence outlives the media watchdog; without it the gateway drops the session', async () => {
    // The gateway's watchdog windows end only when the test advances its manual clock, each after
    // keepalive silence reached the gateway in that window: no real timer races the silence frames.
    const clock = new ManualClock(0);
    const strict = await Emulator.start({ port: 0, clock, audioTimings: { joinDelayMs: 20, mediaWatchdogMs: 300 } });
    const strictRest = new RestClient({ token: strict.bot.token, baseUrl: strict.apiUrl });
    const session = () => strict.gateway.sessions()[0];
    /** Lets the (manual-clock) join delay of the next session pass. */
    const join = async () => {
      await until(() => session()?.state === 'joining', 'a joining session', POLL);
      clock.advance(20);
    };
    try {
      const where = { spaceId: strict.demo.spaceId, channelId: strict.demo.voiceChannelId };
      const alive = new VoiceConnection({ rest: strictRest, ...where, pingIntervalMs: 0, prerollMs: 0 });
      const states: string[] = [];
      alive.on('stateChange', (_o, n) => states.push(n.status));
      await join();
      await alive.ready({ timeoutMs: 5000 });
      const first = session()!.sessionId;
      for (let w = 0; w < 3; w++) {
        const bytes = session()!.bytesIn;
        await until(() => session()!.bytesIn > bytes, 'keepalive silence in this window', POLL);
        clock.advance(300);
      }
      expect(session()).toMatchObject({ sessionId: first, state: 'ready' });
      expect(states).not.toContain('reconnecting');
      await alive.close();
      const quiet = new VoiceConnection({
        rest: strictRest,
        ...where,
        pingIntervalMs: 0,
        keepalive: false,
        reconnect: false,
      });
      await join();
      await quiet.ready({ timeoutMs: 5000 });
      expect(session()!.bytesIn).toBe(0);
      clock.advance(300);
      await expect(quiet.waitFor('closed', { timeoutMs: 5000 })).resolves.toMatchObject({ status: 'closed' });
      expect((quiet.state as { reason?: Error }).reason).toMatchObject({ code: 'ARGON_VOICE_TRANSPORT' });
    } finally {
      await strictRest.close();
      await strict.close();
    }
  });

  it('leaves no open handles after repeated connect/close cycles', async () => {
    const count = () =>
      process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'MessagePort').length;
    const before = count();
    for (let i = 0; i < 4; i++) {
      const c = new VoiceConnection({
        rest,
        spaceId: emu.demo.spaceId,
        channelId: emu.demo.voiceChannelId,
        pingIntervalMs: 0,
      });
      await c.ready({ timeoutMs: 5000 });
      await c.sendFrame(audio(i));
      await c.close();
      expect(c.state.status).toBe('closed');
    }
    await until(() => count() <= before, `handles released (${count()} > ${before})`, { ...POLL, timeoutMs: 5000 });
  });

  it('main-thread pacer mode publishes the same frames in the same order', async () => {
    const c = open({ prerollMs: 0, keepalive: false, pacer: { mode: 'main', latePolicy: 'burst', maxBurst: 1000 } });
    expect(c.pacer.mode).toBe('main');
    await c.ready({ timeoutMs: 5000 });
    for (let i = 0; i < 15; i++) await c.sendFrame(audio(i), { timeoutMs: 5000 });
    await until(() => published().filter((f) => seqOf(f.data) >= 0).length === 15, 'main-mode frames', POLL);
    expect(
      published()
        .map((f) => seqOf(f.data))
        .join(','),
    ).toBe([...Array(15).keys()].join(','));
  });

  it('detects a dead socket (no pong) and reconnects', async () => {
    const c = open({ pingIntervalMs: 100, pongTimeoutMs: 200, reconnect: { baseMs: 10, capMs: 20 } });
    await c.ready({ timeoutMs: 5000 });
    const first = (c.state as { sessionId: string }).sessionId;
    const reasons: string[] = [];
    c.on('stateChange', (_o, n) => {
      if (n.status === 'reconnecting') reasons.push(n.reason.message);
    });
    // The stall outlasts the test (10 min vs the 10 s bound below): only the client's pong
    // deadline can end the session, however late its timers fire.
    emu.faults.audio({ kind: 'stall', target: { identity: emu.bot.userId }, ms: 600_000 });
    await until(
      () => c.state.status === 'ready' && (c.state as { sessionId: string }).sessionId !== first,
      'reconnected after a dead socket',
      POLL,
    );
    expect(reasons.some((r) => /pong timeout/.test(r))).toBe(true);
  });
});
