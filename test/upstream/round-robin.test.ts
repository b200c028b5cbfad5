/** ROUND_ROBIN specifics: strict rotation for equal weights, a smooth (interleaved) weighted order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from '../../src/registry/registry';
import { NO_LB_CONTEXT } from '../../src/upstream/lb/api';
import { roundRobinFactory } from '../../src/upstream/lb/round-robin';
import { lbEnv, makeHosts, readerFor } from './helpers';

test('equal weights rotate strictly, from a random start', () => {
  const { hosts, table } = makeHosts([1, 1, 1]);
  const starts = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const lb = roundRobinFactory.create(hosts, {}, lbEnv(table, seed));
    const order = Array.from({ length: 6 }, () => lb.chooseHost(NO_LB_CONTEXT)!.key);
    assert.equal(new Set(order.slice(0, 3)).size, 3);
    assert.deepEqual(order.slice(3), order.slice(0, 3));
    starts.add(order[0]!);
  }
  assert.equal(starts.size, 3, 'workers start at different hosts');
});

test('weighted picks interleave instead of bursting', () => {
  const { hosts, table } = makeHosts([5, 1]);
  const lb = roundRobinFactory.create(hosts, {}, lbEnv(table, 2));
  const picks = Array.from({ length: 60 }, () => lb.chooseHost(NO_LB_CONTEXT));
  // In every window of 6 consecutive picks the light host appears exactly once.
  for (let i = 0; i + 6 <= picks.length; i += 6) {
    assert.equal(picks.slice(i, i + 6).filter((h) => h === hosts[1]).length, 1, `window at ${i}`);
  }
});

test('round_robin_lb_config.slow_start_config is reported as unsupported', () => {
  const { reader, issues } = readerFor(
    'round_robin_lb_config: { slow_start_config: { slow_start_window: 1s } }',
  );
  roundRobinFactory.parseConfig(reader, { registry: new Registry() });
  assert.ok(issues().some((i) => i.severity === 'error' && i.path.endsWith('slow_start_config')));
});
