/**
 * Public types of the emulated audio gateway (type-only module, so implementation files never
 * import each other in a circle).
 *
 * Platform notes: `docs/platform.md`, Part A (the § numbers below are its §A sections).
 * @packageDocumentation
 */

/** The three gateway routes (§A1.1). */
export type AudioEndpoint = 'connect' | 'subscribe' | 'duplex';

/** Track source as the gateway understands it (§A1.2: only `screen_share_audio` is recognised). */
export type TrackSource = 'microphone' | 'screen_share_audio';

/** The JSON key carrying the message kind (§A2.1): `status` in current builds, `type` in legacy ones. */
export type StatusKey = 'status' | 'type';

/**
 * Every interval of the gateway, in milliseconds. Defaults are the production values; tests
 * shrink them instead of waiting (no wall-clock tolerances).
 */
export interface GatewayTimings {
  /** Server ping interval (§A6). Default 30 000. */
  pingIntervalMs: number;
  /** Read deadline after upgrade and after each pong (§A6). Default 60 000. */
  pongWaitMs: number;
  /** `/audio/connect` media watchdog ticker (§A4.4). Default 60 000. `0` disables it. */
  mediaWatchdogMs: number;
  /** Simulated room join before `ready` / `waiting` / `subscribed` (§A2.2). Default 200. */
  joinDelayMs: number;
  /**
   * Frames accepted in the first N ms after `ready` are silently discarded (unbound sender,
   * §A4.2). Default 0 (none).
   */
  dropAfterReadyMs: number;
  /** Duration of the SFU silence run injected after a simulated mute (§A5.3). Default 1 000. */
  muteSilenceMs: number;
  /**
   * Write deadline (§A5.1, §A6): when written data stays unflushed this long (a client that does
   * not read), writing stops for good — egress and pings — so the pong deadline ends the session.
   * Default 10 000.
   */
  writeDeadlineMs: number;
}

/** Default {@link GatewayTimings} (the values the real gateway uses). */
export const DEFAULT_GATEWAY_TIMINGS: Readonly<GatewayTimings> = Object.freeze({
  pingIntervalMs: 30_000,
  pongWaitMs: 60_000,
  mediaWatchdogMs: 60_000,
  joinDelayMs: 200,
  dropAfterReadyMs: 0,
  muteSilenceMs: 1_000,
  writeDeadlineMs: 10_000,
});

/** Query parameters exactly as the gateway parses them (§A1.2). */
export interface AudioSessionParams {
  /** `stereo=="true" || channels=="2"`. */
  stereo: boolean;
  /** `strconv.Atoi(frame_duration_ms)`, non-positive or non-integer → 20. */
  frameDurationMs: number;
  /** Empty → `audio`. */
  trackName: string;
  /** Only `screen_share_audio` is recognised; anything else is microphone. */
  trackSource: TrackSource;
  /** Participant metadata (connect, duplex). */
  metadata: string;
  /** Required for subscribe and duplex; `''` on connect. */
  targetIdentity: string;
  /** `undefined` = every audio track of the target (empty or unknown value, §A1.2 DOCS≠CODE). */
  targetTrackSource: TrackSource | undefined;
  /** Every raw query parameter (the token is redacted). */
  raw: Record<string, string>;
}

/** A binary message the gateway accepted from a bot, as captured for tests and benchmarks. */
export interface PublishedFrame {
  /** The Opus packet, byte-exact. */
  data: Uint8Array;
  /** `performance.now()` at the moment the message was handled (sub-millisecond). */
  arrivalMs: number;
  /** `AWS_…` of the session that sent it. */
  sessionId: string;
  /** Identity (JWT `sub`) of the sender. */
  identity: string;
  /** Room (`video.room`). */
  room: string;
  /** RTP timestamp the gateway stamped: base + n × frame_duration_ms × 48 (§A4.1). */
  rtpTimestamp: number;
  /** RTP sequence number (random base + n, modulo 2^16). */
  seq: number;
  /** Track sid the frame was published on. */
  trackSid: string;
}

/** Life stage of a gateway session. */
export type GatewaySessionState = 'joining' | 'ready' | 'closed';

