import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command } from '../../src/cli/commands/record.js';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { Emulator, type SpeakHandle } from '../../src/emulator/index.js';
import { ManualClock } from '../../src/util/clock.js';
import { type UserAudioStream, VoiceReceiver } from '../../src/voice/receiver.js';
import type { VoiceSubscriber } from '../../src/voice/subscriber.js';
import { decodeWithFfmpeg } from '../helpers/fixtures.js';
import { until } from '../helpers/until.js';

const dirs: string[] = [];
const emulators: Emulator[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const e of emulators.splice(0)) await e.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function io(signal: AbortSignal, env: Record<string, string> = {}) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += c));
  stderr.on('data', (c) => (err += c));
  return { io: { stdout, stderr, env, signal }, out: () => out, err: () => err };
}

/** Power of `freq` in `pcm` (Goertzel), normalised by the signal's energy: 0.5 for a pure tone. */
function toneRatio(pcm: Int16Array, freq: number): number {
  const w = (2 * Math.PI * freq) / 48_000;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < pcm.length; i++) {
    const x = pcm[i]! / 32768;
    energy += x * x;
    const s0 = x + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - c * s1 * s2;
  return energy > 0 ? power / (energy * pcm.length) : 0;
}

/** The voiced part of a recording: from 100 ms after the first loud sample to 100 ms before the end. */
function voiced(pcm: Int16Array, channels = 1): Int16Array {
  let first = 0;
  while (first < pcm.length && Math.abs(pcm[first]!) < 1000) first++;
  const start = first - (first % channels) + 4800 * channels;
  const end = pcm.length - 4800 * channels;
  expect(end - start).toBeGreaterThanOrEqual(24_000 * channels); // at least 0.5 s of audio
  return pcm.subarray(start, end);
}

function oggInfo(path: string) {
  const d = new OggOpusDemuxer();
  const ev = [...d.write(readFileSync(path)), ...d.end()];
  const packets = ev.filter((e) => e.type === 'packet') as Array<{ samples: number; packet: Uint8Array }>;
  return { samples: packets.reduce((a, p) => a + p.samples, 0), eos: ev.some((e) => e.type === 'eos'), packets };
}

/**
 * What the recording in `dir` holds on disk so far: its real audio packets (more than 3 bytes) and
 * their samples; zeros while there is no file yet or its last page is still being written.
 */
function onDisk(dir: string): { audioPackets: number; samples: number } {
  try {
    const ogg = readdirSync(dir).filter((f) => f.endsWith('.ogg'));
    if (ogg.length !== 1) return { audioPackets: 0, samples: 0 };
    const info = oggInfo(join(dir, ogg[0]!));
    return { audioPackets: info.packets.filter((p) => p.packet.length > 3).length, samples: info.samples };
  } catch {
    return { audioPackets: 0, samples: 0 };
  }
}

/** Polls every 2 ms with a generous budget against hangs (no timing assertion). */
const POLL = { intervalMs: 2, timeoutMs: 10_000 };

/**
 * A manual clock and the command's embedded emulator on it (`Emulator.start` is mocked once), so
 * that {@link runStepped} drives the emulator and the command as one session.
 */
async function steppedEmulator(): Promise<{ clock: ManualClock; emu: Emulator }> {
  const clock = new ManualClock(0);
  const emu = await Emulator.start({ port: 0, clock });
  emulators.push(emu);
  vi.spyOn(Emulator, 'start').mockResolvedValueOnce(emu);
  return { clock, emu };
}

/**
 * Runs `record` with `args` on `clock` (the clock of `emu`, its embedded emulator) until it
 * returns. Time stays put until all `sessions` subscribe sessions are joining, then moves 1 ms at
 * a time and only once every frame the gateway wrote has reached its subscriber: each packet
 * arrives exactly when the speaker's network model says, however busy the machine is, so the
 * take (and `--duration`, on the same clock) is the same on every run.
 */
