/**
 * An error's consequences do not bury it (issue 10, defect 6): the fields of a filter whose type is
 * unknown are not each "unknown field", per-route configs of that filter are not "no HTTP filter
 * named …", and what does follow from an error is printed under it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/config-error';
import { createBuiltinRegistry } from '../../src/registry/builtins';
import { loadBootstrap } from '../../src/config/load';
import { load, locationOf, minimalConfig } from './helpers';

const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

/** An HTTP filter Legate does not have (Envoy's ext_authz), configured, and configured per route too. */
const UNKNOWN_FILTER = minimalConfig({
  httpFilters: `- name: envoy.filters.http.ext_authz
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz
    failure_mode_allow: true
    clear_route_cache: true
    include_peer_certificate: true
    stat_prefix: authz
    transport_api_version: V3
- name: envoy.filters.http.router`,
  route: `route: { cluster: c0 }
typed_per_filter_config:
  envoy.filters.http.ext_authz:
    "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute
    disabled: true`,
});

/** The line of `http_filters:` (below the route, which names the filter too). */
const FILTERS_LINE = UNKNOWN_FILTER.split('\n').findIndex((l) => l.includes('http_filters:')) + 1;

function configError(text: string): ConfigError {
  try {
    loadBootstrap({ configYaml: text }, createBuiltinRegistry());
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  return assert.fail('expected a ConfigError');
}

test('an unknown filter type is the one error; its fields follow from it, its per-route config is not blamed', () => {
  const e = configError(UNKNOWN_FILTER);
  assert.deepEqual(
    e.issues.map((i) => i.path),
    [`${HCM}.http_filters[0].typed_config.@type`],
  );
  assert.deepEqual(
    e.issues[0]!.consequences!.map((i) => i.message),
    [
      "unknown field 'failure_mode_allow'",
      "unknown field 'clear_route_cache'",
      "unknown field 'include_peer_certificate'",
      "unknown field 'stat_prefix'",
      "unknown field 'transport_api_version'",
    ],
  );
  const lines = e.format().split('\n');
  assert.equal(
    lines[0],
    `${locationOf(UNKNOWN_FILTER, '"@type"', FILTERS_LINE)}: error: ` +
      `${HCM}.http_filters[0].typed_config.@type: unknown or unsupported HTTP filter type ` +
      "'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz'; Legate has: " +
      createBuiltinRegistry().names('http_filter').join(', '),
  );
  assert.deepEqual(lines.slice(1), [
    `  ${locationOf(UNKNOWN_FILTER, 'failure_mode_allow', FILTERS_LINE)}: note: ${HCM}.http_filters[0].typed_config.failure_mode_allow: unknown field 'failure_mode_allow'`,
    `  ${locationOf(UNKNOWN_FILTER, 'clear_route_cache', FILTERS_LINE)}: note: ${HCM}.http_filters[0].typed_config.clear_route_cache: unknown field 'clear_route_cache'`,
    `  ${locationOf(UNKNOWN_FILTER, 'include_peer_certificate', FILTERS_LINE)}: note: ${HCM}.http_filters[0].typed_config.include_peer_certificate: unknown field 'include_peer_certificate'`,
    '  … and 2 more issues that follow from it',
  ]);
});

test('an optional filter of an unknown type is skipped with a warning, and so are its per-route configs', () => {
  const text = UNKNOWN_FILTER.replace(
    '- name: envoy.filters.http.ext_authz\n',
    '- name: envoy.filters.http.ext_authz\n            is_optional: true\n',
  );
  const { bootstrap, warnings } = load(text);
  const hcm = bootstrap.listeners[0]!.filterChains[0]!.filters[0]!.config as {
    httpFilters: { name: string }[];
  };
  assert.deepEqual(
    hcm.httpFilters.map((f) => f.name),
    ['envoy.filters.http.router'],
  );
  assert.deepEqual(
    warnings.map((w) => w.path),
    [`${HCM}.http_filters[0].typed_config.@type`],
  );
  assert.match(warnings[0]!.message, /skipping optional HTTP filter of unknown type/);
});

test('errors that do not follow from another keep their own line, in file order', () => {
  const text = minimalConfig({ cluster: 'lb_polcy: RANDOM', hcm: 'stat_prefx: x' });
  const e = configError(text);
  assert.deepEqual(
    e.issues.map((i) => [i.path, i.consequences]),
    [
      [`${HCM}.stat_prefx`, undefined],
      ['static_resources.clusters[0].lb_polcy', undefined],
    ],
  );
});
