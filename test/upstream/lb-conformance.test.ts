/**
 * One suite run over every registered load-balancing policy: whatever its algorithm, a policy must
 * spread load evenly over equal hosts, honour weights, handle empty and single-host sets, forget
 * removed hosts, skip unhealthy ones and fail over by priority.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NO_LB_CONTEXT, type LbPolicyFactory } from '../../src/upstream/lb/api';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { Registry } from '../../src/registry/registry';
import { countPicks, lbEnv, makeHosts, registeredLbPolicies } from './helpers';

const POLICIES = registeredLbPolicies();

const PICKS = 30_000;

/**
 * How far a host's share of picks may stray from its weight's share. A ring of 1024 points (RING_HASH's
 * default minimum) gives each host arcs whose total length varies by about 1/sqrt(points per host):
 * keys spread by arc length, so its promise is looser. Every other policy is exact up to sampling noise.
 */
const SHARE_TOLERANCE: Record<string, number> = { RING_HASH: 0.04 };
const DEFAULT_TOLERANCE = 0.02;

function defaults(factory: LbPolicyFactory): unknown {
  return factory.parseConfig(null, { registry: new Registry() });
}

test('the Envoy policies are registered under their names, @types and lb_policy enums', () => {
  const registry = createBuiltinRegistry();
  const expected: [string, string, string][] = [
    ['ROUND_ROBIN', 'envoy.load_balancing_policies.round_robin', 'round_robin.v3.RoundRobin'],
    ['LEAST_REQUEST', 'envoy.load_balancing_policies.least_request', 'least_request.v3.LeastRequest'],
    ['RANDOM', 'envoy.load_balancing_policies.random', 'random.v3.Random'],
    ['RING_HASH', 'envoy.load_balancing_policies.ring_hash', 'ring_hash.v3.RingHash'],
    ['MAGLEV', 'envoy.load_balancing_policies.maglev', 'maglev.v3.Maglev'],
    ['PEAK_EWMA', 'envoy.load_balancing_policies.peak_ewma', 'peak_ewma.v3alpha.PeakEwma'],
  ];
  for (const [enumName, name, type] of expected) {
    const f = registry.byEnumName('lb_policy', enumName);
    assert.equal(f?.name, name);
    assert.equal(registry.byTypeUrl('lb_policy', `envoy.extensions.load_balancing_policies.${type}`), f);
  }
  assert.ok(POLICIES.length >= 6, 'every enum name resolves to a factory with create()');
});

for (const factory of POLICIES) {
  describe(`LB conformance: ${factory.enumName}`, () => {
    const tolerance = SHARE_TOLERANCE[factory.enumName] ?? DEFAULT_TOLERANCE;
    test('an empty host set yields null', () => {
      const { table } = makeHosts([]);
      assert.equal(factory.create([], defaults(factory), lbEnv(table)).chooseHost(NO_LB_CONTEXT), null);
    });

    test('a single host is always chosen', () => {
      const { hosts, table } = makeHosts([3]);
      const lb = factory.create(hosts, defaults(factory), lbEnv(table));
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 100);
      assert.equal(counts.get(hosts[0]!), 100);
    });

    test('equal weights spread picks evenly', () => {
      const { hosts, table } = makeHosts([1, 1, 1]);
      const lb = factory.create(hosts, defaults(factory), lbEnv(table, 7));
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), PICKS);
      for (const h of hosts) {
        const share = (counts.get(h) ?? 0) / PICKS;
        assert.ok(Math.abs(share - 1 / 3) < tolerance, `${h.key} got ${share}`);
      }
    });

    test('weights are honoured', () => {
      const { hosts, table } = makeHosts([1, 2, 5]);
      const lb = factory.create(hosts, defaults(factory), lbEnv(table, 11));
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), PICKS);
      hosts.forEach((h, i) => {
        const share = (counts.get(h) ?? 0) / PICKS;
        const expected = [1, 2, 5][i]! / 8;
        assert.ok(Math.abs(share - expected) < tolerance, `${h.key} got ${share}, expected ${expected}`);
      });
    });

    test('a removed host is never chosen by the rebuilt balancer', () => {
      const { hosts, table } = makeHosts([1, 1, 1, 1]);
      const remaining = [hosts[0]!, hosts[2]!, hosts[3]!];
      const lb = factory.create(remaining, defaults(factory), lbEnv(table, 3));
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 3000);
      assert.equal(counts.get(hosts[1]!), undefined);
      for (const h of remaining) assert.ok((counts.get(h) ?? 0) > 800, `${h.key} starved`);
    });

    test('unhealthy hosts are skipped; all unhealthy yields null', () => {
      const { hosts, table } = makeHosts([1, 1, 1]);
      hosts[1]!.healthy = false;
      const lb = factory.create(hosts, defaults(factory), lbEnv(table, 5));
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 3000);
      assert.equal(counts.get(hosts[1]!), undefined);
      assert.ok((counts.get(hosts[0]!) ?? 0) > 1200 && (counts.get(hosts[2]!) ?? 0) > 1200);

      for (const h of hosts) h.healthy = false;
      const none = factory.create(hosts, defaults(factory), lbEnv(table, 5));
      assert.equal(none.chooseHost(NO_LB_CONTEXT), null);
    });

    test('priority 1 takes traffic only when priority 0 has no healthy host', () => {
      const { hosts, table } = makeHosts([1, 1, 1], [0, 0, 1]);
      const primary = factory.create(hosts, defaults(factory), lbEnv(table, 9));
      const counts = countPicks(() => primary.chooseHost(NO_LB_CONTEXT), 1000);
      assert.equal(counts.get(hosts[2]!), undefined);

      hosts[0]!.healthy = false;
      hosts[1]!.healthy = false;
      const failover = factory.create(hosts, defaults(factory), lbEnv(table, 9));
      assert.equal(countPicks(() => failover.chooseHost(NO_LB_CONTEXT), 100).get(hosts[2]!), 100);
    });
  });
}
