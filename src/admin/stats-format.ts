/**
 * Renders the shared stats table in Envoy's admin formats: text (`name: value`), JSON
 * (`{"stats":[{"name","value"}]}`) and Prometheus exposition 0.0.4 with Envoy's tag extraction
 * for the common scopes (cluster, http, listener).
 */
import type { StatsStore } from '../stats/store';

interface Row {
  name: string;
  value: number;
  kind: 'counter' | 'gauge';
}

function rows(stats: StatsStore, filter: RegExp | null, usedOnly: boolean): Row[] {
  const out: Row[] = [];
  const { names, kinds } = stats.data;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (filter !== null && !filter.test(name)) continue;
    const value = stats.read(i);
    if (usedOnly && value === 0) continue;
    out.push({ name, value, kind: kinds[i]! });
  }
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

export function renderStatsText(stats: StatsStore, filter: RegExp | null, usedOnly: boolean): string {
  return rows(stats, filter, usedOnly)
    .map((r) => `${r.name}: ${r.value}\n`)
    .join('');
}

export function renderStatsJson(stats: StatsStore, filter: RegExp | null, usedOnly: boolean): unknown {
  return { stats: rows(stats, filter, usedOnly).map((r) => ({ name: r.name, value: r.value })) };
}

/** Envoy's default tag extractors for the scopes Legate produces. */
const TAG_RULES: { re: RegExp; tag: string }[] = [
  { re: /^cluster\.((.+?)\.)/, tag: 'envoy_cluster_name' },
  { re: /^http\.((.*?)\.)/, tag: 'envoy_http_conn_manager_prefix' },
];
const LISTENER_RE = /^listener\.((\d+\.\d+\.\d+\.\d+_\d+|[^.]+)\.)/;
const WORKER_RE = /^(.*)\.?worker_(\d+)\./;
const CODE_CLASS_RE = /_([1-5])xx$/;

export function renderPrometheus(stats: StatsStore, filter: RegExp | null, usedOnly: boolean): string {
  const families = new Map<string, { kind: string; samples: string[] }>();
  for (const r of rows(stats, filter, usedOnly)) {
    let name = r.name;
    const labels: string[] = [];
    const rule = name.startsWith('listener.')
      ? { re: LISTENER_RE, tag: 'envoy_listener_address' }
      : TAG_RULES.find((t) => t.re.test(name));
    if (rule) {
      const m = rule.re.exec(name);
      if (m) {
        labels.push(`${rule.tag}="${m[2]}"`);
        name = name.slice(0, m.index) + name.slice(m.index).replace(m[1]!, '');
      }
    }
    const w = WORKER_RE.exec(name);
    if (w) {
      labels.push(`envoy_worker_id="${w[2]}"`);
      name = name.replace(`worker_${w[2]}.`, '');
    }
    const c = CODE_CLASS_RE.exec(name);
    if (c) {
      labels.unshift(`envoy_response_code_class="${c[1]}"`);
      name = name.replace(CODE_CLASS_RE, '_xx');
    }
    const metric = 'envoy_' + name.replace(/[^a-zA-Z0-9_]/g, '_');
    let fam = families.get(metric);
    if (fam === undefined) {
      fam = { kind: r.kind, samples: [] };
      families.set(metric, fam);
    }
    fam.samples.push(`${metric}${labels.length ? `{${labels.join(',')}}` : ''} ${r.value}`);
  }
  let out = '';
  for (const [metric, fam] of families) out += `# TYPE ${metric} ${fam.kind}\n${fam.samples.join('\n')}\n`;
  return out;
}
