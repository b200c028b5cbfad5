import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpConnectionManagerConfig, RouteActionConfig } from '../../src/config/bootstrap';
import { loadBootstrap } from '../../src/config/load';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { QUICKSTART_PATH, SEED_PATH, loadOk, minimalConfig, writeConfig } from './helpers';

function hcmOf(listenerConfig: {
  filterChains: { filters: { config: unknown }[] }[];
}): HttpConnectionManagerConfig {
  return listenerConfig.filterChains[0]!.filters[0]!.config as HttpConnectionManagerConfig;
}

test('the seed config loads unchanged with Envoy defaults filled in', () => {
  const { bootstrap, warnings } = loadBootstrap({ path: SEED_PATH }, createBuiltinRegistry());
  assert.equal(bootstrap.sourcePath, SEED_PATH);
  assert.deepEqual(bootstrap.admin?.address, { address: '0.0.0.0', port: 9901 });
  // The deprecated access_log_path is a file logger with Envoy's default format.
  assert.deepEqual(
    bootstrap.admin.accessLog.map((l) => [l.at, l.name, (l.config as { path: string }).path]),
    [['admin.access_log_path', 'envoy.access_loggers.file', '/tmp/admin_access.log']],
  );

  assert.equal(bootstrap.listeners.length, 1);
  const listener = bootstrap.listeners[0]!;
  assert.equal(listener.name, 'listener_0');
  assert.equal(listener.at, 'static_resources.listeners[0]');
  assert.deepEqual(listener.address, { address: '0.0.0.0', port: 10000 });
  assert.equal(listener.perConnectionBufferLimitBytes, 1024 * 1024);
  assert.equal(listener.connectionBalance, 'kernel');
  assert.equal(listener.http1Codec, 'legate');
  assert.equal(listener.filterChains[0]!.filters[0]!.name, 'envoy.filters.network.http_connection_manager');

  const hcm = hcmOf(listener);
  assert.equal(hcm.statPrefix, 'ingress_http');
  assert.equal(hcm.codecType, 'AUTO');
  assert.equal(hcm.streamIdleTimeoutMs, 300_000);
  assert.equal(hcm.requestTimeoutMs, 0);
  assert.equal(hcm.maxRequestHeadersKb, 60);
  assert.equal(hcm.maxRequestHeadersCount, 100);
  assert.equal(hcm.idleTimeoutMs, 3_600_000);
  assert.equal(hcm.generateRequestId, true);
  assert.equal(hcm.acceptHttp10, true);
  assert.equal(hcm.headersWithUnderscoresAction, 'ALLOW');
  assert.equal(hcm.drainTimeoutMs, 5000);
  assert.deepEqual(
    hcm.httpFilters.map((f) => f.name),
    ['envoy.filters.http.router'],
  );
  assert.deepEqual(hcm.httpFilters[0]!.config, {
    suppressEnvoyHeaders: false,
    respectExpectedRqTimeout: false,
  });
  const vh = hcm.routeConfig.virtualHosts[0]!;
  assert.equal(hcm.routeConfig.name, 'local_route');
  assert.equal(vh.name, 'local_service');
  assert.deepEqual(vh.domains, ['*']);
  const route = vh.routes[0]!;
  assert.deepEqual(route.match, {
    kind: 'prefix',
    value: '/',
    caseSensitive: true,
    headers: [],
    queryParameters: [],
  });
  const action = route.action as RouteActionConfig;
  assert.equal(action.kind, 'route');
  assert.equal(action.cluster, 'some_service');
  assert.equal(action.timeoutMs, 15_000);
  assert.equal(action.retryPolicy, null);

  assert.equal(bootstrap.clusters.length, 1);
  const cluster = bootstrap.clusters[0]!;
  assert.equal(cluster.name, 'some_service');
  assert.equal(cluster.type, 'STATIC');
  assert.equal(cluster.connectTimeoutMs, 250);
  assert.equal(cluster.lbPolicy, 'ROUND_ROBIN');
  assert.deepEqual(cluster.endpoints, [
    { address: { address: '127.0.0.1', port: 12345 }, weight: 1, priority: 0 },
  ]);
  assert.equal(cluster.perConnectionBufferLimitBytes, 1024 * 1024);
  assert.equal(cluster.idleTimeoutMs, 3_600_000);
  assert.equal(cluster.maxRequestsPerConnection, 0);
  assert.equal(cluster.dnsRefreshRateMs, 5000);
  assert.equal(cluster.dnsLookupFamily, 'AUTO');

  // Only the deprecated admin.access_log_path is worth a warning.
  assert.deepEqual(
    warnings.map((w) => [w.path, w.location]),
    [['admin.access_log_path', `${SEED_PATH}:2:3`]],
  );
});

