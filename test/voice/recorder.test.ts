import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { generateTrace, tracePacket, tracePacketIndex } from '../../src/jitter/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { FakeSource } from '../helpers/fake-source.js';
import { VoiceReceiver } from '../../src/voice/receiver.js';
import { RECORDING_JITTER, Recorder, TRACK_LEAD_IN_SAMPLES } from '../../src/voice/recorder.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'argon-rec-'));
  dirs.push(d);
  return d;
}

/** One user 'a' recorded from a fake source, with the recorder's jitter settings, on a fake clock at 1000. */
function oneUserRecording() {
  const clock = new ManualClock(1000);
  const receiver = new VoiceReceiver({ clock });
  const src = new FakeSource(clock);
  const rec = new Recorder({
    receiver,
    users: ['a'],
    outDir: tmp(),
    subscribe: (u) => receiver.attach(u, src, { mode: 'opus', jitter: RECORDING_JITTER }),
  });
  return { clock, receiver, src, rec };
}

function readOgg(path: string) {
  const demux = new OggOpusDemuxer();
  const events = [...demux.write(readFileSync(path)), ...demux.end()];
  const packets = events.filter((e) => e.type === 'packet') as Array<{
    packet: Uint8Array;
    granule: bigint | undefined;
    samples: number;
  }>;
  const granules = packets.map((p) => p.granule).filter((g): g is bigint => g !== undefined);
  const samples = packets.reduce((a, p) => a + p.samples, 0);
  return {
    events,
    packets,
    samples,
    lastGranule: granules[granules.length - 1],
    eos: events.some((e) => e.type === 'eos'),
  };
}

