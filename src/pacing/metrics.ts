/**
 * The pacer's metrics object and its `node:diagnostics_channel` channel.
 * @packageDocumentation
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { PacerStreamCounters } from './pacer-core.js';
import type { LatePolicy } from './schedule.js';

/** Name of the diagnostics channel on which every metrics snapshot is published. */
export const PACER_CHANNEL = 'argon-voice:pacer';

/** Where the pacer runs and how it sleeps. */
export interface PacerRuntime {
  /** `worker`: a dedicated thread owns the timing loop and the socket; `main`: the event loop. */
  mode: 'worker' | 'main';
  /** `native`: clock_nanosleep to absolute deadlines; `atomics`: Atomics.wait + spin; `timers`: setTimeout. */
  clock: 'native' | 'atomics' | 'timers';
  /** True when the pacer thread runs with real-time (SCHED_FIFO) priority. */
  realtime: boolean;
  /** Why real-time priority was not granted, when asked for. */
  realtimeError?: string | undefined;
}

/** Snapshot of one pacer: counters from the pacer thread plus what the producer side measured. */
export interface PacerMetrics extends PacerStreamCounters, PacerRuntime {
  /** Frame duration of the stream. */
  frameDurationMs: number;
  /** Late policy in force. */
  latePolicy: LatePolicy;
  /** Bound of the prepared-frames queue. */
  queueCapacity: number;
  /** p99 of the time the producer took to prepare a frame (read + decode/encode), ms. */
  encodeP99Ms: number;
  /** Monotonic time of the snapshot on the producer's thread. */
  atMs: number;
}

/** Counters of a stream that has not sent anything yet. */
export function emptyCounters(): PacerStreamCounters {
  return {
    framesSent: 0,
    framesLate: 0,
    framesSkipped: 0,
    underruns: 0,
    fillerFrames: 0,
    networkDrops: 0,
    queueDepth: 0,
    spacingP50Ms: Number.NaN,
    spacingP99Ms: Number.NaN,
    spacingMaxMs: Number.NaN,
    latenessP50Ms: Number.NaN,
    latenessP99Ms: Number.NaN,
    latenessMaxMs: Number.NaN,
    timelineShiftMs: 0,
    dropouts: 0,
    droppedMs: 0,
  };
}

const channel = diagnosticsChannel.channel(PACER_CHANNEL);

/** Publishes `metrics` on {@link PACER_CHANNEL}; free when nobody subscribes. */
export function publishPacerMetrics(metrics: PacerMetrics): void {
  if (channel.hasSubscribers) channel.publish(metrics);
}
