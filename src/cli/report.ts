/**
 * Renders benchmark results as one self-contained HTML page: inline SVG plots and tables, no
 * script, no stylesheet or font from the network, so the file opens anywhere offline.
 * Pure: data in, a string out.
 * @packageDocumentation
 */

/** One named series of (x, y) points. */
export interface ReportSeries {
  name: string;
  points: Array<[number, number]>;
}

/** A plot. `line` joins points, `scatter` draws dots, `bar` draws one bar per point. */
export interface ReportChart {
  kind: 'line' | 'scatter' | 'bar';
  title: string;
  xLabel: string;
  yLabel: string;
  series: ReportSeries[];
  /** Category names for `bar` charts, indexed by the points' x value. */
  categories?: string[];
  /** Use a logarithmic y axis (values must be > 0). */
  logY?: boolean;
}

/** A table of figures. */
export interface ReportTable {
  title?: string;
  columns: string[];
  rows: Array<Array<string | number | null>>;
}

/** One benchmark suite's part of the report. */
export interface ReportSection {
  id: string;
  title: string;
  /** Plain text (no HTML) describing what was measured and the goal. */
  description?: string;
  tables: ReportTable[];
  charts: ReportChart[];
}

/** Everything the page shows. */
export interface ReportData {
  title: string;
  generatedAt: string;
  /** Machine description, e.g. `{ cpus: '2 x Intel Xeon', node: 'v20.20.2' }`. */
  machine: Record<string, string | number>;
  /** The command that reproduces these numbers. */
  command: string;
  sections: ReportSection[];
}

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(a >= 100 ? 1 : a >= 1 ? 2 : 3);
}

