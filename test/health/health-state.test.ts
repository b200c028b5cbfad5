import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HealthState } from '../../src/upstream/health/health-state';
import { checkConfig } from './helpers';

/** A state whose first check passed (healthy), as most rules apply after that. */
function healthyState(
  overrides: Parameters<typeof checkConfig>[0] = {},
  random = (): number => 0,
): HealthState {
  const s = new HealthState(checkConfig(overrides), random);
  assert.equal(s.record('success'), 'changed');
  return s;
}

test('a host starts failed; its first success makes it healthy at once, bypassing healthy_threshold', () => {
  const s = new HealthState(checkConfig({ healthyThreshold: 5 }), () => 0);
  assert.equal(s.healthy, false);
  assert.equal(s.firstCheck, true);
  assert.equal(s.record('success'), 'changed');
  assert.equal(s.healthy, true);
  assert.equal(s.firstCheck, false);
});

test('a first failure keeps the host failed (a change: the pending flag clears), later ones count the thresholds', () => {
  const s = new HealthState(checkConfig({ healthyThreshold: 2 }), () => 0);
  assert.equal(s.record('network_failure'), 'changed');
  assert.equal(s.healthy, false);
  assert.equal(s.record('success'), 'pending', 'no longer the first check: healthy_threshold applies');
  assert.equal(s.record('success'), 'changed');
  assert.equal(s.healthy, true);
});

test('network failures and timeouts take a host out after unhealthy_threshold in a row; successes reset the count', () => {
  const s = healthyState({ unhealthyThreshold: 3 });
  assert.equal(s.record('network_failure'), 'pending');
  assert.equal(s.record('network_timeout'), 'pending');
  assert.equal(s.record('success'), 'unchanged');
  assert.equal(s.record('network_failure'), 'pending');
  assert.equal(s.record('retriable_failure'), 'pending');
  assert.equal(s.healthy, true);
  assert.equal(s.record('network_timeout'), 'changed');
  assert.equal(s.healthy, false);
  assert.equal(s.record('network_failure'), 'unchanged');
});

test('a non-retriable failure (bad status) takes a host out at once', () => {
  const s = healthyState({ unhealthyThreshold: 5 });
  assert.equal(s.record('failure'), 'changed');
  assert.equal(s.healthy, false);
});

test('an unhealthy host returns after healthy_threshold successes in a row', () => {
  const s = healthyState({ healthyThreshold: 3 });
  s.record('failure');
  assert.equal(s.record('success'), 'pending');
  assert.equal(s.record('success'), 'pending');
  assert.equal(s.record('network_failure'), 'unchanged');
  assert.equal(s.record('success'), 'pending');
  assert.equal(s.record('success'), 'pending');
  assert.equal(s.record('success'), 'changed');
  assert.equal(s.healthy, true);
});

test('with traffic, the next delay follows Envoy: edge intervals while a transition is pending', () => {
  const s = healthyState({
    intervalMs: 100,
    unhealthyIntervalMs: 300,
    unhealthyEdgeIntervalMs: 50,
    healthyEdgeIntervalMs: 20,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
  });
  assert.equal(s.nextDelayMs(true), 100, 'became healthy: interval');
  s.record('network_failure');
  assert.equal(s.nextDelayMs(true), 50, 'failed but still healthy: unhealthy_edge_interval');
  s.record('network_failure');
  assert.equal(s.nextDelayMs(true), 300, 'just became unhealthy: unhealthy_interval');
  s.record('network_failure');
  assert.equal(s.nextDelayMs(true), 300, 'still unhealthy: unhealthy_interval');
  s.record('success');
  assert.equal(s.nextDelayMs(true), 20, 'passed but still unhealthy: healthy_edge_interval');
  s.record('success');
  assert.equal(s.nextDelayMs(true), 100, 'healthy again: interval');
});

test('without traffic: no_traffic_healthy_interval for a settled healthy host, no_traffic_interval otherwise', () => {
  const s = healthyState({
    intervalMs: 100,
    unhealthyIntervalMs: 300,
    noTrafficIntervalMs: 60_000,
    noTrafficHealthyIntervalMs: 90_000,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
  });
  assert.equal(s.nextDelayMs(false), 90_000);
  s.record('network_failure');
  assert.equal(s.nextDelayMs(false), 60_000, 'pending: no_traffic_interval');
  s.record('network_failure');
  assert.equal(s.nextDelayMs(false), 60_000, 'unhealthy: no_traffic_interval');
  assert.equal(s.nextDelayMs(true), 300, 'once the cluster had traffic: unhealthy_interval');
});

test('jitter adds a random share of interval_jitter_percent and interval_jitter; initial_jitter delays the first check', () => {
  let r = 0.5;
  const config = { intervalMs: 1000, intervalJitterPercent: 10, intervalJitterMs: 40, initialJitterMs: 200 };
  const s = new HealthState(checkConfig(config), () => r);
  assert.equal(s.firstDelayMs(), 100);
  assert.equal(
    new HealthState(checkConfig({ initialJitterMs: 0 }), () => r).firstDelayMs(),
    0,
    'no jitter: at once',
  );
  s.record('success');
  assert.equal(s.nextDelayMs(true), 1000 + 50 + 20);
  r = 0;
  assert.equal(s.nextDelayMs(true), 1000);
  assert.equal(s.firstDelayMs(), 1, 'a jittered delay is at least 1 ms');
  r = 0.999;
  assert.ok(s.nextDelayMs(true) < 1000 + 100 + 40);
});
