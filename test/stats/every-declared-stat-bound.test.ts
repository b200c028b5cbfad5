/**
 * Every stat Legate declares is bound by some code: a declared name that no thread binds can only
 * ever read 0 (issue 10, defect 9: six such stats were shown in /stats). The proxy runs a config
 * that uses every component that declares stats (checked against the registry, so a new filter with
 * stats must join it), serves some traffic, and the admin's test hook lists what no thread bound.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import type { HttpFilterFactory } from '../../src/filters/http/api';
import type { NetworkFilterFactory } from '../../src/filters/network/api';
import {
  admin,
  indent,
  request,
  startLegate,
  startOrigin,
  stat,
  tcpProxyListener,
} from '../integration/harness';

const LOCAL_RATELIMIT = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ALWAYS = '{ default_value: { numerator: 100, denominator: HUNDRED }, runtime_key: k }';

function kitchenSink(originPort: number): string {
  return `admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
static_resources:
  listeners:
  - name: proxy
    address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.rbac
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC
          stat_prefix: guard
          rules: { action: LOG, policies: { all: { permissions: [{ any: true }], principals: [{ any: true }] } } }
          shadow_rules: { action: LOG, policies: { all: { permissions: [{ any: true }], principals: [{ any: true }] } } }
      - name: envoy.filters.network.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.local_ratelimit.v3.LocalRateLimit
          stat_prefix: conn_rl
          token_bucket: { max_tokens: 1000, fill_interval: 1s }
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: { prefix: "/limited" }
                route: { cluster: checked }
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit:
                    "@type": ${LOCAL_RATELIMIT}
                    stat_prefix: per_route_rl
                    token_bucket: { max_tokens: 1000, fill_interval: 1s }
              - match: { prefix: "/redirect" }
                redirect: { path_redirect: /elsewhere }
              - match: { prefix: "/direct" }
                direct_response: { status: 200, body: { inline_string: direct } }
              - match: { prefix: "/" }
                route: { cluster: plain }
          http_filters:
          - name: envoy.filters.http.health_check
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
              pass_through_mode: false
              headers: [{ name: ":path", string_match: { exact: /healthz } }]
          - name: envoy.filters.http.local_ratelimit
            typed_config:
              "@type": ${LOCAL_RATELIMIT}
              stat_prefix: http_rl
              token_bucket: { max_tokens: 1000, fill_interval: 1s }
              filter_enabled: ${ALWAYS}
              filter_enforced: ${ALWAYS}
          - name: envoy.filters.http.grpc_stats
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig
              enable_upstream_stats: true
          - name: envoy.filters.http.cors
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
          - name: envoy.filters.http.csrf
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy
              filter_enabled: { default_value: { numerator: 0 } }
          - name: envoy.filters.http.rbac
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC
              rules: { action: LOG, policies: { all: { permissions: [{ any: true }], principals: [{ any: true }] } } }
              shadow_rules: { action: LOG, policies: { all: { permissions: [{ any: true }], principals: [{ any: true }] } } }
          - name: envoy.filters.http.fault
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault }
          - name: envoy.filters.http.compressor
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.compressor.v3.Compressor
              compressor_library:
                name: text
                typed_config: { "@type": type.googleapis.com/envoy.extensions.compression.gzip.compressor.v3.Gzip }
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
${indent(tcpProxyListener({ cluster: 'plain' }), 2)}
  clusters:
  - name: plain
    connect_timeout: 1s
    load_assignment:
      cluster_name: plain
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${originPort} } } } }] }]
  - name: checked
    connect_timeout: 1s
    circuit_breakers:
      thresholds:
      - { priority: DEFAULT, track_remaining: true }
      - { priority: HIGH, track_remaining: true }
    outlier_detection: { interval: 1s }
    health_checks:
    - timeout: 1s
      interval: 0.2s
      no_traffic_interval: 0.2s
      unhealthy_threshold: 2
      healthy_threshold: 1
      http_health_check: { path: /hc }
    load_assignment:
      cluster_name: checked
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${originPort} } } } }] }]
`;
}

test('the kitchen-sink config uses every extension that declares stats', () => {
  const yaml = kitchenSink(1);
  const registry = createBuiltinRegistry();
  for (const name of registry.names('network_filter')) {
    const f = registry.get('network_filter', name) as NetworkFilterFactory;
    if (f.declareStats) assert.ok(yaml.includes(`name: ${name}\n`), `${name} declares stats`);
  }
  for (const name of registry.names('http_filter')) {
    const f = registry.get('http_filter', name) as HttpFilterFactory;
    if (f.declareStats || f.declarePerRouteStats) {
      assert.ok(yaml.includes(`name: ${name}\n`), `${name} declares stats`);
    }
    if (f.declarePerRouteStats) assert.ok(yaml.includes(`${name}:\n`), `${name} declares per-route stats`);
  }
});

test('every declared stat is bound by some thread of a running proxy', async () => {
  const origin = await startOrigin();
  const legate = await startLegate(kitchenSink(origin.port), { env: { LEGATE_TEST_HOOKS: '1' } });
  try {
    const port = legate.ports.get('proxy')!;
    for (const path of ['/', '/limited', '/redirect', '/direct', '/healthz']) {
      const r = await request(port, { path });
      assert.ok(r.status < 500, `${path}: ${r.status}`);
    }
    // A gRPC call to each cluster (grpc_stats binds a cluster's names on its first call); the
    // origin is not a gRPC server, but one message went upstream.
    for (const path of ['/s/m', '/limited/m']) {
      const body = Buffer.from([0, 0, 0, 0, 1, 42]);
      const r = await request(port, {
        method: 'POST',
        path,
        body,
        headers: { 'content-type': 'application/grpc' },
      });
      assert.equal(r.status, 200, path);
    }
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(legate.ports.get('tcp')!, '127.0.0.1', () => s.end('GET / HTTP/1.0\r\n\r\n'));
      s.on('error', reject);
      s.on('close', () => resolve());
      s.resume();
    });
    // The router's own counters: every request whose headers reached it (not /healthz, answered
    // by health_check before it; the gRPC calls too), the redirect and the direct response.
    assert.deepEqual(
      await Promise.all(
        ['rq_total', 'rq_redirect', 'rq_direct_response'].map((n) => stat(legate, `http.ingress_http.${n}`)),
      ),
      [6, 1, 1],
    );
    const r = await admin(legate, '/debug/unbound_stats');
    assert.equal(r.status, 200);
    const unbound = JSON.parse(r.body.toString()) as string[];
    assert.deepEqual(unbound, [], `declared but never bound:\n${unbound.join('\n')}`);
  } finally {
    await legate.stop();
    await origin.close();
  }
});
