/**
 * Shared implementation of the Ogg Opus and WebM Opus sources: passthrough when the file's
 * packets already fit the session, decode + re-encode otherwise.
 * @packageDocumentation
 */
import type { OpusDemuxEvent, OpusHead } from '../../codec/ogg-demux.js';
import { OpusDecoder } from '../../codec/opus-decoder.js';
import { isGatewaySafe, tryParseOpusPacket } from '../../codec/opus-packet.js';
import { ContainerError, InvalidInputError } from '../../errors.js';
import { BufferedSource, byteIterator, normalizeCommon, normalizeTarget, PcmPipeline } from './base.js';
import type { AudioSource, ByteInput, SourceOptions } from './types.js';

/** A sans-IO demuxer with the shape shared by the Ogg and WebM demuxers. */
export interface SansIoDemuxer {
  write(chunk: Uint8Array): OpusDemuxEvent[];
  end(): OpusDemuxEvent[];
}

/** Packets inspected before giving up on finding a readable first packet. */
const MAX_PROBE_PACKETS = 50;

/**
 * Builds an Opus source over a container demuxer.
 *
 * @remarks
 * The factory reads up to the first readable audio packet to decide the mode, so `info` is exact
 * before iteration starts:
 * - passthrough when the output is Opus, the first packet lasts `frameDurationMs`, there is no
 *   volume/normalisation and the channel count is not being changed. Packets pass untouched;
 *   any later packet that is not gateway-safe for that duration (corrupt, or a different
 *   duration) is dropped and counted in `stats.invalidDropped`. A non-zero output gain in the
 *   header also forces transcoding, since it can only be honoured by decoding.
 * - otherwise transcode: decode at 48 kHz (pre-skip and Ogg end padding removed), reframe,
 *   gain/normalise, encode.
 *   Undecodable packets are dropped and counted.
 * If the stream yields no usable packet at all, iteration throws an {@link InvalidInputError}.
 */
