/** `clusters[].outlier_detection`: Envoy's defaults, overrides, and the detectors not implemented. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorAt, issuesOf, loadOk, minimalConfig } from '../config/helpers';

const CLUSTER0 = 'static_resources.clusters[0]';

test('outlier_detection: {} gets Envoy defaults; absent means none', () => {
  assert.equal(loadOk(minimalConfig()).clusters[0]!.outlierDetection, null);
  const od = loadOk(minimalConfig({ cluster: 'outlier_detection: {}' })).clusters[0]!.outlierDetection;
  assert.deepEqual(od, {
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
    consecutive5xx: 5,
    enforcingConsecutive5xx: 100,
    consecutiveGatewayFailure: 5,
    enforcingConsecutiveGatewayFailure: 0,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailure: 5,
    enforcingConsecutiveLocalOriginFailure: 100,
  });
});

test('outlier_detection fields are read, with wrapped or bare integers', () => {
  const od = loadOk(
    minimalConfig({
      cluster:
        'outlier_detection: { interval: 0.1s, base_ejection_time: 0.5s, max_ejection_time: 0.2s, max_ejection_percent: { value: 50 }, consecutive_5xx: 3, enforcing_consecutive_gateway_failure: 100, split_external_local_origin_errors: true }',
    }),
  ).clusters[0]!.outlierDetection!;
  assert.equal(od.intervalMs, 100);
  assert.equal(od.baseEjectionTimeMs, 500);
  assert.equal(od.maxEjectionTimeMs, 500, 'the cap is at least base_ejection_time');
  assert.equal(od.maxEjectionPercent, 50);
  assert.equal(od.consecutive5xx, 3);
  assert.equal(od.enforcingConsecutiveGatewayFailure, 100);
  assert.equal(od.splitExternalLocalOriginErrors, true);
});

test('success-rate and failure-percentage settings are rejected as unsupported; percents are bounded', () => {
  const issues = issuesOf(
    minimalConfig({
      cluster:
        'outlier_detection: { success_rate_stdev_factor: 1900, enforcing_failure_percentage: 10, max_ejection_percent: 101, interval: 0s }',
    }),
  );
  const od = `${CLUSTER0}.outlier_detection`;
  assert.equal(errorAt(issues, `${od}.success_rate_stdev_factor`).message, 'not supported by Legate yet');
  assert.equal(errorAt(issues, `${od}.enforcing_failure_percentage`).message, 'not supported by Legate yet');
  assert.match(errorAt(issues, `${od}.max_ejection_percent`).message, /range|100/);
  assert.match(errorAt(issues, `${od}.interval`).message, /greater than 0s/);
});
