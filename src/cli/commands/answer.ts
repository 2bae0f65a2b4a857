import type { CliCommand } from '../main.js';

// Placeholder until the answer command lands in this session; it fails loudly rather than pretend.
export const command: CliCommand = {
  summary: '(answer: not built yet)',
  help: 'argon-voice answer: not built yet',
  async run(_argv, io) {
    io.stderr.write('argon-voice answer: not built yet\n');
    return 1;
  },
};