describe('Recorder on a fake clock', () => {
  it('writes aligned tracks: silence, DTX, loss and absence filled; packets copied unchanged', async () => {
    const clock = new ManualClock(1000);
    const receiver = new VoiceReceiver({ clock });
    const src = { a: new FakeSource(clock), b: new FakeSource(clock) };
    const dir = tmp();
    const rec = new Recorder({
      receiver,
      users: ['a', 'b'],
      outDir: dir,
      subscribe: (u) => receiver.attach(u, src[u as 'a' | 'b'], { mode: 'opus', jitter: RECORDING_JITTER }),
    });
    const sentA: number[] = [];
    const sentB: number[] = [];
    for (let k = 0; k < 150; k++) {
      // a: talks, loses 40..44, goes DTX 80..119 (one DTX packet at 80 and 100), talks again.
      if (k >= 80 && k < 120) {
        if (k === 80 || k === 100) src.a.send(Uint8Array.of(0xf8));
      } else if (k < 40 || k >= 45) {
        src.a.send(tracePacket(k));
        sentA.push(k);
      }
      // b: absent until 60, then talks.
      if (k >= 60) {
        src.b.send(tracePacket(1000 + k));
        sentB.push(1000 + k);
      }
      clock.advance(20);
    }
    clock.advance(300);
    const summary = await rec.stop();
    expect(summary.durationMs).toBe(150 * 20 + 300);
    const [a, b] = summary.tracks;
    expect(a!.error).toBeUndefined();
    // Same timeline for both, equal to the session within one 2.5 ms unit.
    expect(a!.samples).toBe(b!.samples);
    expect(Math.abs(a!.samples - summary.durationMs * 48)).toBeLessThan(120);
    const oa = readOgg(a!.path);
    const ob = readOgg(b!.path);
    expect(oa.eos && ob.eos).toBe(true);
    // Each file starts with a 2.5 ms silence packet that its pre-skip removes (opusinfo wants ≥ 120).
    expect(oa.samples).toBe(a!.samples + TRACK_LEAD_IN_SAMPLES);
    expect(oa.lastGranule).toBe(BigInt(a!.samples + TRACK_LEAD_IN_SAMPLES));
    expect(ob.lastGranule).toBe(BigInt(b!.samples + TRACK_LEAD_IN_SAMPLES));
    // Every received speech packet is in the file, unchanged, in order; DTX is not.
    const idxA = oa.packets.map((p) => tracePacketIndex(p.packet)).filter((i) => i !== undefined);
    const idxB = ob.packets.map((p) => tracePacketIndex(p.packet)).filter((i) => i !== undefined);
    expect(idxA).toEqual(sentA);
    expect(idxB).toEqual(sentB);
    expect(oa.packets.every((p) => p.packet.length > 2)).toBe(true);
    // b's first packet sits 60 frames (1200 ms) into the session, like a's packet 60.
    const posOf = (o: ReturnType<typeof readOgg>, idx: number) => {
      let pos = 0;
      for (const p of o.packets) {
        if (tracePacketIndex(p.packet) === idx) return pos;
        pos += p.samples;
      }
      return -1;
    };
    expect(posOf(ob, 1060)).toBe(posOf(oa, 60));
    // The lost frames 40..44 took their time: packet 45 is 5 frames after packet 39 + 1.
    expect(posOf(oa, 45) - posOf(oa, 39)).toBe(6 * 960);
    // DTX time kept: packet 120 is 41 frames after packet 79.
    expect(posOf(oa, 120) - posOf(oa, 79)).toBe(41 * 960);
    await receiver.close();
  });

  it('reports a disk-full write as IoError for that file and keeps the others going', async () => {
    const clock = new ManualClock(0);
    const receiver = new VoiceReceiver({ clock });
    const src = { a: new FakeSource(clock), full: new FakeSource(clock) };
    const errors: Array<[string, string | undefined]> = [];
    const rec = new Recorder({
      receiver,
      users: ['a', 'full'],
      outDir: tmp(),
      fileName: (u) => (u === 'full' ? '/dev/full' : `${u}.ogg`),
      subscribe: (u) => receiver.attach(u, src[u as 'a' | 'full'], { mode: 'opus' }),
    });
    rec.on('error', (e, u) => errors.push([e.code, u]));
    for (let k = 0; k < 100; k++) {
      src.a.send(tracePacket(k));
      src.full.send(tracePacket(k));
      clock.advance(20);
    }
    const summary = await rec.stop();
    expect(errors).toEqual([['ARGON_VOICE_IO', 'full']]);
    const full = summary.tracks.find((t) => t.userId === 'full')!;
    expect(full.error?.path).toBe('/dev/full');
    const a = summary.tracks.find((t) => t.userId === 'a')!;
    expect(a.error).toBeUndefined();
    const oa = readOgg(a.path);
    expect(oa.eos).toBe(true);
    expect(oa.packets.filter((p) => tracePacketIndex(p.packet) !== undefined).length).toBeGreaterThanOrEqual(95);
    await receiver.close();
  });

  it('leaves valid files up to the last flush when the process dies mid-session', async () => {
    const clock = new ManualClock(0);
    const receiver = new VoiceReceiver({ clock });
    const src = new FakeSource(clock);
    const dir = tmp();
    const rec = new Recorder({ receiver, users: ['a'], outDir: dir, subscribe: (u) => receiver.attach(u, src) });
    let flushes = 0;
    rec.on('flush', () => flushes++);
    for (let k = 0; k < 130; k++) {
      src.send(tracePacket(k));
      clock.advance(20);
    }
    expect(flushes).toBe(2);
    // No stop(): read what is on disk now (as after kill -9).
    const o = readOgg(join(dir, 'a.ogg'));
    expect(o.eos).toBe(false);
    // Everything placed by the 2 s flush is there: audio waits up to the jitter buffer's delay
    // (80 ms here) plus the recorder's placement hold and margin (320 ms) before it is placed.
    expect(o.samples).toBeGreaterThanOrEqual((2000 - 80 - 320 - 20) * 48);
    expect(o.lastGranule).toBe(BigInt(o.samples));
    await rec.stop();
    await receiver.close();
  });

  it.each(['wav', 'ogg'] as const)(
    'writes a %s mix exactly as long as the tracks, also when stopped on a frame boundary',
    async (format) => {
      const clock = new ManualClock(0);
      const receiver = new VoiceReceiver({ clock });
      const src = { a: new FakeSource(clock), b: new FakeSource(clock) };
      const dir = tmp();
      const rec = new Recorder({
        receiver,
        users: ['a', 'b'],
        outDir: dir,
        mix: { channels: 2, format },
        subscribe: (u) => receiver.attach(u, src[u as 'a' | 'b'], { mode: 'opus', jitter: RECORDING_JITTER }),
      });
      for (let k = 0; k < 60; k++) {
        src.a.send(tracePacket(k));
        if (k > 20) src.b.send(tracePacket(k));
        clock.advance(20);
      }
      const summary = await rec.stop();
      expect(summary.mixError).toBeUndefined();
      const samples = summary.tracks[0]!.samples;
      expect(summary.tracks[1]!.samples).toBe(samples);
      const bytes = readFileSync(summary.mixPath!);
      if (format === 'wav') {
        const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        expect(v.getUint32(40, true)).toBe(samples * 4);
        expect(bytes.length).toBe(44 + samples * 4);
      } else {
        const o = readOgg(summary.mixPath!);
        expect(o.eos).toBe(true);
        expect(o.lastGranule).toBe(BigInt(312 + samples));
      }
      await receiver.close();
    },
  );
});

