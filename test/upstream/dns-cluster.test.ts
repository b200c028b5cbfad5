/** STRICT_DNS and LOGICAL_DNS clusters: real lookups of localhost, and host-set updates over time. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClusterConfig } from '../../src/config/bootstrap';
import { Cluster } from '../../src/upstream/cluster';
import type { DnsResolver } from '../../src/upstream/discovery/api';
import { filterFamily, systemDnsResolver } from '../../src/upstream/discovery/dns-resolver';
import { LogicalDnsDiscovery } from '../../src/upstream/discovery/logical-dns';
import { StrictDnsDiscovery } from '../../src/upstream/discovery/strict-dns';
import { HostTable } from '../../src/upstream/host-table';
import { NO_LB_CONTEXT } from '../../src/upstream/lb/api';
import { roundRobinFactory } from '../../src/upstream/lb/round-robin';
import { clusterConfig, countPicks, endpoint, lbEnv, until } from './helpers';

const noConnections = (): never => {
  throw new Error('these tests open no connection');
};

function dnsCluster(config: ClusterConfig, resolver: DnsResolver): { cluster: Cluster; table: HostTable } {
  const table = HostTable.allocate([config]);
  const slots = table.slotsOf(config.name)!;
  const discovery =
    config.type === 'LOGICAL_DNS'
      ? new LogicalDnsDiscovery(config, slots, table, resolver)
      : new StrictDnsDiscovery(config, slots, table, resolver);
  const cluster = new Cluster(config, {
    lbFactory: roundRobinFactory,
    lbEnv: lbEnv(table),
    discovery,
    connector: noConnections,
    socketConnector: noConnections,
    http1Connector: noConnections,
  });
  return { cluster, table };
}

/** A resolver that returns the scripted answers in turn (the last one forever); Errors are thrown. */
function scriptedResolver(answers: (string[] | Error)[]): DnsResolver & { calls: number; names: string[] } {
  const resolver = Object.assign(
    async (name: string): Promise<string[]> => {
      const answer = answers[Math.min(resolver.calls, answers.length - 1)]!;
      resolver.calls++;
      resolver.names.push(name);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    { calls: 0, names: [] as string[] },
  );
  return resolver;
}

test('the system resolver finds localhost per lookup family', async () => {
  assert.deepEqual(await systemDnsResolver('localhost', 'V4_ONLY'), ['127.0.0.1']);
  assert.ok((await systemDnsResolver('localhost', 'ALL')).includes('127.0.0.1'));
  await assert.rejects(systemDnsResolver('no-such-host.invalid', 'AUTO'));
});

test('dns_lookup_family filters and orders answers as Envoy does', () => {
  const both = [
    { address: '127.0.0.1', family: 4 },
    { address: '::1', family: 6 },
  ];
  assert.deepEqual(filterFamily(both, 'AUTO'), ['::1']);
  assert.deepEqual(filterFamily(both, 'V4_PREFERRED'), ['127.0.0.1']);
  assert.deepEqual(filterFamily(both, 'ALL'), ['127.0.0.1', '::1']);
  assert.deepEqual(filterFamily([both[0]!], 'AUTO'), ['127.0.0.1'], 'AUTO falls back to IPv4');
  assert.deepEqual(filterFamily([both[1]!], 'V4_PREFERRED'), ['::1']);
  assert.deepEqual(filterFamily([both[1]!], 'V4_ONLY'), []);
});

test('STRICT_DNS resolves localhost before it is initialized', async () => {
  const config = clusterConfig({
    type: 'STRICT_DNS',
    dnsLookupFamily: 'V4_ONLY',
    endpoints: [endpoint('localhost', 8080)],
  });
  const { cluster } = dnsCluster(config, systemDnsResolver);
  try {
    await cluster.initialized;
    assert.deepEqual(
      cluster.hosts.map((h) => h.key),
      ['127.0.0.1:8080'],
    );
    assert.equal(cluster.chooseHost(NO_LB_CONTEXT)?.address, '127.0.0.1');
  } finally {
    cluster.close();
  }
});

test('STRICT_DNS follows DNS changes, keeps hosts that stay, and survives a failed lookup', async () => {
  const resolver = scriptedResolver([
    ['10.0.0.1', '10.0.0.2'],
    ['10.0.0.2', '10.0.0.3'],
    new Error('SERVFAIL'),
  ]);
  const config = clusterConfig({
    type: 'STRICT_DNS',
    dnsRefreshRateMs: 20,
    endpoints: [endpoint('svc.example', 80, 1), endpoint('10.9.9.9', 81, 1)],
  });
  const { cluster, table } = dnsCluster(config, resolver);
  try {
    await cluster.initialized;
    assert.deepEqual(
      cluster.hosts.map((h) => h.key),
      ['10.0.0.1:80', '10.0.0.2:80', '10.9.9.9:81'],
    );
    const kept = cluster.hosts[1]!;
    const removed = cluster.hosts[0]!;
    const oldPool = cluster.pool(removed);

    await until(() => cluster.hosts.some((h) => h.address === '10.0.0.3'), 'the second answer');
    assert.deepEqual(
      cluster.hosts.map((h) => h.key),
      ['10.0.0.2:80', '10.0.0.3:80', '10.9.9.9:81'],
    );
    assert.equal(cluster.hosts[0], kept, 'an address that stays keeps its Host (and pool)');
    assert.notEqual(cluster.pool(removed), oldPool, "the removed host's pool was dropped");
    const counts = countPicks(() => cluster.chooseHost(NO_LB_CONTEXT), 300);
    assert.equal(counts.get(removed), undefined);
    assert.equal(counts.size, 3);
    const range = table.slotsOf('test')!;
    assert.equal(table.claimSlot(range, '10.0.0.2:80'), kept.slot, 'the slot stays with the address');

    assert.ok(!resolver.names.includes('10.9.9.9'), 'IP literals are not looked up');
    const callsBefore = resolver.calls;
    await until(() => resolver.calls >= callsBefore + 2, 'failed refreshes');
    assert.equal(cluster.hosts.length, 3, 'a failed lookup keeps the previous hosts');
  } finally {
    cluster.close();
  }
});

test('LOGICAL_DNS uses the first address only and moves when it changes', async () => {
  const resolver = scriptedResolver([
    ['10.0.0.1', '10.0.0.2'],
    ['10.0.0.5', '10.0.0.1'],
  ]);
  const config = clusterConfig({
    type: 'LOGICAL_DNS',
    dnsRefreshRateMs: 20,
    endpoints: [endpoint('svc.example', 443)],
  });
  const { cluster } = dnsCluster(config, resolver);
  try {
    await cluster.initialized;
    assert.deepEqual(
      cluster.hosts.map((h) => h.key),
      ['10.0.0.1:443'],
    );
    await until(() => cluster.hosts[0]?.address === '10.0.0.5', 'the address change');
    assert.equal(cluster.hosts.length, 1);
    assert.equal(cluster.chooseHost(NO_LB_CONTEXT)?.key, '10.0.0.5:443');
  } finally {
    cluster.close();
  }
});
