/** The primary's view of "has this cluster had traffic", from every worker's stats row. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StatsLayout, StatsStore } from '../../src/stats/store';
import { trafficSeen } from '../../src/upstream/health/health-checks';

test("a worker's first upstream connection or byte counts as traffic, and stays counted after /reset_counters", () => {
  const layout = new StatsLayout();
  for (const c of ['a', 'b'])
    layout.declareAll(
      `cluster.${c}.`,
      ['upstream_cx_total', 'upstream_cx_tx_bytes_total', 'upstream_cx_rx_bytes_total'],
      'counter',
    );
  const data = layout.allocate(3);
  const primary = new StatsStore(data, 0);
  const worker2 = new StatsStore(data, 2);
  const a = trafficSeen(primary, 'a');
  const b = trafficSeen(primary, 'b');
  assert.equal(a(), false);
  worker2.counter('cluster.a.upstream_cx_total').inc();
  assert.equal(a(), true);
  assert.equal(b(), false, 'per cluster');
  worker2.counter('cluster.b.upstream_cx_rx_bytes_total').add(10);
  assert.equal(b(), true);
  primary.resetCounters();
  assert.equal(a(), true, "latched, like Envoy's used() flag");
});
