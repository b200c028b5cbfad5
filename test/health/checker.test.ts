/**
 * The primary's checker and the workers' view of it, through one shared host table: verdicts land
 * in the table, a worker's cluster switches its LB at the next pick, and panic mode takes over
 * below healthy_panic_threshold.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ClusterConfig, HealthCheckConfig } from '../../src/config/bootstrap';
import { renderClustersText } from '../../src/admin/clusters';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import type { ClusterStats } from '../../src/stats/cluster-stats';
import { ClusterManager, discoveryFor } from '../../src/upstream/cluster-manager';
import type { DnsResolver, HostDiscovery } from '../../src/upstream/discovery/api';
import {
  ClusterHealthChecker,
  type CheckerDeps,
  type HealthCheckStats,
} from '../../src/upstream/health/checker';
import { HealthEventLog } from '../../src/upstream/health/event-log';
import { Host } from '../../src/upstream/host';
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

interface SetupOptions {
  check?: Partial<HealthCheckConfig>;
  /** Replaces the cluster's own discovery (the checker's only; workers keep the config's). */
  discovery?: HostDiscovery;
  deps?: Partial<CheckerDeps>;
}

function setup(hosts: number, overrides: Partial<ClusterConfig> = {}, opts: SetupOptions = {}): Fixture {
  const check = checkConfig({
    intervalMs: 100,
    unhealthyIntervalMs: 100,
    unhealthyEdgeIntervalMs: 100,
    healthyEdgeIntervalMs: 100,
    timeoutMs: 50,
    unhealthyThreshold: 2,
    healthyThreshold: 2,
    ...opts.check,
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
  const discovery = opts.discovery ?? discoveryFor(config, table, noDns, createBuiltinRegistry());
  const checker = new ClusterHealthChecker(config, check, table, discovery, {
    ...opts.deps,
    stats,
    newProbe: (host, port) => {
      probedPorts.push(port);
      return { check: () => Promise.resolve(answers.get(host.address) ?? 'success'), close: () => {} };
    },
    env: clock,
  });
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

/** Whether `p` has settled (after letting pending microtasks run). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 10; i++) await Promise.resolve();
  return done;
}

test('hosts are failed_active_hc until their first check; one success makes a host healthy; warmed waits for the first round', async () => {
  const f = setup(2, {}, { check: { initialJitterMs: 1000, healthyThreshold: 3 } });
  const flags = (): string[] =>
    renderClustersText([f.config], f.table, { readout: () => undefined })
      .split('\n')
      .filter((l) => l.includes('health_flags'));
  assert.deepEqual(flags(), [
    'web::10.0.0.1:80::health_flags::/failed_active_hc',
    'web::10.0.0.2:80::health_flags::/failed_active_hc',
  ]);
  f.answers.set('10.0.0.2', 'network_failure');
  f.checker.start();
  try {
    // ManualClock.random is 0.5: every first check runs at 500 ms of the 1 s initial_jitter.
    await f.clock.advance(499);
    assert.equal(f.stats.attempt.n, 0);
    assert.equal(await settled(f.checker.warmed), false, 'not warmed before the first round');
    assert.equal(pickedAddresses(f, 20).size, 2, 'every host failed: panic mode picks them all');
    await f.clock.advance(1);
    assert.equal(f.stats.attempt.n, 2);
    assert.equal(await settled(f.checker.warmed), true);
    assert.deepEqual(flags(), [
      'web::10.0.0.1:80::health_flags::healthy',
      'web::10.0.0.2:80::health_flags::/failed_active_hc',
    ]);
    assert.equal(f.stats.healthy.n, 1);
    assert.deepEqual(pickedAddresses(f, 20), new Set(['10.0.0.1']));
  } finally {
    f.checker.stop();
    f.manager.close();
  }
});

test('until the cluster has traffic, checks run every no_traffic_interval (the first one still at start)', async () => {
  let traffic = false;
  const f = setup(1, {}, { check: { noTrafficIntervalMs: 60_000 }, deps: { hadTraffic: () => traffic } });
  f.checker.start();
  try {
    await f.clock.advance(0);
    assert.equal(f.stats.attempt.n, 1, 'the first check runs at once');
    await f.clock.advance(59_999);
    assert.equal(f.stats.attempt.n, 1);
    traffic = true;
    await f.clock.advance(1);
    assert.equal(f.stats.attempt.n, 2);
    await f.clock.advance(100);
    assert.equal(f.stats.attempt.n, 3, 'with traffic: interval');
  } finally {
    f.checker.stop();
    f.manager.close();
  }
});

test('a host discovered later (DNS) starts failed until its first check; one that leaves and returns starts failed again', async () => {
  let publish: (hosts: Host[]) => void = () => {};
  const discovery: HostDiscovery = {
    start: (onHosts, onFirstResult) => {
      publish = onHosts;
      onFirstResult();
    },
    stop: () => {},
  };
  const f = setup(4, {}, { discovery });
  const range = f.table.slotsOf('web')!;
  const host = (address: string): Host =>
    new Host(f.table.claimSlot(range, `${address}:80`), address, 80, 1, 0);
  const a = host('10.0.1.1');
  f.checker.start();
  try {
    assert.equal(await settled(f.checker.warmed), true, 'no hosts at the first result: warm at once');
    publish([a]);
    assert.equal(f.table.get(a.slot, HostColumn.ActiveHcFailed), 1);
    await f.clock.advance(0);
    assert.equal(f.table.get(a.slot, HostColumn.ActiveHcFailed), 0);
    publish([]);
    assert.equal(
      f.table.get(a.slot, HostColumn.ActiveHcFailed),
      1,
      'a removed host is no longer vouched for',
    );
    const again = host('10.0.1.1');
    assert.equal(again.slot, a.slot);
    publish([again]);
    assert.equal(f.checker.isHealthy(again), false);
    assert.equal(f.table.get(a.slot, HostColumn.ActiveHcFailed), 1);
    await f.clock.advance(0);
    assert.equal(f.table.get(a.slot, HostColumn.ActiveHcFailed), 0);
  } finally {
    f.checker.stop();
    f.manager.close();
  }
});

test('event_log_path: Envoy JSON lines for transitions, first failures and the always_log_* options', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-hc-events-'));
  const file = path.join(dir, 'events.log');
  /** Host 1 passes then answers `second`; host 2 times out twice. */
  const run = async (check: Partial<HealthCheckConfig>, second: CheckOutcome): Promise<unknown[]> => {
    fs.rmSync(file, { force: true });
    const eventLog = new HealthEventLog(
      file,
      'web',
      'HTTP',
      () => new Date(Date.UTC(2009, 1, 13, 23, 31, 31, 234)),
    );
    const f = setup(2, {}, { check: { unhealthyThreshold: 1, ...check }, deps: { eventLog } });
    f.answers.set('10.0.0.2', 'network_timeout');
    f.checker.start();
    await f.clock.advance(0); // 1: healthy (first check), 2: failed first check
    f.answers.set('10.0.0.1', second);
    await f.clock.advance(100);
    f.checker.stop();
    f.manager.close();
    return fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
  };
  try {
    const host = (n: number): unknown => ({
      socket_address: {
        protocol: 'TCP',
        address: `10.0.0.${n}`,
        port_value: 80,
        resolver_name: '',
        ipv4_compat: false,
      },
    });
    const event = (n: number, body: Record<string, unknown>): unknown => ({
      health_checker_type: 'HTTP',
      host: host(n),
      cluster_name: 'web',
      ...body,
      timestamp: '2009-02-13T23:31:31.234Z',
    });
    assert.deepEqual(await run({}, 'failure'), [
      event(1, { add_healthy_event: { first_check: true } }),
      event(2, { health_check_failure_event: { failure_type: 'NETWORK_TIMEOUT', first_check: true } }),
      event(1, { eject_unhealthy_event: { failure_type: 'ACTIVE' } }),
    ]);
    const always = await run({ alwaysLogFailures: true, alwaysLogSuccess: true }, 'success');
    assert.deepEqual(always.slice(2), [
      event(1, { successful_health_check_event: {} }),
      event(2, { health_check_failure_event: { failure_type: 'NETWORK_TIMEOUT', first_check: false } }),
    ]);
    assert.deepEqual((await run({ alwaysLogFailures: true }, 'failure')).slice(2), [
      event(1, { eject_unhealthy_event: { failure_type: 'ACTIVE' } }),
      event(1, { health_check_failure_event: { failure_type: 'ACTIVE', first_check: false } }),
      event(2, { health_check_failure_event: { failure_type: 'NETWORK_TIMEOUT', first_check: false } }),
    ]);
    assert.equal(
      fs.readFileSync(file, 'utf8').split('\n')[0],
      '{"health_checker_type":"HTTP","host":{"socket_address":{"protocol":"TCP","address":"10.0.0.1","port_value":80,"resolver_name":"","ipv4_compat":false}},"cluster_name":"web","add_healthy_event":{"first_check":true},"timestamp":"2009-02-13T23:31:31.234Z"}',
      "Envoy's field order",
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
