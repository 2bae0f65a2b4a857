#!/usr/bin/env node
// The `argon-voice` command. The implementation lives in src/cli (compiled to dist/).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`argon-voice: ${err?.message ?? err}`);
    process.exitCode = 1;
  },
);
