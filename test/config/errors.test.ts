import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadBootstrap } from '../../src/config/load';
import { ConfigError } from '../../src/config/config-error';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import {
  TCP_PROXY_FILTER,
  errorAt,
  issuesOf,
  listenerYaml,
  load,
  locationOf,
  minimalConfig,
  registryWithTestFilters,
  withListeners,
  writeConfig,
} from './helpers';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
const ROUTE0 = `${HCM}.route_config.virtual_hosts[0].routes[0]`;
const CLUSTER0 = 'static_resources.clusters[0]';

test('a misspelt field is an unknown field with a suggestion, located at its key', () => {
  const text = minimalConfig({ cluster: 'lb_polcy: ROUND_ROBIN' });
  const issue = errorAt(issuesOf(text), `${CLUSTER0}.lb_polcy`);
  assert.equal(issue.message, "unknown field 'lb_polcy'");
  assert.equal(issue.hint, "did you mean 'lb_policy'?");
  assert.equal(issue.location, locationOf(text, 'lb_polcy'));
});

test('an unknown enum value lists the allowed values and suggests the closest', () => {
  const text = minimalConfig({ cluster: 'lb_policy: ROUND_ROBBIN' });
  const issue = errorAt(issuesOf(text), `${CLUSTER0}.lb_policy`);
  assert.equal(
    issue.message,
    "unknown value 'ROUND_ROBBIN' (expected one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV, PEAK_EWMA)",
  );
  assert.equal(issue.hint, "did you mean 'ROUND_ROBIN'?");
  const typo = errorAt(issuesOf(minimalConfig({ cluster: 'type: strict_dsn' })), `${CLUSTER0}.type`);
  assert.equal(typo.hint, "did you mean 'STRICT_DNS'?");
});

test('ConfigError.format prints file:line:col, severity, path, message and hint on one line', () => {
  const text = minimalConfig({ cluster: 'lb_policy: ROUND_ROBBIN' });
  const path = writeConfig(text, 'seed.yaml');
  assert.throws(
    () => loadBootstrap({ path }, createBuiltinRegistry()),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const line = locationOf(text, 'lb_policy').replace('<config-yaml>', path);
      assert.equal(
        e.format(),
        `${line}: error: ${CLUSTER0}.lb_policy: unknown value 'ROUND_ROBBIN' (expected one of ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV, PEAK_EWMA); did you mean 'ROUND_ROBIN'?`,
      );
      return true;
    },
  );
});

test('Envoy LB policies Legate lacks are reported as unsupported, not unknown', () => {
  const issue = errorAt(
    issuesOf(minimalConfig({ cluster: 'lb_policy: CLUSTER_PROVIDED' })),
    `${CLUSTER0}.lb_policy`,
  );
  assert.match(issue.message, /CLUSTER_PROVIDED is not supported by Legate yet/);
});

test('a wrong type says what was expected and what was found', () => {
  const text = minimalConfig({ hcm: 'stream_idle_timeout: [1s]' });
  const issue = errorAt(issuesOf(text), `${HCM}.stream_idle_timeout`);
  assert.equal(issue.message, "expected a duration like '15s', found a list");
  const mapping = errorAt(
    issuesOf(minimalConfig({ cluster: 'common_http_protocol_options: "idle_timeout: 1s"' })),
    `${CLUSTER0}.common_http_protocol_options`,
  );
  assert.equal(mapping.message, "expected a mapping, found string 'idle_timeout: 1s'");
  const list = errorAt(
    issuesOf(minimalConfig().replace('domains: ["*"]', 'domains: "*"')),
    `${HCM}.route_config.virtual_hosts[0].domains`,
  );
  assert.equal(list.message, "expected a list, found string '*'");
  const yes = errorAt(
    issuesOf(minimalConfig({ hcm: 'use_remote_address: yes' })),
    `${HCM}.use_remote_address`,
  );
  assert.equal(yes.message, "expected true or false, found string 'yes'");
});

test('durations in other units are rejected with the equivalent in seconds', () => {
  const text = minimalConfig({ cluster: 'connect_timeout: 250ms' });
  const issue = errorAt(issuesOf(text), `${CLUSTER0}.connect_timeout`);
  assert.equal(issue.message, "invalid duration '250ms'");
  assert.match(issue.hint!, /did you mean '0\.25s'\?/);
  assert.equal(issue.location, locationOf(text, 'connect_timeout'));
  const bare = errorAt(
    issuesOf(minimalConfig({ route: 'route: { cluster: c0, timeout: 15 }' })),
    `${ROUTE0}.route.timeout`,
  );
  assert.equal(bare.message, 'expected a duration string, found number 15');
  assert.match(bare.hint!, /'15s'/);
});

