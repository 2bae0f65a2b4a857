/**
 * Deterministic fuzz material: a seeded PRNG, hostile Opus packets, and a small valid Ogg Opus
 * file built in process (OpusEncoder + OggOpusMuxer) that tests then truncate or corrupt.
 */
import { OggOpusMuxer } from '../../../src/codec/ogg-mux.js';
import { OpusEncoder } from '../../../src/codec/opus-encoder.js';
import { seededRandom as prng } from '../../../src/util/random.js';

export function randomBytes(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

/**
 * Packets the gateway must never see, or that are valid Opus of the wrong duration for a 20 ms
 * session: 0, 1 byte (DTX TOC), 2 bytes, 3826 bytes, 60 ms / 10 ms / 2.5 ms packets, code 1
 * with an odd length, code 3 with 0 frames, a code 2 length field that does not fit.
 */
export function hostilePackets(rand: () => number): Uint8Array[] {
  const celt20 = 0xf8; // config 31: CELT FB 20 ms, mono, code 0
  const silk60 = 0x18; // config 3: SILK NB 60 ms, code 0
  const celt10 = 0xf0; // config 30: CELT FB 10 ms
  const celt2_5 = 0xe0; // config 28: CELT FB 2.5 ms
  const fill = (toc: number, n: number) => {
    const p = randomBytes(rand, n);
    p[0] = toc;
    return p;
  };
  return [
    new Uint8Array(0),
    Uint8Array.of(celt20),
    Uint8Array.of(celt20, 0x00),
    fill(celt20, 3826),
    fill(celt20, 70_000),
    fill(silk60, 40),
    fill(celt10, 40),
    fill(celt2_5, 40),
    fill(celt20 | 0x01, 40), // code 1, 39 payload bytes: odd
    Uint8Array.of(celt20 | 0x03, 0x00, 1, 2, 3), // code 3, M = 0
    Uint8Array.of(celt20 | 0x03, 0x3f, 1, 2, 3), // code 3, 63 × 20 ms > 120 ms
    Uint8Array.of(celt20 | 0x02, 0xfc, 0xff, 1, 2), // code 2, first length 1024 > what is left
    fill(celt20 | 0x03, 3825), // code 3 CBR, count byte random
    Uint8Array.of(0x4f, 0x67, 0x67, 0x53, 0x00, 0x02), // "OggS" page start, 6 bytes
  ];
}

/** A sine of `ms` at 48 kHz, mono s16, in 20 ms PCM frames. */
function sineFrames(ms: number, hz = 440): Int16Array[] {
  const frames: Int16Array[] = [];
  let n = 0;
  for (let f = 0; f < ms / 20; f++) {
    const pcm = new Int16Array(960);
    for (let i = 0; i < 960; i++, n++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * n) / 48_000));
    frames.push(pcm);
  }
  return frames;
}

/** A valid mono 20 ms Ogg Opus file of `ms` milliseconds, and the packets in it. */
export function makeOggOpus(ms = 1000, serial = 0x1234): { bytes: Uint8Array; packets: Uint8Array[] } {
  const enc = new OpusEncoder({ channels: 1, frameDurationMs: 20 });
  const mux = new OggOpusMuxer({ channels: 1, serial, maxPageDurationMs: 100 });
  const parts: Uint8Array[] = [mux.headers()];
  const packets: Uint8Array[] = [];
  try {
    for (const pcm of sineFrames(ms)) {
      const p = enc.encode(pcm);
      packets.push(p);
      parts.push(mux.write(p, 960));
    }
    parts.push(mux.end());
  } finally {
    enc.close();
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    bytes.set(p, o);
    o += p.length;
  }
  return { bytes, packets };
}

/** Byte offsets of every "OggS" capture pattern in `bytes`. */
export function oggPageOffsets(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= bytes.length; i++) {
    if (bytes[i] === 0x4f && bytes[i + 1] === 0x67 && bytes[i + 2] === 0x67 && bytes[i + 3] === 0x53) out.push(i);
  }
  return out;
}

/** The library's seeded PRNG (mulberry32), under this helper's name. */
export { prng };
