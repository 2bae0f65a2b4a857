/**
 * The echo flow against the emulator (docs/platform.md §A7): a simulated user calls, hears the
 * greeting, speaks, and hears their own Opus packets played back byte for byte; the bot hangs up.
 * Plus the pieces it is built from: recordings (DTX dropped, Ogg, bounds), frame sources.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptAll,
  answerCalls,
  CallRecording,
  type DuplexCallSession,
  type EchoProgress,
  echoHandler,
  opusFramesSource,
  toneSource,
} from '../../src/calls/index.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { silencePacket } from '../../src/codec/silence.js';
import { DependencyError } from '../../src/errors.js';
import type { TtsEngine } from '../../src/tts/types.js';
import { Emulator } from '../../src/emulator/index.js';
import { EventStream } from '../../src/events/event-stream.js';
import { Intents } from '../../src/events/intents.js';
import { RestClient } from '../../src/rest/client.js';
import { ManualClock } from '../../src/util/clock.js';
import { until } from '../helpers/until.js';

let emu: Emulator;

/** Bound of every wait on real sockets: generous, only there to turn a hang into a message. */
const WAIT = { timeoutMs: 20_000, intervalMs: 5 };
let dir: string;

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audioPort: 0, audioTimings: { joinDelayMs: 0 }, timings: { sseBatchMs: 20 } });
  dir = mkdtempSync(join(tmpdir(), 'argon-echo-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(dir, { recursive: true, force: true });
});

async function connectBot() {
  const bot = emu.createBot({ verified: true });
  const rest = new RestClient({ token: bot.token, baseUrl: emu.apiUrl });
  const events = new EventStream({ rest, intents: Intents.All });
  await events.start();
  return {
    bot,
    rest,
    events,
    async close() {
      await events.close();
      await rest.close();
    },
  };
}

describe('echo flow over a call (docs/platform.md §A7)', () => {
  it('greets, records the caller, plays the recording back byte for byte, then hangs up', async () => {
    const b = await connectBot();
    // The bot's side (pacer, recording window, playout waits) on one manual clock; the emulator
    // and the caller's speech run in real time. The clock moves one frame at a time, and only once
    // every frame the pacer wrote reached the caller; it stands still while the caller speaks and
    // moves the 2 s recording window on only once the bot received every spoken frame. During the
    // playback it moves only with a frame queued, so no silence filler can slip between two
    // played-back frames. Nothing below depends on how busy the machine is.
    const clock = new ManualClock(0);
    const phases: string[] = [];
    const results: unknown[] = [];
    let session: DuplexCallSession | undefined;
    let playbackStart = 0;
    const manager = answerCalls({
      rest: b.rest,
      events: b.events,
      policy: acceptAll(),
      clock,
      recordSeconds: 2,
      echo: {
        tts: false,
        onProgress: (p: EchoProgress, call) => {
          phases.push(p.phase);
          session ??= call.session;
          if (p.phase === 'playback') playbackStart = call.session!.duplex.stats.framesAccepted;
          if (p.phase === 'done') results.push(p.result);
        },
      },
    });
    const alice = emu.demo.userIds[0];
    const call = emu.placeCall({ fromUserId: alice, toBotUserId: b.bot.userId });
    await call.accepted;
    const heard = call.caller.listen({ identity: b.bot.userId });
    const sent = () => session?.duplex.pacer.metrics.framesSent ?? 0;
    /** One frame of time; returns once every frame sent so far reached the caller. */
    const step = async () => {
      if (phases.at(-1) === 'playback') {
        await until(
          () => session!.duplex.queuedFrames > 0 || session!.duplex.stats.framesAccepted - playbackStart >= 25,
          'the next played-back frame queued',
          WAIT,
        );
      }
      clock.advance(20);
      await until(() => heard.frames.length === sent(), `frame ${sent()} heard by the caller`, WAIT);
    };
    await until(() => phases.length > 0, 'the greeting started', WAIT);
    // Greeting and beep, up to the start of the recording.
    for (let i = 0; i < 1000 && !phases.includes('recording'); i++) await step();
    expect(phases).toEqual(['greeting', 'recording']);
    expect(session!.duplex.pacer.runtime.mode).toBe('main');
    // Speak while the bot records: what is said then is what comes back.
    const spoken = Array.from({ length: 25 }, (_, i) => frame(i));
    const withDtx = [...spoken.slice(0, 12), new Uint8Array([0xf8]), ...spoken.slice(12)];
    await call.caller.speak(withDtx).done;
    await until(() => session!.framesReceived === withDtx.length, 'every spoken frame received by the bot', WAIT);
    // The 2 s recording window ends and the recording plays back; then the bot hangs up (the
    // clock stands still from there: nothing is left to pace).
    for (let i = 0; i < 1000 && !phases.includes('done'); i++) await step();
    const reason = await call.ended;
    expect(reason).toBe('hangup');
    expect(phases).toEqual(['greeting', 'recording', 'playback', 'done']);
    // The chime is 620 ms = 31 frames, the beep 200 ms = 10 frames.
    expect(results).toEqual([
      { greeting: 'tone', greetingFrames: 31, recordedFrames: 25, droppedDtx: 1, playedFrames: 25 },
    ]);
    const frames = heard.frames.map((f) => f.data);
    expect(frames.every((f) => isGatewaySafe(f, 20))).toBe(true);
    // The caller's own packets come back, in order, untouched (passthrough), after the greeting.
    const hex = frames.map((f) => Buffer.from(f).toString('hex'));
    const spokenHex = spoken.map((f) => Buffer.from(f).toString('hex'));
    const start = hex.indexOf(spokenHex[0]!);
    expect(start).toBeGreaterThan(31 + 10);
    expect(hex.slice(start, start + spokenHex.length)).toEqual(spokenHex);
    await manager.close();
    await b.close();
  });
});

