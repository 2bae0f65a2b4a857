/**
 * The one entry point most bots need: give it a path, URL, bytes or stream and get paced-ready
 * Opus frames, with no decode/re-encode whenever the input already fits.
 * @packageDocumentation
 */
import { OggOpusDemuxer } from '../../codec/ogg-demux.js';
import { probeContainer } from '../../codec/probe.js';
import { WebmOpusDemuxer } from '../../codec/webm-demux.js';
import { AbortError, InvalidInputError } from '../../errors.js';
import { byteIterator, normalizeCommon, prepend } from './base.js';
import { containerOpusSource } from './container-source.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { fileInput } from './file-input.js';
import type { AudioSource, ByteInput, SourceOptions } from './types.js';
import { concatBytes as concat } from '../../util/bytes.js';

/** Options of {@link createAudioSource}. */
export interface CreateAudioSourceOptions extends SourceOptions {
  /** Explicit ffmpeg binary for inputs that need it (default: `resolveFfmpeg()`). */
  ffmpegPath?: string;
}

/** Bytes read while probing before giving up and handing the input to ffmpeg. */
const MAX_PROBE_BYTES = 1 << 20;

/**
 * Creates the right source for `input`.
 *
 * @remarks
 * - http(s) URLs go to ffmpeg (streamed, with reconnects).
 * - Otherwise the first bytes are probed. Ogg Opus and WebM Opus are demuxed in process: their
 *   packets pass through untouched when the output is Opus at the file's own frame duration with
 *   no volume or normalisation, and are decoded + re-encoded otherwise.
 * - Anything else goes through ffmpeg (a path is handed to ffmpeg directly so it can seek; other
 *   inputs are piped to its stdin, starting with the probed bytes).
 * @throws {@link InvalidInputError} for bad options or an unsupported input type; `IoError` for
 *   an unreadable file; `ContainerError` for a malformed container header; `DependencyError`
 *   when the input needs ffmpeg and none is installed.
 */
export async function createAudioSource(
  input: string | ByteInput,
  options: CreateAudioSourceOptions = {},
): Promise<AudioSource> {
  normalizeCommon(options);
  if (options.signal?.aborted) {
    throw new AbortError('createAudioSource was aborted', { cause: options.signal.reason });
  }
  if (typeof input === 'string') {
    if (input.length === 0) throw new InvalidInputError('createAudioSource: empty path');
    if (/^https?:\/\//i.test(input)) return ffmpegSource(input, options);
  } else if (
    !(input instanceof Uint8Array) &&
    !(input && typeof (input as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') &&
    !(input && typeof (input as Iterable<Uint8Array>)[Symbol.iterator] === 'function') &&
    !(input && typeof (input as NodeJS.ReadableStream).on === 'function')
  ) {
    throw new InvalidInputError(
      'createAudioSource: input must be a path, an http(s) URL, a Uint8Array, a Node stream or an async iterable of Uint8Array',
    );
  }
  const reader = byteIterator(await fileInput(input));
  const prefix: Uint8Array[] = [];
  let probed = 0;
  let kind: ReturnType<typeof probeContainer> = 'need-more-data';
  try {
    while (kind === 'need-more-data' && probed < MAX_PROBE_BYTES) {
      const r = await reader.iterator.next();
      if (r.done) break;
      prefix.push(r.value);
      probed += r.value.length;
      kind = probeContainer(concat(prefix, probed));
    }
  } catch (err) {
    await reader.close();
    throw err;
  }
  const rest = prepend(prefix, reader.iterator);
  const closeOnError = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      await reader.close();
      throw err;
    }
  };
  if (kind === 'ogg-opus') {
    return closeOnError(containerOpusSource('ogg', () => new OggOpusDemuxer(), closable(rest, reader.close), options));
  }
  if (kind === 'webm-opus') {
    return closeOnError(
      containerOpusSource('webm', () => new WebmOpusDemuxer(), closable(rest, reader.close), options),
    );
  }
  if (typeof input === 'string') {
    // ffmpeg reads the file itself (it can seek, and probes better with the whole file).
    await reader.close();
    return ffmpegSource(input, options);
  }
  return closeOnError(ffmpegSource(closable(rest, reader.close), options));
}

/** Wraps an iterable so that `return()` (called when a source closes) releases the real input. */
function closable(iterable: AsyncIterable<Uint8Array>, close: () => Promise<void>): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const it = iterable[Symbol.asyncIterator]();
      return {
        next: () => it.next(),
        return: async () => {
          await close();
          return { done: true, value: undefined };
        },
      };
    },
  };
}
