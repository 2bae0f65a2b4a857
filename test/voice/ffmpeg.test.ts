import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../src/errors.js';
import { buildFfmpegArgs } from '../../src/voice/sources/ffmpeg-source.js';
import { clearFfmpegCache, resolveFfmpeg, spawnFfmpeg } from '../../src/voice/sources/ffmpeg.js';

const dir = mkdtempSync(join(tmpdir(), 'argon-ffmpeg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake ffmpeg: a shell script that logs each run to `counter` and prints a banner. */
function fake(name: string, banner = 'ffmpeg version 9.9-fake', executable = true): string {
  const sub = join(dir, name);
  mkdirSync(sub, { recursive: true });
  const p = join(sub, 'ffmpeg');
  writeFileSync(p, `#!/bin/sh\necho run >> "${p}.runs"\necho "${banner}"\n`);
  chmodSync(p, executable ? 0o755 : 0o644);
  return p;
}
const runs = (p: string) => {
  try {
    return readFileSync(`${p}.runs`, 'utf8').split('\n').filter(Boolean).length;
  } catch {
    return 0;
  }
};
const noPackages = () => {
  throw new Error('Cannot find module');
};
const realInstaller = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

describe('resolveFfmpeg', () => {
  it('prefers FFMPEG_PATH over everything else', async () => {
    const envBin = fake('env');
    const r = await resolveFfmpeg({
      env: { FFMPEG_PATH: envBin, PATH: join(dir, 'nowhere') },
      requirePackage: () => fake('pkg'),
    });
    expect(r).toEqual({ path: envBin, origin: 'FFMPEG_PATH', version: 'ffmpeg version 9.9-fake' });
  });

  it('falls to ffmpeg-static, then @ffmpeg-installer, then PATH, in that order', async () => {
    const staticBin = fake('static');
    const installerBin = fake('installer');
    const pathBin = fake('onpath');
    const env = { FFMPEG_PATH: join(dir, 'missing', 'ffmpeg'), PATH: join(dir, 'onpath') };
    const both = (name: string) => (name === 'ffmpeg-static' ? staticBin : { path: installerBin });
    expect((await resolveFfmpeg({ env, requirePackage: both })).origin).toBe('ffmpeg-static');
    const installerOnly = (name: string) => {
      if (name === 'ffmpeg-static') throw new Error("Cannot find module 'ffmpeg-static'");
      return { path: installerBin };
    };
    const r = await resolveFfmpeg({ env, requirePackage: installerOnly });
    expect(r).toMatchObject({ origin: '@ffmpeg-installer/ffmpeg', path: installerBin });
    const p = await resolveFfmpeg({ env, requirePackage: noPackages });
    expect(p).toMatchObject({ origin: 'PATH', path: pathBin });
  });

  it('skips candidates that are not executable or do not print the ffmpeg banner', async () => {
    const notExec = fake('noexec', 'ffmpeg version x', false);
    const impostor = fake('impostor', 'hello world');
    const good = fake('good');
    const r = await resolveFfmpeg({
      env: { FFMPEG_PATH: notExec, PATH: [join(dir, 'impostor'), join(dir, 'good')].join(':') },
      requirePackage: (name) => (name === 'ffmpeg-static' ? null : { path: impostor }),
    });
    expect(r).toMatchObject({ origin: 'PATH', path: good });
  });

  it('names all four candidates and what each gave when none works', async () => {
    const err = await resolveFfmpeg({ env: { PATH: join(dir, 'empty') }, requirePackage: noPackages }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DependencyError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/FFMPEG_PATH: not set/);
    expect(msg).toMatch(/ffmpeg-static: package not installed/);
    expect(msg).toMatch(/@ffmpeg-installer\/ffmpeg: package not installed/);
    expect(msg).toMatch(/PATH: no ffmpeg in 1 PATH directories/);
    expect(msg.indexOf('FFMPEG_PATH')).toBeLessThan(msg.indexOf('ffmpeg-static'));
    expect(msg.indexOf('ffmpeg-static')).toBeLessThan(msg.indexOf('@ffmpeg-installer'));
  });

  it('runs -version only once per binary', async () => {
    const bin = fake('once');
    const opts = { env: { FFMPEG_PATH: bin }, requirePackage: noPackages };
    await resolveFfmpeg(opts);
    await resolveFfmpeg({ ...opts, refresh: true });
    await Promise.all([resolveFfmpeg(opts), resolveFfmpeg(opts)]);
    expect(runs(bin)).toBe(1);
    clearFfmpegCache();
    await resolveFfmpeg(opts);
    expect(runs(bin)).toBe(2);
  });

  it('by default tolerates the missing ffmpeg-static and finds the installer binary', async () => {
    const saved = process.env.FFMPEG_PATH;
    delete process.env.FFMPEG_PATH;
    try {
      const r = await resolveFfmpeg({ refresh: true });
      expect(r.path).toBe(realInstaller);
      expect(r.origin).toBe('@ffmpeg-installer/ffmpeg');
      // The default lookup is cached: the same object comes back without another search.
      expect(await resolveFfmpeg()).toBe(r);
    } finally {
      if (saved !== undefined) process.env.FFMPEG_PATH = saved;
    }
  });
});

describe('spawnFfmpeg', () => {
  it('keeps the last 2 KB of stderr and always reports the exit', async () => {
    const p = spawnFfmpeg(realInstaller, ['-hide_banner', '-i', join(dir, 'does-not-exist.mp3'), '-f', 'null', '-']);
    const { code } = await p.exited;
    expect(code).not.toBe(0);
    expect(p.stderrTail()).toMatch(/No such file/);
    await p.kill();
    await p.kill();
  });
  it('a missing binary is reported through exited, not thrown', async () => {
    const p = spawnFfmpeg(join(dir, 'nope', 'ffmpeg'), ['-version']);
    await p.exited;
    expect(p.stderrTail()).toMatch(/ENOENT/);
    await p.kill();
  });
});

describe('buildFfmpegArgs', () => {
  it('adds reconnect options for URLs, -ss before -i, and the loudnorm filter', () => {
    const a = buildFfmpegArgs('https://example.test/a.mp3', {
      channels: 2,
      seekMs: 1500,
      volume: 0.5,
      normalize: { targetLufs: -16, truePeakDb: -1 },
    });
    const i = a.indexOf('-i');
    expect(a.slice(0, i)).toEqual(
      expect.arrayContaining(['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '5']),
    );
    expect(a.indexOf('-ss')).toBeLessThan(i);
    expect(a[a.indexOf('-ss') + 1]).toBe('1.500');
    expect(a[a.indexOf('-af') + 1]).toBe('volume=0.5,loudnorm=I=-16:TP=-1:LRA=11');
    const f = buildFfmpegArgs('-weird.mp3', { channels: 1 });
    expect(f).not.toContain('-reconnect');
    expect(f[f.indexOf('-i') + 1]).toBe('./-weird.mp3');
    expect(f.slice(-9)).toEqual(['-ac', '1', '-ar', '48000', '-f', 's16le', '-acodec', 'pcm_s16le', 'pipe:1']);
  });
});
