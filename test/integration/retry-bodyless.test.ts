/**
 * Retries on the response status through the real proxy, whatever the response's body: a real
 * origin answers a retriable status first (with a body, with `content-length: 0`, to HEAD), then
 * 200. Each request must be retried once and get the 200, and a retried response that ended at its
 * headers leaves its pooled upstream connection reusable.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
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
/** Requests seen per path: the first one of each path gets the failure. */
const seen = new Map<string, number>();

before(async () => {
  origin = await startOrigin((req, res) => {
    const n = (seen.get(req.url!) ?? 0) + 1;
    seen.set(req.url!, n);
    if (n > 1) {
      res.setHeader('content-length', 2);
      res.end('ok');
      return;
    }
    res.statusCode = req.url!.startsWith('/5xx/') ? 503 : 404;
    if (req.url!.endsWith('/body')) {
      res.setHeader('content-length', 4);
      res.end('nope');
    } else {
      res.setHeader('content-length', 0);
      res.end();
    }
  });
  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/codes/" }
    route:
      cluster: o
      retry_policy: { retry_on: retriable-status-codes, retriable_status_codes: [404], num_retries: 1 }
  - match: { prefix: "/5xx/" }
    route:
      cluster: o
      retry_policy: { retry_on: 5xx, num_retries: 1 }`,
      clusters: staticCluster('o', [origin.port]),
    }),
    { concurrency: 1 },
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
});

const CASES: { path: string; method: string }[] = [
  { path: '/codes/cl0', method: 'GET' },
  { path: '/codes/body', method: 'GET' },
  { path: '/codes/head', method: 'HEAD' },
  { path: '/5xx/cl0', method: 'GET' },
  { path: '/5xx/body', method: 'GET' },
  { path: '/5xx/head', method: 'HEAD' },
];

test('a retriable status is retried with a body, with content-length: 0, and to HEAD', async () => {
  // One keep-alive client connection, one request at a time: the proxy's one pooled upstream
  // connection serves every attempt unless the proxy had to close it.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (const c of CASES) {
      const before = await stat(legate, 'cluster.o.upstream_rq_retry');
      const started = Date.now();
      const r = await request(port, { path: c.path, method: c.method, agent });
      assert.equal(r.status, 200, `${c.method} ${c.path}: the retry's answer reaches the client`);
      assert.equal(r.body.toString(), c.method === 'HEAD' ? '' : 'ok', `${c.method} ${c.path}`);
      assert.equal(seen.get(c.path), 2, `${c.method} ${c.path}: the origin saw the request twice`);
      assert.equal((await stat(legate, 'cluster.o.upstream_rq_retry')) - before, 1, `${c.method} ${c.path}`);
      assert.ok(Date.now() - started < 2000, `${c.method} ${c.path} took ${Date.now() - started} ms`);
    }
  } finally {
    agent.destroy();
  }
  // Responses with a body to come are reset (their connection closed); the others are reused.
  const withBody = CASES.filter((c) => c.path.endsWith('/body') && c.method !== 'HEAD').length;
  assert.equal(origin.connections, 1 + withBody, 'upstream connections: one, plus one per reset attempt');
});
