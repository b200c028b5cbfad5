/**
 * Cluster types are registry extensions: the config's `type` is looked up by enum name, the
 * type says how endpoints are written and how many host-table rows they take, and makes the
 * discovery. A new type is a factory and one registration, as this test's does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import type { ClusterTypeFactory } from '../../src/upstream/discovery/api';
import { StaticDiscovery } from '../../src/upstream/discovery/static';
import { ClusterManager } from '../../src/upstream/cluster-manager';
import { HostTable } from '../../src/upstream/host-table';
import { monotonicMs } from '../../src/common/timer-wheel';
import { issuesOf, load } from '../config/helpers';
import { seededRandom } from './helpers';

function clusterYaml(type: string, endpoints: string[]): string {
  return `static_resources:
  clusters:
  - name: c
    type: ${type}
    load_assignment:
      cluster_name: c
      endpoints:
      - lb_endpoints:
${endpoints.map((a) => `        - endpoint: { address: { socket_address: { address: ${a}, port_value: 80 } } }`).join('\n')}
`;
}

/** Two rows per endpoint, IP literals only: a type only this test has. */
const doubledFactory: ClusterTypeFactory = {
  category: 'cluster_type',
  name: 'test.cluster.doubled',
  typeUrls: [],
  enumName: 'DOUBLED',
  endpointAddresses: 'ip',
  slotPerEndpoint: false,
  parseConfig: () => null,
  slotCapacity: (endpoints) => 2 * endpoints.length,
  createDiscovery: (config, slots) => new StaticDiscovery(config, slots),
};

test('the built-in types give the host table its rows; per-type endpoint rules come from the type', () => {
  const c = (type: string, endpoints: string[]) => load(clusterYaml(type, endpoints)).bootstrap.clusters[0]!;
  assert.deepEqual(
    [
      c('STATIC', ['10.0.0.1', '10.0.0.2']),
      c('STRICT_DNS', ['a.example']),
      c('LOGICAL_DNS', ['a.example']),
    ].map((x) => [x.slotCapacity, x.slotPerEndpoint]),
    [
      [2, true],
      [16, false],
      [8, false],
    ],
  );
  const message = (type: string, endpoints: string[]): string =>
    issuesOf(clusterYaml(type, endpoints))
      .map((i) => i.message)
      .join('\n');
  assert.match(message('STATIC', ['a.example']), /'a.example' is not an IP address/);
  assert.match(message('LOGICAL_DNS', ['a.example', 'b.example']), /exactly one endpoint, found 2/);
  assert.match(message('ORIGINAL_DST', ['10.0.0.1']), /ORIGINAL_DST is not supported by Legate yet/);
  assert.match(message('EDS', ['10.0.0.1']), /an EDS cluster takes its endpoints from eds_cluster_config/);
  assert.match(message('NOPE', ['10.0.0.1']), /NOPE/);
});

test('a registered cluster type is accepted by the loader and built by the cluster manager', async () => {
  const registry = createBuiltinRegistry();
  assert.match(
    issuesOf(clusterYaml('DOUBLED', ['10.0.0.1']), registry)
      .map((i) => i.message)
      .join('\n'),
    /DOUBLED/,
    'unknown before it is registered',
  );
  registry.register(doubledFactory);
  const config = load(clusterYaml('DOUBLED', ['10.0.0.1', '10.0.0.2']), registry).bootstrap.clusters[0]!;
  assert.equal(config.slotCapacity, 4);
  const table = HostTable.allocate([config]);
  assert.equal(table.slotsOf('c')!.capacity, 4);
  const manager = new ClusterManager([config], {
    hostTable: table,
    registry,
    random: seededRandom(1),
    nowMs: monotonicMs,
  });
  try {
    await manager.initialize();
    assert.deepEqual(
      manager.get('c')!.hosts.map((h) => h.key),
      ['10.0.0.1:80', '10.0.0.2:80'],
    );
  } finally {
    manager.close();
  }
});
