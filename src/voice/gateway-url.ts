/**
 * Audio gateway URLs: base + path + query, exactly as docs/platform.md §A1.2 parses them.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';

/** The three gateway endpoints (§A1.1). */
export type AudioEndpoint = 'connect' | 'subscribe' | 'duplex';

/** Query parameters of the gateway (§A1.2), in client terms. */
export interface AudioUrlParams {
  /** JWT for `?token=`; omit it when the token travels in `Authorization: Bearer` (§A1.3). */
  token?: string | undefined;
  /** Stereo track (`stereo=true`; the server needs exactly `"true"`). Default mono. */
  stereo?: boolean | undefined;
  /** Duration of every frame; must be a positive integer (`Atoi`: 2.5 would silently become 20). */
  frameDurationMs?: number | undefined;
  /** Track name (empty becomes `audio` server-side). */
  trackName?: string | undefined;
  /** Track source; only `screen_share_audio` is recognised, anything else is microphone. */
  trackSource?: 'microphone' | 'screen_share_audio' | undefined;
  /** Participant metadata. */
  metadata?: string | undefined;
  /** subscribe/duplex: whose audio to receive (required there). */
  targetIdentity?: string | undefined;
  /** subscribe/duplex: always set explicitly; empty means every audio track, interleaved (§A1.2, §A8a.11). */
  targetTrackSource?: 'microphone' | 'screen_share_audio' | undefined;
}

/**
 * Builds `base + /audio/<endpoint> + ?query`. `ingressUrl` / `audioBaseUrl` are bases (§A8a.2):
 * any path on the base is kept as a prefix; `http(s)` is turned into `ws(s)`.
 *
 * @throws InvalidInputError for a base that is not a ws/http URL, a non-integer frame duration,
 *   or a subscribe/duplex URL without `targetIdentity`.
 */
export function buildAudioUrl(base: string, endpoint: AudioEndpoint, params: AudioUrlParams = {}): string {
  let url: URL;
  try {
    url = new URL(base);
  } catch (err) {
    throw new InvalidInputError(`audio gateway base URL is not a URL: '${base}'`, { cause: err });
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  else if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    throw new InvalidInputError(`audio gateway base URL must be ws:// or wss://, got '${url.protocol}'`);
  }
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/audio/${endpoint}`;
  url.search = '';
  url.hash = '';
  const q = url.searchParams;
  if (params.token) q.set('token', params.token);
  if (endpoint !== 'subscribe') {
    q.set('stereo', params.stereo ? 'true' : 'false');
    const f = params.frameDurationMs ?? 20;
    if (!Number.isInteger(f) || f <= 0) {
      throw new InvalidInputError(
        `frame_duration_ms must be a positive integer (the gateway parses it with Atoi), got ${f}`,
      );
    }
    q.set('frame_duration_ms', String(f));
    if (params.trackName) q.set('track_name', params.trackName);
    if (params.trackSource) q.set('track_source', params.trackSource);
    if (params.metadata) q.set('metadata', params.metadata);
  }
  if (endpoint !== 'connect') {
    if (!params.targetIdentity) throw new InvalidInputError(`/audio/${endpoint} needs targetIdentity`);
    q.set('target_identity', params.targetIdentity);
    q.set('target_track_source', params.targetTrackSource ?? 'microphone');
  }
  return url.toString();
}
