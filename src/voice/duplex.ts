/**
 * `DuplexSession`: one socket that publishes and receives (`/audio/duplex`, docs/platform.md §A2.2,
 * §A5; §R6.3), used by calls. Publishing goes through the same validation, pacer
 * thread and pre-roll as {@link VoiceConnection}; received binary frames are emitted as `frame`
 * events with their arrival time for the receive path (jitter buffer).
 *
 * Differences from `/audio/connect` that this class handles:
 * - `subscribed` and even target audio can arrive **before** `ready` (§A2.2): they are emitted at once.
 * - `target_left` does not close the socket; publishing goes on (§A5.3).
 * - The call token comes from ICalls Accept, which cannot be called twice: it is reused on
 *   reconnect (it is only checked at upgrade, §A1.4) and never refreshed.
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import {
  type GatewayGrant,
  PublishSession,
  type PublishSessionEvents,
  type PublishSessionOptions,
} from './connection.js';
import type { AudioUrlParams } from './gateway-url.js';

/** What ICalls Accept returns (the parts a duplex socket needs). */
export interface DuplexGrant {
  /** Call token (LiveKit JWT, TTL 1 h; never logged). */
  token: string;
  /** Gateway base (`ws://host:12880`); `/audio/duplex` is appended. */
  audioBaseUrl: string;
  /** Identity of the caller, whose audio is received (`target_identity`). */
  callerId: string;
}

/** Events of {@link DuplexSession}. */
export type DuplexSessionEvents = PublishSessionEvents & {
  /** A binary frame from the target (raw Opus, may be a ≤ 2-byte DTX packet: never re-publish it). */
  frame: [data: Uint8Array, arrivalMs: number];
  /** The target's track was subscribed (again after a republish: reset the jitter buffer). */
  subscribed: [info: { trackSid: string; participantIdentity: string }];
  /** The target left the room; the socket stays open and publishing continues. */
  targetLeft: [info: { participantIdentity: string }];
};

/** Options of {@link DuplexSession}. */
export interface DuplexSessionOptions extends PublishSessionOptions {
  /** Supplies the token, gateway base and caller id (e.g. from `rest.calls.accept`). Called once. */
  grantProvider: (options: { signal: AbortSignal }) => Promise<DuplexGrant>;
  /** Which of the target's tracks to receive (default microphone: never "all", §A8a.11). */
  targetTrackSource?: 'microphone' | 'screen_share_audio';
  /** Registry key (default: unique per session; calls pass their room name). */
  key?: string;
}

/**
 * A publish + receive session over `/audio/duplex`.
 */
export class DuplexSession extends PublishSession<DuplexSessionEvents> {
  readonly #provider: DuplexSessionOptions['grantProvider'];
  readonly #targetSource: 'microphone' | 'screen_share_audio';
  #callerId: string | undefined;
  #framesReceived = 0;

  /**
   * Starts connecting at once.
   * @throws InvalidInputError without a grant provider or with bad options.
   */
  constructor(options: DuplexSessionOptions) {
    if (typeof options?.grantProvider !== 'function')
      throw new InvalidInputError('DuplexSession needs a grantProvider');
    super('duplex', options.key ?? `duplex:${randomUUID()}`, { reconnect: { maxAttempts: 3 }, ...options });
    this.#provider = options.grantProvider;
    this.#targetSource = options.targetTrackSource ?? 'microphone';
  }

  /** The caller whose audio is received, once known. */
  get callerId(): string | undefined {
    return this.#callerId;
  }

  /** Binary frames received so far. */
  get framesReceived(): number {
    return this.#framesReceived;
  }

  protected override canRenewToken(): boolean {
    return false;
  }

  protected override async requestGrant(signal: AbortSignal): Promise<GatewayGrant> {
    const g = await this.#provider({ signal });
    if (!g?.callerId) throw new InvalidInputError('the duplex grant has no callerId (target_identity)');
    this.#callerId = g.callerId;
    return { token: g.token, baseUrl: g.audioBaseUrl };
  }

  protected override extraUrlParams(): AudioUrlParams {
    return { targetIdentity: this.#callerId, targetTrackSource: this.#targetSource };
  }

  protected override onStatusMessage(status: string, body: Record<string, unknown>): void {
    const who = typeof body.participant_identity === 'string' ? body.participant_identity : '';
    if (status === 'subscribed') {
      this.emit('subscribed', {
        trackSid: typeof body.track_sid === 'string' ? body.track_sid : '',
        participantIdentity: who,
      });
    } else if (status === 'target_left') {
      this.emit('targetLeft', { participantIdentity: who });
    }
  }

  protected override onBinaryMessage(data: Uint8Array, arrivalMs: number): void {
    this.#framesReceived++;
    this.emit('frame', data, arrivalMs);
  }
}
