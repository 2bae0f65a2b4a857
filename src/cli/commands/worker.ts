/**
 * `argon-voice worker`: a voice worker of the bot's cluster (see docs/guides/scaling.md).
 *
 * ```
 * ARGON_NATS_URL ─► VoiceWorker: claims spaces (KV leases) ─► VoiceConnection + AudioPlayer per space
 * ARGON_TOKEN, ARGON_API_URL ─► REST (StreamToken); the token never goes to NATS
 * --answer ─► CallWorker beside it (same NATS connection and REST client): takes calls from the
 *             shared JetStream consumer, answers them (policy, echo flow), hangs up a dead worker's calls
 * SIGTERM/SIGINT ─► drain (final positions written, leases released; live calls hung up) ─► exit 0
 * ```
 * @packageDocumentation
 */
import { parsePolicySpec } from '../../calls/policy.js';
import { CallWorker } from '../../cluster/calls.js';
import { ClusterError } from '../../cluster/errors.js';
import { connectNats } from '../../cluster/nats.js';
import { VoiceWorker } from '../../cluster/worker.js';
import { InvalidInputError, redactSecrets, registerSecret } from '../../errors.js';
import { RestClient } from '../../rest/client.js';
import { RateLimiter } from '../../rest/rate-limiter.js';
import { parseExtraTokens, parseFlags } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';

