/**
 * `answerCalls()`: the one call most call bots need. Wires a {@link CallManager} (policy,
 * Accept/Reject, lifecycle) to a duplex audio session per call ({@link DuplexCallSession}:
 * player + pacer on the publish path, jitter-buffered receiver and recordings on the receive
 * path) and runs a handler per connected call: the echo flow unless you give your own.
 *
 * ```
 *  callIncoming ─► policy ─► Accept ─► DuplexSession(/audio/duplex?token&target_identity=<caller>
 *                     │                  &target_track_source=microphone&stereo=false&frame_duration_ms=20)
 *                     └─► Reject(reason)        └─► ready ─► onCall(call) ─► hang up (Reject)
 * ```
 * @packageDocumentation
 */
import { forgetSecret, InvalidInputError, registerSecret, TimeoutError } from '../errors.js';
import type { WaitOptions } from '../util/abort.js';
import { type Clock, systemClock } from '../util/clock.js';
import { DuplexSession, type DuplexSessionOptions } from '../voice/duplex.js';
import type { AudioPlayerOptions } from '../voice/player.js';
import {
  type Call,
  type CallAcceptance,
  type CallEventSource,
  CallManager,
  type CallManagerOptions,
  type CallsApi,
} from './call-manager.js';
import { DuplexCallSession } from './duplex-adapter.js';
import { type EchoOptions, echoHandler } from './echo.js';
import type { CallPolicy } from './policy.js';

/** Options of the duplex socket of each call (everything but where the grant comes from). */
export type CallDuplexOptions = Omit<DuplexSessionOptions, 'grantProvider' | 'key'>;

/** Options of {@link duplexSessionFactory}. */
export interface DuplexFactoryOptions {
  /**
   * Duplex socket options. Defaults for calls: mono, 20 ms frames, the token in the query
   * (`?token=`, as docs/platform.md §R6.3 and echo-bot do), a 200 ms silence pre-roll.
   */
  duplex?: CallDuplexOptions;
  /** Options of each call's player. */
  player?: AudioPlayerOptions;
  clock?: Clock;
}

/**
 * Builds the `openSession` of a {@link CallManager}: one {@link DuplexSession} per accepted
 * call, on `audioBaseUrl + /audio/duplex` with `target_identity=<callerId>`, wrapped in a
 * {@link DuplexCallSession}. The call token is registered as a secret (never printed) until the
 * call's session closes.
 */
