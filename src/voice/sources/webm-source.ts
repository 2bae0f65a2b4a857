/**
 * WebM/Matroska files and streams with an Opus track (browser MediaRecorder output, YouTube audio).
 * @packageDocumentation
 */
import { WebmOpusDemuxer } from '../../codec/webm-demux.js';
import { containerOpusSource } from './container-source.js';
import { fileInput } from './file-input.js';
import type { AudioSource, ByteInput, SourceOptions } from './types.js';

/**
 * Opus frames from a WebM input (a file path, bytes, a Node stream or an async iterable), passed
 * through untouched when they fit the session, decoded and re-encoded otherwise.
 * @throws `ContainerError` when the input is not WebM Opus; `IoError` for an unreadable file.
 */
export async function webmOpusSource(input: string | ByteInput, options: SourceOptions = {}): Promise<AudioSource> {
  return containerOpusSource('webm', () => new WebmOpusDemuxer(), await fileInput(input), options);
}
