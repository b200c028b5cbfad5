/**
 * One suite run over every registered load-balancing policy: whatever its algorithm, a policy must
 * spread load evenly over equal hosts, honour weights, handle empty and single-host sets and forget
 * removed hosts; and, built into a cluster's priority set, skip unhealthy hosts and share load
 * between priority levels.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NO_LB_CONTEXT, type LbPolicyFactory } from '../../src/upstream/lb/api';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { Registry } from '../../src/registry/registry';
import type { HostTable } from '../../src/upstream/host-table';
import type { Host } from '../../src/upstream/host';
import type { PrioritySettings } from '../../src/upstream/lb/priority-load';
import { buildPrioritySet } from '../../src/upstream/lb/priority-set-lb';
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

const ENVOY_DEFAULTS: PrioritySettings = {
  overprovisioningFactor: 140,
  healthyPanicThreshold: 50,
  weightedPriorityHealth: false,
};
const NO_PANIC: PrioritySettings = { ...ENVOY_DEFAULTS, healthyPanicThreshold: 0 };

/** The balancer a cluster builds over `hosts` (all priorities, healthy or not) with `factory`'s policy. */
function clusterLb(
  factory: LbPolicyFactory,
  hosts: Host[],
  table: HostTable,
  seed: number,
  s: PrioritySettings,
) {
  return buildPrioritySet(hosts, factory, defaults(factory), lbEnv(table, seed), s).lb;
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

    test('through the priority set: unhealthy hosts are skipped; none healthy and no panic yields null', () => {
      const { hosts, table } = makeHosts([1, 1, 1]);
      hosts[1]!.healthy = false;
      const lb = clusterLb(factory, hosts, table, 5, NO_PANIC);
      const counts = countPicks(() => lb.chooseHost(NO_LB_CONTEXT), 3000);
      assert.equal(counts.get(hosts[1]!), undefined);
      assert.ok((counts.get(hosts[0]!) ?? 0) > 1200 && (counts.get(hosts[2]!) ?? 0) > 1200);

      for (const h of hosts) h.healthy = false;
      assert.equal(clusterLb(factory, hosts, table, 5, NO_PANIC).chooseHost(NO_LB_CONTEXT), null);
      const panic = clusterLb(factory, hosts, table, 5, ENVOY_DEFAULTS);
      assert.equal(countPicks(() => panic.chooseHost(NO_LB_CONTEXT), 300).size, 3, 'panic: every host');
    });

    test('through the priority set: P1 idles while P0 is >= 72 % healthy, takes the spill when not', () => {
      const { hosts, table } = makeHosts([1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]);
      hosts[0]!.healthy = false;
      const primary = clusterLb(factory, hosts, table, 9, ENVOY_DEFAULTS);
      assert.equal(countPicks(() => primary.chooseHost(NO_LB_CONTEXT), 1000).get(hosts[5]!), undefined);

      hosts[1]!.healthy = false;
      hosts[2]!.healthy = false;
      const spill = clusterLb(factory, hosts, table, 9, ENVOY_DEFAULTS);
      const counts = countPicks(() => spill.chooseHost(NO_LB_CONTEXT), PICKS);
      assert.ok(
        Math.abs((counts.get(hosts[5]!) ?? 0) / PICKS - 0.44) < 0.02,
        `P1 got ${counts.get(hosts[5]!)}`,
      );
      for (const h of hosts.slice(0, 3)) assert.equal(counts.get(h), undefined, 'unhealthy P0 host picked');
    });
  });
}
