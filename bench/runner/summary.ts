/**
 * Turns run records into the suite's report: per scenario, variant and system the median over the
 * repetitions (throughput, latency percentiles, CPU), the spread, and the ratio to the scenario's
 * baseline; then as Markdown tables and as the HTML latency report (one chart per scenario variant:
 * each system's runs, the one with the median p99 in bold, so the bold curve shows the p99 the
 * table shows; in constant-rate variants every run has the same req/s, so "the median run by req/s"
 * would be an arbitrary one).
 */
import type { HtmlReport, PlotSeries, TimelineChart } from '../../src/bench/report-html';
import type { RunRecord, ScenarioOutcome } from './execute';
import type { FailoverSummary } from './failover-report';

export interface Cell {
  scenario: string;
  variant: string;
  system: string;
  runs: number;
  failedRuns: number;
  unit: RunRecord['unit'];
  throughput: number;
  min: number;
  max: number;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  errors: number;
  systemCpuPercent: number | null;
  systemCpuUsPerRequest: number | null;
  systemUserUsPerRequest: number | null;
  systemKernelUsPerRequest: number | null;
  /** Median throughput ÷ the baseline's (constant-rate variants: baseline p99 ÷ this p99 would mislead, so both are given). */
  ratioToBaseline: number | null;
  p99RatioToBaseline: number | null;
  generatorBehind: boolean;
  /**
   * The run whose p99 is the median p99 (with an even number of runs, the lower of the two middle
   * ones): its latency curve is drawn bold. Null when no run has a latency curve.
   */
  plottedRun: RunRecord | null;
  /** The other successful runs with a latency curve, drawn thin. */
  otherRuns: RunRecord[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function medianOrNull(values: Array<number | null | undefined>): number | null {
  const v = values.filter((x): x is number => typeof x === 'number');
  return v.length === 0 ? null : median(v);
}

export function summarizeOutcome(outcome: ScenarioOutcome): Cell[] {
  const sc = outcome.scenario;
  const cells: Cell[] = [];
  const variants = [...new Set(outcome.records.map((r) => r.variant))];
  for (const variant of variants) {
    const group: Cell[] = [];
    for (const system of sc.systems) {
      const all = outcome.records.filter((r) => r.variant === variant && r.system === system);
      if (all.length === 0) continue;
      const ok = all.filter((r) => r.ok);
      const curves = ok.filter((r) => r.percentiles !== undefined && r.latency !== undefined);
      const byP99 = [...curves].sort((a, b) => a.latency!.p99 - b.latency!.p99);
      const plottedRun = byP99[Math.floor((byP99.length - 1) / 2)] ?? null;
      const tp = ok.map((r) => r.throughput);
      group.push({
        scenario: sc.name,
        variant,
        system,
        runs: all.length,
        failedRuns: all.length - ok.length,
        unit: all[0]!.unit,
        throughput: ok.length === 0 ? 0 : median(tp),
        min: ok.length === 0 ? 0 : Math.min(...tp),
        max: ok.length === 0 ? 0 : Math.max(...tp),
        p50: medianOrNull(ok.map((r) => r.latency?.p50)),
        p99: medianOrNull(ok.map((r) => r.latency?.p99)),
        p999: medianOrNull(ok.map((r) => r.latency?.['p99.9'])),
        errors: ok.reduce(
          (n, r) => n + (r.errors ? Object.values(r.errors).reduce((a, b) => a + b, 0) : 0),
          0,
        ),
        systemCpuPercent: medianOrNull(ok.map((r) => r.systemCpuPercent)),
        systemCpuUsPerRequest: medianOrNull(ok.map((r) => r.systemCpuUsPerRequest)),
        systemUserUsPerRequest: medianOrNull(ok.map((r) => r.systemUserUsPerRequest)),
        systemKernelUsPerRequest: medianOrNull(ok.map((r) => r.systemKernelUsPerRequest)),
        ratioToBaseline: null,
        p99RatioToBaseline: null,
        generatorBehind: ok.some((r) => r.generatorBehind === true),
        plottedRun,
        otherRuns: curves.filter((r) => r !== plottedRun),
      });
    }
    const base = group.find((c) => c.system === sc.baseline);
    for (const c of group) {
      if (base !== undefined && base.throughput > 0 && c.runs > c.failedRuns)
        c.ratioToBaseline = c.throughput / base.throughput;
      if (base?.p99 && c.p99 !== null) c.p99RatioToBaseline = c.p99 / base.p99;
    }
    cells.push(...group);
  }
  return cells;
}

const fmt = (v: number | null, digits = 0): string =>
  v === null || Number.isNaN(v)
    ? '–'
    : v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ms = (v: number | null): string =>
  v === null || Number.isNaN(v) ? '–' : v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(2)} ms`;

export function markdownForOutcome(outcome: ScenarioOutcome, cells: Cell[]): string {
  const sc = outcome.scenario;
  const lines = [`### ${sc.name}: ${sc.title}`, ''];
  const unit =
    cells[0]?.unit ?? (sc.kind === 'tcp-bulk' ? 'Gbit/s' : sc.kind === 'idle-memory' ? 'KiB/conn' : 'req/s');
  const digits = unit === 'Gbit/s' ? 1 : unit === 'KiB/conn' ? 2 : 0;
  lines.push(
    `| variant | system | ${unit} (median) | min–max | p50 | p99 | p99.9 | errors | system CPU | µs CPU/req | µs user/req | µs kernel/req | ÷${sc.baseline} | p99 ÷${sc.baseline} |`,
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const c of cells) {
    const failed = c.failedRuns > 0 ? ` (${c.failedRuns}/${c.runs} runs failed)` : '';
    lines.push(
      `| ${c.variant || '–'} | ${c.system}${c.generatorBehind ? ' ⚠ generator behind' : ''} | ${fmt(c.throughput, digits)}${failed} | ` +
        `${fmt(c.min, digits)}–${fmt(c.max, digits)} | ${ms(c.p50)} | ${ms(c.p99)} | ${ms(c.p999)} | ${c.errors} | ` +
        `${c.systemCpuPercent === null ? '–' : fmt(c.systemCpuPercent) + ' %'} | ${fmt(c.systemCpuUsPerRequest, 1)} | ` +
        `${fmt(c.systemUserUsPerRequest, 1)} | ${fmt(c.systemKernelUsPerRequest, 1)} | ` +
        `${fmt(c.ratioToBaseline, 2)} | ${fmt(c.p99RatioToBaseline, 2)} |`,
    );
  }
  if (sc.events.length > 0) lines.push(...failoverMarkdown(outcome));
  const failures = Object.entries(outcome.failures);
  if (failures.length > 0) {
    lines.push('', '**Failed systems:**', '');
    for (const [system, why] of failures) lines.push(`- **${system}**: ${why.split('\n')[0]}`);
  }
  return lines.join('\n') + '\n';
}

