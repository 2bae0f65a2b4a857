// Runs the `argon-voice` command from the TypeScript sources, exactly as bin/argon-voice.js runs
// the compiled ones, so end-to-end tests exercise the real process boundary (argv, env, exit code,
// stdout/stderr, signals) without depending on a fresh `npm run build`.
import { main } from '../../src/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
