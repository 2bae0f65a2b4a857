/**
 * `argon-voice emulator [--port N] [--audio-port N]`: runs the in-process platform emulator until
 * interrupted, printing the base URL, the bot token and the demo world's ids.
 * @packageDocumentation
 */
import { Emulator } from '../../emulator/index.js';
import type { CliCommand, CliIo } from '../types.js';

function portArg(argv: string[], flag: string): number | undefined {
  const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  if (i < 0) return undefined;
  const a = argv[i]!;
  const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[i + 1];
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new Error(`${flag} needs a port number 0-65535, got '${v ?? ''}'`);
  return n;
}

/** The `emulator` command. */
export const command: CliCommand = {
  summary: 'Run the Argon platform emulator (REST + SSE + audio gateway) locally',
  help: [
    'Usage: argon-voice emulator [--port N] [--audio-port N]',
    '',
    'Starts the in-process Argon platform emulator and prints:',
    '  the REST base URL, a line "token: <bot token>", the demo space id and its voice channel id.',
    'Runs until interrupted (Ctrl-C).',
    '',
    'Options:',
    '  --port N        REST/SSE port (default 0 = any free port)',
    '  --audio-port N  audio gateway port (default 0 = any free port)',
  ].join('\n'),
  async run(argv: string[], io: CliIo): Promise<number> {
    const port = portArg(argv, '--port') ?? 0;
    const audioPort = portArg(argv, '--audio-port') ?? 0;
    const emu = await Emulator.start({ port, audioPort });
    try {
      io.stdout.write(
        [
          `api: ${emu.apiUrl}`,
          `token: ${emu.bot.token}`,
          `space: ${emu.demo.spaceId}`,
          `voice channel: ${emu.demo.voiceChannelId}`,
          `text channel: ${emu.demo.textChannelId}`,
          `audio: ${emu.audioUrl}`,
          '',
        ].join('\n'),
      );
      if (!io.signal.aborted) {
        await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
      }
      return 0;
    } finally {
      await emu.close();
    }
  },
};
