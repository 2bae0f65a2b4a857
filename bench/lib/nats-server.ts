/**
 * A real `nats-server` with JetStream on a temporary directory and a free port, for the cluster
 * tests (test/cluster/) and the cluster benchmark (bench/cluster.ts). A missing nats-server is
 * reported with what to install.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
