/**
 * `argon-voice bench [suite ...] [--json] [--report out.html]`: runs the benchmark suites in
 * `bench/`, each in its own child process (so one suite's threads and timers cannot disturb
 * another's measurements), collects their JSON, and prints it or renders the HTML report.
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliCommand, CliIo } from '../types.js';
import { type ReportChart, type ReportData, type ReportSection, type ReportTable, renderReport } from '../report.js';

/** The suites, in the order they run, with what each measures. */
export const SUITES: Record<string, string> = {
  'codec-parse': 'Opus packet parsing and Ogg demux throughput',
  encoder: 'Opus encoder wrapper cost per frame vs a raw @discordjs/opus call',
  pcm: 'PCM gain and mix per frame vs a naive loop',
  decoder: 'decode, exact PLC and FEC cost per frame: native addon vs @discordjs/opus',
  pacing: 'pacer lateness and spacing idle, under CPU contention and event-loop stalls, drift, density, start latency',
  media:
    'playing files under main-thread stalls: wire gaps, bursts, dropouts and inserted silence (media worker vs main-thread media vs @discordjs/voice scheme), start latency, main-thread cost',
  jitter: 'jitter buffer added delay and late loss on seeded traces vs fixed buffers and the oracle',
  sse: 'SSE parse throughput at 1/8/64/256-byte chunks vs a naive parser',
  rest: 'REST call overhead vs a raw undici request to the emulator',
  calls: 'answer latency: callIncoming to the first greeting frame at the caller',
  cluster:
    'NATS cluster: placement spread, kill -9 of a worker to audio back, events lost in a router failover, routing overhead',
  soak: 'long run (10 min): 50 publishing + 10 listening streams; RSS/heap growth, fd/socket/timer leaks, stream health',
};

/** Suites that run only when named (long runs), not in a plain `argon-voice bench`. */
export const ON_REQUEST: ReadonlySet<string> = new Set(['soak']);

const HELP = `Usage: argon-voice bench [suite ...] [--json] [--report FILE] [--quick]

Runs benchmark suites (default: all but soak), each in its own process, with its baseline measured in
the same run. Prints a summary table, or the raw JSON with --json; --report writes one
self-contained HTML page with plots.

Suites:
${Object.entries(SUITES)
  .map(([k, v]) => `  ${k.padEnd(12)} ${v}`)
  .join('\n')}

Options:
  --json          print the collected JSON on stdout
  --report FILE   write the HTML report to FILE
  --quick         ask suites for a shorter run (less precise)
  --minutes N     run length of suites that take one (soak; default 10, 1 with --quick)
`;

/** Where the package root is, from this file (src/cli/commands or dist/src/cli/commands). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/**
 * How to run one suite: the compiled JS, unless the TypeScript sources (`src/`, `bench/`) were
 * changed after it was built and tsx is installed (a development checkout): a benchmark of stale
 * code would quote numbers of code that no longer exists. Without compiled JS, the source.
 */
export function suiteCommand(root: string, suite: string): { cmd: string; args: string[] } | undefined {
  const js = join(root, 'dist', 'bench', `${suite}.js`);
  const ts = join(root, 'bench', `${suite}.ts`);
  const viaTsx = { cmd: process.execPath, args: ['--import', 'tsx', ts] };
  if (existsSync(js)) {
    if (
      existsSync(ts) &&
      hasTsx(root) &&
      newestMtime([join(root, 'src'), join(root, 'bench')]) > statSync(js).mtimeMs
    ) {
      return viaTsx;
    }
    return { cmd: process.execPath, args: [js] };
  }
  return existsSync(ts) ? viaTsx : undefined;
}

function hasTsx(root: string): boolean {
  try {
    createRequire(join(root, 'package.json')).resolve('tsx');
    return true;
  } catch {
    return false;
  }
}

/** Newest modification time of the `.ts` files below `dirs` (0 when there are none). */
function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string, depth: number): void => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(d, 0);
  return newest;
}

/** Result of one suite run. */
export interface SuiteResult {
  suite: string;
  ok: boolean;
  data?: unknown;
  error?: string;
  seconds: number;
}