test('a route naming an unknown cluster is reported at the route, with a suggestion', () => {
  const text = minimalConfig({ route: 'route: { cluster: c9 }' });
  const issue = errorAt(issuesOf(text), `${ROUTE0}.route.cluster`);
  assert.equal(issue.message, "unknown cluster 'c9'");
  assert.equal(issue.hint, "did you mean 'c0'?");
  assert.equal(issue.location, locationOf(text, 'cluster: c9'));
  const weighted = issuesOf(
    minimalConfig({ route: 'route: { weighted_clusters: { clusters: [{ name: nope, weight: 1 }] } }' }),
  );
  assert.equal(
    errorAt(weighted, `${ROUTE0}.route.weighted_clusters.clusters[0].name`).message,
    "unknown cluster 'nope'",
  );
  // cluster_header is resolved per request; validate_clusters: false opts out, as in Envoy.
  assert.doesNotThrow(() => load(minimalConfig({ route: 'route: { cluster_header: x-cluster }' })));
  assert.doesNotThrow(() =>
    load(
      minimalConfig({ route: 'route: { cluster: later }' }).replace(
        'route_config:\n',
        'route_config:\n            validate_clusters: false\n',
      ),
    ),
  );
});

test('extensions can check their cluster references through the parse context', () => {
  const text = withListeners(
    listenerYaml('tcp', '127.0.0.1', 9000, TCP_PROXY_FILTER.replace('cluster: c0', 'cluster: c1')),
  );
  const issue = errorAt(
    issuesOf(text, registryWithTestFilters()),
    'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.cluster',
  );
  assert.equal(issue.message, "unknown cluster 'c1'");
});

test('duplicate listener names, clashing addresses and duplicate clusters are errors at the second one', () => {
  const registry = registryWithTestFilters();
  const text = withListeners(
    listenerYaml('a', '0.0.0.0', 9000, TCP_PROXY_FILTER),
    listenerYaml('a', '127.0.0.1', 9001, TCP_PROXY_FILTER),
    listenerYaml('b', '127.0.0.1', 9000, TCP_PROXY_FILTER),
    listenerYaml('c', '127.0.0.1', 0, TCP_PROXY_FILTER),
    listenerYaml('d', '127.0.0.1', 0, TCP_PROXY_FILTER),
  ).concat('  - name: c0\n');
  const issues = issuesOf(text, registry);
  assert.equal(
    errorAt(issues, 'static_resources.listeners[1].name').message,
    "duplicate listener name 'a' (also static_resources.listeners[0])",
  );
  assert.match(
    errorAt(issues, 'static_resources.listeners[2].address').message,
    /127\.0\.0\.1:9000 is also bound by static_resources\.listeners\[0\]/,
  );
  assert.equal(
    errorAt(issues, 'static_resources.clusters[1].name').message,
    "duplicate cluster name 'c0' (also static_resources.clusters[0])",
  );
  assert.equal(issues.filter((i) => i.severity === 'error').length, 3, 'port 0 listeners never clash');
});

test('http_filters must be non-empty and end with the router', () => {
  const empty = issuesOf(minimalConfig({ httpFilters: '' }));
  assert.match(errorAt(empty, `${HCM}.http_filters`).message, /needs at least one HTTP filter/);

  const registry = registryWithTestFilters();
  const routerFirst = issuesOf(
    minimalConfig({ httpFilters: '- name: envoy.filters.http.router\n- name: test.http.noop' }),
    registry,
  );
  assert.equal(
    errorAt(routerFirst, `${HCM}.http_filters[0].name`).message,
    "'envoy.filters.http.router' is terminal and must be the last HTTP filter",
  );
  assert.match(
    errorAt(routerFirst, `${HCM}.http_filters[1].name`).message,
    /the last HTTP filter must be terminal/,
  );
  assert.doesNotThrow(() =>
    load(
      minimalConfig({ httpFilters: '- name: test.http.noop\n- name: envoy.filters.http.router' }),
      registry,
    ),
  );
});

test('a filter chain must end in a terminal network filter', () => {
  const text = withListeners(listenerYaml('x', '127.0.0.1', 9000, '- name: test.network.noop'));
  const issue = errorAt(
    issuesOf(text, registryWithTestFilters()),
    'static_resources.listeners[0].filter_chains[0].filters[0].name',
  );
  assert.match(issue.message, /the last network filter must be terminal .* found 'test\.network\.noop'/);
  const noFilters = withListeners(listenerYaml('x', '127.0.0.1', 9000, '')).replace(
    '    - filters:\n',
    '    - filters: []\n',
  );
  assert.match(
    errorAt(issuesOf(noFilters), 'static_resources.listeners[0].filter_chains[0].filters').message,
    /needs at least one network filter/,
  );
});

