/** tcp_proxy's typed_config: Envoy's defaults, the fields Legate reads, and located errors. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TcpProxyConfig } from '../../src/filters/network/tcp-proxy/config';
import { errorAt, issuesOf, loadOk } from '../config/helpers';

const FILTER = 'static_resources.listeners[0].filter_chains[0].filters[0]';

function bootstrapWith(tcpProxyFields: string): string {
  return `static_resources:
  listeners:
  - name: tcp
    address: { socket_address: { address: 127.0.0.1, port_value: 9000 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
${tcpProxyFields
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `          ${l}`)
  .join('\n')}
  clusters:
  - name: a
    load_assignment: { cluster_name: a, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 1 } } } }] }] }
  - name: b
    load_assignment: { cluster_name: b, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: 2 } } } }] }] }
`;
}

function tcpProxyOf(fields: string): TcpProxyConfig {
  return loadOk(bootstrapWith(fields)).listeners[0]!.filterChains[0]!.filters[0]!.config as TcpProxyConfig;
}

test('a plain cluster gets Envoy defaults: 1 h idle timeout, one connect attempt, no limits', () => {
  assert.deepEqual(tcpProxyOf('stat_prefix: s\ncluster: a'), {
    statPrefix: 's',
    clusters: [{ name: 'a', weight: 1 }],
    idleTimeoutMs: 3_600_000,
    downstreamIdleTimeoutMs: 0,
    upstreamIdleTimeoutMs: 0,
    maxConnectAttempts: 1,
    maxDownstreamConnectionDurationMs: 0,
    hashSourceIp: false,
    accessLog: [],
    tunneling: null,
  });
});

test('weighted clusters, timeouts, attempts and a source_ip hash policy are read', () => {
  const config = tcpProxyOf(`stat_prefix: s
weighted_clusters: { clusters: [{ name: a, weight: 3 }, { name: b, weight: 1 }] }
idle_timeout: 0s
downstream_idle_timeout: 2s
upstream_idle_timeout: 3s
max_connect_attempts: 4
max_downstream_connection_duration: 60s
hash_policy: [{ source_ip: {} }]`);
  assert.deepEqual(config.clusters, [
    { name: 'a', weight: 3 },
    { name: 'b', weight: 1 },
  ]);
  assert.equal(config.idleTimeoutMs, 0);
  assert.equal(config.downstreamIdleTimeoutMs, 2000);
  assert.equal(config.upstreamIdleTimeoutMs, 3000);
  assert.equal(config.maxConnectAttempts, 4);
  assert.equal(config.maxDownstreamConnectionDurationMs, 60_000);
  assert.equal(config.hashSourceIp, true);
});

test('mistakes are located errors', () => {
  const TC = `${FILTER}.typed_config`;
  assert.match(errorAt(issuesOf(bootstrapWith('cluster: a')), `${TC}.stat_prefix`).message, /missing/);
  assert.match(
    errorAt(issuesOf(bootstrapWith('stat_prefix: s\ncluster: nope')), `${TC}.cluster`).message,
    /nope/,
  );
  assert.match(
    errorAt(
      issuesOf(bootstrapWith('stat_prefix: s\ncluster: a\naccess_log_options: {}')),
      `${TC}.access_log_options`,
    ).message,
    /not supported/,
  );
  assert.match(
    errorAt(
      issuesOf(bootstrapWith('stat_prefix: s\nweighted_clusters: { clusters: [{ name: a }] }')),
      `${TC}.weighted_clusters.clusters[0].weight`,
    ).message,
    /at least 1/,
  );
  assert.match(
    errorAt(
      issuesOf(
        bootstrapWith('stat_prefix: s\ncluster: a\nhash_policy: [{ source_ip: {} }, { source_ip: {} }]'),
      ),
      `${TC}.hash_policy`,
    ).message,
    /at most one/,
  );
  assert.match(
    errorAt(
      issuesOf(bootstrapWith('stat_prefix: s\ncluster: a\nmax_connect_attempts: 0')),
      `${TC}.max_connect_attempts`,
    ).message,
    /./,
  );
});

test('tunneling_config: hostname and literal headers_to_add are read', () => {
  const config = tcpProxyOf(`stat_prefix: s
cluster: a
tunneling_config: { hostname: "h.example:443", headers_to_add: [{ header: { key: X-A, value: b } }] }`);
  assert.deepEqual(config.tunneling, {
    hostname: 'h.example:443',
    headersToAdd: [{ key: 'x-a', value: 'b', appendAction: 'APPEND_IF_EXISTS_OR_ADD' }],
  });
});
