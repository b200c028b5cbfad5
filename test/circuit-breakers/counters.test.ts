/**
 * The circuit-breaker counters: limits and overflow stats per resource, the retry budget, what a
 * dead worker held given back, the gauges the primary publishes, and limits that hold across two
 * worker threads racing on the same table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CircuitBreakerThresholds, ClusterConfig } from '../../src/config/bootstrap';
import { defaultThresholds } from '../../src/config/circuit-breakers';
import { CircuitBreakerTable, Resource } from '../../src/upstream/circuit-breakers';
import { CircuitBreakerGauges, declareCircuitBreakerStats } from '../../src/upstream/circuit-breaker-gauges';
import { StatsLayout, StatsStore } from '../../src/stats/store';
import { clusterConfig, withTimeout } from '../upstream/helpers';

function cluster(
  name: string,
  t: Partial<CircuitBreakerThresholds>,
  high: Partial<CircuitBreakerThresholds> = {},
): ClusterConfig {
  return clusterConfig({
    name,
    circuitBreakers: [
      { ...defaultThresholds(), ...t },
      { ...defaultThresholds(), ...high },
    ],
  });
}

/** Overflow counters by name, as plain numbers. */
function counting(): { counts: Map<string, number>; bind: (name: string) => { inc(): void } } {
  const counts = new Map<string, number>();
  return {
    counts,
    bind: (name) => ({ inc: () => counts.set(name, (counts.get(name) ?? 0) + 1) }),
  };
}

test('each resource admits up to its limit, counts Envoy’s overflow stat beyond it, and frees on release', () => {
  const c = cluster('web', { maxRequests: 2, maxPendingRequests: 1, maxRetries: 1, maxConnectionPools: 1 });
  const { counts, bind } = counting();
  const b = CircuitBreakerTable.allocate([c], 1).breaker(c, 0, 0, bind);

  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.tryStartRequest(), false);
  assert.equal(b.tryStartPending(), true);
  assert.equal(b.tryStartPending(), false);
  // Envoy counts both max_requests and max_pending_requests refusals as upstream_rq_pending_overflow.
  assert.equal(counts.get('cluster.web.upstream_rq_pending_overflow'), 2);
  assert.equal(b.tryStartRetry(), true);
  assert.equal(b.tryStartRetry(), false);
  assert.equal(counts.get('cluster.web.upstream_rq_retry_overflow'), 1);
  assert.equal(b.tryCreatePool(), true);
  assert.equal(b.tryCreatePool(), false);
  assert.equal(counts.get('cluster.web.upstream_cx_pool_overflow'), 1);

  b.endRequest();
  assert.equal(b.count(Resource.Requests), 1);
  assert.equal(b.tryStartRequest(), true);
  b.endPending();
  b.endRetry();
  b.poolRemoved();
  assert.deepEqual(
    [b.count(Resource.PendingRequests), b.count(Resource.Retries), b.count(Resource.ConnectionPools)],
    [0, 0, 0],
  );
});

test('max_connections refuses a pool that has connections, but lets an empty pool open one', () => {
  const c = cluster('web', { maxConnections: 1 });
  const { counts, bind } = counting();
  const b = CircuitBreakerTable.allocate([c], 1).breaker(c, 0, 0, bind);
  assert.equal(b.tryOpenConnection(false), true);
  assert.equal(b.tryOpenConnection(false), false);
  assert.equal(b.tryOpenConnection(true), true, 'a pool with no connection always gets one');
  assert.equal(b.count(Resource.Connections), 2);
  assert.equal(counts.get('cluster.web.upstream_cx_overflow'), 2);
  b.connectionClosed();
  b.connectionClosed();
  assert.equal(b.count(Resource.Connections), 0);
});

