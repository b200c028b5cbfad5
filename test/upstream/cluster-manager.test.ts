/** The per-worker ClusterManager end to end: config → clusters → LB → pool → real upstreams. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { ClusterManager } from '../../src/upstream/cluster-manager';
import { HostColumn, HostTable } from '../../src/upstream/host-table';
import { NO_LB_CONTEXT } from '../../src/upstream/lb/api';
import { monotonicMs } from '../../src/common/timer-wheel';
import { clusterConfig, countPicks, endpoint, seededRandom } from './helpers';
import { TestRequest, startServer } from './pool-harness';

test('clusters are built from config and route requests to real upstreams', async () => {
  const servers = await Promise.all([startServer(), startServer()]);
  const configs = [
    clusterConfig({ name: 'web', endpoints: servers.map((s) => endpoint('127.0.0.1', s.port)) }),
    clusterConfig({
      name: 'local',
      type: 'STRICT_DNS',
      dnsLookupFamily: 'V4_ONLY',
      lbPolicy: 'LEAST_REQUEST',
      lbConfig: { choiceCount: 2, activeRequestBias: 1 },
      endpoints: [endpoint('localhost', servers[0]!.port)],
    }),
  ];
  const table = HostTable.allocate(configs);
  const manager = new ClusterManager(configs, {
    hostTable: table,
    registry: createBuiltinRegistry(),
    random: seededRandom(1),
    nowMs: monotonicMs,
  });
  try {
    await manager.initialize();
    assert.equal(manager.get('nope'), undefined);
    assert.deepEqual(
      [...manager.clusters].map((c) => c.name),
      ['web', 'local'],
    );

    const web = manager.get('web')!;
    const picks = countPicks(() => web.chooseHost(NO_LB_CONTEXT), 10);
    assert.deepEqual([...picks.values()], [5, 5], 'round robin over both endpoints');

    const seen = new Set<number>();
    for (let i = 0; i < 4; i++) {
      const host = web.chooseHost(NO_LB_CONTEXT)!;
      assert.equal(web.pool(host), web.pool(host), 'one pool per host');
      const request = new TestRequest();
      web.pool(host)!.newStream(request, request);
      const outcome = await request.done;
      assert.equal(outcome.status, 200);
      seen.add(host.port);
    }
    assert.equal(seen.size, 2);

    const local = manager.get('local')!;
    assert.deepEqual(
      local.hosts.map((h) => h.key),
      [`127.0.0.1:${servers[0]!.port}`],
    );
    const host = local.chooseHost(NO_LB_CONTEXT)!;
    const request = new TestRequest();
    local.pool(host)!.newStream(request, request);
    assert.equal((await request.done).status, 200);
  } finally {
    manager.close();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('a health change rebuilds the balancer', () => {
  const configs = [clusterConfig({ endpoints: [endpoint('10.0.0.1', 80), endpoint('10.0.0.2', 80)] })];
  const table = HostTable.allocate(configs);
  const manager = new ClusterManager(configs, {
    hostTable: table,
    registry: createBuiltinRegistry(),
    random: seededRandom(2),
    nowMs: monotonicMs,
  });
  try {
    const cluster = manager.get('test')!;
    const [a, b] = cluster.hosts;
    // Health lives in the shared host table (HostTable.isHostUsable); Host.healthy mirrors it.
    table.set(a!.slot, HostColumn.OutlierEjected, 1);
    cluster.onHostHealthChanged();
    assert.equal(countPicks(() => cluster.chooseHost(NO_LB_CONTEXT), 20).get(b!), 20);
  } finally {
    manager.close();
  }
});

test('an lb_policy nobody registered is a startup error', () => {
  const configs = [clusterConfig({ lbPolicy: 'CLUSTER_PROVIDED', endpoints: [endpoint('10.0.0.1', 80)] })];
  assert.throws(
    () =>
      new ClusterManager(configs, {
        hostTable: HostTable.allocate(configs),
        registry: createBuiltinRegistry(),
        random: Math.random,
        nowMs: monotonicMs,
      }),
    /CLUSTER_PROVIDED/,
  );
});

test('update keeps unchanged clusters, swaps changed ones in warmed, and keeps removed ones for old routes until released', async () => {
  const registry = createBuiltinRegistry();
  const before = [
    clusterConfig({ name: 'same', endpoints: [endpoint('127.0.0.1', 1)] }),
    clusterConfig({ name: 'changed', endpoints: [endpoint('127.0.0.1', 2)] }),
    clusterConfig({ name: 'removed', endpoints: [endpoint('127.0.0.1', 3)] }),
  ];
  const table = HostTable.allocate(before);
  const manager = new ClusterManager(before, {
    hostTable: table,
    registry,
    random: seededRandom(1),
    nowMs: monotonicMs,
  });
  try {
    await manager.initialize();
    const [same, changed, removed] = ['same', 'changed', 'removed'].map((n) => manager.get(n)!);
    const after = [
      // Same config, another location in the file: still the same cluster.
      { ...before[0]!, at: 'elsewhere' },
      {
        ...before[1]!,
        lbPolicy: 'LEAST_REQUEST' as const,
        lbConfig: { choiceCount: 2, activeRequestBias: 1 },
      },
      clusterConfig({ name: 'added', endpoints: [endpoint('127.0.0.1', 4)] }),
    ];
    table.update(table.relayout(after, before));
    await manager.update(after);
    assert.equal(manager.get('same'), same);
    assert.notEqual(manager.get('changed'), changed);
    assert.equal(manager.get('changed')!.hosts.length, 1, 'swapped in with its hosts known');
    assert.equal(manager.get('added')!.hosts[0]!.port, 4);
    assert.deepEqual(
      [...manager.clusters].map((c) => c.name),
      ['same', 'changed', 'added'],
    );
    assert.equal(manager.get('removed'), removed, 'a removed cluster still serves old routes');
    manager.releaseRemoved();
    assert.equal(manager.get('removed'), undefined);
  } finally {
    manager.close();
  }
});
