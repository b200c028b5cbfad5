/**
 * A gRPC request's deadline as its route timeout (Envoy's FilterUtility::finalTimeout): under
 * `max_stream_duration.grpc_timeout_header_max` (or the deprecated `max_grpc_timeout`) the
 * request's grpc-timeout, less `…_offset` when larger, capped by the maximum (0: no cap), replaces
 * the route's `timeout`, and the capped value goes upstream as grpc-timeout. The origin answers
 * `/slow` after 400 ms and tells which grpc-timeout it saw.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  httpProxyYaml,
  request,
  startLegate,
  startOrigin,
  staticCluster,
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
    if (req.url!.endsWith('/slow')) setTimeout(answer, 400);
    else answer();
  });
  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/uncapped/" }
    route: { cluster: o, max_grpc_timeout: 0s }
  - match: { prefix: "/capped/" }
    route: { cluster: o, max_stream_duration: { grpc_timeout_header_max: 0.2s } }
  - match: { prefix: "/offset/" }
    route: { cluster: o, max_stream_duration: { grpc_timeout_header_max: 0s, grpc_timeout_header_offset: 0.05s } }`,
      clusters: staticCluster('o', [origin.port]),
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

test('the grpc-timeout is the route timeout: a call past its deadline is a gRPC timeout reply', async () => {
  const late = await call('/uncapped/slow', '100m');
  assert.equal(late.status, 200, 'gRPC local replies are trailers-only');
  assert.equal(late.headers['grpc-status'], '14');
  assert.match(String(late.headers['grpc-message']), /upstream request timeout/);
  const inTime = await call('/uncapped/fast', '2S');
  assert.equal(inTime.body.toString(), '2000m 2000');
});

test('grpc_timeout_header_max caps the deadline, and the capped one goes upstream', async () => {
  assert.equal((await call('/capped/fast', '5S')).body.toString(), '200m 200');
  assert.equal((await call('/capped/fast', null)).body.toString(), '200m 200', 'no header: the maximum');
  const late = await call('/capped/slow', '5S');
  assert.equal(late.headers['grpc-status'], '14');
});

test('the offset comes off a larger deadline; no header and no maximum: no timeout', async () => {
  assert.equal((await call('/offset/fast', '300m')).body.toString(), '250m 250');
  assert.equal((await call('/offset/fast', '30m')).body.toString(), '30m 30', 'not below the offset');
  const unbounded = await call('/offset/slow', null);
  assert.equal(unbounded.status, 200);
  assert.equal(unbounded.body.toString(), '- -');
});

test("a request that is not gRPC keeps the route's timeout", async () => {
  const r = await call('/capped/slow', '100m', false);
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), '100m 15000');
});
