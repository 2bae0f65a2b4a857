/**
 * Recording units, without NATS or audio: the state parser's recording fields, the segment
 * joiner on synthetic segment files (every position is computed from the inputs: no clock), the
 * manifest, and a recording session that cannot run.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterError } from '../../src/cluster/errors.js';
import { RecordingSession, segmentFile } from '../../src/cluster/recording.js';
import {
  joinSegments,
  OggSegmentJoiner,
  readRecordingManifest,
  SEGMENT_INFO,
  SEGMENTS_MANIFEST,
  writeRecordingManifest,
  writeSegmentInfo,
} from '../../src/cluster/segments.js';
import {
  checkRecordingState,
  encode,
  parseCommand,
  parseRecordCommand,
  parseReply,
  parseSpaceState,
  type RecordingState,
  recordingUnitId,
  type SpaceState,
} from '../../src/cluster/wire.js';
import { OggOpusDemuxer, type OpusHead } from '../../src/codec/ogg-demux.js';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { silencePacket } from '../../src/codec/silence.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'argon-rec-'));
  dirs.push(d);
  return d;
};

/** A 20 ms packet (CELT FB 20 ms TOC) tagged with its segment and number. */
const marker = (seg: number, i: number) => Uint8Array.of(0xf8, 0x5a, seg, i & 0xff, i >> 8);

/**
 * A segment file as a recorder writes it: headers, a 2.5 ms silence lead-in removed by a 120
 * pre-skip, then `n` tagged 20 ms packets, EOS (optionally with an end trim).
 */
function segmentBytes(seg: number, n: number, opts: { channels?: 1 | 2; trim?: number } = {}): Uint8Array {
  const mux = new OggOpusMuxer({ channels: opts.channels ?? 1, preSkip: 120, serial: 100 + seg });
  const parts = [mux.headers(), mux.write(silencePacket(opts.channels ?? 1, 2.5), 120)];
  for (let i = 0; i < n; i++) parts.push(mux.write(marker(seg, i), 960));
  parts.push(mux.end(opts.trim ? { pcmSamples: n * 960 - opts.trim } : {}));
  return Buffer.concat(parts);
}

interface Placed {
  /** Position after pre-skip (samples). */
  at: number;
  packet: Uint8Array;
  samples: number;
}

/** Demuxes a joined file: its head, every packet with its position after pre-skip, the last granule. */
function readJoined(bytes: Uint8Array) {
  const d = new OggOpusDemuxer();
  const ev = [...d.write(bytes), ...d.end()];
  const head = (ev.find((e) => e.type === 'head') as { head: OpusHead }).head;
  let pos = -head.preSkip;
  const packets: Placed[] = [];
  let granule: bigint | undefined;
  for (const e of ev) {
    if (e.type !== 'packet') continue;
    packets.push({ at: pos, packet: e.packet, samples: e.samples });
    pos += e.samples;
    if (e.granule !== undefined) granule = e.granule;
  }
  const samples = Number(granule ?? 0n) - head.preSkip;
  return { head, packets, samples, eos: ev.some((e) => e.type === 'eos') };
}

/** Position of the tagged packet (seg, i), or undefined when it is not in the file. */
function where(j: ReturnType<typeof readJoined>, seg: number, i: number): number | undefined {
  const want = marker(seg, i);
  return j.packets.find((p) => p.packet.length === want.length && p.packet.every((b, k) => b === want[k]))?.at;
}

const SILENCE = [2.5, 5, 10, 20, 40, 60].map((ms) => Buffer.from(silencePacket(1, ms)));
/** One of the codec's silence packets (decodes to digital zero). */
function isSilence(p: Placed): boolean {
  return SILENCE.some((s) => s.equals(p.packet));
}

