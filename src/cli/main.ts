/**
 * Entry point of the `argon-voice` command: dispatches to one module per command under
 * `./commands/`. Each command module exports `run(argv, io)` and `help`.
 * @packageDocumentation
 */
import { describeError } from './errors.js';
import type { CliCommand, CliIo } from './types.js';

// Shared with the commands through ./types.js and ./errors.js (commands never import this module,
// which imports them); re-exported for callers of the entry point.
export { describeError } from './errors.js';
export type { CliCommand, CliIo } from './types.js';

// Explicit imports (not a template path) so bundlers and vitest can resolve every command.
const LOADERS = {
  emulator: () => import('./commands/emulator.js'),
  play: () => import('./commands/play.js'),
  record: () => import('./commands/record.js'),
  answer: () => import('./commands/answer.js'),
  bench: () => import('./commands/bench.js'),
  demo: () => import('./commands/demo.js'),
  router: () => import('./commands/router.js'),
  worker: () => import('./commands/worker.js'),
  cluster: () => import('./commands/cluster.js'),
} satisfies Record<string, () => Promise<{ command: CliCommand }>>;
type CommandName = keyof typeof LOADERS;
const COMMANDS = Object.keys(LOADERS) as CommandName[];

async function load(name: CommandName): Promise<CliCommand> {
  return (await LOADERS[name]()).command;
}

async function usage(): Promise<string> {
  const lines = ['Usage: argon-voice <command> [options]', '', 'Commands:'];
  for (const name of COMMANDS) {
    try {
      lines.push(`  ${name.padEnd(10)} ${(await load(name)).summary}`);
    } catch {
      lines.push(`  ${name.padEnd(10)} (unavailable in this build)`);
    }
  }
  lines.push(
    '',
    'Environment: ARGON_API_URL, ARGON_TOKEN, ARGON_SPACE_ID, ARGON_CHANNEL_ID, ARGON_AUDIO_URL,',
    'ARGON_EXTRA_TOKENS (more bot tokens: record receives each extra --user as one of them).',
    'Without ARGON_TOKEN every command runs against an embedded emulator of the platform.',
    "Run 'argon-voice <command> --help' for a command's options.",
  );
  return lines.join('\n');
}

/**
 * Runs the CLI with `argv` (without node and script). Resolves with the exit code.
 * Installs SIGINT/SIGTERM handlers that abort `io.signal` so commands finish cleanly.
 */
export async function main(argv: string[], ioOverride?: Partial<CliIo>): Promise<number> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort(new Error(`received ${sig}`));
  };
  const installSignals = !ioOverride?.signal;
  if (installSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    signal: controller.signal,
    ...ioOverride,
  };
  try {
    const [name, ...rest] = argv;
    if (!name || name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(`${await usage()}\n`);
      return name ? 0 : 2;
    }
    if (!(COMMANDS as string[]).includes(name)) {
      io.stderr.write(`argon-voice: unknown command '${name}'\n\n${await usage()}\n`);
      return 2;
    }
    const cmd = await load(name as CommandName);
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`${cmd.help}\n`);
      return 0;
    }
    return await cmd.run(rest, io);
  } catch (err) {
    io.stderr.write(`argon-voice: ${describeError(err)}\n`);
    return 1;
  } finally {
    if (installSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}
