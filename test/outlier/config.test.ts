/** `clusters[].outlier_detection`: Envoy's defaults, overrides, and the fields not implemented. */
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
    maxEjectionTimeJitterMs: 0,
    alwaysEjectOneHost: false,
    successfulActiveHealthCheckUnejectHost: true,
    consecutive5xx: 5,
    enforcingConsecutive5xx: 100,
    consecutiveGatewayFailure: 5,
    enforcingConsecutiveGatewayFailure: 0,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailure: 5,
    enforcingConsecutiveLocalOriginFailure: 100,
    successRateMinimumHosts: 5,
    successRateRequestVolume: 100,
    successRateStdevFactor: 1900,
    enforcingSuccessRate: 100,
    enforcingLocalOriginSuccessRate: 100,
    failurePercentageThreshold: 85,
    failurePercentageMinimumHosts: 5,
    failurePercentageRequestVolume: 50,
    enforcingFailurePercentage: 0,
    enforcingFailurePercentageLocalOrigin: 0,
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

test('rate-detector and ejection-timing fields are read; wrapped booleans too', () => {
  const od = loadOk(
    minimalConfig({
      cluster:
        'outlier_detection: { success_rate_stdev_factor: 1000, success_rate_minimum_hosts: 3, success_rate_request_volume: { value: 20 }, enforcing_success_rate: 50, enforcing_local_origin_success_rate: 0, failure_percentage_threshold: 60, failure_percentage_minimum_hosts: 2, failure_percentage_request_volume: 10, enforcing_failure_percentage: 100, enforcing_failure_percentage_local_origin: 30, max_ejection_time_jitter: 0.25s, always_eject_one_host: { value: true }, successful_active_health_check_uneject_host: false }',
    }),
  ).clusters[0]!.outlierDetection!;
  assert.equal(od.successRateStdevFactor, 1000);
  assert.equal(od.successRateMinimumHosts, 3);
  assert.equal(od.successRateRequestVolume, 20);
  assert.equal(od.enforcingSuccessRate, 50);
  assert.equal(od.enforcingLocalOriginSuccessRate, 0);
  assert.equal(od.failurePercentageThreshold, 60);
  assert.equal(od.failurePercentageMinimumHosts, 2);
  assert.equal(od.failurePercentageRequestVolume, 10);
  assert.equal(od.enforcingFailurePercentage, 100);
  assert.equal(od.enforcingFailurePercentageLocalOrigin, 30);
  assert.equal(od.maxEjectionTimeJitterMs, 250);
  assert.equal(od.alwaysEjectOneHost, true);
  assert.equal(od.successfulActiveHealthCheckUnejectHost, false);
});

test('unimplemented fields are rejected as unsupported; percents are bounded', () => {
  const issues = issuesOf(
    minimalConfig({
      cluster:
        'outlier_detection: { monitors: [], detector_event_log_path: /tmp/x, failure_percentage_threshold: 101, max_ejection_percent: 101, interval: 0s }',
    }),
  );
  const od = `${CLUSTER0}.outlier_detection`;
  assert.equal(errorAt(issues, `${od}.monitors`).message, 'not supported by Legate yet');
  assert.equal(errorAt(issues, `${od}.detector_event_log_path`).message, 'not supported by Legate yet');
  assert.match(errorAt(issues, `${od}.failure_percentage_threshold`).message, /range|100/);
  assert.match(errorAt(issues, `${od}.max_ejection_percent`).message, /range|100/);
  assert.match(errorAt(issues, `${od}.interval`).message, /greater than 0s/);
});