async function runStepped(
  args: string[],
  t: ReturnType<typeof io>,
  clock: ManualClock,
  emu: Emulator,
  sessions = 1,
): Promise<number> {
  const streams: UserAudioStream[] = [];
  const subscribe = VoiceReceiver.prototype.subscribe;
  vi.spyOn(VoiceReceiver.prototype, 'subscribe').mockImplementation(function (this: VoiceReceiver, ...a) {
    const s = subscribe.apply(this, a);
    streams.push(s);
    return s;
  });
  let finished = false;
  const run = command.run(args, { ...t.io, clock }).finally(() => (finished = true));
  const subs = () => emu.gateway.sessions().filter((s) => s.endpoint === 'subscribe');
  await until(() => finished || subs().filter((s) => s.state === 'joining').length === sessions, 'joining', POLL);
  const allReceived = () => {
    const written = subs().reduce((n, s) => n + s.framesOut, 0);
    return streams.reduce((n, s) => n + (s.source as VoiceSubscriber).framesReceived, 0) === written;
  };
  for (let ms = 0; ms < 600_000 && !finished; ms++) {
    clock.advance(1);
    await until(() => finished || allReceived(), 'the written frames received', POLL);
    await Promise.resolve();
  }
  return run;
}

describe('argon-voice record (embedded emulator, simulated speaker)', () => {
  it('records --duration seconds: ffmpeg reads the file, duration matches, content is the 440 Hz source', async () => {
    const { clock, emu } = await steppedEmulator();
    const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
    dirs.push(dir);
    const t = io(new AbortController().signal);
    const code = await runStepped(['--out', dir, '--duration', '3', '--mix'], t, clock, emu);
    expect(t.err()).not.toMatch(/error/i);
    expect(code).toBe(0);
    const files = readdirSync(dir).sort();
    const ogg = files.filter((f) => f.endsWith('.ogg'));
    expect(ogg).toHaveLength(1);
    expect(files).toContain('mix.wav');
    const info = oggInfo(join(dir, ogg[0]!));
    expect(info.eos).toBe(true);
    // Session length from the summary line. Audio is placed on the sender's timeline (never after
    // its arrival) and stop() drains the jitter buffer, so nothing is cut: the file (with its
    // 2.5 ms lead-in) is the session, plus at most the last packet's 20 ms and half a frame of
    // loss-fill rounding — one frame per 3 s, where the issue allows one per minute. (The summary
    // prints the session to 10 ms, and tracks end on a 2.5 ms unit.)
    const session = Number(/session: ([\d.]+) s/.exec(t.out())![1]);
    expect(session).toBeGreaterThanOrEqual(3);
    expect(info.samples / 48 - session * 1000).toBeGreaterThanOrEqual(-5 - 2.5);
    expect(info.samples / 48 - session * 1000).toBeLessThanOrEqual(5 + 2.5 + 20 + 10);
    // ffmpeg decodes the whole file to the same length.
    const pcm = await decodeWithFfmpeg(join(dir, ogg[0]!), 1);
    expect(Math.abs(pcm.length - info.samples)).toBeLessThanOrEqual(960);
    // Content: after the start-up (token, subscribe, buffer), the tone dominates.
    const tail = voiced(pcm);
    expect(toneRatio(tail, 440)).toBeGreaterThan(0.3);
    expect(toneRatio(tail, 1000)).toBeLessThan(0.01);
    const mix = await decodeWithFfmpeg(join(dir, 'mix.wav'), 1);
    expect(Math.abs(mix.length - info.samples)).toBeLessThanOrEqual(960);
    expect(toneRatio(voiced(mix), 440)).toBeGreaterThan(0.3);
  });

  it('writes a stereo Ogg Opus mix that ffmpeg reads, as long as the track', async () => {
    const { clock, emu } = await steppedEmulator();
    const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
    dirs.push(dir);
    const t = io(new AbortController().signal);
    const code = await runStepped(['--out', dir, '--duration', '2', '--mix', '--mix-format', 'ogg'], t, clock, emu);
    expect(code).toBe(0);
    const ogg = readdirSync(dir).filter((f) => f.endsWith('.ogg') && f !== 'mix.ogg');
    const track = oggInfo(join(dir, ogg[0]!));
    const mix = await decodeWithFfmpeg(join(dir, 'mix.ogg'), 2);
    expect(oggInfo(join(dir, 'mix.ogg')).eos).toBe(true);
    expect(Math.abs(mix.length / 2 - track.samples)).toBeLessThanOrEqual(960);
    const left = mix.filter((_, i) => i % 2 === 0);
    expect(toneRatio(voiced(left), 440)).toBeGreaterThan(0.3);
  });

  it('stops cleanly on SIGINT (the abort signal): files valid and complete', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
    dirs.push(dir);
    const ctl = new AbortController();
    const t = io(ctl.signal);
    const run = command.run(['--out', dir], t.io);
    // Abort once audio was recorded (and flushed, at least every second): an event, not a guess
    // at how long a busy machine needs to get there.
    await until(() => onDisk(dir).audioPackets > 0, 'recorded audio on disk', { intervalMs: 25, timeoutMs: 30_000 });
    ctl.abort(new Error('received SIGINT'));
    expect(await run).toBe(0);
    const ogg = readdirSync(dir).filter((f) => f.endsWith('.ogg'));
    expect(ogg).toHaveLength(1);
    const info = oggInfo(join(dir, ogg[0]!));
    expect(info.eos).toBe(true);
    expect(info.packets.some((p) => p.packet.length > 3)).toBe(true);
    const pcm = await decodeWithFfmpeg(join(dir, ogg[0]!), 1);
    expect(Math.abs(pcm.length - info.samples)).toBeLessThanOrEqual(960);
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)(
    'a real process killed with %s leaves files ffmpeg reads (valid up to the last flush)',
    async (sig) => {
      const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
      dirs.push(dir);
      const env = { ...process.env };
      delete env.ARGON_TOKEN;
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import('./src/cli/main.ts').then(async (m) => { process.exitCode = await m.main(['record', '--out', ${JSON.stringify(dir)}]); })`,
        ],
        { cwd: join(import.meta.dirname, '../..'), env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (c) => (err += c));
      const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
        child.on('exit', (code, signal) => r({ code, signal })),
      );
      for (let i = 0; i < 400 && !/: subscribed/.test(err); i++) await new Promise((r) => setTimeout(r, 25));
      expect(err).toMatch(/: subscribed/);
      // Kill once two seconds were flushed (at least every second): waited for on disk, not guessed.
      await until(() => onDisk(dir).samples >= 2 * 48_000, '2 s flushed to disk', {
        intervalMs: 25,
        timeoutMs: 30_000,
      });
      child.kill(sig);
      const { code, signal } = await exited;
      const ogg = readdirSync(dir).filter((f) => f.endsWith('.ogg'));
      expect(ogg).toHaveLength(1);
      const info = oggInfo(join(dir, ogg[0]!));
      const pcm = await decodeWithFfmpeg(join(dir, ogg[0]!), 1);
      expect(Math.abs(pcm.length - info.samples)).toBeLessThanOrEqual(960);
      if (sig === 'SIGKILL') {
        expect(signal).toBe('SIGKILL');
        expect(info.samples).toBeGreaterThanOrEqual(48_000); // ≥ 1 s was flushed
      } else {
        expect(code).toBe(0);
        expect(info.eos).toBe(true); // stopped cleanly: EOS written
        expect(info.samples).toBeGreaterThanOrEqual(2 * 48_000);
      }
    },
  );

  it('records two --user in one channel at once, each as its own bot identity: neither kicks the other', async () => {
    // The command's embedded emulator is this one, so the test can make two people speak in it.
    const { clock, emu } = await steppedEmulator();
    const where = { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId };
    const people = [
      { hz: 440, userId: emu.createUser({ username: 'low' }).userId },
      { hz: 660, userId: emu.createUser({ username: 'high' }).userId },
    ];
    const speech: SpeakHandle[] = people.map((p) =>
      emu.joinVoice(p.userId, where).speak({ sine: p.hz, durationMs: 6000, amplitude: 0.4 }),
    );
    const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
    dirs.push(dir);
    const t = io(new AbortController().signal);
    try {
      const args = ['--out', dir, '--duration', '3', ...people.flatMap((p) => ['--user', p.userId])];
      expect(await runStepped(args, t, clock, emu, 2)).toBe(0);
    } finally {
      for (const h of speech) h.stop();
    }
    expect(t.err()).not.toMatch(/warning|error/i);
    // The second user was received as a new emulator bot, not as the default one.
    expect(t.err()).toMatch(new RegExp(`${people[1]!.userId} as emulator bot (?!${emu.bot.userId})`));
    expect(t.err()).toContain(`${people[0]!.userId} as emulator bot ${emu.bot.userId}`);
    const tracks = people.map((p) => {
      const path = join(dir, `${p.userId}.ogg`);
      return { ...p, path, info: oggInfo(path) };
    });
    for (const tr of tracks) expect(tr.info.eos).toBe(true);
    // One session clock: every track ends at the same sample.
    expect(tracks[0]!.info.samples).toBe(tracks[1]!.info.samples);
    expect(tracks[0]!.info.samples).toBeGreaterThanOrEqual(3 * 48_000 - 960);
    for (const tr of tracks) {
      const pcm = await decodeWithFfmpeg(tr.path, 1);
      expect(Math.abs(pcm.length - tr.info.samples)).toBeLessThanOrEqual(960);
      const tail = voiced(pcm);
      const other = tr.hz === 440 ? 660 : 440;
      expect(toneRatio(tail, tr.hz)).toBeGreaterThan(0.3);
      expect(toneRatio(tail, other)).toBeLessThan(0.01);
    }
  });

  it('with ARGON_TOKEN, user n+1 is received as the n-th ARGON_EXTRA_TOKENS; too few: a warning names who shares', async () => {
    const emu = await Emulator.start({ port: 0 });
    emulators.push(emu);
    const extra = emu.createBot({ username: 'extra-ear' });
    emu.addMember(emu.demo.spaceId, extra.userId);
    const [a, b] = emu.demo.userIds;
    const c = emu.createUser({ username: 'carol' }).userId;
    emu.addMember(emu.demo.spaceId, c);
    const dir = mkdtempSync(join(tmpdir(), 'argon-record-'));
    dirs.push(dir);
    const t = io(new AbortController().signal, {
      ARGON_TOKEN: emu.bot.token,
      ARGON_API_URL: emu.apiUrl,
      ARGON_AUDIO_URL: emu.audioUrl,
      ARGON_EXTRA_TOKENS: ` ${extra.token} ,`,
    });
    const code = await command.run(['--out', dir, '--duration', '0.5', '--user', a, '--user', b, '--user', c], t.io);
    expect(code).toBe(0);
    const err = t.err();
    expect(err).toContain(`identities: ${a} as ARGON_TOKEN, ${b} as ARGON_EXTRA_TOKENS #1, ${c} as ARGON_TOKEN`);
    expect(err).toMatch(
      new RegExp(`warning: 3 users but only 2 bot identities .*: ${a}, ${c} share the ARGON_TOKEN identity`),
    );
    // The receiver also names the pair that shares a client; b (its own identity) is in no warning.
    expect(err).toMatch(new RegExp(`warning: subscribing to ${c} and ${a} in .* with the same bot identity`));
    expect(err.split('\n').filter((l) => l.startsWith('warning:') && l.includes(b))).toEqual([]);
    for (const secret of [emu.bot.token, extra.token]) {
      expect(err).not.toContain(secret);
      expect(t.out()).not.toContain(secret);
    }
  });

  it('needs --out', async () => {
    const t = io(new AbortController().signal);
    await expect(command.run([], t.io)).rejects.toThrow(/--out/);
  });
});
