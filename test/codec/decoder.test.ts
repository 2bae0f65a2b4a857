// OpusDecoder on every backend: the native addon (must be present: CI builds it) and the two
// fallbacks, selected explicitly with `backend`, so the fallback paths run on this machine too.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { ClosedError, DependencyError, InvalidInputError } from '../../src/errors.js';
import { loadNative, nativeLoadError } from '../../src/codec/native.js';
import { type DecoderBackend, decoderBackend, OpusDecoder } from '../../src/codec/opus-decoder.js';
import { seededRandom } from '../../src/util/random.js';

const require = createRequire(import.meta.url);
interface DiscordOpus {
  encode(b: Buffer): Buffer;
  decode(b: Buffer): Buffer;
  setBitrate(b: number): void;
  applyEncoderCTL(ctl: number, v: number): void;
}
const { OpusEncoder: DiscordOpus } = require('@discordjs/opus') as {
  OpusEncoder: new (rate: number, channels: number) => DiscordOpus;
};

const FRAME = 960; // 20 ms at 48 kHz

/**
 * A voice-like mono signal: a glottal pulse train with a wandering pitch (110-170 Hz) through three
 * formant resonators, a syllable-rate envelope and a little breath noise. Speech-shaped enough that
 * libopus picks SILK/hybrid mode, which is where in-band FEC (LBRR) exists.
 */
function voice(samples: number, seed: number): Int16Array {
  const rnd = seededRandom(seed);
  const fs = 48000;
  const formants = [
    [700, 130],
    [1220, 70],
    [2600, 160],
  ] as const;
  const coef = formants.map(([f, bw]) => {
    const r = Math.exp((-Math.PI * bw) / fs);
    return [2 * r * Math.cos((2 * Math.PI * f) / fs), -r * r] as const;
  });
  const state = formants.map(() => [0, 0]);
  const out = new Int16Array(samples);
  let phase = 0;
  for (let i = 0; i < samples; i++) {
    const t = i / fs;
    phase += (140 + 30 * Math.sin(2 * Math.PI * 1.3 * t)) / fs;
    let excitation = (rnd() - 0.5) * 0.05;
    if (phase >= 1) {
      phase -= 1;
      excitation += 1;
    }
    let y = 0;
    for (let k = 0; k < 3; k++) {
      const [a1, a2] = coef[k]!;
      const s = state[k]!;
      const v = excitation + a1 * s[0]! + a2 * s[1]!;
      s[1] = s[0]!;
      s[0] = v;
      y += v / (k + 1);
    }
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    out[i] = Math.max(-32768, Math.min(32767, Math.round(y * 1500 * envelope)));
  }
  return out;
}

/** Encodes `pcm` in 20 ms mono frames: 24 kb/s, voice, in-band FEC on, tuned for 20 % loss. */
function encodeVoiceWithFec(pcm: Int16Array): Buffer[] {
  const enc = new DiscordOpus(48000, 1);
  enc.setBitrate(24000);
  enc.applyEncoderCTL(4024, 3001); // OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)
  enc.applyEncoderCTL(4012, 1); // OPUS_SET_INBAND_FEC(1)
  enc.applyEncoderCTL(4014, 20); // OPUS_SET_PACKET_LOSS_PERC(20)
  const packets: Buffer[] = [];
  for (let off = 0; off + FRAME <= pcm.length; off += FRAME) {
    packets.push(enc.encode(Buffer.from(pcm.buffer, pcm.byteOffset + off * 2, FRAME * 2)));
  }
  return packets;
}

/** 20 ms stereo frames of two tones. */
function encodeTones(frames: number): Buffer[] {
  const enc = new DiscordOpus(48000, 2);
  const out: Buffer[] = [];
  for (let i = 0; i < frames; i++) {
    const b = Buffer.alloc(FRAME * 4);
    for (let j = 0; j < FRAME; j++) {
      const t = (i * FRAME + j) / 48000;
      b.writeInt16LE(Math.round(9000 * Math.sin(2 * Math.PI * 440 * t)), j * 4);
      b.writeInt16LE(Math.round(7000 * Math.sin(2 * Math.PI * 660 * t)), j * 4 + 2);
    }
    out.push(enc.encode(b));
  }
  return out;
}