const HELP = [
  'Usage: argon-voice worker [--id ID] [--max-streams N] [--max-cpu PCT] [--lease-ttl MS] [--answer ...]',
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
  'Calls (ICalls, verified bots; the router must read the stream with the Calls intent):',
  '  --answer           also answer calls: exactly one worker takes each call (a shared JetStream',
  '                     consumer and a call.<id> lease) and runs the echo flow on it; the calls of a',
  '                     worker that dies are hung up by another one (the caller is told)',
  '  --policy SPEC      which calls to accept, as for `argon-voice answer` (accept, reject,',
  '                     allow-list:IDS, deny-list:IDS, locale:TAGS, max:N, delay:MS joined with +),',
  '                     or `manual`: hold each call ringing until an answer/reject request on',
  '                     argon.<bot>.call.<callId>. Default accept',
  '  --max-calls N      most calls plus spaces held at once (default --max-streams)',
  '  --greeting FILE    greeting of the echo flow (default: eSpeak NG if installed, else a chime)',
  '  --no-tts           use the chime instead of speech when there is no --greeting',
  '  --record-seconds N how long the echo flow records the caller (default 5)',
  '',
  'Environment: ARGON_NATS_URL (required, e.g. nats://127.0.0.1:4222, JetStream enabled),',
  'ARGON_TOKEN (required), ARGON_API_URL, ARGON_AUDIO_URL, ARGON_EXTRA_TOKENS (comma-separated',
  'tokens of other bots in the spaces: recordings (ClusterClient.record) subscribe as them, one per',
  'recorded user). Track inputs (paths or URLs) and recording directories must be reachable from',
  'every worker (a shared file system for recordings).',
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
      answer: { type: 'boolean', default: false },
      policy: { type: 'string', default: 'accept' },
      'max-calls': { type: 'number' },
      greeting: { type: 'string' },
      tts: { type: 'boolean', default: true },
      'record-seconds': { type: 'number', default: 5 },
    });
    const url = io.env.ARGON_NATS_URL;
    if (!url) throw new InvalidInputError('worker needs ARGON_NATS_URL (a NATS server with JetStream)');
    const token = io.env.ARGON_TOKEN;
    if (!token) throw new InvalidInputError('worker needs ARGON_TOKEN (the bot token; it is never sent to NATS)');
    registerSecret(token);
    const policySpec = flags.policy as string;
    const manual = policySpec === 'manual';
    // Checked before anything connects, so a typo fails at once.
    const policy = flags.answer && !manual ? parsePolicySpec(policySpec) : undefined;
    const recordSeconds = flags['record-seconds'] as number;
    if (!(recordSeconds > 0)) throw new InvalidInputError(`--record-seconds must be > 0, got ${recordSeconds}`);
    const maxCalls = (flags['max-calls'] as number | undefined) ?? (flags['max-streams'] as number);
    if (!Number.isInteger(maxCalls) || maxCalls < 1)
      throw new InvalidInputError(`--max-calls must be an integer >= 1, got ${maxCalls}`);
    const windowMs = flags['rate-window'] as number | undefined;
    if (windowMs !== undefined && !(windowMs > 0)) throw new InvalidInputError('--rate-window must be > 0 ms');
    const rest = new RestClient({
      token,
      baseUrl: io.env.ARGON_API_URL || undefined,
      ...(windowMs ? { limiter: new RateLimiter({ windowMs }) } : {}),
    });
    const me = await rest.botSelf.getMe({ signal: io.signal });
    const nc = await connectNats(url, { name: `argon-voice worker ${me.botId}` });
    const gatewayUrl = (flags.gateway as string | undefined) || io.env.ARGON_AUDIO_URL || undefined;
    // Recordings subscribe as other bot identities (one per recorded user): a bot that plays in a
    // room cannot also subscribe there (one session per identity and room). Every worker gets the
    // same list, so any of them can take a recording over.
    const identities = parseExtraTokens(io.env).map(
      (t) =>
        new RestClient({
          token: t,
          baseUrl: io.env.ARGON_API_URL || undefined,
          ...(windowMs ? { limiter: new RateLimiter({ windowMs }) } : {}),
        }),
    );
    // Spaces and calls share the process and its --max-streams: each counts the other's load.
    let calls: CallWorker | undefined;
    const worker = new VoiceWorker({
      extraLoad: () => calls?.calls.length ?? 0,
      nats: nc,
      botId: me.botId,
      workerId: flags.id as string | undefined,
      maxStreams: flags['max-streams'] as number,
      maxCpuPct: flags['max-cpu'] as number | undefined,
      leaseTtlMs: flags['lease-ttl'] as number | undefined,
      placementStepMs: flags['placement-step'] as number | undefined,
      playback: { rest, gatewayUrl },
      recording: { identities, gatewayUrl },
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
    const line = (o: Record<string, unknown>) => io.stdout.write(`${redactSecrets(JSON.stringify(o))}\n`);
    calls = flags.answer
      ? new CallWorker({
          nats: nc,
          botId: me.botId,
          calls: rest.calls,
          workerId: worker.workerId,
          leaseTtlMs: flags['lease-ttl'] as number | undefined,
          maxCalls,
          load: () => worker.spaces.length,
          manual,
          answer: {
            ...(policy ? { policy } : {}),
            recordSeconds,
            ...(flags.greeting ? { greeting: flags.greeting as string } : {}),
            ...(gatewayUrl ? { duplex: { gatewayUrl } } : {}),
            echo: flags.tts ? {} : { tts: false as const },
          },
          log: (l) => io.stderr.write(`${redactSecrets(l)}\n`),
        })
      : undefined;
    if (calls) {
      const w = calls.workerId;
      calls.on('taken', (callId, i) =>
        line({ event: 'callTaken', worker: w, callId, manual: i.manual, at: Date.now() }),
      );
      calls.on('answered', (callId, i) =>
        line({ event: 'answered', worker: w, callId, callerId: i.callerId, at: Date.now() }),
      );
      calls.on('ended', (callId, reason) => line({ event: 'callEnded', worker: w, callId, reason, at: Date.now() }));
      calls.on('orphanEnded', (callId, i) =>
        line({
          event: 'callOrphanEnded',
          worker: w,
          callId,
          deadHolder: i.deadHolder,
          detectedBy: i.detectedBy,
          at: Date.now(),
        }),
      );
      calls.on('error', (e) => {
        if (!(e instanceof ClusterError && e.reason === 'bad-message')) return;
        io.stderr.write(`ignored: ${redactSecrets(e.message)}\n`);
      });
    }
    try {
      await worker.start();
      await calls?.start();
      io.stdout.write(`${JSON.stringify({ event: 'started', worker: worker.workerId, botId: me.botId })}\n`);
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      // Calls first: their callers are told (Reject) and their leases released.
      await calls?.close();
      await worker.close();
      return 0;
    } finally {
      calls?.abandon();
      worker.abandon();
      await nc.close().catch(() => undefined);
      await rest.close?.();
      await Promise.all(identities.map((r) => r.close()));
    }
  },
};
