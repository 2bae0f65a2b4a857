/**
 * The voice layer: sockets, sessions, sources, player, receiver and recorder.
 * @packageDocumentation
 */
export * from './publish-index.js';
export * from './receive-index.js';
export * from './sources/index.js';
