/**
 * Publish-path exports of `src/voice/` (merged into `src/voice/index.ts` by the lead).
 * @packageDocumentation
 */
export {
  type GatewayGrant,
  PublishSession,
  type PublishSessionEvents,
  type PublishSessionOptions,
  statusOf,
  type StreamTokenApi,
  type StreamTokenGrant,
  VoiceConnection,
  type VoiceConnectionEvents,
  type VoiceConnectionOptions,
  type VoiceConnectionState,
} from './connection.js';
export { type DuplexGrant, DuplexSession, type DuplexSessionEvents, type DuplexSessionOptions } from './duplex.js';
export { type AudioEndpoint, type AudioUrlParams, buildAudioUrl } from './gateway-url.js';
export {
  AudioPlayer,
  type AudioPlayerEvents,
  type AudioPlayerOptions,
  type AudioPlayerState,
  type FrameSink,
  type PlayInput,
  type PlayOptions,
  type PlayoutResult,
  type Track,
} from './player.js';
export { type LaneClient, MediaLaneHandle, MediaWorkerPool, type MediaWorkerPoolOptions } from './media/pool.js';
export type { LaneStats, MediaReply } from './media/protocol.js';
