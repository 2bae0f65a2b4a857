/**
 * Demo audio the samples generate for their emulator runs, in process (no ffmpeg, no files in
 * the repository): tones as Ogg Opus (encoded with {@link OpusEncoder}, muxed with
 * {@link OggOpusMuxer}) or as 16-bit WAV, and Opus frames of a tone for simulated speakers.
 * @packageDocumentation
 */
import { writeFileSync } from 'node:fs';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { OpusEncoder } from '../../src/codec/opus-encoder.js';
import { wavHeader } from '../../src/voice/recorder.js';

/** A tone: frequency, length, loudness (0..1), with 10 ms fades so it starts and ends clean. */
export interface ToneSpec {
  hz: number;
  durationMs: number;
  amplitude?: number;
  /** Sample rate of the PCM (default 48 000). */
  sampleRate?: number;
}

/** Mono s16 PCM of a tone. */
export function tonePcm(spec: ToneSpec): Int16Array {
  const rate = spec.sampleRate ?? 48_000;
  const n = Math.round((spec.durationMs * rate) / 1000);
  const amp = (spec.amplitude ?? 0.3) * 32_767;
  const fade = Math.round(rate / 100);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / fade, (n - 1 - i) / fade);
    out[i] = Math.round(amp * env * Math.sin((2 * Math.PI * spec.hz * i) / rate));
  }
  return out;
}

/** Encodes 48 kHz mono PCM into 20 ms Opus frames (the last one zero-padded). */
export function encodeFrames(pcm48: Int16Array, options: { bitrate?: number } = {}): Uint8Array[] {
  const enc = new OpusEncoder({
    channels: 1,
    frameDurationMs: 20,
    ...(options.bitrate ? { bitrate: options.bitrate } : {}),
  });
  try {
    const frames: Uint8Array[] = [];
    for (let off = 0; off < pcm48.length; off += 960) {
      const frame = new Int16Array(960);
      frame.set(pcm48.subarray(off, Math.min(off + 960, pcm48.length)));
      frames.push(enc.encode(frame));
    }
    return frames;
  } finally {
    enc.close();
  }
}

/**
 * Writes a mono Ogg Opus file of a tone (20 ms frames, so the music bot can pass its packets
 * through untouched) and returns its packets in order.
 */
export function writeToneOgg(path: string, spec: ToneSpec): Uint8Array[] {
  const pcm = tonePcm({ ...spec, sampleRate: 48_000 });
  const mux = new OggOpusMuxer({ channels: 1 });
  // The encoder delays its output by the pre-skip (RFC 7845 §4.2): feed that much more.
  const padded = new Int16Array(pcm.length + mux.preSkip);
  padded.set(pcm);
  const frames = encodeFrames(padded);
  const parts: Uint8Array[] = [mux.headers()];
  for (const f of frames) parts.push(mux.write(f));
  parts.push(mux.end({ pcmSamples: pcm.length }));
  writeFileSync(path, Buffer.concat(parts));
  return frames;
}

/** Writes a mono 48 kHz 16-bit WAV file of a tone (played through ffmpeg: decoded, never passed through). */
export function writeToneWav(path: string, spec: ToneSpec): void {
  const pcm = tonePcm({ ...spec, sampleRate: 48_000 });
  writeFileSync(
    path,
    Buffer.concat([wavHeader(1, pcm.byteLength), new Uint8Array(pcm.buffer, pcm.byteOffset, pcm.byteLength)]),
  );
}
