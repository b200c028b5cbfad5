/** `circuit_breakers` in a cluster: Envoy's defaults, every threshold field, and located errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultThresholds } from '../../src/config/circuit-breakers';
import { errorAt, issuesOf, loadOk, minimalConfig } from '../config/helpers';

const CB = 'static_resources.clusters[0].circuit_breakers';

test('without circuit_breakers both priorities get Envoy’s defaults', () => {
  const c = loadOk(minimalConfig()).clusters[0]!;
  assert.deepEqual(c.circuitBreakers, [defaultThresholds(), defaultThresholds()]);
  assert.deepEqual(defaultThresholds(), {
    maxConnections: 1024,
    maxPendingRequests: 1024,
    maxRequests: 1024,
    maxRetries: 3,
    maxConnectionPools: 0xffffffff,
    retryBudget: null,
    trackRemaining: false,
  });
});

test('thresholds are read per priority, bare or as wrapped values, with retry_budget defaults', () => {
  const c = loadOk(
    minimalConfig({
      cluster: `circuit_breakers:
  thresholds:
  - priority: HIGH
    max_connections: 7
    max_pending_requests: { value: 8 }
    max_requests: 9
    max_retries: 0
    max_connection_pools: 4
    track_remaining: true
  - max_requests: 5
    retry_budget: { budget_percent: { value: 12.5 } }
  `,
    }),
  ).clusters[0]!;
  const [dflt, high] = c.circuitBreakers!;
  assert.deepEqual(high, {
    maxConnections: 7,
    maxPendingRequests: 8,
    maxRequests: 9,
    maxRetries: 0,
    maxConnectionPools: 4,
    retryBudget: null,
    trackRemaining: true,
  });
  assert.equal(dflt.maxRequests, 5);
  assert.equal(dflt.maxConnections, 1024);
  assert.deepEqual(dflt.retryBudget, { budgetPercent: 12.5, minRetryConcurrency: 3 });
  const empty = loadOk(
    minimalConfig({ cluster: 'circuit_breakers: { thresholds: [{ retry_budget: {} }] }' }),
  );
  assert.deepEqual(empty.clusters[0]!.circuitBreakers![0].retryBudget, {
    budgetPercent: 20,
    minRetryConcurrency: 3,
  });
});

test('mistakes are located errors', () => {
  const issues = issuesOf(
    minimalConfig({
      cluster: `circuit_breakers:
  per_host_thresholds: [{ max_connections: 1 }]
  thresholds:
  - { priority: DEFAULT, max_requests: -1 }
  - { priority: DEFAULT }
  - { priority: URGENT, max_retrys: 2, retry_budget: { budget_percent: { value: 150 } } }`,
    }),
  );
  assert.equal(errorAt(issues, `${CB}.per_host_thresholds`).message, 'not supported by Legate yet');
  assert.match(
    errorAt(issues, `${CB}.thresholds[0].max_requests`).message,
    /expected a non-negative integer|out of range/,
  );
  assert.equal(
    errorAt(issues, `${CB}.thresholds[1].priority`).message,
    'thresholds for priority DEFAULT are already given',
  );
  assert.match(errorAt(issues, `${CB}.thresholds[2].priority`).message, /unknown value 'URGENT'/);
  const typo = errorAt(issues, `${CB}.thresholds[2].max_retrys`);
  assert.match(`${typo.message} ${typo.hint}`, /did you mean 'max_retries'/);
  assert.match(
    errorAt(issues, `${CB}.thresholds[2].retry_budget.budget_percent.value`).message,
    /from 0 to 100, found 150/,
  );
});
