/**
 * Virtual host options: `require_tls` (a request not over TLS, per x-forwarded-proto, gets a 301 to
 * `https://<host><path>`; EXTERNAL_ONLY lets internal requests through) and the attempt counts
 * (`include_request_attempt_count` / `include_attempt_count_in_response`: x-envoy-attempt-count on
 * each upstream request and on the response, retries included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { httpProxyYaml, request, startLegate, startOrigin, staticCluster } from './harness';

function vhostYaml(extra: string): string {
  return `
- name: all
  domains: ["*"]
${extra}
  routes:
  - match: { prefix: "/" }
    route: { cluster: o, retry_policy: { retry_on: 5xx, num_retries: 2 } }`;
}

const TRUST_LOOPBACK =
  'use_remote_address: true\ninternal_address_config: { cidr_ranges: [{ address_prefix: 127.0.0.0, prefix_len: 8 }] }';

/** [case, require_tls, HCM fields, request headers, expect a redirect] */
const TLS_CASES: [string, string, string, Record<string, string>, boolean][] = [
  ['ALL, plaintext', 'ALL', '', {}, true],
  [
    'ALL, a trusted hop says https',
    'ALL',
    'xff_num_trusted_hops: 1',
    { 'x-forwarded-proto': 'https' },
    false,
  ],
  [
    'ALL, an untrusted client says https',
    'ALL',
    'use_remote_address: true',
    { 'x-forwarded-proto': 'https' },
    true,
  ],
  ['ALL, even internal', 'ALL', TRUST_LOOPBACK, {}, true],
  ['EXTERNAL_ONLY, internal request', 'EXTERNAL_ONLY', TRUST_LOOPBACK, {}, false],
  ['EXTERNAL_ONLY, edge request', 'EXTERNAL_ONLY', 'use_remote_address: true', {}, true],
  [
    'EXTERNAL_ONLY, a client claiming x-envoy-internal',
    'EXTERNAL_ONLY',
    'use_remote_address: true',
    { 'x-envoy-internal': 'true' },
    true,
  ],
  ['NONE', 'NONE', '', {}, false],
];

for (const [name, requireTls, hcmExtra, headers, redirected] of TLS_CASES) {
  test(`require_tls: ${name}`, async () => {
    const origin = await startOrigin();
    const legate = await startLegate(
      httpProxyYaml({
        hcmExtra,
        virtualHosts: vhostYaml(`  require_tls: ${requireTls}`),
        clusters: staticCluster('o', [origin.port]),
      }),
      { concurrency: 1 },
    );
    try {
      const r = await request(legate.ports.get('proxy')!, {
        path: '/a/b?c=d',
        headers: { host: 'shop.example:8080', ...headers },
      });
      if (redirected) {
        assert.equal(r.status, 301);
        assert.equal(r.headers.location, 'https://shop.example:8080/a/b?c=d');
        assert.equal(origin.requests.length, 0);
      } else {
        assert.equal(r.status, 200);
        assert.equal(origin.requests.length, 1);
      }
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}

test('x-envoy-attempt-count on every upstream request and on the response, retries included', async () => {
  let calls = 0;
  const origin = await startOrigin((req, res) => {
    calls++;
    res.statusCode = calls < 3 ? 503 : 200;
    res.end(String(req.headers['x-envoy-attempt-count']));
  });
  const legate = await startLegate(
    httpProxyYaml({
      virtualHosts: vhostYaml(
        '  include_request_attempt_count: true\n  include_attempt_count_in_response: true',
      ),
      clusters: staticCluster('o', [origin.port]),
    }),
    { concurrency: 1 },
  );
  try {
    const r = await request(legate.ports.get('proxy')!);
    assert.equal(r.status, 200);
    assert.deepEqual(
      origin.requests.map((q) => q.headers['x-envoy-attempt-count']),
      ['1', '2', '3'],
    );
    assert.equal(r.headers['x-envoy-attempt-count'], '3');
    assert.equal(r.body.toString(), '3');
  } finally {
    await legate.stop();
    await origin.close();
  }
});
