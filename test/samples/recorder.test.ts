import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Emulator } from '../../src/emulator/index.js';
import { run } from '../../samples/recorder/index.js';
import { decodeWithFfmpeg } from '../helpers/fixtures.js';

let emu: Emulator;
let out: string;
beforeAll(async () => {
  emu = await Emulator.start({ port: 0, timings: { sseBatchMs: 50 } });
  out = mkdtempSync(join(tmpdir(), 'argon-sample-recorder-'));
});
afterAll(async () => {
  await emu.close();
  rmSync(out, { recursive: true, force: true });
});

const rms = (pcm: Int16Array) => Math.sqrt(pcm.reduce((a, s) => a + s * s, 0) / Math.max(1, pcm.length));

describe('recorder sample', () => {
  it('records two speakers (one over an impaired network) into aligned Ogg tracks and a mix', async () => {
    const r = await run({ emulator: emu, env: {}, outDir: out, demoSpeakMs: 1500 });
    expect(r.transcript.map((x) => x.options.action)).toEqual(['start', 'stop']);
    expect(r.transcript[0]!.reply).toBe('Recording alice, bob');
    expect(r.recordings).toHaveLength(1);
    const rec = r.recordings[0]!;
    const speakers = r.speakers!;
    expect(rec.tracks.map((t) => t.userId)).toEqual(speakers.map((s) => s.userId));

    // Every received packet is in the file; the clean speaker lost nothing, the impaired one only what the network dropped.
    const [alice, bob] = rec.tracks;
    expect(alice!.error).toBeUndefined();
    expect(bob!.error).toBeUndefined();
    expect(alice!.packets).toBe(speakers[0]!.framesSent);
    expect(bob!.packets).toBe(speakers[1]!.framesDelivered);
    expect(speakers[1]!.framesDelivered).toBeLessThan(speakers[1]!.framesSent);

    // ffmpeg reads every file; the tracks are aligned (same length) and the mix matches them.
    const decoded = await Promise.all(rec.tracks.map((t) => decodeWithFfmpeg(t.path)));
    expect(rec.mixPath).toBeDefined();
    expect(statSync(rec.mixPath!).size).toBeGreaterThan(44);
    const mix = await decodeWithFfmpeg(rec.mixPath!);
    const n = alice!.samples;
    expect({ alice: decoded[0]!.length, bob: decoded[1]!.length, bobSamples: bob!.samples, mix: mix.length }).toEqual({
      alice: n,
      bob: n,
      bobSamples: n,
      mix: n,
    });
    // Both voices are audible in their tracks and in the mix.
    for (const pcm of [...decoded, mix]) expect(rms(pcm)).toBeGreaterThan(500);
  });

  it('finishes the files when stopped (Ctrl-C) in the middle of a recording', async () => {
    const dir = mkdtempSync(join(out, 'abort-'));
    const ac = new AbortController();
    const log = (line: string) => {
      // Stop once the recording runs and the users have been speaking for a moment.
      if (line.startsWith('recording ')) setTimeout(() => ac.abort(), 800);
    };
    await expect(
      run({ emulator: emu, env: {}, outDir: dir, demoSpeakMs: 5000, signal: ac.signal, log }),
    ).rejects.toMatchObject({
      code: 'ARGON_VOICE_ABORTED',
    });
    const session = readdirSync(dir);
    expect(session).toHaveLength(1);
    const files = readdirSync(join(dir, session[0]!)).sort();
    expect(files.filter((f) => f.endsWith('.ogg'))).toHaveLength(2);
    expect(files).toContain('mix.wav');
    const decoded = await Promise.all(
      files.filter((f) => f.endsWith('.ogg')).map((f) => decodeWithFfmpeg(join(dir, session[0]!, f))),
    );
    expect(decoded[0]!.length).toBeGreaterThan(0);
    expect(decoded[1]!.length).toBe(decoded[0]!.length);
  });
});
