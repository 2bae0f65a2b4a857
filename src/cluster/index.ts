/**
 * The voice-worker cluster over NATS JetStream (`argon-voice/cluster`): an elected event router,
 * voice workers that claim spaces through KV leases, and a client for commands. See
 * docs/guides/scaling.md. Not exported from the package root, so the embedded default never
 * loads the NATS client.
 * @packageDocumentation
 */
export { type ClusterClientOptions, ClusterClient, type CommandResult } from './client.js';
export { ClusterError, type ClusterErrorReason } from './errors.js';
export { type RoutedEvent, type RoutedEventsOptions, routedEvents } from './events.js';
export { isRevisionConflict, Lease, type LeaseClaimOptions, type LeaseEvents } from './lease.js';
export {
  type LeaseAction,
  LeaseTimeline,
  type LeaseTimelineState,
  type LeaseTimingOptions,
} from './lease-timeline.js';
export { type ClusterNames, clusterNames, nameToken } from './names.js';
export {
  type ClusterStores,
  connectNats,
  DEFAULT_LEASE_TTL_MS,
  ensureEventStream,
  isNoResponders,
  type NatsConnection,
  openStores,
} from './nats.js';
export { ClusterPlayer, type ClusterPlayerOptions } from './player.js';
export {
  PlaybackSession,
  type PlaybackSessionOptions,
  type SpaceSession,
  type SpaceSessionContext,
  type SpaceSessionEvents,
} from './playback.js';
export {
  EventRouter,
  type EventRouterEvents,
  type EventRouterOptions,
  type EventRouterState,
  type EventRouterStats,
  encodeEvent,
  eventCursor,
  eventSpaceId,
  type RoutableEventStream,
} from './router.js';
export * from './wire.js';
export { VoiceWorker, type VoiceWorkerEvents, type VoiceWorkerOptions, type VoiceWorkerState } from './worker.js';
export {
  RecordingSession,
  type RecordingSessionOptions,
  type RecordingSnapshot,
  segmentFile,
} from './recording.js';
export {
  type JoinedSegment,
  type JoinSegmentsOptions,
  type JoinSegmentsResult,
  joinSegments,
  OggSegmentJoiner,
  readRecordingManifest,
  SEGMENT_INFO,
  SEGMENTS_MANIFEST,
  type SegmentJoinerOptions,
  writeRecordingManifest,
  writeSegmentInfo,
} from './segments.js';
export {
  type CallAnswerOptions,
  type CallCommand,
  type CallCommandReply,
  type CallNames,
  type CallWorkerEndReason,
  type CallWorkerEvents,
  type CallWorkerOptions,
  type CallWorkerState,
  CallWorker,
  ClusterCallClient,
  type ClusterCallClientOptions,
  callNames,
  parseCallCommand,
  parseCallEnded,
  parseCallIncoming,
  parseCallReply,
  type RoutedCallEnded,
  type RoutedCallIncoming,
} from './calls.js';
