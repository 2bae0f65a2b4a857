/**
 * argon-voice: voice and audio toolkit for Argon Bot API bots.
 *
 * The root module re-exports each folder's public names; each folder's `index.ts` decides what
 * it exports. The emulator is a separate entry point: `argon-voice/emulator`.
 * @packageDocumentation
 */
export * from './bot.js';
export * from './calls/index.js';
export * from './codec/index.js';
export * from './errors.js';
export * from './events/index.js';
export * from './jitter/index.js';
export * from './pacing/index.js';
export * from './rest/index.js';
export * from './tts/index.js';
export * from './util/index.js';
export * from './voice/index.js';