export async function containerOpusSource(
  kind: 'ogg' | 'webm',
  makeDemuxer: () => SansIoDemuxer,
  input: ByteInput,
  options: SourceOptions = {},
): Promise<AudioSource> {
  const { format, frameDurationMs, volume } = normalizeCommon(options);
  const normalize = normalizeTarget(options.normalize);
  const reader = byteIterator(input);
  const demuxer = makeDemuxer();
  let bytesIn = 0;
  let inputDone = false;
  const pending: OpusDemuxEvent[] = [];
  /** Next demux event, reading more input as needed; undefined at the end. */
  const nextEvent = async (): Promise<OpusDemuxEvent | undefined> => {
    while (pending.length === 0) {
      if (inputDone) return undefined;
      const r = await reader.iterator.next();
      if (r.done) {
        inputDone = true;
        pending.push(...demuxer.end());
      } else {
        bytesIn += r.value.length;
        pending.push(...demuxer.write(r.value));
      }
    }
    return pending.shift();
  };

  // ---- probe: head + first readable packet ----
  let head: OpusHead | undefined;
  let serial: number | undefined;
  const replay: OpusDemuxEvent[] = [];
  let firstSamples: number | undefined;
  let skippedProbe = 0;
  try {
    for (;;) {
      const ev = await nextEvent();
      if (!ev) break;
      if (ev.type === 'head' && head === undefined) {
        head = ev.head;
        serial = ev.serial;
        continue;
      }
      if (ev.type !== 'packet' || ev.serial !== serial) continue;
      replay.push(ev);
      const info = tryParseOpusPacket(ev.packet);
      if (info) {
        firstSamples = info.samples;
        break;
      }
      if (++skippedProbe >= MAX_PROBE_PACKETS) break;
    }
  } catch (err) {
    await reader.close();
    throw err;
  }
  if (!head) {
    await reader.close();
    throw new ContainerError(kind, bytesIn, `no Opus stream found in the ${kind === 'ogg' ? 'Ogg' : 'WebM'} input`);
  }
  if (head.channels > 2) {
    await reader.close();
    throw new InvalidInputError(
      `${head.channels}-channel Opus is not supported by the in-process decoder; use ffmpegSource to downmix`,
    );
  }
  const fileChannels = head.channels as 1 | 2;
  const outCh = options.channels ?? fileChannels;
  const frameSamples = (48000 * frameDurationMs) / 1000;
  const passthrough =
    format === 'opus' &&
    volume === 1 &&
    !normalize &&
    head.outputGain === 0 && // a header gain can only be honoured by decoding
    outCh === fileChannels &&
    firstSamples === frameSamples;
  const seekSamples = options.seekMs ? Math.round((options.seekMs * 48000) / 1000) : 0;
  const preSkip = head.preSkip;

  return new BufferedSource(
    { kind, format, channels: outCh, frameDurationMs, passthrough },
    async (ctx) => {
      const events = async (): Promise<OpusDemuxEvent | undefined> => {
        const ev = replay.length ? replay.shift() : await nextEvent();
        ctx.stats.bytesIn = bytesIn;
        return ev;
      };
      let decoder: OpusDecoder | undefined;
      let pipeline: PcmPipeline | undefined;
      try {
        if (passthrough) {
          let skipped = 0;
          for (;;) {
            const ev = await events();
            if (!ev) break;
            if (ev.type !== 'packet' || ev.serial !== serial) continue;
            if (!isGatewaySafe(ev.packet, frameDurationMs)) {
              ctx.stats.invalidDropped++;
              continue;
            }
            if (skipped < seekSamples) {
              skipped += frameSamples;
              continue;
            }
            await ctx.push(ev.packet);
          }
        } else {
          decoder = new OpusDecoder({ channels: outCh });
          let decodedSamples = 0; // per channel, pre-skip included (the granule's unit)
          pipeline = new PcmPipeline({
            channels: outCh,
            frameDurationMs,
            format,
            // RFC 7845 §5.1: players must apply the header's output gain (Q7.8 dB) when decoding.
            volume: Math.min(16, volume * 10 ** (head.outputGain / (20 * 256))),
            normalize,
            bitrate: options.bitrate,
            encoder: options.encoder,
            skipSamples: preSkip + seekSamples,
          });
          for (;;) {
            const ev = await events();
            if (!ev) break;
            if (ev.type !== 'packet' || ev.serial !== serial) continue;
            if (!tryParseOpusPacket(ev.packet)) {
              ctx.stats.invalidDropped++;
              continue;
            }
            let pcm: Int16Array;
            try {
              pcm = decoder.decode(ev.packet);
            } catch {
              ctx.stats.invalidDropped++;
              continue;
            }
            decodedSamples += pcm.length / outCh;
            // End trimming (RFC 7845 §4.5): the last page's granule says where the audio really
            // ends; the encoder padded the final packet beyond it. Only Ogg carries granules, and
            // only a stream that starts at granule 0 can overshoot it, so this is a no-op elsewhere.
            if (ev.granule !== undefined && ev.granule >= 0n) {
              const excess = decodedSamples - Number(ev.granule);
              if (excess > 0) pcm = pcm.subarray(0, Math.max(0, pcm.length - excess * outCh));
            }
            for (const f of pipeline.push(pcm)) await ctx.push(f);
          }
          for (const f of pipeline.end()) await ctx.push(f);
        }
        if (ctx.stats.framesProduced === 0 && ctx.stats.invalidDropped > 0) {
          throw new InvalidInputError(
            `the ${kind} stream has no usable Opus packets (${ctx.stats.invalidDropped} invalid packets dropped)`,
          );
        }
      } finally {
        decoder?.close();
        pipeline?.close();
        await reader.close();
      }
    },
    { maxBufferedFrames: options.maxBufferedFrames, signal: options.signal, cleanup: () => reader.close() },
  );
}
