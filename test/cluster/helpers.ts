/**
 * Real `nats-server` (JetStream on a temp dir, free port; bench/lib/nats-server.ts) and worker
 * child processes for the cluster tests. A missing nats-server fails the suite with a message that
 * says what to install.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export { freePort, type NatsServer, requireNatsServer, startNats } from '../../bench/lib/nats-server.js';

const CHILD = fileURLToPath(new URL('./cli-child.ts', import.meta.url));

/** A `argon-voice <command>` child process whose stdout JSON lines are collected. */
export interface CliChild {
  proc: ChildProcess;
  events: Array<Record<string, unknown>>;
  stderr: () => string;
  /** Resolves with the first event matching `pred` (deadline `timeoutMs`, default 30 s). */
  waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGKILL (kill -9). */
  kill9(): Promise<void>;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  term(): Promise<number | null>;
}

/** Spawns `argon-voice` (from source) with `args` and `env` added to this process's environment. */
export function spawnCli(args: string[], env: Record<string, string>): CliChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let buf = '';
  let err = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not an event line */
      }
      for (const w of waiters) w();
    }
  });
  proc.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-20_000);
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    proc,
    events,
    stderr: () => err,
    waitFor(pred, what, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = events.find(pred);
          if (hit) {
            cleanup();
            resolve(hit);
          }
        };
        const onExit = () => {
          cleanup();
          reject(new Error(`process exited while waiting for ${what}; stderr:\n${err}`));
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${what}; stderr:\n${err}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
          proc.off('exit', onExit);
        };
        waiters.add(check);
        proc.once('exit', onExit);
        check();
      });
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async term() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `check` until it returns a value other than undefined (deadline `timeoutMs`, default 30 s). */
export async function until<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
