/**
 * Sans-IO adaptive jitter buffer for header-less Opus egress, its delay histogram, metrics and the
 * seeded trace generator used by its tests and benchmark.
 * @packageDocumentation
 */
export {
  AdaptiveJitterBuffer,
  type JitterBufferOptions,
  type JitterOutput,
  type SilenceReason,
  type StretchRequest,
} from './jitter-buffer.js';
export { DelayHistogram, type DelayHistogramOptions } from './delay-histogram.js';
export { type JitterMetrics, newJitterMetrics } from './metrics.js';
export { isDtxSized, tocSamples, tocShape } from './toc.js';
export {
  fixedDelayLateRate,
  generateTrace,
  oracleDelay,
  runTrace,
  seededRandom,
  type Trace,
  type TraceBufferLike,
  type TraceOptions,
  type TracePacket,
  type TraceRun,
  type TraceRunOptions,
  type TraceScenario,
  TRACE_SCENARIOS,
  tracePacket,
  tracePacketIndex,
} from './trace.js';
