/**
 * Makes every track of a finished recording end at the same sample.
 *
 * `Recorder.stop()` pads each track up to the stop time but does not cut a track whose last
 * packet reaches past it: when one user's jitter buffer handed out two packets in one tick, that
 * track ends up to a frame (or a few) longer than the others, while the mix already has the
 * longest length. This pass appends valid silence packets (20/10/5/2.5 ms, so the sum is exact,
 * RFC 7845 §4) to the shorter tracks, so every track and the mix have the same duration.
 * @packageDocumentation
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { OggOpusDemuxer } from '../../src/codec/ogg-demux.js';
import { OggOpusMuxer } from '../../src/codec/ogg-mux.js';
import { silencePacket } from '../../src/codec/silence.js';
import { IoError } from '../../src/errors.js';
import type { RecordingSummary } from '../../src/voice/recorder.js';

const UNITS: ReadonlyArray<[samples: number, ms: number]> = [
  [960, 20],
  [480, 10],
  [240, 5],
  [120, 2.5],
];

/**
 * Pads the shorter tracks of `summary` with silence to the longest one, rewriting their files
 * (write to `<file>.tmp`, then rename). Updates `samples` and `fillPackets` in place.
 * @returns the common length in samples (48 kHz).
 * @throws IoError when a file cannot be read or written.
 */
export function padTracksToLongest(summary: RecordingSummary): number {
  const ok = summary.tracks.filter((t) => !t.error);
  const longest = Math.max(0, ...ok.map((t) => t.samples));
  for (const t of ok) {
    let gap = longest - t.samples;
    if (gap < 120) continue;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(t.path);
    } catch (err) {
      throw new IoError(`cannot read ${t.path}: ${(err as Error).message}`, { cause: err, path: t.path });
    }
    const demux = new OggOpusDemuxer();
    const events = [...demux.write(bytes), ...demux.end()];
    const head = events.find((e) => e.type === 'head');
    const tags = events.find((e) => e.type === 'tags');
    const channels = head?.type === 'head' && head.head.channels === 2 ? 2 : 1;
    const mux = new OggOpusMuxer({
      channels,
      preSkip: head?.type === 'head' ? head.head.preSkip : 0,
      ...(tags?.type === 'tags' ? { vendor: tags.vendor, comments: tags.comments } : {}),
    });
    const parts: Uint8Array[] = [mux.headers()];
    for (const e of events) if (e.type === 'packet') parts.push(mux.write(e.packet, e.samples));
    for (const [samples, ms] of UNITS) {
      while (gap >= samples) {
        parts.push(mux.write(silencePacket(channels, ms), samples));
        gap -= samples;
        t.samples += samples;
        t.fillPackets++;
      }
    }
    parts.push(mux.end());
    try {
      writeFileSync(`${t.path}.tmp`, Buffer.concat(parts));
      renameSync(`${t.path}.tmp`, t.path);
    } catch (err) {
      throw new IoError(`cannot rewrite ${t.path}: ${(err as Error).message}`, { cause: err, path: t.path });
    }
  }
  return longest;
}