function snrDb(reference: Int16Array, test: Int16Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i]! ** 2;
    noise += (reference[i]! - test[i]!) ** 2;
  }
  return 10 * Math.log10(signal / noise);
}

function energy(pcm: Int16Array): number {
  let e = 0;
  for (const v of pcm) e += v * v;
  return e / pcm.length;
}

const BACKENDS: DecoderBackend[] = ['native', 'discordjs', 'wasm'];

describe('backend selection', () => {
  it('auto picks the native addon on this machine (CI builds it)', () => {
    expect(loadNative(), `addon failed to load: ${nativeLoadError()}`).toBeDefined();
    expect(decoderBackend()).toBe('native');
    const dec = new OpusDecoder({ channels: 1 });
    expect(dec.backend).toBe('native');
    expect(dec.exactPlc).toBe(true);
    expect(dec.fecSupported).toBe(true);
    dec.close();
  });

  it('fallback backends say what they cannot do', () => {
    for (const backend of ['discordjs', 'wasm'] as const) {
      const dec = new OpusDecoder({ channels: 2, backend });
      expect(dec.backend).toBe(backend);
      expect(dec.exactPlc).toBe(false);
      expect(dec.fecSupported).toBe(false);
      dec.close();
    }
  });

  it('rejects bad options with InvalidInputError', () => {
    expect(() => new OpusDecoder({ channels: 3 as 1 })).toThrow(InvalidInputError);
    expect(() => new OpusDecoder({ channels: 1, sampleRate: 44100 as 48000 })).toThrow(InvalidInputError);
    expect(() => new OpusDecoder({ channels: 1, backend: 'ffmpeg' as 'wasm' })).toThrow(InvalidInputError);
    // DependencyError is reserved for an unavailable backend (covered with ARGON_VOICE_NO_NATIVE=1
    // in native.test.ts); it is a different class from a bad option.
    expect(new DependencyError('x')).not.toBeInstanceOf(InvalidInputError);
  });
});

