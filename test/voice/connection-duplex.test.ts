import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/until.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/index.js';
import { DuplexSession } from '../../src/voice/duplex.js';

const audio = (i: number) => Uint8Array.from([0xf8, 0x01, (i >> 8) & 0xff, i & 0xff, 0x55]);
const seqOf = (d: Uint8Array) => (d[0] === 0xf8 && d[1] === 0x01 && d.length === 5 ? (d[2]! << 8) | d[3]! : -1);

/** Polls every 10 ms (cheap on the pacer's timing), for up to 10 s. */
const POLL = { intervalMs: 10, timeoutMs: 10_000 };

describe('DuplexSession against the emulator (a call)', () => {
  let emu: Emulator;
  let rest: RestClient;
  beforeEach(async () => {
    emu = await Emulator.start({ port: 0, audioTimings: { joinDelayMs: 50 } });
    rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
  });
  afterEach(async () => {
    await rest.close();
    await emu.close();
  });

  it('publishes paced frames to the caller and emits the caller audio as frame events', async () => {
    const [alice] = emu.demo.userIds;
    const call = emu.placeCall({ fromUserId: alice });
    let accepts = 0;
    const session = new DuplexSession({
      grantProvider: async ({ signal }) => {
        accepts++;
        return rest.calls.accept({ callId: call.callId }, { signal });
      },
      prerollMs: 0,
      pacer: { latePolicy: 'burst', maxBurst: 1000 },
    });
    const received: number[] = [];
    session.on('frame', (_d, arrivalMs) => received.push(arrivalMs));
    const subscribed: string[] = [];
    session.on('subscribed', (s) => subscribed.push(s.participantIdentity));
    await session.ready({ timeoutMs: 5000 });
    expect(session.callerId).toBe(alice);
    const hear = call.caller.listen({ identity: emu.bot.userId });
    const speech = call.caller.speak({ sine: 300, durationMs: 400 });
    for (let i = 0; i < 20; i++) await session.sendFrame(audio(i), { timeoutMs: 5000 });
    await until(() => hear.frames.filter((f) => seqOf(f.data) >= 0).length === 20, 'caller heard the bot', POLL);
    expect(hear.frames.map((f) => seqOf(f.data)).filter((s) => s >= 0)).toEqual([...Array(20).keys()]);
    await speech.done;
    await until(() => received.length >= 15, 'bot received the caller', POLL);
    for (let i = 1; i < received.length; i++) expect(received[i]!).toBeGreaterThanOrEqual(received[i - 1]!);
    expect(subscribed).toContain(alice);
    expect(accepts).toBe(1);
    const sess = emu.gateway.sessions().find((s) => s.endpoint === 'duplex')!;
    expect(sess.params.targetIdentity).toBe(alice);
    expect(sess.params.frameDurationMs).toBe(20);
    await session.close();
    await session.close();
    expect(session.state.status).toBe('closed');
  });
});
