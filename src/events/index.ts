/**
 * SSE side of the Bot API: the sans-IO parser, intents, the 28 typed events and `EventStream`.
 * @packageDocumentation
 */
export {
  DuplicateEventStreamError,
  EventStream,
  type EventStreamEvents,
  type EventStreamOptions,
  type EventStreamState,
  type EventStreamStats,
} from './event-stream.js';
export {
  EVENT_INTENT,
  INTENT_NAMES,
  type IntentName,
  Intents,
  IntentsBuilder,
  intentNames,
  intents,
  isPrivilegedIntent,
  PRIVILEGED_INTENTS,
} from './intents.js';
export { type SseError, type SseEvent, type SseItem, SseParser, type SseParserOptions } from './sse-parser.js';
export type * from './types.js';