const seconds = (v: number | null, none: string): string => (v === null ? none : `${v.toFixed(1)} s`);

/** Runs of an events scenario that have failover figures, in run order. */
function failoverRuns(outcome: ScenarioOutcome): Array<RunRecord & { failover: FailoverSummary }> {
  return outcome.records.filter(
    (r): r is RunRecord & { failover: FailoverSummary } => r.failover !== undefined,
  );
}

/** The failover totals per run, then each run's per-second table. */
function failoverMarkdown(outcome: ScenarioOutcome): string[] {
  const runs = failoverRuns(outcome);
  if (runs.length === 0) return [];
  const f0 = runs[0]!.failover;
  const window = `${f0.killAtS ?? '?'}–${f0.restartAtS ?? 'end'} s`;
  const lines = [
    '',
    `Events: ${outcome.scenario.events.map((e) => `${e.atMs / 1000} s ${e.action} ${e.origin}`).join(', ')}. ` +
      'Errors are what the client saw; latency is from the intended send time (constant rate).',
    '',
    `| system | rep | errors total | errors ${window} | errors stop after the kill | max p99 ${window} | restarted origin serves again after |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of runs) {
    const f = r.failover;
    lines.push(
      `| ${r.system} | ${r.rep} | ${f.errorsTotal} | ${f.errorsDuringOutage} | ${seconds(f.errorsStopAfterS, 'not before the restart')} | ` +
        `${ms(f.maxP99DuringOutage)} | ${seconds(f.restartedTakesTrafficAfterS, 'not within the run')} |`,
    );
  }
  for (const r of runs) {
    const origins = r.failover.seconds[0]?.originRequests.length ?? 0;
    lines.push(
      '',
      `#### ${r.system}, rep ${r.rep}: per second`,
      '',
      `| t (s) | requests | errors | error kinds | p50 | p99 | origin requests (${Array.from({ length: origins }, (_, i) => `o${i}`).join(' / ')}) |`,
      '|---|---|---|---|---|---|---|',
      ...r.failover.seconds.map(
        (s) =>
          `| ${s.t} | ${s.requests} | ${s.errors} | ${s.errorKinds || '–'} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.originRequests.join(' / ')} |`,
      ),
    );
  }
  return lines;
}

