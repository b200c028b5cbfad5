/**
 * The health_check filter on the in-process filter harness (simulated time, recorded callbacks):
 * pass-through mode with cache_time (Envoy's HealthCheckCacheManager) and the config rules around it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseHealthCheck } from '../../src/filters/http/health-check/config';
import { readerFor } from '../upstream/helpers';
import { withHttpFilters } from './filter-yaml';
import { FilterHarness } from './harness/filter-harness';
import type { HeaderInit } from './harness/fake-upstream';

const HEALTH_CHECK = 'envoy.filters.http.health_check';

function healthCheckHarness(fields: string): FilterHarness {
  return FilterHarness.create(
    withHttpFilters(
      [10001],
      `
- name: ${HEALTH_CHECK}
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.health_check.v3.HealthCheck
    ${fields}
    headers: [{ name: ":path", string_match: { exact: /healthz } }]`,
    ),
  );
}

interface Outcome {
  /** The status answered locally, or null: the request went upstream. */
  local: number | null;
  headers: Map<string, string>;
  flags: string[];
}

/** One request to `path`; if it goes upstream, the upstream answers `upstream` (+ `upstreamHeaders`). */
function request(h: FilterHarness, path: string, upstream = 200, upstreamHeaders: HeaderInit = {}): Outcome {
  const s = h.stream(HEALTH_CHECK);
  s.request({ path });
  const reply = s.localReplies[0];
  if (reply === undefined) s.passResponse(upstream, upstreamHeaders);
  const headers = s.response!.head.headers;
  return {
    local: reply?.status ?? null,
    headers: new Map(headers.names.map((n, i) => [n, headers.values[i]!])),
    flags: s.flags,
  };
}

const CACHED = 'pass_through_mode: true\n    cache_time: 5s';

test('cache_time: the first health check goes upstream; later ones get its status locally until the cache clears', () => {
  const h = healthCheckHarness(CACHED);
  assert.equal(request(h, '/healthz', 200).local, null);
  h.time.advance(1000);
  assert.equal(request(h, '/healthz').local, 200);
  assert.equal(request(h, '/other').local, null, 'other requests are never answered from the cache');
  h.time.advance(3999); // 4999 ms after the filter started: still the first window
  assert.equal(request(h, '/healthz').local, 200);
  h.time.advance(1); // the cache clears every cache_time from the filter's start
  assert.equal(request(h, '/healthz', 503).local, null, 'a cleared cache lets the next check through');
  const cached = request(h, '/healthz');
  assert.equal(cached.local, 503, "the upstream's failure is cached too");
  assert.deepEqual(cached.flags, ['LH']);
  h.close();
});

test('cache_time: x-envoy-degraded is cached with the status', () => {
  const h = healthCheckHarness(CACHED);
  request(h, '/healthz', 200, { 'x-envoy-degraded': '' });
  const r = request(h, '/healthz');
  assert.equal(r.local, 200);
  assert.equal(r.headers.has('x-envoy-degraded'), true);
  assert.deepEqual(r.flags, []);
  h.close();
});

test('cache_time: the 503 answered during /healthcheck/fail is cached as Envoy does, until the window ends', () => {
  const h = healthCheckHarness(CACHED);
  h.services.healthCheckFailed.value = true;
  const failed = request(h, '/healthz');
  assert.equal(failed.local, 503);
  assert.equal(failed.headers.get('x-envoy-immediate-health-check-fail'), 'true');
  assert.deepEqual(failed.flags, ['LH']);
  h.services.healthCheckFailed.value = false;
  assert.equal(request(h, '/healthz').local, 503);
  h.time.advance(5000);
  assert.equal(request(h, '/healthz', 200).local, null);
  h.close();
});

test('without cache_time every pass-through health check goes upstream', () => {
  const h = healthCheckHarness('pass_through_mode: true');
  for (let i = 0; i < 3; i++) assert.equal(request(h, '/healthz').local, null);
  h.close();
});

test('cache_time without pass_through_mode is an error, as in Envoy', () => {
  const { reader, issues } = readerFor('pass_through_mode: false\ncache_time: 1s');
  parseHealthCheck(reader);
  assert.match(
    issues()
      .map((i) => `${i.path}: ${i.message}`)
      .join('\n'),
    /cache_time: must not be set when pass_through_mode is false/,
  );
});
