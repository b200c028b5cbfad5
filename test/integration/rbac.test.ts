/**
 * The HTTP RBAC filter end to end: ALLOW policies (a permission and a principal each: methods,
 * paths, headers, the client's address), a route that turns RBAC off and one with DENY policies of
 * its own, shadow rules that only count, the 403 and the stats; unsupported parts are config errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTER_FILTER, httpProxyYaml, proxiedOrigin, request, stat, staticCluster } from './harness';
import { issuesOf, minimalConfig } from '../config/helpers';

const RBAC = '"@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC';
const PER_ROUTE = '"@type": type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute';

const proxy = proxiedOrigin((originPort) =>
  httpProxyYaml({
    virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/open" }
    route: { cluster: o }
    typed_per_filter_config:
      rbac: { ${PER_ROUTE} }
  - match: { prefix: "/deny-local" }
    route: { cluster: o }
    typed_per_filter_config:
      rbac:
        ${PER_ROUTE}
        rbac:
          rules:
            action: DENY
            policies:
              local:
                permissions: [{ any: true }]
                principals: [{ direct_remote_ip: { address_prefix: 127.0.0.0, prefix_len: 8 } }]
  - match: { prefix: "/" }
    route: { cluster: o }`,
    httpFilters: `- name: rbac
  typed_config:
    ${RBAC}
    rules:
      action: ALLOW
      policies:
        admins:
          permissions:
          - and_rules:
              rules:
              - header: { name: ":method", string_match: { exact: POST } }
              - url_path: { path: { prefix: /admin } }
          principals: [{ header: { name: x-role, string_match: { exact: admin } } }]
        readers:
          permissions: [{ header: { name: ":method", string_match: { exact: GET } } }]
          principals: [{ remote_ip: { address_prefix: 127.0.0.1, prefix_len: 32 } }]
    shadow_rules:
      action: DENY
      policies:
        no-debug:
          permissions: [{ url_path: { path: { prefix: /debug } } }]
          principals: [{ any: true }]
${ROUTER_FILTER}`,
    clusters: staticCluster('o', [originPort]),
  }),
);

/** [case, method, path, headers, expected status] */
const CASES: [string, string, string, Record<string, string>, number][] = [
  ['a reader from 127.0.0.1 reads', 'GET', '/', {}, 200],
  ['nobody may POST elsewhere', 'POST', '/x', { 'x-role': 'admin' }, 403],
  ['an admin POSTs to /admin', 'POST', '/admin/users', { 'x-role': 'admin' }, 200],
  ['a non-admin may not', 'POST', '/admin/users', { 'x-role': 'user' }, 403],
  ['the query is not part of url_path', 'POST', '/admin?next=/x', { 'x-role': 'admin' }, 200],
  ['a route with an empty RBACPerRoute is open', 'POST', '/open', {}, 200],
  ["a route's DENY policy replaces the filter's", 'GET', '/deny-local', {}, 403],
  ['shadow rules only count', 'GET', '/debug', {}, 200],
];

for (const [name, method, path, headers, status] of CASES) {
  test(`rbac: ${name}`, async () => {
    const r = await request(proxy.port, { method, path, headers });
    assert.equal(r.status, status);
    if (status === 403) assert.equal(r.body.toString(), 'RBAC: access denied');
  });
}

test('rbac stats', async () => {
  assert.equal(await stat(proxy.legate, 'http.ingress_http.rbac.denied'), 3);
  assert.equal(await stat(proxy.legate, 'http.ingress_http.rbac.allowed'), 4);
  assert.equal(await stat(proxy.legate, 'http.ingress_http.rbac.shadow_denied'), 1);
});

test('unsupported RBAC parts are config errors at their field', () => {
  const issues = issuesOf(
    minimalConfig({
      httpFilters: `- name: rbac
  typed_config:
    ${RBAC}
    rules:
      policies:
        p:
          permissions: [{ metadata: { filter: f } }]
          principals: [{ any: true }]
          condition: { call_expr: {} }
- name: envoy.filters.http.router`,
    }),
  );
  const paths = issues.map((i) => i.path);
  assert.ok(
    paths.some((p) => p.endsWith('rules.policies.p.permissions[0].metadata')),
    paths.join('\n'),
  );
  assert.ok(
    paths.some((p) => p.endsWith('rules.policies.p.condition')),
    paths.join('\n'),
  );
});
