/**
 * The media lane (what a media worker thread runs for one player), driven in-process by a
 * ManualClock and a fake pacer that takes one frame per 20 ms slot: no threads, no wall clock.
 */
import { describe, expect, it } from 'vitest';
import { OpusDecoder } from '../../src/codec/opus-decoder.js';
import { silencePacket } from '../../src/codec/silence.js';
import { InvalidInputError } from '../../src/errors.js';
import { ManualClock } from '../../src/util/clock.js';
import { type LanePacer, MediaLane } from '../../src/voice/media/lane.js';
import type { LaneOptions, MediaReply } from '../../src/voice/media/protocol.js';
import type { AudioSource, AudioSourceInfo } from '../../src/voice/sources/types.js';

const F = 20;
/** A structurally valid 20 ms CELT packet whose payload names its track and index. */
const opus = (track: number, i: number) => Uint8Array.from([0xf8, track, (i >> 8) & 0xff, i & 0xff, 0x55]);
const idOf = (f: Uint8Array) =>
  f.length === 5 && f[0] === 0xf8 ? { track: f[1]!, i: (f[2]! << 8) | f[3]! } : undefined;
const SILENCE = silencePacket(1, F);
const isSilence = (f: Uint8Array) => f.length === SILENCE.length && f.every((b, k) => b === SILENCE[k]);

