/**
 * Stream deadlines, as Envoy sets them:
 * - the deprecated route `max_grpc_timeout` / `grpc_timeout_offset` make a gRPC request's
 *   grpc-timeout its router timeout (FilterUtility::finalTimeout): past it, the router's
 *   "upstream request timeout" (grpc-status 14);
 * - `max_stream_duration` (the connection manager's `common_http_protocol_options`, overridden by a
 *   route's `max_stream_duration.max_stream_duration`, 0 = none) bounds the whole stream from its
 *   start (ActiveStream::refreshDurationTimeout): past it, 504 once the request is complete (408
 *   before), DEADLINE_EXCEEDED to a gRPC client, a reset once the response has started, and
 *   `downstream_rq_max_duration_reached`. A route with `max_stream_duration` has no router timeout;
 *   its `grpc_timeout_header_max` makes the grpc-timeout header (capped unless 0, less the offset)
 *   the stream's limit, which goes upstream as the request's grpc-timeout;
 * - a cluster's `common_http_protocol_options.max_stream_duration` bounds each attempt from its
 *   attach to a connection (Filter::onStreamMaxDurationReached): 504 "upstream max stream duration
 *   reached" (408 before the request is complete), a reset once the response started, UMSDR and
 *   `upstream_rq_max_duration_reached`.
 * The origin answers `/slow` after 400 ms, saying which grpc-timeout and expected timeout it saw;
 * `/stream` sends its head and part of its body at once, the rest after 400 ms.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  httpProxyYaml,
  rawExchange,
  request,
  startLegate,
  startOrigin,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let origin: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin((req, res) => {
    const answer = (): void => {
      res.setHeader('content-type', 'text/plain');
      res.end(
        `${req.headers['grpc-timeout'] ?? '-'} ${req.headers['x-envoy-expected-rq-timeout-ms'] ?? '-'}`,
      );
    };
    if (req.url!.endsWith('/stream')) {
      res.write('partial');
      setTimeout(() => res.end('rest'), 400);
    } else if (req.url!.endsWith('/slow')) setTimeout(answer, 400);
    else answer();
  });
  legate = await startLegate(
    httpProxyYaml({
      hcmExtra: 'common_http_protocol_options: { max_stream_duration: 0.3s }',
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/uncapped/" }
    route: { cluster: o, max_grpc_timeout: 0s }
  - match: { prefix: "/capped/" }
    route: { cluster: o, max_stream_duration: { max_stream_duration: 0s, grpc_timeout_header_max: 0.2s } }
  - match: { prefix: "/offset/" }
    route:
      cluster: o
      max_stream_duration: { max_stream_duration: 0s, grpc_timeout_header_max: 0s, grpc_timeout_header_offset: 0.05s }
  - match: { prefix: "/limited/" }
    route: { cluster: o, max_stream_duration: { max_stream_duration: 0.1s } }
  - match: { prefix: "/hcm/" }
    route: { cluster: o }
  - match: { prefix: "/upstream-limited/" }
    route: { cluster: limited, max_stream_duration: { max_stream_duration: 0s } }`,
      clusters:
        staticCluster('o', [origin.port]) +
        '\n' +
        staticCluster(
          'limited',
          [origin.port],
          'common_http_protocol_options: { max_stream_duration: 0.1s }',
        ),
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate.stop();
  await origin.close();
});

function call(path: string, grpcTimeout: string | null, grpc = true) {
  const headers: Record<string, string> = grpc ? { 'content-type': 'application/grpc', te: 'trailers' } : {};
  if (grpcTimeout !== null) headers['grpc-timeout'] = grpcTimeout;
  return request(port, { path, method: 'POST', headers });
}

const durationReached = (): Promise<number> =>
  stat(legate, 'http.ingress_http.downstream_rq_max_duration_reached');

test('deprecated max_grpc_timeout: the grpc-timeout is the router timeout, past it a gRPC timeout reply', async () => {
  const late = await call('/uncapped/slow', '100m');
  assert.equal(late.status, 200, 'gRPC local replies are trailers-only');
  assert.equal(late.headers['grpc-status'], '14');
  assert.match(String(late.headers['grpc-message']), /upstream request timeout/);
  const inTime = await call('/uncapped/fast', '2S');
  assert.equal(inTime.body.toString(), '2000m 2000');
});

test('grpc_timeout_header_max caps the stream limit, the capped one goes upstream, past it DEADLINE_EXCEEDED', async () => {
  assert.equal((await call('/capped/fast', '5S')).body.toString(), '200m -', 'no router timeout');
  assert.equal(
    (await call('/capped/fast', null)).body.toString(),
    '- -',
    'no header: the route, whose 0 is none',
  );
  const before = await durationReached();
  const late = await call('/capped/slow', '5S');
  assert.equal(late.status, 200);
  assert.equal(late.headers['grpc-status'], '4');
  assert.equal(late.headers['grpc-message'], 'downstream duration timeout');
  assert.equal(await durationReached(), before + 1);
});

test('the offset comes off the deadline, an offset as large as it leaves none; a route 0 overrides the HCM', async () => {
  assert.equal((await call('/offset/fast', '300m')).body.toString(), '250m -');
  const spent = await call('/offset/fast', '30m');
  assert.equal(spent.headers['grpc-status'], '4', 'the offset took all of the 30 ms');
  // 400 ms, beyond the connection manager's 300 ms: the route's 0 lifted it.
  const unbounded = await call('/offset/slow', null);
  assert.equal(unbounded.status, 200);
  assert.equal(unbounded.body.toString(), '- -');
});

test('a request that is not gRPC: the header still sets the limit (as Envoy), the reply is a 504', async () => {
  const r = await call('/capped/slow', '100m', false);
  assert.equal(r.status, 504);
  assert.equal(r.body.toString(), 'downstream duration timeout');
});

test("a route's max_stream_duration and the connection manager's: 504 past it, no router timeout with the route's", async () => {
  const before = await durationReached();
  const limited = await request(port, { path: '/limited/slow' });
  assert.equal(limited.status, 504);
  assert.equal(limited.body.toString(), 'downstream duration timeout');
  assert.equal((await request(port, { path: '/limited/fast' })).body.toString(), '- -');
  const hcm = await request(port, { path: '/hcm/slow' });
  assert.equal(hcm.status, 504);
  assert.equal(hcm.body.toString(), 'downstream duration timeout');
  assert.equal(
    (await request(port, { path: '/hcm/fast' })).body.toString(),
    '- 15000',
    "the route's timeout",
  );
  assert.equal(await durationReached(), before + 2);
});

test('past the limit before the request is complete: 408; after the response started: the stream is reset', async () => {
  const incomplete = await rawExchange(
    port,
    'POST /limited/fast HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nhalf',
  );
  assert.match(incomplete, /^HTTP\/1\.1 408 /);
  assert.match(incomplete, /downstream duration timeout$/);
  const started = await rawExchange(port, 'GET /limited/stream HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.match(started, /^HTTP\/1\.1 200 /);
  assert.match(started, /partial/);
  assert.doesNotMatch(started, /rest|0\r\n\r\n$/, 'the response never completes');
});

test("a cluster's max_stream_duration: 504 past it (not retried), a reset once the response started", async () => {
  const reached = (): Promise<number> => stat(legate, 'cluster.limited.upstream_rq_max_duration_reached');
  const before = await reached();
  const late = await request(port, { path: '/upstream-limited/slow' });
  assert.equal(late.status, 504);
  assert.equal(late.body.toString(), 'upstream max stream duration reached');
  assert.equal((await request(port, { path: '/upstream-limited/fast' })).status, 200);
  const started = await rawExchange(port, 'GET /upstream-limited/stream HTTP/1.1\r\nhost: x\r\n\r\n');
  assert.match(started, /^HTTP\/1\.1 200 /);
  assert.doesNotMatch(started, /rest/, 'the response never completes');
  assert.equal(await reached(), before + 2);
});
