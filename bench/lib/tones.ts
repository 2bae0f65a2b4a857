/**
 * Test tones for the benchmarks: a 440 Hz sine as Ogg Opus (20 ms frames, the passthrough path)
 * and as mp3 (the ffmpeg + encode path), written by the ffmpeg argon-voice itself resolves.
 * @packageDocumentation
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveFfmpeg } from '../../src/voice/sources/ffmpeg.js';

/** The files of {@link makeToneFiles}; remove `dir` when done. */
export interface ToneFiles {
  dir: string;
  ogg: string;
  mp3: string;
}

/** Writes `seconds` of tone as `a.opus` and `a.mp3` (at `mp3Bitrate`, default `128k`) in a new temp dir. */
export async function makeToneFiles(seconds: number, options: { mp3Bitrate?: string } = {}): Promise<ToneFiles> {
  const ff = await resolveFfmpeg();
  const dir = mkdtempSync(join(tmpdir(), 'argon-bench-tone-'));
  const make = (out: string, codec: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(
        ff.path,
        ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=440:duration=${seconds}`, '-ac', '1', ...codec, out],
        (e) => (e ? reject(e) : resolve()),
      ),
    );
  const ogg = join(dir, 'a.opus');
  const mp3 = join(dir, 'a.mp3');
  await make(ogg, ['-c:a', 'libopus', '-frame_duration', '20', '-f', 'opus']);
  await make(mp3, ['-c:a', 'libmp3lame', '-b:a', options.mp3Bitrate ?? '128k']);
  return { dir, ogg, mp3 };
}
