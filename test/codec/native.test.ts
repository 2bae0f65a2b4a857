// The native addon (native/argon_voice_native.c) through its loader (src/codec/native.ts).
//
// These tests FAIL, not skip, when the addon is missing: CI builds it at `npm ci`, so a missing
// addon is a broken build. The JS fallbacks are exercised by forcing ARGON_VOICE_NO_NATIVE=1 in a
// child process (the loader caches its outcome per process, so the fallback needs a fresh one).
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { codecInfo } from '../../src/codec/codec-info.js';
import { loadNative, type NativeAddon, nativeAddonPath, nativeLoadError } from '../../src/codec/native.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(root, 'package.json'));
const { OpusEncoder: DiscordOpus } = require('@discordjs/opus') as {
  OpusEncoder: new (rate: number, channels: number) => { encode(b: Buffer): Buffer; decode(b: Buffer): Buffer };
};

function addon(): NativeAddon {
  const a = loadNative();
  if (!a) throw new Error(`the native addon must load on this machine (CI builds it): ${nativeLoadError()}`);
  return a;
}

/** 20 ms stereo frames of a chirp (left) and a tone (right), encoded by @discordjs/opus. */
function encodeStereo(frames: number): Buffer[] {
  const enc = new DiscordOpus(48000, 2);
  const out: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const b = Buffer.alloc(960 * 4);
    for (let j = 0; j < 960; j++) {
      const t = (i * 960 + j) / 48000;
      b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * (200 + 800 * t) * t)), j * 4);
      b.writeInt16LE(Math.round(6000 * Math.sin(2 * Math.PI * 330 * t)), j * 4 + 2);
    }
    out.push(enc.encode(b));
  }
  return out;
}

/** Runs `code` in a worker thread with `addonPath` in workerData; resolves its first message. */
function inWorker<T>(code: string, addonPath: string): Promise<T> {
  return new Promise<T>((res, rej) => {
    const w = new Worker(code, { eval: true, workerData: { addonPath } });
    w.once('message', (m: T) => {
      res(m);
      void w.terminate();
    });
    w.once('error', rej);
    w.once('exit', (c) => rej(new Error(`worker exited with ${c} before answering`)));
  });
}

describe('loader', () => {
  it('loads build/Release/argon_voice_native.node on this machine', () => {
    const a = addon();
    expect(nativeLoadError()).toBeUndefined();
    expect(nativeAddonPath()).toBe(join(root, 'build', 'Release', 'argon_voice_native.node'));
    expect(a.abiVersion).toBe(1);
    expect(a.libopusVersion()).toMatch(/^libopus \d+\.\d+/);
    expect(a.maxFrameSamples).toBe(5760);
  });

  it('caches: repeated loads return the same module object', () => {
    expect(loadNative()).toBe(loadNative());
  });

  it('codecInfo reports the addon, exact PLC, FEC and the native pacer clock', () => {
    const info = codecInfo();
    expect(info.decoder).toBe('native-addon');
    expect(info.plc).toBe('exact');
    expect(info.fec).toBe(true);
    expect(info.pacerClock).toBe('native-abs-sleep');
    expect(info.libopusVersion).toBe(addon().libopusVersion());
    expect(info.addonError).toBeUndefined();
    expect(['native', 'wasm']).toContain(info.encoder);
  });

  it('ARGON_VOICE_NO_NATIVE=1 forces every fallback, and the fallback decoder works', async () => {
    const script = `
      const { loadNative, nativeLoadError } = await import(${JSON.stringify(join(root, 'src/codec/native.ts'))});
      const { codecInfo } = await import(${JSON.stringify(join(root, 'src/codec/codec-info.ts'))});
      const { OpusDecoder } = await import(${JSON.stringify(join(root, 'src/codec/opus-decoder.ts'))});
      const dec = new OpusDecoder({ channels: 1 });
      const plc = dec.conceal(240);
      let nativeError = '';
      try { new OpusDecoder({ channels: 1, backend: 'native' }); } catch (e) { nativeError = e.code + ' ' + e.message; }
      console.log(JSON.stringify({ loaded: loadNative() !== undefined, error: nativeLoadError(), info: codecInfo(),
        backend: dec.backend, exactPlc: dec.exactPlc, plcLength: plc.length, nativeError }));
    `;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, env: { ...process.env, ARGON_VOICE_NO_NATIVE: '1' } },
    );
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as {
      loaded: boolean;
      error: string;
      info: ReturnType<typeof codecInfo>;
      backend: string;
      exactPlc: boolean;
      plcLength: number;
      nativeError: string;
    };
    expect(r.loaded).toBe(false);
    expect(r.error).toContain('ARGON_VOICE_NO_NATIVE=1');
    expect(r.info.decoder).toBe('discordjs-opus');
    expect(r.info.plc).toBe('approximate');
    expect(r.info.fec).toBe(false);
    expect(r.info.pacerClock).toBe('js');
    expect(r.info.addonError).toContain('ARGON_VOICE_NO_NATIVE=1');
    expect(r.info.libopusVersion).toBeUndefined();
    expect(r.backend).toBe('discordjs');
    expect(r.exactPlc).toBe(false);
    expect(r.plcLength).toBe(240);
    expect(r.nativeError).toMatch(/^ARGON_VOICE_DEPENDENCY .*ARGON_VOICE_NO_NATIVE=1/);
  });
});

