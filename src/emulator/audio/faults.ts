/**
 * Fault injection for the audio gateway: per socket (drop with or without a Close frame, stall
 * reading and writing), per upgrade (refuse with a status and body, join failure, capacity) and
 * per gateway (session cap, unbound-sender window). Targets are a session id, an identity, or
 * "the next session".
 * @packageDocumentation
 */
import type { AudioEndpoint, FaultTarget } from './types.js';

/** How to drop a socket. */
export interface DropOptions {
  /** Send a Close frame with this code first (otherwise the TCP connection just drops → 1006). */
  closeCode?: number;
  /** Drop only after this many further accepted frames (default 0: now, or when `next` is up). */
  afterFrames?: number;
}

/** What the faults module needs from a live session. */
export interface FaultableSession {
  readonly sessionId: string;
  readonly identity: string;
  readonly room: string;
  drop(opts: DropOptions): void;
  stall(ms: number): void;
}

/** A refused upgrade. */
export interface RefuseUpgradeOptions {
  /** HTTP status. Default 503. */
  status?: number;
  /** Body, sent with a trailing `\n` like Go's `http.Error`. Default `server at capacity`. */
  body?: string;
  /** How many upgrades to refuse. Default 1. */
  times?: number;
  /** Only on this endpoint. */
  endpoint?: AudioEndpoint;
}

/** An injected room-join failure (→ `error` with the endpoint's prefix, then TCP drop). */
export interface JoinFailureOptions {
  /** Go error tail. Default `could not join room: simulated failure`. */
  message?: string;
  /** How many sessions fail. Default 1. */
  times?: number;
  /** Only sessions of this identity. */
  identity?: string;
  endpoint?: AudioEndpoint;
}

/** The `kind`-tagged form accepted by {@link GatewayFaults.inject}. */
export type AudioFaultSpec =
  | ({ kind: 'drop' | 'drop-no-close'; target?: FaultTarget; closeCode?: number } & Omit<DropOptions, 'closeCode'>)
  | { kind: 'stall'; target?: FaultTarget; ms: number }
  | ({ kind: 'refuse-upgrade' } & RefuseUpgradeOptions)
  | ({ kind: 'join-failure' } & JoinFailureOptions)
  | { kind: 'capacity'; atCapacity: boolean }
  | { kind: 'max-sessions'; max: number }
  | { kind: 'unbound-sender'; ms: number };

type NextAction = { kind: 'drop'; opts: DropOptions } | { kind: 'stall'; ms: number };

/**
 * The gateway's fault switches. Session-targeted faults apply at once to live sessions that
 * match; `'next'` arms them for the next session that comes up (after its first status message).
 */
export class GatewayFaults {
  /** 503 `server at capacity` for every upgrade while true (§A1.5 #9). */
  atCapacity = false;
  /** `max_audio_ws_sessions` (0 = unlimited, §A1.5 #8). */
  maxSessions = 0;
  /** Overrides `timings.dropAfterReadyMs` when set (unbound sender, §A4.2). */
  dropAfterReadyMs: number | undefined;
  readonly #refusals: Array<Required<Omit<RefuseUpgradeOptions, 'endpoint'>> & { endpoint?: AudioEndpoint }> = [];
  readonly #joinFailures: Array<Required<Omit<JoinFailureOptions, 'identity' | 'endpoint'>> & JoinFailureOptions> = [];
  readonly #next: NextAction[] = [];
  readonly #resolve: (target: Exclude<FaultTarget, 'next'>) => FaultableSession[];

  /** @internal Built by the gateway, which knows how to find sessions. */
  constructor(resolve: (target: Exclude<FaultTarget, 'next'>) => FaultableSession[]) {
    this.#resolve = resolve;
  }

  /** Drops matching sessions (TCP drop → 1006, or Close(code) first). Returns how many matched now. */
  drop(target: FaultTarget, opts: DropOptions = {}): number {
    if (target === 'next') {
      this.#next.push({ kind: 'drop', opts });
      return 0;
    }
    const list = this.#resolve(target);
    for (const s of list) s.drop(opts);
    return list.length;
  }

  /** Stops reading from and writing to matching sessions for `ms` (writes are queued). */
  stall(target: FaultTarget, ms: number): number {
    if (target === 'next') {
      this.#next.push({ kind: 'stall', ms });
      return 0;
    }
    const list = this.#resolve(target);
    for (const s of list) s.stall(ms);
    return list.length;
  }

  /** Refuses the next upgrade(s) with a plain-text HTTP response. */
  refuseUpgrade(opts: RefuseUpgradeOptions = {}): void {
    this.#refusals.push({
      status: opts.status ?? 503,
      body: opts.body ?? 'server at capacity',
      times: opts.times ?? 1,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    });
  }

  /** Makes the next session(s) fail to join: `error` with the endpoint's prefix, then a TCP drop. */
  failJoin(opts: JoinFailureOptions = {}): void {
    this.#joinFailures.push({
      ...opts,
      message: opts.message ?? 'could not join room: simulated failure',
      times: opts.times ?? 1,
    });
  }

  /** Applies a `kind`-tagged fault (the form `Emulator.faults.audio()` forwards). */
  inject(spec: AudioFaultSpec): void {
    switch (spec.kind) {
      case 'drop':
      case 'drop-no-close': {
        const opts: DropOptions = {};
        if (spec.afterFrames !== undefined) opts.afterFrames = spec.afterFrames;
        if (spec.kind === 'drop') opts.closeCode = spec.closeCode ?? 1011;
        this.drop(spec.target ?? 'next', opts);
        return;
      }
      case 'stall':
        this.stall(spec.target ?? 'next', spec.ms);
        return;
      case 'refuse-upgrade':
        this.refuseUpgrade(spec);
        return;
      case 'join-failure':
        this.failJoin(spec);
        return;
      case 'capacity':
        this.atCapacity = spec.atCapacity;
        return;
      case 'max-sessions':
        this.maxSessions = spec.max;
        return;
      case 'unbound-sender':
        this.dropAfterReadyMs = spec.ms;
        return;
    }
  }

  /** Clears every fault. */
  reset(): void {
    this.atCapacity = false;
    this.maxSessions = 0;
    this.dropAfterReadyMs = undefined;
    this.#refusals.length = 0;
    this.#joinFailures.length = 0;
    this.#next.length = 0;
  }

  /** @internal Consumes a refusal for this endpoint, if one is armed. */
  takeRefusal(endpoint: AudioEndpoint): { status: number; body: string } | undefined {
    const i = this.#refusals.findIndex((r) => r.endpoint === undefined || r.endpoint === endpoint);
    if (i < 0) return undefined;
    const r = this.#refusals[i]!;
    if (--r.times <= 0) this.#refusals.splice(i, 1);
    return { status: r.status, body: r.body };
  }

  /** @internal Consumes a join failure for this session, if one is armed. */
  takeJoinFailure(endpoint: AudioEndpoint, identity: string): string | undefined {
    const i = this.#joinFailures.findIndex(
      (f) =>
        (f.endpoint === undefined || f.endpoint === endpoint) && (f.identity === undefined || f.identity === identity),
    );
    if (i < 0) return undefined;
    const f = this.#joinFailures[i]!;
    if (--f.times <= 0) this.#joinFailures.splice(i, 1);
    return f.message;
  }

  /** @internal Applies every `'next'` fault to a session that just came up. */
  applyNext(session: FaultableSession): void {
    const actions = this.#next.splice(0);
    for (const a of actions) {
      if (a.kind === 'drop') session.drop(a.opts);
      else session.stall(a.ms);
    }
  }
}
