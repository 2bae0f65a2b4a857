/**
 * Call answering policies: pure decisions over an incoming call, composed like middleware.
 *
 * A policy sees the call (`callId`, caller, caller locale) and the manager's context (how many
 * calls are live) and answers `accept` (optionally after a delay, to ring like a person would)
 * or `reject` with a reason. The platform rings a call for 45 s (docs/platform.md §R6.1), so every
 * decision runs under a deadline inside that window; a policy that is still thinking at the
 * deadline rejects the call rather than let it ring out.
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js';
import { type Clock, systemClock } from '../util/clock.js';

/** What a policy knows about an incoming call. */
export interface IncomingCall {
  callId: string;
  /** The caller's user id. */
  fromUserId: string;
  /** BCP-47 primary language tag of the caller (`en`, `ru` ...), or null when unknown. */
  fromLocale: string | null;
}

/** A policy's answer. */
export type PolicyDecision = { action: 'accept'; delayMs?: number } | { action: 'reject'; reason: string };

/** Context handed to a policy with each call. */
export interface PolicyContext {
  /** Calls currently accepted or being accepted (not counting this one). */
  activeCalls: number;
  /** Fires when the decision is no longer wanted (deadline, call ended, manager closed). */
  signal: AbortSignal;
}

/** A call policy. May be async; must respect `ctx.signal`. */
export type CallPolicy = (call: IncomingCall, ctx: PolicyContext) => PolicyDecision | Promise<PolicyDecision>;

const ACCEPT: PolicyDecision = { action: 'accept' };

/** Accepts every call. */
export function acceptAll(): CallPolicy {
  return () => ACCEPT;
}

/** Rejects every call with `reason`. */
export function rejectAll(reason = 'not accepting calls'): CallPolicy {
  return () => ({ action: 'reject', reason });
}

/** Accepts only callers in `userIds`. */
export function allowList(userIds: Iterable<string>, reason = 'caller not on the allow list'): CallPolicy {
  const set = new Set([...userIds].map((id) => id.toLowerCase()));
  return (call) => (set.has(call.fromUserId.toLowerCase()) ? ACCEPT : { action: 'reject', reason });
}

/** Rejects callers in `userIds`. */
export function denyList(userIds: Iterable<string>, reason = 'caller is on the deny list'): CallPolicy {
  const set = new Set([...userIds].map((id) => id.toLowerCase()));
  return (call) => (set.has(call.fromUserId.toLowerCase()) ? { action: 'reject', reason } : ACCEPT);
}

/**
 * Accepts callers whose locale's primary subtag is in `locales` (`en` matches `en-US`).
 * `allowUnknown` decides for callers with no locale (default: accept).
 */
export function byLocale(
  locales: Iterable<string>,
  options: { allowUnknown?: boolean; reason?: string } = {},
): CallPolicy {
  const set = new Set([...locales].map((l) => primaryTag(l)));
  const reason = options.reason ?? 'caller language not supported';
  return (call) => {
    if (call.fromLocale === null || call.fromLocale === '')
      return options.allowUnknown === false ? { action: 'reject', reason } : ACCEPT;
    return set.has(primaryTag(call.fromLocale)) ? ACCEPT : { action: 'reject', reason };
  };
}

/** Accepts while fewer than `max` calls are live; rejects the rest with `reason`. */
export function maxConcurrent(max: number, reason = 'all lines are busy'): CallPolicy {
  if (!Number.isInteger(max) || max < 1) throw new InvalidInputError(`maxConcurrent needs an integer >= 1, got ${max}`);
  return (_call, ctx) => (ctx.activeCalls < max ? ACCEPT : { action: 'reject', reason });
}

/** Accepts after ringing for `delayMs` (like a person picking up); wraps `inner` if given. */
export function acceptAfter(delayMs: number, inner: CallPolicy = acceptAll()): CallPolicy {
  if (!(delayMs >= 0)) throw new InvalidInputError(`acceptAfter needs a delay >= 0 ms, got ${delayMs}`);
  return async (call, ctx) => {
    const d = await inner(call, ctx);
    return d.action === 'accept' ? { action: 'accept', delayMs: Math.max(d.delayMs ?? 0, delayMs) } : d;
  };
}

/**
 * A custom async predicate: `true` accepts, `false` rejects with `reason`, or return a full
 * {@link PolicyDecision}. The predicate receives the context's signal and should stop when it fires.
 */
export function custom(
  predicate: (call: IncomingCall, ctx: PolicyContext) => boolean | PolicyDecision | Promise<boolean | PolicyDecision>,
  reason = 'rejected by policy',
): CallPolicy {
  return async (call, ctx) => {
    const r = await predicate(call, ctx);
    if (r === true) return ACCEPT;
    if (r === false) return { action: 'reject', reason };
    return r;
  };
}

/**
 * Runs policies in order: the first rejection wins; if all accept, the call is accepted after the
 * longest requested delay.
 */
export function allOf(...policies: CallPolicy[]): CallPolicy {
  return async (call, ctx) => {
    let delayMs = 0;
    for (const p of policies) {
      const d = await p(call, ctx);
      if (d.action === 'reject') return d;
      delayMs = Math.max(delayMs, d.delayMs ?? 0);
    }
    return delayMs > 0 ? { action: 'accept', delayMs } : ACCEPT;
  };
}

