/**
 * Load-balancer pick microbenchmarks: `node .build/<dir>/perf/lb-pick.js`.
 *
 * chooseHost for every policy of the builtin registry over 3 and 100 hosts with equal weights, and over 100
 * hosts with weights 1..5 (the weighted code paths: EDF for ROUND_ROBIN and LEAST_REQUEST, binary
 * search for RANDOM and PEAK_EWMA's draws). The shared host table carries some load so LEAST_REQUEST
 * and PEAK_EWMA compare real numbers; randomness is Math.random, as in production. RING_HASH and
 * MAGLEV pick by a random hash here (a request without a route hash_policy): one ring binary search
 * or one table lookup. The last group picks through a cluster's priority set (ROUND_ROBIN): with
 * one loaded level it is the policy's balancer itself; with two, one extra draw chooses the level.
 *
 * Prints mitata's table, then ops/s per case.
 */
import { bench, do_not_optimize, group } from 'mitata';
import { runAndPrintOpsPerSecond } from './lib/ops';
import type { ClusterConfig } from '../src/config/bootstrap';
import { monotonicMs } from '../src/common/timer-wheel';
import { createBuiltinRegistry } from '../src/registry/builtins';
import { Host } from '../src/upstream/host';
import { HostTable } from '../src/upstream/host-table';
import { isLbPolicyFactory, NO_LB_CONTEXT, type LbEnv } from '../src/upstream/lb/api';
import { buildPrioritySet } from '../src/upstream/lb/priority-set-lb';
import { roundRobinFactory } from '../src/upstream/lb/round-robin';

function hostSet(
  count: number,
  weight: (i: number) => number,
  priority: (i: number) => number = () => 0,
): { hosts: Host[]; env: LbEnv } {
  const config: ClusterConfig = {
    at: 'perf',
    name: 'perf',
    type: 'STATIC',
    slotCapacity: count,
    slotPerEndpoint: true,
    connectTimeoutMs: 5000,
    lbPolicy: 'ROUND_ROBIN',
    lbConfig: {},
    endpoints: Array.from({ length: count }, (_, i) => ({
      address: { address: `10.0.${i >> 8}.${i & 255}`, port: 80 },
      weight: weight(i),
      priority: priority(i),
    })),
    perConnectionBufferLimitBytes: 1 << 20,
    idleTimeoutMs: 0,
    maxRequestsPerConnection: 0,
    dnsRefreshRateMs: 5000,
    dnsLookupFamily: 'AUTO',
  };
  const table = HostTable.allocate([config]);
  const hosts = config.endpoints.map((e, i) => new Host(i, e.address.address, 80, e.weight, e.priority));
  for (const h of hosts) for (let n = h.slot % 7; n > 0; n--) table.requestStarted(h.slot);
  return { hosts, env: { hostTable: table, random: Math.random, nowMs: monotonicMs } };
}

const SETS: [string, number, (i: number) => number][] = [
  ['3 hosts', 3, () => 1],
  ['100 hosts', 100, () => 1],
  ['100 weighted hosts', 100, (i) => 1 + (i % 5)],
];

async function main(): Promise<void> {
  const registry = createBuiltinRegistry();
  const policies = registry
    .enumNames('lb_policy')
    .map((name) => registry.byEnumName('lb_policy', name)!)
    .filter(isLbPolicyFactory);
  for (const [label, count, weight] of SETS) {
    group(label, () => {
      for (const factory of policies) {
        const { hosts, env } = hostSet(count, weight);
        const lb = factory.create(hosts, factory.parseConfig(null, { registry }), env);
        bench(`${factory.enumName} ${label}`, () => do_not_optimize(lb.chooseHost(NO_LB_CONTEXT)));
      }
    });
  }
  group('priority set', () => {
    const settings = {
      overprovisioningFactor: 140,
      healthyPanicThreshold: 50,
      weightedPriorityHealth: false,
    };
    for (const [label, unhealthy] of [
      ['1 loaded level', 0],
      ['2 loaded levels', 3],
    ] as const) {
      // 5 hosts at P0 and 1 at P1; 3 unhealthy P0 hosts make P1 take 44 %.
      const { hosts, env } = hostSet(
        6,
        () => 1,
        (i) => (i < 5 ? 0 : 1),
      );
      for (let i = 0; i < unhealthy; i++) hosts[i]!.healthy = false;
      const { lb } = buildPrioritySet(hosts, roundRobinFactory, {}, env, settings);
      bench(`ROUND_ROBIN ${label}`, () => do_not_optimize(lb.chooseHost(NO_LB_CONTEXT)));
    }
  });
  await runAndPrintOpsPerSecond();
}

void main();
