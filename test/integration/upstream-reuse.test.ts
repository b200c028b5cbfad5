/**
 * Upstream keep-alive edge cases: a pooled connection the upstream closes just as it is reused is
 * retried once on a fresh connection (nothing reached the application), and `Expect: 100-continue`
 * is relayed from the upstream, not answered by the proxy.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { startLegate, request, catchAllYaml, type LegateProcess } from './harness';

let origin: net.Server;
let originPort: number;
let connections = 0;
let legate: LegateProcess;
let port: number;

before(async () => {
  // Answers the first request of every connection with keep-alive, then drops the connection when
  // a second request arrives on it: the race of an upstream closing an idle keep-alive socket.
  origin = net.createServer((socket) => {
    connections++;
    let served = 0;
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      if (!buffered.includes('\r\n\r\n')) return;
      buffered = '';
      if (served++ === 0) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.destroy();
    });
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  originPort = (origin.address() as net.AddressInfo).port;
  legate = await startLegate(catchAllYaml([originPort]), { concurrency: 1 });
  port = legate.ports.get('proxy')!;
});

after(async () => {
  await legate?.stop();
  origin?.close();
});

test('a pooled connection closed by the upstream on reuse is retried once on a fresh one', async () => {
  const before = connections;
  for (let i = 0; i < 3; i++) {
    const r = await request(port, { path: `/stale/${i}` });
    assert.equal(r.status, 200, `request ${i}`);
    assert.equal(r.body.toString(), 'ok');
  }
  // Request 0 opened a connection; requests 1 and 2 each found it stale and opened a new one.
  assert.equal(connections - before, 3);
});

test('Expect: 100-continue is relayed from the upstream', async () => {
  const upstream = http.createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => res.end(`got ${n}`));
  });
  // node:http answers 100 Continue itself when the request expects it (checkContinue not handled).
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as net.AddressInfo).port;
  const proxy = await startLegate(catchAllYaml([up]), { concurrency: 1 });
  try {
    const result = await new Promise<{ continued: boolean; body: string }>((resolve, reject) => {
      let continued = false;
      const req = http.request(
        {
          host: '127.0.0.1',
          port: proxy.ports.get('proxy')!,
          method: 'POST',
          path: '/upload',
          agent: false,
          headers: { expect: '100-continue', 'content-length': 5 },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ continued, body }));
        },
      );
      req.on('continue', () => {
        continued = true;
        req.end('hello');
      });
      req.on('error', reject);
      req.setTimeout(5000, () => req.destroy(new Error('no 100 Continue and no response')));
    });
    assert.equal(result.continued, true, 'the client saw 100 Continue');
    assert.equal(result.body, 'got 5');
  } finally {
    await proxy.stop();
    upstream.close();
  }
});
