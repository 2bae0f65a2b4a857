import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { escapeHtml, type ReportData, renderChart, renderReport } from '../../src/cli/report.js';

function sample(): ReportData {
  return {
    title: 'argon-voice benchmarks <test>',
    generatedAt: '2026-11-28T00:00:00Z',
    machine: { cpus: '2 x test cpu', node: 'v20' },
    command: 'argon-voice bench --report out.html',
    sections: [
      {
        id: 'pacing',
        title: 'Pacing',
        description: 'Send spacing of the worker pacer against the main-thread baseline.',
        tables: [
          {
            columns: ['scheme', 'p50', 'p99'],
            rows: [
              ['worker', 20.01, 20.2],
              ['baseline', 20.5, null],
            ],
          },
        ],
        charts: [
          {
            kind: 'line',
            title: 'lateness over time',
            xLabel: 's',
            yLabel: 'ms',
            series: [
              {
                name: 'worker',
                points: [
                  [0, 0.1],
                  [1, 0.2],
                  [2, 0.15],
                ],
              },
              {
                name: 'baseline',
                points: [
                  [0, 1],
                  [1, 100],
                  [2, 2],
                ],
              },
            ],
          },
          {
            kind: 'bar',
            title: 'codec cost',
            xLabel: 'operation',
            yLabel: 'µs/frame',
            categories: ['decode', 'plc', 'fec'],
            series: [
              {
                name: 'native',
                points: [
                  [0, 30],
                  [1, 12],
                  [2, 33],
                ],
              },
            ],
          },
          { kind: 'scatter', title: 'empty', xLabel: 'x', yLabel: 'y', series: [] },
        ],
      },
    ],
  };
}

describe('renderReport', () => {
  it('escapes text and embeds no script or external resource', () => {
    const html = renderReport(sample());
    expect(html).toContain('argon-voice benchmarks &#60;test&#62;');
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(escapeHtml(`a"b'<c>&`)).toBe('a&#34;b&#39;&#60;c&#62;&#38;');
  });

  it('draws one path per line series, one rect per bar, and says when a chart has no data', () => {
    const [line, bar, empty] = sample().sections[0]!.charts;
    const lineSvg = renderChart(line!);
    expect(lineSvg.match(/<path [^>]*class="series"/g)).toHaveLength(2);
    const barSvg = renderChart(bar!);
    expect(barSvg.match(/<rect [^>]*class="series"/g)).toHaveLength(3);
    expect(barSvg).toContain('>decode<');
    expect(renderChart(empty!)).toContain('no data');
  });

  it('renders missing table cells as a dash and lists every section in the table of contents', () => {
    const html = renderReport(sample());
    expect(html).toContain('<td>–</td>');
    expect(html).toContain('<a href="#pacing">Pacing</a>');
  });
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!chromium) console.warn('report browser test: no chromium on this machine (apt-get install chromium); skipping it');

describe('report in a real browser', () => {
  it.skipIf(!chromium)('renders every plot without console errors', async () => {
    const { chromium: pw } = await import('playwright-core');
    const dir = await mkdtemp(join(tmpdir(), 'argon-report-'));
    const file = join(dir, 'report.html');
    await writeFile(file, renderReport(sample()));
    const browser = await pw.launch({
      executablePath: chromium!,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(pathToFileURL(file).href);
      expect(await page.locator('svg.chart').count()).toBe(3);
      const box = await page.locator('svg.chart').first().boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(await page.locator('svg.chart path.series').count()).toBe(2);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
