/**
 * Envoy's header sanitising end to end, on both downstream codecs: a client at the edge cannot
 * claim to be internal nor steer the proxies behind (x-envoy-* control headers, internal_only_headers
 * removed; x-envoy-external-address and a fresh x-request-id set), while a client that
 * `internal_address_config` trusts keeps them and is marked `x-envoy-internal: true`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchAllYaml, request, startLegate, startOrigin } from './harness';

const SENT = {
  'x-envoy-internal': 'true',
  // Not consumed by the router, so a trusted client's reach the upstream.
  'x-envoy-force-trace': 'true',
  'x-envoy-upstream-alt-stat-name': 'alt',
  'x-envoy-downstream-service-cluster': 'frontend',
  'x-envoy-external-address': '192.0.2.99',
  'x-internal-secret': 's',
  'x-request-id': 'given-id',
  'x-envoy-custom': 'kept',
};

const CASES = [
  { name: 'edge client', internalAddressConfig: '' },
  {
    name: 'trusted client',
    internalAddressConfig:
      'internal_address_config: { cidr_ranges: [{ address_prefix: 127.0.0.0, prefix_len: 8 }] }',
  },
];

for (const codec of ['legate', 'uws'] as const) {
  for (const { name, internalAddressConfig } of CASES) {
    const trusted = internalAddressConfig !== '';
    test(`header sanitising, ${name} (${codec} codec)`, async () => {
      const origin = await startOrigin();
      const legate = await startLegate(
        catchAllYaml([origin.port], {
          hcmExtra: `use_remote_address: true\n${internalAddressConfig}`,
          routeConfigExtra: 'internal_only_headers: [X-Internal-Secret]',
        }),
        { concurrency: 1, args: ['--http1-codec', codec] },
      );
      try {
        const reply = await request(legate.ports.get('proxy')!, { headers: SENT });
        assert.equal(reply.status, 200);
        const got = origin.requests.at(-1)!.headers;
        assert.equal(got['x-envoy-internal'], trusted ? 'true' : undefined);
        for (const field of ['x-envoy-force-trace', 'x-envoy-upstream-alt-stat-name', 'x-internal-secret'])
          assert.equal(got[field], trusted ? SENT[field as keyof typeof SENT] : undefined, field);
        assert.equal(got['x-envoy-downstream-service-cluster'], trusted ? 'frontend' : undefined);
        assert.equal(got['x-envoy-external-address'], trusted ? '192.0.2.99' : '127.0.0.1');
        if (trusted) assert.equal(got['x-request-id'], 'given-id');
        else
          assert.match(
            String(got['x-request-id']),
            /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
          );
        assert.equal(got['x-envoy-custom'], 'kept');
      } finally {
        await legate.stop();
        await origin.close();
      }
    });
  }
}

test('x-envoy-retry-on steers the router for a trusted client only', async () => {
  let calls = 0;
  const origin = await startOrigin((_req, res) => {
    calls++;
    res.statusCode = calls % 2 === 1 ? 503 : 200; // every first attempt fails
    res.end();
  });
  const trusting = await startLegate(
    catchAllYaml([origin.port], {
      hcmExtra: `use_remote_address: true\n${CASES[1]!.internalAddressConfig}`,
    }),
    { concurrency: 1 },
  );
  const edge = await startLegate(catchAllYaml([origin.port], { hcmExtra: 'use_remote_address: true' }), {
    concurrency: 1,
  });
  try {
    const headers = { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '1' };
    assert.equal((await request(trusting.ports.get('proxy')!, { headers })).status, 200);
    assert.equal(calls, 2, 'retried once');
    assert.equal(origin.requests.at(-1)!.headers['x-envoy-retry-on'], undefined, 'consumed by the router');
    assert.equal((await request(edge.ports.get('proxy')!, { headers })).status, 503);
    assert.equal(calls, 3, 'an edge client cannot ask for retries');
  } finally {
    await trusting.stop();
    await edge.stop();
    await origin.close();
  }
});
