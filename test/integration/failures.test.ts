/**
 * Upstream failures become the right local reply and a stat, never a hang or a crashed worker.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import {
  startLegate,
  startOrigin,
  request,
  httpProxyYaml,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let slow: Origin;
let resetter: net.Server;
let resetterPort: number;
let deadPort: number;
let legate: LegateProcess;
let port: number;

before(async () => {
  slow = await startOrigin((_req, res) => setTimeout(() => res.end('late'), 1500));
  // An upstream that sends half a response, then resets the connection.
  resetter = net.createServer((s) => {
    s.once('data', () => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial');
      setTimeout(() => s.resetAndDestroy(), 50);
    });
  });
  await new Promise<void>((r) => resetter.listen(0, '127.0.0.1', r));
  resetterPort = (resetter.address() as net.AddressInfo).port;
  // A port with nothing listening.
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  deadPort = (tmp.address() as net.AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));

  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/slow" }
    route: { cluster: slow, timeout: 0.3s }
  - match: { prefix: "/dead" }
    route: { cluster: dead }
  - match: { prefix: "/reset" }
    route: { cluster: resetter }
  - match: { prefix: "/retry" }
    route:
      cluster: dead
      retry_policy: { retry_on: connect-failure, num_retries: 2 }`,
      clusters:
        staticCluster('slow', [slow.port]) +
        staticCluster('dead', [deadPort]) +
        staticCluster('resetter', [resetterPort]),
    }),
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await slow?.close();
  resetter?.close();
});

test('upstream down → 503 connection failure, counted', async () => {
  const before = await stat(legate, 'cluster.dead.upstream_cx_connect_fail');
  const r = await request(port, { path: '/dead' });
  assert.equal(r.status, 503);
  assert.equal(
    r.body.toString(),
    'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  );
  assert.equal((await stat(legate, 'cluster.dead.upstream_cx_connect_fail')) - before, 1);
});

test('retry_policy connect-failure retries num_retries times', async () => {
  const before = await stat(legate, 'cluster.dead.upstream_rq_retry');
  const r = await request(port, { path: '/retry' });
  assert.equal(r.status, 503);
  assert.equal((await stat(legate, 'cluster.dead.upstream_rq_retry')) - before, 2);
});

test('slow upstream → 504 after the route timeout', async () => {
  const t0 = Date.now();
  const r = await request(port, { path: '/slow' });
  const took = Date.now() - t0;
  assert.equal(r.status, 504);
  assert.equal(r.body.toString(), 'upstream request timeout');
  assert.ok(took >= 250 && took < 1400, `took ${took} ms`);
  assert.ok((await stat(legate, 'cluster.slow.upstream_rq_timeout')) >= 1);
});

test('upstream reset mid-body → downstream connection is closed, proxy keeps serving', async () => {
  await assert.rejects(request(port, { path: '/reset' }));
  const r = await request(port, { path: '/dead' });
  assert.equal(r.status, 503);
});