test('unknown filter names and @types get suggestions; a name contradicting @type is a warning', () => {
  const registry = registryWithTestFilters();
  const misspelt = issuesOf(minimalConfig({ httpFilters: '- name: envoy.filters.http.routr' }));
  const byName = errorAt(misspelt, `${HCM}.http_filters[0].name`);
  assert.equal(byName.message, "unknown or unsupported HTTP filter 'envoy.filters.http.routr'");
  assert.equal(byName.hint, "did you mean 'envoy.filters.http.router'?");

  const badType = issuesOf(
    minimalConfig({
      httpFilters:
        '- name: envoy.filters.http.router\n  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Routr }',
    }),
  );
  assert.equal(
    errorAt(badType, `${HCM}.http_filters[0].typed_config.@type`).hint,
    "did you mean 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router'?",
  );

  const mismatch = withListeners(
    listenerYaml(
      'x',
      '127.0.0.1',
      9000,
      TCP_PROXY_FILTER.replace(
        'envoy.filters.network.tcp_proxy',
        'envoy.filters.network.http_connection_manager',
      ),
    ),
  );
  // Envoy picks the extension by @type: tcp_proxy it is, with a warning about the name.
  const loaded = load(mismatch, registry);
  assert.equal(
    loaded.bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.name,
    'envoy.filters.network.tcp_proxy',
  );
  assert.deepEqual(
    loaded.warnings.map((w) => w.path),
    ['static_resources.listeners[0].filter_chains[0].filters[0].name'],
  );
  assert.match(loaded.warnings[0]!.message, /names another network filter than typed_config's @type/);
});

test('an HCM without typed_config reports its required fields', () => {
  const text = withListeners(
    listenerYaml('x', '127.0.0.1', 9000, '- name: envoy.filters.network.http_connection_manager'),
  );
  const issues = issuesOf(text);
  const at = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
  assert.equal(errorAt(issues, `${at}.stat_prefix`).message, "missing required field 'stat_prefix'");
  assert.equal(errorAt(issues, at).message, 'one of route_config, rds, scoped_routes is required');
});

test('weighted_clusters whose weights sum to 0 are rejected', () => {
  const text = minimalConfig({
    route: 'route: { weighted_clusters: { clusters: [{ name: c0, weight: 0 }] } }',
  });
  assert.match(errorAt(issuesOf(text), `${ROUTE0}.route.weighted_clusters.clusters`).message, /sum to 0/);
});

test('regexes must be valid RE2 that JS reads the same way', () => {
  const route = (regex: string): string =>
    `route: { cluster: c0 }\nmatch: { safe_regex: { regex: '${regex}' } }`;
  const cases: [string, RegExp][] = [
    ['(?<=a)b', /lookahead\/lookbehind are not supported \(RE2 has none\)/],
    ['(a)\\1', /backreferences are not supported \(RE2 has none\)/],
    ['(?=x)', /lookahead/],
    ['a(?i)b', /inline flags are only supported at the start/],
    ['[a-', /Unterminated character class/],
  ];
  for (const [regex, message] of cases) {
    const text = minimalConfig({ route: route(regex) }).replace(
      '              - match: { prefix: "/" }\n',
      '              - name: r\n',
    );
    const issue = errorAt(issuesOf(text), `${ROUTE0}.match.safe_regex.regex`);
    assert.match(issue.message, message, regex);
  }
});

test('status codes and ports out of range are rejected', () => {
  const status = issuesOf(minimalConfig({ route: 'direct_response: { status: 700 }' }));
  assert.equal(
    errorAt(status, `${ROUTE0}.direct_response.status`).message,
    '700 is out of range (must be between 200 and 599)',
  );
  const retry = issuesOf(
    minimalConfig({
      route: 'route: { cluster: c0, retry_policy: { retry_on: 5xx, retriable_status_codes: [99] } }',
    }),
  );
  assert.match(
    errorAt(retry, `${ROUTE0}.route.retry_policy.retriable_status_codes`).message,
    /'99' is not an HTTP status code/,
  );
  const port = issuesOf(minimalConfig().replace('port_value: 8080', 'port_value: 70000'));
  assert.equal(
    errorAt(
      port,
      `${CLUSTER0}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value`,
    ).message,
    '70000 is out of range (must be between 1 and 65535)',
  );
});

test('known but unimplemented fields are errors saying so, at every level', () => {
  const text = minimalConfig({
    listener: 'freebind: true',
    hcm: 'http3_protocol_options: {}\ntracing: {}',
    cluster:
      'health_checks: [{ timeout: 1s, interval: 1s, unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {}, alt_port: 1 }]\noutlier_detection: { detector_event_log_path: /tmp/od.log }\ncircuit_breakers: { per_host_thresholds: [] }\ntransport_socket_matches: []',
  }).replace('    - filters:\n', '    - use_proxy_proto: true\n      filters:\n');
  const issues = issuesOf(text);
  for (const path of [
    'static_resources.listeners[0].freebind',
    'static_resources.listeners[0].filter_chains[0].use_proxy_proto',
    `${HCM}.http3_protocol_options`,
    `${HCM}.tracing`,
    `${CLUSTER0}.health_checks[0].alt_port`,
    `${CLUSTER0}.outlier_detection.detector_event_log_path`,
    `${CLUSTER0}.circuit_breakers.per_host_thresholds`,
    `${CLUSTER0}.transport_socket_matches`,
  ]) {
    assert.equal(errorAt(issues, path).message, 'not supported by Legate yet', path);
  }
});

test('every issue is collected before failing, in file order', () => {
  const text = minimalConfig({
    hcm: 'stat_prefx: x',
    route: 'route: { cluster: nope }',
    cluster: 'connect_timeout: 1m\nlb_policy: RANDM',
  });
  const errors = issuesOf(text).filter((i) => i.severity === 'error');
  assert.deepEqual(
    errors.map((e) => e.path),
    [`${HCM}.stat_prefx`, `${ROUTE0}.route.cluster`, `${CLUSTER0}.connect_timeout`, `${CLUSTER0}.lb_policy`],
  );
});

test('STATIC clusters need IP addresses; listeners too', () => {
  const text = minimalConfig().replace(
    'address: 127.0.0.1, port_value: 8080',
    'address: backend.local, port_value: 8080',
  );
  const issue = errorAt(
    issuesOf(text),
    `${CLUSTER0}.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address`,
  );
  assert.equal(issue.message, "'backend.local' is not an IP address");
  assert.match(issue.hint!, /STRICT_DNS/);
});

test('YAML syntax errors, unreadable files and snake/camel duplicates are located', () => {
  const syntax = issuesOf('static_resources:\n  clusters: [\n');
  assert.match(syntax[0]!.location, /^<config-yaml>:\d+:\d+$/);
  assert.throws(
    () => loadBootstrap({ path: '/nonexistent/legate.yaml' }, createBuiltinRegistry()),
    /\/nonexistent\/legate\.yaml: error: cannot read config file/,
  );
  const both = issuesOf(minimalConfig({ cluster: 'lb_policy: RANDOM\nlbPolicy: RANDOM' }));
  assert.equal(errorAt(both, `${CLUSTER0}.lbPolicy`).message, "'lbPolicy' repeats field 'lb_policy'");
});

test('internal_address_config ranges must be IP prefixes', () => {
  const issues = issuesOf(
    minimalConfig({
      hcm: 'internal_address_config: { cidr_ranges: [{ address_prefix: intranet, prefix_len: 8 }] }',
    }),
  );
  assert.equal(
    errorAt(issues, `${HCM}.internal_address_config.cidr_ranges[0].address_prefix`).message,
    "'intranet' is not an IP address",
  );
  const v4 = issuesOf(
    minimalConfig({
      hcm: 'internal_address_config: { cidr_ranges: [{ address_prefix: 10.0.0.0, prefix_len: 33 }] }',
    }),
  );
  assert.match(
    errorAt(v4, `${HCM}.internal_address_config.cidr_ranges[0].prefix_len`).message,
    /out of range/,
  );
});

test('local_reply_config: mapper status codes, filters and body formats are checked where they are', () => {
  const issues = issuesOf(
    minimalConfig({
      hcm: `local_reply_config:
  mappers:
  - filter: { grpc_status_filter: {} }
    status_code: 700
  body_format: { text_format_source: { inline_string: "%NO_SUCH_OPERATOR%" } }`,
    }),
  );
  const at = `${HCM}.local_reply_config`;
  assert.match(errorAt(issues, `${at}.mappers[0].status_code`).message, /out of range/);
  assert.equal(
    errorAt(issues, `${at}.mappers[0].filter.grpc_status_filter`).message,
    'not supported by Legate yet',
  );
  assert.match(errorAt(issues, `${at}.body_format.text_format_source`).message, /NO_SUCH_OPERATOR/);
});
