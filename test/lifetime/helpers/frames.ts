/**
 * Numbered Opus frames and a source of them, so a test can check the published sequence frame by
 * frame: `f8 01 <seq:24> 55` is a valid 20 ms mono CELT packet (code 0) the gateway accepts,
 * and the silence filler is `f8 ff fe`.
 * @packageDocumentation
 */
import type { AudioSource, AudioSourceStats } from '../../../src/voice/sources/types.js';

/** Frame `i` of a numbered stream. */
export const numbered = (i: number): Uint8Array =>
  Uint8Array.from([0xf8, 0x01, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 0x55]);

/** The number of a {@link numbered} frame, or -1. */
export const seqOf = (d: Uint8Array): number =>
  d.length === 6 && d[0] === 0xf8 && d[1] === 0x01 && d[5] === 0x55 ? (d[2]! << 16) | (d[3]! << 8) | d[4]! : -1;

/** The library's 20 ms mono silence frame (the pacer's filler). */
export const isSilence = (d: Uint8Array): boolean => d.length === 3 && d[0] === 0xf8 && d[1] === 0xff && d[2] === 0xfe;

/** A passthrough Opus source of `count` numbered frames (20 ms, mono). */
export function numberedSource(count: number, first = 0): AudioSource {
  let closed = false;
  let i = first;
  const stats: AudioSourceStats = {
    framesYielded: 0,
    framesProduced: 0,
    invalidDropped: 0,
    bytesIn: 0,
    maxBuffered: 0,
  };
  return {
    info: { kind: 'ogg', format: 'opus', channels: 1, frameDurationMs: 20, passthrough: true },
    stats,
    get closed() {
      return closed;
    },
    async close() {
      closed = true;
    },
    async [Symbol.asyncDispose]() {
      closed = true;
    },
    [Symbol.asyncIterator]() {
      return {
        next: async (): Promise<IteratorResult<Uint8Array>> => {
          if (closed || i >= first + count) {
            closed = true;
            return { done: true, value: undefined };
          }
          stats.framesYielded++;
          stats.framesProduced++;
          return { done: false, value: numbered(i++) };
        },
      };
    },
  };
}
