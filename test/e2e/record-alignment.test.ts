/**
 * End to end against the embedded emulator: two people in one channel speak known, different
 * signals at the same instant, each over its own impaired network; one receiver records both,
 * each through its own bot identity. The decoded tracks are compared with the sources by
 * cross-correlation: the content must be there (correlation), in place (one lag per track, the
 * same in every quarter second, within a frame or two: no drift, no shift after a loss) and
 * aligned across tracks (the two lags differ by no more than the two networks' delays do). The
 * paths are FIFO like the gateway's WebSocket: jitter and loss, no reordering.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { OpusDecoder } from '../../src/codec/opus-decoder.js';
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { Emulator } from '../../src/emulator/index.js';
import { RestClient } from '../../src/rest/index.js';
import { VoiceReceiver } from '../../src/voice/receiver.js';
import { RECORDING_JITTER, Recorder } from '../../src/voice/recorder.js';
import type { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { ManualClock } from '../../src/util/clock.js';
import { until } from '../helpers/until.js';

/** Polls every 2 ms with a generous budget against hangs (no timing assertion). */
const POLL = { intervalMs: 2, timeoutMs: 10_000 };

const RATE = 48_000;
const FRAME = 960;
const SECONDS = 4;

/** A speech-like test signal: gliding harmonics under a syllable envelope (seeded by `f0`). */
function signal(f0: number, seconds: number): Int16Array {
  const n = seconds * RATE;
  const out = new Int16Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / RATE;
    const f = f0 * (1 + 0.25 * Math.sin(2 * Math.PI * 0.7 * t)); // pitch glide
    phase += (2 * Math.PI * f) / RATE;
    const env = 0.55 + 0.45 * Math.sin(2 * Math.PI * 3.1 * t + f0); // syllables
    let v = 0;
    for (let h = 1; h <= 5; h++) v += Math.sin(h * phase) / h;
    out[i] = Math.round(7000 * env * v);
  }
  return out;
}

