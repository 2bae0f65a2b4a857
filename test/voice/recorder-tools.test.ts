/**
 * Issue requirement: "ffmpeg and opusinfo must read every file" the recorder writes. The
 * recording here covers what makes a track irregular: speech, a lost burst, a DTX pause, a late
 * packet, a user who joins late, and a stop that is not on a frame boundary; plus the Ogg mix.
 * opusinfo comes from Debian's opus-tools, which `.ci/run` installs; on a developer machine
 * without it this file says so and runs the ffmpeg half only (in CI a missing opusinfo fails).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { ManualClock } from '../../src/util/clock.js';
import { FakeSource } from '../helpers/fake-source.js';
import { VoiceReceiver } from '../../src/voice/receiver.js';
import { RECORDING_JITTER, Recorder, type RecordingSummary } from '../../src/voice/recorder.js';
import { resolveFfmpeg } from '../../src/voice/sources/ffmpeg.js';

const run = promisify(execFile);

const OPUSINFO = ['/usr/bin/opusinfo', '/usr/local/bin/opusinfo'].find((p) => existsSync(p));
if (!OPUSINFO && process.env.CI) throw new Error('opusinfo is missing: .ci/run installs opus-tools');
if (!OPUSINFO) console.warn('recorder-tools: no opusinfo here (apt-get install opus-tools); checking with ffmpeg only');

const dir = mkdtempSync(join(tmpdir(), 'argon-rec-tools-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tone(freq: number, frame: number): Int16Array {
  const pcm = new Int16Array(960);
  for (let i = 0; i < 960; i++) pcm[i] = Math.round(9000 * Math.sin((2 * Math.PI * freq * (frame * 960 + i)) / 48_000));
  return pcm;
}

let recording: Promise<RecordingSummary> | undefined;
/** One irregular recording, shared by the tests below. */
function record(): Promise<RecordingSummary> {
  recording ??= (async () => {
    const clock = new ManualClock(5_000);
    const receiver = new VoiceReceiver({ clock });
    const src = { a: new FakeSource(clock), b: new FakeSource(clock) };
    const rec = new Recorder({
      receiver,
      users: ['a', 'b'],
      outDir: dir,
      mix: { channels: 2, format: 'ogg' },
      subscribe: (u) => receiver.attach(u, src[u as 'a' | 'b'], { mode: 'opus', jitter: RECORDING_JITTER }),
    });
    const enc = {
      a: new OpusEncoder({ channels: 1, frameDurationMs: 20 }),
      b: new OpusEncoder({ channels: 1, frameDurationMs: 20 }),
    };
    const held: Uint8Array[] = [];
    for (let k = 0; k < 250; k++) {
      const pa = enc.a.encode(tone(440, k));
      if (k >= 60 && k < 68) {
        // lost burst
      } else if (k >= 120 && k < 170) {
        if (k === 120 || k === 140 || k === 160) src.a.send(Uint8Array.of(0xf8)); // DTX pause
      } else if (k === 200 || k === 201) {
        held.push(pa); // late by 160 ms, with the packet behind it
      } else {
        src.a.send(pa);
      }
      if (k === 208) for (const p of held.splice(0)) src.a.send(p);
      if (k >= 40) src.b.send(enc.b.encode(tone(660, k)));
      clock.advance(20);
    }
    clock.advance(137); // not a frame boundary
    enc.a.close();
    enc.b.close();
    const summary = await rec.stop();
    await receiver.close();
    return summary;
  })();
  return recording;
}

describe('recorded files are read by the standard tools', () => {
  it('ffmpeg (libopus) decodes every track and the mix to exactly the recorded length', async () => {
    const summary = await record();
    const { path: ffmpeg } = await resolveFfmpeg();
    for (const t of summary.tracks) {
      expect(t.error).toBeUndefined();
      const { stdout } = await run(
        ffmpeg,
        ['-v', 'error', '-c:a', 'libopus', '-i', t.path, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
        { encoding: 'buffer', maxBuffer: 64 << 20 },
      );
      expect(stdout.length / 2).toBe(t.samples);
    }
    const { stdout, stderr } = await run(ffmpeg, ['-v', 'error', '-i', summary.mixPath!, '-f', 's16le', '-'], {
      encoding: 'buffer',
      maxBuffer: 64 << 20,
    });
    expect(String(stderr)).toBe('');
    expect(stdout.length / 4).toBe(summary.tracks[0]!.samples);
  });

  it.runIf(OPUSINFO)('opusinfo reads every file without a warning, with the recorded length', async () => {
    const summary = await record();
    for (const path of [...summary.tracks.map((t) => t.path), summary.mixPath!]) {
      const { stdout, stderr } = await run(OPUSINFO!, [path]);
      const text = `${stdout}\n${stderr}`;
      expect(text, path).not.toMatch(/WARNING|ERROR|corrupt|hole in data/i);
      const m = /Playback length:\s*(\d+)m:(\d+(?:\.\d+)?)s/.exec(text);
      expect(m, text).not.toBeNull();
      const seconds = Number(m![1]) * 60 + Number(m![2]);
      expect(Math.abs(seconds - summary.tracks[0]!.samples / 48_000)).toBeLessThanOrEqual(0.001);
    }
  });
});
