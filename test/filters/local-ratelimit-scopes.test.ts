/**
 * local_ratelimit beyond the one process-wide bucket: a bucket per downstream connection, and
 * per-route configs through `typed_per_filter_config` (most specific wins, each its own bucket).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { catchAllYaml, httpProxyYaml, request, runLegate, stat, staticCluster } from '../integration/harness';
import { insertHttpFilters, useFilterProxies } from './filter-yaml';

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ALWAYS = '{ runtime_key: k, default_value: { numerator: 100, denominator: HUNDRED } }';

/** A LocalRateLimit body (flow style) that enforces `maxTokens` per hour. */
function limit(statPrefix: string, maxTokens: number, extra = ''): string {
  return `{ "@type": ${TYPE}, stat_prefix: ${statPrefix}, token_bucket: { max_tokens: ${maxTokens}, fill_interval: 3600s }, filter_enabled: ${ALWAYS}, filter_enforced: ${ALWAYS}${extra} }`;
}

/** The filter as configured in http_filters: no filter_enabled, so on its own it limits nothing. */
const FILTER = `
- name: envoy.filters.http.local_ratelimit
  typed_config:
    "@type": ${TYPE}
    stat_prefix: default_rl`;

const proxies = useFilterProxies();

/** `n` requests one after another, each on its own connection; their statuses. */
async function statuses(port: number, n: number, p: string, host = 'limited.test'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await request(port, { path: p, headers: { host } })).status);
  return out;
}

test('local_rate_limit_per_downstream_connection: each connection has its own bucket', async () => {
  const { legate, port } = await proxies.start(`
- name: envoy.filters.http.local_ratelimit
  typed_config: ${limit('conn_rl', 2, ', local_rate_limit_per_downstream_connection: true')}`);
  const agents = [1, 2].map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  try {
    for (const agent of agents) {
      const got: number[] = [];
      for (let i = 0; i < 3; i++) got.push((await request(port, { path: `/c${i}`, agent })).status);
      assert.deepEqual(got, [200, 200, 429], 'the third request on one connection is over its budget');
    }
    // A fresh connection (no agent) starts with a full bucket.
    assert.equal((await request(port)).status, 200);
    assert.equal(await stat(legate, 'conn_rl.http_local_rate_limit.ok'), 5);
    assert.equal(await stat(legate, 'conn_rl.http_local_rate_limit.rate_limited'), 2);
  } finally {
    for (const a of agents) a.destroy();
  }
});

test('typed_per_filter_config: the most specific config applies, each with its own bucket', async () => {
  const yaml = insertHttpFilters(
    httpProxyYaml({
      virtualHosts: `
- name: limited
  domains: ["limited.test"]
  typed_per_filter_config:
    envoy.filters.http.local_ratelimit: ${limit('vhost_rl', 1)}
  routes:
  - match: { prefix: "/route" }
    route: { cluster: o }
    typed_per_filter_config:
      envoy.filters.http.local_ratelimit: ${limit('route_rl', 2)}
  - match: { prefix: "/" }
    route: { cluster: o }
- name: free
  domains: ["*"]
  routes:
  - match: { prefix: "/" }
    route: { cluster: o }`,
      clusters: staticCluster('o', [proxies.origin.port]),
    }),
    FILTER,
  );
  const { legate, port } = await proxies.startYaml(yaml);
  assert.deepEqual(await statuses(port, 4, '/route'), [200, 200, 429, 429], "the route's own bucket of 2");
  assert.deepEqual(await statuses(port, 3, '/other'), [200, 429, 429], "the virtual host's bucket of 1");
  assert.deepEqual(await statuses(port, 5, '/route', 'free.test'), [200, 200, 200, 200, 200], 'not limited');
  assert.equal(await stat(legate, 'route_rl.http_local_rate_limit.enforced'), 2);
  assert.equal(await stat(legate, 'vhost_rl.http_local_rate_limit.enforced'), 2);
  assert.equal(await stat(legate, 'default_rl.http_local_rate_limit.enabled'), 0);
});

test('typed_per_filter_config errors name the field', async () => {
  const route = (perFilter: string): string =>
    insertHttpFilters(
      catchAllYaml([proxies.origin.port], { routeFields: `typed_per_filter_config:\n  ${perFilter}` }),
      FILTER,
    );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rl-route-'));
  const validate = async (yaml: string): Promise<string> => {
    const file = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(file, yaml);
    const r = await runLegate(['--mode', 'validate', '-c', file]);
    assert.notEqual(r.code, 0, yaml);
    return r.stdout + r.stderr;
  };
  try {
    const unknown = await validate(route(`envoy.filters.http.local_ratelimt: ${limit('x', 1)}`));
    assert.match(unknown, /typed_per_filter_config\.envoy\.filters\.http\.local_ratelimt/);
    assert.match(unknown, /no HTTP filter named/);
    assert.match(unknown, /did you mean 'envoy\.filters\.http\.local_ratelimit'/);
    const router = await validate(
      route(
        'envoy.filters.http.router: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }',
      ),
    );
    assert.match(router, /'envoy\.filters\.http\.router' has no per-route config/);
    const noBucket = await validate(
      route(`envoy.filters.http.local_ratelimit: { "@type": ${TYPE}, stat_prefix: x }`),
    );
    assert.match(noBucket, /typed_per_filter_config\.envoy\.filters\.http\.local_ratelimit\.token_bucket/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
