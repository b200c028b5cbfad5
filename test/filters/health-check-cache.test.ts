/**
 * The health_check filter on its own, with an injected clock: pass-through mode with cache_time
 * (Envoy's HealthCheckCacheManager) and the config rules around it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamFilter, StreamFilterCallbacks } from '../../src/filters/http/api';
import { parseHealthCheck, type HealthCheckConfig } from '../../src/filters/http/health-check/config';
import { createHealthCheckFilterFactory } from '../../src/filters/http/health-check/filter';
import { HeaderMap } from '../../src/http/header-map';
import { SharedFlag } from '../../src/worker/shared-flag';
import { readerFor } from '../upstream/helpers';

interface Outcome {
  /** The status answered locally, or null: the request went upstream. */
  local: number | null;
  headers: HeaderMap | null;
  flags: string[];
}

class Fixture {
  now = 1000;
  readonly failed = new SharedFlag();
  private readonly newFilter: () => StreamFilter;

  constructor(config: HealthCheckConfig) {
    this.newFilter = createHealthCheckFilterFactory(config, {
      workerIndex: 0,
      configName: 'envoy.filters.http.health_check',
      services: { healthCheckFailed: this.failed, now: () => this.now },
    });
  }

  /** One request to `path`; if it goes upstream, the upstream answers `upstream` (+ `upstreamHeaders`). */
  request(path: string, upstream = 200, upstreamHeaders = new HeaderMap()): Outcome {
    const filter = this.newFilter();
    const out: Outcome = { local: null, headers: null, flags: [] };
    const callbacks = {
      authority: 'example.com',
      setResponseFlag: (f: string) => out.flags.push(f),
      // As the connection manager does: a local reply runs the encoders too.
      sendLocalReply: (status: number, _body: string, _details: string, extra?: HeaderMap) => {
        out.local = status;
        out.headers = extra ?? new HeaderMap();
        filter.encodeHeaders({ status, reason: '', headers: out.headers }, true);
      },
    } as unknown as StreamFilterCallbacks;
    filter.setCallbacks(callbacks);
    const head = {
      method: 'GET',
      path,
      versionMinor: 1,
      headers: new HeaderMap(),
      keepAlive: true,
      contentLength: -1,
      chunked: false,
      upgrade: false,
    };
    filter.decodeHeaders(head, true);
    if (out.local === null)
      filter.encodeHeaders({ status: upstream, reason: '', headers: upstreamHeaders }, true);
    filter.onDestroy();
    return out;
  }
}

function config(yaml: string): HealthCheckConfig {
  const { reader, issues } = readerFor(yaml);
  const c = parseHealthCheck(reader);
  assert.deepEqual(issues(), []);
  return c;
}

const CACHED = config(`
pass_through_mode: true
cache_time: 5s
headers: [{ name: ":path", string_match: { exact: /healthz } }]`);

test('cache_time: the first health check goes upstream; later ones get its status locally until the cache clears', () => {
  const f = new Fixture(CACHED);
  assert.equal(f.request('/healthz', 200).local, null);
  f.now += 1000;
  assert.equal(f.request('/healthz').local, 200);
  assert.equal(f.request('/other').local, null, 'other requests are never answered from the cache');
  f.now += 3999; // 4999 ms after the filter started: still the first window
  assert.equal(f.request('/healthz').local, 200);
  f.now += 1; // the cache clears every cache_time from the filter's start
  assert.equal(f.request('/healthz', 503).local, null, 'a cleared cache lets the next check through');
  const cached = f.request('/healthz');
  assert.equal(cached.local, 503, "the upstream's failure is cached too");
  assert.deepEqual(cached.flags, ['LH']);
});

test('cache_time: x-envoy-degraded is cached with the status', () => {
  const f = new Fixture(CACHED);
  const degraded = new HeaderMap();
  degraded.add('x-envoy-degraded', '');
  f.request('/healthz', 200, degraded);
  const r = f.request('/healthz');
  assert.equal(r.local, 200);
  assert.equal(r.headers!.has('x-envoy-degraded'), true);
  assert.deepEqual(r.flags, []);
});

test('cache_time: the 503 answered during /healthcheck/fail is cached as Envoy does, until the window ends', () => {
  const f = new Fixture(CACHED);
  f.failed.value = true;
  const failed = f.request('/healthz');
  assert.equal(failed.local, 503);
  assert.equal(failed.headers!.get('x-envoy-immediate-health-check-fail'), 'true');
  assert.deepEqual(failed.flags, ['LH']);
  f.failed.value = false;
  assert.equal(f.request('/healthz').local, 503);
  f.now += 5000;
  assert.equal(f.request('/healthz', 200).local, null);
});

test('without cache_time every pass-through health check goes upstream', () => {
  const f = new Fixture(
    config(`
pass_through_mode: true
headers: [{ name: ":path", string_match: { exact: /healthz } }]`),
  );
  for (let i = 0; i < 3; i++) assert.equal(f.request('/healthz').local, null);
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
