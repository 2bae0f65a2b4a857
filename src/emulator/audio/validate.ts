/**
 * The gateway's own, deliberately lax frame check (`validateOpusFrame`, docs/platform.md §A3.2),
 * plus the query parsing of §A1.2. This is NOT the client's strict RFC 6716 parser: the real
 * gateway accepts any 2..3825-byte message, garbage included, and the emulator must too.
 * @packageDocumentation
 */
import type { AudioEndpoint, AudioSessionParams, TrackSource } from './types.js';

/** Largest message the gateway accepts as a frame (3 × 1275). */
export const GATEWAY_MAX_FRAME_BYTES = 3825;

/** Read limit per endpoint (§A3.1): 65 536 on connect/duplex, 1 024 on subscribe. */
export const READ_LIMIT_BYTES: Readonly<Record<AudioEndpoint, number>> = Object.freeze({
  connect: 65_536,
  duplex: 65_536,
  subscribe: 1_024,
});

/**
 * Runs §A3.2 on a binary message and returns the Go error string on rejection, or `undefined`
 * when the frame is accepted. The TOC's config, stereo bit and code are decoded but ignored:
 * for every code the only structural check is `len >= 2`.
 */
export function gatewayFrameError(frame: Uint8Array): string | undefined {
  const len = frame.length;
  if (len === 0) return 'empty opus frame';
  if (len > GATEWAY_MAX_FRAME_BYTES) return 'opus frame exceeds maximum size';
  // toc = frame[0]: config = toc >> 3, stereo = (toc >> 2) & 1, code = toc & 3 — all unused.
  if (len < 2) return 'opus frame too small for declared structure';
  return undefined;
}

/** Go's `strconv.Atoi`: optional sign then ASCII digits only, within int64. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

function parseSource(v: string | null): TrackSource | undefined {
  if (v === 'screen_share_audio') return 'screen_share_audio';
  if (v === 'microphone') return 'microphone';
  return undefined;
}

/**
 * Parses the query exactly as §A1.2: `stereo=="true" || channels=="2"`; `frame_duration_ms` via
 * Atoi with anything not a positive integer → 20; empty `track_name` → `audio`; only
 * `screen_share_audio` is a non-microphone source; `target_track_source` empty/unknown = any.
 */
export function parseAudioQuery(endpoint: AudioEndpoint, query: URLSearchParams): AudioSessionParams {
  const raw: Record<string, string> = {};
  for (const [k, v] of query) raw[k] = k === 'token' ? '<redacted>' : v;
  const subscribeOnly = endpoint === 'subscribe';
  const fd = atoi(query.get('frame_duration_ms') ?? '');
  return {
    stereo: !subscribeOnly && (query.get('stereo') === 'true' || query.get('channels') === '2'),
    frameDurationMs: !subscribeOnly && fd !== undefined && fd > 0 ? fd : 20,
    trackName: subscribeOnly ? 'audio' : query.get('track_name') || 'audio',
    trackSource:
      !subscribeOnly && query.get('track_source') === 'screen_share_audio' ? 'screen_share_audio' : 'microphone',
    metadata: subscribeOnly ? '' : (query.get('metadata') ?? ''),
    targetIdentity: endpoint === 'connect' ? '' : (query.get('target_identity') ?? ''),
    targetTrackSource: endpoint === 'connect' ? undefined : parseSource(query.get('target_track_source')),
    raw,
  };
}
