/**
 * The buffer filter end to end: a body in chunks reaches the upstream whole, with a content-length
 * instead of chunked framing; one over max_request_bytes is 413 and never forwarded; a route can
 * turn buffering off or set its own limit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import { ROUTER_FILTER, httpProxyYaml, proxiedOrigin, staticCluster } from './harness';

const PER_ROUTE = '"@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute';

const proxy = proxiedOrigin(
  (originPort) =>
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/stream" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.buffer: { ${PER_ROUTE}, disabled: true }
  - match: { prefix: "/big" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.buffer: { ${PER_ROUTE}, buffer: { max_request_bytes: 100000 } }
  - match: { prefix: "/" }
    route: { cluster: o }`,
      httpFilters: `- name: envoy.filters.http.buffer
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer
    max_request_bytes: 1000
${ROUTER_FILTER}`,
      clusters: staticCluster('o', [originPort]),
    }),
  (req, res, body) =>
    res.end(
      `${req.headers['content-length'] ?? '-'} ${req.headers['transfer-encoding'] ?? '-'} ${body.length}`,
    ),
);

/** POSTs `chunks` (chunked, a tick apart) and resolves with status and body. */
function postChunked(path: string, chunks: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port: proxy.port, host: '127.0.0.1', method: 'POST', path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    let i = 0;
    const next = (): void => {
      if (i === chunks.length) return void req.end();
      req.write(chunks[i++]);
      setTimeout(next, 5);
    };
    next();
  });
}

test('a chunked body reaches the upstream whole, with its content-length', async () => {
  const r = await postChunked('/', ['a'.repeat(300), 'b'.repeat(300), 'c'.repeat(300)]);
  assert.equal(r.status, 200);
  assert.equal(r.body, '900 - 900');
});

test('a body over max_request_bytes is 413 and not forwarded', async () => {
  const before = proxy.origin.requests.length;
  const r = await postChunked('/', ['x'.repeat(600), 'y'.repeat(600)]);
  assert.equal(r.status, 413);
  assert.equal(r.body, 'Payload Too Large');
  assert.equal(proxy.origin.requests.length, before);
});

test('per route: disabled streams as before; a route limit of its own', async () => {
  const streamed = await postChunked('/stream', ['x'.repeat(600), 'y'.repeat(600)]);
  assert.equal(streamed.body, '- chunked 1200');
  const big = await postChunked('/big', ['x'.repeat(600), 'y'.repeat(600)]);
  assert.equal(big.body, '1200 - 1200');
});
