/**
 * Error reporting shared by the CLI entry point and the commands (kept out of `main.ts` so no
 * command imports the module that imports it).
 * @packageDocumentation
 */
import { redactSecrets } from '../errors.js';

/**
 * One line for the user: the error's message followed by its causes (`cause` chain, up to four
 * deep, repeats dropped), so "closed before ready" also says "HTTP 401 …". Secrets are redacted.
 */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    const msg = cur instanceof Error ? cur.message : String(cur);
    if (msg && !parts.some((p) => p.includes(msg))) parts.push(msg);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return redactSecrets(parts.join(': caused by: ') || 'unknown error');
}