/** Options of {@link decideCall}. */
export interface DecideOptions {
  /** Deadline for the policy (default 10 s), kept well inside the 45 s ring. */
  deadlineMs?: number;
  /** Aborts the decision (call ended while deciding, manager closing). */
  signal?: AbortSignal;
  clock?: Clock;
}

/**
 * Runs `policy` for `call` under a deadline. A policy that throws, or is still running at the
 * deadline, yields a rejection (`policy-error: …` / `policy-timeout`) so the caller is not left
 * ringing. An accept's delay is clamped so that deadline + delay stays inside the ring window.
 */
export async function decideCall(
  policy: CallPolicy,
  call: IncomingCall,
  activeCalls: number,
  options: DecideOptions = {},
): Promise<PolicyDecision> {
  const clock = options.clock ?? systemClock;
  const deadlineMs = options.deadlineMs ?? 10_000;
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  let timer: unknown;
  const timeout = new Promise<PolicyDecision>((resolve) => {
    timer = clock.setTimeout(() => {
      controller.abort(new Error('policy deadline'));
      resolve({ action: 'reject', reason: 'policy-timeout' });
    }, deadlineMs);
  });
  // Only the caller's signal means "aborted"; the deadline aborts the policy's signal too,
  // but that must read as a timeout.
  let onAbortedRace: (() => void) | undefined;
  const aborted = new Promise<PolicyDecision>((resolve) => {
    onAbortedRace = () => resolve({ action: 'reject', reason: 'aborted' });
    if (options.signal?.aborted) onAbortedRace();
    else options.signal?.addEventListener('abort', onAbortedRace, { once: true });
  });
  const run = (async (): Promise<PolicyDecision> => {
    try {
      return validateDecision(await policy(call, { activeCalls, signal: controller.signal }));
    } catch (err) {
      return { action: 'reject', reason: `policy-error: ${(err as Error)?.message ?? String(err)}` };
    }
  })();
  try {
    const d = await Promise.race([run, timeout, aborted]);
    if (d.action === 'accept' && d.delayMs !== undefined) {
      // 45 s ring (docs/platform.md §R6.1) minus a 5 s margin for Accept + connecting.
      return { action: 'accept', delayMs: Math.min(d.delayMs, 40_000) };
    }
    return d;
  } finally {
    clock.clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
    if (onAbortedRace) options.signal?.removeEventListener('abort', onAbortedRace);
    if (!controller.signal.aborted) controller.abort(new Error('decided'));
  }
}

function validateDecision(d: unknown): PolicyDecision {
  const x = d as PolicyDecision | undefined;
  if (x && x.action === 'accept') {
    if (x.delayMs !== undefined && !(x.delayMs >= 0)) throw new InvalidInputError(`invalid accept delay ${x.delayMs}`);
    return x;
  }
  if (x && x.action === 'reject' && typeof x.reason === 'string') return x;
  throw new InvalidInputError(`a policy returned ${JSON.stringify(d)}; expected { action: 'accept' | 'reject' }`);
}

function primaryTag(locale: string): string {
  return locale.trim().toLowerCase().split(/[-_]/)[0] ?? '';
}

/**
 * Parses the command line's `--policy` value into a policy. Parts are joined with `+` and
 * all must accept:
 * `accept`, `reject`, `allow-list:ID,ID`, `deny-list:ID,ID`, `locale:en,ru`, `max:3`, `delay:1500`.
 * @throws InvalidInputError for an unknown part.
 */
export function parsePolicySpec(spec: string): CallPolicy {
  const parts = spec
    .split('+')
    .map((p) => p.trim())
    .filter(Boolean);
  if (parts.length === 0) throw new InvalidInputError('empty --policy');
  const policies: CallPolicy[] = [];
  let delay = 0;
  for (const part of parts) {
    const [name = '', arg = ''] = part.split(/:(.*)/s);
    const list = arg
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    switch (name) {
      case 'accept':
        policies.push(acceptAll());
        break;
      case 'reject':
        policies.push(rejectAll());
        break;
      case 'allow-list':
      case 'allow':
        if (!list.length) throw new InvalidInputError(`--policy ${name} needs user ids: ${name}:ID,ID`);
        policies.push(allowList(list));
        break;
      case 'deny-list':
      case 'deny':
        if (!list.length) throw new InvalidInputError(`--policy ${name} needs user ids: ${name}:ID,ID`);
        policies.push(denyList(list));
        break;
      case 'locale':
        if (!list.length) throw new InvalidInputError('--policy locale needs tags: locale:en,ru');
        policies.push(byLocale(list));
        break;
      case 'max': {
        const n = Number(arg);
        if (!Number.isInteger(n) || n < 1)
          throw new InvalidInputError(`--policy max needs an integer >= 1, got '${arg}'`);
        policies.push(maxConcurrent(n));
        break;
      }
      case 'delay': {
        const ms = Number(arg);
        if (!(ms >= 0) || !Number.isFinite(ms))
          throw new InvalidInputError(`--policy delay needs milliseconds, got '${arg}'`);
        delay = Math.max(delay, ms);
        break;
      }
      default:
        throw new InvalidInputError(
          `unknown --policy part '${part}'; use accept, reject, allow-list:IDS, deny-list:IDS, locale:TAGS, max:N, delay:MS joined with '+'`,
        );
    }
  }
  const base = policies.length ? allOf(...policies) : acceptAll();
  return delay > 0 ? acceptAfter(delay, base) : base;
}
