/**
 * Command-line glue shared by the samples: "am I the entry point?", SIGINT/SIGTERM → an
 * AbortSignal (the sample closes its sockets and finishes its files), a second Ctrl-C forces
 * the exit, errors are printed without secrets.
 * @packageDocumentation
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AbortError, redactSecrets } from '../../src/errors.js';

/**
 * True when the module at `metaUrl` is the script node was started with (`node x.js`,
 * `node --import tsx x.ts`), not an import.
 */
export function isMain(metaUrl: string): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  try {
    return realpathSync(fileURLToPath(metaUrl)) === realpathSync(argv1);
  } catch {
    return false;
  }
}

/** What {@link runCli} hands to the sample. */
export interface CliRunContext {
  signal: AbortSignal;
  log: (line: string) => void;
}

/**
 * Runs a sample as a program: logs to stdout, aborts on SIGINT/SIGTERM (a second signal exits at
 * once with 130), prints `summarize(result)` and sets the exit code (0, or 1 on an error).
 */
export async function runCli<R>(
  name: string,
  run: (ctx: CliRunContext) => Promise<R>,
  summarize: (result: R) => string[] = () => [],
): Promise<void> {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${name}: ${sig}, shutting down (again to force)\n`);
    ac.abort(new AbortError(`${sig} received`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const log = (line: string): void => {
    process.stdout.write(`${redactSecrets(line)}\n`);
  };
  try {
    const result = await run({ signal: ac.signal, log });
    for (const line of summarize(result)) log(line);
    process.exitCode = 0;
  } catch (err) {
    const e = err as Error & { code?: string };
    if (ac.signal.aborted && e.code === 'ARGON_VOICE_ABORTED') {
      // Ctrl-C in the middle of a scripted run: everything was closed on the way out.
      log(`${name}: stopped`);
      process.exitCode = 0;
      return;
    }
    process.stderr.write(`${name}: ${e.code ? `${e.code}: ` : ''}${redactSecrets(e.message)}\n`);
    process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // Everything is closed by now; never let a stray handle keep a finished sample alive.
    setTimeout(() => process.exit(), 3000).unref();
  }
}
