/**
 * Routes that match pseudo-headers (`:method`, `:path`, `:authority`), as Envoy configs often do
 * (a route for CORS preflights, one per method): through Legate on real sockets. They never matched
 * before: the HTTP/1 header map has no pseudo-headers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpProxyYaml, proxiedOrigin, request, staticCluster } from './harness';

const proxy = proxiedOrigin(
  (originPort) =>
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/", headers: [{ name: ":method", string_match: { exact: OPTIONS } }] }
    direct_response: { status: 204 }
  - match: { prefix: "/", headers: [{ name: ":authority", string_match: { exact: static.example } }] }
    direct_response: { status: 200, body: { inline_string: "static" } }
  - match: { prefix: "/" }
    route: { cluster: o }`,
      clusters: staticCluster('o', [originPort]),
    }),
  (_req, res) => res.end('origin'),
);

test('a :method route answers OPTIONS; other methods go on', async () => {
  assert.equal((await request(proxy.port, { method: 'OPTIONS' })).status, 204);
  assert.equal((await request(proxy.port)).body.toString(), 'origin');
});

test('an :authority route matches the Host', async () => {
  assert.equal(
    (await request(proxy.port, { headers: { host: 'static.example' } })).body.toString(),
    'static',
  );
});
