/**
 * `argon-voice router`: the event router of the bot's cluster (see docs/guides/scaling.md).
 *
 * ```
 * ARGON_NATS_URL ─► EventRouter: leader election (KV lease) ─► leader: SSE ─► JetStream argon.<bot>.events.<space>.<type>
 * ARGON_TOKEN, ARGON_API_URL ─► the SSE stream (only the leader opens it); the token never goes to NATS
 * SIGTERM/SIGINT ─► cursor written, lease released (a standby takes over at once) ─► exit 0
 * ```
 * @packageDocumentation
 */
import { connectNats } from '../../cluster/nats.js';
import { EventRouter } from '../../cluster/router.js';
import { InvalidInputError, registerSecret } from '../../errors.js';
import { EventStream } from '../../events/event-stream.js';
import { Intents } from '../../events/intents.js';
import { RestClient } from '../../rest/client.js';
import { parseFlags } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';

const HELP = [
  'Usage: argon-voice router [--id ID] [--lease-ttl MS]',
  '',
  "Runs an event router of the bot's cluster. Routers elect one leader through a lease in NATS",
  "JetStream KV; only the leader opens the bot's event stream (a second stream would split it)",
  'and publishes every event into the JetStream stream ARGON_EVENTS_<bot> on',
  'argon.<bot>.events.<spaceId>.<type> (argon.<bot>.events._.<type> for events without a space).',
  'Run two or more: when the leader dies, a standby takes over once its lease expires and resumes',
  'the stream (the platform replays what was missed; replays already published are dropped).',
  'SIGTERM or Ctrl-C hands over at once. The stream asks for every intent (Calls included: the',
  "workers' call sessions need callIncoming).",
  '',
  'Options:',
  '  --id ID          router id (default <host>-<pid>-<random>)',
  '  --lease-ttl MS   lease TTL when the cluster is new (default 3000)',
  '',
  'Environment: ARGON_NATS_URL (required, JetStream enabled), ARGON_TOKEN (required), ARGON_API_URL.',
].join('\n');

/** The `router` command. */
export const command: CliCommand = {
  summary: 'Run the event router of a NATS cluster (ARGON_NATS_URL)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { flags } = parseFlags(argv, { id: { type: 'string' }, 'lease-ttl': { type: 'number' } });
    const url = io.env.ARGON_NATS_URL;
    if (!url) throw new InvalidInputError('router needs ARGON_NATS_URL (a NATS server with JetStream)');
    const token = io.env.ARGON_TOKEN;
    if (!token) throw new InvalidInputError('router needs ARGON_TOKEN (the bot token; it is never sent to NATS)');
    registerSecret(token);
    const rest = new RestClient({ token, baseUrl: io.env.ARGON_API_URL || undefined });
    const me = await rest.botSelf.getMe({ signal: io.signal });
    const nc = await connectNats(url, { name: `argon-voice router ${me.botId}` });
    const router = new EventRouter({
      nats: nc,
      botId: me.botId,
      routerId: flags.id as string | undefined,
      leaseTtlMs: flags['lease-ttl'] as number | undefined,
      openEvents: () => {
        // Every intent: the workers need callIncoming/callEnded (Calls) and voice/member events;
        // a router that asked for less would route nothing of them.
        const es = new EventStream({ rest, intents: Intents.All });
        es.on('error', (e) => io.stderr.write(`events: ${e.message}\n`));
        return es;
      },
      log: (l) => io.stderr.write(`${l}\n`),
    });
    router.on('stateChange', (_o, n) =>
      io.stdout.write(
        `${JSON.stringify({
          event: n.status,
          router: router.routerId,
          ...(n.status === 'leading' ? { resumedAfter: n.resumedFrom?.lastEventId ?? null } : {}),
        })}\n`,
      ),
    );
    try {
      await router.start();
      await new Promise<void>((resolve) => {
        if (io.signal.aborted) return resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await router.close();
      io.stdout.write(`${JSON.stringify({ event: 'stats', router: router.routerId, ...summary(router) })}\n`);
      return 0;
    } finally {
      router.abandon();
      await nc.close().catch(() => undefined);
      await rest.close();
    }
  },
};

function summary(r: EventRouter): Record<string, number> {
  const s = [...r.stats.publishMs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : 0);
  return {
    published: r.stats.published,
    duplicates: r.stats.duplicates,
    terms: r.stats.terms,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
  };
}
