/**
 * The suite's HTML report agrees with its own table: each chart draws every run, the one with the
 * median p99 (the table's p99) in bold, and says so; and a system keeps one colour in every chart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LatencySummary } from '../../src/bench/histogram';
import { renderHtmlReport, type HtmlReport } from '../../src/bench/report-html';
import type { RunRecord, ScenarioOutcome } from '../../bench/runner/execute';
import type { Scenario } from '../../bench/runner/scenario';
import { htmlReportFor, summarizeOutcome } from '../../bench/runner/summary';

function latency(p50: number, p99: number): LatencySummary {
  return {
    p50,
    p75: p50,
    p90: p50,
    p99,
    'p99.9': p99 * 1.5,
    'p99.99': p99 * 2,
    max: p99 * 3,
    mean: p50,
    stdev: 0,
  };
}

/** A constant-rate run: every run of a system has the same req/s, whatever its latency. */
function run(system: string, rep: number, p99: number): RunRecord {
  const l = latency(1, p99);
  return {
    scenario: 'constant',
    variant: '25%',
    system,
    rep,
    ok: true,
    throughput: 5000,
    unit: 'req/s',
    rate: 5000,
    latency: l,
    percentiles: [
      [0, 0.5],
      [50, l.p50],
      [99, l.p99],
      [99.9, l['p99.9']],
      [100, l.max],
    ],
    systemCpuPercent: null,
    systemCpuUsPerRequest: null,
  };
}

function outcome(records: RunRecord[], systems: string[]): ScenarioOutcome {
  const scenario = {
    name: 'constant',
    title: 'constant rate',
    kind: 'http',
    systems,
    baseline: systems[0]!,
    events: [],
  };
  return { scenario: scenario as unknown as Scenario, records, failures: {} };
}

test("constant rate: the bold curve is the run with the table's median p99, every run is drawn, the chart says so", () => {
  // Equal req/s in every run: the middle run by req/s (rep 2 here, p99 57 ms) is an arbitrary one.
  const o = outcome(
    [run('nginx-1w', 1, 4.24), run('nginx-1w', 2, 57), run('nginx-1w', 3, 3.1)],
    ['nginx-1w'],
  );
  const cells = summarizeOutcome(o);
  assert.equal(cells[0]!.p99, 4.24);
  const report = htmlReportFor('t', [], [o], cells);
  const chart = report.charts[0]!;
  const series = chart.series[0]!;
  const boldP99 = series.percentiles.find(([p]) => p === 99)![1];
  assert.equal(boldP99, 4.24, "the bold curve's p99 is the table's p99");
  assert.equal(series.facts?.p99, '4.24 ms');
  assert.deepEqual(
    series.otherRuns!.map((c) => c.find(([p]) => p === 99)![1]).sort((a, b) => a - b),
    [3.1, 57],
    'the other runs are drawn too',
  );
  assert.match(chart.caption ?? '', /median p99/);
  const html = renderHtmlReport(report);
  assert.equal((html.match(/<polyline /g) ?? []).length, 3);
  assert.match(html, /Bold: each system&#39;s run with the median p99/);
});

test('an even number of runs: the bold curve is the lower of the two middle runs by p99', () => {
  const o = outcome(
    [run('legate', 1, 9), run('legate', 2, 2), run('legate', 3, 5), run('legate', 4, 7)],
    ['legate'],
  );
  const series = htmlReportFor('t', [], [o], summarizeOutcome(o)).charts[0]!.series[0]!;
  assert.equal(series.percentiles.find(([p]) => p === 99)![1], 5);
  assert.equal(series.otherRuns!.length, 3);
});

/** label → colour of every legend entry, per chart section. */
function legendColors(html: string): Map<string, string>[] {
  return html
    .split('<section>')
    .slice(1)
    .map(
      (section) =>
        new Map(
          [...section.matchAll(/<line [^>]*stroke="(#[0-9a-f]{6})"[^>]*\/><text [^>]*>([^<]+)<\/text>/g)].map(
            (m): [string, string] => [m[2]!, m[1]!],
          ),
        ),
    );
}

test('one colour per system across every chart, whatever the order and set of systems in each', () => {
  const curve: Array<[number, number]> = [
    [0, 1],
    [99, 2],
  ];
  const chart = (systems: string[]) => ({
    title: systems.join(' '),
    series: systems.map((s) => ({ label: s, system: s, percentiles: curve })),
  });
  const report: HtmlReport = {
    title: 'r',
    notes: [],
    charts: [
      chart(['legate', 'nginx', 'haproxy']),
      chart(['haproxy', 'legate']),
      chart(['nginx', 'haproxy', 'legate-uws']),
    ],
    timelines: [
      {
        title: 'p99 per second',
        yLabel: 'ms',
        markers: [],
        series: [
          { label: 'haproxy #1', system: 'haproxy', points: [[0, 1]] },
          { label: 'haproxy #2', system: 'haproxy', points: [[0, 2]] },
          { label: 'legate #1', system: 'legate', points: [[0, 1]] },
        ],
      },
    ],
  };
  const sections = legendColors(renderHtmlReport(report));
  assert.equal(sections.length, 4);
  const colorOf = new Map<string, string>();
  for (const section of sections) {
    for (const [label, color] of section) {
      const system = label.replace(/ #\d+$/, '');
      assert.equal(colorOf.get(system) ?? color, color, `${system} changes colour`);
      colorOf.set(system, color);
    }
  }
  assert.equal(new Set(colorOf.values()).size, colorOf.size, 'different systems, different colours');
  assert.equal(colorOf.size, 4);
});
