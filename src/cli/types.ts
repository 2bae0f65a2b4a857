/**
 * Types shared by the CLI entry point (`main.ts`) and the command modules under `./commands/`.
 * Commands import them from here, never from `main.ts`, which imports the commands: that would
 * be an import cycle (test/cli/no-main-import.test.ts guards it).
 * @packageDocumentation
 */
import type { Clock } from '../util/clock.js';

/** Where a command writes; injectable so tests can capture output. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
  /**
   * Time source of the command and of its embedded emulator (default `systemClock`). Only
   * `record` reads it so far (receiver, jitter buffers, session clock, `--duration`). Tests pass a
   * `ManualClock` to run the emulator and the command on one stepped clock; users never set it.
   * @internal
   */
  clock?: Clock;
}

/** Shape of a command module. */
export interface CliCommand {
  /** One-line summary shown in the main help. */
  summary: string;
  /** Full `--help` text. */
  help: string;
  /** Runs the command; resolves with the process exit code. */
  run(argv: string[], io: CliIo): Promise<number>;
}
