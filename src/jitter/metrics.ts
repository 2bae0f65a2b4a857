/**
 * Counters of the adaptive jitter buffer: a plain object updated in place (zero cost to read).
 * @packageDocumentation
 */
import { SampleWindow } from '../util/stats.js';

/** Live metrics of an {@link AdaptiveJitterBuffer}. All durations in ms. */
export interface JitterMetrics {
  /** Delay of the last played packet above the fastest recent packet. */
  currentDelayMs: number;
  /** Target delay chosen from the histogram. */
  targetDelayMs: number;
  /** Media held in the queue. */
  bufferedMs: number;
  /** Packets accepted by `push`. */
  packetsReceived: number;
  /** Packets handed out by `pop` (DTX included). */
  packetsPlayed: number;
  /** Packets rejected by `push` (empty, impossible TOC). */
  invalidPackets: number;
  /** Slots concealed because their packet arrived after its slot had passed. */
  lateLosses: number;
  /** Late packets discarded because their slot had been concealed already (live playout only). */
  lateDiscards: number;
  /** Concealed time later filled by a late packet. */
  lateLossMs: number;
  /** Frames inferred lost from arrival timing (queued as gaps). */
  inferredLosses: number;
  /** Inferred losses later found to be late packets (reordered or delayed by about a frame). */
  inferenceUndone: number;
  /** Time concealed by PLC or FEC. */
  concealedMs: number;
  /** Slots concealed. */
  concealedSlots: number;
  /** Longest concealment run seen. */
  maxConcealRunMs: number;
  /** Gaps handed out with the next packet for in-band FEC. */
  fecRecoveries: number;
  /** Times the queue ran dry during speech. */
  underruns: number;
  /** Speech frames dropped to bring the delay down to target. */
  droppedFrames: number;
  /** Time-stretch requests handed out (with `timeStretch`). */
  stretchRequests: number;
  /** Time removed by accelerating speech, as reported by the consumer. */
  acceleratedMs: number;
  /** Time added by expanding speech, as reported by the consumer. */
  expandedMs: number;
  /** Frames dropped because the queue went over `maxBufferedMs`. */
  overflowDrops: number;
  /** Silence inserted to build up delay at a talk-spurt start. */
  silenceInsertedMs: number;
  /** Silence slots handed out (DTX, hold, faded). */
  silenceMs: number;
  /** Sender restarts detected. */
  restarts: number;
  /** Times the relative-delay reference was rebuilt after a persistent step. */
  referenceSteps: number;
  /** Calls to `reset()`. */
  resets: number;
  /** Rolling window of played packets' delays (for percentiles). */
  delayWindow: SampleWindow;
}

/** A zeroed {@link JitterMetrics}. */
export function newJitterMetrics(): JitterMetrics {
  return {
    currentDelayMs: 0,
    targetDelayMs: 0,
    bufferedMs: 0,
    packetsReceived: 0,
    packetsPlayed: 0,
    invalidPackets: 0,
    lateLosses: 0,
    lateDiscards: 0,
    lateLossMs: 0,
    inferredLosses: 0,
    inferenceUndone: 0,
    concealedMs: 0,
    concealedSlots: 0,
    maxConcealRunMs: 0,
    fecRecoveries: 0,
    underruns: 0,
    droppedFrames: 0,
    stretchRequests: 0,
    acceleratedMs: 0,
    expandedMs: 0,
    overflowDrops: 0,
    silenceInsertedMs: 0,
    silenceMs: 0,
    restarts: 0,
    referenceSteps: 0,
    resets: 0,
    delayWindow: new SampleWindow(512),
  };
}
