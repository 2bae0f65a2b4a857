/**
 * Public surface of the Opus packet layer and the containers (merged into `src/codec/index.ts`).
 * @packageDocumentation
 */
export {
  assertGatewaySafe,
  GATEWAY_MAX_PACKET_BYTES,
  isGatewaySafe,
  OPUS_MAX_FRAME_BYTES,
  type OpusPacketInfo,
  opusPacketSamples,
  parseOpusPacket,
  tocFrameSamples,
  tryParseOpusPacket,
} from './opus-packet.js';
export { isDtxPacket, SILENCE_FRAME_DURATIONS, silencePacket } from './silence.js';
export { oggCrcUpdate, oggPageCrc } from './ogg-crc.js';
export {
  demuxOggOpus,
  type OggDemuxEvent,
  type OggDemuxOptions,
  OggOpusDemuxer,
  type OpusDemuxEvent,
  type OpusHead,
  parseOpusHead,
  parseOpusTags,
} from './ogg-demux.js';
export { OggOpusMuxer, type OggOpusMuxerOptions } from './ogg-mux.js';
export { demuxWebmOpus, type WebmDemuxEvent, type WebmDemuxOptions, WebmOpusDemuxer } from './webm-demux.js';
export { PROBE_MAX_BYTES, type ProbeResult, probeContainer } from './probe.js';
