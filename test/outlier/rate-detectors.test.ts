/** The success-rate and failure-percentage statistics, as pure functions (Envoy's numbers). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutlierDetectionConfig } from '../../src/config/bootstrap';
import { loadOk, minimalConfig } from '../config/helpers';
import {
  rateDetectorsCanFire,
  rateOutliers,
  successRateThreshold,
  type HostRate,
} from '../../src/upstream/outlier/rate-detectors';

const config = (yaml = ''): OutlierDetectionConfig =>
  loadOk(minimalConfig({ cluster: `outlier_detection: { ${yaml} }` })).clusters[0]!.outlierDetection!;

const hosts = (rates: number[], requests = 100): HostRate[] =>
  rates.map((successRate, slot) => ({ slot, requests, successRate }));

test("Envoy's worked example: {50, 100, 100, 100, 100} → mean 90, stdev 20, threshold 52", () => {
  assert.equal(successRateThreshold(hosts([50, 100, 100, 100, 100]), 1.9), 52);
  assert.deepEqual(rateOutliers(config(), 'external', hosts([50, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'success_rate' },
  ]);
  assert.deepEqual(rateOutliers(config(), 'local', hosts([50, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'local_origin_success_rate' },
  ]);
});

test('a stdev factor that puts the threshold below the outlier ejects nothing', () => {
  // 90 − 2.5 × 20 = 40 < 50.
  assert.deepEqual(
    rateOutliers(config('success_rate_stdev_factor: 2500'), 'external', hosts([50, 100, 100, 100, 100]), 5),
    [],
  );
});

test('minimum hosts counts hosts with enough volume; the cluster size gates both detectors', () => {
  const rates = [...hosts([50, 100, 100, 100]), { slot: 4, requests: 99, successRate: 100 }];
  assert.deepEqual(rateOutliers(config(), 'external', rates, 5), []);
  assert.equal(rateDetectorsCanFire(config(), 4), false);
  assert.equal(rateDetectorsCanFire(config('failure_percentage_minimum_hosts: 3'), 4), true);
  // Four valid hosts {50, 100, 100, 100}: mean 87.5, stdev 21.65; factor 1 → threshold 65.85.
  const four = config('success_rate_minimum_hosts: 4, success_rate_stdev_factor: 1000');
  assert.deepEqual(rateOutliers(four, 'external', rates, 5), [{ slot: 0, type: 'success_rate' }]);
});

test('failure percentage: at or above the threshold, among hosts with its own request volume', () => {
  const c = config('success_rate_minimum_hosts: 100, failure_percentage_threshold: 50');
  const rates = hosts([50, 51, 100, 100, 100], 50);
  assert.deepEqual(rateOutliers(c, 'external', rates, 5), [{ slot: 0, type: 'failure_percentage' }]);
  assert.deepEqual(rateOutliers(c, 'local', rates, 5), [
    { slot: 0, type: 'local_origin_failure_percentage' },
  ]);
  assert.deepEqual(rateOutliers(c, 'external', hosts([50, 51, 100, 100, 100], 49), 5), []);
});

test('a host flagged by both detectors is listed under both, success rate first', () => {
  const c = config('failure_percentage_threshold: 50');
  assert.deepEqual(rateOutliers(c, 'external', hosts([0, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'success_rate' },
    { slot: 0, type: 'failure_percentage' },
  ]);
});