describe('Decoder', () => {
  it('decodes a real stream exactly like @discordjs/opus (same libopus sources)', () => {
    const packets = encodeStereo(50);
    const reference = new DiscordOpus(48000, 2);
    const dec = new (addon().Decoder)(48000, 2);
    const out = new Int16Array(5760 * 2);
    let maxDiff = 0;
    let differing = 0;
    let total = 0;
    let energy = 0;
    for (const p of packets) {
      const n = dec.decodeInto(p, out, false);
      const ref = reference.decode(p);
      expect(n).toBe(960);
      expect(ref.length).toBe(n * 2 * 2);
      for (let k = 0; k < n * 2; k++) {
        const d = Math.abs(out[k]! - ref.readInt16LE(k * 2));
        if (d > maxDiff) maxDiff = d;
        if (d !== 0) differing++;
        energy += out[k]! * out[k]!;
        total++;
      }
    }
    // Same sources, different optimisation flags: allow float rounding, nothing more.
    expect(maxDiff).toBeLessThanOrEqual(1);
    expect(differing / total).toBeLessThan(0.001);
    expect(energy / total).toBeGreaterThan(1e6); // it decoded audio, not silence
    dec.close();
  });

  it.each([120, 240, 480, 960, 1920, 2880])('concealInto writes exactly %i samples per channel', (n) => {
    const a = addon();
    const packets = encodeStereo(10);
    const dec = new a.Decoder(48000, 2);
    const scratch = new Int16Array(5760 * 2);
    for (const p of packets) dec.decodeInto(p, scratch, false);
    // One sample past the requested span is a sentinel that must survive.
    const backing = new Int16Array(n * 2 + 1).fill(12345);
    const out = backing.subarray(0, n * 2);
    expect(dec.concealInto(out)).toBe(n);
    expect(dec.lastPacketDuration()).toBe(n);
    expect(backing[n * 2]).toBe(12345);
    let energy = 0;
    for (const v of out) energy += v * v;
    expect(energy).toBeGreaterThan(0); // real concealment of the tone, not zeros
    dec.close();
  });

  it('@discordjs/opus cannot do that: an empty buffer always conceals its fixed 120 ms', () => {
    // Pins the reason this addon exists (and what the fallback in opus-decoder.ts works around).
    const d = new DiscordOpus(48000, 1);
    expect(d.decode(Buffer.alloc(0)).length / 2).toBe(5760);
  });

  it('fec=true: the output length sets the duration; the part FEC cannot cover is concealed', () => {
    const a = addon();
    const packets = encodeStereo(6);
    const dec = new a.Decoder(48000, 2);
    const scratch = new Int16Array(5760 * 2);
    dec.decodeInto(packets[0]!, scratch, false);
    expect(dec.decodeInto(packets[2]!, new Int16Array(960 * 2), true)).toBe(960);
    expect(dec.decodeInto(packets[3]!, new Int16Array(1920 * 2), true)).toBe(1920); // 20 ms PLC + 20 ms
    expect(dec.decodeInto(packets[4]!, new Int16Array(480 * 2), true)).toBe(480); // shorter than the packet: PLC
    expect(dec.decodeInto(packets[5]!, scratch, false)).toBe(960);
    expect(dec.lastPacketDuration()).toBe(960);
  });

  it('throws libopus errors as Errors with an OPUS_* code and stays usable', () => {
    const a = addon();
    const dec = new a.Decoder(48000, 1);
    const out = new Int16Array(5760);
    const bad = new Uint8Array([0xff, 0xff, 0xff, 0xff]); // code 3, 63 frames: > 120 ms
    expect(() => dec.decodeInto(bad, out, false)).toThrow(expect.objectContaining({ code: 'OPUS_INVALID_PACKET' }));
    expect(() => dec.decodeInto(new Uint8Array(0), out, false)).toThrow(
      expect.objectContaining({ code: 'OPUS_INVALID_PACKET' }),
    );
    expect(() => dec.concealInto(new Int16Array(100))).toThrow(expect.objectContaining({ code: 'OPUS_BAD_ARG' }));
    // Too small for a 20 ms packet: libopus says so instead of writing past the end.
    const [p] = encodeStereo(1);
    const stereo = new a.Decoder(48000, 2);
    expect(() => stereo.decodeInto(p!, new Int16Array(480 * 2), false)).toThrow(
      expect.objectContaining({ code: 'OPUS_BUFFER_TOO_SMALL' }),
    );
    expect(() => dec.decodeInto(bad, new Float32Array(10) as unknown as Int16Array, false)).toThrow(TypeError);
    expect(() => new a.Decoder(44100, 1)).toThrow(expect.objectContaining({ code: 'OPUS_BAD_ARG' }));
    expect(() => new a.Decoder(48000, 3 as 1)).toThrow(RangeError);
    expect(dec.concealInto(new Int16Array(960))).toBe(960);
  });

  it('close() is idempotent and later calls throw instead of touching freed memory', () => {
    const dec = new (addon().Decoder)(48000, 1);
    dec.close();
    dec.close();
    expect(() => dec.concealInto(new Int16Array(960))).toThrow(/closed/);
    expect(() => dec.reset()).toThrow(/closed/);
  });
});

