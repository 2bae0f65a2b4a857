import { describe, expect, it } from 'vitest';
import { ContainerError, InvalidInputError } from '../../src/errors.js';
import { EspeakTtsEngine, parseWav } from '../../src/tts/index.js';

function wav(samples: number[], rate = 16000, channels = 1, dataSizeOverride?: number): Uint8Array {
  const data = Buffer.alloc(samples.length * 2);
  samples.forEach((s, i) => data.writeInt16LE(s, i * 2));
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(dataSizeOverride ?? data.length, 40);
  return new Uint8Array(Buffer.concat([h, data]));
}

describe('parseWav', () => {
  it('reads 16-bit PCM and clamps a placeholder data size', () => {
    const a = parseWav(wav([1, -2, 3], 22050));
    expect(Array.from(a.pcm)).toEqual([1, -2, 3]);
    expect(a.sampleRate).toBe(22050);
    const b = parseWav(wav([5, 6], 16000, 1, 0x7fffffff));
    expect(Array.from(b.pcm)).toEqual([5, 6]);
  });

  it('gives a typed error for non-WAV and truncated input', () => {
    expect(() => parseWav(new Uint8Array([1, 2, 3]))).toThrow(ContainerError);
    expect(() => parseWav(wav([1, 2]).subarray(0, 30))).toThrow(/fmt/);
  });
});

describe('EspeakTtsEngine', () => {
  it('speaks text into 22.05 kHz mono PCM with audible content', async () => {
    const tts = new EspeakTtsEngine();
    const out = await tts.synthesize('Hello from argon voice.');
    expect(out.sampleRate).toBe(22050);
    expect(out.channels).toBe(1);
    expect(out.pcm.length / out.sampleRate).toBeGreaterThan(0.5);
    let energy = 0;
    for (const s of out.pcm) energy += s * s;
    expect(Math.sqrt(energy / out.pcm.length)).toBeGreaterThan(500);
  });

  it('treats text starting with a dash as text, and longer text as longer speech', async () => {
    const tts = new EspeakTtsEngine();
    const short = await tts.synthesize('--help');
    const long = await tts.synthesize('--help me read this much longer sentence out loud, please, slowly.');
    expect(short.pcm.length).toBeGreaterThan(0);
    expect(long.pcm.length).toBeGreaterThan(short.pcm.length * 2);
  });

  it('rejects empty text, bad voices and aborted calls with typed errors', async () => {
    const tts = new EspeakTtsEngine();
    await expect(tts.synthesize('   ')).rejects.toThrow(InvalidInputError);
    await expect(tts.synthesize('hi', { voice: 'en; rm -rf' })).rejects.toThrow(/invalid voice/);
    const ac = new AbortController();
    ac.abort();
    await expect(tts.synthesize('hi', { signal: ac.signal })).rejects.toMatchObject({ code: 'ARGON_VOICE_ABORTED' });
  });
});