describe('Recorder regression', () => {
  it('bug: a track handed packets past the stop time (a burst in the last tick) ended longer than the others', async () => {
    const clock = new ManualClock(1000);
    const receiver = new VoiceReceiver({ clock });
    const src = { a: new FakeSource(clock), b: new FakeSource(clock) };
    const rec = new Recorder({
      receiver,
      users: ['a', 'b'],
      outDir: tmp(),
      subscribe: (u) => receiver.attach(u, src[u as 'a' | 'b'], { mode: 'opus', jitter: RECORDING_JITTER }),
    });
    for (let k = 0; k < 50; k++) {
      src.a.send(tracePacket(k));
      src.b.send(tracePacket(1000 + k));
      clock.advance(20);
    }
    // a's network releases a burst just before the stop: more audio than wall time left.
    for (let k = 50; k < 56; k++) src.a.send(tracePacket(k));
    for (let i = 0; i < 6; i++) clock.advance(20);
    const summary = await rec.stop();
    const [a, b] = summary.tracks;
    expect(a!.samples).toBe(b!.samples);
    expect(readOgg(a!.path).lastGranule).toBe(readOgg(b!.path).lastGranule);
  });
});

describe('Recorder drain', () => {
  it('bug: packets still waiting in the jitter buffer at stop() were lost from the file', async () => {
    const { clock, src, rec } = oneUserRecording();
    const sent: number[] = [];
    for (let k = 0; k < 30; k++) {
      src.send(tracePacket(k));
      sent.push(k);
      clock.advance(20);
    }
    // A late burst: 40 frames (800 ms of audio) arrive at once right before the stop.
    for (let k = 30; k < 70; k++) {
      src.send(tracePacket(k));
      sent.push(k);
    }
    const summary = await rec.stop();
    const file = readOgg(summary.tracks[0]!.path);
    const idx = file.packets.map((p) => tracePacketIndex(p.packet)).filter((i) => i !== undefined);
    expect(idx).toEqual(sent);
    expect(file.lastGranule).toBe(BigInt(summary.tracks[0]!.samples + TRACK_LEAD_IN_SAMPLES));
  });
});

describe('Recorder timing', () => {
  it('bug: a late packet in continuous speech shifted the rest of the talk spurt by its lateness', async () => {
    const { clock, receiver, src, rec } = oneUserRecording();
    // 5 s of continuous speech on a steady path, except that packet 120 is held 180 ms (longer
    // than the recording buffer's 100 ms delay, so its slot is concealed before it comes), and with
    // it, in order on the one WebSocket, 121..128; from 129 on the path is steady again.
    const held: number[] = [];
    for (let k = 0; k < 250; k++) {
      if (k >= 120 && k <= 128) held.push(k);
      else src.send(tracePacket(k));
      if (k === 128) for (const h of held.splice(0)) src.send(tracePacket(h));
      clock.advance(20);
    }
    clock.advance(300);
    const summary = await rec.stop();
    const file = readOgg(summary.tracks[0]!.path);
    const pos = new Map<number, number>();
    let at = 0;
    for (const p of file.packets) {
      const i = tracePacketIndex(p.packet);
      if (i !== undefined) pos.set(i, at);
      at += p.samples;
    }
    expect([...pos.keys()]).toEqual(Array.from({ length: 250 }, (_, k) => k));
    // Nothing inserted: every packet sits exactly k frames after packet 0 (before the fix, the
    // concealed slots were written as silence and packets 120..249 came after them, late).
    for (const k of [119, 120, 121, 128, 129, 200, 249]) expect(pos.get(k)! - pos.get(0)!).toBe(k * 960);
    expect(file.lastGranule).toBe(BigInt(summary.tracks[0]!.samples + TRACK_LEAD_IN_SAMPLES));
    await receiver.close();
  });
});

