import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HealthState } from '../../src/upstream/health/health-state';
import { checkConfig } from './helpers';

test('network failures take a host out after unhealthy_threshold in a row; successes reset the count', () => {
  const s = new HealthState(checkConfig({ unhealthyThreshold: 3 }), () => 0);
  assert.equal(s.record('network_failure'), false);
  assert.equal(s.record('network_failure'), false);
  assert.equal(s.record('success'), false);
  assert.equal(s.record('network_failure'), false);
  assert.equal(s.record('retriable_failure'), false);
  assert.equal(s.healthy, true);
  assert.equal(s.record('network_failure'), true);
  assert.equal(s.healthy, false);
});

test('a non-retriable failure (bad status) takes a host out at once', () => {
  const s = new HealthState(checkConfig({ unhealthyThreshold: 5 }), () => 0);
  assert.equal(s.record('failure'), true);
  assert.equal(s.healthy, false);
});

test('an unhealthy host returns after healthy_threshold successes in a row', () => {
  const s = new HealthState(checkConfig({ healthyThreshold: 3 }), () => 0);
  s.record('failure');
  assert.equal(s.record('success'), false);
  assert.equal(s.record('success'), false);
  assert.equal(s.record('network_failure'), false);
  assert.equal(s.record('success'), false);
  assert.equal(s.record('success'), false);
  assert.equal(s.record('success'), true);
  assert.equal(s.healthy, true);
});

test('the next delay follows interval, the edge intervals and unhealthy_interval', () => {
  const s = new HealthState(
    checkConfig({
      intervalMs: 100,
      unhealthyIntervalMs: 300,
      unhealthyEdgeIntervalMs: 50,
      healthyEdgeIntervalMs: 20,
      healthyThreshold: 1,
      unhealthyThreshold: 1,
    }),
    () => 0,
  );
  s.record('success');
  assert.equal(s.nextDelayMs(), 100);
  s.record('network_failure');
  assert.equal(s.nextDelayMs(), 50, 'just became unhealthy: unhealthy_edge_interval');
  s.record('network_failure');
  assert.equal(s.nextDelayMs(), 300, 'still unhealthy: unhealthy_interval');
  s.record('success');
  assert.equal(s.nextDelayMs(), 20, 'just became healthy: healthy_edge_interval');
  s.record('success');
  assert.equal(s.nextDelayMs(), 100);
});

test('jitter adds a random share of interval_jitter_percent and interval_jitter; initial_jitter delays the first check', () => {
  let r = 0.5;
  const s = new HealthState(
    checkConfig({ intervalMs: 1000, intervalJitterPercent: 10, intervalJitterMs: 40, initialJitterMs: 200 }),
    () => r,
  );
  assert.equal(s.firstDelayMs(), 100);
  s.record('success');
  assert.equal(s.nextDelayMs(), 1000 + 50 + 20);
  r = 0;
  assert.equal(s.nextDelayMs(), 1000);
  r = 0.999;
  assert.ok(s.nextDelayMs() < 1000 + 100 + 40);
});
