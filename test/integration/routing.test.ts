/**
 * Route matching and route actions end to end: direct responses, redirects, rewrites, header and
 * query matchers, domains, weighted clusters and header mutations.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  startLegate,
  startOrigin,
  request,
  httpProxyYaml,
  staticCluster,
  type LegateProcess,
  type Origin,
} from './harness';

let a: Origin;
let b: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  a = await startOrigin();
  b = await startOrigin();
  const yaml = httpProxyYaml({
    virtualHosts: `
- name: api
  domains: ["api.example.com", "api.example.com:8080"]
  request_headers_to_add:
  - header: { key: x-vhost, value: api }
  routes:
  - match: { prefix: "/" }
    route: { cluster: b }
- name: wildcard
  domains: ["*.example.com"]
  routes:
  - match: { prefix: "/" }
    direct_response: { status: 200, body: { inline_string: "wildcard vhost" } }
- name: main
  domains: ["*"]
  response_headers_to_add:
  - header: { key: x-served-by, value: legate-test }
  routes:
  - match: { path: "/direct" }
    direct_response: { status: 418, body: { inline_string: "short and stout" } }
  - match: { prefix: "/old/" }
    redirect: { path_redirect: "/new/place", response_code: FOUND }
  - match: { prefix: "/secure" }
    redirect: { https_redirect: true }
  - match: { prefix: "/rewrite/" }
    route: { cluster: a, prefix_rewrite: "/rewritten/" }
  - match: { safe_regex: { regex: "/re/[0-9]+" } }
    route: { cluster: b, regex_rewrite: { pattern: { regex: "^/re/([0-9]+)$" }, substitution: "/number/\\\\1" } }
  - match:
      prefix: "/hdr"
      headers:
      - name: x-tenant
        string_match: { exact: blue }
    route: { cluster: b }
  - match:
      prefix: "/q"
      query_parameters:
      - name: debug
        string_match: { exact: "1" }
    route: { cluster: b }
  - match: { prefix: "/CaseLess", case_sensitive: false }
    route: { cluster: b }
  - match: { prefix: "/host" }
    route: { cluster: a, host_rewrite_literal: rewritten.internal }
  - match: { prefix: "/split" }
    route:
      weighted_clusters:
        clusters:
        - { name: a, weight: 80 }
        - { name: b, weight: 20 }
  - match: { prefix: "/mut" }
    request_headers_to_add:
    - header: { key: x-added, value: "route" }
      append_action: OVERWRITE_IF_EXISTS_OR_ADD
    request_headers_to_remove: ["x-remove-me"]
    response_headers_to_remove: ["x-origin-secret"]
    route: { cluster: a }
  - match: { prefix: "/" }
    route: { cluster: a }`,
    clusters: staticCluster('a', [a.port]) + staticCluster('b', [b.port]),
  });
  legate = await startLegate(yaml);
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await a?.close();
  await b?.close();
});

const last = (o: Origin) => o.requests.at(-1)!;

test('direct_response answers locally with status and body', async () => {
  const r = await request(port, { path: '/direct' });
  assert.equal(r.status, 418);
  assert.equal(r.body.toString(), 'short and stout');
  assert.equal(r.headers['x-served-by'], 'legate-test');
});

test('redirects: path_redirect with 302, https_redirect with 301', async () => {
  const r1 = await request(port, { path: '/old/thing?x=1', headers: { host: 'site.test' } });
  assert.equal(r1.status, 302);
  assert.equal(r1.headers.location, 'http://site.test/new/place?x=1');
  const r2 = await request(port, { path: '/secure/x', headers: { host: 'site.test' } });
  assert.equal(r2.status, 301);
  assert.equal(r2.headers.location, 'https://site.test/secure/x');
});

test('prefix_rewrite and regex_rewrite change the upstream path', async () => {
  await request(port, { path: '/rewrite/abc?q=1' });
  assert.equal(last(a).url, '/rewritten/abc?q=1');
  assert.equal(last(a).headers['x-envoy-original-path'], '/rewrite/abc?q=1');
  await request(port, { path: '/re/42' });
  assert.equal(last(b).url, '/number/42');
});

test('header, query and case-insensitive matchers select routes', async () => {
  const nb = b.requests.length;
  await request(port, { path: '/hdr', headers: { 'x-tenant': 'blue' } });
  assert.equal(b.requests.length, nb + 1);
  await request(port, { path: '/hdr', headers: { 'x-tenant': 'red' } });
  assert.equal(b.requests.length, nb + 1, 'x-tenant: red falls through to cluster a');
  await request(port, { path: '/q?debug=1' });
  assert.equal(b.requests.length, nb + 2);
  await request(port, { path: '/caseless/x' });
  assert.equal(b.requests.length, nb + 3);
});

test('virtual hosts: exact domain (with port) beats wildcard beats *', async () => {
  await request(port, { path: '/v', headers: { host: 'api.example.com' } });
  assert.equal(last(b).headers['x-vhost'], 'api');
  await request(port, { path: '/v2', headers: { host: 'api.example.com:8080' } });
  assert.equal(last(b).url, '/v2');
  const w = await request(port, { path: '/', headers: { host: 'www.example.com' } });
  assert.equal(w.body.toString(), 'wildcard vhost');
  const m = await request(port, { path: '/direct', headers: { host: 'other.test' } });
  assert.equal(m.status, 418);
});

test('host_rewrite_literal sets the upstream Host', async () => {
  await request(port, { path: '/host' });
  assert.equal(last(a).headers.host, 'rewritten.internal');
});

test('weighted_clusters split traffic by weight', async () => {
  const na = a.requests.length;
  const nb = b.requests.length;
  const total = 400;
  for (let i = 0; i < total; i += 20) {
    await Promise.all(Array.from({ length: 20 }, () => request(port, { path: '/split' })));
  }
  const toA = a.requests.length - na;
  const toB = b.requests.length - nb;
  assert.equal(toA + toB, total);
  assert.ok(toA > total * 0.7 && toA < total * 0.9, `a got ${toA} of ${total}`);
});

test('request/response header mutations at route and vhost level', async () => {
  const r = await request(port, { path: '/mut', headers: { 'x-added': 'client', 'x-remove-me': '1' } });
  const seen = last(a);
  assert.equal(seen.headers['x-added'], 'route');
  assert.equal(seen.headers['x-remove-me'], undefined);
  assert.equal(r.headers['x-served-by'], 'legate-test');
});
