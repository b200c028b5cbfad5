/**
 * local_ratelimit `descriptors` fed by route and virtual host `rate_limits`, through the real proxy
 * with two workers: each descriptor's bucket is process-wide and limits only the requests whose
 * descriptors equal it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { catchAllVirtualHost, httpProxyYaml, runLegate, stat, staticCluster } from '../integration/harness';
import { insertHttpFilters, useFilterProxies } from './filter-yaml';

const TYPE = 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit';
const ALWAYS = '{ runtime_key: k, default_value: { numerator: 100, denominator: HUNDRED } }';
const HOUR = 'fill_interval: 3600s';

/** The filter, enforcing, with a default bucket of `defaultTokens` and `extra` lines (YAML at 4). */
function filter(defaultTokens: number, extra: string): string {
  return `
- name: envoy.filters.http.local_ratelimit
  typed_config:
    "@type": ${TYPE}
    stat_prefix: rl
    token_bucket: { max_tokens: ${defaultTokens}, ${HOUR} }
    filter_enabled: ${ALWAYS}
    filter_enforced: ${ALWAYS}
${extra
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}`;
}

const proxies = useFilterProxies();

function yamlWith(virtualHosts: string, filters: string): string {
  return insertHttpFilters(
    httpProxyYaml({ virtualHosts, clusters: staticCluster('o', [proxies.origin.port]) }),
    filters,
  );
}

/** One GET on its own connection (from `localAddress` if given); its status. */
function get(
  port: number,
  p: string,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, headers, agent: false, localAddress },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${p} timed out`)));
    req.end();
  });
}

async function statuses(n: number, send: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await send());
  return out;
}

test('request_headers descriptor limits only requests with that header value; the default bucket is charged too', async () => {
  const yaml = yamlWith(
    catchAllVirtualHost({
      action: `rate_limits:
- actions:
  - request_headers: { header_name: x-user, descriptor_key: user }`,
    }),
    filter(
      5,
      `descriptors:
- entries: [{ key: user, value: alice }]
  token_bucket: { max_tokens: 2, ${HOUR} }`,
    ),
  );
  const { legate, port } = await proxies.startYaml(yaml);
  const as = (user: string) => () => get(port, '/', { 'x-user': user });
  assert.deepEqual(await statuses(4, as('alice')), [200, 200, 429, 429], "alice's descriptor bucket of 2");
  // alice's two passes took 2 of the default 5 (always_consume_default_token_bucket defaults to
  // true); her refusals took none. bob and header-less requests match no descriptor: default only.
  assert.deepEqual(await statuses(2, as('bob')), [200, 200]);
  assert.deepEqual(await statuses(2, () => get(port, '/')), [200, 429], 'the default bucket is now empty');
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.ok'), 5);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.rate_limited'), 3);
});

test('virtual host rate_limits apply to routes without their own (OVERRIDE), generic_key and header_value_match', async () => {
  const yaml = yamlWith(
    `
- name: all
  domains: ["*"]
  rate_limits:
  - actions: [{ generic_key: { descriptor_value: vh } }]
  routes:
  - match: { prefix: "/own" }
    route:
      cluster: o
      rate_limits:
      - actions:
        - header_value_match:
            descriptor_value: not_internal
            expect_match: false
            headers: [{ name: x-internal, present_match: true }]
  - match: { prefix: "/" }
    route: { cluster: o }`,
    filter(
      100,
      `descriptors:
- entries: [{ key: generic_key, value: vh }]
  token_bucket: { max_tokens: 1, ${HOUR} }
- entries: [{ key: header_match, value: not_internal }]
  token_bucket: { max_tokens: 2, ${HOUR} }`,
    ),
  );
  const { port } = await proxies.startYaml(yaml);
  assert.deepEqual(
    await statuses(3, () => get(port, '/plain')),
    [200, 429, 429],
    "the virtual host's descriptor",
  );
  assert.deepEqual(
    await statuses(3, () => get(port, '/own')),
    [200, 200, 429],
    "the route's own rate_limits replace the virtual host's",
  );
  assert.deepEqual(
    await statuses(3, () => get(port, '/own', { 'x-internal': '1' })),
    [200, 200, 200],
    'a matching header: expect_match false produces no descriptor, so only the default bucket',
  );
});

test('request_headers and header_value_match read pseudo-headers (:path, :method), as Envoy configs use them', async () => {
  const yaml = yamlWith(
    catchAllVirtualHost({
      action: `rate_limits:
- actions:
  - request_headers: { header_name: ":path", descriptor_key: path }
- actions:
  - header_value_match:
      descriptor_value: writes
      headers: [{ name: ":method", string_match: { exact: POST } }]`,
    }),
    filter(
      100,
      `descriptors:
- entries: [{ key: path, value: /hot }]
  token_bucket: { max_tokens: 1, ${HOUR} }
- entries: [{ key: header_match, value: writes }]
  token_bucket: { max_tokens: 1, ${HOUR} }`,
    ),
  );
  const { port } = await proxies.startYaml(yaml);
  assert.deepEqual(await statuses(2, () => get(port, '/hot')), [200, 429], 'the /hot path bucket of 1');
  assert.deepEqual(await statuses(2, () => get(port, '/cold')), [200, 200]);
  const post = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/w', method: 'POST', agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
      req.end('x');
    });
  assert.deepEqual(await statuses(2, post), [200, 429], 'the POST bucket of 1');
});

test('remote_address descriptor limits one client address', async () => {
  const yaml = yamlWith(
    `
- name: all
  domains: ["*"]
  rate_limits:
  - actions: [{ remote_address: {} }]
  routes:
  - match: { prefix: "/" }
    route: { cluster: o }`,
    filter(
      100,
      `descriptors:
- entries: [{ key: remote_address, value: 127.0.0.2 }]
  token_bucket: { max_tokens: 1, ${HOUR} }`,
    ),
  );
  const { legate, port } = await proxies.startYaml(yaml);
  const from = (addr: string) => () => get(port, '/', {}, addr);
  assert.deepEqual(await statuses(3, from('127.0.0.2')), [200, 429, 429]);
  assert.deepEqual(await statuses(3, from('127.0.0.1')), [200, 200, 200]);
  assert.equal(await stat(legate, 'rl.http_local_rate_limit.enforced'), 2);
});

test('descriptor and rate_limits config errors name the field', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'legate-rl-desc-'));
  const validate = async (rateLimits: string, descriptors: string): Promise<string> => {
    const yaml = yamlWith(
      catchAllVirtualHost({ action: `rate_limits:\n${rateLimits}` }),
      filter(10, descriptors),
    );
    const file = path.join(dir, 'envoy.yaml');
    fs.writeFileSync(file, yaml);
    const r = await runLegate(['--mode', 'validate', '-c', file]);
    assert.notEqual(r.code, 0, yaml);
    return r.stdout + r.stderr;
  };
  const ok = `- actions: [{ generic_key: { descriptor_value: a } }]`;
  const desc = (entries: string, bucket = `token_bucket: { max_tokens: 1, ${HOUR} }`): string =>
    `descriptors:\n- entries: ${entries}\n  ${bucket}`;
  try {
    const typo = await validate(
      `- actions: [{ generic_kee: { descriptor_value: a } }]`,
      desc('[{ key: a, value: b }]'),
    );
    assert.match(
      typo,
      /rate_limits\[0\]\.actions\[0\]\.generic_kee: unknown field 'generic_kee'; did you mean 'generic_key'/,
    );
    const source = await validate(`- actions: [{ source_cluster: {} }]`, desc('[{ key: a, value: b }]'));
    assert.match(source, /actions\[0\]\.source_cluster: not supported by Legate yet/);
    const stage = await validate(
      `- stage: 11\n  actions: [{ remote_address: {} }]`,
      desc('[{ key: a, value: b }]'),
    );
    assert.match(stage, /rate_limits\[0\]\.stage/);
    const header = await validate(
      `- actions: [{ request_headers: { header_name: x-a } }]`,
      desc('[{ key: a, value: b }]'),
    );
    assert.match(header, /request_headers\.descriptor_key/);
    const wildcard = await validate(ok, desc('[{ key: a, value: "" }]'));
    assert.match(wildcard, /descriptors\[0\]\.entries\[0\]\.value: not supported by Legate yet/);
    const dup = await validate(
      ok,
      `${desc('[{ key: a, value: b }]')}\n${desc('[{ key: a, value: b }]').slice('descriptors:\n'.length)}`,
    );
    assert.match(dup, /descriptors\[1\]\.entries: duplicate descriptor/);
    const noBucket = await validate(ok, desc('[{ key: a, value: b }]', ''));
    assert.match(noBucket, /descriptors\[0\]\.token_bucket: required/);
    const vh = await validate(ok, `vh_rate_limits: SOMETIMES\n${desc('[{ key: a, value: b }]')}`);
    assert.match(vh, /vh_rate_limits/);
    const unread = await validate(
      `- stage: 1\n  actions: [{ remote_address: {} }]`,
      desc('[{ key: a, value: b }]'),
    );
    assert.match(
      unread,
      /rate_limits\[0\]\.stage: no local_ratelimit filter with descriptors reads rate_limits of stage 1 \(stages read: 0\)/,
    );
    const noDescriptors = await validate(ok, 'stage: 0');
    assert.match(noDescriptors, /reads rate_limits of stage 0 \(none does\)/);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
});