test('a retry budget allows budget_percent of active + pending requests, never fewer than min_retry_concurrency', () => {
  const c = cluster('web', { maxRetries: 100, retryBudget: { budgetPercent: 25, minRetryConcurrency: 2 } });
  const b = CircuitBreakerTable.allocate([c], 1).breaker(c, 0, 0);
  assert.equal(b.limit(Resource.Retries), 2, 'idle: the minimum');
  for (let i = 0; i < 12; i++) b.tryStartRequest();
  for (let i = 0; i < 4; i++) b.tryStartPending();
  assert.equal(b.limit(Resource.Retries), 4, '25% of 16');
  for (let i = 0; i < 4; i++) assert.equal(b.tryStartRetry(), true);
  assert.equal(b.tryStartRetry(), false, 'max_retries (100) does not apply under a budget');
  for (let i = 0; i < 8; i++) b.endRequest();
  assert.equal(b.limit(Resource.Retries), 2, '25% of 8');
});

test('priorities and clusters have separate counters; reclaimWorker gives back only what the dead worker held', () => {
  const a = cluster('a', { maxRequests: 3 });
  const z = cluster('z', { maxRequests: 3 });
  const table = CircuitBreakerTable.allocate([a, z], 2);
  const w0 = table.breaker(a, 0, 0);
  const w1 = table.breaker(a, 0, 1);
  const w1high = table.breaker(a, 1, 1);
  const w1z = table.breaker(z, 0, 1);
  assert.equal(w0.tryStartRequest(), true);
  assert.equal(w1.tryStartRequest(), true);
  assert.equal(w1.tryStartRequest(), true);
  assert.equal(w0.tryStartRequest(), false, 'the limit is shared by both workers');
  assert.equal(w1high.tryStartRequest(), true, 'HIGH has its own count');
  assert.equal(w1z.tryStartRequest(), true, 'another cluster has its own count');
  assert.equal(w1.tryOpenConnection(false), true);

  table.reclaimWorker(1);
  assert.equal(w0.count(Resource.Requests), 1, "worker 0's request is still counted");
  assert.equal(w0.count(Resource.Connections), 0);
  assert.equal(w1high.count(Resource.Requests), 0);
  assert.equal(w1z.count(Resource.Requests), 0);
  assert.equal(w0.tryStartRequest(), true);
  w0.endRequest();
  w0.endRequest();
  assert.equal(w0.count(Resource.Requests), 0);
});

test('the primary publishes _open and (with track_remaining) remaining_* gauges per priority', () => {
  const c = cluster('web', { maxRequests: 2, maxConnections: 4, trackRemaining: true }, {});
  const layout = new StatsLayout();
  declareCircuitBreakerStats(layout, [c]);
  assert.ok(layout.names.includes('cluster.web.circuit_breakers.high.rq_open'));
  assert.ok(!layout.names.includes('cluster.web.circuit_breakers.high.remaining_rq'), 'HIGH does not track');
  const stats = new StatsStore(layout.allocate(2), 0);
  const value = (name: string): number => stats.read(layout.names.indexOf(name));
  const table = CircuitBreakerTable.allocate([c], 1);
  const gauges = new CircuitBreakerGauges(table, [c], stats);
  const b = table.breaker(c, 0, 0);
  const p = 'cluster.web.circuit_breakers.default.';

  gauges.refresh();
  assert.deepEqual(
    [
      value(p + 'rq_open'),
      value(p + 'remaining_rq'),
      value(p + 'remaining_cx'),
      value(p + 'remaining_retries'),
    ],
    [0, 2, 4, 3],
  );
  b.tryStartRequest();
  b.tryStartRequest();
  b.tryOpenConnection(false);
  gauges.refresh();
  assert.deepEqual(
    [value(p + 'rq_open'), value(p + 'remaining_rq'), value(p + 'cx_open'), value(p + 'remaining_cx')],
    [1, 0, 0, 3],
  );
  b.endRequest();
  gauges.refresh();
  assert.deepEqual([value(p + 'rq_open'), value(p + 'remaining_rq')], [0, 1]);
});

/**
 * Runs in each worker thread: takes up to 3 requests, releases them, and again, as fast as it can.
 * One thread alone never reaches max_requests (5), so any refusal means the threads contended.
 */
