/**
 * A self-contained HTML latency report: one inline-SVG chart per comparison, latency against
 * percentile on a log scale (`-log10(1 - p)`, so 90 %, 99 %, 99.9 % … are evenly spaced and the tail
 * gets the room it deserves), several runs per chart. The report's data is embedded as JSON, so a
 * later run can be added to an existing file (`legate bench --html same.html`) and the page is
 * re-rendered with every run on one chart. No scripts, no external assets.
 *
 * Colours belong to systems, not to positions: each distinct series key (`system`, else the label)
 * gets one colour for the whole report, in order of first appearance, so a system keeps its colour
 * from chart to chart whatever else each chart shows.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface PlotSeries {
  label: string;
  /** What the colour follows (the system measured); the label when absent. */
  system?: string;
  /** `[percentile, ms]`, percentiles ascending, from `percentileCurve`: drawn bold. */
  percentiles: Array<[number, number]>;
  /** More runs of the same system, drawn thin in its colour (the chart's caption says which is bold). */
  otherRuns?: Array<Array<[number, number]>>;
  /** Extra facts shown in the table under the chart (e.g. req/s, errors). */
  facts?: Record<string, string>;
}

export interface ReportChart {
  title: string;
  /** Shown under the title: what each curve is (e.g. which run of several is drawn bold). */
  caption?: string;
  series: PlotSeries[];
}

/** A value over the seconds of a run (e.g. p99 per second), several runs per chart. */
export interface TimelineChart {
  title: string;
  yLabel: string;
  /** A system's later runs (same `system`) are dashed. */
  series: Array<{
    label: string;
    system?: string;
    points: Array<[number, number]>;
    facts?: Record<string, string>;
  }>;
  /** Vertical lines at these x (seconds), e.g. when an origin was killed. */
  markers: Array<{ x: number; label: string }>;
}

export interface HtmlReport {
  title: string;
  /** Free text shown under the title (machine, date, method). */
  notes: string[];
  charts: ReportChart[];
  /** Per-second charts (failover scenarios); absent in reports written before they existed. */
  timelines?: TimelineChart[];
}

const DATA_ID = 'legate-bench-data';
const W = 900;
const H = 420;
const M = { left: 70, right: 20, top: 20, bottom: 50 };
/** Plotted x range: 0 (p0) … 5 (p99.999), then the maximum at 5.5. */
const X_MAX = 5.5;
const X_TICKS: Array<[number, string]> = [
  [0, '0%'],
  [1, '90%'],
  [2, '99%'],
  [3, '99.9%'],
  [4, '99.99%'],
  [5, '99.999%'],
  [5.5, 'max'],
];
const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
];

/** One colour per series key for the whole report (see the module comment). */
class Palette {
  private readonly byKey = new Map<string, string>();

  constructor(report: HtmlReport) {
    const all = [
      ...report.charts.flatMap((c) => c.series),
      ...(report.timelines ?? []).flatMap((t) => t.series),
    ];
    for (const s of all) this.color(s);
  }

  color(s: { label: string; system?: string }): string {
    const key = s.system ?? s.label;
    let c = this.byKey.get(key);
    if (c === undefined) {
      c = COLORS[this.byKey.size % COLORS.length]!;
      this.byKey.set(key, c);
    }
    return c;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Position of a percentile on the log axis. */
export function percentileX(p: number): number {
  if (p >= 100) return X_MAX;
  return Math.min(5, -Math.log10(1 - p / 100));
}

/** A round upper bound for the y axis (1, 2 or 5 × 10^k). */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const pow = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * pow >= v) return m * pow;
  return 10 * pow;
}

/** Six horizontal grid lines with their labels, 0 to `yMax`, for a plot `pw` wide. */
function yGridLines(yMax: number, sy: (v: number) => number, pw: number): string[] {
  const out: string[] = [];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    out.push(
      `<line x1="${M.left}" y1="${sy(v)}" x2="${M.left + pw}" y2="${sy(v)}" stroke="#eee"/>`,
      `<text x="${M.left - 6}" y="${sy(v) + 4}" text-anchor="end">${Number(v.toPrecision(3))}</text>`,
    );
  }
  return out;
}

function renderChart(chart: ReportChart, palette: Palette): string {
  const curves = chart.series.flatMap((s) => [s.percentiles, ...(s.otherRuns ?? [])]);
  const yMax = niceCeil(Math.max(0, ...curves.flatMap((c) => c.map(([, ms]) => ms))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + (x / X_MAX) * pw;
  const sy = (ms: number): number => M.top + ph - (ms / yMax) * ph;
  const parts: string[] = [];
  for (const [x, label] of X_TICKS) {
    parts.push(
      `<line x1="${sx(x)}" y1="${M.top}" x2="${sx(x)}" y2="${M.top + ph}" stroke="#ddd"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 18}" text-anchor="middle">${label}</text>`,
    );
  }
  parts.push(...yGridLines(yMax, sy, pw));
  parts.push(
    `<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">percentile (log scale)</text>`,
    `<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">latency (ms)</text>`,
  );
  const line = (curve: Array<[number, number]>): string =>
    curve.map(([p, ms]) => `${sx(percentileX(p)).toFixed(1)},${sy(ms).toFixed(1)}`).join(' ');
  chart.series.forEach((s, i) => {
    const color = palette.color(s);
    for (const other of s.otherRuns ?? [])
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1" stroke-opacity="0.45" points="${line(other)}"/>`,
      );
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${line(s.percentiles)}"/>`,
    );
    parts.push(...legend(i, s.label, color));
  });
  return section(chart.title, parts, chart.series, chart.caption);
}

