/**
 * Renders the shared stats tables in Envoy's admin formats:
 * - text: `name: value` lines (sorted), then histograms as
 *   `name: P0(interval,cumulative) P25(…) … P100(…)` or `name: No recorded values`;
 * - JSON: `{"stats":[{"name","value"}…, {"histograms":{"supported_quantiles":[…],
 *   "computed_quantiles":[{"name","values":[{"interval","cumulative"}…]}]}}]}`;
 * - Prometheus exposition 0.0.4 with Envoy's tag extraction for the common scopes (cluster, http,
 *   listener, worker, response code and code class), histograms as Prometheus histograms with
 *   Envoy's default buckets.
 * "interval" is the last completed flush interval (HistogramIntervals), "cumulative" since start.
 */
import type { StatsStore } from '../stats/store';
import type { HistogramIntervals } from '../stats/histogram-intervals';
import {
  DEFAULT_PROMETHEUS_BUCKETS_MS,
  SUPPORTED_QUANTILES,
  type HistogramSnapshot,
} from '../stats/histogram';

export interface StatsQuery {
  filter: RegExp | null;
  usedOnly: boolean;
}

interface Row {
  name: string;
  value: number;
  kind: 'counter' | 'gauge';
}

interface HistogramRow {
  name: string;
  cumulative: HistogramSnapshot;
  interval: HistogramSnapshot;
}

function rows(stats: StatsStore, q: StatsQuery): Row[] {
  const out: Row[] = [];
  const { names, kinds, hiddenUntilUsed } = stats;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (q.filter !== null && !q.filter.test(name)) continue;
    const value = stats.read(i);
    if (value === 0 && (q.usedOnly || hiddenUntilUsed[i])) continue;
    out.push({ name, value, kind: kinds[i]! });
  }
  return out.sort(byName);
}

