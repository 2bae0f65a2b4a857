/**
 * `argon-voice cluster`: drives the bot's voice-worker cluster from a shell. Every action is a
 * request over NATS to whichever worker holds the space, the recording or the call; the answer is
 * printed as one JSON line. Nothing here opens an audio session: running `play` or `record`
 * locally in a room a worker holds would replace the worker's session (one per identity and room).
 *
 * ```
 * ARGON_NATS_URL ─► ClusterClient ─► argon.<bot>.cmd.<space>        (play, skip, stop, …, record)
 *                 └► ClusterCallClient ─► argon.<bot>.call.<callId> (answer, reject)
 *                 └► argon.<bot>.status.* for --wait ms             (status)
 * ARGON_TOKEN ─► REST: the bot id, the default space and voice channel (never sent to NATS)
 * ```
 * @packageDocumentation
 */
import { isAbsolute, resolve } from 'node:path';
import { ClusterCallClient } from '../../cluster/calls.js';
import { ClusterClient } from '../../cluster/client.js';
import { connectNats, type NatsConnection } from '../../cluster/nats.js';
import { clusterNames } from '../../cluster/names.js';
import { parseWorkerStatus, type WorkerStatus } from '../../cluster/wire.js';
import { InvalidInputError, redactSecrets, registerSecret } from '../../errors.js';
import { RestClient } from '../../rest/client.js';
import { sleep } from '../../util/abort.js';
import { DEFAULT_API_URL, parseFlags, resolvePlatform, takeRepeated } from '../context.js';
import type { CliCommand, CliIo } from '../types.js';

const HELP = [
  'Usage: argon-voice cluster <action> [args] [options]',
  '',
  "Sends commands to the bot's voice-worker cluster (see `argon-voice worker`): each goes over NATS to",
  'the worker holding the space, recording or call, and its answer is printed as one JSON line.',
  'Nothing is played or recorded in this process.',
  '',
  'Actions:',
  '  status                        workers heard within --wait ms: load, limits, spaces and positions',
  '  play INPUT [--title T]        queue a track (a path or URL every worker can open); starts the',
  '                                space when no worker holds it yet',
  '  skip | stop | pause | resume  the usual player controls',
  '  queue                         what plays and what is queued',
  '  volume N                      0 to 2',
  '  record --user ID [--user ID ...] --out DIR',
  '                                record users into DIR (shared storage) on a worker; each user needs',
  "                                one of the workers' ARGON_EXTRA_TOKENS bots",
  '  stop-recording                stop it; prints every segment',
  '  answer CALL_ID | reject CALL_ID',
  '                                a call held ringing by workers started with --answer --policy manual',
  '',
  'Options:',
  "  --space ID      space (default ARGON_SPACE_ID, else the bot's first space)",
  '  --channel ID    voice channel (default ARGON_CHANNEL_ID, else the first voice channel)',
  '  --bot ID        bot id (default: asked of the platform with ARGON_TOKEN; with --bot and',
  '                  --space no token is needed)',
  '  --timeout MS    deadline of the request (default 15000)',
  '  --wait MS       how long status listens for heartbeats (default 2500; workers send one a second)',
  '',
  'Environment: ARGON_NATS_URL (required), ARGON_TOKEN, ARGON_API_URL, ARGON_SPACE_ID, ARGON_CHANNEL_ID.',
  'Exit status: 0 on an answer, 1 on an error (no worker holds the space, rejected, timed out).',
].join('\n');

const PLAYER_OPS = ['skip', 'stop', 'pause', 'resume', 'queue'] as const;
const ACTIONS = ['status', 'play', ...PLAYER_OPS, 'volume', 'record', 'stop-recording', 'answer', 'reject'] as const;
type Action = (typeof ACTIONS)[number];

/** Bot id, and the space and voice channel when the action needs them. */
interface Target {
  botId: string;
  spaceId: string | undefined;
  channelId: string | undefined;
}

async function resolveTarget(
  io: CliIo,
  flags: Record<string, string | number | boolean | undefined>,
  needs: 'none' | 'space' | 'room',
): Promise<Target> {
  const bot = flags.bot as string | undefined;
  const spaceId = (flags.space as string | undefined) || io.env.ARGON_SPACE_ID || undefined;
  const channelId = (flags.channel as string | undefined) || io.env.ARGON_CHANNEL_ID || undefined;
  const token = io.env.ARGON_TOKEN;
  const missing = (needs === 'space' && !spaceId) || (needs === 'room' && (!spaceId || !channelId));
  if (bot && !missing) return { botId: bot, spaceId, channelId };
  if (!token) {
    throw new InvalidInputError(
      bot
        ? `this action needs ${needs === 'room' ? '--space and --channel' : '--space'} (or ARGON_TOKEN to find the defaults)`
        : 'cluster needs ARGON_TOKEN (to ask the platform for the bot id) or --bot ID',
    );
  }
  registerSecret(token);
  if (missing) {
    // The defaults come from the platform: the bot's first space and its first voice channel.
    const ctx = await resolvePlatform(io, { space: spaceId, channel: channelId });
    try {
      const me = bot ? undefined : await ctx.rest.botSelf.getMe({ signal: io.signal });
      return { botId: bot ?? me!.botId, spaceId: ctx.spaceId, channelId: ctx.channelId };
    } finally {
      await ctx.close();
    }
  }
  const rest = new RestClient({ token, baseUrl: io.env.ARGON_API_URL || DEFAULT_API_URL });
  try {
    const me = await rest.botSelf.getMe({ signal: io.signal });
    return { botId: me.botId, spaceId, channelId };
  } finally {
    await rest.close();
  }
}

