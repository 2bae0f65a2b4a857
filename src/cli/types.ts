/**
 * Types shared by the CLI entry point (`main.ts`) and the command modules under `./commands/`.
 * Commands import them from here, never from `main.ts`, which imports the commands: that would
 * be an import cycle (test/cli/no-main-import.test.ts guards it).
 * @packageDocumentation
 */

/** Where a command writes; injectable so tests can capture output. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Aborted on SIGINT/SIGTERM. */
  signal: AbortSignal;
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
