/**
 * Captures everything the process writes while a flow runs: stdout/stderr writes, console calls,
 * process warnings (as Node would print them). Writes still pass through to the real streams.
 */
import { inspect } from 'node:util';

export interface Capture {
  /** Every captured text, in order. */
  readonly texts: string[];
  stop(): void;
}

export function captureOutput(): Capture {
  const texts: string[] = [];
  const toText = (x: unknown): string => {
    if (typeof x === 'string') return x;
    if (x instanceof Uint8Array) return Buffer.from(x).toString('utf8');
    // What console.error(err) prints: stack, own properties and the whole cause chain.
    if (x instanceof Error) return inspect(x, { depth: 8 });
    try {
      return JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(x);
    } catch {
      return String(x);
    }
  };
  const outWrite = process.stdout.write;
  const errWrite = process.stderr.write;
  process.stdout.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    texts.push(toText(chunk));
    return (outWrite as (...a: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  } as typeof process.stdout.write;
  process.stderr.write = function (this: unknown, chunk: unknown, ...rest: unknown[]) {
    texts.push(toText(chunk));
    return (errWrite as (...a: unknown[]) => boolean).call(process.stderr, chunk, ...rest);
  } as typeof process.stderr.write;
  const methods = ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    const orig = console[m];
    console[m] = (...args: unknown[]) => {
      texts.push(args.map(toText).join(' '));
      orig.apply(console, args);
    };
  }
  const onWarning = (w: Error) => texts.push(`${w.name}: ${w.message}\n${w.stack ?? ''}`);
  process.on('warning', onWarning);
  let stopped = false;
  return {
    texts,
    stop() {
      if (stopped) return;
      stopped = true;
      process.stdout.write = outWrite;
      process.stderr.write = errWrite;
      methods.forEach((m, i) => {
        console[m] = saved[i]!;
      });
      process.off('warning', onWarning);
    },
  };
}
