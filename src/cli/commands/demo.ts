import type { CliCommand } from '../main.js';

// Placeholder until the demo command lands in this session; it fails loudly rather than pretend.
export const command: CliCommand = {
  summary: '(demo: not built yet)',
  help: 'argon-voice demo: not built yet',
  async run(_argv, io) {
    io.stderr.write('argon-voice demo: not built yet\n');
    return 1;
  },
};
