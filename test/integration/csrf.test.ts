/**
 * The CSRF filter end to end: state-changing requests must come from their own origin (Origin, else
 * Referer) or an `additional_origins` one, or get 403 `Invalid origin`; safe methods pass; a route
 * that only shadows the policy counts without refusing; the csrf stats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTER_FILTER, httpProxyYaml, proxiedOrigin, request, stat, staticCluster } from './harness';

const POLICY = '"@type": type.googleapis.com/envoy.extensions.filters.http.csrf.v3.CsrfPolicy';

const proxy = proxiedOrigin((originPort) =>
  httpProxyYaml({
    virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/shadow" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.csrf:
        ${POLICY}
        filter_enabled: { default_value: { numerator: 0 } }
        shadow_enabled: { default_value: { numerator: 100 } }
  - match: { prefix: "/" }
    route: { cluster: o }`,
    httpFilters: `- name: envoy.filters.http.csrf
  typed_config:
    ${POLICY}
    filter_enabled: { default_value: { numerator: 100 } }
    additional_origins: [{ suffix: ".trusted.example" }]
${ROUTER_FILTER}`,
    clusters: staticCluster('o', [originPort]),
  }),
);

/** [case, method, path, request headers, expected status] */
const CASES: [string, string, string, Record<string, string>, number][] = [
  ['GET from anywhere', 'GET', '/', { origin: 'https://evil.example' }, 200],
  ['POST from its own origin', 'POST', '/', { origin: 'http://app.example:8080' }, 200],
  ['POST from another origin', 'POST', '/', { origin: 'https://evil.example' }, 403],
  ['DELETE from another origin', 'DELETE', '/', { origin: 'https://evil.example' }, 403],
  ['PUT with neither Origin nor Referer', 'PUT', '/', {}, 403],
  ['POST with its own Referer', 'POST', '/', { referer: 'http://app.example:8080/form' }, 200],
  ['POST from an additional origin', 'POST', '/', { origin: 'https://api.trusted.example' }, 200],
  ['POST to a shadowing route', 'POST', '/shadow', { origin: 'https://evil.example' }, 200],
];

for (const [name, method, path, headers, status] of CASES) {
  test(`csrf: ${name}`, async () => {
    const r = await request(proxy.port, { method, path, headers: { host: 'app.example:8080', ...headers } });
    assert.equal(r.status, status);
    if (status === 403) assert.equal(r.body.toString(), 'Invalid origin');
  });
}

test('csrf stats', async () => {
  assert.equal(await stat(proxy.legate, 'http.ingress_http.csrf.missing_source_origin'), 1);
  assert.equal(
    await stat(proxy.legate, 'http.ingress_http.csrf.request_invalid'),
    3,
    'two refused, one shadowed',
  );
  assert.equal(await stat(proxy.legate, 'http.ingress_http.csrf.request_valid'), 3);
});
