/**
 * `argon-voice answer` without ARGON_TOKEN: the embedded emulator, a simulated caller, the echo
 * flow, and a clean stop on the abort signal (Ctrl-C) or --duration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { toneSource } from '../../src/calls/echo.js';
import { command } from '../../src/cli/commands/answer.js';
import type { CliIo } from '../../src/cli/main.js';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';

function capture(signal: AbortSignal) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    for (const w of [...waiters]) {
      if (w.re.test(out)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const io: CliIo = { stdout, stderr, env: {}, signal };
  return {
    io,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    waitFor(re: RegExp) {
      return re.test(out) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ re, resolve }));
    },
  };
}

describe('argon-voice answer (embedded emulator)', () => {
  it('answers the simulated call with the echo flow and a --greeting file, prints what happened, and exits 0 on Ctrl-C', async () => {
    // A 12-frame Ogg Opus greeting (passed through untouched).
    const dir = mkdtempSync(join(tmpdir(), 'argon-answer-'));
    const greeting = join(dir, 'hello.ogg');
    const mux = new OggOpusMuxer({ channels: 1 });
    const parts = [mux.headers()];
    for await (const f of toneSource([[500, 240]])) parts.push(mux.write(f as Uint8Array, 960));
    parts.push(mux.end());
    writeFileSync(greeting, Buffer.concat(parts));
    const ctl = new AbortController();
    const c = capture(ctl.signal);
    const running = command
      .run(['--greeting', greeting, '--record-seconds', '0.5'], c.io)
      .finally(() => rmSync(dir, { recursive: true, force: true }));
    await c.waitFor(/alice heard \d+ frames/);
    ctl.abort(new Error('received SIGINT'));
    expect(await running).toBe(0);
    const lines = c.out.trim().split('\n');
    const order = [
      /answering calls as .* with policy 'accept' on the embedded emulator; Ctrl-C to stop/,
      /emulator: alice \(.*\) calls the bot/,
      /call .* from .* \(locale en\): ringing/,
      /call .*: accepted, audio connected/,
      /call .*: playing the greeting \(file\)/,
      /call .*: recording the caller for 0.5 s/,
      /call .*: playing back \d+ recorded frames/,
      /call .*: echo done \(greeting 12 frames, recorded \d+, dropped 0 DTX, played back \d+\)/,
      /call .*: ended \(hung-up: done\)/,
      /emulator: the call ended \(hangup\); alice heard \d+ frames from the bot/,
      /^stopping$/,
    ];
    let at = 0;
    for (const re of order) {
      const i = lines.findIndex((l, k) => k >= at && re.test(l));
      expect(i, `${re} after line ${at} in:\n${c.out}`).toBeGreaterThanOrEqual(at);
      at = i + 1;
    }
    const played = Number(/playing back (\d+) recorded frames/.exec(c.out)![1]);
    expect(played).toBeGreaterThan(0);
    const heard = Number(/alice heard (\d+) frames/.exec(c.out)![1]);
    expect(heard).toBeGreaterThan(12 + played);
    // Never a token in the output (the duplex URL carries one in its query).
    expect(c.out + c.err).not.toMatch(/eyJ|token=/);
    expect(c.err).toBe('');
  });

  it('Ctrl-C during a call hangs it up before exiting 0', async () => {
    const ctl = new AbortController();
    const c = capture(ctl.signal);
    const running = command.run(['--no-tts', '--record-seconds', '30'], c.io);
    await c.waitFor(/recording the caller for 30 s/);
    ctl.abort(new Error('received SIGINT'));
    expect(await running).toBe(0);
    expect(c.out).toMatch(/stopping: hanging up 1 live call\n/);
    expect(c.out).toMatch(/call .*: ended \(shutdown: bot shutting down\)/);
    expect(c.out).toMatch(/emulator: the call ended \(hangup\); alice heard \d+ frames/);
    expect(c.out).not.toMatch(/echo done/);
  });

  it('with --policy reject and --duration it rejects the call and stops by itself', async () => {
    const ctl = new AbortController();
    const c = capture(ctl.signal);
    const code = await command.run(['--policy', 'reject', '--duration', '3'], c.io);
    expect(code).toBe(0);
    expect(c.out).toMatch(/call .*: rejected \(not accepting calls\)/);
    expect(c.out).toMatch(/emulator: the call was not answered \(rejected\)/);
    expect(c.out).not.toMatch(/accepted, audio connected/);
    expect(c.out).toMatch(/stopping after 3 s/);
  });

  it('refuses bad options before connecting', async () => {
    const c = capture(new AbortController().signal);
    await expect(command.run(['--policy', 'sometimes'], c.io)).rejects.toThrow(/unknown --policy part 'sometimes'/);
    await expect(command.run(['--record-seconds', '0'], c.io)).rejects.toThrow(/--record-seconds/);
    await expect(command.run(['--duration', '-1'], c.io)).rejects.toThrow(/--duration/);
    await expect(command.run(['extra'], c.io)).rejects.toThrow(/no arguments/);
    expect(c.out).toBe('');
  });
});
