/**
 * The cluster's typed error.
 * @packageDocumentation
 */
import { ArgonVoiceError } from '../errors.js';

/**
 * Why a cluster operation failed:
 * - `no-holder`: no worker holds the space's lease (nobody answered on its command subject);
 * - `lease-lost`: this process lost (or could not renew) a lease and stopped what it guarded;
 * - `bad-message`: a NATS message or KV value did not parse (it is ignored, never fatal);
 * - `rejected`: the holder answered the command with an error;
 * - `not-running`: the worker or router is not started or already closed.
 */
export type ClusterErrorReason = 'no-holder' | 'lease-lost' | 'bad-message' | 'rejected' | 'not-running';

/** A cluster fault; `reason` says which (code `ARGON_VOICE_CLUSTER`). */
export class ClusterError extends ArgonVoiceError {
  /** What went wrong. */
  readonly reason: ClusterErrorReason;
  constructor(reason: ClusterErrorReason, message: string, options?: { cause?: unknown }) {
    super('ARGON_VOICE_CLUSTER', message, options);
    this.reason = reason;
  }
}