/** Joins `[startedAtMs, bytes | undefined, endedAtMs?]` segments, feeding each file in `chunk`-byte pieces. */
function join2(segs: Array<[number, Uint8Array | undefined, number?]>, chunk = 1 << 20) {
  const j = new OggSegmentJoiner({ serial: 7 });
  const out: Uint8Array[] = [];
  for (const [start, bytes, end] of segs) {
    if (!bytes) {
      out.push(j.missingSegment(start, end).bytes);
      continue;
    }
    out.push(j.beginSegment(start));
    for (let o = 0; o < bytes.length; o += chunk) out.push(j.write(bytes.subarray(o, o + chunk)));
    j.endSegment();
  }
  out.push(j.end());
  return { bytes: Buffer.concat(out), joiner: j };
}

const T0 = 1_700_000_000_000;

describe('recording unit state (wire)', () => {
  const rec: RecordingState = {
    spaceId: 'sp',
    channelId: 'ch',
    users: ['alice', 'bob'],
    outDir: '/rec/x',
    segments: [
      { index: 1, workerId: 'w1', startedAtMs: T0, endedAtMs: T0 + 5000, files: { alice: 'seg-1/alice.ogg' } },
      { index: 2, workerId: 'w2', startedAtMs: T0 + 7000, endedAtMs: undefined, files: { bob: 'seg-2/bob.ogg' } },
    ],
  };
  const state = (over: Record<string, unknown> = {}) => ({
    v: 1,
    spaceId: recordingUnitId('sp', 'ch'),
    channelId: 'ch',
    kind: 'recording',
    recording: rec,
    active: true,
    queue: [],
    volume: 1,
    paused: false,
    epoch: 2,
    ...over,
  });

  it('round-trips a recording unit state, and through a command reply', () => {
    const parsed = parseSpaceState(encode(state()));
    expect(parsed.kind).toBe('recording');
    expect(parsed.recording).toEqual(rec);
    expect(parsed.spaceId).toBe('rec-sp-ch');
    const reply = parseReply(encode({ ok: true, workerId: 'w2', message: 'x', state: state() }));
    expect(reply.ok && reply.state.recording?.segments[1]?.workerId).toBe('w2');
  });

  it('keeps an old state without kind a playback state', () => {
    const old = { v: 1, spaceId: 's', channelId: 'c', active: true, queue: [], volume: 1, paused: false, epoch: 0 };
    const parsed = parseSpaceState(encode(old));
    expect(parsed.kind).toBeUndefined();
    expect(parsed.recording).toBeUndefined();
    expect(parseSpaceState(encode({ ...old, kind: 'playback' })).kind).toBe('playback');
  });

  const seg = rec.segments[0]!;
  it.each<[string, Record<string, unknown>]>([
    ['an unknown kind', { kind: 'call' }],
    ['kind recording without a recording', { recording: undefined }],
    ['a recording without kind', { kind: undefined }],
    ['no users', { recording: { ...rec, users: [] } }],
    ['repeated users', { recording: { ...rec, users: ['a', 'a'] } }],
    ['a user that is not a string', { recording: { ...rec, users: ['a', 5] } }],
    ['no outDir', { recording: { ...rec, outDir: '' } }],
    ['segments not an array', { recording: { ...rec, segments: {} } }],
    ['a segment index below 1', { recording: { ...rec, segments: [{ ...seg, index: 0 }] } }],
    ['a fractional segment index', { recording: { ...rec, segments: [{ ...seg, index: 1.5 }] } }],
    ['indexes that do not increase', { recording: { ...rec, segments: [seg, { ...seg, startedAtMs: T0 + 1 }] } }],
    [
      'start times that decrease',
      { recording: { ...rec, segments: [seg, { ...seg, index: 2, startedAtMs: T0 - 1, endedAtMs: undefined }] } },
    ],
    ['an end before the start', { recording: { ...rec, segments: [{ ...seg, endedAtMs: T0 - 1 }] } }],
    ['a segment without workerId', { recording: { ...rec, segments: [{ ...seg, workerId: '' }] } }],
    ['an absolute file path', { recording: { ...rec, segments: [{ ...seg, files: { alice: '/etc/passwd' } }] } }],
    [
      'a file path leaving outDir',
      { recording: { ...rec, segments: [{ ...seg, files: { alice: 'seg-1/../../x' } }] } },
    ],
    ['a file of a user not recorded', { recording: { ...rec, segments: [{ ...seg, files: { mallory: 'a.ogg' } }] } }],
    [
      'too many segments',
      {
        recording: {
          ...rec,
          segments: Array.from({ length: 501 }, (_, i) => ({ ...seg, index: i + 1, endedAtMs: undefined })),
        },
      },
    ],
  ])('rejects %s with a typed bad-message error', (_what, over) => {
    const bytes = encode(state(over));
    expect(() => parseSpaceState(bytes)).toThrow(ClusterError);
    try {
      parseSpaceState(bytes);
    } catch (err) {
      expect(err).toMatchObject({ code: 'ARGON_VOICE_CLUSTER', reason: 'bad-message' });
    }
  });

  it('parses and checks the record command; a holder does not take it as a playback command', () => {
    const cmd = { op: 'record', spaceId: 's', channelId: 'c', users: ['u1', 'u2'], outDir: '/r' };
    expect(parseRecordCommand(encode(cmd))).toEqual(cmd);
    for (const bad of [
      { ...cmd, users: [] },
      { ...cmd, users: ['u', 'u'] },
      { ...cmd, outDir: undefined },
      { ...cmd, op: 'play' },
      { ...cmd, users: Array.from({ length: 33 }, (_, i) => `u${i}`) },
    ]) {
      expect(() => parseRecordCommand(encode(bad))).toThrow(ClusterError);
    }
    expect(() => parseCommand(encode(cmd))).toThrow(/unknown op/);
    expect(recordingUnitId('s1', 'c1')).toBe('rec-s1-c1');
    expect(() => recordingUnitId('', 'c1')).toThrow(ClusterError);
  });
});