describe('Recorder loss fill', () => {
  it('a short loss inside speech repeats the packet before it; a long one is silence', async () => {
    const { clock, receiver, src, rec } = oneUserRecording();
    const lost = new Set([50, 80, 81, 120, 121, 122, 123, 124, 125]);
    for (let k = 0; k < 200; k++) {
      if (!lost.has(k)) src.send(tracePacket(k));
      clock.advance(20);
    }
    const summary = await rec.stop();
    const file = readOgg(summary.tracks[0]!.path);
    const seq = file.packets.map((p) => tracePacketIndex(p.packet) ?? -1);
    const from = (k: number) => seq.slice(seq.indexOf(k), seq.indexOf(k) + 4);
    expect(from(49)).toEqual([49, 49, 51, 52]); // one lost frame: 49 again
    expect(from(79)).toEqual([79, 79, 79, 82]); // two: 79 twice more
    expect(from(119)).toEqual([119, -1, -1, -1]); // six (120 ms): silence
    // Every packet still sits at its own place.
    const pos = (k: number) => {
      let at = 0;
      for (const p of file.packets) {
        if (tracePacketIndex(p.packet) === k) return at;
        at += p.samples;
      }
      return -1;
    };
    for (const k of [51, 82, 126, 199]) expect(pos(k) - pos(0)).toBe(k * 960);
    await receiver.close();
  });
});

describe('Recorder over a minute of impaired traffic (fake clock)', () => {
  it('every track is the session length within one frame, nothing received is lost, no drift', async () => {
    const clock = new ManualClock(0);
    const receiver = new VoiceReceiver({ clock });
    const scenarios = ['jitter', 'dtx', 'burst', 'reorder'] as const;
    const traces = scenarios.map((sc, i) => generateTrace(sc, { seed: 11 + i, durationMs: 60_000 }));
    const src = scenarios.map(() => new FakeSource(clock));
    const rec = new Recorder({
      receiver,
      users: [...scenarios],
      outDir: tmp(),
      subscribe: (u) =>
        receiver.attach(u, src[scenarios.indexOf(u as (typeof scenarios)[number])]!, {
          mode: 'opus',
          jitter: RECORDING_JITTER,
        }),
    });
    // All arrivals of all users, in time order, on the fake clock.
    const events = traces
      .flatMap((t, u) => t.arrivals.map((p) => ({ u, p })))
      .sort((a, b) => a.p.arrivalMs! - b.p.arrivalMs!);
    for (const { u, p } of events) {
      if (p.arrivalMs! > clock.now()) clock.advance(p.arrivalMs! - clock.now());
      src[u]!.send(p.packet);
    }
    clock.advance(60_500 - clock.now());
    const summary = await rec.stop();
    const session = summary.durationMs * 48;
    for (const [u, t] of summary.tracks.entries()) {
      expect(t.error).toBeUndefined();
      expect(Math.abs(t.samples - session), t.userId).toBeLessThanOrEqual(960);
      const file = readOgg(t.path);
      expect(file.lastGranule).toBe(BigInt(t.samples + TRACK_LEAD_IN_SAMPLES));
      // Every received speech packet is in the file, once.
      const received = traces[u]!.arrivals.filter((p) => !p.dtx).map((p) => p.index);
      const written: number[] = [];
      const offsets: number[] = [];
      const sendOf = new Map(traces[u]!.packets.map((p) => [p.index, p.sendMs]));
      let pos = -TRACK_LEAD_IN_SAMPLES;
      for (const p of file.packets) {
        const i = tracePacketIndex(p.packet);
        // A short loss is filled by repeating the packet before it: count each packet once.
        if (i !== undefined && i !== written[written.length - 1]) {
          written.push(i);
          offsets.push(pos / 48 - sendOf.get(i)!);
        }
        pos += p.samples;
      }
      expect(
        [...written].sort((a, b) => a - b),
        t.userId,
      ).toEqual([...received].sort((a, b) => a - b));
      // No drift: the offset of audio against the sender's clock is the same in the last 10 s as
      // in the first 10 s (to within the path's own variation), over the whole minute.
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
      const n = Math.floor(offsets.length / 6);
      const drift = median(offsets.slice(-n)) - median(offsets.slice(0, n));
      expect(Math.abs(drift), t.userId).toBeLessThanOrEqual(25);
      // Aligned: every packet sits within the path's delay spread of its send time, also right
      // after loss bursts too long to infer (placed before the jitter buffer saw the timeline move,
      // they used to land up to 140 ms early).
      const base = median(offsets);
      const spread = t.userId === 'jitter' ? 150 : 30;
      expect(Math.min(...offsets) - base, t.userId).toBeGreaterThanOrEqual(-spread);
      expect(Math.max(...offsets) - base, t.userId).toBeLessThanOrEqual(spread);
    }
    await receiver.close();
  });
});
