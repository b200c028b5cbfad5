/** health_check through the real proxy (two workers), including the admin's /healthcheck/fail. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, request } from '../integration/harness';
import { useFilterProxies } from './filter-yaml';

function healthCheckFilter(passThrough: boolean, extra = ''): string {
  return `
- name: envoy.filters.http.health_check
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
    pass_through_mode: ${passThrough}
    ${extra}
    headers:
    - name: ":path"
      string_match: { exact: /healthz }`;
}

const proxies = useFilterProxies();

/** `n` health checks, each on its own connection (so both workers answer some). */
async function healthStatuses(port: number, n: number): Promise<number[]> {
  const rs = await Promise.all(Array.from({ length: n }, () => request(port, { path: '/healthz' })));
  return rs.map((r) => r.status);
}

test('answers matching requests locally; flips to 503 after /healthcheck/fail and back after /ok', async () => {
  const { legate, port } = await proxies.start(healthCheckFilter(false));
  const before = proxies.origin.requests.length;
  assert.deepEqual(await healthStatuses(port, 8), Array(8).fill(200));
  assert.equal(proxies.origin.requests.length, before, 'health checks are not proxied');
  assert.equal((await request(port, { path: '/other' })).status, 200);
  assert.equal(proxies.origin.requests.length, before + 1, 'other requests are proxied');

  assert.equal((await admin(legate, '/healthcheck/fail', 'POST')).status, 200);
  assert.deepEqual(await healthStatuses(port, 8), Array(8).fill(503));
  const failed = await request(port, { path: '/healthz' });
  assert.equal(failed.headers['x-envoy-immediate-health-check-fail'], 'true');
  assert.equal((await request(port, { path: '/other' })).status, 200, 'only health checks fail');

  assert.equal((await admin(legate, '/healthcheck/ok', 'POST')).status, 200);
  assert.deepEqual(await healthStatuses(port, 8), Array(8).fill(200));
});

test('pass_through_mode sends health checks upstream unless the server is failing', async () => {
  const { legate, port } = await proxies.start(healthCheckFilter(true));
  const before = proxies.origin.requests.length;
  assert.equal((await request(port, { path: '/healthz' })).status, 200);
  assert.equal(proxies.origin.requests.length, before + 1);
  await admin(legate, '/healthcheck/fail', 'POST');
  assert.equal((await request(port, { path: '/healthz' })).status, 503);
  assert.equal(proxies.origin.requests.length, before + 1);
});

test('cache_time: each worker passes one health check upstream, then answers from its cache', async () => {
  const { port } = await proxies.start(healthCheckFilter(true, 'cache_time: 60s'));
  const upstreamChecks = (): number => proxies.origin.requests.filter((r) => r.url === '/healthz').length;
  const before = upstreamChecks();
  // One at a time: checks that arrive before the first answer all pass through (as in Envoy).
  for (let i = 0; i < 10; i++) assert.equal((await request(port, { path: '/healthz' })).status, 200);
  const proxied = upstreamChecks() - before;
  assert.ok(proxied >= 1 && proxied <= 2, `${proxied} health checks reached the origin (2 workers)`);
});
