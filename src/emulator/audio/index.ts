/**
 * The emulated Argon audio gateway and simulated people (audio half).
 * @packageDocumentation
 */
export { AudioGateway, type AudioGatewayEvents, type AudioGatewayOptions } from './gateway.js';
export {
  type AudioFaultSpec,
  type DropOptions,
  GatewayFaults,
  type JoinFailureOptions,
  type RefuseUpgradeOptions,
} from './faults.js';
export { ImpairmentStream, type ImpairmentStats, impair, mulberry32, sortByArrival } from './impairment.js';
export {
  type CapturedFrame,
  Listener,
  type ListenerEvents,
  SimulatedParticipant,
  type SimulatedParticipantEvents,
  type SpeakHandle,
  type SpeakOptions,
  type SpeakSource,
  sfuSilenceFrame,
  tocPacketSamples,
} from './participants.js';
export { ERROR_PREFIX } from './session.js';
export {
  type MintTokenOptions,
  mintLiveKitToken,
  type RejectedToken,
  type VerifiedToken,
  type VerifyTokenOptions,
  type VideoGrant,
  verifyLiveKitToken,
} from './tokens.js';
export {
  type AudioEndpoint,
  type AudioSessionParams,
  DEFAULT_GATEWAY_TIMINGS,
  type FaultTarget,
  type GatewaySessionInfo,
  type GatewaySessionState,
  type GatewayTimings,
  type ImpairedFrame,
  type ImpairmentInput,
  type ImpairmentOptions,
  type JitterOptions,
  type LossOptions,
  type PublishedFrame,
  type SessionCloseReason,
  type StatusKey,
  type TrackSource,
} from './types.js';
export { GATEWAY_MAX_FRAME_BYTES, gatewayFrameError, parseAudioQuery, READ_LIMIT_BYTES } from './validate.js';