describe('echoHandler on a scripted session', () => {
  /** A call whose session counts what it is asked to play and "records" two frames. */
  function fakeCall(locale: string | null) {
    const played: Array<{ title: string; frames: number }> = [];
    const session = {
      frameDurationMs: 20,
      channels: 1 as const,
      async play(input: unknown, opts: { title?: string } = {}) {
        let frames = 0;
        if (input && typeof input === 'object' && Symbol.asyncIterator in input) {
          for await (const _ of input as AsyncIterable<unknown>) frames++;
        }
        played.push({ title: opts.title ?? '?', frames });
        return { status: 'finished' as const, frames };
      },
      record() {
        const rec = new CallRecording({}, new ManualClock(), () => {});
        rec.push(frame(1));
        rec.push(new Uint8Array([0xf8]));
        rec.push(frame(2));
        void rec.stop();
        return rec;
      },
    };
    const call = { callId: `c-${locale}`, locale, session, signal: new AbortController().signal };
    return { call: call as unknown as Parameters<ReturnType<typeof echoHandler>>[0], played };
  }

  it("speaks the greeting with the TTS engine, in the caller's language, synthesized once per voice", async () => {
    const asked: string[] = [];
    const tts: TtsEngine = {
      name: 'fake',
      async synthesize(_text, o = {}) {
        asked.push(o.voice ?? '');
        // 0.5 s of a 22.05 kHz tone, like eSpeak NG's output format.
        const pcm = Int16Array.from({ length: 11_025 }, (_, i) => Math.round(8000 * Math.sin(i / 5)));
        return { pcm, sampleRate: 22_050, channels: 1 };
      },
    };
    const handler = echoHandler({ tts, recordSeconds: 1, preload: false });
    const a = fakeCall('ru-RU');
    const b = fakeCall('ru');
    const ra = await handler(a.call);
    const rb = await handler(b.call);
    expect(asked).toEqual(['ru']);
    expect(ra.greeting).toBe('tts');
    // 0.5 s at 22.05 kHz resampled to 48 kHz: 25 frames of 20 ms (the last one padded).
    expect(ra.greetingFrames).toBeGreaterThanOrEqual(25);
    expect(ra.greetingFrames).toBe(rb.greetingFrames);
    expect(a.played.map((p) => p.title)).toEqual(['greeting', 'beep', 'playback']);
    expect(a.played[1]!.frames).toBe(10);
    expect(ra).toMatchObject({ recordedFrames: 2, droppedDtx: 1, playedFrames: 2 });
  });

  it('falls back to the chime when the engine is missing, and plays a given greeting as is', async () => {
    const missing: TtsEngine = {
      name: 'missing',
      synthesize: () => Promise.reject(new DependencyError('no engine')),
    };
    const r = await echoHandler({ tts: missing, beep: false, preload: false })(fakeCall('en').call);
    expect([r.greeting, r.greetingFrames]).toEqual(['tone', 31]);
    const given = fakeCall('en');
    const g = await echoHandler({ greeting: () => toneSource([[300, 100]]), beep: false })(given.call);
    expect([g.greeting, g.greetingFrames]).toEqual(['file', 5]);
    expect(given.played.map((p) => p.title)).toEqual(['greeting', 'playback']);
    expect(() => echoHandler({ recordSeconds: 0 })).toThrow(/recordSeconds/);
  });
});