/** A snapshot of one WebSocket session. */
export interface GatewaySessionInfo {
  sessionId: string;
  endpoint: AudioEndpoint;
  identity: string;
  /** JWT `name` claim ('' when absent). */
  name: string;
  room: string;
  params: AudioSessionParams;
  /** Raw query parameters (token redacted); same as `params.raw`. */
  query: Record<string, string>;
  state: GatewaySessionState;
  /** Whether the session is still a member of its room (a kicked subscribe socket is open but not). */
  inRoom: boolean;
  /** Published track sid (connect, duplex) once joined. */
  trackSid: string | undefined;
  /** `performance.now()` at upgrade. */
  connectedAtMs: number;
  /** Accepted binary messages. */
  framesIn: number;
  /** Bytes of accepted binary messages. */
  bytesIn: number;
  /** Accepted messages discarded by the unbound-sender window (§A4.2). */
  framesDiscarded: number;
  /** Binary messages written to the client (egress). */
  framesOut: number;
  /** Pongs received. */
  pongs: number;
  /** Writing stopped for good after the write deadline passed (§A5.1). */
  writeBroken: boolean;
}

/** Why a session ended, as reported by `sessionClosed`. */
export type SessionCloseReason =
  | 'client-close'
  | 'socket-closed'
  | 'invalid-frame'
  | 'message-too-big'
  | 'protocol-error'
  | 'pong-timeout'
  | 'media-watchdog'
  | 'kicked'
  | 'duplicate-identity'
  | 'room-closed'
  | 'target-left'
  | 'join-failed'
  | 'fault'
  | 'server-shutdown';

/** What a fault applies to (§ "Control and faults"). */
export type FaultTarget = { sessionId: string } | { identity: string; room?: string } | 'next';

/** Jitter distribution of the impairment model. */
export type JitterOptions =
  | { kind: 'normal'; meanMs?: number; stdDevMs: number }
  /** Lomax (Pareto II) tail: `scaleMs × (U^(-1/shape) − 1)`, capped at `capMs`. */
  | { kind: 'pareto'; scaleMs: number; shape: number; capMs?: number };

/** Loss model of the impairment model. */
export type LossOptions =
  | { kind: 'random'; rate: number }
  /** Gilbert–Elliott two-state bursty loss. */
  | { kind: 'gilbert'; pGoodToBad: number; pBadToGood: number; lossInBad?: number; lossInGood?: number };

/**
 * The seeded network model applied between a simulated speaker and the gateway (§A5.1, §A8b.11).
 * Every field is optional; an empty object is a perfect network.
 */
export interface ImpairmentOptions {
  /** Constant one-way delay added to every frame. Default 0. */
  baseDelayMs?: number;
  jitter?: JitterOptions;
  loss?: LossOptions;
  /** With probability `rate`, a frame is held an extra `delayMs` (default 2 frames = 40 ms). */
  reorder?: { rate: number; delayMs?: number };
  /** With probability `rate`, a frame is delivered twice, the copy `delayMs` later (default 0). */
  duplicate?: { rate: number; delayMs?: number };
  /**
   * Stalls: everything due inside `[at, at + durationMs)` is held and released as one burst at
   * the end. `atMs` are offsets from the first frame's send time; `everyMs` repeats from `offsetMs`.
   */
  stall?: { durationMs: number; atMs?: number[]; everyMs?: number; offsetMs?: number };
  /**
   * WebRTC-style DTX: runs of silent frames are replaced by one tiny packet about every
   * `intervalMs` (default 400). `isSilent` defaults to `data.length <= 3`.
   */
  dtx?: { intervalMs?: number; packetBytes?: 1 | 2; isSilent?: (data: Uint8Array) => boolean };
  /** Clamp arrivals to be non-decreasing (a FIFO path: jitter without reordering). Default false. */
  fifo?: boolean;
}

/** One frame handed to the impairment model. */
export interface ImpairmentInput {
  data: Uint8Array;
  /** Time the speaker sent it (ms, any origin). */
  sendMs: number;
}

/** One delivery produced by the impairment model. */
export interface ImpairedFrame {
  data: Uint8Array;
  /** Time it reaches the gateway (same origin as `sendMs`). */
  arriveMs: number;
  /** Index of the input frame it came from. */
  index: number;
  /** True for the second copy of a duplicated frame. */
  duplicate: boolean;
  /** True when this is a DTX packet that replaced a silent frame. */
  dtx: boolean;
}