/** Two per-second charts for an events scenario: p99, and errors seen by the client. */
function failoverCharts(outcome: ScenarioOutcome): TimelineChart[] {
  const runs = failoverRuns(outcome);
  if (runs.length === 0) return [];
  const sc = outcome.scenario;
  const markers = sc.events.map((e) => ({ x: e.atMs / 1000, label: `${e.action} ${e.origin}` }));
  const label = (r: RunRecord): string => (runs.some((o) => o.rep > 1) ? `${r.system} #${r.rep}` : r.system);
  return [
    {
      title: `${sc.title}: p99 per second (ms)`,
      yLabel: 'p99 (ms)',
      markers,
      series: runs.map((r) => ({
        label: label(r),
        system: r.system,
        points: r.failover.seconds.map((s): [number, number] => [s.t, s.p99]),
        facts: {
          'errors total': String(r.failover.errorsTotal),
          'errors during outage': String(r.failover.errorsDuringOutage),
          'errors stop after': seconds(r.failover.errorsStopAfterS, 'not before restart'),
          'max p99 during outage': ms(r.failover.maxP99DuringOutage),
          'restarted origin serves after': seconds(r.failover.restartedTakesTrafficAfterS, '–'),
        },
      })),
    },
    {
      title: `${sc.title}: errors per second seen by the client`,
      yLabel: 'errors',
      markers,
      series: runs.map((r) => ({
        label: label(r),
        system: r.system,
        points: r.failover.seconds.map((s): [number, number] => [s.t, s.errors]),
      })),
    },
  ];
}

const PLOTTED_RUN_CAPTION =
  "Bold: each system's run with the median p99, the p99 in the table (with an even number of runs the " +
  "table's median is the mean of the two middle runs, and the bold curve is the lower of them). " +
  'Thin: its other runs. Colours follow the system through the whole report.';

export function htmlReportFor(
  title: string,
  notes: string[],
  outcomes: ScenarioOutcome[],
  cells: Cell[],
): HtmlReport {
  const charts: HtmlReport['charts'] = [];
  const timelines: TimelineChart[] = [];
  for (const o of outcomes) {
    if (o.scenario.kind !== 'http') continue;
    timelines.push(...failoverCharts(o));
    const variants = [...new Set(cells.filter((c) => c.scenario === o.scenario.name).map((c) => c.variant))];
    for (const variant of variants) {
      const series: PlotSeries[] = cells
        .filter((c) => c.scenario === o.scenario.name && c.variant === variant && c.plottedRun !== null)
        .map((c) => ({
          label: c.system,
          system: c.system,
          percentiles: c.plottedRun!.percentiles!,
          otherRuns: c.otherRuns.map((r) => r.percentiles!),
          facts: {
            'req/s (median)': fmt(c.throughput),
            p50: ms(c.p50),
            p99: ms(c.p99),
            'p99.9': ms(c.p999),
            errors: String(c.errors),
            'system CPU': c.systemCpuPercent === null ? '–' : `${fmt(c.systemCpuPercent)} %`,
            'µs user/kernel per req': `${fmt(c.systemUserUsPerRequest, 1)} / ${fmt(c.systemKernelUsPerRequest, 1)}`,
            [`÷${o.scenario.baseline}`]: fmt(c.ratioToBaseline, 2),
          },
        }));
      if (series.length > 0)
        charts.push({
          title: `${o.scenario.title}${variant ? ` — ${variant}` : ''}`,
          caption: PLOTTED_RUN_CAPTION,
          series,
        });
    }
    const failed = Object.entries(o.failures);
    if (failed.length > 0)
      notes.push(
        `${o.scenario.name}: failed systems: ${failed.map(([s, w]) => `${s} (${w.split('\n')[0]})`).join('; ')}`,
      );
  }
  return { title, notes, charts, timelines };
}
