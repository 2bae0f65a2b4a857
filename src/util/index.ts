export { type Clock, ManualClock, systemClock } from './clock.js';
export { type EventMap, TypedEmitter } from './emitter.js';
export { backoffDelay, sleep, throwIfAborted, type WaitOptions, withDeadline } from './abort.js';
export { type StatefulLike, waitForStatus } from './state.js';
export { seededRandom } from './random.js';
export { percentile, SampleWindow, type Summary, summarize } from './stats.js';