function histogramRows(stats: StatsStore, intervals: HistogramIntervals, q: StatsQuery): HistogramRow[] {
  const out: HistogramRow[] = [];
  stats.histograms.forEach((name, h) => {
    if (q.filter !== null && !q.filter.test(name)) return;
    const cumulative = stats.readHistogram(h);
    if (q.usedOnly && cumulative.count === 0) return;
    out.push({ name, cumulative, interval: intervals.interval(h) });
  });
  return out.sort(byName);
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A quantile as Envoy prints it: `nan` when empty, otherwise up to 6 significant digits. */
function quantileText(v: number): string {
  return Number.isNaN(v) ? 'nan' : String(Number(v.toPrecision(6)));
}

function quantileJson(v: number): number | null {
  return Number.isNaN(v) ? null : Number(v.toPrecision(6));
}

export function renderStatsText(stats: StatsStore, intervals: HistogramIntervals, q: StatsQuery): string {
  let out = '';
  for (const r of rows(stats, q)) out += `${r.name}: ${r.value}\n`;
  for (const h of histogramRows(stats, intervals, q)) {
    if (h.cumulative.count === 0) {
      out += `${h.name}: No recorded values\n`;
      continue;
    }
    const parts = SUPPORTED_QUANTILES.map(
      (p) => `P${p * 100}(${quantileText(h.interval.quantile(p))},${quantileText(h.cumulative.quantile(p))})`,
    );
    out += `${h.name}: ${parts.join(' ')}\n`;
  }
  return out;
}

export function renderStatsJson(stats: StatsStore, intervals: HistogramIntervals, q: StatsQuery): unknown {
  const entries: unknown[] = rows(stats, q).map((r) => ({ name: r.name, value: r.value }));
  const histograms = histogramRows(stats, intervals, q);
  if (histograms.length > 0) {
    entries.push({
      histograms: {
        supported_quantiles: SUPPORTED_QUANTILES.map((p) => p * 100),
        computed_quantiles: histograms.map((h) => ({
          name: h.name,
          values: SUPPORTED_QUANTILES.map((p) => ({
            interval: quantileJson(h.interval.quantile(p)),
            cumulative: quantileJson(h.cumulative.quantile(p)),
          })),
        })),
      },
    });
  }
  return { stats: entries };
}

// ------------------------------------------------------------------ Prometheus

/** Envoy's default tag extractors for the scopes Legate produces (well_known_names.cc). */
const SCOPE_TAGS: { re: RegExp; tag: string }[] = [
  { re: /^cluster\.((.+?)\.)/, tag: 'envoy_cluster_name' },
  { re: /^http\.((.*?)\.)/, tag: 'envoy_http_conn_manager_prefix' },
  { re: /^listener\.((\d+\.\d+\.\d+\.\d+_\d+|[^.]+)\.)/, tag: 'envoy_listener_address' },
];
const WORKER_RE = /(^|\.)worker_(\d+)\./;
const CODE_CLASS_RE = /_([1-5])xx$/;
const CODE_RE = /_rq_(\d{3})$/;

/** A stat name split into Prometheus metric name and labels, Envoy's way. */
function prometheusSeries(statName: string): { metric: string; labels: string[] } {
  let name = statName;
  const labels: string[] = [];
  for (const rule of SCOPE_TAGS) {
    const m = rule.re.exec(name);
    if (m === null) continue;
    labels.push(label(rule.tag, m[2]!));
    name = name.slice(0, m.index) + name.slice(m.index).replace(m[1]!, '');
    break;
  }
  const w = WORKER_RE.exec(name);
  if (w !== null) {
    labels.push(label('envoy_worker_id', w[2]!));
    name = name.replace(`worker_${w[2]}.`, '');
  }
  const c = CODE_CLASS_RE.exec(name);
  if (c !== null) {
    labels.unshift(label('envoy_response_code_class', c[1]!));
    name = name.replace(CODE_CLASS_RE, '_xx');
  }
  const code = CODE_RE.exec(name);
  if (code !== null) {
    labels.unshift(label('envoy_response_code', code[1]!));
    name = name.replace(CODE_RE, '_rq');
  }
  return { metric: 'envoy_' + name.replace(/[^a-zA-Z0-9_]/g, '_'), labels };
}

function label(name: string, value: string): string {
  return `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function braces(labels: readonly string[]): string {
  return labels.length === 0 ? '' : `{${labels.join(',')}}`;
}

export function renderPrometheus(stats: StatsStore, q: StatsQuery): string {
  const families = new Map<string, { kind: string; samples: string[] }>();
  const family = (metric: string, kind: string): string[] => {
    let fam = families.get(metric);
    if (fam === undefined) {
      fam = { kind, samples: [] };
      families.set(metric, fam);
    }
    return fam.samples;
  };
  for (const r of rows(stats, q)) {
    const { metric, labels } = prometheusSeries(r.name);
    family(metric, r.kind).push(`${metric}${braces(labels)} ${r.value}`);
  }
  for (const [h, name] of stats.histograms.entries()) {
    if (q.filter !== null && !q.filter.test(name)) continue;
    const snap = stats.readHistogram(h);
    if (q.usedOnly && snap.count === 0) continue;
    const { metric, labels } = prometheusSeries(name);
    const samples = family(metric, 'histogram');
    const counts = snap.cumulativeAt(DEFAULT_PROMETHEUS_BUCKETS_MS);
    DEFAULT_PROMETHEUS_BUCKETS_MS.forEach((le, i) =>
      samples.push(`${metric}_bucket${braces([...labels, `le="${le}"`])} ${counts[i]}`),
    );
    samples.push(
      `${metric}_bucket${braces([...labels, 'le="+Inf"'])} ${snap.count}`,
      `${metric}_sum${braces(labels)} ${Number(snap.sumMs.toPrecision(12))}`,
      `${metric}_count${braces(labels)} ${snap.count}`,
    );
  }
  let out = '';
  for (const [metric, fam] of families) out += `# TYPE ${metric} ${fam.kind}\n${fam.samples.join('\n')}\n`;
  return out;
}
