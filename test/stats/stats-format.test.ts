import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatsLayout, StatsStore } from '../../src/stats/store';
import { HistogramIntervals } from '../../src/stats/histogram-intervals';
import { renderPrometheus, renderStatsJson, renderStatsText } from '../../src/admin/stats-format';

function setup(): { store: StatsStore; intervals: HistogramIntervals } {
  const l = new StatsLayout();
  l.declareAll('cluster.c1.', ['upstream_rq_total', 'upstream_rq_2xx'], 'counter');
  l.declareAll('cluster.c1.', ['upstream_rq_200', 'upstream_rq_503'], 'counter', true);
  l.declare('listener.127.0.0.1_80.worker_1.downstream_cx_active', 'gauge');
  l.declare('cluster.we"ird.upstream_rq_total', 'counter');
  l.declareHistograms('cluster.c1.', ['upstream_rq_time', 'upstream_cx_connect_ms']);
  const data = l.allocate(2);
  const store = new StatsStore(data, 0);
  const intervals = new HistogramIntervals(store, 0);
  const w = new StatsStore(data, 1);
  w.counter('cluster.c1.upstream_rq_total').add(4);
  w.counter('cluster.c1.upstream_rq_2xx').add(4);
  w.counter('cluster.c1.upstream_rq_200').add(4);
  w.gauge('listener.127.0.0.1_80.worker_1.downstream_cx_active').inc();
  for (const ms of [1, 2, 3, 40]) w.histogram('cluster.c1.upstream_rq_time').record(ms);
  return { store, intervals };
}

const ALL = { filter: null, usedOnly: false };

test('text: sorted name: value lines, hidden-until-used stats, quantile lines and No recorded values', () => {
  const { store, intervals } = setup();
  intervals.flush();
  const text = renderStatsText(store, intervals, ALL);
  assert.match(text, /^cluster\.c1\.upstream_rq_200: 4$/m);
  assert.doesNotMatch(text, /upstream_rq_503/);
  assert.match(text, /^cluster\.c1\.upstream_cx_connect_ms: No recorded values$/m);
  const q = /^cluster\.c1\.upstream_rq_time: (.*)$/m.exec(text)![1]!.split(' ');
  assert.deepEqual(
    q.map((p) => p.slice(0, p.indexOf('('))),
    ['P0', 'P25', 'P50', 'P75', 'P90', 'P95', 'P99', 'P99.5', 'P99.9', 'P100'],
  );
  assert.match(q[0]!, /^P0\(0\.99\d*,0\.99\d*\)$/);
  assert.match(q[9]!, /^P100\(40\.\d+,40\.\d+\)$/);
  intervals.flush();
  assert.match(renderStatsText(store, intervals, ALL), /P0\(nan,0\.99\d*\)/, 'an empty interval prints nan');
  const names = text
    .split('\n')
    .filter((l) => !l.includes(': P0(') && !l.includes('No recorded'))
    .map((l) => l.split(':')[0]);
  assert.deepEqual(names.filter(Boolean), [...names.filter(Boolean)].sort());
  assert.equal(renderStatsText(store, intervals, { filter: /connect_ms/, usedOnly: true }), '');
});

test('JSON: stats then one histograms entry with Envoy quantile names', () => {
  const { store, intervals } = setup();
  interface Quantiles {
    name: string;
    values: { interval: number | null; cumulative: number | null }[];
  }
  const json = renderStatsJson(store, intervals, { filter: /c1/, usedOnly: false }) as {
    stats: { histograms: { supported_quantiles: number[]; computed_quantiles: Quantiles[] } }[];
  };
  const h = json.stats.at(-1)!.histograms;
  assert.deepEqual(h.supported_quantiles, [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100]);
  assert.deepEqual(
    h.computed_quantiles.map((c) => c.name),
    ['cluster.c1.upstream_cx_connect_ms', 'cluster.c1.upstream_rq_time'],
  );
  assert.deepEqual(h.computed_quantiles[0]!.values[0], { interval: null, cumulative: null });
  assert.equal(h.computed_quantiles[1]!.values[0]!.interval, null);
  assert.ok(Math.abs(h.computed_quantiles[1]!.values[9]!.cumulative! - 40) < 1.5);
});

test('Prometheus: tags extracted, label values escaped, histograms with cumulative le buckets', () => {
  const { store } = setup();
  const p = renderPrometheus(store, ALL);
  assert.match(
    p,
    /^envoy_cluster_upstream_rq_xx\{envoy_response_code_class="2",envoy_cluster_name="c1"\} 4$/m,
  );
  assert.match(p, /^envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="c1"\} 4$/m);
  assert.match(
    p,
    /^envoy_listener_downstream_cx_active\{envoy_listener_address="127\.0\.0\.1_80",envoy_worker_id="1"\} 1$/m,
  );
  assert.match(p, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="we\\"ird"\} 0$/m);
  assert.equal(
    p.match(/^# TYPE envoy_cluster_upstream_rq_total counter$/gm)?.length,
    1,
    'one TYPE line per family',
  );
  assert.match(p, /^# TYPE envoy_cluster_upstream_rq_time histogram$/m);
  for (const [le, n] of [
    ['0.5', 0],
    ['1', 1],
    ['5', 3],
    ['25', 3],
    ['50', 4],
    ['+Inf', 4],
  ] as const)
    assert.match(
      p,
      new RegExp(
        `^envoy_cluster_upstream_rq_time_bucket\\{envoy_cluster_name="c1",le="${le.replace('+', '\\+')}"\\} ${n}$`,
        'm',
      ),
    );
  assert.match(p, /^envoy_cluster_upstream_rq_time_sum\{envoy_cluster_name="c1"\} 46$/m);
  assert.match(p, /^envoy_cluster_upstream_rq_time_count\{envoy_cluster_name="c1"\} 4$/m);
  assert.doesNotMatch(renderPrometheus(store, { filter: null, usedOnly: true }), /connect_ms/);
});