describe('clock and scheduling', () => {
  it('monotonicNs never goes backwards', () => {
    const a = addon();
    let prev = a.monotonicNs();
    expect(typeof prev).toBe('bigint');
    for (let i = 0; i < 10_000; i++) {
      const now = a.monotonicNs();
      expect(now >= prev).toBe(true);
      prev = now;
    }
  });

  it('sleepUntilNs returns no earlier than the deadline', () => {
    const a = addon();
    for (const aheadNs of [0n, 100_000n, 1_000_000n, 3_000_000n]) {
      const deadline = a.monotonicNs() + aheadNs;
      a.sleepUntilNs(deadline);
      expect(a.monotonicNs() >= deadline).toBe(true);
    }
    // A deadline in the past returns at once (no error, no wrap-around into a huge sleep).
    a.sleepUntilNs(1n);
    expect(() => a.sleepUntilNs(5 as unknown as bigint)).toThrow(TypeError);
    expect(() => a.sleepUntilNs(-1n)).toThrow(RangeError);
  });

  it('loads in worker threads (context-aware), and SCHED_FIFO applies to the calling thread only', async () => {
    const path = nativeAddonPath()!;
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      const a = require(workerData.addonPath);
      const before = a.getThreadPolicy();
      const rt = a.setRealtimePriority(10);
      const after = a.getThreadPolicy();
      const dec = new a.Decoder(48000, 1);
      const n = dec.concealInto(new Int16Array(480));
      const t = a.monotonicNs() + 1000000n;
      a.sleepUntilNs(t);
      parentPort.postMessage({ before, rt, after, n, woke: a.monotonicNs() >= t });
    `;
    type Answer = {
      before: { policy: string };
      rt: { ok: boolean; policy: string; priority: number; error?: string };
      after: { policy: string; priority: number };
      n: number;
      woke: boolean;
    };
    // Two workers at once: each environment initialises its own instance of the module.
    const [r1, r2] = await Promise.all([inWorker<Answer>(code, path), inWorker<Answer>(code, path)]);
    for (const r of [r1, r2]) {
      expect(r.n).toBe(480);
      expect(r.woke).toBe(true);
      expect(typeof r.rt.ok).toBe('boolean');
      expect(typeof r.rt.policy).toBe('string');
      if (process.getuid?.() === 0) {
        expect(r.rt).toEqual({ ok: true, policy: 'fifo', priority: 10 });
        expect(r.after).toEqual({ policy: 'fifo', priority: 10 });
      } else if (!r.rt.ok) {
        expect(r.rt.error).toMatch(/\w/);
        expect(r.after.policy).toBe(r.before.policy);
      }
    }
    // The main thread was never touched.
    expect(addon().getThreadPolicy().policy).not.toBe('fifo');
  });

  it('setRealtimePriority rejects an out-of-range priority with a structured result', () => {
    const a = addon();
    const r = a.setRealtimePriority(1000);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/1\.\.99/);
    expect(r.policy).toBe(a.getThreadPolicy().policy);
  });
});