describe('OggSegmentJoiner', () => {
  it('places each segment at its start offset and fills the failover gap with silence packets', () => {
    // Segment 1: 1 s at T0; segment 2: 0.5 s at T0 + 1.5 s (0.5 s of failover silence between).
    const { bytes, joiner } = join2([
      [T0, segmentBytes(1, 50)],
      [T0 + 1500, segmentBytes(2, 25)],
    ]);
    const j = readJoined(bytes);
    expect(j.head).toMatchObject({ channels: 1, preSkip: 120 });
    expect(j.eos).toBe(true);
    // One lead-in (removed by the pre-skip), not one per segment.
    expect(j.packets[0]).toMatchObject({ at: -120, samples: 120 });
    expect(j.packets.filter((p) => p.at < 0)).toHaveLength(1);
    for (let i = 0; i < 50; i++) expect(where(j, 1, i)).toBe(i * 960);
    for (let i = 0; i < 25; i++) expect(where(j, 2, i)).toBe(72_000 + i * 960);
    const gap = j.packets.filter((p) => p.at >= 48_000 && p.at < 72_000);
    expect(gap.length).toBeGreaterThan(0);
    expect(gap.every(isSilence)).toBe(true);
    expect(gap.reduce((n, p) => n + p.samples, 0)).toBe(24_000);
    // Duration = last start − first start + last duration.
    expect(j.samples).toBe(72_000 + 25 * 960);
    expect(joiner.samples).toBe(j.samples);
    expect(joiner.segments.map((s) => [s.startSample, s.samples, s.overlapSamples])).toEqual([
      [0, 48_000, 0],
      [72_000, 24_000, 0],
    ]);
  });

  it('rounds a start to the nearest 2.5 ms', () => {
    // 1501.3 ms = 72 062.4 samples → 72 120 (601 × 120).
    const j = readJoined(
      join2([
        [T0, segmentBytes(1, 50)],
        [T0 + 1501.3, segmentBytes(2, 3)],
      ]).bytes,
    );
    expect(where(j, 2, 0)).toBe(72_120);
    expect(j.samples).toBe(72_120 + 3 * 960);
  });

  it('drops the part of a later segment that overlaps the one before (clock skew)', () => {
    // Segment 2 claims to start 100 ms before segment 1 ended: its first 5 packets overlap.
    const { bytes, joiner } = join2([
      [T0, segmentBytes(1, 50)],
      [T0 + 900, segmentBytes(2, 20)],
    ]);
    const j = readJoined(bytes);
    for (let i = 0; i < 5; i++) expect(where(j, 2, i)).toBeUndefined();
    expect(where(j, 1, 49)).toBe(49 * 960);
    expect(where(j, 2, 5)).toBe(48_000);
    expect(j.samples).toBe(43_200 + 20 * 960);
    expect(joiner.segments[1]).toMatchObject({ startSample: 43_200, overlapSamples: 4800, samples: 15 * 960 });
  });

  it('gives the same bytes whether segment files come whole, byte by byte or in odd chunks', () => {
    const segs: Array<[number, Uint8Array]> = [
      [T0, segmentBytes(1, 40)],
      [T0 + 2000.7, segmentBytes(2, 30)],
      [T0 + 3000, segmentBytes(3, 5)],
    ];
    const whole = join2(segs).bytes;
    expect(join2(segs, 1).bytes.equals(whole)).toBe(true);
    expect(join2(segs, 7).bytes.equals(whole)).toBe(true);
    expect(join2(segs, 4099).bytes.equals(whole)).toBe(true);
  });

  it('joins a segment cut inside a page (a killed writer) up to its last complete page', () => {
    const full = segmentBytes(1, 100);
    // Pages hold up to 1 s (50 packets): cut the file in the middle of its last page.
    const cut = full.subarray(0, full.length - 60);
    const { bytes, joiner } = join2([
      [T0, cut],
      [T0 + 4000, segmentBytes(2, 10)],
    ]);
    const j = readJoined(bytes);
    expect(joiner.segments[0]!.truncated).toBe(true);
    expect(joiner.segments[0]!.samples).toBe(50 * 960);
    expect(where(j, 1, 49)).toBe(49 * 960);
    expect(where(j, 1, 50)).toBeUndefined();
    expect(where(j, 2, 0)).toBe(192_000);
    expect(j.packets.filter((p) => p.at >= 48_000 && p.at < 192_000).every(isSilence)).toBe(true);
    expect(j.eos).toBe(true);
  });

  it('fills a segment missing for this user with silence up to its end, or the next start', () => {
    const j = readJoined(
      join2([
        [T0, segmentBytes(1, 10)],
        [T0 + 1000, undefined, T0 + 3000],
        [T0 + 5000, segmentBytes(3, 10)],
      ]).bytes,
    );
    expect(where(j, 3, 0)).toBe(240_000);
    expect(j.packets.filter((p) => p.at >= 9600 && p.at < 240_000).every(isSilence)).toBe(true);
    // A missing last segment with a known end still counts up to that end.
    const k = readJoined(
      join2([
        [T0, segmentBytes(1, 10)],
        [T0 + 1000, undefined, T0 + 2000],
      ]).bytes,
    );
    expect(k.samples).toBe(96_000);
  });

  it("keeps the last segment's own end trim, and ignores an earlier one", () => {
    const j = readJoined(
      join2([
        [T0, segmentBytes(1, 10, { trim: 300 })],
        [T0 + 1000, segmentBytes(2, 10, { trim: 500 })],
      ]).bytes,
    );
    expect(where(j, 2, 0)).toBe(48_000);
    expect(j.samples).toBe(48_000 + 9600 - 500);
  });

  it('rejects segments out of order, another channel count, or bytes outside a segment', () => {
    const j = new OggSegmentJoiner();
    expect(() => j.write(new Uint8Array(4))).toThrow(/outside a segment/);
    j.beginSegment(T0 + 10);
    expect(() => j.beginSegment(T0 + 20)).toThrow(/not ended/);
    expect(() => j.write(segmentBytes(1, 2, { channels: 2 }))).toThrow(/2 channels/);
    const k = new OggSegmentJoiner();
    k.beginSegment(T0 + 10);
    k.endSegment();
    expect(() => k.beginSegment(T0)).toThrow(/start order/);
    const g = new OggSegmentJoiner();
    g.beginSegment(T0);
    expect(() => g.write(new TextEncoder().encode('not an ogg file at all'))).toThrow(/OggS/);
  });
});

