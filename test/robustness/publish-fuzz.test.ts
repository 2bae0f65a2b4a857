/**
 * The publish path never sends an invalid Opus packet: fuzzed frames through VoiceConnection and
 * through the AudioPlayer (custom fuzz source, truncated and corrupted Ogg files) against the
 * emulator; every frame the emulator's gateway recorded is gateway-safe for the session's 20 ms
 * and the gateway never killed the session for an invalid frame (docs/platform.md §A3.2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { Emulator } from '../../src/emulator/index.js';
import { RateLimiter } from '../../src/rest/rate-limiter.js';
import { RestClient } from '../../src/rest/client.js';
import { VoiceConnection } from '../../src/voice/connection.js';
import { AudioPlayer } from '../../src/voice/player.js';
import type { AudioSource } from '../../src/voice/sources/types.js';
import { type CrashTrap, describeTrap, trapCrashes } from './helpers/crash-trap.js';
import { hostilePackets, makeOggOpus, oggPageOffsets, prng, randomBytes } from './helpers/fuzz.js';

let emu: Emulator;
let rest: RestClient;
let trap: CrashTrap;
const closeReasons: string[] = [];

beforeAll(async () => {
  trap = trapCrashes();
  emu = await Emulator.start({ port: 0, audioTimings: { joinDelayMs: 20 } });
  emu.gateway.on('sessionClosed', (_info, reason) => closeReasons.push(reason));
  rest = new RestClient({ token: emu.bot.token, baseUrl: emu.apiUrl, limiter: new RateLimiter({ limits: {} }) });
});

afterAll(async () => {
  await rest?.close();
  await emu?.close();
  trap.dispose();
  expect(trap.uncaught, describeTrap(trap)).toEqual([]);
  expect(trap.unhandled, describeTrap(trap)).toEqual([]);
});

function open(): VoiceConnection {
  return new VoiceConnection({
    rest,
    spaceId: emu.demo.spaceId,
    channelId: emu.demo.voiceChannelId,
    reconnect: false,
    keepalive: false,
    prerollMs: 0,
    pingIntervalMs: 0,
    // burst: a CPU-starved machine should not drop frames (the invariants below hold either way).
    pacer: { latePolicy: 'burst', maxBurst: 1000 },
  });
}

const mine = () => emu.gateway.published({ identity: emu.bot.userId });

/** Waits until `n` frames were recorded, or the pacer has nothing left and the count stopped moving. */
async function untilPublished(n: number, c: VoiceConnection): Promise<void> {
  let last = -1;
  let still = 0;
  for (let i = 0; i < 5_000 && mine().length < n && c.state.status !== 'closed'; i++) {
    await new Promise<void>((r) => setTimeout(r, 5));
    const now = mine().length;
    still = now === last && c.queuedFrames === 0 ? still + 1 : 0;
    last = now;
    if (still >= 100) break; // drained for 100 turns: a skipped frame will not come
  }
}

/** The session is alive on the gateway side (not killed, silently or otherwise). */
function expectAlive(c: VoiceConnection): void {
  expect(c.state.status).toBe('ready');
  expect(emu.gateway.sessions().filter((s) => s.identity === emu.bot.userId)).toHaveLength(1);
}

function expectAllSafe(): void {
  const frames = mine();
  const bad = frames.filter((f) => !isGatewaySafe(f.data, 20)).map((f) => f.data.length);
  expect(bad, 'sizes of unsafe frames the gateway received').toEqual([]);
  expect(closeReasons.filter((r) => r === 'invalid-frame')).toEqual([]);
}

describe('publish path under fuzz', () => {
  it('VoiceConnection.sendFrame: hostile and random packets are replaced, never sent; the session survives', async () => {
    emu.gateway.clearPublished?.();
    const start = mine().length;
    const rand = prng(0xa11ce);
    const frames: Uint8Array[] = [...hostilePackets(rand)];
    for (let i = 0; i < 40; i++) frames.push(randomBytes(rand, Math.floor(rand() * 4000)));
    // Random bytes behind a valid 20 ms TOC: structurally valid code-0 packets (noise, but legal).
    for (let i = 0; i < 10; i++) {
      const p = randomBytes(rand, 2 + Math.floor(rand() * 200));
      p[0] = 0xf8;
      frames.push(p);
    }
    const c = open();
    let invalid = 0;
    c.on('invalidFrame', () => invalid++);
    try {
      for (const f of frames) await c.sendFrame(f, { timeoutMs: 20_000 });
      await untilPublished(start + frames.length, c);
      expectAlive(c);
      // Every frame was sent (a late frame may be skipped under heavy CPU load, never an extra one).
      expect(mine().length - start).toBeGreaterThan(0);
      expect(mine().length - start).toBeLessThanOrEqual(frames.length);
      expect(invalid).toBeGreaterThanOrEqual(hostilePackets(prng(1)).length);
      expect(c.stats.invalidFrames).toBe(invalid);
      expectAllSafe();
    } finally {
      await c.close();
    }
  });

  it('AudioPlayer: a fuzzed Opus source, a truncated Ogg and an Ogg with corrupted pages never put an unsafe frame on the wire', async () => {
    const rand = prng(0xbeef);
    const fuzz: Uint8Array[] = [...hostilePackets(rand)];
    for (let i = 0; i < 20; i++) fuzz.push(randomBytes(rand, Math.floor(rand() * 5000)));
    let closed = false;
    const source: AudioSource = {
      info: { kind: 'ogg', format: 'opus', channels: 1, frameDurationMs: 20, passthrough: true },
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
        yield* fuzz;
      },
    };
    const ogg = makeOggOpus(600).bytes;
    const truncated = ogg.slice(0, Math.floor(ogg.length * 0.55));
    const corrupted = ogg.slice();
    const pages = oggPageOffsets(corrupted);
    // Scribble over the middle of two audio pages (CRC now wrong) and the segment table of a third.
    for (const k of [3, 5]) {
      const at = pages[k]! + 40;
      corrupted.set(randomBytes(rand, 30), at);
    }
    corrupted[pages[4]! + 26] = 0xff;

    const c = open();
    const player = new AudioPlayer(c);
    const errors: Error[] = [];
    player.on('error', (e) => errors.push(e));
    try {
      const start = mine().length;
      const accepted0 = c.stats.framesAccepted;
      const tracks = [
        player.play(source, { title: 'fuzz' }),
        player.play(truncated, { title: 'truncated' }),
        player.play(corrupted, { title: 'corrupted' }),
      ];
      const results = await Promise.all(
        tracks.map((t) =>
          t.playout.then(
            (r) => r.frames,
            (e: Error) => e,
          ),
        ),
      );
      expect(results[0]).toBe(fuzz.length);
      // A track whose source failed mid-way rejects its playout after sending some frames.
      for (const r of results) if (r instanceof Error) expect(r.name).toMatch(/Error$/);
      const sent = c.stats.framesAccepted - accepted0;
      await untilPublished(start + sent, c);
      expectAlive(c);
      expect(mine().length - start).toBeGreaterThan(0);
      expect(mine().length - start).toBeLessThanOrEqual(sent);
      expectAllSafe();
      for (const e of errors) expect(e.constructor.name).toMatch(/Error$/);
    } finally {
      await player.close();
      await c.close();
    }
  });
});
