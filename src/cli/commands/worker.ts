/**
 * `argon-voice worker`: a voice worker of the bot's cluster (see docs/guides/scaling.md).
 *
 * ```
 * ARGON_NATS_URL ─► VoiceWorker: claims spaces (KV leases) ─► VoiceConnection + AudioPlayer per space
 * ARGON_TOKEN, ARGON_API_URL ─► REST (StreamToken); the token never goes to NATS
 * SIGTERM/SIGINT ─► drain (final positions written, leases released) ─► exit 0
 * ```
 * @packageDocumentation
 */
import { ClusterError } from '../../cluster/errors.js';
import { connectNats } from '../../cluster/nats.js';
import { VoiceWorker } from '../../cluster/worker.js';
import { InvalidInputError, registerSecret } from '../../errors.js';
import { RestClient } from '../../rest/client.js';
import { RateLimiter } from '../../rest/rate-limiter.js';
import { parseFlags } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';

const HELP = [
  'Usage: argon-voice worker [--id ID] [--max-streams N] [--max-cpu PCT] [--lease-ttl MS]',
  '',
  "Runs a voice worker of the bot's cluster: it claims spaces through leases in NATS JetStream KV,",
  'plays their queues, answers their commands (argon.<bot>.cmd.<space>) and reports on',
  'argon.<bot>.status.<worker>. When a worker dies, its leases expire and another worker resumes',
  'its spaces where they were. SIGTERM or Ctrl-C drains: positions are written and leases released',
  'so other workers take over at once.',
  '',
  'Options:',
  '  --id ID            worker id (default <host>-<pid>-<random>)',
  '  --max-streams N    most spaces held at once (default 8)',
  '  --max-cpu PCT      take no new space above this CPU use (percent of one core)',
  '  --lease-ttl MS     lease TTL when the cluster is new (default 3000)',
  '  --placement-step MS  wait load × MS before claiming a free space (default 200)',
  '  --gateway URL      audio gateway base (default ARGON_AUDIO_URL, else StreamToken ingressUrl)',
  "  --rate-window MS   client-side rate-limit window (default 60000, the platform's; only for an",
  '                     emulator started with shorter windows)',
  '',
  'Environment: ARGON_NATS_URL (required, e.g. nats://127.0.0.1:4222, JetStream enabled),',
  'ARGON_TOKEN (required), ARGON_API_URL, ARGON_AUDIO_URL. Track inputs must be paths or URLs',
  'that every worker can open.',
].join('\n');

/** The `worker` command. */
export const command: CliCommand = {
  summary: 'Run a voice worker of a NATS cluster (ARGON_NATS_URL)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { flags } = parseFlags(argv, {
      id: { type: 'string' },
      'max-streams': { type: 'number', default: 8 },
      'max-cpu': { type: 'number' },
      'lease-ttl': { type: 'number' },
      'placement-step': { type: 'number' },
      gateway: { type: 'string' },
      'rate-window': { type: 'number' },
    });
    const url = io.env.ARGON_NATS_URL;
    if (!url) throw new InvalidInputError('worker needs ARGON_NATS_URL (a NATS server with JetStream)');
    const token = io.env.ARGON_TOKEN;
    if (!token) throw new InvalidInputError('worker needs ARGON_TOKEN (the bot token; it is never sent to NATS)');
    registerSecret(token);
    const windowMs = flags['rate-window'] as number | undefined;
    if (windowMs !== undefined && !(windowMs > 0)) throw new InvalidInputError('--rate-window must be > 0 ms');
    const rest = new RestClient({
      token,
      baseUrl: io.env.ARGON_API_URL || undefined,
      ...(windowMs ? { limiter: new RateLimiter({ windowMs }) } : {}),
    });
    const me = await rest.botSelf.getMe({ signal: io.signal });
    const nc = await connectNats(url, { name: `argon-voice worker ${me.botId}` });
    const worker = new VoiceWorker({
      nats: nc,
      botId: me.botId,
      workerId: flags.id as string | undefined,
      maxStreams: flags['max-streams'] as number,
      maxCpuPct: flags['max-cpu'] as number | undefined,
      leaseTtlMs: flags['lease-ttl'] as number | undefined,
      placementStepMs: flags['placement-step'] as number | undefined,
      playback: { rest, gatewayUrl: (flags.gateway as string | undefined) || io.env.ARGON_AUDIO_URL || undefined },
      log: (l) => io.stderr.write(`${l}\n`),
    });
    worker.on('claimed', (s, i) =>
      io.stdout.write(
        `${JSON.stringify({ event: 'claimed', worker: worker.workerId, spaceId: s, epoch: i.epoch, resumedAtMs: i.resumedAtMs, at: Date.now() })}\n`,
      ),
    );
    worker.on('released', (s, why) =>
      io.stdout.write(`${JSON.stringify({ event: 'released', worker: worker.workerId, spaceId: s, why })}\n`),
    );
    worker.on('error', (e) => {
      if (!(e instanceof ClusterError && e.reason === 'bad-message')) return;
      io.stderr.write(`ignored: ${e.message}\n`);
    });
    try {
      await worker.start();
      io.stdout.write(`${JSON.stringify({ event: 'started', worker: worker.workerId, botId: me.botId })}\n`);
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await worker.close();
      return 0;
    } finally {
      worker.abandon();
      await nc.close().catch(() => undefined);
      await rest.close?.();
    }
  },
};
