import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { ManualClock } from '../../src/util/clock.js';
import { AudioPlayer, type FrameSink } from '../../src/voice/player.js';
import type { AudioSource, AudioSourceInfo } from '../../src/voice/sources/types.js';

const require = createRequire(import.meta.url);
const { OpusEncoder: RefCodec } = require('@discordjs/opus') as {
  OpusEncoder: new (rate: number, ch: number) => { decode(b: Buffer): Buffer };
};

const opus = (track: number, i: number) => Uint8Array.from([0xf8, 0x01, track, i & 0xff, 0x55]);

function fakeSource(frames: Array<Uint8Array | Int16Array>, info: Partial<AudioSourceInfo> = {}) {
  let closed = false;
  const src = {
    info: {
      kind: 'ogg',
      format: 'opus',
      channels: 1,
      frameDurationMs: 20,
      passthrough: true,
      ...info,
    } as AudioSourceInfo,
    stats: { framesYielded: 0, framesProduced: 0, invalidDropped: 0, bytesIn: 0, maxBuffered: 0 },
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
    },
    async [Symbol.asyncDispose]() {
      closed = true;
    },
    async *[Symbol.asyncIterator]() {
      for (const f of frames) {
        if (closed) return;
        yield f;
      }
    },
  };
  return src as AudioSource & { readonly closed: boolean };
}