describe.each(BACKENDS)('OpusDecoder (%s)', (backend) => {
  it('decodes a real stream to the same PCM as @discordjs/opus', () => {
    const packets = encodeTones(30);
    const reference = new DiscordOpus(48000, 2);
    const dec = new OpusDecoder({ channels: 2, backend });
    const ours: number[] = [];
    const theirs: number[] = [];
    for (const p of packets) {
      const pcm = dec.decode(p);
      expect(pcm.length).toBe(FRAME * 2);
      expect(dec.lastPacketDuration).toBe(FRAME);
      const ref = reference.decode(p);
      for (let k = 0; k < pcm.length; k++) {
        ours.push(pcm[k]!);
        theirs.push(ref.readInt16LE(k * 2));
      }
    }
    const snr = snrDb(Int16Array.from(theirs), Int16Array.from(ours));
    // The addon and @discordjs/opus compile the same libopus sources (bit-exact or off by float
    // rounding); opusscript is another libopus build, still transparent at this level.
    expect(snr).toBeGreaterThan(backend === 'wasm' ? 40 : 80);
    dec.close();
  });

  it('decodeInto writes into the caller buffer and leaves the rest alone', () => {
    const [p] = encodeTones(1);
    const dec = new OpusDecoder({ channels: 2, backend });
    const out = new Int16Array(5760 * 2).fill(-7);
    expect(dec.decodeInto(p!, out)).toBe(FRAME);
    expect(out[FRAME * 2]).toBe(-7);
    expect(energy(out.subarray(0, FRAME * 2))).toBeGreaterThan(0);
    expect(() => dec.decodeInto(p!, new Int16Array(FRAME * 2 - 1))).toThrow(InvalidInputError);
    expect(() => dec.decodeInto(p!, new Int16Array(240 * 2))).toThrow(InvalidInputError);
  });

  it.each([120, 240, 480, 960, 1920, 2880])('conceal(%i) returns exactly that many samples per channel', (n) => {
    const dec = new OpusDecoder({ channels: 2, backend });
    for (const p of encodeTones(10)) dec.decode(p);
    const plc = dec.conceal(n);
    expect(plc.length).toBe(n * 2);
    expect(dec.lastPacketDuration).toBe(n);
    expect(energy(plc)).toBeGreaterThan(0); // concealment continues the tones
    dec.close();
  });

  it('conceal accepts long gaps in many calls and then decodes again', () => {
    const packets = encodeTones(20);
    const dec = new OpusDecoder({ channels: 2, backend });
    for (const p of packets.slice(0, 5)) dec.decode(p);
    let total = 0;
    for (let i = 0; i < 25; i++) total += dec.conceal(240).length / 2; // 150 ms in 6 ms steps
    expect(total).toBe(25 * 240);
    for (const p of packets.slice(5)) expect(dec.decode(p).length).toBe(FRAME * 2);
  });

  it('rejects a duration that is not a positive multiple of 2.5 ms', () => {
    const dec = new OpusDecoder({ channels: 1, backend });
    for (const bad of [0, -120, 100, 961, 120.5, Number.NaN]) {
      expect(() => dec.conceal(bad)).toThrow(InvalidInputError);
      expect(() => dec.decodeFec(new Uint8Array([0xf8, 0xff, 0xfe]), bad)).toThrow(InvalidInputError);
    }
    expect(() => dec.concealInto(new Int16Array(100))).toThrow(InvalidInputError);
  });

  it('throws a typed InvalidInputError for corrupt packets and keeps working (fuzz, never crash)', () => {
    const packets = encodeTones(4);
    const dec = new OpusDecoder({ channels: 2, backend });
    expect(() => dec.decode(new Uint8Array([0xff, 0xff, 0xff, 0xff]))).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', code: 'ARGON_VOICE_INVALID_PACKET' }),
    );
    expect(() => dec.decode(new Uint8Array(0))).toThrow(
      expect.objectContaining({ code: 'ARGON_VOICE_INVALID_PACKET' }),
    );
    expect(() => dec.decode('abc' as unknown as Uint8Array)).toThrow(InvalidInputError);
    const rnd = seededRandom(7);
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      // Random packets, plus real packets with random bytes flipped or truncated.
      let p: Uint8Array;
      if (i % 3 === 0) {
        p = new Uint8Array(1 + Math.floor(rnd() * 400)).map(() => Math.floor(rnd() * 256));
      } else {
        p = Uint8Array.from(packets[i % packets.length]!);
        p[Math.floor(rnd() * p.length)] = Math.floor(rnd() * 256);
        if (i % 3 === 2) p = p.subarray(0, 1 + Math.floor(rnd() * p.length));
      }
      try {
        const pcm = dec.decode(p);
        expect(pcm.length % 2).toBe(0);
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidInputError);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(0);
    expect(dec.decode(packets[0]!).length).toBe(FRAME * 2);
  });

  it('reset() and close() lifecycle: close is idempotent, later calls throw ClosedError', () => {
    const [p] = encodeTones(1);
    const dec = new OpusDecoder({ channels: 2, backend });
    dec.decode(p!);
    dec.reset();
    expect(dec.decode(p!).length).toBe(FRAME * 2);
    dec.close();
    dec.close();
    expect(dec.closed).toBe(true);
    expect(() => dec.decode(p!)).toThrow(ClosedError);
    expect(() => dec.conceal(960)).toThrow(ClosedError);
    expect(() => dec.decodeFec(p!, 960)).toThrow(ClosedError);
    expect(() => dec.reset()).toThrow(ClosedError);
  });

  it('a fresh decoder after reset() decodes like a new one', () => {
    const packets = encodeTones(8);
    const a = new OpusDecoder({ channels: 2, backend });
    for (const p of packets.slice(0, 4)) a.decode(p);
    a.reset();
    const b = new OpusDecoder({ channels: 2, backend });
    for (const p of packets.slice(4)) expect(a.decode(p)).toEqual(b.decode(p));
  });
});