export function duplexSessionFactory(
  options: DuplexFactoryOptions = {},
): (call: Call<DuplexCallSession>, acceptance: CallAcceptance, signal: AbortSignal) => Promise<DuplexCallSession> {
  return async (call, acceptance) => {
    registerSecret(acceptance.token);
    const duplex = new DuplexSession({
      stereo: false,
      frameDurationMs: 20,
      tokenIn: 'query',
      prerollMs: 200,
      ...(options.clock ? { clock: options.clock } : {}),
      ...options.duplex,
      // One socket per call room: the registry refuses a second session for the same call.
      key: `call:${acceptance.roomName}`,
      grantProvider: async () => ({
        token: acceptance.token,
        audioBaseUrl: acceptance.audioBaseUrl,
        callerId: acceptance.callerId,
      }),
    });
    const session = new DuplexCallSession(duplex, {
      callId: call.callId,
      callerId: acceptance.callerId,
      ...(options.player ? { player: options.player } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
    // The call token dies with the call: keep the redaction registry from growing by one per call.
    session.once('closed', () => forgetSecret(acceptance.token));
    return session;
  };
}

/**
 * Makes `timeoutMs` bound the whole ICalls request, including the wait for a client-side
 * rate-limit permit (the REST client applies it per attempt only). Without this, an Accept
 * queued behind the 20/min ICalls window would wait silently until the call rings out (45 s)
 * instead of failing at the manager's Accept deadline.
 */
function wholeCallDeadline(calls: CallsApi, clock: Clock): CallsApi {
  const bounded =
    <A, R>(fn: (body: A, options?: WaitOptions) => Promise<R>, what: string) =>
    async (body: A, options: WaitOptions = {}): Promise<R> => {
      if (options.timeoutMs === undefined || !Number.isFinite(options.timeoutMs)) return fn(body, options);
      const ctl = new AbortController();
      const timeoutMs = options.timeoutMs;
      const timer = clock.setTimeout(() => ctl.abort(new TimeoutError(what, timeoutMs)), timeoutMs);
      const onAbort = () => ctl.abort(options.signal?.reason);
      if (options.signal?.aborted) onAbort();
      else options.signal?.addEventListener('abort', onAbort, { once: true });
      try {
        return await fn(body, { ...options, signal: ctl.signal });
      } catch (err) {
        // The deadline fired: say so rather than "aborted".
        if (ctl.signal.reason instanceof TimeoutError && !options.signal?.aborted) throw ctl.signal.reason;
        throw err;
      } finally {
        clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      }
    };
  return {
    accept: bounded((b, o) => calls.accept(b, o), 'ICalls Accept'),
    reject: bounded((b, o) => calls.reject(b, o), 'ICalls Reject'),
  };
}

/** Options of {@link answerCalls}. */
export interface AnswerCallsOptions extends DuplexFactoryOptions {
  /** A connected `Bot` (its `rest.calls` and `events`); or give `rest` and `events`. */
  bot?: { rest: { calls: CallsApi }; events: CallEventSource } | undefined;
  /** REST client (its `calls`), when no `bot` is given. */
  rest?: { calls: CallsApi } | undefined;
  /** Event source of `callIncoming` / `callEnded`, when no `bot` is given. Subscribe with the Calls intent. */
  events?: CallEventSource | undefined;
  /** Which calls to answer (default: all). See `parsePolicySpec` for the command-line form. */
  policy?: CallPolicy | undefined;
  /** Greeting of the default echo flow (path, bytes, source or factory). Default: TTS or a chime. */
  greeting?: EchoOptions['greeting'] | undefined;
  /** Recording length of the default echo flow, seconds (default 5). */
  recordSeconds?: number | undefined;
  /** Other echo flow options (TTS engine, beep, progress). */
  echo?: Omit<EchoOptions, 'greeting' | 'recordSeconds'> | undefined;
  /**
   * Runs per connected call instead of the echo flow; `call.session` is the
   * {@link DuplexCallSession}. The call is hung up when it resolves.
   */
  onCall?: ((call: Call<DuplexCallSession>) => Promise<unknown> | unknown) | undefined;
  /** Deadlines: policy decision, Accept, audio ready. */
  deadlines?: CallManagerOptions<DuplexCallSession>['deadlines'];
  /** Closes the manager (hanging up every live call) when it fires: wire SIGINT/SIGTERM here. */
  signal?: AbortSignal | undefined;
}

/**
 * Starts answering calls. Returns the manager: listen to `call`, `rejected`, `ended`, `error`;
 * `close()` stops answering and hangs up live calls.
 *
 * @example
 * ```ts
 * const bot = await Bot.connect({ token, intents: intents('AllNonPrivileged', 'Calls') });
 * const calls = answerCalls({ bot, policy: maxConcurrent(3), greeting: 'welcome.ogg' });
 * process.once('SIGINT', () => void calls.close().then(() => bot.close()));
 * ```
 * @throws InvalidInputError without `bot` or `rest` + `events`, or for a bad `recordSeconds`.
 */
export function answerCalls(options: AnswerCallsOptions): CallManager<DuplexCallSession> {
  const calls = options.bot?.rest.calls ?? options.rest?.calls;
  const events = options.bot?.events ?? options.events;
  if (!calls || !events) {
    throw new InvalidInputError('answerCalls needs `bot`, or `rest` and `events`');
  }
  const onCall =
    options.onCall ??
    echoHandler({
      ...options.echo,
      ...(options.greeting !== undefined ? { greeting: options.greeting } : {}),
      ...(options.recordSeconds !== undefined ? { recordSeconds: options.recordSeconds } : {}),
    });
  const manager = new CallManager<DuplexCallSession>({
    calls: wholeCallDeadline(calls, options.clock ?? systemClock),
    events,
    openSession: duplexSessionFactory(options),
    onCall: async (call) => {
      await onCall(call);
    },
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.deadlines ? { deadlines: options.deadlines } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  if (options.signal) {
    const onAbort = () => void manager.close();
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener('abort', onAbort, { once: true });
  }
  return manager;
}