const RACER = `
const { parentPort, workerData } = require('node:worker_threads');
const { CircuitBreakerTable } = require(workerData.modulePath);
const table = CircuitBreakerTable.fromShared(workerData.shared);
const breaker = table.breaker(workerData.config, 0, workerData.index);
const inFlight = new Int32Array(workerData.probe);
// Start together: a thread that finished before the other started would prove nothing.
Atomics.add(inFlight, 1, 1);
while (Atomics.load(inFlight, 1) < 2) Atomics.wait(inFlight, 1, Atomics.load(inFlight, 1), 1);
let admitted = 0, refused = 0, maxSeen = 0;
const held = [];
for (let i = 0; i < workerData.iterations; i++) {
  if ((i & 3) !== 3 && breaker.tryStartRequest()) {
    admitted++;
    const now = Math.max(Atomics.add(inFlight, 0, 1) + 1, breaker.count(3 /* Requests */));
    if (now > maxSeen) maxSeen = now;
    held.push(i);
  } else if ((i & 3) !== 3) {
    refused++;
  } else {
    while (held.length > 0) { held.pop(); Atomics.sub(inFlight, 0, 1); breaker.endRequest(); }
  }
}
while (held.length > 0) { held.pop(); Atomics.sub(inFlight, 0, 1); breaker.endRequest(); }
parentPort.postMessage({ admitted, refused, maxSeen });
`;

test('two worker threads racing on one table never hold more than max_requests together', async () => {
  const max = 5;
  const c = cluster('web', { maxRequests: max });
  const table = CircuitBreakerTable.allocate([c], 2);
  // [0] counts requests held by either thread, updated after a take and before a release: it can
  // only exceed max if the breaker let both threads past the limit. [1] is the start barrier.
  const probe = new SharedArrayBuffer(8);
  const modulePath = path.join(__dirname, '..', '..', 'src', 'upstream', 'circuit-breakers.js');
  const run = (index: number): Promise<{ admitted: number; refused: number; maxSeen: number }> => {
    const worker = new Worker(RACER, {
      eval: true,
      workerData: { modulePath, shared: table.toShared(), config: c, index, iterations: 2_000_000, probe },
    });
    return withTimeout(
      new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      }),
      20_000,
    );
  };
  const results = await Promise.all([run(0), run(1)]);
  for (const r of results) {
    assert.ok(r.maxSeen <= max, `at most ${max} held at once, saw ${r.maxSeen}`);
    assert.ok(r.admitted > 0);
  }
  assert.ok(
    results.some((r) => r.refused > 0),
    'the threads contended for the limit (else this test proves nothing)',
  );
  assert.equal(table.state(c, 0).count(Resource.Requests), 0, 'every take was given back');
});

test('a reload keeps the counts of a cluster that stays, under its new limits; a removed one is dropped', () => {
  const before = cluster('web', { maxRequests: 2 });
  const gone = cluster('old', { maxRequests: 1 });
  const table = CircuitBreakerTable.allocate([before, gone], 1);
  const oldBreaker = table.breaker(before, 0, 0);
  assert.equal(oldBreaker.tryStartRequest(), true);
  const after = cluster('web', { maxRequests: 1 });
  const added = cluster('new', { maxRequests: 1 });
  table.update(table.relayout([after, added]));
  const newBreaker = table.breaker(after, 0, 0);
  assert.equal(newBreaker.tryStartRequest(), false, 'the request the old config admitted still counts');
  oldBreaker.endRequest();
  assert.equal(newBreaker.tryStartRequest(), true, 'and its release is seen by the new config');
  assert.equal(table.state(added, 0).count(Resource.Requests), 0);
  assert.throws(() => table.breaker(gone, 0, 0), /no circuit-breaker row/);
  // A worker that dies after the reload gives back what it held in the clusters that stay.
  table.reclaimWorker(0);
  assert.equal(table.state(after, 0).count(Resource.Requests), 0);
});
