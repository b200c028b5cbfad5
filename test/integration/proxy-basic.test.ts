/**
 * The proxy end to end: real legate process, real origins, real clients.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import {
  startLegate,
  startOrigin,
  request,
  rawExchange,
  httpProxyYaml,
  staticCluster,
  stat,
  type LegateProcess,
  type Origin,
} from './harness';

let origin: Origin;
let echo: Origin;
let legate: LegateProcess;
let port: number;

before(async () => {
  origin = await startOrigin();
  echo = await startOrigin((req, res, body) => {
    res.setHeader('x-echo-method', req.method!);
    res.setHeader('x-echo-url', req.url!);
    res.setHeader('x-echo-sha256', createHash('sha256').update(body).digest('hex'));
    res.setHeader('x-echo-host', req.headers.host ?? '');
    if (req.url!.startsWith('/chunked')) {
      res.write('part1-');
      res.end('part2');
    } else res.end(body);
  });
  legate = await startLegate(
    httpProxyYaml({
      virtualHosts: `
- name: all
  domains: ["*"]
  routes:
  - match: { prefix: "/echo" }
    route: { cluster: echo }
  - match: { prefix: "/chunked" }
    route: { cluster: echo }
  - match: { prefix: "/" }
    route: { cluster: origin }`,
      clusters:
        staticCluster('origin', [0]).replace('port_value: 0', `port_value: PORT_ORIGIN`) +
        staticCluster('echo', [0]).replace('port_value: 0', 'port_value: PORT_ECHO'),
    })
      .replace('PORT_ORIGIN', String(origin.port))
      .replace('PORT_ECHO', String(echo.port)),
  );
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  await origin?.close();
  await echo?.close();
});

test('GET is proxied with Envoy headers added', async () => {
  const r = await request(port, { path: '/hello?x=1' });
  assert.equal(r.status, 200);
  assert.equal(r.body.toString(), `origin ${origin.port} GET /hello?x=1\n`);
  assert.equal(r.headers['server'], 'legate');
  assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
  const seen = origin.requests.at(-1)!;
  assert.match(String(seen.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '15000');
});

test('POST bodies stream through byte-exact (content-length and chunked)', async () => {
  const body = Buffer.alloc(300 * 1024, 7);
  const sha = createHash('sha256').update(body).digest('hex');
  const r1 = await request(port, { method: 'POST', path: '/echo/cl', body });
  assert.equal(r1.status, 200);
  assert.equal(r1.headers['x-echo-sha256'], sha);
  assert.equal(r1.body.length, body.length);

  const r2 = await new Promise<http.IncomingMessage & { body?: Buffer }>((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'PUT', path: '/echo/chunked-upload', agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Object.assign(res, { body: Buffer.concat(chunks) })));
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, 1000));
    req.write(body.subarray(1000));
    req.end();
  });
  assert.equal(r2.headers['x-echo-method'], 'PUT');
  assert.equal(r2.headers['x-echo-sha256'], sha);
});

test('chunked responses are relayed chunked', async () => {
  const out = await rawExchange(port, 'GET /chunked HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200/);
  assert.match(out, /transfer-encoding: chunked/i);
  assert.match(out, /part1-/);
  assert.match(out, /part2/);
  assert.match(out, /\r\n0\r\n\r\n$/);
});

test('HEAD keeps content-length and sends no body', async () => {
  const out = await rawExchange(port, 'HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  assert.match(out, /^HTTP\/1\.1 200/);
  assert.match(out, /content-length: \d+/i);
  assert.ok(out.endsWith('\r\n\r\n'), 'no body after the head');
});

test('keep-alive: many requests over one client connection reuse upstream connections', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const before = origin.connections;
  for (let i = 0; i < 50; i++) {
    const r = await request(port, { path: `/ka/${i}`, agent });
    assert.equal(r.status, 200);
  }
  agent.destroy();
  // One client connection lands on one worker, which keeps one pooled upstream connection.
  assert.ok(origin.connections - before <= 1, `origin saw ${origin.connections - before} new connections`);
});

test('pipelined requests get in-order responses', async () => {
  const reqs = ['/p/1', '/p/2', '/p/3'].map((p) => `GET ${p} HTTP/1.1\r\nHost: a\r\n\r\n`).join('');
  const out = await rawExchange(port, reqs + 'GET /p/4 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
  const order = [...out.matchAll(/GET (\/p\/\d)/g)].map((m) => m[1]);
  assert.deepEqual(order, ['/p/1', '/p/2', '/p/3', '/p/4']);
});

test('HTTP/1.0 requests are served and the connection closes', async () => {
  const out = await rawExchange(port, 'GET /ten HTTP/1.0\r\nHost: a\r\n\r\n');
  assert.match(out, /^HTTP\/1\.[01] 200/);
  assert.match(out, /GET \/ten/);
});

test('smuggling-shaped requests get 400/501 and never reach the upstream', async () => {
  const before = origin.requests.length;
  const cases: [string, RegExp][] = [
    [
      'POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      /^HTTP\/1\.1 400/,
    ],
    [
      'POST /s HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      /^HTTP\/1\.1 400/,
    ],
    ['POST /s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', /^HTTP\/1\.1 (501|400)/],
    ['GET /s HTTP/1.1\r\nHost: a\r\nX-Bad: a\r\n b\r\n\r\n', /^HTTP\/1\.1 400/],
    ['GET /s HTTP/1.1\nHost: a\n\n', /^HTTP\/1\.1 400/],
    ['GET /s HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n', /^HTTP\/1\.1 400/],
  ];
  for (const [raw, expected] of cases) {
    const out = await rawExchange(port, raw);
    assert.match(out, expected, `for ${JSON.stringify(raw)} got ${JSON.stringify(out.slice(0, 60))}`);
  }
  assert.equal(origin.requests.length, before, 'no smuggling-shaped request reached the origin');
});

test('oversized headers get 431', async () => {
  const big = 'x'.repeat(70 * 1024);
  const out = await rawExchange(port, `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${big}\r\n\r\n`);
  assert.match(out, /^HTTP\/1\.1 431/);
});

test('stats count every request across workers', async () => {
  const before = await stat(legate, 'cluster.origin.upstream_rq_total');
  const n = 40;
  await Promise.all(Array.from({ length: n }, (_, i) => request(port, { path: `/count/${i}` })));
  const afterCount = await stat(legate, 'cluster.origin.upstream_rq_total');
  assert.equal(afterCount - before, n);
});

test('a raw socket that closes mid-request does not hurt the proxy', async () => {
  await new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.write('POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc');
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 50);
    });
  });
  const r = await request(port, { path: '/after-abort' });
  assert.equal(r.status, 200);
});
