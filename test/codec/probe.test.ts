import { describe, expect, it } from 'vitest';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { PROBE_MAX_BYTES, probeContainer } from '../../src/codec/probe.js';
import {
  makeMp3,
  makeOggFlac,
  makeOggOpus,
  makeOggVorbis,
  makeWav,
  makeWebmOpus,
  prng,
  readFixture,
} from '../helpers/fixtures.js';

/** The probe's answer for every prefix length: it must move from need-more-data to one verdict. */
function verdicts(bytes: Uint8Array, upTo = bytes.length): { first: number; verdict: string } {
  let first = -1;
  let verdict = 'need-more-data';
  for (let n = 0; n <= upTo; n++) {
    const r = probeContainer(bytes.subarray(0, n));
    if (verdict === 'need-more-data') {
      if (r !== 'need-more-data') {
        first = n;
        verdict = r;
      }
    } else {
      expect(r, `prefix ${n}`).toBe(verdict);
    }
  }
  return { first, verdict };
}

describe('probeContainer', () => {
  it('Ogg Opus: need-more-data until the OpusHead page is complete, then ogg-opus', async () => {
    const bytes = readFixture(await makeOggOpus({ channels: 2, durationS: 0.3 }));
    const { first, verdict } = verdicts(bytes, 400);
    expect(verdict).toBe('ogg-opus');
    expect(first).toBe(28 + 19); // 27-byte header + 1 lacing value + 19-byte OpusHead
    expect(probeContainer(bytes)).toBe('ogg-opus');
    const mux = new OggOpusMuxer({ channels: 1, serial: 1 });
    expect(probeContainer(mux.headers())).toBe('ogg-opus');
  });

  it('WebM Opus (file and live) is webm-opus once the track entry is read', async () => {
    for (const live of [false, true]) {
      const bytes = readFixture(await makeWebmOpus({ channels: 1, durationS: 0.3, live }));
      const { first, verdict } = verdicts(bytes, 600);
      expect(verdict).toBe('webm-opus');
      expect(first).toBeGreaterThan(40);
    }
  });

  it('everything else needs ffmpeg', async () => {
    const files = await Promise.all([
      makeOggVorbis({ durationS: 0.2 }),
      makeOggFlac({ durationS: 0.2 }),
      makeMp3({ durationS: 0.2 }),
      makeWav({ durationS: 0.2 }),
    ]);
    for (const f of files) expect(probeContainer(readFixture(f)), f).toBe('needs-ffmpeg');
    expect(probeContainer(new TextEncoder().encode('hello world'))).toBe('needs-ffmpeg');
    expect(probeContainer(Uint8Array.of(0x4f, 0x67, 0x67, 0x54))).toBe('needs-ffmpeg');
  });

  it('short prefixes of the magic wait for more data', () => {
    expect(probeContainer(new Uint8Array(0))).toBe('need-more-data');
    expect(probeContainer(Uint8Array.of(0x4f, 0x67))).toBe('need-more-data');
    expect(probeContainer(Uint8Array.of(0x1a, 0x45, 0xdf))).toBe('need-more-data');
    expect(probeContainer(Uint8Array.of(0x49))).toBe('needs-ffmpeg');
  });

  it('gives up after PROBE_MAX_BYTES of undecided EBML and never throws on garbage', () => {
    // An EBML header followed by a huge Void element never reaches a track entry.
    const head = Uint8Array.from([
      0x1a,
      0x45,
      0xdf,
      0xa3,
      0x87,
      0x42,
      0x82,
      0x84,
      ...Buffer.from('webm'),
      0xec,
      0x01,
      0,
      0,
      0,
      0,
      0x20,
      0,
      0,
    ]);
    const big = new Uint8Array(PROBE_MAX_BYTES);
    big.set(head);
    expect(probeContainer(big.subarray(0, 4096))).toBe('need-more-data');
    expect(probeContainer(big)).toBe('needs-ffmpeg');
    const rnd = prng(1);
    for (let i = 0; i < 300; i++) {
      const b = new Uint8Array(1 + Math.floor(rnd() * 200));
      for (let k = 0; k < b.length; k++) b[k] = Math.floor(rnd() * 256);
      if (i % 3 === 0) b.set([0x4f, 0x67, 0x67, 0x53].slice(0, b.length));
      if (i % 3 === 1) b.set([0x1a, 0x45, 0xdf, 0xa3].slice(0, b.length));
      expect(['needs-ffmpeg', 'need-more-data']).toContain(probeContainer(b));
    }
  });
});
