/** The success-rate and failure-percentage statistics, as pure functions (Envoy's numbers). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  rateDetectorsCanFire,
  rateVerdict,
  successRateNums,
  type HostRate,
} from '../../src/upstream/outlier/rate-detectors';
import { outlierConfig as config } from './helpers';

const outliers = (...args: Parameters<typeof rateVerdict>) => rateVerdict(...args).outliers;

const hosts = (rates: number[], requests = 100): HostRate[] =>
  rates.map((successRate, slot) => ({ slot, requests, successRate }));

test("Envoy's worked example: {50, 100, 100, 100, 100} → mean 90, stdev 20, threshold 52", () => {
  assert.deepEqual(successRateNums(hosts([50, 100, 100, 100, 100]), 1.9), {
    average: 90,
    ejectionThreshold: 52,
  });
  assert.deepEqual(outliers(config(), 'external', hosts([50, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'success_rate' },
  ]);
  assert.deepEqual(outliers(config(), 'local', hosts([50, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'local_origin_success_rate' },
  ]);
});

test('a stdev factor that puts the threshold below the outlier ejects nothing', () => {
  // 90 − 2.5 × 20 = 40 < 50.
  assert.deepEqual(
    outliers(config('success_rate_stdev_factor: 2500'), 'external', hosts([50, 100, 100, 100, 100]), 5),
    [],
  );
});

test('minimum hosts counts hosts with enough volume; the cluster size gates both detectors', () => {
  const rates = [...hosts([50, 100, 100, 100]), { slot: 4, requests: 99, successRate: 100 }];
  assert.deepEqual(outliers(config(), 'external', rates, 5), []);
  assert.equal(rateDetectorsCanFire(config(), 4), false);
  assert.equal(rateDetectorsCanFire(config('failure_percentage_minimum_hosts: 3'), 4), true);
  // Four valid hosts {50, 100, 100, 100}: mean 87.5, stdev 21.65; factor 1 → threshold 65.85.
  const four = config('success_rate_minimum_hosts: 4, success_rate_stdev_factor: 1000');
  assert.deepEqual(outliers(four, 'external', rates, 5), [{ slot: 0, type: 'success_rate' }]);
});

test('failure percentage: at or above the threshold, among hosts with its own request volume', () => {
  const c = config('success_rate_minimum_hosts: 100, failure_percentage_threshold: 50');
  const rates = hosts([50, 51, 100, 100, 100], 50);
  assert.deepEqual(outliers(c, 'external', rates, 5), [{ slot: 0, type: 'failure_percentage' }]);
  assert.deepEqual(outliers(c, 'local', rates, 5), [{ slot: 0, type: 'local_origin_failure_percentage' }]);
  assert.deepEqual(outliers(c, 'external', hosts([50, 51, 100, 100, 100], 49), 5), []);
});

test('a host flagged by both detectors is listed under both, success rate first', () => {
  const c = config('failure_percentage_threshold: 50');
  assert.deepEqual(outliers(c, 'external', hosts([0, 100, 100, 100, 100]), 5), [
    { slot: 0, type: 'success_rate' },
    { slot: 0, type: 'failure_percentage' },
  ]);
});

test('what /clusters shows: the mean and threshold, and the rate of hosts with the smaller volume', () => {
  // success_rate_request_volume 100, failure_percentage_request_volume 50 (Envoy's defaults).
  const rates = [...hosts([50, 100, 100, 100, 100]), { slot: 5, requests: 60, successRate: 75 }];
  const v = rateVerdict(config(), 'external', rates, 6);
  assert.deepEqual(v.successRate, { average: 90, ejectionThreshold: 52 });
  assert.deepEqual(
    v.rated.map((h) => h.slot),
    [0, 1, 2, 3, 4, 5],
  );
  const few = rateVerdict(config(), 'external', [...hosts([50, 100, 100]), ...rates.slice(5)], 6);
  assert.deepEqual(few.successRate, { average: -1, ejectionThreshold: -1 }, 'too few hosts with volume');
  assert.equal(few.rated.length, 4, 'their rates are still recorded');
  const tooSmall = rateVerdict(config(), 'external', rates, 4);
  assert.deepEqual(
    [tooSmall.successRate.average, tooSmall.rated.length],
    [-1, 0],
    'cluster below both minimums',
  );
  assert.equal(rateVerdict(config(), 'external', hosts([100], 49), 5).rated.length, 0, 'below both volumes');
});