async function runSuite(
  root: string,
  suite: string,
  quick: boolean,
  io: CliIo,
  extra: string[] = [],
): Promise<SuiteResult> {
  const how = suiteCommand(root, suite);
  const started = Date.now();
  if (!how) return { suite, ok: false, error: 'suite not found (no dist/bench or bench/ file)', seconds: 0 };
  return new Promise((resolveResult) => {
    const child = spawn(how.cmd, [...how.args, '--json', ...(quick ? ['--quick'] : []), ...extra], {
      cwd: root,
      env: { ...io.env, ARGON_TOKEN: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const onAbort = () => child.kill('SIGTERM');
    io.signal.addEventListener('abort', onAbort, { once: true });
    child.on('close', (code) => {
      io.signal.removeEventListener('abort', onAbort);
      const seconds = (Date.now() - started) / 1000;
      const text = Buffer.concat(out).toString('utf8');
      const data = extractJson(text);
      if (code === 0 && data !== undefined) resolveResult({ suite, ok: true, data, seconds });
      else
        resolveResult({
          suite,
          ok: false,
          seconds,
          error: `exit ${code}${data === undefined ? ', no JSON on stdout' : ''}: ${Buffer.concat(err).toString('utf8').slice(-800)}`,
        });
    });
    child.on('error', (e) => resolveResult({ suite, ok: false, error: e.message, seconds: 0 }));
  });
}

/** Takes the last top-level JSON value printed (suites may print a table first). */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {}
  // Find the last line that starts a JSON object/array and parse from there.
  const lines = trimmed.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trimStart();
    if (l.startsWith('{') || l.startsWith('[')) {
      try {
        return JSON.parse(lines.slice(i).join('\n'));
      } catch {}
    }
  }
  return undefined;
}

/** Arrays of flat records anywhere in `data`, as tables. */
export function tablesFrom(data: unknown, path = ''): ReportTable[] {
  const tables: ReportTable[] = [];
  const visit = (v: unknown, p: string, depth: number) => {
    if (depth > 4 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      const rows = v.filter((r) => r && typeof r === 'object' && !Array.isArray(r)) as Record<string, unknown>[];
      if (rows.length && rows.length === v.length && rows.length <= 200) {
        const cols = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => isScalar(r[k]))))];
        if (cols.length) {
          tables.push({
            title: p || undefined,
            columns: cols,
            rows: rows.map((r) => cols.map((c) => scalar(r[c]))),
          } as ReportTable);
          return;
        }
      }
      return;
    }
    const obj = v as Record<string, unknown>;
    const scalars = Object.entries(obj).filter(([, x]) => isScalar(x));
    if (scalars.length && depth > 0 && scalars.length === Object.keys(obj).length) {
      tables.push({ title: p, columns: ['metric', 'value'], rows: scalars.map(([k, x]) => [k, scalar(x)]) });
      return;
    }
    for (const [k, x] of Object.entries(obj)) visit(x, p ? `${p}.${k}` : k, depth + 1);
  };
  visit(data, path, 0);
  return tables;
}

function isScalar(v: unknown): boolean {
  return v === null || ['number', 'string', 'boolean'].includes(typeof v);
}
function scalar(v: unknown): string | number | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number' || typeof v === 'string') return v;
  return String(v);
}

type Row = Record<string, unknown>;
const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN);
const rowsOf = (v: unknown): Row[] => (Array.isArray(v) ? (v.filter((r) => r && typeof r === 'object') as Row[]) : []);

/** One bar chart: categories from `cat(row)`, one series per `series(row)`, value `val(row)`. */
function barChart(
  title: string,
  yLabel: string,
  rows: Row[],
  cat: (r: Row) => string,
  series: (r: Row) => string,
  val: (r: Row) => number,
): ReportChart {
  const categories = [...new Set(rows.map(cat))];
  const names = [...new Set(rows.map(series))];
  return {
    kind: 'bar',
    title,
    xLabel: '',
    yLabel,
    categories,
    series: names.map((name) => ({
      name,
      points: rows
        .filter((r) => series(r) === name)
        .map((r) => [categories.indexOf(cat(r)), val(r)] as [number, number]),
    })),
  };
}

/**
 * Plots derived from the figures of the suites that do not draw their own: pacing (lateness,
 * stalls against the baseline, density curve), jitter (delay against the oracle, late loss against
 * fixed buffers) and decoder (cost per frame per implementation).
 */
