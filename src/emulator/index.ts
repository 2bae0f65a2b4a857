/**
 * `argon-voice/emulator`: the Argon platform in process (REST + SSE + audio gateway) for tests,
 * samples, the CLI and benchmarks. Never imported by library code.
 * @packageDocumentation
 */
export {
  type DemoWorld,
  Emulator,
  type EmulatorBot,
  type EmulatorFaults,
  type EmulatorOptions,
  type SimulatedCall,
} from './emulator.js';
export type { RestFaultOptions } from './rest/faults.js';
export { parseJson, stringifyJson, type JsonValue, JsonSyntaxError } from './rest/json.js';
export { ARGON_EPOCH_MS, DEFAULT_TIMINGS, type EmulatorTimings } from './rest/timings.js';
export { SERVER_DIFFERENCES, type ServerDifference } from './rest/differences.js';
export * from './audio/index.js';
