/** local_ratelimit through the real proxy, with two workers sharing one bucket. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, runLegate, stat } from '../integration/harness';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { useFilterProxies, withHttpFilters } from './filter-yaml';

function rateLimitFilter(extra: string): string {
  return `
- name: envoy.filters.http.local_ratelimit
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
    stat_prefix: rl
    token_bucket: { max_tokens: 10, tokens_per_fill: 10, fill_interval: 60s }
${extra
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}`;
}

const ENFORCE_ALL = `filter_enabled: { runtime_key: e, default_value: { numerator: 100, denominator: HUNDRED } }
filter_enforced: { runtime_key: f, default_value: { numerator: 100, denominator: HUNDRED } }
response_headers_to_add:
- header: { key: x-limited, value: "yes" }`;

const proxies = useFilterProxies();

/** `n` requests at once, each on its own connection (so both workers take some). */
async function burst(port: number, n: number): Promise<Awaited<ReturnType<typeof request>>[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => request(port, { path: `/r${i}` })));
}

test('one bucket across two workers: exactly max_tokens requests pass, the rest get 429', async () => {
  const { legate, port } = await proxies.start(rateLimitFilter(ENFORCE_ALL));
  const before = proxies.origin.requests.length;
  const responses = await burst(port, 30);
  const ok = responses.filter((r) => r.status === 200);
  const limited = responses.filter((r) => r.status === 429);
  assert.equal(ok.length, 10);
  assert.equal(limited.length, 20);
  assert.equal(limited[0]!.body.toString(), 'local_rate_limited');
  assert.equal(limited[0]!.headers['x-limited'], 'yes');
  assert.equal(proxies.origin.requests.length - before, 10, 'limited requests never reach the origin');
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.enabled'), 30);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.ok'), 10);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.rate_limited'), 20);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.enforced'), 20);
});

test('filter_enabled and filter_enforced default to 0 %: nothing is limited', async () => {
  const { legate, port } = await proxies.start(rateLimitFilter(''));
  const responses = await burst(port, 20);
  assert.deepEqual(
    responses.map((r) => r.status),
    responses.map(() => 200),
  );
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.enabled'), 0);
});

test('enabled but not enforced: over-limit requests are counted, not rejected', async () => {
  const { legate, port } = await proxies.start(
    rateLimitFilter(
      'filter_enabled: { runtime_key: e, default_value: { numerator: 100, denominator: HUNDRED } }',
    ),
  );
  const responses = await burst(port, 15);
  assert.ok(responses.every((r) => r.status === 200));
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.rate_limited'), 5);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.enforced'), 0);
});

test('config errors: stat_prefix required, unimplemented fields rejected', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rl-'));
  const file = path.join(dir, 'envoy.yaml');
  fs.writeFileSync(
    file,
    withHttpFilters(
      [proxies.origin.port],
      `
- name: envoy.filters.http.local_ratelimit
  typed_config:
    "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
    enable_x_ratelimit_headers: DRAFT_VERSION_03`,
    ),
  );
  const r = await runLegate(['--mode', 'validate', '-c', file]);
  fs.rmSync(dir, { recursive: true });
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /stat_prefix/);
  assert.match(r.stdout + r.stderr, /enable_x_ratelimit_headers: not supported by Legate yet/);
});
