import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildReport, extractJson, SUITES, suiteCommand, tablesFrom } from '../../src/cli/commands/bench.js';
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

describe('derived charts', () => {
  it('plots pacing stalls against the baseline, density, jitter against the oracle and codec cost', async () => {
    const { derivedCharts } = await import('../../src/cli/commands/bench.js');
    const pacing = {
      '1. pacing': [{ load: 'idle', latenessP99: 0.4, senderLatenessP99: 0.2 }],
      '2. stalls': [
        { stallMs: 100, impl: 'argon-voice', maxGap: 21, bursts: 0 },
        { stallMs: 100, impl: 'baseline', maxGap: 105, bursts: 8 },
      ],
      '4. density': [
        { streams: 50, spacingErrorP99: 0.7, senderWorstP99Error: 0.3 },
        { streams: 500, spacingErrorP99: 9.8, senderWorstP99Error: 0.6 },
      ],
    };
    const charts = derivedCharts('pacing', pacing);
    expect(charts.map((c) => c.title)).toEqual([
      'p99 lateness: at the gateway and at the sender',
      'largest gap between frames under main-thread stalls',
      'bursts (frames sent < 5 ms apart) under stalls',
      'density: p99 spacing error against concurrent streams on one pacer thread',
    ]);
    const gaps = charts[1]!;
    expect(gaps.series.map((s) => [s.name, s.points])).toEqual([
      ['argon-voice', [[0, 21]]],
      ['baseline', [[0, 105]]],
    ]);
    const jitter = derivedCharts('jitter', {
      scenarios: [
        { scenario: 'clean', adaptiveDelayMs: 7, frames20DelayMs: 15, oracleDelayMs: 2, adaptiveLatePct: 0.3 },
      ],
    });
    expect(jitter[0]!.series.map((x) => x.points)).toEqual([[[0, 7]], [[0, 15]], [[0, 2]]]);
    const dec = derivedCharts('decoder', {
      rows: [
        { scenario: 'a', op: 'plc', impl: 'native', p50Ns: 14000 },
        { scenario: 'b', op: 'plc', impl: 'native', p50Ns: 1 },
      ],
    });
    expect(dec[0]!.series[0]!.points).toEqual([[0, 14]]);
    expect(derivedCharts('sse', {})).toEqual([]);
  });
});

describe('suiteCommand', () => {
  it('runs the compiled suite, unless the sources changed after the build (then tsx), or there is none', () => {
    // Under the project, so that tsx resolves from the fake package root as in a checkout.
    mkdirSync(join(process.cwd(), 'node_modules', '.cache'), { recursive: true });
    const root = mkdtempSync(join(process.cwd(), 'node_modules', '.cache', 'suite-root-'));
    try {
      for (const d of ['dist/bench', 'bench', 'src']) mkdirSync(join(root, d), { recursive: true });
      writeFileSync(join(root, 'package.json'), '{}');
      const js = join(root, 'dist/bench/x.js');
      const ts = join(root, 'bench/x.ts');
      const src = join(root, 'src/a.ts');
      for (const f of [js, ts, src]) writeFileSync(f, '');
      const at = (f: string, s: number) => utimesSync(f, s, s);
      at(ts, 1000);
      at(src, 1000);
      at(js, 2000);
      expect(suiteCommand(root, 'x')?.args).toEqual([js]);
      at(src, 3000); // edited after the build
      expect(suiteCommand(root, 'x')?.args).toEqual(['--import', 'tsx', ts]);
      rmSync(js);
      expect(suiteCommand(root, 'x')?.args).toEqual(['--import', 'tsx', ts]);
      expect(suiteCommand(root, 'nope')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
