/**
 * Opening a file path as a byte input, with errors mapped to {@link IoError}.
 * @packageDocumentation
 */
import { open } from 'node:fs/promises';
import { IoError } from '../../errors.js';
import type { ByteInput } from './types.js';

/**
 * Returns `input` unchanged unless it is a path, in which case the file is checked (so a missing
 * file fails here with an {@link IoError}, not later inside the iterator) and streamed in 64 KB chunks.
 * The stream owns its file descriptor and releases it when destroyed (the sources do on close).
 */
export async function fileInput(input: string | ByteInput): Promise<ByteInput> {
  if (typeof input !== 'string') return input;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(input, 'r');
  } catch (err) {
    throw new IoError(`cannot open ${JSON.stringify(input)}: ${(err as Error).message}`, { cause: err, path: input });
  }
  // The stream owns the FileHandle (autoClose) and closes it on end, error or destroy().
  const stream = handle.createReadStream({ highWaterMark: 64 * 1024, autoClose: true });
  return stream;
}