/** "Nice" tick values covering [min, max]. */
function ticks(min: number, max: number, count = 5): number[] {
  if (min === max) {
    min -= 1;
    max += 1;
  }
  const span = max - min;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Renders one chart as an inline SVG element. */
export function renderChart(chart: ReportChart): string {
  const W = 640;
  const H = 320;
  const m = { l: 64, r: 16, t: 32, b: 48 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = chart.series.flatMap((s) => s.points);
  const finite = all.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.logY || y > 0));
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(chart.title)}" class="chart">`,
  );
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" class="ct">${escapeHtml(chart.title)}</text>`);
  if (finite.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data</text></svg>`);
    return parts.join('');
  }
  let xMin = Math.min(...finite.map((p) => p[0]));
  let xMax = Math.max(...finite.map((p) => p[0]));
  const ys = finite.map((p) => (chart.logY ? Math.log10(p[1]) : p[1]));
  let yMin = Math.min(...ys);
  let yMax = Math.max(...ys);
  if (chart.kind === 'bar') {
    xMin -= 0.5;
    xMax += 0.5;
    if (!chart.logY) yMin = Math.min(0, yMin);
  }
  if (!chart.logY && yMin > 0 && yMin < (yMax - yMin) * 0.5) yMin = 0;
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  if (yMin === yMax) {
    yMin -= 1;
    yMax += 1;
  }
  const yTicks = ticks(yMin, yMax);
  yMin = Math.min(yMin, yTicks[0] ?? yMin);
  yMax = Math.max(yMax, yTicks[yTicks.length - 1] ?? yMax);
  const sx = (x: number) => m.l + ((x - xMin) / (xMax - xMin)) * pw;
  const sy = (y: number) => m.t + ph - (((chart.logY ? Math.log10(y) : y) - yMin) / (yMax - yMin)) * ph;
  const syRaw = (v: number) => m.t + ph - ((v - yMin) / (yMax - yMin)) * ph;
  // Axes and grid.
  parts.push(`<g class="grid">`);
  for (const t of yTicks) {
    const y = syRaw(t);
    parts.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${y}" y2="${y}"/>`);
    parts.push(`<text x="${m.l - 6}" y="${y + 4}" text-anchor="end">${fmt(chart.logY ? 10 ** t : t)}</text>`);
  }
  if (chart.kind === 'bar' && chart.categories) {
    chart.categories.forEach((c, i) => {
      parts.push(`<text x="${sx(i)}" y="${H - m.b + 16}" text-anchor="middle">${escapeHtml(c)}</text>`);
    });
  } else {
    for (const t of ticks(xMin, xMax)) {
      parts.push(`<text x="${sx(t)}" y="${H - m.b + 16}" text-anchor="middle">${fmt(t)}</text>`);
    }
  }
  parts.push(`</g>`);
  parts.push(
    `<line class="axis" x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}"/><line class="axis" x1="${m.l}" x2="${W - m.r}" y1="${m.t + ph}" y2="${m.t + ph}"/>`,
  );
  parts.push(
    `<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle" class="al">${escapeHtml(chart.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle" class="al">${escapeHtml(chart.yLabel)}</text>`,
  );
  // Data.
  const nSeries = chart.series.length;
  chart.series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length]!;
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!chart.logY || y > 0));
    if (chart.kind === 'line') {
      const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5" class="series"/>`);
    } else if (chart.kind === 'scatter') {
      for (const [x, y] of pts)
        parts.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2" fill="${color}" class="series"/>`);
    } else {
      const slot = pw / Math.max(1, xMax - xMin);
      const bw = (slot * 0.8) / nSeries;
      const base = chart.logY ? m.t + ph : syRaw(Math.max(yMin, 0));
      for (const [x, y] of pts) {
        const x0 = sx(x) - (slot * 0.8) / 2 + si * bw;
        const yy = sy(y);
        parts.push(
          `<rect x="${x0.toFixed(1)}" y="${Math.min(yy, base).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.abs(base - yy).toFixed(1)}" fill="${color}" class="series"><title>${escapeHtml(`${s.name}: ${fmt(y)}`)}</title></rect>`,
        );
      }
    }
  });
  // Legend.
  chart.series.forEach((s, si) => {
    const y = m.t + 4 + si * 16;
    parts.push(
      `<rect x="${W - m.r - 170}" y="${y}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/><text x="${W - m.r - 155}" y="${y + 9}">${escapeHtml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function renderTable(t: ReportTable): string {
  const head = t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('');
  const body = t.rows
    .map(
      (r) =>
        `<tr>${r.map((v) => `<td>${v === null ? '–' : escapeHtml(typeof v === 'number' ? fmt(v) : v)}</td>`).join('')}</tr>`,
    )
    .join('');
  const caption = t.title ? `<caption>${escapeHtml(t.title)}</caption>` : '';
  return `<table>${caption}<thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** Renders the whole report page. */
export function renderReport(data: ReportData): string {
  const machine = Object.entries(data.machine)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join('');
  const toc = data.sections.map((s) => `<li><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></li>`).join('');
  const sections = data.sections
    .map(
      (s) =>
        `<section id="${escapeHtml(s.id)}"><h2>${escapeHtml(s.title)}</h2>${
          s.description ? `<p>${escapeHtml(s.description)}</p>` : ''
        }${s.tables.map(renderTable).join('')}<div class="charts">${s.charts.map(renderChart).join('')}</div></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(data.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1360px;padding:0 1rem;color:#111}
h1{font-size:1.6rem}h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.75rem 0}th,td{border:1px solid #ddd;padding:.25rem .6rem;text-align:right}
th{background:#f5f5f5}caption{text-align:left;font-weight:600;padding:.25rem 0}
code{background:#f3f3f3;padding:.1rem .3rem}
.charts{display:flex;flex-wrap:wrap;gap:1rem}.chart{border:1px solid #eee;background:#fff;max-width:100%;height:auto}
.chart text{font-size:11px;fill:#333}.chart .ct{font-size:13px;font-weight:600}.chart .al{font-size:12px}
.grid line{stroke:#eee}.axis{stroke:#999}
</style></head><body>
<h1>${escapeHtml(data.title)}</h1>
<p>Generated ${escapeHtml(data.generatedAt)}. Reproduce with <code>${escapeHtml(data.command)}</code>.</p>
<table class="machine">${machine}</table>
<ul>${toc}</ul>
${sections}
</body></html>
`;
}
