/**
 * Envoy's gRPC retry conditions (`cancelled`, `deadline-exceeded`, `internal`, `resource-exhausted`,
 * `unavailable`): a trailers-only gRPC response (HTTP 200, grpc-status in its head) whose status a
 * condition names is retried; another status, or a grpc-status that only comes in trailers (the
 * response started), is not. The origin answers each path's first request with the grpc-status
 * the path names, then with OK.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  httpProxyYaml,
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
const seen = new Map<string, number>();

before(async () => {
  origin = await startOrigin((req, res) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    res.setHeader('content-type', 'application/grpc');
    const status = n === 1 ? /\/status\/(\d+)/.exec(req.url!)![1]! : '0';
    if (req.url!.includes('/in-trailers/')) {
      res.setHeader('trailer', 'grpc-status');
      res.write(Buffer.from([0, 0, 0, 0, 0]));
      res.addTrailers({ 'grpc-status': status });
      res.end();
      return;
    }
    res.setHeader('grpc-status', status);
    res.setHeader('content-length', 0);
    res.end();
  });
  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/" }
    route:
      cluster: o
      retry_policy: { retry_on: "cancelled,deadline-exceeded,internal,resource-exhausted,unavailable", num_retries: 1 }`,
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

const grpcRequest = (path: string) =>
  request(port, { path, method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' } });

test('trailers-only gRPC responses are retried on the statuses retry_on names, not on others', async () => {
  for (const [status, retried] of [
    [1, true],
    [4, true],
    [8, true],
    [13, true],
    [14, true],
    [2, false],
    [5, false],
  ] as const) {
    const path = `/headers/status/${status}`;
    const r = await grpcRequest(path);
    assert.equal(r.status, 200);
    assert.equal(r.headers['grpc-status'], retried ? '0' : String(status), path);
    assert.equal(seen.get(path), retried ? 2 : 1, path);
  }
  assert.equal(await stat(legate, 'cluster.o.upstream_rq_retry'), 5);
});

test('a grpc-status in trailers is not retried: the response had started', async () => {
  const path = '/in-trailers/status/14';
  const r = await grpcRequest(path);
  assert.equal(r.status, 200);
  assert.equal(seen.get(path), 1);
});
