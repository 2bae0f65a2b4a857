// Runs `argon-voice` from source in a child process (the cluster tests spawn workers and routers).
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