describe('joinSegments and the manifest', () => {
  it('joins the segment files named in segments.json into one aligned file per user', async () => {
    const dir = tmp();
    const rec: RecordingState = {
      spaceId: 'sp',
      channelId: 'ch',
      users: ['alice', 'bob'],
      outDir: '/somewhere/else',
      segments: [
        {
          index: 1,
          workerId: 'w1',
          startedAtMs: T0,
          endedAtMs: T0 + 1000,
          files: { alice: segmentFile(1, 'alice'), bob: segmentFile(1, 'bob') },
        },
        // Segment 2 was recorded on a worker whose file for bob never reached this directory.
        {
          index: 3,
          workerId: 'w2',
          startedAtMs: T0 + 2500,
          files: { alice: segmentFile(3, 'alice'), bob: segmentFile(3, 'bob') },
        },
      ],
    };
    mkdirSync(join(dir, 'seg-1'));
    mkdirSync(join(dir, 'seg-3'));
    writeFileSync(join(dir, segmentFile(1, 'alice')), segmentBytes(1, 50));
    writeFileSync(join(dir, segmentFile(1, 'bob')), segmentBytes(11, 50));
    writeFileSync(join(dir, segmentFile(3, 'alice')), segmentBytes(3, 40));
    await writeRecordingManifest('rec-sp-ch', { ...rec, outDir: dir });
    expect(JSON.parse(readFileSync(join(dir, SEGMENTS_MANIFEST), 'utf8'))).toMatchObject({ v: 1, unitId: 'rec-sp-ch' });

    const manifest = await readRecordingManifest(dir);
    expect(manifest.segments.map((s) => s.index)).toEqual([1, 3]);
    const a = await joinSegments(manifest, 'alice', join(dir, 'out', 'alice.ogg'));
    const ja = readJoined(readFileSync(a.path));
    expect(a.samples).toBe(120_000 + 40 * 960);
    expect(ja.samples).toBe(a.samples);
    expect(where(ja, 3, 0)).toBe(120_000);
    expect(a.segments.map((s) => [s.index, s.missing])).toEqual([
      [1, false],
      [3, false],
    ]);

    const b = await joinSegments({ ...rec, outDir: dir }, 'bob', join(dir, 'out', 'bob.ogg'));
    const jb = readJoined(readFileSync(b.path));
    expect(where(jb, 11, 49)).toBe(49 * 960);
    expect(b.segments[1]).toMatchObject({ index: 3, missing: true });
    // Bob's missing last segment (no end known) adds nothing after its start.
    expect(jb.samples).toBe(120_000);

    // The same through a full unit state, with the files elsewhere (baseDir).
    const st: SpaceState = {
      v: 1,
      spaceId: 'rec-sp-ch',
      channelId: 'ch',
      kind: 'recording',
      recording: rec,
      active: false,
      queue: [],
      volume: 1,
      paused: false,
      epoch: 3,
    };
    const c = await joinSegments(st, 'alice', join(dir, 'out', 'alice2.ogg'), { baseDir: dir });
    expect(readFileSync(c.path).equals(readFileSync(a.path))).toBe(false); // random serials differ …
    expect(readJoined(readFileSync(c.path)).samples).toBe(a.samples); // … the audio does not
    await expect(joinSegments(st, 'mallory', join(dir, 'x.ogg'))).rejects.toThrow(/not recorded/);
  });

  it("completes segments.json with each segment's own segment.json (final end, a holder that died unseen)", async () => {
    const dir = tmp();
    const files = (i: number) => ({ alice: segmentFile(i, 'alice') });
    const rec: RecordingState = {
      spaceId: 'sp',
      channelId: 'ch',
      users: ['alice'],
      outDir: dir,
      segments: [{ index: 1, workerId: 'w1', startedAtMs: T0, files: files(1) }],
    };
    await writeRecordingManifest('rec-sp-ch', rec);
    await writeSegmentInfo('rec-sp-ch', dir, { ...rec.segments[0]!, endedAtMs: T0 + 1000 });
    // Segment 2's holder died before the state (and a later manifest) named it: only its folder knows.
    await writeSegmentInfo('rec-sp-ch', dir, { index: 2, workerId: 'w2', startedAtMs: T0 + 3000, files: files(2) });
    mkdirSync(join(dir, 'seg-3'));
    writeFileSync(join(dir, 'seg-3', SEGMENT_INFO), '{"index":');
    writeFileSync(join(dir, segmentFile(1, 'alice')), segmentBytes(1, 50));
    writeFileSync(join(dir, segmentFile(2, 'alice')), segmentBytes(2, 10));

    const m = await readRecordingManifest(dir);
    expect(m.segments.map((g) => [g.index, g.workerId, g.endedAtMs])).toEqual([
      [1, 'w1', T0 + 1000],
      [2, 'w2', undefined],
    ]);
    const joined = await joinSegments(m, 'alice', join(dir, 'alice.ogg'));
    expect(where(readJoined(readFileSync(joined.path)), 2, 0)).toBe(144_000);
    expect(joined.samples).toBe(144_000 + 9600);
  });

  it('rejects a malformed manifest with a typed error', async () => {
    const dir = tmp();
    writeFileSync(join(dir, SEGMENTS_MANIFEST), '{"spaceId":"s"');
    await expect(readRecordingManifest(dir)).rejects.toMatchObject({ reason: 'bad-message' });
    writeFileSync(join(dir, SEGMENTS_MANIFEST), JSON.stringify({ spaceId: 's', channelId: 'c', outDir: '/x' }));
    await expect(readRecordingManifest(dir)).rejects.toMatchObject({ reason: 'bad-message' });
    expect(() => checkRecordingState([])).toThrow(ClusterError);
  });
});