export function derivedCharts(suite: string, data: unknown): ReportChart[] {
  const d = (data ?? {}) as Row;
  const section = (prefix: string) => rowsOf(Object.entries(d).find(([k]) => k.startsWith(prefix))?.[1]);
  switch (suite) {
    case 'pacing': {
      const charts: ReportChart[] = [];
      const idle = section('1.');
      if (idle.length) {
        charts.push({
          kind: 'bar',
          title: 'p99 lateness: at the gateway and at the sender',
          xLabel: '',
          yLabel: 'ms',
          categories: idle.map((r) => String(r.load)),
          series: [
            { name: 'at the gateway', points: idle.map((r, i) => [i, num(r.latenessP99)] as [number, number]) },
            { name: 'at the sender', points: idle.map((r, i) => [i, num(r.senderLatenessP99)] as [number, number]) },
          ],
        });
      }
      const stalls = section('2.');
      if (stalls.length) {
        charts.push(
          barChart(
            'largest gap between frames under main-thread stalls',
            'ms',
            stalls,
            (r) => `${r.stallMs} ms stalls`,
            (r) => String(r.impl),
            (r) => num(r.maxGap),
          ),
          barChart(
            'bursts (frames sent < 5 ms apart) under stalls',
            'count',
            stalls,
            (r) => `${r.stallMs} ms stalls`,
            (r) => String(r.impl),
            (r) => num(r.bursts),
          ),
        );
      }
      const density = section('4.');
      if (density.length) {
        charts.push({
          kind: 'line',
          title: 'density: p99 spacing error against concurrent streams on one pacer thread',
          xLabel: 'streams',
          yLabel: 'ms',
          series: [
            {
              name: 'measured at the gateway',
              points: density.map((r) => [num(r.streams), num(r.spacingErrorP99)] as [number, number]),
            },
            {
              name: 'measured at the sender',
              points: density.map((r) => [num(r.streams), num(r.senderWorstP99Error)] as [number, number]),
            },
          ],
        });
      }
      return charts;
    }
    case 'media': {
      const stalls = section('1.');
      if (!stalls.length) return [];
      const cat = (r: Row) => `${r.input}, ${r.stall} stalls`;
      const impl = (r: Row) => String(r.impl);
      // Several runs per case: the charts show the worst run.
      const worst = (key: string) => (r: Row) =>
        Math.max(...stalls.filter((x) => cat(x) === cat(r) && impl(x) === impl(r)).map((x) => num(x[key])));
      const one = stalls.filter((r) => num(r.run) === 0);
      return [
        barChart('inserted silence inside the audio (worst run)', 'ms', one, cat, impl, worst('insertedSilenceMs')),
        barChart(
          'listener with a 60 ms buffer: time playout stood still (worst run)',
          'ms',
          one,
          cat,
          impl,
          worst('listenerStallMs'),
        ),
        barChart('largest gap between frames (worst run)', 'ms', one, cat, impl, worst('maxGapMs')),
        barChart('bursts (frames < 5 ms apart, worst run)', 'count', one, cat, impl, worst('bursts')),
      ];
    }
    case 'jitter': {
      const sc = rowsOf(d.scenarios);
      if (!sc.length) return [];
      const cats = sc.map((r) => String(r.scenario));
      const pts = (key: string) => sc.map((r, i) => [i, num(r[key])] as [number, number]);
      return [
        {
          kind: 'bar',
          title: 'added delay per trace: adaptive buffer against the oracle',
          xLabel: '',
          yLabel: 'ms',
          categories: cats,
          series: [
            { name: 'adaptive: time-stretch, 5 ms tick', points: pts('adaptiveDelayMs') },
            { name: 'adaptive: whole frames, 20 ms tick (baseline)', points: pts('frames20DelayMs') },
            { name: 'oracle (same late loss)', points: pts('oracleDelayMs') },
          ],
        },
        {
          kind: 'bar',
          title: 'late loss per trace: adaptive against fixed buffers',
          xLabel: '',
          yLabel: '% of frames',
          categories: cats,
          series: [
            { name: 'adaptive: time-stretch, 5 ms tick', points: pts('adaptiveLatePct') },
            { name: 'adaptive: whole frames, 20 ms tick', points: pts('frames20LatePct') },
            { name: 'fixed 60 ms', points: pts('fixed60LatePct') },
            { name: 'fixed 100 ms', points: pts('fixed100LatePct') },
            { name: 'fixed 200 ms', points: pts('fixed200LatePct') },
          ],
        },
      ];
    }
    case 'decoder': {
      const rows = rowsOf(d.rows);
      const first = rows[0]?.scenario;
      const one = rows.filter((r) => r.scenario === first);
      return one.length
        ? [
            barChart(
              `codec cost per 20 ms frame (${String(first)})`,
              'µs (p50)',
              one,
              (r) => String(r.op),
              (r) => String(r.impl),
              (r) => num(r.p50Ns) / 1000,
            ),
          ]
        : [];
    }
    default:
      return [];
  }
}

