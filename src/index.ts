/**
 * argon-voice: voice and audio toolkit for Argon Bot API bots.
 *
 * The root module lists named exports only; each folder's index decides what it exports.
 * @packageDocumentation
 */
export * from './errors.js';
export * from './util/index.js';