describe('RecordingSession that cannot run', () => {
  const ctxOf = (users: string[], outDir: string) => ({
    workerId: 'w1',
    log: () => {},
    state: {
      v: 1 as const,
      spaceId: 'rec-s-c',
      channelId: 'c',
      kind: 'recording' as const,
      recording: { spaceId: 's', channelId: 'c', users, outDir, segments: [] },
      active: true,
      queue: [],
      volume: 1,
      paused: false,
      epoch: 1,
    },
  });

  it.each([
    ['without recording options', undefined, /has 0/],
    [
      'with fewer identities than users',
      { identities: [{} as never] },
      /2 user\(s\) needs as many bot identities.*has 1/,
    ],
  ])('fails %s and marks its unit inactive with the reason', async (_what, options, message) => {
    const dir = tmp();
    const s = new RecordingSession(ctxOf(['u1', 'u2'], dir), options);
    const failed = await new Promise<Error>((resolve) => s.on('failed', resolve));
    expect(failed).toMatchObject({ reason: 'rejected' });
    expect(failed.message).toMatch(message);
    const snap = s.snapshot(0);
    expect(snap.active).toBe(false);
    expect(snap.recording.error).toMatch(message);
    expect(snap.recording.segments).toEqual([]);
    expect(s.segment).toBeUndefined();
    expect(s.status().status).toBe('idle');
    expect(() => s.command({ op: 'skip' })).toThrow(/recording/);
    await s.close();
  });

  it('fails once the state holds the most segments it may (a bigger state would not parse)', async () => {
    const ctx = ctxOf(['u1'], tmp());
    const seg = { workerId: 'w0', startedAtMs: T0, files: {} };
    ctx.state.recording.segments = Array.from({ length: 500 }, (_, i) => ({ ...seg, index: i + 1 })) as never;
    const s = new RecordingSession(ctx, { identities: [{} as never] });
    const failed = await new Promise<Error>((resolve) => s.on('failed', resolve));
    expect(failed.message).toMatch(/500 segments/);
    expect(s.snapshot(0)).toMatchObject({ active: false });
    expect(() => parseSpaceState(encode({ ...ctx.state, recording: s.snapshot(0).recording }))).not.toThrow();
  });
});