function fakeSink(channels: 1 | 2 = 1) {
  const sent: Uint8Array[] = [];
  let gate: Promise<void> | undefined;
  let closes = 0;
  const sink: FrameSink & { sent: Uint8Array[]; hold(p: Promise<void> | undefined): void; closes(): number } = {
    channels,
    frameDurationMs: 20,
    queuedFrames: 0,
    sent,
    hold(p) {
      gate = p;
    },
    closes: () => closes,
    async sendFrame(f) {
      if (gate) await gate;
      sent.push(f);
    },
    clearQueued() {},
    async close() {
      closes++;
    },
  };
  return sink;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('AudioPlayer', () => {
  it('plays queued tracks in order, passes Opus through untouched and reports playout', async () => {
    const sink = fakeSink();
    const player = new AudioPlayer(sink);
    const events: string[] = [];
    player.on('playing', (t) => events.push(`playing:${t.title}`));
    player.on('idle', () => events.push('idle'));
    const a = player.play(fakeSource([0, 1, 2].map((i) => opus(1, i))), { title: 'a' });
    const b = player.play(fakeSource([0, 1].map((i) => opus(2, i))), { title: 'b' });
    expect(await a.playout).toEqual({ status: 'finished', frames: 3 });
    expect(await player.waitForPlayout(b, { timeoutMs: 2000 })).toEqual({ status: 'finished', frames: 2 });
    await tick();
    expect(sink.sent.map((f) => Array.from(f))).toEqual(
      [...[0, 1, 2].map((i) => opus(1, i)), ...[0, 1].map((i) => opus(2, i))].map((f) => Array.from(f)),
    );
    expect(events).toEqual(['playing:a', 'playing:b', 'idle']);
    await player.close();
    await player.close();
    expect(() => player.play(fakeSource([]))).toThrow(/closed/);
  });

  it('applies volume to PCM sources only (encoded on the producer side)', async () => {
    const sink = fakeSink();
    const player = new AudioPlayer(sink, { volume: 0 });
    const pcm = () =>
      Int16Array.from({ length: 960 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 48000)));
    const t = player.play(fakeSource([pcm(), pcm(), pcm()], { format: 'pcm', kind: 'pcm', passthrough: false }));
    await t.playout;
    expect(sink.sent).toHaveLength(3);
    const dec = new RefCodec(48000, 1);
    for (const f of sink.sent) {
      expect(isGatewaySafe(f, 20)).toBe(true);
      const out = new Int16Array(new Uint8Array(dec.decode(Buffer.from(f))).buffer);
      expect(Math.max(...out.map(Math.abs))).toBeLessThan(50);
    }
    // Opus passthrough is not touched by volume.
    const p = player.play(fakeSource([opus(9, 1)]));
    await p.playout;
    expect(Array.from(sink.sent.at(-1)!)).toEqual(Array.from(opus(9, 1)));
    await player.close();
  });

  it('pause stops queuing frames and resume continues in order', async () => {
    const sink = fakeSink();
    let release!: () => void;
    sink.hold(new Promise<void>((r) => (release = r)));
    const player = new AudioPlayer(sink);
    const t = player.play(fakeSource([0, 1, 2, 3, 4, 5].map((i) => opus(1, i))));
    await tick();
    expect(player.pause()).toBe(true);
    expect(player.state.status).toBe('paused');
    sink.hold(undefined);
    release();
    for (let i = 0; i < 10; i++) await tick();
    const whilePaused = sink.sent.length;
    expect(whilePaused).toBeLessThanOrEqual(1);
    expect(player.resume()).toBe(true);
    await t.playout;
    expect(sink.sent.map((f) => f[3])).toEqual([0, 1, 2, 3, 4, 5]);
    await player.close();
  });

  it('stop ends the current track as stopped, empties the queue and closes sources', async () => {
    const sink = fakeSink();
    let release!: () => void;
    sink.hold(new Promise<void>((r) => (release = r)));
    const player = new AudioPlayer(sink);
    const s1 = fakeSource([0, 1, 2, 3].map((i) => opus(1, i)));
    const s2 = fakeSource([opus(2, 0)]);
    const a = player.play(s1);
    const b = player.play(s2);
    await tick();
    player.stop();
    release();
    expect(await a.playout).toMatchObject({ status: 'stopped' });
    expect(await b.playout).toMatchObject({ status: 'stopped' });
    expect(s1.closed && s2.closed).toBe(true);
    expect(sink.sent.some((f) => f[2] === 2)).toBe(false);
    await player.close();
  });

  it('seek reopens the input at the new position', async () => {
    const sink = fakeSink();
    let release!: () => void;
    sink.hold(new Promise<void>((r) => (release = r)));
    const opened: Array<number | undefined> = [];
    const player = new AudioPlayer(sink, {
      createSource: async (_input, o) => {
        opened.push(o?.seekMs);
        const start = (o?.seekMs ?? 0) / 20;
        return fakeSource([0, 1, 2].map((i) => opus(1, start + i)));
      },
    });
    const t = player.play('file.ogg');
    await tick();
    await tick();
    player.seek(1000);
    sink.hold(undefined);
    release();
    await t.playout;
    expect(opened).toEqual([undefined, 1000]);
    expect(sink.sent.map((f) => f[3]).slice(-3)).toEqual([50, 51, 52]);
    await tick();
    expect(() => player.seek(0)).toThrow(/nothing is playing/);
    await player.close();
  });

  it('rejects a track whose frame duration differs from the session and goes on', async () => {
    const sink = fakeSink();
    const player = new AudioPlayer(sink);
    const errors: string[] = [];
    player.on('error', (e) => errors.push(e.message));
    const bad = player.play(fakeSource([opus(1, 0)], { frameDurationMs: 60 }));
    const good = player.play(fakeSource([opus(2, 0)]));
    await expect(bad.playout).rejects.toThrow(/60 ms frames/);
    await good.playout;
    expect(errors).toHaveLength(1);
    expect(sink.sent).toHaveLength(1);
    await player.close();
  });

  it('closes the sink after the idle timeout', async () => {
    const clock = new ManualClock(0);
    const sink = fakeSink();
    const player = new AudioPlayer(sink, { idleTimeoutMs: 5000, clock });
    let fired = 0;
    player.on('idleDisconnect', () => fired++);
    clock.advance(4999);
    expect(sink.closes()).toBe(0);
    const t = player.play(fakeSource([opus(1, 0)]));
    await t.playout;
    await tick();
    clock.advance(4999);
    expect(sink.closes()).toBe(0);
    clock.advance(2);
    expect(sink.closes()).toBe(1);
    expect(fired).toBe(1);
    await player.close();
  });

  it('crossfades consecutive PCM tracks: the overlap shortens the total by the fade length', async () => {
    const sink = fakeSink();
    const player = new AudioPlayer(sink, { crossfadeMs: 60 });
    const frame = () => new Int16Array(960).fill(1000);
    const a = player.play(fakeSource(Array.from({ length: 10 }, frame), { format: 'pcm', passthrough: false }));
    const b = player.play(fakeSource(Array.from({ length: 8 }, frame), { format: 'pcm', passthrough: false }));
    await a.playout;
    await b.playout;
    await player.waitForPlayout(undefined, { timeoutMs: 1000 });
    for (let i = 0; i < 5; i++) await tick();
    expect(sink.sent).toHaveLength(10 + 8 - 3);
    expect(sink.sent.every((f) => isGatewaySafe(f, 20))).toBe(true);
    await player.close();
  });
});