test('the bootstrap survives structured clone (it crosses to workers)', () => {
  const { bootstrap } = loadBootstrap({ path: SEED_PATH }, createBuiltinRegistry());
  assert.deepEqual(structuredClone(bootstrap), bootstrap);
});

test('the quickstart example adds a demo upstream answering with a direct response', () => {
  const { bootstrap } = loadBootstrap({ path: QUICKSTART_PATH }, createBuiltinRegistry());
  assert.deepEqual(bootstrap.admin?.address, { address: '127.0.0.1', port: 9901 });
  const demo = bootstrap.listeners.find((l) => l.name === 'demo_upstream');
  assert.ok(demo);
  assert.deepEqual(demo.address, { address: '127.0.0.1', port: 12345 });
  assert.deepEqual(bootstrap.clusters[0]!.endpoints[0]!.address, demo.address);
  const action = hcmOf(demo).routeConfig.virtualHosts[0]!.routes[0]!.action;
  assert.deepEqual(action, {
    kind: 'direct_response',
    status: 200,
    body: 'hello from the Legate demo upstream\n',
  });
});

test('JSON config files load like YAML', () => {
  const json = JSON.stringify({
    static_resources: {
      clusters: [{ name: 'c', connect_timeout: '1s', load_assignment: { cluster_name: 'c', endpoints: [] } }],
    },
  });
  const { bootstrap } = loadBootstrap({ path: writeConfig(json, 'c.json') }, createBuiltinRegistry());
  assert.equal(bootstrap.clusters[0]!.connectTimeoutMs, 1000);
});

test('lowerCamelCase field names (proto JSON) are accepted', () => {
  const b = loadOk(
    minimalConfig({
      listener: 'perConnectionBufferLimitBytes: 4096',
      hcm: 'streamIdleTimeout: 10s\nxffNumTrustedHops: 2\nhttpProtocolOptions: { acceptHttp10: false }',
      cluster: 'lbPolicy: LEAST_REQUEST\nconnectTimeout: 2s\nleastRequestLbConfig: { choiceCount: 3 }',
    }),
  );
  assert.equal(b.listeners[0]!.perConnectionBufferLimitBytes, 4096);
  const hcm = hcmOf(b.listeners[0]!);
  assert.equal(hcm.streamIdleTimeoutMs, 10_000);
  assert.equal(hcm.xffNumTrustedHops, 2);
  assert.equal(hcm.acceptHttp10, false);
  assert.equal(b.clusters[0]!.lbPolicy, 'LEAST_REQUEST');
  assert.equal(b.clusters[0]!.connectTimeoutMs, 2000);
  assert.equal((b.clusters[0]!.lbConfig as { choiceCount: number }).choiceCount, 3);
});