/** Charts for series a suite exposes under a `charts` key (already in {@link ReportChart} shape). */
function chartsFrom(data: unknown): ReportChart[] {
  const charts = (data as { charts?: unknown })?.charts;
  if (!Array.isArray(charts)) return [];
  return charts.filter(
    (c): c is ReportChart =>
      !!c &&
      typeof c === 'object' &&
      Array.isArray((c as ReportChart).series) &&
      typeof (c as ReportChart).title === 'string',
  );
}

/** Builds the report page data from suite results. */
export function buildReport(results: SuiteResult[], command: string): ReportData {
  const cpu = cpus();
  const sections: ReportSection[] = results.map((r) => ({
    id: r.suite,
    title: `${r.suite}: ${SUITES[r.suite] ?? ''}`,
    description: r.ok ? `Ran in ${r.seconds.toFixed(1)} s.` : `FAILED: ${r.error}`,
    tables: r.ok ? tablesFrom(withoutCharts(r.data)) : [],
    charts: r.ok ? [...chartsFrom(r.data), ...derivedCharts(r.suite, r.data)] : [],
  }));
  return {
    title: 'argon-voice benchmarks',
    generatedAt: new Date().toISOString(),
    machine: {
      cpus: `${cpu.length} x ${cpu[0]?.model ?? 'unknown'}`,
      memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    command,
    sections,
  };
}

function withoutCharts(data: unknown): unknown {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return data;
  const { charts: _charts, ...rest } = data as Record<string, unknown>;
  return rest;
}

export const command: CliCommand = {
  summary: 'run the benchmarks; print a table, JSON, or an HTML report with plots',
  help: HELP,
  async run(argv, io) {
    const suites: string[] = [];
    let json = false;
    let report: string | undefined;
    let quick = false;
    const extra: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (a === '--json') json = true;
      else if (a === '--quick') quick = true;
      else if (a === '--minutes' || a.startsWith('--minutes=')) {
        const v = a.includes('=') ? a.slice(10) : argv[++i];
        if (!(Number(v) > 0)) {
          io.stderr.write(`argon-voice bench: --minutes needs a positive number, got '${v ?? ''}'\n`);
          return 2;
        }
        extra.push('--minutes', String(Number(v)));
      } else if (a === '--report') {
        report = argv[++i];
        if (!report) {
          io.stderr.write('argon-voice bench: --report needs a file name\n');
          return 2;
        }
      } else if (a.startsWith('--report=')) report = a.slice(9);
      else if (a.startsWith('-')) {
        io.stderr.write(`argon-voice bench: unknown option '${a}'\n${HELP}`);
        return 2;
      } else if (!(a in SUITES)) {
        io.stderr.write(`argon-voice bench: unknown suite '${a}'; suites: ${Object.keys(SUITES).join(', ')}\n`);
        return 2;
      } else suites.push(a);
    }
    const chosen = suites.length ? suites : Object.keys(SUITES).filter((s) => !ON_REQUEST.has(s));
    const root = packageRoot();
    const quiet = json || !!io.env.CI;
    const results: SuiteResult[] = [];
    for (const s of chosen) {
      if (io.signal.aborted) break;
      if (!quiet) io.stderr.write(`bench: running ${s} ...\n`);
      const r = await runSuite(root, s, quick, io, extra);
      results.push(r);
      if (!quiet) io.stderr.write(`bench: ${s} ${r.ok ? 'done' : 'FAILED'} in ${r.seconds.toFixed(1)} s\n`);
    }
    const cmdline = `argon-voice bench ${argv.join(' ')}`.trim();
    if (json) {
      const obj = Object.fromEntries(results.map((r) => [r.suite, r.ok ? r.data : { error: r.error }]));
      io.stdout.write(`${JSON.stringify(obj, null, 2)}\n`);
    } else {
      for (const r of results) {
        io.stdout.write(`\n== ${r.suite} (${r.ok ? `${r.seconds.toFixed(1)} s` : 'FAILED'})\n`);
        if (!r.ok) io.stdout.write(`${r.error}\n`);
        else
          for (const t of tablesFrom(withoutCharts(r.data))) {
            if (t.title) io.stdout.write(`-- ${t.title}\n`);
            io.stdout.write(`${t.columns.join('\t')}\n`);
            for (const row of t.rows) io.stdout.write(`${row.map((v) => (v === null ? '-' : v)).join('\t')}\n`);
          }
      }
    }
    if (report) {
      const file = resolve(report);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, renderReport(buildReport(results, cmdline)));
      io.stderr.write(`bench: report written to ${file}\n`);
    }
    return results.every((r) => r.ok) ? 0 : 1;
  },
};
