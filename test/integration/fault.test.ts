/**
 * The fault injection filter end to end: an abort for the requests its `headers` select, a fixed
 * delay per route, delays and aborts the request asks for (header_delay / header_abort), a
 * percentage that picks about its share, a gRPC abort, and the fault stats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUTER_FILTER, httpProxyYaml, proxiedOrigin, request, stat, staticCluster } from './harness';

const FAULT = '"@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';

function route(prefix: string, fault: string): string {
  return `  - match: { prefix: "${prefix}" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.fault:
        ${FAULT}
        ${fault}`;
}

const VIRTUAL_HOSTS = `
- name: all
  domains: ["*"]
  routes:
${route('/delay', 'delay: { fixed_delay: 0.3s, percentage: { numerator: 100 } }')}
${route('/header', 'delay: { header_delay: {}, percentage: { numerator: 100 } }\n        abort: { header_abort: {}, percentage: { numerator: 100 } }')}
${route('/half', 'abort: { http_status: 503, percentage: { numerator: 50 } }')}
${route('/grpc', 'abort: { grpc_status: 14, percentage: { numerator: 100 } }')}
  - match: { prefix: "/" }
    route: { cluster: o }`;

const HTTP_FILTERS = `- name: envoy.filters.http.fault
  typed_config:
    ${FAULT}
    abort: { http_status: 418, percentage: { numerator: 100 } }
    headers: [{ name: x-fault, string_match: { exact: abort } }]
${ROUTER_FILTER}`;

const proxy = proxiedOrigin((originPort) =>
  httpProxyYaml({
    virtualHosts: VIRTUAL_HOSTS,
    httpFilters: HTTP_FILTERS,
    clusters: staticCluster('o', [originPort]),
  }),
);

async function timed(
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; ms: number; body: string }> {
  const start = performance.now();
  const r = await request(proxy.port, { path, headers });
  return { status: r.status, ms: performance.now() - start, body: r.body.toString() };
}

test('the filter config aborts only the requests its headers select', async () => {
  const before = proxy.origin.requests.length;
  const aborted = await timed('/', { 'x-fault': 'abort' });
  assert.equal(aborted.status, 418);
  assert.equal(aborted.body, 'fault filter abort');
  assert.equal(proxy.origin.requests.length, before, 'not forwarded');
  assert.equal((await timed('/')).status, 200);
  assert.equal((await timed('/', { 'x-fault': 'other' })).status, 200);
});

test('a route fault replaces the filter config: a fixed delay, then the request goes on', async () => {
  const r = await timed('/delay', { 'x-fault': 'abort' });
  assert.equal(r.status, 200, "the route's config has no abort");
  assert.ok(r.ms >= 280, `delayed ${r.ms.toFixed(0)} ms`);
});

test('header_delay and header_abort: the request asks for its fault', async () => {
  const delayed = await timed('/header', { 'x-envoy-fault-delay-request': '200' });
  assert.equal(delayed.status, 200);
  assert.ok(delayed.ms >= 180, `delayed ${delayed.ms.toFixed(0)} ms`);
  assert.equal((await timed('/header', { 'x-envoy-fault-abort-request': '429' })).status, 429);
  assert.equal(
    (
      await timed('/header', {
        'x-envoy-fault-abort-request': '429',
        'x-envoy-fault-abort-request-percentage': '0',
      })
    ).status,
    200,
  );
  const plain = await timed('/header');
  assert.equal(plain.status, 200);
  assert.ok(plain.ms < 150, `no fault asked, ${plain.ms.toFixed(0)} ms`);
});

test('a 50 % abort picks about half of 300 requests', async () => {
  let aborted = 0;
  for (let i = 0; i < 300; i++) if ((await timed('/half')).status === 503) aborted++;
  assert.ok(aborted > 100 && aborted < 200, `${aborted} of 300 aborted`);
});

test('a gRPC abort is a trailers-only answer with its grpc-status', async () => {
  const r = await request(proxy.port, { path: '/grpc', headers: { 'content-type': 'application/grpc' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '14');
});

test('fault stats', async () => {
  assert.equal(await stat(proxy.legate, 'http.ingress_http.fault.delays_injected'), 2);
  assert.ok((await stat(proxy.legate, 'http.ingress_http.fault.aborts_injected')) > 100);
  assert.equal(await stat(proxy.legate, 'http.ingress_http.fault.active_faults'), 0);
});