/** The chart's frame, its SVG parts, and the table of each series' facts under it. */
function section(
  title: string,
  parts: string[],
  series: ReadonlyArray<{ label: string; facts?: Record<string, string> }>,
  caption?: string,
): string {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const factKeys = [...new Set(series.flatMap((s) => Object.keys(s.facts ?? {})))];
  const table =
    factKeys.length === 0
      ? ''
      : `<table><tr><th>run</th>${factKeys.map((k) => `<th>${escapeHtml(k)}</th>`).join('')}</tr>` +
        series
          .map(
            (s) =>
              `<tr><td>${escapeHtml(s.label)}</td>${factKeys.map((k) => `<td>${escapeHtml(s.facts?.[k] ?? '')}</td>`).join('')}</tr>`,
          )
          .join('') +
        '</table>';
  return (
    `<section><h2>${escapeHtml(title)}</h2>` +
    (caption === undefined ? '' : `<p class="caption">${escapeHtml(caption)}</p>`) +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">` +
    `<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>${parts.join('')}</svg>` +
    `${table}</section>`
  );
}

/** Legend entry `i` (top left, one line each), its sample drawn like the series (`dash`: its dasharray attribute). */
function legend(i: number, label: string, color: string, dash = ''): string[] {
  const ly = M.top + 14 + i * 16;
  return [
    `<line x1="${M.left + 10}" y1="${ly - 7}" x2="${M.left + 24}" y2="${ly - 7}" stroke="${color}" stroke-width="3"${dash}/>`,
    `<text x="${M.left + 28}" y="${ly - 3}">${escapeHtml(label)}</text>`,
  ];
}

/** A per-second chart: linear seconds on x, one step line per run, markers for the events. */
function renderTimeline(chart: TimelineChart, palette: Palette): string {
  const xMax = Math.max(1, ...chart.series.flatMap((s) => s.points.map(([x]) => x + 1)));
  const yMax = niceCeil(Math.max(0, ...chart.series.flatMap((s) => s.points.map(([, y]) => y))));
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (x: number): number => M.left + (x / xMax) * pw;
  const sy = (y: number): number => M.top + ph - (y / yMax) * ph;
  const parts: string[] = [];
  const step = Math.max(1, Math.ceil(xMax / 20));
  for (let x = 0; x <= xMax; x += step) {
    parts.push(
      `<line x1="${sx(x)}" y1="${M.top}" x2="${sx(x)}" y2="${M.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(x)}" y="${M.top + ph + 18}" text-anchor="middle">${x}</text>`,
    );
  }
  parts.push(...yGridLines(yMax, sy, pw));
  for (const m of chart.markers) {
    parts.push(
      `<line x1="${sx(m.x)}" y1="${M.top}" x2="${sx(m.x)}" y2="${M.top + ph}" stroke="#555" stroke-dasharray="4 3"/>`,
      `<text x="${sx(m.x) + 4}" y="${M.top + ph - 6}">${escapeHtml(m.label)}</text>`,
    );
  }
  parts.push(
    `<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle">seconds into the run</text>`,
    `<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">${escapeHtml(chart.yLabel)}</text>`,
  );
  const seen = new Map<string, number>();
  chart.series.forEach((s, i) => {
    const color = palette.color(s);
    const key = s.system ?? s.label;
    const nth = seen.get(key) ?? 0;
    seen.set(key, nth + 1);
    const dash = nth === 0 ? '' : ` stroke-dasharray="${2 + 2 * nth} 3"`;
    // Each value holds for its whole second: a step line.
    const points = s.points
      .flatMap(([x, y]) => [
        `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`,
        `${sx(x + 1).toFixed(1)},${sy(y).toFixed(1)}`,
      ])
      .join(' ');
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points}"/>`);
    parts.push(...legend(i, s.label, color, dash));
  });
  return section(chart.title, parts, chart.series);
}

export function renderHtmlReport(report: HtmlReport): string {
  const data = JSON.stringify(report).replace(/</g, '\\u003c');
  const palette = new Palette(report);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(report.title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 24px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
section{margin-bottom:32px}.caption{color:#555;margin:0 0 8px}</style></head><body>
<h1>${escapeHtml(report.title)}</h1>
${report.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
${report.charts.map((c) => renderChart(c, palette)).join('\n')}
${(report.timelines ?? []).map((t) => renderTimeline(t, palette)).join('\n')}
<script type="application/json" id="${DATA_ID}">${data}</script>
</body></html>
`;
}

/** The report embedded in a file this module wrote, or null (missing file, or not ours). */
export function readHtmlReport(path: string): HtmlReport | null {
  if (!existsSync(path)) return null;
  const m = new RegExp(`<script type="application/json" id="${DATA_ID}">([\\s\\S]*?)</script>`).exec(
    readFileSync(path, 'utf8'),
  );
  if (!m) return null;
  try {
    return JSON.parse(m[1]!) as HtmlReport;
  } catch {
    return null;
  }
}

/** Adds `series` to the first chart of the report at `path` (creating it), and rewrites the file. */
export function addSeriesToHtmlFile(
  path: string,
  series: PlotSeries,
  title = 'legate bench: latency by percentile',
): void {
  const report = readHtmlReport(path) ?? { title, notes: [], charts: [] };
  if (report.charts.length === 0) report.charts.push({ title: 'latency by percentile', series: [] });
  report.charts[0]!.series.push(series);
  writeFileSync(path, renderHtmlReport(report));
}
