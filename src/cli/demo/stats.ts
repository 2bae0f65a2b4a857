/**
 * The demo's live figures: one snapshot per second of the music bot's pacer and the simulated
 * user's jitter buffer, printed as one status line.
 *
 * ```
 *  TTY (and no CI):  \r  12s  sent 612  spacing p50 20.0 / p99 20.4 ms  late 0  pacer worker/native │ jb 60/60 ms  late loss 3  concealed 180 ms
 *                    (rewritten in place every second, ended with a newline by finish())
 *  otherwise:        the same text as a plain line every 5 s (or nothing with quiet)
 * ```
 * @packageDocumentation
 */

/** One second's figures. */
export interface DemoSnapshot {
  /** Seconds since the run started. */
  elapsedS: number;
  /** Frames the music bot's pacer wrote to the socket (pre-roll and filler included). */
  framesSent: number;
  /** Send spacing percentiles measured by the pacer (ms). */
  spacingP50Ms: number;
  spacingP99Ms: number;
  /** Frames sent later than the pacer's lateness bound. */
  framesLate: number;
  /** `worker` or `main`. */
  pacerMode: string;
  /** `native` (absolute-deadline sleep in the addon), `atomics` or `timers`. */
  pacerClock: string;
  /** The simulated user's jitter buffer (live, low-latency settings). */
  jitterCurrentMs: number;
  jitterTargetMs: number;
  lateLosses: number;
  concealedMs: number;
}

function num(v: number, digits = 1): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '–';
}

/** The status line for `s` (no line ending). */
export function formatStatsLine(s: DemoSnapshot): string {
  return [
    `${String(Math.round(s.elapsedS)).padStart(3)}s`,
    `sent ${s.framesSent}`,
    `spacing p50 ${num(s.spacingP50Ms)} / p99 ${num(s.spacingP99Ms)} ms`,
    `late ${s.framesLate}`,
    `pacer ${s.pacerMode}/${s.pacerClock}`,
    '│',
    // A negative reading (seen after DTX pauses) is not a delay: shown as '–', kept raw in the JSON.
    `jb ${num(s.jitterCurrentMs >= 0 ? s.jitterCurrentMs : Number.NaN, 0)}/${num(s.jitterTargetMs, 0)} ms`,
    `late loss ${s.lateLosses}`,
    `concealed ${num(s.concealedMs, 0)} ms`,
  ].join('  ');
}

/** Options of {@link LiveStatsPrinter}. */
export interface LiveStatsPrinterOptions {
  /** Where to write. */
  out: NodeJS.WritableStream;
  /** Rewrite one line in place with `\r` (an interactive terminal). */
  tty: boolean;
  /** Non-TTY: print a plain line at most this often (ms of `elapsedS`). Default 5000. */
  plainEveryMs?: number;
  /** Non-TTY: print nothing. */
  quiet?: boolean;
  /** TTY width: the live line is cut to fit (a wrapped line cannot be rewritten with `\r`). */
  columns?: number | undefined;
}

/** Writes snapshots as a live line (TTY) or a periodic plain line. */
export class LiveStatsPrinter {
  readonly #o: LiveStatsPrinterOptions;
  #lastPlainS = Number.NEGATIVE_INFINITY;
  #width = 0;
  #open = false;

  constructor(options: LiveStatsPrinterOptions) {
    this.#o = options;
  }

  /** Shows `s`. */
  update(s: DemoSnapshot): void {
    let line = formatStatsLine(s);
    if (this.#o.tty) {
      const cols = this.#o.columns;
      if (cols !== undefined && cols > 1 && line.length > cols - 1) line = `${line.slice(0, cols - 2)}…`;
      // Pad over the previous line's tail: the new line may be shorter.
      const pad = Math.max(0, this.#width - line.length);
      this.#o.out.write(`\r${line}${' '.repeat(pad)}`);
      this.#width = line.length;
      this.#open = true;
      return;
    }
    if (this.#o.quiet) return;
    // Whole seconds: the snapshots come about once a second, a few ms either side.
    const every = Math.max(1, Math.round((this.#o.plainEveryMs ?? 5000) / 1000));
    const second = Math.round(s.elapsedS);
    if (second - this.#lastPlainS >= every) {
      this.#lastPlainS = second;
      this.#o.out.write(`${line}\n`);
    }
  }

  /** Ends the live line (TTY) so what follows starts on a new line. Idempotent. */
  finish(): void {
    if (this.#open) this.#o.out.write('\n');
    this.#open = false;
  }
}

/** The terminal width of `out`, when it is a terminal. */
export function terminalColumns(out: NodeJS.WritableStream): number | undefined {
  const c = (out as { columns?: unknown }).columns;
  return typeof c === 'number' && c > 0 ? c : undefined;
}

/** Whether `out` is an interactive terminal and `env` is not a CI run. */
export function isInteractive(out: NodeJS.WritableStream, env: NodeJS.ProcessEnv): boolean {
  return (out as { isTTY?: boolean }).isTTY === true && !env.CI;
}
