import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ON_REQUEST, SUITES } from '../../src/cli/commands/bench.js';
import { main } from '../../src/cli/main.js';

function io() {
  const out = new PassThrough();
  const err = new PassThrough();
  let o = '';
  let e = '';
  out.on('data', (b) => (o += b));
  err.on('data', (b) => (e += b));
  return {
    io: { stdout: out, stderr: err, env: {}, signal: new AbortController().signal },
    out: () => o,
    err: () => e,
  };
}

describe('bench soak: command line', () => {
  it('lists soak as a suite that runs only when named', () => {
    expect(SUITES.soak).toMatch(/publishing/);
    expect(ON_REQUEST.has('soak')).toBe(true);
  });

  it('refuses a --minutes that is not a positive number before running anything', async () => {
    for (const bad of [['--minutes', 'ten'], ['--minutes', '0'], ['--minutes=-1'], ['--minutes']]) {
      const a = io();
      expect(await main(['bench', 'soak', ...bad], a.io)).toBe(2);
      expect(a.err()).toMatch(/--minutes needs a positive number/);
    }
  });

  it('documents --minutes in the help', async () => {
    const a = io();
    expect(await main(['bench', '--help'], a.io)).toBe(0);
    expect(a.out()).toMatch(/--minutes N/);
  });
});