/** Normalised correlation of `a` (from `offA`) with `b` (from `offB`) over `len` samples, step `step`. */
function ncc(a: Int16Array, offA: number, b: Int16Array, offB: number, len: number, step = 1): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < len; i += step) {
    const x = a[offA + i] ?? 0;
    const y = b[offB + i] ?? 0;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** The lag (samples) of `src` inside `rec` in [lo, hi], searched coarse then fine. */
function bestLag(rec: Int16Array, src: Int16Array, srcOff: number, len: number, lo: number, hi: number) {
  let best = { lag: lo, c: Number.NEGATIVE_INFINITY };
  for (let lag = lo; lag <= hi; lag += 24) {
    const c = ncc(rec, srcOff + lag, src, srcOff, len, 4);
    if (c > best.c) best = { lag, c };
  }
  const coarse = best.lag;
  for (let lag = coarse - 24; lag <= coarse + 24; lag++) {
    const c = ncc(rec, srcOff + lag, src, srcOff, len);
    if (c > best.c) best = { lag, c };
  }
  return best;
}

/** Decodes an Ogg Opus track with libopus, pre-skip removed. */
function decodeTrack(path: string): Int16Array {
  const demux = new OggOpusDemuxer();
  const events = [...demux.write(readFileSync(path)), ...demux.end()];
  const head = events.find((e) => e.type === 'head') as { head: { preSkip: number } };
  const dec = new OpusDecoder({ channels: 1 });
  const parts: Int16Array[] = [];
  for (const e of events) if (e.type === 'packet') parts.push(dec.decode((e as { packet: Uint8Array }).packet));
  dec.close();
  const all = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all.subarray(head.head.preSkip);
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('recording two speakers against the emulator', () => {
  it('each track holds its speaker, in place for the whole take, aligned with the other', async () => {
    // One manual clock for the emulator (speakers, impaired networks) and the receiver (arrival
    // times, playout, the recording's session clock), moved 1 ms at a time and only once every
    // frame the gateway wrote has reached its subscriber: each packet arrives exactly when its
    // network model says, however busy the machine is, and the take is the same on every run.
    const clock = new ManualClock(0);
    const emu = await Emulator.start({ clock });
    const where = { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId };
    const bot2 = emu.createBot({ username: 'second-listener' });
    emu.addMember(where.spaceId, bot2.userId);
    const rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl });
    const rest2 = new RestClient({ token: bot2.token, baseUrl: emu.apiUrl });
    const outDir = mkdtempSync(join(tmpdir(), 'argon-align-'));
    dirs.push(outDir);
    const [alice, bob] = emu.demo.userIds as [string, string];
    const people = [emu.joinVoice(alice, where), emu.joinVoice(bob, where)];
    for (const p of people) p.publishTrack();
    const receiver = new VoiceReceiver({ rest, ...where, gatewayUrl: emu.audioUrl, clock });
    const warnings: string[] = [];
    receiver.on('warning', (m) => warnings.push(m));
    const recorder = new Recorder({
      receiver,
      users: [alice, bob],
      outDir,
      subscribe: (u) =>
        receiver.subscribe(u, { mode: 'opus', jitter: RECORDING_JITTER, rest: u === bob ? rest2 : undefined }),
    });
    try {
      const subscribers = [alice, bob].map((u) => receiver.streams.get(u)!.source as VoiceSubscriber);
      const sessions = () => emu.gateway.sessions().filter((s) => s.endpoint === 'subscribe');
      await until(() => sessions().filter((s) => s.state === 'joining').length === 2, 'two joining sessions', POLL);
      clock.advance(emu.gateway.timings.joinDelayMs);
      for (const sub of subscribers) await sub.waitFor('subscribed', { timeoutMs: 10_000 });
      /** Every frame the gateway wrote so far was received (a subscriber's session is the one of its bot). */
      const allReceived = () => {
        const out = sessions().reduce((n, s) => n + s.framesOut, 0);
        return subscribers.reduce((n, s) => n + s.framesReceived, 0) === out;
      };
      const sources = [signal(170, SECONDS), signal(240, SECONDS)];
      const encoders = sources.map(() => new OpusEncoder({ channels: 1, frameDurationMs: 20 }));
      const frames = sources.map((s, k) =>
        Array.from({ length: SECONDS * 50 }, (_, i) => encoders[k]!.encode(s.subarray(i * FRAME, (i + 1) * FRAME))),
      );
      for (const e of encoders) e.close();
      const impairments = [
        {
          baseDelayMs: 30,
          jitter: { kind: 'normal', meanMs: 15, stdDevMs: 6 },
          loss: { kind: 'random', rate: 0.03 },
          fifo: true,
        },
        {
          baseDelayMs: 50,
          jitter: { kind: 'pareto', scaleMs: 6, shape: 2.2, capMs: 150 },
          loss: { kind: 'random', rate: 0.01 },
          fifo: true,
        },
      ] as const;
      // Both start now: the same instant on the session clock.
      const speeches = people.map((p, k) =>
        p.speak((i) => frames[k]![i], { seed: 3 + k, impairment: impairments[k], maxFrames: SECONDS * 50 }),
      );
      let spoken = false;
      void Promise.all(speeches.map((s) => s.done)).then(() => (spoken = true));
      for (let t = 0; t < 60_000 && !spoken; t++) {
        clock.advance(1);
        await until(allReceived, 'the written frames received', POLL);
        await Promise.resolve();
      }
      await Promise.all(speeches.map((s) => s.done));
      // the jitter buffers' tails play out on the same clock
      for (let t = 0; t < 50; t++) clock.advance(20);
      const summary = await recorder.stop();
      expect(warnings).toEqual([]);
      const [ta, tb] = summary.tracks;
      const recs = [decodeTrack(ta!.path), decodeTrack(tb!.path)];
      const lags: number[] = [];
      for (const k of [0, 1]) {
        const rec = recs[k]!;
        const src = sources[k]!;
        // Each quarter second of the source, found in the recording (searched over its first 2 s).
        const Q = RATE / 4;
        const range = Math.min(2 * RATE, rec.length - src.length);
        const windows: Array<{ lag: number; c: number }> = [];
        for (let off = 0; off + Q <= src.length; off += Q) windows.push(bestLag(rec, src, off, Q, 0, range));
        const sorted = windows.map((w) => w.lag).sort((x, y) => x - y);
        const lag = sorted[sorted.length >> 1]!;
        lags.push(lag);
        const show = `speaker ${k}: ${JSON.stringify(windows.map((w) => [w.lag - lag, +w.c.toFixed(2)]))}`;
        // The speaker is there, in place: most quarter seconds match the source closely at one
        // lag. Egress has no sequence numbers: under this much jitter a loss can be noticed a
        // packet late and a late packet can be taken for a loss, so a window may sit a frame or
        // two off — but no further, and not drifting: the last second sits where the first did.
        const good = windows.filter((w) => w.c > 0.7 && Math.abs(w.lag - lag) <= 25 * 48);
        // (On the manual clock the machine adds no jitter of its own: every quarter second is
        // held to the close match.)
        expect(good.length, show).toBe(windows.length);
        expect(
          windows.every((w) => w.c < 0.5 || Math.abs(w.lag - lag) <= 2 * FRAME),
          show,
        ).toBe(true);
        const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
        const drift = med(windows.slice(-4).map((w) => w.lag)) - med(windows.slice(0, 4).map((w) => w.lag));
        expect(Math.abs(drift) / 48, `${show} drift`).toBeLessThanOrEqual(25);
        // Not the other speaker: the other signal does not correlate at this lag.
        expect(ncc(rec, lag, sources[1 - k]!, 0, src.length, 2), `speaker ${k} vs other`).toBeLessThan(0.3);
      }
      // Aligned: the two tracks place the common start within the networks' delay difference
      // (base 30 vs 50 ms plus jitter) of each other.
      expect(Math.abs(lags[0]! - lags[1]!) / 48).toBeLessThanOrEqual(60);
    } finally {
      await recorder.stop();
      await receiver.close();
      await rest.close();
      await rest2.close();
      await emu.close();
    }
  });
});
