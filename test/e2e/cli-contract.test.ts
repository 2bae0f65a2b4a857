/**
 * The product's end-to-end contract: the `argon-voice` commands and the ARGON_API_URL,
 * ARGON_TOKEN, ARGON_SPACE_ID, ARGON_CHANNEL_ID variables, exercised from outside (a child
 * process) against a stand-in platform (the emulator, started separately).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { isGatewaySafe } from '../../src/codec/opus-packet.js';
import { Emulator } from '../../src/emulator/index.js';
import { decodeWithFfmpeg, makeOggOpus } from '../helpers/fixtures.js';

const entry = join(dirname(fileURLToPath(import.meta.url)), 'cli-entry.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process; `onStdout` may send it a signal. */
function cli(
  args: string[],
  env: Record<string, string>,
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CI: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b;
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

let emu: Emulator;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  emu = await Emulator.start({ port: 0, audioPort: 0, timings: { joinDelayMs: 0 } });
  env = {
    ARGON_API_URL: emu.apiUrl,
    ARGON_TOKEN: emu.bot.token,
    ARGON_SPACE_ID: emu.demo.spaceId,
    ARGON_CHANNEL_ID: emu.demo.voiceChannelId,
  };
  dir = await mkdtemp(join(tmpdir(), 'argon-e2e-'));
});

afterAll(async () => {
  await emu?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('argon-voice emulator', () => {
  it('prints its base URL, a token line and the demo ids, and exits 0 on SIGINT', async () => {
    let sent = false;
    const run = await cli(['emulator', '--port', '0'], {}, (out, child) => {
      if (!sent && /voice channel: /.test(out)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/http:\/\/127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/^token: [0-9A-F]{32}:[A-Za-z0-9_-]{43}$/m);
    expect(run.stdout).toMatch(/space: [0-9a-f-]{36}/);
    expect(run.stdout).toMatch(/voice channel: [0-9a-f-]{36}/);
  });
});

describe('argon-voice play', () => {
  it('plays an Ogg Opus file out to the platform named by the ARGON_* variables and exits 0', async () => {
    const file = await makeOggOpus({ durationS: 2, frameDurationMs: 20 });
    emu.gateway.clearPublished();
    // stretch: a late slot waits instead of being skipped (burst, the default, skips past 200 ms
    // of lateness), so "every packet went out" cannot depend on how busy the machine is.
    const run = await cli(['play', file, '--late-policy', 'stretch'], env);
    expect(run.stderr + run.stdout).not.toContain(emu.bot.token);
    expect(run.code).toBe(0);
    const frames = emu.gateway.published({ identity: emu.bot.userId });
    // Every packet of the file went out, byte for byte, in order. Around it only the 3-byte
    // silence of the pre-roll and of the keepalive: how much of that a run sends depends on how
    // fast a (busy) machine opens the file, so it is not counted.
    const demux = new OggOpusDemuxer();
    const packets = [...demux.write(readFileSync(file)), ...demux.end()].flatMap((e) =>
      e.type === 'packet' ? [Buffer.from(e.packet).toString('hex')] : [],
    );
    expect(packets.length).toBeGreaterThanOrEqual(100); // 2 s of audio at 20 ms
    const silence = (d: Uint8Array) => d.length === 3 && d[0] === 0xf8 && d[1] === 0xff && d[2] === 0xfe;
    expect(frames.filter((f) => !silence(f.data)).map((f) => Buffer.from(f.data).toString('hex'))).toEqual(packets);
    expect(frames.every((f) => isGatewaySafe(f.data, 20))).toBe(true);
    expect(new Set(frames.map((f) => f.room))).toEqual(new Set([`${emu.demo.spaceId}/${emu.demo.voiceChannelId}`]));
  });

  it('fails with a clear message and a non-zero code for a file that does not exist', async () => {
    const run = await cli(['play', join(dir, 'nope.ogg')], env);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/nope\.ogg/);
    expect(run.stderr).not.toContain(emu.bot.token);
  });

  it('fails cleanly with a wrong token, without printing it', async () => {
    const bad = `${'A'.repeat(32)}:${'b'.repeat(43)}`;
    const run = await cli(['play', await makeOggOpus({ durationS: 1 })], { ...env, ARGON_TOKEN: bad });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/401/);
    expect(run.stderr + run.stdout).not.toContain(bad);
  });
});

describe('argon-voice record', () => {
  it('records a speaking user to a valid Ogg file for --duration seconds', async () => {
    const { userId } = emu.createUser({ username: 'speaker-e2e' });
    const p = emu.joinVoice(userId, { spaceId: emu.demo.spaceId, channelId: emu.demo.voiceChannelId });
    const speech = p.speak({ sine: 440, durationMs: 10_000 }, { realtime: true });
    const out = join(dir, 'rec');
    try {
      const run = await cli(['record', '--user', userId, '--out', out, '--duration', '2'], env);
      expect(run.stderr).not.toContain(emu.bot.token);
      expect(run.code).toBe(0);
    } finally {
      speech.stop();
      p.leave();
    }
    const files = readdirSync(out).filter((f) => f.endsWith('.ogg'));
    expect(files.length).toBeGreaterThanOrEqual(1);
    const pcm = await decodeWithFfmpeg(join(out, files[0]!));
    // The session clock fills gaps, so the track lasts the whole --duration (2 s at 48 kHz).
    expect(pcm.length).toBeGreaterThan(48_000);
  });
});

describe('argon-voice answer', () => {
  it('answers a call placed on the platform, then exits 0 at --duration and hangs up', async () => {
    const callerId = emu.demo.userIds[0]!;
    let placed: ReturnType<Emulator['placeCall']> | undefined;
    const run = await cli(['answer', '--duration', '4', '--record-seconds', '1'], env, (out) => {
      if (!placed && /answering calls as /.test(out))
        placed = emu.placeCall({ fromUserId: callerId, toBotUserId: emu.bot.userId });
    });
    expect(run.stderr + run.stdout).not.toContain(emu.bot.token);
    expect(run.code).toBe(0);
    expect(placed).toBeDefined();
    await expect(placed!.accepted).resolves.toBeUndefined();
    expect(run.stdout).toMatch(new RegExp(`call ${placed!.callId}: accepted`));
    // The caller heard the bot: frames from the bot's identity in the call room.
    const heard = emu.gateway.published({ room: placed!.roomName, identity: emu.bot.userId });
    expect(heard.length).toBeGreaterThan(0);
    expect(heard.every((f) => isGatewaySafe(f.data, 20))).toBe(true);
  });
});

describe('argon-voice --help', () => {
  it('lists every command and each command has --help', async () => {
    const run = await cli(['--help'], {});
    expect(run.code).toBe(0);
    for (const c of ['emulator', 'play', 'record', 'answer', 'bench', 'demo']) {
      expect(run.stdout).toContain(c);
    }
    for (const c of ['emulator', 'play', 'record', 'answer', 'bench']) {
      const h = await cli([c, '--help'], {});
      expect(h.code).toBe(0);
      expect(h.stdout.length).toBeGreaterThan(40);
    }
    expect(existsSync(entry)).toBe(true);
  });
});