/** Collects the workers' heartbeats for `waitMs` (the latest per worker). */
async function status(nc: NatsConnection, botId: string, waitMs: number, signal: AbortSignal) {
  const workers = new Map<string, WorkerStatus>();
  let malformed = 0;
  const sub = nc.subscribe(clusterNames(botId).statusAll, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const s = parseWorkerStatus(msg.data);
        workers.set(s.workerId, s);
      } catch {
        malformed++;
      }
    },
  });
  try {
    await sleep(waitMs, { signal });
  } finally {
    sub.unsubscribe();
  }
  return { workers: [...workers.values()].sort((a, b) => a.workerId.localeCompare(b.workerId)), malformed };
}

/** The `cluster` command. */
export const command: CliCommand = {
  summary: 'Send commands to the voice-worker cluster (play, skip, record, answer, status)',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values: users, rest: argvRest } = takeRepeated(argv, 'user');
    const { flags, positionals } = parseFlags(argvRest, {
      space: { type: 'string' },
      channel: { type: 'string' },
      bot: { type: 'string' },
      title: { type: 'string' },
      out: { type: 'string' },
      timeout: { type: 'number', default: 15_000 },
      wait: { type: 'number', default: 2500 },
    });
    const [action, arg, ...extra] = positionals as [string | undefined, string | undefined, ...string[]];
    if (!action) throw new InvalidInputError(`cluster needs an action: ${ACTIONS.join(', ')}`);
    if (!(ACTIONS as readonly string[]).includes(action))
      throw new InvalidInputError(`unknown cluster action '${action}': expected one of ${ACTIONS.join(', ')}`);
    const act = action as Action;
    const takesArg = act === 'play' || act === 'volume' || act === 'answer' || act === 'reject';
    if (takesArg && !arg)
      throw new InvalidInputError(
        `cluster ${act} needs ${act === 'play' ? 'an INPUT' : act === 'volume' ? 'a volume N' : 'a CALL_ID'}`,
      );
    if ((!takesArg && arg !== undefined) || extra.length > 0)
      throw new InvalidInputError(`cluster ${act}: unexpected argument '${takesArg ? extra[0] : arg}'`);
    if (users.length > 0 && act !== 'record') throw new InvalidInputError('--user is for cluster record');
    const timeoutMs = flags.timeout as number;
    if (!(timeoutMs > 0)) throw new InvalidInputError(`--timeout must be > 0 ms, got ${timeoutMs}`);
    const waitMs = flags.wait as number;
    if (!(waitMs > 0)) throw new InvalidInputError(`--wait must be > 0 ms, got ${waitMs}`);
    let volume: number | undefined;
    if (act === 'volume') {
      volume = Number(arg);
      if (arg!.trim() === '' || !Number.isFinite(volume) || volume < 0 || volume > 2)
        throw new InvalidInputError(`cluster volume needs a number from 0 to 2, got '${arg}'`);
    }
    let outDir: string | undefined;
    if (act === 'record') {
      if (users.length === 0) throw new InvalidInputError('cluster record needs at least one --user ID');
      if (!flags.out)
        throw new InvalidInputError('cluster record needs --out DIR (a directory every worker can write)');
      outDir = isAbsolute(flags.out as string) ? (flags.out as string) : resolve(flags.out as string);
    }
    const url = io.env.ARGON_NATS_URL;
    if (!url) throw new InvalidInputError('cluster needs ARGON_NATS_URL (the NATS server of the workers)');

    const needs =
      act === 'status' || act === 'answer' || act === 'reject'
        ? 'none'
        : act === 'record' || act === 'stop-recording' || act === 'play'
          ? 'room'
          : 'space';
    const target = await resolveTarget(io, flags, needs);
    const nc = await connectNats(url, { name: `argon-voice cluster ${target.botId}` });
    const client = new ClusterClient({ nats: nc, botId: target.botId });
    const print = (o: Record<string, unknown>) => io.stdout.write(`${redactSecrets(JSON.stringify(o))}\n`);
    const opts = { timeoutMs, signal: io.signal };
    try {
      const spaceId = target.spaceId!;
      const channelId = target.channelId!;
      switch (act) {
        case 'status': {
          const r = await status(nc, target.botId, waitMs, io.signal);
          print({ event: 'status', botId: target.botId, ...r });
          return 0;
        }
        case 'answer':
        case 'reject': {
          const calls = new ClusterCallClient({ nats: nc, botId: target.botId });
          const r = act === 'answer' ? await calls.answer(arg!, opts) : await calls.reject(arg!, opts);
          print({ event: act === 'answer' ? 'answered' : 'rejected', ...r });
          return 0;
        }
        case 'record': {
          const r = await client.record(spaceId, channelId, users, outDir!, opts);
          print({ event: 'recording', workerId: r.workerId, spaceId, channelId, recording: r.state.recording });
          return 0;
        }
        case 'stop-recording': {
          const r = await client.stopRecording(spaceId, channelId, opts);
          print({ event: 'recordingStopped', workerId: r.workerId, spaceId, channelId, recording: r.state.recording });
          return 0;
        }
        default: {
          const cmd =
            act === 'play'
              ? { op: 'play' as const, input: arg!, title: flags.title as string | undefined, channelId }
              : act === 'volume'
                ? { op: 'volume' as const, volume: volume! }
                : { op: act };
          const r = await client.command(spaceId, cmd, { ...opts, channelId });
          const st = r.state;
          print({
            event: act,
            workerId: r.workerId,
            message: r.message,
            spaceId,
            current: st.current ? { title: st.current.track.title, positionMs: st.current.positionMs } : null,
            queue: st.queue.map((t) => t.title),
            volume: st.volume,
            paused: st.paused,
          });
          return 0;
        }
      }
    } finally {
      await client.close();
      await nc.close().catch(() => undefined);
    }
  },
};
