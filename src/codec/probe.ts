/**
 * Container sniffing: decides whether an input can be passed through as Opus (Ogg Opus, WebM
 * Opus) or needs ffmpeg to transcode it, from its first bytes.
 * @packageDocumentation
 */
import { ContainerError } from '../errors.js';
import { OggOpusDemuxer } from './ogg-demux.js';
import { WebmOpusDemuxer } from './webm-demux.js';

/** Result of {@link probeContainer}. */
export type ProbeResult = 'ogg-opus' | 'webm-opus' | 'needs-ffmpeg' | 'need-more-data';

/** Bytes after which a still-undecided stream is handed to ffmpeg. */
export const PROBE_MAX_BYTES = 1 << 20;

const OGG_MAGIC = [0x4f, 0x67, 0x67, 0x53];
const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];

/** 0 = `bytes` does not start like `magic`, 1 = starts like it but is shorter, 2 = matches. */
function matchPrefix(bytes: Uint8Array, magic: readonly number[]): 0 | 1 | 2 {
  const n = Math.min(bytes.length, magic.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== magic[i]) return 0;
  return bytes.length >= magic.length ? 2 : 1;
}

/**
 * Classifies the start of a media stream.
 *
 * - `ogg-opus`: Ogg whose first logical stream is Opus (OpusHead in the BOS page).
 * - `webm-opus`: EBML (WebM/Matroska) with an `A_OPUS` track.
 * - `needs-ffmpeg`: anything else: Ogg Vorbis/FLAC, WebM without Opus, MP3, WAV, garbage.
 * - `need-more-data`: too few bytes to tell; call again with more (the whole prefix, not just
 *   the new bytes). After {@link PROBE_MAX_BYTES} the answer is `needs-ffmpeg`.
 *
 * @param firstBytes - the first bytes of the stream (any length, including 0).
 * @remarks Runs the real demuxers over the prefix, so "passthrough" means this library can read it.
 */
export function probeContainer(firstBytes: Uint8Array): ProbeResult {
  if (firstBytes.length === 0) return 'need-more-data';
  const ogg = matchPrefix(firstBytes, OGG_MAGIC);
  const ebml = matchPrefix(firstBytes, EBML_MAGIC);
  if (ogg === 1 || ebml === 1) return 'need-more-data';
  if (ogg === 2) {
    return sniff(firstBytes, (b) => new OggOpusDemuxer().write(b), 'ogg-opus');
  }
  if (ebml === 2) {
    return sniff(firstBytes, (b) => new WebmOpusDemuxer().write(b), 'webm-opus');
  }
  return 'needs-ffmpeg';
}

function sniff(bytes: Uint8Array, run: (b: Uint8Array) => { type: string }[], yes: ProbeResult): ProbeResult {
  try {
    const events = run(bytes);
    if (events.some((e) => e.type === 'head')) return yes;
  } catch (err) {
    // Not Opus, or malformed: ffmpeg may still make sense of it (and will report if not).
    if (err instanceof ContainerError) return 'needs-ffmpeg';
    throw err;
  }
  return bytes.length >= PROBE_MAX_BYTES ? 'needs-ffmpeg' : 'need-more-data';
}
