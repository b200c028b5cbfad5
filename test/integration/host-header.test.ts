/**
 * The request's Host, as RFC 9112 §3.2 and §3.2.2 define it, on each downstream codec: a request
 * without Host → 400 (`missing_host_header`; on HTTP/1.0 unless `default_host_for_http_10` is set,
 * as in Envoy); more than one Host field, even with equal values →
 * 400 (`duplicate_host_header`, as nginx answers "client sent duplicate host header"); an
 * absolute-form target overrides Host. A refused request never reaches the origin.
 *
 * Regression: a request with two Host fields was forwarded (the connection manager routed by the
 * first, and the upstream got both).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchAllYaml, rawExchange, startLegate, startOrigin } from './harness';

const CASES: Array<{ what: string; request: string; status: number; host?: string }> = [
  { what: 'one Host', request: 'GET /a HTTP/1.1\r\nHost: one.test\r\n\r\n', status: 200, host: 'one.test' },
  { what: 'no Host on HTTP/1.1', request: 'GET /a HTTP/1.1\r\n\r\n', status: 400 },
  { what: 'no Host on HTTP/1.0', request: 'GET /a HTTP/1.0\r\n\r\n', status: 400 },
  {
    what: 'Host on HTTP/1.0',
    request: 'GET /a HTTP/1.0\r\nHost: old.test\r\n\r\n',
    status: 200,
    host: 'old.test',
  },
  {
    what: 'two Host fields',
    request: 'GET /a HTTP/1.1\r\nHost: one.test\r\nHost: two.test\r\n\r\n',
    status: 400,
  },
  {
    what: 'two equal Host fields',
    request: 'GET /a HTTP/1.1\r\nHost: one.test\r\nX-Between: 1\r\nhost: one.test\r\n\r\n',
    status: 400,
  },
  {
    what: 'absolute-form target and Host',
    request: 'GET http://uri.test/a HTTP/1.1\r\nHost: one.test\r\n\r\n',
    status: 200,
    host: 'uri.test',
  },
  {
    what: 'absolute-form target and two Host fields',
    request: 'GET http://uri.test/a HTTP/1.1\r\nHost: one.test\r\nHost: two.test\r\n\r\n',
    status: 400,
  },
];

for (const codec of ['legate', 'uws']) {
  test(`Host: missing, duplicate and absolute-form requests, ${codec} codec`, async (t) => {
    const origin = await startOrigin();
    const legate = await startLegate(catchAllYaml([origin.port]), { args: ['--http1-codec', codec] });
    try {
      const port = legate.ports.get('proxy')!;
      for (const c of CASES) {
        const forwardedBefore = origin.requests.length;
        const response = await rawExchange(
          port,
          c.request.replace('\r\n\r\n', '\r\nConnection: close\r\n\r\n'),
        );
        // uWS closes a request without Host, one with an absolute-form target and any HTTP/1.0
        // request itself, with no answer (README, uWS limits).
        const closedByUws =
          codec === 'uws' &&
          (!/\nHost:/i.test(c.request) || c.request.includes(' http://') || c.request.includes('HTTP/1.0')) &&
          response === '';
        if (!closedByUws)
          assert.match(
            response,
            new RegExp(`^HTTP/1\\.1 ${c.status} `),
            `${c.what}: ${response.slice(0, 200)}`,
          );
        const forwarded = origin.requests.slice(forwardedBefore);
        if (c.status !== 200 || closedByUws) {
          assert.equal(forwarded.length, 0, `${c.what}: never forwarded`);
          continue;
        }
        assert.equal(forwarded.length, 1, c.what);
        if (c.host !== undefined) assert.equal(forwarded[0]!.headers.host, c.host, c.what);
      }
      t.diagnostic(`${CASES.length} cases`);
    } finally {
      await legate.stop();
      await origin.close();
    }
  });
}

test('default_host_for_http_10: an HTTP/1.0 request without Host gets it; one with Host keeps its own', async () => {
  const origin = await startOrigin();
  const legate = await startLegate(
    catchAllYaml([origin.port], {
      hcmExtra: 'http_protocol_options: { default_host_for_http_10: fallback.test }',
    }),
  );
  try {
    const port = legate.ports.get('proxy')!;
    for (const [request, host] of [
      ['GET /a HTTP/1.0\r\n\r\n', 'fallback.test'],
      ['GET /a HTTP/1.0\r\nHost: own.test\r\n\r\n', 'own.test'],
    ] as const) {
      const before = origin.requests.length;
      const response = await rawExchange(port, request);
      assert.match(response, /^HTTP\/1\.1 200 /, request);
      assert.equal(origin.requests.slice(before)[0]?.headers.host, host, request);
    }
    const http11 = await rawExchange(port, 'GET /a HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.match(http11, /^HTTP\/1\.1 400 /, 'HTTP/1.1 without Host is still refused');
  } finally {
    await legate.stop();
    await origin.close();
  }
});
