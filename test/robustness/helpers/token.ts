/**
 * A recognisable bot token and the checks that it never leaks into an error, a log line or a
 * warning. The token is shaped like a real one (`<32 hex>:<secret>`); the secret half is checked
 * on its own too, so a partial leak is caught.
 */
import { inspect } from 'node:util';
import { expect } from 'vitest';

/** The bot token every robustness test uses. */
export const TOKEN = '5eedc0de5eedc0de5eedc0de5eedc0de:ROBUSTNESS-s3cr3t-Zq8Xk3Pw';
/** The secret half of {@link TOKEN}. */
export const TOKEN_SECRET = 'ROBUSTNESS-s3cr3t-Zq8Xk3Pw';
/** A LiveKit-like JWT the stub REST servers hand out (header.payload.signature). */
export const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJyb2J1c3RuZXNzIiwiZXhwIjo0MTAyNDQ0ODAwfQ.Um9CdVN0TmVTcy1zaWduYXR1cmUtMTIz';
/** The signature part of {@link JWT}. */
export const JWT_SIGNATURE = 'Um9CdVN0TmVTcy1zaWduYXR1cmUtMTIz';

const NEEDLES = [TOKEN, TOKEN_SECRET, JWT, JWT_SIGNATURE];

/** Every text an error shows: message, String(), stack, JSON, for it and each `cause`. */
export function errorTexts(err: unknown): string[] {
  // util.inspect is what console.error(err) prints: stack, own fields and the cause chain.
  const out: string[] = [inspect(err, { depth: 8 })];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (e instanceof Error) {
      out.push(e.message, String(e), e.stack ?? '');
      try {
        out.push(JSON.stringify(e, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
      } catch {
        /* circular: the other texts are enough */
      }
      e = (e as { cause?: unknown }).cause;
    } else {
      out.push(String(e));
      break;
    }
  }
  return out;
}

/** Fails when any secret appears in `text`. */
export function expectNoSecret(text: string, where: string): void {
  for (const n of NEEDLES) {
    if (text.includes(n)) expect.fail(`a secret (${n.slice(0, 12)}…) appears in ${where}: ${text.slice(0, 300)}`);
  }
}

/** Fails when any secret appears in any text of `err`. */
export function expectErrorClean(err: unknown): void {
  for (const t of errorTexts(err)) expectNoSecret(t, `the error ${(err as Error)?.name ?? ''}`);
}
