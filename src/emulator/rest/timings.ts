/**
 * Every timed behaviour of the REST/SSE emulator, overridable through `Emulator.start({ timings })`
 * and driven by the injected {@link Clock} so tests never wait on the wall clock.
 * @packageDocumentation
 */

/** Timings of the emulated platform (milliseconds). Defaults follow docs/platform.md Part R. */
export interface EmulatorTimings {
  /** SSE delivery loop period (§R5.4: 500 ms). */
  sseBatchMs: number;
  /** Max events pulled per delivery tick (§R5.4: 50). */
  sseBatchSize: number;
  /** Idle time before an SSE heartbeat (§R5.4: 30 s). */
  heartbeatMs: number;
  /** Call ring timeout (§R6.1: 45 s). */
  ringTimeoutMs: number;
  /** Interaction id lifetime (§R8.1: 60 s). */
  interactionTtlMs: number;
  /** randomId dedup window (§R8.3: 2 min). */
  randomIdDedupMs: number;
  /** Sliding-window segment length (§R3: 10 s; the window is 6 segments). */
  rateSegmentMs: number;
  /** SSE replay retention (§R5.5: 5 min). */
  replayMs: number;
  /** An SSE consumer idle this long is deleted (§R5.5: 10 min). */
  consumerIdleMs: number;
  /** Typing auto-stop (§R8.4: 8 s). */
  typingAutoStopMs: number;
}

/** The platform's defaults. */
export const DEFAULT_TIMINGS: Readonly<EmulatorTimings> = Object.freeze({
  sseBatchMs: 500,
  sseBatchSize: 50,
  heartbeatMs: 30_000,
  ringTimeoutMs: 45_000,
  interactionTtlMs: 60_000,
  randomIdDedupMs: 120_000,
  rateSegmentMs: 10_000,
  replayMs: 300_000,
  consumerIdleMs: 600_000,
  typingAutoStopMs: 8_000,
});

/** Unix ms of the Argon epoch 2025-01-01T00:00:00Z (heartbeat timestamps, §R4.5). */
export const ARGON_EPOCH_MS = 1_735_689_600_000;
