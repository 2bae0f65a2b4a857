/**
 * Receive-path exports (subscriber, receiver, recorder, jitter buffer), for the lead to merge into
 * `src/voice/index.ts` and the root `src/index.ts`.
 * @packageDocumentation
 */
export {
  type SubscribeApi,
  type SubscriberTimeouts,
  VoiceSubscriber,
  type VoiceSubscriberEvents,
  type VoiceSubscriberOptions,
  type VoiceSubscriberState,
} from './subscriber.js';
export {
  type FrameSourceLike,
  type ReceivedOpusFrame,
  type ReceivedPcmFrame,
  UserAudioStream,
  type UserAudioStreamEvents,
  type SubscribeOptions,
  type UserStreamOptions,
  VoiceReceiver,
  type VoiceReceiverEvents,
  type VoiceReceiverOptions,
} from './receiver.js';
export {
  RECORDING_JITTER,
  TRACK_LEAD_IN_SAMPLES,
  type RecordedTrack,
  Recorder,
  type RecorderEvents,
  type RecorderOptions,
  type RecordingSummary,
  wavHeader,
} from './recorder.js';
export {
  AdaptiveJitterBuffer,
  DelayHistogram,
  type JitterBufferOptions,
  type JitterMetrics,
  type JitterOutput,
} from '../jitter/index.js';
