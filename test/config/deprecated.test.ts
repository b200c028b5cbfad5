import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  TCP_PROXY_FILTER,
  listenerYaml,
  load,
  locationOf,
  minimalConfig,
  registryWithTestFilters,
  withListeners,
} from './helpers';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0]';

test('envoy.router and envoy.http_connection_manager load with warnings naming the new names', () => {
  const text = minimalConfig({ httpFilters: '- name: envoy.router' }).replace(
    'name: envoy.filters.network.http_connection_manager',
    'name: envoy.http_connection_manager',
  );
  const { bootstrap, warnings } = load(text);
  assert.equal(
    bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.name,
    'envoy.filters.network.http_connection_manager',
  );
  assert.deepEqual(
    warnings.map((w) => [w.path, w.message, w.location]),
    [
      [
        `${HCM}.name`,
        "'envoy.http_connection_manager' is a deprecated name; use 'envoy.filters.network.http_connection_manager'",
        locationOf(text, 'name: envoy.http_connection_manager'),
      ],
      [
        `${HCM}.typed_config.http_filters[0].name`,
        "'envoy.router' is a deprecated name; use 'envoy.filters.http.router'",
        locationOf(text, 'name: envoy.router'),
      ],
    ],
  );
});

test('envoy.tcp_proxy resolves to the registered tcp_proxy with a warning', () => {
  const text = withListeners(
    listenerYaml(
      'tcp',
      '127.0.0.1',
      9000,
      TCP_PROXY_FILTER.replace('name: envoy.filters.network.tcp_proxy', 'name: envoy.tcp_proxy'),
    ),
  );
  const { bootstrap, warnings } = load(text, registryWithTestFilters());
  assert.equal(bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.name, 'envoy.filters.network.tcp_proxy');
  assert.deepEqual(
    warnings.map((w) => w.message),
    ["'envoy.tcp_proxy' is a deprecated name; use 'envoy.filters.network.tcp_proxy'"],
  );
});

test('deprecated fields are accepted with a warning and still take effect', () => {
  const { bootstrap, warnings } = load(
    minimalConfig({
      route: `route: { cluster: c0 }
match: { prefix: "/", headers: [{ name: x-a, exact_match: b }] }
response_headers_to_add: [{ header: { key: x-b, value: c }, append: false }]`,
      cluster: 'max_requests_per_connection: 7',
    }).replace('              - match: { prefix: "/" }\n', '              - name: r\n'),
  );
  const route = (
    bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.config as {
      routeConfig: {
        virtualHosts: { routes: { match: { headers: unknown[] }; responseHeadersToAdd: unknown[] }[] }[];
      };
    }
  ).routeConfig.virtualHosts[0]!.routes[0]!;
  assert.deepEqual(route.match.headers[0], {
    name: 'x-a',
    stringMatch: { kind: 'exact', value: 'b', ignoreCase: false },
    presentMatch: false,
    invertMatch: false,
    treatMissingHeaderAsEmpty: false,
  });
  assert.deepEqual(route.responseHeadersToAdd, [
    { key: 'x-b', value: 'c', appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
  ]);
  assert.equal(bootstrap.clusters[0]!.maxRequestsPerConnection, 7);
  assert.deepEqual(
    warnings.map((w) => w.path.split('.').pop()),
    ['exact_match', 'append', 'max_requests_per_connection'],
  );
});