/** A pacer stream on a manual clock: `capacity` frames, one sent per slot, dropouts counted like PacerStream's. */
class FakePacer implements LanePacer {
  readonly capacity: number;
  queue: Uint8Array[] = [];
  /** What went on the wire, slot by slot (`undefined`: an empty slot). */
  wire: Array<Uint8Array | undefined> = [];
  clears = 0;
  #consumed = 0;
  #pushed = 0;
  #quietMark = 0;
  #dry = 0;
  dropoutSlots = 0;
  #waiters: Array<() => void> = [];
  constructor(
    readonly clock: ManualClock,
    capacity = 4,
  ) {
    this.capacity = capacity;
  }
  consumed() {
    return this.#consumed;
  }
  inFlight() {
    return this.#pushed - this.#consumed;
  }
  post(frame: Uint8Array) {
    if (this.inFlight() >= this.capacity) throw new Error('the lane posted over its credit');
    this.#pushed++;
    this.queue.push(frame);
  }
  async clear() {
    const n = this.queue.length;
    this.queue = [];
    this.clears++;
    this.#consumed += n;
    this.quiet();
    this.#notify();
    return { n, consumed: this.#consumed };
  }
  quiet() {
    this.#quietMark = this.#pushed;
    this.#dry = 0;
  }
  waitConsumed(seen: number, ms: number) {
    if (this.#consumed !== seen) return Promise.resolve();
    return new Promise<void>((r) => {
      this.#waiters.push(r);
      this.clock.setTimeout(r, ms);
    });
  }
  #notify() {
    const w = this.#waiters.splice(0);
    for (const r of w) r();
  }
  /** One 20 ms slot. */
  slot() {
    const f = this.queue.shift();
    this.wire.push(f);
    if (f) {
      this.#consumed++;
      if (this.#dry > 0) this.dropoutSlots += this.#dry;
      this.#dry = 0;
      this.#notify();
    } else if (this.#pushed > this.#quietMark) {
      this.#dry++;
    }
  }
  /** Track frames on the wire, in order. */
  sent() {
    return this.wire.filter((f): f is Uint8Array => f !== undefined && !isSilence(f)).map((f) => idOf(f));
  }
}

/** Lets the lane's promise chains run (sources here resolve through microtasks and the manual clock). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

async function slots(clock: ManualClock, pacer: FakePacer, n: number): Promise<void> {
  for (let k = 0; k < n; k++) {
    await settle();
    clock.advance(F);
    pacer.slot();
  }
  await settle();
}

interface FakeSpec {
  frames: number;
  track: number;
  /** The source's `next()` for this index waits this long on the manual clock. */
  stallAt?: { index: number; ms: number };
  format?: 'opus' | 'pcm';
  pcm?: (i: number) => Int16Array;
  failAt?: number;
  invalidAt?: number;
  /** createSource resolves this long after it was called (manual clock). */
  openDelayMs?: number;
}

function fakeSource(spec: FakeSpec, clock: ManualClock, seekMs = 0): AudioSource & { closedCount: () => number } {
  let closed = 0;
  const first = Math.round(seekMs / F);
  const info: AudioSourceInfo = {
    kind: 'ogg',
    format: spec.format ?? 'opus',
    channels: 1,
    frameDurationMs: F,
    passthrough: spec.format !== 'pcm',
  };
  return {
    info,
    stats: { framesYielded: 0, framesProduced: 0, invalidDropped: 0, bytesIn: 0, maxBuffered: 0 },
    get closed() {
      return closed > 0;
    },
    closedCount: () => closed,
    async close() {
      closed++;
    },
    async [Symbol.asyncDispose]() {
      closed++;
    },
    async *[Symbol.asyncIterator]() {
      for (let i = first; i < spec.frames; i++) {
        if (closed) return;
        if (spec.stallAt?.index === i) await new Promise<void>((r) => clock.setTimeout(r, spec.stallAt!.ms));
        if (spec.failAt === i) throw new InvalidInputError(`broken input at frame ${i}`);
        if (spec.invalidAt === i) yield Uint8Array.from([0xf8]);
        else yield spec.format === 'pcm' ? spec.pcm!(i) : opus(spec.track, i);
      }
    },
  } as AudioSource & { closedCount: () => number };
}

function setup(specs: Record<string, FakeSpec>, options: Partial<LaneOptions> = {}, capacity = 4) {
  const clock = new ManualClock(0);
  const pacer = new FakePacer(clock, capacity);
  const replies: MediaReply[] = [];
  const opened: Array<{ input: string; seekMs: number | undefined }> = [];
  const lane = new MediaLane(
    1,
    {
      channels: 1,
      frameDurationMs: F,
      lookaheadFrames: 50,
      pacerFrames: capacity,
      volume: 1,
      crossfadeFrames: 0,
      ...options,
    },
    {
      pacer,
      emit: (m) => replies.push(m),
      createSource: async (input, o) => {
        opened.push({ input: input as string, seekMs: o?.seekMs });
        const spec = specs[input as string]!;
        if (spec.openDelayMs) await new Promise<void>((r) => clock.setTimeout(r, spec.openDelayMs!));
        return fakeSource(spec, clock, o?.seekMs ?? 0);
      },
    },
  );
  let next = 1;
  const play = (name: string) => lane.play({ id: next++, input: name, title: name });
  return { clock, pacer, replies, lane, play, opened };
}

describe('MediaLane: lookahead', () => {
  it('a source that stalls 300 ms mid-track does not empty a 1 s lookahead: no dropout, every frame once, in order', async () => {
    const { clock, pacer, lane, play } = setup({ a: { track: 1, frames: 150, stallAt: { index: 60, ms: 300 } } });
    play('a');
    await slots(clock, pacer, 200);
    expect(pacer.dropoutSlots).toBe(0);
    expect(pacer.sent()).toEqual(Array.from({ length: 150 }, (_, i) => ({ track: 1, i })));
    await lane.close();
  });

  it('the same stall empties a queue only as deep as the old 80 ms one (the failure the lookahead removes)', async () => {
    const { clock, pacer, lane, play } = setup(
      { a: { track: 1, frames: 150, stallAt: { index: 60, ms: 300 } } },
      { lookaheadFrames: 4 },
    );
    play('a');
    await slots(clock, pacer, 200);
    expect(pacer.dropoutSlots).toBeGreaterThan(0);
    expect(pacer.sent()).toHaveLength(150);
    await lane.close();
  });

  it('never posts more than the pacer credit, and reads ahead no more than lookaheadFrames', async () => {
    const { clock, pacer, lane, play } = setup({ a: { track: 1, frames: 400 } }, { lookaheadFrames: 30 });
    play('a');
    for (let k = 0; k < 50; k++) {
      await slots(clock, pacer, 1);
      expect(pacer.inFlight()).toBeLessThanOrEqual(4);
      expect(lane.stats.lookahead).toBeLessThanOrEqual(30);
    }
    expect(lane.stats.lookahead).toBe(30);
    await lane.close();
  });

  it('prefetches the next track: the switch between tracks leaves no empty slot', async () => {
    const { clock, pacer, lane, play, replies } = setup({ a: { track: 1, frames: 40 }, b: { track: 2, frames: 40 } });
    play('a');
    play('b');
    await slots(clock, pacer, 100);
    expect(pacer.dropoutSlots).toBe(0);
    const sent = pacer.sent();
    expect(sent).toHaveLength(80);
    expect(sent[39]).toEqual({ track: 1, i: 39 });
    expect(sent[40]).toEqual({ track: 2, i: 0 });
    const ended = replies.filter((r) => r.t === 'ended');
    expect(ended.map((r) => [r.track, r.t === 'ended' && r.status])).toEqual([
      [1, 'finished'],
      [2, 'finished'],
    ]);
    expect(replies.at(-1)?.t).toBe('idle');
    await lane.close();
  });
});

describe('MediaLane: controls flush the lookahead', () => {
  it('pause takes back what the pacer held; resume continues with the very next frame (no loss, no repeat)', async () => {
    const { clock, pacer, lane, play } = setup({ a: { track: 1, frames: 300 } });
    play('a');
    await slots(clock, pacer, 30);
    const before = pacer.sent().length;
    lane.pause();
    await settle();
    expect(pacer.clears).toBe(1);
    await slots(clock, pacer, 25);
    expect(pacer.sent().length).toBe(before); // nothing of the track while paused
    expect(pacer.dropoutSlots).toBe(0); // the pause is intended silence
    lane.resume();
    await slots(clock, pacer, 400);
    expect(pacer.sent()).toEqual(Array.from({ length: 300 }, (_, i) => ({ track: 1, i })));
    expect(pacer.dropoutSlots).toBe(0);
    await lane.close();
  });

  it('skip: the next track is on the wire at the next slot, not after the lookahead', async () => {
    const { clock, pacer, lane, play, replies } = setup({ a: { track: 1, frames: 500 }, b: { track: 2, frames: 30 } });
    play('a');
    play('b');
    await slots(clock, pacer, 20);
    const wireBefore = pacer.wire.length;
    lane.skip();
    await slots(clock, pacer, 2);
    // The first slot after the skip may still be A's frame in flight; by the second, B plays.
    const after = pacer.wire.slice(wireBefore).map((f) => (f ? idOf(f) : undefined));
    expect(after.some((x) => x?.track === 2 && x.i === 0)).toBe(true);
    expect(replies.find((r) => r.t === 'ended' && r.track === 1)).toMatchObject({ status: 'stopped' });
    await slots(clock, pacer, 40);
    expect(pacer.sent().filter((x) => x?.track === 2)).toHaveLength(30);
    await lane.close();
  });

  it('seek reopens the input at the position and drops what was read ahead', async () => {
    const { clock, pacer, lane, play, opened } = setup({ a: { track: 1, frames: 1000 } });
    play('a');
    await slots(clock, pacer, 10);
    lane.seek(10_000);
    await slots(clock, pacer, 3);
    expect(opened.at(-1)).toEqual({ input: 'a', seekMs: 10_000 });
    await slots(clock, pacer, 10);
    const sent = pacer.sent();
    const k = sent.findIndex((x) => x!.i === 500);
    expect(k).toBeGreaterThan(0);
    expect(sent.slice(k, k + 5).map((x) => x!.i)).toEqual([500, 501, 502, 503, 504]);
    expect(sent.slice(0, k).every((x) => x!.i < 20)).toBe(true);
    await lane.close();
  });

  it('a seek while the input is still opening plays from the seek point, not from the start', async () => {
    const { clock, pacer, lane, play, opened } = setup({ a: { track: 1, frames: 1000, openDelayMs: 100 } });
    play('a');
    await slots(clock, pacer, 1);
    lane.seek(4000);
    await slots(clock, pacer, 30);
    expect(opened.map((o) => o.seekMs)).toEqual([undefined, 4000]);
    expect(pacer.sent()[0]).toEqual({ track: 1, i: 200 });
    await lane.close();
  });

  it('stop ends every track at once and reports idle', async () => {
    const { clock, pacer, lane, play, replies } = setup({ a: { track: 1, frames: 500 }, b: { track: 2, frames: 500 } });
    play('a');
    play('b');
    await slots(clock, pacer, 10);
    const n = pacer.sent().length;
    lane.stop();
    await slots(clock, pacer, 10);
    expect(pacer.sent().length).toBe(n);
    expect(
      replies.filter((r) => r.t === 'ended' && r.status === 'stopped').map((r) => (r as { track: number }).track),
    ).toEqual([1, 2]);
    expect(replies.at(-1)?.t).toBe('idle');
    await lane.close();
  });

  it('a volume change is heard within one frame: the frames the pacer held are rendered again at the new gain', async () => {
    const sine = (i: number) => {
      const pcm = new Int16Array(960);
      for (let k = 0; k < 960; k++) pcm[k] = Math.round(12000 * Math.sin((2 * Math.PI * 440 * (i * 960 + k)) / 48000));
      return pcm;
    };
    const { clock, pacer, lane, play } = setup({ a: { track: 1, frames: 200, format: 'pcm', pcm: sine } });
    play('a');
    await slots(clock, pacer, 40);
    const wireAt = pacer.wire.length;
    lane.setVolume(0.25);
    await slots(clock, pacer, 40);
    const dec = new OpusDecoder({ channels: 1 });
    const rms = (f: Uint8Array) => {
      const p = dec.decode(f);
      let s = 0;
      for (const x of p) s += x * x;
      return Math.sqrt(s / p.length);
    };
    const levels = pacer.wire.map((f) => (f ? rms(f) : 0));
    dec.close();
    const loud = levels.slice(wireAt - 10, wireAt);
    const quiet = levels.slice(wireAt + 2, wireAt + 30);
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    expect(mean(quiet) / mean(loud)).toBeGreaterThan(0.18);
    expect(mean(quiet) / mean(loud)).toBeLessThan(0.32);
    expect(pacer.clears).toBe(1);
    expect(pacer.dropoutSlots).toBe(0);
    await lane.close();
  });
});

describe('MediaLane: bad input', () => {
  it('an invalid packet never reaches the pacer: silence of the same length goes instead, and it is reported', async () => {
    const { clock, pacer, lane, play, replies } = setup({ a: { track: 1, frames: 20, invalidAt: 7 } });
    play('a');
    await slots(clock, pacer, 40);
    const frames = pacer.wire.filter((f): f is Uint8Array => f !== undefined);
    expect(frames.some((f) => f.length === 1)).toBe(false);
    expect(frames.filter(isSilence)).toHaveLength(1);
    expect(replies.some((r) => r.t === 'invalid')).toBe(true);
    expect(lane.stats.invalidFrames).toBe(1);
    await lane.close();
  });

  it('a source that fails reports a typed error for its track and the next track plays', async () => {
    const { clock, pacer, lane, play, replies } = setup({
      a: { track: 1, frames: 100, failAt: 30 },
      b: { track: 2, frames: 10 },
    });
    play('a');
    play('b');
    await slots(clock, pacer, 80);
    const err = replies.find((r) => r.t === 'error');
    expect(err).toMatchObject({ track: 1, error: { code: 'ARGON_VOICE_INVALID_INPUT' } });
    expect(pacer.sent().filter((x) => x?.track === 2)).toHaveLength(10);
    await lane.close();
  });

  it('close() ends every track, closes their sources and is idempotent', async () => {
    const { clock, pacer, lane, play, replies } = setup({ a: { track: 1, frames: 1000 } });
    play('a');
    await slots(clock, pacer, 5);
    await lane.close();
    await lane.close();
    expect(replies.filter((r) => r.t === 'ended')).toHaveLength(1);
    expect(lane.tracks).toBe(0);
  });
});

describe('MediaLane: crossfade', () => {
  it('fades the last frames of a PCM track into the next: both tracks, overlapped by the fade', async () => {
    const flat = (v: number) => () => new Int16Array(960).fill(v);
    const { clock, pacer, lane, play } = setup(
      {
        a: { track: 1, frames: 30, format: 'pcm', pcm: flat(8000) },
        b: { track: 2, frames: 30, format: 'pcm', pcm: flat(-8000) },
      },
      { crossfadeFrames: 5 },
    );
    play('a');
    play('b');
    await slots(clock, pacer, 90);
    const audible = pacer.wire.filter((f): f is Uint8Array => f !== undefined && !isSilence(f));
    expect(audible).toHaveLength(55);
    expect(pacer.dropoutSlots).toBe(0);
    await lane.close();
  });
});
