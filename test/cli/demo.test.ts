import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { histogram, longGaps, spacings } from '../../src/cli/demo/report.js';
import { type DemoSnapshot, formatStatsLine, LiveStatsPrinter } from '../../src/cli/demo/stats.js';
import { DemoVoice } from '../../src/cli/demo/voice.js';
import { type CliIo, main } from '../../src/cli/main.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { decodeWithFfmpeg, runFfmpeg } from '../helpers/fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'argon-demo-'));
  dirs.push(d);
  return d;
}

function captureIo(signal: AbortSignal): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (c) => (o += c));
  stderr.on('data', (c) => (e += c));
  return { stdout, stderr, env: { CI: '1' }, signal, out: () => o, err: () => e };
}

interface DemoJson {
  aborted: boolean;
  musicBot: { framesSent: number; pacerMode: string };
  emulatorReceive: { frames: number; histogram: Array<{ count: number }> };
  speaker: { framesSent: number };
  recording: { tracks: Array<{ path: string; role: string; packets: number }>; mixPath?: string };
  files: { music: string; recordings: string[]; mix?: string; html: string; json: string };
  codec: { encoder: string };
}

function oggEos(path: string): boolean {
  const d = new OggOpusDemuxer();
  return [...d.write(readFileSync(path)), ...d.end()].some((e) => e.type === 'eos');
}

