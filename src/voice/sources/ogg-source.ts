/**
 * Ogg Opus files and streams (`.opus`, `.ogg` with Opus, ffmpeg's `-f ogg` output).
 * @packageDocumentation
 */
import { OggOpusDemuxer } from '../../codec/ogg-demux.js';
import { containerOpusSource } from './container-source.js';
import { fileInput } from './file-input.js';
import type { AudioSource, ByteInput, SourceOptions } from './types.js';

/**
 * Opus frames from an Ogg Opus input (a file path, bytes, a Node stream or an async iterable).
 * Packets are passed through untouched when they already last `frameDurationMs` and no gain is
 * requested; otherwise they are decoded and re-encoded (see `containerOpusSource`).
 * @throws `ContainerError` when the input is not Ogg Opus; `IoError` for an unreadable file.
 */
export async function oggOpusSource(input: string | ByteInput, options: SourceOptions = {}): Promise<AudioSource> {
  return containerOpusSource('ogg', () => new OggOpusDemuxer(), await fileInput(input), options);
}
