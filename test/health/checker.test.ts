/**
 * The primary's checker and the workers' view of it, through one shared host table: verdicts land
 * in the table, a worker's cluster switches its LB at the next pick, and panic mode takes over
 * below healthy_panic_threshold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterConfig } from '../../src/config/bootstrap';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import type { ClusterStats } from '../../src/stats/cluster-stats';
import { ClusterManager, discoveryFor } from '../../src/upstream/cluster-manager';
import type { DnsResolver } from '../../src/upstream/discovery/api';
import { ClusterHealthChecker, type HealthCheckStats } from '../../src/upstream/health/checker';
import type { CheckOutcome } from '../../src/upstream/health/health-state';
import { HostColumn, HostTable } from '../../src/upstream/host-table';
import { NO_LB_CONTEXT } from '../../src/upstream/lb/api';
import { monotonicMs } from '../../src/common/timer-wheel';
import { clusterConfig, countPicks, endpoint, seededRandom } from '../upstream/helpers';
import { checkConfig, ManualClock } from './helpers';

const noDns: DnsResolver = () => Promise.reject(new Error('no DNS in this test'));

function counter(): { n: number; inc(): void; add(k: number): void; set(k: number): void; dec(): void } {
  return {
    n: 0,
    inc() {
      this.n++;
    },
    add(k) {
      this.n += k;
    },
    set(k) {
      this.n = k;
    },
    dec() {
      this.n--;
    },
  };
}

interface Fixture {
  config: ClusterConfig;
  table: HostTable;
  clock: ManualClock;
  /** What the next check of each host (by address) answers. */
  answers: Map<string, CheckOutcome>;
  probedPorts: number[];
  stats: Record<keyof HealthCheckStats, ReturnType<typeof counter>>;
  checker: ClusterHealthChecker;
  manager: ClusterManager;
  panicPicks: ReturnType<typeof counter>;
}

function setup(hosts: number, overrides: Partial<ClusterConfig> = {}): Fixture {
  const check = checkConfig({
    intervalMs: 100,
    unhealthyIntervalMs: 100,
    unhealthyEdgeIntervalMs: 100,
    healthyEdgeIntervalMs: 100,
    timeoutMs: 50,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
  });
  const config = clusterConfig({
    name: 'web',
    endpoints: Array.from({ length: hosts }, (_, i) => endpoint(`10.0.0.${i + 1}`, 80)),
    healthChecks: [check],
    ...overrides,
  });
  const table = HostTable.allocate([config]);
  const clock = new ManualClock();
  const answers = new Map<string, CheckOutcome>();
  const probedPorts: number[] = [];
  const stats = {
    attempt: counter(),
    success: counter(),
    failure: counter(),
    networkFailure: counter(),
    healthy: counter(),
  };
  const checker = new ClusterHealthChecker(
    config,
    check,
    table,
    discoveryFor(config, table, noDns),
    stats,
    (host, port) => {
      probedPorts.push(port);
      return { check: () => Promise.resolve(answers.get(host.address) ?? 'success'), close: () => {} };
    },
    clock,
  );
  const panicPicks = counter();
  const manager = new ClusterManager([config], {
    hostTable: table,
    registry: createBuiltinRegistry(),
    random: seededRandom(3),
    nowMs: monotonicMs,
    clusterStats: () => ({ lbHealthyPanic: panicPicks, setMembership: () => {} }) as unknown as ClusterStats,
  });
  return { config, table, clock, answers, probedPorts, stats, checker, manager, panicPicks };
}

function pickedAddresses(f: Fixture, n = 200): Set<string> {
  const web = f.manager.get('web')!;
  return new Set(
    [...countPicks(() => web.chooseHost(NO_LB_CONTEXT), n).keys()].map((h) => h?.address ?? 'none'),
  );
}

test('a failing host leaves every worker rotation after unhealthy_threshold checks and returns after healthy_threshold', async () => {
  const f = setup(4);
  f.checker.start();
  try {
    await f.clock.advance(0);
    assert.equal(f.stats.attempt.n, 4);
    assert.equal(f.stats.healthy.n, 4);
    assert.equal(pickedAddresses(f).size, 4);

    f.answers.set('10.0.0.2', 'network_failure');
    await f.clock.advance(100);
    assert.equal(f.table.get(1, HostColumn.ActiveHcFailed), 0, 'one failure is below the threshold');
    assert.ok(pickedAddresses(f).has('10.0.0.2'));
    await f.clock.advance(100);
    assert.equal(f.table.get(1, HostColumn.ActiveHcFailed), 1);
    assert.equal(f.stats.healthy.n, 3);
    assert.equal(f.stats.networkFailure.n, 2);
    assert.equal(f.stats.failure.n, 2);
    assert.deepEqual(pickedAddresses(f), new Set(['10.0.0.1', '10.0.0.3', '10.0.0.4']));

    f.answers.delete('10.0.0.2');
    await f.clock.advance(100);
    assert.ok(!pickedAddresses(f).has('10.0.0.2'), 'one success is below healthy_threshold');
    await f.clock.advance(100);
    assert.equal(f.table.get(1, HostColumn.ActiveHcFailed), 0);
    assert.equal(pickedAddresses(f).size, 4);
    assert.equal(f.stats.attempt.n, 4 * 5);
    assert.equal(f.panicPicks.n, 0);
  } finally {
    f.checker.stop();
    f.manager.close();
  }
  assert.equal(f.clock.pending, 0, 'stop cancels every timer');
});

test('below healthy_panic_threshold every host is picked and lb_healthy_panic counts', async () => {
  const f = setup(4);
  f.checker.start();
  try {
    await f.clock.advance(0);
    f.answers.set('10.0.0.1', 'failure');
    f.answers.set('10.0.0.2', 'failure');
    await f.clock.advance(100);
    // 2 of 4 healthy = 50 %: not below the default threshold.
    assert.deepEqual(pickedAddresses(f, 100), new Set(['10.0.0.3', '10.0.0.4']));
    assert.equal(f.panicPicks.n, 0);
    f.answers.set('10.0.0.3', 'failure');
    await f.clock.advance(100);
    assert.equal(pickedAddresses(f, 100).size, 4, 'panic: unhealthy hosts are picked too');
    assert.equal(f.panicPicks.n, 100);
  } finally {
    f.checker.stop();
    f.manager.close();
  }
});

test('healthy_panic_threshold 0 disables panic mode: with every host failed, no host is picked', async () => {
  const f = setup(2, { healthyPanicThreshold: 0 });
  f.checker.start();
  try {
    f.answers.set('10.0.0.1', 'failure');
    f.answers.set('10.0.0.2', 'failure');
    await f.clock.advance(0);
    assert.deepEqual(pickedAddresses(f, 10), new Set(['none']));
    assert.equal(f.panicPicks.n, 0);
  } finally {
    f.checker.stop();
    f.manager.close();
  }
});

test('checks go to health_check_config.port_value when set', async () => {
  const f = setup(2, {
    endpoints: [{ ...endpoint('10.0.0.1', 80), healthCheckPort: 8081 }, endpoint('10.0.0.2', 80)],
  });
  f.checker.start();
  f.checker.stop();
  f.manager.close();
  assert.deepEqual(f.probedPorts, [8081, 80]);
});
