/**
 * A live status line for long commands: rewritten in place once a second on a terminal, silent
 * when stderr is not a TTY or `CI` is set (logs stay clean). Owns one timer; `stop()` is idempotent
 * and clears the line.
 * @packageDocumentation
 */
import type { CliIo } from './types.js';

/** A running status line. */
export interface Progress {
  /** Stops updating and clears the line. Idempotent. */
  stop(): void;
}

/** Whether `io` should get a live line: a TTY stderr and no `CI` variable. */
export function wantsLiveLine(io: Pick<CliIo, 'stderr' | 'env'>): boolean {
  return Boolean((io.stderr as NodeJS.WriteStream).isTTY) && !io.env.CI;
}

/**
 * Starts a live line showing `render()` every `intervalMs` (default 1 s), cut to the terminal
 * width. Returns a no-op {@link Progress} when {@link wantsLiveLine} is false.
 */
export function startProgress(io: Pick<CliIo, 'stderr' | 'env'>, render: () => string, intervalMs = 1000): Progress {
  if (!wantsLiveLine(io)) return { stop: () => {} };
  const out = io.stderr as NodeJS.WriteStream;
  const draw = () => {
    let line: string;
    try {
      line = render();
    } catch {
      return; // a metric that cannot be read right now must not end the command
    }
    const width = Math.max(20, (out.columns ?? 100) - 1);
    out.write(`\r\x1b[K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
  };
  const timer = setInterval(draw, intervalMs);
  timer.unref();
  draw();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      out.write('\r\x1b[K');
    },
  };
}