/** Every file the demo wrote exists, is complete, and ffmpeg decodes it to something. */
async function checkOutput(dir: string, printed: string): Promise<DemoJson> {
  const json = JSON.parse(readFileSync(join(dir, 'demo-report.json'), 'utf8')) as DemoJson;
  expect(json.musicBot.framesSent).toBeGreaterThan(0);
  expect(json.emulatorReceive.frames).toBeGreaterThan(0);
  expect(json.recording.tracks).toHaveLength(2);
  const html = readFileSync(join(dir, 'demo-report.html'), 'utf8');
  expect(html.startsWith('<!doctype html>')).toBe(true);
  expect(html.match(/<svg /g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  const oggs = [...json.files.recordings, json.files.mix!, json.files.music];
  for (const f of oggs) {
    expect(existsSync(f)).toBe(true);
    expect(oggEos(f)).toBe(true);
    const pcm = await decodeWithFfmpeg(f, 2);
    expect(pcm.length).toBeGreaterThan(0);
  }
  for (const f of [...oggs, json.files.html, json.files.json]) expect(printed).toContain(f);
  return json;
}

describe('demo helpers', () => {
  it('histogram: 1 ms bins, outliers in the last bin, negatives in the first', () => {
    const bins = histogram([20.2, 19.9, 20.7, -1, 100, 44.99], 1, 45);
    expect(bins).toHaveLength(45);
    expect(bins[20]!.count).toBe(2);
    expect(bins[19]!.count).toBe(1);
    expect(bins[0]!.count).toBe(1);
    expect(bins[44]!.count).toBe(2);
    expect(bins.reduce((a, b) => a + b.count, 0)).toBe(6);
  });

  it('spacings and long gaps stay within one sending session', () => {
    const arr = [
      { arrivalMs: 0, sessionId: 'a' },
      { arrivalMs: 20, sessionId: 'a' },
      { arrivalMs: 80, sessionId: 'a' },
      { arrivalMs: 500, sessionId: 'b' },
      { arrivalMs: 520, sessionId: 'b' },
    ];
    expect(spacings(arr)).toEqual([20, 60, 20]);
    expect(longGaps(arr, 30)).toEqual([{ atS: 0.08, gapMs: 60 }]);
  });

  it('the live line: rewritten in place on a TTY, a plain line every 5 s otherwise', () => {
    const snap = (elapsedS: number): DemoSnapshot => ({
      elapsedS,
      framesSent: elapsedS * 50,
      spacingP50Ms: 20,
      spacingP99Ms: 20.4,
      framesLate: 0,
      pacerMode: 'worker',
      pacerClock: 'native',
      jitterCurrentMs: 60,
      jitterTargetMs: 60,
      lateLosses: 1,
      concealedMs: 40,
    });
    expect(formatStatsLine(snap(3))).toMatch(
      /sent 150 .*p50 20\.0 \/ p99 20\.4 ms .*worker\/native .*jb 60\/60 ms .*late loss 1 .*concealed 40 ms/,
    );
    let tty = '';
    const ttyOut = new PassThrough();
    ttyOut.on('data', (c) => (tty += c));
    const a = new LiveStatsPrinter({ out: ttyOut, tty: true });
    for (let s = 1; s <= 3; s++) a.update(snap(s));
    a.finish();
    expect(tty.split('\r')).toHaveLength(4);
    expect(tty.endsWith('\n')).toBe(true);
    expect(tty.slice(0, -1)).not.toContain('\n');
    let plain = '';
    const plainOut = new PassThrough();
    plainOut.on('data', (c) => (plain += c));
    const b = new LiveStatsPrinter({ out: plainOut, tty: false });
    for (let s = 1; s <= 11; s++) b.update(snap(s));
    b.finish();
    expect(plain.trim().split('\n')).toHaveLength(3); // 1 s, 6 s, 11 s
    expect(plain).not.toContain('\r');
  });

  it('the simulated voice: talk spurts of Opus speech between 3-byte silence frames', () => {
    const v = new DemoVoice({ seed: 3, durationMs: 6000 });
    const frames: Uint8Array[] = [];
    for (let i = 0; ; i++) {
      const f = v.next(i);
      if (!f) break;
      frames.push(f);
    }
    v.close();
    expect(frames).toHaveLength(300);
    expect(frames.filter((f) => f.length === 3).length).toBe(v.silenceFrames);
    expect(v.speechFrames).toBeGreaterThan(100);
    expect(v.speechFrames + v.silenceFrames).toBe(300);
    expect(v.next(0)).toBeUndefined(); // closed
  });
});

describe('argon-voice demo (embedded emulator, in process)', () => {
  it('runs 3 s and writes recordings, the music, an HTML report with charts and the JSON', async () => {
    const dir = tmp();
    const io = captureIo(new AbortController().signal);
    const code = await main(['demo', '--seconds', '3', '--out', dir], io);
    expect(io.err()).not.toMatch(/argon-voice:/);
    expect(code).toBe(0);
    const json = await checkOutput(dir, io.out());
    expect(json.aborted).toBe(false);
    expect(json.speaker.framesSent).toBeGreaterThan(0);
    expect(json.recording.tracks.every((t) => t.packets > 0)).toBe(true);
    // Audible content: the music bot's track, and alice's through libopus (her packets carry
    // in-band FEC, which ffmpeg's built-in decoder rejects).
    const peak = (pcm: Int16Array) => pcm.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    const musicTrack = json.recording.tracks.find((t) => t.role === 'music bot')!;
    expect(peak(await decodeWithFfmpeg(musicTrack.path, 2))).toBeGreaterThan(1000);
    const aliceTrack = json.recording.tracks.find((t) => t.role.startsWith('alice'))!;
    const raw = await runFfmpeg([
      '-v',
      'error',
      '-c:a',
      'libopus',
      '-i',
      aliceTrack.path,
      '-f',
      's16le',
      '-ac',
      '1',
      '-',
    ]);
    expect(peak(new Int16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + (raw.length & ~1))))).toBeGreaterThan(
      1000,
    );
    // What it started, and the topology (one bot identity per subscription, docs/platform.md §A6).
    expect(io.out()).toMatch(/emulator: +REST http:\/\/127\.0\.0\.1:\d+ +audio ws:\/\/127\.0\.0\.1:\d+/);
    expect(io.out()).toMatch(/docs\/platform\.md §A6\b/);
    // Not a TTY (CI set): plain lines, no carriage returns.
    expect(io.out()).not.toContain('\r');
  }, 90_000);

  it('stops early on Ctrl-C (io.signal) and still closes everything and writes valid files', async () => {
    const dir = tmp();
    const ctl = new AbortController();
    const io = captureIo(ctl.signal);
    const run = main(['demo', '--seconds', '60', '--out', dir], io);
    // Abort about a second into the run.
    for (let i = 0; i < 2400 && !/running for/.test(io.out()); i++) await new Promise((r) => setTimeout(r, 25));
    expect(io.out()).toMatch(/running for/);
    await new Promise((r) => setTimeout(r, 1000));
    ctl.abort(new Error('received SIGINT'));
    expect(await run).toBe(0);
    expect(io.out()).toMatch(/interrupted/);
    const json = await checkOutput(dir, io.out());
    expect(json.aborted).toBe(true);
  }, 90_000);

  it('rejects bad options with exit 1 and a message', async () => {
    const io = captureIo(new AbortController().signal);
    expect(await main(['demo', '--seconds', '0'], io)).toBe(1);
    expect(io.err()).toMatch(/--seconds/);
  });
});