describe('CallRecording (driven by a ManualClock)', () => {
  const mk = (opts: ConstructorParameters<typeof CallRecording>[0], clock = new ManualClock()) => {
    const detached: CallRecording[] = [];
    const rec = new CallRecording(opts, clock, (r) => detached.push(r));
    return { rec, clock, detached };
  };

  it('ends after durationMs on its clock, drops DTX frames, copies what it keeps', async () => {
    const { rec, clock, detached } = mk({ durationMs: 1000 });
    const f = frame(1);
    rec.push(f);
    rec.push(new Uint8Array([0xf8, 0x01]));
    rec.push(frame(2));
    f[5] = 0; // the recording holds a copy
    clock.advance(999);
    expect(rec.recording).toBe(true);
    clock.advance(1);
    expect(rec.recording).toBe(false);
    rec.push(frame(3)); // after the end: ignored
    const r = await rec.done;
    expect(r.reason).toBe('duration');
    expect(r.frames.map((x) => x[5])).toEqual([frame(1)[5], frame(2)[5]]);
    expect(r.droppedDtx).toBe(1);
    expect(r.audioMs).toBe(40);
    expect(detached).toEqual([rec]);
  });

  it('keeps DTX with keepDtx, bounds the frames with maxFrames, stops on stop() (idempotent) and on abort', async () => {
    const a = mk({ keepDtx: true, maxFrames: 2 }).rec;
    for (const x of [frame(1), new Uint8Array([0xf8]), frame(2), frame(3)]) a.push(x);
    const ra = await a.stop();
    expect(await a.stop()).toBe(ra);
    expect([ra.reason, ra.frames.length, ra.droppedDtx, ra.droppedOverLimit]).toEqual(['stopped', 2, 0, 2]);
    const ctl = new AbortController();
    const b = mk({ signal: ctl.signal }).rec;
    b.push(frame(1));
    ctl.abort();
    expect((await b.done).reason).toBe('aborted');
    expect(() => mk({ durationMs: -1 })).toThrow(/durationMs/);
    expect(() => mk({ maxFrames: 0 })).toThrow(/maxFrames/);
  });

  it('writes an Ogg Opus file whose packets are the recorded frames', async () => {
    const file = join(dir, 'caller.ogg');
    const { rec } = mk({ file });
    const frames = Array.from({ length: 60 }, (_, i) => frame(i, 30 + (i % 50)));
    for (const f of frames) rec.push(f);
    const r = await rec.stop();
    expect(r.file).toBe(file);
    const demux = new OggOpusDemuxer();
    const events = [...demux.write(readFileSync(file)), ...demux.end()];
    const packets = events.flatMap((e) => (e.type === 'packet' ? [Buffer.from(e.packet).toString('hex')] : []));
    expect(packets).toEqual(frames.map((f) => Buffer.from(f).toString('hex')));
    expect(events.find((e) => e.type === 'head')).toBeDefined();
  });

  it('a file that cannot be written rejects done with an IoError', async () => {
    const { rec } = mk({ file: join(dir, 'no-such-dir', 'x.ogg') });
    rec.push(frame(1));
    await expect(rec.stop()).rejects.toMatchObject({ code: 'ARGON_VOICE_IO' });
  });

  it('toPcm decodes real Opus frames to 20 ms of 48 kHz PCM each', async () => {
    const src = toneSource([[440, 200]]);
    const { rec } = mk({});
    for await (const f of src) rec.push(f as Uint8Array);
    expect(rec.frames).toHaveLength(10);
    const pcm = rec.toPcm();
    expect(pcm.length).toBe(10 * 960);
    expect(pcm.some((v) => Math.abs(v) > 1000)).toBe(true);
  });
});

describe('opusFramesSource', () => {
  it('replaces frames the gateway would refuse with silence of the session duration, keeping the timeline', async () => {
    const bad40ms = new Uint8Array([0xfa, 1, 2, 3]); // config 31 code 2: two 20 ms frames = 40 ms
    const frames = [frame(1), new Uint8Array([0xf8]), bad40ms, frame(2)];
    const out: Uint8Array[] = [];
    const src = opusFramesSource(frames);
    expect(src.info).toMatchObject({ format: 'opus', channels: 1, frameDurationMs: 20 });
    for await (const f of src) out.push(f as Uint8Array);
    const silence = Buffer.from(silencePacket(1, 20)).toString('hex');
    expect(out.map((f) => Buffer.from(f).toString('hex'))).toEqual([
      Buffer.from(frame(1)).toString('hex'),
      silence,
      silence,
      Buffer.from(frame(2)).toString('hex'),
    ]);
    expect(out.every((f) => isGatewaySafe(f, 20))).toBe(true);
    expect(src.stats.invalidDropped).toBe(2);
  });
});

/** Distinct, structurally valid 20 ms CELT mono frames (TOC 0xf8, config 31, code 0). */
function frame(i: number, len = 40): Uint8Array {
  const f = new Uint8Array(len);
  f[0] = 0xf8;
  for (let k = 1; k < len; k++) f[k] = (i * 31 + k * 7 + 1) & 0xff;
  return f;
}
