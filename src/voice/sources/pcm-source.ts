/**
 * Raw PCM (TTS engines, synthesisers, microphones) at any common rate → 48 kHz frames.
 * @packageDocumentation
 */
import { f32ToS16, monoToStereo, Resampler, stereoToMono } from '../../codec/pcm.js';
import { InvalidInputError } from '../../errors.js';
import { BufferedSource, byteIterator, normalizeCommon, normalizeTarget, PcmPipeline } from './base.js';
import type { AudioSource, AudioSourceInfo, ByteInput, SourceOptions } from './types.js';

/** Options of {@link pcmSource}. */
export interface PcmSourceOptions extends Omit<SourceOptions, 'format' | 'channels'> {
  /** Input sample rate in Hz (e.g. 16000, 22050, 24000, 44100, 48000). */
  sampleRate: number;
  /** Input channels (interleaved). */
  channels: 1 | 2;
  /** Input sample encoding, little-endian (default `'s16le'`). */
  format?: 's16le' | 'f32le';
  /** What to yield (default `'opus'`). */
  output?: 'opus' | 'pcm';
  /** Output channels (default: the input's). */
  outputChannels?: 1 | 2;
  /** @internal the kind reported in `info` (the microphone source reuses this one). */
  kind?: AudioSourceInfo['kind'];
  /** @internal called on close, after the input was released. */
  onClose?: () => Promise<void> | void;
}

/**
 * Frames raw PCM from a stream or async iterable: resamples to 48 kHz (streaming windowed sinc),
 * converts channels, applies volume/normalisation and encodes. The TTS entry point.
 *
 * @remarks
 * Chunks may split samples anywhere; the partial sample is carried to the next chunk. The last
 * frame is zero-padded. Buffering: the read-ahead queue, one partial frame, the resampler's
 * 32-sample look-ahead, and (with `normalize`) the normaliser's 3 s measuring window.
 * @throws {@link InvalidInputError} for bad options.
 */
export function pcmSource(input: ByteInput, options: PcmSourceOptions): AudioSource {
  const { frameDurationMs, volume } = normalizeCommon({
    ...options,
    format: options.output ?? 'opus',
    channels: undefined,
  });
  const output = options.output ?? 'opus';
  const inFormat = options.format ?? 's16le';
  if (inFormat !== 's16le' && inFormat !== 'f32le')
    throw new InvalidInputError(`pcmSource: format must be 's16le' or 'f32le', got ${String(inFormat)}`);
  const inCh = options.channels;
  if (inCh !== 1 && inCh !== 2) throw new InvalidInputError(`pcmSource: channels must be 1 or 2, got ${String(inCh)}`);
  const outCh = options.outputChannels ?? inCh;
  if (outCh !== 1 && outCh !== 2)
    throw new InvalidInputError(`pcmSource: outputChannels must be 1 or 2, got ${String(outCh)}`);
  // Validates the rate early (throws InvalidInputError for a bad one).
  const makeResampler = () =>
    options.sampleRate === 48000 ? undefined : new Resampler({ inputRate: options.sampleRate, channels: inCh });
  if (!Number.isInteger(options.sampleRate))
    throw new InvalidInputError(`pcmSource: sampleRate must be an integer, got ${options.sampleRate}`);
  makeResampler();
  const reader = byteIterator(input);
  const bytesPerSample = inFormat === 's16le' ? 2 : 4;
  const align = bytesPerSample * inCh;
  return new BufferedSource(
    { kind: options.kind ?? 'pcm', format: output, channels: outCh, frameDurationMs, passthrough: false },
    async (ctx) => {
      const resampler = makeResampler();
      const pipeline = new PcmPipeline({
        channels: outCh,
        frameDurationMs,
        format: output,
        volume,
        normalize: normalizeTarget(options.normalize),
        bitrate: options.bitrate,
        encoder: options.encoder,
        skipSamples: options.seekMs ? Math.round((options.seekMs * 48000) / 1000) : 0,
      });
      const stage = async (pcm48: Int16Array) => {
        let pcm = pcm48;
        if (inCh !== outCh) pcm = inCh === 1 ? monoToStereo(pcm) : stereoToMono(pcm);
        for (const f of pipeline.push(pcm)) await ctx.push(f);
      };
      try {
        let carry = new Uint8Array(0);
        for (;;) {
          if (ctx.signal.aborted) return;
          const r = await reader.iterator.next();
          if (r.done) break;
          ctx.stats.bytesIn += r.value.length;
          let bytes = r.value;
          if (carry.length) {
            const joined = new Uint8Array(carry.length + bytes.length);
            joined.set(carry);
            joined.set(bytes, carry.length);
            bytes = joined;
          }
          const usable = bytes.length - (bytes.length % align);
          carry = bytes.slice(usable);
          if (usable === 0) continue;
          // Copy into an aligned buffer: a Buffer slice may start at an odd offset.
          const aligned = new Uint8Array(usable);
          aligned.set(bytes.subarray(0, usable));
          const raw = inFormat === 's16le' ? new Int16Array(aligned.buffer) : new Float32Array(aligned.buffer);
          const pcm48 = resampler ? resampler.process(raw) : raw instanceof Float32Array ? f32ToS16(raw) : raw;
          if (pcm48.length) await stage(pcm48);
        }
        if (resampler) {
          const tail = resampler.flush();
          if (tail.length) await stage(tail);
        }
        for (const f of pipeline.end()) await ctx.push(f);
      } finally {
        pipeline.close();
        await reader.close();
      }
    },
    {
      maxBufferedFrames: options.maxBufferedFrames,
      signal: options.signal,
      cleanup: async () => {
        await reader.close();
        await options.onClose?.();
      },
    },
  );
}
