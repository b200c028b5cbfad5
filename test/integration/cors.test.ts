/**
 * The CORS filter (`envoy.filters.http.cors`) end to end, on a config shaped like Envoy's gRPC-Web
 * example: preflights answered by Legate with the policy's headers; other requests from an allowed
 * origin get access-control-allow-origin and -expose-headers on the upstream's response; an origin
 * the policy does not allow is left alone (its preflight goes upstream, or gets a bare 200 with
 * forward_not_matching_preflights: false); the most specific policy wins; the deprecated virtual
 * host `cors` field works too; cors.origin_valid / origin_invalid count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTER_FILTER, httpProxyYaml, proxiedOrigin, request, stat, staticCluster } from './harness';

const POLICY = '"@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

const VIRTUAL_HOSTS = `
- name: web
  domains: ["web.example"]
  typed_per_filter_config:
    envoy.filters.http.cors:
      ${POLICY}
      allow_origin_string_match: [{ prefix: "*" }]
      allow_methods: GET, PUT, DELETE, POST, OPTIONS
      allow_headers: keep-alive,user-agent,content-type,x-grpc-web,grpc-timeout
      max_age: "1728000"
      expose_headers: grpc-status,grpc-message
  routes:
  - match: { prefix: "/strict" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.cors:
        ${POLICY}
        allow_origin_string_match: [{ exact: "https://app.example" }]
        allow_methods: POST
        allow_credentials: true
  - match: { prefix: "/closed" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.cors:
        ${POLICY}
        allow_origin_string_match: [{ exact: "https://app.example" }]
        forward_not_matching_preflights: false
  - match: { prefix: "/" }
    route: { cluster: o }
- name: legacy
  domains: ["legacy.example"]
  cors:
    allow_origin_string_match: [{ suffix: ".legacy.example" }]
    allow_methods: GET
  routes:
  - match: { prefix: "/" }
    route: { cluster: o }`;

const HTTP_FILTERS = `- name: envoy.filters.http.cors
  typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors }
${ROUTER_FILTER}`;

const proxy = proxiedOrigin(
  (originPort) =>
    httpProxyYaml({
      virtualHosts: VIRTUAL_HOSTS,
      httpFilters: HTTP_FILTERS,
      clusters: staticCluster('o', [originPort]),
    }),
  (req, res) => {
    res.setHeader('x-origin-saw', req.method!);
    res.end('from origin');
  },
);

function preflight(path: string, from: string, host = 'web.example'): ReturnType<typeof request> {
  return request(proxy.port, {
    method: 'OPTIONS',
    path,
    headers: { host, origin: from, 'access-control-request-method': 'POST' },
  });
}

test('a preflight from an allowed origin is answered by Legate with the policy', async () => {
  const before = proxy.origin.requests.length;
  const r = await preflight('/grpc.Service/Method', 'https://anything.example');
  assert.equal(r.status, 200);
  assert.equal(r.headers['access-control-allow-origin'], 'https://anything.example');
  assert.equal(r.headers['access-control-allow-methods'], 'GET, PUT, DELETE, POST, OPTIONS');
  assert.equal(
    r.headers['access-control-allow-headers'],
    'keep-alive,user-agent,content-type,x-grpc-web,grpc-timeout',
  );
  assert.equal(r.headers['access-control-max-age'], '1728000');
  assert.equal(r.headers['access-control-allow-credentials'], undefined);
  assert.equal(proxy.origin.requests.length, before, 'not forwarded');
});

test('an actual request from an allowed origin gets allow-origin and expose-headers on the upstream response', async () => {
  const r = await request(proxy.port, {
    path: '/x',
    headers: { host: 'web.example', origin: 'https://a.example' },
  });
  assert.equal(r.body.toString(), 'from origin');
  assert.equal(r.headers['access-control-allow-origin'], 'https://a.example');
  assert.equal(r.headers['access-control-expose-headers'], 'grpc-status,grpc-message');
  const plain = await request(proxy.port, { path: '/x', headers: { host: 'web.example' } });
  assert.equal(plain.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS');
});

test('the route policy wins; an origin it does not allow is left alone, its preflight forwarded', async () => {
  const allowed = await preflight('/strict', 'https://app.example');
  assert.equal(allowed.status, 200);
  assert.equal(allowed.headers['access-control-allow-credentials'], 'true');
  assert.equal(allowed.headers['access-control-allow-methods'], 'POST');
  const other = await preflight('/strict', 'https://evil.example');
  assert.equal(other.body.toString(), 'from origin');
  assert.equal(other.headers['x-origin-saw'], 'OPTIONS');
  assert.equal(other.headers['access-control-allow-origin'], undefined);
});

test('forward_not_matching_preflights: false answers such a preflight with a bare 200', async () => {
  const r = await preflight('/closed', 'https://evil.example');
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-origin-saw'], undefined);
  assert.equal(r.headers['access-control-allow-origin'], undefined);
});

test('the deprecated virtual host cors field', async () => {
  const ok = await preflight('/', 'https://shop.legacy.example', 'legacy.example');
  assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.legacy.example');
  assert.equal(ok.headers['access-control-allow-methods'], 'GET');
  assert.match(proxy.legate.output(), /cors.*deprecated|deprecated.*cors/i);
});

test('origin_valid and origin_invalid count', async () => {
  assert.ok((await stat(proxy.legate, 'http.ingress_http.cors.origin_valid')) >= 4);
  assert.equal(await stat(proxy.legate, 'http.ingress_http.cors.origin_invalid'), 2);
});
