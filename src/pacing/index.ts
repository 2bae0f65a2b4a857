/**
 * Frame pacing: the sans-IO schedule and the pacer thread that runs it.
 * @packageDocumentation
 */
export { FrameSchedule, type FrameScheduleOptions, type LatePolicy, type ScheduleDecision } from './schedule.js';
export {
  PacerStream,
  type PacerStreamCounters,
  type PacerStreamOptions,
  type SocketEvent,
  type FrameSend,
} from './pacer-core.js';
export {
  FramePacer,
  type FramePacerEvents,
  type FramePacerOptions,
  type PacerProducerLink,
  type PacerSocketOptions,
  PacerThread,
} from './pacer.js';
export { emptyCounters, PACER_CHANNEL, type PacerMetrics, type PacerRuntime, publishPacerMetrics } from './metrics.js';
