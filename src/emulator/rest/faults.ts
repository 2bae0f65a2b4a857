/**
 * Per-request REST fault injection: answer a route with a forced status and/or delay it.
 * @packageDocumentation
 */

/** A REST fault rule, as given to `emu.faults.rest(...)`. */
export interface RestFaultOptions {
  /** `'IMessages/Send'`, `'IMessages'` (whole interface) or omitted (every route); case-insensitive. */
  route?: string;
  /** Answer with this status instead of running the handler (429 uses the limiter's exact response; others are empty). */
  status?: number;
  /** Delay the request by this many clock ms before continuing (or answering `status`). */
  delayMs?: number;
  /** Remove all rules (for `route` only, when given) and forget rate-limit windows; other fields are ignored. */
  reset?: boolean;
  /** How many matching requests the rule affects (default: unlimited). */
  times?: number;
}

interface Rule {
  route: string | undefined;
  status: number | undefined;
  delayMs: number;
  remaining: number;
}

/** The active rules, first match wins. */
export class RestFaults {
  readonly #rules: Rule[] = [];

  /** Adds a rule, or removes rules when `reset` is set. Returns true for a reset. */
  apply(opts: RestFaultOptions): boolean {
    const route = opts.route?.toLowerCase();
    if (opts.reset) {
      for (let i = this.#rules.length - 1; i >= 0; i--) {
        if (route === undefined || this.#rules[i]!.route === route) this.#rules.splice(i, 1);
      }
      return true;
    }
    this.#rules.push({
      route,
      status: opts.status,
      delayMs: opts.delayMs ?? 0,
      remaining: opts.times ?? Number.POSITIVE_INFINITY,
    });
    return false;
  }

  /** The rule for a request to `iface/name` (consumes one of its `times`). */
  take(iface: string, name: string): { status: number | undefined; delayMs: number } | undefined {
    const full = `${iface}/${name}`.toLowerCase();
    const ifl = iface.toLowerCase();
    for (let i = 0; i < this.#rules.length; i++) {
      const r = this.#rules[i]!;
      if (r.route !== undefined && r.route !== full && r.route !== ifl) continue;
      r.remaining--;
      if (r.remaining <= 0) this.#rules.splice(i, 1);
      return { status: r.status, delayMs: r.delayMs };
    }
    return undefined;
  }
}
