/**
 * A minimal RIFF/WAVE reader for PCM output of TTS engines. Pure: bytes in, samples out.
 * @packageDocumentation
 */
import { ContainerError } from '../errors.js';
import type { TtsAudio } from './types.js';

/**
 * Parses a PCM WAV file (format 1, 16-bit, 1–2 channels). Tolerates the streaming form where
 * the data chunk's size is a placeholder larger than the file (it is clamped to what is there).
 * @throws ContainerError('wav', offset) for anything else.
 */
export function parseWav(bytes: Uint8Array): TtsAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (o: number) => String.fromCharCode(bytes[o]!, bytes[o + 1]!, bytes[o + 2]!, bytes[o + 3]!);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    throw new ContainerError('wav', 0, 'not a RIFF/WAVE file');
  let off = 12;
  let fmt: { channels: number; sampleRate: number; bits: number; format: number } | undefined;
  while (off + 8 <= bytes.length) {
    const id = tag(off);
    const size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.length) throw new ContainerError('wav', off, 'truncated fmt chunk');
      fmt = {
        format: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        sampleRate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new ContainerError('wav', off, 'data chunk before fmt chunk');
      if (fmt.format !== 1 || fmt.bits !== 16) {
        throw new ContainerError(
          'wav',
          off,
          `unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits); need 16-bit PCM`,
        );
      }
      if (fmt.channels !== 1 && fmt.channels !== 2)
        throw new ContainerError('wav', off, `unsupported channel count ${fmt.channels}`);
      const len = Math.min(size, bytes.length - body) & ~1;
      const pcm = new Int16Array(len / 2);
      for (let i = 0; i < pcm.length; i++) pcm[i] = view.getInt16(body + i * 2, true);
      return { pcm, sampleRate: fmt.sampleRate, channels: fmt.channels as 1 | 2 };
    }
    off = body + size + (size & 1);
  }
  throw new ContainerError('wav', off, 'no data chunk');
}