test('routes parse matchers, header mutations, retries, redirects and direct responses', () => {
  const b = loadOk(
    minimalConfig({
      tail: `    lb_policy: RANDOM
  - name: c1
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    load_assignment:
      cluster_name: c1
      endpoints:
      - priority: 1
        lb_endpoints:
        - endpoint: { address: { socket_address: { address: backend.local, port_value: 80 } } }
          load_balancing_weight: 5
`,
      route: `route:
  weighted_clusters:
    clusters:
    - { name: c0, weight: 1 }
    - name: c1
      weight: 3
      request_headers_to_add: [{ header: { key: X-Split, value: b }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]
  prefix_rewrite: /v2/
  timeout: 0s
  retry_policy:
    retry_on: 5xx,reset
    num_retries: 3
    per_try_timeout: 0.5s
    retriable_status_codes: [503]
    retry_back_off: { base_interval: 0.1s }`,
      moreRoutes: `- match:
    safe_regex: { regex: "/items/(?P<id>[0-9]+)" }
    headers:
    - { name: X-Env, string_match: { exact: prod } }
    - { name: x-debug, present_match: true, invert_match: true }
    query_parameters: [{ name: q, string_match: { prefix: a, ignore_case: true } }]
    case_sensitive: false
  redirect: { https_redirect: true, response_code: PERMANENT_REDIRECT }
  response_headers_to_remove: [Server]
- match: { path: /health }
  direct_response: { status: 204 }`,
    }),
  );
  const routes = hcmOf(b.listeners[0]!).routeConfig.virtualHosts[0]!.routes;
  const split = routes[0]!.action as RouteActionConfig;
  assert.deepEqual(
    split.weightedClusters?.map((w) => [w.name, w.weight]),
    [
      ['c0', 1],
      ['c1', 3],
    ],
  );
  assert.deepEqual(split.weightedClusters![1]!.requestHeadersToAdd, [
    { key: 'x-split', value: 'b', appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
  assert.equal(split.prefixRewrite, '/v2/');
  assert.equal(split.timeoutMs, 0);
  assert.deepEqual(split.retryPolicy, {
    retryOn: ['5xx', 'reset'],
    retriesOnGrpcStatus: false,
    numRetries: 3,
    perTryTimeoutMs: 500,
    retriableStatusCodes: [503],
    backOffBaseMs: 100,
    backOffMaxMs: 1000,
  });
  const regexRoute = routes[1]!;
  assert.equal(regexRoute.match.kind, 'safe_regex');
  assert.equal(regexRoute.match.value, '/items/(?P<id>[0-9]+)', 'kept as written; compiled per worker');
  assert.equal(regexRoute.match.caseSensitive, false);
  assert.deepEqual(regexRoute.match.headers, [
    {
      name: 'x-env',
      stringMatch: { kind: 'exact', value: 'prod', ignoreCase: false },
      presentMatch: false,
      invertMatch: false,
      treatMissingHeaderAsEmpty: false,
    },
    {
      name: 'x-debug',
      stringMatch: null,
      presentMatch: true,
      invertMatch: true,
      treatMissingHeaderAsEmpty: false,
    },
  ]);
  assert.deepEqual(regexRoute.match.queryParameters, [
    { name: 'q', stringMatch: { kind: 'prefix', value: 'a', ignoreCase: true }, presentMatch: false },
  ]);
  assert.deepEqual(regexRoute.action, {
    kind: 'redirect',
    httpsRedirect: true,
    schemeRedirect: null,
    hostRedirect: null,
    portRedirect: 0,
    pathRedirect: null,
    prefixRewrite: null,
    responseCode: 308,
    stripQuery: false,
  });
  assert.deepEqual(regexRoute.responseHeadersToRemove, ['server']);
  assert.deepEqual(routes[2]!.action, { kind: 'direct_response', status: 204, body: null });

  const c1 = b.clusters[1]!;
  assert.equal(c1.type, 'STRICT_DNS');
  assert.equal(c1.dnsLookupFamily, 'V4_ONLY');
  assert.deepEqual(c1.endpoints, [
    { address: { address: 'backend.local', port: 80 }, weight: 5, priority: 1 },
  ]);
  assert.equal(b.clusters[0]!.lbPolicy, 'RANDOM');
});

test('Legate extension legate_http1_codec and exact_balance are read', () => {
  const b = loadOk(
    minimalConfig({ listener: 'legate_http1_codec: uws\nconnection_balance_config: { exact_balance: {} }' }),
  );
  assert.equal(b.listeners[0]!.http1Codec, 'uws');
  assert.equal(b.listeners[0]!.connectionBalance, 'exact');
});

test('load_balancing_policy picks the first registered policy', () => {
  const b = loadOk(
    minimalConfig({
      cluster: `load_balancing_policy:
  policies:
  - typed_extension_config:
      name: envoy.load_balancing_policies.client_side_weighted_round_robin
      typed_config: { "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin }
  - typed_extension_config:
      name: envoy.load_balancing_policies.least_request
      typed_config: { "@type": type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest }`,
    }),
  );
  assert.equal(b.clusters[0]!.lbPolicy, 'LEAST_REQUEST');
});