describe('fallback PLC emulation', () => {
  it.each(['discordjs', 'wasm'] as const)(
    '%s: consecutive conceal() slices are one continuous libopus PLC',
    (backend) => {
      const packets = encodeTones(10);
      const sliced = new OpusDecoder({ channels: 2, backend });
      const whole = new OpusDecoder({ channels: 2, backend });
      for (const p of packets) {
        sliced.decode(p);
        whole.decode(p);
      }
      const pieces = [120, 240, 360, 240].map((n) => sliced.conceal(n)); // 960 in uneven slices
      const joined = new Int16Array(960 * 2);
      let off = 0;
      for (const piece of pieces) {
        joined.set(piece, off);
        off += piece.length;
      }
      expect(joined).toEqual(whole.conceal(960));
    },
  );

  it.each(['discordjs', 'wasm'] as const)('%s: decodeFec falls back to concealment', (backend) => {
    const packets = encodeTones(6);
    const a = new OpusDecoder({ channels: 2, backend });
    const b = new OpusDecoder({ channels: 2, backend });
    for (const p of packets.slice(0, 4)) {
      a.decode(p);
      b.decode(p);
    }
    expect(a.decodeFec(packets[5]!, 960)).toEqual(b.conceal(960));
  });
});

describe('in-band FEC (native addon)', () => {
  // 4 s of voice, 10 % seeded loss. A loss right after a loss has no next packet to recover
  // from, so losses are kept isolated; both runs see the same loss pattern.
  const pcm = voice(FRAME * 200, 1);
  const packets = encodeVoiceWithFec(pcm);
  const rnd = seededRandom(42);
  const lost = packets.map((_, i) => i > 0 && i < packets.length - 1 && rnd() < 0.1);
  for (let i = 1; i < lost.length; i++) if (lost[i] && lost[i - 1]) lost[i] = false;

  function run(useFec: boolean): Int16Array {
    const dec = new OpusDecoder({ channels: 1, backend: 'native' });
    const out = new Int16Array(FRAME * packets.length);
    for (let i = 0; i < packets.length; i++) {
      const slot = out.subarray(i * FRAME, (i + 1) * FRAME);
      if (!lost[i]) expect(dec.decodeInto(packets[i]!, slot)).toBe(FRAME);
      else if (useFec) expect(dec.decodeFecInto(packets[i + 1]!, slot)).toBe(FRAME);
      else expect(dec.concealInto(slot)).toBe(FRAME);
    }
    dec.close();
    return out;
  }

  it('the encoder produced SILK or hybrid packets (where LBRR lives) and the loss is ~10 %', () => {
    const nonCelt = packets.filter((p) => p[0]! >> 3 < 16).length;
    expect(nonCelt / packets.length).toBeGreaterThan(0.9);
    const n = lost.filter(Boolean).length;
    expect(n).toBeGreaterThanOrEqual(10);
    expect(n).toBeLessThanOrEqual(30);
  });

  it('FEC from the next packet beats PLC alone against the clean decode', () => {
    const clean = new Int16Array(FRAME * packets.length);
    const ref = new OpusDecoder({ channels: 1, backend: 'native' });
    for (let i = 0; i < packets.length; i++) ref.decodeInto(packets[i]!, clean.subarray(i * FRAME, (i + 1) * FRAME));
    const plcOnly = snrDb(clean, run(false));
    const withFec = snrDb(clean, run(true));
    expect(withFec).toBeGreaterThan(plcOnly + 3);
  });
});
