/**
 * Real `nats-server` (JetStream on a temp dir, free port) and worker child processes for the
 * cluster tests. A missing nats-server fails the suite with a message that says what to install.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectNats, type NatsConnection } from '../../src/cluster/nats.js';

/** Throws a clear error when nats-server is not on PATH. */
export function requireNatsServer(): string {
  const r = spawnSync('nats-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(
      'nats-server is not installed: the cluster tests need a real NATS server with JetStream. ' +
        'Install it with `apt-get update && apt-get install -y nats-server` (.ci/run does this).',
    );
  }
  return r.stdout.trim();
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** A running nats-server. */
export interface NatsServer {
  url: string;
  port: number;
  /** Kills the server and removes its store. Idempotent. */
  close(): Promise<void>;
}

/** Starts `nats-server -js` on a free port with its store in a temp dir; waits until it accepts clients. */
export async function startNats(): Promise<NatsServer> {
  requireNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'argon-nats-'));
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const proc = spawn('nats-server', ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const url = `nats://127.0.0.1:${port}`;
    const deadline = Date.now() + 15_000;
    let nc: NatsConnection | undefined;
    while (!nc && Date.now() < deadline && proc.exitCode === null) {
      nc = await connectNats(url, { timeoutMs: 1000 }).catch(() => undefined);
      if (!nc) await new Promise((r) => setTimeout(r, 100));
    }
    if (nc) {
      await nc.close();
      let closed = false;
      return {
        url,
        port,
        async close() {
          if (closed) return;
          closed = true;
          if (proc.exitCode === null) {
            const exited = new Promise((r) => proc.once('exit', r));
            proc.kill('SIGKILL');
            await exited;
          }
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    proc.kill('SIGKILL');
    if (attempt >= 2) throw new Error(`nats-server did not start on port ${port}: ${log}`);
  }
}

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
