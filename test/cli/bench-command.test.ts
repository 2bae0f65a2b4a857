import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildReport, extractJson, SUITES, tablesFrom } from '../../src/cli/commands/bench.js';
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

describe('bench command', () => {
  it('extracts the JSON a suite prints after its table', () => {
    expect(extractJson('scheme p99\nworker 0.2\n{"a": 1,\n "b": [1,2]}\n')).toEqual({ a: 1, b: [1, 2] });
    expect(extractJson('{"x":true}')).toEqual({ x: true });
    expect(extractJson('no json here')).toBeUndefined();
  });

  it('turns arrays of records and flat objects into tables', () => {
    const t = tablesFrom({
      rows: [
        { scheme: 'worker', p99: 0.2 },
        { scheme: 'baseline', p99: 9, extra: 'x' },
      ],
      summary: { ratio: 45 },
    });
    expect(t).toHaveLength(2);
    expect(t[0]).toEqual({
      title: 'rows',
      columns: ['scheme', 'p99', 'extra'],
      rows: [
        ['worker', 0.2, null],
        ['baseline', 9, 'x'],
      ],
    });
    expect(t[1]).toEqual({ title: 'summary', columns: ['metric', 'value'], rows: [['ratio', 45]] });
  });

  it('builds a report with a failed suite marked as such and charts passed through', () => {
    const r = buildReport(
      [
        {
          suite: 'pacing',
          ok: true,
          seconds: 1,
          data: { charts: [{ kind: 'line', title: 't', xLabel: 'x', yLabel: 'y', series: [] }], p99: 1 },
        },
        { suite: 'jitter', ok: false, seconds: 0, error: 'exit 1' },
      ],
      'argon-voice bench',
    );
    expect(r.sections[0]!.charts).toHaveLength(1);
    expect(r.sections[1]!.description).toMatch(/FAILED: exit 1/);
    expect(r.machine.cpus).toMatch(/x/);
  });

  it('rejects unknown suites and options with exit code 2 and names the suites', async () => {
    const a = io();
    expect(await main(['bench', 'nosuch'], a.io)).toBe(2);
    expect(a.err()).toContain(Object.keys(SUITES).join(', '));
    const b = io();
    expect(await main(['bench', '--frobnicate'], b.io)).toBe(2);
    const c = io();
    expect(await main(['bench', '--help'], c.io)).toBe(0);
    expect(c.out()).toMatch(/--report FILE/);
  });
});
